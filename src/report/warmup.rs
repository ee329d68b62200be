//! The warm-up a run needed: where each workload's latency stops drifting from the empty
//! start, estimated by MSER-5 ([`mser5`]) on its mean latency window by window
//! ([`WorkloadTimeline::mean_ms`]), so that a warm-up too short for the model is flagged
//! instead of silently biasing the figures.
//!
//! A run starts with empty queues, so the first requests wait less than the steady state
//! would have them wait (or, after a burst, more); figures measured from the start carry that
//! bias. MSER-5 cuts the series where the mean of what is left is most precise: discarding a
//! transient removes much spread, discarding steady data only shortens the series.
//!
//! The estimate is made for workloads whose load does not change by design -- a constant
//! rate or a constant number of users -- in runs without scheduled faults and not
//! interrupted; for a staged or replayed load, or a fault, the drift is the point of the
//! model, not a warm-up. Its resolution is five windows (MSER-5's batches): a hundredth of
//! the duration each by default, so the estimate is a multiple of 5% of the run. It needs
//! at least ten windows with completions.
//!
//! ```
//! use microsim::report::timeline::WorkloadTimeline;
//! use microsim::report::warmup::WarmupEstimate;
//!
//! // 100 windows of 1 s: a queue filling for the first 12 s, then steady.
//! let mut series = WorkloadTimeline::default();
//! series.mean_ms = (0..100)
//!     .map(|i| Some(if i < 12 { 2.0 + i as f64 } else { 14.0 + (i % 3) as f64 }))
//!     .collect();
//! series.completed = vec![100; 100];
//! let estimate = WarmupEstimate::of(&series, 1.0, 5.0).unwrap();
//! assert_eq!(estimate.needed_s, 15.0); // the first multiple of 5 windows past the transient
//! assert!(estimate.settled);
//! // With 5 s configured, the windows from 5 s to 15 s pull the mean down by far more than
//! // twice the steady part's noise.
//! assert!(estimate.bias_ms < -estimate.noise_ms);
//! assert!(estimate.is_short());
//! ```

use serde::{Deserialize, Serialize};

use super::timeline::WorkloadTimeline;
use crate::stats::{Estimate, mser5, student_t_quantile};

/// A workload's estimated warm-up (see the [module](self)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WarmupEstimate {
    /// Simulated seconds from the start after which the workload's latency is steady: the
    /// warm-up the run needed, by MSER-5 on its windows' mean latency.
    pub needed_s: f64,
    /// The warm-up the run had, seconds.
    pub configured_s: f64,
    /// False when the latency had not settled by the middle of the run: MSER-5 cut at the
    /// end of its search, half the series, and the half left still has a trend (its batch
    /// means' least-squares slope is not zero at 99%). Run longer, or load less.
    pub settled: bool,
    /// The mean latency after the configured warm-up less the mean after the needed one, ms:
    /// the bias the start leaves in the report's mean (0 when the warm-up is long enough).
    pub bias_ms: f64,
    /// The half width of the 95% interval of the steady mean (Student-t on batches of 5
    /// windows after the needed warm-up), ms: the noise the bias is weighed against.
    pub noise_ms: f64,
}

impl WarmupEstimate {
    /// The estimate for `series`, windows of `window_seconds`, in a run whose warm-up was
    /// `configured_s`; `None` with fewer than ten windows in which requests completed.
    /// Windows without completions are left out of the series.
    pub fn of(series: &WorkloadTimeline, window_seconds: f64, configured_s: f64) -> Option<Self> {
        let (windows, means): (Vec<usize>, Vec<f64>) = series
            .mean_ms
            .iter()
            .enumerate()
            .filter_map(|(window, mean)| mean.map(|mean| (window, mean)))
            .unzip();
        if means.len() < 10 {
            return None;
        }
        let cut = mser5(&means);
        // mser5 searches d <= b / 2 batches of 5: a cut there may be a series still drifting
        // -- or chance, in a stationary one; a trend in what is left tells them apart.
        let at_limit = cut / 5 >= (means.len() / 5) / 2;
        let batches: Vec<f64> = means[cut..]
            .chunks_exact(5)
            .map(|batch| batch.iter().sum::<f64>() / 5.0)
            .collect();
        let settled = !(at_limit && drifts(&batches));
        let needed_s = windows.get(cut).map_or(0.0, |&window| window as f64) * window_seconds;
        // The report's mean from the configured warm-up on, and the steady one, each weighted
        // by the windows' completions as the report's is.
        let weighted = |from: usize| {
            let (sum, count) = windows[from..].iter().zip(&means[from..]).fold(
                (0.0, 0.0),
                |(sum, count), (&window, &mean)| {
                    let n = series.completed.get(window).copied().unwrap_or(0) as f64;
                    (sum + mean * n, count + n)
                },
            );
            if count > 0.0 { sum / count } else { 0.0 }
        };
        let kept = windows.partition_point(|&window| {
            (window as f64) * window_seconds < configured_s * (1.0 - 1e-12)
        });
        let (bias_ms, noise_ms) = if cut > kept {
            let noise = Estimate::of(&batches, 0.95).half_width;
            (weighted(kept) - weighted(cut), noise)
        } else {
            (0.0, 0.0)
        };
        Some(WarmupEstimate {
            needed_s,
            configured_s,
            settled,
            bias_ms,
            noise_ms,
        })
    }

