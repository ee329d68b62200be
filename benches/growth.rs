//! How the wall time of a hop grows with the number of services and with the load.
//!
//! The model is `examples/many_services.rs`' (shared through
//! `examples/common/many_services_model.rs`): a gateway in front of `N` backends, each
//! request calling one backend chosen at random, with N configured links and N timeout
//! policies; a backend has 1 worker and 1 ms of work. A request is four hops (client to
//! gateway, gateway to backend, and both responses).
//!
//! Each configuration runs twice, for `D` and `2D` of simulated time; the time per hop is
//! `(run(2D) - run(D))` over the extra hops, which cancels what a run spends before and after
//! its traffic (`run` is `Simulation::run`; building the simulation is timed apart and shown
//! as `build`). `D` gives every called backend ten requests on average in the shorter run, so
//! both runs touch the same services; and, so that the traffic's time dwarfs the noise of
//! the setup (which grows with the services: about a second at 10,000), at least 20,000
//! requests and 10 a service made (on CI: 5,000 requests, and no minimum a service).
//!
//! - `services`: N = 10, 100, 1,000, 10,000 backends, all called, at 2,000 requests/s. The
//!   target is a hop at 10,000 services within 1.5x of a hop at 10.
//! - `idle`: N = 100, 1,000, 10,000 backends of which the first 10 are called
//!   (`many_services --active 10`): what a service costs by merely existing.
//! - `load`: N = 100 backends (capacity about 100,000 requests/s) at 500, 1,000, 2,000,
//!   4,000 and 8,000 requests/s. The table shows the gateway's busy workers and the busiest
//!   backend's utilisation, to show that no station saturates.
//!
//! The machine is noisy, so the configurations run in rounds -- every configuration once per
//! round, the order of the two lengths alternating -- and the tables give, per configuration:
//! - the median wall time per hop over the rounds, with its minimum and maximum;
//! - `fastest runs`: the fastest longer run less the fastest shorter run, over the extra hops
//!   (other processes only ever slow a run down, so each length's fastest is its least
//!   disturbed);
//! - the median on-CPU time per hop: the same difference in the time the simulation's thread
//!   spent on a CPU (Linux's `/proc/thread-self/schedstat`), which leaves out the time other
//!   processes held it (but not their sharing of the caches and the core).
//!
//! The ratio of 10,000 to 10 services is given of the medians (the target's verdict), within
//! each round (a round's two configurations run seconds apart, sharing more of the machine's
//! drift than the medians do) and of the fastest runs.
//!
//! ```text
//! cargo bench --bench growth              # 7 rounds, about 2 minutes; tables on stdout
//! cargo bench --bench growth -- --plot    # also writes benches/growth.svg
//! CI=1 cargo bench --bench growth         # 2 short rounds
//! ```
//!
//! `--plot=PATH` writes the figure to `PATH` instead. `--rounds R` sets the number of rounds.

#[path = "../examples/common/many_services_model.rs"]
mod model;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use model::{HOPS_PER_REQUEST, Model, RATE};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

type Error = Box<dyn std::error::Error>;

/// Shorter runs on CI.
fn on_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// The backends of the `services` sweep.
const SERVICES: [usize; 4] = [10, 100, 1_000, 10_000];
/// The backends called in the `idle` sweep.
const IDLE_ACTIVE: usize = 10;
/// The backends of the `load` sweep.
const LOAD_SERVICES: usize = 100;
/// The loads of the `load` sweep, requests per second.
const LOADS: [f64; 5] = [500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0];
/// The target: a hop at the most services at most this many times a hop at the fewest.
const TARGET_RATIO: f64 = 1.5;

/// The command line.
struct Options {
    rounds: usize,
    plot: Option<PathBuf>,
}

impl Options {
    fn parse() -> Result<Self, Error> {
        let mut options = Options {
            rounds: if on_ci() { 2 } else { 7 },
            plot: None,
        };
        let default_plot = || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/growth.svg");
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--plot" {
                options.plot = Some(default_plot());
            } else if let Some(path) = arg.strip_prefix("--plot=") {
                options.plot = Some(path.into());
            } else if arg == "--rounds" {
                options.rounds = args.next().ok_or("--rounds needs a number")?.parse()?;
            } else if arg == "--bench" {
                // cargo bench passes it to every bench.
            } else {
                return Err(format!(
                    "unknown argument {arg:?}; usage: growth [--plot[=PATH]] [--rounds R]"
                )
                .into());
            }
        }
        options.rounds = options.rounds.max(1);
        Ok(options)
    }
}

