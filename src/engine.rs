//! The running simulation's shared machinery: clock, links, request ids, in-flight count, and
//! the one function every request goes through.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::clock::Clock;
use crate::error::CallError;
use crate::link::Links;
use crate::message::{RequestId, RequestMeta};
use crate::progress::Progress;
use crate::replica::{ReplicaSet, Responder};
use crate::service::Service;
use crate::settle::Settle;

/// A place messages come from or go to: the workload client (node 0) or a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct NodeId(pub(crate) usize);

impl NodeId {
    /// Where workload requests come from.
    pub(crate) const CLIENT: NodeId = NodeId(0);
}

/// The measurement window and timing settings every part of a run shares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    pub(crate) call_timeout: Duration,
}

#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) clock: Clock,
    pub(crate) timing: Timing,
    pub(crate) links: Links,
    next_request: AtomicU64,
    pub(crate) in_flight: InFlight,
    pub(crate) progress: Progress,
}

impl Engine {
    pub(crate) fn new(clock: Clock, timing: Timing, links: Links, progress: Progress) -> Self {
        Engine {
            clock,
            timing,
            links,
            next_request: AtomicU64::new(1),
            in_flight: InFlight::default(),
            progress,
        }
    }

    pub(crate) fn next_request_id(&self) -> RequestId {
        RequestId(self.next_request.fetch_add(1, Ordering::Relaxed))
    }

    /// Sends `request` from `from` to `to` and waits for the response: link latency out,
    /// admission (or rejection), queueing, handling, link latency back -- all before
    /// `meta.deadline`, which the caller set `timeout` after the send.
    pub(crate) async fn call<S: Service>(
        &self,
        from: NodeId,
        to: &ReplicaSet<S>,
        request: S::Request,
        meta: RequestMeta,
        settle: Option<Settle>,
        timeout: Duration,
    ) -> Result<S::Response, CallError> {
        let link = self.links.between(from, to.node());
        let deadline = meta.deadline;
        let round_trip = async {
            self.clock.sleep(link.sample()).await;
            // The replica is picked when the request arrives.
            let replica = to.pick();
            let submitted = self.clock.now();
            let (reply, response) = oneshot::channel();
            let outcome = match replica.submit(request, meta, settle, Responder::Caller(reply)) {
                // A dropped reply means the handler panicked while holding it.
                Ok(()) => response.await.unwrap_or_else(|_| {
                    Err(CallError::Crashed {
                        service: to.name().to_string(),
                    })
                }),
                Err(error) => Err(error),
            };
            to.observe(
                replica,
                self.clock.now().saturating_sub(submitted),
                self.clock.now(),
            );
            self.clock.sleep(link.sample()).await;
            outcome
        };
        match self.clock.timeout_at(deadline, round_trip).await {
            Ok(outcome) => outcome,
            Err(_) => Err(CallError::TimedOut {
                service: to.name().to_string(),
                timeout,
            }),
        }
    }

    /// Delivers a one-way message: link latency, then admission. The sender does not wait;
    /// a rejection is counted by the receiving service.
    pub(crate) fn send<S: Service>(
        self: &std::sync::Arc<Self>,
        from: NodeId,
        to: std::sync::Arc<ReplicaSet<S>>,
        message: S::Request,
        meta: RequestMeta,
        settle: Option<Settle>,
    ) {
        let engine = std::sync::Arc::clone(self);
        let guard = InFlightGuard::enter(std::sync::Arc::clone(self));
        tokio::spawn(async move {
            let link = engine.links.between(from, to.node());
            engine.clock.sleep(link.sample()).await;
            // A rejected one-way message is counted in the receiver's `rejected`.
            let _ = to.pick().submit(
                message,
                meta,
                settle,
                Responder::OneWay { _in_flight: guard },
            );
        });
    }
}

/// Counts one piece of work as in flight for as long as it lives.
pub(crate) struct InFlightGuard(std::sync::Arc<Engine>);

impl InFlightGuard {
    pub(crate) fn enter(engine: std::sync::Arc<Engine>) -> Self {
        engine.in_flight.enter();
        InFlightGuard(engine)
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.in_flight.leave();
    }
}

/// Counts the work still running (workload generators, users and their requests) so the run
/// can drain before it reports.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    drained: Notify,
}

impl InFlight {
    pub(crate) fn enter(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn leave(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.drained.notify_waiters();
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Resolves once nothing is in flight.
    pub(crate) async fn drained(&self) {
        loop {
            let notified = self.drained.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}
