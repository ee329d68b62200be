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
//! `{ work = DIST }` spends more processing time, and `{ parallel = [STEP, ...] }` runs its
//! branches at once and waits for all of them. A failed call fails the request. Requests and
//! responses carry no data: a file models time, not content.
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

mod error;
mod file;
mod scripted;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use crate::distribution::Distribution;
use crate::duration_format::format_duration;
use crate::link::CLIENT;
use crate::service::Capacity;
use crate::simulation::Simulation;
use crate::workload::Workload;

pub use error::ScenarioError;

use error::{Source, closest};
use file::{Dur, RawFile, RawService, RawStep, RawWorkload};
use scripted::{Action, ScriptedService};

/// The file behind [`Scenario::bundled_store`].
const STORE: &str = include_str!("../../scenarios/store.toml");

/// Open-loop rates above one request per nanosecond cannot be represented on the clock.
const MAX_RATE: f64 = 1e9;

/// A parsed and checked scenario file: everything needed to build a [`Simulation`].
///
/// Holds the file's text so that a later error can still point into it.
#[derive(Debug, Clone)]
pub struct Scenario {
    origin: Arc<str>,
    text: Arc<str>,
    seed: Option<u64>,
    duration: Duration,
    warmup: Duration,
    default_latency: Distribution,
    call_timeout: Duration,
    /// By name.
    services: BTreeMap<String, ServiceSpec>,
    /// In file order.
    links: Vec<LinkSpec>,
    /// By name.
    workloads: BTreeMap<String, WorkloadSpec>,
    /// Service names, callees before their callers.
    build_order: Vec<String>,
}

#[derive(Debug, Clone)]
struct ServiceSpec {
    span: Range<usize>,
    capacity: Capacity,
    work: Option<Distribution>,
    steps: Vec<StepSpec>,
}

#[derive(Debug, Clone)]
enum StepSpec {
    Call(String),
    Work(Distribution),
    Parallel(Vec<StepSpec>),
}

#[derive(Debug, Clone)]
struct LinkSpec {
    span: Range<usize>,
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

/// Where each setting of `[simulation]` is written, to point at it.
#[derive(Debug, Clone, Default)]
struct SettingSpans {
    duration: Option<Range<usize>>,
    warmup: Option<Range<usize>>,
    call_timeout: Option<Range<usize>>,
}

impl Scenario {
    /// Parses and checks a scenario file's text. `origin` names the file in error messages
    /// (usually its file name).
    ///
    /// # Errors
    /// [`ScenarioError::Invalid`] for invalid TOML, an unknown or missing key, a value of the
    /// wrong type or out of range (a duration without a unit, a zero or negative rate, an
    /// invalid distribution), a call, link or workload naming a service that does not exist,
    /// or a call cycle. The message names `origin`, the line and column, and the key path.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let source = Source::parse(text, origin)?;
        let raw: RawFile = toml::from_str(text).map_err(|e| source.deserialize_error(&e))?;
        let (scenario, spans) = Scenario::check(raw, &source, text, origin)?;
        scenario.check_settings(&source, &spans)?;
        // The engine's own checks, located: a scenario that parses always builds.
        scenario.to_simulation(None)?;
        Ok(scenario)
    }

