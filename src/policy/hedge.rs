//! Hedged requests (Dean and Barroso, *The Tail at Scale*): when a call has waited longer
//! than most calls take, send a second copy and take whichever answers first. [`run`] is
//! the race of the two copies of one attempt.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::PairPolicy;
use super::retry::Try;
use crate::clock::Clock;
use crate::error::CallError;
use crate::error::FieldError;
use crate::metrics::LatencyHistogram;
use crate::rules;

/// Set by a hedging caller on the copy that lost the race: a copy still waiting in a queue is
/// dropped there instead of being handled.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub(crate) fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// When to send the second copy of a call.
///
/// The copy goes to the same service (its balancer may pick another replica); the first
/// answer wins and the other copy is cancelled: dropped if it is still waiting in a queue, and
/// ignored if it is already being handled. At most one copy is sent per attempt.
///
/// ```
/// use std::time::Duration;
/// use microsim::policy::Hedge;
/// let fixed = Hedge::after(Duration::from_millis(10));
/// let adaptive = Hedge::at_percentile(95.0);
/// # let _ = (fixed, adaptive);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Hedge {
    /// After a fixed delay.
    After {
        /// The delay.
        delay: Duration,
    },
    /// After the given percentile of this caller's observed latencies to the callee (measured
    /// from the first copy's send to the first answer). No copies are sent until
    /// `min_samples` calls have been observed.
    Percentile {
        /// In (0, 100), e.g. 95.
        percentile: f64,
        /// Observations needed before hedging starts (default 100).
        min_samples: u64,
    },
}

impl Hedge {
    /// A second copy after `delay`.
    pub const fn after(delay: Duration) -> Self {
        Hedge::After { delay }
    }

    /// A second copy after the `percentile` of observed latency, once 100 calls have been
    /// observed.
    pub const fn at_percentile(percentile: f64) -> Self {
        Hedge::Percentile {
            percentile,
            min_samples: Hedge::DEFAULT_MIN_SAMPLES,
        }
    }

    /// Observations a percentile hedge waits for when it does not say: 100.
    pub const DEFAULT_MIN_SAMPLES: u64 = 100;

    /// The hedge's rules, each error naming its scenario-file key.
    pub(crate) fn validate(&self) -> Result<(), FieldError> {
        match *self {
            Hedge::After { delay } => rules::within_clock("after", delay),
            Hedge::Percentile {
                percentile,
                min_samples,
            } => {
                if !(percentile > 0.0 && percentile < 100.0) {
                    return Err(FieldError::new(
                        "percentile",
                        format!("percentile must be within (0, 100), e.g. 95, got {percentile}"),
                    ));
                }
                rules::at_least("min_samples", min_samples, 1)
            }
        }
    }
}

/// Observed latencies, for a percentile-based hedge delay.
#[derive(Debug)]
pub(crate) struct HedgeDelay {
    hedge: Hedge,
    observed: LatencyHistogram,
    /// The delay, recomputed every so many observations (a quantile costs a histogram scan).
    cached: Option<Duration>,
    since_refresh: u64,
}

impl HedgeDelay {
    pub(crate) fn new(hedge: Hedge) -> Self {
        HedgeDelay {
            hedge,
            observed: LatencyHistogram::new(),
            cached: None,
            since_refresh: 0,
        }
    }

    /// The delay after which to hedge now, or `None` for no hedge.
    pub(crate) fn delay(&self) -> Option<Duration> {
        match self.hedge {
            Hedge::After { delay } => Some(delay),
            Hedge::Percentile { .. } => self.cached,
        }
    }

    /// Records how long a call took, from its first copy to its first answer.
    pub(crate) fn observe(&mut self, latency: Duration) {
        let Hedge::Percentile {
            percentile,
            min_samples,
        } = self.hedge
        else {
            return;
        };
        self.observed.record(latency);
        self.since_refresh += 1;
        let count = self.observed.count();
        if count >= min_samples.max(1) && (self.cached.is_none() || self.since_refresh >= 100) {
            self.cached = Some(self.observed.quantile(percentile / 100.0));
            self.since_refresh = 0;
        }
    }
}

