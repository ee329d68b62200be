//! Retries: how many attempts, how long to wait between them, and how many retries the
//! caller may add to the load at all -- and [`run`], the loop that makes a call's attempts
//! under its policy, each through admission.

use std::collections::VecDeque;
use std::time::Duration;

use rand::RngExt;

use super::PairPolicy;
use crate::clock::Clock;
use crate::duration_format::format_duration;
use crate::error::CallError;
use crate::error::FieldError;
use crate::message::RequestId;
use crate::nanos::saturating_u64 as nanos;
use crate::random::SimRng;
use crate::rules;

/// Retries of failed calls: at most `max_attempts` attempts in all, with a backoff between
/// them, and optionally a [`RetryBudget`] that caps retries as a share of the traffic.
///
/// Every failure of an attempt is retried -- rejected, timed out, crashed, failed by the
/// handler, unavailable -- except the caller's own refusals (circuit open, bulkhead full, rate
/// limited), which exist to shed load and would defeat themselves if retried, and permanent
/// failures ([`ServiceError::permanent`](crate::ServiceError::permanent): a declined card),
/// which another attempt would not change.
///
/// The defaults are Envoy's: 3 attempts in all (the first and 2 retries), exponential backoff
/// from 25 ms capped at 250 ms, full jitter, no budget.
///
/// ```
/// use std::time::Duration;
/// use microsim::policy::{Backoff, Jitter, Retry, RetryBudget};
///
/// let ms = Duration::from_millis;
/// let retry = Retry::attempts(4)
///     .backoff(Backoff::exponential(ms(10), ms(1000)))
///     .jitter(Jitter::Decorrelated)
///     // Linkerd's budget: retries at most 20% of requests, plus 10 per second.
///     .budget(RetryBudget::ratio(0.2).min_per_second(10.0));
/// assert_eq!(retry.max_attempts(), 4);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    /// Attempts in all, the first included; at least 1.
    pub max_attempts: u32,
    /// The wait before each retry, before jitter.
    pub backoff: Backoff,
    /// How the wait is randomised.
    pub jitter: Jitter,
    /// A cap on retries as a share of requests; `None`: no cap.
    pub budget: Option<RetryBudget>,
}

impl Retry {
    /// The most attempts a retry may make, the first included: 100.
    pub const MAX_ATTEMPTS: u32 = 100;

    /// At most `max_attempts` attempts in all (the first included), with the default backoff.
    pub fn attempts(max_attempts: u32) -> Self {
        Retry {
            max_attempts,
            ..Retry::default()
        }
    }

    /// Sets the backoff.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the jitter.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Caps retries with a budget.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Attempts in all, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The rule of `max_attempts`, for any count a front end reads (a file's may be far
    /// beyond a `u32`): at least 1, at most [`MAX_ATTEMPTS`](Self::MAX_ATTEMPTS).
    pub(crate) fn check_max_attempts(max_attempts: u64) -> Result<(), FieldError> {
        if max_attempts == 0 {
            return Err(FieldError::new(
                "max_attempts",
                "max_attempts counts the first attempt too, so it must be at least 1, got 0",
            ));
        }
        rules::at_most(
            "max_attempts",
            max_attempts,
            u64::from(Retry::MAX_ATTEMPTS),
            "more than any client retries; each attempt is a message",
        )
    }

    /// The retry's rules, each error naming its scenario-file key.
    pub(crate) fn validate(&self) -> Result<(), FieldError> {
        Self::check_max_attempts(u64::from(self.max_attempts))?;
        if let Backoff::Constant { delay } = self.backoff {
            rules::within_clock("delay", delay)?;
        }
        if let Backoff::Exponential { base, cap } = self.backoff {
            rules::positive_duration("base", base)?;
            rules::within_clock("cap", cap)?;
            if cap < base {
                return Err(FieldError::new(
                    "cap",
                    format!(
                        "cap {} is below base {}: the longest wait cannot be shorter than the first",
                        format_duration(cap),
                        format_duration(base)
                    ),
                ));
            }
        }
        if let Some(budget) = &self.budget {
            budget.validate().map_err(|e| e.within("budget"))?;
        }
        Ok(())
    }

