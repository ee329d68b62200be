//! A service's `steps`: `{ call = "svc" }`, `{ work = DIST }`, `{ publish = "topic" }` and
//! `{ parallel = [STEP, ...] }`, checked against the declared names, and bound to the
//! simulation's handles when it is built.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::distribution::Distribution;
use crate::runtime::handle::{ServiceHandle, TopicHandle};

use super::ScenarioError;
use super::error::Source;
use super::file::RawStep;
use super::graph::Edges;
use super::names::{Names, unknown_service, unknown_topic};
use super::scripted::{Action, ScriptedService};
use super::values::checked_distribution;

/// A checked step.
#[derive(Debug, Clone)]
pub(super) enum StepSpec {
    Call(String),
    Work(Distribution),
    Publish { topic: String, keys: Option<u64> },
    Parallel(Vec<StepSpec>),
}

/// Checks one step (and the branches of a parallel one); records its calls and publishes in
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
    } = step.into_inner();
    let given: Vec<&str> = [
        call.as_ref().map(|_| "call"),
        work.as_ref().map(|_| "work"),
        publish.as_ref().map(|_| "publish"),
        parallel.as_ref().map(|_| "parallel"),
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
            format!(
                "a step has exactly one of the keys call, work, publish or parallel; found {found}"
            ),
        ));
    }
    if let Some(keys) = &keys
        && publish.is_none()
    {
        return Err(source.error(
            keys.span(),
            "keys applies only to a publish step, e.g. { publish = \"orders\", keys = 100 }",
        ));
    }
    if let Some(call) = call {
        if !names.is_service(call.get_ref()) {
            if names.is_topic(call.get_ref()) {
                return Err(source.error(
                    call.span(),
                    format!(
                        "{0:?} is a topic, not a service: publish to it with {{ publish = {0:?} }}",
                        call.get_ref()
                    ),
                ));
            }
            return Err(unknown_service(source, &call, names.services, &[]));
        }
        let name = call.get_ref().clone();
        edges.calls.push(call);
        return Ok(StepSpec::Call(name));
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

/// Binds a step to the handles of the services already added and of the topics.
pub(super) fn bind(
    step: &StepSpec,
    handles: &BTreeMap<String, ServiceHandle<ScriptedService>>,
    topics: &BTreeMap<String, TopicHandle<()>>,
) -> Option<Action> {
    Some(match step {
        StepSpec::Call(name) => Action::Call(handles.get(name)?.clone()),
        StepSpec::Work(work) => Action::Work(work.clone()),
        StepSpec::Publish { topic, keys } => Action::Publish {
            topic: topics.get(topic)?.clone(),
            keys: *keys,
        },
        StepSpec::Parallel(branches) => Action::Parallel(
            branches
                .iter()
                .map(|branch| bind(branch, handles, topics))
                .collect::<Option<_>>()?,
        ),
    })
}
