//! Workloads: the traffic that enters the system.
//!
//! - **Open loop** ([`Workload::poisson`], [`Workload::constant_rate`]): requests arrive at a
//!   rate whatever the system does, as users on the internet do. Latency is measured from each
//!   request's *intended* send time, so a stalled system cannot hide its queueing
//!   (coordinated omission).
//! - **Staged open loop** ([`Workload::poisson_stages`], [`Workload::constant_stages`]): the
//!   rate moves in a straight line from one [`Stage`]'s target to the next (k6's
//!   ramping-arrival-rate), Poisson arrivals or paced ones.
//! - **Replayed arrivals** ([`Workload::replay`]): requests at given times, a recorded trace.
//! - **Closed loop** ([`Workload::closed`]): a fixed number of users, each sending a request,
//!   waiting for the response, then thinking for a drawn time; [`Workload::closed_stages`]
//!   moves the number of users through stages (k6's ramping-vus).
//!
//! A workload sends during the simulation's duration, a staged one until the end of its
//! stages (which must not outlast the duration); requests intended before the warm-up ends
//! are sent but not counted. After the duration, the run waits for every request in flight
//! to end before it reports.

use std::sync::Arc;
use std::time::Duration;

use crate::distribution::Distribution;
use crate::duration_format::format_duration;
use crate::error::{BuildError, FieldError, FieldPath, PathSegment};
use crate::rules::{self, MAX_DURATION};

/// How requests arrive. Build one with [`Workload::poisson`], [`Workload::constant_rate`],
/// [`Workload::poisson_stages`], [`Workload::constant_stages`], [`Workload::replay`],
/// [`Workload::closed`] or [`Workload::closed_stages`].
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
    /// Open loop, a Poisson process whose rate moves through stages (a non-homogeneous
    /// Poisson process, drawn exactly).
    #[non_exhaustive]
    PoissonStages {
        /// Requests per simulated second at the start.
        start_rate: f64,
        /// Each stage's length and the rate it ends at.
        stages: Vec<Stage<f64>>,
    },
    /// Open loop, paced: request `k` (from 0) at the first instant the integral of the
    /// staged rate passes `k`.
    #[non_exhaustive]
    ConstantStages {
        /// Requests per simulated second at the start.
        start_rate: f64,
        /// Each stage's length and the rate it ends at.
        stages: Vec<Stage<f64>>,
    },
    /// Open loop, one request at each of the given times.
    #[non_exhaustive]
    Replay {
        /// The intended send times, from the start of the run.
        times: ArrivalTimes,
    },
    /// Closed loop: `users` each send, wait for the response, think, and repeat.
    Closed {
        /// The number of users; with `stages`, at the start.
        users: usize,
        /// Time between a response and the user's next request.
        think: Distribution,
        /// `None`: `users` throughout. Otherwise the number of users moves through these
        /// stages, and no user sends after the last one.
        stages: Option<Vec<Stage<usize>>>,
    },
}

/// One stage of a staged workload: over `duration`, the rate (requests per second, `T =
/// f64`) or the number of users (`T = usize`) moves in a straight line from where the previous
/// stage ended (the first: from the start value) to `target`.
///
/// ```
/// use std::time::Duration;
/// use microsim::{Stage, Workload};
///
/// // Up to 500 requests per second in 2 minutes, 5 minutes there, down to nothing in 1.
/// let ramp = Workload::poisson_stages(0.0, [
///     Stage::new(Duration::from_secs(120), 500.0),
///     Stage::new(Duration::from_secs(300), 500.0),
///     Stage::new(Duration::from_secs(60), 0.0),
/// ]);
/// # let _ = ramp;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stage<T> {
    duration: Duration,
    target: T,
}

impl<T: Copy> Stage<T> {
    /// A stage lasting `duration` that ends at `target`.
    pub fn new(duration: Duration, target: T) -> Self {
        Stage { duration, target }
    }

