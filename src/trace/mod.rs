//! Traces: where each request's time went, hop by hop.
//!
//! With tracing on ([`SimulationBuilder::tracing`](crate::SimulationBuilder::tracing)), every
//! workload request carries a trace through every hop it causes, and the run records a
//! [`Span`] for each piece of it:
//!
//! | span | from | to |
//! |---|---|---|
//! | [`SpanKind::Request`] | the workload's intended send time | the response (or failure) |
//! | [`SpanKind::Call`] | one attempt sent (a retry or hedged copy is a call of its own) | its answer, timeout or cancellation |
//! | [`SpanKind::Link`] | a message leaves | it arrives (the simulated network) |
//! | [`SpanKind::Queue`] | the request arrives at a replica | a worker takes it |
//! | [`SpanKind::Processing`] | a worker takes it | the handler returns |
//! | [`SpanKind::Send`] | a one-way message leaves | it arrives |
//! | [`SpanKind::Publish`] | an event is published | the broker's confirmation is back |
//! | [`SpanKind::Delivery`] | the broker starts delivering to a subscriber | the handler's outcome reaches it |
//!
//! A span's parent is the span that caused it: a call's is the processing span of the
//! handler that made it, a queue wait's and a processing span's are the call (or send, or
//! delivery) that brought the request, a delivery's is the publish, which it also links to
//! (an OpenTelemetry *link*: the event follows from the request that published it). Simulated
//! time is exact, so a call's link out, queue wait, processing and link back add up to the
//! call to the nanosecond, and the [critical path](CriticalPath) of a request adds up to its
//! latency.
//!
//! # Which traces are kept
//!
//! A run may make millions of requests; it keeps a bounded set of their traces, chosen when
//! each request ends (tail sampling):
//!
//! * a uniform sample of [`rate`](Tracing::rate) of all requests, at most
//!   [`max_sampled`](Tracing::max_sampled) of them (the ones whose hash of seed and trace id
//!   is smallest, so the sample is uniform and the same on every run);
//! * per workload, the [`keep_slowest`](Tracing::keep_slowest) slowest requests;
//! * per workload, the first [`keep_failed`](Tracing::keep_failed) failed requests.
//!
//! Each trace holds at most [`max_spans_per_trace`](Tracing::max_spans_per_trace) spans.
//! Spans of requests still in flight are held until they end, so memory is bounded by the
//! kept traces plus the requests in flight, whatever the run's length.
//!
//! # Exports
//!
//! [`Traces::to_chrome_json`] writes Chrome's trace-event format, which
//! [Perfetto](https://ui.perfetto.dev) and `chrome://tracing` open: a process per service, a
//! track per worker, flow arrows for calls and events. [`Traces::to_otlp_json`] writes the
//! same spans as OpenTelemetry's OTLP/JSON (`resourceSpans`).
//!
//! ```
//! use std::time::Duration;
//! use microsim::trace::Tracing;
//! use microsim::{Capacity, Distribution, Script, Simulation, Workload};
//!
//! let ms = |ms| Distribution::constant(Duration::from_millis(ms));
//! let mut sim = Simulation::builder()
//!     .duration(Duration::from_secs(1))
//!     .default_latency(ms(1))
//!     .tracing(Tracing::default().rate(1.0))
//!     .build()?;
//! let db = sim.add_service("db", Script::new().work(ms(3)), Capacity::workers(4))?;
//! let api = sim.add_service("api", Script::new().work(ms(2)).call(&db), Capacity::workers(4))?;
//! sim.add_workload("load", &api, Workload::constant_rate(10.0), |_| ())?;
//! let report = sim.run()?;
//! let traces = report.traces.as_ref().expect("tracing is on");
//! let trace = &traces.traces[0];
//! // 1 ms to api, 2 ms of work, 1 ms to db, 3 ms of work, and 1 ms back twice: 9 ms.
//! assert_eq!(trace.latency_ns, 9_000_000);
//! let path = &report.critical_path["load"];
//! assert_eq!(path.total_ms(), 9.0);
//! assert!(traces.to_chrome_json().contains("\"traceEvents\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chrome;
pub(crate) mod collector;
mod critical_path;
mod otlp;

use serde::{Deserialize, Serialize};

use crate::error::{BuildError, FieldError, FieldPath};
use crate::rules;

pub use critical_path::{CriticalPath, PathSegment, SegmentKind};

