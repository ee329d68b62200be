//! Every request ends: completed, or failed with a cause. Nothing hangs or vanishes.

use std::time::Duration;

use microsim::{
    CallError, Capacity, Context, Service, ServiceError, ServiceHandle, Simulation, Workload,
};

use crate::support::{Notifier, Stuck, Worker, ms};

#[test]
fn a_response_that_never_comes_fails_with_a_timeout_at_exactly_the_timeout() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .call_timeout(ms(100))
        .build()
        .unwrap();
    // Each request would take an hour.
    let slow = sim
        .add_service(
            "slow",
            Worker::constant(Duration::from_secs(3600)),
            Capacity::workers(4),
        )
        .unwrap();
    sim.add_workload("load", &slow, Workload::constant_rate(10.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let load = &report.workloads["load"];
    assert_eq!(load.counts.sent, 10);
    assert_eq!(load.counts.timed_out, 10);
    assert_eq!(load.counts.failed, 10);
    assert_eq!(load.counts.completed, 0);
    // The last request, sent at 0.9 s, timed out at 1.0 s: the run drained then, without
    // waiting for the hour-long handlers.
    assert!(
        (report.drained_seconds - 1.0).abs() < 1e-9,
        "{}",
        report.drained_seconds
    );
}

/// Panics on every third request (counted in its state, which survives restarts).
struct Flaky;

impl Service for Flaky {
    type Request = ();
    type Response = ();
    type State = u64;

    fn init_state(&self) -> u64 {
        0
    }

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work_for(ms(1)).await;
        let n = ctx.with_state(|count| {
            *count += 1;
            *count
        });
        if n.is_multiple_of(3) {
            panic!("flaky handler fails request {n}");
        }
        Ok(())
    }
}

#[test]
fn a_panicking_handler_fails_its_request_and_the_worker_is_restarted() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(3))
        .build()
        .unwrap();
    let flaky = sim
        .add_service("flaky", Flaky, Capacity::workers(2))
        .unwrap();
    sim.add_workload("load", &flaky, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let load = &report.workloads["load"];
    let service = &report.services["flaky"];
    assert_eq!(load.counts.sent, 300);
    assert_eq!(load.counts.crashed, 100);
    assert_eq!(load.counts.completed, 200);
    assert_eq!(service.counts.panics, 100);
    assert_eq!(service.counts.handled, 200);
}

/// Calls `inner` and reports how the call failed.
struct Gateway {
    inner: ServiceHandle<Flaky>,
}

impl Service for Gateway {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        match ctx.call(&self.inner, ()).await {
            Err(CallError::Crashed { service }) => {
                assert_eq!(service, "flaky");
                Err(ServiceError::new("flaky crashed"))
            }
            other => Ok(other?),
        }
    }
}

#[test]
fn a_caller_sees_a_crash_as_a_distinct_error_and_can_report_it() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(3))
        .build()
        .unwrap();
    let inner = sim
        .add_service("flaky", Flaky, Capacity::workers(1))
        .unwrap();
    let gateway = sim
        .add_service("gateway", Gateway { inner }, Capacity::workers(8))
        .unwrap();
    sim.add_workload("load", &gateway, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let load = &report.workloads["load"];
    assert_eq!(load.counts.errors, 100);
    assert_eq!(load.counts.completed, 200);
    assert_eq!(report.services["gateway"].counts.failed, 100);
}

#[test]
fn a_handler_stuck_forever_still_ends_its_callers_with_timeouts() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .call_timeout(ms(250))
        .build()
        .unwrap();
    let stuck = sim
        .add_service("stuck", Stuck, Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &stuck, Workload::constant_rate(4.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    assert_eq!(report.workloads["load"].counts.timed_out, 4);
}

/// Calls `inner` with a generous 10 s timeout of its own.
struct Patient {
    inner: ServiceHandle<Worker>,
}

impl Service for Patient {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work_for(ms(20)).await;
        ctx.call_with_timeout(&self.inner, (), Duration::from_secs(10))
            .await?;
        Ok(())
    }
}

