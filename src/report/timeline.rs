//! The report's timeline: the run cut into windows of simulated time, and per window what
//! each workload and service did -- so that a fault, a ramp or a retry storm shows when it
//! happened, not only in the run's totals.
//!
//! Each workload request is counted in the window of its *intended send time* (as the
//! report's latency is measured from it), so the windows of a workload add up exactly to the
//! requests it sent, and a slow spell shows in the windows of the requests it delayed.
//! Windows cover the whole sending window, warm-up included: the timeline counts every
//! request, and its windows from the warm-up's end on add up to the report's counts (when
//! the warm-up ends on a window's edge). A service's busy time is cut at window edges; its
//! handled and rejected requests are counted by arrival.
//!
//! Memory is bounded whatever the run's length: at most [`MAX_WINDOWS`] windows, and per
//! window and workload two histograms of 2 significant digits (about 10 KB each for
//! latencies up to seconds), made only for windows that complete a request.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The most windows a timeline has: 10,000.
pub const MAX_WINDOWS: usize = 10_000;

/// The report's timeline (see the [module](self)).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Timeline {
    /// The length of each window, seconds; window `i` covers `[i, i + 1)` of them.
    pub window_seconds: f64,
    /// How many windows there are (the sending window's length over `window_seconds`,
    /// rounded up).
    pub windows: usize,
    /// Per workload, by name.
    pub workloads: BTreeMap<String, WorkloadTimeline>,
    /// Per service, by name.
    pub services: BTreeMap<String, ServiceTimeline>,
    /// Per topic, by name: per subscriber, by name, its lag.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub topics: BTreeMap<String, BTreeMap<String, LagTimeline>>,
}

/// A topic subscriber's lag -- events published and not yet handled by it -- one value per
/// window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LagTimeline {
    /// Time-weighted mean lag over the window.
    pub mean: Vec<f64>,
    /// Largest lag in the window (the lag it started with included).
    pub max: Vec<u64>,
}

/// A workload's series, one value per window, for the requests intended in that window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkloadTimeline {
    /// Requests sent.
    pub sent: Vec<u64>,
    /// Of those, completed.
    pub completed: Vec<u64>,
    /// Of those, failed (every cause: rejected, timed out, errors, ...).
    pub failed: Vec<u64>,
    /// Completed per second of the window.
    pub throughput_per_s: Vec<f64>,
    /// Mean latency of the completed ones, ms (exact, not from a histogram); `null` where
    /// none completed. The series the warm-up estimate reads ([`crate::report::warmup`]).
    #[serde(default)]
    pub mean_ms: Vec<Option<f64>>,
    /// Median latency of the completed ones, ms; `null` where none completed.
    pub p50_ms: Vec<Option<f64>>,
    /// Their p99, ms; `null` where none completed.
    pub p99_ms: Vec<Option<f64>>,
    /// Their settled p99, ms (until every event and message they caused was handled);
    /// `null` where none settled.
    pub settled_p99_ms: Vec<Option<f64>>,
}

/// A service's series, one value per window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServiceTimeline {
    /// Requests handled (by arrival).
    pub handled: Vec<u64>,
    /// Requests rejected for a full queue.
    pub rejected: Vec<u64>,
    /// Busy worker time in the window over the window's length: the mean number of busy
    /// workers (divide by the workers for utilisation).
    pub busy_workers: Vec<f64>,
    /// Requests waiting in the queues, time-weighted mean over the window (all replicas'
    /// queues summed).
    #[serde(default)]
    pub queue_mean: Vec<f64>,
    /// The longest queue of one replica in the window (the length it started with
    /// included).
    #[serde(default)]
    pub queue_max: Vec<u64>,
}

/// How the run is cut: windows of `window_ns` from 0, `count` of them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Windows {
    window_ns: u64,
    count: usize,
}

impl Default for Windows {
    /// No windows at all.
    fn default() -> Self {
        Windows {
            window_ns: 1,
            count: 0,
        }
    }
}