/// One configuration measured, and what its rounds measured.
struct Point {
    model: Model,
    /// The shorter run's simulated time.
    short: Duration,
    /// Wall time per hop of each round, ns.
    per_hop_ns: Vec<f64>,
    /// On-CPU time of this thread per hop, each round, ns (empty where Linux does not tell).
    cpu_per_hop_ns: Vec<f64>,
    /// Wall time building the simulation, each run, s.
    build_s: Vec<f64>,
    /// What a run spends besides its traffic, `2 run(D) - run(2D)`, each round, s.
    setup_s: Vec<f64>,
    /// Each round's (shorter, longer) run, s, and the extra hops of the longer (the same every
    /// round: the clock is virtual and the seed fixed).
    runs_s: Vec<(f64, f64)>,
    extra_hops: f64,
    /// Load on the stations in the longer run (the same every round: the clock is virtual).
    load: Option<Load>,
}

/// How loaded the model's stations were.
#[derive(Clone, Copy)]
struct Load {
    /// The gateway's mean busy workers (of 64).
    gateway_busy: f64,
    /// The most gateway workers ever busy at once.
    gateway_started: usize,
    /// The busiest backend's utilisation.
    backend_utilisation: f64,
    /// The requests' 99th percentile, ms.
    p99_ms: f64,
}

impl Point {
    fn new(services: usize, active: usize, rate: f64, sizing: Sizing) -> Self {
        let requests = (active as f64 * 10.0)
            .max(sizing.min_requests)
            .max(services as f64 * sizing.per_service);
        let seconds = requests / rate;
        Point {
            model: Model {
                services,
                active,
                rate,
            },
            short: Duration::from_secs_f64(seconds),
            per_hop_ns: Vec::new(),
            cpu_per_hop_ns: Vec::new(),
            build_s: Vec::new(),
            setup_s: Vec::new(),
            runs_s: Vec::new(),
            extra_hops: 0.0,
            load: None,
        }
    }

    fn is(&self, services: usize, active: usize, rate: f64) -> bool {
        self.model.services == services && self.model.active == active && self.model.rate == rate
    }

    /// Runs both lengths once, the shorter first if `short_first`.
    fn measure(&mut self, short_first: bool) -> Result<(), Error> {
        let lengths = if short_first {
            [self.short, 2 * self.short]
        } else {
            [2 * self.short, self.short]
        };
        let mut runs = Vec::with_capacity(2);
        for length in lengths {
            let cpu_before = thread_cpu_ns();
            let (run, report) = self.model.run(length)?;
            let cpu = cpu_before
                .zip(thread_cpu_ns())
                .map(|(before, after)| after - before);
            if length > self.short && self.load.is_none() {
                let gateway = &report.services["gateway"];
                let backend_utilisation = report
                    .services
                    .iter()
                    .filter(|(name, _)| name.starts_with("backend-"))
                    .filter_map(|(_, service)| service.utilization)
                    .fold(0.0, f64::max);
                self.load = Some(Load {
                    gateway_busy: gateway.busy_workers,
                    gateway_started: gateway.workers_started,
                    backend_utilisation,
                    p99_ms: report.workloads["clients"].latency_ms.p99,
                });
            }
            self.build_s.push(run.build_seconds);
            runs.push((length, run, cpu));
        }
        runs.sort_by_key(|(length, _, _)| *length);
        let ((_, short, short_cpu), (_, long, long_cpu)) = (&runs[0], &runs[1]);
        let extra_hops = long.hops.saturating_sub(short.hops).max(1) as f64;
        self.per_hop_ns
            .push((long.run_seconds - short.run_seconds) / extra_hops * 1e9);
        if let (Some(short_cpu), Some(long_cpu)) = (short_cpu, long_cpu) {
            self.cpu_per_hop_ns
                .push((*long_cpu as f64 - *short_cpu as f64) / extra_hops);
        }
        self.runs_s.push((short.run_seconds, long.run_seconds));
        self.extra_hops = extra_hops;
        self.setup_s
            .push(2.0 * short.run_seconds - long.run_seconds);
        Ok(())
    }

