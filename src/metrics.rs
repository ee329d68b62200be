//! Measurement: latency distributions and worker busy time.
//!
//! This module is the one place where microsim turns simulated events into
//! figures. Everything the [`report`](crate::report) shows is computed here.
//!
//! # Latency
//!
//! A [`LatencyHistogram`] records one [`Duration`] per observation (for
//! example one completed request) at nanosecond resolution. It keeps two
//! things side by side:
//!
//! * an [HdrHistogram](https://hdrhistogram.github.io/HdrHistogram/) with
//!   three significant digits, which answers percentile queries
//!   ([`quantile`](LatencyHistogram::quantile)) with a relative error of at
//!   most about 0.1 %, whatever the range of values;
//! * the exact count, sum, minimum and maximum, so that the
//!   [`mean`](LatencyHistogram::mean), [`min`](LatencyHistogram::min) and
//!   [`max`](LatencyHistogram::max) are exact. Percentiles are clamped into
//!   `[min, max]`, so a latency that never varies reports the same figure for
//!   every percentile.
//!
//! A histogram costs from 16 KB to about 100 KB, depending on the range of its values, and
//! a simulation has several per service. So a recorder holds its first
//! [`FEW`](LatencyHistogram::FEW) values as they are, and makes the histogram only when
//! more come; a percentile of a few values is read from them sorted, rounded to its
//! histogram bucket as the histogram would round it, so it is the same figure either way. A service that handled a handful
//! of requests costs a few hundred bytes, not three histograms.
//!
//! Which interval a histogram measures (queue wait, processing, end-to-end)
//! and which observations enter it (usually only those in the measured
//! window, after warm-up) is decided by whoever records into it; the
//! histogram itself knows nothing about time windows.
//!
//! A [`LatencySummary`] is what a report shows of one distribution: count,
//! mean, p50, p90, p99, p99.9 and max, in milliseconds as `f64`
//! (nanoseconds divided by 10⁶, so the figures are deterministic).
//!
//! # Utilisation
//!
//! A [`BusyTime`] accumulates how long the workers of a pool were busy inside
//! a measurement window `[window_start, window_end)`, clipping every busy
//! interval to the window. Dividing by the worker time available in the
//! window gives the [`utilization`](BusyTime::utilization), a figure between
//! 0 and 1 when the intervals of each worker do not overlap.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use microsim::metrics::{BusyTime, LatencyHistogram};
//!
//! let mut latency = LatencyHistogram::new();
//! latency.record(Duration::from_millis(2));
//! latency.record(Duration::from_millis(4));
//! assert_eq!(latency.mean(), Duration::from_millis(3));
//! assert_eq!(latency.summary().max, 4.0);
//!
//! let mut busy = BusyTime::new(Duration::from_secs(10), Duration::from_secs(20));
//! busy.record(Duration::from_secs(5), Duration::from_secs(15)); // 5 s inside the window
//! assert_eq!(busy.busy(), Duration::from_secs(5));
//! assert_eq!(busy.utilization(1), 0.5);
//! ```

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::nanos;

/// Significant decimal digits kept by the percentile histogram.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Largest value (in nanoseconds, about 146 years) recorded into the
/// percentile histogram; larger latencies are saturated to it there. The exact
/// sum, minimum and maximum are not affected.
const HISTOGRAM_CEILING_NS: u64 = u64::MAX / 4;

/// Latency recorder: HdrHistogram for percentiles plus exact count, sum, min
/// and max.
///
/// Values are recorded in nanoseconds. The histogram resizes itself as larger
/// values arrive (3 significant digits, lowest discernible value 1 ns; a zero
/// latency is recorded as 0). Recording never panics: latencies too large for
/// the histogram (over about 146 years) are saturated there, while
/// [`max`](Self::max) and [`mean`](Self::mean) stay exact.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use microsim::metrics::LatencyHistogram;
///
/// let mut h = LatencyHistogram::new();
/// for ms in 1..=100 {
///     h.record(Duration::from_millis(ms));
/// }
/// assert_eq!(h.count(), 100);
/// assert_eq!(h.min(), Duration::from_millis(1));
/// assert_eq!(h.max(), Duration::from_millis(100));
/// // Percentiles are accurate to 3 significant digits.
/// let p99 = h.quantile(0.99).as_secs_f64();
/// assert!((p99 - 0.099).abs() <= 0.099 * 0.001);
/// ```
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    /// Percentiles, in nanoseconds (saturated at [`HISTOGRAM_CEILING_NS`]).
    percentiles: Percentiles,
    /// Exact number of recorded values.
    count: u64,
    /// Exact sum of recorded values in nanoseconds (saturating).
    sum_ns: u128,
    /// Exact smallest recorded value in nanoseconds; `u128::MAX` when empty. In nanoseconds
    /// rather than a `Duration`: comparing two integers is cheaper than comparing seconds,
    /// then nanoseconds, and this runs several times per simulated request.
    min_ns: u128,
    /// Exact largest recorded value in nanoseconds; zero when empty.
    max_ns: u128,
}

