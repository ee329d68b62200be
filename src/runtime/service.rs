//! The [`Service`] trait: what users write. Behaviour lives in a service (shared, `&self`),
//! mutable data in its [`Service::State`], and everything a handler does to the simulated
//! world goes through its [`Context`].

use std::future::Future;

use crate::error::{FieldError, ServiceError};
use crate::runtime::context::Context;

/// A service's behaviour: how it handles one request.
///
/// Each running service has `workers` handlers in flight at most (see [`Capacity`](crate::Capacity)); they all
/// share one `&self` and one [`State`](Service::State).
///
/// ```
/// use std::time::Duration;
/// use microsim::{Context, Distribution, Service, ServiceError};
///
/// /// Looks up a product: about 300 us of work, and counts lookups.
/// struct Catalog {
///     lookup: Distribution,
/// }
///
/// impl Service for Catalog {
///     type Request = u32;          // product id
///     type Response = String;      // product name
///     type State = u64;            // lookups so far
///
///     fn init_state(&self) -> u64 {
///         0
///     }
///
///     async fn handle(&self, ctx: &Context<Self>, product: u32) -> Result<String, ServiceError> {
///         ctx.work(&self.lookup).await;
///         ctx.with_state(|lookups| *lookups += 1);
///         Ok(format!("product {product}"))
///     }
/// }
/// # let _ = Catalog { lookup: Distribution::exponential(Duration::from_micros(300)) };
/// ```
pub trait Service: Send + Sync + Sized + 'static {
    /// What callers send. `Clone`, because a request is data that crosses a network: a
    /// retry or a hedge sends it again.
    type Request: Clone + Send + 'static;
    /// What the handler answers.
    type Response: Send + 'static;
    /// Mutable data shared by the service's workers, apart from its behaviour.
    type State: Send + 'static;

    /// Creates the state when the service starts.
    fn init_state(&self) -> Self::State;

    /// Handles one request. Time passes only where the handler waits on its `ctx`; an error
    /// is returned to the caller as [`CallError::Failed`](crate::CallError::Failed). A panic fails this request with
    /// [`CallError::Crashed`](crate::CallError::Crashed) and restarts the worker; the state survives.
    /// A tokio timer on the virtual clock fails the whole run instead
    /// ([`SimulationError::TokioTimer`](crate::SimulationError::TokioTimer)).
    fn handle(
        &self,
        ctx: &Context<Self>,
        request: Self::Request,
    ) -> impl Future<Output = Result<Self::Response, ServiceError>> + Send;

    /// The service's own rules, checked when it is added
    /// ([`Simulation::add_service`](crate::Simulation::add_service) returns the error as
    /// [`BuildError::InvalidService`](crate::BuildError::InvalidService), naming the setting by
    /// `field`). Nothing by default; a [`Script`](crate::Script) checks its steps.
    fn validate(&self) -> Result<(), FieldError> {
        Ok(())
    }
}
