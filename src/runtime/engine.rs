//! The running simulation's shared machinery: clock, links, request ids, in-flight count, and
//! the one function every request goes through ([`Engine::call`]). What a call does under a
//! policy (retries, admission, hedging) is [`crate::policy`]'s; what is the engine's own is
//! sending one attempt across the link to the replica set and waiting for its reply within
//! its timeout.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use futures_util::future::Either;
use tokio::sync::{Notify, oneshot};

use crate::clock::{CallTimer, Clock, Halt, Misuse};
use crate::error::CallError;
use crate::link::Links;
use crate::message::{RequestId, RequestMeta};
use crate::policy::hedge::Cancel;
use crate::policy::hedge::{self, CopyKind};
use crate::policy::retry::{self, Limits, Try};
use crate::policy::{PairPolicy, Policies};
use crate::progress::Progress;
use crate::report::topology::EdgeKind;
use crate::runtime::broker::{BrokerLink, BrokerMsg};
pub(crate) use crate::runtime::fault_schedule::Faults;
use crate::runtime::fault_schedule::ScheduledFault;
use crate::runtime::replica::{ReplicaSet, Responder};
use crate::runtime::round_trip::{Parts, RoundTrip};
use crate::runtime::service::Service;
use crate::runtime::settle::Settle;
use crate::topic::Event;
use crate::trace::SpanKind;

use crate::node::NodeId;

/// The measurement window and timing settings every part of a run shares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    pub(crate) call_timeout: Duration,
    /// How the report's timeline cuts the run.
    pub(crate) windows: crate::report::timeline::Windows,
}

/// A call as its caller makes it: the engine's one entry for every request that waits for
/// a response ([`Engine::call`]).
pub(crate) struct Call<'a, S: Service> {
    pub(crate) from: NodeId,
    pub(crate) to: &'a ReplicaSet<S>,
    pub(crate) request: S::Request,
    /// `sent_at` must be now (or, for a workload request, its intended send time, which is
    /// now on the virtual clock and just past on the real one); `deadline` is the time the
    /// caller gives up on the whole call, which no attempt waits past.
    pub(crate) meta: RequestMeta,
    /// The settle token of the request being handled (or of the workload request), if any.
    pub(crate) settle: Option<&'a Settle>,
    /// Each attempt's timeout, if the caller gives one; else the policy's, else
    /// `default_timeout`.
    pub(crate) timeout: Option<Duration>,
    pub(crate) default_timeout: Duration,
    /// The caller's own timer, if it makes one call at a time (see [`CallTimer`]); calls
    /// under a policy do not use it (retries and hedges overlap).
    pub(crate) timer: Option<&'a CallTimer>,
}

/// One copy of a request as the engine sends it ([`Engine::attempt`]): from where, to which
/// replica set, with which envelope -- its id, `meta.sent_at` the attempt's start and
/// `meta.deadline` its timeout -- under which settle token, and with which timer. Cloned
/// for a retry or a hedged copy.
struct Attempt<'a, S: Service> {
    from: NodeId,
    to: &'a ReplicaSet<S>,
    request: S::Request,
    meta: RequestMeta,
    settle: Option<&'a Settle>,
    /// Set on a hedged copy: a copy still waiting in a queue when it is set is dropped there.
    cancel: Option<Cancel>,
    timer: Option<&'a CallTimer>,
}

impl<S: Service> Clone for Attempt<'_, S> {
    fn clone(&self) -> Self {
        Attempt {
            from: self.from,
            to: self.to,
            request: self.request.clone(),
            meta: self.meta.clone(),
            settle: self.settle,
            cancel: self.cancel.clone(),
            timer: self.timer,
        }
    }
}

pin_project_lite::pin_project! {
    /// One attempt ([`Engine::attempt`]): its round trip raced against its deadline, and what
    /// its end records. A struct rather than an `async` block, so that a request in flight
    /// holds the round trip once (an `async` block would keep it as its own and again as the
    /// timeout's), and nothing of the request beside it.
    struct AttemptInFlight<'a, S: Service, F> {
        #[pin]
        timed: crate::clock::Timeout<'a, F>,
        engine: &'a Engine,
        from: NodeId,
        to: &'a ReplicaSet<S>,
        sent_at: Duration,
        timeout: Duration,
        span: Option<Box<CallSpan<'a>>>,
    }
}