#[test]
fn a_downstream_call_never_waits_past_its_callers_deadline() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .build()
        .unwrap();
    let slow = sim
        .add_service(
            "slow",
            Worker::constant(Duration::from_secs(5)),
            Capacity::workers(100),
        )
        .unwrap();
    let patient = sim
        .add_service("patient", Patient { inner: slow }, Capacity::workers(100))
        .unwrap();
    // The client gives up after 100 ms: the patient service's 10 s call to `slow` is cut to
    // the 80 ms left after its own 20 ms of work.
    sim.add_workload(
        "load",
        &patient,
        Workload::constant_rate(10.0).with_timeout(ms(100)),
        |_| (),
    )
    .unwrap();
    let report = sim.run().unwrap();
    assert_eq!(report.workloads["load"].counts.timed_out, 10);
    let patient = &report.services["patient"];
    assert_eq!(patient.counts.failed, 10);
    // Each handler ended when the deadline passed, 100 ms after the request was sent.
    assert_eq!(patient.processing_ms.max, 100.0);
    assert_eq!(patient.processing_ms.p50, 100.0);
}

#[test]
fn work_that_can_never_end_is_reported_as_a_stall_instead_of_hanging() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .build()
        .unwrap();
    let stuck = sim
        .add_service("stuck", Stuck, Capacity::workers(1))
        .unwrap();
    let forwarder = sim
        .add_service("forwarder", Notifier { to: stuck }, Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &forwarder, Workload::constant_rate(4.0), |_| ())
        .unwrap();
    // Every call is answered, but the one-way messages wait forever on a future from outside
    // the simulation (nobody waits for them, so no timeout ends them): once the last request
    // has ended, nothing can happen again.
    match sim.run() {
        Err(microsim::SimulationError::Stalled { at, in_flight }) => {
            // The last request was sent at 0.75 s and answered at once. In flight: the four
            // messages (one being handled, three queued), and the four requests, which cannot
            // settle before the work they caused has ended.
            assert_eq!(at, ms(750));
            assert_eq!(in_flight, 8);
        }
        other => panic!("expected a stall, got {other:?}"),
    }
}

/// A permanent failure (a declined card) is an answer: retries stop at it, whether the
/// service is written in Rust or in a file, while an ordinary failure is retried. With 100
/// requests failing every time and 3 attempts allowed: 100 attempts against 300.
#[test]
fn retries_stop_at_a_permanent_failure_and_not_at_an_ordinary_one() {
    use microsim::Script;
    use microsim::policy::{CallPolicy, Retry};
    use microsim::scenario::Scenario;

    for permanent in [false, true] {
        let mut sim = Simulation::builder()
            .duration(Duration::from_secs(1))
            .build()
            .unwrap();
        let step = |script: Script| {
            if permanent {
                script.fail_permanently(1.0, "card declined")
            } else {
                script.fail(1.0, "card declined")
            }
        };
        let payment = sim
            .add_service("payment", step(Script::new()), Capacity::workers(4))
            .unwrap();
        let checkout = sim
            .add_service(
                "checkout",
                Script::new().call(&payment),
                Capacity::workers(4),
            )
            .unwrap();
        sim.add_policy(
            "checkout",
            "payment",
            CallPolicy::new().retry(Retry::attempts(3)),
        )
        .unwrap();
        sim.add_workload("orders", &checkout, Workload::constant_rate(100.0), |_| ())
            .unwrap();
        let rust = sim.run().unwrap();

        let file = format!(
            "[simulation]\nduration = \"1s\"\n\n[services.checkout]\nworkers = 4\n\
             steps = [{{ call = \"payment\" }}]\n\n[services.payment]\nworkers = 4\n\
             steps = [{{ fail = 1.0, error = \"card declined\", permanent = {permanent} }}]\n\n\
             [[policies]]\nfrom = \"checkout\"\nto = \"payment\"\nretry = {{ max_attempts = 3 }}\n\n\
             [workloads.orders]\ntarget = \"checkout\"\nopen = {{ rate = 100.0, arrivals = \"constant\" }}\n"
        );
        let toml = Scenario::parse(&file, "store.toml")
            .unwrap()
            .to_simulation(None)
            .unwrap()
            .run()
            .unwrap();
        for report in [&rust, &toml] {
            let orders = &report.workloads["orders"];
            assert_eq!(orders.counts.sent, 100);
            assert_eq!(orders.counts.failed, 100);
            assert_eq!(
                orders.errors_by_cause.get("payment: card declined"),
                Some(&100)
            );
            let attempts = report.services["payment"].counts.handled;
            assert_eq!(
                attempts,
                if permanent { 100 } else { 300 },
                "permanent {permanent}"
            );
        }
    }
}
