//! Two reports side by side: each figure of each workload and service, in both, with its
//! change -- and, for two multi-seed runs or sweeps, whether the change exceeds the noise
//! between their replications.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Report;

/// One figure in both reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiffRow {
    /// Where: `workloads.checkout`, `services.payment`, or a sweep point's
    /// `point 2 (KEY=VALUE) workloads.checkout`.
    pub place: String,
    /// What: `p99_ms`, `throughput_per_s`, ...
    pub figure: String,
    /// In the first report; `None` when it does not have the place.
    pub a: Option<f64>,
    /// In the second.
    pub b: Option<f64>,
    /// Whether `b` differs from `a` by more than their replications' noise (Welch's t-test
    /// at 95%); `None` when the reports have no replications to tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub significant: Option<bool>,
}

impl DiffRow {
    /// `b - a`, when both are known.
    pub fn change(&self) -> Option<f64> {
        Some(self.b? - self.a?)
    }

    /// The change relative to `a`, when both are known and `a` is not 0.
    pub fn relative(&self) -> Option<f64> {
        let (a, b) = (self.a?, self.b?);
        (a != 0.0).then(|| (b - a) / a.abs())
    }
}

/// Two reports compared (see the [module](self)).
///
/// ```
/// use microsim::report::diff::Diff;
/// use microsim::{ClockKind, Report};
///
/// let a = Report::new(1, ClockKind::Virtual);
/// let diff = Diff::of_reports(&a, &a.clone());
/// assert!(diff.rows.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Diff {
    /// How each side is named in the table.
    pub a_name: String,
    /// The second's name.
    pub b_name: String,
    /// Each figure, in order of place and figure.
    pub rows: Vec<DiffRow>,
}

/// The figures compared, per workload.
const WORKLOAD_FIGURES: [&str; 9] = [
    "sent",
    "completed",
    "failed",
    "throughput_per_s",
    "mean_ms",
    "p50_ms",
    "p99_ms",
    "p999_ms",
    "settled_p99_ms",
];

/// The figures compared, per service.
const SERVICE_FIGURES: [&str; 6] = [
    "handled",
    "rejected",
    "failed",
    "utilization",
    "queue_wait_p99_ms",
    "p99_ms",
];

fn workload_figure(w: &super::WorkloadReport, figure: &str) -> Option<f64> {
    Some(match figure {
        "sent" => w.counts.sent as f64,
        "completed" => w.counts.completed as f64,
        "failed" => w.counts.failed as f64,
        "throughput_per_s" => w.throughput_per_s,
        "mean_ms" => w.latency_ms.mean,
        "p50_ms" => w.latency_ms.p50,
        "p99_ms" => w.latency_ms.p99,
        "p999_ms" => w.latency_ms.p999,
        "settled_p99_ms" => w.settled_ms.p99,
        _ => return None,
    })
}

fn service_figure(s: &super::ServiceReport, figure: &str) -> Option<f64> {
    match figure {
        "handled" => Some(s.counts.handled as f64),
        "rejected" => Some(s.counts.rejected as f64),
        "failed" => Some(s.counts.failed as f64),
        "utilization" => s.utilization,
        "queue_wait_p99_ms" => Some(s.queue_wait_ms.p99),
        "p99_ms" => Some(s.latency_ms.p99),
        _ => None,
    }
}

/// The names in either map, in order.
fn names<'a, V>(
    a: &'a std::collections::BTreeMap<String, V>,
    b: &'a std::collections::BTreeMap<String, V>,
) -> Vec<&'a String> {
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    names
}

impl Diff {
    /// Two single runs' reports compared: no replications, so no change is flagged.
    pub fn of_reports(a: &Report, b: &Report) -> Diff {
        let mut rows = Vec::new();
        for name in names(&a.workloads, &b.workloads) {
            for figure in WORKLOAD_FIGURES {
                rows.push(DiffRow {
                    place: format!("workloads.{name}"),
                    figure: figure.to_string(),
                    a: a.workloads
                        .get(name)
                        .and_then(|w| workload_figure(w, figure)),
                    b: b.workloads
                        .get(name)
                        .and_then(|w| workload_figure(w, figure)),
                    significant: None,
                });
            }
        }
        for name in names(&a.services, &b.services) {
            for figure in SERVICE_FIGURES {
                rows.push(DiffRow {
                    place: format!("services.{name}"),
                    figure: figure.to_string(),
                    a: a.services.get(name).and_then(|s| service_figure(s, figure)),
                    b: b.services.get(name).and_then(|s| service_figure(s, figure)),
                    significant: None,
                });
            }
        }
        rows.retain(|row| row.a.is_some() || row.b.is_some());
        Diff {
            a_name: "A".to_string(),
            b_name: "B".to_string(),
            rows,
        }
    }

