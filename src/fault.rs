//! Faults on a schedule: make part of the system slow, late, lossy, failing or down for a
//! window of simulated time, and see what the rest does.
//!
//! The vocabulary follows Istio's fault injection, Toxiproxy and Chaos Mesh:
//!
//! - *slow* a service (or one of its replicas) down by a factor;
//! - add *latency* to a link;
//! - make a fraction of a service's requests *fail* (an abort: the caller gets an error
//!   without the service doing any work);
//! - *lose* a fraction of the messages on a link (the caller hears nothing and times out);
//! - *partition* two services: every message between them, either way, is lost;
//! - *crash* a replica (or all of a service's): its requests in progress and in its queue
//!   fail with [`CallError::ReplicaDown`](crate::CallError::ReplicaDown), and it is down until
//!   it restarts at the end of the window (its state survives, as a database would; its queue
//!   does not). Balancers skip a replica that is down, as a health check would; a request that
//!   finds every replica down is refused with `ReplicaDown`.
//!
//! Each fault applies from `at` for `lasting`; messages and requests that start inside the
//! window are affected (a crash acts at its start and its end). Faults are scheduled before
//! the run with [`Simulation::add_fault`](crate::Simulation::add_fault) or injected by a
//! handler while it runs with [`Context::inject_fault`](crate::Context::inject_fault). The
//! report lists them as a timeline.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{BuildError, FieldError};
use crate::rules;

/// A fault and its window.
///
/// ```
/// use std::time::Duration;
/// use microsim::Fault;
///
/// let s = Duration::from_secs;
/// let slow = Fault::slow("payment", 3.0).at(s(10)).lasting(s(5));
/// let one_replica = Fault::slow("catalog", 10.0).replica(2).at(s(20)).lasting(s(1));
/// let wan = Fault::latency("frontend", "payment", Duration::from_millis(50)).at(s(30)).lasting(s(10));
/// let abort = Fault::fail("inventory", 0.2).at(s(40)).lasting(s(5));
/// let lossy = Fault::loss("frontend", "payment", 0.1).at(s(50)).lasting(s(5));
/// let split = Fault::partition("orders", "stock").at(s(60)).lasting(s(5));
/// let crash = Fault::crash("catalog").replica(0).at(s(70)).lasting(s(3));
/// # let _ = (slow, one_replica, wan, abort, lossy, split, crash);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// When it starts, since the start of the run.
    pub at: Duration,
    /// How long it lasts.
    pub lasting: Duration,
}

/// What a [`Fault`] does.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Every processing time of the service (or one replica) is multiplied by `factor`.
    Slow {
        /// The service.
        service: String,
        /// One replica only, or all.
        replica: Option<usize>,
        /// The slowdown, > 0 (2.0 = twice as slow).
        factor: f64,
    },
    /// Each message over the link from `from` to `to` takes `extra` longer.
    Latency {
        /// The link's source (a service or `"client"`).
        from: String,
        /// The link's destination.
        to: String,
        /// Added to every message's latency.
        extra: Duration,
    },
    /// A fraction of the calls to the service fail at once, without reaching it.
    Fail {
        /// The service.
        service: String,
        /// The fraction of calls that fail, in [0, 1].
        probability: f64,
    },
    /// Each message over the link from `from` to `to`, either way, is lost with
    /// `probability`.
    Loss {
        /// The link's source (a service or `"client"`).
        from: String,
        /// The link's destination.
        to: String,
        /// The fraction of messages lost, in [0, 1].
        probability: f64,
    },
    /// Every message between `a` and `b`, in either direction, is lost.
    Partition {
        /// One side.
        a: String,
        /// The other side.
        b: String,
    },
    /// The replica (or every replica) of the service is down: work in progress is lost and
    /// requests are refused until it restarts at the end of the window.
    Crash {
        /// The service.
        service: String,
        /// One replica only, or all.
        replica: Option<usize>,
    },
}

impl Fault {
    fn new(kind: FaultKind) -> Self {
        Fault {
            kind,
            at: Duration::ZERO,
            lasting: Duration::MAX,
        }
    }

    /// Slows every replica of `service` down by `factor`.
    pub fn slow(service: &str, factor: f64) -> Self {
        Fault::new(FaultKind::Slow {
            service: service.to_string(),
            replica: None,
            factor,
        })
    }

