//! Driving a [`Workload`](crate::Workload): the open-loop generator and the closed-loop users
//! that send its requests, and its counts and latencies while it runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use rand::RngExt;

use crate::clock::CallTimer;
use crate::distribution::Distribution;
use crate::error::CallError;
use crate::message::RequestMeta;
use crate::metrics::{ErrorsByCause, LatencyHistogram};
use crate::node::NodeId;
use crate::random::SimRng;
use crate::report::{WorkloadCounts, WorkloadReport};
use crate::runtime::engine::{Call, Engine};
use crate::runtime::replica::ReplicaSet;
use crate::runtime::service::Service;
use crate::runtime::settle::{Settle, Settled, SettledLatency, SpareRoot};

use crate::workload::{Arrivals, Workload};

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
}

impl WorkloadResult {
    pub(crate) fn report(&self, measured: Duration) -> WorkloadReport {
        let stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        let seconds = measured.as_secs_f64();
        WorkloadReport {
            counts: stats.counts,
            throughput_per_s: if seconds > 0.0 {
                stats.counts.completed as f64 / seconds
            } else {
                0.0
            },
            latency_ms: {
                let mut all = stats.latency_settled_with_response.clone();
                all.merge(&stats.latency_settled_later);
                all.summary()
            },
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
        let stats = Arc::new(Mutex::new(WorkloadStats::default()));
        let settled = Arc::new(SettledLatency {
            warmup: engine.timing.warmup,
            histogram: Mutex::default(),
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
        });
        match self.workload.arrivals {
            Arrivals::Poisson { rate } => spawn_open(shared, arrivals_rng, Gaps::Exponential(rate)),
            Arrivals::ConstantRate { rate } => {
                spawn_open(shared, arrivals_rng, Gaps::Constant(rate))
            }
            Arrivals::Closed { users, think } => {
                let think_rng = Arc::new(Mutex::new(arrivals_rng));
                for _ in 0..users {
                    spawn_user(Arc::clone(&shared), think.clone(), Arc::clone(&think_rng));
                }
            }
        }
        WorkloadResult { stats, settled }
    }
}

struct Shared<S: Service> {
    engine: Arc<Engine>,
    target: Arc<ReplicaSet<S>>,
    stats: Arc<Mutex<WorkloadStats>>,
    settled: Arc<SettledLatency>,
    make_request: Mutex<(MakeRequest<S>, SimRng)>,
    timeout: Duration,
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
        if intended >= engine.timing.warmup {
            let latency = ended.saturating_sub(intended);
            self.stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(latency, settled, &outcome);
        }
        (ended, spare)
    }
}

enum Gaps {
    Exponential(f64),
    Constant(f64),
}

impl Gaps {
    /// The intended time of request number `index` (from 0), given the previous one's.
    fn arrival(&self, index: u64, previous: Duration, rng: &mut SimRng) -> Duration {
        match *self {
            Gaps::Exponential(rate) => {
                let gap: f64 = rng.sample(rand_distr::Exp1);
                previous + seconds(gap / rate)
            }
            // The k-th request at k / rate exactly: summing rounded gaps would drift.
            Gaps::Constant(rate) => seconds(index as f64 / rate),
        }
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
fn spawn_open<S: Service>(shared: Arc<Shared<S>>, mut rng: SimRng, gaps: Gaps) {
    let engine = Arc::clone(&shared.engine);
    engine.in_flight.enter();
    tokio::spawn(async move {
        let engine = &shared.engine;
        let end = engine.timing.duration;
        let mut requests = FuturesUnordered::new();
        // Settle state of finished requests, for the next ones.
        let mut spares = Vec::new();
        let mut sent: u64 = 0;
        let mut intended = gaps.arrival(0, Duration::ZERO, &mut rng);
        let mut arrival = (intended < end).then(|| engine.clock.sleep_until(intended));
        std::future::poll_fn(|cx| {
            loop {
                // Run the requests that can make progress (and start the ones just added).
                while let Poll::Ready(Some((_ended, spare))) = requests.poll_next_unpin(cx) {
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
                intended = gaps.arrival(sent, intended, &mut rng);
                arrival = (intended < end).then(|| engine.clock.sleep_until(intended));
            }
        })
        .await;
        engine.in_flight.leave();
    });
}

fn spawn_user<S: Service>(shared: Arc<Shared<S>>, think: Distribution, rng: Arc<Mutex<SimRng>>) {
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
        // When the previous response arrived: the user starts thinking then.
        let mut answered = engine.clock.now();
        let mut spare = None;
        // One request at a time: the user's calls share one timer.
        let timer = engine.clock.call_timer();
        // Think, then send -- unless the thinking would end after the sending window.
        loop {
            let think = draw();
            let intended = answered.saturating_add(think);
            if intended >= end {
                break;
            }
            if !think.is_zero() {
                engine.clock.sleep_until(intended).await;
            }
            let request = shared.next_request();
            (answered, spare) = shared
                .request(intended, request, spare, timer.as_ref())
                .await;
        }
        engine.in_flight.leave();
    });
}
