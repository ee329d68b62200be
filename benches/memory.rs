//! What a simulation holds in memory: heap bytes per request in flight and per idle service.
//!
//! Every heap byte is counted by the global allocator ([`cap::Cap`] around the system
//! allocator: an atomic add per allocation and a subtract per free). A run's bytes are the
//! live bytes at a moment less those live just before its simulation was built. Each figure
//! is the difference of two runs that differ only in the thing counted, over the difference
//! in its number, so whatever a run holds regardless (the runtime, the engine, one started
//! worker) cancels:
//!
//! - **per request in flight, queued**: a service with one worker and an unbounded queue; an
//!   open workload sends `K` requests in the first simulated second (constant rate, `K` a
//!   second, zero link latency). The first request's handler works for 2 s, so at 2 s every
//!   request sent is in flight: one in the handler, `K - 1` in the queue. There the handler
//!   reads the live bytes. Figure: `(bytes(K2) - bytes(K1)) / (K2 - K1)`.
//! - **per request in flight, on a link**: the same with no work and a constant 10 s of link
//!   latency; the first request's handler reads the live bytes when it arrives, at 10 s, with
//!   the `K - 1` others still crossing the link.
//! - **per idle service**: `N` services added and never called, and one probe service whose
//!   only request (at 0.5 s) reads the live bytes in its handler, when every service has been
//!   started (its supervisor actor, admission state and statistics; workers start on demand,
//!   so an idle service has none). Figure: `(bytes(N2) - bytes(N1)) / (N2 - N1)`.
//!
//! That is the `running` column, compared with the target. Beside it, the same difference
//! for the bytes held once the simulation is built, before it runs (`built`: what
//! `add_service` and `add_workload` keep), and for those still live after `run` has returned
//! and its report has been dropped (`after run`: what a run leaves behind; anything but zero
//! is memory a process that runs many simulations, a sweep, never gets back).
//!
//! The live bytes are read inside the run, at the instant the state counted exists, rather
//! than taken as the run's peak: after the reading the queue drains, and the latency
//! histograms (16 KB and more each, made past a recorder's 256th value) appear while it is
//! still nearly full; and the idle run peaks while its report is made. A peak would count
//! those as if they were per request or per service. Each kind of run is done once before it
//! is measured, so that one-time allocations (statics, thread-locals) fall outside both
//! measured runs.
//!
//! Containers that double (the queue's `VecDeque`, the timer heap) hold spare capacity, which
//! counts: with `K2 = 2 K1` a doubling container's share of the figure is its slot size times
//! its capacity over its length at `K1` (for `K1 = 10,000`: 16,384 / 10,000, 1.64 slots a
//! request).
//!
//! Targets: at most 512 bytes per request in flight and at most 10 KB (10,000 bytes) per idle
//! service. The simulated runs are deterministic (a fixed seed, the virtual clock), and so
//! are the bytes counted. With `CI` set in the environment, the runs are smaller.
//!
//! ```text
//! cargo bench --bench memory
//! CI=1 cargo bench --bench memory
//! ```

use std::alloc::System;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cap::Cap;
use microsim::{Capacity, Context, Distribution, Service, ServiceError, Simulation, Workload};

/// Counts every heap byte the process holds.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// The seed of every run.
const SEED: u64 = 7;
/// At most this many heap bytes per request in flight.
const TARGET_PER_REQUEST: f64 = 512.0;
/// At most this many heap bytes per idle service.
const TARGET_PER_SERVICE: f64 = 10_000.0;

/// Shorter runs on CI.
fn on_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// The live heap bytes, read once by the first request's handler.
#[derive(Default)]
struct Reading {
    taken: AtomicBool,
    bytes: OnceLock<usize>,
}

/// A service whose first request works for `hold`, then reads the live heap bytes; every
/// other request is answered at once.
struct Probe {
    hold: Duration,
    reading: Arc<Reading>,
}

impl Service for Probe {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, (): ()) -> Result<(), ServiceError> {
        if !self.reading.taken.swap(true, Ordering::Relaxed) {
            if !self.hold.is_zero() {
                ctx.work_for(self.hold).await;
            }
            let _ = self.reading.bytes.set(ALLOCATOR.allocated());
        }
        Ok(())
    }
}

/// A service that is never called.
struct Idle;

impl Service for Idle {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, _: &Context<Self>, (): ()) -> Result<(), ServiceError> {
        Ok(())
    }
}

/// Where the requests in flight are when the heap is read.
#[derive(Clone, Copy)]
enum InFlight {
    /// Waiting in a service's queue behind its one busy worker.
    Queued,
    /// Crossing the link from the client to the service.
    OnLink,
}

/// The heap bytes a run held at three moments, over those live before it was built.
#[derive(Clone, Copy)]
struct Held {
    /// Built, before it runs: what the simulation's settings and entries take.
    built: i64,
    /// Read by the first request's handler, while it runs.
    running: i64,
    /// After `run` has returned and its report is dropped: what the run left behind.
    after: i64,
}

/// The live heap bytes now, less `before`.
fn since(before: usize) -> i64 {
    ALLOCATOR.allocated() as i64 - before as i64
}

