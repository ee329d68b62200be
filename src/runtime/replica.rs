//! A running service: its worker actors, waiting queue, supervisor and statistics.
//!
//! ```text
//!                     submit                 cast (only to an idle worker)
//!   caller ──link──▶ admission ─────────────────────────────▶ worker actor 0 ─┐
//!                      │  all busy: FIFO queue (bounded)                       │ handler
//!                      │  queue full: CallError::Rejected          worker actor 1 ─┤
//!                      ▼                                                 ...       │
//!                   rejected (counted)          a finishing worker takes the next ◀┘
//!                                                queued request itself
//!   supervisor actor: starts a worker when a request finds every started one busy,
//!                     and restarts a worker whose handler panicked
//! ```
//!
//! Every worker is a ractor actor with its own mailbox, and handles one request at a time as
//! a thread would. ractor mailboxes are unbounded and one per actor, so the waiting room that
//! `workers` share -- and its bound -- lives here, in front of them.
//!
//! Workers are started on demand: a request that finds every started worker busy, while
//! fewer than `workers` are started, goes to the supervisor, which starts one more and hands
//! it the request at the same simulated instant. An idle worker's actor stays for the next
//! request, so a replica holds as many actors as it ever had requests in progress at once,
//! not as many as it may have: `workers = 100000` costs nothing until used, and
//! [`Capacity::unlimited`] is an infinite server.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::oneshot;

use crate::balancer::BalancerState;
use crate::capacity::Capacity;
use crate::error::{CallError, SimulationError};
use crate::message::{Envelope, RequestId, RequestMeta};
use crate::metrics::{BusyTime, ErrorsByCause, LatencyHistogram};
use crate::nanos::saturating_u64 as nanos;
use crate::node::NodeId;
use crate::policy::hedge::Cancel;
use crate::random::SimRng;
use crate::report::timeline::ServiceWindows;
use crate::report::{ReplicaReport, ServiceCounts, ServiceReport};
use crate::runtime::context::Context;
use crate::runtime::engine::{Engine, InFlightGuard, Timing};
use crate::runtime::service::Service;
use crate::runtime::settle::Settle;

/// A handler's answer as it crosses a reply channel. The error is boxed: each request in
/// flight holds its channel, sized for the answer, and a `CallError` is 80 bytes against a
/// box's 8 (a caller's channel took 136 bytes, now 64), while only a failed request pays for
/// the box.
pub(crate) type Answer<T> = Result<T, Box<CallError>>;

type Reply<S> = oneshot::Sender<Answer<<S as Service>::Response>>;

/// Where a request's outcome goes.
pub(crate) enum Responder<S: Service> {
    /// A caller waiting for the response, and whether it has withdrawn the request.
    Caller(Reply<S>, Option<Cancel>),
    /// Nobody: a one-way message. The guard keeps it counted as in flight until it is handled,
    /// rejected or lost to a panic (whichever drops the job).
    OneWay { _in_flight: InFlightGuard },
    /// A broker delivering an event: told whether the handler succeeded.
    Event(oneshot::Sender<Answer<()>>),
}

/// One request waiting for, or being handled by, a worker.
pub(crate) struct Job<S: Service> {
    request: S::Request,
    meta: Envelope,
    arrived: Duration,
    settle: Option<Settle>,
    reply: Responder<S>,
}

/// A running service.
pub(crate) struct Replica<S: Service> {
    name: Arc<str>,
    node: NodeId,
    /// Position among the service's replicas.
    index: usize,
    service: Arc<S>,
    state: Mutex<S::State>,
    rng: Mutex<SimRng>,
    engine: Arc<Engine>,
    capacity: Capacity,
    dispatch: Mutex<Dispatch<S>>,
    supervisor: Mutex<Option<ActorRef<StartWorker<S>>>>,
    /// Set when the run ends: a worker that stops then is not restarted.
    stopping: AtomicBool,
    /// Mirrors `Dispatch::down` for balancers, which should not take the lock to skip it.
    down: AtomicBool,
}

