//! The topology of a run -- the client, services, topics and subscriptions -- with what
//! crossed each edge: as a Mermaid flowchart, a Graphviz DOT graph, or an SVG drawing for the
//! HTML report.
//!
//! Edges come from the run, not from the configuration: an edge is drawn when something
//! crossed it in the measured window. Calls (caller to callee, attempts counted: a retry is
//! another crossing), one-way sends and publishes are counted by the engine
//! ([`Report::edges`]); deliveries (topic to subscriber) are the topic's subscriber counts
//! ([`Report::topics`]).
//!
//! ```
//! use std::time::Duration;
//! use microsim::report::topology::Topology;
//! use microsim::{Capacity, Distribution, Script, Simulation, Workload};
//!
//! let ms = Duration::from_millis;
//! let mut sim = Simulation::builder().duration(Duration::from_secs(2)).build()?;
//! let db = sim.add_service("db", Script::new().work(Distribution::constant(ms(2))), Capacity::workers(4))?;
//! let api = sim.add_service("api", Script::new().call(&db), Capacity::workers(4))?;
//! sim.add_workload("load", &api, Workload::constant_rate(50.0), |_| ())?;
//! let report = sim.run()?;
//! let topology = Topology::of(&report);
//! let mermaid = topology.to_mermaid();
//! assert!(mermaid.starts_with("flowchart LR\n"));
//! // api called db 100 times in 2 s, each call 2 ms.
//! assert!(mermaid.contains(r#"n1 -->|"50/s · 2.00 ms"| n2"#), "{mermaid}");
//! assert!(topology.to_dot().contains(r#""api" -> "db" [label="50/s · 2.00 ms"]"#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::Report;

/// What crosses an edge.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EdgeKind {
    /// Request/response call attempts.
    #[default]
    Call,
    /// One-way messages.
    Send,
    /// Events published to a topic.
    Publish,
    /// Events delivered to a subscriber.
    Delivery,
}

/// What crossed one edge of the topology in the measured window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EdgeReport {
    /// The sender: `"client"` for workload requests, a service, or a topic.
    pub from: String,
    /// The receiver: a service or a topic.
    pub to: String,
    /// What crossed it.
    pub kind: EdgeKind,
    /// How many: attempts for calls (each retry and hedged copy that ended is one more).
    pub count: u64,
    /// Of those, failed (for sends: none are known to the sender).
    pub failed: u64,
    /// `count` per measured second.
    pub rate_per_s: f64,
    /// Mean latency of the ones that did not fail, from sending to the answer (for a
    /// publish, the broker's confirmation); `None` for one-way sends.
    pub mean_ms: Option<f64>,
}

/// What a node of the diagram is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeKind {
    Client,
    Service,
    Topic,
}

/// One node: its name, kind and a second line (a service's utilisation).
#[derive(Clone, Debug)]
struct Node {
    name: String,
    kind: NodeKind,
    note: Option<String>,
}

/// The diagram of a run (see the [module](self)).
#[derive(Clone, Debug)]
pub struct Topology {
    nodes: Vec<Node>,
    /// Edges between node indices, with their kind and label.
    edges: Vec<(usize, usize, EdgeKind, String)>,
}

