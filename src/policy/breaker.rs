//! The circuit breaker: stop calling a dependency that keeps failing, so it can recover and
//! callers fail fast instead of waiting.
//!
//! ```text
//!            failure rate >= threshold            open_for elapsed
//!   Closed ──────────────────────────▶ Open ──────────────────────▶ HalfOpen
//!     ▲      (over the window, after                                  │  │
//!     │       minimum_calls)                  trial calls fail  ◀─────┘  │
//!     └──────────────────────────────────────────────────────────────────┘
//!                          trial calls succeed
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::admission::{Finished, Gate, Refusal};
use crate::error::FieldError;
use crate::rules;

/// A circuit breaker (Resilience4j's model). Closed, it lets calls through and records their
/// outcomes over a sliding window; once at least `minimum_calls` are in the window and the
/// share that failed reaches `failure_rate`, it opens. Open, it rejects every call at once
/// with [`CallError::CircuitOpen`](crate::CallError::CircuitOpen). After `open_for` it is
/// half-open: it lets `trial_calls` calls through and rejects the rest; when they have all
/// ended it closes if their failure rate is below the threshold, and opens again otherwise.
///
/// A call fails if it returns an error, or -- with [`slow_call`](Self::slow_call) -- if it
/// takes at least that long, even when it succeeds.
///
/// The defaults are Resilience4j's: threshold 50%, a window of the last 100 calls, minimum
/// 100 calls (or the window's size, if a window of calls is smaller), open for 60 s, 10 trial
/// calls.
///
/// ```
/// use std::time::Duration;
/// use microsim::policy::CircuitBreaker;
///
/// let breaker = CircuitBreaker::default()
///     .failure_rate(0.5)
///     .window_calls(20)
///     .minimum_calls(10)
///     .open_for(Duration::from_secs(5))
///     .trial_calls(3)
///     .slow_call(Duration::from_millis(200));
/// assert_eq!(breaker.minimum_calls, Some(10));
/// // Like Resilience4j, a window of fewer calls lowers the default minimum.
/// assert_eq!(CircuitBreaker::default().window_calls(20).effective_minimum_calls(), 20);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CircuitBreaker {
    /// The share of failed calls that opens the breaker, in (0, 1].
    pub failure_rate: f64,
    /// The sliding window outcomes are counted over.
    pub window: BreakerWindow,
    /// Calls the window must hold before the rate is judged, >= 1 and at most a window of
    /// calls; `None`: 100, or the window's size if a window of calls is smaller
    /// ([`effective_minimum_calls`](Self::effective_minimum_calls)).
    pub minimum_calls: Option<u32>,
    /// How long the breaker stays open before trying again.
    pub open_for: Duration,
    /// Calls let through while half-open, >= 1.
    pub trial_calls: u32,
    /// Calls at least this slow count as failures.
    pub slow_call: Option<Duration>,
}

/// The window a [`CircuitBreaker`] judges the failure rate over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerWindow {
    /// The last `n` calls.
    Calls(u32),
    /// The calls that ended in the last span of simulated time.
    Time(Duration),
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker {
            failure_rate: 0.5,
            window: BreakerWindow::Calls(100),
            minimum_calls: None,
            open_for: Duration::from_secs(60),
            trial_calls: 10,
            slow_call: None,
        }
    }
}

