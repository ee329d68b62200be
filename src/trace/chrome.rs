//! Chrome's trace-event JSON, as Perfetto and `chrome://tracing` read it.
//!
//! A process per service (`client` first, then by name), a thread per track: one per worker
//! for processing, and as many lanes as needed for queue waits, calls and deliveries, so
//! that the complete (`X`) events of every track nest properly -- on each track, two events
//! are either disjoint or one holds the other. Flow events (`s`/`f`) draw an arrow from each
//! call, send and publish to the work it caused. Times are simulated microseconds.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Span, SpanKind, Traces};

/// Which tracks of a process a span may go on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    /// The one track of worker `w` of replica `r`.
    Worker(usize, usize),
    Requests,
    Queue,
    Calls,
    Deliveries,
}

impl Group {
    fn of(span: &Span) -> Self {
        match span.kind {
            SpanKind::Processing => {
                Group::Worker(span.replica.unwrap_or(0), span.worker.unwrap_or(0))
            }
            SpanKind::Queue => Group::Queue,
            SpanKind::Delivery => Group::Deliveries,
            _ if span.service == crate::CLIENT => Group::Requests,
            _ => Group::Calls,
        }
    }

    fn label(&self, lane: usize, replicas: bool) -> String {
        match self {
            Group::Worker(replica, worker) if replicas => {
                format!("replica {replica} worker {worker}")
            }
            Group::Worker(_, worker) => format!("worker {worker}"),
            Group::Requests => format!("requests {}", lane + 1),
            Group::Queue => format!("queue {}", lane + 1),
            Group::Calls => format!("calls {}", lane + 1),
            Group::Deliveries => format!("deliveries {}", lane + 1),
        }
    }
}

/// Lanes of one group: each a stack of the ends of the events open on it.
#[derive(Default)]
struct Lanes(Vec<Vec<u64>>);

impl Lanes {
    /// The lane `[start, end]` fits on, nested or after; spans must come by start, then
    /// longest first.
    fn place(&mut self, start: u64, end: u64) -> usize {
        for (index, stack) in self.0.iter_mut().enumerate() {
            while stack.last().is_some_and(|&open| open <= start) {
                stack.pop();
            }
            if stack.last().is_none_or(|&open| open >= end) {
                stack.push(end);
                return index;
            }
        }
        self.0.push(vec![end]);
        self.0.len() - 1
    }
}

fn micros(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

pub(super) fn to_json(traces: &Traces) -> String {
    let mut spans: Vec<&Span> = traces.traces.iter().flat_map(|t| &t.spans).collect();
    spans.sort_by(|a, b| {
        (a.start_ns, std::cmp::Reverse(a.end_ns), a.id).cmp(&(
            b.start_ns,
            std::cmp::Reverse(b.end_ns),
            b.id,
        ))
    });
    let trace_of: BTreeMap<u64, u64> = traces
        .traces
        .iter()
        .flat_map(|t| t.spans.iter().map(move |s| (s.id, t.trace_id)))
        .collect();
    // Processes: the client first, then by name.
    let mut names: Vec<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    names.sort_by_key(|name| (*name != crate::CLIENT, *name));
    names.dedup();
    let pid: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i + 1)).collect();
    let replicated: BTreeMap<&str, bool> = names
        .iter()
        .map(|name| {
            let many = spans
                .iter()
                .any(|s| s.service == *name && s.replica.is_some_and(|r| r > 0));
            (*name, many)
        })
        .collect();
    let mut lanes: BTreeMap<(&str, Group), Lanes> = BTreeMap::new();
    let mut placed: Vec<(&Span, usize, Group, usize)> = Vec::with_capacity(spans.len());
    for span in &spans {
        let group = Group::of(span);
        let lane = lanes
            .entry((span.service.as_str(), group.clone()))
            .or_default()
            .place(span.start_ns, span.end_ns);
        placed.push((span, pid[span.service.as_str()], group, lane));
    }
    // Threads: per process, workers first, then the lanes of each group in order.
    let mut tid: BTreeMap<(usize, Group, usize), usize> = BTreeMap::new();
    let mut events: Vec<Value> = Vec::new();
    for (name, &process) in &pid {
        events.push(
            json!({"ph": "M", "name": "process_name", "pid": process, "tid": 0,
            "args": {"name": name}}),
        );
        events.push(
            json!({"ph": "M", "name": "process_sort_index", "pid": process, "tid": 0,
            "args": {"sort_index": process}}),
        );
        let mut next = 1;
        for ((service, group), group_lanes) in &lanes {
            if service != name {
                continue;
            }
            for lane in 0..group_lanes.0.len() {
                tid.insert((process, group.clone(), lane), next);
                events.push(json!({"ph": "M", "name": "thread_name", "pid": process,
                    "tid": next, "args": {"name": group.label(lane, replicated[name])}}));
                events.push(
                    json!({"ph": "M", "name": "thread_sort_index", "pid": process,
                    "tid": next, "args": {"sort_index": next}}),
                );
                next += 1;
            }
        }
    }
    let mut track: BTreeMap<u64, (usize, usize, u64)> = BTreeMap::new();
    for (span, process, group, lane) in &placed {
        let thread = tid[&(*process, group.clone(), *lane)];
        track.insert(span.id, (*process, thread, span.start_ns));
        let mut args = serde_json::Map::new();
        args.insert("trace".into(), json!(trace_of.get(&span.id)));
        args.insert("span".into(), json!(span.id));
        if let Some(parent) = span.parent {
            args.insert("parent".into(), json!(parent));
        }
        if let Some(error) = &span.error {
            args.insert("error".into(), json!(error));
        }
        events.push(json!({
            "name": span.name(),
            "cat": span.kind.as_str(),
            "ph": "X",
            "ts": micros(span.start_ns),
            "dur": micros(span.duration_ns()),
            "pid": process,
            "tid": thread,
            "args": Value::Object(args),
        }));
    }
    // Arrows: from a call, send or delivery to its processing, from a publish to its
    // deliveries.
    for span in &spans {
        let source = match span.kind {
            SpanKind::Processing => Some(span.id - 3),
            SpanKind::Delivery => span.follows,
            _ => None,
        };
        let (Some(source), Some(&(to_pid, to_tid, to_ts))) = (source, track.get(&span.id)) else {
            continue;
        };
        let Some(&(from_pid, from_tid, from_ts)) = track.get(&source) else {
            continue;
        };
        let name = if span.kind == SpanKind::Delivery {
            "event"
        } else {
            "request"
        };
        events.push(
            json!({"ph": "s", "id": span.id, "name": name, "cat": "flow",
            "pid": from_pid, "tid": from_tid, "ts": micros(from_ts)}),
        );
        events.push(
            json!({"ph": "f", "bp": "e", "id": span.id, "name": name, "cat": "flow",
            "pid": to_pid, "tid": to_tid, "ts": micros(to_ts)}),
        );
    }
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"clock": "simulated", "source": "microsim"},
    })
    .to_string()
}
