//! Errors, one enum per concern: building a simulation, running it, and a single call.

use std::time::Duration;

use crate::distribution::DistributionError;

/// Where a setting is inside the value that configures one item: `retry.budget.ratio` in a
/// [`CallPolicy`](crate::CallPolicy), `closed.think` in a [`Workload`](crate::Workload),
/// `workers` of a service.
///
/// The keys are the scenario file's keys, so a file points at the setting itself:
/// `policies[0]` plus `circuit_breaker.window_calls` is where a file writes it.
///
/// ```
/// use microsim::policy::{CallPolicy, CircuitBreaker};
/// use microsim::{BuildError, Simulation};
///
/// let mut sim = Simulation::builder().build()?;
/// let policy = CallPolicy::new().circuit_breaker(CircuitBreaker::default().trial_calls(0));
/// let error = sim.add_policy("client", "api", policy).unwrap_err();
/// assert_eq!(error.field().unwrap().to_string(), "circuit_breaker.trial_calls");
/// assert_eq!(error.reason(), "trial_calls must be at least 1, got 0");
/// assert_eq!(
///     error.to_string(),
///     "policy client -> api: trial_calls must be at least 1, got 0"
/// );
/// # Ok::<(), BuildError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(Vec<PathSegment>);

/// One step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PathSegment {
    /// A key of a table, e.g. `retry`.
    Key(String),
    /// An index into an array, e.g. `[2]`.
    Index(usize),
}

impl FieldPath {
    /// The path of one key.
    pub fn key(key: impl Into<String>) -> Self {
        FieldPath(vec![PathSegment::Key(key.into())])
    }

    /// The same path inside `parent`: `ratio` inside `budget` is `budget.ratio`.
    #[must_use]
    pub fn within(mut self, parent: impl Into<String>) -> Self {
        self.0.insert(0, PathSegment::Key(parent.into()));
        self
    }

    /// The path made of these steps, outermost first.
    pub fn from_segments(segments: Vec<PathSegment>) -> Self {
        FieldPath(segments)
    }

    /// This path followed by `inner`.
    #[must_use]
    pub fn join(mut self, inner: &FieldPath) -> Self {
        self.0.extend(inner.0.iter().cloned());
        self
    }

    /// The steps, outermost first.
    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    /// Whether the path names the item itself rather than a setting of it.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for FieldPath {
    /// Renders `a.b[2]."odd key"`, as TOML writes keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !key.is_empty()
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// One invalid setting of a configuration value: where it is ([`FieldPath`]) and what is
/// wrong with it. The configuration types' checks return it; [`Simulation`](crate::Simulation)
/// names the item it belongs to and turns it into a [`BuildError`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", field_prefix(.field))]
pub struct FieldError {
    /// Where the setting is.
    pub field: FieldPath,
    /// What is wrong, naming the setting, e.g. `trial_calls must be at least 1, got 0`.
    pub reason: String,
}

impl FieldError {
    /// `reason` about the setting `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: FieldPath::key(key),
            reason: reason.into(),
        }
    }

    /// `reason` about the whole value rather than one of its settings.
    pub fn whole(reason: impl Into<String>) -> Self {
        FieldError {
            field: FieldPath::default(),
            reason: reason.into(),
        }
    }

    /// The same error inside `parent`.
    #[must_use]
    pub fn within(mut self, parent: impl Into<String>) -> Self {
        self.field = self.field.within(parent);
        self
    }
}

fn field_prefix(field: &FieldPath) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("{field}: ")
    }
}

