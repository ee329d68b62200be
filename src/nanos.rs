//! Durations as nanosecond counts and back: the one place the crate converts between them.
//!
//! The simulation keeps time as whole nanoseconds. The clocks and their timer queues hold
//! `u64` counts (584 years, far more than a simulation lasts); the measurements sum and
//! compare `u128` counts, which cannot overflow; the distributions compute in `f64`
//! nanoseconds; and reports show milliseconds as `f64`, computed from the nanoseconds so
//! that the figures are deterministic. Each conversion has one function here, with one rule
//! for what happens at the edges: counts saturate, they never wrap or panic.
//!
//! These run several times per simulated request: they are small and `#[inline]`.

use std::time::Duration;

/// Nanoseconds in a second.
const PER_SEC: u64 = 1_000_000_000;

/// `duration` in nanoseconds, or `None` if that does not fit in a `u64` (584 years).
///
/// In `u64` arithmetic, which is cheaper than [`Duration::as_nanos`]'s `u128`.
#[inline]
pub(crate) fn checked_u64(duration: Duration) -> Option<u64> {
    duration
        .as_secs()
        .checked_mul(PER_SEC)
        .and_then(|nanos| nanos.checked_add(u64::from(duration.subsec_nanos())))
}

/// `duration` in nanoseconds, saturating at `u64::MAX` (a simulation lasts less than the 584
/// years a `u64` holds).
#[inline]
pub(crate) fn saturating_u64(duration: Duration) -> u64 {
    checked_u64(duration).unwrap_or(u64::MAX)
}

/// The duration of a [`saturating_u64`] count: `u64::MAX` is [`Duration::MAX`], so a
/// duration too long to count (a deadline that never comes) converts back to itself.
#[inline]
pub(crate) fn from_saturated_u64(nanos: u64) -> Duration {
    if nanos == u64::MAX {
        Duration::MAX
    } else {
        Duration::from_nanos(nanos)
    }
}

/// `duration` in nanoseconds as `f64` (exact up to 2^53 ns, about 104 days; rounded to the
/// nearest `f64` beyond).
#[inline]
pub(crate) fn as_f64(duration: Duration) -> f64 {
    duration.as_nanos() as f64
}

/// `duration` in milliseconds as `f64`, computed as its nanoseconds [`as_f64`] divided by
/// 10⁶, so that the same duration always gives the same figure.
#[inline]
pub(crate) fn as_millis_f64(duration: Duration) -> f64 {
    as_f64(duration) / 1e6
}

/// The duration of `nanos` nanoseconds, saturating at [`Duration::MAX`].
#[inline]
pub(crate) fn to_duration(nanos: u128) -> Duration {
    const PER_SEC_WIDE: u128 = PER_SEC as u128;
    match u64::try_from(nanos / PER_SEC_WIDE) {
        // The remainder is below 10⁹: it fits in a u32, and `Duration::new` does not carry.
        Ok(secs) => Duration::new(secs, (nanos % PER_SEC_WIDE) as u32),
        Err(_) => Duration::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u64_conversions_are_exact_then_saturate() {
        for duration in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::new(1, 500_000_001),
            Duration::from_nanos(u64::MAX),
        ] {
            let exact = u64::try_from(duration.as_nanos()).unwrap();
            assert_eq!(checked_u64(duration), Some(exact));
            assert_eq!(saturating_u64(duration), exact);
        }
        // One nanosecond past u64::MAX: the seconds fit, the sum does not.
        let past = Duration::from_nanos(u64::MAX) + Duration::from_nanos(1);
        // And a duration whose seconds alone overflow.
        for duration in [past, Duration::from_secs(u64::MAX / 1_000), Duration::MAX] {
            assert_eq!(checked_u64(duration), None, "{duration:?}");
            assert_eq!(saturating_u64(duration), u64::MAX, "{duration:?}");
        }
    }

    #[test]
    fn to_duration_saturates() {
        assert_eq!(to_duration(0), Duration::ZERO);
        assert_eq!(to_duration(1_500_000_001), Duration::new(1, 500_000_001));
        assert_eq!(to_duration(Duration::MAX.as_nanos()), Duration::MAX);
        assert_eq!(to_duration(Duration::MAX.as_nanos() + 1), Duration::MAX);
        assert_eq!(to_duration(u128::MAX), Duration::MAX);
    }

    #[test]
    fn float_conversions() {
        assert_eq!(as_f64(Duration::from_micros(1500)), 1_500_000.0);
        assert_eq!(as_millis_f64(Duration::from_micros(1500)), 1.5);
        assert_eq!(as_millis_f64(Duration::from_nanos(1)), 1e-6);
        assert_eq!(as_millis_f64(Duration::ZERO), 0.0);
    }
}
