//! Hedged requests (Dean and Barroso, *The Tail at Scale*): when a call has waited longer
//! than most calls take, send a second copy and take whichever answers first.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::metrics::LatencyHistogram;
use crate::rules;

/// When to send the second copy of a call.
///
/// The copy goes to the same service (its balancer may pick another replica); the first
/// answer wins and the other copy is cancelled: dropped if it is still waiting in a queue, and
/// ignored if it is already being handled. At most one copy is sent per attempt.
///
/// ```
/// use std::time::Duration;
/// use microsim::policy::Hedge;
/// let fixed = Hedge::after(Duration::from_millis(10));
/// let adaptive = Hedge::at_percentile(95.0);
/// # let _ = (fixed, adaptive);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Hedge {
    /// After a fixed delay.
    After {
        /// The delay.
        #[serde(with = "crate::duration_format")]
        delay: Duration,
    },
    /// After the given percentile of this caller's observed latencies to the callee (measured
    /// from the first copy's send to the first answer). No copies are sent until
    /// `min_samples` calls have been observed.
    Percentile {
        /// In (0, 100), e.g. 95.
        percentile: f64,
        /// Observations needed before hedging starts (default 100).
        #[serde(default = "default_min_samples")]
        min_samples: u64,
    },
}

fn default_min_samples() -> u64 {
    Hedge::DEFAULT_MIN_SAMPLES
}

impl Hedge {
    /// A second copy after `delay`.
    pub const fn after(delay: Duration) -> Self {
        Hedge::After { delay }
    }

    /// A second copy after the `percentile` of observed latency, once 100 calls have been
    /// observed.
    pub const fn at_percentile(percentile: f64) -> Self {
        Hedge::Percentile {
            percentile,
            min_samples: Hedge::DEFAULT_MIN_SAMPLES,
        }
    }

    /// Observations a percentile hedge waits for when it does not say: 100.
    pub const DEFAULT_MIN_SAMPLES: u64 = 100;

    /// The hedge's rules, each error naming its scenario-file key.
    pub(crate) fn validate(&self) -> Result<(), FieldError> {
        match *self {
            Hedge::After { .. } => Ok(()),
            Hedge::Percentile {
                percentile,
                min_samples,
            } => {
                if !(percentile > 0.0 && percentile < 100.0) {
                    return Err(FieldError::new(
                        "percentile",
                        format!("percentile must be within (0, 100), e.g. 95, got {percentile}"),
                    ));
                }
                rules::at_least("min_samples", min_samples, 1)
            }
        }
    }
}

/// Observed latencies, for a percentile-based hedge delay.
#[derive(Debug)]
pub(crate) struct HedgeDelay {
    hedge: Hedge,
    observed: LatencyHistogram,
    /// The delay, recomputed every so many observations (a quantile costs a histogram scan).
    cached: Option<Duration>,
    since_refresh: u64,
}

impl HedgeDelay {
    pub(crate) fn new(hedge: Hedge) -> Self {
        HedgeDelay {
            hedge,
            observed: LatencyHistogram::new(),
            cached: None,
            since_refresh: 0,
        }
    }

    /// The delay after which to hedge now, or `None` for no hedge.
    pub(crate) fn delay(&self) -> Option<Duration> {
        match self.hedge {
            Hedge::After { delay } => Some(delay),
            Hedge::Percentile { .. } => self.cached,
        }
    }

    /// Records how long a call took, from its first copy to its first answer.
    pub(crate) fn observe(&mut self, latency: Duration) {
        let Hedge::Percentile {
            percentile,
            min_samples,
        } = self.hedge
        else {
            return;
        };
        self.observed.record(latency);
        self.since_refresh += 1;
        let count = self.observed.count();
        if count >= min_samples.max(1) && (self.cached.is_none() || self.since_refresh >= 100) {
            self.cached = Some(self.observed.quantile(percentile / 100.0));
            self.since_refresh = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_delay_waits_for_samples_then_tracks_the_quantile() {
        let mut delay = HedgeDelay::new(Hedge::Percentile {
            percentile: 90.0,
            min_samples: 10,
        });
        for ms in 1..=9 {
            delay.observe(Duration::from_millis(ms));
        }
        assert_eq!(delay.delay(), None);
        delay.observe(Duration::from_millis(10));
        let p90 = delay.delay().expect("enough samples");
        assert!(
            (p90.as_secs_f64() - 0.009).abs() < 0.0001,
            "p90 of 1..=10 ms is 9 ms, got {p90:?}"
        );
        assert!(Hedge::at_percentile(100.0).validate().is_err());
        assert_eq!(
            HedgeDelay::new(Hedge::after(Duration::from_millis(3))).delay(),
            Some(Duration::from_millis(3))
        );
    }
}
