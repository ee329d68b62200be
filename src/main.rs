//! The `microsim` command: run a scenario file and print its latency report.
//!
//! ```text
//! microsim run [FILE] [--seed N] [--json PATH|-] [--quiet] [--set KEY=VALUE]...
//!                                                # without FILE: the bundled store
//! microsim check FILE [--set KEY=VALUE]...
//! ```
//!
//! `--set KEY=VALUE` sets a value of the file before it is read, as if the file wrote it:
//! `KEY` as error messages print it (`services.api.workers`, `services."cart v2".work`,
//! `links[0].latency`), `VALUE` a TOML value (`8`, `'{ constant = "2ms" }'`); a bare word that
//! is not TOML is a string (`simulation.duration=30s`). Repeated, they apply in order: the
//! last of one key wins. A mistake in an override's value is reported at the override
//! (`--set 1 (services.api.workers=0): services.api.workers: ...`). `--seed` wins over
//! `--set simulation.seed=`. The report's header lists the overrides, and its JSON has them
//! in `overrides`.
//!
//! Exit codes: 0 success; 1 the scenario is invalid or the run failed (message on stderr:
//! every mistake of an invalid file, each on its own `error:` line);
//! 2 bad command-line usage (a `--set` that is not `KEY=VALUE` included); 3 a threshold of the
//! file's `[[thresholds]]` is breached (the report is still printed and written; with
//! `--seeds N`: a threshold does not hold with confidence, its whole interval within its
//! bounds); 130 interrupted by Ctrl-C (the partial report is still printed and written, marked
//! as interrupted; a second Ctrl-C exits at once). `microsim sweep` exits 0 when thresholds
//! fail at some points: they decide its capacity.
//!
//! A closed stdout (`microsim run | head -1`) ends the output quietly; the JSON report is
//! written before the table.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

mod cli;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use microsim::scenario::{Override, Scenario, ScenarioError};
use microsim::{Progress, Report};

/// Simulate how microservices communicate: latency end to end and hop by hop, on a virtual
/// clock, reproducible from a seed.
#[derive(Debug, Parser)]
#[command(
    name = "microsim",
    version,
    about,
    after_help = "Exit codes: 0 success; 1 invalid scenario or failed run; 2 bad usage; \
                  3 a threshold of the file's [[thresholds]] breached (run; with --seeds: one \
                  that does not hold with confidence); 130 interrupted."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

// Parsed once per process: the size of the run's variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario and print its report (the bundled online store if FILE is omitted).
    Run(RunArgs),
    /// Check a scenario file without running it.
    Check {
        /// The scenario file.
        file: PathBuf,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Run a scenario at every combination of some keys' values, each point over several
    /// seeds, in parallel: means with 95% confidence intervals, and the capacity of a swept
    /// load.
    Sweep(cli::sweep::SweepArgs),
    /// Put the JSON reports of a sweep's shards together into the whole sweep's.
    Merge(cli::sweep::MergeArgs),
    /// Compare two reports (of runs, or of sweeps) figure by figure, flagging the changes
    /// beyond the replications' noise.
    Diff(cli::diff::DiffArgs),
}

/// `microsim run`'s arguments.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The scenario file (TOML; see SCENARIOS.md).
    file: Option<PathBuf>,
    /// Overrides the file's seed (and a `--set simulation.seed=`).
    #[arg(long)]
    seed: Option<u64>,
    /// Runs N replications in parallel (seeds derived from the file's, the first the
    /// file's own) and reports their means with 95% confidence intervals, as a sweep of
    /// one point does; --json writes that sweep report.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seeds: usize,
    #[command(flatten)]
    outputs: Outputs,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    overrides: Overrides,
}

impl Default for RunArgs {
    /// `microsim` with no command: the bundled store, once.
    fn default() -> Self {
        RunArgs {
            file: None,
            seed: None,
            seeds: 1,
            outputs: Outputs::default(),
            quiet: false,
            overrides: Overrides::default(),
        }
    }
}

