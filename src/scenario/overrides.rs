//! Overrides: `KEY=VALUE` settings applied onto a scenario file before it is read, as the
//! `microsim` command's `--set` gives them.
//!
//! An override is spliced into the file's parsed tree, so every rule applies to its value
//! exactly as if the file wrote it: nothing here checks a value beyond its being TOML. The
//! override's text is kept after the file's, in one text ([`Overlay`]), and every span of the
//! spliced value points into it; [`Source`](super::error::Source) tells an error there from
//! one in the file and names the `--set` argument instead of a line.

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{FieldPath, PathSegment};
use crate::report::threshold::{KeyEnd, KeySteps, parse_key_path};
use crate::suggest::did_you_mean;

/// One `KEY=VALUE` setting that replaces (or adds) a value of a scenario file before the file
/// is read, as `microsim run FILE --set KEY=VALUE` does.
///
/// `KEY` is a dotted key path as error messages print it: `services.payment.workers`,
/// `services."cart v2".work`, `links[0].latency` for an entry of an array of tables.
/// `VALUE` is a TOML value: `8`, `"30s"`, `{ constant = "2ms" }`, `[1, 2]`. A value that is
/// not valid TOML and does not start like a string, table or array (`"`, `'`, `{`, `[`) is
/// taken as a string, so `simulation.duration=30s` means `"30s"`.
///
/// An override may replace any value the file has, or add a key the file leaves out (a
/// `queue` it does not write, a `[simulation]` table it lacks); the file's rules then apply to
/// the result as if the file had been written that way, and a mistake in the value is an
/// error that names the override. It cannot add an entry: a service, topic or workload the
/// file does not declare, or an entry of an array past its last one.
///
/// ```
/// use microsim::scenario::{Override, Scenario};
///
/// let text = r#"
/// [services.api]
/// workers = 4
///
/// [workloads.users]
/// target = "api"
/// open = { rate = 100.0 }
/// "#;
/// let overrides = [
///     Override::parse("services.api.workers=8")?,
///     Override::parse("simulation.duration=2s")?,
/// ];
/// let scenario = Scenario::parse_with_overrides(text, "api.toml", &overrides)?;
/// assert_eq!(scenario.duration(), std::time::Duration::from_secs(2));
///
/// let zero = [Override::parse("services.api.workers=0")?];
/// let err = Scenario::parse_with_overrides(text, "api.toml", &zero).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "--set 1 (services.api.workers=0): services.api.workers: workers must be at least 1, got 0"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// `KEY` as written, without the blanks around it.
    key: String,
    /// Each step of the key, with its bytes in `key`.
    segments: Steps,
    /// `VALUE` as written, without the blanks around it.
    written: String,
    /// `VALUE` as TOML: as written, or a bare word quoted.
    value: String,
}

