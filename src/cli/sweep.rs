//! `microsim sweep` and `microsim merge`: a scenario at every combination of some of its
//! keys' values, replicated over seeds, in parallel or in shards; and the shards put together.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use microsim::scenario::{Override, Scenario};
use microsim::sweep::{Axis, Shard, Sweep, SweepReport};

/// `microsim sweep`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct SweepArgs {
    /// The scenario file (TOML; see SCENARIOS.md).
    file: PathBuf,
    /// Sweeps KEY over the values V1, V2, ... (commas inside a TOML value do not split it);
    /// repeatable: the sweep runs every combination. A single value sets KEY at every point.
    #[arg(long = "set", value_name = "KEY=V1,V2,...")]
    set: Vec<String>,
    /// Replications of each point: seeds derived from the file's seed, the same at every
    /// point (common random numbers). At least 2 for confidence intervals.
    #[arg(long, default_value_t = 5, value_name = "N")]
    seeds: usize,
    /// Simulations run at once, each on its own thread (default: every core).
    #[arg(long, value_name = "J")]
    jobs: Option<usize>,
    /// Also write the sweep as JSON to this path (`-`: the JSON instead of the table on
    /// stdout); `microsim merge` reads it back.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Runs every N-th point only, from the I-th (1 <= I <= N); `auto/N` reads I from a
    /// Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or a Slurm array (SLURM_ARRAY_TASK_ID).
    #[arg(long, value_name = "I/N|auto/N")]
    shard: Option<String>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// `microsim merge`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct MergeArgs {
    /// The shards' JSON reports (`microsim sweep --shard I/N --json PATH`), in any order.
    #[arg(required = true, value_name = "SHARD.json")]
    files: Vec<PathBuf>,
    /// Write the whole sweep's JSON to this path (`-`: to stdout instead of the table); the
    /// same bytes as one process running the whole sweep would write.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

pub(crate) fn sweep(args: &SweepArgs) -> Result<ExitCode, String> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|error| format!("could not read {}: {error}", args.file.display()))?;
    let origin = args.file.file_name().map_or_else(
        || args.file.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let mut sweep = Sweep::new(&text, &origin)
        .seeds(args.seeds)
        .keep_reports(false);
    if let Some(jobs) = args.jobs {
        sweep = sweep.jobs(jobs);
    }
    for (i, argument) in args.set.iter().enumerate() {
        let axis = Axis::parse(argument).map_err(|error| format!("--set {}: {error}", i + 1))?;
        sweep = sweep.axis(axis);
    }
    if let Some(shard) = &args.shard {
        sweep = sweep.shard(Shard::parse(shard, |name| std::env::var(name).ok())?);
    }
    let report = run_sweep(&sweep, args.json.as_deref(), args.quiet)?;
    Ok(if report.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// `microsim run FILE --seeds N`: a sweep of one point, `N` replications.
pub(crate) fn replications(
    file: Option<&Path>,
    overrides: &[Override],
    seed: Option<u64>,
    seeds: usize,
    json: Option<&Path>,
    quiet: bool,
) -> Result<ExitCode, String> {
    let (text, origin) = match file {
        Some(file) => (
            std::fs::read_to_string(file)
                .map_err(|error| format!("could not read {}: {error}", file.display()))?,
            file.file_name().map_or_else(
                || file.display().to_string(),
                |name| name.to_string_lossy().into_owned(),
            ),
        ),
        None => (
            Scenario::BUNDLED_STORE.to_string(),
            "store.toml".to_string(),
        ),
    };
    let mut sweep = Sweep::new(&text, &origin).seeds(seeds).keep_reports(false);
    for setting in overrides {
        sweep = sweep.set(setting.clone());
    }
    if let Some(seed) = seed {
        let setting = Override::parse(&format!("simulation.seed={seed}"))
            .map_err(|error| error.to_string())?;
        sweep = sweep.set(setting);
    }
    let report = run_sweep(&sweep, json, quiet)?;
    if report.interrupted {
        return Ok(ExitCode::from(130));
    }
    let unsure: Vec<String> = report
        .points
        .iter()
        .flat_map(|point| &point.thresholds)
        .filter(|threshold| !threshold.holds)
        .map(ToString::to_string)
        .collect();
    if unsure.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} thresholds do not hold with confidence over {seeds} seeds:\n  {}",
            unsure.len(),
            unsure.join("\n  ")
        );
        Ok(ExitCode::from(3))
    }
}

/// Runs `sweep` with a progress bar over its runs, then writes it.
fn run_sweep(sweep: &Sweep, json: Option<&Path>, quiet: bool) -> Result<SweepReport, String> {
    let bar = (!quiet).then(|| {
        let bar =
            ProgressBar::with_draw_target(Some(sweep.runs() as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} runs  {elapsed} elapsed, {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let progress = |done: usize, _: usize| {
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
        }
    };
    // The first Ctrl-C stops the runs at their current instant and keeps the finished
    // points; a second one exits at once.
    let interrupt = sweep.interrupt_handle();
    let _ = ctrlc::set_handler(move || {
        if interrupt.is_interrupted() {
            eprint!("\r\x1b[2K");
            std::process::exit(130);
        }
        interrupt.interrupt();
    });
    let report = sweep.run_with_progress(&progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report.map_err(|error| error.to_string())?;
    output(&report, json)?;
    Ok(report)
}

pub(crate) fn merge(args: &MergeArgs) -> Result<ExitCode, String> {
    let shards = args
        .files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("could not read {}: {error}", path.display()))?;
            SweepReport::from_json(&text)
                .map_err(|error| format!("{}: not a sweep's JSON report: {error}", path.display()))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let whole = SweepReport::merge(shards)?;
    output(&whole, args.json.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the JSON where asked, and the table on stdout unless the JSON goes there.
fn output(report: &SweepReport, json: Option<&Path>) -> Result<(), String> {
    match json {
        Some(path) if path == Path::new("-") => crate::print_stdout(&report.to_json()),
        Some(path) => {
            crate::write_file(path, "sweep's JSON", &format!("{}\n", report.to_json()))?;
            crate::print_stdout(&report.to_string())
        }
        None => crate::print_stdout(&report.to_string()),
    }
}