/// Which copy of an attempt [`run`] asks for.
#[derive(Debug)]
pub(crate) enum CopyKind {
    /// The attempt is not hedged: its only copy.
    Only,
    /// The first copy of a hedged attempt, withdrawn with its [`Cancel`] if the second wins.
    First(Cancel),
    /// The second copy, sent at the given time as a request of its own (a new id), withdrawn
    /// with its [`Cancel`] if the first wins.
    Second(Cancel, Duration),
}

/// What sends the copies of an attempt for [`run`]: the engine.
///
/// A trait rather than a closure so that making each copy's future is always inlined into
/// the race: a closure called from three places is not, and the future it returned was then
/// copied into place.
pub(crate) trait Sender<A>: Copy {
    /// What a successful copy answers.
    type Response;

    /// Makes the future of one copy of `attempt`, as the copy is sent.
    fn send(
        self,
        attempt: A,
        kind: CopyKind,
    ) -> impl Future<Output = Result<Self::Response, CallError>>;
}

/// Runs one attempt, the try `this` of a call under `pair`'s policy: `sender` makes the
/// future of each copy of `attempt`. If the policy's hedge delay passes (before the attempt's
/// deadline) without an answer, and the bulkhead and rate limiter allow one more attempt, a
/// second copy goes: the first successful answer wins and the other copy is cancelled; the
/// attempt fails only when both have (with the first copy's error).
///
/// Not an `async fn`: the future captures its arguments once (an `async fn`'s keeps each
/// twice). Always inlined, so that the retry loop's future holds it built in place.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn's future holds its arguments twice"
)]
#[inline(always)]
pub(crate) fn run<'a, A, S>(
    pair: &'a PairPolicy,
    clock: &'a Clock,
    this: Try,
    attempt: A,
    sender: S,
) -> impl Future<Output = Result<S::Response, CallError>> + 'a
where
    A: Clone + 'a,
    S: Sender<A> + 'a,
{
    async move {
        let now = clock.now();
        let Some(hedge_at) = pair
            .hedge_delay()
            .map(|delay| now.saturating_add(delay))
            .filter(|at| *at < this.deadline)
        else {
            return sender.send(attempt, CopyKind::Only).await;
        };
        let first_cancel = Cancel::default();
        let second = attempt.clone();
        let first = sender.send(attempt, CopyKind::First(first_cancel.clone()));
        tokio::pin!(first);
        tokio::select! {
            biased;
            result = &mut first => return result,
            () = clock.sleep_until(hedge_at) => {}
        }
        // The copy counts against the bulkhead and the rate limit like any attempt; without
        // room, the first copy goes on alone.
        let Some(_copy_slot) = pair.admit_copy(hedge_at, this.counted) else {
            return first.await;
        };
        let second_cancel = Cancel::default();
        let second = sender.send(second, CopyKind::Second(second_cancel.clone(), hedge_at));
        tokio::pin!(second);
        let mut first_failed = None;
        let mut second_failed = false;
        loop {
            tokio::select! {
                biased;
                result = &mut first, if first_failed.is_none() => match result {
                    Ok(response) => {
                        second_cancel.cancel();
                        return Ok(response);
                    }
                    Err(error) => first_failed = Some(error),
                },
                result = &mut second, if !second_failed => match result {
                    Ok(response) => {
                        first_cancel.cancel();
                        if this.counted {
                            pair.hedge_won();
                        }
                        return Ok(response);
                    }
                    Err(_) => second_failed = true,
                },
            }
            if second_failed && let Some(error) = first_failed.take() {
                return Err(error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_delay_waits_for_samples_then_tracks_the_quantile() {
        let mut delay = HedgeDelay::new(Hedge::Percentile {
            percentile: 90.0,
            min_samples: 10,
        });
        for ms in 1..=9 {
            delay.observe(Duration::from_millis(ms));
        }
        assert_eq!(delay.delay(), None);
        delay.observe(Duration::from_millis(10));
        let p90 = delay.delay().expect("enough samples");
        assert!(
            (p90.as_secs_f64() - 0.009).abs() < 0.0001,
            "p90 of 1..=10 ms is 9 ms, got {p90:?}"
        );
        assert!(Hedge::at_percentile(100.0).validate().is_err());
        assert_eq!(
            HedgeDelay::new(Hedge::after(Duration::from_millis(3))).delay(),
            Some(Duration::from_millis(3))
        );
    }
}
