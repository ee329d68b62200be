//! The running simulation's shared machinery: clock, links, request ids, in-flight count, and
//! the one function every request goes through.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::clock::{CallTimer, Clock};
use crate::error::CallError;
use crate::link::Links;
use crate::message::{RequestId, RequestMeta};
use crate::policy::{PairPolicy, Policies};
use crate::progress::Progress;
pub(crate) use crate::runtime::fault_schedule::Faults;
use crate::runtime::fault_schedule::ScheduledFault;
use crate::runtime::replica::{Cancel, ReplicaSet, Responder};
use crate::runtime::service::Service;
use crate::runtime::settle::Settle;

pub(crate) use crate::node::NodeId;

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
    pub(crate) policies: Policies,
    /// The running services, for crash faults.
    services: Controls,
    /// The tasks of crash faults, stopped when the run ends.
    crash_tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// The running services, as crash faults see them.
#[derive(Default)]
struct Controls(std::sync::OnceLock<Vec<std::sync::Arc<dyn ServiceControl>>>);

impl std::fmt::Debug for Controls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.0.get().map_or(0, Vec::len);
        write!(f, "Controls({count} services)")
    }
}

/// What a crash fault does to a running service.
pub(crate) trait ServiceControl: Send + Sync {
    /// Crashes one replica or all; returns the requests it failed.
    fn crash(&self, replica: Option<usize>) -> u64;
    /// Brings them back.
    fn restart(&self, replica: Option<usize>);
}

impl Engine {
    pub(crate) fn new(
        clock: Clock,
        timing: Timing,
        links: Links,
        progress: Progress,
        faults: Faults,
        policies: Policies,
    ) -> Self {
        Engine {
            clock,
            timing,
            links,
            next_request: AtomicU64::new(1),
            in_flight: InFlight::default(),
            progress,
            faults,
            policies,
            services: Controls::default(),
            crash_tasks: std::sync::Mutex::default(),
        }
    }

    /// Starts a task per crash fault scheduled before the run, once its services run.
    pub(crate) fn start_crashes(
        self: &std::sync::Arc<Self>,
        services: Vec<std::sync::Arc<dyn ServiceControl>>,
    ) {
        let _ = self.services.0.set(services);
        for crash in self.faults.crashes() {
            self.start_crash(crash);
        }
    }

    /// Takes the replicas of a crash fault down at the start of its window and brings them
    /// back at its end. The task is not counted as in flight: a restart due after the run has
    /// drained never happens.
    fn start_crash(self: &std::sync::Arc<Self>, crash: std::sync::Arc<ScheduledFault>) {
        let Some(service) = self
            .services
            .0
            .get()
            .and_then(|services| services.get(crash.nodes[0].0 - 1))
            .cloned()
        else {
            return;
        };
        let engine = std::sync::Arc::clone(self);
        let task = tokio::spawn(async move {
            let replica = crash.fault.replica_index();
            engine.clock.sleep_until(crash.fault.at).await;
            crash.count_crashed(service.crash(replica));
            if let Some(end) = crash.fault.end() {
                engine.clock.sleep_until(end).await;
                service.restart(replica);
            }
        });
        self.crash_tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(task);
    }

    /// Stops the crash tasks (the run has drained).
    pub(crate) fn stop_crashes(&self) {
        for task in self
            .crash_tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }

    /// Starts `fault` during the run: its window opens `fault.at` from now.
    pub(crate) fn inject_fault(
        self: &std::sync::Arc<Self>,
        mut fault: crate::fault::Fault,
    ) -> Result<(), crate::error::BuildError> {
        self.faults.check(&fault)?;
        fault.at = self.clock.now().saturating_add(fault.at);
        let scheduled = self.faults.add(fault);
        if matches!(scheduled.fault.kind, crate::fault::FaultKind::Crash { .. }) {
            self.start_crash(scheduled);
        }
        Ok(())
    }

    /// The latency of one message from `from` to `to`: the link's draw plus any latency fault.
    #[inline]
    pub(crate) fn hop(&self, link: &crate::link::Link, from: NodeId, to: NodeId) -> Duration {
        let latency = link.sample();
        if self.faults.is_empty() {
            return latency;
        }
        latency + self.faults.extra_latency(from, to, self.clock.now())
    }

    #[inline]
    pub(crate) fn next_request_id(&self) -> RequestId {
        RequestId(self.next_request.fetch_add(1, Ordering::Relaxed))
    }

