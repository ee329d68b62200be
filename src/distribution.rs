//! Random durations: how long a network hop or a piece of work takes.
//!
//! A [`Distribution`] describes the spread of a delay — a link's latency, a
//! service's processing time — and draws concrete [`Duration`]s from it with
//! a caller-supplied random number generator, so a simulation seeded the same
//! way replays the same delays.
//!
//! Scenario files write a distribution as a one-key table naming the kind,
//! with durations as strings with units (see [`crate::duration_format`]):
//!
//! ```toml
//! latency = { constant = "200us" }
//! latency = { uniform = { min = "1ms", max = "5ms" } }
//! latency = { exponential = { mean = "1ms" } }
//! latency = { normal = { mean = "1ms", std_dev = "200us" } }
//! latency = { lognormal = { mean = "2ms", std_dev = "1ms" } }
//! latency = { lognormal = { p50 = "20ms", p99 = "80ms" } }
//! latency = { pareto = { scale = "1ms", shape = 2.5 } }
//! latency = { empirical = { samples = ["1ms", "2ms", "7ms"] } }
//! ```
//!
//! and JSON the same way, e.g. `{"constant":"200us"}`.
//!
//! Constructors do not check their arguments; call [`Distribution::validate`]
//! once when loading a scenario, then [`Distribution::sample`] as often as
//! needed. Samples are rounded to the nearest nanosecond, and the continuous
//! kinds are capped at [`Distribution::SAMPLE_CAP`] so that a heavy tail can
//! never overflow the virtual clock.
//!
//! ```
//! use std::time::Duration;
//! use microsim::distribution::Distribution;
//! use rand::SeedableRng;
//! use rand_chacha::ChaCha8Rng;
//!
//! let latency = Distribution::exponential(Duration::from_millis(1));
//! latency.validate().unwrap();
//! let mut rng = ChaCha8Rng::seed_from_u64(7);
//! let delay = latency.sample(&mut rng);
//! assert!(delay <= Distribution::SAMPLE_CAP);
//! assert_eq!(latency.mean(), Some(Duration::from_millis(1)));
//! ```

use std::fmt;
use std::time::Duration;

use rand::{Rng, RngExt};
use rand_distr::Distribution as _;

use crate::duration_format::format_duration;
use crate::nanos;

/// Nanoseconds in [`Distribution::SAMPLE_CAP`], as `f64`.
const CAP_NANOS: f64 = 1e16;

/// A probability distribution of durations.
///
/// See the [module documentation](self) for the file format. All `Duration`
/// fields are (de)serialized as strings with units.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields, from = "Repr")]
#[non_exhaustive]
pub enum Distribution {
    /// Always the same duration.
    Constant(#[serde(with = "crate::duration_format")] Duration),
    /// Uniform between `min` and `max`, both included, to the nanosecond.
    Uniform {
        /// The smallest value.
        #[serde(with = "crate::duration_format")]
        min: Duration,
        /// The largest value; must not be less than `min`.
        #[serde(with = "crate::duration_format")]
        max: Duration,
    },
    /// Exponential (memoryless), as for the gaps between independent events.
    Exponential {
        /// The mean; must be greater than zero.
        #[serde(with = "crate::duration_format")]
        mean: Duration,
    },
    /// Normal with the given parameters, truncated at zero: negative draws
    /// are redrawn, so the actual mean is somewhat above `mean` when
    /// `std_dev` is not small compared to it (see [`Distribution::mean`]).
    Normal {
        /// The mean of the normal before truncation.
        #[serde(with = "crate::duration_format")]
        mean: Duration,
        /// The standard deviation of the normal before truncation; zero makes
        /// it a constant.
        #[serde(with = "crate::duration_format")]
        std_dev: Duration,
    },
    /// Log-normal with the given mean and standard deviation of the values
    /// themselves (not of their logarithm): internally
    /// `sigma² = ln(1 + std_dev²/mean²)` and `mu = ln(mean) - sigma²/2`.
    #[serde(rename = "lognormal", alias = "log_normal")]
    LogNormal {
        /// The mean of the values; must be greater than zero unless
        /// `std_dev` is zero too.
        #[serde(with = "crate::duration_format")]
        mean: Duration,
        /// The standard deviation of the values.
        #[serde(with = "crate::duration_format")]
        std_dev: Duration,
    },
    /// Log-normal fitted to two measured statistics, such as its median and its 99th
    /// percentile: see [`Distribution::lognormal_fit`], which makes it. Files write it
    /// `lognormal = { p50 = "20ms", p99 = "80ms" }`, with the same key as
    /// [`LogNormal`](Self::LogNormal) (a file's `mean` and `std_dev` make that one).
    #[serde(rename = "lognormal", serialize_with = "serialize_stats")]
    LogNormalFit {
        /// The statistics, in the order given. [`validate`](Self::validate) accepts exactly
        /// two different ones of [`LogNormalStat`].
        stats: Vec<LogNormalStat>,
    },
    /// Pareto (heavy-tailed): never below `scale`, with
    /// `P(X > x) = (scale / x)^shape`.
    Pareto {
        /// The minimum value; must be greater than zero.
        #[serde(with = "crate::duration_format")]
        scale: Duration,
        /// The tail index; must be finite and greater than zero. The mean is
        /// finite only for `shape > 1`, the variance only for `shape > 2`.
        shape: f64,
    },
    /// Draws one of the given samples, each with equal probability (a
    /// bootstrap from measured values).
    Empirical {
        /// The measured values; must not be empty. Repeating a value makes it
        /// proportionally more likely.
        #[serde(with = "crate::duration_format::vec")]
        samples: Vec<Duration>,
    },
}

/// A measured statistic of a log-normal distribution, for
/// [`Distribution::lognormal_fit`]: its mean, the standard deviation of its values, or
/// one of its percentiles.
///
/// ```
/// use std::time::Duration;
/// use microsim::LogNormalStat;
///
/// let p99 = LogNormalStat::P99(Duration::from_millis(80));
/// assert_eq!((p99.name(), p99.value()), ("p99", Duration::from_millis(80)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogNormalStat {
    /// The mean of the values.
    Mean(Duration),
    /// The standard deviation of the values (not of their logarithm); goes only with
    /// [`Mean`](Self::Mean).
    StdDev(Duration),
    /// The median: half the values are below it.
    P50(Duration),
    /// The 90th percentile.
    P90(Duration),
    /// The 99th percentile.
    P99(Duration),
    /// The 99.9th percentile.
    P999(Duration),
}

/// The names of the percentiles a log-normal takes, as files write them (a scenario file
/// that writes one where a kind of distribution goes is told where it belongs).
#[cfg(feature = "scenario")]
pub(crate) const LOGNORMAL_PERCENTILES: [&str; 4] = ["p50", "p90", "p99", "p999"];

/// The standard normal quantiles of 0.9, 0.99 and 0.999 (`Phi(z) = p`), rounded to the
/// nearest `f64` from 40 digits. A unit test checks them against [`libm::erfc`].
const Z_P90: f64 = 1.281_551_565_544_600_4;
const Z_P99: f64 = 2.326_347_874_040_841;
const Z_P999: f64 = 3.090_232_306_167_813_6;

impl LogNormalStat {
    /// Its name as a scenario file writes it: `mean`, `std_dev`, `p50`, `p90`, `p99` or
    /// `p999`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mean(_) => "mean",
            Self::StdDev(_) => "std_dev",
            Self::P50(_) => "p50",
            Self::P90(_) => "p90",
            Self::P99(_) => "p99",
            Self::P999(_) => "p999",
        }
    }

    /// The measured value.
    pub fn value(self) -> Duration {
        match self {
            Self::Mean(value)
            | Self::StdDev(value)
            | Self::P50(value)
            | Self::P90(value)
            | Self::P99(value)
            | Self::P999(value) => value,
        }
    }

    /// For a percentile, the standard normal quantile `z` of its probability.
    fn z(self) -> Option<f64> {
        match self {
            Self::P50(_) => Some(0.0),
            Self::P90(_) => Some(Z_P90),
            Self::P99(_) => Some(Z_P99),
            Self::P999(_) => Some(Z_P999),
            Self::Mean(_) | Self::StdDev(_) => None,
        }
    }

    /// `"lognormal NAME"`, for the bound on lengths.
    fn parameter(self) -> &'static str {
        match self {
            Self::Mean(_) => "lognormal mean",
            Self::StdDev(_) => "lognormal std_dev",
            Self::P50(_) => "lognormal p50",
            Self::P90(_) => "lognormal p90",
            Self::P99(_) => "lognormal p99",
            Self::P999(_) => "lognormal p999",
        }
    }
}