/// Admission state and statistics, behind one lock.
struct Dispatch<S: Service> {
    workers: Vec<WorkerSlot<S>>,
    idle: Vec<usize>,
    queue: VecDeque<Job<S>>,
    stats: ServiceStats,
    /// Crash faults holding the replica down (windows may overlap): it refuses requests
    /// while any does.
    down: u32,
}

struct WorkerSlot<S: Service> {
    /// `None` while the supervisor starts it (or restarts it after a panic).
    actor: Option<ActorRef<Job<S>>>,
    /// Start of the request being handled, and when it arrived.
    busy: Option<(Duration, Duration)>,
    /// Killed by a crash: its termination is a crash, whenever the supervisor hears of it.
    killed: bool,
}

/// What a replica measures: its counts, which the report shows as they are, and what the
/// report derives its other figures from. Requests count if they arrived at or after the
/// warm-up. A service's are its replicas' merged.
#[derive(Debug)]
struct ServiceStats {
    warmup: Duration,
    /// Worker actors started (a service's: its replicas' summed when reporting).
    workers_started: usize,
    counts: ServiceCounts,
    queue_wait: LatencyHistogram,
    processing: LatencyHistogram,
    /// Arrival to response of the requests handled without error.
    latency: LatencyHistogram,
    /// Arrival to response of the requests whose handler failed.
    failed_latency: LatencyHistogram,
    errors: ErrorsByCause,
    busy: BusyTime,
    /// The replica window by window, warm-up included.
    windows: ServiceWindows,
}

impl<S: Service> Job<S> {
    fn is_cancelled(&self) -> bool {
        matches!(&self.reply, Responder::Caller(_, Some(cancel)) if cancel.is_cancelled())
    }

    /// Hands the job's envelope (its metadata and settle token) to the worker's context, and
    /// returns what the handler and the end of the request need: the request, its arrival
    /// time and where the outcome goes.
    fn start(self, ctx: &mut Context<S>) -> (S::Request, Duration, Responder<S>) {
        ctx.set_request(self.meta.into(), self.settle);
        (self.request, self.arrived, self.reply)
    }

    /// Tells whoever waits for this job that it failed with `error`.
    fn fail(self, error: CallError) {
        match self.reply {
            Responder::Caller(reply, _) => {
                let _ = reply.send(Err(Box::new(error)));
            }
            Responder::Event(reply) => {
                let _ = reply.send(Err(Box::new(error)));
            }
            Responder::OneWay { .. } => {}
        }
    }
}

impl<S: Service> Dispatch<S> {
    /// The next queued job that its caller still wants, taken at `now`; cancelled ones are
    /// dropped (counted).
    fn next_job(&mut self, now: Duration) -> Option<Job<S>> {
        let before = self.queue.len();
        // Looked at in place and moved once, when it is the one taken: a job is 144 bytes
        // and more, and popping each to look at it copied the taken one three times.
        while self.queue.front().is_some_and(Job::is_cancelled) {
            if let Some(job) = self.queue.pop_front()
                && job.arrived >= self.stats.warmup
            {
                self.stats.counts.cancelled += 1;
            }
        }
        let next = self.queue.pop_front();
        if self.queue.len() != before {
            self.stats
                .windows
                .queue_length(nanos(now), self.queue.len());
        }
        next
    }
}

impl<S: Service> Replica<S> {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn node(&self) -> NodeId {
        self.node
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn worker_count(&self) -> usize {
        self.capacity.worker_count()
    }

    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub(crate) fn state(&self) -> &Mutex<S::State> {
        &self.state
    }

