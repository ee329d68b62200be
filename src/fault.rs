//! Faults on a schedule: make part of the system slow, lossy-free-but-late, or failing for a
//! window of simulated time, and see what the rest does.
//!
//! The vocabulary follows Istio's fault injection and Toxiproxy: *slow* a service (or one of
//! its replicas) down by a factor, add *latency* to a link, make a fraction of a service's
//! requests *fail* (an abort: the caller gets an error without the service doing any work).
//! Each fault applies from `at` for `lasting`; requests that start inside the window are
//! affected. The report lists the faults as a timeline.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::BuildError;

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
/// # let _ = (slow, one_replica, wan, abort);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// When it starts, since the start of the run.
    #[serde(with = "crate::duration_format")]
    pub at: Duration,
    /// How long it lasts.
    #[serde(with = "crate::duration_format")]
    pub lasting: Duration,
}

/// What a [`Fault`] does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
        #[serde(with = "crate::duration_format")]
        extra: Duration,
    },
    /// A fraction of the calls to the service fail at once, without reaching it.
    Fail {
        /// The service.
        service: String,
        /// The fraction of calls that fail, in [0, 1].
        probability: f64,
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

    /// Limits a slowdown to one replica.
    pub fn replica(mut self, index: usize) -> Self {
        if let FaultKind::Slow { replica, .. } = &mut self.kind {
            *replica = Some(index);
        }
        self
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

    /// Whether the fault is on at `now`.
    pub(crate) fn active(&self, now: Duration) -> bool {
        now >= self.at && now.saturating_sub(self.at) < self.lasting
    }

    /// The services it names.
    pub(crate) fn services(&self) -> Vec<&str> {
        match &self.kind {
            FaultKind::Slow { service, .. } | FaultKind::Fail { service, .. } => vec![service],
            FaultKind::Latency { from, to, .. } => vec![from, to],
        }
    }

    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        let invalid = |reason: String| {
            Err(BuildError::InvalidFault {
                fault: self.to_string(),
                reason,
            })
        };
        match &self.kind {
            FaultKind::Slow { factor, .. } if !(factor.is_finite() && *factor > 0.0) => invalid(
                format!("the slowdown factor must be a finite number > 0, got {factor}"),
            ),
            FaultKind::Fail { probability, .. } if !(0.0..=1.0).contains(probability) => invalid(
                format!("the probability must be within [0, 1], got {probability}"),
            ),
            _ if self.lasting.is_zero() => invalid("it lasts no time at all".into()),
            _ => Ok(()),
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
        }
    }
}

/// One fault in the report's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaultReport {
    /// What it was, e.g. `slow payment x3`.
    pub fault: String,
    /// When it started, simulated seconds.
    pub start_seconds: f64,
    /// When it ended, simulated seconds (`null` in JSON if it never did).
    pub end_seconds: Option<f64>,
    /// Calls it failed (for `fail` faults).
    pub failed_calls: u64,
}
