//! `[[faults]]` and `[[policies]]`: the file's own checks (one kind per fault, keys that apply
//! only to some kinds, names, faults and policies that could never act, one policy per pair)
//! and the mapping of their values onto [`Fault`] and [`CallPolicy`]. The values' rules are
//! the engine's: it checks them when the scenario is built, and the scenario locates its
//! errors at the key.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use crate::duration_format::format_duration;
use crate::fault::Fault;
use crate::node::CLIENT;
use crate::policy::{
    Backoff, CallPolicy, CircuitBreaker, Hedge, Jitter, RateLimit, Retry, RetryBudget,
};

use super::ScenarioError;
use super::error::{self, Source};
use super::file::{Dur, RawBreaker, RawFault, RawHedge, RawPolicy, RawRateLimit, RawRetry};
use super::names::{Names, unknown_service};
use super::values::{bounded_count, choice, count};

/// A checked `[[faults]]` entry.
#[derive(Debug, Clone)]
pub(super) struct FaultSpec {
    /// Its place in `[[faults]]`.
    pub(super) index: usize,
    pub(super) fault: Fault,
}

/// A checked `[[policies]]` entry.
#[derive(Debug, Clone)]
pub(super) struct PolicySpec {
    /// Its place in `[[policies]]`.
    pub(super) index: usize,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) policy: CallPolicy,
}

/// What faults and policies are checked against: the names, each service's replicas, who
/// calls and publishes to whom, and how long the simulation runs.
pub(super) struct Topology<'a> {
    pub(super) names: &'a Names<'a>,
    pub(super) replicas: BTreeMap<String, usize>,
    /// (caller, callee): calls between services, and `client` to each workload's target.
    pub(super) calls: BTreeSet<(String, String)>,
    /// (sender, receiver): one-way messages between services.
    pub(super) sends: BTreeSet<(String, String)>,
    /// (service, topic).
    pub(super) publishes: BTreeSet<(String, String)>,
    /// Callers whose calls are not known, because of a mistake already reported: services
    /// with a mistake, and `client` if a workload has one. They may call anyone, and their
    /// replicas are not known.
    pub(super) unknown: &'a BTreeSet<String>,
    /// `None` if `[simulation]` has a mistake.
    pub(super) duration: Option<Duration>,
}

impl Topology<'_> {
    /// Whether `from` calls `to`, or may (its calls are not known).
    fn calls(&self, from: &str, to: &str) -> bool {
        self.unknown.contains(from) || self.knows_call(from, to)
    }

    /// Whether `from` is known to call `to`.
    fn knows_call(&self, from: &str, to: &str) -> bool {
        self.calls.contains(&(from.to_string(), to.to_string()))
    }

    /// Whether `from` sends messages to `to` -- calls or one-way -- or may.
    fn messages(&self, from: &str, to: &str) -> bool {
        self.calls(from, to) || self.sends.contains(&(from.to_string(), to.to_string()))
    }

    /// Whether `from` publishes to `to`, or may.
    fn publishes(&self, from: &str, to: &str) -> bool {
        self.unknown.contains(from) || self.publishes.contains(&(from.to_string(), to.to_string()))
    }
}

/// An error if a key is set that only applies elsewhere.
fn only_with<T>(
    source: &Source<'_>,
    value: &Option<Spanned<T>>,
    allowed: bool,
    message: &str,
) -> Result<(), ScenarioError> {
    match value {
        Some(value) if !allowed => Err(source.error(value.span(), message)),
        _ => Ok(()),
    }
}

/// A name a fault or policy uses as a service (not `client`, not a topic).
fn service_name(
    source: &Source<'_>,
    names: &Names<'_>,
    name: &Spanned<String>,
    role: &str,
) -> Result<String, ScenarioError> {
    let wanted = name.get_ref();
    if names.is_service(wanted) {
        return Ok(wanted.clone());
    }
    if wanted == CLIENT {
        return Err(source.error(
            name.span(),
            format!("\"client\" is where workload requests come from, not a service: {role}"),
        ));
    }
    if names.is_topic(wanted) {
        return Err(source.error(
            name.span(),
            format!("{wanted:?} is a topic, not a service: {role}"),
        ));
    }
    Err(unknown_service(source, name, names.services, &[]))
}