    pub(crate) fn rng(&self) -> MutexGuard<'_, SimRng> {
        self.rng.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn dispatch(&self) -> MutexGuard<'_, Dispatch<S>> {
        // Every update under this lock completes before anything that can panic.
        self.dispatch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the service: a supervisor actor and its `workers` worker actors.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn start(
        name: Arc<str>,
        node: NodeId,
        index: usize,
        service: Arc<S>,
        capacity: Capacity,
        rng: SimRng,
        engine: Arc<Engine>,
    ) -> Result<Arc<Self>, SimulationError> {
        let timing = engine.timing;
        let state = service.init_state();
        let replica = Arc::new(Replica {
            name,
            node,
            index,
            service,
            state: Mutex::new(state),
            rng: Mutex::new(rng),
            engine,
            capacity,
            supervisor: Mutex::new(None),
            stopping: AtomicBool::new(false),
            down: AtomicBool::new(false),
            dispatch: Mutex::new(Dispatch {
                workers: Vec::new(),
                idle: Vec::new(),
                queue: VecDeque::new(),
                down: 0,
                stats: ServiceStats::new(timing),
            }),
        });
        let supervisor = Supervisor {
            replica: Arc::clone(&replica),
        };
        let (supervisor, _) =
            Actor::spawn(None, supervisor, ())
                .await
                .map_err(|error| SimulationError::Spawn {
                    service: replica.name.to_string(),
                    reason: error.to_string(),
                })?;
        *replica
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(supervisor);
        Ok(replica)
    }

    /// Admits a request: straight to an idle worker, else into the queue, else rejected.
    pub(crate) fn submit(
        &self,
        request: S::Request,
        meta: Envelope,
        settle: Option<Settle>,
        reply: Responder<S>,
    ) -> Result<(), CallError> {
        let now = self.engine.clock.now();
        let job = Job {
            request,
            meta,
            arrived: now,
            settle,
            reply,
        };
        let mut dispatch = self.dispatch();
        if dispatch.down > 0 {
            return Err(self.down_error());
        }
        if let Some(index) = dispatch.idle.pop() {
            let slot = &mut dispatch.workers[index];
            slot.busy = Some((now, now));
            // Sent under the lock, without a clone of the actor's reference: a cast only
            // queues the message and schedules the worker, it never runs it.
            let refused = match &slot.actor {
                Some(actor) => actor.cast(job).err(),
                None => None,
            };
            drop(dispatch);
            if let Some(error) = refused {
                self.fail_undeliverable(index, error);
            }
            return Ok(());
        }
        if dispatch.workers.len() < self.capacity.worker_count() {
            // Every started worker is busy, and there is room for one more: the supervisor
            // starts it and hands it this job.
            let index = dispatch.workers.len();
            dispatch.workers.push(WorkerSlot {
                actor: None,
                busy: Some((now, now)),
                killed: false,
            });
            drop(dispatch);
            self.start_worker(index, job);
            return Ok(());
        }
        let full = self
            .capacity
            .queue_capacity()
            .is_some_and(|bound| dispatch.queue.len() >= bound);
        if full {
            dispatch
                .stats
                .windows
                .rejected(crate::nanos::saturating_u64(now));
            if now >= dispatch.stats.warmup {
                dispatch.stats.counts.rejected += 1;
            }
            return Err(CallError::Rejected {
                service: self.name.to_string(),
                workers: self.capacity.worker_count(),
                queue: self.capacity.queue_capacity().unwrap_or(usize::MAX),
            });
        }
        dispatch.queue.push_back(job);
        let length = dispatch.queue.len();
        dispatch.stats.windows.queue_length(nanos(now), length);
        Ok(())
    }

    /// Asks the supervisor to start worker `index` (marked busy already) and hand it `job`.
    fn start_worker(&self, index: usize, job: Job<S>) {
        let supervisor = self
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let refused =
            match supervisor {
                Some(supervisor) => supervisor.cast(StartWorker { index, job }).err().and_then(
                    |error| match error {
                        ractor::MessagingErr::SendErr(start) => Some(start.job),
                        _ => None,
                    },
                ),
                None => Some(job),
            };
        if let Some(job) = refused {
            // The replica is shutting down: nobody will handle it.
            self.dispatch().workers[index].busy = None;
            job.fail(CallError::Unavailable {
                service: self.name.to_string(),
            });
        }
    }

    fn down_error(&self) -> CallError {
        CallError::ReplicaDown {
            service: self.name.to_string(),
            replica: self.index,
        }
    }

