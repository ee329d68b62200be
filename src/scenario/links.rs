//! `[[links]]`: each link's ends (a service, `client` or, as a destination, a topic) and one
//! link per pair.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::distribution::Distribution;
use crate::node::CLIENT;

use super::ScenarioError;
use super::error::{self, Source};
use super::file::RawLink;
use super::names::{Names, unknown_service};

/// A checked `[[links]]` entry.
#[derive(Debug, Clone)]
pub(super) struct LinkSpec {
    /// Its place in `[[links]]`.
    pub(super) index: usize,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) latency: Distribution,
}

/// Checks every `[[links]]` entry (`None`: its mistake already reported), in file order,
/// reporting each one's first mistake; `text` is the file's, to tell the line of a pair's
/// first link. Returns the links without a mistake, and whether every entry is among them.
pub(super) fn check_links(
    source: &Source<'_>,
    names: &Names<'_>,
    text: &str,
    raw_links: Vec<Option<Spanned<RawLink>>>,
) -> (Vec<LinkSpec>, bool) {
    let mut links = Vec::new();
    let mut complete = true;
    // Where each pair was first set; its line is counted only for the message.
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (index, link) in raw_links.into_iter().enumerate() {
        let checked = link
            .and_then(|link| source.ok(check_link(source, names, text, (index, link), &mut seen)));
        match checked {
            Some(link) => links.push(link),
            None => complete = false,
        }
    }
    (links, complete)
}

/// Checks entry `index` of `[[links]]`, and that its pair is not in `seen` already.
fn check_link(
    source: &Source<'_>,
    names: &Names<'_>,
    text: &str,
    (index, link): (usize, Spanned<RawLink>),
    seen: &mut BTreeMap<(String, String), usize>,
) -> Result<LinkSpec, ScenarioError> {
    let span = link.span();
    let link = link.into_inner();
    let from = link.from.get_ref().as_str();
    if names.is_only_topic(from) {
        return Err(source.error(
            link.from.span(),
            format!(
                "a link cannot start at topic {from:?}: a topic delivers its events \
                 after its broker_latency"
            ),
        ));
    }
    if from != CLIENT && !names.is_service(from) {
        return Err(unknown_service(
            source,
            &link.from,
            names.services,
            &[CLIENT],
        ));
    }
    let to = link.to.get_ref().as_str();
    if names.is_client(to) {
        return Err(source.error(
            link.to.span(),
            "a link cannot lead to \"client\": a link from A to B covers both the request and the response",
        ));
    }
    if names.is_only_topic(to) && from == CLIENT {
        return Err(source.error(
            link.to.span(),
            format!(
                "a link from \"client\" to topic {to:?} is never used: workloads send \
                 requests to services, they do not publish"
            ),
        ));
    }
    if !names.is_service(to) && !names.is_topic(to) {
        let hint = names.suggestion(source, to, names.services.iter().chain(names.topics));
        let what = if names.topics.is_empty() {
            "service"
        } else {
            "service or topic"
        };
        return Err(source.error(link.to.span(), format!("unknown {what} {to:?}{hint}")));
    }
    let key = (link.from.get_ref().clone(), link.to.get_ref().clone());
    if let Some(&first) = seen.get(&key) {
        // Counting lines is the costly part of the message: only for one that is listed.
        let first = if source.listing() {
            error::line_column(text, first).0
        } else {
            0
        };
        return Err(source.error(
            span,
            format!(
                "link {} -> {} is set twice (first at line {first})",
                link.from.get_ref(),
                link.to.get_ref()
            ),
        ));
    }
    seen.insert(key, span.start);
    Ok(LinkSpec {
        index,
        from: link.from.into_inner(),
        to: link.to.into_inner(),
        latency: link.latency.into_inner(),
    })
}