impl<S: Service, F> Future for AttemptInFlight<'_, S, F>
where
    F: Future<Output = Result<S::Response, CallError>>,
{
    type Output = Result<S::Response, CallError>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let timed_out = || CallError::TimedOut {
            service: this.to.name().to_string(),
            timeout: *this.timeout,
        };
        if this.timeout.is_zero() {
            // Its deadline had passed as it was sent: it is not sent.
            let error = timed_out();
            if let Some(span) = this.span.as_mut() {
                span.error = Some(error.to_string());
            }
            return Poll::Ready(Err(error));
        }
        let outcome = match this.timed.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(outcome)) => outcome,
            Poll::Ready(Err(_)) => Err(timed_out()),
        };
        if let Some(span) = this.span.as_mut() {
            span.error = Some(match &outcome {
                Ok(_) => String::new(),
                Err(error) => error.to_string(),
            });
        }
        let engine = *this.engine;
        engine.edges.record(
            EdgeKind::Call,
            [*this.from, this.to.node()],
            *this.sent_at,
            Some(engine.clock.now().saturating_sub(*this.sent_at)),
            outcome.is_err(),
        );
        Poll::Ready(outcome)
    }
}

/// The engine sends the copies of a hedged attempt.
impl<'a, S: Service> hedge::Sender<Attempt<'a, S>> for &'a Engine {
    type Response = S::Response;

    #[inline(always)]
    fn send(
        self,
        mut copy: Attempt<'a, S>,
        kind: CopyKind,
    ) -> impl Future<Output = Result<S::Response, CallError>> {
        match kind {
            CopyKind::Only => {}
            CopyKind::First(cancel) => copy.cancel = Some(cancel),
            CopyKind::Second(cancel, at) => {
                // A request of its own.
                copy.meta.id = self.next_request_id();
                copy.meta.sent_at = at;
                copy.cancel = Some(cancel);
            }
        }
        self.attempt(copy)
    }
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
    /// The id of the [`Simulation`](crate::Simulation) this run is of, which every handle it
    /// made carries; set as its services and topics start (see [`Engine::owns`]).
    simulation: std::sync::OnceLock<u64>,
    /// Records spans, when tracing is on.
    pub(crate) tracer: Option<crate::trace::collector::Tracer>,
    /// What crossed each edge, for the report's topology.
    pub(crate) edges: super::edges::Edges,
}

/// The running services, as crash faults see them. Emptied when the run ends: each service
/// holds the engine, so while the engine holds them neither would ever be freed.
#[derive(Default)]
struct Controls(std::sync::Mutex<Vec<std::sync::Arc<dyn ServiceControl>>>);

