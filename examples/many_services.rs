//! Example: how a simulation's cost grows with the number of services.
//!
//! Shows: a gateway in front of `N` backends, each request calling one backend chosen at
//! random, with a configured link and a timeout policy from the gateway to every backend (N
//! links and N policies, linear in N) and the default latency everywhere else. The traffic
//! is the same whatever N is -- 2,000 requests a second, four hops each -- so what changes
//! with N is only what the simulation holds per service. The model is in
//! `examples/common/many_services_model.rs`, shared with `benches/growth.rs`.
//!
//! It runs the model twice, for `D` and `2D` of simulated time, and prints:
//! - setup: the wall time a run spends before and after its traffic (`2 * wall(D) - wall(2D)`),
//! - per hop: the wall time of one message crossing a link, `(wall(2D) - wall(D))` over the
//!   extra hops,
//! - peak memory: the process's high-water resident set (Linux `VmHWM`) after both runs.
//!
//! ```text
//! cargo run --release --example many_services -- 10000
//! ```
//!
//! `--active K` makes the gateway call only the first K backends, the others existing idle:
//! what a service costs by merely being there.
//!
//! Given a number of seconds after N, it runs the model once for that long and prints the
//! hops, for counting instructions per hop under callgrind with two runs of different
//! lengths.

#[path = "common/many_services_model.rs"]
mod model;

use std::time::Duration;

use model::{Model, RATE};

/// Runs the model for `duration`; returns the wall time (building included) and the hops.
fn measure(model: &Model, duration: Duration) -> Result<(f64, u64), Box<dyn std::error::Error>> {
    let (run, _report) = model.run(duration)?;
    Ok((run.build_seconds + run.run_seconds, run.hops))
}

/// The process's peak resident memory in MiB, where Linux tells it.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `--active K`: the gateway calls only the first K backends; the rest exist, idle.
    let active = match args.iter().position(|arg| arg == "--active") {
        Some(at) => {
            let value = args.get(at + 1).ok_or("--active needs a number")?.parse()?;
            args.drain(at..at + 2);
            Some(value)
        }
        None => None,
    };
    let services: usize = match args.first() {
        Some(arg) => arg.parse()?,
        None => 1_000,
    };
    let active = active.unwrap_or(services).clamp(1, services);
    let model = Model {
        services,
        active,
        rate: RATE,
    };
    if let Some(seconds) = args.get(1) {
        let (wall, hops) = measure(&model, Duration::from_secs_f64(seconds.parse()?))?;
        println!("services {services}  active {active}  hops {hops}  wall {wall:.3} s");
        return Ok(());
    }
    // Long enough for every backend called to be called in both runs (ten requests each on
    // average in the shorter), so that the two differ only in traffic, not in services
    // touched.
    let duration = Duration::from_secs_f64((active as f64 * 10.0 / RATE).max(5.0));
    let (short, short_hops) = measure(&model, duration)?;
    let (long, long_hops) = measure(&model, 2 * duration)?;
    let per_hop = (long - short) / (long_hops - short_hops) as f64;
    let setup = (2.0 * short - long).max(0.0);
    println!(
        "services {services}  active {active}  setup {setup:.3} s  per hop {:.0} ns  runs {short:.3} s / {long:.3} s  peak memory {}",
        per_hop * 1e9,
        peak_memory_mib().map_or_else(|| "unknown".to_string(), |mib| format!("{mib:.0} MiB")),
    );
    Ok(())
}