    /// Crashes the replica: it refuses requests until [`restart`](Self::restart), its queued
    /// requests fail, and its handlers in progress are abandoned: their worker actors are
    /// killed (their callers see the reply dropped) and the supervisor starts new ones.
    /// Returns how many requests it failed.
    pub(crate) fn crash(&self) -> u64 {
        let (queued, busy, starting) = {
            let mut dispatch = self.dispatch();
            dispatch.down += 1;
            if dispatch.down > 1 {
                // Already down under another crash's window.
                return 0;
            }
            self.down.store(true, Ordering::Relaxed);
            let mut queued: Vec<Job<S>> = dispatch.queue.drain(..).collect();
            let now = self.engine.clock.now();
            dispatch.stats.windows.queue_length(nanos(now), 0);
            // Copies a hedging caller has withdrawn were not lost to the crash.
            queued.retain(|job| !job.is_cancelled());
            let warmup = dispatch.stats.warmup;
            dispatch.stats.counts.crashed +=
                queued.iter().filter(|job| job.arrived >= warmup).count() as u64;
            let mut busy = Vec::new();
            let mut starting = 0;
            for slot in &mut dispatch.workers {
                if slot.busy.is_some() {
                    slot.killed = true;
                    match &slot.actor {
                        Some(actor) => busy.push(actor.clone()),
                        // Its job fails when the supervisor has started it (`StartWorker`).
                        None => starting += 1,
                    }
                }
            }
            (queued, busy, starting)
        };
        let failed = (queued.len() + busy.len() + starting) as u64;
        for job in queued {
            job.fail(self.down_error());
        }
        for worker in busy {
            worker.kill();
        }
        failed
    }

    /// Ends one crash's window: the replica accepts requests again, with an empty queue,
    /// once no other crash holds it down.
    pub(crate) fn restart(&self) {
        let mut dispatch = self.dispatch();
        dispatch.down = dispatch.down.saturating_sub(1);
        if dispatch.down == 0 {
            self.down.store(false, Ordering::Relaxed);
        }
    }

    /// Whether a crash fault has the replica down.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Why a request to this replica failed when its reply was dropped: a crash, or a panic.
    pub(crate) fn dropped_reply_error(&self) -> CallError {
        if self.is_down() {
            self.down_error()
        } else {
            CallError::Crashed {
                service: self.name.to_string(),
            }
        }
    }

    /// A worker's mailbox refused a job (the actor has stopped): answer the caller.
    fn fail_undeliverable(&self, index: usize, error: ractor::MessagingErr<Job<S>>) {
        {
            let mut dispatch = self.dispatch();
            dispatch.workers[index].busy = None;
        }
        if let ractor::MessagingErr::SendErr(job) = error
            && let Responder::Caller(reply, _) = job.reply
        {
            let _ = reply.send(Err(Box::new(CallError::Unavailable {
                service: self.name.to_string(),
            })));
        }
    }

    /// Runs on worker `index`: handles `job`, then every queued job until the queue is empty.
    ///
    /// Written for a small future: ractor moves a worker's handler future into place for every
    /// message, so each byte of it is copied once per request. The job is taken apart before
    /// the future starts (its envelope goes into the context) and only what the end of the
    /// request needs -- arrival, start and the reply -- is kept across the handler's await.
    /// As an `async fn` the future would hold the whole job twice (argument and local).
    fn serve<'r, 'c>(
        &'r self,
        index: usize,
        job: Job<S>,
        ctx: &'c mut Context<S>,
    ) -> impl Future<Output = ()> + Send + use<'r, 'c, S> {
        let (mut request, mut arrived, mut reply) = job.start(ctx);
        // Whoever handed this job to the worker has marked it busy already (from the
        // hand-over: on the virtual clock the same instant as `start`).
        let mut start = self.engine.clock.now();
        async move {
            loop {
                let outcome = self
                    .service
                    .handle(ctx, request)
                    .await
                    .map_err(|error| CallError::failed(&self.name, error));
                let end = self.engine.clock.now();
                if self.engine.tracer.is_some() {
                    self.trace_served(ctx.request(), [arrived, start, end], index, &outcome);
                }
                let next = {
                    let mut dispatch = self.dispatch();
                    dispatch
                        .stats
                        .finished(arrived, start, end, outcome.as_ref().err());
                    match dispatch.next_job(end) {
                        Some(next) => {
                            dispatch.workers[index].busy = Some((end, next.arrived));
                            Some(next)
                        }
                        None => {
                            dispatch.workers[index].busy = None;
                            dispatch.idle.push(index);
                            None
                        }
                    }
                };
                // The caller may have stopped waiting (timed out); nothing to tell then.
                match reply {
                    Responder::Caller(reply, _) => {
                        let _ = reply.send(outcome.map_err(Box::new));
                    }
                    Responder::Event(reply) => {
                        let _ = reply.send(outcome.map(|_| ()).map_err(Box::new));
                    }
                    Responder::OneWay { .. } => {}
                }
                // The work this request caused, beyond what its handler still holds, is done.
                ctx.end_request();
                let Some(next) = next else {
                    return;
                };
                (request, arrived, reply) = next.start(ctx);
                // Busy since the previous request ended (see the hand-over above).
                start = end;
            }
        }
    }

