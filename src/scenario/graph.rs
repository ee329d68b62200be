//! Who calls, publishes to and subscribes to whom: the order to build the services in (callees
//! first), call cycles and event cycles.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use super::ScenarioError;
use super::error::Source;

/// What a service does that an event cycle can run through: calls and publishes (each with
/// where it is written), and the topics it subscribes to.
#[derive(Default)]
pub(super) struct Edges {
    pub(super) calls: Vec<Spanned<String>>,
    pub(super) publishes: Vec<Spanned<String>>,
    pub(super) subscribes: Vec<Spanned<String>>,
}

/// The checked graph: the order to build the services in, and who calls and publishes to
/// whom, for faults and policies.
pub(super) struct Graph {
    /// Service names, callees before their callers.
    pub(super) build_order: Vec<String>,
    /// (caller, callee): calls between services.
    pub(super) calls: BTreeSet<(String, String)>,
    /// (service, topic).
    pub(super) publishes: BTreeSet<(String, String)>,
}

/// Reports a call cycle, or else an event cycle, in what the services do (`edges`, by
/// service) and in the topics' `dead_letters` (each at-least-once topic to its dead-letter
/// topic).
pub(super) fn check_graph(
    source: &Source<'_>,
    mut edges: BTreeMap<String, Edges>,
    dead_letters: BTreeMap<String, Vec<Spanned<String>>>,
) -> Graph {
    let calls: BTreeMap<String, Vec<Spanned<String>>> = edges
        .iter_mut()
        .map(|(name, e)| (name.clone(), std::mem::take(&mut e.calls)))
        .collect();
    let call_pairs: BTreeSet<(String, String)> = calls
        .iter()
        .flat_map(|(from, to)| to.iter().map(|to| (from.clone(), to.get_ref().clone())))
        .collect();
    let publish_pairs: BTreeSet<(String, String)> = edges
        .iter()
        .flat_map(|(from, e)| {
            e.publishes
                .iter()
                .map(|to| (from.clone(), to.get_ref().clone()))
        })
        .collect();
    let build_order = match topological_order(&calls, []) {
        Ok(order) => {
            // An event cycle is looked for only in an acyclic call graph.
            if let Err(error) = check_event_cycles(source, calls, edges, dead_letters) {
                source.report(error);
            }
            order
        }
        Err((cycle, span)) => {
            source.report(source.error(span, format!("call cycle {}", cycle.join(" -> "))));
            // The services still build in some order, to check their settings: those that
            // call a service not built yet are left out.
            calls.keys().cloned().collect()
        }
    };
    Graph {
        build_order,
        calls: call_pairs,
        publishes: publish_pairs,
    }
}

/// Orders the nodes of a graph so that every node comes after the nodes it leads to, or
/// returns the first cycle (nodes visited by name, edges in order) with the span of the edge
/// that starts it.
/// The search starts from each of `roots` in turn, then from the other nodes by name.
fn topological_order<'n>(
    edges: &'n BTreeMap<String, Vec<Spanned<String>>>,
    roots: impl IntoIterator<Item = &'n str>,
) -> Result<Vec<String>, (Vec<String>, Range<usize>)> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = edges.keys().map(|k| (k.as_str(), Mark::New)).collect();
    let mut order = Vec::with_capacity(edges.len());
    for root in roots.into_iter().chain(edges.keys().map(String::as_str)) {
        if marks.get(root) != Some(&Mark::New) {
            continue;
        }
        // Iterative depth-first search: (node, index of its next edge); the path of active
        // nodes is the stack, with the span of the edge that led to each.
        let mut stack: Vec<(&str, usize, Option<Range<usize>>)> = vec![(root, 0, None)];
        marks.insert(root, Mark::Active);
        while let Some((node, next, _)) = stack.last().cloned() {
            let outgoing = edges.get(node).map_or(&[][..], Vec::as_slice);
            let Some(edge) = outgoing.get(next) else {
                marks.insert(node, Mark::Done);
                order.push(node.to_string());
                stack.pop();
                continue;
            };
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            let target = edge.get_ref().as_str();
            match marks.get(target).copied().unwrap_or(Mark::Done) {
                Mark::Done => {}
                Mark::New => {
                    marks.insert(target, Mark::Active);
                    stack.push((target, 0, Some(edge.span())));
                }
                Mark::Active => {
                    // The cycle runs from `target`'s place on the stack to here.
                    let start = stack
                        .iter()
                        .position(|(name, _, _)| *name == target)
                        .unwrap_or(0);
                    let mut cycle: Vec<String> = stack[start..]
                        .iter()
                        .map(|(n, _, _)| n.to_string())
                        .collect();
                    cycle.push(target.to_string());
                    // Point at the first edge of the cycle.
                    let span = stack
                        .get(start + 1)
                        .and_then(|(_, _, span)| span.clone())
                        .unwrap_or_else(|| edge.span());
                    return Err((cycle, span));
                }
            }
        }
    }
    Ok(order)
}

/// Rejects cycles through publishes and subscriptions: a service whose event leads, through
/// topics, subscribers and calls, back to a publish of the same event would publish forever.
/// Called after the call graph was found acyclic, so any cycle involves a topic.
fn check_event_cycles(
    source: &Source<'_>,
    calls: BTreeMap<String, Vec<Spanned<String>>>,
    edges: BTreeMap<String, Edges>,
    dead_letters: BTreeMap<String, Vec<Spanned<String>>>,
) -> Result<(), ScenarioError> {
    // Nodes: services and topics. Edges: a service to what it calls and publishes to, a
    // topic to its subscribers and to its dead-letter topic.
    let services: Vec<String> = edges.keys().cloned().collect();
    let mut graph = calls;
    for (service, service_edges) in edges {
        for topic in service_edges.subscribes {
            let span = topic.span();
            graph
                .entry(topic.into_inner())
                .or_default()
                .push(Spanned::new(span, service.clone()));
        }
        graph
            .entry(service)
            .or_default()
            .extend(service_edges.publishes);
    }
    for (topic, dead_letter) in dead_letters {
        graph.entry(topic).or_default().extend(dead_letter);
    }
    // From the services first, so that a cycle is told from a publisher.
    topological_order(&graph, services.iter().map(String::as_str))
        .map(|_| ())
        .map_err(|(cycle, span)| {
            source.error(
                span,
                format!(
                    "event cycle {}: every event would cause another, forever",
                    cycle.join(" -> ")
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::super::Scenario;

    #[test]
    fn callees_are_built_before_callers() {
        let scenario = Scenario::parse(
            r#"
            [services.a]
            steps = [{ call = "c" }, { parallel = [{ call = "b" }, { work = { constant = "1ms" } }] }]
            [services.b]
            steps = [{ call = "c" }]
            [services.c]
            [workloads.w]
            target = "a"
            open = { rate = 1.0 }
            "#,
            "order.toml",
        )
        .unwrap();
        assert_eq!(scenario.build_order, ["c", "b", "a"]);
    }
}