impl Controls {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<std::sync::Arc<dyn ServiceControl>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Controls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.lock().len();
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
        tracer: Option<crate::trace::collector::Tracer>,
    ) -> Self {
        Engine {
            edges: super::edges::Edges::new(links.nodes(), timing.warmup),
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
            simulation: std::sync::OnceLock::new(),
            tracer,
        }
    }

    /// Records that this run is of the simulation `id`: called as each of its services and
    /// topics starts, before anything can use a handle.
    pub(crate) fn set_simulation(&self, id: u64) {
        let first = *self.simulation.get_or_init(|| id);
        debug_assert_eq!(first, id, "one run, one simulation");
    }

    /// Whether a handle carrying the simulation id `simulation` was made by this run's
    /// simulation. If not, fails the run ([`Misuse::ForeignHandle`]): `service`'s handler
    /// used a handle to `target` from another simulation.
    #[inline]
    pub(crate) fn owns(&self, simulation: u64, service: &str, target: &str) -> bool {
        if self.simulation.get() == Some(&simulation) {
            return true;
        }
        self.fail_run(Misuse::ForeignHandle {
            service: service.to_string(),
            target: target.to_string(),
        });
        false
    }

    /// A handler of `service` panicked with `panic`: if that was tokio refusing to make a
    /// timer on the virtual clock, fails the run ([`Misuse::TokioTimer`]). Any other panic is
    /// the model's own failure, counted as such.
    pub(crate) fn handler_panicked(&self, service: &str, panic: &dyn std::fmt::Display) {
        if crate::clock::is_tokio_timer_panic(&panic.to_string()) {
            self.fail_run(Misuse::TokioTimer {
                service: service.to_string(),
            });
        }
    }

    /// Fails the run for `misuse` (the first reason to stop it wins). The run is then never
    /// drained: the work still in flight could otherwise all end at this instant, before the
    /// run sees the halt, and the run would report as if nothing were wrong.
    #[cold]
    fn fail_run(&self, misuse: Misuse) {
        self.in_flight.enter();
        self.clock.halt(Halt::Misuse(misuse));
    }

    /// Starts a task per crash fault scheduled before the run, once its services run.
    pub(crate) fn start_crashes(
        self: &std::sync::Arc<Self>,
        services: Vec<std::sync::Arc<dyn ServiceControl>>,
    ) {
        *self.services.lock() = services;
        for crash in self.faults.crashes() {
            self.start_crash(crash);
        }
    }

    /// Takes the replicas of a crash fault down at the start of its window and brings them
    /// back at its end. The task is not counted as in flight: a restart due after the run has
    /// drained never happens.
    fn start_crash(self: &std::sync::Arc<Self>, crash: std::sync::Arc<ScheduledFault>) {
        let Some(service) = self.services.lock().get(crash.nodes[0].0 - 1).cloned() else {
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

    /// Stops the crash tasks and lets go of the services (the run has drained).
    pub(crate) fn stop_crashes(&self) {
        self.services.lock().clear();
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
    pub(crate) fn hop(&self, from: NodeId, to: NodeId) -> Duration {
        let latency = self.links.sample(from, to);
        if self.faults.is_empty() {
            return latency;
        }
        latency + self.faults.extra_latency(from, to, self.clock.now())
    }

    #[inline]
    pub(crate) fn next_request_id(&self) -> RequestId {
        RequestId(self.next_request.fetch_add(1, Ordering::Relaxed))
    }

    /// Calls `call.to` from `call.from` and waits for the response, under the pair's
    /// [`CallPolicy`] if it has one (see [`Call`] for the timeouts).
    ///
    /// Not an `async fn`, nor are the functions below: the policy is looked up and the
    /// timeout worked out as the call is made, so the future holds only the attempt's (or the
    /// policy path's) future, not the call's parts beside it; an `async fn`'s keeps its
    /// arguments twice, and a struct's fields it moves from a third time. Every byte of this
    /// future is held by each request in flight.
    ///
    /// [`CallPolicy`]: crate::policy::CallPolicy
    #[inline(always)]
    pub(crate) fn call<'a, S: Service>(
        &'a self,
        call: Call<'a, S>,
    ) -> impl Future<Output = Result<S::Response, CallError>> + 'a {
        let Call {
            from,
            to,
            request,
            meta,
            settle,
            timeout,
            default_timeout,
            timer,
        } = call;
        let policy = self.policies.between(from, to.node());
        let per_try = timeout
            .or_else(|| policy.and_then(|pair| pair.policy.timeout))
            .unwrap_or(default_timeout);
        let mut first = Attempt {
            from,
            to,
            request,
            meta,
            settle,
            cancel: None,
            timer,
        };
        if let Some(pair) = policy {
            // Boxed: the policy path's future (retries, two hedged copies) is several times
            // the size of a plain attempt's, and every call's future would carry it. Its
            // attempts do not use the caller's timer (retries and hedges overlap).
            first.timer = None;
            return Either::Left(Box::pin(self.call_with_policy(pair, first, per_try)));
        }
        // The caller has just read the clock into `sent_at`.
        first.meta.deadline = first
            .meta
            .sent_at
            .saturating_add(per_try)
            .min(first.meta.deadline);
        Either::Right(self.attempt(first))
    }

    /// A call under a policy: the retry loop around admission (breaker, bulkhead, rate limit)
    /// around a possibly hedged attempt (see [`crate::policy`]). `first` is the first attempt,
    /// its `meta.deadline` the time the caller gives up on the whole call.
    fn call_with_policy<'a, S: Service>(
        &'a self,
        pair: &'a PairPolicy,
        first: Attempt<'a, S>,
        per_try: Duration,
    ) -> impl Future<Output = Result<S::Response, CallError>> + 'a {
        let limits = Limits {
            warmup: self.timing.warmup,
            per_try,
            deadline: first.meta.deadline,
        };
        let callee = first.to.name();
        let mut next = first;
        retry::run(
            pair,
            &self.clock,
            limits,
            callee,
            || self.next_request_id(),
            move |this: Try| {
                if let Some(id) = this.id {
                    next.meta.id = id;
                }
                next.meta.sent_at = this.sent_at;
                next.meta.deadline = this.deadline;
                hedge::run(pair, &self.clock, this, next.clone(), self)
            },
        )
    }

    /// Sends one copy of a request and waits for its response: link latency out, admission
    /// (or rejection), queueing, handling, link latency back -- all before `meta.deadline`.
    /// A copy whose `cancel` is set while it waits in a queue is dropped there. The settle
    /// link is made with the future, as the copy is sent.
    ///
    /// Always inlined: the caller's future then holds this one built in place, not copied in.
    #[inline(always)]
    fn attempt<'a, S: Service>(
        &'a self,
        attempt: Attempt<'a, S>,
    ) -> impl Future<Output = Result<S::Response, CallError>> + 'a {
        let Attempt {
            from,
            to,
            request,
            meta,
            settle,
            cancel,
            timer,
        } = attempt;
        let settle = settle.map(Settle::link);
        // With tracing on, the call's span, recorded however the attempt ends (a hedged
        // copy that loses is dropped unfinished: its span ends "cancelled").
        let span = self
            .tracer
            .as_ref()
            .map(|_| Box::new(CallSpan::new(self, from, to.node(), &meta, SpanKind::Call)));
        let traced = span.as_deref().map(CallSpan::ids);
        let (deadline, sent_at) = (meta.deadline, meta.sent_at);
        let round_trip = RoundTrip::new(
            self,
            from,
            to,
            traced,
            Parts {
                request,
                meta: meta.into(),
                settle,
                cancel,
            },
        );
        // `sent_at` is the attempt's start, as every caller sets it: no clock read (on the
        // real clock each is a system call).
        let timeout = deadline.saturating_sub(sent_at);
        AttemptInFlight {
            timed: self.clock.call_timeout_at(deadline, round_trip, timer),
            engine: self,
            from,
            to,
            sent_at,
            timeout,
            span,
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
            engine
                .edges
                .record(EdgeKind::Send, [from, to.node()], meta.sent_at, None, false);
            engine.clock.sleep(engine.hop(from, to.node())).await;
            let lost = !engine.faults.is_empty()
                && engine.faults.loses(from, to.node(), engine.clock.now());
            if engine.tracer.is_some() {
                engine.trace_send(&meta, from, to.node(), lost);
            }
            if lost {
                // Lost on the way (counted by the fault); the guard ends it.
                return;
            }
            // A rejected one-way message is counted in the receiver's `rejected`.
            let _ = to.pick().submit(
                message,
                meta.into(),
                settle,
                Responder::OneWay { _in_flight: guard },
            );
        });
    }
}