/// What a [`LatencyHistogram`] answers percentiles from: its few values as they are, or,
/// past [`LatencyHistogram::FEW`], the histogram.
#[derive(Clone, Debug)]
enum Percentiles {
    Few(Vec<u64>),
    Many(Box<Histogram<u64>>),
}

/// Reads quantiles from a histogram, or from few values sorted as a histogram would read
/// them.
enum Quantiles<'a> {
    Few(Vec<u64>),
    Many(&'a Histogram<u64>),
}

/// A histogram with no values, for its bucket boundaries: every histogram of
/// [`SIGNIFICANT_DIGITS`] has the same.
static BUCKETS: std::sync::LazyLock<Histogram<u64>> = std::sync::LazyLock::new(new_histogram);

impl Quantiles<'_> {
    /// The value at quantile `q` (in `[0, 1]`), as `Histogram::value_at_quantile` gives it:
    /// the `ceil(q * n)`-th smallest value (at least the first), reported as the highest
    /// value of its bucket (the lowest for `q = 0`).
    fn at(&self, q: f64) -> u64 {
        match self {
            Quantiles::Many(histogram) => histogram.value_at_quantile(q),
            Quantiles::Few(sorted) => {
                let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
                let value = sorted[rank - 1];
                if q == 0.0 {
                    BUCKETS.lowest_equivalent(value)
                } else {
                    BUCKETS.highest_equivalent(value)
                }
            }
        }
    }
}

impl Percentiles {
    /// What reads these values' quantiles.
    fn quantiles(&self) -> Quantiles<'_> {
        match self {
            Percentiles::Many(histogram) => Quantiles::Many(histogram),
            Percentiles::Few(values) => {
                let mut sorted = values.clone();
                sorted.sort_unstable();
                Quantiles::Few(sorted)
            }
        }
    }

    /// A histogram of these values: the one kept, or one made from the few values.
    fn histogram(&self) -> std::borrow::Cow<'_, Histogram<u64>> {
        match self {
            Percentiles::Many(histogram) => std::borrow::Cow::Borrowed(histogram),
            Percentiles::Few(values) => std::borrow::Cow::Owned(histogram_of(values)),
        }
    }

    /// The histogram, made from the few values if there is none yet.
    fn many(&mut self) -> &mut Histogram<u64> {
        if let Percentiles::Few(values) = self {
            *self = Percentiles::Many(Box::new(histogram_of(values)));
        }
        match self {
            Percentiles::Many(histogram) => histogram,
            Percentiles::Few(_) => unreachable!("made just above"),
        }
    }

    #[inline]
    fn record(&mut self, value: u64) {
        match self {
            // The usual case first: a recorder that records often has its histogram.
            Percentiles::Many(histogram) => record_into(histogram, value, 1),
            Percentiles::Few(values) if values.len() < LatencyHistogram::FEW => values.push(value),
            Percentiles::Few(_) => record_into(self.many(), value, 1),
        }
    }

    fn merge(&mut self, other: &Percentiles) {
        match (&mut *self, other) {
            (Percentiles::Few(ours), Percentiles::Few(theirs))
                if ours.len() + theirs.len() <= LatencyHistogram::FEW =>
            {
                ours.extend_from_slice(theirs);
            }
            (_, Percentiles::Few(theirs)) => {
                let ours = self.many();
                for &value in theirs {
                    record_into(ours, value, 1);
                }
            }
            (_, Percentiles::Many(theirs)) => {
                let ours = self.many();
                if ours.add(&**theirs).is_err() {
                    // Only reachable if the histogram could not grow: copy value by
                    // value, saturating, instead of losing observations.
                    for bucket in theirs.iter_recorded() {
                        ours.saturating_record_n(
                            bucket.value_iterated_to(),
                            bucket.count_at_value(),
                        );
                    }
                }
            }
        }
    }
}

/// A histogram of `values`.
fn histogram_of(values: &[u64]) -> Histogram<u64> {
    let mut histogram = new_histogram();
    for &value in values {
        record_into(&mut histogram, value, 1);
    }
    histogram
}

/// Records `count` of `value` into `histogram`.
#[inline]
fn record_into(histogram: &mut Histogram<u64>, value: u64, count: u64) {
    if histogram.record_n(value, count).is_err() {
        // Only reachable if the histogram could not grow; keep the observation rather
        // than dropping it.
        histogram.saturating_record_n(value, count);
    }
}

impl LatencyHistogram {
    /// How many values a recorder keeps as they are before it makes its histogram: 2 KB
    /// of values, against the histogram's 16 KB or more.
    pub const FEW: usize = 256;

