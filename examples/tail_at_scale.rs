//! Example: hedged requests cut the tail (Dean and Barroso, *The Tail at Scale*, 2013).
//!
//! Shows: a service whose requests usually take about 1 ms but hit a 50 ms hiccup 2% of the
//! time (a GC pause, a cold cache, a busy disk). The hiccups set its p99. Hedging -- sending a
//! second copy of a request that has waited longer than the p95, and taking the first answer
//! -- cuts the p99 by an order of magnitude for about 5% more requests.
//!
//! ```text
//! cargo run --release --example tail_at_scale
//! cargo run --release --example tail_at_scale -- --plots plots/tail_at_scale
//! ```
//!
//! The load is steady, so the table is enough: there is no story over time to tell. With
//! `--plots DIR` it also writes each configuration's plots (its latency CDF, with the tail
//! hedging cuts, and latency, throughput and busy workers over time) as SVG files into a
//! folder of its own under `DIR`, from [`microsim::report::plots::figure_files`].

#[path = "common/plots.rs"]
mod plots;

use std::time::Duration;

use microsim::policy::{CallPolicy, Hedge};
use microsim::rand::RngExt;
use microsim::{
    Capacity, Context, Distribution, Report, Service, ServiceError, Simulation, Workload,
};

/// About 1 ms of work, but 2% of requests stall for 50 ms.
struct Search;

impl Service for Search {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        if ctx.with_rng(|rng| rng.random_bool(0.02)) {
            ctx.work_for(Duration::from_millis(50)).await;
        } else {
            ctx.work(&Distribution::exponential(Duration::from_millis(1)))
                .await;
        }
        Ok(())
    }
}

fn run(policy: CallPolicy) -> Result<Report, Box<dyn std::error::Error>> {
    let mut sim = Simulation::builder()
        .seed(42)
        .duration(Duration::from_secs(120))
        .warmup(Duration::from_secs(5))
        .default_latency(Distribution::constant(Duration::from_micros(100)))
        .build()?;
    let search = sim.add_service("search", Search, Capacity::workers(64))?;
    sim.add_workload("queries", &search, Workload::poisson(500.0), |_| ())?;
    sim.add_policy("client", "search", policy)?;
    Ok(sim.run()?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let plots = plots::plots_dir("tail_at_scale")?;
    let configurations = [
        ("no hedging", "no-hedging", CallPolicy::new()),
        (
            "hedge after 10 ms",
            "hedge-10ms",
            CallPolicy::new().hedge(Hedge::after(Duration::from_millis(10))),
        ),
        (
            "hedge after the p95",
            "hedge-p95",
            CallPolicy::new().hedge(Hedge::at_percentile(95.0)),
        ),
    ];
    println!("search: ~1 ms per query, 2% of queries stall 50 ms; 500 queries/s\n");
    println!(
        "{:<22}{:>9}{:>9}{:>10}{:>12}{:>12}",
        "configuration", "p50 ms", "p99 ms", "p99.9 ms", "extra load", "hedges won"
    );
    let mut baseline = None;
    let mut written = Vec::new();
    for (name, folder, policy) in configurations {
        let report = run(policy)?;
        if let Some(dir) = &plots {
            let dir = dir.join(folder);
            plots::write_plots(&report, &dir)?;
            written.push(dir.display().to_string());
        }
        let latency = &report.workloads["queries"].latency_ms;
        let handled = report.services["search"].counts.handled as f64;
        let base = *baseline.get_or_insert(handled);
        let policy = &report.policies["client -> search"];
        println!(
            "{name:<22}{:>9.3}{:>9.3}{:>10.3}{:>11.1}%{:>12}",
            latency.p50,
            latency.p99,
            latency.p999,
            100.0 * (handled / base - 1.0),
            format!("{}/{}", policy.counts.hedges_won, policy.counts.hedges_sent),
        );
    }
    println!("\nextra load: requests the service handled beyond the unhedged run's.");
    if written.is_empty() {
        println!(
            "\nplots: cargo run --release --example tail_at_scale -- --plots plots/tail_at_scale"
        );
    } else {
        println!("\nplots (SVG) written to {}", written.join(", "));
    }
    Ok(())
}
