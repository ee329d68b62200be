//! What travels with every request besides its body.
//!
//! Requests carry an id, a trace context, a deadline and an optional idempotency key from the
//! start, so tracing, deadline propagation and idempotent retries can build on them without
//! changing what a message is.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::nanos::{from_saturated_u64, saturating_u64};

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

/// A [`RequestMeta`] as a request carries it across a link and waits with it in a queue: the
/// same fields in 56 bytes rather than 88, since every request in flight holds one (in its
/// round trip's way out, then in the callee's queue, whose spare capacity makes each byte
/// count 1.6 times). Times are nanosecond counts, `u64::MAX` standing for [`Duration::MAX`]
/// (the deadline of a request that never times out), so the metadata a handler sees is
/// exactly the metadata sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Envelope {
    id: u64,
    trace_id: u64,
    /// [`NO_PARENT`] at the root.
    parent: u64,
    sent_at: u64,
    deadline: u64,
    idempotency_key: Option<Box<str>>,
}

/// An [`Envelope`]'s `parent` at the root of a call tree: ids count up from 0, and a run
/// would have to send 2^64 requests to reach it.
const NO_PARENT: u64 = u64::MAX;

impl From<RequestMeta> for Envelope {
    #[inline]
    fn from(meta: RequestMeta) -> Self {
        Envelope {
            id: meta.id.0,
            trace_id: meta.trace.trace_id,
            parent: meta.trace.parent.map_or(NO_PARENT, |parent| parent.0),
            sent_at: saturating_u64(meta.sent_at),
            deadline: saturating_u64(meta.deadline),
            idempotency_key: meta.idempotency_key.map(String::into_boxed_str),
        }
    }
}

impl From<Envelope> for RequestMeta {
    #[inline]
    fn from(envelope: Envelope) -> Self {
        RequestMeta {
            id: RequestId(envelope.id),
            trace: TraceContext {
                trace_id: envelope.trace_id,
                parent: (envelope.parent != NO_PARENT).then_some(RequestId(envelope.parent)),
            },
            sent_at: from_saturated_u64(envelope.sent_at),
            deadline: from_saturated_u64(envelope.deadline),
            idempotency_key: envelope.idempotency_key.map(String::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An envelope gives back the metadata it was made from, at the edges too.
    #[test]
    fn envelope_round_trips_the_metadata() {
        let root = RequestMeta::root(RequestId(0), Duration::ZERO, Duration::MAX);
        let mut child = root.child(
            RequestId(u64::MAX - 1),
            Duration::new(3, 999_999_999),
            Duration::from_nanos(u64::MAX - 1),
        );
        child.idempotency_key = Some("order-17".to_string());
        for meta in [root, child] {
            assert_eq!(RequestMeta::from(Envelope::from(meta.clone())), meta);
        }
        // What does not fit in 584 years is never, as the deadline of a call without one.
        let far = RequestMeta::root(
            RequestId(1),
            Duration::ZERO,
            Duration::from_secs(u64::MAX / 2),
        );
        assert_eq!(
            RequestMeta::from(Envelope::from(far)).deadline,
            Duration::MAX
        );
    }
}
