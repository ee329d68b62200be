//! Errors in scenario files, located like a compiler locates them: file, line, column, key.

use crate::suggest::closest;
use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::file::EXPECTED_NAMES;
use crate::error::{FieldPath, PathSegment};

/// A scenario file could not be read, or says something invalid.
///
/// The message names the file, the line (and column), the key path and what is wrong:
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

/// Whether a span was found on a key or on a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hit {
    Key,
    Value,
}

/// Top-level keys whose entries are tables of an array: `[[links]]`, `[[faults]]`,
/// `[[policies]]`.
const TOP_LEVEL_ARRAYS: &[&str] = &["links", "faults", "policies"];

/// A file's text and name, and its parsed tree of spans: turns byte spans into located errors.
pub(super) struct Source<'a> {
    origin: &'a str,
    text: &'a str,
    tree: Option<Spanned<DeTable<'a>>>,
}

impl<'a> Source<'a> {
    /// Parses the text into its tree of spans.
    ///
    /// # Errors
    /// A syntax error, located.
    pub(super) fn parse(text: &'a str, origin: &'a str) -> Result<Self, ScenarioError> {
        let mut source = Source {
            origin,
            text,
            tree: None,
        };
        match DeTable::parse(text) {
            Ok(tree) => {
                source.tree = Some(tree);
                Ok(source)
            }
            Err(error) => {
                // Locate the error in what could be read.
                let (partial, _) = DeTable::parse_recoverable(text);
                source.tree = Some(partial);
                let span = error.span().unwrap_or(0..0);
                Err(source.error(span, format!("invalid TOML: {}", error.message())))
            }
        }
    }