impl Windows {
    /// Windows of `window` over `duration` (rounded up; at least one).
    pub(crate) fn new(window: Duration, duration: Duration) -> Self {
        let window_ns = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX).max(1);
        let duration_ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let count = usize::try_from(duration_ns.div_ceil(window_ns))
            .unwrap_or(usize::MAX)
            .clamp(1, MAX_WINDOWS);
        Windows { window_ns, count }
    }

    #[cfg(test)]
    fn count(self) -> usize {
        self.count
    }

    /// The window of the instant `ns`, if inside the timeline.
    #[inline]
    pub(crate) fn index(self, ns: u64) -> Option<usize> {
        let index = usize::try_from(ns / self.window_ns).ok()?;
        (index < self.count).then_some(index)
    }

    fn seconds(self) -> f64 {
        self.window_ns as f64 / 1e9
    }
}

/// A small latency histogram per window, made when the window records its first value.
#[derive(Clone, Debug, Default)]
pub(crate) struct WindowedLatency {
    windows: Vec<Option<Box<Histogram<u32>>>>,
}

impl WindowedLatency {
    pub(crate) fn new(windows: Windows) -> Self {
        WindowedLatency {
            windows: vec![None; windows.count],
        }
    }

    pub(crate) fn record(&mut self, window: usize, latency_ns: u64) {
        let Some(slot) = self.windows.get_mut(window) else {
            return;
        };
        let histogram = slot.get_or_insert_with(|| {
            // Fails only for more than 5 significant digits: a constant.
            Box::new(Histogram::new(2).expect("2 significant digits is a valid precision"))
        });
        // Auto-resizing: grows to the largest value recorded, never fails below u64::MAX / 2.
        let _ = histogram.record(latency_ns.clamp(1, u64::MAX / 4));
    }

    fn quantile_ms(&self, window: usize, q: f64) -> Option<f64> {
        let histogram = self.windows.get(window)?.as_ref()?;
        (!histogram.is_empty()).then(|| histogram.value_at_quantile(q) as f64 / 1e6)
    }

    /// `self`'s window less `minus`'s plus `plus`'s, as one histogram (`None` if empty).
    fn combined(&self, window: usize, minus: &Self, plus: &Self) -> Option<Histogram<u32>> {
        let mut histogram = self.windows.get(window)?.as_deref()?.clone();
        if let Some(Some(minus)) = minus.windows.get(window) {
            // `minus` records a subset of this window's values.
            let _ = histogram.subtract(&**minus);
        }
        if let Some(Some(plus)) = plus.windows.get(window) {
            // Auto-resizing: adding never fails.
            let _ = histogram.add(&**plus);
        }
        Some(histogram)
    }
}

/// What a workload records of its requests, window by window.
#[derive(Clone, Debug, Default)]
pub(crate) struct WorkloadWindows {
    windows: Windows,
    sent: Vec<u64>,
    completed: Vec<u64>,
    failed: Vec<u64>,
    /// The completed requests' latencies summed, ns.
    latency_sum_ns: Vec<u64>,
    latency: WindowedLatency,
    /// The response latencies of the completed requests that settle later than their
    /// response: the settled windows are `latency` less these plus their settled latencies,
    /// so a request that settles with its response is recorded once, not twice.
    settles_later: WindowedLatency,
}

impl WorkloadWindows {
    pub(crate) fn new(windows: Windows) -> Self {
        WorkloadWindows {
            windows,
            sent: vec![0; windows.count],
            completed: vec![0; windows.count],
            failed: vec![0; windows.count],
            latency_sum_ns: vec![0; windows.count],
            latency: WindowedLatency::new(windows),
            settles_later: WindowedLatency::new(windows),
        }
    }

    /// A request intended at `intended_ns` ended after `latency_ns`, completed or failed; a
    /// completed one that `settles_later` than its response has its settled latency recorded
    /// apart, when it settles.
    pub(crate) fn record(
        &mut self,
        intended_ns: u64,
        latency_ns: u64,
        completed: bool,
        settles_later: bool,
    ) {
        let Some(window) = self.windows.index(intended_ns) else {
            return;
        };
        self.sent[window] += 1;
        if completed {
            self.completed[window] += 1;
            self.latency_sum_ns[window] = self.latency_sum_ns[window].saturating_add(latency_ns);
            self.latency.record(window, latency_ns);
            if settles_later {
                self.settles_later.record(window, latency_ns);
            }
        } else {
            self.failed[window] += 1;
        }
    }

