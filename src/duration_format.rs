//! Human-readable durations with units, as written in scenario files and
//! reports.
//!
//! A duration is written as a decimal number followed by a unit, for example
//! `"250us"`, `"1.5ms"`, `"0.25s"`, `"2h"` or `"1.5 m"`. The units are:
//!
//! | unit | meaning |
//! | --- | --- |
//! | `ns` | nanoseconds |
//! | `us` or `µs` (micro sign or Greek mu) | microseconds |
//! | `ms` | milliseconds |
//! | `s` | seconds |
//! | `m` | minutes |
//! | `h` | hours |
//!
//! Surrounding whitespace and a single space between the number and the unit
//! are allowed. The unit is always required: a bare `250` is rejected because
//! nobody can tell whether it meant microseconds or milliseconds.
//!
//! Conversion is exact: the decimal digits are parsed as integers, never
//! through `f64`, so `"0.1s"` is exactly 100,000,000 ns. Digits finer than a
//! nanosecond are rounded to the nearest nanosecond (halves round up).
//!
//! [`format_duration`] renders a [`Duration`] back in the largest of `ns`,
//! `us`, `ms` and `s` that shows it exactly with at least 1 in front of the
//! decimal point and at most 3 decimals, so
//! `parse_duration(&format_duration(d)) == Ok(d)` for every `d`.
//!
//! The module also works as a serde adapter: put
//! `#[serde(with = "crate::duration_format")]` on a `Duration` field, or use
//! the [`vec`](mod@vec) and [`option`](mod@option) submodules for `Vec<Duration>` and
//! `Option<Duration>` fields.
//!
//! ```
//! use std::time::Duration;
//! use microsim::duration_format::{format_duration, parse_duration};
//!
//! assert_eq!(parse_duration("1.5ms").unwrap(), Duration::from_micros(1500));
//! assert_eq!(format_duration(Duration::from_micros(250)), "250us");
//! assert!(parse_duration("250").is_err());
//! ```

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// The units accepted by [`parse_duration`], as listed in error messages.
const UNIT_LIST: &str = "ns, us, ms, s, m, h";

/// Nanoseconds per second.
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// How many fraction digits take part in the exact conversion; later digits
/// are finer than 10^-25 of a unit and are ignored.
const MAX_FRACTION_DIGITS: usize = 25;

/// Why a text could not be read as a duration by [`parse_duration`].
///
/// Each message quotes the offending text; the caller adds where it was
/// found (which file, which field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationParseError {
    /// The text is empty or only whitespace.
    #[error("duration is empty; write a number with one of the units {UNIT_LIST}, e.g. \"250us\"")]
    Empty,
    /// A valid number without a unit, such as `"250"`.
    #[error("duration {text:?} has no unit; write it with one of {UNIT_LIST}, e.g. \"{number}us\"")]
    MissingUnit {
        /// The whole text as given (without surrounding whitespace).
        text: String,
        /// The number, used to suggest a corrected spelling.
        number: String,
    },
    /// A number followed by something that is not one of the units.
    #[error("duration {text:?} has unknown unit {unit:?}; use one of {UNIT_LIST}")]
    UnknownUnit {
        /// The whole text as given (without surrounding whitespace).
        text: String,
        /// The part that was read as the unit.
        unit: String,
    },
    /// A number with a minus sign.
    #[error("duration {text:?} is negative; durations must be zero or more")]
    Negative {
        /// The whole text as given (without surrounding whitespace).
        text: String,
    },
    /// The text does not start with a plain decimal number (this includes
    /// `NaN`, infinity and exponent notation such as `1e3`).
    #[error("duration {text:?} does not start with a finite decimal number such as 250 or 1.5")]
    NotANumber {
        /// The whole text as given (without surrounding whitespace).
        text: String,
    },
    /// The value does not fit in a [`Duration`] (more than about 584 billion
    /// years).
    #[error("duration {text:?} is too large to represent")]
    TooLarge {
        /// The whole text as given (without surrounding whitespace).
        text: String,
    },
}

