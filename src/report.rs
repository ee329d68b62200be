//! The result of a simulation run.
//!
//! A [`Report`] is what a run hands back: per-workload figures (what the
//! clients saw) and per-service figures (what each service went through). It
//! prints as a plain-text table ([`Display`](std::fmt::Display)) and converts
//! to and from JSON ([`Report::to_json`], [`Report::from_json`]); the JSON
//! field names are a public interface, and maps are [`BTreeMap`]s so that keys
//! come out in a deterministic (sorted) order.
//!
//! # Time windows
//!
//! A run has three instants, all on the simulation clock and counted from its
//! start:
//!
//! * [`simulated_seconds`](Report::simulated_seconds): the workload duration,
//!   the window in which clients send requests;
//! * the end of the warm-up, `simulated_seconds - measured_seconds`; the
//!   *measured window* runs from there to `simulated_seconds`. Counts, rates,
//!   latencies and utilisation cover this window only, so that start-up
//!   transients (empty queues, cold caches) do not skew them;
//! * [`drained_seconds`](Report::drained_seconds): when the last request that
//!   was in flight at the end of the sending window finished. Requests sent in
//!   the measured window are followed to completion even when that is after
//!   `simulated_seconds`.
//!
//! # Figures
//!
//! Latencies are [`LatencySummary`] values in milliseconds (see
//! [`metrics`](crate::metrics)). A workload's latency runs from the
//! *intended* send time of each request to its response, so that a slow
//! system cannot hide its queueing by delaying the clients (no coordinated
//! omission). A service's latency is split into queue wait (arrival to start
//! of handling) and processing (start of handling to response, including the
//! downstream calls the handler makes); their sum per request is the service
//! latency.
//!
//! # Example
//!
//! ```
//! use microsim::ClockKind;
//! use microsim::report::{Report, WorkloadReport};
//!
//! let mut report = Report::new(7, ClockKind::Virtual);
//! report.simulated_seconds = 60.0;
//! report.measured_seconds = 55.0;
//! report.drained_seconds = 60.012;
//! let mut checkout = WorkloadReport::default();
//! checkout.sent = 48_000;
//! checkout.completed = 48_000;
//! checkout.throughput_per_s = 48_000.0 / 55.0;
//! report.workloads.insert("checkout".to_string(), checkout);
//!
//! let text = report.to_string();
//! assert!(text.starts_with("microsim report  seed 7  virtual clock  60.000 s simulated"));
//! assert!(text.contains("checkout"));
//!
//! let json = report.to_json();
//! assert_eq!(Report::from_json(&json).unwrap(), report);
//! ```

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use crate::clock::ClockKind;
use crate::metrics::LatencySummary;

/// The display name of a clock, as in the report's title line.
fn clock_name(clock: ClockKind) -> &'static str {
    match clock {
        ClockKind::Virtual => "virtual",
        ClockKind::Real => "real",
    }
}

/// The result of a simulation run.
///
/// See the [module documentation](self) for the time windows the figures
/// cover. Build one with [`Report::new`] and fill in its public fields.
///
/// # Examples
///
/// ```
/// use microsim::ClockKind;
/// use microsim::report::{Report, ServiceReport};
///
/// let mut report = Report::new(1, ClockKind::Virtual);
/// report.services.insert("db".to_string(), ServiceReport::default());
/// let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
/// assert_eq!(value["clock"], "virtual");
/// assert_eq!(value["services"]["db"]["queue_capacity"], serde_json::Value::Null);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// Seed of the run's random number generator: the same seed and scenario
    /// on the virtual clock reproduce the same report.
    pub seed: u64,
    /// Which clock drove the run; serialised as `"virtual"` or `"real"`.
    pub clock: ClockKind,
    /// Workload duration (the sending window), seconds.
    pub simulated_seconds: f64,
    /// Duration minus warm-up: the window that counts, rates and latencies
    /// cover, seconds.
    pub measured_seconds: f64,
    /// Simulated time at which the last in-flight request ended, seconds;
    /// usually at least `simulated_seconds`.
    pub drained_seconds: f64,
    /// Per-workload figures, by workload name.
    pub workloads: BTreeMap<String, WorkloadReport>,
    /// Per-service figures, by service name.
    pub services: BTreeMap<String, ServiceReport>,
    /// Per-topic figures, by topic name (empty without topics).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub topics: BTreeMap<String, TopicReport>,
    /// The scheduled faults, in the order they were added (empty without faults).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<crate::fault::FaultReport>,
    /// What each call policy did, by pair: `"caller -> callee"` (empty without policies).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, crate::policy::PolicyReport>,
}

