//! Who calls, publishes to and subscribes to whom: the order to build the services in (callees
//! first), call cycles and event cycles, and closed loops whose requests take no simulated
//! time (the one place that reasons about what can take zero time, with
//! [`Distribution::is_always_zero`]).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use crate::distribution::Distribution;
use crate::error::{FieldPath, PathSegment};
use crate::fault::FaultKind;
use crate::node::CLIENT;
use crate::policy::{Backoff, CallPolicy};
use crate::topic::{Topic, WhenFull};
use crate::workload::Arrivals;

use super::error::Source;
use super::steps::StepSpec;
use super::{Scenario, ScenarioError};

/// What a service does that an event cycle can run through: calls and publishes (each with
/// where it is written), and the topics it subscribes to.
#[derive(Default)]
pub(super) struct Edges {
    pub(super) calls: Vec<Spanned<String>>,
    /// One-way messages: they may form a cycle (see `Simulation::check_routing`).
    pub(super) sends: Vec<Spanned<String>>,
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
    /// (sender, receiver): one-way messages between services.
    pub(super) sends: BTreeSet<(String, String)>,
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
    let send_pairs: BTreeSet<(String, String)> = edges
        .iter()
        .flat_map(|(from, e)| {
            e.sends
                .iter()
                .map(|to| (from.clone(), to.get_ref().clone()))
        })
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
        sends: send_pairs,
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

/// How a request ends when it always ends at the instant it starts.
#[derive(Clone, Copy)]
enum AtOnce<'s> {
    /// Answered, unless `may_fail`: something on the way may refuse or fail it (a bounded
    /// queue, a fault, a caller's breaker), which a retry would then wait its backoff for.
    Answered { may_fail: bool },
    /// Failed: the fault at index `fault` of `[[faults]]` fails every call to `service` from
    /// the start; `retried`: the policy at that index of `[[policies]]` retries the failure
    /// without backoff, on the way.
    Failed {
        fault: usize,
        service: &'s str,
        retried: Option<usize>,
    },
}

/// What a request's time depends on besides the services: the file's links, default
/// latency, policies and faults, looked up by pair.
struct Pairs<'s> {
    topics: &'s BTreeMap<String, Topic>,
    links: BTreeMap<(&'s str, &'s str), &'s Distribution>,
    default_latency: &'s Distribution,
    /// Policies by pair, with their index in `[[policies]]`.
    policies: BTreeMap<(&'s str, &'s str), (usize, &'s CallPolicy)>,
    /// Pairs whose messages a fault delays or loses (in the direction they travel).
    faulted: BTreeSet<(&'s str, &'s str)>,
    /// Services that a fault fails every call to from the start, with the fault's index.
    failing: BTreeMap<&'s str, usize>,
    /// Services that a fault may fail calls to, or take down.
    may_fail: BTreeSet<&'s str>,
}

impl<'s> Pairs<'s> {
    fn new(scenario: &'s Scenario) -> Self {
        let mut faulted = BTreeSet::new();
        let mut failing = BTreeMap::new();
        let mut may_fail = BTreeSet::new();
        for spec in &scenario.faults {
            match &spec.fault.kind {
                FaultKind::Latency { from, to, .. } => {
                    faulted.insert((from.as_str(), to.as_str()));
                }
                FaultKind::Loss { from, to, .. } => {
                    faulted.insert((from.as_str(), to.as_str()));
                    faulted.insert((to.as_str(), from.as_str()));
                }
                FaultKind::Partition { a, b } => {
                    faulted.insert((a.as_str(), b.as_str()));
                    faulted.insert((b.as_str(), a.as_str()));
                }
                FaultKind::Fail {
                    service,
                    probability,
                } => {
                    if *probability >= 1.0 && spec.fault.at.is_zero() {
                        failing.entry(service.as_str()).or_insert(spec.index);
                    }
                    may_fail.insert(service.as_str());
                }
                FaultKind::Crash { service, .. } => {
                    may_fail.insert(service.as_str());
                }
                _ => {}
            }
        }
        Pairs {
            topics: &scenario.topics,
            links: scenario
                .links
                .iter()
                .map(|link| ((link.from.as_str(), link.to.as_str()), &link.latency))
                .collect(),
            default_latency: &scenario.settings.default_latency,
            policies: scenario
                .policies
                .iter()
                .map(|spec| {
                    (
                        (spec.from.as_str(), spec.to.as_str()),
                        (spec.index, &spec.policy),
                    )
                })
                .collect(),
            faulted,
            failing,
            may_fail,
        }
    }