impl CircuitBreaker {
    /// Opens at this share of failed calls, in (0, 1].
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = rate;
        self
    }

    /// Judges the last `calls` calls.
    pub fn window_calls(mut self, calls: u32) -> Self {
        self.window = BreakerWindow::Calls(calls);
        self
    }

    /// Judges the calls that ended within the last `span`.
    pub fn window_time(mut self, span: Duration) -> Self {
        self.window = BreakerWindow::Time(span);
        self
    }

    /// Judges only once the window holds at least `calls` calls.
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.minimum_calls = Some(calls);
        self
    }

    /// Stays open this long.
    pub fn open_for(mut self, span: Duration) -> Self {
        self.open_for = span;
        self
    }

    /// Lets this many trial calls through while half-open.
    pub fn trial_calls(mut self, calls: u32) -> Self {
        self.trial_calls = calls;
        self
    }

    /// Counts calls that take at least `threshold` as failures.
    pub fn slow_call(mut self, threshold: Duration) -> Self {
        self.slow_call = Some(threshold);
        self
    }

    /// The minimum of calls before the failure rate is judged: the one set, or the default of
    /// 100 lowered to the size of a smaller window of calls (Resilience4j's rule).
    pub fn effective_minimum_calls(&self) -> u32 {
        match (self.minimum_calls, self.window) {
            (Some(calls), _) => calls,
            (None, BreakerWindow::Calls(size)) => Self::DEFAULT_MINIMUM_CALLS.min(size),
            (None, BreakerWindow::Time(_)) => Self::DEFAULT_MINIMUM_CALLS,
        }
    }

    /// The minimum of calls when none is set, Resilience4j's: 100.
    pub const DEFAULT_MINIMUM_CALLS: u32 = 100;

    /// The breaker's rules, each error naming its scenario-file key.
    pub(crate) fn validate(&self) -> Result<(), FieldError> {
        rules::share(
            "failure_rate",
            self.failure_rate,
            true,
            " (a share of calls: 0.5 = half)",
        )?;
        match self.window {
            BreakerWindow::Calls(size) => rules::at_least("window_calls", size, 1)?,
            BreakerWindow::Time(span) => rules::positive_duration("window_time", span)?,
        }
        if let Some(minimum) = self.minimum_calls {
            rules::at_least("minimum_calls", minimum, 1)?;
            if let BreakerWindow::Calls(size) = self.window
                && minimum > size
            {
                return Err(FieldError::new(
                    "minimum_calls",
                    format!(
                        "minimum_calls {minimum} exceeds its window_calls of {size}, so the \
                         breaker could never open"
                    ),
                ));
            }
        }
        rules::positive_duration("open_for", self.open_for)?;
        rules::at_least("trial_calls", self.trial_calls, 1)?;
        if let Some(slow) = self.slow_call {
            rules::positive_duration("slow_call", slow)?;
        }
        Ok(())
    }
}

/// The state of a circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls pass; outcomes are recorded.
    Closed,
    /// Calls are rejected at once.
    Open,
    /// A few trial calls pass; the rest are rejected.
    HalfOpen,
}

impl std::fmt::Display for BreakerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        })
    }
}

/// One change of a breaker's state, in the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BreakerTransition {
    /// Simulated seconds since the start of the run.
    pub at_seconds: f64,
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
}

/// A breaker's decision on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let it through; report its outcome with `trial` as given.
    Pass { trial: bool },
    /// Reject it.
    Reject,
}

/// A running breaker.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: CircuitBreaker,
    state: BreakerState,
    /// Closed: (when the call ended, whether it failed), oldest first.
    window: VecDeque<(Duration, bool)>,
    failures: usize,
    opened_at: Duration,
    trials_started: u32,
    trials_ended: u32,
    trial_failures: u32,
    /// Incremented at each transition, so outcomes of calls admitted in an earlier state are
    /// not mixed into a later one's counts.
    epoch: u64,
    pub(crate) transitions: Vec<BreakerTransition>,
}

impl Breaker {
    pub(crate) fn new(config: CircuitBreaker) -> Self {
        Breaker {
            config,
            state: BreakerState::Closed,
            window: VecDeque::new(),
            failures: 0,
            opened_at: Duration::ZERO,
            trials_started: 0,
            trials_ended: 0,
            trial_failures: 0,
            epoch: 0,
            transitions: Vec::new(),
        }
    }

    fn move_to(&mut self, to: BreakerState, now: Duration) {
        self.transitions.push(BreakerTransition {
            at_seconds: now.as_secs_f64(),
            from: self.state,
            to,
        });
        self.state = to;
        self.epoch += 1;
        self.window.clear();
        self.failures = 0;
        self.trials_started = 0;
        self.trials_ended = 0;
        self.trial_failures = 0;
        if to == BreakerState::Open {
            self.opened_at = now;
        }
    }