/// A caller: `client` or a service.
fn caller_name(
    source: &Source<'_>,
    names: &Names<'_>,
    name: &Spanned<String>,
    what: &str,
) -> Result<String, ScenarioError> {
    let wanted = name.get_ref();
    if wanted == CLIENT || names.is_service(wanted) {
        return Ok(wanted.clone());
    }
    if names.is_topic(wanted) {
        return Err(source.error(
            name.span(),
            format!(
                "{what} cannot start at topic {wanted:?}: a topic delivers events, it makes no calls"
            ),
        ));
    }
    Err(unknown_service(source, name, names.services, &[CLIENT]))
}

/// Two names written `[A, B]`.
fn two<'s>(
    source: &Source<'_>,
    pair: &'s Spanned<Vec<Spanned<String>>>,
    kind: &str,
    example: &str,
) -> Result<[&'s Spanned<String>; 2], ScenarioError> {
    match pair.get_ref().as_slice() {
        [a, b] => Ok([a, b]),
        other => Err(source.error(
            pair.span(),
            format!(
                "{kind} takes two names, e.g. {kind} = {example}; got {}",
                other.len()
            ),
        )),
    }
}

/// The kinds of fault, in the order the messages list them.
const FAULT_KINDS: &str = "slow, latency, fail, loss, partition or crash";

/// Checks every `[[faults]]` entry (`None`: its mistake already reported), in file order,
/// reporting each one's first mistake. Returns the faults without a mistake, and whether
/// every entry is among them.
pub(super) fn check_faults(
    source: &Source<'_>,
    topology: &Topology<'_>,
    raw_faults: Vec<Option<Spanned<RawFault>>>,
) -> (Vec<FaultSpec>, bool) {
    let mut faults = Vec::new();
    let mut complete = true;
    for (index, fault) in raw_faults.into_iter().enumerate() {
        match fault.and_then(|fault| source.ok(check_fault(source, topology, fault))) {
            Some(fault) => faults.push(FaultSpec { index, fault }),
            None => complete = false,
        }
    }
    (faults, complete)
}