    /// How long the stage lasts.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The rate or number of users the stage ends at.
    pub fn target(&self) -> T {
        self.target
    }
}

/// The times of a replayed workload ([`Workload::replay`]), in the order given, held as 8
/// bytes each.
///
/// ```
/// use std::time::Duration;
/// use microsim::{Arrivals, Workload};
///
/// let trace = Workload::replay([Duration::from_millis(250), Duration::from_secs(1)]);
/// let Arrivals::Replay { times, .. } = trace.arrivals() else { unreachable!() };
/// assert_eq!(times.len(), 2);
/// assert_eq!(times.iter().last(), Some(Duration::from_secs(1)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrivalTimes {
    /// Nanoseconds from the start; a time past [`MAX_DURATION`] is held as it was given in
    /// `beyond` (it fits no `u64` of nanoseconds), and validation rejects it.
    nanos: Arc<[u64]>,
    /// The first time past [`MAX_DURATION`], and where it is.
    beyond: Option<(usize, Duration)>,
}

impl ArrivalTimes {
    fn new(times: impl IntoIterator<Item = Duration>) -> Self {
        let mut beyond = None;
        let nanos = times
            .into_iter()
            .enumerate()
            .map(|(index, time)| match u64::try_from(time.as_nanos()) {
                Ok(nanos) if time <= MAX_DURATION => nanos,
                _ => {
                    beyond.get_or_insert((index, time));
                    u64::MAX
                }
            })
            .collect();
        ArrivalTimes { nanos, beyond }
    }

    /// How many times there are.
    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.nanos.is_empty()
    }

    /// The times, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = Duration> + '_ {
        self.nanos.iter().map(|&nanos| Duration::from_nanos(nanos))
    }

    /// The times as nanoseconds (valid ones only: each at most [`MAX_DURATION`]).
    pub(crate) fn nanos(&self) -> &Arc<[u64]> {
        &self.nanos
    }
}

/// Why replayed times are invalid, and at which of them (`None`: the whole list).
#[derive(Debug)]
pub(crate) struct ReplayError {
    pub(crate) index: Option<usize>,
    pub(crate) reason: String,
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

    /// The most stages a staged workload may have: ten thousand.
    ///
    /// A stage is a straight line of rate or users, found again by the generator at each of
    /// its requests in order; ten thousand lines draw any load shape a person writes by hand,
    /// and a scenario file listing more is a recorded trace in disguise, which
    /// [`Workload::replay`] takes as it is.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::{Stage, Workload};
    /// assert_eq!(Workload::MAX_STAGES, 10_000);
    /// let saw = Workload::constant_stages(0.0, (0..Workload::MAX_STAGES).map(|i| {
    ///     Stage::new(Duration::from_millis(1), if i % 2 == 0 { 100.0 } else { 0.0 })
    /// }));
    /// # let _ = saw;
    /// ```
    pub const MAX_STAGES: usize = 10_000;

    /// The most times a replayed workload may hold: ten million.
    ///
    /// The times are held for the whole run, 8 bytes each: 80 MB at most, and a scenario
    /// file of as many lines is a couple of hundred megabytes to read. A longer trace is
    /// better cut into the window the simulation looks at, or drawn as stages.
    ///
    /// ```
    /// use microsim::Workload;
    /// assert_eq!(Workload::MAX_REPLAY_TIMES, 10_000_000);
    /// ```
    pub const MAX_REPLAY_TIMES: usize = 10_000_000;

    /// Open loop with Poisson arrivals at `rate` requests per simulated second.
    pub fn poisson(rate: f64) -> Self {
        Workload::from(Arrivals::Poisson { rate })
    }

    /// Open loop with one request every `1 / rate` seconds.
    pub fn constant_rate(rate: f64) -> Self {
        Workload::from(Arrivals::ConstantRate { rate })
    }

