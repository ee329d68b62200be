//! Scenario files: a whole simulation described in TOML, without writing Rust.
//!
//! A scenario file names the services, what each does with a request, the links between them
//! and the workloads that send traffic. [`Scenario::parse`] reads and checks one;
//! [`Scenario::to_simulation`] turns it into an ordinary [`Simulation`] -- the same engine the
//! library's users assemble by hand -- and [`Simulation::run`] gives the [`Report`].
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
//! [`Fault`](crate::Fault)s (`{ slow = "svc", factor = 3.0, at = "10s", lasting = "5s" }`),
//! and `[[policies]]` entries set the [`CallPolicy`](crate::policy::CallPolicy) of a caller
//! towards a callee (timeout, retries with a budget, circuit breaker, bulkhead, rate limit,
//! hedging). A `[tracing]` table turns tracing on (see [`Tracing`](crate::trace::Tracing)):
//! the report then holds the kept traces and each workload's critical path.
//! `[[thresholds]]` entries bound numbers of the report
//! ([`Threshold`]s:
//! `{ metric = "workloads.users.latency_ms.p99", max = 250.0 }`), checked against what the
//! file declares before the run and judged after it by [`Scenario::check_thresholds`].
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
//! [`Scenario::parse_with_overrides`] reads a file with [`Override`]s applied -- `KEY=VALUE`
//! settings, the command's `--set` -- each set in the file before it is read, so the file's
//! rules apply to it, and a mistake in one is reported at the override
//! ([`ScenarioError::Override`]).
//!
//! `SCENARIOS.md` at the root of the repository documents every key, unit and default.

// A module per section of the file: `settings` ([simulation]), `tracing`, `services` and its
// `steps` ([services.NAME]), `topics`, `links`, `workloads`, `resilience` ([[faults]] and
// [[policies]]), and `thresholds` ([[thresholds]]). What the sections share: `names` (the
// declared names, unknown references), `graph` (the build order, call and event cycles),
// `values` (counts, distributions, choices). Beneath them: `file` (the file as
// deserialized), `deserializer` (the file's tree into `file`'s types, its errors as data),
// `error` (spans into located errors), `scripted` (the service every [services.NAME] runs).
// Here: parsing, the order of the checks, and building the simulation.
mod deserializer;
mod error;
mod file;
mod graph;
mod links;
mod names;
mod overrides;
mod resilience;
mod services;
mod settings;
mod steps;
mod thresholds;
mod topics;
mod tracing;
mod values;
mod workloads;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{BuildError, FieldPath, PathSegment};
use crate::node::CLIENT;
use crate::report::Report;
use crate::report::threshold::Threshold;
use crate::runtime::handle::TopicHandle;
use crate::simulation::{Simulation, SimulationBuilder};
use crate::topic::Topic;

pub use error::ScenarioError;
pub use overrides::{Override, OverrideError};

use crate::script::Script;
use error::Source;
use file::RawFile;
use links::LinkSpec;
use names::Names;
use overrides::Overlay;
use resilience::{FaultSpec, PolicySpec, Topology};
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
    /// The file's text and its overrides'.
    overlay: Arc<Overlay>,
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
    faults: Vec<FaultSpec>,
    /// In file order.
    policies: Vec<PolicySpec>,
    /// Service names, callees before their callers.
    build_order: Vec<String>,
    /// `[[thresholds]]`, in file order.
    thresholds: Vec<Threshold>,
}