/// Checks one `[[faults]]` entry.
fn check_fault(
    source: &Source<'_>,
    topology: &Topology<'_>,
    raw: Spanned<RawFault>,
) -> Result<Fault, ScenarioError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let names = topology.names;
    let given: Vec<&str> = [
        raw.slow.as_ref().map(|_| "slow"),
        raw.latency.as_ref().map(|_| "latency"),
        raw.fail.as_ref().map(|_| "fail"),
        raw.loss.as_ref().map(|_| "loss"),
        raw.partition.as_ref().map(|_| "partition"),
        raw.crash.as_ref().map(|_| "crash"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let kind = match given.as_slice() {
        [kind] => *kind,
        [] => {
            return Err(source.error(
                span,
                format!(
                    "a fault has exactly one of the keys {FAULT_KINDS}; found none, e.g. \
                     {{ slow = \"payment\", factor = 3.0 }}"
                ),
            ));
        }
        several => {
            return Err(source.error(
                span,
                format!(
                    "a fault has exactly one of the keys {FAULT_KINDS}; found {}: write one \
                     [[faults]] entry per fault",
                    several.join(" and ")
                ),
            ));
        }
    };

    // Parameters of other kinds.
    only_with(
        source,
        &raw.factor,
        kind == "slow",
        "factor applies only to a slow fault, e.g. { slow = \"payment\", factor = 3.0 }",
    )?;
    only_with(
        source,
        &raw.extra,
        kind == "latency",
        "extra applies only to a latency fault, e.g. { latency = [\"frontend\", \"payment\"], extra = \"50ms\" }",
    )?;
    let probability_message = if kind == "partition" {
        "probability does not apply to a partition, which loses every message; for a fraction, \
         use { loss = [A, B], probability = P }"
    } else {
        "probability applies only to fail and loss faults, e.g. { fail = \"payment\", probability = 0.1 }"
    };
    only_with(
        source,
        &raw.probability,
        kind == "fail" || kind == "loss",
        probability_message,
    )?;
    only_with(
        source,
        &raw.replica,
        kind == "slow" || kind == "crash",
        "replica applies only to slow and crash faults, e.g. { crash = \"catalog\", replica = 0 }",
    )?;
    let missing = |key: &str, example: &str| {
        source.error(
            span.clone(),
            format!("missing key {key:?}: a {kind} fault needs it, e.g. {example}"),
        )
    };
    let probability = |raw: &Option<Spanned<f64>>| match raw {
        None => Err(missing(
            "probability",
            if kind == "fail" {
                "{ fail = \"payment\", probability = 0.1 }"
            } else {
                "{ loss = [\"frontend\", \"payment\"], probability = 0.1 }"
            },
        )),
        Some(p) => Ok(*p.get_ref()),
    };

    let mut fault = match kind {
        "slow" | "fail" | "crash" => {
            let (name, role) = match kind {
                "slow" => (&raw.slow, "a slow fault acts on a service's processing"),
                "fail" => (&raw.fail, "a fail fault acts on the calls to a service"),
                _ => (&raw.crash, "a crash fault takes a service's replicas down"),
            };
            let name = name.as_ref().expect("the kind's key is set");
            let service = service_name(source, names, name, role)?;
            match kind {
                "slow" => {
                    let Some(factor) = &raw.factor else {
                        return Err(missing("factor", "{ slow = \"payment\", factor = 3.0 }"));
                    };
                    Fault::slow(&service, *factor.get_ref())
                }
                "fail" => Fault::fail(&service, probability(&raw.probability)?),
                _ => Fault::crash(&service),
            }
        }
        "latency" => {
            let pair = raw.latency.as_ref().expect("the kind's key is set");
            let [from, to] = two(source, pair, "latency", "[\"frontend\", \"payment\"]")?;
            let from_name = caller_name(source, names, from, "a latency fault")?;
            let to_name = to.get_ref();
            if to_name == CLIENT {
                return Err(source.error(
                    to.span(),
                    "latency [A, \"client\"] is never used: write [\"client\", B], which delays \
                     both the request to B and its response",
                ));
            }
            if !names.is_service(to_name) && !names.is_topic(to_name) {
                let hint =
                    names.suggestion(source, to_name, names.services.iter().chain(names.topics));
                return Err(source.error(to.span(), format!("unknown service {to_name:?}{hint}")));
            }
            if !topology.messages(&from_name, to_name) && !topology.publishes(&from_name, to_name) {
                return Err(source.error(
                    pair.span(),
                    never_used("this fault would never act", &from_name, to_name, topology),
                ));
            }
            let Some(extra) = &raw.extra else {
                return Err(missing(
                    "extra",
                    "{ latency = [\"frontend\", \"payment\"], extra = \"50ms\" }",
                ));
            };
            let Dur(extra) = *extra.get_ref();
            Fault::latency(&from_name, to_name, extra)
        }
        _ => {
            // loss and partition: two sides, either direction.
            let pair = if kind == "loss" {
                raw.loss.as_ref()
            } else {
                raw.partition.as_ref()
            }
            .expect("the kind's key is set");
            let [a, b] = two(source, pair, kind, "[\"frontend\", \"payment\"]")?;
            let mut sides = Vec::with_capacity(2);
            for side in [a, b] {
                if names.is_only_topic(side.get_ref()) {
                    return Err(source.error(
                        side.span(),
                        format!(
                            "{:?} is a topic: {kind} acts on the messages between services \
                             (and \"client\"), not on publishes",
                            side.get_ref()
                        ),
                    ));
                }
                sides.push(caller_name(
                    source,
                    names,
                    side,
                    &format!("a {kind} fault"),
                )?);
            }
            let [a_name, b_name] = [&sides[0], &sides[1]];
            if a_name != b_name
                && !topology.messages(a_name, b_name)
                && !topology.messages(b_name, a_name)
            {
                let message = if a_name == CLIENT || b_name == CLIENT {
                    let other = if a_name == CLIENT { b_name } else { a_name };
                    format!("no workload targets {other:?}, so this fault would never act")
                } else {
                    format!(
                        "{a_name:?} and {b_name:?} never call each other, so this fault would \
                         never act"
                    )
                };
                return Err(source.error(pair.span(), message));
            }
            if kind == "loss" {
                Fault::loss(a_name, b_name, probability(&raw.probability)?)
            } else {
                Fault::partition(a_name, b_name)
            }
        }
    };

    if let Some(replica) = &raw.replica {
        let index: usize = count(source, replica, "replica")?;
        let service = &fault.services()[0].to_string();
        let replicas = topology.replicas.get(service).copied().unwrap_or(1);
        if index >= replicas && !topology.unknown.contains(service) {
            return Err(source.error(
                replica.span(),
                format!(
                    "{service} has {replicas} replica{} (numbered from 0), so there is no \
                     replica {index}{}",
                    if replicas == 1 { "" } else { "s" },
                    if replicas == 1 {
                        "; set replicas = N on the service, or leave replica out to act on the \
                         whole service"
                    } else {
                        ""
                    },
                ),
            ));
        }
        fault = fault.replica(index);
    }
    if let Some(at) = &raw.at {
        let Dur(start) = *at.get_ref();
        if let Some(duration) = topology.duration
            && start >= duration
            && !duration.is_zero()
        {
            return Err(source.error(
                at.span(),
                format!(
                    "the fault starts at {}, when the simulation's duration of {} is over: it \
                     would never act",
                    format_duration(start),
                    format_duration(duration)
                ),
            ));
        }
        fault = fault.at(start);
    }
    if let Some(lasting) = &raw.lasting {
        fault = fault.lasting(lasting.get_ref().0);
    }
    Ok(fault)
}

/// Why a fault or policy on `from -> to` would never act, with the reverse suggested when it
/// is used.
fn never_used(what: &str, from: &str, to: &str, topology: &Topology<'_>) -> String {
    let mut message = if from == CLIENT && topology.names.is_topic(to) {
        format!(
            "workloads send requests to services, they do not publish to topics like {to:?}, so \
             {what}"
        )
    } else if from == CLIENT {
        format!("no workload targets {to:?}, so {what}")
    } else if topology.names.is_topic(to) {
        format!("{from:?} never publishes to {to:?}, so {what}")
    } else {
        format!("{from:?} never calls {to:?}, so {what}")
    };
    if topology.knows_call(to, from) {
        message.push_str(&format!(
            "; {to:?} calls {from:?}: did you mean from {to:?} to {from:?}?"
        ));
    }
    message
}

/// Checks every `[[policies]]` entry (`None`: its mistake already reported), in file
/// order, and that no pair has two, reporting each entry's first mistake; `text` is the
/// file's, to tell the line of a pair's first policy. Returns the policies without a
/// mistake, and whether every entry is among them.
pub(super) fn check_policies(
    source: &Source<'_>,
    topology: &Topology<'_>,
    text: &str,
    raw_policies: Vec<Option<Spanned<RawPolicy>>>,
) -> (Vec<PolicySpec>, bool) {
    let mut policies = Vec::new();
    let mut complete = true;
    // Where each pair was first set; its line is counted only for the message.
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (index, policy) in raw_policies.into_iter().enumerate() {
        let Some(policy) = policy else {
            complete = false;
            continue;
        };
        let span = policy.span();
        let Some(spec) = source.ok(check_policy(source, topology, policy)) else {
            complete = false;
            continue;
        };
        let pair = (spec.from.clone(), spec.to.clone());
        if let Some(&first) = seen.get(&pair) {
            // Counting lines is the costly part of the message: only for one that is listed.
            let first = if source.listing() {
                error::line_column(text, first).0
            } else {
                0
            };
            source.report(source.error(
                span,
                format!(
                    "the policy {} -> {} is set twice (first at line {first})",
                    spec.from, spec.to
                ),
            ));
            complete = false;
            continue;
        }
        seen.insert(pair, span.start);
        policies.push(PolicySpec { index, ..spec });
    }
    (policies, complete)
}

/// Checks one `[[policies]]` entry (not whether its pair is set twice).
fn check_policy(
    source: &Source<'_>,
    topology: &Topology<'_>,
    raw: Spanned<RawPolicy>,
) -> Result<PolicySpec, ScenarioError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let names = topology.names;
    let from = caller_name(source, names, &raw.from, "a policy")?;
    let to = raw.to.get_ref();
    if names.is_client(to) {
        return Err(source.error(
            raw.to.span(),
            "a policy cannot lead to \"client\": it applies to calls from `from` to `to`",
        ));
    }
    if names.is_only_topic(to) {
        return Err(source.error(
            raw.to.span(),
            format!("{to:?} is a topic: a policy applies to calls, and publishes are not calls"),
        ));
    }
    if !names.is_service(to) {
        return Err(unknown_service(source, &raw.to, names.services, &[]));
    }
    if !topology.calls(&from, to) {
        return Err(source.error(
            raw.to.span(),
            never_used("this policy would never apply", &from, to, topology),
        ));
    }
    let mut policy = CallPolicy::new();
    let mut parts = 0;
    if let Some(timeout) = &raw.timeout {
        policy = policy.timeout(timeout.get_ref().0);
        parts += 1;
    }
    if let Some(retry) = raw.retry {
        policy = policy.retry(check_retry(source, retry.into_inner())?);
        parts += 1;
    }
    if let Some(breaker) = raw.circuit_breaker {
        policy = policy.circuit_breaker(check_breaker(source, breaker.into_inner())?);
        parts += 1;
    }
    if let Some(bulkhead) = &raw.bulkhead {
        policy = policy.bulkhead(count(source, bulkhead, "bulkhead")?);
        parts += 1;
    }
    if let Some(limit) = raw.rate_limit {
        policy = policy.rate_limit(check_rate_limit(source, limit.into_inner())?);
        parts += 1;
    }
    if let Some(hedge) = raw.hedge {
        let hedge_span = hedge.span();
        policy = policy.hedge(check_hedge(source, hedge_span, hedge.into_inner())?);
        parts += 1;
    }
    if parts == 0 {
        return Err(source.error(
            span,
            "a policy without parts changes nothing: add timeout, retry, circuit_breaker, \
             bulkhead, rate_limit or hedge",
        ));
    }
    Ok(PolicySpec {
        index: 0,
        from,
        to: to.clone(),
        policy,
    })
}

