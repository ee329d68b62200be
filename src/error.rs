//! Errors, one enum per concern: building a simulation, running it, and a single call.

use std::time::Duration;

use crate::distribution::DistributionError;

/// A simulation was described wrongly. Found before anything runs; the message says what is
/// wrong and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A distribution's parameters are invalid.
    #[error("{location}: {source}")]
    InvalidDistribution {
        /// Where the distribution is used, e.g. `link frontend -> payment`.
        location: String,
        /// What is wrong with it.
        source: DistributionError,
    },
    /// A service was given zero workers.
    #[error("service {service}: workers must be at least 1, got 0")]
    ZeroWorkers {
        /// The service.
        service: String,
    },
    /// Two services share a name, or a service uses a reserved name.
    #[error("service name {name:?} {reason}")]
    InvalidServiceName {
        /// The offending name.
        name: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// A link names a service that was never added.
    #[error("link {from} -> {to}: unknown service {unknown:?}{hint}")]
    UnknownLinkEndpoint {
        /// The link's source.
        from: String,
        /// The link's destination.
        to: String,
        /// The name that matches no service.
        unknown: String,
        /// A suggestion, such as `; did you mean "payment"?`, or empty.
        hint: String,
    },
    /// The same link was set twice.
    #[error("link {from} -> {to} is set twice")]
    DuplicateLink {
        /// The link's source.
        from: String,
        /// The link's destination.
        to: String,
    },
    /// Two workloads share a name.
    #[error("workload name {name:?} is used twice")]
    DuplicateWorkload {
        /// The name.
        name: String,
    },
    /// A workload's rate is zero, negative, NaN or infinite.
    #[error(
        "workload {workload}: rate must be a finite number of requests per second > 0, got {rate}"
    )]
    InvalidRate {
        /// The workload.
        workload: String,
        /// The rate given.
        rate: f64,
    },
    /// A closed workload has no users.
    #[error("workload {workload}: a closed workload needs at least 1 user, got 0")]
    NoUsers {
        /// The workload.
        workload: String,
    },
    /// A workload targets a handle from another simulation.
    #[error("workload {workload}: its target {service:?} belongs to another simulation")]
    ForeignHandle {
        /// The workload.
        workload: String,
        /// The target's name.
        service: String,
    },
    /// A topic's settings are invalid.
    #[error("topic {topic}: {reason}")]
    InvalidTopic {
        /// The topic.
        topic: String,
        /// What is wrong.
        reason: String,
    },
    /// A subscription names a topic or service from another simulation.
    #[error("subscription of {service} to {topic}: {reason}")]
    InvalidSubscription {
        /// The service.
        service: String,
        /// The topic.
        topic: String,
        /// What is wrong.
        reason: String,
    },
    /// A scheduled fault is invalid or names an unknown service.
    #[error("fault {fault}: {reason}")]
    InvalidFault {
        /// The fault, e.g. `slow payment x3`.
        fault: String,
        /// What is wrong.
        reason: String,
    },
    /// A call policy is invalid or names an unknown service.
    #[error("policy {from} -> {to}: {reason}")]
    InvalidPolicy {
        /// The caller.
        from: String,
        /// The callee.
        to: String,
        /// What is wrong.
        reason: String,
    },
    /// A simulation setting is out of range.
    #[error("simulation {setting}: {reason}")]
    InvalidSetting {
        /// The setting, e.g. `duration`.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// A simulation could not run to the end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimulationError {
    /// The description was invalid (found before anything ran).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The tokio runtime could not be created.
    #[error("could not start the runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// An actor could not be started.
    #[error("could not start service {service}: {reason}")]
    Spawn {
        /// The service.
        service: String,
        /// ractor's reason.
        reason: String,
    },
    /// Every task waits on something that no timer or message can bring: the run can never
    /// finish. Happens when a handler awaits a future from outside the simulation.
    #[error(
        "simulation stalled at {at:?} of simulated time with {in_flight} requests and messages in flight and no pending timer: a handler is waiting on something outside the simulation"
    )]
    Stalled {
        /// Simulated time of the stall.
        at: Duration,
        /// Work still in flight: workload requests that have not settled, one-way messages
        /// and events not yet handled.
        in_flight: usize,
    },
}

/// Why a call did not return a response. Every call ends with a response or one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The callee's waiting queue was full.
    #[error(
        "{service} rejected the request: all {workers} workers busy and its queue of {queue} is full"
    )]
    Rejected {
        /// The callee.
        service: String,
        /// Its workers.
        workers: usize,
        /// Its queue capacity.
        queue: usize,
    },
    /// No response within the call's timeout.
    #[error("call to {service} timed out after {timeout:?}")]
    TimedOut {
        /// The callee.
        service: String,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// The callee's handler panicked while handling this request.
    #[error(
        "{service} crashed while handling the request (its handler panicked; the worker was restarted)"
    )]
    Crashed {
        /// The callee.
        service: String,
    },
    /// The callee's handler returned an error.
    #[error("{service} failed: {message}")]
    Failed {
        /// The callee.
        service: String,
        /// The handler's error.
        message: String,
    },
    /// A topic held its capacity of events and rejects new ones.
    #[error("topic {topic} is full ({capacity} events held) and rejects new events")]
    TopicFull {
        /// The topic.
        topic: String,
        /// Its capacity.
        capacity: usize,
    },
    /// The callee's replica is down: a crash fault hit it while the request was in progress
    /// or queued, or the request arrived while it was down.
    #[error("{service} replica {replica} is down (crashed)")]
    ReplicaDown {
        /// The callee.
        service: String,
        /// The replica.
        replica: usize,
    },
    /// The caller's circuit breaker to the callee is open (or half-open with its trial calls
    /// taken): the call was not sent.
    #[error("circuit breaker to {service} is open: call not sent")]
    CircuitOpen {
        /// The callee.
        service: String,
    },
    /// The caller's bulkhead to the callee already has its maximum of calls in flight.
    #[error("bulkhead to {service} is full ({max_concurrent} calls in flight): call not sent")]
    BulkheadFull {
        /// The callee.
        service: String,
        /// The bulkhead's limit.
        max_concurrent: usize,
    },
    /// The caller's rate limiter to the callee has no token left.
    #[error("rate limit to {service} reached: call not sent")]
    RateLimited {
        /// The callee.
        service: String,
    },
    /// The callee is not running (the simulation is shutting down).
    #[error("{service} is not running")]
    Unavailable {
        /// The callee.
        service: String,
    },
}

/// What a handler returns when it cannot produce a response.
///
/// A failed downstream call converts with `?`:
///
/// ```
/// use microsim::{CallError, ServiceError};
/// fn charge(result: Result<u32, CallError>) -> Result<u32, ServiceError> {
///     let receipt = result?;
///     if receipt == 0 {
///         return Err(ServiceError::new("card declined"));
///     }
///     Ok(receipt)
/// }
/// assert_eq!(charge(Ok(0)).unwrap_err().to_string(), "card declined");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// A call this handler made failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The handler's own failure.
    #[error("{0}")]
    Message(String),
}

impl ServiceError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        ServiceError::Message(message.into())
    }
}