    fn per_hop(&self) -> Stats {
        Stats::of(&self.per_hop_ns)
    }

    /// The time per hop from the fastest shorter run and the fastest longer run, ns: other
    /// processes only ever slow a run down, so each length's fastest is its least disturbed.
    fn best_per_hop(&self) -> f64 {
        let fastest = |pick: fn(&(f64, f64)) -> f64| {
            self.runs_s.iter().map(pick).fold(f64::INFINITY, f64::min)
        };
        (fastest(|runs| runs.1) - fastest(|runs| runs.0)) / self.extra_hops * 1e9
    }

    fn cpu_per_hop(&self) -> Option<Stats> {
        (!self.cpu_per_hop_ns.is_empty()).then(|| Stats::of(&self.cpu_per_hop_ns))
    }
}

/// The time this thread has spent on a CPU, ns (Linux's `/proc/thread-self/schedstat`): unlike
/// the wall time, it leaves out the time other processes had the CPU. A simulation runs on
/// the thread that calls `Simulation::run` (a current-thread runtime).
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// How long the shorter run of a configuration is, in requests.
#[derive(Clone, Copy)]
struct Sizing {
    /// At least this many.
    min_requests: f64,
    /// At least this many a service made.
    per_service: f64,
}

/// The median, minimum and maximum of some samples.
#[derive(Clone, Copy)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn of(samples: &[f64]) -> Self {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Stats {
            median,
            min: sorted[0],
            max: sorted[n - 1],
        }
    }
}