/// Which traces a run keeps (see the [module](self)). Validated when the simulation is
/// built.
///
/// ```
/// use microsim::trace::Tracing;
///
/// let tracing = Tracing::default().rate(0.05).max_sampled(500).keep_slowest(20);
/// assert_eq!(tracing.sampling_rate(), 0.05);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Tracing {
    rate: f64,
    max_sampled: usize,
    keep_slowest: usize,
    keep_failed: usize,
    max_spans_per_trace: usize,
}

impl Default for Tracing {
    /// A sample of 1% of requests (at most 100), the 10 slowest and the first 10 failed
    /// per workload, at most 10,000 spans per trace.
    fn default() -> Self {
        Tracing {
            rate: 0.01,
            max_sampled: 100,
            keep_slowest: 10,
            keep_failed: 10,
            max_spans_per_trace: 10_000,
        }
    }
}

impl Tracing {
    /// The most traces of any one kind a run may keep: 100,000.
    pub const MAX_KEPT: usize = 100_000;

    /// The share of requests sampled uniformly, in `[0, 1]`. Default 0.01.
    #[must_use]
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }

    /// The most sampled traces kept. Default 100.
    #[must_use]
    pub fn max_sampled(mut self, traces: usize) -> Self {
        self.max_sampled = traces;
        self
    }

    /// How many of the slowest requests of each workload are kept. Default 10.
    #[must_use]
    pub fn keep_slowest(mut self, traces: usize) -> Self {
        self.keep_slowest = traces;
        self
    }

    /// How many failed requests of each workload are kept (the first ones). Default 10.
    #[must_use]
    pub fn keep_failed(mut self, traces: usize) -> Self {
        self.keep_failed = traces;
        self
    }

    /// The most spans one trace holds; later ones are counted, not kept. Default 10,000.
    #[must_use]
    pub fn max_spans_per_trace(mut self, spans: usize) -> Self {
        self.max_spans_per_trace = spans;
        self
    }

    /// The sampling rate set.
    pub fn sampling_rate(&self) -> f64 {
        self.rate
    }

    /// The settings' rules, each naming its key as a scenario file would.
    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        let setting = |error: FieldError| BuildError::InvalidSetting {
            field: FieldPath::key("tracing").join(&error.field),
            reason: format!("tracing.{}", error.reason),
        };
        rules::share(
            "rate",
            self.rate,
            false,
            " (0.01 = one request in a hundred)",
        )
        .map_err(setting)?;
        let why = "traces are held in memory";
        for (key, value) in [
            ("max_sampled", self.max_sampled),
            ("keep_slowest", self.keep_slowest),
            ("keep_failed", self.keep_failed),
        ] {
            rules::at_most(key, value, Self::MAX_KEPT, why).map_err(setting)?;
        }
        rules::at_least("max_spans_per_trace", self.max_spans_per_trace, 1).map_err(setting)?;
        rules::at_most(
            "max_spans_per_trace",
            self.max_spans_per_trace,
            1_000_000,
            why,
        )
        .map_err(setting)
    }

    /// The most spans a run keeps once its requests have ended, for `workloads` workloads.
    pub fn retained_span_bound(&self, workloads: usize) -> usize {
        (self.max_sampled + (self.keep_slowest + self.keep_failed) * workloads)
            .saturating_mul(self.max_spans_per_trace)
    }
}

/// What a span stands for (see the [module](self)'s table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SpanKind {
    /// A workload request, from its intended send time to its end: the trace's root.
    Request,
    /// One attempt of a call, as the caller sees it.
    Call,
    /// A message crossing a link.
    Link,
    /// A request waiting in a replica's queue.
    Queue,
    /// A worker handling a request.
    Processing,
    /// A one-way message on its way.
    Send,
    /// A publish, until the broker's confirmation is back.
    Publish,
    /// An event's delivery to one subscriber, until its outcome reaches the broker.
    Delivery,
}

impl SpanKind {
    /// The kind's name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Request => "request",
            SpanKind::Call => "call",
            SpanKind::Link => "link",
            SpanKind::Queue => "queue",
            SpanKind::Processing => "processing",
            SpanKind::Send => "send",
            SpanKind::Publish => "publish",
            SpanKind::Delivery => "delivery",
        }
    }
}

