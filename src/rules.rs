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

/// `key` must be a duration greater than zero.
pub(crate) fn positive_duration(key: &str, value: Duration) -> Result<(), FieldError> {
    if value.is_zero() {
        return Err(FieldError::new(
            key,
            format!("{key} must be greater than 0s"),
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
