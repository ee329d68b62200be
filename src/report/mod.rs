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
//! Counts are the counters the run incremented, held as they are: each report keeps them in
//! its `counts` field ([`ServiceCounts`], [`WorkloadCounts`], [`TopicCounts`],
//! [`SubscriberCounts`], [`PolicyCounts`](crate::policy::PolicyCounts),
//! [`FaultCounts`](crate::fault::FaultCounts)), read as
//! `report.services["api"].counts.handled`; in the JSON they sit beside the report's other
//! fields (`"handled"` next to `"utilization"`). Counts merge ([`ServiceCounts::merge`]: a
//! service's are its replicas' summed); the other figures are derived from the run's
//! measurements and do not.
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
//! checkout.counts.sent = 48_000;
//! checkout.counts.completed = 48_000;
//! checkout.throughput_per_s = 48_000.0 / 55.0;
//! report.workloads.insert("checkout".to_string(), checkout);
//! assert_eq!(report.workloads["checkout"].counts.sent, 48_000);
//!
//! let text = report.to_string();
//! assert!(text.starts_with("microsim report  seed 7  virtual clock  60.000 s simulated"));
//! assert!(text.contains("checkout"));
//!
//! let json = report.to_json();
//! assert_eq!(Report::from_json(&json).unwrap(), report);
//! ```

use std::collections::BTreeMap;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::clock::ClockKind;
use crate::invariant::InvariantReport;
use crate::metrics::LatencySummary;

// The text tables: `Report`'s `Display`.
pub mod diff;
pub mod html;
pub mod plots;
mod table;
pub mod threshold;
pub mod timeline;
pub mod topology;
pub mod warmup;

pub use threshold::{Threshold, ThresholdResult};
pub use timeline::Timeline;

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
    /// usually at least `simulated_seconds`. For an interrupted run, the time it stopped at.
    pub drained_seconds: f64,
    /// Set when the run was stopped early through an
    /// [`InterruptHandle`](crate::InterruptHandle): the simulated time it reached, seconds.
    /// The figures then cover the run up to that instant only (the measured window ends
    /// there), and requests still in flight are not counted. Absent from the JSON otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_at: Option<f64>,
    /// The overrides of the scenario file the run was made with, `KEY=VALUE` each, in the
    /// order given: the `microsim` command's `--set` arguments
    /// (`microsim::scenario::Scenario::overrides`). Empty, and absent from
    /// the JSON, otherwise; the engine does not fill it in, whoever applies overrides does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
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
    /// What each business invariant's check found at the end of the run, in the order the
    /// invariants were added ([`Simulation::add_invariant`](crate::Simulation::add_invariant)).
    /// Empty without invariants, and for an interrupted run, whose checks do not run (work
    /// still in flight would read as violations); absent from the JSON then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invariants: Vec<InvariantReport>,
    /// The run window by window (see [`timeline`]): per workload and service, what each
    /// window of simulated time saw. Absent from the JSON of reports written before it.
    #[serde(default)]
    pub timeline: Timeline,
    /// What crossed each edge of the topology in the measured window: calls, one-way sends
    /// and publishes, per sender and receiver ([`topology`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<topology::EdgeReport>,
    /// Per workload, where the time of its slowest requests went (see
    /// [`CriticalPath`](crate::trace::CriticalPath)); only with tracing on
    /// ([`SimulationBuilder::tracing`](crate::SimulationBuilder::tracing)).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub critical_path: BTreeMap<String, crate::trace::CriticalPath>,
    /// The traces the run kept, with tracing on; exported with
    /// [`Traces::to_chrome_json`](crate::trace::Traces::to_chrome_json) and
    /// [`Traces::to_otlp_json`](crate::trace::Traces::to_otlp_json), not in the report's JSON.
    #[serde(skip)]
    pub traces: Option<crate::trace::Traces>,
    /// The verdicts of the thresholds the report was checked against
    /// ([`Report::check_thresholds`]; a scenario file's `[[thresholds]]`), in their order.
    /// Empty, and absent from the JSON, without thresholds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdResult>,
    /// Per workload, the warm-up the run needed by MSER-5 ([`warmup`]); only for workloads
    /// whose load does not change by design, in runs without faults, not interrupted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub warmup: BTreeMap<String, warmup::WarmupEstimate>,
}