    /// The series, with the settled latencies of the requests that settled later than their
    /// response recorded in `settled`.
    pub(crate) fn report(&self, settled: &WindowedLatency) -> WorkloadTimeline {
        let seconds = self.windows.seconds();
        let count = self.windows.count;
        WorkloadTimeline {
            sent: self.sent.clone(),
            completed: self.completed.clone(),
            failed: self.failed.clone(),
            throughput_per_s: self.completed.iter().map(|&n| n as f64 / seconds).collect(),
            mean_ms: self
                .latency_sum_ns
                .iter()
                .zip(&self.completed)
                .map(|(&sum, &n)| (n > 0).then(|| sum as f64 / n as f64 / 1e6))
                .collect(),
            p50_ms: (0..count)
                .map(|w| self.latency.quantile_ms(w, 0.5))
                .collect(),
            p99_ms: (0..count)
                .map(|w| self.latency.quantile_ms(w, 0.99))
                .collect(),
            settled_p99_ms: (0..count)
                .map(|w| {
                    let histogram = match self.latency.combined(w, &self.settles_later, settled) {
                        Some(histogram) => histogram,
                        None => settled.windows.get(w)?.as_deref()?.clone(),
                    };
                    (!histogram.is_empty()).then(|| histogram.value_at_quantile(0.99) as f64 / 1e6)
                })
                .collect(),
        }
    }
}

/// One number per window, allocated when the first is written: a service that is never
/// called, or a topic that never lags, holds no windows.
#[derive(Clone, Debug, Default)]
struct Series<T> {
    /// Empty, or one value per window.
    values: Vec<T>,
}

impl<T: Copy + Default> Series<T> {
    /// Every window's value (one per window of `windows`), to change.
    #[inline]
    fn values_mut(&mut self, windows: Windows) -> &mut [T] {
        if self.values.is_empty() {
            self.allocate(windows);
        }
        &mut self.values
    }

    /// Out of line: it runs once, and inlined it would weigh on every write.
    #[cold]
    #[inline(never)]
    fn allocate(&mut self, windows: Windows) {
        self.values = vec![T::default(); windows.count];
    }

    /// The value of `window` (one of `windows`), to change.
    #[inline]
    fn at(&mut self, windows: Windows, window: usize) -> &mut T {
        &mut self.values_mut(windows)[window]
    }

    fn get(&self, window: usize) -> T {
        self.values.get(window).copied().unwrap_or_default()
    }

    /// Every window's value.
    fn to_vec(&self, windows: Windows) -> Vec<T> {
        (0..windows.count).map(|window| self.get(window)).collect()
    }

    /// Each window's value combined with `other`'s by `combine`.
    fn merge(&mut self, windows: Windows, other: &Series<T>, combine: impl Fn(T, T) -> T) {
        if other.values.is_empty() {
            return;
        }
        for window in 0..windows.count {
            let value = combine(self.get(window), other.get(window));
            *self.at(windows, window) = value;
        }
    }
}

/// What a service (one replica) records, window by window.
#[derive(Clone, Debug)]
pub(crate) struct ServiceWindows {
    windows: Windows,
    handled: Series<u64>,
    rejected: Series<u64>,
    busy_ns: Series<u64>,
    queue: LevelWindows,
}

impl ServiceWindows {
    pub(crate) fn new(windows: Windows) -> Self {
        ServiceWindows {
            windows,
            handled: Series::default(),
            rejected: Series::default(),
            busy_ns: Series::default(),
            queue: LevelWindows::new(windows),
        }
    }

    /// The replica's queue holds `length` requests from `at_ns` on.
    #[inline]
    pub(crate) fn queue_length(&mut self, at_ns: u64, length: usize) {
        self.queue.set(at_ns, length as u64);
    }

    pub(crate) fn handled(&mut self, arrived_ns: u64) {
        if let Some(window) = self.windows.index(arrived_ns) {
            *self.handled.at(self.windows, window) += 1;
        }
    }

    pub(crate) fn rejected(&mut self, at_ns: u64) {
        if let Some(window) = self.windows.index(at_ns) {
            *self.rejected.at(self.windows, window) += 1;
        }
    }