    /// Whether every message from `from` to `to` (and back) crosses at once.
    fn at_once(&self, from: &str, to: &str) -> bool {
        let latency = self
            .links
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_latency);
        latency.is_always_zero() && !self.faulted.contains(&(from, to))
    }
}

/// How a request to each service ends, if it always ends at the instant it arrives: the
/// services in build order, callees first, so each callee is known before its callers. A
/// service missing (with a mistake, or built out of order after a cycle) takes time, as far
/// as anyone knows.
fn endings<'s>(scenario: &'s Scenario, pairs: &Pairs<'s>) -> BTreeMap<&'s str, AtOnce<'s>> {
    let mut endings = BTreeMap::new();
    for name in &scenario.build_order {
        let ending = match pairs.failing.get(name.as_str()) {
            // The fault fails the call before the service sees it.
            Some(&fault) => Some(AtOnce::Failed {
                fault,
                service: name.as_str(),
                retried: None,
            }),
            None => scenario.services.get(name).and_then(|spec| {
                let work = spec.work.as_ref().is_none_or(Distribution::is_always_zero);
                let ending = work
                    .then(|| steps_at_once(name, &spec.steps, pairs, &endings))
                    .flatten()?;
                // A bounded queue refuses what finds it full; a fault may fail the call.
                let refuses = spec.capacity.queue_capacity().is_some()
                    || pairs.may_fail.contains(name.as_str());
                Some(ending.or_may_fail(refuses))
            }),
        };
        if let Some(ending) = ending {
            endings.insert(name.as_str(), ending);
        }
    }
    endings
}

/// How `steps`, run by `service` in order, end, if they always end at once: the first
/// failure ends them.
fn steps_at_once<'s>(
    service: &'s str,
    steps: &'s [StepSpec],
    pairs: &Pairs<'s>,
    endings: &BTreeMap<&'s str, AtOnce<'s>>,
) -> Option<AtOnce<'s>> {
    let mut ending = AtOnce::Answered { may_fail: false };
    for step in steps {
        match step_at_once(service, step, pairs, endings)? {
            AtOnce::Answered { may_fail } => ending = ending.or_may_fail(may_fail),
            failed => return Some(failed),
        }
    }
    Some(ending)
}