/// One replica's share of its service's work.
///
/// Its counts are in [`counts`](Self::counts) (`replica.counts.handled`). The JSON keeps a
/// replica's line short: beside its other fields it shows only `handled` and `rejected`.
///
/// # Examples
///
/// ```
/// use microsim::report::ReplicaReport;
///
/// let mut replica = ReplicaReport::default();
/// replica.counts.handled = 100;
/// replica.counts.panics = 1;
/// assert_eq!(replica.counts.handled, 100);
///
/// let json = serde_json::to_value(&replica).unwrap();
/// assert_eq!(json["handled"], 100);
/// assert!(json.get("counts").is_none() && json.get("panics").is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct ReplicaReport {
    /// What the replica counted (`replica.counts.handled`).
    ///
    /// The JSON keeps a replica's line short: it shows `handled` and `rejected`, and the
    /// other counts read back from it as zero.
    #[serde(flatten, serialize_with = "handled_and_rejected")]
    pub counts: ServiceCounts,
    /// Its busy worker time over its available worker time; `None` for an unlimited service,
    /// which has no fixed number of workers.
    pub utilization: Option<f64>,
    /// Arrival to response sent, ms, of the requests handled without error.
    pub latency_ms: LatencySummary,
}

/// Writes the counts a replica's line in the JSON shows.
fn handled_and_rejected<S: Serializer>(
    counts: &ServiceCounts,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut line = serializer.serialize_struct("ServiceCounts", 2)?;
    line.serialize_field("handled", &counts.handled)?;
    line.serialize_field("rejected", &counts.rejected)?;
    line.end()
}

/// What went through one topic, in the measured window (events published at or after the
/// warm-up).
///
/// Its counts are in [`counts`](Self::counts) (`topic.counts.published`); in the JSON they
/// sit beside its other fields.
///
/// # Examples
///
/// ```
/// use microsim::report::TopicReport;
///
/// let topic: TopicReport = serde_json::from_value(serde_json::json!({
///     "delivery": "at_most_once",
///     "published": 10,
///     "rejected": 0,
///     "delivered": 10,
///     "redelivered": 0,
///     "duplicates": 0,
///     "dead_lettered": 0,
///     "lost": 1,
///     "subscribers": {},
/// }))?;
/// assert_eq!((topic.counts.published, topic.counts.lost), (10, 1));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TopicReport {
    /// The topic's delivery guarantee.
    pub delivery: crate::topic::Delivery,
    /// What the topic's broker counted.
    #[serde(flatten)]
    pub counts: TopicCounts,
    /// Per subscribing service.
    pub subscribers: BTreeMap<String, SubscriberReport>,
}

/// What a topic's broker counted, in the measured window (events published at or after the
/// warm-up).
///
/// The broker increments these, and the report shows them as they are
/// ([`TopicReport::counts`]).
///
/// # Examples
///
/// ```
/// use microsim::report::TopicCounts;
///
/// let mut first = TopicCounts::default();
/// first.published = 10;
/// first.delivered = 12;
/// first.redelivered = 2;
/// let mut both = first;
/// both.merge(&first);
/// assert_eq!((both.published, both.delivered, both.redelivered), (20, 24, 4));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct TopicCounts {
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
}

impl TopicCounts {
    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &TopicCounts) {
        // Named one by one: a count added to the struct but not here does not compile.
        let TopicCounts {
            published,
            rejected,
            delivered,
            redelivered,
            duplicates,
            dead_lettered,
            lost,
        } = *other;
        self.published += published;
        self.rejected += rejected;
        self.delivered += delivered;
        self.redelivered += redelivered;
        self.duplicates += duplicates;
        self.dead_lettered += dead_lettered;
        self.lost += lost;
    }
}

/// What one subscriber of a topic went through.
///
/// Its counts are in [`counts`](Self::counts) (`subscriber.counts.handled`); in the JSON they
/// sit beside its other fields.
///
/// # Examples
///
/// ```
/// use microsim::report::SubscriberReport;
///
/// let mut subscriber = SubscriberReport::default();
/// subscriber.counts.handled = 9;
/// subscriber.counts.dead_lettered = 1;
/// subscriber.lag_max = 3;
/// assert_eq!(subscriber.counts.handled + subscriber.counts.dead_lettered, 10);
///
/// let json = serde_json::to_value(&subscriber).unwrap();
/// assert_eq!((json["handled"].as_u64(), json["lag_max"].as_u64()), (Some(9), Some(3)));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct SubscriberReport {
    /// What the broker counted for this subscriber.
    #[serde(flatten)]
    pub counts: SubscriberCounts,
    /// From publish to the end of the successful handling, ms.
    pub latency_ms: LatencySummary,
    /// Most events waiting at the broker for this subscriber at once.
    pub lag_max: u64,
    /// Events waiting, averaged over simulated time.
    pub lag_mean: f64,
}