    /// A worker was busy over `[start_ns, end_ns)`: cut at window edges.
    pub(crate) fn busy(&mut self, start_ns: u64, end_ns: u64) {
        let width = self.windows.window_ns;
        let mut at = start_ns;
        while at < end_ns {
            let Some(window) = self.windows.index(at) else {
                return;
            };
            let edge = (window as u64 + 1).saturating_mul(width).min(end_ns);
            *self.busy_ns.at(self.windows, window) += edge - at;
            at = edge;
        }
    }

    /// Adds `other`'s (another replica's) to these: counts, busy time and mean queue
    /// summed, the longest queue the longer of the two.
    pub(crate) fn merge(&mut self, other: &ServiceWindows) {
        let windows = self.windows;
        self.handled.merge(windows, &other.handled, |a, b| a + b);
        self.rejected.merge(windows, &other.rejected, |a, b| a + b);
        self.busy_ns.merge(windows, &other.busy_ns, |a, b| a + b);
        self.queue.merge(&other.queue);
    }

    pub(crate) fn report(&self) -> ServiceTimeline {
        let width = self.windows.window_ns as f64;
        let queue = self.queue.report();
        ServiceTimeline {
            handled: self.handled.to_vec(self.windows),
            rejected: self.rejected.to_vec(self.windows),
            busy_workers: self
                .busy_ns
                .to_vec(self.windows)
                .into_iter()
                .map(|ns| ns as f64 / width)
                .collect(),
            queue_mean: queue.mean,
            queue_max: queue.max,
        }
    }
}

/// A level that changes at instants -- a queue's length, a subscriber's lag -- window by
/// window: its time-weighted mean and its maximum. Memory: two numbers per window, once the
/// level has been above zero.
#[derive(Clone, Debug, Default)]
pub(crate) struct LevelWindows {
    windows: Windows,
    /// The level now, and since when.
    level: u64,
    since_ns: u64,
    /// Per window, the level's integral over time so far (level x ns).
    area: Series<u128>,
    max: Series<u64>,
}

impl LevelWindows {
    pub(crate) fn new(windows: Windows) -> Self {
        LevelWindows {
            windows,
            level: 0,
            since_ns: 0,
            area: Series::default(),
            max: Series::default(),
        }
    }

    /// The level is `level` from `at_ns` on (instants never go back; an earlier one is
    /// taken as `since`).
    pub(crate) fn set(&mut self, at_ns: u64, level: u64) {
        let at_ns = at_ns.max(self.since_ns);
        self.advance(at_ns);
        self.level = level;
        if level == 0 {
            // The maximum starts at zero.
            return;
        }
        if let Some(window) = self.windows.index(at_ns) {
            let max = self.max.at(self.windows, window);
            *max = (*max).max(level);
        }
    }

    /// Adds the current level's area from `since` to `to_ns`, cut at window edges; every
    /// window it spans has seen the level.
    #[inline]
    fn advance(&mut self, to_ns: u64) {
        let windows = self.windows;
        let mut at = self.since_ns;
        self.since_ns = to_ns;
        if self.level == 0 || at >= to_ns {
            return;
        }
        let (area, max) = (self.area.values_mut(windows), self.max.values_mut(windows));
        while at < to_ns {
            let Some(window) = windows.index(at) else {
                return;
            };
            let edge = (window as u64 + 1)
                .saturating_mul(windows.window_ns)
                .min(to_ns);
            area[window] += u128::from(self.level) * u128::from(edge - at);
            max[window] = max[window].max(self.level);
            at = edge;
        }
    }

    /// Adds `other`'s means to these, and keeps the larger maximum.
    fn merge(&mut self, other: &LevelWindows) {
        let (mut mine, theirs) = (self.finished(), other.finished());
        let windows = mine.windows;
        mine.area.merge(windows, &theirs.area, |a, b| a + b);
        mine.max.merge(windows, &theirs.max, u64::max);
        // Merged levels are reported, not changed further.
        mine.level = 0;
        *self = mine;
    }

