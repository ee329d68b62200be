//! Typed, cloneable handles to services.

use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use crate::error::CallError;
use crate::replica::ReplicaSet;
use crate::service::Service;

/// A reference to a service of type `S`, returned by
/// [`Simulation::add_service`](crate::Simulation::add_service). Give it to the services that
/// call `S` and to workloads that target it. Cheap to clone.
pub struct ServiceHandle<S: Service> {
    name: Arc<str>,
    pub(crate) simulation: u64,
    running: Arc<OnceLock<Arc<ReplicaSet<S>>>>,
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

    pub(crate) fn bind(&self, replicas: Arc<ReplicaSet<S>>) {
        // Each handle is bound once, by the run that owns its simulation.
        let _ = self.running.set(replicas);
    }

    pub(crate) fn running(&self) -> Result<Arc<ReplicaSet<S>>, CallError> {
        self.running
            .get()
            .cloned()
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
