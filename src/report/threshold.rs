//! Thresholds: a pass or fail verdict on a number of the report, so that a run can decide
//! something -- a build, a capacity plan -- without anyone reading its tables.
//!
//! A [`Threshold`] names one number of the report by its path in the report's JSON
//! (`workloads.checkout.latency_ms.p99`) and bounds it: at most `max`, at least `min`, or
//! both, each bound included. [`Threshold::evaluate`] judges a report against it, and
//! [`Report::check_thresholds`] judges against several at once and keeps their
//! [`ThresholdResult`]s in [`Report::thresholds`], where the tables and the JSON show them.
//!
//! A path is written as error messages print key paths, and as the command's `--set` reads
//! them: keys joined with `.`, a key that is not letters, digits, `_` and `-` in quotes
//! (`policies."client -> api".retries`, `topics."orders.dead-letter".published`), an entry
//! of an array by its index from 0 (`faults[0].lost_messages`).
//!
//! A path that leads to no number -- a misspelt key, a table, a value the run left out --
//! cannot pass: its result is an error saying where the path goes astray, with the closest
//! key suggested, and it counts as breached.
//!
//! ```
//! use microsim::report::threshold::Threshold;
//! use microsim::report::{Report, WorkloadReport};
//! use microsim::ClockKind;
//!
//! let mut report = Report::new(7, ClockKind::Virtual);
//! let mut checkout = WorkloadReport::default();
//! checkout.latency_ms.p99 = 180.0;
//! checkout.throughput_per_s = 48.0;
//! report.workloads.insert("checkout".to_string(), checkout);
//!
//! let thresholds = [
//!     Threshold::max("workloads.checkout.latency_ms.p99", 250.0),
//!     Threshold::min("workloads.checkout.throughput_per_s", 50.0),
//!     Threshold::max("workloads.checkout.latency_ms.p99x", 250.0),
//! ];
//! report.check_thresholds(&thresholds);
//! assert!(report.thresholds[0].passed);
//! assert_eq!(report.thresholds[1].value, Some(48.0));
//! assert!(!report.thresholds[1].passed);
//! assert_eq!(
//!     report.thresholds[2].error.as_deref(),
//!     Some(
//!         "workloads.checkout.latency_ms.p99x: no such number in the report: \
//!          workloads.checkout.latency_ms has no \"p99x\"; did you mean \"p99\"?"
//!     )
//! );
//! assert!(report.thresholds_breached());
//! ```

use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Report;
use crate::error::{FieldError, FieldPath, PathSegment};
use crate::suggest::did_you_mean;

/// A bound on one number of a [`Report`]: at most [`max`](Self::max), at least
/// [`min`](Self::min), or both (each bound included).
///
/// The number is named by its path in the report's JSON (see the [module](self)). Build one
/// with [`max`](Self::max) or [`min`](Self::min), add the other bound with
/// [`and_min`](Self::and_min) or [`and_max`](Self::and_max); [`validate`](Self::validate)
/// checks it, and [`evaluate`](Self::evaluate) judges a report.
///
/// ```
/// use microsim::report::threshold::Threshold;
///
/// let p99 = Threshold::max("workloads.checkout.latency_ms.p99", 250.0).and_min(1.0);
/// assert_eq!(p99.metric(), "workloads.checkout.latency_ms.p99");
/// assert_eq!((p99.min_bound(), p99.max_bound()), (Some(1.0), Some(250.0)));
/// assert!(p99.validate().is_ok());
///
/// let err = Threshold::max("workload.checkout.latency_ms.p99", 250.0).validate().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "metric: the report has no \"workload\"; did you mean \"workloads\"?"
/// );
/// let err = Threshold::max("services.api.utilization", 0.5).and_min(0.8).validate().unwrap_err();
/// assert_eq!(err.to_string(), "min: min must be at most max (0.5), got 0.8");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    metric: String,
    min: Option<f64>,
    max: Option<f64>,
}

impl Threshold {
    /// A threshold on `metric` without a bound yet: give it one with
    /// [`and_max`](Self::and_max) or [`and_min`](Self::and_min) (without one it is invalid).
    pub fn new(metric: impl Into<String>) -> Self {
        Threshold {
            metric: metric.into(),
            min: None,
            max: None,
        }
    }

    /// `metric` must be at most `max`.
    pub fn max(metric: impl Into<String>, max: f64) -> Self {
        Threshold::new(metric).and_max(max)
    }

