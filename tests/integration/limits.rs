//! Bounds and progress: every value has a bound the engine checks with a clear message, and
//! a run that cannot go on says why instead of hanging or ending at the wrong time.

use std::time::Duration;

use microsim::policy::{Backoff, CallPolicy, Jitter, Retry};
use microsim::{
    BuildError, Capacity, Context, Distribution, Fault, Service, ServiceError, Simulation,
    SimulationError, Topic, TopicHandle, Workload,
};

use crate::support::{Caller, Notifier, Worker, ms};

const YEAR: Duration = Duration::from_secs(365 * 24 * 3_600);

fn reason(error: &BuildError) -> String {
    error.reason().to_string()
}

#[test]
fn durations_past_the_clocks_range_are_refused_by_name() {
    let long = YEAR * 600;
    let error = Simulation::builder().duration(long).build().unwrap_err();
    assert_eq!(error.field().unwrap().to_string(), "duration");
    assert_eq!(
        reason(&error),
        "duration must be at most 876000h (100 years: the clock counts 584 years, and a run adds \
         durations together), got 18921600000s"
    );
    let error = Simulation::builder()
        .call_timeout(long)
        .build()
        .unwrap_err();
    assert_eq!(error.field().unwrap().to_string(), "call_timeout");
    // Exactly the bound is allowed.
    assert!(
        Simulation::builder()
            .duration(microsim::MAX_DURATION)
            .build()
            .is_ok()
    );

    let mut sim = Simulation::builder().build().unwrap();
    let error = sim
        .add_fault(Fault::slow("api", 2.0).at(YEAR * 200))
        .unwrap_err();
    assert_eq!(error.field().unwrap().to_string(), "at");
    let error = sim
        .add_fault(Fault::slow("api", 2.0).at(ms(1)).lasting(YEAR * 200))
        .unwrap_err();
    assert_eq!(error.field().unwrap().to_string(), "lasting");

    let error = Simulation::builder()
        .default_latency(Distribution::uniform(ms(1), YEAR * 101))
        .build()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("uniform max must be at most 876000h"),
        "{error}"
    );
}

#[test]
fn a_slowdown_factor_has_a_bound_instead_of_a_panic_on_every_request() {
    let mut sim = Simulation::builder().build().unwrap();
    // 3.7e22 used to pass and then panic in every slowed request.
    let error = sim.add_fault(Fault::slow("api", 3.7e22)).unwrap_err();
    assert_eq!(
        reason(&error),
        "factor must be at most 1e6 (a million times slower), got 37000000000000000000000"
    );
    assert!(sim.add_fault(Fault::slow("api", 1e6)).is_ok());
}

#[test]
fn counts_that_would_loop_for_ever_have_bounds() {
    let policy = CallPolicy::new().retry(Retry::attempts(1_000_000_000));
    let mut sim = Simulation::builder().build().unwrap();
    let error = sim.add_policy("client", "api", policy).unwrap_err();
    assert_eq!(
        reason(&error),
        "max_attempts must be at most 100 (more than any client retries; each attempt is a \
         message), got 1000000000"
    );
    let error = sim
        .add_topic::<()>("orders", Topic::at_least_once(ms(100), 1_000_000_000))
        .unwrap_err();
    assert_eq!(
        reason(&error),
        "max_deliveries must be at most 1000 (the most a queue such as SQS allows before \
         dead-lettering), got 1000000000"
    );
}

/// Works for a fixed time, far longer than the clock can count when slowed down.
struct Long(Duration);

impl Service for Long {
    type Request = ();
    type Response = ();
    type State = ();
    fn init_state(&self) {}
    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work_for(self.0).await;
        Ok(())
    }
}

#[test]
fn a_wait_past_the_clocks_range_stops_the_run_with_an_error() {
    // 90 years of work, slowed ten times: 900 years, past the clock's 584.
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .call_timeout(microsim::MAX_DURATION)
        .build()
        .unwrap();
    let api = sim
        .add_service("api", Long(YEAR * 90), Capacity::workers(1))
        .unwrap();
    sim.add_workload("one", &api, Workload::closed(1, Distribution::ZERO), |_| ())
        .unwrap();
    sim.add_fault(Fault::slow("api", 10.0)).unwrap();
    match sim.run() {
        Err(SimulationError::BeyondClockRange { at, wait }) => {
            assert_eq!(at, Duration::ZERO);
            assert_eq!(wait, YEAR * 900);
        }
        other => panic!("expected BeyondClockRange, got {other:?}"),
    }
}