/// What `microsim run` writes besides its table.
#[derive(Debug, Default, clap::Args)]
struct Outputs {
    /// Also write the report as JSON to this path (checked before the run, written
    /// before the table); `-` writes the JSON to stdout instead of the table.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Also write the report's timeline (per window of simulated time, per workload and
    /// service) as CSV to this path: `start_s,end_s,kind,name,metric,value` rows.
    #[arg(long, value_name = "PATH")]
    timeline: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page to this path, with its
    /// plots and each workload's critical path (it fetches nothing; open it offline).
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
    /// Trace requests (the slowest and failed of each workload, and a sample) and write
    /// the traces as Chrome trace-event JSON to this path, for https://ui.perfetto.dev or
    /// chrome://tracing; the report then shows each workload's critical path.
    #[arg(long, value_name = "PATH")]
    trace: Option<PathBuf>,
    /// Trace requests as --trace does, and write the traces as OpenTelemetry OTLP/JSON
    /// (resourceSpans) to this path.
    #[arg(long, value_name = "PATH")]
    otlp: Option<PathBuf>,
    /// Also write each workload's latency distribution in HdrHistogram's percentile
    /// text format (.hgrm, as wrk2 prints it; values in ms) to this path: one section
    /// per workload, each after a `#[workload NAME]` line.
    #[arg(long, value_name = "PATH")]
    percentiles: Option<PathBuf>,
    /// Also draw the report's plots as SVG files into this folder (made if missing):
    /// latency CDF with its log-scale tail, latency and throughput over simulated time
    /// with the fault windows shaded, busy workers and queue depth per service, topic lag.
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,
    /// Also write the topology -- client, services, topics, subscriptions -- with each
    /// edge's rate and mean latency from the run, to this path: Graphviz DOT if it ends
    /// in .dot or .gv, a Mermaid flowchart if it ends in .mmd or .mermaid.
    #[arg(long, value_name = "PATH")]
    topology: Option<PathBuf>,
}

impl Outputs {
    /// The first output asked for that draws one run: every one but `--json`.
    fn drawing_one_run(&self) -> Option<&'static str> {
        [
            ("--timeline", &self.timeline),
            ("--html", &self.html),
            ("--trace", &self.trace),
            ("--otlp", &self.otlp),
            ("--percentiles", &self.percentiles),
            ("--plots", &self.plots),
            ("--topology", &self.topology),
        ]
        .into_iter()
        .find_map(|(flag, path)| path.is_some().then_some(flag))
    }
}

