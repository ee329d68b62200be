//! Example: how a simulation's cost grows with the number of services.
//!
//! Shows: a gateway in front of `N` backends, each request calling one backend chosen at
//! random, with a configured link and a timeout policy from the gateway to every backend (N
//! links and N policies, linear in N) and the default latency everywhere else. The traffic
//! is the same whatever N is -- 2,000 requests a second, four hops each -- so what changes
//! with N is only what the simulation holds per service.
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

use std::time::{Duration, Instant};

use microsim::{
    CallPolicy, Capacity, Context, Distribution, Service, ServiceError, ServiceHandle, Simulation,
    Workload,
};

/// A backend: one worker, a millisecond of work.
struct Backend;

impl Service for Backend {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work_for(Duration::from_millis(1)).await;
        Ok(())
    }
}

/// The gateway: calls one backend, chosen uniformly at random.
struct Gateway {
    backends: Vec<ServiceHandle<Backend>>,
    /// How many of the backends it calls: the first `active`.
    active: usize,
}

impl Service for Gateway {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        let pick = (ctx.random_u64() % self.active as u64) as usize;
        ctx.call(&self.backends[pick], ()).await?;
        Ok(())
    }
}

/// Requests per second of simulated time, whatever the number of services.
const RATE: f64 = 2_000.0;
/// Messages per request: client to gateway, gateway to backend, and both responses.
const HOPS_PER_REQUEST: u64 = 4;

fn simulation(
    services: usize,
    active: usize,
    duration: Duration,
) -> Result<Simulation, Box<dyn std::error::Error>> {
    let mut sim = Simulation::builder()
        .seed(7)
        .duration(duration)
        .default_latency(Distribution::constant(Duration::from_micros(200)))
        .build()?;
    let mut backends = Vec::with_capacity(services);
    for index in 0..services {
        let name = format!("backend-{index}");
        backends.push(sim.add_service(&name, Backend, Capacity::workers(1))?);
        sim.add_link(
            "gateway",
            &name,
            Distribution::exponential(Duration::from_micros(500)),
        )?;
        sim.add_policy(
            "gateway",
            &name,
            CallPolicy::new().timeout(Duration::from_secs(1)),
        )?;
    }
    let gateway = sim.add_service(
        "gateway",
        Gateway { backends, active },
        Capacity::workers(64),
    )?;
    sim.add_workload("clients", &gateway, Workload::poisson(RATE), |_| ())?;
    Ok(sim)
}

/// Runs the model for `duration`; returns the wall time (building included) and the hops.
fn measure(
    services: usize,
    active: usize,
    duration: Duration,
) -> Result<(f64, u64), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let report = simulation(services, active, duration)?.run()?;
    let wall = started.elapsed().as_secs_f64();
    let completed = report.workloads["clients"].counts.completed;
    assert_eq!(
        completed, report.workloads["clients"].counts.sent,
        "every request completes"
    );
    Ok((wall, completed * HOPS_PER_REQUEST))
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
    if let Some(seconds) = args.get(1) {
        let (wall, hops) = measure(services, active, Duration::from_secs_f64(seconds.parse()?))?;
        println!("services {services}  active {active}  hops {hops}  wall {wall:.3} s");
        return Ok(());
    }
    // Long enough for every backend called to be called in both runs (ten requests each on
    // average in the shorter), so that the two differ only in traffic, not in services
    // touched.
    let duration = Duration::from_secs_f64((active as f64 * 10.0 / RATE).max(5.0));
    let (short, short_hops) = measure(services, active, duration)?;
    let (long, long_hops) = measure(services, active, 2 * duration)?;
    let per_hop = (long - short) / (long_hops - short_hops) as f64;
    let setup = (2.0 * short - long).max(0.0);
    println!(
        "services {services}  active {active}  setup {setup:.3} s  per hop {:.0} ns  runs {short:.3} s / {long:.3} s  peak memory {}",
        per_hop * 1e9,
        peak_memory_mib().map_or_else(|| "unknown".to_string(), |mib| format!("{mib:.0} MiB")),
    );
    Ok(())
}
