//! Driving a [`Workload`](crate::Workload): the open-loop generator and the closed-loop users
//! that send its requests, and its counts and latencies while it runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use rand::RngExt;

use crate::clock::CallTimer;
use crate::distribution::Distribution;
use crate::error::CallError;
use crate::message::RequestMeta;
use crate::metrics::{ErrorsByCause, LatencyHistogram};
use crate::node::NodeId;
use crate::random::SimRng;
use crate::report::timeline::{WindowedLatency, WorkloadTimeline, WorkloadWindows};
use crate::report::{WorkloadCounts, WorkloadReport};
use crate::runtime::engine::{Call, Engine};
use crate::runtime::replica::ReplicaSet;
use crate::runtime::request_set::RequestSet;
use crate::runtime::service::Service;
use crate::runtime::settle::{Settle, Settled, SettledLatency, SpareRoot};

use crate::workload::{Arrivals, Stage, Workload};

/// Makes each request of a workload from the workload's random stream.
pub(crate) type MakeRequest<S> = Box<dyn FnMut(&mut SimRng) -> <S as Service>::Request + Send>;

/// What one workload measures inside the measurement window: its counts, which the report
/// shows as they are, and its latencies (the settled latency of requests that caused other
/// work is measured where that work ends, in [`SettledLatency`]).
#[derive(Debug, Default)]
struct WorkloadStats {
    counts: WorkloadCounts,
    /// Response latency of completed requests that caused no work of their own: their
    /// settled latency too.
    latency_settled_with_response: LatencyHistogram,
    /// Response latency of completed requests that caused other work.
    latency_settled_later: LatencyHistogram,
    /// Latency of failed requests, from the intended send time to the failure.
    failed_latency: LatencyHistogram,
    errors: ErrorsByCause,
    /// Every request, warm-up included, window by window.
    timeline: WorkloadWindows,
}

impl WorkloadStats {
    fn record<T>(&mut self, latency: Duration, settled: Settled, outcome: &Result<T, CallError>) {
        let counts = &mut self.counts;
        counts.sent += 1;
        let error = match outcome {
            Ok(_) => {
                counts.completed += 1;
                match settled {
                    Settled::WithResponse => self.latency_settled_with_response.record(latency),
                    Settled::Later => self.latency_settled_later.record(latency),
                }
                return;
            }
            Err(error) => error,
        };
        counts.failed += 1;
        self.failed_latency.record(latency);
        self.errors.record(&error.cause());
        match error {
            CallError::Rejected { .. }
            | CallError::CircuitOpen { .. }
            | CallError::BulkheadFull { .. }
            | CallError::RateLimited { .. } => counts.rejected += 1,
            CallError::TimedOut { .. } => counts.timed_out += 1,
            CallError::Crashed { .. } | CallError::ReplicaDown { .. } => counts.crashed += 1,
            _ => counts.errors += 1,
        }
    }
}

/// A workload bound to its target, ready to run.
pub(crate) struct WorkloadRun<S: Service> {
    pub(crate) name: String,
    pub(crate) workload: Workload,
    pub(crate) target: Arc<ReplicaSet<S>>,
    pub(crate) make_request: MakeRequest<S>,
}

/// A started workload, read once the run has drained.
#[derive(Debug)]
pub(crate) struct WorkloadResult {
    stats: Arc<Mutex<WorkloadStats>>,
    settled: Arc<SettledLatency>,
    /// Whether its load stays the same throughout ([`Workload::is_stationary`]).
    pub(crate) stationary: bool,
}

impl WorkloadResult {
    /// The workload's series of the report's timeline.
    pub(crate) fn timeline(&self) -> WorkloadTimeline {
        let stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        let settled = self
            .settled
            .timeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        stats.timeline.report(&settled)
    }

    pub(crate) fn report(&self, measured: Duration) -> WorkloadReport {
        let stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        let seconds = measured.as_secs_f64();
        let mut latency = stats.latency_settled_with_response.clone();
        latency.merge(&stats.latency_settled_later);
        WorkloadReport {
            counts: stats.counts,
            throughput_per_s: if seconds > 0.0 {
                stats.counts.completed as f64 / seconds
            } else {
                0.0
            },
            latency_ms: latency.summary(),
            percentiles: latency.percentile_spectrum(),
            latency_hgrm: latency.to_hgrm(),
            failed_latency_ms: stats.failed_latency.summary(),
            errors_by_cause: stats.errors.counts().clone(),
            settled_ms: {
                let mut all = stats.latency_settled_with_response.clone();
                all.merge(
                    &self
                        .settled
                        .histogram
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                );
                all.summary()
            },
        }
    }
}