    /// Records the queue wait and processing of the request `meta`, handled by worker
    /// `index` (tracing is on).
    #[cold]
    fn trace_served<T>(
        &self,
        meta: &RequestMeta,
        [arrived, start, end]: [Duration; 3],
        index: usize,
        outcome: &Result<T, CallError>,
    ) {
        use crate::trace::SpanKind;
        use crate::trace::collector::{RawSpan, client_span, processing_span, queue_span};
        let Some(tracer) = &self.engine.tracer else {
            return;
        };
        let [arrived, start, end] = [arrived, start, end].map(crate::nanos::saturating_u64);
        let (trace, id) = (meta.trace.trace_id, meta.id.0);
        if start > arrived {
            tracer.record(
                RawSpan::new(
                    trace,
                    queue_span(id),
                    client_span(id),
                    SpanKind::Queue,
                    self.node,
                    arrived,
                    start,
                )
                .at_worker(self.index, None),
            );
        }
        tracer.record(
            RawSpan::new(
                trace,
                processing_span(id),
                client_span(id),
                SpanKind::Processing,
                self.node,
                start,
                end,
            )
            .at_worker(self.index, Some(index))
            .error(outcome.as_ref().err().map(ToString::to_string)),
        );
    }

    /// Requests in this replica: being handled or waiting.
    pub(crate) fn outstanding(&self) -> usize {
        let dispatch = self.dispatch();
        dispatch.workers.len() - dispatch.idle.len() + dispatch.queue.len()
    }

    /// Merges this replica's measurements into `total` (the service's) and returns its own
    /// line of the report.
    fn report_into(&self, total: &mut ServiceStats, end: Duration) -> ReplicaReport {
        let dispatch = self.dispatch();
        let stats = &dispatch.stats;
        total.merge(stats);
        total.workers_started += dispatch.workers.len();
        ReplicaReport {
            counts: stats.counts,
            utilization: limited(self.capacity)
                .map(|workers| stats.busy.ending_by(end).utilization(workers)),
            latency_ms: stats.latency.summary(),
        }
    }

