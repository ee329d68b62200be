//! `[[links]]`: each link's ends (a service, `client` or, as a destination, a topic) and one
//! link per pair.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::distribution::Distribution;
use crate::node::CLIENT;
use crate::suggest::closest;

use super::ScenarioError;
use super::error::{self, Source};
use super::file::RawLink;
use super::names::{Names, unknown_service};

/// A checked `[[links]]` entry.
#[derive(Debug, Clone)]
pub(super) struct LinkSpec {
    pub(super) from: String,
    pub(super) to: String,
    pub(super) latency: Distribution,
}

/// Checks every `[[links]]` entry, in file order; `text` is the file's, to tell the line of a
/// pair's first link.
pub(super) fn check_links(
    source: &Source<'_>,
    names: &Names<'_>,
    text: &str,
    raw_links: Vec<Spanned<RawLink>>,
) -> Result<Vec<LinkSpec>, ScenarioError> {
    let mut links = Vec::new();
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for link in raw_links {
        let span = link.span();
        let link = link.into_inner();
        let from = link.from.get_ref().as_str();
        if names.is_topic(from) {
            return Err(source.error(
                link.from.span(),
                format!(
                    "a link cannot start at topic {from:?}: a topic delivers its events \
                     after its broker_latency"
                ),
            ));
        }
        if from != CLIENT && !names.is_service(from) {
            let mut endpoints = names.services.to_vec();
            endpoints.push(CLIENT);
            return Err(unknown_service(source, &link.from, &endpoints));
        }
        let to = link.to.get_ref().as_str();
        if to == CLIENT {
            return Err(source.error(
                link.to.span(),
                "a link cannot lead to \"client\": a link from A to B covers both the request and the response",
            ));
        }
        if names.is_topic(to) && from == CLIENT {
            return Err(source.error(
                link.to.span(),
                format!(
                    "a link from \"client\" to topic {to:?} is never used: workloads send \
                     requests to services, they do not publish"
                ),
            ));
        }
        if !names.is_service(to) && !names.is_topic(to) {
            let hint = closest(to, names.services.iter().chain(names.topics).copied())
                .map(|close| format!("; did you mean {close:?}?"))
                .unwrap_or_default();
            let what = if names.topics.is_empty() {
                "service"
            } else {
                "service or topic"
            };
            return Err(source.error(link.to.span(), format!("unknown {what} {to:?}{hint}")));
        }
        let key = (link.from.get_ref().clone(), link.to.get_ref().clone());
        // Where the pair was first set; its line is counted only for the message.
        if let Some(first) = seen.insert(key, span.start) {
            let (first, _) = error::line_column(text, first);
            return Err(source.error(
                span,
                format!(
                    "link {} -> {} is set twice (first at line {first})",
                    link.from.get_ref(),
                    link.to.get_ref()
                ),
            ));
        }
        links.push(LinkSpec {
            from: link.from.into_inner(),
            to: link.to.into_inner(),
            latency: link.latency.into_inner(),
        });
    }
    Ok(links)
}