/// Parses a duration written as a decimal number and a unit, such as
/// `"250us"`, `"1.5ms"` or `"2 h"`.
///
/// See the [module documentation](self) for the accepted units. The
/// conversion is exact to the nanosecond; finer digits round to the nearest
/// nanosecond. This function never panics.
///
/// # Errors
///
/// Returns a [`DurationParseError`] when the text is empty, has no unit or an
/// unknown one, is negative, is not a finite decimal number, or does not fit
/// in a [`Duration`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use microsim::duration_format::parse_duration;
///
/// assert_eq!(parse_duration("0.1s").unwrap(), Duration::from_millis(100));
/// assert_eq!(parse_duration(" 250 us ").unwrap(), Duration::from_micros(250));
/// assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
/// let err = parse_duration("250").unwrap_err();
/// assert!(err.to_string().contains("has no unit"));
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationParseError::Empty);
    }
    // The number is the longest prefix made of characters that can occur in
    // a number. `e`/`E` are included so that `1e3ms` is reported as a bad
    // number rather than as the unit "e3ms"; no unit starts with `e`.
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-' | 'e' | 'E')))
        .unwrap_or(text.len());
    let (number, rest) = text.split_at(split);
    let unit = rest.strip_prefix(' ').unwrap_or(rest);

    let not_a_number = || DurationParseError::NotANumber {
        text: text.to_owned(),
    };
    let (negative, digits) = match number.as_bytes().first() {
        Some(b'-') => (true, &number[1..]),
        Some(b'+') => (false, &number[1..]),
        _ => (false, number),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return Err(not_a_number());
    }
    if negative {
        return Err(DurationParseError::Negative {
            text: text.to_owned(),
        });
    }
    if unit.is_empty() {
        return Err(DurationParseError::MissingUnit {
            text: text.to_owned(),
            number: number.to_owned(),
        });
    }
    let unit_nanos: u128 = match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3_600 * NANOS_PER_SEC,
        _ => {
            return Err(DurationParseError::UnknownUnit {
                text: text.to_owned(),
                unit: unit.to_owned(),
            });
        }
    };
    let too_large = || DurationParseError::TooLarge {
        text: text.to_owned(),
    };

    // Integer part, in whole units.
    let mut whole: u128 = 0;
    for b in int_part.bytes() {
        whole = whole
            .checked_mul(10)
            .and_then(|w| w.checked_add(u128::from(b - b'0')))
            .ok_or_else(too_large)?;
    }
    let mut nanos = whole.checked_mul(unit_nanos).ok_or_else(too_large)?;

    // Fraction part: the first MAX_FRACTION_DIGITS digits as an integer
    // numerator over 10^len. 10^25 * 3.6e12 < u128::MAX, so no overflow.
    let frac_digits = &frac_part[..frac_part.len().min(MAX_FRACTION_DIGITS)];
    if !frac_digits.is_empty() {
        let mut numerator: u128 = 0;
        for b in frac_digits.bytes() {
            numerator = numerator * 10 + u128::from(b - b'0');
        }
        let denominator = 10u128.pow(u32::try_from(frac_digits.len()).unwrap_or(25));
        let scaled = numerator * unit_nanos;
        let mut frac_nanos = scaled / denominator;
        if (scaled % denominator) * 2 >= denominator {
            frac_nanos += 1;
        }
        nanos = nanos.checked_add(frac_nanos).ok_or_else(too_large)?;
    }

    let secs = u64::try_from(nanos / NANOS_PER_SEC).map_err(|_| too_large())?;
    // The remainder is below 10^9 and always fits in a u32.
    let sub = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Ok(Duration::new(secs, sub))
}

