//! Errors in scenario files, located like a compiler locates them: file, line, column, key.

use std::cell::{Cell, RefCell};
use std::ops::Range;
use std::path::PathBuf;
use std::str::Utf8Error;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::deserializer::{self, Expected, Found, Problem};
use super::overrides::{self, Overlay, Placed};
use crate::error::{FieldPath, PathSegment};
use crate::suggest::closest;

/// A scenario file could not be read, or says something invalid.
///
/// The message names the file, the line (and column), the key path and what is wrong. A file
/// with one mistake gives [`Invalid`](Self::Invalid):
///
/// ```
/// use microsim::scenario::{Scenario, ScenarioError};
///
/// let text = r#"
/// [services.api]
/// wrokers = 4
/// "#;
/// let err = Scenario::parse(text, "api.toml").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "api.toml:3:1: services.api: unknown key \"wrokers\"; did you mean \"workers\"?"
/// );
/// let ScenarioError::Invalid { line, key, .. } = &err else { unreachable!() };
/// assert_eq!((*line, key.as_str()), (3, "services.api"));
/// ```
///
/// A file is checked whole: each section and each entry on its own, so a file with several
/// mistakes gives them all at once, in [`Several`](Self::Several), each an `Invalid` (up to
/// [`MAX_LISTED`](Self::MAX_LISTED) of them, and how many more). [`errors`](Self::errors)
/// lists them whichever the variant; the message has a line for each:
///
/// ```
/// use microsim::scenario::{Scenario, ScenarioError};
///
/// let text = r#"
/// [services.api]
/// wrokers = 4
///
/// [workloads.users]
/// target = "apj"
/// open = { rate = 100.0 }
/// "#;
/// let err = Scenario::parse(text, "api.toml").unwrap_err();
/// assert!(matches!(err, ScenarioError::Several { .. }));
/// let lines: Vec<String> = err.errors().iter().map(ToString::to_string).collect();
/// assert_eq!(lines, [
///     "api.toml:3:1: services.api: unknown key \"wrokers\"; did you mean \"workers\"?",
///     "api.toml:6:10: workloads.users.target: unknown service \"apj\"; did you mean \"api\"?",
/// ]);
/// assert_eq!(err.to_string(), lines.join("\n"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: cannot read the scenario file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a wrong value, or describes a system
    /// that cannot run (an unknown service, a call cycle, a zero rate, ...).
    #[error("{origin}:{line}{}: {}{message}", column_suffix(*.column), key_prefix(.key))]
    Invalid {
        /// The file's name as given to [`Scenario::parse`](super::Scenario::parse).
        origin: String,
        /// The line, from 1.
        line: usize,
        /// The column in characters, from 1, when known.
        column: Option<usize>,
        /// Where in the file's structure, e.g. `services.frontend.steps[1].call`; empty when
        /// the error is not inside any key (a syntax error at the top level).
        key: String,
        /// What is wrong, e.g. `unknown service "paymnt"; did you mean "payment"?`.
        message: String,
    },
    /// An override (a `--set KEY=VALUE` of the `microsim` command, an
    /// [`Override`](super::Override)) names a place the file does not have, or its value is
    /// invalid there: located at the override rather than in the file, e.g.
    /// `--set 1 (services.api.workers=0): services.api.workers: workers must be at least 1, got 0`.
    #[error("--set {number} ({argument}): {}{message}", key_prefix(.key))]
    Override {
        /// Which override, from 1, in the order given.
        number: usize,
        /// The override as given: `KEY=VALUE`.
        argument: String,
        /// Where in the file's structure, as for [`Invalid`](Self::Invalid).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The file has several mistakes: each one, an [`Invalid`](Self::Invalid), in the order
    /// of the file (or an [`Override`](Self::Override), after them) -- the first
    /// [`MAX_LISTED`](Self::MAX_LISTED) the checks found, if there are more; the message has
    /// a line for each, and a last line with the count of the others.
    #[error("{}", several(errors, *unlisted))]
    Several {
        /// The mistakes, at least two.
        errors: Vec<ScenarioError>,
        /// How many more were found beyond those listed.
        unlisted: usize,
    },
}

impl ScenarioError {
    /// The most mistakes an error lists; a file with more says how many more.
    pub const MAX_LISTED: usize = 20;