    /// Creates an empty recorder.
    ///
    /// # Examples
    ///
    /// ```
    /// use microsim::metrics::LatencyHistogram;
    ///
    /// let h = LatencyHistogram::new();
    /// assert!(h.is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            percentiles: Percentiles::Few(Vec::new()),
            count: 0,
            sum_ns: 0,
            min_ns: u128::MAX,
            max_ns: 0,
        }
    }

    /// Records one latency, in nanoseconds. Never panics.
    ///
    /// A zero latency is legal and recorded as 0. Latencies beyond the
    /// histogram's range (about 146 years) are saturated in the histogram;
    /// the exact minimum, maximum and sum still use the real value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::metrics::LatencyHistogram;
    ///
    /// let mut h = LatencyHistogram::new();
    /// h.record(Duration::ZERO);
    /// h.record(Duration::MAX);
    /// assert_eq!(h.count(), 2);
    /// assert_eq!(h.max(), Duration::MAX);
    /// ```
    pub fn record(&mut self, latency: Duration) {
        // In u64 arithmetic when it fits (every latency below 584 years): this runs several
        // times per simulated request, and `as_nanos` multiplies in u128.
        match nanos::checked_u64(latency) {
            Some(ns) => self.record_nanos(ns),
            None => self.record_clamped(HISTOGRAM_CEILING_NS, latency.as_nanos()),
        }
    }

    /// Records one latency given in nanoseconds: [`record`](Self::record) without the
    /// conversion, for the simulation's own measurements, which it takes in nanoseconds.
    #[inline]
    pub(crate) fn record_nanos(&mut self, nanos: u64) {
        self.record_clamped(nanos.min(HISTOGRAM_CEILING_NS), u128::from(nanos));
    }

    /// Records `nanos` exactly, and `clamped` (at most the ceiling) in the histogram.
    fn record_clamped(&mut self, clamped: u64, nanos: u128) {
        self.percentiles.record(clamped);
        self.min_ns = self.min_ns.min(nanos);
        self.max_ns = self.max_ns.max(nanos);
        self.count = self.count.saturating_add(1);
        self.sum_ns = self.sum_ns.saturating_add(nanos);
    }

    /// Number of recorded latencies.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether nothing has been recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Exact mean: the sum of the recorded latencies divided by their count
    /// (rounded down to the nanosecond). Zero when empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::metrics::LatencyHistogram;
    ///
    /// let mut h = LatencyHistogram::new();
    /// h.record(Duration::from_nanos(1));
    /// h.record(Duration::from_nanos(2));
    /// assert_eq!(h.mean(), Duration::from_nanos(1)); // 1.5 ns, rounded down
    /// ```
    #[must_use]
    pub fn mean(&self) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        nanos::to_duration(self.sum_ns / u128::from(self.count))
    }

    /// Exact smallest recorded latency; zero when empty.
    #[must_use]
    pub fn min(&self) -> Duration {
        if self.count == 0 {
            Duration::ZERO
        } else {
            nanos::to_duration(self.min_ns)
        }
    }

    /// Exact largest recorded latency; zero when empty.
    #[must_use]
    pub fn max(&self) -> Duration {
        nanos::to_duration(self.max_ns)
    }

    /// Latency at quantile `q` (`0.5` is the median, `0.99` the 99th
    /// percentile), from the histogram, then clamped into
    /// [`[min, max]`](Self::min) so that a constant latency reports exactly.
    ///
    /// `q` is clamped into `[0, 1]`; `NaN` is treated as `0`. Zero when empty.
    /// The histogram reports the highest value equivalent to the true
    /// quantile at 3 significant digits, so the result may exceed it by at
    /// most about 0.1 %.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::metrics::LatencyHistogram;
    ///
    /// let mut h = LatencyHistogram::new();
    /// for _ in 0..10 {
    ///     h.record(Duration::from_micros(500));
    /// }
    /// assert_eq!(h.quantile(0.999), Duration::from_micros(500));
    /// ```
    #[must_use]
    pub fn quantile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        self.quantile_of(&self.percentiles.quantiles(), q)
    }

    /// [`quantile`](Self::quantile) from `quantiles`, this recorder's.
    fn quantile_of(&self, quantiles: &Quantiles<'_>, q: f64) -> Duration {
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        let value = u128::from(quantiles.at(q));
        nanos::to_duration(value.clamp(self.min_ns, self.max_ns))
    }

    /// Adds every latency recorded in `other` to `self`, as if they had been
    /// recorded here.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::metrics::LatencyHistogram;
    ///
    /// let mut a = LatencyHistogram::new();
    /// a.record(Duration::from_millis(1));
    /// let mut b = LatencyHistogram::new();
    /// b.record(Duration::from_millis(3));
    /// a.merge(&b);
    /// assert_eq!(a.count(), 2);
    /// assert_eq!(a.mean(), Duration::from_millis(2));
    /// ```
    pub fn merge(&mut self, other: &LatencyHistogram) {
        if other.count == 0 {
            return;
        }
        self.percentiles.merge(&other.percentiles);
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
        self.count = self.count.saturating_add(other.count);
        self.sum_ns = self.sum_ns.saturating_add(other.sum_ns);
    }

    /// What a report shows of this distribution, in milliseconds; all zeros
    /// when empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::metrics::LatencyHistogram;
    ///
    /// let mut h = LatencyHistogram::new();
    /// h.record(Duration::from_micros(1500));
    /// let s = h.summary();
    /// assert_eq!(s.count, 1);
    /// assert_eq!(s.p50, 1.5);
    /// assert_eq!(s.max, 1.5);
    /// ```
    #[must_use]
    pub fn summary(&self) -> LatencySummary {
        if self.count == 0 {
            return LatencySummary::default();
        }
        let quantiles = self.percentiles.quantiles();
        let quantile = |q| nanos::as_millis_f64(self.quantile_of(&quantiles, q));
        LatencySummary {
            count: self.count,
            mean: nanos::as_millis_f64(self.mean()),
            p50: quantile(0.5),
            p90: quantile(0.9),
            p99: quantile(0.99),
            p999: quantile(0.999),
            max: nanos::as_millis_f64(self.max()),
        }
    }
}

