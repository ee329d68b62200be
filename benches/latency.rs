//! What a request costs in microsim, beside the raw baselines it is built on.
//!
//! - `request_response` (real time): one request/response round trip, three ways, each on a
//!   current-thread tokio runtime so the ratios are fair:
//!   - `microsim_service`: through a microsim service (a ractor actor behind microsim's
//!     admission, clock, timeout and metrics);
//!   - `ractor_call`: a raw ractor `call` to an echo actor;
//!   - `tokio_mpsc_oneshot`: a raw tokio unbounded mpsc send answered on a oneshot.
//!
//!   Each is reported as time per round trip; `microsim_service / ractor_call` is what microsim
//!   adds on top of ractor. That ratio is also measured in adjacent pairs and printed to
//!   standard error as `request_response/paired` (see `paired_ratio`): on a shared machine it
//!   is steadier than the ratio of two criterion medians measured seconds apart.
//! - `events` (real time): what an event costs, beside the request/response round trip of a
//!   microsim service (`microsim_service`, the same figure as in `request_response`):
//!   - `publish_1_subscriber`: one user calls a publisher service back to back; each call
//!     publishes one event to an at-most-once topic (no broker or link latency) and answers;
//!     one subscriber handles every event. Time per event handled, the call included;
//!   - `fanout_100_subscribers`: the same with 100 subscribers. Time per event published,
//!     until all 100 have handled it (runs of at least 500 ms, to amortise starting 100
//!     services).
//!
//!   `publish_1_subscriber - microsim_service` is about what publishing and delivering one
//!   event adds to a call; `fanout_100_subscribers / publish_1_subscriber` shows how fan-out
//!   scales.
//! - `virtual_time`: an M/M/1 queue (1 worker, exponential work of mean 1 ms, Poisson arrivals
//!   at 800/s) on the virtual clock. Throughput is in simulated requests per wall-clock second.
//!   - `mm1`: without tracing;
//!   - `mm1_traced`: the same run, the same requests, with `Tracing::default()` on (every
//!     request traced through each hop, 1% sampled, the 10 slowest kept).
//!
//!   `mm1_traced / mm1` is what tracing costs a run.
//!
//! With `CI` set in the environment, runs are shorter.
//!
//! ```text
//! cargo bench --bench latency
//! CI=1 cargo bench --bench latency
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime};
use criterion::{criterion_group, criterion_main};
use microsim::trace::Tracing;
use microsim::{
    Capacity, ClockKind, Context, Distribution, Service, ServiceError, Simulation, Topic,
    TopicHandle, Workload,
};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::{mpsc, oneshot};

/// Shorter runs on CI.
fn on_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// The runtime of the baselines: current-thread, as a simulation's own runtime is.
fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

// ---------------------------------------------------------------------------------------------
// request_response / microsim_service

/// Answers at once: no processing time, no downstream calls.
struct Noop;

impl Service for Noop {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, _: &Context<Self>, (): ()) -> Result<(), ServiceError> {
        Ok(())
    }
}

/// Runs one real-time simulation of `duration`: one [`Noop`] service with one worker, and (if
/// `with_user`) one closed-loop user with zero think time, so requests go back to back.
/// Returns the wall time of [`Simulation::run`] and the number of completed requests.
fn run_back_to_back(duration: Duration, with_user: bool) -> (Duration, u64) {
    let mut sim = Simulation::builder()
        .clock(ClockKind::Real)
        .duration(duration)
        .build()
        .expect("valid settings");
    let noop = sim
        .add_service("noop", Noop, Capacity::workers(1))
        .expect("a valid service");
    if with_user {
        sim.add_workload(
            "user",
            &noop,
            Workload::closed(1, Distribution::ZERO),
            |_| (),
        )
        .expect("a valid workload");
    }
    let started = Instant::now();
    let report = sim.run().expect("a real-time run");
    let elapsed = started.elapsed();
    let completed = report.workloads.get("user").map_or(0, |user| {
        assert_eq!(
            user.counts.failed, 0,
            "a zero-work request failed: {user:?}"
        );
        user.counts.completed
    });
    (elapsed, completed)
}

