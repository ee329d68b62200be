//! What travels with every request besides its body.
//!
//! Requests carry an id, a trace context, a deadline and an optional idempotency key from the
//! start, so tracing, deadline propagation and idempotent retries can build on them without
//! changing what a message is.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Identifies one request (one attempt of one call) within a simulation. Ids are assigned in
/// the order requests are sent, so they are deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

/// Links a request to the request that caused it, so a whole call tree can be reassembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TraceContext {
    /// The id of the workload request at the root of the call tree.
    pub trace_id: u64,
    /// The request whose handler made this call; `None` at the root.
    pub parent: Option<RequestId>,
}

/// The envelope fields of a request, as a handler sees them through
/// [`Context::request`](crate::Context::request).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RequestMeta {
    /// This request's id.
    pub id: RequestId,
    /// Its place in the call tree.
    pub trace: TraceContext,
    /// Simulated time (since the start) at which the caller sent it.
    pub sent_at: Duration,
    /// Simulated time by which the caller stops waiting.
    pub deadline: Duration,
    /// Set by callers that want a retried request recognised as the same operation.
    pub idempotency_key: Option<String>,
}

impl RequestMeta {
    pub(crate) fn root(id: RequestId, sent_at: Duration, deadline: Duration) -> Self {
        RequestMeta {
            id,
            trace: TraceContext {
                trace_id: id.0,
                parent: None,
            },
            sent_at,
            deadline,
            idempotency_key: None,
        }
    }

    pub(crate) fn child(&self, id: RequestId, sent_at: Duration, deadline: Duration) -> Self {
        RequestMeta {
            id,
            trace: TraceContext {
                trace_id: self.trace.trace_id,
                parent: Some(self.id),
            },
            sent_at,
            deadline,
            idempotency_key: None,
        }
    }
}