#[test]
fn a_closed_loop_that_takes_no_time_stops_with_an_error_naming_the_service() {
    let mut sim = Simulation::builder()
        .max_events_per_instant(100_000)
        .build()
        .unwrap();
    let api = sim
        .add_service(
            "api",
            Worker::constant(Duration::ZERO),
            Capacity::workers(1),
        )
        .unwrap();
    sim.add_workload(
        "users",
        &api,
        Workload::closed(1, Distribution::ZERO),
        |_| (),
    )
    .unwrap();
    let error = sim.run().unwrap_err();
    match &error {
        SimulationError::NoProgress { at, events, busy } => {
            assert_eq!(*at, Duration::ZERO);
            assert_eq!(*events, 100_000);
            // The loop's user, caught between requests: the service holds none.
            assert_eq!(busy, &["closed workload users (no think time)".to_string()]);
        }
        other => panic!("expected NoProgress, got {other:?}"),
    }
    assert!(
        error
            .to_string()
            .starts_with("simulated time cannot advance: 100000 events began at 0ns"),
        "{error}"
    );
}

#[test]
fn retries_without_backoff_against_a_callee_that_always_fails_stop_with_an_error() {
    let mut sim = Simulation::builder()
        .max_events_per_instant(100_000)
        .build()
        .unwrap();
    let api = sim
        .add_service("api", Worker::constant(ms(1)), Capacity::workers(1))
        .unwrap();
    sim.add_workload(
        "users",
        &api,
        Workload::closed(1, Distribution::ZERO),
        |_| (),
    )
    .unwrap();
    // Every request fails before any work, from 10 ms on; each is retried at once.
    sim.add_fault(Fault::fail("api", 1.0).at(ms(10))).unwrap();
    let retry = Retry::attempts(3)
        .backoff(Backoff::constant(Duration::ZERO))
        .jitter(Jitter::None);
    sim.add_policy("client", "api", CallPolicy::new().retry(retry))
        .unwrap();
    match sim.run() {
        Err(SimulationError::NoProgress { at, .. }) => assert_eq!(at, ms(10)),
        other => panic!("expected NoProgress, got {other:?}"),
    }
}

#[test]
fn much_work_at_one_instant_is_not_mistaken_for_a_loop() {
    // 20,000 users all start at 0 and each takes 1 ms: tens of thousands of events at each
    // instant, hundreds of thousands in the run. The limit is per instant, so one below the
    // run's total still lets it run.
    let mut sim = Simulation::builder()
        .duration(ms(5))
        .max_events_per_instant(200_000)
        .build()
        .unwrap();
    let api = sim
        .add_service("api", Worker::constant(ms(1)), Capacity::workers(20_000))
        .unwrap();
    sim.add_workload(
        "users",
        &api,
        Workload::closed(20_000, Distribution::ZERO),
        |_| (),
    )
    .unwrap();
    let report = sim.run().unwrap();
    // Each user sends a request every 1 ms for 5 ms.
    assert_eq!(report.workloads["users"].counts.completed, 20_000 * 5);
}

/// Publishes each request to `topic`.
struct Publisher {
    topic: TopicHandle<u64>,
}

impl Service for Publisher {
    type Request = u64;
    type Response = ();
    type State = ();
    fn init_state(&self) {}
    async fn handle(&self, ctx: &Context<Self>, event: u64) -> Result<(), ServiceError> {
        ctx.publish(&self.topic, event).await?;
        Ok(())
    }
}

/// Runs `sim`, which must fail because `service` used a handle to `target` that another
/// simulation made.
fn expect_foreign_handle(sim: Simulation, service: &str, target: &str) {
    let expected = format!(
        "service `{service}` holds a handle to `{target}` from another simulation; handles work \
         only in the simulation that made them"
    );
    match sim.run() {
        Err(error) => {
            assert!(
                matches!(&error, SimulationError::ForeignHandle { service: s, target: t }
                    if s == service && t == target),
                "{error:?}"
            );
            assert_eq!(error.to_string(), expected);
        }
        Ok(report) => panic!("expected the run to fail, got a report:\n{report}"),
    }
}

