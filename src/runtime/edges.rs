//! What crossed each edge of the topology: per caller and callee, the attempts sent and how
//! they ended; per sender and receiver, the one-way messages; per publisher and topic, the
//! publishes. The report's [`Topology`](crate::report::topology::Topology) draws them.
//!
//! Counted when the message was sent in the measured window (at or after the warm-up), as
//! the rest of the report is. A lock per source node, taken once per message: uncontended on
//! the single-threaded runtime, and no two sources share one.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::node::NodeId;
use crate::report::topology::{EdgeKind, EdgeReport};

/// One edge's counts.
#[derive(Clone, Copy, Debug, Default)]
struct EdgeCounts {
    count: u64,
    failed: u64,
    /// Sum of the latencies of the completed ones, ns.
    latency_ns: u128,
}

/// Every edge's counts, by source node.
#[derive(Debug)]
pub(crate) struct Edges {
    warmup: Duration,
    by_source: Vec<Mutex<FxHashMap<(usize, EdgeKind), EdgeCounts>>>,
}

impl Edges {
    /// For `nodes` nodes (the client, the services and the topics).
    pub(crate) fn new(nodes: usize, warmup: Duration) -> Self {
        Edges {
            warmup,
            by_source: (0..nodes).map(|_| Mutex::default()).collect(),
        }
    }

    /// A message of `kind` sent at `sent_at` from `from` to `to` ended after `latency`
    /// (`None` for a one-way message, whose sender waits for nothing), failed or not.
    #[inline]
    pub(crate) fn record(
        &self,
        kind: EdgeKind,
        [from, to]: [NodeId; 2],
        sent_at: Duration,
        latency: Option<Duration>,
        failed: bool,
    ) {
        if sent_at < self.warmup {
            return;
        }
        let Some(source) = self.by_source.get(from.0) else {
            return;
        };
        let mut edges = source.lock().unwrap_or_else(PoisonError::into_inner);
        let edge = edges.entry((to.0, kind)).or_default();
        edge.count += 1;
        if failed {
            edge.failed += 1;
        } else if let Some(latency) = latency {
            edge.latency_ns += latency.as_nanos();
        }
    }

    /// The edges, named by `names` (node `i` is `names[i]`), with rates over `measured`,
    /// in order of source, destination and kind.
    pub(crate) fn report(&self, names: &[String], measured: Duration) -> Vec<EdgeReport> {
        let seconds = measured.as_secs_f64();
        let name = |node: usize| names.get(node).map_or("?", String::as_str).to_string();
        let mut edges: Vec<EdgeReport> = self
            .by_source
            .iter()
            .enumerate()
            .flat_map(|(from, source)| {
                let source = source.lock().unwrap_or_else(PoisonError::into_inner);
                source
                    .iter()
                    .map(|(&(to, kind), counts)| {
                        let completed = counts.count - counts.failed;
                        EdgeReport {
                            from: name(from),
                            to: name(to),
                            kind,
                            count: counts.count,
                            failed: counts.failed,
                            rate_per_s: if seconds > 0.0 {
                                counts.count as f64 / seconds
                            } else {
                                0.0
                            },
                            mean_ms: (kind != EdgeKind::Send && completed > 0)
                                .then(|| counts.latency_ns as f64 / completed as f64 / 1e6),
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        edges.sort_by(|a, b| (&a.from, &a.to, a.kind).cmp(&(&b.from, &b.to, b.kind)));
        edges
    }
}
