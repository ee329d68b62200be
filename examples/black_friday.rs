//! Example: Black Friday at the online store -- the checkout load ramps up to three times
//! what the store can take, holds, and comes back down; once with bounded queues (load
//! shedding), once with unbounded ones.
//!
//! Shows:
//! - finding a store's capacity: the utilisation law (per service, `workers / (visits per
//!   order x mean time a worker is held)`, read from a report at light load) gives a bound
//!   and names the bottleneck; offering far more than that and counting what the store
//!   answers gives the capacity itself;
//! - a staged open-loop workload ([`Workload::poisson_stages`]): normal, ramp up, hold at
//!   three times the capacity, ramp down, normal again;
//! - **bounded queues**: past the queues' bounds, requests are rejected at once (shed); the
//!   ones let in wait a bounded time, and the store goes on taking orders at its capacity;
//! - **unbounded queues**: every request waits its turn, and the backlog grows until the
//!   waits reach the customers' 5 s timeout. From then on the store spends its capacity on
//!   requests whose customers have given up, or will before the answer: almost nothing it
//!   answers is of use, and the backlog outlasts the rush;
//! - per-window figures from the store's books (`books.responses`: one record per request
//!   the frontend answered) with [`LatencyHistogram`], beside the report's counts.
//!
//! ```text
//!   offered/s
//!   3 x capacity ┤               ┌──────────────┐
//!                │             ╱                  ╲
//!                │           ╱                      ╲
//!   normal (60)  ┤─────────╱                          ╲──────────────────────────
//!                └───┬─────┬─────────┬──────────────┬─────┬───────────────────────┬── s
//!                    5    25        40             55    65                     125
//!          warm-up ┘ normal  ramp up       peak      ramp down    normal: recovery?
//! ```
//!
//! The store is `examples/shop/` wired with calls (`Variant::Calls`), without faults, as
//! [`Options::store`] has it otherwise -- its 2,000 browsing shoppers included: they share
//! only catalog and currency with the checkout, both less than a tenth busy, so they leave the
//! checkout's capacity as it is (within 1%), and they cost little wall time. A store on
//! Black Friday is not empty of browsers.
//!
//! Definitions:
//! - **capacity**: the rate of checkout requests the frontend answers, ok or not, while it is
//!   offered twice the bound, with bounded queues, from 10 s to 30 s of the run: the rate at
//!   which the bottleneck serves, so the highest rate at which the store keeps up. The
//!   limited-edition mug sells out early in the rush, after which a quarter of the orders
//!   stop at inventory; the capacity is measured with it sold out, as it is at the peak.
//! - **a window's figures** are those of the requests sent in it: ok/s and failed/s count the
//!   ones the frontend answered, ok or not, per second of the window (so a window whose
//!   requests are answered later, from a queue, can count more than the capacity); p50 and
//!   p99 are their latencies, from the customer's send to the frontend's answer, failures
//!   included (a failure after 5 s of waiting costs the customer as much as a slow success).
//!   Requests that a full queue turned away are in none of them: they are the shed ones.
//! - **recovery time**: from the instant the ramp-down brings the offered rate back below the
//!   capacity to the start of the first five 1 s windows in a row whose p99 is each at most
//!   twice the p99 before the ramp (5 s to 25 s); "did not recover within the run" if there
//!   are no such five windows before the end (125 s).
//!
//! Run it with `cargo run --release --example black_friday`. Its standard output is the same
//! on every run; the wall-clock time goes to standard error.

#[path = "shop/mod.rs"]
mod shop;

use std::time::{Duration, Instant};

use microsim::metrics::LatencyHistogram;
use microsim::{Arrivals, Report, Stage, Workload};
use shop::books::Response;
use shop::{Options, Variant};