    /// `metric` must be at least `min`.
    pub fn min(metric: impl Into<String>, min: f64) -> Self {
        Threshold::new(metric).and_min(min)
    }

    /// The same threshold, its number also at most `max` (in place of an upper bound it had).
    #[must_use]
    pub fn and_max(mut self, max: f64) -> Self {
        self.max = Some(max);
        self
    }

    /// The same threshold, its number also at least `min` (in place of a lower bound it had).
    #[must_use]
    pub fn and_min(mut self, min: f64) -> Self {
        self.min = Some(min);
        self
    }

    /// The path of the number, as given: `workloads.checkout.latency_ms.p99`.
    pub fn metric(&self) -> &str {
        &self.metric
    }

    /// The lower bound (`min`), if it has one.
    pub fn min_bound(&self) -> Option<f64> {
        self.min
    }

    /// The upper bound (`max`), if it has one.
    pub fn max_bound(&self) -> Option<f64> {
        self.max
    }

    /// Checks the threshold: its metric is a key path (see the [module](self)) that starts
    /// with a part of the report (`workloads`, `services`, `simulated_seconds`, ...), and it
    /// has a bound, each finite, `min` at most `max`.
    ///
    /// Which keys exist below the first depends on the run (its workloads, services, ...):
    /// [`evaluate`](Self::evaluate) finds out, and a path that leads to no number is a
    /// breach.
    ///
    /// # Errors
    /// A [`FieldError`] at `metric`, `min` or `max`, or about the whole threshold when it has
    /// no bound.
    pub fn validate(&self) -> Result<(), FieldError> {
        self.path()?;
        if self.min.is_none() && self.max.is_none() {
            return Err(FieldError::whole(
                "a threshold needs a bound: max, min or both",
            ));
        }
        for (key, bound) in [("min", self.min), ("max", self.max)] {
            if let Some(value) = bound
                && !value.is_finite()
            {
                return Err(FieldError::new(
                    key,
                    format!("{key} must be a finite number, got {value}"),
                ));
            }
        }
        if let (Some(min), Some(max)) = (self.min, self.max)
            && min > max
        {
            return Err(FieldError::new(
                "min",
                format!("min must be at most max ({max}), got {min}"),
            ));
        }
        Ok(())
    }

    /// Judges `report`: finds the number at the metric's path in the report's JSON and
    /// compares it with the bounds. A threshold that is not valid, or whose path leads to no
    /// number, has an [`error`](ThresholdResult::error) and does not pass.
    pub fn evaluate(&self, report: &Report) -> ThresholdResult {
        match serde_json::to_value(report) {
            Ok(json) => self.evaluate_json(&json),
            Err(error) => self.result(None, Some(format!("the report has no JSON: {error}"))),
        }
    }

    /// Judges a report given as its JSON.
    fn evaluate_json(&self, report: &Value) -> ThresholdResult {
        let path = match self.validate().and_then(|()| self.path()) {
            Ok(path) => path,
            Err(error) => {
                return self.result(
                    None,
                    Some(format!("{}: invalid threshold: {error}", self.metric)),
                );
            }
        };
        match follow(report, path.segments(), false) {
            Ok(Some(value)) => self.result(Some(value), None),
            Ok(None) => self.result(None, Some(format!("{}: no number", self.metric))),
            Err(miss) => self.result(
                None,
                Some(format!(
                    "{}: no such number in the report: {miss}",
                    self.metric
                )),
            ),
        }
    }

    fn result(&self, value: Option<f64>, error: Option<String>) -> ThresholdResult {
        let passed = error.is_none()
            && value.is_some_and(|value| {
                self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
            });
        ThresholdResult {
            metric: self.metric.clone(),
            min: self.min,
            max: self.max,
            value,
            passed,
            error,
        }
    }

    /// The metric's steps, checked: a key path that starts with a part of the report.
    pub(crate) fn path(&self) -> Result<FieldPath, FieldError> {
        let invalid = |reason: String| FieldError::new("metric", reason);
        if self.metric.trim().is_empty() {
            return Err(invalid(
                "metric must name a number of the report, as in workloads.NAME.latency_ms.p99"
                    .to_string(),
            ));
        }
        let (_, steps) = parse_key_path(&self.metric, KeyEnd::Text).map_err(invalid)?;
        let path = FieldPath::from_segments(steps.into_iter().map(|(step, _)| step).collect());
        if let Some(PathSegment::Key(first)) = path.segments().first() {
            if first == "thresholds" {
                return Err(invalid(
                    "thresholds are the verdicts on the report, not a number of it".to_string(),
                ));
            }
            if !report_sections().any(|section| section == first) {
                return Err(invalid(missing_section(first)));
            }
        }
        Ok(path)
    }