/// Renders a duration in the largest of `ns`, `us`, `ms` and `s` that shows it
/// exactly with a whole part of at least 1 and at most 3 decimals.
///
/// Zero is `"0s"`. Minutes and hours are never used, so 90 seconds is
/// `"90s"`. The result always parses back to the same value with
/// [`parse_duration`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use microsim::duration_format::format_duration;
///
/// assert_eq!(format_duration(Duration::ZERO), "0s");
/// assert_eq!(format_duration(Duration::from_micros(250)), "250us");
/// assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
/// assert_eq!(format_duration(Duration::from_secs(90)), "90s");
/// assert_eq!(format_duration(Duration::from_nanos(1_234_567)), "1234.567us");
/// ```
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    // (unit size in ns, unit name), largest first.
    const UNITS: [(u128, &str); 3] = [(NANOS_PER_SEC, "s"), (1_000_000, "ms"), (1_000, "us")];
    for (size, name) in UNITS {
        // At most 3 decimals: the value must be a whole number of size/1000.
        if nanos >= size && nanos.is_multiple_of(size / 1_000) {
            let whole = nanos / size;
            let thousandths = (nanos % size) / (size / 1_000);
            return if thousandths == 0 {
                format!("{whole}{name}")
            } else {
                let frac = format!("{thousandths:03}");
                format!("{whole}.{}{name}", frac.trim_end_matches('0'))
            };
        }
    }
    format!("{nanos}ns")
}

/// Serializes a [`Duration`] as its [`format_duration`] string, for
/// `#[serde(with = "crate::duration_format")]`.
///
/// # Errors
///
/// Returns whatever error the serializer returns for a string.
pub fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_duration(*d))
}

/// Deserializes a [`Duration`] from a string with a unit (see
/// [`parse_duration`]), for `#[serde(with = "crate::duration_format")]`.
///
/// A bare number is rejected with the same "has no unit" message as
/// [`parse_duration`] gives, so a user who wrote `latency = 250` learns to
/// write `latency = "250us"`.
///
/// # Errors
///
/// Returns a custom error carrying the [`DurationParseError`] message when the
/// value is a string that does not parse or a number, and an invalid-type
/// error for any other kind of value.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

/// Accepts strings and, to report them clearly, numbers.
struct DurationVisitor;

