//! Assembling and running a simulation: the [`SimulationBuilder`]'s settings
//! (`builder.rs`), the [`Simulation`] that services, links, topics, workloads, faults and
//! policies are added to (here), the run that starts them and gathers the report
//! (`run.rs`), and the type-erased entries that hold each added part until it starts
//! (`entries.rs`).

mod builder;
mod entries;
mod run;

pub use builder::SimulationBuilder;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::balancer::Balancer;
use crate::capacity::Capacity;
use crate::distribution::Distribution;
use crate::error::{BuildError, FieldError, FieldPath};
use crate::fault::Fault;
use crate::interrupt::InterruptHandle;
use crate::invariant::Invariant;
use crate::node::CLIENT;
use crate::policy::CallPolicy;
use crate::progress::Progress;
use crate::random::SimRng;
use crate::rules;
use crate::runtime::broker::ServiceSubscriber;
use crate::runtime::handle::ServiceHandle;
use crate::runtime::handle::TopicHandle;
use crate::runtime::service::Service;
use crate::suggest::did_you_mean;
use crate::topic::{Delivery, Event, Topic};
use crate::workload::Workload;

use entries::{
    PendingService, PendingTopic, PendingWorkload, ServiceEntry, TopicEntry, WorkloadEntry,
};

/// Distinguishes simulations in one process, so a handle cannot be used in the wrong one (see
/// [`ServiceHandle`]). Only ever compared: no report or random draw depends on it, so a
/// simulation's results do not depend on how many were made before it.
static NEXT_SIMULATION: AtomicU64 = AtomicU64::new(1);