    /// Checks the metric's path against the shape of the reports to come: `shape` is the
    /// JSON of a report with the entries the run will have (its workloads, services, ...)
    /// and zero figures, `null` where what the run holds is not known beforehand. Only what
    /// `shape` knows is checked; a valid threshold is assumed. (A scenario file's check.)
    #[cfg(feature = "scenario")]
    pub(crate) fn check_shape(&self, shape: &Value) -> Result<(), String> {
        let path = self.path().map_err(|error| error.reason)?;
        follow(shape, path.segments(), true).map(|_| ())
    }
}

/// A [`Threshold`]'s verdict on one report, as [`Report::thresholds`] holds it.
///
/// In the JSON: `{ "metric": "...", "max": 250.0, "value": 212.4, "passed": true }`, with
/// `min` and `max` when the threshold has them, `value` `null` when the path led to no
/// number, and `error` then.
///
/// ```
/// use microsim::report::threshold::{Threshold, ThresholdResult};
/// use microsim::{ClockKind, Report};
///
/// let report = Report::new(1, ClockKind::Virtual);
/// let result = Threshold::max("simulated_seconds", 60.0).evaluate(&report);
/// assert_eq!((result.value, result.passed), (Some(0.0), true));
/// assert_eq!(result.to_string(), "simulated_seconds = 0: passed (max 60)");
///
/// let json = serde_json::to_string(&result).unwrap();
/// assert_eq!(json, r#"{"metric":"simulated_seconds","max":60.0,"value":0.0,"passed":true}"#);
/// let read: ThresholdResult = serde_json::from_str(&json).unwrap();
/// assert_eq!(read, result);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThresholdResult {
    /// The threshold's metric, as given.
    pub metric: String,
    /// Its lower bound, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Its upper bound, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The number found in the report; `None` (`null`) if the path led to none.
    #[serde(default)]
    pub value: Option<f64>,
    /// Whether the number was found and is within the bounds.
    pub passed: bool,
    /// Why no number was found: where the path goes astray, or what is wrong with the
    /// threshold. Absent from the JSON when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ThresholdResult {
    /// The bounds in a few characters: `<= 250`, `>= 50`, `in [50, 250]`.
    pub(crate) fn bound(&self) -> String {
        bounds_text(self.min, self.max)
    }
}

/// Bounds in a few characters: `<= 250`, `>= 50`, `in [50, 250]` (the tables' one form, for a
/// run's verdicts and a sweep's).
pub(crate) fn bounds_text(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!("in [{min}, {max}]"),
        (Some(min), None) => format!(">= {min}"),
        (None, Some(max)) => format!("<= {max}"),
        (None, None) => "no bound".to_string(),
    }
}

impl fmt::Display for ThresholdResult {
    /// `METRIC = VALUE: passed (max 250)`, `METRIC = VALUE: breached, above max 250`, or the
    /// error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bounds = match (self.min, self.max) {
            (Some(min), Some(max)) => format!("min {min}, max {max}"),
            (Some(min), None) => format!("min {min}"),
            (None, Some(max)) => format!("max {max}"),
            (None, None) => "no bound".to_string(),
        };
        match (&self.error, self.value) {
            (Some(error), _) => f.write_str(error),
            (None, None) => write!(f, "{}: no number: breached", self.metric),
            (None, Some(value)) if self.passed => {
                write!(f, "{} = {value}: passed ({bounds})", self.metric)
            }
            (None, Some(value)) => {
                let side = match (self.min, self.max) {
                    (Some(min), _) if value < min => format!("below min {min}"),
                    (_, Some(max)) if value > max => format!("above max {max}"),
                    _ => format!("outside {bounds}"),
                };
                write!(f, "{} = {value}: breached, {side}", self.metric)
            }
        }
    }
}

impl Report {
    /// Judges this report against `thresholds` ([`Threshold::evaluate`]), keeping their
    /// results in [`thresholds`](Self::thresholds) in the same order, in place of the results
    /// it had.
    pub fn check_thresholds(&mut self, thresholds: &[Threshold]) {
        self.thresholds.clear();
        let results = match serde_json::to_value(&*self) {
            Ok(json) => thresholds.iter().map(|t| t.evaluate_json(&json)).collect(),
            Err(_) => thresholds.iter().map(|t| t.evaluate(self)).collect(),
        };
        self.thresholds = results;
    }