fn check_retry(source: &Source<'_>, raw: RawRetry) -> Result<Retry, ScenarioError> {
    let mut retry = Retry::default();
    if let Some(max) = &raw.max_attempts {
        retry = Retry {
            max_attempts: bounded_count(source, max, "max_attempts", Retry::check_max_attempts)?,
            ..retry
        };
    }
    let constant = match &raw.backoff {
        Some(backoff) => {
            choice(source, backoff, "backoff", &["constant", "exponential"])? == "constant"
        }
        None => raw.delay.is_some(),
    };
    let backoff = if constant {
        for (key, value) in [("base", &raw.base), ("cap", &raw.cap)] {
            only_with(
                source,
                value,
                false,
                &format!(
                    "{key} applies only to backoff = \"exponential\"; a constant backoff waits its delay"
                ),
            )?;
        }
        let Some(delay) = &raw.delay else {
            let at = raw.backoff.as_ref().map_or(0..0, Spanned::span);
            return Err(source.error(
                at,
                "a constant backoff needs a delay, e.g. { backoff = \"constant\", delay = \"100ms\" }",
            ));
        };
        Backoff::constant(delay.get_ref().0)
    } else {
        only_with(
            source,
            &raw.delay,
            false,
            "delay applies only to backoff = \"constant\"; an exponential backoff takes base and cap",
        )?;
        let base = raw
            .base
            .as_ref()
            .map_or(Backoff::DEFAULT_BASE, |b| b.get_ref().0);
        match &raw.cap {
            None => Backoff::exponential_from(base),
            Some(cap) => Backoff::exponential(base, cap.get_ref().0),
        }
    };
    retry = retry.backoff(backoff);
    if let Some(jitter) = &raw.jitter {
        retry = retry.jitter(
            match choice(
                source,
                jitter,
                "jitter",
                &["none", "full", "equal", "decorrelated"],
            )? {
                "none" => Jitter::None,
                "full" => Jitter::Full,
                "equal" => Jitter::Equal,
                _ => Jitter::Decorrelated,
            },
        );
    }
    if let Some(budget) = raw.budget {
        let budget = budget.into_inner();
        let mut mapped = RetryBudget::ratio(*budget.ratio.get_ref());
        if let Some(rate) = &budget.min_per_second {
            mapped = mapped.min_per_second(*rate.get_ref());
        }
        if let Some(window) = &budget.window {
            mapped = mapped.window(window.get_ref().0);
        }
        retry = retry.budget(mapped);
    }
    Ok(retry)
}