    /// Open loop, Poisson arrivals at a rate that moves through `stages`: from `start_rate`
    /// in a straight line to the first stage's target over its duration, then to the next
    /// one's, and so on (k6's ramping-arrival-rate). The stages' total duration is the
    /// workload's length: it sends nothing after it, and it must not outlast the
    /// simulation's duration. A stage whose rate is 0 throughout sends nothing.
    ///
    /// The arrivals are an exact non-homogeneous Poisson process: the number of requests in
    /// any window is Poisson with mean the integral of the rate over it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::{Stage, Workload};
    ///
    /// // From 0 to 1,000 per second in 10 s, then down to 200 in 5 s: 8,000 on average.
    /// let ramp = Workload::poisson_stages(0.0, [
    ///     Stage::new(Duration::from_secs(10), 1000.0),
    ///     Stage::new(Duration::from_secs(5), 200.0),
    /// ]);
    /// # let _ = ramp;
    /// ```
    pub fn poisson_stages(start_rate: f64, stages: impl IntoIterator<Item = Stage<f64>>) -> Self {
        Workload::from(Arrivals::PoissonStages {
            start_rate,
            stages: stages.into_iter().collect(),
        })
    }

    /// Open loop, paced arrivals at a rate that moves through `stages` as in
    /// [`poisson_stages`](Self::poisson_stages): request `k` (from 0) is sent at the first
    /// instant the integral of the rate since the start passes `k`, to the nearest
    /// nanosecond. With one stage at a steady rate, this is
    /// [`constant_rate`](Self::constant_rate).
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::{Stage, Workload};
    ///
    /// // 100 per second for 1 s, then up to 300 per second in 1 s: 100 + 200 requests.
    /// let paced = Workload::constant_stages(100.0, [
    ///     Stage::new(Duration::from_secs(1), 100.0),
    ///     Stage::new(Duration::from_secs(1), 300.0),
    /// ]);
    /// # let _ = paced;
    /// ```
    pub fn constant_stages(start_rate: f64, stages: impl IntoIterator<Item = Stage<f64>>) -> Self {
        Workload::from(Arrivals::ConstantStages {
            start_rate,
            stages: stages.into_iter().collect(),
        })
    }

    /// Open loop, one request at each of `times` (from the start of the run), which must not
    /// decrease; equal times send requests at the same instant. Times at or past the
    /// simulation's duration are not sent: a trace may be longer than the window simulated.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::Workload;
    ///
    /// let trace = Workload::replay([0, 250, 250, 900].map(Duration::from_millis));
    /// # let _ = trace;
    /// ```
    pub fn replay(times: impl IntoIterator<Item = Duration>) -> Self {
        Workload::from(Arrivals::Replay {
            times: ArrivalTimes::new(times),
        })
    }

    /// Closed loop: `users` users who think for a time drawn from `think` between a response
    /// and their next request. Each user thinks once before its first request, so users do
    /// not all start at the same instant.
    pub fn closed(users: usize, think: Distribution) -> Self {
        Workload::from(Arrivals::Closed {
            users,
            think,
            stages: None,
        })
    }