    /// The mistakes this error reports: the ones of [`Several`](Self::Several), or this one.
    pub fn errors(&self) -> &[ScenarioError] {
        match self {
            ScenarioError::Several { errors, .. } => errors,
            one => std::slice::from_ref(one),
        }
    }

    /// How many mistakes were found beyond those [`errors`](Self::errors) lists.
    pub fn unlisted(&self) -> usize {
        match self {
            ScenarioError::Several { unlisted, .. } => *unlisted,
            _ => 0,
        }
    }
}

/// A line for each error, then `... and N more errors` if some are not listed.
fn several(errors: &[ScenarioError], unlisted: usize) -> String {
    let mut lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    match unlisted {
        0 => {}
        1 => lines.push("... and 1 more error".to_string()),
        n => lines.push(format!("... and {n} more errors")),
    }
    lines.join("\n")
}

fn column_suffix(column: Option<usize>) -> String {
    column.map(|c| format!(":{c}")).unwrap_or_default()
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

/// Top-level keys whose entries are tables of an array: `[[links]]`, `[[faults]]`,
/// `[[policies]]`, `[[thresholds]]`.
const TOP_LEVEL_ARRAYS: &[&str] = &["links", "faults", "policies", "thresholds"];

/// A file's text and name, and its parsed tree of spans: turns byte spans into located
/// errors, and gathers the errors of a check ([`report`](Self::report)).
pub(super) struct Source<'a> {
    origin: &'a str,
    text: &'a str,
    tree: Spanned<DeTable<'a>>,
    /// The file's overrides, spliced into `tree`, their text after the file's in `text`.
    overlay: Option<&'a Overlay>,
    /// The errors reported, up to [`ScenarioError::MAX_LISTED`].
    reported: RefCell<Vec<ScenarioError>>,
    /// Errors reported beyond those.
    unlisted: Cell<usize>,
}

impl<'a> Source<'a> {
    /// Parses the text into its tree of spans.
    ///
    /// # Errors
    /// A syntax error, located; a key written twice is named, with the line of its first
    /// place.
    pub(super) fn parse(text: &'a str, origin: &'a str) -> Result<Self, ScenarioError> {
        let error = match DeTable::parse(text) {
            Ok(tree) => return Ok(Source::new(origin, text, tree)),
            Err(error) => error,
        };
        // Locate the error in what could be read.
        let (tree, _) = DeTable::parse_recoverable(text);
        let source = Source::new(origin, text, tree);
        let span = error.span().unwrap_or(0..0);
        if let Some((table, key, first)) = duplicate_key(text, &span) {
            let (first_line, _) = line_column(text, first.start);
            return Err(source.located(
                &span,
                FieldPath::from_segments(table).to_string(),
                format!("invalid TOML: duplicate key {key:?} (first at line {first_line})"),
            ));
        }
        let message = format!("invalid TOML: {}", error.message());
        if in_table_header(text, span.start) {
            // What was recovered past a broken header belongs to no table it wrote: the
            // deepest span there is a later table's.
            return Err(source.located(&span, String::new(), message));
        }
        Err(source.error(span, message))
    }

    /// Parses the overlay's file into its tree of spans, then sets each override's value in
    /// it; an override that names no place the file could have is reported, and left out.
    ///
    /// # Errors
    /// As [`parse`](Self::parse), for the file.
    pub(super) fn parse_overlay(
        overlay: &'a Overlay,
        origin: &'a str,
    ) -> Result<Self, ScenarioError> {
        let mut source = Source::parse(overlay.file(), origin)?;
        source.text = overlay.text();
        source.overlay = Some(overlay);
        for placed in overlay.overrides() {
            if let Err(mistake) = overrides::apply(source.tree.get_mut(), overlay.text(), placed) {
                let error = source.override_error(placed, mistake.at.to_string(), mistake.message);
                source.report(error);
            }
        }
        Ok(source)
    }

    fn override_error(&self, placed: &Placed, key: String, message: String) -> ScenarioError {
        ScenarioError::Override {
            number: placed.number,
            argument: placed.setting.to_string(),
            key,
            message,
        }
    }

    fn new(origin: &'a str, text: &'a str, tree: Spanned<DeTable<'a>>) -> Self {
        Source {
            origin,
            text,
            tree,
            overlay: None,
            reported: RefCell::default(),
            unlisted: Cell::new(0),
        }
    }

