//! The settings of a simulation, their defaults and their rules.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::clock::ClockKind;
use crate::distribution::Distribution;
use crate::duration_format::format_duration;
use crate::error::{BuildError, FieldError, FieldPath};
use crate::progress::Progress;
use crate::rules;

use super::{NEXT_SIMULATION, Simulation};

/// Settings of a simulation; see [`Simulation::builder`].
///
/// ```
/// use std::time::Duration;
/// use microsim::{ClockKind, Distribution, Simulation};
///
/// let sim = Simulation::builder()
///     .seed(7)
///     .duration(Duration::from_secs(60))
///     .warmup(Duration::from_secs(5))
///     .default_latency(Distribution::constant(Duration::from_micros(100)))
///     .call_timeout(Duration::from_secs(5))
///     .clock(ClockKind::Virtual)
///     .build()?;
/// # let _ = sim;
/// # Ok::<(), microsim::BuildError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SimulationBuilder {
    pub(crate) seed: u64,
    pub(crate) duration: Duration,
    pub(crate) warmup: Duration,
    pub(crate) default_latency: Distribution,
    pub(crate) call_timeout: Duration,
    pub(crate) clock: ClockKind,
    pub(crate) max_events_per_instant: u64,
    pub(crate) timeline_window: Option<Duration>,
    pub(crate) tracing: Option<crate::trace::Tracing>,
}

impl Default for SimulationBuilder {
    fn default() -> Self {
        SimulationBuilder {
            seed: 0,
            duration: Duration::from_secs(60),
            warmup: Duration::ZERO,
            default_latency: Distribution::ZERO,
            call_timeout: Duration::from_secs(30),
            clock: ClockKind::Virtual,
            max_events_per_instant: SimulationBuilder::DEFAULT_MAX_EVENTS_PER_INSTANT,
            timeline_window: None,
            tracing: None,
        }
    }
}

impl SimulationBuilder {
    /// The default of [`max_events_per_instant`](Self::max_events_per_instant): ten million,
    /// some seconds of work at one instant.
    pub const DEFAULT_MAX_EVENTS_PER_INSTANT: u64 = 10_000_000;

    /// The largest [`max_events_per_instant`](Self::max_events_per_instant): a billion. A
    /// billion waits at one instant take minutes of wall time, so a run that needs more is
    /// looping, and a larger limit would only make it spin longer before it says so.
    pub const MAX_EVENTS_PER_INSTANT: u64 = 1_000_000_000;

    /// The seed every random draw derives from. Default 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How long workloads send requests. Default 60 s.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// Requests intended before this are sent but not counted. Default 0.
    pub fn warmup(mut self, warmup: Duration) -> Self {
        self.warmup = warmup;
        self
    }

    /// Link latency between endpoints without a link of their own. Default zero.
    pub fn default_latency(mut self, latency: Distribution) -> Self {
        self.default_latency = latency;
        self
    }

    /// Timeout of every call that does not set its own. Default 30 s.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Virtual (default) or real time.
    pub fn clock(mut self, clock: ClockKind) -> Self {
        self.clock = clock;
        self
    }

    /// How many waits (messages, processing, think times, timers) may begin at one instant of
    /// simulated time before the run stops with [`SimulationError::NoProgress`]: a model that
    /// loops without taking any time -- a closed workload with no think time against a service
    /// that takes none, retries without backoff against a callee that always fails at once --
    /// would otherwise run forever at one instant. Default
    /// [`DEFAULT_MAX_EVENTS_PER_INSTANT`](Self::DEFAULT_MAX_EVENTS_PER_INSTANT); at least 1 and
    /// at most [`MAX_EVENTS_PER_INSTANT`](Self::MAX_EVENTS_PER_INSTANT). Virtual clock only: on
    /// the real clock time always moves.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::{Capacity, Context, Service, ServiceError, Simulation, SimulationError, Workload};
    ///
    /// struct Instant;
    /// impl Service for Instant {
    ///     type Request = (); type Response = (); type State = ();
    ///     fn init_state(&self) {}
    ///     async fn handle(&self, _: &Context<Self>, _: ()) -> Result<(), ServiceError> { Ok(()) }
    /// }
    ///
    /// let mut sim = Simulation::builder().max_events_per_instant(10_000).build()?;
    /// let api = sim.add_service("api", Instant, Capacity::workers(1))?;
    /// sim.add_workload("users", &api, Workload::closed(1, microsim::Distribution::ZERO), |_| ())?;
    /// let error = sim.run().unwrap_err();
    /// assert!(matches!(error, SimulationError::NoProgress { at: Duration::ZERO, .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`SimulationError::NoProgress`]: crate::SimulationError::NoProgress
    pub fn max_events_per_instant(mut self, events: u64) -> Self {
        self.max_events_per_instant = events;
        self
    }

