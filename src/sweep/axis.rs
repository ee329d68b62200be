//! One swept key and its values: `KEY=V1,V2,...`, each value a `--set` value.

use serde::{Deserialize, Serialize};

use crate::scenario::{Override, OverrideError};

/// A key of the scenario file and the values a sweep gives it, in order.
///
/// ```
/// use microsim::sweep::Axis;
///
/// let axis = Axis::parse("workloads.load.open.rate=100,200,400")?;
/// assert_eq!(axis.key, "workloads.load.open.rate");
/// assert_eq!(axis.values, ["100", "200", "400"]);
/// // Commas inside a TOML value do not split it.
/// let axis = Axis::parse(r#"links[0].latency={ uniform = { min = "1ms", max = "2ms" } },{ constant = "1ms" }"#)?;
/// assert_eq!(axis.values.len(), 2);
/// # Ok::<(), microsim::scenario::OverrideError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Axis {
    /// The key, as `--set` writes it (`services.api.workers`).
    pub key: String,
    /// The values, as written.
    pub values: Vec<String>,
}

impl Axis {
    /// Reads `KEY=V1,V2,...`: the values split at the commas outside quotes, brackets and
    /// braces, each a `--set` value (a TOML value, or a bare word taken as a string).
    ///
    /// # Errors
    /// [`OverrideError`] if the key is not a key path, there is no `=`, a value is empty, or a
    /// value is not a `--set` value.
    pub fn parse(argument: &str) -> Result<Axis, OverrideError> {
        let error = |reason: String| OverrideError {
            argument: argument.to_string(),
            reason,
        };
        // The `=` after the key: the first outside the key's quotes.
        let mut quoted = false;
        let Some(equals) = argument.char_indices().find_map(|(i, c)| {
            if c == '"' {
                quoted = !quoted;
            }
            (c == '=' && !quoted).then_some(i)
        }) else {
            return Err(error("expected KEY=V1,V2,..., found no `=`".to_string()));
        };
        let values = split_values(&argument[equals + 1..]);
        if values.iter().any(|value| value.trim().is_empty()) {
            return Err(error(
                "a value is empty: write KEY=V1,V2,... with a value between each pair of commas"
                    .to_string(),
            ));
        }
        // The key and each value as `--set` reads them: the syntax has one owner.
        let first = Override::parse(&format!("{}={}", &argument[..equals], values[0].trim()))?;
        for value in &values[1..] {
            first.with_value(value.trim())?;
        }
        Ok(Axis {
            key: first.key().to_string(),
            values: values
                .iter()
                .map(|value| value.trim().to_string())
                .collect(),
        })
    }

    /// The `--set` of its `index`th value.
    pub(crate) fn setting(&self, index: usize) -> Override {
        Override::parse(&format!("{}={}", self.key, self.values[index]))
            .expect("each value was read as a setting of this key")
    }
}

/// `text` split at the commas outside double or single quotes, brackets and braces.
fn split_values(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth <= 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_split_outside_quotes_and_brackets() {
        assert_eq!(split_values("1,2,3"), ["1", "2", "3"]);
        assert_eq!(split_values(r#""a,b",c"#), [r#""a,b""#, "c"]);
        assert_eq!(
            split_values("[1,2],{ a = 1, b = 2 }"),
            ["[1,2]", "{ a = 1, b = 2 }"]
        );
        assert_eq!(split_values("x"), ["x"]);
    }

    #[test]
    fn an_empty_value_or_a_bad_key_is_an_error() {
        let error = Axis::parse("services.api.workers=1,,3").unwrap_err();
        assert!(error.reason.contains("a value is empty"), "{error}");
        assert!(Axis::parse("=1,2").is_err());
        assert!(Axis::parse("services.api.workers").is_err());
        let axis = Axis::parse("services.api.work=2ms,3ms").unwrap();
        assert_eq!(axis.setting(1).value(), "\"3ms\"");
    }
}
