//! A service's `steps`: `{ call = "svc" }`, `{ work = DIST }`, `{ send = "svc" }`,
//! `{ publish = "topic" }`, `{ fail = P }`, `{ parallel = [STEP, ...] }`,
//! `{ choose = [{ p, steps }, ...] }` and `{ repeat = N, steps = [...] }`, checked against the
//! declared names, and mapped onto a [`Script`] when the simulation is built. The rules of
//! each value (probabilities, counts, distributions) are the script's, checked when the
//! service is added.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::distribution::Distribution;
use crate::runtime::handle::{ServiceHandle, TopicHandle};
use crate::script::Script;

use super::ScenarioError;
use super::error::Source;
use super::file::{RawBranch, RawStep};
use super::graph::Edges;
use super::names::{Names, unknown_service, unknown_topic};
use super::values::{bounded_count, checked_distribution};

/// A checked step.
#[derive(Debug, Clone)]
pub(super) enum StepSpec {
    Call(String),
    Work(Distribution),
    Send(String),
    Publish {
        topic: String,
        keys: Option<u64>,
    },
    Fail {
        probability: f64,
        error: Option<String>,
        permanent: bool,
    },
    Parallel(Vec<StepSpec>),
    Choose(Vec<(f64, Vec<StepSpec>)>),
    Repeat(u32, Vec<StepSpec>),
}

/// The keys that name a step's kind; each step has exactly one.
const KINDS: &str = "call, work, send, publish, fail, parallel, choose or repeat";