/// What is wrong with a [`Distribution`]'s values, as found by
/// [`Distribution::validate`].
///
/// The messages say what is wrong with the values only; the caller adds
/// where the distribution was found (which link or service).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DistributionError {
    /// A uniform distribution whose `min` is greater than its `max`.
    #[error(
        "uniform min {} is greater than max {}",
        format_duration(*min),
        format_duration(*max)
    )]
    UniformMinGreaterThanMax {
        /// The given minimum.
        min: Duration,
        /// The given maximum.
        max: Duration,
    },
    /// An exponential distribution with a zero mean.
    #[error("exponential mean must be greater than 0s, got 0s (use constant 0s for no delay)")]
    ExponentialZeroMean,
    /// A log-normal distribution with a zero mean but a nonzero standard
    /// deviation, which no log-normal has.
    #[error(
        "lognormal mean is 0s but std_dev is {}; a nonzero std_dev needs a mean greater than 0s",
        format_duration(*std_dev)
    )]
    LogNormalZeroMean {
        /// The given standard deviation.
        std_dev: Duration,
    },
    /// A log-normal given by a number of statistics other than two.
    #[error(
        "lognormal takes exactly two of mean, p50, p90, p99 and p999 (or mean and std_dev), got {}",
        listed(given)
    )]
    LogNormalStatCount {
        /// The names of the statistics given.
        given: Vec<&'static str>,
    },
    /// A log-normal given the same statistic twice.
    #[error("lognormal {stat} is given twice; give two different statistics")]
    LogNormalStatTwice {
        /// The statistic's name, e.g. `"p99"`.
        stat: &'static str,
    },
    /// A log-normal given a standard deviation with something other than its mean.
    #[error(
        "lognormal std_dev goes only with mean, not with {other}: give mean and std_dev, or \
         two of mean, p50, p90, p99 and p999"
    )]
    LogNormalStdDevWithoutMean {
        /// The other statistic's name.
        other: &'static str,
    },
    /// A log-normal fitted to a statistic of zero: its values are all above zero.
    #[error(
        "lognormal {stat} must be greater than 0s, got 0s: a lognormal's values are all above zero"
    )]
    LogNormalZeroStat {
        /// The statistic's name.
        stat: &'static str,
    },
    /// A log-normal whose higher percentile is not greater than its lower one.
    #[error(
        "lognormal {higher} ({}) must be greater than {lower} ({}): a larger percentile cannot \
         be faster",
        format_duration(*higher_value),
        format_duration(*lower_value)
    )]
    LogNormalPercentilesOutOfOrder {
        /// The lower percentile's name, e.g. `"p50"`.
        lower: &'static str,
        /// Its value.
        lower_value: Duration,
        /// The higher percentile's name, e.g. `"p99"`.
        higher: &'static str,
        /// Its value.
        higher_value: Duration,
    },
    /// A log-normal whose mean is not above its median.
    #[error(
        "lognormal mean ({}) must be greater than p50 ({}): a lognormal's mean exceeds its median",
        format_duration(*mean),
        format_duration(*p50)
    )]
    LogNormalMeanNotAboveMedian {
        /// The given mean.
        mean: Duration,
        /// The given median.
        p50: Duration,
    },
    /// A log-normal whose mean is below the least any log-normal with the given percentile
    /// has: `q * exp(-z^2 / 2)` for the percentile `q` of standard normal quantile `z`.
    #[error(
        "lognormal mean ({}) is too small for {stat} ({}): a lognormal with that {stat} has a \
         mean of at least {}",
        format_duration(*mean),
        format_duration(*value),
        format_duration(*least)
    )]
    LogNormalMeanTooSmall {
        /// The given mean.
        mean: Duration,
        /// The percentile's name, e.g. `"p99"`.
        stat: &'static str,
        /// The percentile's value.
        value: Duration,
        /// The least mean, rounded up to the nanosecond.
        least: Duration,
    },
    /// A Pareto distribution with a zero scale.
    #[error("pareto scale must be greater than 0s, got 0s")]
    ParetoZeroScale,
    /// A Pareto distribution whose shape is NaN, infinite, zero or negative.
    #[error("pareto shape must be a finite number > 0, got {shape}")]
    ParetoInvalidShape {
        /// The given shape.
        shape: f64,
    },
    /// An empirical distribution without samples.
    #[error("empirical distribution has no samples; give at least one")]
    EmpiricalEmpty,
    /// A value longer than any setting may be ([`MAX_DURATION`](crate::MAX_DURATION)).
    #[error("{}", crate::rules::too_long(parameter, *value))]
    TooLong {
        /// Which value, e.g. `"uniform max"`.
        parameter: &'static str,
        /// The value given.
        value: Duration,
    },
}

impl Default for Distribution {
    /// [`Distribution::ZERO`]: no delay.
    fn default() -> Self {
        Self::ZERO
    }
}

impl Distribution {
    /// No delay at all: a constant zero.
    ///
    /// ```
    /// use microsim::distribution::Distribution;
    ///
    /// assert!(Distribution::ZERO.is_zero());
    /// assert_eq!(Distribution::default(), Distribution::ZERO);
    /// ```
    pub const ZERO: Distribution = Distribution::Constant(std::time::Duration::ZERO);

    /// The largest value [`sample`](Self::sample) returns for the continuous
    /// kinds (exponential, normal, lognormal, pareto): 10^7 seconds, about
    /// 116 days. Heavier draws are clamped to it instead of overflowing.
    /// Constant, uniform and empirical return their values unchanged.
    pub const SAMPLE_CAP: Duration = Duration::from_secs(10_000_000);

    /// Always `value`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::distribution::Distribution;
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// let d = Distribution::constant(Duration::from_micros(250));
    /// let mut rng = ChaCha8Rng::seed_from_u64(1);
    /// assert_eq!(d.sample(&mut rng), Duration::from_micros(250));
    /// assert_eq!(d.to_string(), "constant 250us");
    /// ```
    pub fn constant(value: Duration) -> Self {
        Self::Constant(value)
    }

    /// Uniform between `min` and `max`, both included. Not validated: see
    /// [`validate`](Self::validate).
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::distribution::Distribution;
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// let (min, max) = (Duration::from_millis(1), Duration::from_millis(5));
    /// let d = Distribution::uniform(min, max);
    /// let mut rng = ChaCha8Rng::seed_from_u64(1);
    /// let x = d.sample(&mut rng);
    /// assert!(min <= x && x <= max);
    /// assert_eq!(d.mean(), Some(Duration::from_millis(3)));
    /// assert_eq!(d.to_string(), "uniform(1ms..5ms)");
    /// ```
    pub fn uniform(min: Duration, max: Duration) -> Self {
        Self::Uniform { min, max }
    }

    /// Exponential with the given mean. Not validated: see
    /// [`validate`](Self::validate).
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::distribution::Distribution;
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// let d = Distribution::exponential(Duration::from_millis(1));
    /// let mut rng = ChaCha8Rng::seed_from_u64(1);
    /// let total: Duration = (0..10_000).map(|_| d.sample(&mut rng)).sum();
    /// let mean = total / 10_000;
    /// assert!(mean > Duration::from_micros(900) && mean < Duration::from_micros(1100));
    /// assert_eq!(d.to_string(), "exponential(mean 1ms)");
    /// ```
    pub fn exponential(mean: Duration) -> Self {
        Self::Exponential { mean }
    }

    /// Normal with the given mean and standard deviation, truncated at zero
    /// (negative draws are redrawn).
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::distribution::Distribution;
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// let d = Distribution::normal(Duration::from_millis(1), Duration::from_millis(2));
    /// let mut rng = ChaCha8Rng::seed_from_u64(1);
    /// let _never_negative: Duration = d.sample(&mut rng);
    /// // Truncation at zero raises the mean.
    /// assert!(d.mean().unwrap() > Duration::from_millis(2));
    /// assert_eq!(d.to_string(), "normal(mean 1ms, sd 2ms)");
    /// ```
    pub fn normal(mean: Duration, std_dev: Duration) -> Self {
        Self::Normal { mean, std_dev }
    }

    /// Log-normal whose values have the given mean and standard deviation.
    /// Not validated: see [`validate`](Self::validate).
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::distribution::Distribution;
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// let d = Distribution::lognormal(Duration::from_millis(2), Duration::from_millis(1));
    /// let mut rng = ChaCha8Rng::seed_from_u64(1);
    /// assert!(d.sample(&mut rng) > Duration::ZERO);
    /// assert_eq!(d.mean(), Some(Duration::from_millis(2)));
    /// assert_eq!(d.to_string(), "lognormal(mean 2ms, sd 1ms)");
    /// ```
    pub fn lognormal(mean: Duration, std_dev: Duration) -> Self {
        Self::LogNormal { mean, std_dev }
    }

    /// Log-normal fitted to two measured statistics: any two of its mean and its
    /// percentiles p50, p90, p99 and p999, or its mean and standard deviation (which gives
    /// the same distribution as [`lognormal`](Self::lognormal)). Not validated: see
    /// [`validate`](Self::validate), which says why a pair fits no log-normal.
    ///
    /// The log-normal's logarithm is normal with mean `mu` and standard deviation `sigma`,
    /// so its percentile of probability `p` is `q_p = exp(mu + sigma * z_p)`, `z_p` being
    /// the standard normal quantile (0 for p50, 1.2816 for p90, 2.3263 for p99, 3.0902 for
    /// p999), and its mean is `exp(mu + sigma^2 / 2)`. From two percentiles,
    /// `sigma = ln(q_b / q_a) / (z_b - z_a)` and `mu = ln(q_a) - sigma * z_a`: the higher
    /// percentile must be greater. From the mean `m` and a percentile,
    /// `sigma^2 / 2 - z_p * sigma - ln(m / q_p) = 0`, so
    /// `sigma = z_p ± sqrt(z_p^2 + 2 ln(m / q_p))`, and `sigma` must be above zero:
    ///
    /// - with p50 (`z = 0`) the mean must be greater than the median;
    /// - with a higher percentile and a mean above it, one root is positive;
    /// - with a mean at or below it, both roots are positive if the mean is at least
    ///   `q_p * exp(-z_p^2 / 2)` (none is, below that). The smaller `sigma` is taken, the
    ///   distribution of lighter tail: the other has its median below
    ///   `q_p * exp(-z_p^2)`, under a fifth of p90 and a 224th of p99, which measured
    ///   latencies seldom are.
    ///
    /// `mu` and `sigma` are kept exact, not rounded to a mean and a standard deviation in
    /// nanoseconds, so the given percentiles are the distribution's own. Its
    /// [`Display`](std::fmt::Display) shows the statistics as given.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::{Distribution, LogNormalStat};
    ///
    /// let ms = Duration::from_millis;
    /// let d = Distribution::lognormal_fit(LogNormalStat::P50(ms(20)), LogNormalStat::P99(ms(80)));
    /// assert_eq!(d.validate(), Ok(()));
    /// assert_eq!(d.to_string(), "lognormal(p50 20ms, p99 80ms)");
    /// // sigma = ln 4 / 2.3263, so the mean is 20ms * exp(sigma^2 / 2).
    /// assert_eq!(d.mean(), Some(Duration::from_nanos(23_885_862)));
    ///
    /// let wrong = Distribution::lognormal_fit(LogNormalStat::P50(ms(20)), LogNormalStat::P99(ms(10)));
    /// assert_eq!(
    ///     wrong.validate().unwrap_err().to_string(),
    ///     "lognormal p99 (10ms) must be greater than p50 (20ms): a larger percentile cannot be faster"
    /// );
    /// ```
    pub fn lognormal_fit(a: LogNormalStat, b: LogNormalStat) -> Self {
        match (a, b) {
            (LogNormalStat::Mean(mean), LogNormalStat::StdDev(std_dev))
            | (LogNormalStat::StdDev(std_dev), LogNormalStat::Mean(mean)) => {
                Self::LogNormal { mean, std_dev }
            }
            _ => Self::LogNormalFit { stats: vec![a, b] },
        }
    }