/// The phases of the ramped run: where each starts, seconds from the start.
const RAMP_UP_FROM: u64 = 25;
const HOLD_FROM: u64 = 40;
const RAMP_DOWN_FROM: u64 = 55;
const NORMAL_FROM: u64 = 65;
const END: u64 = 125;
/// The peak, as a multiple of the capacity.
const PEAK_FACTOR: f64 = 3.0;
/// The table's windows, seconds.
const WINDOW: u64 = 5;
/// The recovery's windows, seconds, and how many in a row must be within the threshold.
const RECOVERY_WINDOW: f64 = 1.0;
const RECOVERY_RUN: usize = 5;
/// The threshold, as a multiple of the p99 before the ramp.
const RECOVERY_FACTOR: u32 = 2;
/// The light load of the utilisation law, orders per second, and the measured window of the
/// two capacity runs, seconds.
const LIGHT: f64 = 300.0;
const MEASURED_FROM: u64 = 10;
const MEASURED_TO: u64 = 30;

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// The store as the examples have it: calls, no faults.
fn store() -> Options {
    Options::store(Variant::Calls)
}

/// The store's normal checkout rate: that of [`Options::store`].
fn normal_rate() -> f64 {
    match store().checkout.arrivals() {
        Arrivals::Poisson { rate } => *rate,
        other => unreachable!("the store's checkout load is Poisson, not {other:?}"),
    }
}

/// A rate in straight lines between knots: (seconds, requests per second), the first at 0.
struct Ramp {
    knots: Vec<(f64, f64)>,
}

impl Ramp {
    /// Black Friday: `normal`, up to `peak`, held, down to `normal`, normal to the end.
    fn black_friday(normal: f64, peak: f64) -> Self {
        let knots = [
            (0, normal),
            (RAMP_UP_FROM, normal),
            (HOLD_FROM, peak),
            (RAMP_DOWN_FROM, peak),
            (NORMAL_FROM, normal),
            (END, normal),
        ];
        Ramp {
            knots: knots.map(|(at, rate)| (at as f64, rate)).to_vec(),
        }
    }

    /// Poisson arrivals at this rate.
    fn workload(&self) -> Workload {
        let stages = self.knots.windows(2).map(|pair| {
            let ((from, _), (to, rate)) = (pair[0], pair[1]);
            Stage::new(Duration::from_secs_f64(to - from), rate)
        });
        Workload::poisson_stages(self.knots[0].1, stages)
    }

    /// The rate at `at` seconds (the last knot's after it).
    fn at(&self, at: f64) -> f64 {
        self.knots.windows(2).find(|pair| at < pair[1].0).map_or(
            self.knots[self.knots.len() - 1].1,
            |pair| {
                let ((t0, r0), (t1, r1)) = (pair[0], pair[1]);
                r0 + (r1 - r0) * (at.max(t0) - t0) / (t1 - t0)
            },
        )
    }

    /// The mean rate from `from` to `to` seconds: the integral of the rate over the window
    /// (exact: the rate is a straight line between knots), divided by its length.
    fn mean(&self, from: f64, to: f64) -> f64 {
        let mut integral = 0.0;
        for pair in self.knots.windows(2) {
            let (a, b) = (from.max(pair[0].0), to.min(pair[1].0));
            if a < b {
                integral += (b - a) * (self.at(a) + self.at(b)) / 2.0;
            }
        }
        integral / (to - from)
    }

    /// When the ramp-down brings the rate back to `rate`, seconds.
    fn down_to(&self, rate: f64) -> f64 {
        let (from, to) = (RAMP_DOWN_FROM as f64, NORMAL_FROM as f64);
        let (high, low) = (self.at(from), self.at(to));
        from + (to - from) * ((high - rate) / (high - low)).clamp(0.0, 1.0)
    }

    /// The phase at `at` seconds.
    fn phase(at: u64) -> &'static str {
        match at {
            _ if at < RAMP_UP_FROM => "normal",
            _ if at < HOLD_FROM => "ramp up",
            _ if at < RAMP_DOWN_FROM => "peak",
            _ if at < NORMAL_FROM => "ramp down",
            _ => "normal",
        }
    }
}

/// What one run left: the report, the frontend's answers, and when the limited edition was
/// first refused for want of stock (placed at), if it was.
struct Run {
    report: Report,
    responses: Vec<Response>,
    sold_out_at: Option<Duration>,
}

/// Builds and runs the store.
fn run(options: &Options) -> Result<Run, Box<dyn std::error::Error>> {
    let store = shop::build(options)?;
    let report = store.simulation.run()?;
    let books = store.books.lock();
    let sold_out_at = books.inventory.sold_out_at.values().min().copied();
    Ok(Run {
        report,
        responses: books.responses.clone(),
        sold_out_at,
    })
}

