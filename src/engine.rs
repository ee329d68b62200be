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
    pub(crate) faults: Faults,
}

/// The run's scheduled faults, resolved to nodes.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    active: Vec<ScheduledFault>,
}

#[derive(Debug)]
pub(crate) struct ScheduledFault {
    pub(crate) fault: crate::fault::Fault,
    /// The nodes it names, in the order of `Fault::services`.
    pub(crate) nodes: Vec<NodeId>,
    pub(crate) rng: std::sync::Mutex<crate::random::SimRng>,
    pub(crate) failed: AtomicU64,
}

impl Faults {
    pub(crate) fn new(active: Vec<ScheduledFault>) -> Self {
        Faults { active }
    }

    /// The product of the slowdowns on `node` (replica `replica`) at `now`.
    pub(crate) fn slowdown(&self, node: NodeId, replica: usize, now: Duration) -> f64 {
        let mut factor = 1.0;
        for scheduled in &self.active {
            if let crate::fault::FaultKind::Slow {
                replica: which,
                factor: slow,
                ..
            } = &scheduled.fault.kind
                && scheduled.nodes[0] == node
                && which.is_none_or(|which| which == replica)
                && scheduled.fault.active(now)
            {
                factor *= slow;
            }
        }
        factor
    }

    /// Latency added to a message from `from` to `to` at `now`.
    pub(crate) fn extra_latency(&self, from: NodeId, to: NodeId, now: Duration) -> Duration {
        let mut extra = Duration::ZERO;
        for scheduled in &self.active {
            if let crate::fault::FaultKind::Latency { extra: more, .. } = &scheduled.fault.kind
                && scheduled.nodes[0] == from
                && scheduled.nodes[1] == to
                && scheduled.fault.active(now)
            {
                extra += *more;
            }
        }
        extra
    }

    /// Whether an injected failure aborts a call to `node` at `now` (a draw per active fault).
    pub(crate) fn aborts(&self, node: NodeId, now: Duration) -> bool {
        use rand::RngExt;
        for scheduled in &self.active {
            if let crate::fault::FaultKind::Fail { probability, .. } = &scheduled.fault.kind
                && scheduled.nodes[0] == node
                && scheduled.fault.active(now)
            {
                let mut rng = scheduled
                    .rng
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if rng.random_bool(*probability) {
                    scheduled.failed.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
            }
        }
        false
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    pub(crate) fn report(&self) -> Vec<crate::fault::FaultReport> {
        self.active
            .iter()
            .map(|scheduled| crate::fault::FaultReport {
                fault: scheduled.fault.to_string(),
                start_seconds: scheduled.fault.at.as_secs_f64(),
                end_seconds: scheduled
                    .fault
                    .at
                    .checked_add(scheduled.fault.lasting)
                    .map(|end| end.as_secs_f64()),
                failed_calls: scheduled.failed.load(Ordering::Relaxed),
            })
            .collect()
    }
}

impl Engine {
    pub(crate) fn new(
        clock: Clock,
        timing: Timing,
        links: Links,
        progress: Progress,
        faults: Faults,
    ) -> Self {
        Engine {
            clock,
            timing,
            links,
            next_request: AtomicU64::new(1),
            in_flight: InFlight::default(),
            progress,
            faults,
        }
    }

    /// The latency of one message from `from` to `to`: the link's draw plus any latency fault.
    pub(crate) fn hop(&self, link: &crate::link::Link, from: NodeId, to: NodeId) -> Duration {
        let latency = link.sample();
        if self.faults.is_empty() {
            return latency;
        }
        latency + self.faults.extra_latency(from, to, self.clock.now())
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
            self.clock.sleep(self.hop(link, from, to.node())).await;
            if !self.faults.is_empty() && self.faults.aborts(to.node(), self.clock.now()) {
                self.clock.sleep(self.hop(link, from, to.node())).await;
                return Err(CallError::Failed {
                    service: to.name().to_string(),
                    message: "injected fault".into(),
                });
            }
            // The replica is picked when the request arrives.
            let replica = to.pick();
            // Only a latency-aware balancer needs the response time: skip the clock reads
            // otherwise (on the real clock each is a system call).
            let submitted = to.observes_latency().then(|| self.clock.now());
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
            if let Some(submitted) = submitted {
                let now = self.clock.now();
                to.observe(replica, now.saturating_sub(submitted), now);
            }
            self.clock.sleep(self.hop(link, from, to.node())).await;
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
            engine.clock.sleep(engine.hop(link, from, to.node())).await;
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
