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
//! assert_eq!(users.counts.sent, users.counts.completed + users.counts.failed);
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

// A module per section of the file: `settings` ([simulation]), `services` and its `steps`
// ([services.NAME]), `topics`, `links`, `workloads`, and `resilience` ([[faults]] and
// [[policies]]). What the sections share: `names` (the declared names, unknown references),
// `graph` (the build order, call and event cycles), `values` (counts, distributions,
// choices). Beneath them: `file` (the file as deserialized), `deserializer` (the file's
// tree into `file`'s types, its errors as data), `error` (spans into located errors),
// `scripted` (the service every [services.NAME] runs). Here: parsing, the order of the
// checks, and building the simulation.
mod deserializer;
mod error;
mod file;
mod graph;
mod links;
mod names;
mod resilience;
mod scripted;
mod services;
mod settings;
mod steps;
mod topics;
mod values;
mod workloads;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{BuildError, FieldPath, PathSegment};
use crate::fault::Fault;
use crate::node::CLIENT;
use crate::runtime::handle::TopicHandle;
use crate::simulation::{Simulation, SimulationBuilder};
use crate::topic::Topic;

pub use error::ScenarioError;

use error::Source;
use file::RawFile;
use links::LinkSpec;
use names::Names;
use resilience::{PolicySpec, Topology};
use scripted::{Action, ScriptedService};
use services::ServiceSpec;
use workloads::WorkloadSpec;

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
                .map(|step| steps::bind(step, &handles, &topics))
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
        let (seed, settings) = settings::check_simulation(source, simulation)?;

        // Names first, so that calls, publishes and subscriptions can be checked against all
        // of them.
        let service_names = services::check_service_names(source, &raw_services)?;
        let service_names: Vec<&str> = service_names.iter().map(String::as_str).collect();
        let topics = topics::check_topics(source, &service_names, raw_topics)?;
        let topic_names: Vec<&str> = topics.names.iter().map(String::as_str).collect();
        let names = Names {
            services: &service_names,
            topics: &topic_names,
        };

        let services = services::check_services(source, &names, raw_services)?;
        let graph = graph::check_graph(source, services.edges, topics.dead_letters)?;
        let links = links::check_links(source, &names, text, raw_links)?;
        let workloads = workloads::check_workloads(source, &names, raw_workloads)?;

        // Faults and policies are checked against who calls and publishes to whom.
        let mut calls = graph.calls;
        calls.extend(
            workloads
                .values()
                .map(|spec| (CLIENT.to_string(), spec.target.clone())),
        );
        let topology = Topology {
            names: &names,
            replicas: services
                .specs
                .iter()
                .map(|(name, spec)| (name.clone(), spec.replicas))
                .collect(),
            calls,
            publishes: graph.publishes,
            duration: settings.duration,
        };
        let faults = resilience::check_faults(source, &topology, raw_faults)?;
        let policies = resilience::check_policies(source, &topology, text, raw_policies)?;

        Ok(Scenario {
            origin: Arc::from(origin),
            text: Arc::from(text),
            seed,
            settings,
            services: services.specs,
            topics: topics.specs,
            links,
            workloads,
            faults,
            policies,
            build_order: graph.build_order,
        })
    }
}

/// Entry `index` of the array of tables `section`: `policies[2]`.
fn entry(section: &str, index: usize) -> FieldPath {
    FieldPath::from_segments(vec![
        PathSegment::Key(section.to_string()),
        PathSegment::Index(index),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::Capacity;

    #[test]
    fn the_bundled_store_is_valid() {
        let store = Scenario::bundled_store();
        assert!(store.service_names().count() >= 5);
        assert_eq!(store.duration(), Duration::from_secs(60));
    }

    #[test]
    fn unlimited_workers_map_onto_an_unlimited_capacity() {
        let scenario = Scenario::parse(
            "[services.edge]\nworkers = \"unlimited\"\n[services.api]\nworkers = 3\n\
             [workloads.w]\ntarget = \"edge\"\nopen = { rate = 1.0 }\n",
            "edge.toml",
        )
        .unwrap();
        assert_eq!(scenario.services["edge"].capacity, Capacity::unlimited());
        assert_eq!(scenario.services["api"].capacity, Capacity::workers(3));
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