/// One replica's share of its service's work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct ReplicaReport {
    /// Requests it handled.
    pub handled: u64,
    /// Requests its full queue rejected.
    pub rejected: u64,
    /// Its busy worker time over its available worker time.
    pub utilization: f64,
    /// Arrival to response sent, ms.
    pub latency_ms: LatencySummary,
}

/// What went through one topic, in the measured window (events published at or after the
/// warm-up).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TopicReport {
    /// The topic's delivery guarantee.
    pub delivery: crate::topic::Delivery,
    /// Events published.
    pub published: u64,
    /// Publishes refused because the topic was full.
    pub rejected: u64,
    /// Deliveries made to subscribers, redeliveries included.
    pub delivered: u64,
    /// Deliveries beyond the first of an event to a subscriber.
    pub redelivered: u64,
    /// Handler runs of an event beyond its first, for one subscriber: the handler saw it
    /// again after a crash, a timeout or an error.
    pub duplicates: u64,
    /// Events sent to the dead-letter topic after their last delivery failed (counted per
    /// subscriber).
    pub dead_lettered: u64,
    /// At-most-once deliveries whose handler failed or crashed: the event is gone.
    pub lost: u64,
    /// Per subscribing service.
    pub subscribers: BTreeMap<String, SubscriberReport>,
}

/// What one subscriber of a topic went through.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct SubscriberReport {
    /// Events handled successfully (acknowledged).
    pub handled: u64,
    /// Events dead-lettered for this subscriber.
    pub dead_lettered: u64,
    /// Events lost for this subscriber.
    pub lost: u64,
    /// From publish to the end of the successful handling, ms.
    pub latency_ms: LatencySummary,
    /// Most events waiting at the broker for this subscriber at once.
    pub lag_max: u64,
    /// Events waiting, averaged over simulated time.
    pub lag_mean: f64,
    /// Most events waiting within each hundredth of the duration.
    pub lag_timeline: Vec<u64>,
}

/// What the clients of one workload saw, in the measured window.
///
/// `failed` is split by cause into `rejected`, `timed_out`, `crashed` and
/// `errors`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct WorkloadReport {
    /// Requests sent.
    pub sent: u64,
    /// Requests that received a successful response.
    pub completed: u64,
    /// Requests that failed, whatever the cause.
    pub failed: u64,
    /// Part of `failed`: rejected by a full queue, or not sent by the client's own policy
    /// (circuit open, bulkhead full, rate limited).
    pub rejected: u64,
    /// Part of `failed`: timed out.
    pub timed_out: u64,
    /// Part of `failed`: the handler panicked, or a crash fault took its replica down.
    pub crashed: u64,
    /// Part of `failed`: the handler returned an error.
    pub errors: u64,
    /// `completed / measured_seconds`, requests per second.
    pub throughput_per_s: f64,
    /// Latency of completed requests, from intended send time to response,
    /// ms.
    pub latency_ms: LatencySummary,
    /// Settled latency of completed requests, ms: from intended send time until the
    /// response has arrived *and* every event and one-way message the request caused,
    /// transitively, has been handled (or dead-lettered or lost). Equal to `latency_ms`
    /// for purely synchronous flows.
    pub settled_ms: LatencySummary,
}