    /// Whether a threshold's check did not pass ([`ThresholdResult::passed`]): its number is
    /// out of bounds, or its path led to none. False without thresholds.
    ///
    /// ```
    /// use microsim::report::threshold::Threshold;
    /// use microsim::{ClockKind, Report};
    ///
    /// let mut report = Report::new(1, ClockKind::Virtual);
    /// assert!(!report.thresholds_breached());
    /// report.check_thresholds(&[Threshold::min("simulated_seconds", 1.0)]);
    /// assert!(report.thresholds_breached());
    /// ```
    pub fn thresholds_breached(&self) -> bool {
        self.thresholds.iter().any(|result| !result.passed)
    }
}

/// The sections that hold the entries of a run, and what an entry is called in messages.
const NAMED: &[(&str, &str)] = &[
    ("workloads", "workload"),
    ("services", "service"),
    ("topics", "topic"),
    ("policies", "policy"),
];

/// The parts of a report a metric can start with: its fields in the JSON, those left out
/// when empty included, but not `thresholds`.
pub(crate) fn report_sections() -> impl Iterator<Item = &'static str> {
    report_fields()
        .iter()
        .copied()
        .filter(|field| *field != "thresholds")
}

/// [`Report`]'s field names in the JSON, as its `Deserialize` knows them: every field, also
/// those its JSON leaves out when empty, and none of those it never writes (`traces`).
fn report_fields() -> &'static [&'static str] {
    static FIELDS: OnceLock<&'static [&'static str]> = OnceLock::new();
    FIELDS.get_or_init(|| {
        let mut fields = None;
        // It fails by design: only the field names are wanted.
        let _ = Report::deserialize(FieldNames(&mut fields));
        fields.unwrap_or(&[])
    })
}

/// A deserializer that only records the field names a struct asks for.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom(
            "only a struct's field names are read",
        ))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(serde::de::Error::custom(
            "only a struct's field names are read",
        ))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The message for a first step that is no part of the report.
fn missing_section(key: &str) -> String {
    let hint = did_you_mean(key, report_sections());
    if hint.is_empty() {
        let sections: Vec<&str> = report_sections().collect();
        format!(
            "the report has no {key:?}: a metric starts with one of {}",
            sections.join(", ")
        )
    } else {
        format!("the report has no {key:?}{hint}")
    }
}

/// Follows `steps` through a report's JSON to a number. With `shape`, the JSON is a report's
/// shape (see [`Threshold::check_shape`]): a `null` on the way, or at the end, is a number
/// or a part not known beforehand, and the answer is `None` then.
///
/// # Errors
/// Where the path goes astray, in words: `workloads.w.latency_ms has no "p99x"; did you mean
/// "p99"?`.
fn follow(root: &Value, steps: &[PathSegment], shape: bool) -> Result<Option<f64>, String> {
    let mut here = root;
    for (depth, step) in steps.iter().enumerate() {
        let parent = || FieldPath::from_segments(steps[..depth].to_vec()).to_string();
        here = match (here, step) {
            (Value::Null, _) if shape => return Ok(None),
            (Value::Object(map), PathSegment::Key(key)) => match map.get(key) {
                Some(next) => next,
                None => return Err(missing_key(steps, depth, map, key)),
            },
            (Value::Array(items), PathSegment::Index(index)) => match items.get(*index) {
                Some(next) => next,
                None if items.is_empty() => {
                    return Err(format!("{} is empty: it has no [{index}]", parent()));
                }
                None => {
                    let count = match items.len() {
                        1 => "1 entry".to_string(),
                        n => format!("{n} entries"),
                    };
                    return Err(format!(
                        "{} has {count} (from [0]): it has no [{index}]",
                        parent()
                    ));
                }
            },
            (Value::Object(_), PathSegment::Index(index)) => {
                return Err(format!(
                    "{} is a table, not an array: it has no [{index}]",
                    parent()
                ));
            }
            (Value::Array(_), PathSegment::Key(_)) => {
                let parent = parent();
                return Err(format!(
                    "{parent} is an array, not a table: name an entry by its index, as in \
                     {parent}[0]"
                ));
            }
            (scalar, _) => {
                return Err(format!(
                    "{} is {}, with nothing below it",
                    parent(),
                    describe(scalar)
                ));
            }
        };
    }
    let path = || FieldPath::from_segments(steps.to_vec()).to_string();
    match here {
        Value::Number(number) => Ok(Some(number.as_f64().unwrap_or(f64::NAN))),
        Value::Null if shape => Ok(None),
        Value::Null => Err(format!("{} is null in this report, not a number", path())),
        Value::Object(map) if map.is_empty() => {
            Err(format!("{} is an empty table, not a number", path()))
        }
        Value::Object(map) => {
            const LISTED: usize = 8;
            let mut keys: Vec<&str> = map.keys().map(String::as_str).take(LISTED).collect();
            if map.len() > LISTED {
                keys.push("...");
            }
            Err(format!(
                "{} is a table, not a number: add one of its keys ({})",
                path(),
                keys.join(", ")
            ))
        }
        Value::Array(items) if items.is_empty() => {
            Err(format!("{} is an empty array, not a number", path()))
        }
        Value::Array(_) => {
            let path = path();
            Err(format!(
                "{path} is an array, not a number: add an index, as in {path}[0]"
            ))
        }
        other => Err(format!("{} is {}, not a number", path(), describe(other))),
    }
}