/// The median of `runs` wall times of a run with the service but no user: building the
/// runtime, spawning and stopping the actors, dropping the runtime.
fn setup_cost(runs: usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| run_back_to_back(Duration::from_millis(1), false).0)
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// The library only exposes whole runs, not a single call, so one round trip is measured as a
/// share of a run: for `iters` round trips, run a real-time simulation in which one user sends
/// zero-work requests back to back, long enough for about `iters` of them but at least
/// `min_run` (20 ms, 5 ms on CI), and return `wall time of the run * iters / completed`.
///
/// The wall time covers the whole `Simulation::run`, so it includes the run's setup and
/// teardown (runtime, actor spawn and stop). Subtracting a separately measured setup would add
/// the noise of a second measurement; instead the run is kept long enough for the setup to be
/// negligible. It is measured once below and printed as a share of the shortest run (tens of
/// microseconds against 20 ms: well under 1%). The figure is therefore a slight upper bound.
fn microsim_service(group: &mut BenchmarkGroup<'_, WallTime>) {
    let min_run = if on_ci() {
        Duration::from_millis(5)
    } else {
        Duration::from_millis(20)
    };
    let (elapsed, completed) = run_back_to_back(min_run, true);
    let per_request = elapsed.div_f64(completed as f64);
    let setup = setup_cost(11);
    eprintln!(
        "microsim_service: {completed} requests in a {min_run:?} run (~{per_request:?} each); \
         a run's setup and teardown take {setup:?}, {:.2}% of the shortest run, included",
        100.0 * setup.as_secs_f64() / elapsed.as_secs_f64()
    );

    group.bench_function("microsim_service", |b| {
        b.iter_custom(|iters| {
            let duration = min_run.max(per_request.mul_f64(iters as f64));
            let (elapsed, completed) = run_back_to_back(duration, true);
            assert!(completed > 0, "a {duration:?} run completed no request");
            elapsed.mul_f64(iters as f64 / completed as f64)
        });
    });
}

// ---------------------------------------------------------------------------------------------
// request_response / ractor_call

/// Answers every [`Ping`] with its value.
struct Echo;

/// A value to send back on the reply port.
struct Ping(u64, RpcReplyPort<u64>);

impl Actor for Echo {
    type Msg = Ping;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Ping>, (): ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<Ping>,
        Ping(value, reply): Ping,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        // The caller waits for the reply: it cannot have gone away.
        let _ = reply.send(value);
        Ok(())
    }
}

/// The wall time of `calls` back-to-back ractor calls to `echo`.
fn ractor_calls(runtime: &tokio::runtime::Runtime, echo: &ActorRef<Ping>, calls: u64) -> Duration {
    runtime.block_on(async {
        let started = Instant::now();
        for i in 0..calls {
            let reply = echo
                .call(|port| Ping(black_box(i), port), None)
                .await
                .expect("the echo actor is running");
            let CallResult::Success(value) = reply else {
                panic!("the echo actor did not answer");
            };
            black_box(value);
        }
        started.elapsed()
    })
}

fn ractor_call(group: &mut BenchmarkGroup<'_, WallTime>) {
    let runtime = current_thread_runtime();
    let (echo, echo_task) = runtime
        .block_on(Actor::spawn(None, Echo, ()))
        .expect("spawn the echo actor");
    group.bench_function("ractor_call", |b| {
        b.iter_custom(|iters| ractor_calls(&runtime, &echo, iters));
    });
    echo.stop(None);
    runtime
        .block_on(echo_task)
        .expect("the echo actor stops cleanly");
}

// ---------------------------------------------------------------------------------------------
// request_response: the ratio, measured in pairs

/// `microsim_service / ractor_call`, measured in adjacent pairs and printed (not a criterion
/// benchmark). Criterion measures each benchmark for seconds on end, and on a shared machine
/// the speed drifts by a quarter between them; the ratio of two such medians inherits that
/// drift. Here each pair is a real-time microsim run of `min_run` and, right before or after
/// it (alternately), as many raw ractor calls as the run completed requests; the ratio of the
/// two per-request times is taken within the pair, and the median over pairs is printed with
/// its quartiles.
fn paired_ratio() {
    let (pairs, min_run) = if on_ci() {
        (5, Duration::from_millis(5))
    } else {
        (31, Duration::from_millis(20))
    };
    let runtime = current_thread_runtime();
    let (echo, echo_task) = runtime
        .block_on(Actor::spawn(None, Echo, ()))
        .expect("spawn the echo actor");
    // Calls per ractor measure: as many as the latest run completed requests.
    let mut calls = run_back_to_back(min_run, true).1.max(1);
    let mut ratios: Vec<f64> = (0..pairs)
        .map(|pair| {
            let ractor_first = pair % 2 == 1;
            let before = ractor_first.then(|| (ractor_calls(&runtime, &echo, calls), calls));
            let (elapsed, completed) = run_back_to_back(min_run, true);
            assert!(completed > 0, "a {min_run:?} run completed no request");
            calls = completed;
            let (ractor_elapsed, ractor_count) =
                before.unwrap_or_else(|| (ractor_calls(&runtime, &echo, calls), calls));
            let microsim = elapsed.as_secs_f64() / completed as f64;
            let ractor = ractor_elapsed.as_secs_f64() / ractor_count as f64;
            microsim / ractor
        })
        .collect();
    echo.stop(None);
    runtime
        .block_on(echo_task)
        .expect("the echo actor stops cleanly");
    ratios.sort_by(f64::total_cmp);
    let quantile = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "request_response/paired: microsim_service / ractor_call = {:.2}x median over {pairs} \
         adjacent pairs (quartiles {:.2}x-{:.2}x, range {:.2}x-{:.2}x)",
        quantile(0.5),
        quantile(0.25),
        quantile(0.75),
        ratios[0],
        ratios[ratios.len() - 1],
    );
}