/// The store with this checkout load, queues and shoppers, up to `until` seconds.
fn options(checkout: Workload, bounded_queues: bool, browsers: usize, until: u64) -> Options {
    Options {
        checkout,
        bounded_queues,
        browsers,
        duration: secs(until),
        ..store()
    }
}

/// The store of a capacity run: the limited edition sold out, as at the peak, and measured
/// from [`MEASURED_FROM`] to [`MEASURED_TO`].
fn capacity_run(checkout: Workload, browsers: usize) -> Options {
    Options {
        limited_stock: 0,
        warmup: secs(MEASURED_FROM),
        ..options(checkout, true, browsers, MEASURED_TO)
    }
}

/// One service's share of the checkout, by the utilisation law.
struct Bound {
    service: String,
    workers: usize,
    visits: f64,
    held_ms: f64,
}

impl Bound {
    /// Orders per second the service can take: `workers / (visits x mean time held)`.
    fn capacity(&self) -> f64 {
        self.workers as f64 / (self.visits * self.held_ms / 1e3)
    }
}

/// Each service a checkout visits: its workers, its visits per order (requests handled per
/// checkout request the frontend handled) and the mean time it holds a worker (from the
/// start of handling to the answer: a worker is held while it waits for its own calls),
/// from `report`; the tightest first.
fn bounds(report: &Report) -> Vec<Bound> {
    let orders = report.services["frontend-checkout"].counts.handled as f64;
    let mut bounds: Vec<Bound> = report
        .services
        .iter()
        .filter(|(_, service)| service.counts.handled > 0)
        .map(|(name, service)| Bound {
            service: name.clone(),
            workers: service
                .workers
                .expect("every service of the store has workers"),
            visits: service.counts.handled as f64 / orders,
            held_ms: service.processing_ms.mean,
        })
        .collect();
    bounds.sort_by(|a, b| a.capacity().total_cmp(&b.capacity()));
    bounds
}

/// The frontend's answers to the requests sent in a window: how many ok, how many failed,
/// and all their latencies.
struct Window {
    ok: u64,
    failed: u64,
    latency: LatencyHistogram,
}

impl Window {
    fn of(responses: &[Response], from: Duration, to: Duration) -> Self {
        let mut window = Window {
            ok: 0,
            failed: 0,
            latency: LatencyHistogram::new(),
        };
        for response in responses.iter().filter(|r| (from..to).contains(&r.sent_at)) {
            if response.ok {
                window.ok += 1;
            } else {
                window.failed += 1;
            }
            window.latency.record(response.latency);
        }
        window
    }

    /// A quantile, ms; `-` when nothing was answered.
    fn ms(&self, q: f64) -> String {
        if self.latency.is_empty() {
            "-".to_string()
        } else {
            format!("{:.0}", self.latency.quantile(q).as_secs_f64() * 1e3)
        }
    }
}

/// The recovery time from `from` seconds (see the module's documentation), or `None`.
fn recovery(responses: &[Response], from: f64, threshold: Duration) -> Option<f64> {
    let windows = ((END as f64 - from) / RECOVERY_WINDOW).floor() as usize;
    let within: Vec<bool> = (0..windows)
        .map(|k| {
            let start = from + k as f64 * RECOVERY_WINDOW;
            let window = Window::of(
                responses,
                Duration::from_secs_f64(start),
                Duration::from_secs_f64(start + RECOVERY_WINDOW),
            );
            !window.latency.is_empty() && window.latency.quantile(0.99) <= threshold
        })
        .collect();
    within
        .windows(RECOVERY_RUN)
        .position(|run| run.iter().all(|&ok| ok))
        .map(|k| k as f64 * RECOVERY_WINDOW)
}

/// What the closing comparison takes from a ramped run.
struct Summary {
    peak_ok_per_s: f64,
    peak_p99: String,
    recovery: Option<f64>,
}