/// The message for a key that the table at `steps[..depth]` does not have.
fn missing_key(
    steps: &[PathSegment],
    depth: usize,
    map: &serde_json::Map<String, Value>,
    key: &str,
) -> String {
    if depth == 0 {
        return if report_sections().any(|section| section == key) {
            format!("the report has no {key:?}: it is left out when empty")
        } else {
            missing_section(key)
        };
    }
    let hint = did_you_mean(key, map.keys().map(String::as_str));
    if depth == 1
        && let Some(PathSegment::Key(section)) = steps.first()
        && let Some((_, entry)) = NAMED.iter().find(|(named, _)| named == section)
    {
        return format!("unknown {entry} {key:?}{hint}");
    }
    let parent = FieldPath::from_segments(steps[..depth].to_vec());
    format!("{parent} has no {key:?}{hint}")
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

// Key paths: the one reader of the syntax that error messages print ([`FieldPath`]'s
// `Display`), for the `microsim` command's `--set KEY=VALUE` (the scenario's overrides) as for
// metrics.

/// What ends a key path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyEnd {
    /// The `=` of a `KEY=VALUE` setting, or the end of the text.
    Equals,
    /// The end of the text: a metric.
    Text,
}

/// A key path's steps, each with its bytes in the text.
pub(crate) type KeySteps = Vec<(PathSegment, Range<usize>)>;

/// Reads the key path at the start of `text`, up to `end`: where it ends, and its steps.
/// Keys are joined with `.`, a key that is not letters, digits, `_` and `-` is quoted as a
/// TOML string (`"cart v2"`, with TOML's escapes, or `'cart v2'`), an index follows a key in
/// brackets (`links[0]`, `steps[1][0]`); blanks around the steps are skipped.
///
/// # Errors
/// What is wrong and at which column: no key, an empty step, an unclosed quote or bracket, an
/// invalid escape, an index that is not a number, an unexpected character.
pub(crate) fn parse_key_path(text: &str, end: KeyEnd) -> Result<(usize, KeySteps), String> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut segments = Vec::new();
    let skip_blanks = |at: &mut usize| {
        while *at < bytes.len() && matches!(bytes[*at], b' ' | b'\t') {
            *at += 1;
        }
    };
    let equals = end == KeyEnd::Equals;
    loop {
        skip_blanks(&mut at);
        let start = at;
        let key = match bytes.get(at) {
            Some(b'"') => {
                let mut close = at + 1;
                while close < bytes.len() && bytes[close] != b'"' {
                    close += if bytes[close] == b'\\' { 2 } else { 1 };
                }
                if close >= bytes.len() {
                    return Err(format!("unclosed quote in the key at column {}", at + 1));
                }
                at = close + 1;
                unescape_basic(&text[start + 1..close])
                    .ok_or_else(|| format!("invalid quoted key {} in the key", &text[start..at]))?
            }
            Some(b'\'') => {
                let Some(length) = text[at + 1..].find('\'') else {
                    return Err(format!("unclosed quote in the key at column {}", at + 1));
                };
                at += length + 2;
                text[start + 1..at - 1].to_string()
            }
            _ => {
                while at < bytes.len()
                    && (bytes[at].is_ascii_alphanumeric() || matches!(bytes[at], b'_' | b'-'))
                {
                    at += 1;
                }
                if at == start {
                    let what = match (segments.is_empty(), equals) {
                        (true, true) => "no key before `=`".to_string(),
                        (true, false) => format!("expected a key at column {}", at + 1),
                        (false, _) => format!("an empty step in the key at column {}", at + 1),
                    };
                    return Err(match bytes.get(at) {
                        None | Some(b'.' | b'[') => what,
                        Some(b'=') if equals => what,
                        Some(_) => format!(
                            "unexpected {:?} in the key at column {}: quote a step that is not \
                             letters, digits, `_` and `-`, as in services.\"cart v2\".workers",
                            text[at..].chars().next().unwrap_or(' '),
                            at + 1
                        ),
                    });
                }
                text[start..at].to_string()
            }
        };
        segments.push((PathSegment::Key(key), start..at));
        // Indices: `links[0]`.
        while bytes.get(at) == Some(&b'[') {
            let open = at;
            let Some(length) = text[at..].find(']') else {
                return Err(format!("unclosed `[` in the key at column {}", open + 1));
            };
            let digits = &text[at + 1..at + length];
            let index = digits.trim().parse::<usize>().map_err(|_| {
                format!(
                    "expected an index such as [0] in the key at column {}, found [{digits}]",
                    open + 1
                )
            })?;
            at += length + 1;
            segments.push((PathSegment::Index(index), open..at));
        }
        skip_blanks(&mut at);
        match bytes.get(at) {
            Some(b'.') => at += 1,
            None => return Ok((at, segments)),
            Some(b'=') if equals => return Ok((at, segments)),
            Some(_) => {
                return Err(format!(
                    "unexpected {:?} in the key at column {}: expected {}",
                    text[at..].chars().next().unwrap_or(' '),
                    at + 1,
                    if equals {
                        "`.`, `[` or `=`"
                    } else {
                        "`.` or `[`"
                    }
                ));
            }
        }
    }
}