    /// The level held to the timeline's end.
    fn finished(&self) -> LevelWindows {
        let mut done = self.clone();
        done.advance(
            (self.windows.count as u64)
                .saturating_mul(self.windows.window_ns)
                .max(self.since_ns),
        );
        done
    }

    pub(crate) fn report(&self) -> LagTimeline {
        let done = self.finished();
        let width = self.windows.window_ns as f64;
        LagTimeline {
            mean: done
                .area
                .to_vec(self.windows)
                .into_iter()
                .map(|area| area as f64 / width)
                .collect(),
            max: done.max.to_vec(self.windows),
        }
    }
}

impl Timeline {
    pub(crate) fn new(windows: Windows) -> Self {
        Timeline {
            window_seconds: windows.seconds(),
            windows: windows.count,
            workloads: BTreeMap::new(),
            services: BTreeMap::new(),
            topics: BTreeMap::new(),
        }
    }

    /// The timeline as CSV, one row per window and series, in long form:
    /// `start_s,end_s,kind,name,metric,value`, where `kind` is `workload`, `service` or
    /// `topic` (named `TOPIC/SUBSCRIBER`) and an empty `value` means none (no request
    /// completed in the window).
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::{Capacity, Distribution, Script, Simulation, Workload};
    ///
    /// let s = Duration::from_secs;
    /// let mut sim = Simulation::builder().duration(s(2)).timeline_window(s(1)).build()?;
    /// let api = sim.add_service(
    ///     "api",
    ///     Script::new().work(Distribution::constant(Duration::from_millis(1))),
    ///     Capacity::workers(1),
    /// )?;
    /// sim.add_workload("load", &api, Workload::constant_rate(10.0), |_| ())?;
    /// let csv = sim.run()?.timeline.to_csv();
    /// assert!(csv.starts_with("start_s,end_s,kind,name,metric,value\n"));
    /// assert!(csv.contains("\n0,1,workload,load,sent,10\n"));
    /// // Each request took 1 ms; a window's percentiles are good to 2 significant digits.
    /// assert!(csv.contains("\n1,2,workload,load,p99_ms,1.00"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_csv(&self) -> String {
        let mut out = String::from("start_s,end_s,kind,name,metric,value\n");
        let w = self.window_seconds;
        let mut row = |window: usize, kind: &str, name: &str, metric: &str, value: String| {
            let _ = writeln!(
                out,
                "{},{},{kind},{},{metric},{value}",
                window as f64 * w,
                (window + 1) as f64 * w,
                csv_field(name)
            );
        };
        let text = |value: Option<f64>| value.map(|v| v.to_string()).unwrap_or_default();
        for (name, series) in &self.workloads {
            for window in 0..self.windows {
                let at = |values: &[u64]| values.get(window).copied().unwrap_or(0).to_string();
                let of = |values: &[Option<f64>]| text(values.get(window).copied().flatten());
                row(window, "workload", name, "sent", at(&series.sent));
                row(window, "workload", name, "completed", at(&series.completed));
                row(window, "workload", name, "failed", at(&series.failed));
                row(
                    window,
                    "workload",
                    name,
                    "throughput_per_s",
                    text(series.throughput_per_s.get(window).copied()),
                );
                row(window, "workload", name, "mean_ms", of(&series.mean_ms));
                row(window, "workload", name, "p50_ms", of(&series.p50_ms));
                row(window, "workload", name, "p99_ms", of(&series.p99_ms));
                row(
                    window,
                    "workload",
                    name,
                    "settled_p99_ms",
                    of(&series.settled_p99_ms),
                );
            }
        }
        for (name, series) in &self.services {
            for window in 0..self.windows {
                let at = |values: &[u64]| values.get(window).copied().unwrap_or(0).to_string();
                row(window, "service", name, "handled", at(&series.handled));
                row(window, "service", name, "rejected", at(&series.rejected));
                row(
                    window,
                    "service",
                    name,
                    "busy_workers",
                    text(series.busy_workers.get(window).copied()),
                );
                row(
                    window,
                    "service",
                    name,
                    "queue_mean",
                    text(series.queue_mean.get(window).copied()),
                );
                row(window, "service", name, "queue_max", at(&series.queue_max));
            }
        }
        for (topic, subscribers) in &self.topics {
            for (subscriber, lag) in subscribers {
                let name = format!("{topic}/{subscriber}");
                for window in 0..self.windows {
                    let mean = text(lag.mean.get(window).copied());
                    let max = lag.max.get(window).copied().unwrap_or(0).to_string();
                    row(window, "topic", &name, "lag_mean", mean);
                    row(window, "topic", &name, "lag_max", max);
                }
            }
        }
        out
    }
}