// ---------------------------------------------------------------------------------------------
// request_response / tokio_mpsc_oneshot

fn tokio_mpsc_oneshot(group: &mut BenchmarkGroup<'_, WallTime>) {
    let runtime = current_thread_runtime();
    let (requests, mut inbox) = mpsc::unbounded_channel::<(u64, oneshot::Sender<u64>)>();
    let server = runtime.spawn(async move {
        while let Some((value, reply)) = inbox.recv().await {
            let _ = reply.send(value);
        }
    });
    group.bench_function("tokio_mpsc_oneshot", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                for i in 0..iters {
                    let (reply, response) = oneshot::channel();
                    requests
                        .send((black_box(i), reply))
                        .expect("the server task is running");
                    black_box(response.await.expect("the server task answers"));
                }
                started.elapsed()
            })
        });
    });
    drop(requests);
    runtime
        .block_on(server)
        .expect("the server task ends cleanly");
}

fn request_response(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_response");
    group.throughput(Throughput::Elements(1));
    microsim_service(&mut group);
    ractor_call(&mut group);
    tokio_mpsc_oneshot(&mut group);
    group.finish();
    paired_ratio();
}

// ---------------------------------------------------------------------------------------------
// events

/// Publishes one event per request and answers once the broker has confirmed it.
struct Publisher {
    topic: TopicHandle<()>,
}

impl Service for Publisher {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, (): ()) -> Result<(), ServiceError> {
        ctx.publish(&self.topic, ()).await?;
        Ok(())
    }
}

/// Runs one real-time simulation of `duration`: a [`Publisher`] (one worker) publishing to an
/// at-most-once topic without broker or link latency, to which `subscribers` [`Noop`] services
/// (one worker each) subscribe, and (if `with_user`) one closed-loop user with zero think time
/// calling the publisher back to back. Returns the wall time of [`Simulation::run`] and the
/// number of events published, after checking that every subscriber handled every one.
fn run_publishing(duration: Duration, subscribers: usize, with_user: bool) -> (Duration, u64) {
    let mut sim = Simulation::builder()
        .clock(ClockKind::Real)
        .duration(duration)
        .build()
        .expect("valid settings");
    let topic = sim
        .add_topic::<()>("events", Topic::at_most_once())
        .expect("a valid topic");
    let publisher = sim
        .add_service(
            "publisher",
            Publisher {
                topic: topic.clone(),
            },
            Capacity::workers(1),
        )
        .expect("a valid service");
    for index in 0..subscribers {
        let subscriber = sim
            .add_service(
                &format!("subscriber-{index:03}"),
                Noop,
                Capacity::workers(1),
            )
            .expect("a valid service");
        sim.subscribe(&topic, &subscriber, |_| ())
            .expect("a valid subscription");
    }
    if with_user {
        sim.add_workload(
            "user",
            &publisher,
            Workload::closed(1, Distribution::ZERO),
            |_| (),
        )
        .expect("a valid workload");
    }
    let started = Instant::now();
    let report = sim.run().expect("a real-time run");
    let elapsed = started.elapsed();
    if let Some(user) = report.workloads.get("user") {
        assert_eq!(user.counts.failed, 0, "a publish failed: {user:?}");
    }
    let events = &report.topics["events"];
    for (name, subscriber) in &events.subscribers {
        assert_eq!(
            subscriber.counts.handled, events.counts.published,
            "{name} did not handle every event"
        );
    }
    (elapsed, events.counts.published)
}