/// Checks one step (and the steps inside it); records its calls, sends and publishes in
/// `edges`.
pub(super) fn check_step(
    source: &Source<'_>,
    names: &Names<'_>,
    step: Spanned<RawStep>,
    edges: &mut Edges,
) -> Result<StepSpec, ScenarioError> {
    let span = step.span();
    let RawStep {
        call,
        work,
        parallel,
        publish,
        keys,
        send,
        fail,
        error,
        permanent,
        choose,
        repeat,
        steps,
    } = step.into_inner();
    let given: Vec<&str> = [
        call.as_ref().map(|_| "call"),
        work.as_ref().map(|_| "work"),
        send.as_ref().map(|_| "send"),
        publish.as_ref().map(|_| "publish"),
        fail.as_ref().map(|_| "fail"),
        parallel.as_ref().map(|_| "parallel"),
        choose.as_ref().map(|_| "choose"),
        repeat.as_ref().map(|_| "repeat"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() != 1 {
        let found = if given.is_empty() {
            "none".to_string()
        } else {
            given.join(" and ")
        };
        return Err(source.error(
            span,
            format!("a step has exactly one of the keys {KINDS}; found {found}"),
        ));
    }
    // Keys that go only beside one kind.
    let beside = [
        (
            keys.as_ref().map(Spanned::span),
            "keys",
            publish.is_some(),
            "{ publish = \"orders\", keys = 100 }",
        ),
        (
            error.as_ref().map(Spanned::span),
            "error",
            fail.is_some(),
            "{ fail = 0.01, error = \"card declined\" }",
        ),
        (
            permanent.as_ref().map(Spanned::span),
            "permanent",
            fail.is_some(),
            "{ fail = 0.01, error = \"card declined\", permanent = true }",
        ),
        (
            steps.as_ref().map(Spanned::span),
            "steps",
            repeat.is_some(),
            "{ repeat = 3, steps = [{ call = \"catalog\" }] }",
        ),
    ];
    for (written, key, allowed, example) in beside {
        if let (Some(written), false) = (written, allowed) {
            let kind = match key {
                "keys" => "a publish",
                "error" | "permanent" => "a fail",
                _ => "a repeat",
            };
            return Err(source.error(
                written,
                format!("{key} applies only to {kind} step, e.g. {example}"),
            ));
        }
    }
    if let Some(call) = call {
        check_service_target(source, names, &call, "call")?;
        let name = call.get_ref().clone();
        edges.calls.push(call);
        return Ok(StepSpec::Call(name));
    }
    if let Some(send) = send {
        check_service_target(source, names, &send, "send")?;
        let name = send.get_ref().clone();
        edges.sends.push(send);
        return Ok(StepSpec::Send(name));
    }
    if let Some(publish) = publish {
        if !names.is_topic(publish.get_ref()) {
            return Err(unknown_topic(source, &publish, names, true));
        }
        let keys = match keys {
            None => None,
            Some(keys) => match u64::try_from(*keys.get_ref()) {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    return Err(source.error(
                        keys.span(),
                        format!("keys must be at least 1, got {}", keys.get_ref()),
                    ));
                }
            },
        };
        let topic = publish.get_ref().clone();
        edges.publishes.push(publish);
        return Ok(StepSpec::Publish { topic, keys });
    }
    if let Some(work) = work {
        return Ok(StepSpec::Work(checked_distribution(source, work)?));
    }
    if let Some(fail) = fail {
        return Ok(StepSpec::Fail {
            probability: fail.into_inner(),
            error: error.map(Spanned::into_inner),
            permanent: permanent.is_some_and(Spanned::into_inner),
        });
    }
    if let Some(repeat) = repeat {
        let times = bounded_count(source, &repeat, "repeat", Script::check_repeat)?;
        let Some(steps) = steps else {
            return Err(source.error(
                repeat.span(),
                "repeat needs the steps to repeat, e.g. { repeat = 3, steps = [{ call = \"catalog\" }] }",
            ));
        };
        return Ok(StepSpec::Repeat(
            times,
            check_steps(source, names, steps.into_inner(), edges)?,
        ));
    }
    if let Some(choose) = choose {
        let branches = choose
            .into_inner()
            .into_iter()
            .map(|branch| {
                let RawBranch { p, steps } = branch.into_inner();
                Ok((p.into_inner(), check_steps(source, names, steps, edges)?))
            })
            .collect::<Result<Vec<_>, ScenarioError>>()?;
        return Ok(StepSpec::Choose(branches));
    }
    let Some(parallel) = parallel else {
        return Err(source.error(span, "empty step"));
    };
    let parallel_span = parallel.span();
    let branches = parallel.into_inner();
    if branches.is_empty() {
        return Err(source.error(
            parallel_span,
            "parallel needs at least one branch, e.g. [{ call = \"a\" }, { call = \"b\" }]",
        ));
    }
    Ok(StepSpec::Parallel(
        branches
            .into_iter()
            .map(|branch| check_step(source, names, branch, edges))
            .collect::<Result<_, _>>()?,
    ))
}

/// Checks a list of steps, in order.
pub(super) fn check_steps(
    source: &Source<'_>,
    names: &Names<'_>,
    steps: Vec<Spanned<RawStep>>,
    edges: &mut Edges,
) -> Result<Vec<StepSpec>, ScenarioError> {
    steps
        .into_iter()
        .map(|step| check_step(source, names, step, edges))
        .collect()
}

/// The service a call or send step names must be one.
fn check_service_target(
    source: &Source<'_>,
    names: &Names<'_>,
    target: &Spanned<String>,
    kind: &str,
) -> Result<(), ScenarioError> {
    if names.is_service(target.get_ref()) {
        return Ok(());
    }
    if names.is_topic(target.get_ref()) {
        return Err(source.error(
            target.span(),
            format!(
                "{0:?} is a topic, not a service: a {kind} goes to a service; publish to a topic with {{ publish = {0:?} }}",
                target.get_ref()
            ),
        ));
    }
    Err(unknown_service(source, target, names.services, &[]))
}

/// Maps `steps` (after the service's own `work`, if any) onto a script, with the handles of
/// the services (every one taken before any is added) and of the topics; `None` if one is
/// missing (a part with a mistake).
pub(super) fn script(
    work: Option<&Distribution>,
    steps: &[StepSpec],
    handles: &BTreeMap<String, ServiceHandle<Script>>,
    topics: &BTreeMap<String, TopicHandle<()>>,
) -> Option<Script> {
    let script = match work {
        Some(work) => Script::new().work(work.clone()),
        None => Script::new(),
    };
    steps
        .iter()
        .try_fold(script, |script, step| bind(script, step, handles, topics))
}

/// Appends `step` to `script`.
fn bind(
    script: Script,
    step: &StepSpec,
    handles: &BTreeMap<String, ServiceHandle<Script>>,
    topics: &BTreeMap<String, TopicHandle<()>>,
) -> Option<Script> {
    let list = |steps: &[StepSpec]| self::script(None, steps, handles, topics);
    Some(match step {
        StepSpec::Call(name) => script.call(handles.get(name)?),
        StepSpec::Send(name) => script.send(handles.get(name)?),
        StepSpec::Work(work) => script.work(work.clone()),
        StepSpec::Publish { topic, keys: None } => script.publish(topics.get(topic)?),
        StepSpec::Publish {
            topic,
            keys: Some(keys),
        } => script.publish_keyed(topics.get(topic)?, *keys),
        StepSpec::Fail {
            probability,
            error,
            permanent,
        } => {
            let error = error.as_deref().unwrap_or(Script::DEFAULT_FAILURE);
            if *permanent {
                script.fail_permanently(*probability, error)
            } else {
                script.fail(*probability, error)
            }
        }
        StepSpec::Parallel(branches) => script.parallel(
            branches
                .iter()
                .map(|branch| list(std::slice::from_ref(branch)))
                .collect::<Option<Vec<_>>>()?,
        ),
        StepSpec::Choose(branches) => script.choose(
            branches
                .iter()
                .map(|(p, steps)| Some((*p, list(steps)?)))
                .collect::<Option<Vec<_>>>()?,
        ),
        StepSpec::Repeat(times, steps) => script.repeat(*times, list(steps)?),
    })
}
