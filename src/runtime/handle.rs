//! Typed, cloneable handles to services and topics: what a simulation gives back for each
//! one added, for handlers and workloads to name it by.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::error::CallError;
use crate::runtime::replica::ReplicaSet;
use crate::runtime::service::Service;
use crate::topic::Event;

/// A reference to a service of type `S`, returned by
/// [`Simulation::add_service`](crate::Simulation::add_service). Give it to the services that
/// call `S` and to workloads that target it. Cheap to clone.
///
/// A handle works only in the simulation that made it: it names a service of that simulation,
/// and carries the simulation's identity. A workload or subscription given another
/// simulation's handle is refused when it is added ([`BuildError::ForeignHandle`],
/// [`BuildError::InvalidSubscription`]). A handle a service keeps in its own fields cannot be
/// seen before the run, so it is caught at its first use: the run fails with
/// [`SimulationError::ForeignHandle`], naming the service and the handle. The same holds for
/// a [`TopicHandle`].
///
/// ```
/// use std::time::Duration;
/// use microsim::{Capacity, Context, Service, ServiceError, ServiceHandle, Simulation,
///                SimulationError, Workload};
///
/// struct Db;
/// impl Service for Db {
///     type Request = ();
///     type Response = ();
///     type State = ();
///     fn init_state(&self) {}
///     async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
///         ctx.work_for(Duration::from_millis(1)).await;
///         Ok(())
///     }
/// }
///
/// struct Api {
///     db: ServiceHandle<Db>,
/// }
/// impl Service for Api {
///     type Request = ();
///     type Response = ();
///     type State = ();
///     fn init_state(&self) {}
///     async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
///         Ok(ctx.call(&self.db, ()).await?)
///     }
/// }
///
/// let mut first = Simulation::builder().build()?;
/// let db = first.add_service("db", Db, Capacity::workers(1))?;
///
/// // A second simulation, given the first one's handle by mistake.
/// let mut second = Simulation::builder().build()?;
/// let api = second.add_service("api", Api { db }, Capacity::workers(1))?;
/// second.add_workload("load", &api, Workload::constant_rate(10.0), |_| ())?;
/// let error = second.run().unwrap_err();
/// assert!(matches!(error, SimulationError::ForeignHandle { .. }));
/// assert_eq!(
///     error.to_string(),
///     "service `api` holds a handle to `db` from another simulation; \
///      handles work only in the simulation that made them"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`BuildError::ForeignHandle`]: crate::BuildError::ForeignHandle
/// [`BuildError::InvalidSubscription`]: crate::BuildError::InvalidSubscription
/// [`SimulationError::ForeignHandle`]: crate::SimulationError::ForeignHandle
pub struct ServiceHandle<S: Service> {
    name: Arc<str>,
    /// The id of the simulation that made the handle (see `Engine::owns`).
    pub(crate) simulation: u64,
    /// The running service, for as long as its run holds it: a handle kept after the run
    /// (or one a topic's subscription holds) does not keep the run's state alive.
    running: Arc<OnceLock<Weak<ReplicaSet<S>>>>,
    _service: PhantomData<fn() -> S>,
}

impl<S: Service> ServiceHandle<S> {
    pub(crate) fn new(name: Arc<str>, simulation: u64) -> Self {
        ServiceHandle {
            name,
            simulation,
            running: Arc::new(OnceLock::new()),
            _service: PhantomData,
        }
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Binds the handle to its running service, which the run holds (`replicas`) until it
    /// ends.
    pub(crate) fn bind(&self, replicas: &Arc<ReplicaSet<S>>) {
        // Each handle is bound once, by the run that owns its simulation.
        let _ = self.running.set(Arc::downgrade(replicas));
    }

    /// The running service: unavailable before its run starts it and after the run ends.
    pub(crate) fn running(&self) -> Result<Arc<ReplicaSet<S>>, CallError> {
        self.running
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| CallError::Unavailable {
                service: self.name.to_string(),
            })
    }
}

impl<S: Service> Clone for ServiceHandle<S> {
    fn clone(&self) -> Self {
        ServiceHandle {
            name: Arc::clone(&self.name),
            simulation: self.simulation,
            running: Arc::clone(&self.running),
            _service: PhantomData,
        }
    }
}

impl<S: Service> std::fmt::Debug for ServiceHandle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceHandle")
            .field("name", &self.name)
            .finish()
    }
}

/// A typed reference to a topic carrying events of type `E`, returned by
/// [`Simulation::add_topic`](crate::Simulation::add_topic). Cheap to clone.
///
/// Like a [`ServiceHandle`], it works only in the simulation that made it: a subscription to
/// another simulation's topic is refused, and a handler that publishes to one fails the run
/// ([`SimulationError::ForeignHandle`](crate::SimulationError::ForeignHandle)).
pub struct TopicHandle<E: Event> {
    pub(crate) name: Arc<str>,
    /// The id of the simulation that made the handle (see `Engine::owns`).
    pub(crate) simulation: u64,
    pub(crate) shared: Arc<TopicShared<E>>,
    dead_letter: Option<Box<TopicHandle<E>>>,
    _event: PhantomData<fn() -> E>,
}

/// What a handle shares with the running broker.
pub(crate) struct TopicShared<E: Event> {
    pub(crate) subscribers: Mutex<Vec<Arc<dyn crate::runtime::broker::Subscriber<E>>>>,
    pub(crate) running: OnceLock<Arc<crate::runtime::broker::BrokerLink<E>>>,
}

impl<E: Event> TopicHandle<E> {
    pub(crate) fn new(
        name: Arc<str>,
        simulation: u64,
        dead_letter: Option<TopicHandle<E>>,
    ) -> Self {
        TopicHandle {
            name,
            simulation,
            shared: Arc::new(TopicShared {
                subscribers: Mutex::new(Vec::new()),
                running: OnceLock::new(),
            }),
            dead_letter: dead_letter.map(Box::new),
            _event: PhantomData,
        }
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The dead-letter topic of an at-least-once topic (named `NAME.dead-letter`), where
    /// events go after their last failed delivery. Subscribe to it like any topic.
    pub fn dead_letter(&self) -> Option<&TopicHandle<E>> {
        self.dead_letter.as_deref()
    }

    pub(crate) fn running(&self) -> Result<Arc<crate::runtime::broker::BrokerLink<E>>, CallError> {
        self.shared
            .running
            .get()
            .cloned()
            .ok_or_else(|| CallError::Unavailable {
                service: self.name.to_string(),
            })
    }
}

impl<E: Event> Clone for TopicHandle<E> {
    fn clone(&self) -> Self {
        TopicHandle {
            name: Arc::clone(&self.name),
            simulation: self.simulation,
            shared: Arc::clone(&self.shared),
            dead_letter: self.dead_letter.clone(),
            _event: PhantomData,
        }
    }
}

impl<E: Event> std::fmt::Debug for TopicHandle<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicHandle")
            .field("name", &self.name)
            .finish()
    }
}