    /// Whether a call may start at `now`, and the epoch to report its outcome under.
    pub(crate) fn verdict(&mut self, now: Duration) -> (Verdict, u64) {
        if self.state == BreakerState::Open
            && now.saturating_sub(self.opened_at) >= self.config.open_for
        {
            // The breaker is half-open from the end of `open_for`, though nothing asks it
            // until the next call.
            let at = self.opened_at.saturating_add(self.config.open_for);
            self.move_to(BreakerState::HalfOpen, at);
        }
        let verdict = match self.state {
            BreakerState::Closed => Verdict::Pass { trial: false },
            BreakerState::Open => Verdict::Reject,
            BreakerState::HalfOpen if self.trials_started < self.config.trial_calls => {
                self.trials_started += 1;
                Verdict::Pass { trial: true }
            }
            BreakerState::HalfOpen => Verdict::Reject,
        };
        (verdict, self.epoch)
    }

    /// Records the outcome of a call admitted in `epoch` that took `took` and ended at `now`.
    pub(crate) fn record(&mut self, epoch: u64, failed: bool, took: Duration, now: Duration) {
        if epoch != self.epoch {
            return;
        }
        let failed = failed || self.config.slow_call.is_some_and(|slow| took >= slow);
        match self.state {
            BreakerState::Closed => {
                self.window.push_back((now, failed));
                self.failures += usize::from(failed);
                match self.config.window {
                    BreakerWindow::Calls(size) => {
                        while self.window.len() > size as usize {
                            self.drop_oldest();
                        }
                    }
                    BreakerWindow::Time(span) => {
                        while self
                            .window
                            .front()
                            .is_some_and(|(at, _)| now.saturating_sub(*at) >= span)
                        {
                            self.drop_oldest();
                        }
                    }
                }
                let calls = self.window.len();
                if calls >= self.config.effective_minimum_calls() as usize
                    && self.failures as f64 >= self.config.failure_rate * calls as f64
                {
                    self.move_to(BreakerState::Open, now);
                }
            }
            BreakerState::HalfOpen => {
                self.trials_ended += 1;
                self.trial_failures += u32::from(failed);
                if self.trials_ended == self.config.trial_calls {
                    let rate = f64::from(self.trial_failures) / f64::from(self.trials_ended);
                    let next = if rate >= self.config.failure_rate {
                        BreakerState::Open
                    } else {
                        BreakerState::Closed
                    };
                    self.move_to(next, now);
                }
            }
            BreakerState::Open => {}
        }
    }

    /// Gives back the trial slot of a call admitted in `epoch` that was never sent.
    pub(crate) fn unadmit(&mut self, epoch: u64) {
        if epoch == self.epoch && self.state == BreakerState::HalfOpen {
            self.trials_started = self.trials_started.saturating_sub(1);
        }
    }

    fn drop_oldest(&mut self) {
        if let Some((_, failed)) = self.window.pop_front() {
            self.failures -= usize::from(failed);
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> BreakerState {
        self.state
    }
}

/// What the breaker remembers of a call it let through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BreakerTicket {
    /// The epoch its outcome is recorded under.
    epoch: u64,
    /// It holds one of the half-open breaker's trial slots.
    trial: bool,
}

/// The breaker as a part of admission: it refuses while open (or half-open with every trial
/// slot taken), records outcomes, and gives a trial slot back when its call is not sent.
impl Gate for Breaker {
    type Ticket = BreakerTicket;

    #[inline]
    fn admit(&mut self, now: Duration) -> Result<BreakerTicket, Refusal> {
        match self.verdict(now) {
            (Verdict::Pass { trial }, epoch) => Ok(BreakerTicket { epoch, trial }),
            (Verdict::Reject, _) => Err(Refusal::CircuitOpen),
        }
    }

    #[inline]
    fn finish(&mut self, ticket: BreakerTicket, finished: Finished) {
        self.record(ticket.epoch, finished.failed, finished.took, finished.at);
    }