    /// The wait before retry number `retry` (1 for the first retry); `previous` is the last
    /// wait (for decorrelated jitter).
    pub(crate) fn wait(&self, retry: u32, previous: Duration, rng: &mut SimRng) -> Duration {
        let (base, cap) = match self.backoff {
            Backoff::Constant { delay } => (delay, delay),
            Backoff::Exponential { base, cap } => (base, cap),
        };
        let expo = match self.backoff {
            Backoff::Constant { delay } => delay,
            Backoff::Exponential { .. } => {
                let factor = 2f64.powi(retry.saturating_sub(1).min(62) as i32);
                Duration::try_from_secs_f64(base.as_secs_f64() * factor)
                    .map_or(cap, |wait| wait.min(cap))
            }
        };
        let uniform = |rng: &mut SimRng, low: Duration, high: Duration| -> Duration {
            if high <= low {
                return low;
            }
            Duration::from_nanos(rng.random_range(nanos(low)..=nanos(high)))
        };
        match self.jitter {
            Jitter::None => expo,
            Jitter::Full => uniform(rng, Duration::ZERO, expo),
            Jitter::Equal => expo / 2 + uniform(rng, Duration::ZERO, expo / 2),
            Jitter::Decorrelated => {
                let previous = if previous.is_zero() { base } else { previous };
                uniform(rng, base, previous.saturating_mul(3)).min(cap.max(base))
            }
        }
    }
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: 3,
            backoff: Backoff::exponential_from(Backoff::DEFAULT_BASE),
            jitter: Jitter::Full,
            budget: None,
        }
    }
}

/// The wait before a retry, before jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// The same wait before every retry.
    Constant {
        /// The wait.
        delay: Duration,
    },
    /// `min(cap, base * 2^(n-1))` before retry `n`.
    Exponential {
        /// The first wait, > 0.
        base: Duration,
        /// The longest wait, >= `base`.
        cap: Duration,
    },
}

impl Backoff {
    /// The same `delay` before every retry.
    pub const fn constant(delay: Duration) -> Self {
        Backoff::Constant { delay }
    }

    /// `base`, `2 * base`, `4 * base`, ... up to `cap`.
    pub const fn exponential(base: Duration, cap: Duration) -> Self {
        Backoff::Exponential { base, cap }
    }

    /// The first wait of the default exponential backoff, Envoy's: 25 ms.
    pub const DEFAULT_BASE: Duration = Duration::from_millis(25);

    /// An exponential backoff from `base`, capped at ten times `base` (Envoy's cap).
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::policy::Backoff;
    /// let ms = Duration::from_millis;
    /// assert_eq!(Backoff::exponential_from(ms(10)), Backoff::exponential(ms(10), ms(100)));
    /// ```
    pub const fn exponential_from(base: Duration) -> Self {
        Backoff::Exponential {
            base,
            cap: base.saturating_mul(10),
        }
    }
}

/// How a backoff wait is randomised, so that callers that failed together do not retry
/// together. With `expo` the backoff's wait for this retry (AWS's names and formulas):
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly `expo`.
    None,
    /// Uniform in `[0, expo]`.
    #[default]
    Full,
    /// `expo / 2` plus uniform in `[0, expo / 2]`.
    Equal,
    /// `min(cap, uniform in [base, 3 * previous wait])`.
    Decorrelated,
}

/// A cap on retries as a share of requests (Finagle's and Linkerd's retry budget): over the
/// last `window`, retries may be at most `ratio` of the calls plus `min_per_second` per
/// second. A retry the budget refuses is not sent; the call fails with its last error.
///
/// ```
/// use std::time::Duration;
/// use microsim::policy::RetryBudget;
/// let budget = RetryBudget::ratio(0.1).min_per_second(5.0).window(Duration::from_secs(10));
/// assert_eq!(budget.ratio, 0.1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryBudget {
    /// Retries allowed per call, in [0, 1].
    pub ratio: f64,
    /// Retries allowed per second regardless of traffic, >= 0.
    pub min_per_second: f64,
    /// The window calls and retries are counted over.
    pub window: Duration,
}

fn default_window() -> Duration {
    Duration::from_secs(10)
}

impl RetryBudget {
    /// Retries at most `ratio` of calls (Linkerd's default is 0.2), no minimum, over 10 s.
    pub fn ratio(ratio: f64) -> Self {
        RetryBudget {
            ratio,
            min_per_second: 0.0,
            window: default_window(),
        }
    }

    /// Also allows `rate` retries per second whatever the traffic (Linkerd's default: 10).
    pub fn min_per_second(mut self, rate: f64) -> Self {
        self.min_per_second = rate;
        self
    }