impl Scenario {
    /// Parses and checks a scenario file's text. `origin` names the file in error messages
    /// (usually its file name).
    ///
    /// The whole file is checked, each section and each entry on its own, so that every
    /// mistake is found at once: a file with several gives them all (up to
    /// [`ScenarioError::MAX_LISTED`]), each located. A mistake that hides others -- invalid
    /// TOML, a section that is not a table -- is reported alone; an entry's mistake stops the
    /// checks of that entry only, and of what cannot be known without it.
    ///
    /// # Errors
    /// [`ScenarioError::Invalid`] for one mistake, [`ScenarioError::Several`] for more: invalid
    /// TOML, an unknown or missing key, a value of the wrong type or out of range (a duration
    /// without a unit, a zero or negative rate, an invalid distribution, a zero ack timeout or
    /// max deliveries), a call, link or workload naming a service that does not exist, a
    /// publish or subscription naming a topic that does not exist, a topic named like a
    /// service, a call or event cycle, a closed workload whose loop cannot take simulated
    /// time, a replica setting, fault or call policy that is invalid or could never act, a
    /// `[tracing]` setting out of range, or a threshold that is invalid or whose metric is no
    /// number of the report the file describes. Each message names `origin`, the line and
    /// column, and the key path.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_with_overrides(text, origin, &[])
    }

    /// Parses and checks a scenario file's text with `overrides` applied to it: each sets its
    /// value in the file before the file is read, in order (a later override of the same key
    /// wins), so the file's rules apply to the values as if the file wrote them. See
    /// [`Override`]. `open.replay` files are read relative to the current directory.
    ///
    /// # Errors
    /// As [`parse`](Self::parse); a mistake in an override's value, or a path the file could
    /// not have (an unknown key, a service the file does not declare), is a
    /// [`ScenarioError::Override`] naming the override instead of a line of the file.
    pub fn parse_with_overrides(
        text: &str,
        origin: &str,
        overrides: &[Override],
    ) -> Result<Scenario, ScenarioError> {
        Scenario::parse_in(text, origin, overrides, Path::new(""))
    }

    /// As [`parse_with_overrides`](Self::parse_with_overrides), reading `open.replay` files
    /// relative to `dir` (`""`: the current directory).
    fn parse_in(
        text: &str,
        origin: &str,
        overrides: &[Override],
        dir: &Path,
    ) -> Result<Scenario, ScenarioError> {
        let overlay = Arc::new(Overlay::new(text, overrides));
        let source = Source::parse_overlay(&overlay, origin)?;
        let raw = file::read(&source);
        let scenario = Scenario::check(raw, &source, &overlay, origin, dir);
        source.finish()?;
        scenario.ok_or_else(|| {
            source.error_at_top("", "the file could not be checked: please report this file")
        })
    }

    /// Reads and parses the scenario file at `path`; its file name is the origin of messages.
    ///
    /// # Errors
    /// [`ScenarioError::Read`] if the file cannot be read (naming the path),
    /// [`ScenarioError::Invalid`] at the first invalid byte if it is not UTF-8, otherwise as
    /// [`parse`](Self::parse).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::load_with_overrides(path, &[])
    }

    /// Reads the scenario file at `path` and parses it with `overrides` applied, as
    /// [`parse_with_overrides`](Self::parse_with_overrides) does.
    ///
    /// # Errors
    /// As [`load`](Self::load) and [`parse_with_overrides`](Self::parse_with_overrides).
    pub fn load_with_overrides(
        path: &Path,
        overrides: &[Override],
    ) -> Result<Scenario, ScenarioError> {
        let bytes = std::fs::read(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let origin = path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        let text = std::str::from_utf8(&bytes).map_err(|e| error::not_utf8(&origin, &bytes, e))?;
        Scenario::parse_in(
            text,
            &origin,
            overrides,
            path.parent().unwrap_or(Path::new("")),
        )
    }

    /// The text of the bundled example, [`bundled_store`](Self::bundled_store)'s file
    /// (`scenarios/store.toml`): to parse it with overrides.
    pub const BUNDLED_STORE: &'static str = STORE;

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

    /// The overrides the file was parsed with, in order (see
    /// [`parse_with_overrides`](Self::parse_with_overrides)); empty for [`parse`](Self::parse).
    pub fn overrides(&self) -> impl Iterator<Item = &Override> {
        self.overlay.overrides().map(|placed| &placed.setting)
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

    /// The settings of the file's `[tracing]` table (its defaults where it says nothing), or
    /// of [`with_tracing`](Self::with_tracing); `None` when tracing is off.
    pub fn tracing(&self) -> Option<&crate::trace::Tracing> {
        self.settings.tracing.as_ref()
    }

    /// Turns tracing on for the runs of this scenario with `tracing` (see
    /// [`SimulationBuilder::tracing`]), in place of the file's `[tracing]` table if it has
    /// one: the report then holds the kept traces and the critical paths. To keep the
    /// file's settings, check [`tracing`](Self::tracing) first, as the command's `--trace`
    /// does.
    ///
    /// ```
    /// use microsim::scenario::Scenario;
    /// use microsim::trace::Tracing;
    ///
    /// let text = "[tracing]\nrate = 1.0\n\n[services.api]\n\n[workloads.users]\ntarget = \"api\"\nopen = { rate = 10.0 }\n";
    /// let scenario = Scenario::parse(text, "api.toml")?;
    /// assert_eq!(scenario.tracing().map(Tracing::sampling_rate), Some(1.0));
    /// let scenario = scenario.with_tracing(Tracing::default());
    /// assert_eq!(scenario.tracing(), Some(&Tracing::default()));
    /// # Ok::<(), microsim::scenario::ScenarioError>(())
    /// ```
    #[must_use]
    pub fn with_tracing(mut self, tracing: crate::trace::Tracing) -> Self {
        self.settings = self.settings.tracing(tracing);
        self
    }

    /// The file's `[[thresholds]]`, in file order: each checked, its metric a number the
    /// report of a run will have as far as the file can tell (see
    /// [`check_thresholds`](Self::check_thresholds)).
    pub fn thresholds(&self) -> &[Threshold] {
        &self.thresholds
    }

    /// Judges `report`, a run of this scenario, against the file's `[[thresholds]]`
    /// ([`Report::check_thresholds`]): their verdicts go in `report.thresholds`, and
    /// [`Report::thresholds_breached`] says whether one failed. A file without thresholds
    /// leaves the report as it is.
    ///
    /// ```
    /// use microsim::scenario::Scenario;
    ///
    /// let scenario = Scenario::parse(r#"
    /// [simulation]
    /// duration = "2s"
    ///
    /// [services.api]
    /// work = { constant = "10ms" }
    ///
    /// [workloads.users]
    /// target = "api"
    /// open = { rate = 10.0, arrivals = "constant" }
    ///
    /// [[thresholds]]
    /// metric = "workloads.users.latency_ms.p99"
    /// max = 10.0
    ///
    /// [[thresholds]]
    /// metric = "services.api.utilization"
    /// max = 0.05
    /// "#, "api.toml")?;
    /// let mut report = scenario.to_simulation(None)?.run()?;
    /// scenario.check_thresholds(&mut report);
    /// // Every request takes its 10 ms of work, exactly: p99 is 10 ms.
    /// assert!(report.thresholds[0].passed);
    /// // The worker is busy a tenth of the time.
    /// assert!(!report.thresholds[1].passed);
    /// assert!(report.thresholds_breached());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_thresholds(&self, report: &mut Report) {
        if !self.thresholds.is_empty() {
            report.check_thresholds(&self.thresholds);
        }
    }

    /// Builds the simulation the file describes, ready to [`run`](Simulation::run). `seed`
    /// overrides the file's `simulation.seed`; with neither, the seed is 0.
    ///
    /// # Errors
    /// A [`ScenarioError::Invalid`] located at the offending item if the engine rejects part
    /// of the description. [`parse`](Self::parse) already builds the scenario once, so this
    /// does not happen for a scenario it returned.
    pub fn to_simulation(&self, seed: Option<u64>) -> Result<Simulation, ScenarioError> {
        let mut first = None;
        let sim = self.assemble(seed, false, &mut |mistake| {
            first.get_or_insert(mistake);
        });
        match (first, sim) {
            (None, Some(sim)) => Ok(sim),
            (Some(mistake), _) => {
                let source = Source::parse_overlay(&self.overlay, &self.origin)?;
                Err(source.mistake(mistake))
            }
            (None, None) => Err(ScenarioError::Invalid {
                origin: self.origin.to_string(),
                line: 1,
                column: None,
                key: "simulation".to_string(),
                message: "the simulation could not be built".to_string(),
            }),
        }
    }

    /// Builds the simulation, telling `report` of every part the engine rejects and going
    /// on without it. A part that needs one left out (a caller of a service that was not
    /// added, a workload to it) is left out quietly when `lenient` (the file has mistakes
    /// already reported) or something was reported here; otherwise it is reported, as a
    /// defect: a checked file always builds.
    fn assemble(
        &self,
        seed: Option<u64>,
        lenient: bool,
        report: &mut dyn FnMut(Mistake),
    ) -> Option<Simulation> {
        let reported = std::cell::Cell::new(false);
        let mut report = |mistake: Mistake| {
            reported.set(true);
            report(mistake);
        };
        let seed = seed.or(self.seed).unwrap_or(0);
        let mut settings = self.settings.clone().seed(seed);
        // [tracing]'s rules apart from [simulation]'s, each error located in its own table;
        // a run whose tracing is invalid is checked without it.
        if let Some(tracing) = settings.tracing.take() {
            match tracing.validate() {
                Ok(()) => settings = settings.tracing(tracing),
                Err(error) => report(Mistake::Engine(FieldPath::default(), error)),
            }
        }
        let mut sim = match settings.build() {
            Ok(sim) => sim,
            Err(error) => {
                report(Mistake::Engine(FieldPath::key("simulation"), error));
                // The other parts are checked with the default settings.
                Simulation::builder().seed(seed).build().ok()?
            }
        };
        let table = |section: &str, name: &str| FieldPath::key(name).within(section);

        // Topics first: a service holds the handles of the topics it publishes to.
        let mut topics: BTreeMap<String, TopicHandle<()>> = BTreeMap::new();
        for (name, spec) in &self.topics {
            match sim.add_topic::<()>(name, spec.clone()) {
                Ok(handle) => {
                    if let Some(dead_letter) = handle.dead_letter() {
                        topics.insert(dead_letter.name().to_string(), dead_letter.clone());
                    }
                    topics.insert(name.clone(), handle);
                }
                Err(error) => report(Mistake::Engine(table("topics", name), error)),
            }
        }
        // Every service's handle first, so that sends may form cycles.
        let mut handles = BTreeMap::new();
        for name in self.services.keys() {
            if let Ok(handle) = sim.handle_to::<Script>(name) {
                handles.insert(name.clone(), handle);
            }
        }
        let mut added = BTreeSet::new();
        for name in &self.build_order {
            let Some(spec) = self.services.get(name) else {
                continue;
            };
            let Some(service) = steps::script(spec.work.as_ref(), &spec.steps, &handles, &topics)
            else {
                if !(lenient || reported.get()) {
                    report(Mistake::At(
                        spec.span.clone(),
                        "calls or sends to an unknown service, or publishes to an unknown topic"
                            .to_string(),
                    ));
                }
                continue;
            };
            match sim.add_replicated_service(
                name,
                service,
                spec.capacity,
                spec.replicas,
                spec.balancer,
            ) {
                Ok(_) => {
                    added.insert(name.clone());
                }
                Err(error) => report(Mistake::Engine(
                    table("services", name),
                    file_step_path(error, spec.work.is_some()),
                )),
            }
        }
        // Handles of services left out (each with a mistake) are not used.
        handles.retain(|name, _| added.contains(name));
        // Subscriptions last: they need both ends.
        for (name, spec) in &self.services {
            let Some(service) = handles.get(name) else {
                continue;
            };
            for topic in &spec.subscribes {
                let Some(topic) = topics.get(topic) else {
                    if !(lenient || reported.get()) {
                        report(Mistake::At(
                            spec.span.clone(),
                            format!("unknown topic {topic:?}"),
                        ));
                    }
                    continue;
                };
                if let Err(error) = sim.subscribe(topic, service, |_| ()) {
                    report(Mistake::At(spec.span.clone(), error.to_string()));
                }
            }
        }
        for link in &self.links {
            if let Err(error) = sim.add_link(&link.from, &link.to, link.latency.clone()) {
                report(Mistake::Engine(entry("links", link.index), error));
            }
        }
        for (name, spec) in &self.workloads {
            let Some(target) = handles.get(&spec.target) else {
                if !(lenient || reported.get()) {
                    report(Mistake::At(spec.span.clone(), "unknown target".to_string()));
                }
                continue;
            };
            if let Err(error) = sim.add_workload(name, target, spec.workload.clone(), |_| ()) {
                report(Mistake::Engine(table("workloads", name), error));
            }
        }
        for spec in &self.faults {
            if let Err(error) = sim.add_fault(spec.fault.clone()) {
                report(Mistake::Engine(entry("faults", spec.index), error));
            }
        }
        for spec in &self.policies {
            if let Err(error) = sim.add_policy(&spec.from, &spec.to, spec.policy.clone()) {
                report(Mistake::Engine(entry("policies", spec.index), error));
            }
        }
        if !(lenient || reported.get())
            && let Err(error) = sim.check_routing()
        {
            let place = match &error {
                BuildError::EndlessCycle { cycle } => cycle
                    .iter()
                    .find(|name| self.services.contains_key(*name))
                    .map_or_else(
                        || FieldPath::key("services"),
                        |name| {
                            FieldPath::key("steps")
                                .within(name.clone())
                                .within("services")
                        },
                    ),
                _ => FieldPath::key("services"),
            };
            report(Mistake::Engine(place, error));
        }
        Some(sim)
    }

    /// Checks what is the file's own -- names, references, cycles, keys that apply only with
    /// others, settings that could never act -- and maps every value onto the engine's
    /// configuration types, whose rules are checked when the simulation is built here, once.
    /// Every mistake is reported to `source`; what has one is left out, and so are the checks
    /// that would need it. `None` if a section the others refer to (services, topics) is not
    /// even a table.
    fn check(
        raw: RawFile,
        source: &Source<'_>,
        overlay: &Arc<Overlay>,
        origin: &str,
        dir: &Path,
    ) -> Option<Scenario> {
        let text = overlay.text();
        let RawFile {
            simulation,
            tracing,
            services: raw_services,
            topics: raw_topics,
            links: raw_links,
            workloads: raw_workloads,
            faults: raw_faults,
            policies: raw_policies,
            thresholds: raw_thresholds,
            broken,
        } = raw;
        if broken
            .iter()
            .any(|section| ["services", "topics"].contains(section))
        {
            // Nothing that names a service or topic can be checked.
            return None;
        }
        let declares_workloads = !raw_workloads.is_empty() || broken.contains(&"workloads");

        // [simulation]: the engine's defaults, overridden by what the file writes.
        let mut settings = settings::check_simulation(source, simulation);
        // [tracing]: present, tracing is on, with the engine's defaults where it says nothing.
        if let Some(tracing) = tracing::check_tracing(source, tracing) {
            settings.builder = settings.builder.tracing(tracing);
        }

        // Names first, so that calls, publishes and subscriptions can be checked against all
        // of them, those of entries with a mistake included.
        let service_names = services::check_service_names(source, &raw_services);
        let service_names: Vec<&str> = service_names.iter().map(String::as_str).collect();
        let topics = topics::check_topics(source, &service_names, raw_topics);
        let topic_names: Vec<&str> = topics.names.iter().map(String::as_str).collect();
        let names = Names {
            services: &service_names,
            topics: &topic_names,
        };

        // Services with a mistake: what they call and publish to is not known.
        let mut unknown = BTreeSet::new();
        let services = services::check_services(source, &names, raw_services, &mut unknown);
        let graph = graph::check_graph(source, services.edges, topics.dead_letters);
        let (links, links_complete) = links::check_links(source, &names, text, raw_links);
        let workload_names = (!broken.contains(&"workloads"))
            .then(|| raw_workloads.keys().map(|k| k.get_ref().clone()).collect());
        let (workloads, workloads_complete) =
            workloads::check_workloads(source, &names, raw_workloads, dir);
        if !workloads_complete || broken.contains(&"workloads") {
            // Which services the workloads call is not known.
            unknown.insert(CLIENT.to_string());
        }

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
            sends: graph.sends,
            publishes: graph.publishes,
            unknown: &unknown,
            duration: settings.complete.then_some(settings.builder.duration),
        };
        let written_faults = raw_faults.len();
        let (faults, faults_complete) = resilience::check_faults(source, &topology, raw_faults);
        let (policies, policies_complete) =
            resilience::check_policies(source, &topology, text, raw_policies);
        // Thresholds against the report the run will give: what it holds of each entry.
        let declared = thresholds::Declared {
            workloads: workload_names,
            workload_specs: &workloads,
            services: &service_names,
            service_specs: &services.specs,
            topics: &topic_names,
            topic_specs: &topics.specs,
            policies: (policies_complete && !broken.contains(&"policies"))
                .then_some(policies.as_slice()),
            faults: (!broken.contains(&"faults")).then_some((written_faults, faults.as_slice())),
        };
        let thresholds = thresholds::check_thresholds(source, &declared, raw_thresholds);

        let scenario = Scenario {
            origin: Arc::from(origin),
            overlay: Arc::clone(overlay),
            seed: settings.seed,
            settings: settings.builder,
            services: services.specs,
            topics: topics.specs,
            links,
            workloads,
            faults,
            policies,
            build_order: graph.build_order,
            thresholds,
        };
        // Every value's rule is the engine's: building is the check, its errors located at
        // the setting. A scenario that parses always builds.
        // Workloads the engine rejected: their entry's mistake is told, nothing more of them.
        let mut rejected = BTreeSet::new();
        scenario.assemble(None, source.has_errors(), &mut |mistake| {
            if let Mistake::Engine(item, _) = &mistake
                && let [PathSegment::Key(section), PathSegment::Key(name)] = item.segments()
                && section == "workloads"
            {
                rejected.insert(name.clone());
            }
            source.report(source.mistake(mistake));
        });
        // A loop that cannot take time, where what a request's time depends on is all known:
        // a link, fault or policy with a mistake might be what gives it time.
        let known = settings.complete
            && links_complete
            && faults_complete
            && policies_complete
            && !["links", "faults", "policies"]
                .iter()
                .any(|section| broken.contains(section));
        if known {
            graph::check_zero_time_loops(source, &scenario, &rejected);
        }
        if !declares_workloads && !source.has_errors() {
            // Said only of a file otherwise without mistakes: a file still being written
            // lacks its workloads too, and its other mistakes matter first.
            source.report(source.error_at_top(
                "workloads",
                "no workloads: add a [workloads.NAME] table with a target and open or closed traffic",
            ));
        }
        Some(scenario)
    }
}