    /// Adds `extra` to every message over the link from `from` to `to`.
    pub fn latency(from: &str, to: &str, extra: Duration) -> Self {
        Fault::new(FaultKind::Latency {
            from: from.to_string(),
            to: to.to_string(),
            extra,
        })
    }

    /// Fails a `probability` fraction of the calls to `service`.
    pub fn fail(service: &str, probability: f64) -> Self {
        Fault::new(FaultKind::Fail {
            service: service.to_string(),
            probability,
        })
    }

    /// Loses each message between `from` and `to` (requests and responses) with
    /// `probability`.
    pub fn loss(from: &str, to: &str, probability: f64) -> Self {
        Fault::new(FaultKind::Loss {
            from: from.to_string(),
            to: to.to_string(),
            probability,
        })
    }

    /// Loses every message between `a` and `b`, either way.
    pub fn partition(a: &str, b: &str) -> Self {
        Fault::new(FaultKind::Partition {
            a: a.to_string(),
            b: b.to_string(),
        })
    }

    /// Crashes every replica of `service` at the start of the window and restarts them at
    /// its end.
    pub fn crash(service: &str) -> Self {
        Fault::new(FaultKind::Crash {
            service: service.to_string(),
            replica: None,
        })
    }

    /// Limits a slowdown or a crash to one replica (numbered from 0).
    pub fn replica(mut self, index: usize) -> Self {
        if let FaultKind::Slow { replica, .. } | FaultKind::Crash { replica, .. } = &mut self.kind {
            *replica = Some(index);
        }
        self
    }

    /// The replica it is limited to, if any.
    pub(crate) fn replica_index(&self) -> Option<usize> {
        match &self.kind {
            FaultKind::Slow { replica, .. } | FaultKind::Crash { replica, .. } => *replica,
            _ => None,
        }
    }

    /// Starts the fault at `at` (default: the start of the run).
    pub fn at(mut self, at: Duration) -> Self {
        self.at = at;
        self
    }

    /// Ends the fault after `lasting` (default: never).
    pub fn lasting(mut self, lasting: Duration) -> Self {
        self.lasting = lasting;
        self
    }

    /// When the fault ends, `None` if it lasts for ever.
    pub(crate) fn end(&self) -> Option<Duration> {
        if self.lasting == Duration::MAX {
            return None;
        }
        self.at.checked_add(self.lasting)
    }

    /// Whether the fault is on at `now`.
    pub(crate) fn active(&self, now: Duration) -> bool {
        now >= self.at && now.saturating_sub(self.at) < self.lasting
    }

    /// The services it names.
    pub(crate) fn services(&self) -> Vec<&str> {
        match &self.kind {
            FaultKind::Slow { service, .. }
            | FaultKind::Fail { service, .. }
            | FaultKind::Crash { service, .. } => vec![service],
            FaultKind::Latency { from, to, .. } | FaultKind::Loss { from, to, .. } => {
                vec![from, to]
            }
            FaultKind::Partition { a, b } => vec![a, b],
        }
    }

    /// The fault's rules, each error naming its scenario-file key (`factor`,
    /// `probability`, `lasting`, and the kind's own key for its two sides).
    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        let checked = match &self.kind {
            FaultKind::Slow { factor, .. } => {
                rules::finite_positive("factor", *factor, " (3.0 = three times slower)").and_then(
                    |()| {
                        if *factor > rules::MAX_FACTOR {
                            Err(FieldError::new(
                                "factor",
                                format!(
                                    "factor must be at most 1e6 (a million times slower), got \
                                     {factor}"
                                ),
                            ))
                        } else {
                            Ok(())
                        }
                    },
                )
            }
            FaultKind::Fail { probability, .. } | FaultKind::Loss { probability, .. } => {
                rules::share("probability", *probability, false, " (0.1 = one in ten)")
            }
            _ => Ok(()),
        };
        let sides = match &self.kind {
            FaultKind::Loss { from, to, .. } => Some(("loss", from, to)),
            FaultKind::Partition { a, b } => Some(("partition", a, b)),
            _ => None,
        };
        checked
            .and_then(|()| match sides {
                Some((kind, a, b)) if a == b => Err(FieldError::new(
                    kind,
                    format!("a {kind} fault needs two different sides, got {a:?} twice"),
                )),
                _ => Ok(()),
            })
            .and_then(|()| rules::within_clock("at", self.at))
            // Duration::MAX: until the run ends, the default.
            .and_then(|()| match self.lasting {
                Duration::MAX => Ok(()),
                lasting => rules::positive_duration("lasting", lasting),
            })
            .map_err(|error| BuildError::InvalidFault {
                fault: self.to_string(),
                field: error.field,
                reason: error.reason,
            })
    }
}