/// Measures one event as a share of a run, as [`microsim_service`] measures one request: for
/// `iters` events, a run long enough for about `iters` of them but at least `min_run`, and
/// `wall time of the run * iters / events published`. Every subscriber has handled every
/// event when the run returns, so this is the cost of an event from publish to handled by all
/// (the user's call to the publisher included).
///
/// As there, the run's setup and teardown are included rather than subtracted; `min_run` is
/// chosen to keep them small, and their share is printed. Starting 100 subscribers (200
/// actors with their supervisors) takes milliseconds, hence a longer `min_run` for fan-out.
fn publishing(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    subscribers: usize,
    min_run: Duration,
) {
    let (elapsed, events) = run_publishing(min_run, subscribers, true);
    assert!(events > 0, "a {min_run:?} run published no event");
    let per_event = elapsed.div_f64(events as f64);
    let mut setups: Vec<Duration> = (0..5)
        .map(|_| run_publishing(Duration::from_millis(1), subscribers, false).0)
        .collect();
    setups.sort();
    let setup = setups[setups.len() / 2];
    eprintln!(
        "{name}: {events} events to {subscribers} subscriber(s) in a {min_run:?} run \
         (~{per_event:?} each); a run's setup and teardown take {setup:?}, {:.2}% of the \
         shortest run, included",
        100.0 * setup.as_secs_f64() / elapsed.as_secs_f64()
    );
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let duration = min_run.max(per_event.mul_f64(iters as f64));
            let (elapsed, events) = run_publishing(duration, subscribers, true);
            assert!(events > 0, "a {duration:?} run published no event");
            elapsed.mul_f64(iters as f64 / events as f64)
        });
    });
}

fn events(c: &mut Criterion) {
    let ci = on_ci();
    let mut group = c.benchmark_group("events");
    group.throughput(Throughput::Elements(1));
    if ci {
        group.sample_size(20);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
    }
    // The request/response figure, beside the events.
    microsim_service(&mut group);
    let min_run = Duration::from_millis(if ci { 5 } else { 20 });
    publishing(&mut group, "publish_1_subscriber", 1, min_run);
    // Fan-out runs last at least half a second (100 ms on CI): fewer, flat samples.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(if ci { 3 } else { 10 }));
    let min_run = Duration::from_millis(if ci { 100 } else { 500 });
    publishing(&mut group, "fanout_100_subscribers", 100, min_run);
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// virtual_time

/// An M/M/1 server: every request takes an exponentially distributed time.
struct Server {
    work: Distribution,
}

impl Service for Server {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, (): ()) -> Result<(), ServiceError> {
        ctx.work(&self.work).await;
        Ok(())
    }
}

/// Arrival rate of the M/M/1 run, requests per simulated second (service rate 1000/s).
const ARRIVALS_PER_S: f64 = 800.0;

/// Runs the M/M/1 queue on the virtual clock for `duration`, with `tracing` if given, and
/// returns the requests sent.
fn run_mm1(duration: Duration, tracing: Option<&Tracing>) -> u64 {
    let mut builder = Simulation::builder().seed(1).duration(duration);
    if let Some(tracing) = tracing {
        builder = builder.tracing(tracing.clone());
    }
    let mut sim = builder.build().expect("valid settings");
    let server = Server {
        work: Distribution::exponential(Duration::from_millis(1)),
    };
    let server = sim
        .add_service("server", server, Capacity::workers(1))
        .expect("a valid service");
    sim.add_workload(
        "arrivals",
        &server,
        Workload::poisson(ARRIVALS_PER_S),
        |_| (),
    )
    .expect("a valid workload");
    let report = sim.run().expect("a virtual-time run");
    if tracing.is_some() {
        let traces = report.traces.as_ref().expect("tracing is on");
        assert_eq!(traces.requests, report.workloads["arrivals"].counts.sent);
        assert!(!traces.traces.is_empty(), "no trace kept");
    }
    report.workloads["arrivals"].counts.sent
}

fn virtual_time(c: &mut Criterion) {
    let target_requests = if on_ci() { 10_000.0 } else { 50_000.0 };
    let duration = Duration::from_secs_f64(target_requests / ARRIVALS_PER_S);
    // Runs are deterministic: every run sends the same requests as this one, traced or not.
    let requests = run_mm1(duration, None);
    let tracing = Tracing::default();
    assert_eq!(
        run_mm1(duration, Some(&tracing)),
        requests,
        "tracing changed the requests"
    );

    let mut group = c.benchmark_group("virtual_time");
    group.throughput(Throughput::Elements(requests));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(if on_ci() { 3 } else { 10 }));
    group.bench_function("mm1", |b| {
        b.iter(|| {
            let sent = run_mm1(duration, None);
            assert_eq!(sent, requests, "a seeded virtual-time run changed");
        });
    });
    group.bench_function("mm1_traced", |b| {
        b.iter(|| {
            let sent = run_mm1(duration, Some(&tracing));
            assert_eq!(sent, requests, "a seeded virtual-time run changed");
        });
    });
    group.finish();
}

criterion_group!(benches, request_response, events, virtual_time);
criterion_main!(benches);