    /// Pareto with minimum `scale` and tail index `shape`. Not validated:
    /// see [`validate`](Self::validate).
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::distribution::Distribution;
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// let d = Distribution::pareto(Duration::from_millis(1), 2.5);
    /// let mut rng = ChaCha8Rng::seed_from_u64(1);
    /// assert!(d.sample(&mut rng) >= Duration::from_millis(1));
    /// assert_eq!(d.mean(), Some(Duration::from_nanos(1_666_667)));
    /// assert_eq!(d.to_string(), "pareto(scale 1ms, shape 2.5)");
    /// ```
    pub fn pareto(scale: Duration, shape: f64) -> Self {
        Self::Pareto { scale, shape }
    }

    /// Draws uniformly from the given samples. Not validated: see
    /// [`validate`](Self::validate).
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::distribution::Distribution;
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// let samples = [1, 2, 6].map(Duration::from_millis);
    /// let d = Distribution::empirical(samples);
    /// let mut rng = ChaCha8Rng::seed_from_u64(1);
    /// assert!(samples.contains(&d.sample(&mut rng)));
    /// assert_eq!(d.mean(), Some(Duration::from_millis(3)));
    /// assert_eq!(d.to_string(), "empirical(3 samples)");
    /// ```
    pub fn empirical(samples: impl IntoIterator<Item = Duration>) -> Self {
        Self::Empirical {
            samples: samples.into_iter().collect(),
        }
    }

    /// Checks that the values make a proper distribution.
    ///
    /// # Errors
    ///
    /// Returns a [`DistributionError`] when a uniform's `min` is greater than
    /// its `max`, an exponential's mean is zero, a lognormal's mean is zero
    /// while its standard deviation is not, a lognormal fitted to statistics
    /// ([`lognormal_fit`](Self::lognormal_fit)) is given other than two different
    /// ones, or ones that no lognormal has, a Pareto's scale is zero or its
    /// shape is not a finite number greater than zero, or an empirical
    /// distribution has no samples. Constant and normal distributions are
    /// always valid (a normal with zero standard deviation is a constant).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::distribution::Distribution;
    ///
    /// let ms = Duration::from_millis;
    /// assert!(Distribution::uniform(ms(1), ms(5)).validate().is_ok());
    /// let err = Distribution::uniform(ms(5), ms(1)).validate().unwrap_err();
    /// assert_eq!(err.to_string(), "uniform min 5ms is greater than max 1ms");
    /// let err = Distribution::pareto(ms(1), f64::NAN).validate().unwrap_err();
    /// assert_eq!(err.to_string(), "pareto shape must be a finite number > 0, got NaN");
    /// ```
    pub fn validate(&self) -> Result<(), DistributionError> {
        if let Some((parameter, value)) = self.longest_parameter()
            && value > crate::rules::MAX_DURATION
        {
            return Err(DistributionError::TooLong { parameter, value });
        }
        self.validate_shape()
    }

