//! Accuracy against queueing theory (../shared/notes/queueing-oracles.md).
//!
//! These runs are long: the README runs the tests in release mode.

use std::time::Duration;

use microsim::{Capacity, Simulation, Workload};

use crate::support::{Worker, ms, relative_error};

/// M/M/1 at rho = 0.8: service mean 1 ms, Poisson arrivals at 800/s.
/// W = 1 / (mu - lambda) = 5 ms; the sojourn time is exponential with rate 200/s, so
/// p99 = ln(100) / 200 = 23.03 ms.
///
/// 1,250 s of simulated traffic = 1,000,000 requests after a 50 s warm-up. The sample mean
/// scatters by about 0.9% (one standard deviation) at this size, so 3% is 3.3 sigma.
#[test]
fn mm1_mean_and_p99_match_queueing_theory() {
    let warmup = Duration::from_secs(50);
    let mut sim = Simulation::builder()
        .seed(2026)
        .duration(warmup + Duration::from_secs(1250))
        .warmup(warmup)
        .build()
        .unwrap();
    let server = sim
        .add_service("server", Worker::exponential(ms(1)), Capacity::workers(1))
        .unwrap();
    sim.add_workload("arrivals", &server, Workload::poisson(800.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let arrivals = &report.workloads["arrivals"];
    assert!(
        arrivals.counts.completed >= 980_000,
        "too few requests for the stated tolerance: {}",
        arrivals.counts.completed
    );
    assert_eq!(arrivals.counts.failed, 0);
    let latency = &arrivals.latency_ms;
    let mean_error = relative_error(latency.mean, 5.0);
    let p99_error = relative_error(latency.p99, 23.026);
    assert!(
        mean_error < 0.03,
        "mean {} ms is {:.2}% from 5 ms",
        latency.mean,
        mean_error * 100.0
    );
    assert!(
        p99_error < 0.05,
        "p99 {} ms is {:.2}% from 23.03 ms",
        latency.p99,
        p99_error * 100.0
    );
    // Utilisation = lambda / mu = 0.8 (its scatter is far smaller than the mean's).
    let utilization = report.services["server"]
        .utilization
        .expect("a fixed number of workers");
    assert!(
        relative_error(utilization, 0.8) < 0.01,
        "utilization {utilization}"
    );
    eprintln!("{report}");
}