    /// Calls `to` from `from` and waits for the response, under the pair's [`CallPolicy`] if
    /// it has one. Each attempt times out after `timeout` if the caller gave one, else after
    /// the policy's timeout, else after `default_timeout`; none waits past `meta.deadline`,
    /// the time the caller gives up on the whole call. `meta.sent_at` must be
    /// now (or, for a workload request, its intended send time, which is now on the virtual
    /// clock and just past on the real one). `timer` is the caller's own, if it makes one call
    /// at a time (see [`CallTimer`]); calls under a policy do not use it (retries and hedges
    /// overlap).
    ///
    /// [`CallPolicy`]: crate::policy::CallPolicy
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call<S: Service>(
        &self,
        from: NodeId,
        to: &ReplicaSet<S>,
        request: S::Request,
        mut meta: RequestMeta,
        settle: Option<&Settle>,
        timeout: Option<Duration>,
        default_timeout: Duration,
        timer: Option<&CallTimer>,
    ) -> Result<S::Response, CallError> {
        let policy = self.policies.between(from, to.node());
        let per_try = timeout
            .or_else(|| policy.and_then(|pair| pair.policy.timeout))
            .unwrap_or(default_timeout);
        if let Some(pair) = policy {
            // Boxed: the policy path's future (retries, two hedged copies) is several times
            // the size of a plain attempt's, and every call's future would carry it.
            return Box::pin(self.call_with_policy(pair, from, to, request, meta, settle, per_try))
                .await;
        }
        // The caller has just read the clock into `sent_at`.
        meta.deadline = meta.sent_at.saturating_add(per_try).min(meta.deadline);
        self.attempt(
            from,
            to,
            request,
            meta,
            settle.map(Settle::link),
            None,
            timer,
        )
        .await
    }

    /// A call under a policy: retries around admission (breaker, bulkhead, rate limit) around
    /// a possibly hedged attempt.
    #[allow(clippy::too_many_arguments)]
    async fn call_with_policy<S: Service>(
        &self,
        pair: &PairPolicy,
        from: NodeId,
        to: &ReplicaSet<S>,
        request: S::Request,
        mut meta: RequestMeta,
        settle: Option<&Settle>,
        per_try: Duration,
    ) -> Result<S::Response, CallError> {
        let start = self.clock.now();
        let counted = start >= self.timing.warmup;
        let overall = meta.deadline;
        let max_attempts = pair.max_attempts();
        pair.begin_call(start, counted);
        let mut attempt: u32 = 1;
        let mut wait = Duration::ZERO;
        let outcome = loop {
            let now = self.clock.now();
            let permit = match pair.admit(now, counted) {
                Ok(permit) => permit,
                // The caller's own refusals are not retried: they exist to shed load.
                Err(refusal) => break Err(refusal.into_error(to.name())),
            };
            if counted {
                let mut state = pair.state();
                state.stats.attempts += 1;
                if attempt > 1 {
                    state.stats.retries += 1;
                }
            }
            meta.sent_at = now;
            meta.deadline = now.saturating_add(per_try).min(overall);
            let result = self
                .hedged_attempt(
                    pair,
                    from,
                    to,
                    request.clone(),
                    meta.clone(),
                    settle,
                    counted,
                )
                .await;
            let end = self.clock.now();
            if counted && matches!(result, Err(CallError::TimedOut { .. })) {
                pair.state().stats.timeouts += 1;
            }
            permit.finish(result.is_err(), end.saturating_sub(now), end);
            let error = match result {
                Ok(response) => break Ok(response),
                Err(error) => error,
            };
            if attempt >= max_attempts {
                break Err(error);
            }
            let next_wait = pair.backoff(attempt, wait);
            // No time left for another attempt before the caller gives up; else the budget
            // decides (it is spent only on retries that will be sent).
            if end.saturating_add(next_wait) >= overall || !pair.withdraw(end, counted) {
                break Err(error);
            }
            wait = next_wait;
            self.clock.sleep(wait).await;
            attempt += 1;
            meta.id = self.next_request_id();
        };
        if counted {
            let mut state = pair.state();
            match &outcome {
                Ok(_) => {
                    state.stats.succeeded += 1;
                    let took = self.clock.now().saturating_sub(start);
                    state.stats.latency.record(took);
                }
                Err(_) => state.stats.failed += 1,
            }
        }
        outcome
    }