    /// Reads and parses the scenario file at `path`; its file name is the origin of messages.
    ///
    /// # Errors
    /// [`ScenarioError::Read`] if the file cannot be read (naming the path), otherwise as
    /// [`parse`](Self::parse).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let origin = path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        Scenario::parse(&text, &origin)
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
        self.duration
    }

    /// `simulation.warmup`: requests intended before this are not counted.
    pub fn warmup(&self) -> Duration {
        self.warmup
    }

    /// The services' names, sorted.
    pub fn service_names(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
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
        let locate = |span: &Option<Range<usize>>, key: &str, message: String| match span {
            Some(span) => self.error(span.clone(), message),
            None => self.error_at_top(key, message),
        };
        let mut sim = Simulation::builder()
            .seed(seed.or(self.seed).unwrap_or(0))
            .duration(self.duration)
            .warmup(self.warmup)
            .default_latency(self.default_latency.clone())
            .call_timeout(self.call_timeout)
            .build()
            .map_err(|e| locate(&None, "simulation", e.to_string()))?;

        let mut handles = BTreeMap::new();
        for name in &self.build_order {
            let Some(spec) = self.services.get(name) else {
                continue;
            };
            let steps = spec
                .steps
                .iter()
                .map(|step| bind(step, &handles))
                .collect::<Option<Vec<Action>>>()
                .ok_or_else(|| {
                    self.error(
                        spec.span.clone(),
                        "calls a service added after it".to_string(),
                    )
                })?;
            let service = ScriptedService {
                work: spec.work.clone(),
                steps,
            };
            let handle = sim
                .add_service(name, service, spec.capacity)
                .map_err(|e| self.error(spec.span.clone(), e.to_string()))?;
            handles.insert(name.clone(), handle);
        }
        for link in &self.links {
            sim.add_link(&link.from, &link.to, link.latency.clone())
                .map_err(|e| self.error(link.span.clone(), e.to_string()))?;
        }
        for (name, spec) in &self.workloads {
            let target = handles
                .get(&spec.target)
                .ok_or_else(|| self.error(spec.span.clone(), "unknown target".to_string()))?;
            sim.add_workload(name, target, spec.workload.clone(), |_| ())
                .map_err(|e| self.error(spec.span.clone(), e.to_string()))?;
        }
        Ok(sim)
    }

    /// An error at `span` of this scenario's text.
    fn error(&self, span: Range<usize>, message: String) -> ScenarioError {
        match Source::parse(&self.text, &self.origin) {
            Ok(source) => source.error(span, message),
            Err(error) => error,
        }
    }

    fn error_at_top(&self, key: &str, message: String) -> ScenarioError {
        match Source::parse(&self.text, &self.origin) {
            Ok(source) => source.error_at_top(key, message),
            Err(error) => error,
        }
    }

    /// Checks everything but the `[simulation]` settings' relations; returns the scenario and
    /// where those settings are written.
    fn check(
        raw: RawFile,
        source: &Source<'_>,
        text: &str,
        origin: &str,
    ) -> Result<(Scenario, SettingSpans), ScenarioError> {
        let RawFile {
            simulation,
            services: raw_services,
            links: raw_links,
            workloads: raw_workloads,
        } = raw;

        // [simulation]
        let mut spans = SettingSpans::default();
        let mut scenario = Scenario {
            origin: Arc::from(origin),
            text: Arc::from(text),
            seed: None,
            duration: Duration::from_secs(60),
            warmup: Duration::ZERO,
            default_latency: Distribution::ZERO,
            call_timeout: Duration::from_secs(30),
            services: BTreeMap::new(),
            links: Vec::new(),
            workloads: BTreeMap::new(),
            build_order: Vec::new(),
        };
        if let Some(simulation) = simulation {
            let simulation = simulation.into_inner();
            if let Some(seed) = simulation.seed {
                let value = u64::try_from(*seed.get_ref()).map_err(|_| {
                    source.error(
                        seed.span(),
                        format!("seed must be 0 or more, got {}", seed.get_ref()),
                    )
                })?;
                scenario.seed = Some(value);
            }
            if let Some(duration) = simulation.duration {
                spans.duration = Some(duration.span());
                scenario.duration = duration.into_inner().0;
            }
            if let Some(warmup) = simulation.warmup {
                spans.warmup = Some(warmup.span());
                scenario.warmup = warmup.into_inner().0;
            }
            if let Some(timeout) = simulation.call_timeout {
                spans.call_timeout = Some(timeout.span());
                scenario.call_timeout = timeout.into_inner().0;
            }
            if let Some(latency) = simulation.default_latency {
                scenario.default_latency = checked_distribution(source, latency)?;
            }
        }

        // [services.NAME]: names first, so that calls can be checked against all of them.
        let owned_names: Vec<String> = raw_services.keys().map(|k| k.get_ref().clone()).collect();
        let names: Vec<&str> = owned_names.iter().map(String::as_str).collect();
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
        let mut calls: BTreeMap<String, Vec<Spanned<String>>> = BTreeMap::new();
        for (name, service) in raw_services {
            let name = name.into_inner();
            let span = service.span();
            let (spec, service_calls) = check_service(source, &names, service.into_inner())?;
            calls.insert(name.clone(), service_calls);
            scenario.services.insert(name, ServiceSpec { span, ..spec });
        }
        scenario.build_order = build_order(source, &calls)?;

        // [[links]]
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for link in raw_links {
            let span = link.span();
            let link = link.into_inner();
            let from_known =
                link.from.get_ref() == CLIENT || names.contains(&link.from.get_ref().as_str());
            if !from_known {
                let mut endpoints = names.clone();
                endpoints.push(CLIENT);
                return Err(unknown_service(source, &link.from, &endpoints));
            }
            if link.to.get_ref() == CLIENT {
                return Err(source.error(
                    link.to.span(),
                    "a link cannot lead to \"client\": a link from A to B covers both the request and the response",
                ));
            }
            if !names.contains(&link.to.get_ref().as_str()) {
                return Err(unknown_service(source, &link.to, &names));
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
                span,
                from: link.from.into_inner(),
                to: link.to.into_inner(),
                latency: checked_distribution(source, link.latency)?,
            });
        }

        // [workloads.NAME]
        if raw_workloads.is_empty() {
            return Err(source.error_at_top(
                "workloads",
                "no workloads: add a [workloads.NAME] table with a target and open or closed traffic",
            ));
        }
        for (name, workload) in raw_workloads {
            let span = workload.span();
            let spec = check_workload(source, &names, span.clone(), workload.into_inner())?;
            scenario.workloads.insert(name.into_inner(), spec);
        }
        Ok((scenario, spans))
    }

    /// The settings' relations: a positive duration, a warm-up shorter than it, a positive
    /// call timeout.
    fn check_settings(
        &self,
        source: &Source<'_>,
        spans: &SettingSpans,
    ) -> Result<(), ScenarioError> {
        let at = |span: &Option<Range<usize>>, key: &str, message: String| match span {
            Some(span) => source.error(span.clone(), message),
            None => source.error_at_top(key, message),
        };
        if self.duration.is_zero() {
            return Err(at(
                &spans.duration,
                "simulation.duration",
                "duration must be greater than 0s".to_string(),
            ));
        }
        if self.warmup >= self.duration {
            return Err(at(
                spans
                    .warmup
                    .as_ref()
                    .map_or(&spans.duration, |_| &spans.warmup),
                "simulation.warmup",
                format!(
                    "warmup {} leaves nothing to measure: it must be shorter than the duration {}",
                    format_duration(self.warmup),
                    format_duration(self.duration)
                ),
            ));
        }
        if self.call_timeout.is_zero() {
            return Err(at(
                &spans.call_timeout,
                "simulation.call_timeout",
                "call_timeout must be greater than 0s".to_string(),
            ));
        }
        Ok(())
    }
}