/// What a topic's broker counted for one subscriber, in the measured window.
///
/// The broker increments these, and the report shows them as they are
/// ([`SubscriberReport::counts`]).
///
/// # Examples
///
/// ```
/// use microsim::report::SubscriberCounts;
///
/// let mut first = SubscriberCounts::default();
/// first.handled = 10;
/// first.lost = 1;
/// let mut both = first;
/// both.merge(&first);
/// assert_eq!((both.handled, both.dead_lettered, both.lost), (20, 0, 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct SubscriberCounts {
    /// Events handled successfully (acknowledged).
    pub handled: u64,
    /// Events dead-lettered for this subscriber.
    pub dead_lettered: u64,
    /// Events lost for this subscriber.
    pub lost: u64,
}

impl SubscriberCounts {
    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &SubscriberCounts) {
        // Named one by one: a count added to the struct but not here does not compile.
        let SubscriberCounts {
            handled,
            dead_lettered,
            lost,
        } = *other;
        self.handled += handled;
        self.dead_lettered += dead_lettered;
        self.lost += lost;
    }
}

/// What the clients of one workload saw, in the measured window.
///
/// Its counts are in [`counts`](Self::counts) (`workload.counts.sent`); the rest is derived
/// from the run's measurements. In the JSON the counts sit beside the other fields.
///
/// # Examples
///
/// ```
/// use microsim::report::WorkloadReport;
///
/// let mut workload = WorkloadReport::default();
/// workload.counts.sent = 10;
/// workload.counts.completed = 9;
/// workload.counts.failed = 1;
/// workload.counts.timed_out = 1;
/// assert_eq!(workload.counts.sent, workload.counts.completed + workload.counts.failed);
///
/// let json = serde_json::to_value(&workload).unwrap();
/// assert_eq!((json["sent"].as_u64(), json["timed_out"].as_u64()), (Some(10), Some(1)));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct WorkloadReport {
    /// What the clients counted.
    #[serde(flatten)]
    pub counts: WorkloadCounts,
    /// `completed / measured_seconds`, requests per second.
    pub throughput_per_s: f64,
    /// Latency of *completed* requests only, from intended send time to response, ms.
    /// Failed requests are in [`failed_latency_ms`](Self::failed_latency_ms): a request
    /// that fails fast must not make the latency look better.
    pub latency_ms: LatencySummary,
    /// Latency of failed requests, from intended send time to the failure (a rejection, a
    /// timeout, an error), ms.
    pub failed_latency_ms: LatencySummary,
    /// Failed requests by cause ([`CallError::cause`](crate::CallError::cause)), e.g.
    /// `payment: card declined` or `checkout: timed out`. They add up to
    /// [`counts.failed`](WorkloadCounts::failed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors_by_cause: BTreeMap<String, u64>,
    /// Settled latency of completed requests, ms: from intended send time until the
    /// response has arrived *and* every event and one-way message the request caused,
    /// transitively, has been handled (or dead-lettered or lost). Equal to `latency_ms`
    /// for purely synchronous flows.
    pub settled_ms: LatencySummary,
    /// The percentile spectrum of the completed requests' latency
    /// ([`LatencyHistogram::percentile_spectrum`](crate::metrics::LatencyHistogram::percentile_spectrum)):
    /// what the latency CDF is drawn from and `--percentiles` writes. Not in the JSON.
    #[serde(skip)]
    pub percentiles: Vec<crate::metrics::PercentilePoint>,
    /// The same distribution in HdrHistogram's `.hgrm` text
    /// ([`LatencyHistogram::to_hgrm`](crate::metrics::LatencyHistogram::to_hgrm)), as
    /// `--percentiles` writes it. Not in the JSON.
    #[serde(skip)]
    pub latency_hgrm: String,
}