impl<S: Service> WorkloadRun<S> {
    /// Spawns the workload's generator (open loop) or users (closed loop).
    pub(crate) fn start(self, engine: &Arc<Engine>, seed: u64) -> WorkloadResult {
        let windows = engine.timing.windows;
        let stats = Arc::new(Mutex::new(WorkloadStats {
            timeline: WorkloadWindows::new(windows),
            ..WorkloadStats::default()
        }));
        let settled = Arc::new(SettledLatency {
            warmup: engine.timing.warmup,
            histogram: Mutex::default(),
            timeline: Mutex::new(WindowedLatency::new(windows)),
            windows,
        });
        let timeout = self.workload.timeout.unwrap_or(engine.timing.call_timeout);
        let arrivals_rng = crate::random::stream(seed, &format!("workload/{}/arrivals", self.name));
        let requests_rng = crate::random::stream(seed, &format!("workload/{}/requests", self.name));
        let shared = Arc::new(Shared {
            engine: Arc::clone(engine),
            target: self.target,
            stats: Arc::clone(&stats),
            settled: Arc::clone(&settled),
            make_request: Mutex::new((self.make_request, requests_rng)),
            timeout,
            traced_as: engine
                .tracer
                .as_ref()
                .map_or(0, |tracer| tracer.workload(&self.name)),
        });
        let stationary = self.workload.is_stationary();
        let end = engine.timing.duration;
        match self.workload.arrivals {
            Arrivals::Poisson { rate } => {
                spawn_open(shared, arrivals_rng, Gaps::Exponential(rate), end);
            }
            Arrivals::ConstantRate { rate } => {
                spawn_open(shared, arrivals_rng, Gaps::Constant(rate), end);
            }
            Arrivals::PoissonStages { start_rate, stages } => {
                let gaps = Gaps::Staged {
                    profile: RateProfile::new(start_rate, &stages),
                    poisson: true,
                    level: 0.0,
                };
                spawn_open(shared, arrivals_rng, gaps, end);
            }
            Arrivals::ConstantStages { start_rate, stages } => {
                let gaps = Gaps::Staged {
                    profile: RateProfile::new(start_rate, &stages),
                    poisson: false,
                    level: 0.0,
                };
                spawn_open(shared, arrivals_rng, gaps, end);
            }
            Arrivals::Replay { times } => {
                spawn_open(
                    shared,
                    arrivals_rng,
                    Gaps::Replay(Arc::clone(times.nanos())),
                    end,
                );
            }
            Arrivals::Closed {
                users,
                think,
                stages,
            } => {
                let think_rng = Arc::new(Mutex::new(arrivals_rng));
                match stages {
                    None => {
                        for _ in 0..users {
                            spawn_user(
                                Arc::clone(&shared),
                                think.clone(),
                                Arc::clone(&think_rng),
                                None,
                            );
                        }
                    }
                    Some(stages) => {
                        let profile = Arc::new(UserProfile::new(users, &stages));
                        for index in 0..profile.most {
                            let active = Active {
                                profile: Arc::clone(&profile),
                                index,
                            };
                            spawn_user(
                                Arc::clone(&shared),
                                think.clone(),
                                Arc::clone(&think_rng),
                                Some(active),
                            );
                        }
                    }
                }
            }
        }
        WorkloadResult {
            stats,
            settled,
            stationary,
        }
    }
}

struct Shared<S: Service> {
    engine: Arc<Engine>,
    target: Arc<ReplicaSet<S>>,
    stats: Arc<Mutex<WorkloadStats>>,
    settled: Arc<SettledLatency>,
    make_request: Mutex<(MakeRequest<S>, SimRng)>,
    timeout: Duration,
    /// The workload's index in the tracer, when tracing is on.
    traced_as: u32,
}

impl<S: Service> Shared<S> {
    fn next_request(&self) -> S::Request {
        let mut guard = self
            .make_request
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (make, rng) = &mut *guard;
        make(rng)
    }