/// What one service went through, in the measured window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct ServiceReport {
    /// Per replica, in replica order; empty for a service with one replica.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaReport>,
    /// Number of workers handling requests concurrently.
    pub workers: usize,
    /// Capacity of the queue in front of the workers; `None` = unbounded.
    pub queue_capacity: Option<usize>,
    /// Requests that entered a worker and finished (ok or error).
    pub handled: u64,
    /// Arrivals refused because the queue was full.
    pub rejected: u64,
    /// Handler returned an error.
    pub failed: u64,
    /// Handler panicked (the worker was restarted).
    pub panics: u64,
    /// Queued copies dropped because a hedging caller took the other copy's answer.
    #[serde(default)]
    pub cancelled: u64,
    /// Requests in progress or queued when a crash fault took the replica down.
    #[serde(default)]
    pub crashed: u64,
    /// Busy worker time / available worker time in the measured window.
    pub utilization: f64,
    /// Arrival at the service to start of handling, ms.
    pub queue_wait_ms: LatencySummary,
    /// Start of handling to response sent (includes downstream calls), ms.
    pub processing_ms: LatencySummary,
    /// Arrival to response sent, ms.
    pub latency_ms: LatencySummary,
}

impl Report {
    /// Creates a report for a run with the given seed and clock, with zero
    /// durations and no workloads or services; fill in the public fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use microsim::ClockKind;
    /// use microsim::report::Report;
    ///
    /// let report = Report::new(42, ClockKind::Real);
    /// assert_eq!(report.seed, 42);
    /// assert!(report.workloads.is_empty() && report.services.is_empty());
    /// ```
    #[must_use]
    pub fn new(seed: u64, clock: ClockKind) -> Self {
        Self {
            seed,
            clock,
            simulated_seconds: 0.0,
            measured_seconds: 0.0,
            drained_seconds: 0.0,
            workloads: BTreeMap::new(),
            services: BTreeMap::new(),
            topics: BTreeMap::new(),
            faults: Vec::new(),
            policies: BTreeMap::new(),
        }
    }

    /// The report as pretty-printed JSON.
    ///
    /// Non-finite figures (`NaN`, infinities) are written as `null`, which
    /// [`from_json`](Self::from_json) does not read back as a number.
    ///
    /// # Panics
    ///
    /// Never in practice: serialisation can only fail for map keys that are
    /// not strings, for a failing custom `Serialize` implementation or for an
    /// I/O error, and none of these exist here (the maps are keyed by
    /// `String`, all types derive `Serialize`, and the output is an in-memory
    /// string). The `expect` documents that invariant.
    ///
    /// # Examples
    ///
    /// ```
    /// use microsim::ClockKind;
    /// use microsim::report::Report;
    ///
    /// let json = Report::new(3, ClockKind::Virtual).to_json();
    /// assert!(json.contains("\"seed\": 3"));
    /// ```
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("a Report always serialises: string keys, derived Serialize, in-memory output")
    }

    /// Reads a report written by [`to_json`](Self::to_json).
    ///
    /// # Errors
    ///
    /// Returns the [`serde_json::Error`] if `json` is not valid JSON or does not
    /// have the shape of a report.
    ///
    /// # Examples
    ///
    /// ```
    /// use microsim::report::Report;
    ///
    /// assert!(Report::from_json("{}").is_err());
    /// ```
    pub fn from_json(json: &str) -> Result<Report, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// Names longer than this get a line of their own above their row, so that
/// the tables stay narrow.
const MAX_NAME_WIDTH: usize = 24;

/// One table row: a name, right-aligned cells and an optional note line
/// printed below it.
struct Row {
    name: String,
    cells: Vec<String>,
    note: Option<String>,
}

