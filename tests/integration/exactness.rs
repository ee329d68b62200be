//! Simulated time is exact below tokio's millisecond timer resolution.

use microsim::{Capacity, Distribution, Simulation, Workload};

use crate::support::{Worker, ms, us};

#[test]
fn zero_work_service_behind_a_250us_link_answers_in_exactly_500us() {
    let mut sim = Simulation::builder().duration(ms(1)).build().unwrap();
    let echo = sim
        .add_service("echo", Worker::constant(us(0)), Capacity::workers(1))
        .unwrap();
    sim.add_link("client", "echo", Distribution::constant(us(250)))
        .unwrap();
    // One request, at t = 0 (a constant-rate workload sends its first request at once).
    sim.add_workload("once", &echo, Workload::constant_rate(1.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let once = &report.workloads["once"];
    assert_eq!(once.counts.sent, 1);
    assert_eq!(once.counts.completed, 1);
    let latency = &once.latency_ms;
    assert_eq!(latency.count, 1);
    assert_eq!(latency.max, 0.5);
    assert_eq!(latency.mean, 0.5);
    assert_eq!(latency.p50, 0.5);
    assert_eq!(report.drained_seconds, 0.0005);
}