/// A simulation was described wrongly. Found before anything runs; the message names the item
/// (`policy client -> api`) and says what is wrong ([`reason`](Self::reason), which names
/// the setting); [`field`](Self::field) gives the setting's path inside the item (e.g.
/// `retry.max_attempts`). A scenario file reports the same reason at the line and column of
/// that setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A distribution's parameters are invalid.
    #[error("{location}: {}{source}", field_prefix(.field))]
    InvalidDistribution {
        /// The item that uses the distribution, e.g. `link frontend -> payment`.
        location: String,
        /// The setting that holds it, e.g. `latency`.
        field: FieldPath,
        /// What is wrong with it.
        source: DistributionError,
    },
    /// A service's settings (workers, queue, replicas, balancer) are invalid.
    #[error("service {service}: {reason}")]
    InvalidService {
        /// The service.
        service: String,
        /// The setting, e.g. `workers`.
        field: FieldPath,
        /// What is wrong.
        reason: String,
    },
    /// Two services share a name, or a service uses a reserved name.
    #[error("service name {name:?} {reason}")]
    InvalidServiceName {
        /// The offending name.
        name: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// A handle was taken with [`Simulation::handle_to`](crate::Simulation::handle_to) for a
    /// service that was never added.
    #[error(
        "a handle to service {name:?} was taken with handle_to, but no service of that name was added"
    )]
    NeverAdded {
        /// The name.
        name: String,
    },
    /// Scripts route requests around a cycle (of sends, calls and events) so that the
    /// expected number of visits per request is infinite: the run would never drain.
    #[error(
        "requests would go round the cycle {} for ever: the expected visits per request are infinite (the chance of coming back, times the messages per visit, is 1 or more); make the probabilities around the cycle smaller",
        .cycle.join(" -> ")
    )]
    EndlessCycle {
        /// The services and topics of the cycle, the first repeated at the end.
        cycle: Vec<String>,
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
    /// A workload's rate is zero, negative, NaN, infinite or above one request per
    /// nanosecond.
    #[error("workload {workload}: {reason}")]
    InvalidRate {
        /// The workload.
        workload: String,
        /// The setting, `open.rate`.
        field: FieldPath,
        /// What is wrong.
        reason: String,
    },
    /// A workload's other settings (users, timeout) are invalid.
    #[error("workload {workload}: {reason}")]
    InvalidWorkload {
        /// The workload.
        workload: String,
        /// The setting, e.g. `closed.users`.
        field: FieldPath,
        /// What is wrong.
        reason: String,
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
        /// The setting, e.g. `ack_timeout`.
        field: FieldPath,
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
        /// The setting, e.g. `probability`.
        field: FieldPath,
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
        /// The setting, e.g. `retry.max_attempts`.
        field: FieldPath,
        /// What is wrong.
        reason: String,
    },
    /// An invariant's name is empty or used by another invariant of the simulation.
    #[error("invariant {invariant:?}: {reason}")]
    InvalidInvariant {
        /// The name it was added under.
        invariant: String,
        /// What is wrong.
        reason: String,
    },
    /// A simulation setting is out of range.
    #[error("simulation: {reason}")]
    InvalidSetting {
        /// The setting, e.g. `duration`.
        field: FieldPath,
        /// What is wrong.
        reason: String,
    },
}

impl BuildError {
    /// The setting inside the item that is wrong, for the errors about one setting (`None`
    /// for names, duplicates and handles).
    pub fn field(&self) -> Option<&FieldPath> {
        match self {
            BuildError::InvalidDistribution { field, .. }
            | BuildError::InvalidService { field, .. }
            | BuildError::InvalidRate { field, .. }
            | BuildError::InvalidWorkload { field, .. }
            | BuildError::InvalidTopic { field, .. }
            | BuildError::InvalidFault { field, .. }
            | BuildError::InvalidPolicy { field, .. }
            | BuildError::InvalidSetting { field, .. } => Some(field),
            _ => None,
        }
    }