    #[inline]
    fn release(&mut self, ticket: BreakerTicket) {
        if ticket.trial {
            self.unadmit(ticket.epoch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn call(breaker: &mut Breaker, at: Duration, failed: bool) -> Verdict {
        let (admission, epoch) = breaker.verdict(at);
        if admission != Verdict::Reject {
            breaker.record(epoch, failed, ms(1), at);
        }
        admission
    }

    fn small() -> Breaker {
        Breaker::new(
            CircuitBreaker::default()
                .window_calls(10)
                .minimum_calls(10)
                .failure_rate(0.5)
                .open_for(ms(100))
                .trial_calls(2),
        )
    }

    #[test]
    fn opens_at_the_threshold_not_before_minimum_calls() {
        let mut breaker = small();
        for i in 0..4 {
            call(&mut breaker, ms(i), true);
        }
        // 4 failures of 4: above the threshold, but the window is not full enough.
        assert_eq!(breaker.state(), BreakerState::Closed);
        for i in 4..9 {
            call(&mut breaker, ms(i), false);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        // 10th call: 5 failures of 10 = 50%.
        call(&mut breaker, ms(9), true);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(call(&mut breaker, ms(50), false), Verdict::Reject);
    }

    #[test]
    fn half_open_trials_decide() {
        let mut breaker = small();
        for i in 0..10 {
            call(&mut breaker, ms(i), true);
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        // Open at 9 ms for 100 ms: half-open from 109 ms.
        assert_eq!(call(&mut breaker, ms(108), false), Verdict::Reject);
        assert_eq!(
            call(&mut breaker, ms(109), true),
            Verdict::Pass { trial: true }
        );
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        call(&mut breaker, ms(110), false);
        // One of two trials failed: 50% >= threshold, open again.
        assert_eq!(breaker.state(), BreakerState::Open);
        call(&mut breaker, ms(210), false);
        call(&mut breaker, ms(211), false);
        assert_eq!(breaker.state(), BreakerState::Closed);
        let states: Vec<_> = breaker.transitions.iter().map(|t| t.to).collect();
        use BreakerState::*;
        assert_eq!(states, [Open, HalfOpen, Open, HalfOpen, Closed]);
        assert_eq!(breaker.transitions[0].at_seconds, 0.009);
    }

    #[test]
    fn half_open_admits_only_trial_calls() {
        let mut breaker = small();
        for i in 0..10 {
            call(&mut breaker, ms(i), true);
        }
        let (first, _) = breaker.verdict(ms(200));
        let (second, _) = breaker.verdict(ms(200));
        let (third, _) = breaker.verdict(ms(200));
        assert_eq!(first, Verdict::Pass { trial: true });
        assert_eq!(second, Verdict::Pass { trial: true });
        assert_eq!(third, Verdict::Reject);
    }

    #[test]
    fn slow_calls_count_as_failures_and_time_windows_expire() {
        let mut breaker = Breaker::new(
            CircuitBreaker::default()
                .window_time(ms(100))
                .minimum_calls(3)
                .slow_call(ms(50)),
        );
        for i in 0..2 {
            let (_, epoch) = breaker.verdict(ms(i));
            breaker.record(epoch, false, ms(60), ms(i));
        }
        // Two slow calls, then a fast one 200 ms later: the slow ones have left the window.
        let (_, epoch) = breaker.verdict(ms(200));
        breaker.record(epoch, false, ms(1), ms(200));
        assert_eq!(breaker.state(), BreakerState::Closed);
        for i in 201..203 {
            let (_, epoch) = breaker.verdict(ms(i));
            breaker.record(epoch, false, ms(60), ms(i));
        }
        // 2 slow of 3 in the window: open.
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[test]
    fn outcomes_from_an_earlier_state_are_ignored() {
        let mut breaker = small();
        let (_, stale) = breaker.verdict(ms(0));
        for i in 0..10 {
            call(&mut breaker, ms(i), true);
        }
        breaker.verdict(ms(500));
        breaker.record(stale, false, ms(1), ms(500));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
    }

    #[test]
    fn validation_names_the_problem() {
        let bad = CircuitBreaker::default().failure_rate(0.0);
        assert!(bad.validate().unwrap_err().reason.contains("(0, 1]"));
        let never = CircuitBreaker::default().window_calls(10).minimum_calls(20);
        assert!(
            never
                .validate()
                .unwrap_err()
                .reason
                .contains("could never open")
        );
        assert!(CircuitBreaker::default().validate().is_ok());
    }
}