    /// Sends one request intended at `intended` (its settle token in `spare`, if a previous
    /// request left one), records its outcome and returns when it ended, with the settle
    /// state the next request can reuse.
    async fn request(
        &self,
        intended: Duration,
        request: S::Request,
        spare: Option<SpareRoot>,
        timer: Option<&CallTimer>,
    ) -> (Duration, Option<SpareRoot>) {
        let engine = &self.engine;
        // The client gives up `timeout` after the intended send time: it is now on the
        // virtual clock, and reading the real one would cost a system call.
        let meta = RequestMeta::root(
            engine.next_request_id(),
            intended,
            intended.saturating_add(self.timeout),
        );
        let settle = Settle::root(engine, intended, &self.settled, spare);
        let trace = meta.id.0;
        if let Some(tracer) = &engine.tracer {
            tracer.begin(trace);
        }
        let outcome = engine
            .call(Call {
                from: NodeId::CLIENT,
                to: &self.target,
                request,
                meta,
                settle: Some(&settle),
                // The workload's timeout bounds the whole call; a client policy's timeout,
                // each attempt.
                timeout: None,
                default_timeout: self.timeout,
                timer,
            })
            .await;
        if outcome.is_err() {
            // Settled latency, like response latency, covers completed requests.
            settle.forget();
        }
        let ended = engine.clock.now();
        let (settled, spare) = settle.finish_at(ended);
        engine.progress.request_ended(ended);
        let latency = ended.saturating_sub(intended);
        if let Some(tracer) = &engine.tracer {
            let root = crate::trace::collector::RawSpan::new(
                trace,
                crate::trace::collector::root_span(trace),
                0,
                crate::trace::SpanKind::Request,
                NodeId::CLIENT,
                crate::nanos::saturating_u64(intended),
                crate::nanos::saturating_u64(ended),
            )
            .peer(self.target.node());
            let error = outcome.as_ref().err().map(ToString::to_string);
            tracer.finish(self.traced_as, root.error(error));
        }
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        stats.timeline.record(
            crate::nanos::saturating_u64(intended),
            crate::nanos::saturating_u64(latency),
            outcome.is_ok(),
            !matches!(settled, Settled::WithResponse),
        );
        if intended >= engine.timing.warmup {
            stats.record(latency, settled, &outcome);
        }
        (ended, spare)
    }
}

/// Where the open-loop generator's next request is intended.
enum Gaps {
    Exponential(f64),
    Constant(f64),
    /// A staged rate: request `k` at the first instant the rate's integral passes `level`,
    /// which is `k` (paced) or the sum of `k + 1` unit exponential draws (Poisson).
    Staged {
        profile: RateProfile,
        poisson: bool,
        level: f64,
    },
    /// Nanoseconds from the start, in order.
    Replay(Arc<[u64]>),
}

impl Gaps {
    /// The intended time of request number `index` (from 0), given the previous one's;
    /// `None` once there are no more.
    fn arrival(&mut self, index: u64, previous: Duration, rng: &mut SimRng) -> Option<Duration> {
        match self {
            Gaps::Exponential(rate) => {
                let gap: f64 = rng.sample(rand_distr::Exp1);
                Some(previous + seconds(gap / *rate))
            }
            // The k-th request at k / rate exactly: summing rounded gaps would drift.
            Gaps::Constant(rate) => Some(seconds(index as f64 / *rate)),
            Gaps::Staged {
                profile,
                poisson,
                level,
            } => {
                if *poisson {
                    let gap: f64 = rng.sample(rand_distr::Exp1);
                    *level += gap;
                } else {
                    *level = index as f64;
                }
                // Rounding to the nanosecond never takes a request before the previous one.
                profile.inverse(*level).map(|at| at.max(previous))
            }
            Gaps::Replay(times) => usize::try_from(index)
                .ok()
                .and_then(|index| times.get(index))
                .map(|&nanos| Duration::from_nanos(nanos)),
        }
    }
}

/// A staged rate as straight lines, with the integral of the rate at each one's start: the
/// cumulative rate `Lambda(t)`, piecewise quadratic, and its inverse.
struct RateProfile {
    lines: Vec<RateLine>,
    /// The first line whose end the levels asked for have not passed (they only grow).
    next: usize,
}

struct RateLine {
    /// When the line starts, in nanoseconds (exact: a sum of the stages' durations).
    start: u64,
    /// Its length in seconds.
    length: f64,
    /// The rate at its start.
    from: f64,
    /// The rate's slope, per second per second.
    slope: f64,
    /// `Lambda` at its start and at its end.
    level: f64,
    level_end: f64,
}