    /// Stops the actors and drops the references to them.
    pub(crate) fn shutdown(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        let workers: Vec<_> = self
            .dispatch()
            .workers
            .iter_mut()
            .filter_map(|slot| slot.actor.take())
            .collect();
        for worker in workers {
            worker.stop(None);
        }
        let supervisor = self
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(supervisor) = supervisor {
            supervisor.stop(None);
        }
    }
}

/// A running service: its replicas and the balancer that picks among them.
pub(crate) struct ReplicaSet<S: Service> {
    replicas: Vec<Arc<Replica<S>>>,
    balancer: Mutex<BalancerState>,
    /// Several replicas behind a balancer that learns from response times.
    observes_latency: bool,
}

impl<S: Service> ReplicaSet<S> {
    pub(crate) fn new(replicas: Vec<Arc<Replica<S>>>, balancer: BalancerState) -> Self {
        ReplicaSet {
            observes_latency: replicas.len() > 1 && balancer.learns_from_latency(),
            replicas,
            balancer: Mutex::new(balancer),
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.replicas[0].name()
    }

    pub(crate) fn node(&self) -> NodeId {
        self.replicas[0].node()
    }

    /// Workers over all replicas.
    pub(crate) fn worker_count(&self) -> usize {
        self.replicas.iter().fold(0usize, |sum, replica| {
            sum.saturating_add(replica.worker_count())
        })
    }

    /// The replica the balancer chooses for the next request.
    pub(crate) fn pick(&self) -> &Arc<Replica<S>> {
        if self.replicas.len() == 1 {
            return &self.replicas[0];
        }
        // A replica that is down counts as infinitely loaded, and is skipped if picked anyway
        // (round robin, random): the balancer's health check notices a crash at once.
        let count = self.replicas.len();
        let index = self
            .balancer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pick(count, |index| {
                let replica = &self.replicas[index];
                if replica.is_down() {
                    usize::MAX
                } else {
                    replica.outstanding()
                }
            });
        (0..count)
            .map(|step| &self.replicas[(index + step) % count])
            .find(|replica| !replica.is_down())
            // Every replica is down: the chosen one refuses the request.
            .unwrap_or(&self.replicas[index])
    }

    /// Whether the balancer learns from response times (see [`observe`](Self::observe)).
    pub(crate) fn observes_latency(&self) -> bool {
        self.observes_latency
    }

    /// Tells the balancer how long `replica` took to answer.
    pub(crate) fn observe(&self, replica: &Replica<S>, latency: Duration, now: Duration) {
        self.balancer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .observe(replica.index, latency, now);
    }

    /// The service's figures, summed over replicas (with a line per replica when several),
    /// for the measurement window cut at `end` (the end of the run's duration, or the
    /// instant an interrupted run stopped).
    pub(crate) fn report(&self, end: Duration) -> ServiceReport {
        let first = &self.replicas[0];
        let timing = first.engine.timing;
        let mut total = ServiceStats::new(Timing {
            duration: timing.duration.min(end),
            ..timing
        });
        let replicas: Vec<ReplicaReport> = self
            .replicas
            .iter()
            .map(|replica| replica.report_into(&mut total, end))
            .collect();
        ServiceReport {
            workers: limited(first.capacity),
            workers_started: total.workers_started,
            queue_capacity: first.capacity.queue_capacity(),
            counts: total.counts,
            utilization: limited(first.capacity).map(|_| total.utilization(self.worker_count())),
            busy_workers: total.busy.mean_busy(),
            queue_wait_ms: total.queue_wait.summary(),
            processing_ms: total.processing.summary(),
            latency_ms: total.latency.summary(),
            failed_latency_ms: total.failed_latency.summary(),
            errors_by_cause: total.errors.counts().clone(),
            replicas: if replicas.len() > 1 {
                replicas
            } else {
                Vec::new()
            },
        }
    }

    /// The service's series of the report's timeline, summed over replicas.
    pub(crate) fn timeline(&self) -> crate::report::timeline::ServiceTimeline {
        let mut total = ServiceWindows::new(self.replicas[0].engine.timing.windows);
        for replica in &self.replicas {
            total.merge(&replica.dispatch().stats.windows);
        }
        total.report()
    }

    /// Replica `index`, if there is one.
    pub(crate) fn replica(&self, index: usize) -> Option<&Arc<Replica<S>>> {
        self.replicas.get(index)
    }

    /// The replicas.
    pub(crate) fn replicas(&self) -> &[Arc<Replica<S>>] {
        &self.replicas
    }

    pub(crate) fn shutdown(&self) {
        for replica in &self.replicas {
            replica.shutdown();
        }
    }
}

impl ServiceStats {
    /// Nothing measured yet, in the run's measurement window.
    fn new(timing: Timing) -> Self {
        ServiceStats {
            warmup: timing.warmup,
            workers_started: 0,
            counts: ServiceCounts::default(),
            queue_wait: LatencyHistogram::new(),
            processing: LatencyHistogram::new(),
            latency: LatencyHistogram::new(),
            failed_latency: LatencyHistogram::new(),
            errors: ErrorsByCause::default(),
            busy: BusyTime::new(timing.warmup, timing.duration),
            windows: ServiceWindows::new(timing.windows),
        }
    }

