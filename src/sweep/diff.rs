//! Two sweeps (or multi-seed runs) compared point by point, each change flagged when it
//! exceeds the noise between the replications.

use super::{PointReport, SweepReport, WorkloadEstimates};
use crate::report::diff::{Diff, DiffRow};
use crate::stats::Estimate;

/// How to read one figure from a point's estimates.
type Figure = fn(&WorkloadEstimates) -> &Estimate;

/// The figures compared, with how to read them from a point's estimates.
const FIGURES: [(&str, Figure); 5] = [
    ("mean_ms", |w| &w.mean_ms),
    ("p50_ms", |w| &w.p50_ms),
    ("p99_ms", |w| &w.p99_ms),
    ("throughput_per_s", |w| &w.throughput_per_s),
    ("failure_rate", |w| &w.failure_rate),
];

impl SweepReport {
    /// The point's name in a diff: its number and settings of the swept axes.
    fn point_name(&self, point: &PointReport) -> String {
        let settings: Vec<String> = self
            .axes
            .iter()
            .zip(&point.settings)
            .filter(|(axis, _)| axis.values.len() > 1)
            .map(|(axis, value)| format!("{}={value}", axis.key))
            .collect();
        if settings.is_empty() {
            String::new()
        } else {
            format!("point {} ({}) ", point.index + 1, settings.join(", "))
        }
    }

    /// `self` against `other`: the points of the same settings (by number when the axes
    /// differ), each workload's figures with their change, flagged where Welch's t-test at
    /// the sweeps' level says the means differ.
    pub fn diff(&self, other: &SweepReport) -> Diff {
        let same_axes = self
            .axes
            .iter()
            .map(|a| &a.key)
            .eq(other.axes.iter().map(|a| &a.key));
        let mut rows = Vec::new();
        for point in &self.points {
            let theirs = other.points.iter().find(|p| {
                if same_axes {
                    p.settings == point.settings
                } else {
                    p.index == point.index
                }
            });
            let Some(theirs) = theirs else { continue };
            let mut names: Vec<&String> = point
                .workloads
                .keys()
                .chain(theirs.workloads.keys())
                .collect();
            names.sort();
            names.dedup();
            for name in names {
                let (a, b) = (point.workloads.get(name), theirs.workloads.get(name));
                for (figure, of) in FIGURES {
                    let (ea, eb) = (a.map(of), b.map(of));
                    rows.push(DiffRow {
                        place: format!("{}workloads.{name}", self.point_name(point)),
                        figure: figure.to_string(),
                        a: ea.map(|e| e.mean),
                        b: eb.map(|e| e.mean),
                        significant: match (ea, eb) {
                            (Some(ea), Some(eb)) if ea.is_known() && eb.is_known() => {
                                Some(ea.differs_from(eb, self.level))
                            }
                            _ => None,
                        },
                    });
                }
            }
        }
        Diff {
            a_name: "A".to_string(),
            b_name: "B".to_string(),
            rows,
        }
    }
}