#[test]
fn a_service_calling_a_handle_from_another_simulation_fails_the_run() {
    let mut other = Simulation::builder().build().unwrap();
    let db = other
        .add_service("db", Worker::constant(ms(1)), Capacity::workers(1))
        .unwrap();
    let mut sim = Simulation::builder().build().unwrap();
    let caller = Caller {
        backend: db,
        work: ms(1),
    };
    let api = sim
        .add_service("api", caller, Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &api, Workload::constant_rate(10.0), |_| ())
        .unwrap();
    // Before, every call failed as "db is not running", counted among the failures and
    // nowhere explained.
    expect_foreign_handle(sim, "api", "db");
}

#[test]
fn a_service_sending_to_a_handle_of_a_finished_simulation_fails_the_run() {
    let mut other = Simulation::builder().build().unwrap();
    let db = other
        .add_service("db", Worker::constant(ms(1)), Capacity::workers(1))
        .unwrap();
    other.run().unwrap();
    let mut sim = Simulation::builder().build().unwrap();
    let api = sim
        .add_service("api", Notifier { to: db }, Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &api, Workload::constant_rate(10.0), |_| ())
        .unwrap();
    // Before, each message went to the finished simulation's service and vanished there.
    expect_foreign_handle(sim, "api", "db");
}

#[test]
fn a_service_publishing_to_a_topic_of_another_simulation_fails_the_run() {
    let mut other = Simulation::builder().build().unwrap();
    let orders = other
        .add_topic::<u64>("orders", Topic::at_most_once())
        .unwrap();
    let mut sim = Simulation::builder().build().unwrap();
    let shop = sim
        .add_service("shop", Publisher { topic: orders }, Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &shop, Workload::constant_rate(10.0), |_| 1)
        .unwrap();
    expect_foreign_handle(sim, "shop", "orders");
}

/// Waits on tokio's timer instead of the simulation's clock: with `tokio::time::sleep`, or
/// with `tokio::time::timeout` around a simulated wait.
struct TokioTimer {
    timeout: bool,
}

impl Service for TokioTimer {
    type Request = ();
    type Response = ();
    type State = ();
    fn init_state(&self) {}
    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        if self.timeout {
            let _ = tokio::time::timeout(ms(5), ctx.work_for(ms(1))).await;
        } else {
            tokio::time::sleep(ms(1)).await;
        }
        Ok(())
    }
}

#[test]
fn a_handler_using_tokios_timer_on_the_virtual_clock_fails_the_run_naming_the_service() {
    for timeout in [false, true] {
        let mut sim = Simulation::builder()
            .duration(Duration::from_secs(1))
            .build()
            .unwrap();
        let sleeper = sim
            .add_service("sleeper", TokioTimer { timeout }, Capacity::workers(1))
            .unwrap();
        sim.add_workload("load", &sleeper, Workload::constant_rate(10.0), |_| ())
            .unwrap();
        // Before, each request panicked with tokio's "timers are disabled" and was counted
        // as crashed; the report looked like a service that crashes.
        match sim.run() {
            Err(error) => {
                assert!(
                    matches!(&error, SimulationError::TokioTimer { service } if service == "sleeper"),
                    "{error:?}"
                );
                assert_eq!(
                    error.to_string(),
                    "service `sleeper` used tokio's timer (tokio::time::sleep, timeout or \
                     interval), which does not follow the simulated clock: wait with \
                     `ctx.work_for(..)` or `ctx.work(..)` instead, and give a call a timeout \
                     with `ctx.call_with_timeout(..)`"
                );
            }
            Ok(report) => panic!("expected the run to fail, got a report:\n{report}"),
        }
    }
}

/// A service that only holds `marker`, to show when its run lets it go.
struct Holds {
    marker: std::sync::Arc<()>,
}

impl Service for Holds {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, _: &Context<Self>, (): ()) -> Result<(), ServiceError> {
        let _ = &self.marker;
        Ok(())
    }
}

#[test]
fn handles_kept_after_a_run_do_not_keep_its_services() {
    let marker = std::sync::Arc::new(());
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .build()
        .unwrap();
    let service = sim
        .add_service(
            "service",
            Holds {
                marker: std::sync::Arc::clone(&marker),
            },
            Capacity::workers(1),
        )
        .unwrap();
    let topic: TopicHandle<()> = sim.add_topic("events", Topic::at_most_once()).unwrap();
    sim.subscribe(&topic, &service, |_| ()).unwrap();
    sim.add_workload("load", &service, Workload::constant_rate(10.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    assert_eq!(report.workloads["load"].counts.completed, 10);
    // The service's handle and the topic's (which holds the subscription) are still here;
    // the running service, its queue, statistics and the engine are not.
    assert_eq!(std::sync::Arc::strong_count(&marker), 1);
    drop((service, topic));
}
