//! Scenario files: a whole simulation described in TOML, without writing Rust.
//!
//! A scenario file names the services, what each does with a request, the links between them
//! and the workloads that send traffic. [`Scenario::parse`] reads and checks one;
//! [`Scenario::to_simulation`] turns it into an ordinary [`Simulation`] -- the same engine the
//! library's users assemble by hand -- and [`Simulation::run`] gives the [`Report`](crate::Report).
//!
//! ```text
//!  store.toml ──parse──▶ Scenario ──to_simulation(seed)──▶ Simulation ──run()──▶ Report
//!                (every check, located                       (ScriptedService
//!                 file:line:column: key)                      per [services.X])
//! ```
//!
//! Every service of a file is a scripted service: it spends its `work` (if any), then runs its
//! `steps` in order -- `{ call = "svc" }` waits for another service's response,
//! `{ work = DIST }` spends more processing time, `{ publish = "topic" }` publishes an event
//! and waits for the broker's confirmation, and `{ parallel = [STEP, ...] }` runs its
//! branches at once and waits for all of them. A failed call or publish fails the request.
//! A service's `subscribes = ["topic", ...]` hands it every event of those topics, which it
//! handles like a request. Requests, responses and events carry no data: a file models time,
//! not content.
//!
//! A service may run `replicas = N` behind a `balancer`; `[[faults]]` entries schedule
//! [`Fault`]s (`{ slow = "svc", factor = 3.0, at = "10s", lasting = "5s" }`),
//! and `[[policies]]` entries set the [`CallPolicy`](crate::policy::CallPolicy) of a caller
//! towards a callee (timeout, retries with a budget, circuit breaker, bulkhead, rate limit,
//! hedging).
//!
//! ```
//! use microsim::scenario::Scenario;
//!
//! let scenario = Scenario::parse(r#"
//! [simulation]
//! seed = 7
//! duration = "10s"
//!
//! [services.api]
//! workers = 4
//! work = { constant = "200us" }
//! steps = [{ call = "db" }]
//!
//! [services.db]
//! work = { exponential = { mean = "1ms" } }
//!
//! [[links]]
//! from = "api"
//! to = "db"
//! latency = { constant = "100us" }
//!
//! [workloads.users]
//! target = "api"
//! open = { rate = 100.0 }
//! "#, "example.toml")?;
//!
//! let report = scenario.to_simulation(None)?.run()?;
//! let users = &report.workloads["users"];
//! assert_eq!(users.sent, users.completed + users.failed);
//! // At least 200 us of work and two 100 us hops to the database.
//! assert!(users.latency_ms.p50 >= 0.4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Mistakes are errors before anything runs, located like a compiler locates them:
//!
//! ```
//! use microsim::scenario::Scenario;
//!
//! let err = Scenario::parse(r#"
//! [services.api]
//! steps = [{ call = "databse" }]
//!
//! [services.database]
//!
//! [workloads.users]
//! target = "api"
//! open = { rate = 100.0 }
//! "#, "example.toml").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "example.toml:3:19: services.api.steps[0].call: unknown service \"databse\"; did you mean \"database\"?"
//! );
//! ```
//!
//! `SCENARIOS.md` at the root of the repository documents every key, unit and default.

mod deserializer;
mod error;
mod file;
mod resilience;
mod scripted;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use crate::balancer::Balancer;
use crate::capacity::Capacity;
use crate::distribution::Distribution;
use crate::error::{BuildError, FieldPath, PathSegment};
use crate::fault::Fault;
use crate::node::CLIENT;
use crate::runtime::handle::TopicHandle;
use crate::simulation::{Simulation, SimulationBuilder};
use crate::topic::{Topic, WhenFull};
use crate::workload::Workload;

pub use error::ScenarioError;

use crate::suggest::closest;
use error::Source;
use file::{RawFile, RawService, RawStep, RawTopic, RawWorkload};
use resilience::{PolicySpec, Topology};
use scripted::{Action, ScriptedService};

/// The file behind [`Scenario::bundled_store`].
const STORE: &str = include_str!("../../scenarios/store.toml");