fn main() -> Result<(), Error> {
    let options = Options::parse()?;
    let sizing = if on_ci() {
        Sizing {
            min_requests: 5_000.0,
            per_service: 0.0,
        }
    } else {
        Sizing {
            min_requests: 20_000.0,
            per_service: 10.0,
        }
    };
    let started = Instant::now();

    let mut points: Vec<Point> = Vec::new();
    let mut add = |services: usize, active: usize, rate: f64| {
        if !points.iter().any(|point| point.is(services, active, rate)) {
            points.push(Point::new(services, active, rate, sizing));
        }
    };
    for services in SERVICES {
        add(services, services, RATE);
    }
    for services in SERVICES {
        add(services, IDLE_ACTIVE.min(services), RATE);
    }
    for rate in LOADS {
        add(LOAD_SERVICES, LOAD_SERVICES, rate);
    }

    // Warm up the allocator and the code before the first timed run.
    Model {
        services: LOAD_SERVICES,
        active: LOAD_SERVICES,
        rate: RATE,
    }
    .run(Duration::from_secs(5))?;

    for round in 0..options.rounds {
        for point in &mut points {
            point.measure(round % 2 == 0)?;
        }
        eprintln!(
            "round {} of {} done at {:.0} s",
            round + 1,
            options.rounds,
            started.elapsed().as_secs_f64()
        );
    }

    let find = |services: usize, active: usize, rate: f64| {
        points
            .iter()
            .find(|point| point.is(services, active, rate))
            .expect("every configuration is measured")
    };
    let fewest = find(SERVICES[0], SERVICES[0], RATE);
    let most = *SERVICES.last().expect("services");
    let all = find(most, most, RATE);
    let idle = find(most, IDLE_ACTIVE, RATE);

    println!(
        "## growth: time per hop ({} rounds: median, min - max; {HOPS_PER_REQUEST} hops a request)",
        options.rounds
    );
    println!();
    println!("### against services ({} requests/s)", thousands(RATE));
    println!();
    println!(
        "| services | called | wall per hop | min - max | fastest runs | on-CPU per hop | wall per request | build | run setup | D |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let service_rows = SERVICES
        .iter()
        .map(|&services| find(services, services, RATE))
        .chain(
            SERVICES
                .iter()
                .filter(|&&services| services > IDLE_ACTIVE)
                .map(|&services| find(services, IDLE_ACTIVE, RATE)),
        );
    for point in service_rows {
        println!(
            "| {} | {} | {} | {:.0} ns | {} | {:.2} us | {:.3} s | {:.3} s | {} s |",
            thousands(point.model.services as f64),
            thousands(point.model.active as f64),
            columns(point.per_hop()),
            point.best_per_hop(),
            cpu_column(point),
            point.per_hop().median * HOPS_PER_REQUEST as f64 / 1e3,
            Stats::of(&point.build_s).median,
            Stats::of(&point.setup_s).median,
            point.short.as_secs_f64(),
        );
    }
    println!();
    println!("### against load ({LOAD_SERVICES} services, all called)");
    println!();
    println!(
        "| requests/s | wall per hop | min - max | fastest runs | on-CPU per hop | wall per request | gateway busy (mean of 64) | gateway most busy | busiest backend | p99 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for rate in LOADS {
        let point = find(LOAD_SERVICES, LOAD_SERVICES, rate);
        let load = point.load.expect("measured");
        println!(
            "| {} | {} | {:.0} ns | {} | {:.2} us | {:.1} | {} | {:.0}% | {:.2} ms |",
            thousands(rate),
            columns(point.per_hop()),
            point.best_per_hop(),
            cpu_column(point),
            point.per_hop().median * HOPS_PER_REQUEST as f64 / 1e3,
            load.gateway_busy,
            load.gateway_started,
            load.backend_utilisation * 100.0,
            load.p99_ms,
        );
    }
    println!();

    // The ratios to the fewest services: within each round, and of the medians.
    let ratios = |other: &Point, cpu: bool| {
        let samples = |point: &Point| {
            if cpu {
                point.cpu_per_hop_ns.clone()
            } else {
                point.per_hop_ns.clone()
            }
        };
        let (other, fewest) = (samples(other), samples(fewest));
        if other.is_empty() || fewest.is_empty() {
            return None;
        }
        let paired: Vec<f64> = other.iter().zip(&fewest).map(|(o, f)| o / f).collect();
        Some((
            Stats::of(&paired),
            Stats::of(&other).median / Stats::of(&fewest).median,
        ))
    };
    let describe = |(paired, of_medians): (Stats, f64)| {
        format!(
            "{:.2}x paired within rounds (min {:.2}x, max {:.2}x), {of_medians:.2}x of the medians",
            paired.median, paired.min, paired.max
        )
    };
    let few = SERVICES[0];
    let wall = ratios(all, false).expect("wall times");
    let verdict = if wall.1 <= TARGET_RATIO {
        "met"
    } else {
        "not met"
    };
    println!(
        "wall per hop, {} / {few} services: {}; fastest runs {:.2}x; target {TARGET_RATIO}x (of the medians): {verdict}",
        thousands(most as f64),
        describe(wall),
        all.best_per_hop() / fewest.best_per_hop(),
    );
    if let Some(cpu) = ratios(all, true) {
        println!(
            "on-CPU per hop, {} / {few} services: {}",
            thousands(most as f64),
            describe(cpu)
        );
    }
    println!(
        "wall per hop, {} services of which {IDLE_ACTIVE} called / {few} services: {}; fastest runs {:.2}x",
        thousands(most as f64),
        describe(ratios(idle, false).expect("wall times")),
        idle.best_per_hop() / fewest.best_per_hop(),
    );
    for point in &points {
        if let Some(load) = point.load
            && (load.gateway_started >= 64 || load.backend_utilisation > 0.8)
        {
            println!(
                "warning: {} services at {} requests/s are near saturation",
                point.model.services, point.model.rate
            );
        }
    }

    if let Some(path) = &options.plot {
        let mut svg = String::new();
        plot(&mut svg, &points, options.rounds)?;
        std::fs::write(path, svg)
            .map_err(|error| format!("could not write {}: {error}", path.display()))?;
        println!("plot: {}", path.display());
    }
    eprintln!("growth: {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A median and its range as two table cells, ns.
fn columns(stats: Stats) -> String {
    format!(
        "{:.0} ns | {:.0} - {:.0} ns",
        stats.median, stats.min, stats.max
    )
}

/// The median on-CPU time per hop as a table cell, ns; `n/a` where not measured.
fn cpu_column(point: &Point) -> String {
    point
        .cpu_per_hop()
        .map_or_else(|| "n/a".to_string(), |cpu| format!("{:.0} ns", cpu.median))
}

/// `x` rounded, with commas between thousands: `10,000`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.round());
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The figure

const WIDTH: u32 = 1100;
const HEIGHT: u32 = 420;
const ALL_CALLED: RGBColor = RGBColor(31, 119, 180);
const IDLE: RGBColor = RGBColor(255, 127, 14);
const LOADED: RGBColor = RGBColor(44, 160, 44);

/// A line of the figure: at each x, the wall time per request in us (median, min, max) and
/// the median on-CPU time per request in us, where measured.
struct Line {
    label: String,
    colour: RGBColor,
    points: Vec<(f64, Stats, Option<f64>)>,
}

impl Line {
    fn new(label: String, colour: RGBColor, points: Vec<(f64, &Point)>) -> Self {
        let scale = HOPS_PER_REQUEST as f64 / 1e3;
        let points = points
            .into_iter()
            .map(|(x, point)| {
                let wall = point.per_hop();
                let wall = Stats {
                    median: wall.median * scale,
                    min: wall.min * scale,
                    max: wall.max * scale,
                };
                let cpu = point.cpu_per_hop().map(|cpu| cpu.median * scale);
                (x, wall, cpu)
            })
            .collect();
        Line {
            label,
            colour,
            points,
        }
    }
}

/// Two panels: time per request against services (log x), and against load (log x).
fn plot(svg: &mut String, points: &[Point], rounds: usize) -> Result<(), Error> {
    let find = |services: usize, active: usize, rate: f64| {
        points
            .iter()
            .find(|point| point.is(services, active, rate))
            .expect("every configuration is measured")
    };
    let all = Line::new(
        "all backends called".into(),
        ALL_CALLED,
        SERVICES
            .iter()
            .map(|&n| (n as f64, find(n, n, RATE)))
            .collect(),
    );
    let idle = Line::new(
        format!("{IDLE_ACTIVE} backends called, the rest idle"),
        IDLE,
        SERVICES
            .iter()
            .map(|&n| (n as f64, find(n, IDLE_ACTIVE.min(n), RATE)))
            .collect(),
    );
    let load = Line::new(
        format!("{LOAD_SERVICES} backends, all called"),
        LOADED,
        LOADS
            .iter()
            .map(|&rate| (rate, find(LOAD_SERVICES, LOAD_SERVICES, rate)))
            .collect(),
    );
    let top = [&all, &idle, &load]
        .iter()
        .flat_map(|line| line.points.iter().map(|(_, wall, _)| wall.max))
        .fold(0.0, f64::max)
        * 1.45; // room for the legend above the lines

    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(WIDTH / 2);
    let y_label = format!("us per request (median of {rounds}; bars: wall min-max)");
    panel(
        &left,
        &format!("Against services ({} req/s)", thousands(RATE)),
        "backends (log scale)",
        (5.0, 20_000.0),
        &SERVICES.map(|n| n as f64),
        (top, &y_label),
        &[all, idle],
    )?;
    panel(
        &right,
        &format!("Against load ({LOAD_SERVICES} backends)"),
        "requests per second of simulated time (log scale)",
        (350.0, 11_000.0),
        &LOADS,
        (top, &y_label),
        &[load],
    )?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    x_label: &str,
    (x_min, x_max): (f64, f64),
    x_ticks: &[f64],
    (top, y_label): (f64, &str),
    lines: &[Line],
) -> Result<(), Error> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(62)
        .build_cartesian_2d(
            (x_min..x_max).log_scale().with_key_points(x_ticks.to_vec()),
            0.0..top,
        )?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|x| thousands(*x))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for line in lines {
        let colour = line.colour;
        chart
            .draw_series(LineSeries::new(
                line.points.iter().map(|(x, wall, _)| (*x, wall.median)),
                colour.stroke_width(2),
            ))?
            .label(format!("{}: wall", line.label))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart.draw_series(
            line.points
                .iter()
                .map(|(x, wall, _)| Circle::new((*x, wall.median), 4, colour.filled())),
        )?;
        chart.draw_series(line.points.iter().map(|(x, wall, _)| {
            PathElement::new(
                [(*x, wall.min.max(0.0)), (*x, wall.max)],
                colour.stroke_width(1),
            )
        }))?;
        let cpu: Vec<(f64, f64)> = line
            .points
            .iter()
            .filter_map(|(x, _, cpu)| cpu.map(|cpu| (*x, cpu)))
            .collect();
        if !cpu.is_empty() {
            chart
                .draw_series(DashedLineSeries::new(cpu, 6, 4, colour.stroke_width(1)))?
                .label(format!("{}: on CPU", line.label))
                .legend(move |(x, y)| {
                    DashedPathElement::new([(x, y), (x + 20, y)], 4, 3, colour.stroke_width(1))
                });
        }
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}