    /// What is wrong, without the item and the field: the same text whichever front end
    /// (the Rust API or a scenario file) made the mistake.
    pub fn reason(&self) -> String {
        match self {
            BuildError::InvalidDistribution { source, .. } => source.to_string(),
            BuildError::InvalidService { reason, .. }
            | BuildError::InvalidRate { reason, .. }
            | BuildError::InvalidWorkload { reason, .. }
            | BuildError::InvalidTopic { reason, .. }
            | BuildError::InvalidFault { reason, .. }
            | BuildError::InvalidPolicy { reason, .. }
            | BuildError::InvalidSetting { reason, .. }
            | BuildError::InvalidSubscription { reason, .. }
            | BuildError::InvalidInvariant { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }
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
    /// finish. In a Rust model, a handler awaits a future from outside the simulation (a
    /// channel nobody sends to); a scenario file cannot do that, so there it is a defect of
    /// microsim.
    #[error(
        "simulation stalled at {at:?} of simulated time with {in_flight} requests and messages in flight and no pending timer: nothing can happen any more. In a Rust model, a handler is awaiting something outside the simulation (a channel nobody sends to); a scenario file cannot do that, so from a file this is a defect of microsim: please report it with the file"
    )]
    Stalled {
        /// Simulated time of the stall.
        at: Duration,
        /// Work still in flight: workload requests that have not settled, one-way messages
        /// and events not yet handled.
        in_flight: usize,
    },
    /// Simulated time stopped moving: `events` waits (messages, processing, think times,
    /// timers) began at the instant `at` without time moving on, the limit set by
    /// [`SimulationBuilder::max_events_per_instant`](crate::SimulationBuilder::max_events_per_instant).
    /// Something in the model loops without taking time.
    #[error(
        "simulated time cannot advance: {events} events began at {at:?} and time did not move on. {}Something loops without taking time -- a closed workload with zero think time against services that take none, or retries with no backoff against a callee that fails at once: give the loop some time (think time, work, link latency or backoff), or raise max_events_per_instant if this much really happens at one instant",
        busy_list(busy)
    )]
    NoProgress {
        /// The instant time stopped at.
        at: Duration,
        /// The limit that was reached.
        events: u64,
        /// What was at work then: the closed workloads with no think time, and the services
        /// with requests in progress or waiting, e.g. `"service api (1 request)"`.
        busy: Vec<String>,
    },
    /// A wait would end past the last instant the clock can count (`u64::MAX` nanoseconds,
    /// about 584 years): the run cannot go on without ending at the wrong time.
    #[error(
        "simulated time would pass the clock's range of about 584 years: at {at:?} something waited {wait:?}"
    )]
    BeyondClockRange {
        /// The instant of the wait.
        at: Duration,
        /// The wait asked for.
        wait: Duration,
    },
    /// A handler used a [`ServiceHandle`](crate::ServiceHandle) or
    /// [`TopicHandle`](crate::TopicHandle) that another simulation made. It is found at its
    /// first use: a service's fields are its own, so nothing can look for handles in them
    /// before the run. Handles given to the [`Simulation`](crate::Simulation)'s methods are
    /// checked there ([`BuildError::ForeignHandle`], [`BuildError::InvalidSubscription`]).
    ///
    /// The run fails, not the call: every call through such a handle would fail, time out or
    /// be served by the other simulation, so no report of this run could be right.
    #[error(
        "service `{service}` holds a handle to `{target}` from another simulation; handles work only in the simulation that made them"
    )]
    ForeignHandle {
        /// The service whose handler used the handle.
        service: String,
        /// The service or topic the handle names.
        target: String,
    },
    /// A handler made a tokio timer (`tokio::time::sleep`, `timeout`, `interval`) on the
    /// virtual clock, whose runtime has none: tokio's time is not the simulation's, so the
    /// handler panicked.
    ///
    /// The run fails at the first occurrence, not the request: every request that reaches
    /// that code would panic, and a report of a service that always crashes would describe the
    /// model's mistake, not the system. (An ordinary panic stays a modelled failure:
    /// [`CallError::Crashed`], counted.) On the real clock tokio's timers work, on wall time,
    /// which is the real clock's time: such a model runs there, rounded to tokio's
    /// millisecond and not slowed by slowdown faults, and fails on the virtual clock.
    #[error(
        "service `{service}` used tokio's timer (tokio::time::sleep, timeout or interval), which does not follow the simulated clock: wait with `ctx.work_for(..)` or `ctx.work(..)` instead, and give a call a timeout with `ctx.call_with_timeout(..)`"
    )]
    TokioTimer {
        /// The service whose handler made the timer.
        service: String,
    },
}