    /// The length of each window of the report's timeline
    /// ([`Report::timeline`](crate::Report::timeline)). Default: a hundredth of the
    /// duration. At most [`MAX_WINDOWS`](crate::report::timeline::MAX_WINDOWS) windows may
    /// cover the duration.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::Simulation;
    ///
    /// let sim = Simulation::builder()
    ///     .duration(Duration::from_secs(60))
    ///     .timeline_window(Duration::from_secs(1))
    ///     .build()?;
    /// # let _ = sim;
    /// # Ok::<(), microsim::BuildError>(())
    /// ```
    pub fn timeline_window(mut self, window: Duration) -> Self {
        self.timeline_window = Some(window);
        self
    }

    /// Turns tracing on: every request carries a trace, and the report keeps the traces
    /// `tracing` chooses ([`Report::traces`](crate::Report::traces)) and the critical path
    /// of each workload's slowest requests ([`Report::critical_path`](crate::Report::critical_path)).
    /// Off by default (it costs a lock and a few allocations per hop).
    ///
    /// ```
    /// use microsim::Simulation;
    /// use microsim::trace::Tracing;
    ///
    /// let sim = Simulation::builder().tracing(Tracing::default().keep_slowest(20)).build()?;
    /// # let _ = sim;
    /// let error = Simulation::builder().tracing(Tracing::default().rate(2.0)).build().unwrap_err();
    /// assert!(error.to_string().contains("tracing.rate must be within [0, 1]"));
    /// # Ok::<(), microsim::BuildError>(())
    /// ```
    pub fn tracing(mut self, tracing: crate::trace::Tracing) -> Self {
        self.tracing = Some(tracing);
        self
    }

    /// The timeline's window: the one set, or a hundredth of the duration (1 ns at least).
    pub(crate) fn window(&self) -> Duration {
        self.timeline_window
            .unwrap_or_else(|| (self.duration / 100).max(Duration::from_nanos(1)))
    }

    /// Checks the settings and returns an empty simulation.
    ///
    /// # Errors
    /// [`BuildError::InvalidSetting`] for a zero duration, a warm-up not shorter than the
    /// duration, a zero timeout or a `max_events_per_instant` out of range; [`BuildError::InvalidDistribution`] for a bad default
    /// latency.
    pub fn build(self) -> Result<Simulation, BuildError> {
        self.validate()?;
        Ok(Simulation {
            id: NEXT_SIMULATION.fetch_add(1, Ordering::Relaxed),
            settings: self,
            services: Vec::new(),
            links: BTreeMap::new(),
            workloads: Vec::new(),
            topics: Vec::new(),
            faults: Vec::new(),
            policies: BTreeMap::new(),
            invariants: Vec::new(),
            names: BTreeSet::new(),
            workload_names: BTreeSet::new(),
            subscriptions: BTreeSet::new(),
            reserved: BTreeMap::new(),
            progress: Progress::default(),
            interrupt: crate::interrupt::InterruptHandle::default(),
        })
    }
}

impl SimulationBuilder {
    /// The settings' rules: a positive duration, a warm-up shorter than it, a positive call
    /// timeout, a valid default latency.
    fn validate(&self) -> Result<(), BuildError> {
        let setting = |error: FieldError| BuildError::InvalidSetting {
            field: error.field,
            reason: error.reason,
        };
        rules::positive_duration("duration", self.duration).map_err(setting)?;
        if self.warmup >= self.duration {
            return Err(setting(FieldError::new(
                "warmup",
                format!(
                    "warmup {} leaves nothing to measure: it must be shorter than the duration {}",
                    format_duration(self.warmup),
                    format_duration(self.duration)
                ),
            )));
        }
        rules::positive_duration("call_timeout", self.call_timeout).map_err(setting)?;
        if let Some(window) = self.timeline_window {
            rules::positive_duration("timeline_window", window).map_err(setting)?;
            let windows = self.duration.as_nanos().div_ceil(window.as_nanos());
            let max = crate::report::timeline::MAX_WINDOWS;
            if windows > max as u128 {
                return Err(setting(FieldError::new(
                    "timeline_window",
                    format!(
                        "timeline_window {} cuts the duration {} into {windows} windows, more \
                         than the {max} a timeline holds: make it at least {}",
                        format_duration(window),
                        format_duration(self.duration),
                        format_duration(shortest_window(self.duration, max)),
                    ),
                )));
            }
        }
        if let Some(tracing) = &self.tracing {
            tracing.validate()?;
        }
        rules::at_least("max_events_per_instant", self.max_events_per_instant, 1)
            .and_then(|()| {
                rules::at_most(
                    "max_events_per_instant",
                    self.max_events_per_instant,
                    Self::MAX_EVENTS_PER_INSTANT,
                    "a billion waits at one instant take minutes; a run that needs more is \
                     looping",
                )
            })
            .map_err(setting)?;
        self.default_latency
            .validate()
            .map_err(|source| BuildError::InvalidDistribution {
                location: "simulation".into(),
                field: FieldPath::key("default_latency"),
                source,
            })
    }
}

/// The shortest window that cuts `duration` into at most `windows` windows.
fn shortest_window(duration: Duration, windows: usize) -> Duration {
    let nanos = duration.as_nanos().div_ceil(windows as u128);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}