/// A parsed and checked scenario file: everything needed to build a [`Simulation`].
///
/// Holds the file's text so that a later error can still point into it.
#[derive(Debug, Clone)]
pub struct Scenario {
    origin: Arc<str>,
    text: Arc<str>,
    seed: Option<u64>,
    /// `[simulation]`: the engine's settings, its defaults where the file says nothing.
    settings: SimulationBuilder,
    /// By name.
    services: BTreeMap<String, ServiceSpec>,
    /// By name; without the dead-letter topics, which the engine adds.
    topics: BTreeMap<String, Topic>,
    /// In file order.
    links: Vec<LinkSpec>,
    /// By name.
    workloads: BTreeMap<String, WorkloadSpec>,
    /// In file order.
    faults: Vec<Fault>,
    /// In file order.
    policies: Vec<PolicySpec>,
    /// Service names, callees before their callers.
    build_order: Vec<String>,
}

#[derive(Debug, Clone)]
struct ServiceSpec {
    span: Range<usize>,
    capacity: Capacity,
    replicas: usize,
    balancer: Balancer,
    work: Option<Distribution>,
    steps: Vec<StepSpec>,
    /// Topics, dead-letter topics included, in file order.
    subscribes: Vec<String>,
}

#[derive(Debug, Clone)]
enum StepSpec {
    Call(String),
    Work(Distribution),
    Publish { topic: String, keys: Option<u64> },
    Parallel(Vec<StepSpec>),
}

/// The names a file declares, to check references against.
struct Names<'a> {
    services: &'a [&'a str],
    /// Declared topics and the dead-letter topics of the at-least-once ones.
    topics: &'a [&'a str],
}

impl Names<'_> {
    fn is_service(&self, name: &str) -> bool {
        self.services.contains(&name)
    }

    fn is_topic(&self, name: &str) -> bool {
        self.topics.contains(&name)
    }
}

/// What a service does that an event cycle can run through: calls and publishes (each with
/// where it is written), and the topics it subscribes to.
#[derive(Default)]
struct Edges {
    calls: Vec<Spanned<String>>,
    publishes: Vec<Spanned<String>>,
    subscribes: Vec<Spanned<String>>,
}

#[derive(Debug, Clone)]
struct LinkSpec {
    from: String,
    to: String,
    latency: Distribution,
}

#[derive(Debug, Clone)]
struct WorkloadSpec {
    span: Range<usize>,
    target: String,
    workload: Workload,
}

