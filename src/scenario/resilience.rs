//! `[[faults]]` and `[[policies]]`, and the shared checks of small values: every value is
//! checked here, located at its key, so that the engine never rejects what a file says (its
//! checks run again when the simulation is built, as a safety net located at the entry).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use crate::duration_format::format_duration;
use crate::fault::Fault;
use crate::link::CLIENT;
use crate::policy::{
    Backoff, CallPolicy, CircuitBreaker, Hedge, Jitter, RateLimit, Retry, RetryBudget,
};
use crate::suggest::closest;

use super::error::Source;
use super::file::{Dur, RawBreaker, RawFault, RawHedge, RawPolicy, RawRateLimit, RawRetry};
use super::{Names, ScenarioError, unknown_service};

/// Requests per second above one per nanosecond cannot be represented on the clock.
const MAX_RATE: f64 = 1e9;

/// A checked `[[faults]]` entry.
#[derive(Debug, Clone)]
pub(super) struct FaultSpec {
    pub(super) span: Range<usize>,
    pub(super) fault: Fault,
}

/// A checked `[[policies]]` entry.
#[derive(Debug, Clone)]
pub(super) struct PolicySpec {
    pub(super) span: Range<usize>,
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
    /// (service, topic).
    pub(super) publishes: BTreeSet<(String, String)>,
    pub(super) duration: Duration,
}

impl Topology<'_> {
    fn calls(&self, from: &str, to: &str) -> bool {
        self.calls.contains(&(from.to_string(), to.to_string()))
    }

    fn publishes(&self, from: &str, to: &str) -> bool {
        self.publishes.contains(&(from.to_string(), to.to_string()))
    }
}

/// One of the allowed strings, or an error naming the closest (or all of them).
pub(super) fn choice<'o>(
    source: &Source<'_>,
    value: &Spanned<String>,
    what: &str,
    options: &[&'o str],
) -> Result<&'o str, ScenarioError> {
    let written = value.get_ref().as_str();
    if let Some(found) = options.iter().find(|option| **option == written) {
        return Ok(found);
    }
    let hint = match closest(written, options.iter().copied()) {
        Some(close) => format!("did you mean {close:?}?"),
        None => {
            let quoted: Vec<String> = options.iter().map(|o| format!("{o:?}")).collect();
            match quoted.as_slice() {
                [a, b] => format!("expected {a} or {b}"),
                _ => format!("expected one of {}", quoted.join(", ")),
            }
        }
    };
    Err(source.error(value.span(), format!("unknown {what} {written:?}; {hint}")))
}

/// A whole number of at least `min` that fits `T`.
pub(super) fn whole<T: TryFrom<i64>>(
    source: &Source<'_>,
    value: &Spanned<i64>,
    key: &str,
    min: i64,
) -> Result<T, ScenarioError> {
    let number = *value.get_ref();
    if number < min {
        let bound = if min == 0 {
            format!("{key} must be 0 or more")
        } else {
            format!("{key} must be at least {min}")
        };
        return Err(source.error(value.span(), format!("{bound}, got {number}")));
    }
    T::try_from(number)
        .map_err(|_| source.error(value.span(), format!("{key} is too large: {number}")))
}

/// A duration greater than zero.
pub(super) fn positive(
    source: &Source<'_>,
    value: &Spanned<Dur>,
    key: &str,
) -> Result<Duration, ScenarioError> {
    let Dur(duration) = *value.get_ref();
    if duration.is_zero() {
        return Err(source.error(value.span(), format!("{key} must be greater than 0s")));
    }
    Ok(duration)
}