impl RateProfile {
    fn new(start_rate: f64, stages: &[Stage<f64>]) -> Self {
        let mut lines = Vec::with_capacity(stages.len());
        let (mut start, mut from, mut level) = (0u64, start_rate, 0.0);
        for stage in stages {
            let length = stage.duration().as_secs_f64();
            let to = stage.target();
            let level_end = level + (from + to) / 2.0 * length;
            lines.push(RateLine {
                start,
                length,
                from,
                slope: (to - from) / length,
                level,
                level_end,
            });
            // Validated: the stages' total fits the clock.
            start += u64::try_from(stage.duration().as_nanos()).unwrap_or(u64::MAX);
            (from, level) = (to, level_end);
        }
        RateProfile { lines, next: 0 }
    }

    /// The first instant `t` with `Lambda(t) > level` (the right-continuous inverse: a stage
    /// whose rate is 0 throughout has no such instant), to the nearest nanosecond; `None`
    /// past the last stage. `level` never decreases from one call to the next.
    fn inverse(&mut self, level: f64) -> Option<Duration> {
        while self
            .lines
            .get(self.next)
            .is_some_and(|line| line.level_end <= level)
        {
            self.next += 1;
        }
        let line = self.lines.get(self.next)?;
        let area = (level - line.level).max(0.0);
        // Solve from * x + slope / 2 * x^2 = area for x in [0, length]. The root written as
        // 2 area / (from + sqrt(from^2 + 2 slope area)) has no cancellation whatever the
        // sign of the slope (the textbook form loses its digits when from^2 >> slope area).
        let x = if line.slope == 0.0 {
            area / line.from
        } else {
            let root = (line.from * line.from + 2.0 * line.slope * area)
                .max(0.0)
                .sqrt();
            let denominator = line.from + root;
            if denominator > 0.0 {
                2.0 * area / denominator
            } else {
                0.0
            }
        };
        let x = x.clamp(0.0, line.length);
        Some(Duration::from_nanos(line.start) + seconds(x))
    }
}

/// A staged number of users as straight lines: `N(t)`, the line's value rounded to the
/// nearest whole number (halves up), in exact integer arithmetic.
struct UserProfile {
    lines: Vec<UserLine>,
    /// The most users at any instant: the users spawned.
    most: usize,
}

struct UserLine {
    /// Start and length in nanoseconds.
    start: u64,
    length: u64,
    /// Users at the start and the end.
    from: u64,
    to: u64,
}

impl UserProfile {
    fn new(start_users: usize, stages: &[Stage<usize>]) -> Self {
        let mut lines = Vec::with_capacity(stages.len());
        let (mut start, mut from) = (0u64, start_users as u64);
        let mut most = start_users;
        for stage in stages {
            let length = u64::try_from(stage.duration().as_nanos()).unwrap_or(u64::MAX);
            let to = stage.target() as u64;
            lines.push(UserLine {
                start,
                length,
                from,
                to,
            });
            most = most.max(stage.target());
            start = start.saturating_add(length);
            from = to;
        }
        UserProfile { lines, most }
    }

    /// The first instant at or after `from` at which user `index` is active (`index <
    /// N(t)`), if there is one before the last stage ends.
    fn next_active(&self, index: usize, from: Duration) -> Option<Duration> {
        let from = u64::try_from(from.as_nanos()).unwrap_or(u64::MAX);
        let index = index as i128;
        for line in &self.lines {
            let (start, length) = (i128::from(line.start), i128::from(line.length));
            if from >= line.start.saturating_add(line.length) {
                continue;
            }
            let (a, b) = (i128::from(line.from), i128::from(line.to));
            // At offset x: N = round(a + (b - a) x / length) > index exactly when
            // 2 a length + 2 (b - a) x >= (2 index + 1) length.
            let need = (2 * index + 1 - 2 * a) * length;
            let (low, high) = match b.cmp(&a) {
                std::cmp::Ordering::Equal => {
                    if a > index {
                        (0, length)
                    } else {
                        continue;
                    }
                }
                // Rising: from the first x with 2 (b - a) x >= need.
                std::cmp::Ordering::Greater => {
                    let slope = 2 * (b - a);
                    let low = if need <= 0 {
                        0
                    } else {
                        (need + slope - 1) / slope
                    };
                    (low, length)
                }
                // Falling: while 2 (a - b) x <= -need.
                std::cmp::Ordering::Less => {
                    if need > 0 {
                        continue;
                    }
                    let slope = 2 * (a - b);
                    (0, (-need / slope + 1).min(length))
                }
            };
            let at = (i128::from(from) - start).max(low);
            if at < high {
                return u64::try_from(start + at).ok().map(Duration::from_nanos);
            }
        }
        None
    }
}