    /// The file's top-level table.
    pub(super) fn root(&self) -> &DeTable<'a> {
        self.tree.get_ref()
    }

    /// Records an error found by a check that goes on: the checks of a file report each
    /// mistake and carry on with the sections and entries it does not touch.
    pub(super) fn report(&self, error: ScenarioError) {
        let mut reported = self.reported.borrow_mut();
        if reported.len() < ScenarioError::MAX_LISTED {
            reported.push(error);
        } else {
            self.unlisted.set(self.unlisted.get() + 1);
        }
    }

    /// Reports the error of `result`, if it is one; its value otherwise.
    pub(super) fn ok<T>(&self, result: Result<T, ScenarioError>) -> Option<T> {
        result.map_err(|error| self.report(error)).ok()
    }

    /// Whether an error has been reported.
    pub(super) fn has_errors(&self) -> bool {
        !self.reported.borrow().is_empty()
    }

    /// Whether the next error reported will be listed. Past the list's end an error is only
    /// counted, so the work of wording it -- finding the closest name among a hundred
    /// thousand, the line and key path of its span -- is skipped.
    pub(super) fn listing(&self) -> bool {
        self.reported.borrow().len() < ScenarioError::MAX_LISTED
    }

    /// The errors reported: none, one, or [`ScenarioError::Several`], in the order of the
    /// file.
    pub(super) fn finish(&self) -> Result<(), ScenarioError> {
        let mut errors = self.reported.take();
        errors.sort_by_key(|error| match error {
            ScenarioError::Invalid { line, column, .. } => (0, *line, column.unwrap_or(0)),
            ScenarioError::Override { number, .. } => (1, *number, 0),
            _ => (0, 0, 0),
        });
        let unlisted = self.unlisted.replace(0);
        match (errors.len(), unlisted) {
            (0, _) => Ok(()),
            (1, 0) => Err(errors.remove(0)),
            _ => Err(ScenarioError::Several { errors, unlisted }),
        }
    }

    /// Deserializes the value at `path` of the file's tree (an entry of a section).
    ///
    /// # Errors
    /// As [`deserialize`](Self::deserialize), located with the whole path.
    pub(super) fn deserialize_at<T: DeserializeOwned>(
        &self,
        value: &Spanned<DeValue<'_>>,
        path: &[PathSegment],
    ) -> Result<T, ScenarioError> {
        deserializer::from_value(value, path).map_err(|error| self.deserialize_error(&error))
    }

    /// An unknown key of the top-level table, at `span`.
    pub(super) fn unknown_top_level_key(
        &self,
        key: &str,
        expected: &'static [&'static str],
        span: Range<usize>,
    ) -> ScenarioError {
        self.deserialize_error(&deserializer::unknown_key(key, expected, span))
    }

    /// Deserializes the whole file from its tree, as one value (the tests').
    ///
    /// # Errors
    /// An unknown or missing key, a value of the wrong type, or one its type rejects (a
    /// duration without a unit), located and worded for people who write TOML rather than
    /// Rust.
    #[cfg(test)]
    pub(super) fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ScenarioError> {
        deserializer::from_tree(&self.tree).map_err(|error| self.deserialize_error(&error))
    }

    /// An error about the key or value at `span`.
    pub(super) fn error(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        if !self.listing() {
            return self.unlisted_error(message.into());
        }
        let path = self.path_at(&span);
        self.located(
            &span,
            FieldPath::from_segments(path).to_string(),
            message.into(),
        )
    }

    /// An error about the setting at `path` (e.g. `policies[0].retry.max_attempts`): located
    /// at its value if the file writes it, else at the deepest table on the way that it
    /// writes (the setting took its default), else at the top of the file.
    pub(super) fn error_at(&self, path: &FieldPath, message: impl Into<String>) -> ScenarioError {
        if !self.listing() {
            return self.unlisted_error(message.into());
        }
        let key = path.to_string();
        match self.deepest(path.segments()).0 {
            Some(found) => self.located(&found.span(), key, message.into()),
            None => self.error_at_top(&key, message),
        }
    }

    /// The deepest value the file writes along `path`, and how many of its segments lead
    /// there (`None`, 0: not even the first).
    fn deepest(&self, path: &[PathSegment]) -> (Option<&Spanned<DeValue<'_>>>, usize) {
        let mut found: Option<&Spanned<DeValue<'_>>> = None;
        let mut table = Some(self.tree.get_ref());
        for (depth, segment) in path.iter().enumerate() {
            let next = match (segment, table, found.map(Spanned::get_ref)) {
                (PathSegment::Key(key), Some(table), _) => table
                    .iter()
                    .find(|(k, _)| k.get_ref() == key)
                    .map(|(_, v)| v),
                (PathSegment::Index(index), _, Some(DeValue::Array(array))) => array.get(*index),
                _ => None,
            };
            let Some(next) = next else {
                return (found, depth);
            };
            found = Some(next);
            table = match next.get_ref() {
                DeValue::Table(inner) => Some(inner),
                _ => None,
            };
        }
        (found, path.len())
    }

    /// An error that will only be counted, not listed: not located.
    fn unlisted_error(&self, message: String) -> ScenarioError {
        ScenarioError::Invalid {
            origin: self.origin.to_string(),
            line: 1,
            column: None,
            key: String::new(),
            message,
        }
    }

    /// An error not tied to a place in the file.
    pub(super) fn error_at_top(&self, key: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            origin: self.origin.to_string(),
            line: 1,
            column: None,
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Words a deserialization error in the file's terms, from what it records.
    fn deserialize_error(&self, error: &deserializer::Error) -> ScenarioError {
        let span = error.span();
        let path = error.path();
        let message = match error.problem() {
            Problem::UnknownKey { key, expected } => {
                let mut message = format!("unknown key {key:?}{}", suggestion(key, expected));
                if !path.is_empty() && TOP_LEVEL_ARRAYS.contains(&key.as_str()) {
                    // `faults = [...]` written after a [table] header belongs to that table.
                    message.push_str(&format!(
                        "; {key} is a top-level key: write each entry as a [[{key}]] table, or \
                         put `{key} = [...]` before the first [table] header"
                    ));
                }
                message.push_str(&lognormal_hint(expected, &[key.as_str()]));
                message
            }
            // A string where a table naming one of the kinds was expected.
            Problem::UnknownVariant { expected, .. } => {
                let found = self.text.get(span.clone()).unwrap_or("").trim();
                if expected.is_empty() {
                    format!("unexpected {found}")
                } else {
                    format!(
                        "expected a table with one of the keys {}, found {found}",
                        expected.join(", ")
                    )
                }
            }
            Problem::MissingKey(key) => format!("missing key {key:?}"),
            Problem::DuplicateKey(key) => format!("duplicate key {key:?}"),
            Problem::WrongType { found, expected } => format!(
                "expected {}, found {}",
                describe_expected(expected),
                describe_found(found)
            ),
            Problem::InvalidLength { length, expected } => {
                format!("expected {expected}, found {length} elements")
            }
            Problem::IntegerOutOfRange(written) => format!(
                "integer {written} is out of range: TOML integers go from {} to {}",
                i64::MIN,
                i64::MAX
            ),
            Problem::FloatOutOfRange(written) => {
                format!("number {written} is too large for a 64-bit float")
            }
            Problem::KindCount { name, kinds, found } => {
                let keys = self.keys_at(path);
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                format!(
                    "a {} names exactly one kind ({}), found {}{}",
                    name.to_lowercase(),
                    either_of(&spellings_once(kinds)),
                    if *found == 0 { "none" } else { "more than one" },
                    lognormal_hint(kinds, &keys)
                )
            }
            Problem::Custom(message) => message.clone(),
        };
        self.located(
            &span,
            FieldPath::from_segments(path.to_vec()).to_string(),
            message,
        )
    }

    /// The keys of the table at `path` in the file, if it writes one there.
    fn keys_at(&self, path: &[PathSegment]) -> Vec<String> {
        let table = match self.deepest(path) {
            (_, depth) if depth < path.len() => None,
            (None, _) => Some(self.tree.get_ref()),
            (Some(found), _) => match found.get_ref() {
                DeValue::Table(inner) => Some(inner),
                _ => None,
            },
        };
        table
            .map(|table| table.keys().map(|key| key.get_ref().to_string()).collect())
            .unwrap_or_default()
    }

    fn located(&self, span: &Range<usize>, key: String, message: String) -> ScenarioError {
        if !self.listing() {
            return self.unlisted_error(message);
        }
        if let Some(placed) = self.overlay.and_then(|o| o.override_at(span.start)) {
            return self.override_error(placed, key, message);
        }
        let (line, column) = line_column(self.text, span.start);
        ScenarioError::Invalid {
            origin: self.origin.to_string(),
            line,
            column: Some(column),
            key,
            message,
        }
    }

    /// The key path of the deepest key or value whose span contains `span`.
    fn path_at(&self, span: &Range<usize>) -> Vec<PathSegment> {
        let mut path = Vec::new();
        find_in_table(self.tree.get_ref(), span, &mut path);
        path
    }
}