    /// Adds `other`'s measurements (another replica's, in the same window) to these.
    fn merge(&mut self, other: &ServiceStats) {
        self.counts.merge(&other.counts);
        self.queue_wait.merge(&other.queue_wait);
        self.processing.merge(&other.processing);
        self.latency.merge(&other.latency);
        self.failed_latency.merge(&other.failed_latency);
        self.errors.merge(&other.errors);
        self.busy.merge(&other.busy);
        self.windows.merge(&other.windows);
    }

    /// A worker busy since `start` with a request that arrived at `arrived` lost it at `now`,
    /// to a crash (`crashed`) or to its handler's panic.
    fn lost(&mut self, arrived: Duration, start: Duration, now: Duration, crashed: bool) {
        self.busy.record(start, now);
        self.windows.busy(nanos(start), nanos(now));
        if arrived >= self.warmup {
            if crashed {
                self.counts.crashed += 1;
            } else {
                self.counts.panics += 1;
            }
        }
    }

    /// Busy worker time over the time `workers` workers had in the window.
    fn utilization(&self, workers: usize) -> f64 {
        let available = self.busy.window().as_secs_f64() * workers as f64;
        if available > 0.0 {
            self.busy.busy().as_secs_f64() / available
        } else {
            0.0
        }
    }

    fn finished(
        &mut self,
        arrived: Duration,
        start: Duration,
        end: Duration,
        error: Option<&CallError>,
    ) {
        let counted = arrived >= self.warmup;
        // In nanoseconds, converted once for the busy time and the three latencies: integer
        // differences instead of `Duration` subtractions and conversions.
        let [arrived, start, end] = [arrived, start, end].map(nanos);
        self.busy.record_nanos(start.into(), end.into());
        self.windows.busy(start, end);
        self.windows.handled(arrived);
        if !counted {
            return;
        }
        self.counts.handled += 1;
        self.queue_wait.record_nanos(start.saturating_sub(arrived));
        self.processing.record_nanos(end.saturating_sub(start));
        match error {
            None => self.latency.record_nanos(end.saturating_sub(arrived)),
            Some(error) => {
                self.counts.failed += 1;
                self.errors.record(&error.cause());
                self.failed_latency
                    .record_nanos(end.saturating_sub(arrived));
            }
        }
    }
}

/// The number of workers of a replica with `capacity`; `None` if unlimited.
fn limited(capacity: Capacity) -> Option<usize> {
    (!capacity.is_unlimited()).then(|| capacity.worker_count())
}

/// A worker: one handler at a time, like a thread.
struct Worker<S: Service> {
    replica: Arc<Replica<S>>,
    index: usize,
}

impl<S: Service> Actor for Worker<S> {
    type Msg = Job<S>;
    type State = Context<S>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Job<S>>,
        _: (),
    ) -> Result<Context<S>, ActorProcessingErr> {
        let placeholder = RequestMeta::root(RequestId(0), Duration::ZERO, Duration::ZERO);
        Ok(Context::new(Arc::clone(&self.replica), placeholder))
    }