/// A `--set` argument that is not `KEY=VALUE`: no `=`, a key that is not a key path, a value
/// that starts like TOML but is not.
///
/// ```
/// use microsim::scenario::Override;
///
/// let err = Override::parse("services.api.workers").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "--set services.api.workers: expected KEY=VALUE, found no `=`"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--set {argument}: {reason}")]
#[non_exhaustive]
pub struct OverrideError {
    /// The argument as given.
    pub argument: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Override {
    /// Reads a `KEY=VALUE` argument.
    ///
    /// # Errors
    /// [`OverrideError`] if there is no `=` after the key, the key is not a key path (an
    /// empty step, an unclosed quote, an index that is not a number, an index first), there is
    /// no value, or the value starts like a TOML string, table or array and is not valid TOML.
    pub fn parse(argument: &str) -> Result<Override, OverrideError> {
        let error = |reason: String| OverrideError {
            argument: argument.to_string(),
            reason,
        };
        let (key_end, segments) = parse_key(argument).map_err(error)?;
        let Some(rest) = argument[key_end..].strip_prefix('=') else {
            return Err(error("expected KEY=VALUE, found no `=`".to_string()));
        };
        let key = argument[..key_end].trim_end();
        let leading = key.len() - key.trim_start().len();
        let segments = segments
            .into_iter()
            .map(|(segment, range)| (segment, range.start - leading..range.end - leading))
            .collect();
        let mut parsed = Override {
            key: key.trim_start().to_string(),
            segments,
            written: String::new(),
            value: String::new(),
        };
        parsed.set_value(rest).map_err(error)?;
        Ok(parsed)
    }

    /// The same key with another value: what a sweep over the values of one key needs, the
    /// key read once.
    ///
    /// # Errors
    /// As [`parse`](Self::parse), for the value.
    pub fn with_value(&self, value: &str) -> Result<Override, OverrideError> {
        let mut changed = self.clone();
        changed.set_value(value).map_err(|reason| OverrideError {
            argument: format!("{}={value}", self.key),
            reason,
        })?;
        Ok(changed)
    }

    /// The key path as written: `services.payment.workers`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The key path's steps.
    pub fn path(&self) -> FieldPath {
        FieldPath::from_segments(self.segments.iter().map(|(s, _)| s.clone()).collect())
    }

    /// The value as TOML: as written, or a bare word as a quoted string (`30s` is `"30s"`).
    pub fn value(&self) -> &str {
        &self.value
    }

    fn set_value(&mut self, written: &str) -> Result<(), String> {
        let written = written.trim();
        if written.is_empty() {
            return Err("no value after `=`; write `\"\"` for an empty string".to_string());
        }
        self.value = match DeValue::parse(written) {
            Ok(_) => written.to_string(),
            Err(error) if written.starts_with(['"', '\'', '{', '[']) => {
                return Err(format!(
                    "invalid TOML value: {}",
                    error.message().trim_end()
                ));
            }
            // A bare word: a string.
            Err(_) => quoted(written),
        };
        self.written = written.to_string();
        Ok(())
    }
}

impl std::fmt::Display for Override {
    /// `KEY=VALUE`, as written (without blanks around the `=`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.written)
    }
}

/// `text` as a TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A key path's steps, each with its bytes in the key.
type Steps = KeySteps;

/// Reads the key path at the start of `argument`, up to the `=` (or the end): where it ends,
/// and its steps. The syntax is the one metrics are written in too, read in one place.
fn parse_key(argument: &str) -> Result<(usize, Steps), String> {
    parse_key_path(argument, KeyEnd::Equals)
}

/// A file's text with its overrides' after it, one a line: the text every span of an
/// overridden file's tree points into.
#[derive(Debug)]
pub(super) struct Overlay {
    text: String,
    file_len: usize,
    overrides: Vec<Placed>,
}

/// An override and where its line of the overlay starts.
#[derive(Debug)]
pub(super) struct Placed {
    /// Its bytes in the overlay: `KEY=VALUE`.
    range: Range<usize>,
    /// Its position among the overrides, from 1.
    pub(super) number: usize,
    pub(super) setting: Override,
}

impl Overlay {
    pub(super) fn new(file: &str, overrides: &[Override]) -> Overlay {
        let mut text = String::with_capacity(
            file.len()
                + overrides
                    .iter()
                    .map(|o| o.key.len() + o.value.len() + 2)
                    .sum::<usize>(),
        );
        text.push_str(file);
        let placed = overrides
            .iter()
            .enumerate()
            .map(|(index, setting)| {
                text.push('\n');
                let start = text.len();
                text.push_str(&setting.key);
                text.push('=');
                text.push_str(&setting.value);
                Placed {
                    range: start..text.len(),
                    number: index + 1,
                    setting: setting.clone(),
                }
            })
            .collect();
        Overlay {
            text,
            file_len: file.len(),
            overrides: placed,
        }
    }

