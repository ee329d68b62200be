//! `[topics.NAME]`: each topic's name against the services' and the other topics', the keys
//! that apply only to at-least-once or bounded topics, and the mapping onto [`Topic`].

use std::collections::BTreeMap;

use toml::Spanned;

use crate::node::CLIENT;
use crate::suggest::closest;
use crate::topic::{Delivery, Topic, WhenFull};

use super::ScenarioError;
use super::error::Source;
use super::file::RawTopic;
use super::values::{bounded_count, count};

/// The checked `[topics.NAME]` tables.
pub(super) struct Topics {
    /// By name; without the dead-letter topics, which the engine adds.
    pub(super) specs: BTreeMap<String, Topic>,
    /// The declared topics and the dead-letter topics of the at-least-once ones (and of those
    /// with a mistake), sorted.
    pub(super) names: Vec<String>,
    /// Each at-least-once topic to its dead-letter topic (written at the topic's name): the
    /// edges of the event graph that topics add.
    pub(super) dead_letters: BTreeMap<String, Vec<Spanned<String>>>,
}

/// Checks every `[topics.NAME]` table, in name order, reporting each one's first mistake;
/// `services` are the services' names, sorted. A topic with a mistake is left out of the
/// specs but keeps its name, and the name its dead-letter topic would have, so that nothing
/// referring to them is reported as well.
pub(super) fn check_topics(
    source: &Source<'_>,
    services: &[&str],
    raw_topics: BTreeMap<Spanned<String>, Option<Spanned<RawTopic>>>,
) -> Topics {
    let declared: Vec<&str> = raw_topics.keys().map(|k| k.get_ref().as_str()).collect();
    let mut topics = Topics {
        specs: BTreeMap::new(),
        names: Vec::new(),
        dead_letters: BTreeMap::new(),
    };
    for (name, topic) in &raw_topics {
        let dead_letter = format!("{}.dead-letter", name.get_ref());
        topics.names.push(name.get_ref().clone());
        let spec = topic.as_ref().and_then(|topic| {
            source.ok(check_topic(
                source,
                name,
                services,
                &declared,
                topic.get_ref(),
            ))
        });
        let Some(spec) = spec else {
            topics.names.push(dead_letter);
            continue;
        };
        if let Delivery::AtLeastOnce { .. } = spec.delivery() {
            topics.dead_letters.insert(
                name.get_ref().clone(),
                vec![Spanned::new(name.span(), dead_letter.clone())],
            );
            topics.names.push(dead_letter);
        }
        topics.specs.insert(name.get_ref().clone(), spec);
    }
    topics.names.sort();
    topics.names.dedup();
    topics
}

/// Checks one `[topics.NAME]` table (its name against the services and the other topics).
fn check_topic(
    source: &Source<'_>,
    name: &Spanned<String>,
    services: &[&str],
    declared: &[&str],
    raw: &RawTopic,
) -> Result<Topic, ScenarioError> {
    let topic_name = name.get_ref().as_str();
    if topic_name.is_empty() {
        return Err(source.error(name.span(), "a topic name must not be empty"));
    }
    if topic_name == CLIENT {
        return Err(source.error(
            name.span(),
            "\"client\" is reserved: it is where workload requests come from",
        ));
    }
    if services.binary_search(&topic_name).is_ok() {
        return Err(source.error(
            name.span(),
            format!(
                "topic {topic_name:?} has the name of a service: services and topics share one \
                 namespace"
            ),
        ));
    }
    let at_least_once = match &raw.delivery {
        None => false,
        Some(delivery) => match delivery.get_ref().as_str() {
            "at_most_once" => false,
            "at_least_once" => true,
            other => {
                let hint = closest(other, ["at_most_once", "at_least_once"])
                    .map(|c| format!("did you mean {c:?}?"))
                    .unwrap_or_else(|| {
                        "expected \"at_most_once\" or \"at_least_once\"".to_string()
                    });
                return Err(source.error(
                    delivery.span(),
                    format!("unknown delivery {other:?}; {hint}"),
                ));
            }
        },
    };
    let mut topic = if at_least_once {
        let dead_letter = format!("{topic_name}.dead-letter");
        let taken = if services.binary_search(&dead_letter.as_str()).is_ok() {
            Some("service")
        } else if declared.binary_search(&dead_letter.as_str()).is_ok() {
            Some("topic")
        } else {
            None
        };
        if let Some(taken) = taken {
            return Err(source.error(
                name.span(),
                format!(
                    "an at_least_once topic's dead-letter topic is named {dead_letter:?}, which \
                     is already a {taken}"
                ),
            ));
        }
        let ack_timeout = raw
            .ack_timeout
            .as_ref()
            .map_or(Topic::DEFAULT_ACK_TIMEOUT, |timeout| timeout.get_ref().0);
        let max_deliveries = match &raw.max_deliveries {
            None => Topic::DEFAULT_MAX_DELIVERIES,
            Some(max) => bounded_count(source, max, "max_deliveries", Topic::check_max_deliveries)?,
        };
        Topic::at_least_once(ack_timeout, max_deliveries)
    } else {
        for (key, span) in [
            ("ack_timeout", raw.ack_timeout.as_ref().map(Spanned::span)),
            (
                "max_deliveries",
                raw.max_deliveries.as_ref().map(Spanned::span),
            ),
        ] {
            if let Some(span) = span {
                return Err(source.error(
                    span,
                    format!(
                        "{key} applies only to at_least_once topics; add delivery = \
                         \"at_least_once\" (the default is at_most_once)"
                    ),
                ));
            }
        }
        Topic::at_most_once()
    };
    if let Some(latency) = &raw.broker_latency {
        topic = topic.with_broker_latency(latency.get_ref().clone());
    }
    let when_full = match &raw.when_full {
        None => WhenFull::Block,
        Some(when_full) => {
            if raw.capacity.is_none() {
                return Err(source.error(
                    when_full.span(),
                    "when_full applies only to a topic with a capacity: an unbounded topic is \
                     never full",
                ));
            }
            match when_full.get_ref().as_str() {
                "block" => WhenFull::Block,
                "reject" => WhenFull::Reject,
                other => {
                    let hint = closest(other, ["block", "reject"])
                        .map(|c| format!("did you mean {c:?}?"))
                        .unwrap_or_else(|| "expected \"block\" or \"reject\"".to_string());
                    return Err(source.error(
                        when_full.span(),
                        format!("unknown when_full {other:?}; {hint}"),
                    ));
                }
            }
        }
    };
    if let Some(capacity) = &raw.capacity {
        topic = topic.with_capacity(count(source, capacity, "capacity")?, when_full);
    }
    Ok(topic)
}
