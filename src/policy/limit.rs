//! Limits a caller puts on itself: a rate limiter (token bucket). The bulkhead, a plain cap on
//! concurrent calls, is a number in [`CallPolicy`](super::CallPolicy). Running, both are
//! parts of admission ([`Gate`]s).

use std::time::Duration;

use super::admission::{Finished, Gate, Refusal};
use crate::error::FieldError;
use crate::rules::{self, MAX_RATE};

/// A token bucket: calls spend a token each; tokens come back at `per_second`, up to `burst`
/// held. A call that finds the bucket empty fails at once with
/// [`CallError::RateLimited`](crate::CallError::RateLimited). The bucket starts full.
///
/// ```
/// use microsim::policy::RateLimit;
/// let limit = RateLimit::per_second(100.0).burst(20);
/// assert_eq!(limit.burst, 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second, > 0.
    pub per_second: f64,
    /// Tokens the bucket holds at most, >= 1.
    pub burst: u32,
}

impl RateLimit {
    /// `rate` calls per second, with a burst of one second's worth (at least 1).
    pub fn per_second(rate: f64) -> Self {
        RateLimit {
            per_second: rate,
            burst: if rate.is_finite() {
                rate.ceil().clamp(1.0, u32::MAX as f64) as u32
            } else {
                1
            },
        }
    }

    /// Holds at most `burst` tokens.
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    /// The limit's rules, each error naming its scenario-file key.
    pub(crate) fn validate(&self) -> Result<(), FieldError> {
        let rate = self.per_second;
        if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE) {
            return Err(FieldError::new(
                "per_second",
                format!("per_second must be a finite number > 0 and at most 1e9, got {rate}"),
            ));
        }
        rules::at_least("burst", self.burst, 1)
    }
}

/// A running token bucket.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    at: Duration,
}

impl TokenBucket {
    pub(crate) fn new(limit: RateLimit) -> Self {
        TokenBucket {
            limit,
            tokens: f64::from(limit.burst),
            at: Duration::ZERO,
        }
    }

    /// Takes a token at `now` if there is one.
    pub(crate) fn try_take(&mut self, now: Duration) -> bool {
        let elapsed = now.saturating_sub(self.at).as_secs_f64();
        self.at = now.max(self.at);
        self.tokens =
            (self.tokens + elapsed * self.limit.per_second).min(f64::from(self.limit.burst));
        // A hair of tolerance so that exactly-periodic arrivals at the rate always pass.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }
}

/// The rate limiter as a part of admission: an attempt takes a token or is refused. A token
/// is spent once taken: an attempt that is not sent after all does not give it back.
impl Gate for TokenBucket {
    type Ticket = ();

    #[inline]
    fn admit(&mut self, now: Duration) -> Result<(), Refusal> {
        if self.try_take(now) {
            Ok(())
        } else {
            Err(Refusal::RateLimited)
        }
    }

    #[inline]
    fn finish(&mut self, (): (), _: Finished) {}

    #[inline]
    fn release(&mut self, (): ()) {}
}

/// A running bulkhead: the attempts in flight, at most `max` at once.
#[derive(Debug)]
pub(crate) struct Bulkhead {
    max: usize,
    in_flight: usize,
}

impl Bulkhead {
    pub(crate) fn new(max: usize) -> Self {
        Bulkhead { max, in_flight: 0 }
    }
}

/// The bulkhead as a part of admission: an attempt holds a slot from its admission until it
/// ends or is abandoned.
impl Gate for Bulkhead {
    type Ticket = ();

    #[inline]
    fn admit(&mut self, _: Duration) -> Result<(), Refusal> {
        if self.in_flight >= self.max {
            return Err(Refusal::BulkheadFull(self.max));
        }
        self.in_flight += 1;
        Ok(())
    }

    #[inline]
    fn finish(&mut self, (): (), _: Finished) {
        self.in_flight -= 1;
    }

    #[inline]
    fn release(&mut self, (): ()) {
        self.in_flight -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_the_rate() {
        let mut bucket = TokenBucket::new(RateLimit::per_second(10.0).burst(5));
        let at = Duration::from_secs(1);
        let burst = (0..20).filter(|_| bucket.try_take(at)).count();
        assert_eq!(burst, 5);
        // Over the next second, one call every 10 ms: 10 tokens come back.
        let passed = (1..=100)
            .filter(|i| bucket.try_take(at + Duration::from_millis(10 * i)))
            .count();
        assert_eq!(passed, 10);
    }

    #[test]
    fn calls_at_exactly_the_rate_all_pass() {
        let mut bucket = TokenBucket::new(RateLimit::per_second(3.0).burst(1));
        let passed = (0..300)
            .filter(|i| bucket.try_take(Duration::from_secs_f64(*i as f64 / 3.0)))
            .count();
        assert_eq!(passed, 300);
    }

    #[test]
    fn validation() {
        assert!(RateLimit::per_second(0.0).validate().is_err());
        assert!(RateLimit::per_second(f64::NAN).validate().is_err());
        assert!(RateLimit::per_second(5.0).burst(0).validate().is_err());
        assert!(RateLimit::per_second(0.5).validate().is_ok());
    }
}