    /// Names the two sides in the table.
    #[must_use]
    pub fn named(mut self, a: &str, b: &str) -> Self {
        a.clone_into(&mut self.a_name);
        b.clone_into(&mut self.b_name);
        self
    }

    /// Whether any change is flagged as beyond the noise.
    pub fn any_significant(&self) -> bool {
        self.rows.iter().any(|row| row.significant == Some(true))
    }

    /// The diff as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a diff always serialises")
    }
}

fn number(value: Option<f64>) -> String {
    match value {
        None => "-".to_string(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) => format!("{v:.3}"),
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flagged = self.rows.iter().any(|row| row.significant.is_some());
        let cells: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|row| {
                [
                    row.place.clone(),
                    row.figure.clone(),
                    number(row.a),
                    number(row.b),
                    row.change().map_or("-".to_string(), |c| {
                        let sign = if c > 0.0 { "+" } else { "" };
                        format!("{sign}{}", number(Some(c)))
                    }),
                    row.relative().map_or(String::new(), |r| {
                        let mark = match row.significant {
                            Some(true) => "  *",
                            _ => "",
                        };
                        format!("{:+.1}%{mark}", r * 100.0)
                    }),
                ]
            })
            .collect();
        let header = [
            "where".to_string(),
            "figure".to_string(),
            self.a_name.clone(),
            self.b_name.clone(),
            "change".to_string(),
            String::new(),
        ];
        let widths: Vec<usize> = (0..6)
            .map(|c| {
                cells
                    .iter()
                    .map(|row| row[c].chars().count())
                    .chain([header[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |row: &[String; 6]| -> String {
            row.iter()
                .enumerate()
                .map(|(c, cell)| {
                    if c < 2 || c == 5 {
                        format!("{cell:<width$}", width = widths[c])
                    } else {
                        format!("{cell:>width$}", width = widths[c])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        write!(f, "{}", line(&header))?;
        let mut previous = "";
        for (row, cells) in self.rows.iter().zip(&cells) {
            if !previous.is_empty() && previous != row.place {
                writeln!(f)?;
            }
            previous = &row.place;
            write!(f, "\n{}", line(cells))?;
        }
        if flagged {
            write!(
                f,
                "\n\n* the change exceeds the noise between the replications (Welch's t-test, 95%)"
            )?;
        } else {
            write!(
                f,
                "\n\nsingle runs: no replications to tell a change from noise (run both with \
                 --seeds N to flag the changes that exceed it)"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_give_both_values_and_the_change() {
        let mut a = Report::new(1, crate::ClockKind::Virtual);
        let mut workload = super::super::WorkloadReport::default();
        workload.latency_ms.p99 = 10.0;
        workload.counts.sent = 100;
        a.workloads.insert("checkout".into(), workload.clone());
        let mut b = a.clone();
        b.workloads.get_mut("checkout").unwrap().latency_ms.p99 = 12.5;
        b.workloads.insert("browse".into(), workload);
        let diff = Diff::of_reports(&a, &b);
        let p99 = diff
            .rows
            .iter()
            .find(|r| r.place == "workloads.checkout" && r.figure == "p99_ms")
            .unwrap();
        assert_eq!(
            (p99.a, p99.b, p99.change()),
            (Some(10.0), Some(12.5), Some(2.5))
        );
        assert_eq!(p99.relative(), Some(0.25));
        let browse = diff
            .rows
            .iter()
            .find(|r| r.place == "workloads.browse" && r.figure == "sent")
            .unwrap();
        assert_eq!((browse.a, browse.b), (None, Some(100.0)));
        let table = diff.to_string();
        assert!(table.contains("+25.0%"), "{table}");
        assert!(table.contains("single runs"), "{table}");
        assert!(!diff.any_significant());
    }
}