    /// The file's text and the overrides' after it.
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// The file's text alone.
    pub(super) fn file(&self) -> &str {
        &self.text[..self.file_len]
    }

    pub(super) fn overrides(&self) -> impl Iterator<Item = &Placed> {
        self.overrides.iter()
    }

    /// The override whose text holds byte `at`, if `at` is past the file.
    pub(super) fn override_at(&self, at: usize) -> Option<&Placed> {
        if at < self.file_len {
            return None;
        }
        self.overrides
            .iter()
            .find(|placed| placed.range.start <= at && at <= placed.range.end)
    }
}

/// Why an override could not be applied: where on its path, and what is wrong.
#[derive(Debug)]
pub(super) struct PathMistake {
    pub(super) at: FieldPath,
    pub(super) message: String,
}

/// The sections whose keys are the names of entries the file declares.
const NAMED: &[(&str, &str)] = &[
    ("services", "service"),
    ("topics", "topic"),
    ("workloads", "workload"),
];

/// Sets `placed`'s value in the file's tree `root`, whose spans point into `text`, the
/// overlay's.
pub(super) fn apply<'a>(
    root: &mut DeTable<'a>,
    text: &'a str,
    placed: &Placed,
) -> Result<(), PathMistake> {
    let base = placed.range.start;
    let value_start = base + placed.setting.key.len() + 1;
    let value = match DeValue::parse(&text[value_start..placed.range.end]) {
        Ok(value) => shifted(value, value_start),
        Err(error) => {
            // Checked when the override was read.
            return Err(PathMistake {
                at: placed.setting.path(),
                message: format!("invalid TOML value: {}", error.message().trim_end()),
            });
        }
    };
    let steps: Vec<(&PathSegment, Range<usize>)> = placed
        .setting
        .segments
        .iter()
        .map(|(segment, range)| (segment, base + range.start..base + range.end))
        .collect();
    if let [
        (PathSegment::Key(section), _),
        (PathSegment::Key(name), _),
        ..,
    ] = steps.as_slice()
        && let Some(&(_, entry)) = NAMED.iter().find(|(s, _)| s == section)
    {
        // A section that is not a table is the file's mistake, told as such.
        let names: Option<Vec<&str>> = match root.get(section.as_str()).map(Spanned::get_ref) {
            Some(DeValue::Table(table)) => {
                Some(table.keys().map(|k| k.get_ref().as_ref()).collect())
            }
            Some(_) => None,
            None => Some(Vec::new()),
        };
        if let Some(names) = names
            && !names.contains(&name.as_str())
        {
            let hint = did_you_mean(name, names.iter().copied());
            let hint = if hint.is_empty() {
                format!(" in the file: an override changes a {entry}, it does not add one")
            } else {
                hint
            };
            return Err(PathMistake {
                at: FieldPath::key(section.clone()),
                message: format!("no {entry} {name:?}{hint}"),
            });
        }
    }
    set_in_table(root, &steps, value, &mut Vec::new())
}

fn set_in_table<'a>(
    table: &mut DeTable<'a>,
    steps: &[(&PathSegment, Range<usize>)],
    value: Spanned<DeValue<'a>>,
    at: &mut Vec<PathSegment>,
) -> Result<(), PathMistake> {
    let Some(((segment, span), rest)) = steps.split_first() else {
        return Ok(());
    };
    let key = match segment {
        PathSegment::Key(key) => key,
        PathSegment::Index(index) => {
            return Err(PathMistake {
                at: FieldPath::from_segments(at.clone()),
                message: format!("a table has no entry [{index}]"),
            });
        }
    };
    at.push(PathSegment::Key(key.clone()));
    if rest.is_empty() {
        match table.get_mut(key.as_str()) {
            Some(slot) => *slot = value,
            None => {
                table.insert(Spanned::new(span.clone(), Cow::Owned(key.clone())), value);
            }
        }
        return Ok(());
    }
    if table.get(key.as_str()).is_none() {
        if let (PathSegment::Index(index), _) = rest[0] {
            return Err(PathMistake {
                at: FieldPath::from_segments(at.clone()),
                message: format!(
                    "no entry [{index}]: the file has none, and an override does not add entries"
                ),
            });
        }
        table.insert(
            Spanned::new(span.clone(), Cow::Owned(key.clone())),
            Spanned::new(span.clone(), DeValue::Table(DeTable::new())),
        );
    }
    let Some(slot) = table.get_mut(key.as_str()) else {
        return Ok(());
    };
    set_in_value(slot, rest, value, at)
}

