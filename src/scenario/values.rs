//! Values as the file writes them, turned into the engine's: counts (TOML's integers are
//! signed), distributions, and a choice among named options. Durations are read by
//! [`crate::duration_format`] when the file is deserialized.

use toml::Spanned;

use crate::distribution::Distribution;
use crate::suggest::closest;

use super::ScenarioError;
use super::error::Source;

/// A count type of the engine: unsigned, with a largest value.
pub(super) trait Count: TryFrom<i64> + std::fmt::Display {
    /// The largest value the type holds.
    const MAX: Self;
}

impl Count for u32 {
    const MAX: Self = u32::MAX;
}

impl Count for u64 {
    const MAX: Self = u64::MAX;
}

impl Count for usize {
    const MAX: Self = usize::MAX;
}

/// A TOML integer as one of the engine's counts: TOML's integers are signed, the engine's
/// counts are not (their own ranges are the engine's rules). Every non-negative TOML integer
/// fits a `u64` or `usize`, so the engine sees the value as written and words its own bound;
/// one beyond a narrower count's type is refused here, with that type's bound, never wrapped
/// or saturated.
pub(super) fn count<T: Count>(
    source: &Source<'_>,
    value: &Spanned<i64>,
    key: &str,
) -> Result<T, ScenarioError> {
    let number = *value.get_ref();
    if number < 0 {
        return Err(source.error(
            value.span(),
            format!("{key} must be 0 or more, got {number}"),
        ));
    }
    T::try_from(number).map_err(|_| {
        source.error(
            value.span(),
            format!("{key} must be at most {}, got {number}", T::MAX),
        )
    })
}

/// A TOML integer as a count whose engine rule takes any `u64` (`rule`, the engine's own):
/// the rule words the bound for every value written, however large, and a value it accepts
/// fits `T`.
pub(super) fn bounded_count<T: Count>(
    source: &Source<'_>,
    value: &Spanned<i64>,
    key: &str,
    rule: impl Fn(u64) -> Result<(), crate::error::FieldError>,
) -> Result<T, ScenarioError> {
    let number: u64 = count(source, value, key)?;
    rule(number).map_err(|error| source.error(value.span(), error.reason))?;
    count(source, value, key)
}

/// A distribution whose parameters pass [`Distribution::validate`].
pub(super) fn checked_distribution(
    source: &Source<'_>,
    distribution: Spanned<Distribution>,
) -> Result<Distribution, ScenarioError> {
    let span = distribution.span();
    let distribution = distribution.into_inner();
    distribution
        .validate()
        .map_err(|e| source.error(span, e.to_string()))?;
    Ok(distribution)
}

/// One of the allowed strings, or an error naming the closest (or all of them).
pub(super) fn choice<'o>(
    source: &Source<'_>,
    value: &Spanned<String>,
    what: &str,
    options: &[&'o str],
) -> Result<&'o str, ScenarioError> {
    let written = value.get_ref().as_str();
    if let Some(found) = options.iter().find(|option| **option == written) {
        return Ok(found);
    }
    let hint = match closest(written, options.iter().copied()) {
        Some(close) => format!("did you mean {close:?}?"),
        None => {
            let quoted: Vec<String> = options.iter().map(|o| format!("{o:?}")).collect();
            match quoted.as_slice() {
                [a, b] => format!("expected {a} or {b}"),
                _ => format!("expected one of {}", quoted.join(", ")),
            }
        }
    };
    Err(source.error(value.span(), format!("unknown {what} {written:?}; {hint}")))
}