/// Whether the byte at `at` is on a table header's line (`[services.api`, `[[links]]`).
fn in_table_header(text: &str, at: usize) -> bool {
    let before = text.get(..at).unwrap_or(text);
    let start = before.rfind('\n').map_or(0, |newline| newline + 1);
    text[start..].trim_start().starts_with('[')
}

/// A file that is not UTF-8, located at its first invalid byte.
pub(super) fn not_utf8(origin: &str, bytes: &[u8], error: Utf8Error) -> ScenarioError {
    let at = error.valid_up_to();
    // The text up to the byte is as written: locate it in what can be read.
    let text = String::from_utf8_lossy(bytes);
    let (tree, _) = DeTable::parse_recoverable(&text);
    let source = Source::new(origin, &text, tree);
    let byte = bytes.get(at).copied().unwrap_or_default();
    source.error(
        at..at + 1,
        format!("invalid UTF-8 (byte 0x{byte:02X}): save the file as UTF-8"),
    )
}

/// If the syntax error at `span` is a key written where the same key already is (a key set
/// twice, a table defined twice, a table extended that is already whole): the path of the
/// table, the key, and where the key was first written.
///
/// TOML's parser reports the second key's span. To know which key and table from the tree
/// rather than from its message, the key is renamed to a fresh key of the same length, which
/// keeps every span, and the text parsed again: the fresh key then sits in the table it was
/// written in, beside the first one.
fn duplicate_key(
    text: &str,
    span: &Range<usize>,
) -> Option<(Vec<PathSegment>, String, Range<usize>)> {
    let written = text.get(span.clone())?;
    let key = key_name(written)?;
    let renamed = format!(
        "{}{}{}",
        &text[..span.start],
        "_".repeat(written.len()),
        &text[span.end..]
    );
    let (tree, _) = DeTable::parse_recoverable(&renamed);
    let mut path = Vec::new();
    let table = table_with_key_at(tree.get_ref(), span, &mut path)?;
    let first = table
        .keys()
        .find(|k| *k.get_ref() == key && k.span() != *span)?
        .span();
    Some((path, key, first))
}