/// A simulation being assembled: services, links between them, workloads. [`run`](Self::run)
/// consumes it and returns the [`Report`](crate::Report).
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
/// assert_eq!(ping.counts.completed, 100);
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
    /// The checks to run at the end of a completed run, in the order added.
    invariants: Vec<Invariant>,
    /// The names of the services and topics (dead-letter topics included): one namespace.
    names: BTreeSet<String>,
    workload_names: BTreeSet<String>,
    /// (topic, service) of each subscription.
    subscriptions: BTreeSet<(String, String)>,
    /// Handles taken with `handle_to` for services not added yet, by name: each a
    /// `ServiceHandle<S>` of the type asked for.
    reserved: BTreeMap<String, Box<dyn std::any::Any + Send>>,
    progress: Progress,
    interrupt: InterruptHandle,
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
            .field(
                "invariants",
                &self.invariants.iter().map(|i| i.name()).collect::<Vec<_>>(),
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

    /// A handle that stops the run at its current instant from another thread (see
    /// [`InterruptHandle`]): the run then returns the report of what it measured so far.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        self.interrupt.clone()
    }

    /// Makes `handle` stop this run, in place of its own: one handle for many runs (a
    /// sweep's).
    #[cfg(feature = "scenario")]
    pub(crate) fn stop_with(&mut self, handle: InterruptHandle) {
        self.interrupt = handle;
    }

    /// Adds a service named `name` with the given capacity and returns its handle.
    ///
    /// # Errors
    /// [`BuildError::InvalidServiceName`] for an empty, reserved (`"client"`) or repeated
    /// name; [`BuildError::InvalidService`] for zero workers or more than
    /// [`Capacity::MAX_WORKERS`], or a queue bound on an unlimited service.
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
    /// let handled: Vec<u64> = report.services["api"].replicas.iter().map(|r| r.counts.handled).collect();
    /// assert_eq!(handled, [100, 100, 100]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`add_service`](Self::add_service), and [`BuildError::InvalidService`] for zero
    /// replicas or more than [`MAX_REPLICAS`](crate::MAX_REPLICAS), or a peak-EWMA decay of
    /// zero.
    pub fn add_replicated_service<S: Service>(
        &mut self,
        name: &str,
        service: S,
        capacity: Capacity,
        replicas: usize,
        balancer: Balancer,
    ) -> Result<ServiceHandle<S>, BuildError> {
        self.check_name(name, false)?;
        capacity
            .validate()
            .and_then(|()| rules::at_least("replicas", replicas, 1))
            .and_then(|()| {
                rules::at_most(
                    "replicas",
                    replicas,
                    rules::MAX_REPLICAS,
                    "each replica is started with the run: a supervisor actor with its own \
                     queue, state and statistics; model a larger fleet as fewer replicas with \
                     more workers",
                )
            })
            .and_then(|()| balancer.validate())
            .and_then(|()| service.validate())
            .map_err(|error| BuildError::InvalidService {
                service: name.to_string(),
                field: error.field,
                reason: error.reason,
            })?;
        let handle = match self.reserved.remove(name) {
            None => ServiceHandle::new(Arc::from(name), self.id),
            Some(reserved) => match reserved.downcast::<ServiceHandle<S>>() {
                Ok(handle) => *handle,
                Err(reserved) => {
                    self.reserved.insert(name.to_string(), reserved);
                    return Err(BuildError::InvalidServiceName {
                        name: name.to_string(),
                        reason: "was taken with handle_to for a service of another type",
                    });
                }
            },
        };
        self.names.insert(name.to_string());
        self.services.push(Box::new(PendingService {
            handle: handle.clone(),
            service,
            capacity,
            replicas,
            balancer,
        }));
        Ok(handle)
    }

    /// The handle of the service that will be added as `name`, before it is added: for
    /// services that send to each other in a cycle (a request that comes back for another
    /// round with some probability), where each needs the other's handle first. The service
    /// added later under `name` must be of type `S`; asking twice gives the same handle.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::{Capacity, Distribution, Script, Simulation, Workload};
    ///
    /// let mut sim = Simulation::builder().duration(Duration::from_secs(10)).build()?;
    /// // A server that sends one request in four back to itself for another round.
    /// let server = sim.handle_to::<Script>("server")?;
    /// let script = Script::new()
    ///     .work(Distribution::exponential(Duration::from_millis(1)))
    ///     .choose([(0.25, Script::new().send(&server))]);
    /// let server = sim.add_service("server", script, Capacity::workers(1))?;
    /// sim.add_workload("jobs", &server, Workload::poisson(300.0), |_| ())?;
    /// let report = sim.run()?;
    /// // Each job visits 1 / (1 - 0.25) = 4/3 times on average.
    /// let visits = report.services["server"].counts.handled as f64
    ///     / report.workloads["jobs"].counts.sent as f64;
    /// assert!((visits - 4.0 / 3.0).abs() < 0.05, "{visits}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BuildError::InvalidServiceName`] if a service named `name` was already added (use
    /// the handle [`add_service`](Self::add_service) returned), if the name is not a valid
    /// service name, or if it was taken before for a service of another type. A run with a
    /// handle taken for a service never added fails with [`BuildError::NeverAdded`].
    pub fn handle_to<S: Service>(&mut self, name: &str) -> Result<ServiceHandle<S>, BuildError> {
        if let Some(reserved) = self.reserved.get(name) {
            return reserved
                .downcast_ref::<ServiceHandle<S>>()
                .cloned()
                .ok_or_else(|| BuildError::InvalidServiceName {
                    name: name.to_string(),
                    reason: "was taken with handle_to for a service of another type",
                });
        }
        if self.name_taken(name) {
            return Err(BuildError::InvalidServiceName {
                name: name.to_string(),
                reason: "is added already: use the handle add_service returned",
            });
        }
        self.check_name(name, false)?;
        let handle = ServiceHandle::<S>::new(Arc::from(name), self.id);
        self.reserved
            .insert(name.to_string(), Box::new(handle.clone()));
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
        workload.validate(name, self.settings.duration)?;
        if self.workload_names.contains(name) {
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
        self.workload_names.insert(name.to_string());
        self.workloads.push(Box::new(PendingWorkload {
            name: name.to_string(),
            workload,
            target: target.clone(),
            make_request: Box::new(make_request),
        }));
        Ok(())
    }

    /// A new service's or topic's name: not empty, not `client`, not taken (services and topics
    /// share one namespace; a topic with a dead-letter topic takes that name too).
    fn check_name(&self, name: &str, with_dead_letter: bool) -> Result<(), BuildError> {
        let taken = self.name_taken(name)
            || (with_dead_letter && self.name_taken(&format!("{name}.dead-letter")));
        let reason = if name.is_empty() {
            "is empty"
        } else if name == CLIENT {
            "is reserved for the origin of workload requests"
        } else if taken {
            "is used twice (services and topics share one namespace)"
        } else if name.contains(crate::policy::PAIR_SEPARATOR) {
            "contains \" -> \", which the report puts between a caller and a callee (\"api -> db\"): \
             two pairs would share a name"
        } else {
            return Ok(());
        };
        Err(BuildError::InvalidServiceName {
            name: name.to_string(),
            reason,
        })
    }

    fn name_taken(&self, name: &str) -> bool {
        self.names.contains(name)
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
        self.check_name(name, true)?;
        topic.validate(name)?;
        let dead_letter = match topic.delivery() {
            Delivery::AtLeastOnce { .. } => {
                let handle = TopicHandle::new(Arc::from(dead_letter_name.as_str()), self.id, None);
                self.names.insert(dead_letter_name.clone());
                self.topics.push(Box::new(PendingTopic {
                    handle: handle.clone(),
                    topic: Topic::at_most_once(),
                }));
                Some(handle)
            }
            Delivery::AtMostOnce => None,
        };
        let handle = TopicHandle::new(Arc::from(name), self.id, dead_letter);
        self.names.insert(name.to_string());
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
        let pair = (topic.name().to_string(), service.name().to_string());
        if self.subscriptions.contains(&pair) {
            return Err(invalid("the service already subscribes to this topic"));
        }
        self.subscriptions.insert(pair);
        let mut subscribers = topic
            .shared
            .subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
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
    /// assert!(
    ///     load.counts.failed * 20 < load.counts.sent,
    ///     "{} of {} failed",
    ///     load.counts.failed,
    ///     load.counts.sent
    /// );
    /// assert_eq!(policy.counts.attempts, policy.counts.calls + policy.counts.retries);
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

    /// Adds a business invariant named `name`: `check` runs once at the end of the run and
    /// returns the violations it finds, a message each (naming the order and what happened to
    /// it, say). The report counts them and keeps the first
    /// [`InvariantReport::MAX_EXAMPLES`](crate::InvariantReport::MAX_EXAMPLES) messages, in
    /// [`Report::invariants`](crate::Report::invariants), in the order the invariants were
    /// added; its table shows them.
    ///
    /// The checks run after every request has ended and the services are shut down, in the
    /// order added, and only when the run completed: not when it was interrupted
    /// ([`InterruptHandle`]), because orders still in flight at that instant would read as
    /// violations, and not when it failed with an error. A check that panics counts as one
    /// violation, `the check panicked: MESSAGE`, and the run goes on to the next check and its
    /// report. See [`invariant`](crate::invariant) for more.
    ///
    /// The state a check reads is the model's own, shared with its services, typically
    /// through an `Arc<Mutex<..>>`:
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use microsim::{Capacity, Context, Service, ServiceError, Simulation, Workload};
    ///
    /// /// Takes orders and counts them.
    /// struct Orders {
    ///     taken: Arc<Mutex<u64>>,
    /// }
    ///
    /// impl Service for Orders {
    ///     type Request = ();
    ///     type Response = ();
    ///     type State = ();
    ///     fn init_state(&self) {}
    ///
    ///     async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
    ///         ctx.work_for(Duration::from_millis(1)).await;
    ///         *self.taken.lock().unwrap() += 1;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let taken = Arc::new(Mutex::new(0_u64));
    /// let mut sim = Simulation::builder().duration(Duration::from_secs(1)).build()?;
    /// let orders = sim.add_service("orders", Orders { taken: Arc::clone(&taken) }, Capacity::workers(1))?;
    /// sim.add_workload("checkout", &orders, Workload::constant_rate(100.0), |_| ())?;
    ///
    /// let counted = Arc::clone(&taken);
    /// sim.add_invariant("every order taken", move || {
    ///     let taken = *counted.lock().unwrap();
    ///     if taken == 100 { Vec::new() } else { vec![format!("{taken} of 100 orders taken")] }
    /// })?;
    /// sim.add_invariant("at most 60 orders", move || {
    ///     let taken = *taken.lock().unwrap();
    ///     (61..=taken).map(|order| format!("order {order} is past the stock of 60")).collect()
    /// })?;
    ///
    /// let report = sim.run()?;
    /// assert_eq!(report.invariants[0].violations, 0);
    /// assert!(report.invariants[0].holds());
    /// assert_eq!(report.invariants[1].violations, 40);
    /// assert_eq!(report.invariants[1].examples[0], "order 61 is past the stock of 60");
    /// assert!(!report.invariants_hold());
    /// println!("{report}"); // ends with a section of invariants
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BuildError::InvalidInvariant`] for an empty name, or one another invariant of this
    /// simulation has: the report shows each invariant by its name.
    pub fn add_invariant(
        &mut self,
        name: &str,
        check: impl FnOnce() -> Vec<String> + Send + 'static,
    ) -> Result<(), BuildError> {
        let reason = if name.is_empty() {
            "the name is empty: give the invariant a name, which the report shows it by"
        } else if self.invariants.iter().any(|added| added.name() == name) {
            "another invariant has this name: give each its own, which the report shows it by"
        } else {
            self.invariants.push(Invariant::new(name, check));
            return Ok(());
        };
        Err(BuildError::InvalidInvariant {
            invariant: name.to_string(),
            reason: reason.to_string(),
        })
    }

    /// Checks that every link names known endpoints.
    /// Refuses scripts that route requests around a cycle for ever on average (see
    /// `script::endless_cycle`): such a run would never drain. Only [`Script`]s can be seen
    /// into; a topic routes each event to every subscriber.
    pub(crate) fn check_routing(&self) -> Result<(), BuildError> {
        let mut routing = crate::script::Routing::new();
        for service in &self.services {
            if let Some(script) = service.script() {
                let to = routing.entry(service.name().to_string()).or_default();
                crate::script::expected_messages(script.steps(), 1.0, to);
            }
        }
        for (topic, service) in &self.subscriptions {
            routing
                .entry(topic.clone())
                .or_default()
                .insert(service.clone(), 1.0);
        }
        match crate::script::endless_cycle(&routing) {
            None => Ok(()),
            Some(cycle) => Err(BuildError::EndlessCycle { cycle }),
        }
    }

    fn validate_links(&self) -> Result<(), BuildError> {
        if let Some(name) = self.reserved.keys().next() {
            return Err(BuildError::NeverAdded { name: name.clone() });
        }
        self.check_routing()?;
        let known = || {
            std::iter::once(CLIENT)
                .chain(self.services.iter().map(|s| s.name()))
                .chain(self.topics.iter().map(|t| t.name()))
        };
        let is_known = |name: &str| name == CLIENT || self.names.contains(name);
        let nodes: Vec<(&str, usize)> = std::iter::once((CLIENT, 0))
            .chain(self.services.iter().map(|s| (s.name(), s.replicas())))
            .chain(self.topics.iter().map(|t| (t.name(), 0)))
            .collect();
        for fault in &self.faults {
            crate::runtime::fault_schedule::check_targets(fault, &nodes)?;
        }
        for (from, to) in self.policies.keys() {
            for endpoint in [from, to] {
                if !is_known(endpoint) {
                    return Err(BuildError::InvalidPolicy {
                        from: from.clone(),
                        to: to.clone(),
                        field: FieldPath::key(if endpoint == from { "from" } else { "to" }),
                        reason: format!(
                            "unknown service {endpoint:?}{}",
                            did_you_mean(endpoint, known())
                        ),
                    });
                }
            }
        }
        for (from, to) in self.links.keys() {
            for endpoint in [from, to] {
                if !is_known(endpoint) {
                    return Err(BuildError::UnknownLinkEndpoint {
                        from: from.clone(),
                        to: to.clone(),
                        unknown: endpoint.clone(),
                        hint: did_you_mean(endpoint, known()),
                    });
                }
            }
        }
        Ok(())
    }
}