/// What the engine rejected while a scenario was built, to be located in the file.
/// A script's error about its steps, placed as the file writes them: the service's `work`
/// is the script's first step, before the file's `steps`.
fn file_step_path(error: BuildError, has_work: bool) -> BuildError {
    let BuildError::InvalidService {
        service,
        field,
        reason,
    } = error
    else {
        return error;
    };
    let field = match (has_work, field.segments()) {
        (true, [PathSegment::Key(steps), PathSegment::Index(0), rest @ ..]) if steps == "steps" => {
            FieldPath::from_segments(rest.to_vec())
        }
        (
            true,
            [
                PathSegment::Key(steps),
                PathSegment::Index(index),
                rest @ ..,
            ],
        ) if steps == "steps" => {
            let mut segments = vec![
                PathSegment::Key("steps".into()),
                PathSegment::Index(index - 1),
            ];
            segments.extend(rest.iter().cloned());
            FieldPath::from_segments(segments)
        }
        _ => field,
    };
    BuildError::InvalidService {
        service,
        field,
        reason,
    }
}

enum Mistake {
    /// The engine's error about the item written at this path.
    Engine(FieldPath, BuildError),
    /// An error at this span of the file.
    At(Range<usize>, String),
}

impl Source<'_> {
    /// The engine's error located at the setting it names (the item's path followed by the
    /// error's field), in the engine's own words.
    fn mistake(&self, mistake: Mistake) -> ScenarioError {
        match mistake {
            Mistake::Engine(item, error) => match error.field() {
                Some(field) => self.error_at(&item.join(field), error.reason()),
                None => self.error_at(&item, error.to_string()),
            },
            Mistake::At(span, message) => self.error(span, message),
        }
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
    use crate::fault::Fault;

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
        scenario.faults[0].fault = Fault::fail("b", 2.0);
        let err = scenario.to_simulation(None).unwrap_err().to_string();
        assert_eq!(
            err,
            "engine.toml:16:15: faults[0].probability: probability must be within [0, 1] (0.1 = one in ten), got 2"
        );
    }
}