impl Topology {
    /// The topology of `report`: the client (if it sent anything), every service and topic,
    /// and every edge something crossed.
    pub fn of(report: &Report) -> Self {
        let mut nodes = Vec::new();
        let mut index = BTreeMap::new();
        let mut add = |nodes: &mut Vec<Node>, name: &str, kind, note| {
            *index.entry(name.to_string()).or_insert_with(|| {
                nodes.push(Node {
                    name: name.to_string(),
                    kind,
                    note,
                });
                nodes.len() - 1
            })
        };
        if report
            .edges
            .iter()
            .any(|edge| edge.from == crate::node::CLIENT)
        {
            add(&mut nodes, crate::node::CLIENT, NodeKind::Client, None);
        }
        for (name, service) in &report.services {
            let note = service
                .utilization
                .map(|rho| format!("utilisation {:.0}%", rho * 100.0));
            add(&mut nodes, name, NodeKind::Service, note);
        }
        for name in report.topics.keys() {
            add(&mut nodes, name, NodeKind::Topic, None);
        }
        let mut edges = Vec::new();
        for edge in &report.edges {
            let from = add(&mut nodes, &edge.from, NodeKind::Service, None);
            let to = add(&mut nodes, &edge.to, NodeKind::Service, None);
            edges.push((from, to, edge.kind, label(edge)));
        }
        let measured = report.measured_seconds;
        for (topic, report_topic) in &report.topics {
            for (subscriber, counts) in &report_topic.subscribers {
                let handled = counts.counts.handled;
                if handled == 0 {
                    continue;
                }
                let delivery = EdgeReport {
                    from: topic.clone(),
                    to: subscriber.clone(),
                    kind: EdgeKind::Delivery,
                    count: handled,
                    failed: 0,
                    rate_per_s: if measured > 0.0 {
                        handled as f64 / measured
                    } else {
                        0.0
                    },
                    mean_ms: Some(counts.latency_ms.mean),
                };
                let from = add(&mut nodes, topic, NodeKind::Topic, None);
                let to = add(&mut nodes, subscriber, NodeKind::Service, None);
                edges.push((from, to, EdgeKind::Delivery, label(&delivery)));
            }
        }
        Topology { nodes, edges }
    }

