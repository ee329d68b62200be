//! Workers, bounded queues and utilisation.

use std::time::Duration;

use microsim::{Capacity, Distribution, Simulation, Workload};

use crate::support::{Caller, Worker, ms, relative_error};

/// M/M/1/K with K = 5 in the system (1 worker + queue of 4), rho = 0.8:
/// P(K) = (1 - rho) rho^K / (1 - rho^(K+1)) = 0.08882 of arrivals are rejected.
/// 250 s at 800/s = 200,000 arrivals; the rejected fraction scatters by well under 2% here.
#[test]
fn a_full_queue_rejects_the_fraction_mm1k_predicts_and_counts_every_rejection() {
    let mut sim = Simulation::builder()
        .seed(11)
        .duration(Duration::from_secs(260))
        .warmup(Duration::from_secs(10))
        .build()
        .unwrap();
    let server = sim
        .add_service(
            "server",
            Worker::exponential(ms(1)),
            Capacity::workers(1).with_queue(4),
        )
        .unwrap();
    sim.add_workload("load", &server, Workload::poisson(800.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let load = &report.workloads["load"];
    let server = &report.services["server"];
    let rho: f64 = 0.8;
    let p_full = (1.0 - rho) * rho.powi(5) / (1.0 - rho.powi(6));
    let rejected_fraction = load.counts.rejected as f64 / load.counts.sent as f64;
    assert!(
        relative_error(rejected_fraction, p_full) < 0.05,
        "rejected {rejected_fraction:.5}, M/M/1/K predicts {p_full:.5}"
    );
    // Nothing vanishes: every request completed or failed, and each rejection is counted on
    // both sides.
    assert_eq!(load.counts.sent, load.counts.completed + load.counts.failed);
    assert_eq!(load.counts.failed, load.counts.rejected);
    assert_eq!(server.counts.rejected, load.counts.rejected);
    assert_eq!(server.counts.handled, load.counts.completed);
    // Never more than 5 in the system: the sojourn time's max is bounded by 5 services.
    assert!(server.queue_wait_ms.count > 0);
}

/// M/M/2 with lambda = 1500/s, mu = 1000/s: Erlang C = 0.6429, W = 2.2857 ms.
#[test]
fn two_workers_match_erlang_c() {
    let mut sim = Simulation::builder()
        .seed(5)
        .duration(Duration::from_secs(210))
        .warmup(Duration::from_secs(10))
        .build()
        .unwrap();
    let server = sim
        .add_service("server", Worker::exponential(ms(1)), Capacity::workers(2))
        .unwrap();
    sim.add_workload("load", &server, Workload::poisson(1500.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let latency = &report.workloads["load"].latency_ms;
    assert!(latency.count >= 290_000, "{}", latency.count);
    assert!(
        relative_error(latency.mean, 2.2857) < 0.03,
        "mean {} ms, Erlang C predicts 2.2857 ms",
        latency.mean
    );
    // U = X * S / c = 1500 * 1 ms / 2.
    let utilization = report.services["server"]
        .utilization
        .expect("a fixed number of workers");
    assert!(relative_error(utilization, 0.75) < 0.01, "{utilization}");
}

/// A worker stays busy while its handler waits on a downstream call, so the caller's
/// utilisation includes the callee's time. Constant times make every figure exact.
#[test]
fn a_worker_is_busy_until_its_response_is_sent() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(10))
        .build()
        .unwrap();
    let backend = sim
        .add_service("backend", Worker::constant(ms(1)), Capacity::workers(1))
        .unwrap();
    let frontend = Caller {
        backend,
        work: Duration::from_micros(500),
    };
    let frontend = sim
        .add_service("frontend", frontend, Capacity::workers(1))
        .unwrap();
    sim.add_link(
        "frontend",
        "backend",
        Distribution::constant(Duration::from_micros(250)),
    )
    .unwrap();
    // One request every 4 ms: no queueing.
    sim.add_workload("load", &frontend, Workload::constant_rate(250.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let load = &report.workloads["load"];
    assert_eq!(load.counts.completed, 2500);
    // 0.5 ms work + 0.25 link + 1 ms backend + 0.25 link = 2 ms, every time.
    assert_eq!(load.latency_ms.p50, 2.0);
    assert_eq!(load.latency_ms.max, 2.0);
    assert_eq!(report.services["frontend"].processing_ms.max, 2.0);
    assert_eq!(report.services["frontend"].queue_wait_ms.max, 0.0);
    // Busy 2 ms out of every 4 ms, and the backend 1 ms out of 4.
    assert!(
        (report.services["frontend"]
            .utilization
            .expect("a fixed number of workers")
            - 0.5)
            .abs()
            < 1e-9
    );
    assert!(
        (report.services["backend"]
            .utilization
            .expect("a fixed number of workers")
            - 0.25)
            .abs()
            < 1e-9
    );
}

/// A closed system obeys the response-time law R = N / X - Z.
#[test]
fn closed_loop_obeys_the_response_time_law() {
    let mut sim = Simulation::builder()
        .seed(3)
        .duration(Duration::from_secs(110))
        .warmup(Duration::from_secs(10))
        .build()
        .unwrap();
    let server = sim
        .add_service("server", Worker::exponential(ms(1)), Capacity::workers(1))
        .unwrap();
    let think = Duration::from_millis(10);
    sim.add_workload(
        "users",
        &server,
        Workload::closed(10, Distribution::exponential(think)),
        |_| (),
    )
    .unwrap();
    let report = sim.run().unwrap();
    let users = &report.workloads["users"];
    let x = users.throughput_per_s;
    let r = users.latency_ms.mean / 1000.0;
    let law = 10.0 / x - think.as_secs_f64();
    assert!(relative_error(r, law) < 0.02, "R = {r}, N/X - Z = {law}");
    assert!(users.counts.completed > 50_000);
}

/// M/M/∞ with lambda = 1000/s and a mean service time of 10 ms: no request ever waits, the
/// latency is the service time (mean 10 ms), and the number in service is Poisson with mean
/// a = lambda / mu = 10. Over 100 s the time-average of that number has a standard deviation
/// of sqrt(2 a / (mu T)) = 0.045 (0.45%), the mean latency over 100,000 requests one of
/// 0.32%: the tolerances are six of them or more.
#[test]
fn an_unlimited_service_is_an_infinite_server() {
    let mut sim = Simulation::builder()
        .seed(17)
        .duration(Duration::from_secs(110))
        .warmup(Duration::from_secs(10))
        .build()
        .unwrap();
    let edge = sim
        .add_service("edge", Worker::exponential(ms(10)), Capacity::unlimited())
        .unwrap();
    sim.add_workload("load", &edge, Workload::poisson(1000.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let edge = &report.services["edge"];
    assert_eq!((edge.workers, edge.utilization), (None, None));
    assert_eq!(edge.queue_wait_ms.max, 0.0, "nobody waits");
    assert!(
        relative_error(edge.busy_workers, 10.0) < 0.03,
        "mean number in service {:.3}, M/M/inf predicts 10",
        edge.busy_workers
    );
    assert!(
        relative_error(edge.latency_ms.mean, 10.0) < 0.02,
        "mean latency {:.3} ms, the service time's mean is 10 ms",
        edge.latency_ms.mean
    );
    // Workers are reused: the peak of a Poisson(10) process over 100 s is a few dozen, not
    // one per request.
    assert!(
        (10..60).contains(&edge.workers_started),
        "{} workers started",
        edge.workers_started
    );
}

/// Workers start when a request finds every started one busy: requests that never overlap
/// need one worker, however many the service may have.
#[test]
fn workers_start_on_demand() {
    let mut sim = Simulation::builder()
        .seed(1)
        .duration(Duration::from_secs(10))
        .build()
        .unwrap();
    let server = sim
        .add_service(
            "server",
            Worker::constant(ms(1)),
            Capacity::workers(Capacity::MAX_WORKERS),
        )
        .unwrap();
    sim.add_workload("load", &server, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let server = &report.services["server"];
    assert_eq!(server.counts.handled, 1000);
    assert_eq!(server.workers_started, 1);
    assert_eq!(server.workers, Some(Capacity::MAX_WORKERS));
    // 1 ms busy in every 10 ms, over a million workers.
    assert!(
        (server.busy_workers - 0.1).abs() < 1e-9,
        "{}",
        server.busy_workers
    );
}