fn step_at_once<'s>(
    service: &'s str,
    step: &'s StepSpec,
    pairs: &Pairs<'s>,
    endings: &BTreeMap<&'s str, AtOnce<'s>>,
) -> Option<AtOnce<'s>> {
    match step {
        StepSpec::Work(work) => work
            .is_always_zero()
            .then_some(AtOnce::Answered { may_fail: false }),
        StepSpec::Call(callee) => call_at_once(service, callee, pairs, endings),
        // Nobody waits for a one-way message.
        StepSpec::Send(_) => Some(AtOnce::Answered { may_fail: false }),
        StepSpec::Fail { probability, .. } => Some(AtOnce::Answered {
            may_fail: *probability > 0.0,
        }),
        StepSpec::Repeat(_, steps) => steps_at_once(service, steps, pairs, endings),
        // At once if every branch is (and the rest of the time nothing happens); a branch's
        // certain failure is only a possible one for the request.
        StepSpec::Choose(branches) => {
            let mut may_fail = false;
            for (_, steps) in branches {
                may_fail |= match steps_at_once(service, steps, pairs, endings)? {
                    AtOnce::Answered { may_fail } => may_fail,
                    AtOnce::Failed { .. } => true,
                };
            }
            Some(AtOnce::Answered { may_fail })
        }
        // The broker confirms at once, unless a full topic makes the publish wait for room.
        StepSpec::Publish { topic, .. } => {
            let spec = pairs.topics.get(topic)?;
            let waits = spec.capacity.is_some() && matches!(spec.when_full, WhenFull::Block);
            (!waits && pairs.at_once(service, topic)).then_some(AtOnce::Answered {
                // A full topic that rejects fails the publish.
                may_fail: spec.capacity.is_some(),
            })
        }
        // Every branch runs to its end.
        StepSpec::Parallel(branches) => {
            let mut ending = AtOnce::Answered { may_fail: false };
            for branch in branches {
                ending = match (ending, step_at_once(service, branch, pairs, endings)?) {
                    (AtOnce::Answered { may_fail }, next) => next.or_may_fail(may_fail),
                    (failed, _) => failed,
                };
            }
            Some(ending)
        }
    }
}

/// How a call from `caller` to `callee` ends, if it always ends at once: both messages cross
/// at once, the callee's requests end at once, and no retry waits on the way.
fn call_at_once<'s>(
    caller: &str,
    callee: &str,
    pairs: &Pairs<'s>,
    endings: &BTreeMap<&'s str, AtOnce<'s>>,
) -> Option<AtOnce<'s>> {
    if !pairs.at_once(caller, callee) {
        return None;
    }
    let ending = *endings.get(callee)?;
    let Some(&(index, policy)) = pairs.policies.get(&(caller, callee)) else {
        return Some(ending);
    };
    // The caller's own breaker, bulkhead and rate limit refuse at once (and are not retried).
    let refuses = policy.circuit_breaker.is_some()
        || policy.bulkhead.is_some()
        || policy.rate_limit.is_some();
    match &policy.retry {
        Some(retry) if retry.max_attempts > 1 => {
            // A retry waits its backoff after a failure: a call that may fail is at once only
            // with a backoff of zero.
            let no_backoff =
                matches!(retry.backoff, Backoff::Constant { delay } if delay.is_zero());
            if ending.may_fail() && !no_backoff {
                return None;
            }
            Some(match ending {
                AtOnce::Failed {
                    fault,
                    service,
                    retried: None,
                } => AtOnce::Failed {
                    fault,
                    service,
                    retried: Some(index),
                },
                other => other.or_may_fail(refuses),
            })
        }
        _ => Some(ending.or_may_fail(refuses)),
    }
}

impl AtOnce<'_> {
    /// This ending, which may also fail if `may_fail`.
    fn or_may_fail(self, may_fail: bool) -> Self {
        match self {
            AtOnce::Answered { may_fail: already } => AtOnce::Answered {
                may_fail: already || may_fail,
            },
            failed => failed,
        }
    }

    fn may_fail(&self) -> bool {
        !matches!(self, AtOnce::Answered { may_fail: false })
    }
}