impl DurationVisitor {
    fn parse<E: de::Error>(text: &str) -> Result<Duration, E> {
        parse_duration(text).map_err(E::custom)
    }
}

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a duration string with a unit ({UNIT_LIST}), e.g. \"250us\""
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        Self::parse(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Self::parse(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        Self::parse(&v.to_string())
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Duration, E> {
        Self::parse(&v.to_string())
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Duration, E> {
        Self::parse(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Self::parse(&v.to_string())
    }
}

/// A `Duration` that (de)serializes through this module, for use inside
/// containers.
struct Wrapper(Duration);

impl Serialize for Wrapper {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize(&self.0, serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Wrapper {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize(deserializer).map(Wrapper)
    }
}

/// Serde adapter for `Vec<Duration>` fields: a list of duration strings.
///
/// Use as `#[serde(with = "crate::duration_format::vec")]`.
pub mod vec {
    use std::time::Duration;

    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Wrapper;

    /// Serializes the durations as a sequence of [`format_duration`](super::format_duration)
    /// strings.
    ///
    /// # Errors
    ///
    /// Returns whatever error the serializer returns.
    pub fn serialize<S: Serializer>(v: &[Duration], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(v.len()))?;
        for d in v {
            seq.serialize_element(&Wrapper(*d))?;
        }
        seq.end()
    }

    /// Deserializes a sequence of duration strings.
    ///
    /// # Errors
    ///
    /// Returns an error if the value is not a sequence or any element is not
    /// a valid duration (see [`deserialize`](super::deserialize)).
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Duration>, D::Error> {
        let v: Vec<Wrapper> = Vec::deserialize(deserializer)?;
        Ok(v.into_iter().map(|w| w.0).collect())
    }
}

/// Serde adapter for `Option<Duration>` fields: a duration string or nothing.
///
/// Use as `#[serde(default, with = "crate::duration_format::option")]`; the
/// `default` makes a missing field read as `None`.
pub mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::Wrapper;

    /// Serializes `Some` as a [`format_duration`](super::format_duration)
    /// string and `None` as the format's none value (`null` in JSON).
    ///
    /// # Errors
    ///
    /// Returns whatever error the serializer returns.
    #[allow(clippy::ref_option)] // serde's `with` passes `&Option<Duration>`.
    pub fn serialize<S: Serializer>(
        v: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => serializer.serialize_some(&Wrapper(*d)),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes an optional duration string.
    ///
    /// # Errors
    ///
    /// Returns an error if a value is present and is not a valid duration
    /// (see [`deserialize`](super::deserialize)).
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let v: Option<Wrapper> = Option::deserialize(deserializer)?;
        Ok(v.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ns(n: u64) -> Duration {
        Duration::from_nanos(n)
    }

    #[test]
    fn parses_each_unit_exactly() {
        let cases = [
            ("1.5ms", ns(1_500_000)),
            ("0.25s", ns(250_000_000)),
            ("0.1s", ns(100_000_000)),
            ("250us", ns(250_000)),
            ("250µs", ns(250_000)),
            ("0ns", Duration::ZERO),
            ("2h", Duration::from_secs(7_200)),
            ("1.5m", Duration::from_secs(90)),
            ("7ns", ns(7)),
            (".5s", ns(500_000_000)),
            ("5.s", Duration::from_secs(5)),
            ("+3ms", ns(3_000_000)),
            ("007ms", ns(7_000_000)),
            ("  12 ms\n", ns(12_000_000)),
            ("0.000000001s", ns(1)),
            ("1.000000000000000000000000000001s", Duration::from_secs(1)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(want), "parsing {text:?}");
        }
    }

    #[test]
    fn rounds_sub_nanosecond_digits_to_nearest() {
        assert_eq!(parse_duration("1.4ns"), Ok(ns(1)));
        assert_eq!(parse_duration("1.5ns"), Ok(ns(2)));
        assert_eq!(parse_duration("0.0000000014s"), Ok(ns(1)));
        assert_eq!(parse_duration("0.0000000016s"), Ok(ns(2)));
        assert_eq!(parse_duration("0.0004us"), Ok(Duration::ZERO));
    }

    #[test]
    fn parses_the_largest_duration_and_rejects_one_more() {
        assert_eq!(
            parse_duration(&format_duration(Duration::MAX)),
            Ok(Duration::MAX)
        );
        let max_ns = Duration::MAX.as_nanos();
        assert!(matches!(
            parse_duration(&format!("{}ns", max_ns + 1)),
            Err(DurationParseError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_duration("99999999999999999999999999999999999999999999h"),
            Err(DurationParseError::TooLarge { .. })
        ));
    }

    #[test]
    fn missing_unit_message_suggests_a_fix() {
        let err = parse_duration("250").unwrap_err();
        assert_eq!(
            err.to_string(),
            "duration \"250\" has no unit; write it with one of ns, us, ms, s, m, h, e.g. \"250us\""
        );
    }

    #[test]
    fn error_kinds() {
        use DurationParseError as E;
        assert_eq!(parse_duration(""), Err(E::Empty));
        assert_eq!(parse_duration("   "), Err(E::Empty));
        let unknown = parse_duration("5 sec").unwrap_err();
        assert!(matches!(&unknown, E::UnknownUnit { unit, .. } if unit == "sec"));
        assert_eq!(
            unknown.to_string(),
            "duration \"5 sec\" has unknown unit \"sec\"; use one of ns, us, ms, s, m, h"
        );
        assert!(matches!(parse_duration("5MS"), Err(E::UnknownUnit { .. })));
        assert!(matches!(
            parse_duration("5  ms"),
            Err(E::UnknownUnit { .. })
        ));
        for negative in ["-1ms", "-0.5s", "-.5s", "-0s"] {
            let err = parse_duration(negative).unwrap_err();
            assert!(matches!(err, E::Negative { .. }), "{negative}: {err:?}");
            assert!(err.to_string().contains("is negative"));
        }
        for bad in [
            "NaN", "nanms", "inf", "infs", "-inf s", "ms", "1.2.3ms", "1e3ms", "1-2ms", ".ms",
            "--1ms", "+-1ms", "abc",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(matches!(err, E::NotANumber { .. }), "{bad}: {err:?}");
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        // Messages are lowercase and have no trailing period.
        for err in [
            parse_duration("").unwrap_err(),
            parse_duration("1").unwrap_err(),
            parse_duration("1x").unwrap_err(),
            parse_duration("-1s").unwrap_err(),
            parse_duration("x").unwrap_err(),
            parse_duration("1e99999ms").unwrap_err(),
            parse_duration("999999999999999999999999h").unwrap_err(),
        ] {
            let msg = err.to_string();
            assert!(msg.starts_with(char::is_lowercase), "{msg}");
            assert!(!msg.ends_with('.'), "{msg}");
        }
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        let cases = [
            (Duration::ZERO, "0s"),
            (ns(1), "1ns"),
            (ns(999), "999ns"),
            (ns(1_001), "1.001us"),
            (ns(1_234_567), "1234.567us"),
            (Duration::from_micros(250), "250us"),
            (Duration::from_micros(1_500), "1.5ms"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_millis(1_250), "1.25s"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(7_200), "7200s"),
            (ns(1_000_000_001), "1000000.001us"),
        ];
        for (d, want) in cases {
            assert_eq!(format_duration(d), want, "formatting {d:?}");
        }
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Config {
        #[serde(with = "crate::duration_format")]
        one: Duration,
        #[serde(with = "crate::duration_format::vec")]
        many: Vec<Duration>,
        #[serde(default, with = "crate::duration_format::option")]
        maybe: Option<Duration>,
    }

    #[test]
    fn serde_round_trip() {
        let config = Config {
            one: Duration::from_micros(250),
            many: vec![ns(1), Duration::from_millis(3)],
            maybe: Some(Duration::from_secs(2)),
        };
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(json, r#"{"one":"250us","many":["1ns","3ms"],"maybe":"2s"}"#);
        assert_eq!(serde_json::from_str::<Config>(&json).unwrap(), config);

        let none = Config {
            maybe: None,
            ..config
        };
        let json = serde_json::to_string(&none).unwrap();
        assert!(json.ends_with(r#""maybe":null}"#), "{json}");
        assert_eq!(serde_json::from_str::<Config>(&json).unwrap(), none);
        let missing: Config = serde_json::from_str(r#"{"one":"1s","many":[]}"#).unwrap();
        assert_eq!(missing.maybe, None);
    }

    #[test]
    fn serde_rejects_bare_numbers_with_the_no_unit_message() {
        for json in [
            r#"{"one":250,"many":[]}"#,
            r#"{"one":"1s","many":[250]}"#,
            r#"{"one":"1s","many":[],"maybe":250}"#,
        ] {
            let err = serde_json::from_str::<Config>(json)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("duration \"250\" has no unit") && err.contains("\"250us\""),
                "{json}: {err}"
            );
        }
        let err = serde_json::from_str::<Config>(r#"{"one":1.5,"many":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("duration \"1.5\" has no unit"), "{err}");
        let err = serde_json::from_str::<Config>(r#"{"one":-3,"many":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is negative"), "{err}");
        let err = serde_json::from_str::<Config>(r#"{"one":true,"many":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a duration string with a unit"), "{err}");
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse_duration(&text);
        }

        #[test]
        fn parse_never_panics_on_duration_like_text(
            text in "[ +\\-]?[0-9]{0,30}(\\.[0-9]{0,40})?[eE]?[ ]?(ns|us|µs|ms|s|m|h|x|)[ ]?"
        ) {
            let _ = parse_duration(&text);
        }

        #[test]
        fn format_then_parse_round_trips(secs in any::<u64>(), sub in 0u32..1_000_000_000) {
            let d = Duration::new(secs, sub);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn format_then_parse_round_trips_small(n in 0u64..10_000_000_000_000) {
            let d = Duration::from_nanos(n);
            let text = format_duration(d);
            prop_assert_eq!(parse_duration(&text), Ok(d));
            // At most 3 decimals.
            if let Some((_, frac)) = text.split_once('.') {
                let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
                prop_assert!(digits <= 3, "{}", text);
            }
        }

        #[test]
        fn parse_matches_integer_arithmetic(whole in 0u64..1_000_000, frac in 0u32..1000) {
            let text = format!("{whole}.{frac:03}ms");
            let want = Duration::from_nanos(whole * 1_000_000 + u64::from(frac) * 1_000);
            prop_assert_eq!(parse_duration(&text), Ok(want));
        }
    }
}