/// One event on its way to a topic's broker.
pub(crate) struct Publication<E> {
    pub(crate) event: E,
    /// The partition key, if any.
    pub(crate) key: Option<u64>,
    /// Sent at `meta.sent_at`; the publisher waits for the broker's confirmation until
    /// `meta.deadline`.
    pub(crate) meta: RequestMeta,
    pub(crate) settle: Option<Settle>,
}

impl Engine {
    /// Publishes from `from` to the topic `name` whose broker is `broker`: link latency to
    /// the broker, its confirmation, link latency back, all before the publication's
    /// deadline, like a call's round trip.
    pub(crate) async fn publish<E: Event>(
        &self,
        from: NodeId,
        name: &str,
        broker: &BrokerLink<E>,
        publication: Publication<E>,
    ) -> Result<(), CallError> {
        let Publication {
            event,
            key,
            meta,
            settle,
        } = publication;
        let (deadline, sent_at) = (meta.deadline, meta.sent_at);
        let timeout = deadline.saturating_sub(sent_at);
        let unavailable = || CallError::Unavailable {
            service: name.to_string(),
        };
        let mut span = self
            .tracer
            .as_ref()
            .map(|_| CallSpan::new(self, from, broker.node, &meta, SpanKind::Publish));
        let traced = span.as_ref().map(CallSpan::ids);
        let round_trip = async {
            let out = self.hop(from, broker.node);
            self.clock.sleep(out).await;
            if let Some(ids) = traced {
                self.trace_link(ids, from, broker.node, out, false, None);
            }
            let (reply, confirmed) = oneshot::channel();
            let message = BrokerMsg::Publish {
                event,
                key,
                meta,
                settle,
                reply: Some(reply),
            };
            let outcome = if broker.actor.cast(message).is_err() {
                Err(unavailable())
            } else {
                confirmed.await.unwrap_or_else(|_| Err(unavailable()))
            };
            let back = self.hop(from, broker.node);
            self.clock.sleep(back).await;
            if let Some(ids) = traced {
                self.trace_link(ids, broker.node, from, back, true, None);
            }
            outcome
        };
        let outcome = match self
            .clock
            .timeout_at(deadline, std::pin::pin!(round_trip))
            .await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(CallError::TimedOut {
                service: name.to_string(),
                timeout,
            }),
        };
        if let Some(span) = span.as_mut() {
            span.error = Some(
                outcome
                    .as_ref()
                    .err()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            );
        }
        self.edges.record(
            EdgeKind::Publish,
            [from, broker.node],
            sent_at,
            Some(self.clock.now().saturating_sub(sent_at)),
            outcome.is_err(),
        );
        outcome
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

/// What a traced message's spans are named by: its trace and request id.
#[derive(Clone, Copy)]
pub(crate) struct SpanIds {
    trace: u64,
    id: u64,
}

impl SpanIds {
    pub(crate) fn of(meta: &RequestMeta) -> Self {
        SpanIds {
            trace: meta.trace.trace_id,
            id: meta.id.0,
        }
    }
}

/// The caller's span of one call attempt, recorded when it is dropped: `error` is `None`
/// while unfinished (a dropped unfinished attempt was cancelled), empty for a success.
pub(crate) struct CallSpan<'a> {
    engine: &'a Engine,
    ids: SpanIds,
    parent: u64,
    kind: crate::trace::SpanKind,
    from: NodeId,
    to: NodeId,
    start: u64,
    pub(crate) error: Option<String>,
}

