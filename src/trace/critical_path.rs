//! The critical path: where a request's time went, as the chain of spans it waited on.
//!
//! Walking back from the end of the root span, the path follows the child the span waited
//! on last (the one that ended last before the point reached), then the one before, and
//! counts the gaps between them as the span's own time. Each nanosecond of the request is
//! counted once, so the path adds up to the request's latency exactly. One-way sends and
//! event deliveries are not waited on, so the path does not enter them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Span, SpanKind, Trace};

/// What a stretch of the critical path was spent on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SegmentKind {
    /// A message crossing a link (`where` is `from -> to`).
    Link,
    /// Waiting in a service's queue.
    Queue,
    /// A service's handler working (its own time, not its downstream calls').
    Processing,
    /// A caller waiting with no answer on the way: a lost message, a timeout, a request
    /// dropped by a crash (`where` is the callee).
    Waiting,
    /// A topic's broker confirming a publish (`where` is the topic).
    Broker,
    /// The client before and between attempts: retry backoff, a rate limit's wait.
    Client,
}

impl SegmentKind {
    /// The kind's name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Link => "link",
            SegmentKind::Queue => "queue",
            SegmentKind::Processing => "processing",
            SegmentKind::Waiting => "waiting",
            SegmentKind::Broker => "broker",
            SegmentKind::Client => "client",
        }
    }
}

/// One stretch of a critical path, or the mean of several.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PathSegment {
    /// What the time was spent on.
    pub kind: SegmentKind,
    /// Where: a service, a topic, or `from -> to` for a link.
    #[serde(rename = "where")]
    pub place: String,
    /// Mean time per request, ms.
    pub mean_ms: f64,
    /// Share of the requests' total time, from 0 to 1.
    pub share: f64,
}

/// Where the time of a workload's slowest requests went: the mean of their critical paths.
///
/// ```
/// use microsim::trace::{CriticalPath, SegmentKind};
///
/// let path = CriticalPath::default();
/// assert_eq!(path.total_ms(), 0.0);
/// assert!(path.segments.iter().all(|s| s.kind != SegmentKind::Link));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CriticalPath {
    /// How many requests it is the mean of: the slowest kept, or, when tracing keeps no
    /// slowest ones (`keep_slowest = 0`), every kept one.
    pub requests: usize,
    /// Whether those are the slowest kept (else every kept one).
    #[serde(default = "yes")]
    pub slowest: bool,
    /// Their mean latency, ms.
    pub mean_latency_ms: f64,
    /// The stretches, the largest first.
    pub segments: Vec<PathSegment>,
}

fn yes() -> bool {
    true
}

impl CriticalPath {
    /// What it is the mean of, for a title: `3 slowest traced` or `4 traced`.
    pub fn of_what(&self) -> String {
        if self.slowest {
            format!("{} slowest traced", self.requests)
        } else {
            format!("{} traced", self.requests)
        }
    }

    /// The sum of the segments' means, ms: the mean latency, up to rounding.
    pub fn total_ms(&self) -> f64 {
        self.segments.iter().map(|segment| segment.mean_ms).sum()
    }

    /// The mean critical path of `traces` (empty for none).
    pub fn of<'a>(traces: impl IntoIterator<Item = &'a Trace>) -> Self {
        let mut totals: BTreeMap<(SegmentKind, String), u64> = BTreeMap::new();
        let mut requests = 0;
        let mut latency: u128 = 0;
        for trace in traces {
            requests += 1;
            latency += u128::from(trace.latency_ns);
            for (kind, place, ns) in trace.critical_path() {
                *totals.entry((kind, place)).or_default() += ns;
            }
        }
        if requests == 0 {
            return CriticalPath::default();
        }
        let all: u128 = totals.values().map(|&ns| u128::from(ns)).sum();
        let mut segments: Vec<PathSegment> = totals
            .into_iter()
            .map(|((kind, place), ns)| PathSegment {
                kind,
                place,
                mean_ms: ns as f64 / requests as f64 / 1e6,
                share: if all > 0 { ns as f64 / all as f64 } else { 0.0 },
            })
            .collect();
        segments.sort_by(|a, b| {
            b.mean_ms
                .total_cmp(&a.mean_ms)
                .then_with(|| (a.kind, &a.place).cmp(&(b.kind, &b.place)))
        });
        CriticalPath {
            requests,
            slowest: true,
            mean_latency_ms: latency as f64 / requests as f64 / 1e6,
            segments,
        }
    }
}

impl Trace {
    /// This request's critical path: `(kind, where, nanoseconds)` stretches, in order from
    /// the start, that add up to the root span's length exactly (see the
    /// [module](crate::trace)).
    pub fn critical_path(&self) -> Vec<(SegmentKind, String, u64)> {
        let mut children: BTreeMap<u64, Vec<&Span>> = BTreeMap::new();
        for span in &self.spans {
            if let Some(parent) = span.parent
                && !matches!(span.kind, SpanKind::Send | SpanKind::Delivery)
            {
                children.entry(parent).or_default().push(span);
            }
        }
        for list in children.values_mut() {
            // Latest end first; ties by id, for a deterministic path.
            list.sort_by(|a, b| b.end_ns.cmp(&a.end_ns).then(a.id.cmp(&b.id)));
        }
        let mut path = Vec::new();
        if let Some(root) = self.root() {
            walk(root, root.start_ns, root.end_ns, &children, &mut path);
        }
        path.reverse();
        // Merge neighbours of the same place and drop empty stretches.
        let mut merged: Vec<(SegmentKind, String, u64)> = Vec::new();
        for (kind, place, ns) in path {
            if ns == 0 {
                continue;
            }
            match merged.last_mut() {
                Some(last) if last.0 == kind && last.1 == place => last.2 += ns,
                _ => merged.push((kind, place, ns)),
            }
        }
        merged
    }
}

/// What `span`'s own time counts as.
fn own(span: &Span) -> (SegmentKind, String) {
    let peer = || span.peer.clone().unwrap_or_default();
    match span.kind {
        SpanKind::Link => (SegmentKind::Link, format!("{} -> {}", span.service, peer())),
        SpanKind::Queue => (SegmentKind::Queue, span.service.clone()),
        SpanKind::Processing | SpanKind::Delivery => {
            (SegmentKind::Processing, span.service.clone())
        }
        SpanKind::Call | SpanKind::Send => (SegmentKind::Waiting, peer()),
        SpanKind::Publish => (SegmentKind::Broker, peer()),
        SpanKind::Request => (SegmentKind::Client, span.service.clone()),
    }
}

/// Appends, latest first, the stretches of `span` within `[from, end]`.
fn walk(
    span: &Span,
    from: u64,
    end: u64,
    children: &BTreeMap<u64, Vec<&Span>>,
    path: &mut Vec<(SegmentKind, String, u64)>,
) {
    let start = span.start_ns.max(from);
    let mut cursor = end.min(span.end_ns).max(start);
    let (kind, place) = own(span);
    for child in children
        .get(&span.id)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if cursor <= start {
            break;
        }
        let child_start = child.start_ns.max(start);
        if child_start >= cursor {
            continue;
        }
        let child_end = child.end_ns.min(cursor);
        path.push((kind, place.clone(), cursor - child_end));
        walk(child, child_start, child_end, children, path);
        cursor = child_start;
    }
    path.push((kind, place, cursor - start));
}
