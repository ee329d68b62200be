//! A handler's [`Context`]: everything a handler can do to the simulated world -- spend time,
//! call, send, publish, draw random numbers, keep idempotency keys -- goes through it.

use std::future::Future;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::Duration;

use rand::Rng;

use crate::clock::CallTimer;
use crate::distribution::Distribution;
use crate::error::{CallError, ServiceError};
use crate::idempotency::{IdempotencyStore, Lookup};
use crate::message::RequestMeta;
use crate::random::SimRng;
use crate::runtime::engine::{Call, Publication};
use crate::runtime::handle::ServiceHandle;
use crate::runtime::handle::TopicHandle;
use crate::runtime::replica::Replica;
use crate::runtime::service::Service;
use crate::runtime::settle::Settle;
use crate::topic::Event;

/// A handler's view of the simulated world.
///
/// All methods take `&self`, so a handler can run calls concurrently, for example with
/// `tokio::join!`.
pub struct Context<S: Service> {
    replica: Arc<Replica<S>>,
    request: RequestMeta,
    settle: Option<Settle>,
    /// The worker's timer for its calls (one at a time, mostly; see [`CallTimer`]).
    timer: Option<CallTimer>,
}

impl<S: Service> std::fmt::Debug for Context<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("service", &self.replica.name())
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl<S: Service> Context<S> {
    pub(crate) fn new(replica: Arc<Replica<S>>, request: RequestMeta) -> Self {
        let timer = replica.engine().clock.call_timer();
        Context {
            replica,
            request,
            settle: None,
            timer,
        }
    }

    pub(crate) fn set_request(&mut self, request: RequestMeta, settle: Option<Settle>) {
        self.request = request;
        self.settle = settle;
    }

    pub(crate) fn end_request(&mut self) {
        self.settle = None;
    }

    /// A settle token for work this request causes.
    pub(crate) fn fork_settle(&self) -> Option<Settle> {
        self.settle.as_ref().map(Settle::fork)
    }

    /// The name of the service this handler belongs to.
    pub fn service_name(&self) -> &str {
        self.replica.name()
    }

    /// Which replica of the service is handling the request (0 for a single replica).
    pub fn replica(&self) -> usize {
        self.replica.index()
    }

    /// Simulated time since the start of the run.
    pub fn now(&self) -> Duration {
        self.replica.engine().clock.now()
    }

    /// The request being handled: id, trace, deadline.
    pub fn request(&self) -> &RequestMeta {
        &self.request
    }

    /// Spends processing time drawn from `distribution` (from this service's random stream)
    /// and returns how long it was.
    pub async fn work(&self, distribution: &Distribution) -> Duration {
        let duration = self.sample(distribution);
        self.work_for(duration).await;
        duration
    }

    /// Spends exactly `duration` of processing time.
    pub async fn work_for(&self, duration: Duration) {
        let engine = self.replica.engine();
        let duration = if engine.faults.is_empty() {
            duration
        } else {
            let factor = engine.faults.slowdown(
                self.replica.node(),
                self.replica.index(),
                engine.clock.now(),
            );
            // Past `Duration`'s range only for a wait far past the clock's, which then halts
            // the run (see `Clock::sleep`).
            Duration::try_from_secs_f64(duration.as_secs_f64() * factor).unwrap_or(Duration::MAX)
        };
        engine.clock.sleep(duration).await;
    }

    /// Draws a duration from `distribution` using this service's random stream.
    pub fn sample(&self, distribution: &Distribution) -> Duration {
        if distribution.is_zero() {
            return Duration::ZERO;
        }
        self.with_rng(|rng| distribution.sample(rng))
    }

    /// Runs `f` with this service's random stream, for draws of your own (which product,
    /// does the payment fail, ...). Deterministic under the simulation's seed.
    pub fn with_rng<R>(&self, f: impl FnOnce(&mut SimRng) -> R) -> R {
        let mut rng = self.replica.rng();
        f(&mut rng)
    }

    /// A uniformly random `u64` from this service's stream.
    pub fn random_u64(&self) -> u64 {
        self.with_rng(|rng| rng.next_u64())
    }

    /// Injects `fault` now, from this handler -- chaos on a trigger rather than a schedule
    /// (for example, crash the payment service when the thousandth order arrives). The
    /// fault's window opens `fault.at` after now (by default at once) and lasts
    /// `fault.lasting`; it appears in the report's timeline with its simulated start.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::{Capacity, Context, Fault, Service, ServiceError, Simulation, Workload};
    ///
    /// /// Counts requests; the 100th takes the service down for a second.
    /// struct Fragile;
    /// impl Service for Fragile {
    ///     type Request = ();
    ///     type Response = ();
    ///     type State = u64;
    ///     fn init_state(&self) -> u64 {
    ///         0
    ///     }
    ///     async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
    ///         if ctx.with_state(|count| { *count += 1; *count }) == 100 {
    ///             let outage = Fault::crash("fragile").lasting(Duration::from_secs(1));
    ///             ctx.inject_fault(outage).map_err(|error| ServiceError::new(error.to_string()))?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut sim = Simulation::builder().duration(Duration::from_secs(3)).build()?;
    /// let fragile = sim.add_service("fragile", Fragile, Capacity::workers(1))?;
    /// sim.add_workload("load", &fragile, Workload::constant_rate(100.0), |_| ())?;
    /// let report = sim.run()?;
    /// // The 100th request, sent at 0.99 s, ends before the crash takes effect; the 99 sent
    /// // at 1.00 s ... 1.98 s find the service down; it is back up at 1.99 s.
    /// assert_eq!(report.workloads["load"].counts.crashed, 99);
    /// assert_eq!(report.faults[0].start_seconds, 0.99);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BuildError::InvalidFault`](crate::BuildError::InvalidFault) for an invalid fault or
    /// one naming an unknown service or replica.
    pub fn inject_fault(&self, fault: crate::fault::Fault) -> Result<(), crate::error::BuildError> {
        self.replica.engine().inject_fault(fault)
    }

    /// Runs `f` on the service's state. The lock is released when `f` returns, so state can
    /// never be held across a wait.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut S::State) -> R) -> R {
        let mut state: MutexGuard<'_, S::State> = self
            .replica
            .state()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut state)
    }

    /// Calls `to` and waits for its response, under the [`CallPolicy`] set for this service
    /// and `to` (timeout, retries, breaker, ...), or else with the simulation's call timeout.
    ///
    /// # Errors
    /// [`CallError`] if the callee rejects, times out, crashes or fails (after every retry
    /// the policy allows), or the policy refuses the call. A handle from another simulation
    /// fails the whole run instead ([`SimulationError::ForeignHandle`]).
    ///
    /// [`SimulationError::ForeignHandle`]: crate::SimulationError::ForeignHandle
    /// [`CallPolicy`]: crate::CallPolicy
    pub async fn call<T: Service>(
        &self,
        to: &ServiceHandle<T>,
        request: T::Request,
    ) -> Result<T::Response, CallError> {
        self.call_as(to, request, None, None).await
    }

    /// Calls `to`, each attempt giving up after `timeout` of simulated time (this overrides
    /// the policy's timeout) -- or earlier, when the request being handled has a nearer
    /// deadline (deadline propagation: a downstream call never waits past the time its
    /// caller stops waiting). Requests that nobody waits for (events, one-way messages) have
    /// no deadline.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn call_with_timeout<T: Service>(
        &self,
        to: &ServiceHandle<T>,
        request: T::Request,
        timeout: Duration,
    ) -> Result<T::Response, CallError> {
        self.call_as(to, request, Some(timeout), None).await
    }

    /// Calls `to` with an idempotency key: every attempt of this call (retries and hedges)
    /// carries `key`, so a callee that opts in with an
    /// [`IdempotencyStore`] applies the operation once
    /// however many copies arrive. Use a key that names the operation, such as an order id.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn call_idempotent<T: Service>(
        &self,
        to: &ServiceHandle<T>,
        key: impl Into<String>,
        request: T::Request,
    ) -> Result<T::Response, CallError> {
        self.call_as(to, request, None, Some(key.into())).await
    }

    async fn call_as<T: Service>(
        &self,
        to: &ServiceHandle<T>,
        request: T::Request,
        timeout: Option<Duration>,
        key: Option<String>,
    ) -> Result<T::Response, CallError> {
        let engine = self.replica.engine();
        if !engine.owns(to.simulation, self.replica.name(), to.name()) {
            // The run is failing (see `Engine::owns`): this call never ends.
            return std::future::pending().await;
        }
        let callee = to.running()?;
        let now = engine.clock.now();
        let from = self.replica.node();
        // Deadline propagation: never wait past the time the caller's own caller gives up.
        let deadline = self.request.deadline;
        if deadline <= now {
            return Err(CallError::TimedOut {
                service: to.name().to_string(),
                timeout: Duration::ZERO,
            });
        }
        let mut meta = self.request.child(engine.next_request_id(), now, deadline);
        meta.idempotency_key = key;
        engine
            .call(Call {
                from,
                to: &callee,
                request,
                meta,
                settle: self.settle.as_ref(),
                timeout,
                default_timeout: engine.timing.call_timeout,
                timer: self.timer.as_ref(),
            })
            .await
    }

    /// Handles `request` at most once per idempotency key (see [`crate::idempotency`]):
    /// the first request with a key runs `handle` and its outcome is stored in the
    /// [`IdempotencyStore`] that `store` picks out of the state; later requests with that key
    /// get the stored outcome without running anything. Requests without a key always run.
    ///
    /// ```
    /// use microsim::idempotency::IdempotencyStore;
    /// use microsim::{Context, Service, ServiceError};
    ///
    /// #[derive(Default)]
    /// struct Ledger {
    ///     charges: u64,
    ///     seen: IdempotencyStore<u64, u64>,
    /// }
    ///
    /// /// Charges an amount, once per idempotency key.
    /// struct Payment;
    /// impl Service for Payment {
    ///     type Request = u64; // cents
    ///     type Response = u64; // receipt number
    ///     type State = Ledger;
    ///     fn init_state(&self) -> Ledger {
    ///         Ledger::default()
    ///     }
    ///     async fn handle(&self, ctx: &Context<Self>, cents: u64) -> Result<u64, ServiceError> {
    ///         ctx.idempotent(|ledger| &mut ledger.seen, cents, |_cents| async {
    ///             Ok(ctx.with_state(|ledger| {
    ///                 ledger.charges += 1;
    ///                 ledger.charges
    ///             }))
    ///         })
    ///         .await
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// The handler's error (stored and replayed like a response), or
    /// [`IdempotencyError`](crate::idempotency::IdempotencyError) as a [`ServiceError`] when
    /// the key's first request is still in progress or was a different request.
    pub async fn idempotent<R, T, F, Fut>(
        &self,
        store: fn(&mut S::State) -> &mut IdempotencyStore<R, T>,
        request: R,
        handle: F,
    ) -> Result<T, ServiceError>
    where
        R: PartialEq + Clone,
        T: Clone,
        F: FnOnce(R) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let Some(key) = self.request.idempotency_key.clone() else {
            return handle(request).await;
        };
        match self.with_state(|state| store(state).begin(&key, &request)) {
            Lookup::Replay(outcome) => outcome,
            Lookup::Refused(error) => Err(ServiceError::new(error.to_string())),
            Lookup::New => {
                // If the handler never finishes (it panics, or its replica crashes), it may
                // have applied part of the operation: store a failure for the key, so that a
                // retry gets that failure instead of applying it again (as Stripe replays a
                // 500).
                struct Abandon<'a, S: Service, R, T> {
                    ctx: &'a Context<S>,
                    store: fn(&mut S::State) -> &mut IdempotencyStore<R, T>,
                    key: Option<&'a str>,
                }
                impl<S: Service, R, T> Drop for Abandon<'_, S, R, T> {
                    fn drop(&mut self) {
                        if let Some(key) = self.key {
                            self.ctx
                                .with_state(|state| (self.store)(state).fail_pending(key));
                        }
                    }
                }
                let mut abandon = Abandon {
                    ctx: self,
                    store,
                    key: Some(&key),
                };
                let outcome = handle(request).await;
                abandon.key = None;
                self.with_state(|state| store(state).finish(&key, outcome.clone()));
                outcome
            }
        }
    }

    /// Publishes `event` to `topic` and waits for the broker's confirmation: the publisher
    /// pays the round trip over its link to the topic, not the delivery, which happens
    /// asynchronously. On a full topic that blocks, the publish waits for room (within the
    /// call timeout).
    ///
    /// # Errors
    /// [`CallError::TopicFull`] from a full topic that rejects, [`CallError::TimedOut`] if
    /// the broker does not confirm within the call timeout. A topic of another simulation
    /// fails the whole run ([`SimulationError::ForeignHandle`]).
    ///
    /// [`SimulationError::ForeignHandle`]: crate::SimulationError::ForeignHandle
    pub async fn publish<E: Event>(
        &self,
        topic: &TopicHandle<E>,
        event: E,
    ) -> Result<(), CallError> {
        self.publish_with_key(topic, None, event).await
    }

    /// Publishes `event` with a partition key: events with the same key are handled in
    /// publish order by each subscriber, one at a time, even by a consumer group.
    ///
    /// # Errors
    /// As [`publish`](Self::publish).
    pub async fn publish_keyed<E: Event>(
        &self,
        topic: &TopicHandle<E>,
        key: u64,
        event: E,
    ) -> Result<(), CallError> {
        self.publish_with_key(topic, Some(key), event).await
    }

    async fn publish_with_key<E: Event>(
        &self,
        topic: &TopicHandle<E>,
        key: Option<u64>,
        event: E,
    ) -> Result<(), CallError> {
        let engine = self.replica.engine();
        if !engine.owns(topic.simulation, self.replica.name(), topic.name()) {
            // The run is failing (see `Engine::owns`): this publish never ends.
            return std::future::pending().await;
        }
        let broker = topic.running()?;
        let now = engine.clock.now();
        let deadline = now.saturating_add(engine.timing.call_timeout);
        let meta = self.request.child(engine.next_request_id(), now, deadline);
        let publication = Publication {
            event,
            key,
            meta,
            settle: self.fork_settle(),
        };
        // Boxed: inline, publishing's 848 bytes (it waits for the broker's acknowledgement)
        // made the future of every handler that can publish that large, and such a future is
        // moved as each request starts, whether it publishes or not.
        Box::pin(engine.publish(self.replica.node(), topic.name(), &broker, publication)).await
    }

    /// Sends a one-way message: `to` handles it like a request, and its response is dropped.
    /// The handler does not wait, not even for the link latency.
    ///
    /// # Errors
    /// [`CallError::Unavailable`] if `to` is not running. A message that later finds `to`'s
    /// queue full is counted in `to`'s `rejected`. A handle from another simulation fails
    /// the whole run ([`SimulationError::ForeignHandle`]).
    ///
    /// [`SimulationError::ForeignHandle`]: crate::SimulationError::ForeignHandle
    pub fn send<T: Service>(
        &self,
        to: &ServiceHandle<T>,
        message: T::Request,
    ) -> Result<(), CallError> {
        let engine = self.replica.engine();
        if !engine.owns(to.simulation, self.replica.name(), to.name()) {
            // The run is failing (see `Engine::owns`).
            return Err(CallError::Unavailable {
                service: to.name().to_string(),
            });
        }
        let callee = to.running()?;
        let now = engine.clock.now();
        // Nobody waits for a one-way message: it has no deadline.
        let meta = self
            .request
            .child(engine.next_request_id(), now, Duration::MAX);
        engine.send(
            self.replica.node(),
            callee,
            message,
            meta,
            self.fork_settle(),
        );
        Ok(())
    }
}
