//! Workloads: the traffic that enters the system.
//!
//! - **Open loop** ([`Workload::poisson`], [`Workload::constant_rate`]): requests arrive at a
//!   rate whatever the system does, as users on the internet do. Latency is measured from each
//!   request's *intended* send time, so a stalled system cannot hide its queueing
//!   (coordinated omission).
//! - **Closed loop** ([`Workload::closed`]): a fixed number of users, each sending a request,
//!   waiting for the response, then thinking for a drawn time.
//!
//! A workload sends during the simulation's duration; requests intended before the warm-up
//! ends are sent but not counted. After the duration, the run waits for every request in
//! flight to end before it reports.

use std::time::Duration;

use crate::distribution::Distribution;
use crate::error::{BuildError, FieldError, FieldPath};
use crate::rules::{self, MAX_RATE};

/// How requests arrive. Build one with [`Workload::poisson`], [`Workload::constant_rate`] or
/// [`Workload::closed`].
///
/// ```
/// use std::time::Duration;
/// use microsim::{Distribution, Workload};
///
/// let open = Workload::poisson(800.0);
/// let paced = Workload::constant_rate(100.0).with_timeout(Duration::from_secs(2));
/// let users = Workload::closed(50, Distribution::exponential(Duration::from_secs(1)));
/// # let _ = (open, paced, users);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub(crate) arrivals: Arrivals,
    pub(crate) timeout: Option<Duration>,
}

/// The arrival process of a [`Workload`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Arrivals {
    /// Open loop, exponential gaps between requests (a Poisson process).
    Poisson {
        /// Requests per simulated second.
        rate: f64,
    },
    /// Open loop, equal gaps of `1 / rate`.
    ConstantRate {
        /// Requests per simulated second.
        rate: f64,
    },
    /// Closed loop: `users` each send, wait for the response, think, and repeat.
    Closed {
        /// The number of users.
        users: usize,
        /// Time between a response and the user's next request.
        think: Distribution,
    },
}

impl Workload {
    /// The most users a closed workload may have: a million.
    ///
    /// Each user is a task of its own, started with the run and alive until it ends: with its
    /// request in flight, about 1.5 KB (measured with 200,000 users), so a million users take
    /// about 1.5 GB at once. Traffic that a million users would not model is an open workload,
    /// which sends any rate from one task.
    ///
    /// ```
    /// use microsim::{Distribution, Workload};
    /// assert_eq!(Workload::MAX_USERS, 1_000_000);
    /// let users = Workload::closed(Workload::MAX_USERS, Distribution::ZERO);
    /// # let _ = users;
    /// ```
    pub const MAX_USERS: usize = 1_000_000;

    /// Open loop with Poisson arrivals at `rate` requests per simulated second.
    pub fn poisson(rate: f64) -> Self {
        Workload::from(Arrivals::Poisson { rate })
    }

    /// Open loop with one request every `1 / rate` seconds.
    pub fn constant_rate(rate: f64) -> Self {
        Workload::from(Arrivals::ConstantRate { rate })
    }

    /// Closed loop: `users` users who think for a time drawn from `think` between a response
    /// and their next request. Each user thinks once before its first request, so users do
    /// not all start at the same instant.
    pub fn closed(users: usize, think: Distribution) -> Self {
        Workload::from(Arrivals::Closed { users, think })
    }

    /// Overrides the simulation's call timeout for this workload's requests.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The arrival process.
    pub fn arrivals(&self) -> &Arrivals {
        &self.arrivals
    }

    /// The workload's rules, each error naming its scenario-file key (`open.rate`,
    /// `closed.users`, `closed.think`, `timeout`).
    pub(crate) fn validate(&self, name: &str) -> Result<(), BuildError> {
        let invalid = |error: FieldError| BuildError::InvalidWorkload {
            workload: name.to_string(),
            field: error.field,
            reason: error.reason,
        };
        match &self.arrivals {
            Arrivals::Poisson { rate } | Arrivals::ConstantRate { rate } => {
                let reason = if !(rate.is_finite() && *rate > 0.0) {
                    Some(format!(
                        "rate must be a finite number of requests per second > 0, got {rate}"
                    ))
                } else if *rate > MAX_RATE {
                    Some(format!(
                        "rate must be at most 1e9 requests per second (one per nanosecond), got {rate}"
                    ))
                } else {
                    None
                };
                if let Some(reason) = reason {
                    return Err(BuildError::InvalidRate {
                        workload: name.to_string(),
                        field: FieldPath::key("rate").within("open"),
                        reason,
                    });
                }
            }
            Arrivals::Closed { users, think } => {
                rules::at_least("users", *users, 1)
                    .and_then(|()| {
                        rules::at_most(
                            "users",
                            *users,
                            Self::MAX_USERS,
                            "each user is a task of its own; an open workload sends any rate \
                             from one",
                        )
                    })
                    .map_err(|e| invalid(e.within("closed")))?;
                think
                    .validate()
                    .map_err(|source| BuildError::InvalidDistribution {
                        location: format!("workload {name}"),
                        field: FieldPath::key("think").within("closed"),
                        source,
                    })?;
            }
        }
        if let Some(timeout) = self.timeout {
            rules::positive_duration("timeout", timeout).map_err(invalid)?;
        }
        Ok(())
    }
}

impl From<Arrivals> for Workload {
    fn from(arrivals: Arrivals) -> Self {
        Workload {
            arrivals,
            timeout: None,
        }
    }
}