/// Which user of a staged closed workload a task is, and the stages it follows.
struct Active {
    profile: Arc<UserProfile>,
    index: usize,
}

impl Active {
    fn next(&self, from: Duration) -> Option<Duration> {
        self.profile.next_active(self.index, from)
    }
}

/// Seconds as a duration rounded to the nearest nanosecond.
fn seconds(value: f64) -> Duration {
    Duration::from_nanos((value * 1e9).round().min(u64::MAX as f64) as u64)
}

/// The open-loop generator: one task that sends each request at its intended time and runs
/// the requests in flight itself, as a set of futures (no task per request: spawning one is
/// an aligned allocation and a trip through the scheduler, and an open-loop run sends
/// hundreds of thousands). The task counts as in flight until its last request has ended.
/// Requests are sent before `end` only.
fn spawn_open<S: Service>(shared: Arc<Shared<S>>, mut rng: SimRng, mut gaps: Gaps, end: Duration) {
    let engine = Arc::clone(&shared.engine);
    engine.in_flight.enter();
    tokio::spawn(async move {
        let engine = &shared.engine;
        let mut requests = RequestSet::new();
        // Settle state of finished requests, for the next ones.
        let mut spares = Vec::new();
        let mut sent: u64 = 0;
        let first = gaps.arrival(0, Duration::ZERO, &mut rng);
        let mut intended = first.unwrap_or(end);
        let mut arrival = first
            .filter(|at| *at < end)
            .map(|at| engine.clock.sleep_until(at));
        std::future::poll_fn(|cx| {
            loop {
                // Run the requests that can make progress (and start the ones just added).
                while let Poll::Ready(Some((_ended, spare))) = requests.poll_next(cx) {
                    spares.extend(spare);
                    engine.in_flight.leave();
                }
                let Some(sleep) = arrival.as_mut() else {
                    return if requests.is_empty() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    };
                };
                if Pin::new(sleep).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // Each request counts in flight, as a stall reports how many are stuck.
                engine.in_flight.enter();
                // Requests overlap: no caller's own timer.
                requests.push(shared.request(intended, shared.next_request(), spares.pop(), None));
                sent += 1;
                let next = gaps.arrival(sent, intended, &mut rng);
                intended = next.unwrap_or(end);
                arrival = next
                    .filter(|at| *at < end)
                    .map(|at| engine.clock.sleep_until(at));
            }
        })
        .await;
        engine.in_flight.leave();
    });
}

/// One closed-loop user; `active`, for a staged workload, says when it may send.
fn spawn_user<S: Service>(
    shared: Arc<Shared<S>>,
    think: Distribution,
    rng: Arc<Mutex<SimRng>>,
    active: Option<Active>,
) {
    shared.engine.in_flight.enter();
    tokio::spawn(async move {
        let engine = &shared.engine;
        let zero = think.is_zero();
        let draw = || {
            if zero {
                return Duration::ZERO;
            }
            think.sample(&mut *rng.lock().unwrap_or_else(PoisonError::into_inner))
        };
        let end = engine.timing.duration;
        // When the user starts (again): the first instant it is active.
        let mut start = match &active {
            None => Some(engine.clock.now()),
            Some(active) => active.next(engine.clock.now()),
        };
        let mut spare = None;
        // One request at a time: the user's calls share one timer.
        let timer = engine.clock.call_timer();
        while let Some(started) = start.take() {
            if started > engine.clock.now() {
                engine.clock.sleep_until(started).await;
            }
            // When the previous response arrived: the user starts thinking then.
            let mut answered = started;
            // Think, then send -- unless the thinking would end after the sending window, or
            // (staged) the user is no longer active then.
            loop {
                let think = draw();
                let intended = answered.saturating_add(think);
                if intended >= end {
                    break;
                }
                if let Some(active) = &active {
                    let next = active.next(intended);
                    if next != Some(intended) {
                        // Stopped: it starts afresh when it is active again.
                        start = next;
                        break;
                    }
                }
                if !think.is_zero() {
                    engine.clock.sleep_until(intended).await;
                }
                let request = shared.next_request();
                (answered, spare) = shared
                    .request(intended, request, spare, timer.as_ref())
                    .await;
            }
        }
        engine.in_flight.leave();
    });
}