/// Prints one ramped run: its table, then its summary.
fn print_run(title: &str, ramp: &Ramp, capacity: f64, run: &Run) -> Summary {
    let warmup = store().warmup.as_secs();
    let responses = &run.responses;
    println!("\n{title}\n");
    println!(
        "  {:>8}  {:<9}  {:>9}  {:>5}  {:>8}  {:>6}  {:>6}",
        "sent, s", "phase", "offered/s", "ok/s", "failed/s", "p50 ms", "p99 ms"
    );
    for from in (warmup..END).step_by(WINDOW as usize) {
        let to = from + WINDOW;
        let window = Window::of(responses, secs(from), secs(to));
        let per_second = |count: u64| count as f64 / WINDOW as f64;
        println!(
            "  {:>8}  {:<9}  {:>9.0}  {:>5.0}  {:>8.0}  {:>6}  {:>6}",
            format!("{from}-{to}"),
            Ramp::phase(from),
            ramp.mean(from as f64, to as f64),
            per_second(window.ok),
            per_second(window.failed),
            window.ms(0.5),
            window.ms(0.99),
        );
    }

    let before = Window::of(responses, secs(warmup), secs(RAMP_UP_FROM));
    let peak = Window::of(responses, secs(HOLD_FROM), secs(RAMP_DOWN_FROM));
    let report = &run.report;
    let counts = &report.workloads["checkout"].counts;
    let queue = &report.services["frontend-checkout"].queue_wait_ms;
    println!();
    let peak_ok_per_s = peak.ok as f64 / (RAMP_DOWN_FROM - HOLD_FROM) as f64;
    println!(
        "  at the peak ({HOLD_FROM}-{RAMP_DOWN_FROM} s): p99 {} ms ({} ms before the ramp), \
         {peak_ok_per_s:.0} ok/s",
        peak.ms(0.99),
        before.ms(0.99),
    );
    println!(
        "  longest wait in the frontend's queue: {:.0} ms",
        queue.max
    );
    println!(
        "  requests sent from {warmup} s: {}; ok {}; shed (rejected at once) {}; timed out {};",
        counts.sent, counts.completed, counts.rejected, counts.timed_out,
    );
    println!(
        "    refused by the store (out of stock, card declined, undeliverable) {}",
        counts.errors
    );
    if let Some(at) = run.sold_out_at {
        println!(
            "  the limited edition sold out at {:.1} s: from then on a quarter of the orders are \
             refused",
            at.as_secs_f64()
        );
    }
    let from = ramp.down_to(capacity);
    let threshold = before.latency.quantile(0.99) * RECOVERY_FACTOR;
    let recovery = recovery(responses, from, threshold);
    println!(
        "  recovery: {} (from {from:.1} s to the first of {RECOVERY_RUN} 1 s windows in a row \
         with p99 <= {} ms)",
        recovered(recovery),
        threshold.as_millis(),
    );
    Summary {
        peak_ok_per_s,
        peak_p99: peak.ms(0.99),
        recovery,
    }
}