impl LatencyHistogram {
    /// The percentile spectrum: the distribution as HdrHistogram prints it, five steps per
    /// halving of the distance to 100% (50%, 75%, 87.5%, ... up to the maximum), each with
    /// the value at that percentile. What a latency CDF with a log-scale tail is drawn from,
    /// and what [`to_hgrm`](Self::to_hgrm) writes. Empty for an empty histogram.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::metrics::LatencyHistogram;
    ///
    /// let mut h = LatencyHistogram::new();
    /// for ms in 1..=1000 {
    ///     h.record(Duration::from_millis(ms));
    /// }
    /// let spectrum = h.percentile_spectrum();
    /// let last = spectrum.last().unwrap();
    /// assert_eq!((last.percentile, last.total_count), (100.0, 1000));
    /// assert!((last.value_ms - 1000.0).abs() <= 1.0); // 3 significant digits
    /// // Percentiles and counts only grow.
    /// assert!(spectrum.windows(2).all(|w| w[0].percentile <= w[1].percentile
    ///     && w[0].total_count <= w[1].total_count));
    /// ```
    #[must_use]
    pub fn percentile_spectrum(&self) -> Vec<PercentilePoint> {
        if self.count == 0 {
            return Vec::new();
        }
        self.spectrum_of(&self.percentiles.histogram())
    }

    /// The percentile spectrum of `histogram`, this recorder's (values clamped into the
    /// exact `[min, max]`).
    fn spectrum_of(&self, histogram: &Histogram<u64>) -> Vec<PercentilePoint> {
        let mut total = 0;
        let mut points = Vec::new();
        for step in histogram.iter_quantiles(5) {
            total += step.count_since_last_iteration();
            let value = histogram
                .highest_equivalent(step.value_iterated_to())
                .clamp(clamp_u64(self.min_ns), clamp_u64(self.max_ns));
            points.push(PercentilePoint {
                value_ms: value as f64 / 1e6,
                percentile: step.quantile_iterated_to() * 100.0,
                total_count: total,
            });
        }
        points
    }

    /// The distribution in HdrHistogram's percentile text format (`.hgrm`), values in
    /// milliseconds: what `wrk2 --latency` prints and HdrHistogram's plotter reads.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::metrics::LatencyHistogram;
    ///
    /// let mut h = LatencyHistogram::new();
    /// h.record(Duration::from_millis(2));
    /// h.record(Duration::from_millis(4));
    /// let text = h.to_hgrm();
    /// assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)"));
    /// assert!(text.contains("#[Mean    =        3.000, StdDeviation   ="));
    /// assert!(text.contains("Total count    =            2]"));
    /// ```
    #[must_use]
    pub fn to_hgrm(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::from("       Value     Percentile TotalCount 1/(1-Percentile)\n\n");
        let histogram = self.percentiles.histogram();
        let spectrum = if self.count == 0 {
            Vec::new()
        } else {
            self.spectrum_of(&histogram)
        };
        for point in &spectrum {
            let fraction = point.percentile / 100.0;
            if fraction < 1.0 {
                let _ = writeln!(
                    out,
                    "{:12.3} {:2.12} {:10} {:14.2}",
                    point.value_ms,
                    fraction,
                    point.total_count,
                    1.0 / (1.0 - fraction)
                );
            } else {
                let _ = writeln!(
                    out,
                    "{:12.3} {:2.12} {:10}",
                    point.value_ms, fraction, point.total_count
                );
            }
        }
        let mean = nanos::as_millis_f64(self.mean());
        // As HdrHistogram computes it: over the buckets' median values.
        let deviation = histogram.stdev() / 1e6;
        let buckets = histogram.buckets();
        // HdrHistogram's sub-bucket count: the power of two that holds 2 x 10^digits.
        let sub_buckets = (2 * 10_u64.pow(u32::from(SIGNIFICANT_DIGITS))).next_power_of_two();
        let _ = writeln!(
            out,
            "#[Mean    = {mean:12.3}, StdDeviation   = {deviation:12.3}]"
        );
        let _ = writeln!(
            out,
            "#[Max     = {:12.3}, Total count    = {:12}]",
            nanos::as_millis_f64(self.max()),
            self.count
        );
        let _ = writeln!(
            out,
            "#[Buckets = {buckets:12}, SubBuckets     = {sub_buckets:12}]"
        );
        out
    }
}