impl Scenario {
    /// Parses and checks a scenario file's text. `origin` names the file in error messages
    /// (usually its file name).
    ///
    /// # Errors
    /// [`ScenarioError::Invalid`] for invalid TOML, an unknown or missing key, a value of the
    /// wrong type or out of range (a duration without a unit, a zero or negative rate, an
    /// invalid distribution, a zero ack timeout or max deliveries), a call, link or workload
    /// naming a service that does not exist, a publish or subscription naming a topic that
    /// does not exist, a topic named like a service, a call or event cycle, or a replica
    /// setting, fault or call policy that is invalid or could never act. The message names
    /// `origin`, the line and column, and the key path.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let source = Source::parse(text, origin)?;
        let raw: RawFile = source.deserialize()?;
        let scenario = Scenario::check(raw, &source, text, origin)?;
        // Every value's rule is the engine's: building is the check, its errors located at
        // the setting. A scenario that parses always builds.
        scenario.to_simulation(None)?;
        if scenario.workloads.is_empty() {
            return Err(source.error_at_top(
                "workloads",
                "no workloads: add a [workloads.NAME] table with a target and open or closed traffic",
            ));
        }
        Ok(scenario)
    }

    /// Reads and parses the scenario file at `path`; its file name is the origin of messages.
    ///
    /// # Errors
    /// [`ScenarioError::Read`] if the file cannot be read (naming the path),
    /// [`ScenarioError::Invalid`] at the first invalid byte if it is not UTF-8, otherwise as
    /// [`parse`](Self::parse).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let bytes = std::fs::read(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let origin = path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        let text = std::str::from_utf8(&bytes).map_err(|e| error::not_utf8(&origin, &bytes, e))?;
        Scenario::parse(text, &origin)
    }

    /// The bundled example: an online store's checkout (`scenarios/store.toml`), modelled on
    /// Online Boutique's `PlaceOrder`, with a closed-loop browsing population and an
    /// open-loop checkout workload, 60 s simulated.
    ///
    /// # Panics
    /// Never in practice: the bundled file is valid, as a unit test checks. It would panic
    /// only if the file shipped inside the crate were broken.
    pub fn bundled_store() -> Scenario {
        match Scenario::parse(STORE, "store.toml") {
            Ok(scenario) => scenario,
            Err(error) => panic!("the bundled scenarios/store.toml is invalid: {error}"),
        }
    }

    /// The name the file was parsed under.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The file's `simulation.seed`, if it sets one.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// `simulation.duration`: how long workloads send requests, in simulated time.
    pub fn duration(&self) -> Duration {
        self.settings.duration
    }

    /// `simulation.warmup`: requests intended before this are not counted.
    pub fn warmup(&self) -> Duration {
        self.settings.warmup
    }

    /// The services' names, sorted.
    pub fn service_names(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }

    /// The declared topics' names, sorted (without the dead-letter topics the engine adds).
    pub fn topic_names(&self) -> impl Iterator<Item = &str> {
        self.topics.keys().map(String::as_str)
    }

    /// The workloads' names, sorted.
    pub fn workload_names(&self) -> impl Iterator<Item = &str> {
        self.workloads.keys().map(String::as_str)
    }

    /// Builds the simulation the file describes, ready to [`run`](Simulation::run). `seed`
    /// overrides the file's `simulation.seed`; with neither, the seed is 0.
    ///
    /// # Errors
    /// A [`ScenarioError::Invalid`] located at the offending item if the engine rejects part
    /// of the description. [`parse`](Self::parse) already builds the scenario once, so this
    /// does not happen for a scenario it returned.
    pub fn to_simulation(&self, seed: Option<u64>) -> Result<Simulation, ScenarioError> {
        let mut sim = self
            .settings
            .clone()
            .seed(seed.or(self.seed).unwrap_or(0))
            .build()
            .map_err(|e| self.locate(&FieldPath::key("simulation"), &e))?;

        // Topics first: a service holds the handles of the topics it publishes to.
        let mut topics: BTreeMap<String, TopicHandle<()>> = BTreeMap::new();
        for (name, spec) in &self.topics {
            let handle = sim
                .add_topic::<()>(name, spec.clone())
                .map_err(|e| self.locate(&FieldPath::key(name.as_str()).within("topics"), &e))?;
            if let Some(dead_letter) = handle.dead_letter() {
                topics.insert(dead_letter.name().to_string(), dead_letter.clone());
            }
            topics.insert(name.clone(), handle);
        }
        let mut handles = BTreeMap::new();
        for name in &self.build_order {
            let Some(spec) = self.services.get(name) else {
                continue;
            };
            let steps = spec
                .steps
                .iter()
                .map(|step| bind(step, &handles, &topics))
                .collect::<Option<Vec<Action>>>()
                .ok_or_else(|| {
                    self.error(
                        spec.span.clone(),
                        "calls a service added after it, or publishes to an unknown topic"
                            .to_string(),
                    )
                })?;
            let service = ScriptedService {
                work: spec.work.clone(),
                steps,
            };
            let handle = sim
                .add_replicated_service(name, service, spec.capacity, spec.replicas, spec.balancer)
                .map_err(|e| self.locate(&FieldPath::key(name.as_str()).within("services"), &e))?;
            handles.insert(name.clone(), handle);
        }
        // Subscriptions last: they need both ends.
        for (name, spec) in &self.services {
            let Some(service) = handles.get(name) else {
                continue;
            };
            for topic in &spec.subscribes {
                let topic = topics.get(topic).ok_or_else(|| {
                    self.error(spec.span.clone(), format!("unknown topic {topic:?}"))
                })?;
                sim.subscribe(topic, service, |_| ())
                    .map_err(|e| self.error(spec.span.clone(), e.to_string()))?;
            }
        }
        for (index, link) in self.links.iter().enumerate() {
            sim.add_link(&link.from, &link.to, link.latency.clone())
                .map_err(|e| self.locate(&entry("links", index), &e))?;
        }
        for (name, spec) in &self.workloads {
            let target = handles
                .get(&spec.target)
                .ok_or_else(|| self.error(spec.span.clone(), "unknown target".to_string()))?;
            sim.add_workload(name, target, spec.workload.clone(), |_| ())
                .map_err(|e| self.locate(&FieldPath::key(name.as_str()).within("workloads"), &e))?;
        }
        for (index, fault) in self.faults.iter().enumerate() {
            sim.add_fault(fault.clone())
                .map_err(|e| self.locate(&entry("faults", index), &e))?;
        }
        for (index, spec) in self.policies.iter().enumerate() {
            sim.add_policy(&spec.from, &spec.to, spec.policy.clone())
                .map_err(|e| self.locate(&entry("policies", index), &e))?;
        }
        Ok(sim)
    }

    /// The engine's error about the item written at `item`, located at the setting it names
    /// (`item` followed by the error's field), in the engine's own words.
    fn locate(&self, item: &FieldPath, error: &BuildError) -> ScenarioError {
        let source = match Source::parse(&self.text, &self.origin) {
            Ok(source) => source,
            Err(error) => return error,
        };
        match error.field() {
            Some(field) => source.error_at(&item.clone().join(field), error.reason()),
            None => source.error_at(item, error.to_string()),
        }
    }

    /// An error at `span` of this scenario's text.
    fn error(&self, span: Range<usize>, message: String) -> ScenarioError {
        match Source::parse(&self.text, &self.origin) {
            Ok(source) => source.error(span, message),
            Err(error) => error,
        }
    }

    /// Checks what is the file's own -- names, references, cycles, keys that apply only with
    /// others, settings that could never act -- and maps every value onto the engine's
    /// configuration types, whose rules are checked when [`parse`](Self::parse) builds them.
    fn check(
        raw: RawFile,
        source: &Source<'_>,
        text: &str,
        origin: &str,
    ) -> Result<Scenario, ScenarioError> {
        let RawFile {
            simulation,
            services: raw_services,
            topics: raw_topics,
            links: raw_links,
            workloads: raw_workloads,
            faults: raw_faults,
            policies: raw_policies,
        } = raw;

        // [simulation]: the engine's defaults, overridden by what the file writes.
        let mut scenario = Scenario {
            origin: Arc::from(origin),
            text: Arc::from(text),
            seed: None,
            settings: Simulation::builder(),
            services: BTreeMap::new(),
            topics: BTreeMap::new(),
            links: Vec::new(),
            workloads: BTreeMap::new(),
            faults: Vec::new(),
            policies: Vec::new(),
            build_order: Vec::new(),
        };
        if let Some(simulation) = simulation {
            let simulation = simulation.into_inner();
            let mut settings = scenario.settings;
            if let Some(seed) = simulation.seed {
                scenario.seed = Some(count(source, &seed, "seed")?);
            }
            if let Some(duration) = simulation.duration {
                settings = settings.duration(duration.into_inner().0);
            }
            if let Some(warmup) = simulation.warmup {
                settings = settings.warmup(warmup.into_inner().0);
            }
            if let Some(timeout) = simulation.call_timeout {
                settings = settings.call_timeout(timeout.into_inner().0);
            }
            if let Some(latency) = simulation.default_latency {
                settings = settings.default_latency(latency.into_inner());
            }
            scenario.settings = settings;
        }

        // Names first, so that calls, publishes and subscriptions can be checked against all
        // of them.
        let service_names: Vec<String> = raw_services.keys().map(|k| k.get_ref().clone()).collect();
        let services: Vec<&str> = service_names.iter().map(String::as_str).collect();
        for name in raw_services.keys() {
            if name.get_ref().is_empty() {
                return Err(source.error(name.span(), "a service name must not be empty"));
            }
            if name.get_ref() == CLIENT {
                return Err(source.error(
                    name.span(),
                    "\"client\" is reserved: it is where workload requests come from",
                ));
            }
        }

        // [topics.NAME]
        let declared: Vec<&str> = raw_topics.keys().map(|k| k.get_ref().as_str()).collect();
        let mut topic_names: Vec<String> = Vec::new();
        let mut dead_letter_edges: BTreeMap<String, Vec<Spanned<String>>> = BTreeMap::new();
        for (name, topic) in &raw_topics {
            let spec = check_topic(source, name, &services, &declared, topic.get_ref())?;
            if let crate::topic::Delivery::AtLeastOnce { .. } = spec.delivery() {
                let dead_letter = format!("{}.dead-letter", name.get_ref());
                dead_letter_edges.insert(
                    name.get_ref().clone(),
                    vec![Spanned::new(name.span(), dead_letter.clone())],
                );
                topic_names.push(dead_letter);
            }
            topic_names.push(name.get_ref().clone());
            scenario.topics.insert(name.get_ref().clone(), spec);
        }
        topic_names.sort();
        let topics: Vec<&str> = topic_names.iter().map(String::as_str).collect();
        let names = Names {
            services: &services,
            topics: &topics,
        };

        // [services.NAME]
        let mut edges: BTreeMap<String, Edges> = BTreeMap::new();
        for (name, service) in raw_services {
            let name = name.into_inner();
            let span = service.span();
            let (spec, service_edges) = check_service(source, &names, service.into_inner())?;
            edges.insert(name.clone(), service_edges);
            scenario.services.insert(name, ServiceSpec { span, ..spec });
        }
        let calls: BTreeMap<String, Vec<Spanned<String>>> = edges
            .iter_mut()
            .map(|(name, e)| (name.clone(), std::mem::take(&mut e.calls)))
            .collect();
        // Who calls and publishes to whom, for faults and policies.
        let mut call_pairs: BTreeSet<(String, String)> = calls
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
        scenario.build_order = topological_order(&calls, []).map_err(|(cycle, span)| {
            source.error(span, format!("call cycle {}", cycle.join(" -> ")))
        })?;
        check_event_cycles(source, calls, edges, dead_letter_edges)?;

        // [[links]]
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for link in raw_links {
            let span = link.span();
            let link = link.into_inner();
            let from = link.from.get_ref().as_str();
            if names.is_topic(from) {
                return Err(source.error(
                    link.from.span(),
                    format!(
                        "a link cannot start at topic {from:?}: a topic delivers its events \
                         after its broker_latency"
                    ),
                ));
            }
            if from != CLIENT && !names.is_service(from) {
                let mut endpoints = services.clone();
                endpoints.push(CLIENT);
                return Err(unknown_service(source, &link.from, &endpoints));
            }
            let to = link.to.get_ref().as_str();
            if to == CLIENT {
                return Err(source.error(
                    link.to.span(),
                    "a link cannot lead to \"client\": a link from A to B covers both the request and the response",
                ));
            }
            if names.is_topic(to) && from == CLIENT {
                return Err(source.error(
                    link.to.span(),
                    format!(
                        "a link from \"client\" to topic {to:?} is never used: workloads send \
                         requests to services, they do not publish"
                    ),
                ));
            }
            if !names.is_service(to) && !names.is_topic(to) {
                let hint = closest(to, services.iter().chain(&topics).copied())
                    .map(|close| format!("; did you mean {close:?}?"))
                    .unwrap_or_default();
                let what = if topics.is_empty() {
                    "service"
                } else {
                    "service or topic"
                };
                return Err(source.error(link.to.span(), format!("unknown {what} {to:?}{hint}")));
            }
            let key = (link.from.get_ref().clone(), link.to.get_ref().clone());
            let (line, _) = error::line_column(text, span.start);
            if let Some(first) = seen.insert(key, line) {
                return Err(source.error(
                    span,
                    format!(
                        "link {} -> {} is set twice (first at line {first})",
                        link.from.get_ref(),
                        link.to.get_ref()
                    ),
                ));
            }
            scenario.links.push(LinkSpec {
                from: link.from.into_inner(),
                to: link.to.into_inner(),
                latency: link.latency.into_inner(),
            });
        }

        // [workloads.NAME]
        for (name, workload) in raw_workloads {
            let span = workload.span();
            let spec = check_workload(source, &names, span.clone(), workload.into_inner())?;
            call_pairs.insert((CLIENT.to_string(), spec.target.clone()));
            scenario.workloads.insert(name.into_inner(), spec);
        }

        // [[faults]] and [[policies]]
        let topology = Topology {
            names: &names,
            replicas: scenario
                .services
                .iter()
                .map(|(name, spec)| (name.clone(), spec.replicas))
                .collect(),
            calls: call_pairs,
            publishes: publish_pairs,
            duration: scenario.settings.duration,
        };
        for fault in raw_faults {
            let spec = resilience::check_fault(source, &topology, fault)?;
            scenario.faults.push(spec);
        }
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for policy in raw_policies {
            let span = policy.span();
            let spec = resilience::check_policy(source, &topology, policy)?;
            let (line, _) = error::line_column(text, span.start);
            if let Some(first) = seen.insert((spec.from.clone(), spec.to.clone()), line) {
                return Err(source.error(
                    span,
                    format!(
                        "the policy {} -> {} is set twice (first at line {first})",
                        spec.from, spec.to
                    ),
                ));
            }
            scenario.policies.push(spec);
        }
        Ok(scenario)
    }
}