/// A name as a CSV field: quoted if it holds a comma, a quote or a line break.
fn csv_field(name: &str) -> String {
    if name.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_string()
    }
}

/// A series as a line of block characters, at most `width` wide (windows merged by their
/// maximum), scaled from its least to its largest value; `None` values are blanks.
pub(crate) fn sparkline(values: &[Option<f64>], width: usize) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let per = values.len().div_ceil(width);
    let merged: Vec<Option<f64>> = values
        .chunks(per)
        .map(|chunk| chunk.iter().flatten().copied().reduce(f64::max))
        .collect();
    let present = merged.iter().flatten().copied();
    let (low, high) = present.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    merged
        .iter()
        .map(|value| match value {
            None => ' ',
            Some(v) if high > low => {
                let level = ((v - low) / (high - low) * 7.0).round() as usize;
                BLOCKS[level.min(7)]
            }
            Some(_) => BLOCKS[0],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_is_cut_at_window_edges() {
        let windows = Windows::new(Duration::from_secs(1), Duration::from_secs(3));
        let mut service = ServiceWindows::new(windows);
        service.busy(500_000_000, 2_250_000_000);
        service.busy(2_900_000_000, 5_000_000_000); // past the end: cut
        assert_eq!(
            service.busy_ns.to_vec(windows),
            vec![500_000_000, 1_000_000_000, 350_000_000]
        );
    }

    #[test]
    fn a_service_holds_windows_only_once_it_records() {
        let windows = Windows::new(Duration::from_secs(1), Duration::from_secs(3));
        let mut idle = ServiceWindows::new(windows);
        idle.queue_length(100, 0);
        assert!(idle.handled.values.is_empty() && idle.busy_ns.values.is_empty());
        assert!(idle.queue.area.values.is_empty() && idle.queue.max.values.is_empty());
        let report = idle.report();
        assert_eq!(report.handled, vec![0, 0, 0]);
        assert_eq!(report.queue_mean, vec![0.0, 0.0, 0.0]);

        // A replica that recorded, merged into one that did not (and the other way round).
        let mut busy = ServiceWindows::new(windows);
        busy.handled(1_500_000_000);
        busy.busy(1_000_000_000, 1_250_000_000);
        busy.queue_length(2_000_000_000, 2);
        busy.queue_length(2_500_000_000, 0);
        for merged in [
            {
                let mut total = ServiceWindows::new(windows);
                total.merge(&busy);
                total.report()
            },
            {
                let mut total = busy.clone();
                total.merge(&idle);
                total.report()
            },
        ] {
            assert_eq!(merged.handled, vec![0, 1, 0]);
            assert_eq!(merged.busy_workers, vec![0.0, 0.25, 0.0]);
            assert_eq!(merged.queue_mean, vec![0.0, 0.0, 1.0]);
            assert_eq!(merged.queue_max, vec![0, 0, 2]);
        }
    }

    #[test]
    fn windows_round_up_and_are_bounded() {
        let w = Windows::new(Duration::from_millis(300), Duration::from_secs(1));
        assert_eq!(w.count(), 4);
        assert_eq!(w.index(999_999_999), Some(3));
        assert_eq!(w.index(1_200_000_000), None);
        let many = Windows::new(Duration::from_nanos(1), Duration::from_secs(1));
        assert_eq!(many.count(), MAX_WINDOWS);
    }

    #[test]
    fn sparkline_scales_and_merges() {
        let values: Vec<Option<f64>> = [1.0, 2.0, 8.0, 8.0].map(Some).into();
        assert_eq!(sparkline(&values, 4), "▁▂██");
        assert_eq!(sparkline(&values, 2), "▁█");
        assert_eq!(sparkline(&[None, Some(3.0)], 2), " ▁");
    }
}