    /// Closed loop whose number of users moves through `stages` (k6's ramping-vus): from
    /// `start_users` in a straight line to each stage's target over its duration. At each
    /// instant `t` the target is that line's value rounded to the nearest whole number
    /// (halves up), `N(t)`, and user number `i` (from 0) is active while `i < N(t)`.
    ///
    /// A user starts when it becomes active, and thinks once before its first request, as
    /// every closed-loop user does. Each time its thinking ends, it sends only if it is still
    /// active then; if not, it stops, and should it become active again later, it starts
    /// afresh (thinking first). A request in flight always runs to its end. No user sends
    /// after the last stage, whose end must not outlast the simulation's duration.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::{Distribution, Stage, Workload};
    ///
    /// // Up to 100 users in a minute, 5 minutes there, then all gone in 30 s.
    /// let think = Distribution::exponential(Duration::from_secs(1));
    /// let users = Workload::closed_stages(0, think, [
    ///     Stage::new(Duration::from_secs(60), 100),
    ///     Stage::new(Duration::from_secs(300), 100),
    ///     Stage::new(Duration::from_secs(30), 0),
    /// ]);
    /// # let _ = users;
    /// ```
    pub fn closed_stages(
        start_users: usize,
        think: Distribution,
        stages: impl IntoIterator<Item = Stage<usize>>,
    ) -> Self {
        Workload::from(Arrivals::Closed {
            users: start_users,
            think,
            stages: Some(stages.into_iter().collect()),
        })
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
    /// `open.stages[2].target`, `closed.users`, `closed.think`, `timeout`, ...); `duration`
    /// is the simulation's, which stages must not outlast.
    /// Whether the load stays the same throughout by design: a constant rate or a constant
    /// number of users (what a warm-up estimate needs; [`crate::report::warmup`]).
    pub(crate) fn is_stationary(&self) -> bool {
        matches!(
            self.arrivals,
            Arrivals::Poisson { .. }
                | Arrivals::ConstantRate { .. }
                | Arrivals::Closed { stages: None, .. }
        )
    }

    pub(crate) fn validate(&self, name: &str, duration: Duration) -> Result<(), BuildError> {
        let invalid = |error: FieldError| BuildError::InvalidWorkload {
            workload: name.to_string(),
            field: error.field,
            reason: error.reason,
        };
        let invalid_rate = |error: FieldError| BuildError::InvalidRate {
            workload: name.to_string(),
            field: error.field,
            reason: error.reason,
        };
        match &self.arrivals {
            Arrivals::Poisson { rate } | Arrivals::ConstantRate { rate } => {
                rules::rate("rate", *rate, false).map_err(|e| invalid_rate(e.within("open")))?;
            }
            Arrivals::PoissonStages { start_rate, stages }
            | Arrivals::ConstantStages { start_rate, stages } => {
                rules::rate("start_rate", *start_rate, true)
                    .map_err(|e| invalid_rate(e.within("open")))?;
                check_stages(stages, duration, |stage| {
                    rules::rate("target", stage.target, true).map_err(|e| (e, true))
                })
                .map_err(|(e, rate)| {
                    let e = e.within("open");
                    if rate { invalid_rate(e) } else { invalid(e) }
                })?;
                if *start_rate == 0.0 && stages.iter().all(|stage| stage.target == 0.0) {
                    return Err(invalid(
                        FieldError::new(
                            "stages",
                            "the rate is 0 from start_rate to every stage's target: the \
                             workload would send nothing",
                        )
                        .within("open"),
                    ));
                }
            }
            Arrivals::Replay { times } => {
                check_replay(times).map_err(|error| {
                    let mut field = vec![
                        PathSegment::Key("open".to_string()),
                        PathSegment::Key("replay".to_string()),
                    ];
                    field.extend(error.index.map(PathSegment::Index));
                    BuildError::InvalidWorkload {
                        workload: name.to_string(),
                        field: FieldPath::from_segments(field),
                        reason: error.reason,
                    }
                })?;
            }
            Arrivals::Closed {
                users,
                think,
                stages,
            } => {
                let users_rule = |key: &str, users: usize, min: usize| {
                    rules::at_least(key, users, min).and_then(|()| {
                        rules::at_most(
                            key,
                            users,
                            Self::MAX_USERS,
                            "each user is a task of its own; an open workload sends any rate \
                             from one",
                        )
                    })
                };
                match stages {
                    None => users_rule("users", *users, 1),
                    Some(_) => users_rule("start_users", *users, 0),
                }
                .map_err(|e| invalid(e.within("closed")))?;
                if let Some(stages) = stages {
                    check_stages(stages, duration, |stage| {
                        users_rule("target", stage.target, 0).map_err(|e| (e, false))
                    })
                    .map_err(|(e, _)| invalid(e.within("closed")))?;
                    if *users == 0 && stages.iter().all(|stage| stage.target == 0) {
                        return Err(invalid(
                            FieldError::new(
                                "stages",
                                "the users are 0 from start_users to every stage's target: \
                                 the workload would send nothing",
                            )
                            .within("closed"),
                        ));
                    }
                }
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

/// The rules every list of stages shares: at least one, at most [`Workload::MAX_STAGES`],
/// each lasting more than zero, each target passing `target` (its error paired with whether
/// it is a rate), and all of them together no longer than the simulation's `duration`.
/// Errors name `stages`, `stages[i].duration` or `stages[i].target`.
fn check_stages<T: Copy>(
    stages: &[Stage<T>],
    duration: Duration,
    target: impl Fn(&Stage<T>) -> Result<(), (FieldError, bool)>,
) -> Result<(), (FieldError, bool)> {
    if stages.is_empty() {
        return Err((
            FieldError::new(
                "stages",
                "stages must hold at least one stage such as { duration = \"1m\", target = 100 }",
            ),
            false,
        ));
    }
    rules::at_most(
        "stages",
        stages.len(),
        Workload::MAX_STAGES,
        "a finer shape is a recorded trace: replay it",
    )
    .map_err(|e| (e, false))?;
    let at = |index: usize, error: FieldError| {
        let mut segments = vec![
            PathSegment::Key("stages".to_string()),
            PathSegment::Index(index),
        ];
        segments.extend_from_slice(error.field.segments());
        FieldError {
            field: FieldPath::from_segments(segments),
            reason: error.reason,
        }
    };
    let mut total = Duration::ZERO;
    for (index, stage) in stages.iter().enumerate() {
        rules::positive_duration("duration", stage.duration).map_err(|e| (at(index, e), false))?;
        target(stage).map_err(|(e, rate)| (at(index, e), rate))?;
        // At most 10,000 stages of at most MAX_DURATION each: no overflow.
        total += stage.duration;
    }
    if total > duration {
        return Err((
            FieldError::new(
                "stages",
                format!(
                    "the stages last {} in all, longer than simulation.duration {}: no request \
                     is sent after the duration, so the last stages would be cut; lengthen the \
                     duration or shorten the stages",
                    format_duration(total),
                    format_duration(duration)
                ),
            ),
            false,
        ));
    }
    Ok(())
}

/// The rules of replayed times: at least one, at most [`Workload::MAX_REPLAY_TIMES`], each
/// at most [`MAX_DURATION`], none before the one it follows. The scenario files' `replay`
/// reads its file with these too, naming the line of the time at fault.
pub(crate) fn check_replay(times: &ArrivalTimes) -> Result<(), ReplayError> {
    if times.is_empty() {
        return Err(ReplayError {
            index: None,
            reason: "replay holds no times: the workload would send nothing".to_string(),
        });
    }
    if times.len() > Workload::MAX_REPLAY_TIMES {
        return Err(ReplayError {
            index: Some(Workload::MAX_REPLAY_TIMES),
            reason: format!(
                "replay holds more than {} times (8 bytes each, held for the whole run)",
                Workload::MAX_REPLAY_TIMES,
            ),
        });
    }
    if let Some((index, time)) = times.beyond {
        return Err(ReplayError {
            index: Some(index),
            reason: rules::too_long("a replayed time", time),
        });
    }
    if let Some(index) = times.nanos.windows(2).position(|pair| pair[1] < pair[0]) {
        return Err(ReplayError {
            index: Some(index + 1),
            reason: decreasing(
                Duration::from_nanos(times.nanos[index + 1]),
                Duration::from_nanos(times.nanos[index]),
            ),
        });
    }
    Ok(())
}

/// The message for a replayed time earlier than the one before it.
fn decreasing(time: Duration, previous: Duration) -> String {
    format!(
        "replayed times must not decrease: {} comes after {}",
        format_duration(time),
        format_duration(previous)
    )
}

impl From<Arrivals> for Workload {
    fn from(arrivals: Arrivals) -> Self {
        Workload {
            arrivals,
            timeout: None,
        }
    }
}