    /// One attempt, with a second copy sent if it is slower than the policy's hedge delay:
    /// the first successful answer wins and the other copy is cancelled.
    #[allow(clippy::too_many_arguments)]
    async fn hedged_attempt<S: Service>(
        &self,
        pair: &PairPolicy,
        from: NodeId,
        to: &ReplicaSet<S>,
        request: S::Request,
        meta: RequestMeta,
        settle: Option<&Settle>,
        counted: bool,
    ) -> Result<S::Response, CallError> {
        let now = self.clock.now();
        let deadline = meta.deadline;
        let Some(hedge_at) = pair
            .hedge_delay()
            .map(|delay| now.saturating_add(delay))
            .filter(|at| *at < deadline)
        else {
            return self
                .attempt(
                    from,
                    to,
                    request,
                    meta,
                    settle.map(Settle::link),
                    None,
                    None,
                )
                .await;
        };
        let first_cancel = Cancel::default();
        let mut second_meta = meta.clone();
        let first = self.attempt(
            from,
            to,
            request.clone(),
            meta,
            settle.map(Settle::link),
            Some(first_cancel.clone()),
            None,
        );
        tokio::pin!(first);
        tokio::select! {
            biased;
            result = &mut first => return result,
            () = self.clock.sleep_until(hedge_at) => {}
        }
        // The copy counts against the bulkhead and the rate limit like any attempt; without
        // room, the first copy goes on alone.
        let Some(_copy_slot) = pair.admit_copy(hedge_at) else {
            return first.await;
        };
        if counted {
            pair.state().stats.hedges_sent += 1;
        }
        second_meta.id = self.next_request_id();
        second_meta.sent_at = hedge_at;
        let second_cancel = Cancel::default();
        let second = self.attempt(
            from,
            to,
            request,
            second_meta,
            settle.map(Settle::link),
            Some(second_cancel.clone()),
            None,
        );
        tokio::pin!(second);
        let mut first_failed = None;
        let mut second_failed = false;
        loop {
            tokio::select! {
                biased;
                result = &mut first, if first_failed.is_none() => match result {
                    Ok(response) => {
                        second_cancel.cancel();
                        return Ok(response);
                    }
                    Err(error) => first_failed = Some(error),
                },
                result = &mut second, if !second_failed => match result {
                    Ok(response) => {
                        first_cancel.cancel();
                        if counted {
                            pair.state().stats.hedges_won += 1;
                        }
                        return Ok(response);
                    }
                    Err(_) => second_failed = true,
                },
            }
            if second_failed && let Some(error) = first_failed.take() {
                return Err(error);
            }
        }
    }

    /// Sends one copy of a request and waits for its response: link latency out, admission
    /// (or rejection), queueing, handling, link latency back -- all before `meta.deadline`.
    /// A copy whose `cancel` is set while it waits in a queue is dropped there. `meta.sent_at`
    /// must be the time of the attempt's start. `timer` is the caller's own (see
    /// [`CallTimer`]), if it has one.
    #[allow(clippy::too_many_arguments)]
    async fn attempt<S: Service>(
        &self,
        from: NodeId,
        to: &ReplicaSet<S>,
        request: S::Request,
        meta: RequestMeta,
        settle: Option<Settle>,
        cancel: Option<Cancel>,
        timer: Option<&CallTimer>,
    ) -> Result<S::Response, CallError> {
        let link = self.links.between(from, to.node());
        let deadline = meta.deadline;
        // `sent_at` is the attempt's start, as every caller sets it: no clock read (on the
        // real clock each is a system call).
        let timeout = deadline.saturating_sub(meta.sent_at);
        if timeout.is_zero() {
            return Err(CallError::TimedOut {
                service: to.name().to_string(),
                timeout,
            });
        }
        let round_trip = async {
            self.clock.sleep(self.hop(link, from, to.node())).await;
            if !self.faults.is_empty() {
                let now = self.clock.now();
                if self.faults.loses(from, to.node(), now) {
                    // Lost on the way: the caller hears nothing and times out.
                    return std::future::pending().await;
                }
                if self.faults.aborts(to.node(), now) {
                    self.clock.sleep(self.hop(link, from, to.node())).await;
                    return Err(CallError::Failed {
                        service: to.name().to_string(),
                        message: "injected fault".into(),
                    });
                }
            }
            // The replica is picked when the request arrives.
            let replica = to.pick();
            // Only a latency-aware balancer needs the response time: skip the clock reads
            // otherwise (on the real clock each is a system call).
            let submitted = to.observes_latency().then(|| self.clock.now());
            let (reply, response) = oneshot::channel();
            let outcome =
                match replica.submit(request, meta, settle, Responder::Caller(reply, cancel)) {
                    // A dropped reply means the handler panicked (or its replica crashed) while
                    // holding it.
                    Ok(()) => response
                        .await
                        .unwrap_or_else(|_| Err(replica.dropped_reply_error())),
                    Err(error) => Err(error),
                };
            if let Some(submitted) = submitted {
                let now = self.clock.now();
                to.observe(replica, now.saturating_sub(submitted), now);
            }
            self.clock.sleep(self.hop(link, from, to.node())).await;
            if !self.faults.is_empty() && self.faults.loses(to.node(), from, self.clock.now()) {
                return std::future::pending().await;
            }
            outcome
        };
        match self
            .clock
            .call_timeout_at(deadline, std::pin::pin!(round_trip), timer)
            .await
        {
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
            if !engine.faults.is_empty() && engine.faults.loses(from, to.node(), engine.clock.now())
            {
                // Lost on the way (counted by the fault); the guard ends it.
                return;
            }
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