    /// An error about the key or value at `span`.
    pub(super) fn error(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let (path, _) = self.path_at(&span);
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
        let key = path.to_string();
        let mut span = None;
        if let Some(tree) = &self.tree {
            let mut value: Option<&DeValue<'_>> = None;
            let mut table = Some(tree.get_ref());
            for segment in path.segments() {
                let next = match (segment, table, value) {
                    (PathSegment::Key(key), Some(table), _) => table
                        .iter()
                        .find(|(k, _)| k.get_ref() == key)
                        .map(|(_, v)| v),
                    (PathSegment::Index(index), _, Some(DeValue::Array(array))) => {
                        array.get(*index)
                    }
                    _ => None,
                };
                let Some(next) = next else { break };
                span = Some(next.span());
                value = Some(next.get_ref());
                table = match next.get_ref() {
                    DeValue::Table(inner) => Some(inner),
                    _ => None,
                };
            }
        }
        match span {
            Some(span) => self.located(&span, key, message.into()),
            None => self.error_at_top(&key, message),
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

    /// Translates an error from `toml::from_str`, rewording serde's messages for people who
    /// write TOML rather than Rust.
    pub(super) fn deserialize_error(&self, error: &toml::de::Error) -> ScenarioError {
        let span = error.span().unwrap_or(0..0);
        let (mut path, hit) = self.path_at(&span);
        let raw = error.message();
        if let Some((unknown, expected)) = unknown_key(raw) {
            // Point at the table that has the key; name the key in the message.
            if hit == Some(Hit::Key) {
                path.pop();
                let mut message =
                    format!("unknown key {unknown:?}{}", suggestion(&unknown, &expected));
                if !path.is_empty() && TOP_LEVEL_ARRAYS.contains(&unknown.as_str()) {
                    // `faults = [...]` written after a [table] header belongs to that table.
                    message.push_str(&format!(
                        "; {unknown} is a top-level key: write each entry as a [[{unknown}]] \
                         table, or put `{unknown} = [...]` before the first [table] header"
                    ));
                }
                return self.located(&span, FieldPath::from_segments(path).to_string(), message);
            }
            // A string where a table with one of these keys was expected.
            let found = self.text.get(span.clone()).unwrap_or("").trim();
            let message = if expected.is_empty() {
                format!("unexpected {found}")
            } else {
                format!(
                    "expected a table with one of the keys {}, found {found}",
                    expected.join(", ")
                )
            };
            return self.located(&span, FieldPath::from_segments(path).to_string(), message);
        }
        let message = reword(raw);
        self.located(&span, FieldPath::from_segments(path).to_string(), message)
    }

    fn located(&self, span: &Range<usize>, key: String, message: String) -> ScenarioError {
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
    fn path_at(&self, span: &Range<usize>) -> (Vec<PathSegment>, Option<Hit>) {
        let mut path = Vec::new();
        let hit = self
            .tree
            .as_ref()
            .and_then(|tree| find_in_table(tree.get_ref(), span, &mut path));
        if hit.is_none() {
            path.clear();
        }
        (path, hit)
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

fn find_in_table(
    table: &DeTable<'_>,
    span: &Range<usize>,
    path: &mut Vec<PathSegment>,
) -> Option<Hit> {
    for (key, value) in table.iter() {
        path.push(PathSegment::Key(key.get_ref().to_string()));
        // The key itself first: in `[a.b]`, b's span is the whole header, a's key included.
        if contains(&key.span(), span) {
            return Some(Hit::Key);
        }
        // Then deeper: a header table's own span is only its header line.
        if let Some(hit) = find_in_value(value.get_ref(), span, path) {
            return Some(hit);
        }
        if contains(&value.span(), span) {
            return Some(Hit::Value);
        }
        path.pop();
    }
    None
}

fn find_in_value(
    value: &DeValue<'_>,
    span: &Range<usize>,
    path: &mut Vec<PathSegment>,
) -> Option<Hit> {
    match value {
        DeValue::Table(table) => find_in_table(table, span, path),
        DeValue::Array(array) => {
            for (index, item) in array.iter().enumerate() {
                path.push(PathSegment::Index(index));
                if let Some(hit) = find_in_value(item.get_ref(), span, path) {
                    return Some(hit);
                }
                if contains(&item.span(), span) {
                    return Some(Hit::Value);
                }
                path.pop();
            }
            None
        }
        _ => None,
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

/// The names between backticks in `text`, in order.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Recognises toml's and serde's unknown-key messages: the unknown key and the keys expected.
fn unknown_key(message: &str) -> Option<(String, Vec<String>)> {
    // serde: "unknown field `wrokers`, expected one of `workers`, `queue`" (or "there are no
    // fields"); serde enums: "unknown variant `exponental`, expected `constant` or ...".
    for prefix in ["unknown field ", "unknown variant "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let mut names = backticked(rest);
            if names.is_empty() {
                return None;
            }
            let unknown = names.remove(0);
            return Some((unknown, names));
        }
    }
    // toml, for enum variants' fields: "unexpected keys in table: man, available keys: mean".
    let rest = message.strip_prefix("unexpected keys in table: ")?;
    let (unknown, available) = rest.split_once(", available keys: ")?;
    let unknown = unknown.split(", ").next()?.to_string();
    let expected = available
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Some((unknown, expected))
}

/// `; did you mean "x"?` for the closest expected key, else the list of expected keys.
pub(super) fn suggestion(unknown: &str, expected: &[String]) -> String {
    if let Some(close) = closest(unknown, expected.iter().map(String::as_str)) {
        return format!("; did you mean {close:?}?");
    }
    match expected {
        [] => "; this table takes no keys".to_string(),
        [only] => format!("; expected {only:?}"),
        _ => format!("; expected one of {}", expected.join(", ")),
    }
}

/// Rewords serde's and toml's messages in the file's terms.
fn reword(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("missing field ")
        && let Some(name) = backticked(rest).first()
    {
        return format!("missing key {name:?}");
    }
    if message.starts_with("wanted exactly 1 element") {
        let found = if message.contains("found 0") {
            "none"
        } else {
            "more than one"
        };
        return format!(
            "a distribution names exactly one kind (constant, uniform, exponential, normal, \
             lognormal, pareto or empirical), found {found}"
        );
    }
    if let Some((what, expected)) = message.split_once(", expected ") {
        let expected = EXPECTED_NAMES
            .iter()
            .find(|(serde_name, _)| *serde_name == expected)
            .map_or(expected, |(_, plain)| plain);
        let what = what
            .replace("invalid type: ", "found ")
            .replace("invalid value: ", "found ")
            .replace("floating point", "number")
            .replace("map", "table")
            .replace("sequence", "array");
        return format!("expected {expected}, {what}");
    }
    message.to_string()
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
    fn unknown_keys_are_recognised() {
        assert_eq!(
            unknown_key("unknown field `wrokers`, expected one of `workers`, `queue`"),
            Some(("wrokers".into(), vec!["workers".into(), "queue".into()]))
        );
        assert_eq!(
            unknown_key("unexpected keys in table: man, available keys: mean"),
            Some(("man".into(), vec!["mean".into()]))
        );
        assert_eq!(
            suggestion("wrokers", &["workers".into(), "queue".into()]),
            "; did you mean \"workers\"?"
        );
        assert_eq!(
            suggestion("zzz", &["workers".into(), "queue".into()]),
            "; expected one of workers, queue"
        );
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