fn check_breaker(source: &Source<'_>, raw: RawBreaker) -> Result<CircuitBreaker, ScenarioError> {
    let mut breaker = CircuitBreaker::default();
    if let Some(rate) = &raw.failure_rate {
        breaker = breaker.failure_rate(*rate.get_ref());
    }
    match (&raw.window_calls, &raw.window_time) {
        (Some(_), Some(time)) => {
            return Err(source.error(
                time.span(),
                "a circuit breaker's window is either window_calls or window_time, not both",
            ));
        }
        (Some(calls), None) => {
            breaker = breaker.window_calls(count(source, calls, "window_calls")?);
        }
        (None, Some(time)) => breaker = breaker.window_time(time.get_ref().0),
        (None, None) => {}
    }
    if let Some(minimum) = &raw.minimum_calls {
        breaker = breaker.minimum_calls(count(source, minimum, "minimum_calls")?);
    }
    if let Some(open_for) = &raw.open_for {
        breaker = breaker.open_for(open_for.get_ref().0);
    }
    if let Some(trials) = &raw.trial_calls {
        breaker = breaker.trial_calls(count(source, trials, "trial_calls")?);
    }
    if let Some(slow) = &raw.slow_call {
        breaker = breaker.slow_call(slow.get_ref().0);
    }
    Ok(breaker)
}