    // Not an `async fn`: that would hold the job a second time beside `serve`'s future.
    // `serve`'s future is boxed: ractor moves the future `handle` returns through four layers
    // of its own futures as a message arrives at an idle worker, and inline that future was
    // the handler's plus what `serve` keeps (2,200 bytes in a scenario file's service), so
    // each move copied it. A worker that is busy keeps serving its queue in the same future,
    // so the box is made once per busy spell, not per request.
    fn handle<'s, 'c>(
        &'s self,
        _: ActorRef<Job<S>>,
        job: Job<S>,
        ctx: &'c mut Context<S>,
    ) -> impl Future<Output = Result<(), ActorProcessingErr>> + Send + use<'s, 'c, S> {
        let serving = Box::pin(self.replica.serve(self.index, job, ctx));
        async move {
            serving.await;
            Ok(())
        }
    }
}

/// Starts the workers, on demand, and restarts any whose handler panics.
struct Supervisor<S: Service> {
    replica: Arc<Replica<S>>,
}

/// Starts worker `index`, which [`Replica::submit`] has marked busy with `job`, and hands it
/// the job.
pub(crate) struct StartWorker<S: Service> {
    index: usize,
    job: Job<S>,
}

impl<S: Service> Supervisor<S> {
    async fn spawn_worker(
        &self,
        myself: &ActorRef<StartWorker<S>>,
        index: usize,
    ) -> Result<ActorRef<Job<S>>, ActorProcessingErr> {
        let worker = Worker {
            replica: Arc::clone(&self.replica),
            index,
        };
        // Boxed: held inline, the start of a worker made every supervisor's task 1,280
        // bytes larger (the memory bench) for something it does once per worker.
        let (actor, _) = Box::pin(Actor::spawn_linked(None, worker, (), myself.get_cell())).await?;
        Ok(actor)
    }
}

impl<S: Service> Actor for Supervisor<S> {
    type Msg = StartWorker<S>;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<StartWorker<S>>,
        _: (),
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<StartWorker<S>>,
        StartWorker { index, job }: StartWorker<S>,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let actor = self.spawn_worker(&myself, index).await?;
        let now = self.replica.engine.clock.now();
        let crashed = {
            let mut dispatch = self.replica.dispatch();
            let slot = &mut dispatch.workers[index];
            slot.actor = Some(actor.clone());
            if std::mem::take(&mut slot.killed) {
                // A crash came while the worker started: the job is lost to it, and the
                // worker waits, idle, for the replica to be back.
                if let Some((start, arrived)) = slot.busy.take() {
                    dispatch.stats.lost(arrived, start, now, true);
                }
                dispatch.idle.push(index);
                true
            } else {
                false
            }
        };
        if self.replica.stopping.load(Ordering::Relaxed) {
            actor.stop(None);
        }
        if crashed {
            job.fail(self.replica.down_error());
        } else if let Err(error) = actor.cast(job) {
            self.replica.fail_undeliverable(index, error);
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<StartWorker<S>>,
        event: SupervisionEvent,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        // A worker fails when its handler panics, and is killed when its replica crashes.
        let (cell, terminated) = match event {
            SupervisionEvent::ActorFailed(cell, panic) => {
                // tokio's timer on the virtual clock fails the run; other panics are counted.
                self.replica
                    .engine
                    .handler_panicked(&self.replica.name, &panic);
                (cell, false)
            }
            SupervisionEvent::ActorTerminated(cell, _, _)
                if !self.replica.stopping.load(Ordering::Relaxed) =>
            {
                (cell, true)
            }
            _ => return Ok(()),
        };
        let now = self.replica.engine.clock.now();
        let index = {
            let mut dispatch = self.replica.dispatch();
            let Some(index) = dispatch.workers.iter().position(|slot| {
                slot.actor
                    .as_ref()
                    .is_some_and(|actor| actor.get_id() == cell.get_id())
            }) else {
                return Ok(());
            };
            let slot = &mut dispatch.workers[index];
            // A worker that stopped without being killed by a crash (or panicking) is not ours
            // to restart.
            if terminated && !slot.killed {
                return Ok(());
            }
            let crashed = std::mem::take(&mut slot.killed);
            slot.actor = None;
            if let Some((start, arrived)) = slot.busy.take() {
                dispatch.stats.lost(arrived, start, now, crashed);
            }
            index
        };
        // The panicked request's reply channel was dropped with the handler: its caller has
        // already been told (CallError::Crashed). Restart the worker in the same slot.
        let actor = self.spawn_worker(&myself, index).await?;
        let job = {
            let mut dispatch = self.replica.dispatch();
            dispatch.workers[index].actor = Some(actor.clone());
            match dispatch.next_job(now) {
                Some(job) => {
                    dispatch.workers[index].busy = Some((now, job.arrived));
                    Some(job)
                }
                None => {
                    dispatch.idle.push(index);
                    None
                }
            }
        };
        if let Some(job) = job
            && let Err(error) = actor.cast(job)
        {
            self.replica.fail_undeliverable(index, error);
        }
        Ok(())
    }
}