    /// The rules on the parameters' relations and signs, without the bound on lengths.
    fn validate_shape(&self) -> Result<(), DistributionError> {
        match self {
            Self::Constant(_) | Self::Normal { .. } => Ok(()),
            Self::Uniform { min, max } => {
                if min > max {
                    Err(DistributionError::UniformMinGreaterThanMax {
                        min: *min,
                        max: *max,
                    })
                } else {
                    Ok(())
                }
            }
            Self::Exponential { mean } => {
                if mean.is_zero() {
                    Err(DistributionError::ExponentialZeroMean)
                } else {
                    Ok(())
                }
            }
            Self::LogNormal { mean, std_dev } => {
                if mean.is_zero() && !std_dev.is_zero() {
                    Err(DistributionError::LogNormalZeroMean { std_dev: *std_dev })
                } else {
                    Ok(())
                }
            }
            Self::LogNormalFit { stats } => fit(stats).map(|_| ()),
            Self::Pareto { scale, shape } => {
                if scale.is_zero() {
                    Err(DistributionError::ParetoZeroScale)
                } else if !(shape.is_finite() && *shape > 0.0) {
                    Err(DistributionError::ParetoInvalidShape { shape: *shape })
                } else {
                    Ok(())
                }
            }
            Self::Empirical { samples } => {
                if samples.is_empty() {
                    Err(DistributionError::EmpiricalEmpty)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The longest duration given as a parameter, with its name.
    fn longest_parameter(&self) -> Option<(&'static str, Duration)> {
        let parameters: Vec<(&'static str, Duration)> = match self {
            Self::Constant(value) => vec![("constant", *value)],
            Self::Uniform { min, max } => vec![("uniform min", *min), ("uniform max", *max)],
            Self::Exponential { mean } => vec![("exponential mean", *mean)],
            Self::Normal { mean, std_dev } => {
                vec![("normal mean", *mean), ("normal std_dev", *std_dev)]
            }
            Self::LogNormal { mean, std_dev } => {
                vec![("lognormal mean", *mean), ("lognormal std_dev", *std_dev)]
            }
            Self::LogNormalFit { stats } => stats
                .iter()
                .map(|stat| (stat.parameter(), stat.value()))
                .collect(),
            Self::Pareto { scale, .. } => vec![("pareto scale", *scale)],
            Self::Empirical { samples } => samples
                .iter()
                .map(|sample| ("empirical sample", *sample))
                .collect(),
        };
        parameters.into_iter().max_by_key(|(_, value)| *value)
    }

    /// Draws one duration.
    ///
    /// Constant, uniform and empirical values are exact (integer
    /// nanoseconds, no floating point). The continuous kinds are computed in
    /// `f64` nanoseconds, rounded to the nearest nanosecond and capped at
    /// [`SAMPLE_CAP`](Self::SAMPLE_CAP).
    ///
    /// The distribution should have passed [`validate`](Self::validate).
    /// This method never panics: a distribution that would fail validation
    /// returns [`Duration::ZERO`] — except a uniform with `min > max`, which
    /// draws between the two as if they were given in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::distribution::Distribution;
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// let d = Distribution::lognormal(Duration::from_millis(2), Duration::from_millis(1));
    /// let draw = |seed| {
    ///     let mut rng = ChaCha8Rng::seed_from_u64(seed);
    ///     (0..5).map(|_| d.sample(&mut rng)).collect::<Vec<_>>()
    /// };
    /// // The same seed gives the same delays.
    /// assert_eq!(draw(42), draw(42));
    /// ```
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        match self {
            Self::Constant(d) => *d,
            Self::Uniform { min, max } => {
                let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
                let (lo, hi) = (lo.as_nanos(), hi.as_nanos());
                let drawn = match (u64::try_from(lo), u64::try_from(hi)) {
                    (Ok(lo), Ok(hi)) => u128::from(rng.random_range(lo..=hi)),
                    _ => rng.random_range(lo..=hi),
                };
                nanos::to_duration(drawn)
            }
            Self::Exponential { mean } => {
                if mean.is_zero() {
                    return Duration::ZERO;
                }
                let x: f64 = rand_distr::Exp1.sample(rng);
                duration_from_nanos_f64(x * nanos::as_f64(*mean))
            }
            Self::Normal { mean, std_dev } => {
                if std_dev.is_zero() {
                    return *mean;
                }
                let (mu, sigma) = (nanos::as_f64(*mean), nanos::as_f64(*std_dev));
                // mu >= 0, so each draw is accepted with probability >= 1/2.
                loop {
                    let z: f64 = rand_distr::StandardNormal.sample(rng);
                    let x = mu + sigma * z;
                    if x >= 0.0 {
                        return duration_from_nanos_f64(x);
                    }
                }
            }
            Self::LogNormal { mean, std_dev } => {
                if std_dev.is_zero() {
                    return *mean;
                }
                let Some((mu, sigma)) = lognormal_params(*mean, *std_dev) else {
                    return Duration::ZERO;
                };
                let z: f64 = rand_distr::StandardNormal.sample(rng);
                duration_from_nanos_f64((mu + sigma * z).exp())
            }
            Self::LogNormalFit { stats } => match fit(stats) {
                Ok(Fitted::Log { mu, sigma }) => {
                    let z: f64 = rand_distr::StandardNormal.sample(rng);
                    duration_from_nanos_f64((mu + sigma * z).exp())
                }
                Ok(Fitted::MeanStdDev(given)) => given.sample(rng),
                Err(_) => Duration::ZERO,
            },
            Self::Pareto { scale, shape } => {
                match rand_distr::Pareto::new(nanos::as_f64(*scale), *shape) {
                    Ok(pareto) if !scale.is_zero() && shape.is_finite() => {
                        duration_from_nanos_f64(pareto.sample(rng))
                    }
                    _ => Duration::ZERO,
                }
            }
            Self::Empirical { samples } => {
                if samples.is_empty() {
                    Duration::ZERO
                } else {
                    samples[rng.random_range(0..samples.len())]
                }
            }
        }
    }

    /// The exact mean of the distribution (to the nanosecond), or `None` when
    /// it has no finite mean (Pareto with `shape <= 1`) or fails
    /// [`validate`](Self::validate).
    ///
    /// For a normal truncated at zero this is the mean of the truncated
    /// distribution, `mu + sigma * phi(a) / (1 - Phi(a))` with
    /// `a = -mu / sigma`, where `phi` and `Phi` are the standard normal
    /// density and distribution function; `Phi` is computed from
    /// [`libm::erf`]. The cap at
    /// [`SAMPLE_CAP`](Self::SAMPLE_CAP) is not taken into account.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::distribution::Distribution;
    ///
    /// let ms = Duration::from_millis;
    /// assert_eq!(Distribution::pareto(ms(1), 3.0).mean(), Some(Duration::from_micros(1500)));
    /// assert_eq!(Distribution::pareto(ms(1), 1.0).mean(), None);
    /// // Half-normal: sigma * sqrt(2 / pi).
    /// assert_eq!(Distribution::normal(ms(0), ms(1)).mean(), Some(Duration::from_nanos(797_885)));
    /// ```
    pub fn mean(&self) -> Option<Duration> {
        // Defined for any length, so only the shape rules apply.
        self.validate_shape().ok()?;
        match self {
            Self::Constant(d) => Some(*d),
            Self::Uniform { min, max } => {
                let sum = min.as_nanos() + max.as_nanos();
                Some(nanos::to_duration(sum / 2 + sum % 2))
            }
            Self::Exponential { mean } | Self::LogNormal { mean, .. } => Some(*mean),
            Self::LogNormalFit { stats } => {
                if let Some(mean) = stats.iter().find_map(|stat| match stat {
                    LogNormalStat::Mean(mean) => Some(*mean),
                    _ => None,
                }) {
                    return Some(mean);
                }
                match fit(stats).ok()? {
                    Fitted::Log { mu, sigma } => {
                        Some(duration_from_nanos_f64((mu + sigma * sigma / 2.0).exp()))
                    }
                    Fitted::MeanStdDev(given) => given.mean(),
                }
            }
            Self::Normal { mean, std_dev } => {
                if std_dev.is_zero() {
                    return Some(*mean);
                }
                let (mu, sigma) = (nanos::as_f64(*mean), nanos::as_f64(*std_dev));
                let a = -mu / sigma;
                // 1 - Phi(a) = erfc(a / sqrt 2) / 2; with a <= 0 this is >= 1/2.
                let survival = 0.5 * (1.0 + libm::erf(-a / std::f64::consts::SQRT_2));
                let density = (-0.5 * a * a).exp() / (2.0 * std::f64::consts::PI).sqrt();
                Some(duration_from_nanos_f64(mu + sigma * density / survival))
            }
            Self::Pareto { scale, shape } => {
                if *shape <= 1.0 {
                    None
                } else {
                    Some(duration_from_nanos_f64(
                        nanos::as_f64(*scale) * shape / (shape - 1.0),
                    ))
                }
            }
            Self::Empirical { samples } => {
                let sum: u128 = samples.iter().map(Duration::as_nanos).sum();
                let n = samples.len() as u128;
                Some(nanos::to_duration((sum + n / 2) / n))
            }
        }
    }

    /// True only for a constant zero, such as [`Distribution::ZERO`]: the
    /// engine skips sleeping altogether for it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::distribution::Distribution;
    ///
    /// assert!(Distribution::constant(Duration::ZERO).is_zero());
    /// assert!(!Distribution::constant(Duration::from_nanos(1)).is_zero());
    /// assert!(!Distribution::uniform(Duration::ZERO, Duration::ZERO).is_zero());
    /// ```
    pub fn is_zero(&self) -> bool {
        matches!(self, Self::Constant(d) if d.is_zero())
    }

    /// True when every draw is zero, whatever its kind: a constant zero, a uniform from zero
    /// to zero, a normal or log-normal of mean and standard deviation zero, samples that are
    /// all zero. A wait drawn from it never lets simulated time advance, which is how a
    /// scenario file's check tells a loop that cannot take time. False for a distribution
    /// that only may draw zero (an exponential, a uniform from zero), and for one that fails
    /// [`validate`](Self::validate).
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::distribution::Distribution;
    ///
    /// let (zero, ms) = (Duration::ZERO, Duration::from_millis(1));
    /// assert!(Distribution::ZERO.is_always_zero());
    /// assert!(Distribution::uniform(zero, zero).is_always_zero());
    /// assert!(Distribution::empirical([zero, zero]).is_always_zero());
    /// assert!(!Distribution::uniform(zero, ms).is_always_zero());
    /// assert!(!Distribution::empirical([zero, ms]).is_always_zero());
    /// assert!(!Distribution::exponential(ms).is_always_zero());
    /// ```
    pub fn is_always_zero(&self) -> bool {
        if self.validate_shape().is_err() {
            return false;
        }
        match self {
            Self::Constant(value) => value.is_zero(),
            Self::Uniform { min, max } => min.is_zero() && max.is_zero(),
            Self::Normal { mean, std_dev } | Self::LogNormal { mean, std_dev } => {
                mean.is_zero() && std_dev.is_zero()
            }
            Self::Empirical { samples } => samples.iter().all(Duration::is_zero),
            // Every statistic of a fit is above zero, and so are its draws but for rounding;
            // except a mean and standard deviation, whose rules are the other form's.
            Self::LogNormalFit { stats } => match fit(stats) {
                Ok(Fitted::MeanStdDev(given)) => given.is_always_zero(),
                _ => false,
            },
            // Their means and scales are above zero, and so are their draws but for rounding.
            Self::Exponential { .. } | Self::Pareto { .. } => false,
        }
    }
}

impl fmt::Display for Distribution {
    /// A short human form such as `constant 250us`, `uniform(1ms..5ms)` or
    /// `pareto(scale 1ms, shape 2.5)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: &Duration| format_duration(*d);
        match self {
            Self::Constant(v) => write!(f, "constant {}", d(v)),
            Self::Uniform { min, max } => write!(f, "uniform({}..{})", d(min), d(max)),
            Self::Exponential { mean } => write!(f, "exponential(mean {})", d(mean)),
            Self::Normal { mean, std_dev } => {
                write!(f, "normal(mean {}, sd {})", d(mean), d(std_dev))
            }
            Self::LogNormal { mean, std_dev } => {
                write!(f, "lognormal(mean {}, sd {})", d(mean), d(std_dev))
            }
            Self::LogNormalFit { stats } => {
                let given: Vec<String> = stats
                    .iter()
                    .map(|stat| format!("{} {}", stat.name(), d(&stat.value())))
                    .collect();
                write!(f, "lognormal({})", given.join(", "))
            }
            Self::Pareto { scale, shape } => {
                write!(f, "pareto(scale {}, shape {shape})", d(scale))
            }
            Self::Empirical { samples } => match samples.len() {
                1 => write!(f, "empirical(1 sample)"),
                n => write!(f, "empirical({n} samples)"),
            },
        }
    }
}

/// `mu` and `sigma` of the underlying normal for a lognormal whose values
/// have mean `mean` and standard deviation `std_dev`, in log-nanoseconds.
/// `None` when `mean` is zero.
///
/// `rand_distr::LogNormal::from_mean_cv` does the same conversion, but computes
/// `ln(1 + cv²)` and `mu = ln(mean² / (1 + cv²)) / 2` in a different order, so its
/// parameters differ from these in the last bits for many inputs: a draw near a
/// half-nanosecond would then round the other way and change a seed's report.
fn lognormal_params(mean: Duration, std_dev: Duration) -> Option<(f64, f64)> {
    if mean.is_zero() {
        return None;
    }
    let (m, s) = (nanos::as_f64(mean), nanos::as_f64(std_dev));
    let ratio = s / m;
    let sigma2 = (ratio * ratio).ln_1p();
    Some((m.ln() - sigma2 / 2.0, sigma2.sqrt()))
}

/// A log-normal fitted to its statistics.
enum Fitted {
    /// Its mean and standard deviation, as [`Distribution::LogNormal`] has them.
    MeanStdDev(Distribution),
    /// `mu` and `sigma` of its logarithm, in log-nanoseconds.
    Log { mu: f64, sigma: f64 },
}

/// The log-normal that has the statistics `stats`, or why none has: the rules of
/// [`Distribution::LogNormalFit`], whose math [`Distribution::lognormal_fit`] documents.
fn fit(stats: &[LogNormalStat]) -> Result<Fitted, DistributionError> {
    let [a, b] = stats else {
        return Err(DistributionError::LogNormalStatCount {
            given: stats.iter().map(|stat| stat.name()).collect(),
        });
    };
    let (a, b) = (*a, *b);
    if a.name() == b.name() {
        return Err(DistributionError::LogNormalStatTwice { stat: a.name() });
    }
    match (a, b) {
        (LogNormalStat::Mean(mean), LogNormalStat::StdDev(std_dev))
        | (LogNormalStat::StdDev(std_dev), LogNormalStat::Mean(mean)) => {
            let given = Distribution::LogNormal { mean, std_dev };
            return given.validate_shape().map(|()| Fitted::MeanStdDev(given));
        }
        (LogNormalStat::StdDev(_), other) | (other, LogNormalStat::StdDev(_)) => {
            return Err(DistributionError::LogNormalStdDevWithoutMean {
                other: other.name(),
            });
        }
        _ => {}
    }
    if let Some(zero) = [a, b].into_iter().find(|stat| stat.value().is_zero()) {
        return Err(DistributionError::LogNormalZeroStat { stat: zero.name() });
    }
    match (a.z(), b.z()) {
        (Some(za), Some(zb)) => {
            // Lower percentile first.
            let ((lower, z_lower), (higher, z_higher)) = if za < zb {
                ((a, za), (b, zb))
            } else {
                ((b, zb), (a, za))
            };
            if higher.value() <= lower.value() {
                return Err(DistributionError::LogNormalPercentilesOutOfOrder {
                    lower: lower.name(),
                    lower_value: lower.value(),
                    higher: higher.name(),
                    higher_value: higher.value(),
                });
            }
            let (q_lower, q_higher) = (nanos::as_f64(lower.value()), nanos::as_f64(higher.value()));
            let sigma = (q_higher / q_lower).ln() / (z_higher - z_lower);
            Ok(Fitted::Log {
                mu: q_lower.ln() - sigma * z_lower,
                sigma,
            })
        }
        (None, Some(z)) => mean_and_percentile(a.value(), b, z),
        (Some(z), None) => mean_and_percentile(b.value(), a, z),
        // Two means are the same statistic twice, and a standard deviation is handled.
        (None, None) => unreachable!("two different statistics, neither a percentile nor std_dev"),
    }
}

/// `mu` and `sigma` from the mean and the percentile `stat` of quantile `z`: the smallest
/// `sigma > 0` with `sigma^2 / 2 - z sigma - ln(mean / q) = 0`.
fn mean_and_percentile(
    mean: Duration,
    stat: LogNormalStat,
    z: f64,
) -> Result<Fitted, DistributionError> {
    let (m, q) = (nanos::as_f64(mean), nanos::as_f64(stat.value()));
    let sigma = if z == 0.0 {
        if mean <= stat.value() {
            return Err(DistributionError::LogNormalMeanNotAboveMedian {
                mean,
                p50: stat.value(),
            });
        }
        (2.0 * (m / q).ln()).sqrt()
    } else {
        // The mean is least, q exp(-z^2 / 2), at sigma = z.
        let least = q * (-z * z / 2.0).exp();
        if m < least {
            return Err(DistributionError::LogNormalMeanTooSmall {
                mean,
                stat: stat.name(),
                value: stat.value(),
                least: Duration::from_nanos(least.ceil() as u64),
            });
        }
        // Rounding may make it a hair below zero at the least mean.
        let root = (z * z + 2.0 * (m / q).ln()).max(0.0).sqrt();
        if z - root > 0.0 { z - root } else { z + root }
    };
    Ok(Fitted::Log {
        mu: q.ln() - sigma * z,
        sigma,
    })
}

/// `none`, `only p50`, `3: mean, p50 and p99`: the statistics given, for
/// [`DistributionError::LogNormalStatCount`].
fn listed(names: &[&str]) -> String {
    match names {
        [] => "none".to_string(),
        [only] => format!("only {only}"),
        [init @ .., last] => format!("{}: {} and {last}", names.len(), init.join(", ")),
    }
}

/// Writes a [`Distribution::LogNormalFit`]'s statistics as a table, each under its name,
/// in the order given.
fn serialize_stats<S: serde::Serializer>(
    stats: &[LogNormalStat],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(stats.len()))?;
    for stat in stats {
        map.serialize_entry(stat.name(), &format_duration(stat.value()))?;
    }
    map.end()
}

/// A distribution as files and JSON write it: as [`Distribution`], but a `lognormal` table
/// holds any of the statistics of a log-normal, each optional, for
/// [`Distribution::validate`] to tell which it takes.
#[derive(serde::Deserialize)]
#[serde(
    rename = "Distribution",
    rename_all = "snake_case",
    deny_unknown_fields
)]
enum Repr {
    Constant(#[serde(with = "crate::duration_format")] Duration),
    Uniform {
        #[serde(with = "crate::duration_format")]
        min: Duration,
        #[serde(with = "crate::duration_format")]
        max: Duration,
    },
    Exponential {
        #[serde(with = "crate::duration_format")]
        mean: Duration,
    },
    Normal {
        #[serde(with = "crate::duration_format")]
        mean: Duration,
        #[serde(with = "crate::duration_format")]
        std_dev: Duration,
    },
    #[serde(rename = "lognormal", alias = "log_normal")]
    LogNormal(LogNormalRepr),
    Pareto {
        #[serde(with = "crate::duration_format")]
        scale: Duration,
        shape: f64,
    },
    Empirical {
        #[serde(with = "crate::duration_format::vec")]
        samples: Vec<Duration>,
    },
}

/// The statistics a `lognormal` table may hold. Its name is what a file is told to write
/// when it writes something else.
#[derive(serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a table of two of mean, p50, p90, p99 and p999, or of mean and std_dev"
)]
struct LogNormalRepr {
    #[serde(default, with = "crate::duration_format::option")]
    mean: Option<Duration>,
    #[serde(default, with = "crate::duration_format::option")]
    std_dev: Option<Duration>,
    #[serde(default, with = "crate::duration_format::option")]
    p50: Option<Duration>,
    #[serde(default, with = "crate::duration_format::option")]
    p90: Option<Duration>,
    #[serde(default, with = "crate::duration_format::option")]
    p99: Option<Duration>,
    #[serde(default, with = "crate::duration_format::option")]
    p999: Option<Duration>,
}

