//! One seed decides everything: same seed, same report, in this process and in another.

use std::process::Command;
use std::time::Duration;

use microsim::policy::{CallPolicy, CircuitBreaker, Hedge, Retry, RetryBudget};
use microsim::{Balancer, Capacity, Distribution, Fault, Simulation, Workload};

use crate::support::{Caller, Worker, ms, us};

/// A small network with random processing, random links and random arrivals -- and every
/// source of randomness and concurrency the engine has: replicas behind a random balancer,
/// retries with jitter and a budget, a breaker, hedging, and loss, crash and slow faults.
fn report_json(seed: u64) -> String {
    let mut sim = Simulation::builder()
        .seed(seed)
        .duration(Duration::from_secs(20))
        .warmup(Duration::from_secs(1))
        .default_latency(Distribution::uniform(us(50), us(150)))
        .build()
        .unwrap();
    let database = sim
        .add_replicated_service(
            "database",
            Worker::exponential(us(400)),
            Capacity::workers(1).with_queue(8),
            2,
            Balancer::PowerOfTwoChoices,
        )
        .unwrap();
    sim.add_policy(
        "api",
        "database",
        CallPolicy::new()
            .timeout(ms(20))
            .retry(Retry::attempts(3).budget(RetryBudget::ratio(0.2)))
            .circuit_breaker(CircuitBreaker::default().window_calls(50).minimum_calls(20))
            .hedge(Hedge::at_percentile(95.0)),
    )
    .unwrap();
    sim.add_fault(
        Fault::crash("database")
            .replica(1)
            .at(ms(5000))
            .lasting(ms(2000)),
    )
    .unwrap();
    sim.add_fault(Fault::loss("client", "api", 0.01)).unwrap();
    sim.add_fault(
        Fault::slow("database", 2.0)
            .at(ms(10_000))
            .lasting(ms(2000)),
    )
    .unwrap();
    let api = sim
        .add_service(
            "api",
            Caller {
                backend: database,
                work: us(100),
            },
            Capacity::workers(4),
        )
        .unwrap();
    sim.add_link("client", "api", Distribution::lognormal(ms(2), ms(1)))
        .unwrap();
    sim.add_workload("open", &api, Workload::poisson(2000.0), |_| ())
        .unwrap();
    sim.add_workload(
        "closed",
        &api,
        Workload::closed(20, Distribution::exponential(ms(5))),
        |_| (),
    )
    .unwrap();
    sim.run().unwrap().to_json()
}

#[test]
fn same_seed_gives_an_identical_report() {
    let first = report_json(42);
    let second = report_json(42);
    assert_eq!(first, second);
    // The run exercised what it is meant to: rejections, retries, hedges, crashes, losses.
    let report = microsim::Report::from_json(&first).unwrap();
    let policy = &report.policies["api -> database"];
    assert!(report.workloads["open"].counts.failed > 0, "{first}");
    assert!(
        policy.counts.retries > 0 && policy.counts.hedges_sent > 0,
        "{policy:?}"
    );
    assert!(report.faults[0].counts.crashed_requests + report.workloads["open"].counts.crashed > 0);
    assert!(report.faults[1].counts.lost_messages > 0);
}

#[test]
fn another_seed_gives_another_report() {
    assert_ne!(report_json(42), report_json(43));
}

const PRINT: &str = "MICROSIM_TEST_PRINT_REPORT";

/// Prints the report when run as the child of the cross-process test.
#[test]
fn print_report_for_cross_process_check() {
    if std::env::var_os(PRINT).is_some() {
        println!("<<<{}>>>", report_json(42));
    }
}

#[test]
fn same_seed_gives_an_identical_report_in_another_process() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "determinism::print_report_for_cross_process_check",
            "--nocapture",
        ])
        .env(PRINT, "1")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let start = stdout.find("<<<").expect("child printed a report") + 3;
    let end = stdout.find(">>>").unwrap();
    assert_eq!(&stdout[start..end], report_json(42));
}