/// Binds a step to the handles of the services already added.
fn bind(
    step: &StepSpec,
    handles: &BTreeMap<String, crate::ServiceHandle<ScriptedService>>,
) -> Option<Action> {
    Some(match step {
        StepSpec::Call(name) => Action::Call(handles.get(name)?.clone()),
        StepSpec::Work(work) => Action::Work(work.clone()),
        StepSpec::Parallel(branches) => Action::Parallel(
            branches
                .iter()
                .map(|branch| bind(branch, handles))
                .collect::<Option<_>>()?,
        ),
    })
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

/// Checks one `[services.NAME]` table; returns it and the calls it makes, in order.
fn check_service(
    source: &Source<'_>,
    names: &[&str],
    raw: RawService,
) -> Result<(ServiceSpec, Vec<Spanned<String>>), ScenarioError> {
    let workers = match raw.workers {
        None => 1,
        Some(workers) => match usize::try_from(*workers.get_ref()) {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(source.error(
                    workers.span(),
                    format!("workers must be at least 1, got {}", workers.get_ref()),
                ));
            }
        },
    };
    let mut capacity = Capacity::workers(workers);
    if let Some(queue) = raw.queue {
        let bound = usize::try_from(*queue.get_ref()).map_err(|_| {
            source.error(
                queue.span(),
                format!("queue must be 0 or more, got {}", queue.get_ref()),
            )
        })?;
        capacity = capacity.with_queue(bound);
    }
    let work = raw
        .work
        .map(|work| checked_distribution(source, work))
        .transpose()?;
    let mut calls = Vec::new();
    let steps = raw
        .steps
        .into_iter()
        .map(|step| check_step(source, names, step, &mut calls))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        ServiceSpec {
            span: 0..0,
            capacity,
            work,
            steps,
        },
        calls,
    ))
}

