//! The running side of tracing: span ids, the spans of requests in flight, and the choice of
//! which traces to keep when each request ends (see the [module](super)).
//!
//! # Span ids
//!
//! Every message already has a unique [`RequestId`](crate::RequestId) and knows its parent
//! request, so span ids are derived from request ids and need no table: request `r`'s spans
//! are `8r` (the caller's side: call, send, publish or delivery), `8r + 1` (its link out),
//! `8r + 2` (queue), `8r + 3` (processing), `8r + 4` (link back), `8r + 6` (the mark of its
//! loss on a link), and a workload request's root span is `8t + 5` for trace `t`. A call made while handling request `p` has the parent
//! `8p + 3`, the processing span of `p`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use rustc_hash::FxHashMap;

use super::{Span, SpanKind, Trace, Traces, Tracing};
use crate::message::RequestMeta;
use crate::node::NodeId;

/// The caller's side of request `id`.
pub(crate) fn client_span(id: u64) -> u64 {
    id.wrapping_mul(8)
}

/// Request `id`'s link out.
pub(crate) fn link_out_span(id: u64) -> u64 {
    client_span(id) + 1
}

/// Request `id`'s queue wait.
pub(crate) fn queue_span(id: u64) -> u64 {
    client_span(id) + 2
}

/// Request `id`'s processing.
pub(crate) fn processing_span(id: u64) -> u64 {
    client_span(id) + 3
}

/// Request `id`'s link back.
pub(crate) fn link_back_span(id: u64) -> u64 {
    client_span(id) + 4
}

/// The mark of request `id`'s loss on its way out.
pub(crate) fn lost_span(id: u64) -> u64 {
    client_span(id) + 6
}

/// Trace `trace`'s root.
pub(crate) fn root_span(trace: u64) -> u64 {
    client_span(trace) + 5
}

/// The parent of the caller's side of a request sent with `meta`: the processing of the
/// request whose handler sent it, or the root.
pub(crate) fn caller_parent(meta: &RequestMeta) -> u64 {
    match meta.trace.parent {
        Some(parent) => processing_span(parent.0),
        None => root_span(meta.trace.trace_id),
    }
}

/// A span as the run records it: nodes by number, error as text.
#[derive(Clone, Debug)]
pub(crate) struct RawSpan {
    pub(crate) trace: u64,
    pub(crate) id: u64,
    pub(crate) parent: u64,
    pub(crate) kind: SpanKind,
    pub(crate) node: NodeId,
    pub(crate) peer: Option<NodeId>,
    pub(crate) replica: u32,
    pub(crate) worker: u32,
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) error: Option<Box<str>>,
    pub(crate) follows: u64,
}

impl RawSpan {
    /// A span of `kind` at `node` in `trace`, with no peer, replica, worker, error or link.
    pub(crate) fn new(
        trace: u64,
        id: u64,
        parent: u64,
        kind: SpanKind,
        node: NodeId,
        start: u64,
        end: u64,
    ) -> Self {
        RawSpan {
            trace,
            id,
            parent,
            kind,
            node,
            peer: None,
            replica: u32::MAX,
            worker: u32::MAX,
            start,
            end,
            error: None,
            follows: 0,
        }
    }

    pub(crate) fn peer(mut self, peer: NodeId) -> Self {
        self.peer = Some(peer);
        self
    }

    pub(crate) fn at_worker(mut self, replica: usize, worker: Option<usize>) -> Self {
        self.replica = u32::try_from(replica).unwrap_or(u32::MAX);
        self.worker = worker.map_or(u32::MAX, |w| u32::try_from(w).unwrap_or(u32::MAX));
        self
    }

    pub(crate) fn error(mut self, error: Option<String>) -> Self {
        self.error = error.map(String::into_boxed_str);
        self
    }

    pub(crate) fn follows(mut self, span: u64) -> Self {
        self.follows = span;
        self
    }
}

/// Why a trace is kept, as bits.
const SAMPLED: u8 = 1;
const SLOWEST: u8 = 2;
const FAILED: u8 = 4;

/// A trace being recorded or kept.
#[derive(Debug, Default)]
struct Buffer {
    spans: Vec<RawSpan>,
    dropped: u64,
}

#[derive(Debug)]
struct Kept {
    buffer: Buffer,
    reasons: u8,
    workload: u32,
    latency: u64,
    error: Option<Box<str>>,
}

#[derive(Debug, Default)]
struct State {
    /// Traces whose request has not ended yet.
    open: FxHashMap<u64, Buffer>,
    kept: FxHashMap<u64, Kept>,
    /// The sampled traces: (hash, trace), the `max_sampled` smallest hashes.
    sampled: BTreeSet<(u64, u64)>,
    /// Per workload, the slowest: (latency, trace).
    slowest: Vec<BTreeSet<(u64, std::cmp::Reverse<u64>)>>,
    /// Per workload, failed traces kept so far.
    failed: Vec<usize>,
    requests: u64,
    recorded: u64,
}