fn set_in_value<'a>(
    slot: &mut Spanned<DeValue<'a>>,
    steps: &[(&PathSegment, Range<usize>)],
    value: Spanned<DeValue<'a>>,
    at: &mut Vec<PathSegment>,
) -> Result<(), PathMistake> {
    let Some(((segment, _), rest)) = steps.split_first() else {
        return Ok(());
    };
    let here = |at: &Vec<PathSegment>| FieldPath::from_segments(at.clone());
    match (slot.get_mut(), segment) {
        (DeValue::Table(table), PathSegment::Key(_)) => set_in_table(table, steps, value, at),
        (DeValue::Array(items), PathSegment::Index(index)) => {
            let length = items.len();
            let Some(item) = items.get_mut(*index) else {
                return Err(PathMistake {
                    at: here(at),
                    message: format!(
                        "no entry [{index}]: the file has {length} (from [0]), and an override \
                         does not add entries"
                    ),
                });
            };
            at.push(PathSegment::Index(*index));
            if rest.is_empty() {
                *item = value;
                Ok(())
            } else {
                set_in_value(item, rest, value, at)
            }
        }
        (DeValue::Array(_), PathSegment::Key(key)) => Err(PathMistake {
            at: here(at),
            message: format!(
                "an array has no key {key:?}: name an entry, as in {}[0].{}",
                here(at),
                FieldPath::key(key.clone())
            ),
        }),
        (DeValue::Table(_), PathSegment::Index(index)) => Err(PathMistake {
            at: here(at),
            message: format!("a table has no entry [{index}]"),
        }),
        (scalar, PathSegment::Key(key)) => Err(PathMistake {
            at: here(at),
            message: format!("{} has no key {key:?}", describe(scalar)),
        }),
        (scalar, PathSegment::Index(index)) => Err(PathMistake {
            at: here(at),
            message: format!("{} has no entry [{index}]", describe(scalar)),
        }),
    }
}

