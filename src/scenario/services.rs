//! `[services.NAME]`: each service's name, capacity, replicas and balancer, its `work`, its
//! steps (in `steps.rs`) and its subscriptions; the mapping onto [`Capacity`] and
//! [`Balancer`].

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use crate::balancer::Balancer;
use crate::capacity::Capacity;
use crate::distribution::Distribution;
use crate::node::CLIENT;

use super::ScenarioError;
use super::error::Source;
use super::file::{RawService, RawWorkers};
use super::graph::Edges;
use super::names::{Names, unknown_topic};
use super::steps::{StepSpec, check_step};
use super::values::{checked_distribution, choice, count};

/// A checked `[services.NAME]` table.
#[derive(Debug, Clone)]
pub(super) struct ServiceSpec {
    pub(super) span: Range<usize>,
    pub(super) capacity: Capacity,
    pub(super) replicas: usize,
    pub(super) balancer: Balancer,
    pub(super) work: Option<Distribution>,
    pub(super) steps: Vec<StepSpec>,
    /// Topics, dead-letter topics included, in file order.
    pub(super) subscribes: Vec<String>,
}

/// Checks the services' names (before anything refers to them), reporting an empty or
/// reserved one, and returns them all, sorted: a service with a mistake is still a name that
/// others may refer to.
pub(super) fn check_service_names(
    source: &Source<'_>,
    raw_services: &BTreeMap<Spanned<String>, Option<Spanned<RawService>>>,
) -> Vec<String> {
    for name in raw_services.keys() {
        if let Err(error) = check_service_name(source, name) {
            source.report(error);
        }
    }
    raw_services.keys().map(|k| k.get_ref().clone()).collect()
}

fn check_service_name(source: &Source<'_>, name: &Spanned<String>) -> Result<(), ScenarioError> {
    if name.get_ref().is_empty() {
        return Err(source.error(name.span(), "a service name must not be empty"));
    }
    if name.get_ref() == CLIENT {
        return Err(source.error(
            name.span(),
            "\"client\" is reserved: it is where workload requests come from",
        ));
    }
    Ok(())
}

/// The checked `[services.NAME]` tables.
pub(super) struct Services {
    /// By name.
    pub(super) specs: BTreeMap<String, ServiceSpec>,
    /// By service: what it calls, publishes to and subscribes to.
    pub(super) edges: BTreeMap<String, Edges>,
}

/// Checks every `[services.NAME]` table, in name order, reporting each one's first mistake;
/// a service with a mistake (here, in its name, or when it was read) is left out and added
/// to `unknown`.
pub(super) fn check_services(
    source: &Source<'_>,
    names: &Names<'_>,
    raw_services: BTreeMap<Spanned<String>, Option<Spanned<RawService>>>,
    unknown: &mut BTreeSet<String>,
) -> Services {
    let mut services = Services {
        specs: BTreeMap::new(),
        edges: BTreeMap::new(),
    };
    for (name, service) in raw_services {
        let checked = match service {
            Some(service) if name.get_ref() != CLIENT && !name.get_ref().is_empty() => {
                let span = service.span();
                source
                    .ok(check_service(source, names, service.into_inner()))
                    .map(|(spec, edges)| (ServiceSpec { span, ..spec }, edges))
            }
            _ => None,
        };
        let name = name.into_inner();
        match checked {
            Some((spec, service_edges)) => {
                services.edges.insert(name.clone(), service_edges);
                services.specs.insert(name, spec);
            }
            None => {
                unknown.insert(name);
            }
        }
    }
    services
}

