//! The real clock: durations really pass.

use std::time::{Duration, Instant};

use microsim::{Capacity, ClockKind, Simulation, Workload};

use crate::support::{Worker, us};

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
    assert_eq!(load.sent, 20);
    assert_eq!(load.completed, 20);
    // At least the 300 us of work; on a loaded machine a request can wait for the CPU, so
    // the upper bound is loose.
    assert!(load.latency_ms.p50 >= 0.3, "{:?}", load.latency_ms);
    assert!(load.latency_ms.max < 100.0, "{:?}", load.latency_ms);
    assert!(wall >= Duration::from_millis(190), "{wall:?}");
}
