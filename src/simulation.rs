//! Assembling and running a simulation.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::balancer::{Balancer, BalancerState};
use crate::broker::{RunningTopic, ServiceSubscriber};
use crate::clock::{Clock, ClockKind};
use crate::distribution::Distribution;
use crate::duration_format::format_duration;
use crate::engine::{Engine, Faults, NodeId, ServiceControl, Timing};
use crate::error::{BuildError, FieldError, FieldPath, SimulationError};
use crate::fault::Fault;
use crate::handle::ServiceHandle;
use crate::link::{CLIENT, Links};
use crate::policy::{CallPolicy, Policies};
use crate::progress::Progress;
use crate::random::{self, SimRng};
use crate::replica::{Replica, ReplicaSet};
use crate::report::{Report, ServiceReport, TopicReport, WorkloadReport};
use crate::rules;
use crate::service::{Capacity, Service};
use crate::suggest::did_you_mean;
use crate::topic::{Delivery, Event, Topic, TopicHandle};
use crate::workload::{MakeRequest, Workload, WorkloadResult, WorkloadRun};

/// Distinguishes simulations in one process, so a handle cannot be used in the wrong one.
static NEXT_SIMULATION: AtomicU64 = AtomicU64::new(1);

/// Settings of a simulation; see [`Simulation::builder`].
///
/// ```
/// use std::time::Duration;
/// use microsim::{ClockKind, Distribution, Simulation};
///
/// let sim = Simulation::builder()
///     .seed(7)
///     .duration(Duration::from_secs(60))
///     .warmup(Duration::from_secs(5))
///     .default_latency(Distribution::constant(Duration::from_micros(100)))
///     .call_timeout(Duration::from_secs(5))
///     .clock(ClockKind::Virtual)
///     .build()?;
/// # let _ = sim;
/// # Ok::<(), microsim::BuildError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SimulationBuilder {
    pub(crate) seed: u64,
    pub(crate) duration: Duration,
    pub(crate) warmup: Duration,
    pub(crate) default_latency: Distribution,
    pub(crate) call_timeout: Duration,
    pub(crate) clock: ClockKind,
}

impl Default for SimulationBuilder {
    fn default() -> Self {
        SimulationBuilder {
            seed: 0,
            duration: Duration::from_secs(60),
            warmup: Duration::ZERO,
            default_latency: Distribution::ZERO,
            call_timeout: Duration::from_secs(30),
            clock: ClockKind::Virtual,
        }
    }
}

impl SimulationBuilder {
    /// The seed every random draw derives from. Default 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How long workloads send requests. Default 60 s.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// Requests intended before this are sent but not counted. Default 0.
    pub fn warmup(mut self, warmup: Duration) -> Self {
        self.warmup = warmup;
        self
    }

    /// Link latency between endpoints without a link of their own. Default zero.
    pub fn default_latency(mut self, latency: Distribution) -> Self {
        self.default_latency = latency;
        self
    }

    /// Timeout of every call that does not set its own. Default 30 s.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Virtual (default) or real time.
    pub fn clock(mut self, clock: ClockKind) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the settings and returns an empty simulation.
    ///
    /// # Errors
    /// [`BuildError::InvalidSetting`] for a zero duration, a warm-up not shorter than the
    /// duration or a zero timeout; [`BuildError::InvalidDistribution`] for a bad default
    /// latency.
    pub fn build(self) -> Result<Simulation, BuildError> {
        self.validate()?;
        Ok(Simulation {
            id: NEXT_SIMULATION.fetch_add(1, Ordering::Relaxed),
            settings: self,
            services: Vec::new(),
            links: BTreeMap::new(),
            workloads: Vec::new(),
            topics: Vec::new(),
            faults: Vec::new(),
            policies: BTreeMap::new(),
            progress: Progress::default(),
        })
    }
}

impl SimulationBuilder {
    /// The settings' rules: a positive duration, a warm-up shorter than it, a positive call
    /// timeout, a valid default latency.
    fn validate(&self) -> Result<(), BuildError> {
        let setting = |error: FieldError| BuildError::InvalidSetting {
            field: error.field,
            reason: error.reason,
        };
        rules::positive_duration("duration", self.duration).map_err(setting)?;
        if self.warmup >= self.duration {
            return Err(setting(FieldError::new(
                "warmup",
                format!(
                    "warmup {} leaves nothing to measure: it must be shorter than the duration {}",
                    format_duration(self.warmup),
                    format_duration(self.duration)
                ),
            )));
        }
        rules::positive_duration("call_timeout", self.call_timeout).map_err(setting)?;
        self.default_latency
            .validate()
            .map_err(|source| BuildError::InvalidDistribution {
                location: "simulation".into(),
                field: FieldPath::key("default_latency"),
                source,
            })
    }
}