/// Checks one `[services.NAME]` table; returns it and what it calls, publishes to and
/// subscribes to, in order.
fn check_service(
    source: &Source<'_>,
    names: &Names<'_>,
    raw: RawService,
) -> Result<(ServiceSpec, Edges), ScenarioError> {
    let mut capacity = match &raw.workers {
        None => Capacity::default(),
        Some(workers) => check_workers(source, workers)?,
    };
    if let Some(queue) = &raw.queue {
        capacity = capacity.with_queue(count(source, queue, "queue")?);
    }
    let replicas = match &raw.replicas {
        None => 1,
        Some(replicas) => count(source, replicas, "replicas")?,
    };
    let balancer = check_balancer(source, &raw, replicas)?;
    let work = raw
        .work
        .map(|work| checked_distribution(source, work))
        .transpose()?;
    let mut edges = Edges::default();
    let steps = raw
        .steps
        .into_iter()
        .map(|step| check_step(source, names, step, &mut edges))
        .collect::<Result<Vec<_>, _>>()?;
    let mut subscribes: Vec<String> = Vec::new();
    for topic in raw.subscribes {
        if !names.is_topic(topic.get_ref()) {
            return Err(unknown_topic(source, &topic, names, false));
        }
        if subscribes.contains(topic.get_ref()) {
            return Err(source.error(
                topic.span(),
                format!("subscribes to {:?} twice", topic.get_ref()),
            ));
        }
        subscribes.push(topic.get_ref().clone());
        edges.subscribes.push(topic);
    }
    Ok((
        ServiceSpec {
            span: 0..0,
            capacity,
            replicas,
            balancer,
            work,
            steps,
            subscribes,
        },
        edges,
    ))
}

/// A service's `workers`: a count, or `"unlimited"` ([`Capacity::unlimited`]).
fn check_workers(
    source: &Source<'_>,
    workers: &Spanned<RawWorkers>,
) -> Result<Capacity, ScenarioError> {
    match workers.get_ref() {
        RawWorkers::Count(number) => Ok(Capacity::workers(count(
            source,
            &Spanned::new(workers.span(), *number),
            "workers",
        )?)),
        RawWorkers::Word(word) if word == UNLIMITED => Ok(Capacity::unlimited()),
        RawWorkers::Word(word) => Err(source.error(
            workers.span(),
            format!(
                "workers is a whole number >= 1 or {UNLIMITED:?}, got {word:?}{}",
                crate::suggest::did_you_mean(word, [UNLIMITED])
            ),
        )),
    }
}

/// The word for a service whose every request starts at once.
const UNLIMITED: &str = "unlimited";

/// A service's `balancer` and `balancer_decay`.
fn check_balancer(
    source: &Source<'_>,
    raw: &RawService,
    replicas: usize,
) -> Result<Balancer, ScenarioError> {
    let Some(written) = &raw.balancer else {
        if let Some(decay) = &raw.balancer_decay {
            return Err(source.error(
                decay.span(),
                "balancer_decay applies only to balancer = \"peak_ewma\"",
            ));
        }
        return Ok(Balancer::RoundRobin);
    };
    if replicas < 2 {
        return Err(source.error(
            written.span(),
            format!(
                "balancer applies only to a service with replicas >= 2 (this one has {replicas}): \
                 a single replica gets every request"
            ),
        ));
    }
    let kind = choice(
        source,
        written,
        "balancer",
        &[
            "round_robin",
            "random",
            "least_outstanding",
            "power_of_two_choices",
            "peak_ewma",
        ],
    )?;
    if kind != "peak_ewma"
        && let Some(decay) = &raw.balancer_decay
    {
        return Err(source.error(
            decay.span(),
            "balancer_decay applies only to balancer = \"peak_ewma\"",
        ));
    }
    Ok(match kind {
        "round_robin" => Balancer::RoundRobin,
        "random" => Balancer::Random,
        "least_outstanding" => Balancer::LeastOutstanding,
        "power_of_two_choices" => Balancer::PowerOfTwoChoices,
        _ => Balancer::PeakEwma {
            decay: raw
                .balancer_decay
                .as_ref()
                .map_or(Balancer::DEFAULT_DECAY, |decay| decay.get_ref().0),
        },
    })
}
