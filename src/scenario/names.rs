//! The names a file declares -- services, topics, their dead-letter topics -- and the errors
//! of a reference that names none of them, with the closest name suggested.

use toml::Spanned;

use crate::node::CLIENT;
use crate::suggest::{closest, did_you_mean};

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

    /// A topic and not a service: a name is both only when the topic was refused for taking
    /// a service's name, and then a reference to it is taken for the service's.
    pub(super) fn is_only_topic(&self, name: &str) -> bool {
        self.is_topic(name) && !self.is_service(name)
    }

    /// `client` where a service is expected, unless a service took that name (refused, and
    /// already reported): then a reference to it is taken for the service's.
    pub(super) fn is_client(&self, name: &str) -> bool {
        name == CLIENT && !self.is_service(name)
    }

    /// `; did you mean "x"?` with the candidate closest to `wanted`, or nothing; nothing also
    /// for an error that will not be listed, since finding the closest of many names is the
    /// costly part of an error.
    pub(super) fn suggestion<'c>(
        &self,
        source: &Source<'_>,
        wanted: &str,
        candidates: impl IntoIterator<Item = &'c &'c str>,
    ) -> String {
        if !source.listing() {
            return String::new();
        }
        did_you_mean(wanted, candidates.into_iter().copied())
    }
}

/// A reference to a service that does not exist, with the closest of `known` and `also`
/// (`client`, where it may be named) suggested.
pub(super) fn unknown_service(
    source: &Source<'_>,
    name: &Spanned<String>,
    known: &[&str],
    also: &[&str],
) -> ScenarioError {
    let hint = if source.listing() {
        did_you_mean(name.get_ref(), known.iter().chain(also).copied())
    } else {
        String::new()
    };
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
    let closest = || closest(wanted, names.topics.iter().copied());
    let hint = if !source.listing() {
        String::new()
    } else if let Some(close) = closest() {
        format!("; did you mean {close:?}?")
    } else if names.topics.is_empty() {
        "; declare topics in [topics.NAME] tables".to_string()
    } else {
        String::new()
    };
    source.error(name.span(), format!("unknown topic {wanted:?}{hint}"))
}
