//! The real clock: durations really pass.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use microsim::{
    CallError, Capacity, ClockKind, Context, Distribution, Report, Service, ServiceError,
    ServiceHandle, Simulation, Workload,
};

use crate::support::{Stuck, Worker, ms, us};

#[test]
fn real_time_smoke() {
    let mut sim = Simulation::builder()
        .clock(ClockKind::Real)
        .duration(Duration::from_millis(200))
        .build()
        .unwrap();
    let server = sim
        .add_service("server", Worker::constant(us(300)), Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &server, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    let started = Instant::now();
    let report = sim.run().unwrap();
    let wall = started.elapsed();
    assert_eq!(report.clock, ClockKind::Real);
    let load = &report.workloads["load"];
    assert_eq!(load.counts.sent, 20);
    assert_eq!(load.counts.completed, 20);
    // At least the 300 us of work; on a loaded machine a request can wait for the CPU, so
    // the upper bound is loose.
    assert!(load.latency_ms.p50 >= 0.3, "{:?}", load.latency_ms);
    assert!(load.latency_ms.max < 100.0, "{:?}", load.latency_ms);
    assert!(wall >= Duration::from_millis(190), "{wall:?}");
}

/// Runs `sim` on another thread and fails the test if it has not finished within `limit`: a
/// real-time run whose timeouts never fire would otherwise hang forever (the real clock never
/// reports a stall).
fn run_within(sim: Simulation, limit: Duration) -> (Report, Duration) {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let started = Instant::now();
        let report = sim.run();
        let _ = done.send((report, started.elapsed()));
    });
    let (report, wall) = finished
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the real-time run did not end within {limit:?}"));
    (report.unwrap(), wall)
}

/// A closed-loop user makes one call at a time, timed by its own call timer (not the clock's
/// timer queue): calls that are never answered still time out, none before its deadline, and
/// the run ends.
#[test]
fn real_time_calls_never_answered_time_out_at_their_deadline() {
    let timeout = ms(25);
    let mut sim = Simulation::builder()
        .clock(ClockKind::Real)
        .duration(ms(100))
        .call_timeout(timeout)
        .build()
        .unwrap();
    let stuck = sim
        .add_service("stuck", Stuck, Capacity::workers(1))
        .unwrap();
    sim.add_workload(
        "user",
        &stuck,
        Workload::closed(1, Distribution::ZERO),
        |_| (),
    )
    .unwrap();
    let (report, wall) = run_within(sim, Duration::from_secs(10));
    let user = &report.workloads["user"];
    // Back to back, each ending at its deadline: at 25, 50, 75 and 100 ms, give or take the
    // driver's 1 ms tick and the machine's load.
    assert!((2..=4).contains(&user.counts.sent), "{user:?}");
    assert_eq!(user.counts.timed_out, user.counts.sent, "{user:?}");
    assert_eq!(user.counts.completed, 0, "{user:?}");
    // One after the other, none earlier than its deadline.
    let earliest = timeout * u32::try_from(user.counts.sent).unwrap();
    assert!(
        wall >= earliest,
        "{wall:?} for {} timeouts",
        user.counts.sent
    );
    assert!(
        wall < earliest + ms(500),
        "{wall:?} for {} timeouts",
        user.counts.sent
    );
}

/// Calls the stuck service twice at once, each with a 20 ms timeout, and succeeds only if
/// both time out, not before their deadline.
struct Joiner {
    stuck: ServiceHandle<Stuck>,
}

impl Service for Joiner {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, (): ()) -> Result<(), ServiceError> {
        let started = ctx.now();
        let (first, second) = tokio::join!(
            ctx.call_with_timeout(&self.stuck, (), ms(20)),
            ctx.call_with_timeout(&self.stuck, (), ms(20)),
        );
        let waited = ctx.now() - started;
        match (first, second) {
            (Err(CallError::TimedOut { .. }), Err(CallError::TimedOut { .. }))
                if waited >= ms(20) =>
            {
                Ok(())
            }
            other => Err(ServiceError::new(format!(
                "expected two timeouts after 20 ms: {other:?} after {waited:?}"
            ))),
        }
    }
}

/// A handler's calls: the first is timed by its worker's call timer, the second (made while
/// the first is pending) by the clock's timer queue. Both time out at their deadline.
#[test]
fn real_time_concurrent_calls_from_a_handler_both_time_out() {
    let mut sim = Simulation::builder()
        .clock(ClockKind::Real)
        .duration(ms(100))
        .build()
        .unwrap();
    let stuck = sim
        .add_service("stuck", Stuck, Capacity::workers(1))
        .unwrap();
    let joiner = sim
        .add_service("joiner", Joiner { stuck }, Capacity::workers(1))
        .unwrap();
    sim.add_workload(
        "user",
        &joiner,
        Workload::closed(1, Distribution::ZERO),
        |_| (),
    )
    .unwrap();
    let (report, _) = run_within(sim, Duration::from_secs(10));
    let user = &report.workloads["user"];
    assert!(user.counts.sent >= 2, "{user:?}");
    assert_eq!(user.counts.completed, user.counts.sent, "{user:?}");
    // Every request waited for both timeouts (the handler checks), which ran side by side.
    assert_eq!(report.services["joiner"].counts.failed, 0);
    assert!(user.latency_ms.max < 20.0 + 200.0, "{:?}", user.latency_ms);
}

/// Waits on tokio's timer, which the real clock's runtime has.
struct TokioSleeper;

impl Service for TokioSleeper {
    type Request = ();
    type Response = ();
    type State = ();
    fn init_state(&self) {}
    async fn handle(&self, _: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        tokio::time::sleep(ms(2)).await;
        Ok(())
    }
}

/// On the real clock a tokio timer waits wall time, which is the real clock's time too: the
/// run works (the same model fails on the virtual clock, see `limits.rs`).
#[test]
fn real_time_a_tokio_sleep_in_a_handler_waits_wall_time() {
    let mut sim = Simulation::builder()
        .clock(ClockKind::Real)
        .duration(ms(50))
        .build()
        .unwrap();
    let sleeper = sim
        .add_service("sleeper", TokioSleeper, Capacity::workers(4))
        .unwrap();
    sim.add_workload("load", &sleeper, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    let (report, _) = run_within(sim, Duration::from_secs(30));
    let load = &report.workloads["load"];
    assert_eq!(load.counts.completed, 5);
    assert!(load.latency_ms.p50 >= 2.0, "{:?}", load.latency_ms);
}