/// A value that fits the histogram's `u64` range.
fn clamp_u64(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// One step of a [`LatencyHistogram::percentile_spectrum`]: the value at a percentile and
/// how many values lie at or below it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PercentilePoint {
    /// The value at this percentile, ms (3 significant digits).
    pub value_ms: f64,
    /// The percentile, from 0 to 100.
    pub percentile: f64,
    /// Values recorded at or below `value_ms`.
    pub total_count: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Creates the auto-resizing percentile histogram.
fn new_histogram() -> Histogram<u64> {
    // Fails only for more than 5 significant digits: a constant, not an input.
    Histogram::new(SIGNIFICANT_DIGITS)
        .expect("3 significant digits is a valid hdrhistogram precision")
}

/// What a report shows of one latency distribution, in milliseconds (`f64`).
///
/// Every figure is nanoseconds as `f64` divided by 10⁶. All fields are zero
/// for an empty distribution ([`LatencySummary::default`]). Percentiles come
/// from [`LatencyHistogram::quantile`] (3 significant digits, clamped into
/// `[min, max]`); `count`, `mean` and `max` are exact.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use microsim::metrics::{LatencyHistogram, LatencySummary};
///
/// assert_eq!(LatencyHistogram::new().summary(), LatencySummary::default());
///
/// let mut h = LatencyHistogram::new();
/// h.record(Duration::from_millis(2));
/// let s = LatencySummary::from(&h);
/// assert_eq!((s.count, s.mean, s.p999), (1, 2.0, 2.0));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of recorded latencies.
    pub count: u64,
    /// Exact mean, ms.
    pub mean: f64,
    /// Median (50th percentile), ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// 99.9th percentile, ms.
    pub p999: f64,
    /// Exact maximum, ms.
    pub max: f64,
}

impl From<&LatencyHistogram> for LatencySummary {
    fn from(histogram: &LatencyHistogram) -> Self {
        histogram.summary()
    }
}

/// Failures counted by cause ([`CallError::cause`](crate::CallError::cause)), for the
/// report's `errors_by_cause`.
///
/// At most [`MAX_CAUSES`](Self::MAX_CAUSES) causes are kept apart; failures of further
/// causes are counted together under [`OTHER`](Self::OTHER), so a handler that puts an
/// order number in each error message cannot grow the report without bound.
///
/// ```
/// use microsim::metrics::ErrorsByCause;
///
/// let mut errors = ErrorsByCause::default();
/// errors.record("payment: card declined");
/// errors.record("payment: card declined");
/// errors.record("inventory: timed out");
/// let counts = errors.counts();
/// assert_eq!(counts["payment: card declined"], 2);
/// assert_eq!(counts.values().sum::<u64>(), 3);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorsByCause {
    counts: std::collections::BTreeMap<String, u64>,
}

impl ErrorsByCause {
    /// The most causes counted apart: 64.
    pub const MAX_CAUSES: usize = 64;

    /// Where failures of causes past the first [`MAX_CAUSES`](Self::MAX_CAUSES) are counted.
    pub const OTHER: &'static str = "(other causes)";

    /// Counts one failure of `cause`.
    pub fn record(&mut self, cause: &str) {
        self.add(cause, 1);
    }

    fn add(&mut self, cause: &str, count: u64) {
        if let Some(counted) = self.counts.get_mut(cause) {
            *counted += count;
        } else if self.counts.len() < Self::MAX_CAUSES {
            self.counts.insert(cause.to_string(), count);
        } else {
            *self.counts.entry(Self::OTHER.to_string()).or_default() += count;
        }
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &ErrorsByCause) {
        for (cause, count) in &other.counts {
            self.add(cause, *count);
        }
    }

    /// The counts, by cause.
    pub fn counts(&self) -> &std::collections::BTreeMap<String, u64> {
        &self.counts
    }
}

/// Busy time of a pool of workers inside a measurement window, for
/// utilisation.
///
/// Each [`record`](Self::record)ed busy interval `[start, end)` contributes
/// only its overlap with the window `[window_start, window_end)`, so work that
/// started during warm-up or finished after the window is counted only for
/// the part inside it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use microsim::metrics::BusyTime;
///
/// let s = Duration::from_secs;
/// let mut busy = BusyTime::new(s(10), s(20));
/// busy.record(s(8), s(12)); // straddles the start: 2 s count
/// busy.record(s(14), s(16)); // inside: 2 s
/// busy.record(s(19), s(25)); // straddles the end: 1 s
/// busy.record(s(0), s(5)); // outside: nothing
/// assert_eq!(busy.busy(), s(5));
/// // Two workers had 20 s of worker time in the window.
/// assert_eq!(busy.utilization(2), 0.25);
/// ```
#[derive(Clone, Debug)]
pub struct BusyTime {
    /// The window, in nanoseconds: compared with every busy interval.
    window_start_ns: u128,
    window_end_ns: u128,
    /// Busy time inside the window, ns.
    busy: u128,
}