/// A key's name as written: bare, or quoted and unescaped.
fn key_name(written: &str) -> Option<String> {
    if written.starts_with("\"\"\"") || written.starts_with("'''") {
        return None;
    }
    if written.starts_with(['"', '\'']) {
        return match DeValue::parse(written).ok()?.into_inner() {
            DeValue::String(name) => Some(name.into_owned()),
            _ => None,
        };
    }
    let bare = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    (!written.is_empty() && written.chars().all(bare)).then(|| written.to_string())
}

/// The table that has a key at exactly `span`, with its path.
fn table_with_key_at<'t>(
    table: &'t DeTable<'t>,
    span: &Range<usize>,
    path: &mut Vec<PathSegment>,
) -> Option<&'t DeTable<'t>> {
    if table.keys().any(|key| key.span() == *span) {
        return Some(table);
    }
    for (key, value) in table.iter() {
        path.push(PathSegment::Key(key.get_ref().to_string()));
        if let Some(found) = value_with_key_at(value.get_ref(), span, path) {
            return Some(found);
        }
        path.pop();
    }
    None
}

fn value_with_key_at<'t>(
    value: &'t DeValue<'t>,
    span: &Range<usize>,
    path: &mut Vec<PathSegment>,
) -> Option<&'t DeTable<'t>> {
    match value {
        DeValue::Table(table) => table_with_key_at(table, span, path),
        DeValue::Array(array) => array.iter().enumerate().find_map(|(index, item)| {
            path.push(PathSegment::Index(index));
            let found = value_with_key_at(item.get_ref(), span, path);
            if found.is_none() {
                path.pop();
            }
            found
        }),
        _ => None,
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Whether a key or value of `table` contains `span`; if so, `path` leads to the deepest one.
fn find_in_table(table: &DeTable<'_>, span: &Range<usize>, path: &mut Vec<PathSegment>) -> bool {
    for (key, value) in table.iter() {
        path.push(PathSegment::Key(key.get_ref().to_string()));
        // The key itself first: in `[a.b]`, b's span is the whole header, a's key included.
        // Then deeper: a header table's own span is only its header line.
        if contains(&key.span(), span)
            || find_in_value(value.get_ref(), span, path)
            || contains(&value.span(), span)
        {
            return true;
        }
        path.pop();
    }
    false
}

fn find_in_value(value: &DeValue<'_>, span: &Range<usize>, path: &mut Vec<PathSegment>) -> bool {
    match value {
        DeValue::Table(table) => find_in_table(table, span, path),
        DeValue::Array(array) => {
            for (index, item) in array.iter().enumerate() {
                path.push(PathSegment::Index(index));
                if find_in_value(item.get_ref(), span, path) || contains(&item.span(), span) {
                    return true;
                }
                path.pop();
            }
            false
        }
        _ => false,
    }
}

/// Line and column (both from 1, the column in characters) of a byte offset.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// `; did you mean "x"?` for the closest expected key, else the list of expected keys.
fn suggestion(unknown: &str, expected: &[&str]) -> String {
    if let Some(close) = closest(unknown, expected.iter().copied()) {
        return format!("; did you mean {close:?}?");
    }
    match expected {
        [] => "; this table takes no keys".to_string(),
        [only] => format!("; expected {only:?}"),
        _ => format!("; expected one of {}", expected.join(", ")),
    }
}

/// What the file should hold, in its terms.
fn describe_expected(expected: &Expected) -> String {
    match expected {
        Expected::Integer => "a whole number".to_string(),
        Expected::Float => "a number".to_string(),
        Expected::String => "a string".to_string(),
        Expected::Boolean => "a boolean".to_string(),
        Expected::Array => "an array".to_string(),
        Expected::Table => "a table".to_string(),
        // The structures of `file.rs` are named for this.
        Expected::Struct(name) => (*name).to_string(),
        Expected::Kinds(kinds) => format!("a table with one of the keys {}", kinds.join(", ")),
        Expected::Fields([]) => "an empty table".to_string(),
        Expected::Fields(fields) => format!("a table with {}", all_of(fields)),
        Expected::Other(what) => what.clone(),
    }
}

/// What the file holds, in its terms.
fn describe_found(found: &Found) -> String {
    match found {
        Found::Boolean(b) => format!("boolean `{b}`"),
        Found::Integer(n) => format!("integer `{n}`"),
        Found::Float(x) => format!("number `{}`", with_decimal_point(*x)),
        Found::String(s) => format!("string {s:?}"),
        Found::Datetime(d) => format!("datetime `{d}`"),
        Found::Array => "array".to_string(),
        Found::Table => "table".to_string(),
        Found::Other(what) => what.clone(),
    }
}

/// A float as a number that reads as one: `3.0`, not `3`; `1e300`, not its 301 digits.
fn with_decimal_point(x: f64) -> String {
    // Debug writes a decimal point, or an exponent for the very large and small.
    format!("{x:?}")
}

/// The names an enum accepts, each kind once: a name that is another with underscores added
/// (`log_normal` beside `lognormal`) is a second spelling of it.
fn spellings_once<'n>(names: &[&'n str]) -> Vec<&'n str> {
    names
        .iter()
        .copied()
        .filter(|name| !name.contains('_') || !names.contains(&name.replace('_', "").as_str()))
        .collect()
}

