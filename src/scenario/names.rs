//! The names a file declares -- services, topics, their dead-letter topics -- and the errors
//! of a reference that names none of them, with the closest name suggested.

use toml::Spanned;

use crate::suggest::closest;

use super::ScenarioError;
use super::error::Source;

/// The names a file declares, to check references against; each list sorted, so that a
/// lookup is a binary search (a file may declare a hundred thousand services).
pub(super) struct Names<'a> {
    /// Sorted.
    pub(super) services: &'a [&'a str],
    /// Declared topics and the dead-letter topics of the at-least-once ones; sorted.
    pub(super) topics: &'a [&'a str],
}

impl Names<'_> {
    pub(super) fn is_service(&self, name: &str) -> bool {
        self.services.binary_search(&name).is_ok()
    }

    pub(super) fn is_topic(&self, name: &str) -> bool {
        self.topics.binary_search(&name).is_ok()
    }
}

/// A reference to a service that does not exist, with the closest of `known` suggested.
pub(super) fn unknown_service(
    source: &Source<'_>,
    name: &Spanned<String>,
    known: &[&str],
) -> ScenarioError {
    let hint = closest(name.get_ref(), known.iter().copied())
        .map(|close| format!("; did you mean {close:?}?"))
        .unwrap_or_default();
    source.error(
        name.span(),
        format!("unknown service {:?}{hint}", name.get_ref()),
    )
}

/// A reference to a topic that is not one: unknown (with the closest topic suggested), or a
/// service (`publish`: whether the reference is a publish step, which could be a call).
pub(super) fn unknown_topic(
    source: &Source<'_>,
    name: &Spanned<String>,
    names: &Names<'_>,
    publish: bool,
) -> ScenarioError {
    let wanted = name.get_ref();
    if names.is_service(wanted) {
        let hint = if publish {
            format!(": call it with {{ call = {wanted:?} }}")
        } else {
            String::new()
        };
        return source.error(
            name.span(),
            format!("{wanted:?} is a service, not a topic{hint}"),
        );
    }
    let hint = match closest(wanted, names.topics.iter().copied()) {
        Some(close) => format!("; did you mean {close:?}?"),
        None if names.topics.is_empty() => "; declare topics in [topics.NAME] tables".to_string(),
        None => String::new(),
    };
    source.error(name.span(), format!("unknown topic {wanted:?}{hint}"))
}