impl BusyTime {
    /// Creates a tracker for the window `[window_start, window_end)`. A window
    /// whose end is not after its start is empty: nothing is ever counted and
    /// the utilisation is `0.0`.
    #[must_use]
    pub fn new(window_start: Duration, window_end: Duration) -> Self {
        Self {
            window_start_ns: window_start.as_nanos(),
            window_end_ns: window_end.as_nanos(),
            busy: 0,
        }
    }

    /// Adds the overlap of the busy interval `[start, end)` with the window.
    /// An interval whose end is not after its start adds nothing.
    pub fn record(&mut self, start: Duration, end: Duration) {
        self.record_nanos(start.as_nanos(), end.as_nanos());
    }

    /// [`record`](Self::record) with the interval in nanoseconds, for the simulation's own
    /// measurements, which it has in nanoseconds already.
    #[inline]
    pub(crate) fn record_nanos(&mut self, start: u128, end: u128) {
        let start = start.max(self.window_start_ns);
        let end = end.min(self.window_end_ns);
        if end > start {
            self.busy = self.busy.saturating_add(end - start);
        }
    }

    /// Adds the busy time `other` recorded to this tracker's, as if it had been recorded
    /// here: for the workers of several pools (a service's replicas) measured over the same
    /// window. This tracker keeps its own window.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::metrics::BusyTime;
    ///
    /// let s = Duration::from_secs;
    /// let mut a = BusyTime::new(s(0), s(10));
    /// a.record(s(0), s(4));
    /// let mut b = BusyTime::new(s(0), s(10));
    /// b.record(s(5), s(7));
    /// a.merge(&b);
    /// assert_eq!(a.busy(), s(6));
    /// assert_eq!(a.utilization(2), 0.3);
    /// ```
    pub fn merge(&mut self, other: &BusyTime) {
        self.busy = self.busy.saturating_add(other.busy);
    }

    /// This tracker with its window ending at `end` at the latest: for a run stopped early,
    /// whose intervals all ended before `end`.
    #[must_use]
    pub(crate) fn ending_by(&self, end: Duration) -> BusyTime {
        BusyTime {
            window_end_ns: self.window_end_ns.min(end.as_nanos()),
            ..self.clone()
        }
    }

    /// The length of the measurement window.
    #[must_use]
    pub fn window(&self) -> Duration {
        nanos::to_duration(self.window_end_ns.saturating_sub(self.window_start_ns))
    }

    /// Total busy time recorded inside the window (summed over workers).
    #[must_use]
    pub fn busy(&self) -> Duration {
        nanos::to_duration(self.busy)
    }

    /// Busy time divided by the window's length: the time-average number of busy workers.
    /// `0.0` if the window is empty.
    #[must_use]
    pub fn mean_busy(&self) -> f64 {
        let window = self.window_end_ns.saturating_sub(self.window_start_ns);
        if window == 0 {
            return 0.0;
        }
        self.busy as f64 / window as f64
    }