impl From<Repr> for Distribution {
    fn from(repr: Repr) -> Self {
        match repr {
            Repr::Constant(value) => Self::Constant(value),
            Repr::Uniform { min, max } => Self::Uniform { min, max },
            Repr::Exponential { mean } => Self::Exponential { mean },
            Repr::Normal { mean, std_dev } => Self::Normal { mean, std_dev },
            Repr::LogNormal(LogNormalRepr {
                mean: Some(mean),
                std_dev: Some(std_dev),
                p50: None,
                p90: None,
                p99: None,
                p999: None,
            }) => Self::LogNormal { mean, std_dev },
            Repr::LogNormal(given) => Self::LogNormalFit {
                stats: [
                    given.mean.map(LogNormalStat::Mean),
                    given.std_dev.map(LogNormalStat::StdDev),
                    given.p50.map(LogNormalStat::P50),
                    given.p90.map(LogNormalStat::P90),
                    given.p99.map(LogNormalStat::P99),
                    given.p999.map(LogNormalStat::P999),
                ]
                .into_iter()
                .flatten()
                .collect(),
            },
            Repr::Pareto { scale, shape } => Self::Pareto { scale, shape },
            Repr::Empirical { samples } => Self::Empirical { samples },
        }
    }
}

/// Rounds `nanos` to the nearest nanosecond, clamped to
/// `0..=`[`Distribution::SAMPLE_CAP`]; NaN gives zero. The cap is the
/// distribution's own rule, so this stays here rather than in `crate::nanos`.
fn duration_from_nanos_f64(nanos: f64) -> Duration {
    if nanos.is_nan() || nanos <= 0.0 {
        Duration::ZERO
    } else if nanos >= CAP_NANOS {
        Distribution::SAMPLE_CAP
    } else {
        // In range 0..1e16, so the conversion is exact after rounding.
        Duration::from_nanos(nanos.round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const N: usize = 200_000;

    fn ms(v: f64) -> Duration {
        Duration::from_nanos((v * 1e6).round() as u64)
    }

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    /// `n` samples in f64 milliseconds.
    fn draw(d: &Distribution, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = rng(seed);
        (0..n)
            .map(|_| d.sample(&mut rng).as_secs_f64() * 1e3)
            .collect()
    }

    fn mean_sd(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    }

    fn quantile(xs: &[f64], q: f64) -> f64 {
        let mut sorted = xs.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }

    fn assert_close(what: &str, got: f64, want: f64, rel: f64) {
        assert!(
            (got - want).abs() <= rel * want.abs(),
            "{what}: got {got}, want {want} within {}%",
            rel * 100.0
        );
    }

    #[test]
    fn constant_is_exact() {
        let value = Duration::new(3, 141_592_653);
        let d = Distribution::constant(value);
        let mut rng = rng(1);
        for _ in 0..1000 {
            assert_eq!(d.sample(&mut rng), value);
        }
        assert_eq!(d.mean(), Some(value));
        // Beyond the cap too: constants are never capped.
        let huge = Distribution::constant(Duration::MAX);
        assert_eq!(huge.sample(&mut rng), Duration::MAX);
    }

    #[test]
    fn exponential_mean_and_p99() {
        let xs = draw(&Distribution::exponential(ms(1.0)), N, 11);
        let (mean, sd) = mean_sd(&xs);
        assert_close("mean", mean, 1.0, 0.01);
        assert_close("sd", sd, 1.0, 0.02);
        // p99 of Exp(1) is ln(100) = 4.605.
        assert_close("p99", quantile(&xs, 0.99), 100f64.ln(), 0.03);
        assert!(xs.iter().all(|&x| x >= 0.0));
    }

    #[test]
    fn lognormal_mean_and_sd() {
        let d = Distribution::lognormal(ms(2.0), ms(1.0));
        let xs = draw(&d, N, 12);
        let (mean, sd) = mean_sd(&xs);
        assert_close("mean", mean, 2.0, 0.02);
        assert_close("sd", sd, 1.0, 0.02);
        assert!(xs.iter().all(|&x| x > 0.0));
        // Median is exp(mu) = m / sqrt(1 + s²/m²) = 2 / sqrt(1.25).
        assert_close("median", quantile(&xs, 0.5), 2.0 / 1.25f64.sqrt(), 0.01);
        assert_eq!(d.mean(), Some(ms(2.0)));
    }

    #[test]
    fn lognormal_with_zero_sd_is_constant() {
        let d = Distribution::lognormal(ms(2.0), Duration::ZERO);
        assert_eq!(d.sample(&mut rng(1)), ms(2.0));
        let zero = Distribution::lognormal(Duration::ZERO, Duration::ZERO);
        assert!(zero.validate().is_ok());
        assert_eq!(zero.sample(&mut rng(1)), Duration::ZERO);
    }

    fn p(kind: fn(Duration) -> LogNormalStat, millis: f64) -> LogNormalStat {
        kind(ms(millis))
    }

    /// `mu` and `sigma` of a fit that must succeed.
    fn log_params(stats: &[LogNormalStat]) -> (f64, f64) {
        match fit(stats) {
            Ok(Fitted::Log { mu, sigma }) => (mu, sigma),
            Ok(Fitted::MeanStdDev(d)) => panic!("{d}: not a fit of mu and sigma"),
            Err(e) => panic!("{stats:?}: {e}"),
        }
    }

    /// The quantiles are those of the standard normal: their upper tails, `erfc(z / sqrt 2) /
    /// 2`, are 0.1, 0.01 and 0.001 to a few parts in 10^16 (a wrong 15th digit of z99 would
    /// move its tail by 2.7 parts in 10^15), and they agree with the published digits.
    #[test]
    fn z_values_are_the_normal_quantiles() {
        for (z, tail, published) in [
            (Z_P90, 0.1, 1.281_551_565_544_600_4),
            (Z_P99, 0.01, 2.326_347_874_040_840_8),
            (Z_P999, 0.001, 3.090_232_306_167_813),
        ] {
            let computed = 0.5 * libm::erfc(z / std::f64::consts::SQRT_2);
            assert!(
                ((computed - tail) / tail).abs() < 2e-15,
                "z {z}: tail {computed}, want {tail}"
            );
            assert!((z - published).abs() <= 1e-15, "z {z} against {published}");
        }
        assert_eq!(LogNormalStat::P50(ms(1.0)).z(), Some(0.0));
        // The percentiles that scenario files' hints name are these.
        #[cfg(feature = "scenario")]
        {
            use LogNormalStat as S;
            let percentiles = [S::P50, S::P90, S::P99, S::P999].map(|stat| stat(ms(1.0)));
            assert!(percentiles.iter().all(|stat| stat.z().is_some()));
            assert_eq!(percentiles.map(LogNormalStat::name), LOGNORMAL_PERCENTILES);
        }
    }

    /// The conversions against values worked out by hand (in f64, from the formulas in
    /// `lognormal_fit`'s documentation), in log-nanoseconds.
    #[test]
    fn lognormal_fit_conversions_match_hand_computed_values() {
        use LogNormalStat as S;
        let close = |what: &str, got: f64, want: f64| {
            assert!(
                (got - want).abs() <= 1e-12 * want.abs(),
                "{what}: got {got:?}, want {want:?}"
            );
        };
        // p50 20ms, p99 80ms: sigma = ln 4 / z99, mu = ln(2e7), exactly the median.
        let (mu, sigma) = log_params(&[p(S::P50, 20.0), p(S::P99, 80.0)]);
        close("sigma", sigma, 0.595_910_171_728_492_4);
        assert_eq!(mu, 2e7f64.ln(), "the median is the given p50");
        close("p99", (mu + sigma * Z_P99).exp(), 8e7);
        // Either order gives the same distribution.
        assert_eq!(log_params(&[p(S::P99, 80.0), p(S::P50, 20.0)]), (mu, sigma));
        // p90 50ms, p99 100ms: sigma = ln 2 / (z99 - z90), median exp(mu) = 21.366104 ms.
        let (mu, sigma) = log_params(&[p(S::P90, 50.0), p(S::P99, 100.0)]);
        close("sigma", sigma, 0.663_428_052_839_870_4);
        close("median", mu.exp(), 21_366_104.098_852_08);
        // mean 25ms, p50 20ms: sigma = sqrt(2 ln 1.25).
        let (mu, sigma) = log_params(&[p(S::Mean, 25.0), p(S::P50, 20.0)]);
        close("sigma", sigma, 0.668_047_230_836_577_6);
        assert_eq!(mu, 2e7f64.ln());
        // mean 100ms above p99 80ms: one positive root, z + sqrt(z^2 + 2 ln 1.25).
        let (_, sigma) = log_params(&[p(S::Mean, 100.0), p(S::P99, 80.0)]);
        close("sigma", sigma, 4.746_715_931_523_578);
        // mean 30ms below p99 80ms: the roots z -+ sqrt(z^2 + 2 ln(3/8)) are 0.46887 and
        // 4.18383, both fitting both statistics; the smaller is taken.
        let (mu, sigma) = log_params(&[p(S::Mean, 30.0), p(S::P99, 80.0)]);
        close("sigma", sigma, 0.468_866_804_142_445_5);
        let other = 4.183_828_943_939_236;
        let other_mu = 8e7f64.ln() - other * Z_P99;
        for (mu, sigma) in [(mu, sigma), (other_mu, other)] {
            close("mean", (mu + sigma * sigma / 2.0).exp(), 3e7);
            close("p99", (mu + sigma * Z_P99).exp(), 8e7);
        }
        // The other puts the median below p99 * exp(-z^2), a 224th of it.
        assert!(other_mu.exp() < 8e7 * (-Z_P99 * Z_P99).exp());
        // At the least mean, q exp(-z^2 / 2) = 5.344561058 ms, the roots meet at z; rounded
        // up to the nanosecond it is 1.8e-7 above, where they are z -+ sqrt(2 ln(1 + 1.8e-7)).
        let least = 8e7 * (-Z_P99 * Z_P99 / 2.0).exp();
        close("least mean", least, 5_344_561.058_133_936);
        let (_, sigma) = log_params(&[S::Mean(Duration::from_nanos(5_344_562)), p(S::P99, 80.0)]);
        close(
            "sigma at the least mean",
            sigma,
            Z_P99 - (2.0 * (5_344_562.0 / least).ln()).sqrt(),
        );
        assert!((sigma - Z_P99).abs() < 1e-3);
        // The mean as given is the mean; without one it is exp(mu + sigma^2 / 2).
        let given = Distribution::lognormal_fit(p(S::Mean, 30.0), p(S::P99, 80.0));
        assert_eq!(given.mean(), Some(ms(30.0)));
        let fitted = Distribution::lognormal_fit(p(S::P50, 20.0), p(S::P99, 80.0));
        assert_eq!(fitted.mean(), Some(Duration::from_nanos(23_885_862)));
    }

    /// Draws follow the fit. N = 200,000 draws: the sample median's standard error is
    /// sqrt(p(1-p)/N) * q sigma / phi(z) = 0.17% of it, the p99's 0.5% (the density of a
    /// lognormal at q_p is phi(z_p) / (q_p sigma)); the tolerances, 1% and 2%, are four
    /// standard errors or more. The mean's is sd / sqrt(N) = 0.15%, within 1%.
    #[test]
    fn lognormal_fit_draws_have_the_given_percentiles() {
        use LogNormalStat as S;
        let d = Distribution::lognormal_fit(p(S::P50, 20.0), p(S::P99, 80.0));
        let xs = draw(&d, N, 21);
        assert!(xs.iter().all(|&x| x > 0.0));
        assert_close("p50", quantile(&xs, 0.5), 20.0, 0.01);
        assert_close("p99", quantile(&xs, 0.99), 80.0, 0.02);
        let (mean, _) = mean_sd(&xs);
        assert_close("mean", mean, 23.885_862, 0.01);
        let d = Distribution::lognormal_fit(p(S::Mean, 30.0), p(S::P90, 40.0));
        let xs = draw(&d, N, 22);
        let (mean, _) = mean_sd(&xs);
        assert_close("mean", mean, 30.0, 0.01);
        // The p90's standard error is 0.3% here.
        assert_close("p90", quantile(&xs, 0.9), 40.0, 0.015);
    }

    #[test]
    fn lognormal_fit_of_mean_and_std_dev_is_the_mean_and_std_dev_form() {
        use LogNormalStat as S;
        let classic = Distribution::lognormal(ms(2.0), ms(1.0));
        assert_eq!(
            Distribution::lognormal_fit(p(S::Mean, 2.0), p(S::StdDev, 1.0)),
            classic
        );
        assert_eq!(
            Distribution::lognormal_fit(p(S::StdDev, 1.0), p(S::Mean, 2.0)),
            classic
        );
        // Written as the variant, it draws the same too, and keeps the form's rules.
        let spelt = Distribution::LogNormalFit {
            stats: vec![p(S::Mean, 2.0), p(S::StdDev, 1.0)],
        };
        let (a, b) = (draw(&spelt, 100, 5), draw(&classic, 100, 5));
        assert_eq!(a, b);
        assert_eq!(spelt.mean(), Some(ms(2.0)));
        let zero = Distribution::LogNormalFit {
            stats: vec![S::Mean(Duration::ZERO), S::StdDev(Duration::ZERO)],
        };
        assert!(zero.is_always_zero());
        assert_eq!(
            Distribution::LogNormalFit {
                stats: vec![S::Mean(Duration::ZERO), p(S::StdDev, 1.0)],
            }
            .validate(),
            Err(DistributionError::LogNormalZeroMean { std_dev: ms(1.0) })
        );
    }

    #[test]
    fn lognormal_fit_errors_say_why() {
        use LogNormalStat as S;
        let fit_of = |stats: Vec<LogNormalStat>| Distribution::LogNormalFit { stats };
        let cases = [
            (
                fit_of(vec![p(S::P50, 20.0), p(S::P99, 10.0)]),
                "lognormal p99 (10ms) must be greater than p50 (20ms): a larger percentile \
                 cannot be faster",
            ),
            (
                fit_of(vec![p(S::P999, 20.0), p(S::P90, 20.0)]),
                "lognormal p999 (20ms) must be greater than p90 (20ms): a larger percentile \
                 cannot be faster",
            ),
            (
                fit_of(vec![p(S::P99, 20.0), p(S::P99, 30.0)]),
                "lognormal p99 is given twice; give two different statistics",
            ),
            (
                fit_of(vec![p(S::Mean, 20.0), p(S::Mean, 20.0)]),
                "lognormal mean is given twice; give two different statistics",
            ),
            (
                fit_of(vec![]),
                "lognormal takes exactly two of mean, p50, p90, p99 and p999 (or mean and \
                 std_dev), got none",
            ),
            (
                fit_of(vec![p(S::P50, 20.0)]),
                "lognormal takes exactly two of mean, p50, p90, p99 and p999 (or mean and \
                 std_dev), got only p50",
            ),
            (
                fit_of(vec![p(S::Mean, 30.0), p(S::P50, 20.0), p(S::P99, 80.0)]),
                "lognormal takes exactly two of mean, p50, p90, p99 and p999 (or mean and \
                 std_dev), got 3: mean, p50 and p99",
            ),
            (
                fit_of(vec![p(S::P50, 20.0), p(S::StdDev, 5.0)]),
                "lognormal std_dev goes only with mean, not with p50: give mean and std_dev, \
                 or two of mean, p50, p90, p99 and p999",
            ),
            (
                fit_of(vec![p(S::Mean, 20.0), p(S::P50, 20.0)]),
                "lognormal mean (20ms) must be greater than p50 (20ms): a lognormal's mean \
                 exceeds its median",
            ),
            (
                fit_of(vec![p(S::P50, 20.0), p(S::Mean, 15.0)]),
                "lognormal mean (15ms) must be greater than p50 (20ms): a lognormal's mean \
                 exceeds its median",
            ),
            (
                fit_of(vec![
                    S::Mean(Duration::from_nanos(5_344_561)),
                    p(S::P99, 80.0),
                ]),
                "lognormal mean (5344.561us) is too small for p99 (80ms): a lognormal with \
                 that p99 has a mean of at least 5344.562us",
            ),
            (
                fit_of(vec![S::P50(Duration::ZERO), p(S::P99, 80.0)]),
                "lognormal p50 must be greater than 0s, got 0s: a lognormal's values are all \
                 above zero",
            ),
            (
                fit_of(vec![p(S::Mean, 1.0), S::P90(Duration::ZERO)]),
                "lognormal p90 must be greater than 0s, got 0s: a lognormal's values are all \
                 above zero",
            ),
        ];
        let mut rng = rng(23);
        for (d, want) in cases {
            assert_eq!(d.validate().unwrap_err().to_string(), want, "{d}");
            // An invalid fit is nothing: no draws, no mean, never said to be zero.
            assert_eq!(d.sample(&mut rng), Duration::ZERO, "{d}");
            assert!(!d.is_always_zero() && !d.is_zero(), "{d}");
        }
        // Too long is a bound on lengths: the shape is still one (as for every kind).
        let long = fit_of(vec![
            p(S::P50, 1.0),
            S::P99(Duration::from_secs(876_001 * 3600)),
        ]);
        assert_eq!(
            long.validate().unwrap_err().to_string(),
            "lognormal p99 must be at most 876000h (100 years: the clock counts 584 years, and a \
             run adds durations together), got 3153603600s"
        );
        // A mean that is too small is told for p90 and p999 as well, and at the least one
        // the fit holds.
        for (stat, z) in [(S::P90 as fn(_) -> _, Z_P90), (S::P999, Z_P999)] {
            let q = ms(100.0);
            let least = Duration::from_nanos((1e8 * (-z * z / 2.0).exp()).ceil() as u64);
            let below = fit_of(vec![S::Mean(least - Duration::from_nanos(1)), stat(q)]);
            assert!(
                matches!(
                    below.validate(),
                    Err(DistributionError::LogNormalMeanTooSmall { least: l, .. }) if l == least
                ),
                "{below}"
            );
            assert_eq!(fit_of(vec![S::Mean(least), stat(q)]).validate(), Ok(()));
        }
    }

    #[test]
    fn uniform_bounds_and_mean() {
        let (lo, hi) = (ms(1.0), ms(5.0));
        let d = Distribution::uniform(lo, hi);
        let mut rng = rng(13);
        let samples: Vec<Duration> = (0..N).map(|_| d.sample(&mut rng)).collect();
        assert!(samples.iter().all(|s| lo <= *s && *s <= hi));
        let xs: Vec<f64> = samples.iter().map(|s| s.as_secs_f64() * 1e3).collect();
        let (mean, sd) = mean_sd(&xs);
        assert_close("mean", mean, 3.0, 0.01);
        assert_close("sd", sd, 4.0 / 12f64.sqrt(), 0.02);
        assert_eq!(d.mean(), Some(ms(3.0)));
    }

    #[test]
    fn uniform_endpoints_are_exact_and_reachable() {
        let lo = Duration::from_nanos(10);
        let hi = Duration::from_nanos(12);
        let d = Distribution::uniform(lo, hi);
        let mut rng = rng(14);
        let mut seen = [0usize; 3];
        for _ in 0..3_000 {
            let x = d.sample(&mut rng).as_nanos();
            seen[(x - 10) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
        let point = Distribution::uniform(lo, lo);
        assert_eq!(point.sample(&mut rng), lo);
        // Beyond u64 nanoseconds works exactly too.
        let big = Distribution::uniform(Duration::MAX - Duration::from_nanos(1), Duration::MAX);
        let x = big.sample(&mut rng);
        assert!(x >= Duration::MAX - Duration::from_nanos(1));
        assert_eq!(
            big.mean(),
            Some(Duration::MAX),
            "mean rounds halves up to the nanosecond"
        );
    }

    #[test]
    fn normal_is_never_negative_and_matches_truncated_mean() {
        let d = Distribution::normal(ms(1.0), ms(2.0));
        let mean = d.mean().unwrap().as_secs_f64() * 1e3;
        // a = -0.5: phi(a) = 0.3520653, 1 - Phi(a) = 0.6914625.
        assert_close(
            "analytic",
            mean,
            1.0 + 2.0 * 0.352_065_3 / 0.691_462_5,
            1e-6,
        );
        let xs = draw(&d, N, 15);
        assert!(xs.iter().all(|&x| x >= 0.0));
        let (sample_mean, _) = mean_sd(&xs);
        assert_close("mean", sample_mean, mean, 0.02);
        // A truncated normal keeps its shape: about 1 - Phi(0.5)/(1-Phi(-0.5))
        // of the mass lies below 1ms, i.e. (0.6914625-0.5)/0.6914625.
        let below = xs.iter().filter(|&&x| x < 1.0).count() as f64 / N as f64;
        assert_close("mass below mean", below, 0.191_462_5 / 0.691_462_5, 0.03);
    }

    #[test]
    fn normal_with_small_sd_is_untruncated() {
        let d = Distribution::normal(ms(10.0), ms(1.0));
        let xs = draw(&d, N, 16);
        let (mean, sd) = mean_sd(&xs);
        assert_close("mean", mean, 10.0, 0.01);
        assert_close("sd", sd, 1.0, 0.02);
        assert_close(
            "analytic",
            d.mean().unwrap().as_secs_f64() * 1e3,
            10.0,
            1e-9,
        );
        let fixed = Distribution::normal(ms(3.0), Duration::ZERO);
        assert_eq!(fixed.sample(&mut rng(1)), ms(3.0));
        assert_eq!(fixed.mean(), Some(ms(3.0)));
    }

    #[test]
    fn pareto_mean_and_minimum() {
        let d = Distribution::pareto(ms(1.0), 3.0);
        let xs = draw(&d, N, 17);
        assert!(xs.iter().all(|&x| x >= 1.0));
        let (mean, _) = mean_sd(&xs);
        assert_close("mean", mean, 1.5, 0.03);
        // P(X > x) = (1/x)^3, so the median is 2^(1/3).
        assert_close("median", quantile(&xs, 0.5), 2f64.powf(1.0 / 3.0), 0.01);
        assert_eq!(d.mean(), Some(ms(1.5)));
        assert_eq!(Distribution::pareto(ms(1.0), 0.5).mean(), None);
    }

    #[test]
    fn heavy_tails_are_capped() {
        let d = Distribution::pareto(Duration::from_secs(1), 0.05);
        let mut rng = rng(18);
        let samples: Vec<Duration> = (0..10_000).map(|_| d.sample(&mut rng)).collect();
        assert!(samples.iter().all(|s| *s <= Distribution::SAMPLE_CAP));
        assert!(samples.contains(&Distribution::SAMPLE_CAP));
        let huge = Distribution::exponential(Duration::MAX);
        assert!(huge.sample(&mut rng) <= Distribution::SAMPLE_CAP);
    }

    #[test]
    fn empirical_returns_only_given_samples_equally_often() {
        let values = [1.0, 2.0, 7.0, 0.25].map(ms);
        let d = Distribution::empirical(values);
        let mut rng = rng(19);
        let mut counts = [0usize; 4];
        for _ in 0..N {
            let x = d.sample(&mut rng);
            let i = values.iter().position(|v| *v == x).expect("a given sample");
            counts[i] += 1;
        }
        let expected = N as f64 / 4.0;
        for c in counts {
            assert_close("frequency", c as f64, expected, 0.02);
        }
        assert_eq!(d.mean(), Some(ms(2.5625)));
    }

    #[test]
    fn same_seed_same_sequence() {
        let all = [
            Distribution::constant(ms(1.0)),
            Distribution::uniform(ms(1.0), ms(9.0)),
            Distribution::exponential(ms(1.0)),
            Distribution::normal(ms(1.0), ms(1.0)),
            Distribution::lognormal(ms(1.0), ms(3.0)),
            Distribution::lognormal_fit(LogNormalStat::P50(ms(1.0)), LogNormalStat::P99(ms(3.0))),
            Distribution::pareto(ms(1.0), 1.5),
            Distribution::empirical([ms(1.0), ms(2.0), ms(3.0)]),
        ];
        for d in &all {
            let a: Vec<Duration> = {
                let mut r = rng(99);
                (0..100).map(|_| d.sample(&mut r)).collect()
            };
            let b: Vec<Duration> = {
                let mut r = rng(99);
                (0..100).map(|_| d.sample(&mut r)).collect()
            };
            let c: Vec<Duration> = {
                let mut r = rng(100);
                (0..100).map(|_| d.sample(&mut r)).collect()
            };
            assert_eq!(a, b, "{d}");
            if !matches!(d, Distribution::Constant(_)) {
                assert_ne!(a, c, "{d}: a different seed should differ");
            }
        }
    }

    /// Whatever `is_always_zero` says of a distribution, its draws bear out.
    #[test]
    fn always_zero_means_every_draw_is_zero() {
        let (zero, ms) = (Duration::ZERO, Duration::from_millis(1));
        let always = [
            Distribution::ZERO,
            Distribution::uniform(zero, zero),
            Distribution::normal(zero, zero),
            Distribution::lognormal(zero, zero),
            Distribution::empirical([zero, zero, zero]),
        ];
        let sometimes = [
            Distribution::constant(Duration::from_nanos(1)),
            Distribution::uniform(zero, ms),
            Distribution::normal(zero, ms),
            Distribution::exponential(ms),
            Distribution::lognormal(ms, ms),
            Distribution::lognormal_fit(LogNormalStat::Mean(ms * 2), LogNormalStat::P50(ms)),
            Distribution::pareto(ms, 2.0),
            Distribution::empirical([zero, ms]),
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for d in &always {
            assert!(d.is_always_zero(), "{d}");
            assert!((0..1000).all(|_| d.sample(&mut rng).is_zero()), "{d}");
        }
        for d in &sometimes {
            assert!(!d.is_always_zero(), "{d}");
            assert!((0..1000).any(|_| !d.sample(&mut rng).is_zero()), "{d}");
        }
        // An invalid distribution is not said to be anything.
        assert!(!Distribution::empirical(Vec::new()).is_always_zero());
    }

    #[test]
    fn validate_errors() {
        use DistributionError as E;
        let zero = Duration::ZERO;
        assert_eq!(
            Distribution::uniform(ms(5.0), ms(1.0)).validate(),
            Err(E::UniformMinGreaterThanMax {
                min: ms(5.0),
                max: ms(1.0)
            })
        );
        assert_eq!(
            Distribution::exponential(zero).validate(),
            Err(E::ExponentialZeroMean)
        );
        assert_eq!(
            Distribution::lognormal(zero, ms(2.0)).validate(),
            Err(E::LogNormalZeroMean { std_dev: ms(2.0) })
        );
        assert_eq!(
            Distribution::pareto(zero, 2.0).validate(),
            Err(E::ParetoZeroScale)
        );
        for shape in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, -1.0] {
            let err = Distribution::pareto(ms(1.0), shape).validate().unwrap_err();
            assert!(
                matches!(err, E::ParetoInvalidShape { shape: s } if s.to_bits() == shape.to_bits()),
                "{shape}: {err:?}"
            );
        }
        assert_eq!(
            Distribution::empirical([]).validate(),
            Err(E::EmpiricalEmpty)
        );

        let messages = [
            (
                Distribution::uniform(ms(5.0), ms(1.0)),
                "uniform min 5ms is greater than max 1ms",
            ),
            (
                Distribution::exponential(zero),
                "exponential mean must be greater than 0s, got 0s (use constant 0s for no delay)",
            ),
            (
                Distribution::lognormal(zero, ms(2.0)),
                "lognormal mean is 0s but std_dev is 2ms; a nonzero std_dev needs a mean greater than 0s",
            ),
            (
                Distribution::pareto(zero, 2.0),
                "pareto scale must be greater than 0s, got 0s",
            ),
            (
                Distribution::pareto(ms(1.0), f64::NAN),
                "pareto shape must be a finite number > 0, got NaN",
            ),
            (
                Distribution::pareto(ms(1.0), -2.5),
                "pareto shape must be a finite number > 0, got -2.5",
            ),
            (
                Distribution::pareto(ms(1.0), f64::INFINITY),
                "pareto shape must be a finite number > 0, got inf",
            ),
            (
                Distribution::empirical([]),
                "empirical distribution has no samples; give at least one",
            ),
        ];
        for (d, want) in messages {
            assert_eq!(d.validate().unwrap_err().to_string(), want);
        }

        for ok in [
            Distribution::ZERO,
            Distribution::uniform(ms(1.0), ms(1.0)),
            Distribution::normal(zero, zero),
            Distribution::normal(zero, ms(1.0)),
            Distribution::lognormal(zero, zero),
            Distribution::pareto(ms(1.0), 1e-3),
            Distribution::empirical([zero]),
        ] {
            assert_eq!(ok.validate(), Ok(()), "{ok}");
        }
    }

    #[test]
    fn invalid_distributions_sample_without_panicking() {
        let zero = Duration::ZERO;
        let mut rng = rng(20);
        for d in [
            Distribution::exponential(zero),
            Distribution::lognormal(zero, ms(1.0)),
            Distribution::pareto(zero, 2.0),
            Distribution::pareto(ms(1.0), f64::NAN),
            Distribution::pareto(ms(1.0), -1.0),
            Distribution::pareto(ms(1.0), f64::INFINITY),
            Distribution::empirical([]),
        ] {
            assert_eq!(d.sample(&mut rng), zero, "{d}");
            assert_eq!(d.mean(), None, "{d}");
        }
        let swapped = Distribution::uniform(ms(5.0), ms(1.0));
        let x = swapped.sample(&mut rng);
        assert!(ms(1.0) <= x && x <= ms(5.0));
    }

    #[test]
    fn json_round_trip_of_every_variant() {
        let cases = [
            (Distribution::constant(ms(0.2)), r#"{"constant":"200us"}"#),
            (
                Distribution::uniform(ms(1.0), ms(5.0)),
                r#"{"uniform":{"min":"1ms","max":"5ms"}}"#,
            ),
            (
                Distribution::exponential(ms(1.0)),
                r#"{"exponential":{"mean":"1ms"}}"#,
            ),
            (
                Distribution::normal(ms(1.0), ms(0.25)),
                r#"{"normal":{"mean":"1ms","std_dev":"250us"}}"#,
            ),
            (
                Distribution::lognormal(ms(2.0), ms(1.0)),
                r#"{"lognormal":{"mean":"2ms","std_dev":"1ms"}}"#,
            ),
            (
                Distribution::lognormal_fit(
                    LogNormalStat::P50(ms(20.0)),
                    LogNormalStat::P99(ms(80.0)),
                ),
                r#"{"lognormal":{"p50":"20ms","p99":"80ms"}}"#,
            ),
            (
                Distribution::lognormal_fit(
                    LogNormalStat::Mean(ms(3.0)),
                    LogNormalStat::P999(ms(9.0)),
                ),
                r#"{"lognormal":{"mean":"3ms","p999":"9ms"}}"#,
            ),
            (
                Distribution::pareto(ms(1.0), 2.5),
                r#"{"pareto":{"scale":"1ms","shape":2.5}}"#,
            ),
            (
                Distribution::empirical([ms(1.0), ms(2.0)]),
                r#"{"empirical":{"samples":["1ms","2ms"]}}"#,
            ),
        ];
        for (d, json) in cases {
            assert_eq!(serde_json::to_string(&d).unwrap(), json);
            assert_eq!(serde_json::from_str::<Distribution>(json).unwrap(), d);
        }
        assert_eq!(
            serde_json::from_str::<Distribution>(
                r#"{"log_normal":{"mean":"2ms","std_dev":"1ms"}}"#
            )
            .unwrap(),
            Distribution::lognormal(ms(2.0), ms(1.0))
        );
        // The statistics are kept in the files' order of keys, whatever order is written.
        assert_eq!(
            serde_json::from_str::<Distribution>(r#"{"lognormal":{"p99":"80ms","p50":"20ms"}}"#)
                .unwrap(),
            Distribution::lognormal_fit(LogNormalStat::P50(ms(20.0)), LogNormalStat::P99(ms(80.0)))
        );
        // Whatever else a lognormal table holds is kept for `validate` to judge.
        assert_eq!(
            serde_json::from_str::<Distribution>(r#"{"lognormal":{"std_dev":"1ms"}}"#).unwrap(),
            Distribution::LogNormalFit {
                stats: vec![LogNormalStat::StdDev(ms(1.0))]
            }
        );
    }

    #[test]
    fn json_errors_are_clear() {
        let err = |json: &str| {
            serde_json::from_str::<Distribution>(json)
                .unwrap_err()
                .to_string()
        };
        assert!(err(r#"{"constant":200}"#).contains("duration \"200\" has no unit"));
        assert!(err(r#"{"exponential":{"mean":"1ms","extra":1}}"#).contains("unknown field"));
        assert!(err(r#"{"gamma":{"mean":"1ms"}}"#).contains("unknown variant"));
        assert!(err(r#"{"uniform":{"min":"1ms"}}"#).contains("missing field `max`"));
        assert!(err(r#"{"exponential":{"mean":"1 sec"}}"#).contains("unknown unit"));
        assert!(err(r#"{"lognormal":{"p50":"1ms","p95":"2ms"}}"#).contains("unknown field `p95`"));
        assert!(err(r#"{"lognormal":{"p50":20}}"#).contains("has no unit"));
    }

    #[test]
    fn display_forms() {
        let cases = [
            (Distribution::constant(ms(0.25)), "constant 250us"),
            (Distribution::exponential(ms(1.0)), "exponential(mean 1ms)"),
            (Distribution::uniform(ms(1.0), ms(5.0)), "uniform(1ms..5ms)"),
            (
                Distribution::normal(ms(1.0), ms(0.5)),
                "normal(mean 1ms, sd 500us)",
            ),
            (
                Distribution::lognormal(ms(2.0), ms(1.0)),
                "lognormal(mean 2ms, sd 1ms)",
            ),
            (
                Distribution::lognormal_fit(
                    LogNormalStat::P50(ms(20.0)),
                    LogNormalStat::P99(ms(80.0)),
                ),
                "lognormal(p50 20ms, p99 80ms)",
            ),
            (
                Distribution::lognormal_fit(
                    LogNormalStat::P999(ms(90.0)),
                    LogNormalStat::Mean(ms(3.0)),
                ),
                "lognormal(p999 90ms, mean 3ms)",
            ),
            (
                Distribution::pareto(ms(1.0), 2.5),
                "pareto(scale 1ms, shape 2.5)",
            ),
            (
                Distribution::empirical([ms(1.0), ms(2.0), ms(3.0)]),
                "empirical(3 samples)",
            ),
            (Distribution::empirical([ms(1.0)]), "empirical(1 sample)"),
        ];
        for (d, want) in cases {
            assert_eq!(d.to_string(), want);
        }
    }

    #[test]
    fn zero_and_default() {
        assert!(Distribution::ZERO.is_zero());
        assert!(Distribution::default().is_zero());
        assert!(!Distribution::exponential(ms(1.0)).is_zero());
        assert!(!Distribution::empirical([Duration::ZERO]).is_zero());
        assert_eq!(Distribution::ZERO.sample(&mut rng(1)), Duration::ZERO);
    }
}