/// Reports each closed workload whose loop cannot take simulated time: its users think for
/// zero, and its requests always end at the instant they are sent -- its target's work is
/// always zero, every message on the way crosses at once (links, the default latency, no
/// latency, loss or partition fault), and so do the calls it makes, or a fault fails them
/// at once from the start; no retry with a backoff waits for a call that may fail (a
/// bounded queue, a fault, the caller's breaker, bulkhead or rate limit, a topic that
/// rejects when full, anything it calls that may), and no publish waits for room in a full
/// topic. Such a run would spin at its
/// first instant until the clock stopped it. An open workload's requests are spaced by its
/// rate, and retries end after their attempts, so only a closed loop can spin for ever.
///
/// Call only with a scenario whose links, faults, policies and settings are all known
/// (without a mistake): a link, fault or policy left out might be what takes time. The
/// workloads in `rejected` (by the engine) are passed over: their mistake is told already.
pub(super) fn check_zero_time_loops(
    source: &Source<'_>,
    scenario: &Scenario,
    rejected: &BTreeSet<String>,
) {
    let pairs = Pairs::new(scenario);
    let endings = endings(scenario, &pairs);
    for (name, spec) in &scenario.workloads {
        if rejected.contains(name) {
            continue;
        }
        let Arrivals::Closed { think, .. } = spec.workload.arrivals() else {
            continue;
        };
        if !think.is_always_zero() {
            continue;
        }
        let Some(ending) = call_at_once(CLIENT, &spec.target, &pairs, &endings) else {
            continue;
        };
        let target = &spec.target;
        let message = match ending {
            AtOnce::Answered { .. } => {
                let others = callees(scenario, target);
                format!(
                    "closed workload {name:?} has zero think time and its requests to \
                     {target:?}{} take no simulated time: simulated time cannot advance; give \
                     it a think time, or give {target:?} some work",
                    match others.as_slice() {
                        [] => String::new(),
                        [one] => format!(" and its call to {one:?}"),
                        _ => format!(" and its calls to {}", quoted(&others)),
                    }
                )
            }
            AtOnce::Failed {
                fault,
                service,
                retried,
            } => format!(
                "closed workload {name:?} has zero think time and its requests fail at once \
                 (faults[{fault}] fails every call to {service:?} from the start{}): simulated \
                 time cannot advance; give it a think time",
                retried
                    .map(|policy| format!(", and policies[{policy}] retries without backoff"))
                    .unwrap_or_default()
            ),
        };
        let think_at = FieldPath::from_segments(vec![
            PathSegment::Key("workloads".to_string()),
            PathSegment::Key(name.clone()),
            PathSegment::Key("closed".to_string()),
            PathSegment::Key("think".to_string()),
        ]);
        source.report(source.error_at(&think_at, message));
    }
}

/// The services `service` calls, transitively, nearest first, each in the order its caller
/// calls it.
fn callees<'s>(scenario: &'s Scenario, service: &str) -> Vec<&'s str> {
    let mut found: Vec<&'s str> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut next = 0;
    let mut calls = Vec::new();
    if let Some(spec) = scenario.services.get(service) {
        collect_calls(&spec.steps, &mut calls);
    }
    loop {
        for callee in calls.drain(..) {
            if callee != service && seen.insert(callee) {
                found.push(callee);
            }
        }
        let Some(&reached) = found.get(next) else {
            return found;
        };
        next += 1;
        if let Some(spec) = scenario.services.get(reached) {
            collect_calls(&spec.steps, &mut calls);
        }
    }
}

fn collect_calls<'s>(steps: &'s [StepSpec], calls: &mut Vec<&'s str>) {
    for step in steps {
        match step {
            StepSpec::Call(callee) => calls.push(callee),
            StepSpec::Parallel(branches) => collect_calls(branches, calls),
            StepSpec::Choose(branches) => {
                for (_, steps) in branches {
                    collect_calls(steps, calls);
                }
            }
            StepSpec::Repeat(_, steps) => collect_calls(steps, calls),
            StepSpec::Work(_)
            | StepSpec::Send(_)
            | StepSpec::Publish { .. }
            | StepSpec::Fail { .. } => {}
        }
    }
}

/// `"a"`, `"a" and "b"`, `"a", "b" and "c"`, or the first three and how many more.
fn quoted(names: &[&str]) -> String {
    let shown: Vec<String> = names
        .iter()
        .take(3)
        .map(|name| format!("{name:?}"))
        .collect();
    match (names.len(), shown.as_slice()) {
        (_, [one]) => one.clone(),
        (2, [a, b]) => format!("{a} and {b}"),
        (3, [a, b, c]) => format!("{a}, {b} and {c}"),
        (n, _) => format!("{} and {} more", shown.join(", "), n - 3),
    }
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