fn describe(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "a whole number",
        DeValue::Float(_) => "a number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// `value`, parsed from a text that starts at `offset` of the overlay, with its spans (and
/// its keys' and items') moved there.
fn shifted(value: Spanned<DeValue<'_>>, offset: usize) -> Spanned<DeValue<'_>> {
    let moved = |span: Range<usize>| span.start + offset..span.end + offset;
    let span = moved(value.span());
    let inner = match value.into_inner() {
        DeValue::Array(items) => DeValue::Array(
            items
                .into_iter()
                .map(|item| shifted(item, offset))
                .collect(),
        ),
        DeValue::Table(table) => DeValue::Table(
            table
                .into_iter()
                .map(|(key, item)| {
                    let key_span = moved(key.span());
                    (
                        Spanned::new(key_span, key.into_inner()),
                        shifted(item, offset),
                    )
                })
                .collect(),
        ),
        scalar => scalar,
    };
    Spanned::new(span, inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(argument: &str) -> String {
        match Override::parse(argument) {
            Ok(parsed) => format!("{} = {}", parsed.path(), parsed.value()),
            Err(error) => error.reason,
        }
    }

    #[test]
    fn keys_read_as_error_messages_print_them() {
        assert_eq!(
            steps("services.payment.workers=8"),
            "services.payment.workers = 8"
        );
        assert_eq!(
            steps("services.\"cart v2\".workers = 8"),
            "services.\"cart v2\".workers = 8"
        );
        assert_eq!(
            steps("services.'a.b'.workers=8"),
            "services.\"a.b\".workers = 8"
        );
        assert_eq!(
            steps("services.\"a=b\".work={ constant = \"2ms\" }"),
            "services.\"a=b\".work = { constant = \"2ms\" }"
        );
        assert_eq!(steps("links[0].latency=1"), "links[0].latency = 1");
        assert_eq!(
            steps("services.api.steps[1][0].call=x"),
            "services.api.steps[1][0].call = \"x\""
        );
    }

    #[test]
    fn a_bare_word_is_a_string_and_a_broken_table_is_an_error() {
        assert_eq!(
            steps("simulation.duration=30s"),
            "simulation.duration = \"30s\""
        );
        assert_eq!(
            steps("simulation.duration=\"30s\""),
            "simulation.duration = \"30s\""
        );
        assert_eq!(steps("a=say \"hi\"\\"), "a = \"say \\\"hi\\\"\\\\\"");
        assert_eq!(steps("a=true"), "a = true");
        assert_eq!(steps("a=2.5"), "a = 2.5");
        assert!(steps("a={ constant = 2ms }").starts_with("invalid TOML value: "));
        assert!(steps("a=\"open").starts_with("invalid TOML value: "));
        assert_eq!(
            steps("a="),
            "no value after `=`; write `\"\"` for an empty string"
        );
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert_eq!(
            steps("services.api.workers"),
            "expected KEY=VALUE, found no `=`"
        );
        assert_eq!(steps("=3"), "no key before `=`");
        assert_eq!(steps("a..b=3"), "an empty step in the key at column 3");
        assert_eq!(steps("a.\"b=3"), "unclosed quote in the key at column 3");
        assert_eq!(
            steps("links[x].from=a"),
            "expected an index such as [0] in the key at column 6, found [x]"
        );
        assert!(steps("cart v2.workers=1").starts_with("unexpected 'v' in the key at column 6"));
        assert!(
            steps("a b=1").starts_with("unexpected 'b'"),
            "{}",
            steps("a b=1")
        );
    }

    /// A quoted key reads as TOML reads the same string (the key path reader does not use
    /// TOML's, so that metrics read the same without the `scenario` feature).
    #[test]
    fn quoted_keys_read_as_toml_strings() {
        for quoted in [
            r#""cart v2""#,
            r#""a.b""#,
            r#""""#,
            r#""say \"hi\"""#,
            r#""\u00e9\U0001F600\x41""#,
            r#""\b\t\n\f\r\e\\""#,
            "\"tab\there\"",
            "\"\u{e9}t\u{e9}\"",
            r#""\q""#,
            r#""\u00e""#,
            r#""\xG1""#,
            r#""\uD800""#,
            r#""\U00110000""#,
            "\"\u{7}\"",
            "\"\u{7f}\"",
            "\"line\nbreak\"",
        ] {
            let toml = match DeValue::parse(quoted).map(Spanned::into_inner) {
                Ok(DeValue::String(key)) => Some(key.into_owned()),
                _ => None,
            };
            let ours = Override::parse(&format!("{quoted}=1"))
                .ok()
                .and_then(|parsed| match parsed.path().segments() {
                    [PathSegment::Key(key)] => Some(key.clone()),
                    _ => None,
                });
            assert_eq!(ours, toml, "{quoted}");
        }
    }

    #[test]
    fn another_value_keeps_the_key() {
        let first = Override::parse("services.api.workers=8").unwrap();
        let second = first.with_value("16").unwrap();
        assert_eq!(second.to_string(), "services.api.workers=16");
        assert_eq!(second.path(), first.path());
        let err = first.with_value("[1").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--set services.api.workers=[1: invalid TOML value")
        );
    }
}
