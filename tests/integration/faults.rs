//! Faults on a schedule.

use std::time::Duration;

use microsim::{BuildError, Capacity, Distribution, Fault, Simulation, SimulationError, Workload};

use crate::support::{Worker, ms, us};

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// One request every 10 ms to a 1 ms service: no queueing, so every figure is exact.
fn paced(fault: Fault) -> microsim::Report {
    let mut sim = Simulation::builder().duration(secs(6)).build().unwrap();
    let api = sim
        .add_service("api", Worker::constant(ms(1)), Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &api, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    sim.add_fault(fault).unwrap();
    sim.run().unwrap()
}

#[test]
fn a_slowdown_applies_exactly_within_its_window() {
    let report = paced(Fault::slow("api", 5.0).at(secs(2)).lasting(secs(2)));
    let latency = &report.workloads["load"].latency_ms;
    // Requests at 2.00 s up to 3.99 s -- 200 of 600 -- take 5 ms; the rest 1 ms.
    // (percentiles are HdrHistogram's, exact to 0.1%; min, max and mean are exact)
    assert!((latency.p50 - 1.0).abs() < 0.001, "{latency:?}");
    assert_eq!(latency.max, 5.0);
    assert!(
        (latency.mean - (400.0 * 1.0 + 200.0 * 5.0) / 600.0).abs() < 1e-5,
        "{latency:?}"
    );
    let timeline = &report.faults;
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].fault, "slow api x5");
    assert_eq!(
        (timeline[0].start_seconds, timeline[0].end_seconds),
        (2.0, Some(4.0))
    );
}

#[test]
fn link_latency_is_added_each_way_within_its_window() {
    let report = paced(
        Fault::latency("client", "api", us(500))
            .at(secs(1))
            .lasting(secs(1)),
    );
    let latency = &report.workloads["load"].latency_ms;
    assert!((latency.p50 - 1.0).abs() < 0.001, "{latency:?}");
    // 1 ms of work plus 500 us there and 500 us back.
    assert_eq!(latency.max, 2.0);
    assert!(
        (latency.mean - (500.0 * 1.0 + 100.0 * 2.0) / 600.0).abs() < 1e-5,
        "{latency:?}"
    );
}

#[test]
fn an_abort_fault_fails_its_fraction_of_calls_without_reaching_the_service() {
    let report = paced(Fault::fail("api", 0.25));
    let load = &report.workloads["load"];
    let failed = report.faults[0].failed_calls;
    assert_eq!(load.errors, failed);
    assert_eq!(load.completed + failed, 600);
    assert_eq!(report.services["api"].handled, load.completed);
    // 600 draws at p = 0.25: 150 expected, standard deviation 10.6.
    assert!((110..=190).contains(&failed), "{failed}");
}

#[test]
fn one_slow_replica_only_slows_its_share() {
    let mut sim = Simulation::builder().duration(secs(1)).build().unwrap();
    let api = sim
        .add_replicated_service(
            "api",
            Worker::constant(ms(1)),
            Capacity::workers(1),
            2,
            microsim::Balancer::RoundRobin,
        )
        .unwrap();
    sim.add_workload("load", &api, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    sim.add_fault(Fault::slow("api", 3.0).replica(1)).unwrap();
    let report = sim.run().unwrap();
    let replicas = &report.services["api"].replicas;
    assert_eq!(replicas[0].latency_ms.max, 1.0);
    assert_eq!(replicas[1].latency_ms.max, 3.0);
    assert_eq!(report.workloads["load"].latency_ms.mean, 2.0);
}

#[test]
fn bad_faults_are_errors() {
    let mut sim = Simulation::builder().duration(secs(1)).build().unwrap();
    let error = sim.add_fault(Fault::fail("api", 1.5)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "fault fail api p=1.5: the probability must be within [0, 1], got 1.5"
    );
    let error = sim.add_fault(Fault::slow("api", -2.0)).unwrap_err();
    assert!(matches!(error, BuildError::InvalidFault { .. }), "{error}");
    let error = sim
        .add_fault(Fault::slow("api", 2.0).lasting(Duration::ZERO))
        .unwrap_err();
    assert!(
        error.to_string().ends_with("it lasts no time at all"),
        "{error}"
    );
    sim.add_service("payment", Worker::constant(ms(1)), Capacity::default())
        .unwrap();
    sim.add_fault(Fault::slow("paymnet", 2.0)).unwrap();
    let error = sim.run().unwrap_err();
    assert!(matches!(
        error,
        SimulationError::Build(BuildError::InvalidFault { .. })
    ));
    assert_eq!(
        error.to_string(),
        "fault slow paymnet x2: unknown service \"paymnet\"; did you mean \"payment\"?"
    );
    let _ = Distribution::ZERO;
}