impl<'a> CallSpan<'a> {
    fn new(
        engine: &'a Engine,
        from: NodeId,
        to: NodeId,
        meta: &RequestMeta,
        kind: SpanKind,
    ) -> Self {
        CallSpan {
            engine,
            ids: SpanIds::of(meta),
            parent: crate::trace::collector::caller_parent(meta),
            kind,
            from,
            to,
            start: crate::nanos::saturating_u64(meta.sent_at),
            error: None,
        }
    }

    fn ids(&self) -> SpanIds {
        self.ids
    }
}

impl Drop for CallSpan<'_> {
    fn drop(&mut self) {
        let Some(tracer) = &self.engine.tracer else {
            return;
        };
        let end = crate::nanos::saturating_u64(self.engine.clock.now());
        let error = match self.error.take() {
            None => Some("cancelled".to_string()),
            Some(error) if error.is_empty() => None,
            Some(error) => Some(error),
        };
        use crate::trace::collector::{RawSpan, client_span};
        tracer.record(
            RawSpan::new(
                self.ids.trace,
                client_span(self.ids.id),
                self.parent,
                self.kind,
                self.from,
                self.start,
                end,
            )
            .peer(self.to)
            .error(error),
        );
    }
}

impl Engine {
    /// Records a link crossing of the traced message `ids` from `from` to `to` that took
    /// `took` and has just ended: out (towards the callee) or back.
    pub(crate) fn trace_link(
        &self,
        ids: SpanIds,
        from: NodeId,
        to: NodeId,
        took: Duration,
        back: bool,
        error: Option<&str>,
    ) {
        use crate::trace::collector::{RawSpan, client_span, link_back_span, link_out_span};
        let Some(tracer) = &self.tracer else {
            return;
        };
        let end = crate::nanos::saturating_u64(self.clock.now());
        let start = end.saturating_sub(crate::nanos::saturating_u64(took));
        let id = if back {
            link_back_span(ids.id)
        } else {
            link_out_span(ids.id)
        };
        tracer.record(
            RawSpan::new(
                ids.trace,
                id,
                client_span(ids.id),
                crate::trace::SpanKind::Link,
                from,
                start,
                end,
            )
            .peer(to)
            .error(error.map(str::to_string)),
        );
    }

