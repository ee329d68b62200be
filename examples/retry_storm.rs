//! Example: a retry storm, and the retry budget that stops it.
//!
//! Shows: a service at 90% load slowed down three times for 2 s (a GC storm, a noisy
//! neighbour). Clients time out after 100 ms and retry up to twice. Without a budget the
//! retries triple the load, the queue never drains and the system stays down long after the
//! slowdown ended -- a metastable failure. A retry budget of 5% brings it back. (At 90% load a
//! budget must keep `load * (1 + ratio)` below capacity: Linkerd's default of 20% would not.)
//!
//! Each configuration runs twice with the same seed: once up to 10 s (before the slowdown,
//! measured from 2 s) and once up to 80 s (measured from 50 s, long after it ended). The runs
//! share their first 10 s exactly, since the seed decides everything.
//!
//! ```text
//! cargo run --release --example retry_storm
//! ```

use std::time::Duration;

use microsim::policy::{Backoff, CallPolicy, Retry, RetryBudget};
use microsim::{
    Capacity, Context, Distribution, Fault, Report, Service, ServiceError, Simulation, Workload,
};

/// One worker, exponential work with a mean of 1 ms: 1000 requests/s at most.
struct Api;

impl Service for Api {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work(&Distribution::exponential(Duration::from_millis(1)))
            .await;
        Ok(())
    }
}

fn run(
    policy: &CallPolicy,
    until: u64,
    measure_from: u64,
) -> Result<Report, Box<dyn std::error::Error>> {
    let mut sim = Simulation::builder()
        .seed(7)
        .duration(Duration::from_secs(until))
        .warmup(Duration::from_secs(measure_from))
        .build()?;
    let api = sim.add_service("api", Api, Capacity::workers(1))?;
    sim.add_workload("clients", &api, Workload::poisson(900.0), |_| ())?;
    sim.add_policy("client", "api", policy.clone())?;
    sim.add_fault(
        Fault::slow("api", 3.0)
            .at(Duration::from_secs(10))
            .lasting(Duration::from_secs(2)),
    )?;
    Ok(sim.run()?)
}

/// One phase's figures: attempts per second reaching the api, failed share, p99 of the
/// requests that completed.
fn phase(report: &Report) -> String {
    let load = &report.workloads["clients"];
    let policy = &report.policies["client -> api"];
    let attempts = policy.counts.attempts as f64 / report.measured_seconds;
    let failed = 100.0 * load.counts.failed as f64 / load.counts.sent as f64;
    let p99 = if load.counts.completed == 0 {
        "     -".to_string()
    } else {
        format!("{:6.1}", load.latency_ms.p99)
    };
    format!("{attempts:9.0}  {failed:7.1}%  {p99}")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ms = Duration::from_millis;
    let timeout = CallPolicy::new().timeout(ms(100));
    let retry = Retry::attempts(3).backoff(Backoff::exponential(ms(10), ms(100)));
    let configurations = [
        ("timeouts, no retries", timeout.clone()),
        (
            "3 attempts, no budget",
            timeout.clone().retry(retry.clone()),
        ),
        (
            "3 attempts, budget 5%",
            timeout.retry(retry.budget(RetryBudget::ratio(0.05).min_per_second(1.0))),
        ),
    ];
    println!("api at 90% load, 3x slower from 10 s to 12 s; clients time out after 100 ms\n");
    let phases = format!(
        "{:<24}{:^31}   {:^31}",
        "", "before (2-10 s)", "after (50-80 s)"
    );
    println!("{}", phases.trim_end());
    println!(
        "{:<24}{:>9}  {:>8}  {:>6}   {:>9}  {:>8}  {:>6}",
        "configuration", "attempts/s", "failed", "p99 ms", "attempts/s", "failed", "p99 ms"
    );
    for (name, policy) in &configurations {
        let before = run(policy, 10, 2)?;
        let after = run(policy, 80, 50)?;
        println!("{name:<24}{}   {}", phase(&before), phase(&after));
    }
    println!("\np99 ms covers completed requests (\"-\": none completed).");
    Ok(())
}