/// The heap bytes a run holds with `requests` requests in flight, all of them at `at` when
/// the heap is read.
fn in_flight(requests: usize, at: InFlight) -> Held {
    let before = ALLOCATOR.allocated();
    let (latency, hold) = match at {
        InFlight::Queued => (Distribution::ZERO, Duration::from_secs(2)),
        InFlight::OnLink => (
            Distribution::constant(Duration::from_secs(10)),
            Duration::ZERO,
        ),
    };
    let mut sim = Simulation::builder()
        .seed(SEED)
        .duration(Duration::from_secs(1))
        .default_latency(latency)
        // No request times out before the heap is read.
        .call_timeout(Duration::from_secs(60))
        .build()
        .expect("valid settings");
    let reading = Arc::new(Reading::default());
    let probe = Probe {
        hold,
        reading: Arc::clone(&reading),
    };
    let service = sim
        .add_service("service", probe, Capacity::workers(1))
        .expect("a valid service");
    // Request k at k / requests seconds: `requests` of them in the first second.
    sim.add_workload(
        "clients",
        &service,
        Workload::constant_rate(requests as f64),
        |_| (),
    )
    .expect("a valid workload");
    let built = since(before);
    let report = sim.run().expect("a virtual-time run");
    let counts = report.workloads["clients"].counts;
    assert_eq!(counts.sent, requests as u64, "{counts:?}");
    assert_eq!(counts.completed, requests as u64, "{counts:?}");
    assert_eq!(report.services["service"].workers_started, 1);
    drop(report);
    let running = *reading
        .bytes
        .get()
        .expect("the first request read the heap");
    Held {
        built,
        running: running as i64 - before as i64,
        after: since(before),
    }
}

/// The heap bytes a simulation of `idle` idle services and one probe holds; the probe's one
/// request reads the heap while it runs.
fn idle_services(idle: usize) -> Held {
    let before = ALLOCATOR.allocated();
    let mut sim = Simulation::builder()
        .seed(SEED)
        .duration(Duration::from_secs(1))
        .build()
        .expect("valid settings");
    for index in 0..idle {
        sim.add_service(&format!("idle-{index}"), Idle, Capacity::workers(1))
            .expect("a valid service");
    }
    let reading = Arc::new(Reading::default());
    let probe = Probe {
        hold: Duration::ZERO,
        reading: Arc::clone(&reading),
    };
    let probe = sim
        .add_service("probe", probe, Capacity::workers(1))
        .expect("a valid service");
    sim.add_workload(
        "probe",
        &probe,
        Workload::replay([Duration::from_millis(500)]),
        |_| (),
    )
    .expect("a valid workload");
    let built = since(before);
    let report = sim.run().expect("a virtual-time run");
    assert_eq!(report.workloads["probe"].counts.completed, 1);
    let idle_started: usize = report
        .services
        .iter()
        .filter(|(name, _)| name.starts_with("idle-"))
        .map(|(_, service)| service.workers_started)
        .sum();
    assert_eq!(idle_started, 0, "an idle service started a worker");
    drop(report);
    let running = *reading.bytes.get().expect("the probe read the heap");
    Held {
        built,
        running: running as i64 - before as i64,
        after: since(before),
    }
}

/// The bytes per thing counted between two runs of `na` and `nb` things.
#[derive(Clone, Copy)]
struct PerThing {
    built: f64,
    running: f64,
    after: f64,
}

impl PerThing {
    fn of([a, b]: [Held; 2], [na, nb]: [usize; 2]) -> Self {
        let slope = |a: i64, b: i64| (b - a) as f64 / (nb as f64 - na as f64);
        PerThing {
            built: slope(a.built, b.built),
            running: slope(a.running, b.running),
            after: slope(a.after, b.after),
        }
    }
}

/// One line of the table: the figure while running against `target`, and beside it the
/// figure before the run and after it.
fn line(figure: &str, per: PerThing, target: f64) {
    let verdict = if per.running <= target {
        "met"
    } else {
        "NOT MET"
    };
    println!(
        "{figure:<34} {:>9} {:>11}  {verdict:<8} {:>9} {:>9}",
        format!("{:.0} B", per.running),
        format!("<= {target:.0} B"),
        format!("{:.0} B", per.built),
        format!("{:.0} B", per.after),
    );
}

/// The raw readings of two runs, for the record.
fn raw(what: &str, [na, nb]: [usize; 2], [a, b]: [Held; 2]) {
    println!(
        "  {what:<28} {na:>6}: {:>11} B   {nb:>6}: {:>11} B",
        a.running, b.running
    );
}

fn main() {
    let requests = if on_ci() {
        [2_000, 4_000]
    } else {
        [10_000, 20_000]
    };
    let services = if on_ci() { [250, 500] } else { [1_000, 2_000] };

    // Once each, unmeasured: one-time allocations happen here.
    in_flight(requests[0] / 10, InFlight::Queued);
    in_flight(requests[0] / 10, InFlight::OnLink);
    idle_services(services[0] / 10);

    let queued = requests.map(|k| in_flight(k, InFlight::Queued));
    let on_link = requests.map(|k| in_flight(k, InFlight::OnLink));
    let idle = services.map(idle_services);

    println!("heap bytes held while running (live bytes counted by the global allocator)");
    raw("requests in flight, queued", requests, queued);
    raw("requests in flight, on a link", requests, on_link);
    raw("idle services", services, idle);
    println!();
    println!(
        "{:<34} {:>9} {:>11}  {:<8} {:>9} {:>9}",
        "figure", "running", "target", "result", "built", "after run"
    );
    line(
        "per request in flight, queued",
        PerThing::of(queued, requests),
        TARGET_PER_REQUEST,
    );
    line(
        "per request in flight, on a link",
        PerThing::of(on_link, requests),
        TARGET_PER_REQUEST,
    );
    line(
        "per idle service",
        PerThing::of(idle, services),
        TARGET_PER_SERVICE,
    );
}