/// Records the spans of a run and keeps some of its traces.
#[derive(Debug)]
pub(crate) struct Tracer {
    config: Tracing,
    seed: u64,
    /// Workload names, by index.
    workloads: Mutex<Vec<String>>,
    state: Mutex<State>,
}

impl Tracer {
    pub(crate) fn new(config: Tracing, seed: u64) -> Self {
        Tracer {
            config,
            seed,
            workloads: Mutex::default(),
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers workload `name`; returns its index.
    pub(crate) fn workload(&self, name: &str) -> u32 {
        let mut workloads = self
            .workloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        workloads.push(name.to_string());
        let mut state = self.state();
        state.slowest.push(BTreeSet::new());
        state.failed.push(0);
        u32::try_from(workloads.len() - 1).unwrap_or(u32::MAX)
    }

    /// A workload request of trace `trace` is about to be sent.
    pub(crate) fn begin(&self, trace: u64) {
        self.state().open.insert(trace, Buffer::default());
    }

    /// Records `span`: into its trace if the trace is open or kept; else it is dropped.
    pub(crate) fn record(&self, span: RawSpan) {
        let cap = self.config.max_spans_per_trace;
        let mut state = self.state();
        state.recorded += 1;
        let trace = span.trace;
        let buffer = match state.open.get_mut(&trace) {
            Some(buffer) => buffer,
            None => match state.kept.get_mut(&trace) {
                Some(kept) => &mut kept.buffer,
                None => return,
            },
        };
        if buffer.spans.len() < cap {
            buffer.spans.push(span);
        } else {
            buffer.dropped += 1;
        }
    }

    /// The workload request of `workload` has ended with `root`, its root span (with its
    /// error if it failed): keep its trace or drop it.
    pub(crate) fn finish(&self, workload: u32, root: RawSpan) {
        let trace = root.trace;
        let error = root.error.clone();
        let latency = root.end.saturating_sub(root.start);
        let mut state = self.state();
        state.requests += 1;
        let Some(mut buffer) = state.open.remove(&trace) else {
            return;
        };
        let index = workload as usize;
        let mut reasons = 0;
        let mut evicted = Vec::new();
        // A uniform sample: the smallest hashes under the rate.
        let hash = splitmix(self.seed ^ splitmix(trace));
        let under_rate =
            self.config.rate >= 1.0 || (hash as f64) < self.config.rate * 2f64.powi(64);
        if under_rate && self.config.max_sampled > 0 {
            state.sampled.insert((hash, trace));
            reasons |= SAMPLED;
            if state.sampled.len() > self.config.max_sampled {
                let last = *state.sampled.iter().next_back().expect("not empty");
                state.sampled.remove(&last);
                evicted.push((last.1, SAMPLED));
            }
        }
        if self.config.keep_slowest > 0 {
            let slowest = &mut state.slowest[index];
            slowest.insert((latency, std::cmp::Reverse(trace)));
            reasons |= SLOWEST;
            if slowest.len() > self.config.keep_slowest {
                let first = *slowest.iter().next().expect("not empty");
                slowest.remove(&first);
                evicted.push((first.1.0, SLOWEST));
            }
        }
        if error.is_some() && state.failed[index] < self.config.keep_failed {
            state.failed[index] += 1;
            reasons |= FAILED;
        }
        // This trace's own evictions first: it may not be kept at all.
        for (evicted, reason) in evicted {
            if evicted == trace {
                reasons &= !reason;
            } else if let Some(kept) = state.kept.get_mut(&evicted) {
                kept.reasons &= !reason;
                if kept.reasons == 0 {
                    state.kept.remove(&evicted);
                }
            }
        }
        if reasons == 0 {
            return;
        }
        if buffer.spans.len() < self.config.max_spans_per_trace {
            buffer.spans.push(root);
        } else {
            buffer.dropped += 1;
        }
        state.kept.insert(
            trace,
            Kept {
                buffer,
                reasons,
                workload,
                latency,
                error,
            },
        );
    }

    /// Spans held now: in open traces and kept ones.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        let state = self.state();
        state.open.values().map(|b| b.spans.len()).sum::<usize>()
            + state
                .kept
                .values()
                .map(|k| k.buffer.spans.len())
                .sum::<usize>()
    }

    /// The kept traces, with names for nodes (`names[i]` is node `i`'s).
    pub(crate) fn traces(&self, names: &[String]) -> Traces {
        let workloads = self
            .workloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let state = self.state();
        let name = |node: NodeId| names.get(node.0).cloned().unwrap_or_default();
        let ordered: BTreeMap<u64, &Kept> = state.kept.iter().map(|(t, k)| (*t, k)).collect();
        let traces = ordered
            .into_iter()
            .map(|(trace_id, kept)| {
                let mut spans: Vec<Span> = kept
                    .buffer
                    .spans
                    .iter()
                    .map(|raw| Span {
                        id: raw.id,
                        parent: (raw.kind != SpanKind::Request).then_some(raw.parent),
                        kind: raw.kind,
                        service: name(raw.node),
                        peer: raw.peer.map(name),
                        replica: (raw.replica != u32::MAX).then_some(raw.replica as usize),
                        worker: (raw.worker != u32::MAX).then_some(raw.worker as usize),
                        start_ns: raw.start,
                        end_ns: raw.end,
                        error: raw.error.as_deref().map(str::to_string),
                        follows: (raw.follows != 0).then_some(raw.follows),
                    })
                    .collect();
                spans.sort_by(|a, b| {
                    (
                        a.parent.is_some(),
                        a.start_ns,
                        std::cmp::Reverse(a.end_ns),
                        a.id,
                    )
                        .cmp(&(
                            b.parent.is_some(),
                            b.start_ns,
                            std::cmp::Reverse(b.end_ns),
                            b.id,
                        ))
                });
                let mut kept_as = Vec::new();
                for (bit, reason) in [
                    (SAMPLED, "sampled"),
                    (SLOWEST, "slowest"),
                    (FAILED, "failed"),
                ] {
                    if kept.reasons & bit != 0 {
                        kept_as.push(reason.to_string());
                    }
                }
                Trace {
                    trace_id,
                    workload: workloads
                        .get(kept.workload as usize)
                        .cloned()
                        .unwrap_or_default(),
                    kept_as,
                    latency_ns: kept.latency,
                    error: kept.error.as_deref().map(str::to_string),
                    spans_dropped: kept.buffer.dropped,
                    spans,
                }
            })
            .collect();
        Traces {
            requests: state.requests,
            spans_recorded: state.recorded,
            traces,
        }
    }
}

/// SplitMix64's finaliser: a fixed, well-mixed hash of a `u64`.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(trace: u64, latency: u64) -> RawSpan {
        RawSpan::new(
            trace,
            root_span(trace),
            0,
            SpanKind::Request,
            NodeId::CLIENT,
            0,
            latency,
        )
    }

    #[test]
    fn keeps_the_slowest_the_failed_and_a_bounded_sample() {
        let tracer = Tracer::new(
            Tracing::default()
                .rate(1.0)
                .max_sampled(5)
                .keep_slowest(3)
                .keep_failed(2),
            7,
        );
        let w = tracer.workload("w");
        for trace in 1..=1000 {
            tracer.begin(trace);
            tracer.record(RawSpan::new(
                trace,
                client_span(trace),
                root_span(trace),
                SpanKind::Call,
                NodeId::CLIENT,
                0,
                trace,
            ));
            let error = (trace % 100 == 0).then(|| "failed".to_string());
            tracer.finish(w, root(trace, trace).error(error));
            assert!(tracer.held() <= 2 * (5 + 3 + 2));
        }
        let traces = tracer.traces(&["client".to_string()]);
        let slowest: Vec<u64> = traces
            .traces
            .iter()
            .filter(|t| t.kept_as.contains(&"slowest".to_string()))
            .map(|t| t.trace_id)
            .collect();
        assert_eq!(slowest, [998, 999, 1000]);
        let failed: Vec<u64> = traces
            .traces
            .iter()
            .filter(|t| t.kept_as.contains(&"failed".to_string()))
            .map(|t| t.trace_id)
            .collect();
        assert_eq!(failed, [100, 200]);
        let sampled = traces
            .traces
            .iter()
            .filter(|t| t.kept_as.contains(&"sampled".to_string()))
            .count();
        assert_eq!(sampled, 5);
        assert_eq!(traces.requests, 1000);
        // Late spans of a dropped trace are dropped; of a kept one, kept.
        tracer.record(RawSpan::new(
            1,
            client_span(1) + 7,
            0,
            SpanKind::Send,
            NodeId::CLIENT,
            0,
            1,
        ));
        tracer.record(RawSpan::new(
            1000,
            client_span(1000) + 7,
            0,
            SpanKind::Send,
            NodeId::CLIENT,
            0,
            1,
        ));
        let after = tracer.traces(&["client".to_string()]);
        let of = |id| {
            after
                .traces
                .iter()
                .find(|t| t.trace_id == id)
                .map(|t| t.spans.len())
        };
        assert_eq!(of(1000), Some(3));
        assert!(of(1).is_none_or(|spans| spans == 2));
    }

    #[test]
    fn a_rate_of_zero_samples_nothing_and_the_sample_is_uniform() {
        let none = Tracer::new(Tracing::default().rate(0.0).keep_slowest(0), 1);
        let w = none.workload("w");
        for trace in 1..=100 {
            none.begin(trace);
            none.finish(w, root(trace, 1));
        }
        assert!(none.traces(&[]).traces.is_empty());
        // A 10% sample of 100,000 without a cap keeps about 10,000 (binomial sd 95).
        let tenth = Tracer::new(
            Tracing::default()
                .rate(0.1)
                .max_sampled(100_000)
                .keep_slowest(0),
            1,
        );
        let w = tenth.workload("w");
        for trace in 1..=100_000 {
            tenth.begin(trace);
            tenth.finish(w, root(trace, 1));
        }
        let kept = tenth.traces(&[]).traces.len();
        assert!((9_600..=10_400).contains(&kept), "{kept}");
    }
}