/// `"Busy then: a (1 request), b (2 requests). "`, or nothing.
fn busy_list(busy: &[String]) -> String {
    if busy.is_empty() {
        String::new()
    } else {
        format!("Busy then: {}. ", busy.join(", "))
    }
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
        /// Where the failure began and why, in a few words ([`CallError::cause`]):
        /// `payment: card declined` when the callee failed because its own call to payment
        /// did.
        cause: String,
        /// The failure is an answer that another attempt would not change -- a declined
        /// card, an item out of stock ([`ServiceError::permanent`]) -- so retries stop at it
        /// ([`CallError::is_permanent`]).
        permanent: bool,
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

impl CallError {
    /// Where the failure began and why, in a few words: the key the report counts failures
    /// by (`errors_by_cause`). A handler that failed because a call of its own did has that
    /// call's cause, so a decline three services down reads `payment: card declined`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::CallError;
    ///
    /// let timeout = CallError::TimedOut { service: "payment".into(), timeout: Duration::from_secs(1) };
    /// assert_eq!(timeout.cause(), "payment: timed out");
    /// ```
    pub fn cause(&self) -> String {
        let (name, what) = match self {
            CallError::Failed { cause, .. } => return cause.clone(),
            CallError::Rejected { service, .. } => (service, "rejected (queue full)"),
            CallError::TimedOut { service, .. } => (service, "timed out"),
            CallError::Crashed { service } => (service, "handler panicked"),
            CallError::TopicFull { topic, .. } => (topic, "topic full"),
            CallError::ReplicaDown { service, .. } => (service, "replica down"),
            CallError::CircuitOpen { service } => (service, "circuit open"),
            CallError::BulkheadFull { service, .. } => (service, "bulkhead full"),
            CallError::RateLimited { service } => (service, "rate limited"),
            CallError::Unavailable { service } => (service, "not running"),
        };
        format!("{name}: {what}")
    }

    /// Whether the call failed with an answer another attempt would not change: the callee
    /// returned a [`ServiceError::permanent`] (or passed one on from its own call). Retries
    /// stop at such a failure, as clients do not retry an HTTP 4xx.
    ///
    /// ```
    /// use microsim::CallError;
    /// let timeout = CallError::TimedOut {
    ///     service: "payment".into(),
    ///     timeout: std::time::Duration::from_millis(100),
    /// };
    /// assert!(!timeout.is_permanent());
    /// ```
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            CallError::Failed {
                permanent: true,
                ..
            }
        )
    }

    /// The error a handler's `error` becomes for its caller, at `service`.
    pub(crate) fn failed(service: &str, error: ServiceError) -> CallError {
        let (cause, permanent) = match &error {
            ServiceError::Call(inner) => (inner.cause(), inner.is_permanent()),
            ServiceError::Message(message) => (format!("{service}: {message}"), false),
            ServiceError::Permanent(message) => (format!("{service}: {message}"), true),
        };
        CallError::Failed {
            service: service.to_string(),
            message: error.to_string(),
            cause,
            permanent,
        }
    }
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
    /// The handler's own failure, which another attempt would not change (see
    /// [`ServiceError::permanent`]).
    #[error("{0}")]
    Permanent(String),
}

impl ServiceError {
    /// A failure described by `message`. A caller's retry policy retries it.
    pub fn new(message: impl Into<String>) -> Self {
        ServiceError::Message(message.into())
    }

    /// A failure that is an answer -- a declined card, an item out of stock -- which
    /// another attempt would not change: a caller's retry policy does not retry it (the
    /// caller sees [`CallError::is_permanent`]), as clients do not retry an HTTP 4xx.
    ///
    /// ```
    /// use microsim::ServiceError;
    /// let declined = ServiceError::permanent("card declined");
    /// assert_eq!(declined.to_string(), "card declined");
    /// ```
    pub fn permanent(message: impl Into<String>) -> Self {
        ServiceError::Permanent(message.into())
    }
}
