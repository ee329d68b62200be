//! Topics: event-driven communication through a broker.
//!
//! Instead of asking, a service *publishes* an event to a topic and carries on; the broker
//! delivers it to every subscribing service (fan-out), each of which handles it like a
//! request on one of its workers (a service with several workers is a consumer group: each
//! event goes to one of them). Publishing costs the publisher only the round trip to the
//! broker (the link from the service to the topic, there and back for the confirm); delivery
//! is asynchronous and takes the topic's broker latency.
//!
//! Delivery guarantees, per topic ([`Delivery`]):
//! - **at most once**: an event is acknowledged when it is handed to the subscriber; if the
//!   handler panics or fails, the event is lost (and counted);
//! - **at least once**: an event is acknowledged when its handler finishes successfully; a
//!   handler error is a negative acknowledgement (redelivered at once), and no answer within
//!   the ack timeout (a crash, a slow handler) means redelivery. After `max_deliveries`
//!   attempts the event goes to the topic's dead-letter topic, which can itself be subscribed
//!   to. A redelivered event may run its handler twice: duplicates are counted.
//!
//! Events published with a key ([`Context::publish_keyed`](crate::Context::publish_keyed))
//! are handled in publish order per key and subscriber, even by a consumer group: the broker
//! keeps at most one event per key in flight to each subscriber.
//!
//! The broker of each topic is a ractor actor. It hands each subscriber at most as many
//! events at once as the subscriber has workers (its prefetch); the rest wait at the broker
//! and are that subscriber's *lag*.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::distribution::Distribution;
use crate::error::{BuildError, FieldError, FieldPath};
use crate::rules;

/// Anything that can be published: cloned once per subscriber.
pub trait Event: Clone + Send + Sync + 'static {}

impl<T: Clone + Send + Sync + 'static> Event for T {}

/// When a topic acknowledges an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Delivery {
    /// Acknowledged on delivery; a failing handler loses the event.
    AtMostOnce,
    /// Acknowledged after the handler succeeds; redelivered otherwise, then dead-lettered.
    AtLeastOnce {
        /// How long the broker waits for an acknowledgement before redelivering.
        #[serde(with = "crate::duration_format")]
        ack_timeout: Duration,
        /// Attempts before the event goes to the dead-letter topic (at least 1).
        max_deliveries: u32,
    },
}

/// What a full topic does with a new event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WhenFull {
    /// The publisher waits until there is room (backpressure), within its call timeout.
    #[default]
    Block,
    /// The publish fails at once with [`CallError::TopicFull`](crate::CallError::TopicFull).
    Reject,
}

/// A topic's settings.
///
/// ```
/// use std::time::Duration;
/// use microsim::{Distribution, Topic, WhenFull};
///
/// let orders = Topic::at_least_once(Duration::from_secs(1), 5)
///     .with_broker_latency(Distribution::exponential(Duration::from_micros(500)))
///     .with_capacity(10_000, WhenFull::Block);
/// # let _ = orders;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Topic {
    pub(crate) delivery: Delivery,
    pub(crate) broker_latency: Distribution,
    pub(crate) capacity: Option<usize>,
    pub(crate) when_full: WhenFull,
}

impl Topic {
    /// At-most-once delivery, zero broker latency, unbounded.
    pub fn at_most_once() -> Self {
        Topic {
            delivery: Delivery::AtMostOnce,
            broker_latency: Distribution::ZERO,
            capacity: None,
            when_full: WhenFull::Block,
        }
    }

    /// The ack timeout of an at-least-once topic that does not set one: 30 s.
    pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(30);

    /// The deliveries of an event before it is dead-lettered, when a topic does not set them:
    /// 5.
    pub const DEFAULT_MAX_DELIVERIES: u32 = 5;
    /// The most deliveries an at-least-once topic may attempt: 1,000, as Amazon SQS's
    /// `maxReceiveCount`.
    pub const MAX_DELIVERIES: u32 = 1_000;

    /// The rule of `max_deliveries`, for any count a front end reads (a file's may be far
    /// beyond a `u32`): at least 1, at most [`MAX_DELIVERIES`](Self::MAX_DELIVERIES).
    pub(crate) fn check_max_deliveries(
        max_deliveries: u64,
    ) -> Result<(), crate::error::FieldError> {
        rules::at_least("max_deliveries", max_deliveries, 1)?;
        rules::at_most(
            "max_deliveries",
            max_deliveries,
            u64::from(Topic::MAX_DELIVERIES),
            "the most a queue such as SQS allows before dead-lettering",
        )
    }

    /// At-least-once delivery: redelivered when not acknowledged within `ack_timeout`, sent
    /// to the dead-letter topic after `max_deliveries` attempts.
    pub fn at_least_once(ack_timeout: Duration, max_deliveries: u32) -> Self {
        Topic {
            delivery: Delivery::AtLeastOnce {
                ack_timeout,
                max_deliveries,
            },
            ..Topic::at_most_once()
        }
    }

    /// Time from publish to delivery, drawn per delivery.
    pub fn with_broker_latency(mut self, latency: Distribution) -> Self {
        self.broker_latency = latency;
        self
    }

    /// Holds at most `capacity` events not yet handled by every subscriber; a publish to a
    /// full topic blocks or is rejected.
    pub fn with_capacity(mut self, capacity: usize, when_full: WhenFull) -> Self {
        self.capacity = Some(capacity);
        self.when_full = when_full;
        self
    }

    /// The delivery guarantee.
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// The topic's rules, each error naming its scenario-file key (`ack_timeout`,
    /// `max_deliveries`, `capacity`, `broker_latency`).
    pub(crate) fn validate(&self, name: &str) -> Result<(), BuildError> {
        let invalid = |error: FieldError| BuildError::InvalidTopic {
            topic: name.to_string(),
            field: error.field,
            reason: error.reason,
        };
        if let Delivery::AtLeastOnce {
            ack_timeout,
            max_deliveries,
        } = self.delivery
        {
            rules::positive_duration("ack_timeout", ack_timeout).map_err(invalid)?;
            Topic::check_max_deliveries(u64::from(max_deliveries)).map_err(invalid)?;
        }
        if let Some(capacity) = self.capacity {
            rules::at_least("capacity", capacity, 1).map_err(invalid)?;
        }
        self.broker_latency
            .validate()
            .map_err(|source| BuildError::InvalidDistribution {
                location: format!("topic {name}"),
                field: FieldPath::key("broker_latency"),
                source,
            })
    }
}