    /// Whether the run's warm-up was too short: the latency never settled, or the estimate
    /// is longer and the start it leaves in the figures moves their mean by more than twice
    /// the noise.
    ///
    /// MSER-5 alone cuts a stationary series late by chance now and then (a queue at
    /// rho 0.8 started empty, whose transient lasts a tenth of a second, got cuts of up to
    /// 18 s of 30); weighing the bias against the noise keeps those quiet. Twice, because
    /// the cut is chosen where the series looks steadiest: over 200 seeds of an M/M/1 started
    /// empty at rho 0.8 and 0.9, the bias passed the noise in 7 and 17 runs, and twice the
    /// noise in 1 and 3.
    pub fn is_short(&self) -> bool {
        !self.settled || self.bias_ms.abs() > 2.0 * self.noise_ms
    }

    /// What to tell the user about workload `name`, if the warm-up was too short.
    pub fn warning(&self, name: &str) -> Option<String> {
        if !self.is_short() {
            return None;
        }
        let bias = format!(
            "the start moves its mean latency by {:+.3} ms, more than twice the noise of ±{:.3} ms",
            self.bias_ms, self.noise_ms
        );
        Some(if self.settled {
            format!(
                "workload {name}: its latency settles only after about {} s (MSER-5 on the \
                 timeline's mean latency), later than the warm-up of {} s; {bias}: set \
                 simulation.warmup to {} s or more",
                self.needed_s, self.configured_s, self.needed_s
            )
        } else {
            format!(
                "workload {name}: its latency had not settled by the middle of the run (MSER-5 \
                 on the timeline's mean latency); {bias}: the figures are not steady-state \
                 ones: run longer, or check that the load is below capacity"
            )
        })
    }
}

/// Whether `series` has a trend: its least-squares slope against the index differs from 0
/// at 99% (Student-t on `n - 2` degrees of freedom); a series of fewer than 3 has none.
fn drifts(series: &[f64]) -> bool {
    let n = series.len();
    if n < 3 {
        return false;
    }
    let count = n as f64;
    let x_mean = (count - 1.0) / 2.0;
    let y_mean = series.iter().sum::<f64>() / count;
    let (sxx, sxy) = series
        .iter()
        .enumerate()
        .fold((0.0, 0.0), |(sxx, sxy), (i, &y)| {
            let dx = i as f64 - x_mean;
            (sxx + dx * dx, sxy + dx * (y - y_mean))
        });
    let slope = sxy / sxx;
    let residuals: f64 = series
        .iter()
        .enumerate()
        .map(|(i, &y)| (y - y_mean - slope * (i as f64 - x_mean)).powi(2))
        .sum();
    let standard_error = (residuals / (count - 2.0) / sxx).sqrt();
    if standard_error == 0.0 {
        return slope != 0.0;
    }
    (slope / standard_error).abs() > student_t_quantile(0.995, count - 2.0)
}

impl super::Report {
    /// What the report warns of, one message each, in workload order: a warm-up shorter than
    /// the run needed ([`WarmupEstimate::warning`]). The table prints them under its title,
    /// and the command on stderr.
    pub fn warnings(&self) -> Vec<String> {
        self.warmup
            .iter()
            .filter_map(|(name, estimate)| estimate.warning(name))
            .collect()
    }
}