    /// Busy time divided by the worker time available in the window
    /// (`workers` × window length); `0.0` if the window is empty or `workers`
    /// is 0.
    #[must_use]
    pub fn utilization(&self, workers: usize) -> f64 {
        let window = self.window_end_ns.saturating_sub(self.window_start_ns);
        if window == 0 || workers == 0 {
            return 0.0;
        }
        self.busy as f64 / (workers as f64 * window as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn within(actual: Duration, expected: u64, rel: f64) -> bool {
        let actual = actual.as_nanos() as f64;
        let expected = expected as f64;
        (actual - expected).abs() <= expected * rel
    }

    #[test]
    fn constant_latency_reports_exactly() {
        let mut h = LatencyHistogram::new();
        for _ in 0..1000 {
            h.record(Duration::from_micros(500));
        }
        let s = h.summary();
        assert_eq!(
            s,
            LatencySummary {
                count: 1000,
                mean: 0.5,
                p50: 0.5,
                p90: 0.5,
                p99: 0.5,
                p999: 0.5,
                max: 0.5,
            }
        );
        assert_eq!(h.min(), Duration::from_micros(500));
        assert_eq!(h.quantile(0.0), Duration::from_micros(500));
        assert_eq!(h.quantile(1.0), Duration::from_micros(500));
    }

    #[test]
    fn uniform_quantiles_within_a_tenth_of_a_percent() {
        let mut h = LatencyHistogram::new();
        for ns in 1..=100_000u64 {
            h.record(Duration::from_nanos(ns));
        }
        for (q, expected) in [
            (0.01, 1_000),
            (0.1, 10_000),
            (0.25, 25_000),
            (0.5, 50_000),
            (0.9, 90_000),
            (0.99, 99_000),
            (0.999, 99_900),
            (1.0, 100_000),
        ] {
            let got = h.quantile(q);
            assert!(within(got, expected, 0.001), "q={q}: {got:?}");
        }
        assert_eq!(h.count(), 100_000);
        assert_eq!(h.min(), Duration::from_nanos(1));
        assert_eq!(h.max(), Duration::from_nanos(100_000));
        // Sum is 100000 * 100001 / 2; the mean is 50000.5, rounded down.
        assert_eq!(h.mean(), Duration::from_nanos(50_000));
        let s = h.summary();
        assert_eq!(s.max, 0.1);
        assert_eq!(s.mean, 0.05);
    }

    #[test]
    fn quantile_argument_is_clamped() {
        let mut h = LatencyHistogram::new();
        for ns in [10, 20, 30] {
            h.record(Duration::from_nanos(ns));
        }
        assert_eq!(h.quantile(-1.0), Duration::from_nanos(10));
        assert_eq!(h.quantile(f64::NEG_INFINITY), Duration::from_nanos(10));
        assert_eq!(h.quantile(f64::NAN), Duration::from_nanos(10));
        assert_eq!(h.quantile(2.0), Duration::from_nanos(30));
        assert_eq!(h.quantile(f64::INFINITY), Duration::from_nanos(30));
    }

    #[test]
    fn empty_is_all_zero() {
        let h = LatencyHistogram::default();
        assert!(h.is_empty());
        assert_eq!(h.count(), 0);
        assert_eq!(h.mean(), Duration::ZERO);
        assert_eq!(h.min(), Duration::ZERO);
        assert_eq!(h.max(), Duration::ZERO);
        assert_eq!(h.quantile(0.5), Duration::ZERO);
        assert_eq!(h.quantile(1.0), Duration::ZERO);
        assert_eq!(h.summary(), LatencySummary::default());
        let s = LatencySummary::default();
        assert_eq!(
            (s.count, s.mean, s.p50, s.p90, s.p99, s.p999, s.max),
            (0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn zero_latency_is_recorded() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::ZERO);
        assert_eq!(h.count(), 1);
        assert!(!h.is_empty());
        assert_eq!(h.summary().count, 1);
        assert_eq!(h.summary().p99, 0.0);
        h.record(Duration::from_nanos(10));
        assert_eq!(h.min(), Duration::ZERO);
        assert_eq!(h.quantile(0.0), Duration::ZERO);
    }

    #[test]
    fn huge_durations_do_not_panic() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::MAX);
        h.record(Duration::MAX);
        h.record(Duration::from_nanos(u64::MAX));
        h.record(Duration::from_secs(u64::MAX / 2));
        h.record(Duration::ZERO);
        assert_eq!(h.count(), 5);
        assert_eq!(h.max(), Duration::MAX);
        assert_eq!(h.min(), Duration::ZERO);
        let mean = h.mean();
        assert!(mean > Duration::from_secs(u64::MAX / 4));
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let v = h.quantile(q);
            assert!(v <= h.max());
        }
        let s = h.summary();
        assert!(s.max > 1e20);
        assert!(s.p50 <= s.p999 && s.p999 <= s.max);

        let mut other = LatencyHistogram::new();
        other.record(Duration::from_millis(1));
        other.merge(&h);
        other.merge(&h);
        assert_eq!(other.count(), 11);
        assert_eq!(other.max(), Duration::MAX);

        // Many maxima: the sum saturates instead of overflowing.
        let mut many = LatencyHistogram::new();
        for _ in 0..64 {
            many.merge(&h);
            let copy = many.clone();
            many.merge(&copy);
        }
        assert!(many.mean() <= Duration::MAX);
        let _ = many.summary();
    }

    /// The percentiles a histogram of every value gives, as the recorder gave them before
    /// it kept a few values apart.
    fn direct_quantiles(values: &[u64]) -> Vec<u64> {
        let mut histogram = new_histogram();
        for &value in values {
            histogram.record(value).unwrap();
        }
        let (min, max) = (*values.iter().min().unwrap(), *values.iter().max().unwrap());
        [0.0, 0.5, 0.9, 0.99, 0.999, 1.0]
            .iter()
            .map(|&q| histogram.value_at_quantile(q).clamp(min, max))
            .collect()
    }

    fn recorder_quantiles(h: &LatencyHistogram) -> Vec<u64> {
        [0.0, 0.5, 0.9, 0.99, 0.999, 1.0]
            .iter()
            .map(|&q| nanos::saturating_u64(h.quantile(q)))
            .collect()
    }

    #[test]
    fn few_values_give_the_percentiles_of_a_histogram_on_both_sides_of_the_switch() {
        let mut rng = crate::random::stream(3, "metrics/few");
        for n in [
            1,
            2,
            LatencyHistogram::FEW - 1,
            LatencyHistogram::FEW,
            LatencyHistogram::FEW + 1,
            5_000,
        ] {
            let values: Vec<u64> = (0..n)
                .map(|_| rand::RngExt::random_range(&mut rng, 0..50_000_000u64))
                .collect();
            let mut recorder = LatencyHistogram::new();
            for &value in &values {
                recorder.record_nanos(value);
            }
            assert_eq!(
                recorder_quantiles(&recorder),
                direct_quantiles(&values),
                "{n} values"
            );
            // Merged in two halves, whichever side of the switch each is on.
            let (left, right) = values.split_at(n / 3);
            let (mut a, mut b) = (LatencyHistogram::new(), LatencyHistogram::new());
            left.iter().for_each(|&v| a.record_nanos(v));
            right.iter().for_each(|&v| b.record_nanos(v));
            a.merge(&b);
            assert_eq!(
                recorder_quantiles(&a),
                direct_quantiles(&values),
                "{n} values merged"
            );
            b.merge(&recorder);
            assert_eq!(b.count(), (right.len() + n) as u64);
        }
    }