#[derive(Debug, Default, clap::Args)]
struct Overrides {
    /// Sets KEY to VALUE in the file before it is read, as if the file wrote it; repeatable,
    /// the last of one key wins. KEY as error messages print it (services.api.workers,
    /// services."cart v2".work, links[0].latency); VALUE a TOML value (8, "30s",
    /// '{ constant = "2ms" }'), a bare word that is not TOML taken as a string (30s).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run(RunArgs::default()));
    let result = match command {
        Command::Run(args) => {
            let overrides = match args.overrides.read() {
                Ok(overrides) => overrides,
                Err(code) => return code,
            };
            if args.seeds == 1 {
                run(
                    args.file.as_deref(),
                    &overrides,
                    args.seed,
                    &args.outputs,
                    args.quiet,
                )
            } else if let Some(flag) = args.outputs.drawing_one_run() {
                eprintln!(
                    "error: --seeds {} and {flag} do not go together: {flag} draws one run; \
                     run it without --seeds (or with --seed S for one replication's seed)",
                    args.seeds
                );
                return ExitCode::from(2);
            } else {
                cli::sweep::replications(
                    args.file.as_deref(),
                    &overrides,
                    args.seed,
                    args.seeds,
                    args.outputs.json.as_deref(),
                    args.quiet,
                )
            }
        }
        Command::Check { file, overrides } => match overrides.read() {
            Ok(overrides) => check(&file, &overrides).map(|()| ExitCode::SUCCESS),
            Err(code) => return code,
        },
        Command::Sweep(args) => cli::sweep::sweep(&args),
        Command::Merge(args) => cli::sweep::merge(&args),
        Command::Diff(args) => cli::diff::diff(&args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

impl Overrides {
    /// The `--set` arguments read; one that is not `KEY=VALUE` is a usage error, told here.
    fn read(&self) -> Result<Vec<Override>, ExitCode> {
        self.set
            .iter()
            .map(|argument| Override::parse(argument))
            .collect::<Result<_, _>>()
            .map_err(|error| {
                eprintln!("error: {error}");
                ExitCode::from(2)
            })
    }
}

fn check(file: &Path, overrides: &[Override]) -> Result<(), String> {
    Scenario::load_with_overrides(file, overrides).map_err(|error| mistakes(&error))?;
    print_stdout(&format!("{}: ok", file.display()))?;
    Ok(())
}

/// The last lines of a run of the bundled store.
const STORE_NEXT: &str = "\nThis is the store of `cargo run --release --example store`, which also keeps its \
books (stock, payments, orders, shipments).\n\
The same checkout with calls, events or both, under faults, with its business invariants: \
`cargo run --release --example store_compare`.\n\
A Black Friday ramp to three times its capacity, with and without load shedding: \
`cargo run --release --example black_friday`.";

/// The format of the topology file, from its extension.
#[derive(Clone, Copy)]
enum TopologyFormat {
    Dot,
    Mermaid,
}

impl TopologyFormat {
    fn of(path: &Path) -> Result<Self, String> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("dot" | "gv") => Ok(TopologyFormat::Dot),
            Some("mmd" | "mermaid") => Ok(TopologyFormat::Mermaid),
            _ => Err(format!(
                "--topology {}: say the format by the extension: .dot or .gv for Graphviz DOT, \
                 .mmd or .mermaid for Mermaid",
                path.display()
            )),
        }
    }
}

/// Writes `text` to `path`, or says what went wrong, naming `what` was written.
fn write_file(path: &Path, what: &str, text: &str) -> Result<(), String> {
    std::fs::write(path, text)
        .map_err(|error| format!("could not write the {what} to {}: {error}", path.display()))
}

fn run(
    file: Option<&Path>,
    overrides: &[Override],
    seed: Option<u64>,
    outputs: &Outputs,
    quiet: bool,
) -> Result<ExitCode, String> {
    let json = outputs.json.as_deref();
    let scenario = match file {
        Some(file) => {
            Scenario::load_with_overrides(file, overrides).map_err(|error| mistakes(&error))?
        }
        None if overrides.is_empty() => Scenario::bundled_store(),
        None => Scenario::parse_with_overrides(Scenario::BUNDLED_STORE, "store.toml", overrides)
            .map_err(|error| mistakes(&error))?,
    };
    // Checked before the run, as the JSON's path is.
    let topology = outputs
        .topology
        .as_deref()
        .map(|path| TopologyFormat::of(path).map(|format| (path, format)))
        .transpose()?;
    // The HTML page shows the critical path, which needs traces; a file's own `[tracing]`
    // settings are kept.
    let wants_traces = outputs.trace.is_some() || outputs.otlp.is_some() || outputs.html.is_some();
    let scenario = if wants_traces && scenario.tracing().is_none() {
        scenario.with_tracing(microsim::trace::Tracing::default())
    } else {
        scenario
    };
    // The JSON's destination is opened before the run: a path that cannot be written is
    // reported at once, not after the whole run.
    let mut json_out = match json {
        None => None,
        Some(path) if path == Path::new("-") => Some(JsonOut::Stdout),
        Some(path) => Some(JsonOut::File(
            path.to_path_buf(),
            std::fs::File::create(path).map_err(|error| json_error(path, &error))?,
        )),
    };
    let simulation = scenario
        .to_simulation(seed)
        .map_err(|error| error.to_string())?;
    let interrupt = simulation.interrupt_handle();
    // The first Ctrl-C stops the run at its current instant, and the partial report is
    // still printed; a second one exits at once.
    let _ = ctrlc::set_handler(move || {
        if interrupt.is_interrupted() {
            // Clear the progress bar's line, if one is drawn.
            eprint!("\r\x1b[2K");
            std::process::exit(130);
        }
        interrupt.interrupt();
    });
    let progress = simulation.progress();
    let bar = (!quiet && std::io::stderr().is_terminal())
        .then(|| spawn_progress_bar(progress, scenario.duration()));
    let outcome = simulation.run();
    if let Some((done, handle)) = bar {
        let _ = done.send(());
        let _ = handle.join();
    }
    let mut report: Report = outcome.map_err(|error| format!("the run failed: {error}"))?;
    report.overrides = scenario.overrides().map(ToString::to_string).collect();
    scenario.check_thresholds(&mut report);
    // The table shows its warnings; without the table, stderr does.
    if matches!(json, Some(path) if path == Path::new("-")) {
        for warning in report.warnings() {
            eprintln!("warning: {warning}");
        }
    }
    // JSON first: a reader of the table that goes away (`| head`) cannot lose it.
    match json_out.take() {
        Some(JsonOut::File(path, mut file)) => {
            writeln!(file, "{}", report.to_json()).map_err(|error| json_error(&path, &error))?;
            print_stdout(&report.to_string())?;
        }
        Some(JsonOut::Stdout) => print_stdout(&report.to_json())?,
        None => print_stdout(&report.to_string())?,
    }
    if let Some(path) = outputs.timeline.as_deref() {
        write_file(path, "timeline", &report.timeline.to_csv())?;
    }
    if let Some(traces) = &report.traces {
        if let Some(path) = outputs.trace.as_deref() {
            write_file(path, "trace", &traces.to_chrome_json())?;
        }
        if let Some(path) = outputs.otlp.as_deref() {
            write_file(path, "OpenTelemetry traces", &traces.to_otlp_json())?;
        }
    }
    if let Some(dir) = outputs.plots.as_deref() {
        std::fs::create_dir_all(dir)
            .map_err(|error| format!("could not make the folder {}: {error}", dir.display()))?;
        for (file, figure) in microsim::report::plots::figure_files(&report) {
            write_file(&dir.join(file), &figure.title, &figure.svg)?;
        }
    }
    if let Some(path) = outputs.percentiles.as_deref() {
        let text: String = report
            .workloads
            .iter()
            .map(|(name, workload)| format!("#[workload {name}]\n{}\n", workload.latency_hgrm))
            .collect();
        write_file(path, "percentiles", &text)?;
    }
    if let Some((path, format)) = topology {
        let topology = microsim::report::topology::Topology::of(&report);
        let text = match format {
            TopologyFormat::Dot => topology.to_dot(),
            TopologyFormat::Mermaid => topology.to_mermaid(),
        };
        write_file(path, "topology", &text)?;
    }
    if let Some(path) = outputs.html.as_deref() {
        write_file(path, "HTML report", &report.to_html(&report.figures()))?;
    }
    if file.is_none() && !matches!(json, Some(path) if path == Path::new("-")) {
        // The bundled store is the examples' store: say where its story goes on.
        print_stdout(STORE_NEXT)?;
    }
    match report.interrupted_at {
        Some(at) => {
            eprintln!("interrupted at {at:.3} s of simulated time");
            Ok(ExitCode::from(130))
        }
        None if report.thresholds_breached() => {
            let breached: Vec<String> = report
                .thresholds
                .iter()
                .filter(|result| !result.passed)
                .map(ToString::to_string)
                .collect();
            eprintln!(
                "{} of {} thresholds breached:\n  {}",
                breached.len(),
                report.thresholds.len(),
                breached.join("\n  ")
            );
            Ok(ExitCode::from(3))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Each mistake of a scenario file on a line of its own, after the `error: ` of the first:
/// the lines read `error: FILE:LINE:COLUMN: KEY: what is wrong` (or
/// `error: --set N (KEY=VALUE): KEY: what is wrong` for an override), then a line saying how many
/// more were found, if some are not listed.
fn mistakes(error: &ScenarioError) -> String {
    let lines: Vec<String> = error.errors().iter().map(ToString::to_string).collect();
    let mut text = lines.join("\nerror: ");
    match error.unlisted() {
        0 => {}
        1 => text.push_str("\n... and 1 more error"),
        n => text.push_str(&format!("\n... and {n} more errors")),
    }
    text
}

/// Where `--json` writes.
enum JsonOut {
    Stdout,
    File(PathBuf, std::fs::File),
}

fn json_error(path: &Path, error: &std::io::Error) -> String {
    format!(
        "could not write the JSON report to {}: {error}",
        path.display()
    )
}

/// Prints `text` and a newline on stdout. A closed stdout (the reader went away, as in
/// `microsim run | head -1`) is not an error: what the reader did not take is dropped.
fn print_stdout(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(format!("could not write the report to stdout: {error}")),
    }
}

/// Draws a progress bar on stderr once a run has taken longer than half a second: simulated
/// time done out of the duration, wall time, requests per wall-clock second.
fn spawn_progress_bar(
    progress: Progress,
    duration: Duration,
) -> (mpsc::Sender<()>, thread::JoinHandle<()>) {
    const PATIENCE: Duration = Duration::from_millis(500);
    const TICK: Duration = Duration::from_millis(100);
    let (done, finished) = mpsc::channel::<()>();
    let handle = thread::spawn(move || {
        let started = Instant::now();
        if finished.recv_timeout(PATIENCE).is_ok() {
            return;
        }
        let total = u64::try_from(duration.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        loop {
            let simulated = progress.simulated().min(duration);
            let wall = started.elapsed().as_secs_f64();
            let rate = progress.requests() as f64 / wall.max(1e-9);
            bar.set_position(u64::try_from(simulated.as_millis()).unwrap_or(u64::MAX));
            bar.set_message(format!(
                "{:.1}/{:.0} s simulated  {wall:.1} s wall  {rate:.0} requests/s",
                simulated.as_secs_f64(),
                duration.as_secs_f64()
            ));
            if finished.recv_timeout(TICK).is_ok() || progress.is_finished() {
                break;
            }
        }
        bar.finish_and_clear();
    });
    (done, handle)
}
