//! Where a swept load reaches its limits: the knee of each workload's p99 against the load,
//! and the highest load at which the scenario's thresholds hold with confidence.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::SweepReport;

/// The knee of a p99-against-load curve: the point furthest below the chord from the
/// lightest load to the heaviest, both scaled to [0, 1] (Kneedle's rule, Satopää et al.
/// 2011, for a convex rising curve) -- where the p99 stops following the load and starts to
/// run away from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Knee {
    /// The load there, as the axis writes it.
    pub load: String,
    /// The mean p99 there, ms.
    pub p99_ms: f64,
}

/// A workload's limits over the swept load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capacity {
    /// The swept load's key.
    pub load_key: String,
    /// The knee of the mean p99 against the load; `None` for fewer than 3 loads or a p99
    /// that does not bend upwards.
    pub knee: Option<Knee>,
    /// The highest load at which every threshold holds with confidence at it and at every
    /// lighter load; `None` when none is set or none holds at the lightest load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_thresholds: Option<String>,
}

/// The load axis of `report`, if it has one: its first axis, when its values are numbers in
/// rising order and every other axis has one value.
fn load_axis(report: &SweepReport) -> Option<Vec<f64>> {
    let first = report.axes.first()?;
    if report.axes[1..].iter().any(|axis| axis.values.len() > 1) {
        return None;
    }
    let loads: Vec<f64> = first
        .values
        .iter()
        .map(|value| value.parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<_>>()?;
    loads
        .windows(2)
        .all(|pair| pair[0] < pair[1])
        .then_some(loads)
}

/// The capacity of each workload of a whole sweep with a load axis; empty otherwise.
pub(super) fn of(report: &SweepReport) -> BTreeMap<String, Capacity> {
    let Some(loads) = load_axis(report) else {
        return BTreeMap::new();
    };
    let key = &report.axes[0].key;
    // Of the whole system, not of a workload: the same for each.
    let within_thresholds = within(report);
    let mut names: Vec<&String> = report
        .points
        .iter()
        .flat_map(|point| point.workloads.keys())
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let p99: Option<Vec<f64>> = report
                .points
                .iter()
                .map(|point| point.workloads.get(name).map(|w| w.p99_ms.mean))
                .collect();
            let knee = p99.and_then(|p99| knee(&loads, &p99)).map(|i| Knee {
                load: report.axes[0].values[i].clone(),
                p99_ms: report.points[i].workloads[name].p99_ms.mean,
            });
            (
                name.clone(),
                Capacity {
                    load_key: key.clone(),
                    knee,
                    within_thresholds: within_thresholds.clone(),
                },
            )
        })
        .collect()
}

/// The highest load up to which every point's thresholds hold with confidence.
fn within(report: &SweepReport) -> Option<String> {
    if report
        .points
        .iter()
        .all(|point| point.thresholds.is_empty())
    {
        return None;
    }
    let holding = report
        .points
        .iter()
        .take_while(|point| point.thresholds.iter().all(|t| t.holds))
        .count();
    holding
        .checked_sub(1)
        .map(|last| report.axes[0].values[last].clone())
}

/// The index of the knee of `y` against rising `x` (see [`Knee`]).
pub(crate) fn knee(x: &[f64], y: &[f64]) -> Option<usize> {
    if x.len() < 3 || x.len() != y.len() || y.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let (x0, x1) = (x[0], x[x.len() - 1]);
    let (y0, y1) = (y[0], y[y.len() - 1]);
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let below_chord = |i: usize| (x[i] - x0) / (x1 - x0) - (y[i] - y0) / (y1 - y0);
    let (best, gap) = (1..x.len() - 1)
        .map(|i| (i, below_chord(i)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    (gap > 0.0).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_knee_of_an_m_m_1_curve_is_where_it_turns_up() {
        // Mean response of M/M/1 with mu = 1: 1 / (1 - rho).
        let rho = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
        let response: Vec<f64> = rho.iter().map(|r| 1.0 / (1.0 - r)).collect();
        // Furthest below the chord from (0.1, 1.11) to (0.95, 20): rho 0.8 (scaled gap 0.62).
        assert_eq!(knee(&rho, &response), Some(7));
        // A straight line has no knee; nor has a falling curve or too few points.
        assert_eq!(knee(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), None);
        assert_eq!(knee(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), None);
        assert_eq!(knee(&[1.0, 2.0], &[1.0, 5.0]), None);
    }
}