/// Two workload reports are equal when their JSON is: the percentile spectrum and the
/// `.hgrm` text are views of the same latency distribution, left out of the JSON and of the
/// comparison, so a report read back from its JSON equals the one written.
impl PartialEq for WorkloadReport {
    fn eq(&self, other: &Self) -> bool {
        self.counts == other.counts
            && self.throughput_per_s == other.throughput_per_s
            && self.latency_ms == other.latency_ms
            && self.failed_latency_ms == other.failed_latency_ms
            && self.errors_by_cause == other.errors_by_cause
            && self.settled_ms == other.settled_ms
    }
}

/// What the clients of one workload counted, in the measured window (requests intended at or
/// after the warm-up).
///
/// The workload's clients increment these as their requests end, and the report shows them
/// as they are ([`WorkloadReport::counts`]). `failed` is split by cause into `rejected`,
/// `timed_out`, `crashed` and `errors`.
///
/// # Examples
///
/// ```
/// use microsim::report::WorkloadCounts;
///
/// let mut first = WorkloadCounts::default();
/// first.sent = 10;
/// first.completed = 9;
/// first.failed = 1;
/// first.timed_out = 1;
/// let mut both = first;
/// both.merge(&first);
/// assert_eq!((both.sent, both.completed, both.failed, both.timed_out), (20, 18, 2, 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct WorkloadCounts {
    /// Requests sent.
    pub sent: u64,
    /// Requests that received a successful response.
    pub completed: u64,
    /// Requests that failed, whatever the cause: `sent - completed`.
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
}

impl WorkloadCounts {
    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &WorkloadCounts) {
        // Named one by one: a count added to the struct but not here does not compile.
        let WorkloadCounts {
            sent,
            completed,
            failed,
            rejected,
            timed_out,
            crashed,
            errors,
        } = *other;
        self.sent += sent;
        self.completed += completed;
        self.failed += failed;
        self.rejected += rejected;
        self.timed_out += timed_out;
        self.crashed += crashed;
        self.errors += errors;
    }
}

/// What one service went through, in the measured window.
///
/// Its counts, summed over its replicas, are in [`counts`](Self::counts)
/// (`service.counts.handled`); the rest is derived from the run's measurements. In the JSON
/// the counts sit beside the other fields.
///
/// # Examples
///
/// ```
/// use microsim::report::ServiceReport;
///
/// let mut service = ServiceReport::default();
/// service.workers = Some(4);
/// service.counts.handled = 100;
/// service.counts.rejected = 2;
/// assert_eq!((service.counts.handled, service.counts.rejected), (100, 2));
///
/// let json = serde_json::to_value(&service).unwrap();
/// assert_eq!((json["handled"].as_u64(), json["workers"].as_u64()), (Some(100), Some(4)));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct ServiceReport {
    /// Per replica, in replica order; empty for a service with one replica.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaReport>,
    /// Number of workers handling requests concurrently; `None` for an unlimited service
    /// ([`Capacity::unlimited`](crate::Capacity::unlimited)).
    pub workers: Option<usize>,
    /// Capacity of the queue in front of the workers; `None` = unbounded.
    pub queue_capacity: Option<usize>,
    /// The worker actors it started over the whole run, summed over replicas. Workers start
    /// when a request finds every started one busy, so this is each replica's peak number
    /// of requests in progress at once: what an unlimited service needed.
    pub workers_started: usize,
    /// What the service counted, summed over its replicas.
    #[serde(flatten)]
    pub counts: ServiceCounts,
    /// Busy worker time / available worker time in the measured window; `None` for an
    /// unlimited service, whose load is [`busy_workers`](Self::busy_workers).
    pub utilization: Option<f64>,
    /// The time-average number of requests being handled in the measured window (busy
    /// worker time over the window's length, summed over replicas): `L` of Little's law for
    /// the service's workers, `λ · E[S]` in steady state.
    pub busy_workers: f64,
    /// Arrival at the service to start of handling, ms.
    pub queue_wait_ms: LatencySummary,
    /// Start of handling to response sent (includes downstream calls), ms.
    pub processing_ms: LatencySummary,
    /// Arrival to response sent, ms, of the requests handled without error.
    pub latency_ms: LatencySummary,
    /// Arrival to response sent, ms, of the requests whose handler failed.
    pub failed_latency_ms: LatencySummary,
    /// The handler's failures by cause ([`CallError::cause`](crate::CallError::cause)): its
    /// own (`payment: card declined`), or that of the call it failed on. They add up to
    /// [`counts.failed`](ServiceCounts::failed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors_by_cause: BTreeMap<String, u64>,
}

