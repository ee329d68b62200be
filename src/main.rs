//! The `microsim` command: run a scenario file and print its latency report.
//!
//! ```text
//! microsim run [FILE] [--seed N] [--json PATH] [--quiet]   # without FILE: the bundled store
//! microsim check FILE
//! ```
//!
//! Exit codes: 0 success; 1 the scenario is invalid or the run failed (message on stderr);
//! 2 bad command-line usage.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use microsim::scenario::Scenario;
use microsim::{Progress, Report};

/// Simulate how microservices communicate: latency end to end and hop by hop, on a virtual
/// clock, reproducible from a seed.
#[derive(Debug, Parser)]
#[command(name = "microsim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario and print its report (the bundled online store if FILE is omitted).
    Run {
        /// The scenario file (TOML; see SCENARIOS.md).
        file: Option<PathBuf>,
        /// Overrides the file's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Also write the report as JSON to this path.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Check a scenario file without running it.
    Check {
        /// The scenario file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run {
        file: None,
        seed: None,
        json: None,
        quiet: false,
    });
    let result = match command {
        Command::Run {
            file,
            seed,
            json,
            quiet,
        } => run(file.as_deref(), seed, json.as_deref(), quiet),
        Command::Check { file } => check(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

fn check(file: &Path) -> Result<(), String> {
    Scenario::load(file).map_err(|error| error.to_string())?;
    println!("{}: ok", file.display());
    Ok(())
}

fn run(
    file: Option<&Path>,
    seed: Option<u64>,
    json: Option<&Path>,
    quiet: bool,
) -> Result<(), String> {
    let scenario = match file {
        Some(file) => Scenario::load(file).map_err(|error| error.to_string())?,
        None => Scenario::bundled_store(),
    };
    let simulation = scenario
        .to_simulation(seed)
        .map_err(|error| error.to_string())?;
    let progress = simulation.progress();
    let bar = (!quiet && std::io::stderr().is_terminal())
        .then(|| spawn_progress_bar(progress, scenario.duration()));
    let outcome = simulation.run();
    if let Some((done, handle)) = bar {
        let _ = done.send(());
        let _ = handle.join();
    }
    let report: Report = outcome.map_err(|error| format!("the run failed: {error}"))?;
    println!("{report}");
    if let Some(path) = json {
        std::fs::write(path, report.to_json() + "\n").map_err(|error| {
            format!(
                "could not write the JSON report to {}: {error}",
                path.display()
            )
        })?;
    }
    Ok(())
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