fn check_rate_limit(source: &Source<'_>, raw: RawRateLimit) -> Result<RateLimit, ScenarioError> {
    let mut limit = RateLimit::per_second(*raw.per_second.get_ref());
    if let Some(burst) = &raw.burst {
        limit = limit.burst(count(source, burst, "burst")?);
    }
    Ok(limit)
}

fn check_hedge(
    source: &Source<'_>,
    span: Range<usize>,
    raw: RawHedge,
) -> Result<Hedge, ScenarioError> {
    match (&raw.after, &raw.percentile) {
        (Some(_), Some(percentile)) => Err(source.error(
            percentile.span(),
            "a hedge waits either a fixed delay (after) or a percentile, not both",
        )),
        (None, None) => Err(source.error(
            span,
            "a hedge needs after = DURATION or percentile = P, e.g. { after = \"10ms\" } or \
             { percentile = 95 }",
        )),
        (Some(after), None) => {
            only_with(
                source,
                &raw.min_samples,
                false,
                "min_samples applies only to a percentile hedge, e.g. { percentile = 95, min_samples = 100 }",
            )?;
            Ok(Hedge::after(after.get_ref().0))
        }
        (None, Some(percentile)) => Ok(Hedge::Percentile {
            percentile: *percentile.get_ref(),
            min_samples: match &raw.min_samples {
                None => Hedge::DEFAULT_MIN_SAMPLES,
                Some(samples) => count(source, samples, "min_samples")?,
            },
        }),
    }
}