impl FaultKind {
    /// The kind's key in a scenario file: `slow`, `latency`, `fail`, `loss`, `partition` or
    /// `crash`.
    pub fn key(&self) -> &'static str {
        match self {
            FaultKind::Slow { .. } => "slow",
            FaultKind::Latency { .. } => "latency",
            FaultKind::Fail { .. } => "fail",
            FaultKind::Loss { .. } => "loss",
            FaultKind::Partition { .. } => "partition",
            FaultKind::Crash { .. } => "crash",
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            FaultKind::Slow {
                service,
                replica: None,
                factor,
            } => write!(f, "slow {service} x{factor}"),
            FaultKind::Slow {
                service,
                replica: Some(replica),
                factor,
            } => write!(f, "slow {service} replica {replica} x{factor}"),
            FaultKind::Latency { from, to, extra } => {
                write!(f, "latency {from} -> {to} +{extra:?}")
            }
            FaultKind::Fail {
                service,
                probability,
            } => write!(f, "fail {service} p={probability}"),
            FaultKind::Loss {
                from,
                to,
                probability,
            } => write!(f, "loss {from} -> {to} p={probability}"),
            FaultKind::Partition { a, b } => write!(f, "partition {a} | {b}"),
            FaultKind::Crash {
                service,
                replica: None,
            } => write!(f, "crash {service}"),
            FaultKind::Crash {
                service,
                replica: Some(replica),
            } => write!(f, "crash {service} replica {replica}"),
        }
    }
}

/// One fault in the report's timeline.
///
/// Its counts are in [`counts`](Self::counts) (`fault.counts.failed_calls`); in the JSON they
/// sit beside its other fields.
///
/// # Examples
///
/// ```
/// use microsim::fault::FaultReport;
///
/// let fault: FaultReport = serde_json::from_value(serde_json::json!({
///     "fault": "fail payment p=0.5",
///     "start_seconds": 10.0,
///     "end_seconds": 20.0,
///     "failed_calls": 3,
/// }))?;
/// assert_eq!((fault.counts.failed_calls, fault.counts.lost_messages), (3, 0));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaultReport {
    /// What it was, e.g. `slow payment x3`.
    pub fault: String,
    /// When it started, simulated seconds.
    pub start_seconds: f64,
    /// When it ended, simulated seconds (`null` in JSON if it never did).
    pub end_seconds: Option<f64>,
    /// What it did.
    #[serde(flatten)]
    pub counts: FaultCounts,
}

/// What one fault did, over the whole run.
///
/// The running fault increments these, and the report shows them as they are
/// ([`FaultReport::counts`]).
///
/// # Examples
///
/// ```
/// use microsim::fault::FaultCounts;
///
/// let mut first = FaultCounts::default();
/// first.failed_calls = 3;
/// let mut both = first;
/// both.merge(&first);
/// assert_eq!((both.failed_calls, both.lost_messages), (6, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaultCounts {
    /// Calls it failed (for `fail` faults).
    pub failed_calls: u64,
    /// Messages it lost (for `loss` and `partition` faults).
    #[serde(default)]
    pub lost_messages: u64,
    /// Requests its crash failed, in progress or queued (for `crash` faults).
    #[serde(default)]
    pub crashed_requests: u64,
}

impl FaultCounts {
    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &FaultCounts) {
        // Named one by one: a count added to the struct but not here does not compile.
        let FaultCounts {
            failed_calls,
            lost_messages,
            crashed_requests,
        } = *other;
        self.failed_calls += failed_calls;
        self.lost_messages += lost_messages;
        self.crashed_requests += crashed_requests;
    }
}
