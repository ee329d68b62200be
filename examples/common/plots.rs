//! What the examples that draw plots share: their `--plots DIR` argument and the writing of
//! a report's figures as SVG files. Included by `#[path]`, not an example of its own.

use std::path::{Path, PathBuf};

use microsim::Report;
use microsim::report::plots::figure_files;

/// The folder given as `--plots DIR` (or `--plots=DIR`) to example `name`, if any.
pub fn plots_dir(name: &str) -> Result<Option<PathBuf>, String> {
    let usage = format!("usage: {name} [--plots DIR]");
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    while let Some(arg) = args.next() {
        if arg == "--plots" {
            dir = Some(args.next().ok_or_else(|| usage.clone())?.into());
        } else if let Some(value) = arg.strip_prefix("--plots=") {
            dir = Some(value.into());
        } else {
            return Err(format!("unknown argument {arg:?}; {usage}"));
        }
    }
    Ok(dir)
}

/// Writes `report`'s figures as SVG files into `dir` (made if missing).
pub fn write_plots(report: &Report, dir: &Path) -> Result<(), String> {
    let failed = |error: std::io::Error| format!("could not write {}: {error}", dir.display());
    std::fs::create_dir_all(dir).map_err(failed)?;
    for (file, figure) in figure_files(report) {
        std::fs::write(dir.join(file), figure.svg).map_err(failed)?;
    }
    Ok(())
}