    /// Records the delivery `ids` of an event published as `publish` (the publish span),
    /// from `topic` to `subscriber`, started at `start` and ended now with `outcome`.
    pub(crate) fn trace_delivery(
        &self,
        ids: SpanIds,
        publish: u64,
        start: u64,
        topic: NodeId,
        subscriber: NodeId,
        outcome: &crate::runtime::broker::DeliveryOutcome,
    ) {
        use crate::runtime::broker::DeliveryOutcome;
        use crate::trace::collector::{RawSpan, client_span};
        let Some(tracer) = &self.tracer else {
            return;
        };
        let error = match outcome {
            DeliveryOutcome::Handled(Ok(())) | DeliveryOutcome::Late(Ok(())) => None,
            DeliveryOutcome::Handled(Err(error)) | DeliveryOutcome::Late(Err(error)) => {
                Some(error.to_string())
            }
            DeliveryOutcome::Crashed => Some("crashed".to_string()),
            DeliveryOutcome::Refused => Some("refused".to_string()),
            // The late outcome, if any, ends the span.
            DeliveryOutcome::TimedOut => return,
        };
        let end = crate::nanos::saturating_u64(self.clock.now());
        tracer.record(
            RawSpan::new(
                ids.trace,
                client_span(ids.id),
                publish,
                crate::trace::SpanKind::Delivery,
                topic,
                start,
                end,
            )
            .peer(subscriber)
            .error(error)
            .follows(publish),
        );
    }

    /// Records the one-way message `meta` from `from`, which has just arrived at `to` (or
    /// been lost on the way).
    #[cold]
    fn trace_send(&self, meta: &RequestMeta, from: NodeId, to: NodeId, lost: bool) {
        use crate::trace::collector::{RawSpan, caller_parent, client_span};
        let Some(tracer) = &self.tracer else {
            return;
        };
        tracer.record(
            RawSpan::new(
                meta.trace.trace_id,
                client_span(meta.id.0),
                caller_parent(meta),
                SpanKind::Send,
                from,
                crate::nanos::saturating_u64(meta.sent_at),
                crate::nanos::saturating_u64(self.clock.now()),
            )
            .peer(to)
            .error(lost.then(|| "lost".to_string())),
        );
    }

    /// Marks the traced message `ids` lost on its way out (a zero-length link span after
    /// the one it crossed would be a second span of the same id: the lost mark goes on a
    /// span of its own, at the instant of the loss).
    pub(crate) fn trace_lost(&self, ids: SpanIds, from: NodeId, to: NodeId) {
        use crate::trace::collector::{RawSpan, client_span, lost_span};
        let Some(tracer) = &self.tracer else {
            return;
        };
        let now = crate::nanos::saturating_u64(self.clock.now());
        tracer.record(
            RawSpan::new(
                ids.trace,
                lost_span(ids.id),
                client_span(ids.id),
                crate::trace::SpanKind::Link,
                from,
                now,
                now,
            )
            .peer(to)
            .error(Some("lost".to_string())),
        );
    }
}
