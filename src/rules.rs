//! The range rules that configuration values share, each worded once.
//!
//! Every configuration type ([`Capacity`](crate::Capacity), [`Workload`](crate::Workload),
//! [`Topic`](crate::Topic), [`Fault`](crate::Fault), each part of a
//! [`CallPolicy`](crate::CallPolicy), the simulation's settings) checks itself with these and
//! reports a [`FieldError`] naming the setting by its scenario-file key. The Rust API and
//! scenario files reach the same checks, so they accept and reject the same values with the
//! same words.

use std::time::Duration;

use crate::error::FieldError;

/// The most requests or tokens per second a rate may ask for: one per nanosecond, the
/// clock's resolution.
pub const MAX_RATE: f64 = 1e9;

/// The longest any one duration setting may be: 100 years of 365 days (876,000 hours).
///
/// The clock counts nanoseconds in 64 bits, about 584 years; a run adds settings together
/// (a fault's start and length, a run's duration and the timeouts of its last requests), so
/// each is held well inside that. A run whose sums still pass the clock's range stops with
/// an error instead of ending at the wrong time.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3_600);

/// The largest factor a slowdown may multiply processing times by: a million.
pub const MAX_FACTOR: f64 = 1e6;

/// The most replicas a service may have: ten thousand.
///
/// Each replica is started when the run starts, whether or not it is ever called: a
/// supervisor actor, its own queue, state and statistics, and a line in the report. Ten
/// thousand is more than any one service runs behind a balancer; a larger fleet is modelled
/// as fewer replicas with more workers each.
///
/// ```
/// use microsim::{Balancer, Capacity, Context, Service, ServiceError, Simulation, MAX_REPLICAS};
/// # struct Api;
/// # impl Service for Api {
/// #     type Request = (); type Response = (); type State = ();
/// #     fn init_state(&self) {}
/// #     async fn handle(&self, _: &Context<Self>, _: ()) -> Result<(), ServiceError> { Ok(()) }
/// # }
/// let mut sim = Simulation::builder().build()?;
/// let error = sim
///     .add_replicated_service("api", Api, Capacity::workers(1), MAX_REPLICAS + 1, Balancer::RoundRobin)
///     .unwrap_err();
/// assert!(error.reason().starts_with("replicas must be at most 10000"));
/// # Ok::<(), microsim::BuildError>(())
/// ```
pub const MAX_REPLICAS: usize = 10_000;

/// `key` must be a duration greater than zero, and at most [`MAX_DURATION`].
pub(crate) fn positive_duration(key: &str, value: Duration) -> Result<(), FieldError> {
    if value.is_zero() {
        return Err(FieldError::new(
            key,
            format!("{key} must be greater than 0s"),
        ));
    }
    within_clock(key, value)
}

/// `key` must be a duration of at most [`MAX_DURATION`].
pub(crate) fn within_clock(key: &str, value: Duration) -> Result<(), FieldError> {
    if value > MAX_DURATION {
        return Err(FieldError::new(key, too_long(key, value)));
    }
    Ok(())
}

/// The message for a duration past [`MAX_DURATION`].
pub(crate) fn too_long(what: &str, value: Duration) -> String {
    // MAX_DURATION as a file would write it (a test checks they agree).
    format!(
        "{what} must be at most 876000h (100 years: the clock counts 584 years, and a run adds \
         durations together), got {}",
        crate::duration_format::format_duration(value)
    )
}

/// `key` must be a rate of requests per second: finite, greater than zero (or at least zero
/// when `zero_allowed`), and at most [`MAX_RATE`].
pub(crate) fn rate(key: &str, value: f64, zero_allowed: bool) -> Result<(), FieldError> {
    let low = if zero_allowed {
        value >= 0.0
    } else {
        value > 0.0
    };
    if !(value.is_finite() && low) {
        let bound = if zero_allowed { ">= 0" } else { "> 0" };
        return Err(FieldError::new(
            key,
            format!("{key} must be a finite number of requests per second {bound}, got {value}"),
        ));
    }
    if value > MAX_RATE {
        return Err(FieldError::new(
            key,
            format!(
                "{key} must be at most 1e9 requests per second (one per nanosecond), got {value}"
            ),
        ));
    }
    Ok(())
}

/// `key` must be a count of at least `min`.
pub(crate) fn at_least<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: T,
    min: T,
) -> Result<(), FieldError> {
    if value < min {
        return Err(FieldError::new(
            key,
            format!("{key} must be at least {min}, got {value}"),
        ));
    }
    Ok(())
}

/// `key` must be a count of at most `max`; `why` follows the bound in the message.
pub(crate) fn at_most<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: T,
    max: T,
    why: &str,
) -> Result<(), FieldError> {
    if value > max {
        return Err(FieldError::new(
            key,
            format!("{key} must be at most {max} ({why}), got {value}"),
        ));
    }
    Ok(())
}

/// `key` must be a share: in `[0, 1]`, or `(0, 1]` when `open_low`; `explain` follows the
/// range in the message, e.g. ` (0.1 = one in ten)`.
pub(crate) fn share(
    key: &str,
    value: f64,
    open_low: bool,
    explain: &str,
) -> Result<(), FieldError> {
    let ok = if open_low {
        value > 0.0 && value <= 1.0
    } else {
        (0.0..=1.0).contains(&value)
    };
    if !ok {
        let range = if open_low { "(0, 1]" } else { "[0, 1]" };
        return Err(FieldError::new(
            key,
            format!("{key} must be within {range}{explain}, got {value}"),
        ));
    }
    Ok(())
}

/// `key` must be a finite number greater than zero; `explain` follows `> 0` in the message.
pub(crate) fn finite_positive(key: &str, value: f64, explain: &str) -> Result<(), FieldError> {
    if !(value.is_finite() && value > 0.0) {
        return Err(FieldError::new(
            key,
            format!("{key} must be a finite number > 0{explain}, got {value}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_duration_is_worded_as_it_is() {
        assert_eq!(
            crate::duration_format::parse_duration("876000h"),
            Ok(MAX_DURATION)
        );
        assert!(within_clock("duration", MAX_DURATION).is_ok());
        let error = within_clock("duration", MAX_DURATION + Duration::from_secs(1)).unwrap_err();
        assert_eq!(
            error.reason,
            "duration must be at most 876000h (100 years: the clock counts 584 years, and a run \
             adds durations together), got 3153600001s"
        );
    }

    #[test]
    fn messages_name_the_key_and_the_value() {
        assert_eq!(
            at_least("workers", 0usize, 1).unwrap_err().to_string(),
            "workers: workers must be at least 1, got 0"
        );
        assert_eq!(
            share("ratio", 1.5, false, "").unwrap_err().reason,
            "ratio must be within [0, 1], got 1.5"
        );
        assert!(share("failure_rate", 0.0, true, "").is_err());
        assert!(share("probability", 0.0, false, "").is_ok());
        assert_eq!(
            finite_positive("factor", f64::NAN, "").unwrap_err().reason,
            "factor must be a finite number > 0, got NaN"
        );
        assert_eq!(
            positive_duration("lasting", Duration::ZERO)
                .unwrap_err()
                .reason,
            "lasting must be greater than 0s"
        );
        assert!(positive_duration("lasting", Duration::from_nanos(1)).is_ok());
    }
}