/// Writes an aligned table: a left-aligned name column, then right-aligned
/// columns each as wide as its widest cell or header, separated by two
/// spaces. `suffix` is appended to the header line. Every line, the header
/// included, is preceded (not followed) by a newline.
fn write_table(
    f: &mut fmt::Formatter<'_>,
    name_header: &str,
    headers: &[&str],
    suffix: &str,
    rows: &[Row],
) -> fmt::Result {
    let name_width = rows
        .iter()
        .map(|row| row.name.chars().count())
        .filter(|&len| len <= MAX_NAME_WIDTH)
        .chain([name_header.chars().count()])
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, header)| {
            rows.iter()
                .filter_map(|row| row.cells.get(i))
                .map(|cell| cell.chars().count())
                .chain([header.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();

    let mut header = format!("{name_header:<name_width$}");
    for (text, width) in headers.iter().zip(&widths) {
        write!(header, "  {text:>width$}")?;
    }
    header.push_str(suffix);
    write!(f, "\n{}", header.trim_end())?;

    for row in rows {
        let name = if row.name.chars().count() > name_width {
            write!(f, "\n{}", row.name)?;
            ""
        } else {
            row.name.as_str()
        };
        let mut line = format!("{name:<name_width$}");
        for (cell, width) in row.cells.iter().zip(&widths) {
            write!(line, "  {cell:>width$}")?;
        }
        write!(f, "\n{}", line.trim_end())?;
        if let Some(note) = &row.note {
            write!(f, "\n  {note}")?;
        }
    }
    Ok(())
}

/// A latency in milliseconds with 3 decimals.
fn ms(value: f64) -> String {
    format!("{value:.3}")
}

impl fmt::Display for Report {
    /// A plain-text table: a title line, then one row per workload and one
    /// per service (a section is left out when it has no rows). Latencies are
    /// in milliseconds with 3 decimals; a workload's crashed and error counts
    /// are shown on a line below its row when non-zero. The output is
    /// deterministic and has no trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "microsim report  seed {}  {} clock  {:.3} s simulated ({:.3} s measured, drained at {:.3} s)",
            self.seed,
            clock_name(self.clock),
            self.simulated_seconds,
            self.measured_seconds,
            self.drained_seconds,
        )?;

        if !self.workloads.is_empty() {
            // Settled latency differs from response latency only where requests cause
            // asynchronous work; show it then.
            let settling = self
                .workloads
                .values()
                .any(|w| w.settled_ms != w.latency_ms);
            let rows: Vec<Row> = self
                .workloads
                .iter()
                .map(|(name, w)| Row {
                    name: name.clone(),
                    cells: [
                        w.sent.to_string(),
                        w.completed.to_string(),
                        w.failed.to_string(),
                        w.rejected.to_string(),
                        w.timed_out.to_string(),
                        format!("{:.1}", w.throughput_per_s),
                        ms(w.latency_ms.mean),
                        ms(w.latency_ms.p50),
                        ms(w.latency_ms.p90),
                        ms(w.latency_ms.p99),
                        ms(w.latency_ms.p999),
                        ms(w.latency_ms.max),
                    ]
                    .into_iter()
                    .chain(
                        settling
                            .then(|| [ms(w.settled_ms.p50), ms(w.settled_ms.p99)])
                            .into_iter()
                            .flatten(),
                    )
                    .collect(),
                    note: (w.crashed != 0 || w.errors != 0).then(|| {
                        format!(
                            "{name}: {} crashed, {} errors (included in failed)",
                            w.crashed, w.errors
                        )
                    }),
                })
                .collect();
            let mut headers = vec![
                "sent",
                "completed",
                "failed",
                "rejected",
                "timed out",
                "throughput/s",
                "mean ms",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "p99.9 ms",
                "max ms",
            ];
            if settling {
                headers.extend(["settled p50", "settled p99"]);
            }
            f.write_str("\n")?;
            write_table(f, "workload", &headers, "", &rows)?;
        }

        if !self.services.is_empty() {
            let rows: Vec<Row> = self
                .services
                .iter()
                .map(|(name, s)| Row {
                    name: name.clone(),
                    cells: vec![
                        s.workers.to_string(),
                        s.queue_capacity
                            .map_or_else(|| "unbounded".to_string(), |c| c.to_string()),
                        s.handled.to_string(),
                        s.rejected.to_string(),
                        s.failed.to_string(),
                        s.panics.to_string(),
                        format!("{:.3}", s.utilization),
                        ms(s.queue_wait_ms.p50),
                        ms(s.queue_wait_ms.p99),
                        ms(s.processing_ms.mean),
                        ms(s.processing_ms.p99),
                        ms(s.latency_ms.mean),
                        ms(s.latency_ms.p99),
                    ],
                    note: (s.cancelled != 0 || s.crashed != 0).then(|| {
                        format!(
                            "{name}: {} hedge copies cancelled in the queue, {} requests lost to crashes",
                            s.cancelled, s.crashed
                        )
                    }),
                })
                .collect();
            f.write_str("\n")?;
            write_table(
                f,
                "service",
                &[
                    "workers",
                    "queue",
                    "handled",
                    "rejected",
                    "failed",
                    "panics",
                    "util",
                    "wait p50",
                    "wait p99",
                    "proc mean",
                    "proc p99",
                    "total mean",
                    "total p99",
                ],
                "  (ms)",
                &rows,
            )?;
        }

        if !self.topics.is_empty() {
            let rows: Vec<Row> = self
                .topics
                .iter()
                .map(|(name, t)| Row {
                    name: name.clone(),
                    cells: vec![
                        match t.delivery {
                            crate::topic::Delivery::AtMostOnce => "at most once".to_string(),
                            crate::topic::Delivery::AtLeastOnce { .. } => {
                                "at least once".to_string()
                            }
                        },
                        t.published.to_string(),
                        t.rejected.to_string(),
                        t.delivered.to_string(),
                        t.redelivered.to_string(),
                        t.duplicates.to_string(),
                        t.dead_lettered.to_string(),
                        t.lost.to_string(),
                    ],
                    note: None,
                })
                .collect();
            f.write_str("\n")?;
            write_table(
                f,
                "topic",
                &[
                    "delivery",
                    "published",
                    "rejected",
                    "delivered",
                    "redelivered",
                    "duplicates",
                    "dead-lettered",
                    "lost",
                ],
                "",
                &rows,
            )?;
            let rows: Vec<Row> = self
                .topics
                .iter()
                .flat_map(|(topic, t)| {
                    t.subscribers.iter().map(move |(name, s)| Row {
                        name: format!("{topic} -> {name}"),
                        cells: vec![
                            s.handled.to_string(),
                            s.dead_lettered.to_string(),
                            s.lost.to_string(),
                            ms(s.latency_ms.p50),
                            ms(s.latency_ms.p99),
                            ms(s.latency_ms.max),
                            s.lag_max.to_string(),
                            format!("{:.2}", s.lag_mean),
                        ],
                        note: None,
                    })
                })
                .collect();
            if !rows.is_empty() {
                f.write_str("\n")?;
                write_table(
                    f,
                    "subscription",
                    &[
                        "handled",
                        "dead-lettered",
                        "lost",
                        "p50 ms",
                        "p99 ms",
                        "max ms",
                        "lag max",
                        "lag mean",
                    ],
                    "  (publish to handled)",
                    &rows,
                )?;
            }
        }

        if !self.policies.is_empty() {
            let rows: Vec<Row> = self
                .policies
                .iter()
                .map(|(pair, p)| Row {
                    name: pair.clone(),
                    cells: vec![
                        p.calls.to_string(),
                        p.failed.to_string(),
                        p.attempts.to_string(),
                        p.retries.to_string(),
                        p.retries_denied.to_string(),
                        p.timeouts.to_string(),
                        format!("{}/{}", p.hedges_won, p.hedges_sent),
                        p.breaker_rejected.to_string(),
                        p.bulkhead_rejected.to_string(),
                        p.rate_limited.to_string(),
                        ms(p.latency_ms.p99),
                    ],
                    note: (!p.breaker_transitions.is_empty()).then(|| {
                        let changes: Vec<String> = p
                            .breaker_transitions
                            .iter()
                            .take(8)
                            .map(|t| format!("{} at {:.3} s", t.to, t.at_seconds))
                            .collect();
                        let more = p.breaker_transitions.len().saturating_sub(8);
                        format!(
                            "breaker: {}{}",
                            changes.join(", "),
                            if more > 0 {
                                format!(" and {more} more")
                            } else {
                                String::new()
                            }
                        )
                    }),
                })
                .collect();
            f.write_str("\n")?;
            write_table(
                f,
                "policy",
                &[
                    "calls",
                    "failed",
                    "attempts",
                    "retries",
                    "denied",
                    "timeouts",
                    "hedges won",
                    "open-rejected",
                    "bulkhead",
                    "rate-limited",
                    "p99 ms",
                ],
                "",
                &rows,
            )?;
        }

        if !self.faults.is_empty() {
            let rows: Vec<Row> = self
                .faults
                .iter()
                .map(|fault| Row {
                    name: fault.fault.clone(),
                    cells: vec![
                        format!("{:.3}", fault.start_seconds),
                        fault
                            .end_seconds
                            .map_or_else(|| "never".to_string(), |end| format!("{end:.3}")),
                        fault.failed_calls.to_string(),
                        fault.lost_messages.to_string(),
                        fault.crashed_requests.to_string(),
                    ],
                    note: None,
                })
                .collect();
            f.write_str("\n")?;
            write_table(
                f,
                "fault",
                &["from s", "until s", "failed", "lost", "crashed"],
                "",
                &rows,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(base: f64) -> LatencySummary {
        LatencySummary {
            count: 1000,
            mean: base,
            p50: base * 0.5,
            p90: base * 2.0,
            p99: base * 4.0,
            p999: base * 6.0,
            max: base * 10.0,
        }
    }

    fn sample() -> Report {
        let mut report = Report::new(7, ClockKind::Virtual);
        report.simulated_seconds = 60.0;
        report.measured_seconds = 55.0;
        report.drained_seconds = 60.0121;
        report.workloads.insert(
            "checkout".to_string(),
            WorkloadReport {
                sent: 48_000,
                completed: 47_950,
                failed: 50,
                rejected: 50,
                timed_out: 0,
                crashed: 0,
                errors: 0,
                throughput_per_s: 799.2,
                latency_ms: LatencySummary {
                    count: 47_950,
                    mean: 5.012,
                    p50: 3.47,
                    p90: 11.5,
                    p99: 23.0,
                    p999: 34.5,
                    max: 60.1,
                },
                settled_ms: LatencySummary::default(),
            },
        );
        report.workloads.insert(
            "browse".to_string(),
            WorkloadReport {
                sent: 10,
                completed: 5,
                failed: 5,
                rejected: 0,
                timed_out: 1,
                crashed: 3,
                errors: 1,
                throughput_per_s: 0.090_909,
                latency_ms: summary(1.0),
                settled_ms: summary(1.0),
            },
        );
        report.services.insert(
            "frontend".to_string(),
            ServiceReport {
                replicas: Vec::new(),
                workers: 64,
                queue_capacity: Some(1000),
                handled: 48_000,
                rejected: 50,
                failed: 0,
                panics: 0,
                cancelled: 0,
                crashed: 0,
                utilization: 0.8,
                queue_wait_ms: summary(0.01),
                processing_ms: summary(1.234),
                latency_ms: summary(1.5),
            },
        );
        report.services.insert(
            "a-service-with-a-very-long-name".to_string(),
            ServiceReport {
                replicas: Vec::new(),
                workers: 2,
                queue_capacity: None,
                handled: 12,
                rejected: 0,
                failed: 1,
                panics: 2,
                cancelled: 0,
                crashed: 0,
                utilization: 0.123_456,
                queue_wait_ms: summary(0.25),
                processing_ms: summary(2.0),
                latency_ms: summary(2.25),
            },
        );
        report
    }

    /// The column (in chars) where `needle` ends on `line`.
    fn end_of(line: &str, needle: &str) -> usize {
        let start = line
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in {line:?}"));
        line[..start].chars().count() + needle.chars().count()
    }

    fn line_starting<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{text}"))
    }

    #[test]
    fn display_has_aligned_rows() {
        let text = sample().to_string();
        assert!(!text.ends_with('\n'));
        assert_eq!(
            text.lines().next().unwrap(),
            "microsim report  seed 7  virtual clock  60.000 s simulated \
             (55.000 s measured, drained at 60.012 s)"
        );
        for line in text.lines() {
            assert!(line.chars().count() < 160, "too long: {line:?}");
        }

        let header = line_starting(&text, "workload ");
        let checkout = line_starting(&text, "checkout ");
        let browse = line_starting(&text, "browse ");
        // Right edges of each column line up with the header.
        for (column, value) in [
            ("sent", "48000"),
            ("completed", "47950"),
            ("throughput/s", "799.2"),
            ("mean ms", "5.012"),
            ("p50 ms", "3.470"),
            ("p90 ms", "11.500"),
            ("p99 ms", "23.000"),
            ("p99.9 ms", "34.500"),
            ("max ms", "60.100"),
        ] {
            assert_eq!(end_of(header, column), end_of(checkout, value), "{column}");
        }
        assert_eq!(end_of(header, "throughput/s"), end_of(browse, "0.1"));
        assert_eq!(end_of(header, "max ms"), end_of(browse, "10.000"));
        assert_eq!(
            header.find("sent"),
            Some(checkout.find("48000").unwrap() + 1)
        );
        // Crashes and errors appear below the row that has them, only there.
        assert!(text.contains("\n  browse: 3 crashed, 1 errors (included in failed)\n"));
        assert!(text.contains("\n\nworkload "));
        assert!(text.contains("\n\nservice "));
        assert!(!text.contains("checkout: 0 crashed"));

        let header = line_starting(&text, "service ");
        assert!(header.ends_with("  (ms)"));
        let frontend = line_starting(&text, "frontend ");
        for (column, value) in [
            ("workers", "64"),
            ("queue", "1000"),
            ("handled", "48000"),
            ("util", "0.800"),
            ("wait p50", "0.005"),
            ("wait p99", "0.040"),
            ("proc mean", "1.234"),
            ("proc p99", "4.936"),
            ("total mean", "1.500"),
            ("total p99", "6.000"),
        ] {
            assert_eq!(end_of(header, column), end_of(frontend, value), "{column}");
        }
        // A long name gets its own line; its figures go on the next one.
        let lines: Vec<&str> = text.lines().collect();
        let long = lines
            .iter()
            .position(|line| *line == "a-service-with-a-very-long-name")
            .unwrap();
        let long_row = lines[long + 1];
        assert!(long_row.starts_with("   "));
        assert_eq!(end_of(header, "queue"), end_of(long_row, "unbounded"));
        assert_eq!(end_of(header, "util"), end_of(long_row, "0.123"));
        assert_eq!(end_of(header, "wait p50"), end_of(long_row, "0.125"));
        assert_eq!(long_row.chars().count(), frontend.chars().count());
    }

    #[test]
    fn display_shows_policies_and_faults() {
        let mut report = sample();
        report.policies.insert(
            "frontend -> payment".to_string(),
            crate::policy::PolicyReport {
                calls: 100,
                attempts: 130,
                retries: 30,
                hedges_sent: 4,
                hedges_won: 3,
                breaker_transitions: vec![crate::policy::BreakerTransition {
                    at_seconds: 2.5,
                    from: crate::policy::BreakerState::Closed,
                    to: crate::policy::BreakerState::Open,
                }],
                ..Default::default()
            },
        );
        report.faults.push(crate::fault::FaultReport {
            fault: "crash api replica 0".to_string(),
            start_seconds: 2.0,
            end_seconds: None,
            failed_calls: 0,
            lost_messages: 0,
            crashed_requests: 7,
        });
        let text = report.to_string();
        let policy = line_starting(&text, "frontend -> payment");
        assert!(
            policy.contains("  130  ") && policy.contains("3/4"),
            "{policy}"
        );
        assert!(text.contains("breaker: open at 2.500 s"), "{text}");
        let fault = line_starting(&text, "crash api replica 0");
        assert!(fault.contains("never") && fault.ends_with('7'), "{fault}");
    }

    #[test]
    fn display_is_deterministic() {
        assert_eq!(sample().to_string(), sample().clone().to_string());
    }

    #[test]
    fn display_omits_empty_sections() {
        let mut report = Report::new(1, ClockKind::Real);
        let text = report.to_string();
        assert_eq!(text.lines().count(), 1);
        assert!(text.contains("real clock"));

        report
            .services
            .insert("db".to_string(), ServiceReport::default());
        let text = report.to_string();
        assert!(!text.contains("workload"));
        assert!(text.contains("\n\nservice "));
        assert!(line_starting(&text, "db ").contains("unbounded"));

        let mut report = Report::new(1, ClockKind::Virtual);
        report
            .workloads
            .insert("w".to_string(), WorkloadReport::default());
        let text = report.to_string();
        assert!(text.contains("\n\nworkload "));
        assert!(!text.contains("service"));
    }

    #[test]
    fn display_survives_odd_values() {
        let mut report = sample();
        report.simulated_seconds = f64::NAN;
        report.measured_seconds = f64::INFINITY;
        report.workloads.insert(
            "ünïcode".to_string(),
            WorkloadReport {
                sent: u64::MAX,
                throughput_per_s: f64::NEG_INFINITY,
                ..WorkloadReport::default()
            },
        );
        report
            .workloads
            .insert(String::new(), WorkloadReport::default());
        // Synchronous flows: settled equals response latency, so no settled columns.
        for workload in report.workloads.values_mut() {
            workload.settled_ms = workload.latency_ms.clone();
        }
        let text = report.to_string();
        assert!(text.contains("NaN s simulated"));
        assert!(text.contains(&u64::MAX.to_string()));
        let header = line_starting(&text, "workload ");
        let row = line_starting(&text, "ünïcode ");
        assert!(row.ends_with(" 0.000"));
        assert_eq!(end_of(header, "max ms"), row.chars().count());
    }

    #[test]
    fn json_round_trip() {
        let report = sample();
        let json = report.to_json();
        assert_eq!(Report::from_json(&json).unwrap(), report);
        let empty = Report::new(0, ClockKind::Real);
        assert_eq!(Report::from_json(&empty.to_json()).unwrap(), empty);
    }

    #[test]
    fn json_rejects_garbage() {
        assert!(Report::from_json("").is_err());
        assert!(Report::from_json("[]").is_err());
        assert!(Report::from_json("{\"seed\": 1}").is_err());
    }

    fn keys(value: &serde_json::Value) -> Vec<&str> {
        value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn json_field_names() {
        let value: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        let mut top = keys(&value);
        top.sort_unstable();
        assert_eq!(
            top,
            [
                "clock",
                "drained_seconds",
                "measured_seconds",
                "seed",
                "services",
                "simulated_seconds",
                "workloads",
            ]
        );
        assert_eq!(value["seed"], 7);
        assert_eq!(value["clock"], "virtual");
        assert_eq!(value["measured_seconds"], 55.0);

        let checkout = &value["workloads"]["checkout"];
        let mut workload = keys(checkout);
        workload.sort_unstable();
        assert_eq!(
            workload,
            [
                "completed",
                "crashed",
                "errors",
                "failed",
                "latency_ms",
                "rejected",
                "sent",
                "settled_ms",
                "throughput_per_s",
                "timed_out",
            ]
        );
        assert_eq!(checkout["sent"], 48_000);
        let mut latency = keys(&checkout["latency_ms"]);
        latency.sort_unstable();
        assert_eq!(
            latency,
            ["count", "max", "mean", "p50", "p90", "p99", "p999"]
        );
        assert_eq!(checkout["latency_ms"]["p999"], 34.5);

        let frontend = &value["services"]["frontend"];
        let mut service = keys(frontend);
        service.sort_unstable();
        assert_eq!(
            service,
            [
                "cancelled",
                "crashed",
                "failed",
                "handled",
                "latency_ms",
                "panics",
                "processing_ms",
                "queue_capacity",
                "queue_wait_ms",
                "rejected",
                "utilization",
                "workers",
            ]
        );
        assert_eq!(frontend["queue_capacity"], 1000);
        assert_eq!(
            value["services"]["a-service-with-a-very-long-name"]["queue_capacity"],
            serde_json::Value::Null
        );
        // Maps are sorted by name.
        assert_eq!(
            keys(&value["services"]),
            ["a-service-with-a-very-long-name", "frontend"]
        );
        let json = sample().to_json();
        assert!(json.find("\"browse\"").unwrap() < json.find("\"checkout\"").unwrap());
    }

    #[test]
    fn clock_kind_serialises_in_snake_case() {
        assert_eq!(serde_json::to_string(&ClockKind::Real).unwrap(), "\"real\"");
        assert_eq!(
            serde_json::from_str::<ClockKind>("\"virtual\"").unwrap(),
            ClockKind::Virtual
        );
        assert_eq!(clock_name(ClockKind::Real), "real");
        assert_eq!(clock_name(ClockKind::Virtual), "virtual");
    }
}
