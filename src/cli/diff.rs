//! `microsim diff A.json B.json`: two reports side by side.

use std::path::PathBuf;
use std::process::ExitCode;

use microsim::Report;
use microsim::report::diff::Diff;
use microsim::sweep::SweepReport;

/// `microsim diff`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct DiffArgs {
    /// The first report: `microsim run --json`, or `microsim sweep --json` / `run --seeds N
    /// --json` for changes flagged against the noise.
    a: PathBuf,
    /// The second, of the same kind.
    b: PathBuf,
    /// Write the diff as JSON to this path (`-`: to stdout instead of the table).
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

/// One side: a single run's report or a sweep's.
enum Side {
    Run(Box<Report>),
    Sweep(Box<SweepReport>),
}

fn read(path: &PathBuf) -> Result<Side, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("could not read {}: {error}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| format!("{}: not JSON: {error}", path.display()))?;
    if value.get("points").is_some() {
        SweepReport::from_json(&text)
            .map(|sweep| Side::Sweep(Box::new(sweep)))
            .map_err(|error| format!("{}: not a sweep's JSON report: {error}", path.display()))
    } else {
        Report::from_json(&text)
            .map(|report| Side::Run(Box::new(report)))
            .map_err(|error| format!("{}: not a report's JSON: {error}", path.display()))
    }
}

pub(crate) fn diff(args: &DiffArgs) -> Result<ExitCode, String> {
    let diff = match (read(&args.a)?, read(&args.b)?) {
        (Side::Run(a), Side::Run(b)) => Diff::of_reports(&a, &b),
        (Side::Sweep(a), Side::Sweep(b)) => a.diff(&b),
        _ => {
            return Err(format!(
                "{} and {} are not of one kind: compare two runs' reports or two sweeps'",
                args.a.display(),
                args.b.display()
            ));
        }
    };
    let name = |path: &PathBuf| {
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let diff = diff.named(&name(&args.a), &name(&args.b));
    match &args.json {
        Some(path) if path.as_os_str() == "-" => crate::print_stdout(&diff.to_json())?,
        Some(path) => {
            crate::write_file(path, "diff", &format!("{}\n", diff.to_json()))?;
            crate::print_stdout(&diff.to_string())?;
        }
        None => crate::print_stdout(&diff.to_string())?,
    }
    Ok(ExitCode::SUCCESS)
}