/// The text of a TOML basic string, between its quotes, with its escapes replaced (TOML
/// 1.1's: `\b \t \n \f \r \e \" \\ \xHH \uHHHH \UHHHHHHHH`); `None` if it is not one (an
/// unknown escape, a control character).
fn unescape_basic(quoted: &str) -> Option<String> {
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let digits = match chars.next()? {
                    'b' => {
                        out.push('\u{8}');
                        continue;
                    }
                    't' => {
                        out.push('\t');
                        continue;
                    }
                    'n' => {
                        out.push('\n');
                        continue;
                    }
                    'f' => {
                        out.push('\u{c}');
                        continue;
                    }
                    'r' => {
                        out.push('\r');
                        continue;
                    }
                    'e' => {
                        out.push('\u{1b}');
                        continue;
                    }
                    '"' => {
                        out.push('"');
                        continue;
                    }
                    '\\' => {
                        out.push('\\');
                        continue;
                    }
                    'x' => 2,
                    'u' => 4,
                    'U' => 8,
                    _ => return None,
                };
                let hex: String = chars.by_ref().take(digits).collect();
                if hex.len() != digits || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            '\t' => out.push(c),
            c if c.is_ascii_control() => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ClockKind;
    use crate::report::WorkloadReport;

    fn report() -> Report {
        let mut report = Report::new(1, ClockKind::Virtual);
        let mut checkout = WorkloadReport::default();
        checkout.latency_ms.p99 = 10.0;
        checkout.counts.sent = 500;
        report.workloads.insert("checkout".to_string(), checkout);
        report
    }

    fn error(threshold: &Threshold) -> String {
        threshold.evaluate(&report()).error.unwrap_or_default()
    }

    #[test]
    fn the_sections_are_the_reports_fields() {
        let sections: Vec<&str> = report_sections().collect();
        for section in [
            "seed",
            "simulated_seconds",
            "interrupted_at",
            "workloads",
            "services",
            "topics",
            "faults",
            "policies",
            "invariants",
            "timeline",
            "edges",
            "critical_path",
        ] {
            assert!(sections.contains(&section), "{section}: {sections:?}");
        }
        assert!(!sections.contains(&"thresholds") && !sections.contains(&"traces"));
        // Every field the JSON of a report writes is one.
        let json = serde_json::to_value(report()).unwrap();
        for key in json.as_object().unwrap().keys() {
            assert!(report_fields().contains(&key.as_str()), "{key}");
        }
    }

    #[test]
    fn bounds_are_inclusive() {
        let report = report();
        let p99 = "workloads.checkout.latency_ms.p99";
        assert!(Threshold::max(p99, 10.0).evaluate(&report).passed);
        assert!(!Threshold::max(p99, 9.999).evaluate(&report).passed);
        assert!(Threshold::min(p99, 10.0).evaluate(&report).passed);
        assert!(!Threshold::min(p99, 10.001).evaluate(&report).passed);
        assert!(
            Threshold::max(p99, 10.0)
                .and_min(10.0)
                .evaluate(&report)
                .passed
        );
        // Whole numbers are numbers.
        let sent = Threshold::max("workloads.checkout.sent", 500.0).evaluate(&report);
        assert_eq!((sent.value, sent.passed), (Some(500.0), true));
    }

    #[test]
    fn invalid_thresholds_are_refused() {
        let p99 = "workloads.w.latency_ms.p99";
        let reason = |t: Threshold| t.validate().unwrap_err().to_string();
        assert_eq!(
            reason(Threshold::new(p99)),
            "a threshold needs a bound: max, min or both"
        );
        assert_eq!(
            reason(Threshold::max(p99, f64::INFINITY)),
            "max: max must be a finite number, got inf"
        );
        assert_eq!(
            reason(Threshold::min(p99, f64::NAN)),
            "min: min must be a finite number, got NaN"
        );
        assert_eq!(
            reason(Threshold::max(p99, 1.0).and_min(2.0)),
            "min: min must be at most max (1), got 2"
        );
        assert_eq!(
            reason(Threshold::max("", 1.0)),
            "metric: metric must name a number of the report, as in workloads.NAME.latency_ms.p99"
        );
        assert_eq!(
            reason(Threshold::max("thresholds[0].value", 1.0)),
            "metric: thresholds are the verdicts on the report, not a number of it"
        );
        assert_eq!(
            reason(Threshold::max("nothing.like.it", 1.0)),
            "metric: the report has no \"nothing\": a metric starts with one of seed, clock, \
             simulated_seconds, measured_seconds, drained_seconds, interrupted_at, overrides, \
             workloads, services, topics, faults, policies, invariants, timeline, edges, \
             critical_path, warmup"
        );
        assert_eq!(
            reason(Threshold::max("workloads.w.latency ms", 1.0)),
            "metric: unexpected 'm' in the key at column 21: expected `.` or `[`"
        );
        assert_eq!(
            reason(Threshold::max("workloads..w", 1.0)),
            "metric: an empty step in the key at column 11"
        );
        assert_eq!(
            reason(Threshold::max("[0].w", 1.0)),
            "metric: expected a key at column 1"
        );
        assert_eq!(
            reason(Threshold::max("faults[x].lost_messages", 1.0)),
            "metric: expected an index such as [0] in the key at column 7, found [x]"
        );
        assert_eq!(
            reason(Threshold::max("a=b", 1.0)),
            "metric: unexpected '=' in the key at column 2: expected `.` or `[`"
        );
        // An invalid threshold does not pass, and says why.
        let result = Threshold::max(p99, 1.0).and_min(2.0).evaluate(&report());
        assert!(!result.passed);
        assert_eq!(
            result.error.as_deref(),
            Some(
                "workloads.w.latency_ms.p99: invalid threshold: min: min must be at most max (1), got 2"
            )
        );
    }

    #[test]
    fn paths_that_lead_to_no_number_say_where() {
        assert_eq!(
            error(&Threshold::max("workloads.checkuot.latency_ms.p99", 1.0)),
            "workloads.checkuot.latency_ms.p99: no such number in the report: unknown workload \
             \"checkuot\"; did you mean \"checkout\"?"
        );
        assert_eq!(
            error(&Threshold::max("workloads.checkout.latncy_ms.p99", 1.0)),
            "workloads.checkout.latncy_ms.p99: no such number in the report: \
             workloads.checkout has no \"latncy_ms\"; did you mean \"latency_ms\"?"
        );
        assert_eq!(
            error(&Threshold::max("workloads.checkout.latency_ms", 1.0)),
            "workloads.checkout.latency_ms: no such number in the report: \
             workloads.checkout.latency_ms is a table, not a number: add one of its keys \
             (count, max, mean, p50, p90, p99, p999)"
        );
        assert_eq!(
            error(&Threshold::max("workloads.checkout.sent.x", 1.0)),
            "workloads.checkout.sent.x: no such number in the report: workloads.checkout.sent \
             is a number, with nothing below it"
        );
        assert_eq!(
            error(&Threshold::max("clock", 1.0)),
            "clock: no such number in the report: clock is a string, not a number"
        );
        assert_eq!(
            error(&Threshold::max("topics.orders.published", 1.0)),
            "topics.orders.published: no such number in the report: the report has no \
             \"topics\": it is left out when empty"
        );
        assert_eq!(
            error(&Threshold::max("workloads[0]", 1.0)),
            "workloads[0]: no such number in the report: workloads is a table, not an array: \
             it has no [0]"
        );
        assert_eq!(
            error(&Threshold::max("services.api.utilization", 1.0)),
            "services.api.utilization: no such number in the report: unknown service \"api\""
        );
        let mut report = report();
        report
            .services
            .insert("api".to_string(), crate::report::ServiceReport::default());
        let null = Threshold::max("services.api.utilization", 1.0).evaluate(&report);
        assert_eq!(
            null.error.as_deref(),
            Some(
                "services.api.utilization: no such number in the report: \
                 services.api.utilization is null in this report, not a number"
            )
        );
        assert_eq!(null.value, None);
        assert!(!null.passed);
    }

    #[test]
    fn results_print_their_verdict() {
        let report = report();
        let p99 = "workloads.checkout.latency_ms.p99";
        assert_eq!(
            Threshold::max(p99, 9.5).evaluate(&report).to_string(),
            "workloads.checkout.latency_ms.p99 = 10: breached, above max 9.5"
        );
        assert_eq!(
            Threshold::min(p99, 12.0)
                .and_max(20.0)
                .evaluate(&report)
                .to_string(),
            "workloads.checkout.latency_ms.p99 = 10: breached, below min 12"
        );
        let both = Threshold::min(p99, 1.0).and_max(20.0).evaluate(&report);
        assert_eq!(
            both.to_string(),
            "workloads.checkout.latency_ms.p99 = 10: passed (min 1, max 20)"
        );
        assert_eq!(both.bound(), "in [1, 20]");
    }

    #[cfg(feature = "scenario")]
    #[test]
    fn a_shape_checks_what_it_knows() {
        let shape = serde_json::json!({
            "workloads": { "w": { "latency_ms": { "p99": 0.0 }, "errors_by_cause": null } },
            "faults": [{ "lost_messages": 0 }],
            "edges": null,
        });
        let check = |metric: &str| Threshold::max(metric, 1.0).check_shape(&shape);
        assert_eq!(check("workloads.w.latency_ms.p99"), Ok(()));
        assert_eq!(check("workloads.w.errors_by_cause.\"a: b\""), Ok(()));
        assert_eq!(check("edges[3].count"), Ok(()));
        assert_eq!(check("faults[0].lost_messages"), Ok(()));
        assert_eq!(
            check("faults[1].lost_messages"),
            Err("faults has 1 entry (from [0]): it has no [1]".to_string())
        );
        assert_eq!(
            check("workloads.v.latency_ms.p99"),
            Err("unknown workload \"v\"; did you mean \"w\"?".to_string())
        );
        assert_eq!(
            check("workloads.w.latency_ms.p99x"),
            Err("workloads.w.latency_ms has no \"p99x\"; did you mean \"p99\"?".to_string())
        );
    }

    #[test]
    fn keys_unescape_as_toml_does() {
        let key = |text: &str| {
            parse_key_path(text, KeyEnd::Text).map(|(_, steps)| {
                steps
                    .into_iter()
                    .map(|(step, _)| match step {
                        PathSegment::Key(key) => key,
                        PathSegment::Index(index) => format!("[{index}]"),
                    })
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            key("policies.\"client -> api\".retries"),
            Ok(vec![
                "policies".to_string(),
                "client -> api".to_string(),
                "retries".to_string()
            ])
        );
        assert_eq!(
            key("topics.'a.dead-letter'.lost"),
            Ok(vec![
                "topics".to_string(),
                "a.dead-letter".to_string(),
                "lost".to_string()
            ])
        );
        assert_eq!(
            key(r#"a."\u00e9\x41\"\\\t""#).unwrap()[1],
            "\u{e9}A\"\\\t".to_string()
        );
        assert!(key(r#"a."\q""#).is_err());
        assert!(key(r#"a."\u00e""#).is_err());
        assert!(key("a.\"\u{7}\"").is_err());
        assert_eq!(
            key("faults[0].lost_messages"),
            Ok(vec![
                "faults".to_string(),
                "[0]".to_string(),
                "lost_messages".to_string()
            ])
        );
    }
}
