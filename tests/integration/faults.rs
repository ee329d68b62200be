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
    let failed = report.faults[0].counts.failed_calls;
    assert_eq!(load.counts.errors, failed);
    assert_eq!(load.counts.completed + failed, 600);
    assert_eq!(report.services["api"].counts.handled, load.counts.completed);
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
        "fault fail api p=1.5: probability must be within [0, 1] (0.1 = one in ten), got 1.5"
    );
    let error = sim.add_fault(Fault::slow("api", -2.0)).unwrap_err();
    assert!(matches!(error, BuildError::InvalidFault { .. }), "{error}");
    let error = sim
        .add_fault(Fault::slow("api", 2.0).lasting(Duration::ZERO))
        .unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("lasting must be greater than 0s"),
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

#[test]
fn a_crashed_replica_fails_its_work_and_the_balancer_skips_it_until_it_restarts() {
    // A call every 10 ms, in turn to two replicas: replica 0 gets one at 0, 20, 40, ... ms and
    // works 15 ms on each. It crashes at 2.005 s, in the middle of the request of 2.000 s, and
    // restarts at 3.005 s. That one request fails; the 50 that were its turn meanwhile go to
    // replica 1.
    let mut sim = Simulation::builder().duration(secs(5)).build().unwrap();
    let api = sim
        .add_replicated_service(
            "api",
            Worker::constant(ms(15)),
            Capacity::workers(1),
            2,
            microsim::Balancer::RoundRobin,
        )
        .unwrap();
    sim.add_workload("load", &api, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    sim.add_fault(Fault::crash("api").replica(0).at(ms(2005)).lasting(secs(1)))
        .unwrap();
    let report = sim.run().unwrap();
    let load = &report.workloads["load"];
    assert_eq!(load.counts.sent, 500);
    assert_eq!(
        (load.counts.crashed, load.counts.failed),
        (1, 1),
        "{load:?}"
    );
    assert_eq!(report.faults[0].counts.crashed_requests, 1);
    assert_eq!(report.faults[0].fault, "crash api replica 0");
    let replicas = &report.services["api"].replicas;
    // Replica 0 finished 199 of its 200 (the crash took the last); replica 1 its 250 and 50.
    assert_eq!(
        (replicas[0].counts.handled, replicas[1].counts.handled),
        (199, 300)
    );
    assert_eq!(report.services["api"].counts.crashed, 1);
    // Replica 1 took two calls per 20 ms of 15 ms each: they queued behind one another.
    assert!(load.latency_ms.max > 15.0);
}

#[test]
fn a_crashed_service_refuses_requests_until_it_restarts() {
    // One replica, a call every 10 ms of 5 ms each. Down from 2.002 s to 3.002 s: the request
    // of 2.000 s is lost in progress, the 100 of 2.01 ... 3.00 s are refused.
    let mut sim = Simulation::builder().duration(secs(5)).build().unwrap();
    let api = sim
        .add_service("api", Worker::constant(ms(5)), Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &api, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    sim.add_fault(Fault::crash("api").at(ms(2002)).lasting(secs(1)))
        .unwrap();
    let report = sim.run().unwrap();
    let load = &report.workloads["load"];
    assert_eq!(load.counts.crashed, 101, "{load:?}");
    assert_eq!(
        load.counts.failed, load.counts.crashed,
        "every failure is the crash's"
    );
    assert_eq!(load.counts.completed, 399);
    assert_eq!(report.faults[0].counts.crashed_requests, 1);
    assert_eq!(report.faults[0].end_seconds, Some(3.002));
    // Nothing waited for the crashed work: the slowest completed call is a normal one.
    assert_eq!(load.latency_ms.max, 5.0);
}

#[test]
fn a_partition_loses_every_message_between_its_sides_for_its_window() {
    let mut sim = Simulation::builder()
        .duration(secs(4))
        .call_timeout(ms(100))
        .build()
        .unwrap();
    let backend = sim
        .add_service("backend", Worker::constant(ms(1)), Capacity::workers(1))
        .unwrap();
    let frontend = sim
        .add_service(
            "frontend",
            crate::support::Caller {
                backend,
                work: Duration::ZERO,
            },
            Capacity::workers(16),
        )
        .unwrap();
    // The client waits longer than the frontend does for the backend.
    let load = Workload::constant_rate(100.0).with_timeout(secs(1));
    sim.add_workload("load", &frontend, load, |_| ()).unwrap();
    sim.add_fault(
        Fault::partition("frontend", "backend")
            .at(secs(2))
            .lasting(secs(1)),
    )
    .unwrap();
    let report = sim.run().unwrap();
    let load = &report.workloads["load"];
    // The 100 calls sent in [2 s, 3 s) time out at the frontend, which fails its request.
    assert_eq!(load.counts.errors, 100, "{load:?}");
    assert_eq!(load.counts.completed, 300);
    assert_eq!(report.faults[0].counts.lost_messages, 100);
    assert_eq!(report.services["backend"].counts.handled, 300);
}

#[test]
fn a_lossy_link_loses_its_fraction_of_messages_each_way() {
    let mut sim = Simulation::builder()
        .duration(secs(6))
        .call_timeout(ms(50))
        .build()
        .unwrap();
    let api = sim
        .add_service("api", Worker::constant(ms(1)), Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &api, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    sim.add_fault(Fault::loss("client", "api", 0.25)).unwrap();
    let report = sim.run().unwrap();
    let load = &report.workloads["load"];
    let lost = report.faults[0].counts.lost_messages;
    // Each failed call lost exactly one message: its request, or its response.
    assert_eq!(load.counts.timed_out, lost);
    assert_eq!(load.counts.failed, lost);
    // A call fails with p = 1 - 0.75^2 = 0.4375: 262.5 of 600 expected, sd 12.2.
    assert!((214..=311).contains(&lost), "{lost}");
    // Lost responses were handled: the api saw every request that was not lost on the way.
    let lost_requests = 600 - report.services["api"].counts.handled;
    assert!(
        lost_requests < lost,
        "{lost_requests} of {lost} lost on the way"
    );
}

#[test]
fn faults_on_unknown_replicas_or_non_services_are_errors() {
    let mut sim = Simulation::builder().duration(secs(1)).build().unwrap();
    sim.add_replicated_service(
        "api",
        Worker::constant(ms(1)),
        Capacity::default(),
        2,
        microsim::Balancer::RoundRobin,
    )
    .unwrap();
    sim.add_fault(Fault::crash("api").replica(2)).unwrap();
    let error = sim.run().unwrap_err();
    assert_eq!(
        error.to_string(),
        "fault crash api replica 2: api has 2 replicas (numbered from 0), so there is no replica 2"
    );
    let mut sim = Simulation::builder().duration(secs(1)).build().unwrap();
    sim.add_service("api", Worker::constant(ms(1)), Capacity::default())
        .unwrap();
    sim.add_fault(Fault::crash("client")).unwrap();
    assert_eq!(
        sim.run().unwrap_err().to_string(),
        "fault crash client: \"client\" is not a service"
    );
    let error = Simulation::builder()
        .build()
        .unwrap()
        .add_fault(Fault::partition("a", "a"))
        .unwrap_err();
    assert!(error.to_string().contains("two different sides"), "{error}");
    let error = Simulation::builder()
        .build()
        .unwrap()
        .add_fault(Fault::loss("a", "b", -0.1))
        .unwrap_err();
    assert!(error.to_string().contains("within [0, 1]"), "{error}");
}

/// On its 100th request, slows itself down 4x for 1 s -- and tries a fault on a replica it
/// does not have, keeping the error.
struct SelfSabotage {
    error: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl microsim::Service for SelfSabotage {
    type Request = ();
    type Response = ();
    type State = u64;

    fn init_state(&self) -> u64 {
        0
    }

    async fn handle(
        &self,
        ctx: &microsim::Context<Self>,
        _: (),
    ) -> Result<(), microsim::ServiceError> {
        let count = ctx.with_state(|count| {
            *count += 1;
            *count
        });
        if count == 100 {
            ctx.inject_fault(Fault::slow("api", 4.0).lasting(secs(1)))
                .unwrap();
            let refused = ctx.inject_fault(Fault::crash("api").replica(3));
            *self.error.lock().unwrap() = refused.err().map(|error| error.to_string());
        }
        ctx.work_for(ms(1)).await;
        Ok(())
    }
}

#[test]
fn a_fault_injected_by_a_handler_acts_from_then_on() {
    let error = std::sync::Arc::default();
    let mut sim = Simulation::builder().duration(secs(3)).build().unwrap();
    let api = sim
        .add_service(
            "api",
            SelfSabotage {
                error: std::sync::Arc::clone(&error),
            },
            Capacity::workers(1),
        )
        .unwrap();
    sim.add_workload("load", &api, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    // Requests 100 ... 199 (0.99 s up to 1.98 s) take 4 ms, the other 200 take 1 ms.
    let latency = &report.workloads["load"].latency_ms;
    assert_eq!(latency.max, 4.0);
    assert!((latency.mean - (200.0 * 1.0 + 100.0 * 4.0) / 300.0).abs() < 1e-5);
    assert_eq!(report.faults[0].fault, "slow api x4");
    assert_eq!(report.faults[0].start_seconds, 0.99);
    assert_eq!(report.faults[0].end_seconds, Some(1.99));
    assert_eq!(
        report.faults.len(),
        1,
        "the refused fault is not in the timeline"
    );
    assert_eq!(
        error.lock().unwrap().as_deref(),
        Some(
            "fault crash api replica 3: api has 1 replica (numbered from 0), so there is no replica 3"
        )
    );
}

#[test]
fn overlapping_or_adjacent_crash_windows_keep_the_replica_down_until_the_last_ends() {
    // A call every 10 ms of 1 ms each; down from 0.505 s to 2.005 s however the windows
    // split that span: the 150 calls of 0.51 ... 2.00 s are refused, the rest complete.
    for windows in [
        [(505, 500), (1005, 1000)], // back to back
        [(505, 500), (705, 1300)],  // overlapping
    ] {
        let mut sim = Simulation::builder().duration(secs(3)).build().unwrap();
        let api = sim
            .add_service("api", Worker::constant(ms(1)), Capacity::workers(1))
            .unwrap();
        sim.add_workload("load", &api, Workload::constant_rate(100.0), |_| ())
            .unwrap();
        for (at, lasting) in windows {
            sim.add_fault(Fault::crash("api").at(ms(at)).lasting(ms(lasting)))
                .unwrap();
        }
        let load = sim.run().unwrap().workloads["load"].clone();
        assert_eq!(
            (load.counts.crashed, load.counts.completed),
            (150, 150),
            "{windows:?}"
        );
    }
}