fn check_step(
    source: &Source<'_>,
    names: &[&str],
    step: Spanned<RawStep>,
    calls: &mut Vec<Spanned<String>>,
) -> Result<StepSpec, ScenarioError> {
    let span = step.span();
    let RawStep {
        call,
        work,
        parallel,
    } = step.into_inner();
    let given: Vec<&str> = [
        call.as_ref().map(|_| "call"),
        work.as_ref().map(|_| "work"),
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
            format!("a step has exactly one of the keys call, work or parallel; found {found}"),
        ));
    }
    if let Some(call) = call {
        if !names.contains(&call.get_ref().as_str()) {
            return Err(unknown_service(source, &call, names));
        }
        let name = call.get_ref().clone();
        calls.push(call);
        return Ok(StepSpec::Call(name));
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
            .map(|branch| check_step(source, names, branch, calls))
            .collect::<Result<_, _>>()?,
    ))
}

/// Orders the services so that every callee comes before its callers, or reports the first
/// call cycle (services visited by name, calls in file order).
fn build_order(
    source: &Source<'_>,
    calls: &BTreeMap<String, Vec<Spanned<String>>>,
) -> Result<Vec<String>, ScenarioError> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = calls.keys().map(|k| (k.as_str(), Mark::New)).collect();
    let mut order = Vec::with_capacity(calls.len());
    for root in calls.keys() {
        if marks.get(root.as_str()) != Some(&Mark::New) {
            continue;
        }
        // Iterative depth-first search: (service, index of its next call); the path of active
        // services is the stack, with the span of the call that led to each.
        let mut stack: Vec<(&str, usize, Option<Range<usize>>)> = vec![(root.as_str(), 0, None)];
        marks.insert(root.as_str(), Mark::Active);
        while let Some((service, next, _)) = stack.last().cloned() {
            let outgoing = calls.get(service).map_or(&[][..], Vec::as_slice);
            let Some(call) = outgoing.get(next) else {
                marks.insert(service, Mark::Done);
                order.push(service.to_string());
                stack.pop();
                continue;
            };
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            let callee = call.get_ref().as_str();
            match marks.get(callee).copied().unwrap_or(Mark::Done) {
                Mark::Done => {}
                Mark::New => {
                    marks.insert(callee, Mark::Active);
                    stack.push((callee, 0, Some(call.span())));
                }
                Mark::Active => {
                    // The cycle runs from `callee`'s place on the stack to here.
                    let start = stack
                        .iter()
                        .position(|(name, _, _)| *name == callee)
                        .unwrap_or(0);
                    let mut cycle: Vec<&str> = stack[start..].iter().map(|(n, _, _)| *n).collect();
                    cycle.push(callee);
                    // Point at the first call of the cycle.
                    let span = stack
                        .get(start + 1)
                        .and_then(|(_, _, span)| span.clone())
                        .unwrap_or_else(|| call.span());
                    return Err(source.error(span, format!("call cycle {}", cycle.join(" -> "))));
                }
            }
        }
    }
    Ok(order)
}

fn check_workload(
    source: &Source<'_>,
    names: &[&str],
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
    if !names.contains(&target.get_ref().as_str()) {
        return Err(unknown_service(source, &target, names));
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
            if !(rate.is_finite() && rate > 0.0) {
                return Err(source.error(
                    open.rate.span(),
                    format!("rate must be a finite number of requests per second > 0, got {rate}"),
                ));
            }
            if rate > MAX_RATE {
                return Err(source.error(
                    open.rate.span(),
                    format!("rate must be at most 1e9 requests per second (one per nanosecond), got {rate}"),
                ));
            }
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
            let users = match usize::try_from(*closed.users.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(source.error(
                        closed.users.span(),
                        format!("users must be at least 1, got {}", closed.users.get_ref()),
                    ));
                }
            };
            Workload::closed(users, checked_distribution(source, closed.think)?)
        }
    };
    if let Some(timeout) = timeout {
        let Dur(value) = *timeout.get_ref();
        if value.is_zero() {
            return Err(source.error(timeout.span(), "timeout must be greater than 0s"));
        }
        workload = workload.with_timeout(value);
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
}
