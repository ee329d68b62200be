//! Example: a retry storm, and the retry budget that stops it.
//!
//! Shows: a service at 90% load slowed down three times for 2 s (a GC storm, a noisy
//! neighbour). Clients time out after 100 ms and retry up to twice. Without a budget the
//! retries triple the load, the queue never drains and the system stays down long after the
//! slowdown ended -- a metastable failure. A retry budget of 5% brings it back. (At 90% load a
//! budget must keep `load * (1 + ratio)` below capacity: Linkerd's default of 20% would not.)
//!
//! Each configuration runs once, for 80 s, with a timeline of 1 s windows
//! ([`Report::timeline`]). The table reads three phases off the windows: before the slowdown
//! (2-10 s), during it (10-12 s) and long after it (50-80 s).
//!
//! ```text
//! cargo run --release --example retry_storm
//! cargo run --release --example retry_storm -- --plots plots/retry_storm
//! ```
//!
//! With `--plots DIR` it also writes each configuration's plots (latency and throughput over
//! time with the slowdown shaded, busy workers, queue depth) as SVG files into a folder of
//! its own under `DIR`, from [`microsim::report::plots::figure_files`].

#[path = "common/plots.rs"]
mod plots;

use std::ops::Range;
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

/// The length of a timeline window, seconds: the phases below start and end on window edges.
const WINDOW_SECONDS: u64 = 1;

/// The phases of the table, in whole seconds of simulated time.
const PHASES: [(&str, Range<u64>); 3] = [("before", 2..10), ("during", 10..12), ("after", 50..80)];

fn run(policy: &CallPolicy) -> Result<Report, Box<dyn std::error::Error>> {
    let s = Duration::from_secs;
    let mut sim = Simulation::builder()
        .seed(7)
        .duration(s(80))
        .warmup(s(2))
        .timeline_window(s(WINDOW_SECONDS))
        .build()?;
    let api = sim.add_service("api", Api, Capacity::workers(1))?;
    sim.add_workload("clients", &api, Workload::poisson(900.0), |_| ())?;
    sim.add_policy("client", "api", policy.clone())?;
    sim.add_fault(Fault::slow("api", 3.0).at(s(10)).lasting(s(2)))?;
    Ok(sim.run()?)
}

/// One phase's row, from the timeline's windows over `seconds`: requests sent and completed
/// per second, the share of those sent that failed, the worst of the windows' p99 of the
/// requests that completed, and the api's mean queue.
fn phase(report: &Report, seconds: &Range<u64>) -> String {
    let timeline = &report.timeline;
    let windows =
        (seconds.start / WINDOW_SECONDS) as usize..(seconds.end / WINDOW_SECONDS) as usize;
    let length = (seconds.end - seconds.start) as f64;
    let sum = |values: &[u64]| values[windows.clone()].iter().sum::<u64>();
    let load = &timeline.workloads["clients"];
    let sent = sum(&load.sent);
    let completed = sum(&load.completed) as f64 / length;
    let failed = 100.0 * sum(&load.failed) as f64 / sent as f64;
    let p99 = load.p99_ms[windows.clone()]
        .iter()
        .flatten()
        .copied()
        .reduce(f64::max)
        .map_or_else(|| "-".to_string(), |p99| format!("{p99:.0}"));
    // Windows of one length: the mean of their time-weighted means is the phase's.
    let queue = &timeline.services["api"].queue_mean[windows.clone()];
    let queue = queue.iter().sum::<f64>() / queue.len() as f64;
    format!(
        "{:>7.0}  {completed:>11.0}  {failed:>6.1}%  {p99:>12}  {queue:>9.0}",
        sent as f64 / length
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let plots = plots::plots_dir("retry_storm")?;
    let ms = Duration::from_millis;
    let timeout = CallPolicy::new().timeout(ms(100));
    let retry = Retry::attempts(3).backoff(Backoff::exponential(ms(10), ms(100)));
    let configurations = [
        ("timeouts, no retries", "no-retries", timeout.clone()),
        (
            "3 attempts, no budget",
            "no-budget",
            timeout.clone().retry(retry.clone()),
        ),
        (
            "3 attempts, budget 5%",
            "budget",
            timeout.retry(retry.budget(RetryBudget::ratio(0.05).min_per_second(1.0))),
        ),
    ];
    println!("api at 90% load, 3x slower from 10 s to 12 s; clients time out after 100 ms");
    println!(
        "one 80 s run per configuration; its phases read off the report's timeline (1 s windows)\n"
    );
    println!(
        "{:<20}{:>7}  {:>11}  {:>7}  {:>12}  {:>9}",
        "phase", "sent/s", "completed/s", "failed", "worst p99 ms", "api queue"
    );
    let mut written = Vec::new();
    for (name, folder, policy) in &configurations {
        let report = run(policy)?;
        // Counted over the measured window: from the warm-up's end (2 s) to the drain.
        let attempts = report.policies["client -> api"].counts.attempts as f64;
        let requests = report.workloads["clients"].counts.sent as f64;
        println!(
            "{name}: {:.2} attempts per request over the run",
            attempts / requests
        );
        for (title, seconds) in &PHASES {
            let title = format!("{title} ({}-{} s)", seconds.start, seconds.end);
            println!("  {title:<18}{}", phase(&report, seconds));
        }
        if let Some(dir) = &plots {
            let dir = dir.join(folder);
            plots::write_plots(&report, &dir)?;
            written.push(dir);
        }
    }
    println!(
        "\nPer phase, of the requests sent in it (by intended send time): sent/s and completed/s, the\n\
         share that failed, and the worst p99 -- the highest of the phase's 1 s windows' p99 over the\n\
         requests that completed (\"-\": none completed), not the p99 of the whole phase.\n\
         api queue: requests waiting at the api, time-weighted mean over the phase.\n\
         attempts per request: the client's attempts over its requests from 2 s to the end of the run\n\
         (the policy counts the whole run, not windows)."
    );
    if written.is_empty() {
        println!("\nplots: cargo run --release --example retry_storm -- --plots plots/retry_storm");
    } else {
        let folders: Vec<String> = written
            .iter()
            .map(|dir| dir.display().to_string())
            .collect();
        println!("\nplots (SVG) written to {}", folders.join(", "));
    }
    Ok(())
}