    /// Counts over `window` instead of 10 s.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    fn validate(&self) -> Result<(), FieldError> {
        rules::share(
            "ratio",
            self.ratio,
            false,
            " (0.2 = retries may add 20% to the calls)",
        )?;
        if !(self.min_per_second.is_finite() && self.min_per_second >= 0.0) {
            return Err(FieldError::new(
                "min_per_second",
                format!(
                    "min_per_second must be a finite number >= 0, got {}",
                    self.min_per_second
                ),
            ));
        }
        rules::positive_duration("window", self.window)
    }
}

/// Calls and retries over the budget's sliding window.
#[derive(Debug)]
pub(crate) struct BudgetState {
    budget: RetryBudget,
    calls: VecDeque<Duration>,
    retries: VecDeque<Duration>,
}

impl BudgetState {
    pub(crate) fn new(budget: RetryBudget) -> Self {
        BudgetState {
            budget,
            calls: VecDeque::new(),
            retries: VecDeque::new(),
        }
    }

    fn expire(&mut self, now: Duration) {
        let window = self.budget.window;
        let old = |at: &Duration| now.saturating_sub(*at) >= window;
        while self.calls.front().is_some_and(old) {
            self.calls.pop_front();
        }
        while self.retries.front().is_some_and(old) {
            self.retries.pop_front();
        }
    }

    /// A call (its first attempt) was made at `now`.
    pub(crate) fn deposit(&mut self, now: Duration) {
        self.expire(now);
        self.calls.push_back(now);
    }

    /// Takes a retry from the budget if it allows one at `now`.
    pub(crate) fn withdraw(&mut self, now: Duration) -> bool {
        self.expire(now);
        let allowed = self.budget.ratio * self.calls.len() as f64
            + self.budget.min_per_second * self.budget.window.as_secs_f64();
        if (self.retries.len() + 1) as f64 <= allowed {
            self.retries.push_back(now);
            true
        } else {
            false
        }
    }
}

/// What the retry loop tells an attempt about itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Try {
    /// A retry's own request id (`None` for the first attempt, which has the call's).
    pub(crate) id: Option<RequestId>,
    /// The call started in the measured window: what the policy does with it is reported.
    pub(crate) counted: bool,
    /// When the attempt starts: now.
    pub(crate) sent_at: Duration,
    /// When the attempt times out: its own timeout after `sent_at`, or the call's deadline if
    /// that comes first.
    pub(crate) deadline: Duration,
}

/// The times that bound a call under a policy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Calls that start before it are not counted in the pair's report.
    pub(crate) warmup: Duration,
    /// Each attempt's own timeout.
    pub(crate) per_try: Duration,
    /// When the caller gives up on the whole call: no attempt waits past it, and no retry
    /// starts whose backoff would reach it.
    pub(crate) deadline: Duration,
}