/// One span of a trace. Times are simulated nanoseconds since the start of the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Span {
    /// Unique within the run (never 0).
    pub id: u64,
    /// The span that caused this one; `None` for the trace's root.
    pub parent: Option<u64>,
    /// What it stands for.
    pub kind: SpanKind,
    /// Where it happens: the service (or `client`, or the topic) whose time it is. A call,
    /// send, publish or link happens at the caller.
    pub service: String,
    /// The other end, for a call, link, send, publish or delivery.
    pub peer: Option<String>,
    /// The replica, for queue waits and processing.
    pub replica: Option<usize>,
    /// The worker of the replica, for processing.
    pub worker: Option<usize>,
    /// Start, simulated ns.
    pub start_ns: u64,
    /// End, simulated ns.
    pub end_ns: u64,
    /// The failure, if it failed (`timed out`, `cancelled`, a handler's error, ...).
    pub error: Option<String>,
    /// A span this one follows from (a delivery's publish).
    pub follows: Option<u64>,
}

impl Span {
    /// The span's length, ns.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// A short name: `call payment`, `processing payment`, `link checkout -> payment`, ...
    pub fn name(&self) -> String {
        match (self.kind, &self.peer) {
            (SpanKind::Link, Some(peer)) => format!("link {} -> {peer}", self.service),
            (SpanKind::Call | SpanKind::Send | SpanKind::Publish, Some(peer)) => {
                format!("{} {peer}", self.kind.as_str())
            }
            (SpanKind::Delivery, Some(peer)) => format!("deliver {} to {peer}", self.service),
            (kind, _) => format!("{} {}", kind.as_str(), self.service),
        }
    }
}

/// One kept trace: a workload request and every span it caused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Trace {
    /// The trace id: the workload request's id.
    pub trace_id: u64,
    /// The workload that sent it.
    pub workload: String,
    /// Why it was kept: `sampled`, `slowest`, `failed`.
    pub kept_as: Vec<String>,
    /// Its latency, intended send time to end, ns.
    pub latency_ns: u64,
    /// Its failure, if it failed.
    pub error: Option<String>,
    /// Spans past [`Tracing::max_spans_per_trace`], counted and not kept.
    pub spans_dropped: u64,
    /// Its spans, by start time (the root first).
    pub spans: Vec<Span>,
}

impl Trace {
    /// The root span (the workload request).
    pub fn root(&self) -> Option<&Span> {
        self.spans.iter().find(|span| span.parent.is_none())
    }
}

/// The traces a run kept, with the counts that say how they were chosen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Traces {
    /// Workload requests that ended with tracing on.
    pub requests: u64,
    /// Spans recorded, kept or not.
    pub spans_recorded: u64,
    /// The kept traces, by trace id.
    pub traces: Vec<Trace>,
}

impl Traces {
    /// Spans held by the kept traces.
    pub fn retained_spans(&self) -> usize {
        self.traces.iter().map(|trace| trace.spans.len()).sum()
    }

    /// Per workload, the mean critical path of its slowest kept requests (of all its kept
    /// ones if none was kept as slowest).
    pub fn critical_paths(&self) -> std::collections::BTreeMap<String, CriticalPath> {
        let mut workloads: Vec<&str> = self.traces.iter().map(|t| t.workload.as_str()).collect();
        workloads.sort_unstable();
        workloads.dedup();
        workloads
            .into_iter()
            .map(|workload| {
                let of = || self.traces.iter().filter(move |t| t.workload == workload);
                let slowest: Vec<&Trace> = of()
                    .filter(|t| t.kept_as.iter().any(|reason| reason == "slowest"))
                    .collect();
                let path = if slowest.is_empty() {
                    CriticalPath {
                        slowest: false,
                        ..CriticalPath::of(of())
                    }
                } else {
                    CriticalPath::of(slowest)
                };
                (workload.to_string(), path)
            })
            .collect()
    }

    /// The traces as Chrome trace-event JSON, for Perfetto (<https://ui.perfetto.dev>) and
    /// `chrome://tracing`: a process per service (and one for the clients and one per
    /// topic), a track per worker, lanes for queue waits and calls, complete events in
    /// simulated microseconds, flow arrows from each call, send and publish to the work it
    /// caused.
    pub fn to_chrome_json(&self) -> String {
        chrome::to_json(self)
    }

    /// The traces as OpenTelemetry OTLP/JSON: one `resourceSpans` entry per service
    /// (`service.name`), spans with hex trace and span ids, parents, kinds, statuses and
    /// links from events to their publish. Timestamps are simulated nanoseconds since the
    /// start of the run (so, near the Unix epoch).
    pub fn to_otlp_json(&self) -> String {
        otlp::to_json(self)
    }
}