/// Binds a step to the handles of the services already added and of the topics.
fn bind(
    step: &StepSpec,
    handles: &BTreeMap<String, crate::runtime::handle::ServiceHandle<ScriptedService>>,
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

/// Entry `index` of the array of tables `section`: `policies[2]`.
fn entry(section: &str, index: usize) -> FieldPath {
    FieldPath::from_segments(vec![
        PathSegment::Key(section.to_string()),
        PathSegment::Index(index),
    ])
}

/// A TOML integer as one of the engine's counts: TOML's integers are signed, the engine's
/// counts are not (their own ranges are the engine's rules).
fn count<T: TryFrom<i64>>(
    source: &Source<'_>,
    value: &Spanned<i64>,
    key: &str,
) -> Result<T, ScenarioError> {
    let number = *value.get_ref();
    if number < 0 {
        return Err(source.error(
            value.span(),
            format!("{key} must be 0 or more, got {number}"),
        ));
    }
    T::try_from(number)
        .map_err(|_| source.error(value.span(), format!("{key} is too large: {number}")))
}

/// A distribution whose parameters pass [`Distribution::validate`].
fn checked_distribution(
    source: &Source<'_>,
    distribution: Spanned<Distribution>,
) -> Result<Distribution, ScenarioError> {
    let span = distribution.span();
    let distribution = distribution.into_inner();
    distribution
        .validate()
        .map_err(|e| source.error(span, e.to_string()))?;
    Ok(distribution)
}

fn unknown_service(source: &Source<'_>, name: &Spanned<String>, known: &[&str]) -> ScenarioError {
    let hint = closest(name.get_ref(), known.iter().copied())
        .map(|close| format!("; did you mean {close:?}?"))
        .unwrap_or_default();
    source.error(
        name.span(),
        format!("unknown service {:?}{hint}", name.get_ref()),
    )
}

/// A reference to a topic that is not one: unknown (with the closest topic suggested), or a
/// service (`publish`: whether the reference is a publish step, which could be a call).
fn unknown_topic(
    source: &Source<'_>,
    name: &Spanned<String>,
    names: &Names<'_>,
    publish: bool,
) -> ScenarioError {
    let wanted = name.get_ref();
    if names.is_service(wanted) {
        let hint = if publish {
            format!(": call it with {{ call = {wanted:?} }}")
        } else {
            String::new()
        };
        return source.error(
            name.span(),
            format!("{wanted:?} is a service, not a topic{hint}"),
        );
    }
    let hint = match closest(wanted, names.topics.iter().copied()) {
        Some(close) => format!("; did you mean {close:?}?"),
        None if names.topics.is_empty() => "; declare topics in [topics.NAME] tables".to_string(),
        None => String::new(),
    };
    source.error(name.span(), format!("unknown topic {wanted:?}{hint}"))
}

/// Checks one `[topics.NAME]` table (its name against the services and the other topics).
fn check_topic(
    source: &Source<'_>,
    name: &Spanned<String>,
    services: &[&str],
    declared: &[&str],
    raw: &RawTopic,
) -> Result<Topic, ScenarioError> {
    let topic_name = name.get_ref().as_str();
    if topic_name.is_empty() {
        return Err(source.error(name.span(), "a topic name must not be empty"));
    }
    if topic_name == CLIENT {
        return Err(source.error(
            name.span(),
            "\"client\" is reserved: it is where workload requests come from",
        ));
    }
    if services.contains(&topic_name) {
        return Err(source.error(
            name.span(),
            format!(
                "topic {topic_name:?} has the name of a service: services and topics share one \
                 namespace"
            ),
        ));
    }
    let at_least_once = match &raw.delivery {
        None => false,
        Some(delivery) => match delivery.get_ref().as_str() {
            "at_most_once" => false,
            "at_least_once" => true,
            other => {
                let hint = closest(other, ["at_most_once", "at_least_once"])
                    .map(|c| format!("did you mean {c:?}?"))
                    .unwrap_or_else(|| {
                        "expected \"at_most_once\" or \"at_least_once\"".to_string()
                    });
                return Err(source.error(
                    delivery.span(),
                    format!("unknown delivery {other:?}; {hint}"),
                ));
            }
        },
    };
    let mut topic = if at_least_once {
        let dead_letter = format!("{topic_name}.dead-letter");
        let taken = if services.contains(&dead_letter.as_str()) {
            Some("service")
        } else if declared.contains(&dead_letter.as_str()) {
            Some("topic")
        } else {
            None
        };
        if let Some(taken) = taken {
            return Err(source.error(
                name.span(),
                format!(
                    "an at_least_once topic's dead-letter topic is named {dead_letter:?}, which \
                     is already a {taken}"
                ),
            ));
        }
        let ack_timeout = raw
            .ack_timeout
            .as_ref()
            .map_or(Topic::DEFAULT_ACK_TIMEOUT, |timeout| timeout.get_ref().0);
        let max_deliveries = match &raw.max_deliveries {
            None => Topic::DEFAULT_MAX_DELIVERIES,
            Some(max) => count(source, max, "max_deliveries")?,
        };
        Topic::at_least_once(ack_timeout, max_deliveries)
    } else {
        for (key, span) in [
            ("ack_timeout", raw.ack_timeout.as_ref().map(Spanned::span)),
            (
                "max_deliveries",
                raw.max_deliveries.as_ref().map(Spanned::span),
            ),
        ] {
            if let Some(span) = span {
                return Err(source.error(
                    span,
                    format!(
                        "{key} applies only to at_least_once topics; add delivery = \
                         \"at_least_once\" (the default is at_most_once)"
                    ),
                ));
            }
        }
        Topic::at_most_once()
    };
    if let Some(latency) = &raw.broker_latency {
        topic = topic.with_broker_latency(latency.get_ref().clone());
    }
    let when_full = match &raw.when_full {
        None => WhenFull::Block,
        Some(when_full) => {
            if raw.capacity.is_none() {
                return Err(source.error(
                    when_full.span(),
                    "when_full applies only to a topic with a capacity: an unbounded topic is \
                     never full",
                ));
            }
            match when_full.get_ref().as_str() {
                "block" => WhenFull::Block,
                "reject" => WhenFull::Reject,
                other => {
                    let hint = closest(other, ["block", "reject"])
                        .map(|c| format!("did you mean {c:?}?"))
                        .unwrap_or_else(|| "expected \"block\" or \"reject\"".to_string());
                    return Err(source.error(
                        when_full.span(),
                        format!("unknown when_full {other:?}; {hint}"),
                    ));
                }
            }
        }
    };
    if let Some(capacity) = &raw.capacity {
        topic = topic.with_capacity(count(source, capacity, "capacity")?, when_full);
    }
    Ok(topic)
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
        Some(workers) => Capacity::workers(count(source, workers, "workers")?),
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
    let kind = resilience::choice(
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

fn check_step(
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
            return Err(unknown_service(source, &call, names.services));
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

fn check_workload(
    source: &Source<'_>,
    names: &Names<'_>,
    span: Range<usize>,
    raw: RawWorkload,
) -> Result<WorkloadSpec, ScenarioError> {
    let RawWorkload {
        target,
        open,
        closed,
        timeout,
    } = raw;
    if target.get_ref() == CLIENT {
        return Err(source.error(
            target.span(),
            "a workload cannot target \"client\": its requests come from there",
        ));
    }
    if names.is_topic(target.get_ref()) {
        return Err(source.error(
            target.span(),
            format!(
                "{:?} is a topic: a workload sends requests to a service (which may publish)",
                target.get_ref()
            ),
        ));
    }
    if !names.is_service(target.get_ref()) {
        return Err(unknown_service(source, &target, names.services));
    }
    let mut workload = match (open, closed) {
        (Some(_), Some(closed)) => {
            return Err(source.error(
                closed.span(),
                "a workload is either open or closed, not both",
            ));
        }
        (None, None) => {
            return Err(source.error(
                span,
                "missing traffic: add open = { rate = R } or closed = { users = N, think = DIST }",
            ));
        }
        (Some(open), None) => {
            let open = open.into_inner();
            let rate = *open.rate.get_ref();
            match open.arrivals {
                None => Workload::poisson(rate),
                Some(arrivals) => match arrivals.get_ref().as_str() {
                    "poisson" => Workload::poisson(rate),
                    "constant" => Workload::constant_rate(rate),
                    other => {
                        let hint = closest(other, ["poisson", "constant"])
                            .map(|c| format!("did you mean {c:?}?"))
                            .unwrap_or_else(|| "expected \"poisson\" or \"constant\"".to_string());
                        return Err(source.error(
                            arrivals.span(),
                            format!("unknown arrivals {other:?}; {hint}"),
                        ));
                    }
                },
            }
        }
        (None, Some(closed)) => {
            let closed = closed.into_inner();
            let users = count(source, &closed.users, "users")?;
            Workload::closed(users, closed.think.into_inner())
        }
    };
    if let Some(timeout) = timeout {
        workload = workload.with_timeout(timeout.get_ref().0);
    }
    Ok(WorkloadSpec {
        span,
        target: target.into_inner(),
        workload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_store_is_valid() {
        let store = Scenario::bundled_store();
        assert!(store.service_names().count() >= 5);
        assert_eq!(store.duration(), Duration::from_secs(60));
    }

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

    /// What the engine rejects when the simulation is built is located at the entry, should
    /// a value get past the file's own checks.
    #[test]
    fn engine_errors_point_at_the_setting() {
        let mut scenario = Scenario::parse(
            "[services.a]\nsteps = [{ call = \"b\" }]\n[services.b]\nreplicas = 2\n\
             [workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\n\n\
             [[policies]]\nfrom = \"a\"\nto = \"b\"\nbulkhead = 2\n\n\
             [[faults]]\nfail = \"b\"\nprobability = 0.5\n",
            "engine.toml",
        )
        .unwrap();
        assert_eq!(scenario.services["b"].replicas, 2);
        assert_eq!(scenario.policies[0].policy.bulkhead, Some(2));
        scenario.policies[0].policy.bulkhead = Some(0);
        let err = scenario.to_simulation(None).unwrap_err().to_string();
        assert_eq!(
            err,
            "engine.toml:12:12: policies[0].bulkhead: bulkhead must be at least 1, got 0"
        );
        scenario.policies.clear();
        scenario.faults[0] = Fault::fail("b", 2.0);
        let err = scenario.to_simulation(None).unwrap_err().to_string();
        assert_eq!(
            err,
            "engine.toml:16:15: faults[0].probability: probability must be within [0, 1] (0.1 = one in ten), got 2"
        );
    }
}