/// Runs one call to `callee` under `pair`'s policy: up to its `max_attempts` attempts, each
/// through admission (breaker, bulkhead, rate limiter), with a backoff before each retry
/// and the retry budget's consent. Refusals by admission end the call at once (they exist to
/// shed load); any other failure is retried while attempts, time before `limits.deadline`
/// and budget remain.
///
/// `attempt` makes the future of each attempt admission lets go. A retry is a request of its
/// own: it takes an id from `new_id` once its backoff is over, before admission (so a retry
/// that admission refuses has used one too).
///
/// Not an `async fn`: the future captures its arguments once (an `async fn`'s keeps each
/// twice).
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn's future holds its arguments twice"
)]
pub(crate) fn run<'a, T, F, Fut>(
    pair: &'a PairPolicy,
    clock: &'a Clock,
    limits: Limits,
    callee: &'a str,
    new_id: impl Fn() -> RequestId + 'a,
    mut attempt: F,
) -> impl Future<Output = Result<T, CallError>> + 'a
where
    F: FnMut(Try) -> Fut + 'a,
    Fut: Future<Output = Result<T, CallError>> + 'a,
    T: 'a,
{
    async move {
        let start = clock.now();
        let counted = start >= limits.warmup;
        let max_attempts = pair.max_attempts();
        pair.begin_call(start, counted);
        let mut number: u32 = 1;
        let mut id = None;
        let mut wait = Duration::ZERO;
        let outcome = loop {
            let now = clock.now();
            let permit = match pair.admit(now, counted, number > 1) {
                Ok(permit) => permit,
                // The caller's own refusals are not retried: they exist to shed load.
                Err(refusal) => break Err(refusal.into_error(callee)),
            };
            let result = attempt(Try {
                id,
                counted,
                sent_at: now,
                deadline: now.saturating_add(limits.per_try).min(limits.deadline),
            })
            .await;
            let end = clock.now();
            permit.finish(result.as_ref().err(), end.saturating_sub(now), end);
            let error = match result {
                Ok(response) => break Ok(response),
                Err(error) => error,
            };
            // A permanent failure is an answer: another attempt would get it again.
            if number >= max_attempts || error.is_permanent() {
                break Err(error);
            }
            let next_wait = pair.backoff(number, wait);
            // No time left for another attempt before the caller gives up; else the budget
            // decides (it is spent only on retries that will be sent).
            if end.saturating_add(next_wait) >= limits.deadline || !pair.withdraw(end, counted) {
                break Err(error);
            }
            wait = next_wait;
            clock.sleep(wait).await;
            number += 1;
            id = Some(new_id());
        };
        if counted {
            let took = outcome.is_ok().then(|| clock.now().saturating_sub(start));
            pair.end_call(took);
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn exponential_backoff_doubles_up_to_the_cap() {
        let retry = Retry::attempts(10)
            .backoff(Backoff::exponential(ms(10), ms(50)))
            .jitter(Jitter::None);
        let mut rng = crate::random::stream(1, "t");
        let waits: Vec<_> = (1..=5)
            .map(|n| retry.wait(n, Duration::ZERO, &mut rng))
            .collect();
        assert_eq!(waits, [ms(10), ms(20), ms(40), ms(50), ms(50)]);
    }

    #[test]
    fn jitters_stay_within_their_ranges() {
        let mut rng = crate::random::stream(2, "t");
        let base = Retry::attempts(5).backoff(Backoff::exponential(ms(10), ms(80)));
        for n in 1..=4u32 {
            let expo = ms(10 * 2u64.pow(n - 1)).min(ms(80));
            for _ in 0..200 {
                let full = base.clone().jitter(Jitter::Full).wait(n, ms(0), &mut rng);
                assert!(full <= expo);
                let equal = base.clone().jitter(Jitter::Equal).wait(n, ms(0), &mut rng);
                assert!(equal >= expo / 2 && equal <= expo);
                let decorrelated =
                    base.clone()
                        .jitter(Jitter::Decorrelated)
                        .wait(n, ms(30), &mut rng);
                assert!(decorrelated >= ms(10) && decorrelated <= ms(80));
            }
        }
        // Full jitter's mean is half the wait.
        let retry = base.jitter(Jitter::Full);
        let total: Duration = (0..10_000).map(|_| retry.wait(4, ms(0), &mut rng)).sum();
        let mean = total.as_secs_f64() / 10_000.0;
        assert!((mean - 0.040).abs() < 0.002, "mean {mean}");
    }

    #[test]
    fn budget_allows_ratio_of_calls_plus_minimum() {
        let mut state = BudgetState::new(RetryBudget::ratio(0.2).window(Duration::from_secs(10)));
        for i in 0..100 {
            state.deposit(ms(i));
        }
        let allowed = (0..50).filter(|_| state.withdraw(ms(100))).count();
        assert_eq!(allowed, 20);
        // Ten seconds later the window is empty again: nothing allowed without calls.
        assert!(!state.withdraw(Duration::from_secs(11)));
        let mut floor = BudgetState::new(RetryBudget::ratio(0.0).min_per_second(1.0));
        let allowed = (0..50).filter(|_| floor.withdraw(ms(5))).count();
        assert_eq!(allowed, 10, "1 per second over a 10 s window");
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(
            Retry::attempts(0)
                .validate()
                .unwrap_err()
                .reason
                .contains("at least 1")
        );
        let over = Retry::attempts(2).budget(RetryBudget::ratio(1.5));
        assert!(
            over.validate()
                .unwrap_err()
                .to_string()
                .starts_with("budget.ratio: ratio must be within [0, 1]")
        );
        let inverted = Retry::attempts(2).backoff(Backoff::exponential(ms(10), ms(5)));
        assert!(
            inverted
                .validate()
                .unwrap_err()
                .to_string()
                .contains("cap 5ms is below base 10ms")
        );
        assert!(Retry::default().validate().is_ok());
    }
}