/// For a distribution's table (whose kinds are `kinds`) holding percentiles of a lognormal
/// among `keys` (`p99` where a kind was expected): where they go.
fn lognormal_hint(kinds: &[&str], keys: &[&str]) -> String {
    if !kinds.contains(&"lognormal") {
        return String::new();
    }
    let percentiles: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|key| crate::distribution::LOGNORMAL_PERCENTILES.contains(key))
        .collect();
    let (names, are) = match percentiles.as_slice() {
        [] => return String::new(),
        [one] => (
            (*one).to_string(),
            "is a statistic of a lognormal: write it",
        ),
        many => (all_of(many), "are statistics of a lognormal: write them"),
    };
    format!(
        "; {names} {are} inside its table, e.g. {{ lognormal = {{ p50 = \"20ms\", p99 = \"80ms\" }} }}"
    )
}

/// `a, b or c`.
fn either_of(names: &[&str]) -> String {
    joined(names, " or ")
}

/// `a, b and c`.
fn all_of(names: &[&str]) -> String {
    joined(names, " and ")
}

fn joined(names: &[&str], last: &str) -> String {
    match names {
        [] => String::new(),
        [only] => (*only).to_string(),
        [init @ .., tail] => format!("{}{last}{tail}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let text = "a = 1\nµb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 8), (2, 2)); // after the two-byte µ
        assert_eq!(line_column(text, 7), (2, 1)); // inside µ: back to its start
        assert_eq!(line_column(text, 1000), (3, 1));
    }

    #[test]
    fn suggestions_name_the_closest_key_or_list_them() {
        assert_eq!(
            suggestion("wrokers", &["workers", "queue"]),
            "; did you mean \"workers\"?"
        );
        assert_eq!(
            suggestion("zzz", &["workers", "queue"]),
            "; expected one of workers, queue"
        );
        assert_eq!(suggestion("zzz", &["mean"]), "; expected \"mean\"");
        assert_eq!(suggestion("zzz", &[]), "; this table takes no keys");
    }

    #[test]
    fn numbers_read_as_numbers_whatever_their_size() {
        assert_eq!(with_decimal_point(3.0), "3.0");
        assert_eq!(with_decimal_point(1.5), "1.5");
        assert_eq!(with_decimal_point(1e300), "1e300");
        assert_eq!(with_decimal_point(f64::NAN), "NaN");
        assert_eq!(with_decimal_point(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn a_kind_spelt_two_ways_is_listed_once() {
        let kinds = ["constant", "normal", "log_normal", "lognormal", "std_dev"];
        assert_eq!(
            either_of(&spellings_once(&kinds)),
            "constant, normal, lognormal or std_dev"
        );
        assert_eq!(all_of(&["min", "max"]), "min and max");
        assert_eq!(all_of(&["mean"]), "mean");
    }

    #[test]
    fn percentiles_where_a_kind_goes_are_told_to_go_in_a_lognormal() {
        let kinds = ["constant", "lognormal", "pareto"];
        let example = " inside its table, e.g. { lognormal = { p50 = \"20ms\", p99 = \"80ms\" } }";
        assert_eq!(
            lognormal_hint(&kinds, &["p99"]),
            format!("; p99 is a statistic of a lognormal: write it{example}")
        );
        assert_eq!(
            lognormal_hint(&kinds, &["lognormal", "p50", "p999"]),
            format!("; p50 and p999 are statistics of a lognormal: write them{example}")
        );
        // A mean is also an exponential's; other enums are not distributions.
        assert_eq!(lognormal_hint(&kinds, &["mean", "constant"]), "");
        assert_eq!(lognormal_hint(&["retry", "hedge"], &["p99"]), "");
    }

    #[test]
    fn keys_are_named_as_toml_reads_them() {
        assert_eq!(key_name("workers").as_deref(), Some("workers"));
        assert_eq!(key_name("\"a \\u00e9\"").as_deref(), Some("a é"));
        assert_eq!(key_name("'a\\b'").as_deref(), Some("a\\b"));
        assert_eq!(key_name("\"\"\"a\"\"\""), None);
        assert_eq!(key_name("a = 1"), None);
        assert_eq!(key_name(""), None);
    }

    /// A duplicate is found from the tree, so the error's span is all it takes.
    #[test]
    fn a_duplicate_key_is_found_from_its_span() {
        let text = "[a]\nb.c = 1\n[x]\n[a]\n";
        let second = text.rfind("a]").unwrap();
        let (table, key, first) = duplicate_key(text, &(second..second + 1)).unwrap();
        assert_eq!((table, key.as_str(), first), (vec![], "a", 1..2));
        // Not a key at all.
        assert_eq!(duplicate_key(text, &(4..7)), None);
    }

    #[test]
    fn paths_render_like_toml() {
        let path = vec![
            PathSegment::Key("services".into()),
            PathSegment::Key("front end".into()),
            PathSegment::Key("steps".into()),
            PathSegment::Index(1),
        ];
        assert_eq!(
            FieldPath::from_segments(path).to_string(),
            "services.\"front end\".steps[1]"
        );
    }
}