    /// As a Mermaid flowchart, left to right: services as boxes, topics as cylinders, the
    /// client as a circle; calls and publishes solid arrows, one-way sends and deliveries
    /// dotted, each labelled with its rate and mean latency. GitHub and most Markdown
    /// viewers draw it.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for (i, node) in self.nodes.iter().enumerate() {
            let text = mermaid_text(&node_text(node, "<br/>"));
            let _ = match node.kind {
                NodeKind::Client => writeln!(out, "    n{i}((\"{text}\"))"),
                NodeKind::Service => writeln!(out, "    n{i}[\"{text}\"]"),
                NodeKind::Topic => writeln!(out, "    n{i}[(\"{text}\")]"),
            };
        }
        for (from, to, kind, label) in &self.edges {
            let arrow = if dotted(*kind) { "-.->" } else { "-->" };
            let _ = writeln!(
                out,
                "    n{from} {arrow}|\"{}\"| n{to}",
                mermaid_text(label)
            );
        }
        out
    }

    /// As a Graphviz DOT digraph, left to right (`dot -Tsvg`), styled as
    /// [`to_mermaid`](Self::to_mermaid).
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph microsim {\n    rankdir=LR;\n    node [shape=box, style=rounded, fontname=\"sans-serif\"];\n    edge [fontname=\"sans-serif\", fontsize=10];\n",
        );
        for node in &self.nodes {
            let shape = match node.kind {
                NodeKind::Client => ", shape=circle",
                NodeKind::Service => "",
                NodeKind::Topic => ", shape=cylinder",
            };
            let _ = writeln!(
                out,
                "    \"{}\" [label=\"{}\"{shape}];",
                dot_text(&node.name),
                dot_text(&node_text(node, "\n"))
            );
        }
        for (from, to, kind, label) in &self.edges {
            let style = if dotted(*kind) { ", style=dashed" } else { "" };
            let _ = writeln!(
                out,
                "    \"{}\" -> \"{}\" [label=\"{}\"{style}];",
                dot_text(&self.nodes[*from].name),
                dot_text(&self.nodes[*to].name),
                dot_text(label)
            );
        }
        out.push_str("}\n");
        out
    }

    /// As a standalone SVG drawing, for the HTML report: nodes in columns by their distance
    /// from the client (the longest chain of edges into them), edges as arrows labelled as
    /// in [`to_mermaid`](Self::to_mermaid). `None` without nodes.
    pub fn to_svg(&self) -> Option<String> {
        if self.nodes.is_empty() {
            return None;
        }
        const BOX_W: usize = 160;
        const BOX_H: usize = 44;
        const COLUMN: usize = 300;
        const ROW: usize = 80;
        const MARGIN: usize = 20;
        let layers = self.layers();
        let columns = layers.iter().copied().max().unwrap_or(0) + 1;
        let at = self.positions(&layers, columns);
        let tallest = at.iter().map(|&(_, row)| row).fold(0.0f64, f64::max) + 1.0;
        let height = (tallest * ROW as f64) as usize + 2 * MARGIN;
        let width = columns * COLUMN - (COLUMN - BOX_W) + 2 * MARGIN;
        let x = |column: usize| MARGIN + column * COLUMN;
        let y = |row: f64| MARGIN + (row * ROW as f64) as usize;
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\
             <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>"
        );
        for (from, to, kind, label) in &self.edges {
            let (a, b) = (at[*from], at[*to]);
            let (x1, y1) = (x(a.0) + BOX_W, y(a.1) + BOX_H / 2);
            let (x2, y2) = (x(b.0), y(b.1) + BOX_H / 2);
            let dash = if dotted(*kind) {
                " stroke-dasharray=\"5,4\""
            } else {
                ""
            };
            // Forward edges straight; an edge back (or within a column) loops below.
            // Forward labels sit two thirds of the way, nearer their target: the edges of a
            // fan-out part there.
            let (path, lx, ly) = if b.0 > a.0 {
                (
                    format!("M{x1},{y1} L{x2},{y2}"),
                    (x1 + 2 * x2) / 3,
                    ((y1 + 2 * y2) / 3).saturating_sub(4),
                )
            } else {
                let (sx, sy) = (x(a.0) + BOX_W / 2, y(a.1) + BOX_H);
                let (ex, ey) = (x(b.0) + BOX_W / 2, y(b.1) + BOX_H);
                let dip = sy.max(ey) + ROW / 2;
                (
                    format!("M{sx},{sy} C{sx},{dip} {ex},{dip} {ex},{ey}"),
                    (sx + ex) / 2,
                    dip - 6,
                )
            };
            let _ = write!(
                out,
                "<path d=\"{path}\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.5\"{dash} marker-end=\"url(#arrow)\"/>\
                 <text x=\"{lx}\" y=\"{ly}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#333\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>",
                super::html::escape(label)
            );
        }
        for (node, &(column, row)) in self.nodes.iter().zip(&at) {
            let (nx, ny) = (x(column), y(row));
            let (fill, radius) = match node.kind {
                NodeKind::Client => ("#eeeeee", BOX_H / 2),
                NodeKind::Service => ("#dbe9f6", 6),
                NodeKind::Topic => ("#fde9c9", 16),
            };
            let _ = write!(
                out,
                "<rect x=\"{nx}\" y=\"{ny}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"{radius}\" fill=\"{fill}\" stroke=\"#444\"/>"
            );
            let middle = nx + BOX_W / 2;
            match &node.note {
                Some(note) => {
                    let _ = write!(
                        out,
                        "<text x=\"{middle}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\
                         <text x=\"{middle}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#444\">{}</text>",
                        ny + 18,
                        super::html::escape(&node.name),
                        ny + 34,
                        super::html::escape(note)
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "<text x=\"{middle}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
                        ny + 27,
                        super::html::escape(&node.name)
                    );
                }
            }
        }
        out.push_str("</svg>");
        Some(out)
    }

    /// Each node's place: its column, and its row within the column -- columns ordered by
    /// the mean row of the nodes pointing into them from the left (the barycentre rule,
    /// which keeps crossings few) and centred on the tallest column.
    fn positions(&self, layers: &[usize], columns: usize) -> Vec<(usize, f64)> {
        let n = self.nodes.len();
        let mut row = vec![0.0f64; n];
        let mut tallest = 0usize;
        for column in 0..columns {
            let mut members: Vec<(f64, usize)> = (0..n)
                .filter(|&v| layers[v] == column)
                .map(|v| {
                    let before: Vec<f64> = self
                        .edges
                        .iter()
                        .filter(|(from, to, _, _)| *to == v && layers[*from] < column)
                        .map(|(from, _, _, _)| row[*from])
                        .collect();
                    let centre = if before.is_empty() {
                        f64::INFINITY
                    } else {
                        before.iter().sum::<f64>() / before.len() as f64
                    };
                    (centre, v)
                })
                .collect();
            members.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (i, &(_, v)) in members.iter().enumerate() {
                row[v] = i as f64;
            }
            tallest = tallest.max(members.len());
        }
        let mut height = vec![0usize; columns];
        for &layer in layers {
            height[layer] += 1;
        }
        (0..n)
            .map(|v| {
                let offset = (tallest - height[layers[v]]) as f64 / 2.0;
                (layers[v], row[v] + offset)
            })
            .collect()
    }

    /// Each node's column: one more than the furthest node pointing at it, over the edges
    /// that do not close a cycle (found by a depth-first walk from the nodes nothing points
    /// at, the client first); a node nothing points at is in column 0.
    fn layers(&self) -> Vec<usize> {
        let n = self.nodes.len();
        let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut pointed = vec![false; n];
        for (from, to, _, _) in &self.edges {
            out[*from].push(*to);
            pointed[*to] |= from != to;
        }
        // 0: not seen, 1: on the walk's path, 2: done.
        let mut state = vec![0u8; n];
        let mut forward: Vec<(usize, usize)> = Vec::new();
        let starts = (0..n).filter(|&v| !pointed[v]).chain(0..n);
        for start in starts {
            if state[start] != 0 {
                continue;
            }
            state[start] = 1;
            let mut path = vec![(start, 0usize)];
            while let Some((node, next)) = path.last_mut() {
                let node = *node;
                if let Some(&to) = out[node].get(*next) {
                    *next += 1;
                    match state[to] {
                        0 => {
                            forward.push((node, to));
                            state[to] = 1;
                            path.push((to, 0));
                        }
                        2 => forward.push((node, to)),
                        _ => {} // Back to a node on the path: closes a cycle.
                    }
                } else {
                    state[node] = 2;
                    path.pop();
                }
            }
        }
        // Longest path over the edges kept, which form no cycle: at most n rounds.
        let mut layers = vec![0usize; n];
        for _ in 0..n {
            let mut changed = false;
            for &(from, to) in &forward {
                if layers[to] < layers[from] + 1 {
                    layers[to] = layers[from] + 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        layers
    }
}

/// Sends and deliveries are drawn dotted: nobody waits on them.
fn dotted(kind: EdgeKind) -> bool {
    matches!(kind, EdgeKind::Send | EdgeKind::Delivery)
}

/// An edge's label: its rate, then its mean latency, or what it is, and the failures.
fn label(edge: &EdgeReport) -> String {
    let rate = rate(edge.rate_per_s);
    let mut text = match (edge.kind, edge.mean_ms) {
        (EdgeKind::Send, _) => format!("{rate}/s one-way"),
        (EdgeKind::Publish, Some(ms)) => format!("{rate}/s publish · {ms:.2} ms"),
        (_, Some(ms)) => format!("{rate}/s · {ms:.2} ms"),
        (_, None) => format!("{rate}/s"),
    };
    if edge.failed > 0 && edge.count > 0 {
        let _ = write!(
            text,
            " · {:.1}% failed",
            edge.failed as f64 / edge.count as f64 * 100.0
        );
    }
    text
}

/// A rate with three significant digits at most, without trailing zeros.
fn rate(per_s: f64) -> String {
    let text = if per_s >= 100.0 {
        format!("{per_s:.0}")
    } else if per_s >= 10.0 {
        format!("{per_s:.1}")
    } else {
        format!("{per_s:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A node's text: its name and, on a second line, its note.
fn node_text(node: &Node, line_break: &str) -> String {
    match &node.note {
        Some(note) => format!("{}{line_break}{note}", node.name),
        None => node.name.clone(),
    }
}

/// Text inside Mermaid's double quotes: quotes become `#quot;`.
fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
}

/// Text inside DOT's double quotes.
fn dot_text(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{SubscriberReport, TopicReport};

    fn edge(from: &str, to: &str, kind: EdgeKind, count: u64, failed: u64) -> EdgeReport {
        EdgeReport {
            from: from.into(),
            to: to.into(),
            kind,
            count,
            failed,
            rate_per_s: count as f64 / 10.0,
            mean_ms: (kind != EdgeKind::Send).then_some(1.5),
        }
    }

    fn report() -> Report {
        let mut report = Report::new(1, crate::ClockKind::Virtual);
        report.measured_seconds = 10.0;
        for name in ["api", "billing", "db"] {
            report.services.insert(name.into(), Default::default());
        }
        report.services.get_mut("db").unwrap().utilization = Some(0.8);
        let mut topic = TopicReport {
            delivery: crate::Delivery::AtMostOnce,
            counts: Default::default(),
            subscribers: BTreeMap::new(),
        };
        let mut billing = SubscriberReport::default();
        billing.counts.handled = 40;
        billing.latency_ms.mean = 3.0;
        topic.subscribers.insert("billing".into(), billing);
        report.topics.insert("orders \"eu\"".into(), topic);
        report.edges = vec![
            edge("api", "db", EdgeKind::Call, 1000, 10),
            edge("api", "orders \"eu\"", EdgeKind::Publish, 40, 0),
            edge("billing", "api", EdgeKind::Send, 5, 0),
            edge("client", "api", EdgeKind::Call, 1000, 0),
        ];
        report
    }

    #[test]
    fn mermaid_and_dot_name_every_node_and_label_every_edge() {
        let topology = Topology::of(&report());
        assert_eq!(
            topology.to_mermaid(),
            "flowchart LR\n\
             \x20   n0((\"client\"))\n\
             \x20   n1[\"api\"]\n\
             \x20   n2[\"billing\"]\n\
             \x20   n3[\"db<br/>utilisation 80%\"]\n\
             \x20   n4[(\"orders #quot;eu#quot;\")]\n\
             \x20   n1 -->|\"100/s · 1.50 ms · 1.0% failed\"| n3\n\
             \x20   n1 -->|\"4/s publish · 1.50 ms\"| n4\n\
             \x20   n2 -.->|\"0.5/s one-way\"| n1\n\
             \x20   n0 -->|\"100/s · 1.50 ms\"| n1\n\
             \x20   n4 -.->|\"4/s · 3.00 ms\"| n2\n"
        );
        let dot = topology.to_dot();
        assert!(
            dot.starts_with("digraph microsim {\n    rankdir=LR;"),
            "{dot}"
        );
        for line in [
            "    \"db\" [label=\"db\\nutilisation 80%\"];",
            "    \"orders \\\"eu\\\"\" [label=\"orders \\\"eu\\\"\", shape=cylinder];",
            "    \"client\" [label=\"client\", shape=circle];",
            "    \"billing\" -> \"api\" [label=\"0.5/s one-way\", style=dashed];",
            "    \"orders \\\"eu\\\"\" -> \"billing\" [label=\"4/s · 3.00 ms\", style=dashed];",
        ] {
            assert!(dot.lines().any(|l| l == line), "{line}\n{dot}");
        }
        assert!(dot.ends_with("}\n"));
    }

    #[test]
    fn the_drawing_puts_each_node_after_those_pointing_at_it() {
        let topology = Topology::of(&report());
        // client -> api -> db, api -> orders -> billing -> api (a cycle: ends anyway).
        let layers = topology.layers();
        let of = |name: &str| layers[topology.nodes.iter().position(|n| n.name == name).unwrap()];
        assert_eq!(of("client"), 0);
        assert!(of("api") >= 1 && of("db") > of("api") && of("orders \"eu\"") > of("api"));
        let svg = topology.to_svg().unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(
            svg.contains("&quot;eu&quot;") || svg.contains("&#34;eu&#34;"),
            "{svg}"
        );
        assert_eq!(svg.matches("<rect").count(), 5);
        assert_eq!(svg.matches("marker-end").count(), 5);
        assert!(
            Topology::of(&Report::new(1, crate::ClockKind::Virtual))
                .to_svg()
                .is_none()
        );
    }

    #[test]
    fn rates_keep_three_figures() {
        assert_eq!(rate(1234.4), "1234");
        assert_eq!(rate(12.34), "12.3");
        assert_eq!(rate(0.5), "0.5");
        assert_eq!(rate(50.0), "50");
        assert_eq!(rate(0.0), "0");
    }
}