    #[test]
    fn merge_into_empty_and_from_empty() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        b.record(Duration::from_millis(7));
        a.merge(&LatencyHistogram::new());
        assert!(a.is_empty());
        a.merge(&b);
        assert_eq!(a.summary(), b.summary());
        assert_eq!(a.min(), Duration::from_millis(7));
    }

    #[test]
    fn busy_time_intervals() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let mut b = BusyTime::new(s(10), s(20));
        assert_eq!(b.busy(), Duration::ZERO);
        assert_eq!(b.utilization(1), 0.0);

        b.record(s(12), s(13)); // fully inside: 1 s
        assert_eq!(b.busy(), s(1));
        b.record(ms(9_500), ms(10_250)); // straddles the start: 0.25 s
        assert_eq!(b.busy(), ms(1_250));
        b.record(ms(19_000), s(30)); // straddles the end: 1 s
        assert_eq!(b.busy(), ms(2_250));
        b.record(s(0), s(10)); // ends exactly at the window start
        b.record(s(20), s(25)); // starts exactly at the window end
        b.record(s(1), s(2)); // before
        b.record(s(30), s(40)); // after
        b.record(s(15), s(15)); // empty
        b.record(s(16), s(14)); // reversed: ignored
        assert_eq!(b.busy(), ms(2_250));
        b.record(s(0), s(100)); // covers the window: 10 s
        assert_eq!(b.busy(), ms(12_250));

        assert_eq!(b.utilization(1), 1.225);
        assert_eq!(b.utilization(2), 0.6125);
        assert_eq!(b.utilization(0), 0.0);
    }

    #[test]
    fn busy_time_exact_utilization() {
        let ms = Duration::from_millis;
        let mut b = BusyTime::new(ms(1_000), ms(5_000));
        for worker in 0..4u64 {
            b.record(ms(1_000 + worker * 500), ms(3_000 + worker * 500));
        }
        // 2 + 2 + 2 + 2 s of 16 worker-seconds.
        assert_eq!(b.busy(), ms(8_000));
        assert_eq!(b.utilization(4), 0.5);
    }

    #[test]
    fn busy_time_empty_window() {
        let s = Duration::from_secs;
        let mut b = BusyTime::new(s(5), s(5));
        b.record(s(0), s(10));
        assert_eq!(b.busy(), Duration::ZERO);
        assert_eq!(b.utilization(3), 0.0);
        let mut reversed = BusyTime::new(s(10), s(5));
        reversed.record(s(0), s(20));
        assert_eq!(reversed.busy(), Duration::ZERO);
        assert_eq!(reversed.utilization(3), 0.0);
        let mut huge = BusyTime::new(Duration::ZERO, Duration::MAX);
        huge.record(Duration::ZERO, Duration::MAX);
        huge.record(Duration::ZERO, Duration::MAX);
        assert_eq!(huge.busy(), Duration::MAX);
        assert!(huge.utilization(usize::MAX).is_finite());
    }

    proptest! {
        #[test]
        fn percentiles_are_monotonic(values in prop::collection::vec(0u64..10_000_000_000, 1..200)) {
            let mut h = LatencyHistogram::new();
            for &v in &values {
                h.record(Duration::from_nanos(v));
            }
            let s = h.summary();
            prop_assert!(s.p50 <= s.p90);
            prop_assert!(s.p90 <= s.p99);
            prop_assert!(s.p99 <= s.p999);
            prop_assert!(s.p999 <= s.max);
            prop_assert!(h.min() <= h.quantile(0.5));
            prop_assert!(h.min() <= h.mean() && h.mean() <= h.max());
            prop_assert_eq!(h.max(), Duration::from_nanos(*values.iter().max().unwrap()));
            prop_assert_eq!(h.min(), Duration::from_nanos(*values.iter().min().unwrap()));
        }

        #[test]
        fn merge_equals_recording_both(
            a in prop::collection::vec(0u64..1_000_000_000_000, 0..100),
            b in prop::collection::vec(0u64..1_000_000_000_000, 0..100),
        ) {
            let mut ha = LatencyHistogram::new();
            let mut hb = LatencyHistogram::new();
            let mut both = LatencyHistogram::new();
            for &v in &a {
                ha.record(Duration::from_nanos(v));
                both.record(Duration::from_nanos(v));
            }
            for &v in &b {
                hb.record(Duration::from_nanos(v));
                both.record(Duration::from_nanos(v));
            }
            ha.merge(&hb);
            prop_assert_eq!(ha.count(), both.count());
            prop_assert_eq!(ha.mean(), both.mean());
            prop_assert_eq!(ha.min(), both.min());
            prop_assert_eq!(ha.max(), both.max());
            for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
                prop_assert_eq!(ha.quantile(q), both.quantile(q));
            }
            prop_assert_eq!(ha.summary(), both.summary());
        }
    }
}