/// A recovery time, in words.
fn recovered(recovery: Option<f64>) -> String {
    match recovery {
        Some(seconds) => format!("{seconds:.0} s"),
        None => "did not recover within the run".to_string(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let normal = normal_rate();
    let browsers = store().browsers;
    println!(
        "Black Friday at the store: checkout with calls, no faults, {browsers} shoppers \
         browsing, seed {}",
        store().seed
    );

    // The bound: the utilisation law at light load, the checkout's traffic alone.
    let light = run(&capacity_run(Workload::poisson(LIGHT), 0))?;
    let bounds = bounds(&light.report);
    println!(
        "\nthe utilisation law at {LIGHT:.0} orders/s, no browsers, the limited edition sold \
         out ({MEASURED_FROM}-{MEASURED_TO} s):\n"
    );
    println!(
        "  {:<18}  {:>7}  {:>12}  {:>12}  {:>8}",
        "service", "workers", "visits/order", "mean held ms", "orders/s"
    );
    for bound in &bounds {
        println!(
            "  {:<18}  {:>7}  {:>12.2}  {:>12.2}  {:>8.0}",
            bound.service,
            bound.workers,
            bound.visits,
            bound.held_ms,
            bound.capacity()
        );
    }
    let bottleneck = &bounds[0];

    // The capacity: what the store answers when offered far more.
    let offered = 2.0 * bottleneck.capacity();
    let flood = run(&capacity_run(Workload::poisson(offered), browsers))?;
    let answered = Window::of(&flood.responses, secs(MEASURED_FROM), secs(MEASURED_TO));
    let capacity = (answered.ok + answered.failed) as f64 / (MEASURED_TO - MEASURED_FROM) as f64;
    println!(
        "\nbound: {} at {:.0} orders/s, workers / (visits x mean held).",
        bottleneck.service,
        bottleneck.capacity()
    );
    println!(
        "offered {offered:.0}/s with bounded queues and the shoppers, the store answers \
         {capacity:.0}/s: its capacity."
    );
    // Why the capacity is below the bound: the bottleneck's workers are held longer, waiting
    // for the busiest service it calls.
    let loaded = &flood.report.services;
    let (callee, busiest) = loaded
        .iter()
        .filter(|(name, _)| *name != &bottleneck.service && !name.starts_with("frontend"))
        .max_by(|a, b| {
            a.1.utilization
                .unwrap_or(0.0)
                .total_cmp(&b.1.utilization.unwrap_or(0.0))
        })
        .expect("the bottleneck calls other services");
    println!(
        "It is below the bound: so loaded, {} holds a worker {:.2} ms a visit ({:.2} ms at \
         light load),",
        bottleneck.service, loaded[&bottleneck.service].processing_ms.mean, bottleneck.held_ms,
    );
    println!(
        "waiting for {callee}, now {:.0}% busy with a long tail (p99 of its queue wait {:.1} ms).",
        100.0 * busiest.utilization.unwrap_or(0.0),
        busiest.queue_wait_ms.p99,
    );

    let peak = PEAK_FACTOR * capacity;
    let ramp = Ramp::black_friday(normal, peak);
    println!(
        "\nthe ramp: {normal:.0}/s; from {RAMP_UP_FROM} s up to {peak:.0}/s ({PEAK_FACTOR:.0} x \
         capacity) by {HOLD_FROM} s; held to {RAMP_DOWN_FROM} s;"
    );
    println!(
        "down to {normal:.0}/s by {NORMAL_FROM} s; then {normal:.0}/s to {END} s. Customers \
         give up after {} s.",
        shop::CUSTOMER_TIMEOUT.as_secs()
    );
    println!(
        "\nEach row: the requests sent in that window. offered/s is the ramp's rate; ok/s and \
         failed/s count"
    );
    println!(
        "the ones the frontend answered (the shed ones are in neither), and p50, p99 are their \
         latencies."
    );
    println!(
        "Recovery: from when the ramp-down brings the offered rate below capacity, to the \
         first of"
    );
    println!(
        "{RECOVERY_RUN} 1 s windows in a row whose p99 is at most {RECOVERY_FACTOR} x the p99 \
         before the ramp."
    );

    let mut summaries = Vec::new();
    for (title, bounded) in [
        (
            "bounded queues: past the queues, requests are rejected at once",
            true,
        ),
        ("unbounded queues: every request waits its turn", false),
    ] {
        let black_friday = run(&options(ramp.workload(), bounded, browsers, END))?;
        summaries.push(print_run(title, &ramp, capacity, &black_friday));
    }
    let [bounded, unbounded] = &summaries[..] else {
        unreachable!("two runs")
    };
    println!(
        "\nAt the peak, bounded queues shed what the store cannot take, and it goes on taking \
         orders:"
    );
    println!(
        "{:.0} ok/s, p99 {} ms. Unbounded queues take everything; the wait grows to the \
         customers' timeout,",
        bounded.peak_ok_per_s, bounded.peak_p99
    );
    println!(
        "p99 {} ms, and the store answers almost nothing in time: {:.0} ok/s. Once the rush \
         is over,",
        unbounded.peak_p99, unbounded.peak_ok_per_s
    );
    println!(
        "it is back to normal latency in {} with bounded queues, in {} with unbounded ones.",
        recovered(bounded.recovery),
        recovered(unbounded.recovery)
    );
    eprintln!(
        "4 runs in {:.2} s of wall time",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