/// A simulation being assembled: services, links between them, workloads. [`run`](Self::run)
/// consumes it and returns the [`Report`].
///
/// ```
/// use std::time::Duration;
/// use microsim::{Capacity, Context, Distribution, Service, ServiceError, Simulation, Workload};
///
/// struct Echo;
/// impl Service for Echo {
///     type Request = ();
///     type Response = ();
///     type State = ();
///     fn init_state(&self) {}
///     async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
///         ctx.work_for(Duration::from_micros(100)).await;
///         Ok(())
///     }
/// }
///
/// let mut sim = Simulation::builder().duration(Duration::from_secs(1)).build()?;
/// let echo = sim.add_service("echo", Echo, Capacity::workers(1))?;
/// sim.add_link("client", "echo", Distribution::constant(Duration::from_micros(50)))?;
/// sim.add_workload("ping", &echo, Workload::constant_rate(100.0), |_| ())?;
/// let report = sim.run()?;
/// let ping = &report.workloads["ping"];
/// assert_eq!(ping.completed, 100);
/// assert_eq!(ping.latency_ms.max, 0.2); // 50 us there, 100 us of work, 50 us back
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Simulation {
    id: u64,
    settings: SimulationBuilder,
    services: Vec<Box<dyn ServiceEntry + Send>>,
    links: BTreeMap<(String, String), Distribution>,
    workloads: Vec<Box<dyn WorkloadEntry + Send>>,
    topics: Vec<Box<dyn TopicEntry + Send>>,
    faults: Vec<Fault>,
    policies: BTreeMap<(String, String), CallPolicy>,
    progress: Progress,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("settings", &self.settings)
            .field(
                "services",
                &self.services.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field("links", &self.links)
            .field(
                "workloads",
                &self.workloads.iter().map(|w| w.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Simulation {
    /// Starts describing a simulation; see [`SimulationBuilder`] for the settings and their
    /// defaults.
    pub fn builder() -> SimulationBuilder {
        SimulationBuilder::default()
    }

    /// A live view of the run, to read from another thread while [`run`](Self::run) works.
    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }

    /// Adds a service named `name` with the given capacity and returns its handle.
    ///
    /// # Errors
    /// [`BuildError::InvalidServiceName`] for an empty, reserved (`"client"`) or repeated
    /// name; [`BuildError::InvalidService`] for zero workers.
    pub fn add_service<S: Service>(
        &mut self,
        name: &str,
        service: S,
        capacity: Capacity,
    ) -> Result<ServiceHandle<S>, BuildError> {
        self.add_replicated_service(name, service, capacity, 1, Balancer::RoundRobin)
    }

    /// Adds a service running `replicas` replicas, each with its own workers and queue of
    /// `capacity` and its own [`State`](Service::State), sharing one behaviour. Every call,
    /// message or event to the service goes to the replica `balancer` picks. The report shows
    /// the service's totals and a line per replica.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::{Balancer, Capacity, Context, Service, ServiceError, Simulation, Workload};
    /// # struct Api;
    /// # impl Service for Api {
    /// #     type Request = (); type Response = (); type State = ();
    /// #     fn init_state(&self) {}
    /// #     async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
    /// #         ctx.work_for(Duration::from_millis(1)).await; Ok(())
    /// #     }
    /// # }
    /// let mut sim = Simulation::builder().duration(Duration::from_secs(1)).build()?;
    /// let api = sim.add_replicated_service("api", Api, Capacity::workers(1), 3, Balancer::RoundRobin)?;
    /// sim.add_workload("load", &api, Workload::constant_rate(300.0), |_| ())?;
    /// let report = sim.run()?;
    /// let handled: Vec<u64> = report.services["api"].replicas.iter().map(|r| r.handled).collect();
    /// assert_eq!(handled, [100, 100, 100]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`add_service`](Self::add_service), and [`BuildError::InvalidService`] for zero
    /// replicas or a peak-EWMA decay of zero.
    pub fn add_replicated_service<S: Service>(
        &mut self,
        name: &str,
        service: S,
        capacity: Capacity,
        replicas: usize,
        balancer: Balancer,
    ) -> Result<ServiceHandle<S>, BuildError> {
        let reason = if name.is_empty() {
            Some("is empty")
        } else if name == CLIENT {
            Some("is reserved for the origin of workload requests")
        } else if self.name_taken(name) {
            Some("is used twice (services and topics share one namespace)")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(BuildError::InvalidServiceName {
                name: name.to_string(),
                reason,
            });
        }
        capacity
            .validate()
            .and_then(|()| rules::at_least("replicas", replicas, 1))
            .and_then(|()| balancer.validate())
            .map_err(|error| BuildError::InvalidService {
                service: name.to_string(),
                field: error.field,
                reason: error.reason,
            })?;
        let handle = ServiceHandle::new(Arc::from(name), self.id);
        self.services.push(Box::new(PendingService {
            handle: handle.clone(),
            service,
            capacity,
            replicas,
            balancer,
        }));
        Ok(handle)
    }

    /// Sets the latency of messages between `from` and `to` (in both directions of a call from
    /// `from` to `to`). Use `"client"` as `from` for the latency workloads see. Services may
    /// be added before or after their links; names are checked when the run starts.
    ///
    /// # Errors
    /// [`BuildError::InvalidDistribution`] for invalid latency parameters,
    /// [`BuildError::DuplicateLink`] if this link was already set.
    pub fn add_link(
        &mut self,
        from: &str,
        to: &str,
        latency: Distribution,
    ) -> Result<(), BuildError> {
        latency
            .validate()
            .map_err(|source| BuildError::InvalidDistribution {
                location: format!("link {from} -> {to}"),
                field: FieldPath::key("latency"),
                source,
            })?;
        let key = (from.to_string(), to.to_string());
        if self.links.contains_key(&key) {
            return Err(BuildError::DuplicateLink {
                from: key.0,
                to: key.1,
            });
        }
        self.links.insert(key, latency);
        Ok(())
    }

    /// Adds a workload named `name` sending to `target`; `make_request` makes each request
    /// from the workload's own random stream.
    ///
    /// # Errors
    /// [`BuildError::InvalidRate`], [`BuildError::InvalidWorkload`], an invalid think time,
    /// [`BuildError::DuplicateWorkload`], or [`BuildError::ForeignHandle`] if `target` was
    /// added to another simulation.
    pub fn add_workload<S: Service>(
        &mut self,
        name: &str,
        target: &ServiceHandle<S>,
        workload: Workload,
        make_request: impl FnMut(&mut SimRng) -> S::Request + Send + 'static,
    ) -> Result<(), BuildError> {
        workload.validate(name)?;
        if self.workloads.iter().any(|entry| entry.name() == name) {
            return Err(BuildError::DuplicateWorkload {
                name: name.to_string(),
            });
        }
        if target.simulation != self.id {
            return Err(BuildError::ForeignHandle {
                workload: name.to_string(),
                service: target.name().to_string(),
            });
        }
        self.workloads.push(Box::new(PendingWorkload {
            name: name.to_string(),
            workload,
            target: target.clone(),
            make_request: Box::new(make_request),
        }));
        Ok(())
    }

    fn name_taken(&self, name: &str) -> bool {
        self.services.iter().any(|entry| entry.name() == name)
            || self.topics.iter().any(|entry| entry.name() == name)
    }

    /// Adds a topic named `name` carrying events of type `E` and returns its handle. An
    /// at-least-once topic also gets a dead-letter topic, `NAME.dead-letter`
    /// ([`TopicHandle::dead_letter`]). A link from a service to the topic sets the latency of
    /// its publishes.
    ///
    /// # Errors
    /// [`BuildError::InvalidServiceName`] for an empty, reserved or taken name (services and
    /// topics share one namespace), [`BuildError::InvalidTopic`] for a zero ack timeout, zero
    /// max deliveries or zero capacity, [`BuildError::InvalidDistribution`] for a bad broker
    /// latency.
    pub fn add_topic<E: Event>(
        &mut self,
        name: &str,
        topic: Topic,
    ) -> Result<TopicHandle<E>, BuildError> {
        let dead_letter_name = format!("{name}.dead-letter");
        let reason = if name.is_empty() {
            Some("is empty")
        } else if name == CLIENT {
            Some("is reserved for the origin of workload requests")
        } else if self.name_taken(name) || self.name_taken(&dead_letter_name) {
            Some("is used twice (services and topics share one namespace)")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(BuildError::InvalidServiceName {
                name: name.to_string(),
                reason,
            });
        }
        topic.validate(name)?;
        let dead_letter = match topic.delivery() {
            Delivery::AtLeastOnce { .. } => {
                let handle = TopicHandle::new(Arc::from(dead_letter_name.as_str()), self.id, None);
                self.topics.push(Box::new(PendingTopic {
                    handle: handle.clone(),
                    topic: Topic::at_most_once(),
                }));
                Some(handle)
            }
            Delivery::AtMostOnce => None,
        };
        let handle = TopicHandle::new(Arc::from(name), self.id, dead_letter);
        self.topics.push(Box::new(PendingTopic {
            handle: handle.clone(),
            topic,
        }));
        Ok(handle)
    }

    /// Subscribes `service` to `topic`: every event published there is handed to `service`
    /// as the request `to_request(&event)`. A service subscribes once per topic; its workers
    /// form a consumer group (each event goes to one of them).
    ///
    /// # Errors
    /// [`BuildError::InvalidSubscription`] if the topic or service belongs to another
    /// simulation, or the service already subscribes to the topic.
    pub fn subscribe<E: Event, S: Service>(
        &mut self,
        topic: &TopicHandle<E>,
        service: &ServiceHandle<S>,
        to_request: impl Fn(&E) -> S::Request + Send + Sync + 'static,
    ) -> Result<(), BuildError> {
        let invalid = |reason: &str| BuildError::InvalidSubscription {
            service: service.name().to_string(),
            topic: topic.name().to_string(),
            reason: reason.to_string(),
        };
        if topic.simulation != self.id || service.simulation != self.id {
            return Err(invalid(
                "the topic and the service must belong to this simulation",
            ));
        }
        let mut subscribers = topic
            .shared
            .subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if subscribers
            .iter()
            .any(|existing| existing.name() == service.name())
        {
            return Err(invalid("the service already subscribes to this topic"));
        }
        subscribers.push(Arc::new(ServiceSubscriber {
            service: service.clone(),
            to_request,
        }));
        Ok(())
    }

    /// Schedules a fault (see [`Fault`]). Services are checked when the run starts.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::{Capacity, Context, Fault, Service, ServiceError, Simulation, Workload};
    /// # struct Api;
    /// # impl Service for Api {
    /// #     type Request = (); type Response = (); type State = ();
    /// #     fn init_state(&self) {}
    /// #     async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
    /// #         ctx.work_for(Duration::from_millis(1)).await; Ok(())
    /// #     }
    /// # }
    /// let s = Duration::from_secs;
    /// let mut sim = Simulation::builder().duration(s(3)).build()?;
    /// let api = sim.add_service("api", Api, Capacity::workers(1))?;
    /// sim.add_workload("load", &api, Workload::constant_rate(100.0), |_| ())?;
    /// // Five times slower during the second second.
    /// sim.add_fault(Fault::slow("api", 5.0).at(s(1)).lasting(s(1)))?;
    /// let report = sim.run()?;
    /// let latency = &report.workloads["load"].latency_ms;
    /// assert_eq!(latency.max, 5.0);
    /// assert!((latency.mean - (200.0 * 1.0 + 100.0 * 5.0) / 300.0).abs() < 1e-5); // mean is exact to the nanosecond
    /// assert_eq!(report.faults[0].fault, "slow api x5");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BuildError::InvalidFault`] for a factor that is not > 0, a probability outside
    /// [0, 1] or a window of no time.
    pub fn add_fault(&mut self, fault: Fault) -> Result<(), BuildError> {
        fault.validate()?;
        self.faults.push(fault);
        Ok(())
    }

    /// Sets the [`CallPolicy`] of calls from `from` to `to` (`"client"` as `from` for the
    /// workloads' requests): timeout, retries, circuit breaker, bulkhead, rate limit, hedging.
    /// Names are checked when the run starts, like links'.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::policy::{CallPolicy, Retry, RetryBudget};
    /// use microsim::{Capacity, Context, Fault, Service, ServiceError, Simulation, Workload};
    ///
    /// /// Fails one call in two while its fault is on.
    /// struct Flaky;
    /// impl Service for Flaky {
    ///     type Request = (); type Response = (); type State = ();
    ///     fn init_state(&self) {}
    ///     async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
    ///         ctx.work_for(Duration::from_millis(1)).await;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut sim = Simulation::builder().duration(Duration::from_secs(10)).build()?;
    /// let flaky = sim.add_service("flaky", Flaky, Capacity::workers(4))?;
    /// sim.add_fault(Fault::fail("flaky", 0.5))?;
    /// sim.add_policy("client", "flaky", CallPolicy::new().retry(Retry::attempts(5)))?;
    /// sim.add_workload("load", &flaky, Workload::poisson(100.0), |_| ())?;
    /// let report = sim.run()?;
    /// let load = &report.workloads["load"];
    /// let policy = &report.policies["client -> flaky"];
    /// // Five attempts fail together one time in 32.
    /// assert!(load.failed * 20 < load.sent, "{} of {} failed", load.failed, load.sent);
    /// assert_eq!(policy.attempts, policy.calls + policy.retries);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BuildError::InvalidPolicy`] for an invalid part (zero attempts, a budget ratio above
    /// 1, a zero bulkhead, ...) or a pair set twice.
    pub fn add_policy(
        &mut self,
        from: &str,
        to: &str,
        policy: CallPolicy,
    ) -> Result<(), BuildError> {
        let invalid = |error: FieldError| BuildError::InvalidPolicy {
            from: from.to_string(),
            to: to.to_string(),
            field: error.field,
            reason: error.reason,
        };
        policy.validate().map_err(invalid)?;
        let key = (from.to_string(), to.to_string());
        if self.policies.contains_key(&key) {
            return Err(invalid(FieldError::whole("this pair already has a policy")));
        }
        self.policies.insert(key, policy);
        Ok(())
    }

    /// Checks that every link names known endpoints.
    fn validate_links(&self) -> Result<(), BuildError> {
        let known: Vec<&str> = std::iter::once(CLIENT)
            .chain(self.services.iter().map(|s| s.name()))
            .chain(self.topics.iter().map(|t| t.name()))
            .collect();
        let nodes: Vec<(&str, usize)> = std::iter::once((CLIENT, 0))
            .chain(self.services.iter().map(|s| (s.name(), s.replicas())))
            .chain(self.topics.iter().map(|t| (t.name(), 0)))
            .collect();
        for fault in &self.faults {
            crate::fault_schedule::check_targets(fault, &nodes)?;
        }
        for (from, to) in self.policies.keys() {
            for endpoint in [from, to] {
                if !known.contains(&endpoint.as_str()) {
                    return Err(BuildError::InvalidPolicy {
                        from: from.clone(),
                        to: to.clone(),
                        field: FieldPath::key(if endpoint == from { "from" } else { "to" }),
                        reason: format!(
                            "unknown service {endpoint:?}{}",
                            did_you_mean(endpoint, known.iter().copied())
                        ),
                    });
                }
            }
        }
        for (from, to) in self.links.keys() {
            for endpoint in [from, to] {
                if !known.contains(&endpoint.as_str()) {
                    return Err(BuildError::UnknownLinkEndpoint {
                        from: from.clone(),
                        to: to.clone(),
                        unknown: endpoint.clone(),
                        hint: did_you_mean(endpoint, known.iter().copied()),
                    });
                }
            }
        }
        Ok(())
    }

    /// Runs the simulation to the end of its duration, waits for every request in flight to
    /// end, and returns the report.
    ///
    /// On the virtual clock this takes as long as the computation does, not the simulated
    /// duration; on the real clock it takes the duration (plus the drain).
    ///
    /// # Errors
    /// [`SimulationError::Build`] for links to unknown services (found before anything runs),
    /// [`SimulationError::Stalled`] if a handler waits on something outside the simulation
    /// forever, [`SimulationError::Runtime`] or [`SimulationError::Spawn`] if tokio or ractor
    /// cannot start.
    pub fn run(self) -> Result<Report, SimulationError> {
        let progress = self.progress.clone();
        let outcome = self.run_to_end();
        progress.finish();
        outcome
    }

    fn run_to_end(self) -> Result<Report, SimulationError> {
        self.validate_links()?;
        let (runtime, clock) = crate::clock::runtime(self.settings.clock)?;
        let report = runtime.block_on(self.execute(clock));
        // Dropping the runtime ends every task left (stopped actors, abandoned handlers).
        drop(runtime);
        report
    }

    async fn execute(self, clock: Clock) -> Result<Report, SimulationError> {
        let Simulation {
            settings,
            services,
            links,
            workloads,
            topics,
            faults,
            policies,
            progress,
            ..
        } = self;
        let names: Vec<&str> = std::iter::once(CLIENT)
            .chain(services.iter().map(|s| s.name()))
            .chain(topics.iter().map(|t| t.name()))
            .collect();
        let links = Links::new(
            settings.seed,
            &names,
            &settings.default_latency,
            |from, to| links.get(&(from.to_string(), to.to_string())).cloned(),
        );
        let timing = Timing {
            warmup: settings.warmup,
            duration: settings.duration,
            call_timeout: settings.call_timeout,
        };
        let nodes: Vec<(String, usize)> = std::iter::once((CLIENT.to_string(), 0))
            .chain(
                services
                    .iter()
                    .map(|s| (s.name().to_string(), s.replicas())),
            )
            .chain(topics.iter().map(|t| (t.name().to_string(), 0)))
            .collect();
        let faults = Faults::new(settings.seed, nodes, faults);
        let policies = Policies::new(settings.seed, &names, |from, to| {
            policies.get(&(from.to_string(), to.to_string())).cloned()
        });
        let engine = Arc::new(Engine::new(
            clock, timing, links, progress, faults, policies,
        ));

        let mut running = Vec::with_capacity(services.len());
        for (index, service) in services.into_iter().enumerate() {
            running.push(
                service
                    .start(NodeId(index + 1), settings.seed, Arc::clone(&engine))
                    .await?,
            );
        }
        let first_topic = running.len() + 1;
        let mut brokers = Vec::with_capacity(topics.len());
        for (index, topic) in topics.into_iter().enumerate() {
            brokers.push(
                topic
                    .start(
                        NodeId(first_topic + index),
                        settings.seed,
                        Arc::clone(&engine),
                    )
                    .await?,
            );
        }
        engine.start_crashes(
            running
                .iter()
                .map(|service| Arc::clone(service) as _)
                .collect(),
        );
        let started: Vec<(String, WorkloadResult)> = workloads
            .into_iter()
            .map(|workload| {
                let name = workload.name().to_string();
                (name, workload.start(&engine, settings.seed))
            })
            .collect();

        let stalled = tokio::select! {
            biased;
            () = engine.in_flight.drained() => false,
            () = engine.clock.stalled() => true,
        };
        let drained_at = engine.clock.now();
        engine.stop_crashes();
        for service in &running {
            service.shutdown();
        }
        for broker in &brokers {
            broker.shutdown();
        }
        if stalled {
            return Err(SimulationError::Stalled {
                at: drained_at,
                in_flight: engine.in_flight.count(),
            });
        }
        let measured = settings.duration - settings.warmup;
        let workloads: BTreeMap<String, WorkloadReport> = started
            .iter()
            .map(|(name, result)| (name.clone(), result.report(measured)))
            .collect();
        let topics: BTreeMap<String, TopicReport> = brokers
            .iter()
            .map(|broker| (broker.name().to_string(), broker.report(drained_at)))
            .collect();
        let services: BTreeMap<String, ServiceReport> = running
            .iter()
            .map(|service| (service.name().to_string(), service.report()))
            .collect();
        Ok(Report {
            seed: settings.seed,
            clock: settings.clock,
            simulated_seconds: settings.duration.as_secs_f64(),
            measured_seconds: measured.as_secs_f64(),
            drained_seconds: drained_at.as_secs_f64(),
            workloads,
            services,
            topics,
            faults: engine.faults.report(),
            policies: engine.policies.report(),
        })
    }
}

type StartFuture = Pin<Box<dyn Future<Output = Result<Arc<dyn RunningService>, SimulationError>>>>;

/// A service added to a simulation, type-erased until it starts.
trait ServiceEntry {
    fn name(&self) -> &str;
    fn replicas(&self) -> usize;
    fn start(self: Box<Self>, node: NodeId, seed: u64, engine: Arc<Engine>) -> StartFuture;
}

trait RunningService: ServiceControl {
    fn name(&self) -> &str;
    fn report(&self) -> ServiceReport;
    fn shutdown(&self);
}

struct PendingService<S: Service> {
    handle: ServiceHandle<S>,
    service: S,
    capacity: Capacity,
    replicas: usize,
    balancer: Balancer,
}

impl<S: Service> ServiceEntry for PendingService<S> {
    fn name(&self) -> &str {
        self.handle.name()
    }

    fn replicas(&self) -> usize {
        self.replicas
    }

    fn start(self: Box<Self>, node: NodeId, seed: u64, engine: Arc<Engine>) -> StartFuture {
        Box::pin(async move {
            let PendingService {
                handle,
                service,
                capacity,
                replicas,
                balancer,
            } = *self;
            let name: Arc<str> = Arc::from(handle.name());
            let service = Arc::new(service);
            let mut started = Vec::with_capacity(replicas);
            for index in 0..replicas {
                // Replica 0 keeps the stream a single-replica service has.
                let label = match index {
                    0 => format!("service/{name}"),
                    _ => format!("service/{name}#{index}"),
                };
                let rng = random::stream(seed, &label);
                let replica = Replica::start(
                    Arc::clone(&name),
                    node,
                    index,
                    Arc::clone(&service),
                    capacity,
                    rng,
                    Arc::clone(&engine),
                )
                .await?;
                started.push(replica);
            }
            let balancer = BalancerState::new(
                balancer,
                replicas,
                random::stream(seed, &format!("balancer/{name}")),
            );
            let set = Arc::new(ReplicaSet::new(started, balancer));
            handle.bind(Arc::clone(&set));
            Ok(Arc::new(RunningReplicas { set }) as Arc<dyn RunningService>)
        })
    }
}

struct RunningReplicas<S: Service> {
    set: Arc<ReplicaSet<S>>,
}

impl<S: Service> RunningService for RunningReplicas<S> {
    fn name(&self) -> &str {
        self.set.name()
    }

    fn report(&self) -> ServiceReport {
        self.set.report()
    }

    fn shutdown(&self) {
        self.set.shutdown();
    }
}

impl<S: Service> ServiceControl for RunningReplicas<S> {
    fn crash(&self, replica: Option<usize>) -> u64 {
        match replica {
            Some(index) => self.set.replica(index).map_or(0, |replica| replica.crash()),
            None => self
                .set
                .replicas()
                .iter()
                .map(|replica| replica.crash())
                .sum(),
        }
    }

    fn restart(&self, replica: Option<usize>) {
        match replica {
            Some(index) => {
                if let Some(replica) = self.set.replica(index) {
                    replica.restart();
                }
            }
            None => self
                .set
                .replicas()
                .iter()
                .for_each(|replica| replica.restart()),
        }
    }
}

trait WorkloadEntry {
    fn name(&self) -> &str;
    fn start(self: Box<Self>, engine: &Arc<Engine>, seed: u64) -> WorkloadResult;
}

struct PendingWorkload<S: Service> {
    name: String,
    workload: Workload,
    target: ServiceHandle<S>,
    make_request: MakeRequest<S>,
}

impl<S: Service> WorkloadEntry for PendingWorkload<S> {
    fn name(&self) -> &str {
        &self.name
    }

    fn start(self: Box<Self>, engine: &Arc<Engine>, seed: u64) -> WorkloadResult {
        let target = self
            .target
            .running()
            .expect("the target was checked to belong to this simulation, and every service starts before any workload");
        WorkloadRun {
            name: self.name,
            workload: self.workload,
            target,
            make_request: self.make_request,
        }
        .start(engine, seed)
    }
}

type StartTopicFuture =
    Pin<Box<dyn Future<Output = Result<Box<dyn RunningTopic>, SimulationError>>>>;

/// A topic added to a simulation, type-erased until it starts.
trait TopicEntry {
    fn name(&self) -> &str;
    fn start(self: Box<Self>, node: NodeId, seed: u64, engine: Arc<Engine>) -> StartTopicFuture;
}

struct PendingTopic<E: Event> {
    handle: TopicHandle<E>,
    topic: Topic,
}

impl<E: Event> TopicEntry for PendingTopic<E> {
    fn name(&self) -> &str {
        self.handle.name()
    }

    fn start(self: Box<Self>, node: NodeId, seed: u64, engine: Arc<Engine>) -> StartTopicFuture {
        Box::pin(async move {
            let rng = random::stream(seed, &format!("topic/{}", self.handle.name()));
            crate::broker::start(&self.handle, self.topic, node, rng, engine).await
        })
    }
}