/// What a service, or one replica of it, counted in the measured window (requests that
/// arrived at or after the warm-up).
///
/// The running replica increments these; a service's are its replicas' summed with
/// [`merge`](Self::merge), and the report shows them as they are ([`ServiceReport::counts`],
/// [`ReplicaReport::counts`]). A count missing from a JSON report reads as zero.
///
/// # Examples
///
/// ```
/// use microsim::report::ServiceCounts;
///
/// let mut replica = ServiceCounts::default();
/// replica.handled = 10;
/// replica.rejected = 1;
/// let mut service = ServiceCounts::default();
/// service.merge(&replica);
/// service.merge(&replica);
/// assert_eq!((service.handled, service.rejected, service.failed), (20, 2, 0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct ServiceCounts {
    /// Requests that entered a worker and finished (ok or error).
    pub handled: u64,
    /// Arrivals refused because the queue was full.
    pub rejected: u64,
    /// Handler returned an error.
    pub failed: u64,
    /// Handler panicked (the worker was restarted).
    pub panics: u64,
    /// Queued copies dropped because a hedging caller took the other copy's answer.
    pub cancelled: u64,
    /// Requests in progress or queued when a crash fault took the replica down.
    pub crashed: u64,
}

impl ServiceCounts {
    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &ServiceCounts) {
        // Named one by one: a count added to the struct but not here does not compile.
        let ServiceCounts {
            handled,
            rejected,
            failed,
            panics,
            cancelled,
            crashed,
        } = *other;
        self.handled += handled;
        self.rejected += rejected;
        self.failed += failed;
        self.panics += panics;
        self.cancelled += cancelled;
        self.crashed += crashed;
    }
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
            timeline: Timeline::default(),
            edges: Vec::new(),
            critical_path: BTreeMap::new(),
            traces: None,
            seed,
            clock,
            simulated_seconds: 0.0,
            measured_seconds: 0.0,
            drained_seconds: 0.0,
            interrupted_at: None,
            overrides: Vec::new(),
            workloads: BTreeMap::new(),
            services: BTreeMap::new(),
            topics: BTreeMap::new(),
            faults: Vec::new(),
            policies: BTreeMap::new(),
            invariants: Vec::new(),
            thresholds: Vec::new(),
            warmup: BTreeMap::new(),
        }
    }

    /// Whether every invariant's check found no violation ([`InvariantReport::holds`]). True
    /// without invariants, so also for an interrupted run, which checks none: see
    /// [`interrupted_at`](Self::interrupted_at).
    ///
    /// # Examples
    ///
    /// ```
    /// use microsim::{ClockKind, InvariantReport, Report};
    ///
    /// let mut report = Report::new(1, ClockKind::Virtual);
    /// assert!(report.invariants_hold());
    /// let mut stock = InvariantReport::new("stock never negative");
    /// stock.record("sku 12: stock -1 after order 40");
    /// report.invariants.push(stock);
    /// assert!(!report.invariants_hold());
    /// ```
    pub fn invariants_hold(&self) -> bool {
        self.invariants.iter().all(InvariantReport::holds)
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

    /// A report with two workloads and two services, for the tests of both the JSON and the
    /// tables.
    pub(super) fn sample() -> Report {
        let mut report = Report::new(7, ClockKind::Virtual);
        report.simulated_seconds = 60.0;
        report.measured_seconds = 55.0;
        report.drained_seconds = 60.0121;
        report.workloads.insert(
            "checkout".to_string(),
            WorkloadReport {
                counts: WorkloadCounts {
                    sent: 48_000,
                    completed: 47_950,
                    failed: 50,
                    rejected: 50,
                    timed_out: 0,
                    crashed: 0,
                    errors: 0,
                },
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
                failed_latency_ms: summary(0.2),
                errors_by_cause: BTreeMap::from([(
                    "payment: rejected (queue full)".to_string(),
                    50,
                )]),
                settled_ms: LatencySummary::default(),
                percentiles: Vec::new(),
                latency_hgrm: String::new(),
            },
        );
        report.workloads.insert(
            "browse".to_string(),
            WorkloadReport {
                counts: WorkloadCounts {
                    sent: 10,
                    completed: 5,
                    failed: 5,
                    rejected: 0,
                    timed_out: 1,
                    crashed: 3,
                    errors: 1,
                },
                throughput_per_s: 0.090_909,
                latency_ms: summary(1.0),
                failed_latency_ms: summary(2.0),
                errors_by_cause: BTreeMap::from([
                    ("browse: timed out".to_string(), 1),
                    ("catalog: handler panicked".to_string(), 3),
                    ("catalog: not found".to_string(), 1),
                ]),
                settled_ms: summary(1.0),
                percentiles: Vec::new(),
                latency_hgrm: String::new(),
            },
        );
        report.services.insert(
            "frontend".to_string(),
            ServiceReport {
                replicas: Vec::new(),
                workers: Some(64),
                queue_capacity: Some(1000),
                workers_started: 64,
                counts: ServiceCounts {
                    handled: 48_000,
                    rejected: 50,
                    failed: 0,
                    panics: 0,
                    cancelled: 0,
                    crashed: 0,
                },
                utilization: Some(0.8),
                busy_workers: 51.2,
                queue_wait_ms: summary(0.01),
                processing_ms: summary(1.234),
                latency_ms: summary(1.5),
                failed_latency_ms: LatencySummary::default(),
                errors_by_cause: BTreeMap::new(),
            },
        );
        report.services.insert(
            "a-service-with-a-very-long-name".to_string(),
            ServiceReport {
                replicas: Vec::new(),
                workers: Some(2),
                queue_capacity: None,
                workers_started: 2,
                counts: ServiceCounts {
                    handled: 12,
                    rejected: 0,
                    failed: 1,
                    panics: 2,
                    cancelled: 0,
                    crashed: 0,
                },
                utilization: Some(0.123_456),
                busy_workers: 0.246_912,
                queue_wait_ms: summary(0.25),
                processing_ms: summary(2.0),
                latency_ms: summary(2.25),
                failed_latency_ms: summary(3.0),
                errors_by_cause: BTreeMap::from([(
                    "a-service-with-a-very-long-name: out of stock".to_string(),
                    1,
                )]),
            },
        );
        report
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
                "timeline",
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
                "errors_by_cause",
                "failed",
                "failed_latency_ms",
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
                "busy_workers",
                "cancelled",
                "crashed",
                "failed",
                "failed_latency_ms",
                "handled",
                "latency_ms",
                "panics",
                "processing_ms",
                "queue_capacity",
                "queue_wait_ms",
                "rejected",
                "utilization",
                "workers",
                "workers_started",
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
    fn service_counts_sit_in_place_in_the_json() {
        let counts = ServiceCounts {
            handled: 1,
            rejected: 2,
            failed: 3,
            panics: 4,
            cancelled: 5,
            crashed: 6,
        };
        let replica = ReplicaReport {
            counts,
            utilization: Some(0.5),
            latency_ms: LatencySummary::default(),
        };
        let mut service = ServiceReport {
            replicas: vec![replica.clone(), replica],
            workers: Some(2),
            queue_capacity: None,
            counts,
            utilization: Some(0.25),
            busy_workers: 1.0,
            ..ServiceReport::default()
        };
        service.counts.merge(&counts);
        let json = serde_json::to_string(&service).unwrap();
        let latency =
            r#"{"count":0,"mean":0.0,"p50":0.0,"p90":0.0,"p99":0.0,"p999":0.0,"max":0.0}"#;
        let replica =
            format!(r#"{{"handled":1,"rejected":2,"utilization":0.5,"latency_ms":{latency}}}"#);
        assert_eq!(
            json,
            format!(
                r#"{{"replicas":[{replica},{replica}],"workers":2,"queue_capacity":null,"workers_started":0,"handled":2,"rejected":4,"failed":6,"panics":8,"cancelled":10,"crashed":12,"utilization":0.25,"busy_workers":1.0,"queue_wait_ms":{latency},"processing_ms":{latency},"latency_ms":{latency},"failed_latency_ms":{latency}}}"#
            )
        );
        // A replica's line has only the counts it shows; the others read back as zero.
        let back: ServiceReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back.counts, service.counts);
        assert_eq!(back.replicas[0].counts.handled, 1);
        assert_eq!(back.replicas[0].counts.rejected, 2);
        assert_eq!(back.replicas[0].counts.failed, 0);
        assert_eq!(back.replicas[0].utilization, Some(0.5));
    }

    #[test]
    fn every_reports_counts_sit_in_place_in_the_json() {
        let latency =
            r#"{"count":0,"mean":0.0,"p50":0.0,"p90":0.0,"p99":0.0,"p999":0.0,"max":0.0}"#;
        let mut report = Report::new(1, ClockKind::Virtual);
        let workload = WorkloadReport {
            counts: WorkloadCounts {
                sent: 1,
                completed: 2,
                failed: 3,
                rejected: 4,
                timed_out: 5,
                crashed: 6,
                errors: 7,
            },
            throughput_per_s: 0.5,
            ..WorkloadReport::default()
        };
        assert_eq!(
            serde_json::to_string(&workload).unwrap(),
            format!(
                r#"{{"sent":1,"completed":2,"failed":3,"rejected":4,"timed_out":5,"crashed":6,"errors":7,"throughput_per_s":0.5,"latency_ms":{latency},"failed_latency_ms":{latency},"settled_ms":{latency}}}"#
            )
        );
        report.workloads.insert("w".to_string(), workload);

        let subscriber = SubscriberReport {
            counts: SubscriberCounts {
                handled: 1,
                dead_lettered: 2,
                lost: 3,
            },
            lag_max: 4,
            lag_mean: 0.5,
            ..SubscriberReport::default()
        };
        let topic = TopicReport {
            delivery: crate::topic::Delivery::AtLeastOnce {
                ack_timeout: std::time::Duration::from_secs(1),
                max_deliveries: 3,
            },
            counts: TopicCounts {
                published: 1,
                rejected: 2,
                delivered: 3,
                redelivered: 4,
                duplicates: 5,
                dead_lettered: 6,
                lost: 7,
            },
            subscribers: BTreeMap::from([("s".to_string(), subscriber)]),
        };
        assert_eq!(
            serde_json::to_string(&topic).unwrap(),
            format!(
                r#"{{"delivery":{{"at_least_once":{{"ack_timeout":"1s","max_deliveries":3}}}},"published":1,"rejected":2,"delivered":3,"redelivered":4,"duplicates":5,"dead_lettered":6,"lost":7,"subscribers":{{"s":{{"handled":1,"dead_lettered":2,"lost":3,"latency_ms":{latency},"lag_max":4,"lag_mean":0.5}}}}}}"#
            )
        );
        report.topics.insert("t".to_string(), topic);

        let policy = crate::policy::PolicyReport {
            counts: crate::policy::PolicyCounts {
                calls: 1,
                succeeded: 2,
                failed: 3,
                attempts: 4,
                retries: 5,
                retries_denied: 6,
                timeouts: 7,
                hedges_sent: 8,
                hedges_won: 9,
                breaker_rejected: 10,
                bulkhead_rejected: 11,
                rate_limited: 12,
            },
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&policy).unwrap(),
            format!(
                r#"{{"calls":1,"succeeded":2,"failed":3,"attempts":4,"retries":5,"retries_denied":6,"timeouts":7,"hedges_sent":8,"hedges_won":9,"breaker_rejected":10,"bulkhead_rejected":11,"rate_limited":12,"latency_ms":{latency}}}"#
            )
        );
        report.policies.insert("a -> b".to_string(), policy);

        for end_seconds in [None, Some(2.5)] {
            let fault = crate::fault::FaultReport {
                fault: "crash api".to_string(),
                start_seconds: 1.0,
                end_seconds,
                counts: crate::fault::FaultCounts {
                    failed_calls: 1,
                    lost_messages: 2,
                    crashed_requests: 3,
                },
            };
            let end = end_seconds.map_or("null".to_string(), |end| end.to_string());
            assert_eq!(
                serde_json::to_string(&fault).unwrap(),
                format!(
                    r#"{{"fault":"crash api","start_seconds":1.0,"end_seconds":{end},"failed_calls":1,"lost_messages":2,"crashed_requests":3}}"#
                )
            );
            report.faults.push(fault);
        }

        let mut invariant = crate::InvariantReport::new("no double charge");
        invariant.record("order 3: charged twice");
        report.invariants.push(invariant);
        assert_eq!(
            serde_json::to_string(&report.invariants).unwrap(),
            r#"[{"name":"no double charge","violations":1,"examples":["order 3: charged twice"]}]"#
        );

        // Read back through serde's flattening, every figure is where it was.
        assert_eq!(Report::from_json(&report.to_json()).unwrap(), report);
    }

    #[test]
    fn clock_kind_serialises_in_snake_case() {
        assert_eq!(serde_json::to_string(&ClockKind::Real).unwrap(), "\"real\"");
        assert_eq!(
            serde_json::from_str::<ClockKind>("\"virtual\"").unwrap(),
            ClockKind::Virtual
        );
    }
}
