//! A sweep's report as a table: a row per point and workload, each figure a mean across
//! replications with its confidence interval.

use std::fmt;

use super::{SweepReport, ThresholdEstimate};
use crate::stats::Estimate;

/// `mean ± half width` with `digits` decimals; the mean alone when the interval is unknown
/// (one replication).
fn estimate(value: &Estimate, digits: usize, scale: f64) -> String {
    if value.is_known() {
        format!(
            "{:.digits$} ± {:.digits$}",
            value.mean * scale,
            value.half_width * scale
        )
    } else {
        format!("{:.digits$}", value.mean * scale)
    }
}

/// A threshold's verdict at a point: whether the whole interval is within the bounds, the
/// mean outside them, or neither.
fn verdict(threshold: &ThresholdEstimate) -> &'static str {
    let inside = |value: f64| {
        threshold.min.is_none_or(|min| value >= min) && threshold.max.is_none_or(|max| value <= max)
    };
    if threshold.holds {
        "holds"
    } else if threshold.error.is_some() || !inside(threshold.value.mean) {
        "BREACHED"
    } else {
        "not sure: the interval crosses the bound"
    }
}

impl fmt::Display for ThresholdEstimate {
    /// `METRIC  MEAN ± HALF <= BOUND  VERDICT`, then why the metric was missing, if it was.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  {} {}  {}",
            self.metric,
            estimate(&self.value, 3, 1.0),
            crate::report::threshold::bounds_text(self.min, self.max),
            verdict(self)
        )?;
        if let Some(error) = &self.error {
            write!(f, " ({error})")?;
        }
        Ok(())
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seeds = self.seeds.len();
        write!(
            f,
            "sweep of {}: {} points x {} seed{}",
            self.file,
            self.points_total,
            seeds,
            if seeds == 1 { "" } else { "s" }
        )?;
        if let Some(shard) = self.shard {
            write!(
                f,
                " (shard {}/{}: {} of the points)",
                shard.index,
                shard.count,
                self.points.len()
            )?;
        }
        if seeds > 1 {
            write!(
                f,
                "; mean ± half width of the {:.0}% confidence interval across the seeds; every \
                 point runs the same seeds (common random numbers)",
                self.level * 100.0
            )?;
        }
        if !self.overrides.is_empty() {
            write!(f, "\nat every point: {}", self.overrides.join(", "))?;
        }
        if self.interrupted {
            write!(
                f,
                "\nINTERRUPTED: {} of the {} points finished every replication; the others are \
                 left out, and so is the capacity",
                self.points.len(),
                self.points_total
            )?;
        }
        // The columns: the axes with more than one value, then the figures.
        let swept: Vec<usize> = (0..self.axes.len())
            .filter(|&i| self.axes[i].values.len() > 1)
            .collect();
        for axis in self.axes.iter().filter(|axis| axis.values.len() == 1) {
            write!(f, "\n{}={}", axis.key, axis.values[0])?;
        }
        let mut header: Vec<String> = vec!["point".into()];
        header.extend(swept.iter().map(|&i| self.axes[i].key.clone()));
        header.extend(
            [
                "workload",
                "mean ms",
                "p50 ms",
                "p99 ms",
                "completed/s",
                "failed %",
            ]
            .map(String::from),
        );
        let mut rows: Vec<Vec<String>> = Vec::new();
        for point in &self.points {
            for (name, w) in &point.workloads {
                let mut row = vec![(point.index + 1).to_string()];
                row.extend(swept.iter().map(|&i| point.settings[i].clone()));
                row.push(name.clone());
                row.push(estimate(&w.mean_ms, 3, 1.0));
                row.push(estimate(&w.p50_ms, 3, 1.0));
                row.push(estimate(&w.p99_ms, 3, 1.0));
                row.push(estimate(&w.throughput_per_s, 1, 1.0));
                row.push(estimate(&w.failure_rate, 2, 100.0));
                rows.push(row);
            }
        }
        let widths: Vec<usize> = (0..header.len())
            .map(|c| {
                rows.iter()
                    .map(|row| row[c].chars().count())
                    .chain([header[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        // Text columns (settings, workload names) to the left, figures to the right.
        let figures = header.len() - 5;
        let line = |cells: &[String]| -> String {
            cells
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    if c >= figures || c == 0 {
                        format!("{cell:>width$}", width = widths[c])
                    } else {
                        format!("{cell:<width$}", width = widths[c])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        write!(f, "\n\n{}", line(&header).trim_end())?;
        for row in &rows {
            write!(f, "\n{}", line(row).trim_end())?;
        }
        for point in &self.points {
            let mut names: Vec<&String> = point
                .replications
                .iter()
                .flat_map(|r| r.workloads.keys())
                .collect();
            names.sort();
            names.dedup();
            for name in names {
                let runs: Vec<&super::RunFigures> = point
                    .replications
                    .iter()
                    .filter_map(|r| r.workloads.get(name))
                    .collect();
                let short = runs.iter().filter(|run| run.warmup_short).count();
                if short > 0 {
                    let longest = runs
                        .iter()
                        .filter_map(|run| run.warmup_needed_s)
                        .fold(0.0, f64::max);
                    write!(
                        f,
                        "\nWARNING: point {} workload {name}: the warm-up was too short in {short} \
                         of {} runs (MSER-5 cuts up to {longest} s into the run; a cut at half the \
                         run means the latency never settled)",
                        point.index + 1,
                        runs.len()
                    )?;
                }
            }
        }
        if self.points.iter().any(|point| !point.thresholds.is_empty()) {
            write!(
                f,
                "\n\nthresholds (holds: the whole interval within the bound)"
            )?;
            for point in &self.points {
                for threshold in &point.thresholds {
                    write!(f, "\n  point {:>3}  {threshold}", point.index + 1)?;
                }
            }
        }
        for (workload, capacity) in &self.capacity {
            write!(f, "\n\ncapacity of {workload} over {}:", capacity.load_key)?;
            match &capacity.knee {
                Some(knee) => write!(
                    f,
                    " the p99 turns up at {} (knee, p99 {:.3} ms)",
                    knee.load, knee.p99_ms
                )?,
                None => write!(f, " no knee in the p99 (fewer than 3 loads, or no bend)")?,
            }
            if let Some(load) = &capacity.within_thresholds {
                write!(f, "; every threshold holds with confidence up to {load}")?;
            } else if self.points.iter().any(|point| !point.thresholds.is_empty()) {
                write!(
                    f,
                    "; the thresholds do not hold with confidence at any load"
                )?;
            }
        }
        Ok(())
    }
}