/// A finite number in `low..=high` (`low` excluded when `open_low`).
fn fraction(
    source: &Source<'_>,
    value: &Spanned<f64>,
    key: &str,
    open_low: bool,
    explain: &str,
) -> Result<f64, ScenarioError> {
    let number = *value.get_ref();
    let ok = if open_low {
        number > 0.0 && number <= 1.0
    } else {
        (0.0..=1.0).contains(&number)
    };
    if !ok {
        let range = if open_low { "(0, 1]" } else { "[0, 1]" };
        return Err(source.error(
            value.span(),
            format!("{key} must be within {range}{explain}, got {number}"),
        ));
    }
    Ok(number)
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
    Err(unknown_service(source, name, names.services))
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
    let mut known = names.services.to_vec();
    known.push(CLIENT);
    Err(unknown_service(source, name, &known))
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

/// Checks one `[[faults]]` entry.
pub(super) fn check_fault(
    source: &Source<'_>,
    topology: &Topology<'_>,
    raw: Spanned<RawFault>,
) -> Result<FaultSpec, ScenarioError> {
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
        Some(p) => fraction(source, p, "probability", false, " (0.1 = one in ten)"),
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
                    let value = *factor.get_ref();
                    if !(value.is_finite() && value > 0.0) {
                        return Err(source.error(
                            factor.span(),
                            format!(
                                "factor must be a finite number > 0 (3.0 = three times slower), got {value}"
                            ),
                        ));
                    }
                    Fault::slow(&service, value)
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
                let hint = closest(to_name, names.services.iter().chain(names.topics).copied())
                    .map(|close| format!("; did you mean {close:?}?"))
                    .unwrap_or_default();
                return Err(source.error(to.span(), format!("unknown service {to_name:?}{hint}")));
            }
            if !topology.calls(&from_name, to_name) && !topology.publishes(&from_name, to_name) {
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
                if names.is_topic(side.get_ref()) {
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
            if a_name == b_name {
                return Err(source.error(
                    pair.span(),
                    format!("a {kind} fault needs two different sides, got {a_name:?} twice"),
                ));
            }
            if !topology.calls(a_name, b_name) && !topology.calls(b_name, a_name) {
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
        let index: usize = whole(source, replica, "replica", 0)?;
        let service = &fault.services()[0].to_string();
        let replicas = topology.replicas.get(service).copied().unwrap_or(1);
        if index >= replicas {
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
        if start >= topology.duration && !topology.duration.is_zero() {
            return Err(source.error(
                at.span(),
                format!(
                    "the fault starts at {}, when the simulation's duration of {} is over: it \
                     would never act",
                    format_duration(start),
                    format_duration(topology.duration)
                ),
            ));
        }
        fault = fault.at(start);
    }
    if let Some(lasting) = &raw.lasting {
        fault = fault.lasting(positive(source, lasting, "lasting")?);
    }
    fault
        .validate()
        .map_err(|e| source.error(span.clone(), e.to_string()))?;
    Ok(FaultSpec { span, fault })
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
    if topology.calls(to, from) {
        message.push_str(&format!(
            "; {to:?} calls {from:?}: did you mean from {to:?} to {from:?}?"
        ));
    }
    message
}

/// Checks one `[[policies]]` entry (not whether its pair is set twice).
pub(super) fn check_policy(
    source: &Source<'_>,
    topology: &Topology<'_>,
    raw: Spanned<RawPolicy>,
) -> Result<PolicySpec, ScenarioError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let names = topology.names;
    let from = caller_name(source, names, &raw.from, "a policy")?;
    let to = raw.to.get_ref();
    if to == CLIENT {
        return Err(source.error(
            raw.to.span(),
            "a policy cannot lead to \"client\": it applies to calls from `from` to `to`",
        ));
    }
    if names.is_topic(to) {
        return Err(source.error(
            raw.to.span(),
            format!("{to:?} is a topic: a policy applies to calls, and publishes are not calls"),
        ));
    }
    if !names.is_service(to) {
        return Err(unknown_service(source, &raw.to, names.services));
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
        policy = policy.timeout(positive(source, timeout, "timeout")?);
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
        policy = policy.bulkhead(whole(source, bulkhead, "bulkhead", 1)?);
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
    policy
        .validate()
        .map_err(|reason| source.error(span.clone(), reason))?;
    Ok(PolicySpec {
        span,
        from,
        to: to.clone(),
        policy,
    })
}

fn check_retry(source: &Source<'_>, raw: RawRetry) -> Result<Retry, ScenarioError> {
    let defaults = Retry::default();
    let max_attempts = match &raw.max_attempts {
        None => defaults.max_attempts(),
        Some(max) => {
            if *max.get_ref() < 1 {
                return Err(source.error(
                    max.span(),
                    format!(
                        "max_attempts counts the first attempt too, so it must be at least 1, got {}",
                        max.get_ref()
                    ),
                ));
            }
            whole(source, max, "max_attempts", 1)?
        }
    };
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
        let base = match &raw.base {
            None => Duration::from_millis(25),
            Some(base) => positive(source, base, "base")?,
        };
        let cap = match &raw.cap {
            None => base.saturating_mul(10),
            Some(cap) => {
                let Dur(value) = *cap.get_ref();
                if value < base {
                    return Err(source.error(
                        cap.span(),
                        format!(
                            "cap {} is below base {}: the longest wait cannot be shorter than the first",
                            format_duration(value),
                            format_duration(base)
                        ),
                    ));
                }
                value
            }
        };
        Backoff::exponential(base, cap)
    };
    let jitter = match &raw.jitter {
        None => Jitter::Full,
        Some(jitter) => match choice(
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
    };
    let mut retry = Retry::attempts(max_attempts)
        .backoff(backoff)
        .jitter(jitter);
    if let Some(budget) = raw.budget {
        let budget = budget.into_inner();
        let ratio = fraction(
            source,
            &budget.ratio,
            "ratio",
            false,
            " (0.2 = retries may add 20% to the calls)",
        )?;
        let mut checked = RetryBudget::ratio(ratio);
        if let Some(rate) = &budget.min_per_second {
            let value = *rate.get_ref();
            if !(value.is_finite() && value >= 0.0) {
                return Err(source.error(
                    rate.span(),
                    format!("min_per_second must be a finite number >= 0, got {value}"),
                ));
            }
            checked = checked.min_per_second(value);
        }
        if let Some(window) = &budget.window {
            checked = checked.window(positive(source, window, "window")?);
        }
        retry = retry.budget(checked);
    }
    Ok(retry)
}

/// The breaker's minimum calls when the file does not set them (Resilience4j's default).
const DEFAULT_MINIMUM_CALLS: u32 = 100;

fn check_breaker(source: &Source<'_>, raw: RawBreaker) -> Result<CircuitBreaker, ScenarioError> {
    let mut breaker = CircuitBreaker::default();
    if let Some(rate) = &raw.failure_rate {
        breaker = breaker.failure_rate(fraction(
            source,
            rate,
            "failure_rate",
            true,
            " (a share of calls: 0.5 = half)",
        )?);
    }
    let mut window_calls = None;
    match (&raw.window_calls, &raw.window_time) {
        (Some(_), Some(time)) => {
            return Err(source.error(
                time.span(),
                "a circuit breaker's window is either window_calls or window_time, not both",
            ));
        }
        (Some(calls), None) => {
            let calls: u32 = whole(source, calls, "window_calls", 1)?;
            window_calls = Some(calls);
            breaker = breaker.window_calls(calls);
        }
        (None, Some(time)) => {
            breaker = breaker.window_time(positive(source, time, "window_time")?);
        }
        (None, None) => {}
    }
    let window_size = window_calls.unwrap_or(DEFAULT_MINIMUM_CALLS);
    match &raw.minimum_calls {
        // Like Resilience4j, a window of fewer calls lowers the default minimum.
        None if raw.window_time.is_none() => {
            breaker = breaker.minimum_calls(DEFAULT_MINIMUM_CALLS.min(window_size));
        }
        None => {}
        Some(minimum) => {
            let value: u32 = whole(source, minimum, "minimum_calls", 1)?;
            if raw.window_time.is_none() && value > window_size {
                let whose = if window_calls.is_some() {
                    "its window_calls"
                } else {
                    "the default window_calls"
                };
                return Err(source.error(
                    minimum.span(),
                    format!(
                        "minimum_calls {value} exceeds {whose} of {window_size}, so the breaker \
                         could never open"
                    ),
                ));
            }
            breaker = breaker.minimum_calls(value);
        }
    }
    if let Some(open_for) = &raw.open_for {
        breaker = breaker.open_for(positive(source, open_for, "open_for")?);
    }
    if let Some(trials) = &raw.trial_calls {
        breaker = breaker.trial_calls(whole(source, trials, "trial_calls", 1)?);
    }
    if let Some(slow) = &raw.slow_call {
        breaker = breaker.slow_call(positive(source, slow, "slow_call")?);
    }
    Ok(breaker)
}

fn check_rate_limit(source: &Source<'_>, raw: RawRateLimit) -> Result<RateLimit, ScenarioError> {
    let rate = *raw.per_second.get_ref();
    if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE) {
        return Err(source.error(
            raw.per_second.span(),
            format!("per_second must be a finite number > 0 and at most 1e9, got {rate}"),
        ));
    }
    let mut limit = RateLimit::per_second(rate);
    if let Some(burst) = &raw.burst {
        limit = limit.burst(whole(source, burst, "burst", 1)?);
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
        (None, Some(percentile)) => {
            let value = *percentile.get_ref();
            if !(value > 0.0 && value < 100.0) {
                return Err(source.error(
                    percentile.span(),
                    format!("percentile must be within (0, 100), e.g. 95, got {value}"),
                ));
            }
            let min_samples = match &raw.min_samples {
                None => 100,
                Some(samples) => whole(source, samples, "min_samples", 1)?,
            };
            Ok(Hedge::Percentile {
                percentile: value,
                min_samples,
            })
        }
    }
}
