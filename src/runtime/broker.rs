//! The broker behind a topic: a ractor actor that holds events, delivers them to subscribers,
//! waits for acknowledgements, redelivers, dead-letters, and counts.
//!
//! ```text
//!  publisher ──link──▶ broker actor ──(broker latency)──▶ subscriber service (a worker)
//!      ◀──confirm──┘     │  per subscriber: FIFO of waiting events (the lag),       │
//!                        │  at most `workers` in flight, one per key               │
//!                        ◀────────────── ack / nack / timeout ────────────────────┘
//! ```
//!
//! Each delivery runs as a small task: it waits the broker latency, hands the event to the
//! subscriber, waits for the handler's outcome (within the ack timeout for at-least-once
//! topics) and reports back to the actor with a message.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::oneshot;

use crate::distribution::Distribution;
use crate::error::{CallError, SimulationError};
use crate::message::{Envelope, RequestMeta};
use crate::metrics::LatencyHistogram;
use crate::node::NodeId;
use crate::random::SimRng;
use crate::report::timeline::{LagTimeline, LevelWindows, Windows};
use crate::report::{SubscriberCounts, SubscriberReport, TopicCounts, TopicReport};
use crate::runtime::engine::Engine;
use crate::runtime::handle::ServiceHandle;
use crate::runtime::handle::TopicHandle;
use crate::runtime::replica::{Answer, Responder};
use crate::runtime::service::Service;
use crate::runtime::settle::Settle;
use crate::topic::{Delivery, Event, Topic, WhenFull};

/// A service subscribed to a topic, type-erased over the service.
pub(crate) trait Subscriber<E: Event>: Send + Sync {
    fn name(&self) -> &str;
    /// The subscribing service's node (the client's if it is not running).
    fn node(&self) -> NodeId;
    /// Events handed out at once: the service's workers.
    fn prefetch(&self) -> usize;
    /// Hands `event` to the service; the outcome of its handler arrives on `reply`.
    fn deliver(
        &self,
        event: &E,
        meta: Envelope,
        settle: Option<Settle>,
        reply: oneshot::Sender<Answer<()>>,
    ) -> Result<(), CallError>;
}

pub(crate) struct ServiceSubscriber<S: Service, F> {
    pub(crate) service: ServiceHandle<S>,
    pub(crate) to_request: F,
}

impl<E, S, F> Subscriber<E> for ServiceSubscriber<S, F>
where
    E: Event,
    S: Service,
    F: Fn(&E) -> S::Request + Send + Sync,
{
    fn name(&self) -> &str {
        self.service.name()
    }

    fn node(&self) -> NodeId {
        self.service
            .running()
            .map_or(NodeId::CLIENT, |replicas| replicas.node())
    }

    fn prefetch(&self) -> usize {
        self.service
            .running()
            .map_or(1, |replicas| replicas.worker_count())
    }

    fn deliver(
        &self,
        event: &E,
        meta: Envelope,
        settle: Option<Settle>,
        reply: oneshot::Sender<Answer<()>>,
    ) -> Result<(), CallError> {
        let replicas = self.service.running()?;
        replicas.pick().submit(
            (self.to_request)(event),
            meta,
            settle,
            Responder::Event(reply),
        )
    }
}

/// What publishers hold: where the broker is.
pub(crate) struct BrokerLink<E: Event> {
    pub(crate) node: NodeId,
    pub(crate) actor: ActorRef<BrokerMsg<E>>,
}

/// Messages to a broker actor.
pub(crate) enum BrokerMsg<E: Event> {
    Publish {
        event: E,
        key: Option<u64>,
        meta: RequestMeta,
        settle: Option<Settle>,
        reply: Option<oneshot::Sender<Result<(), CallError>>>,
    },
    Outcome {
        subscriber: usize,
        event: u64,
        outcome: DeliveryOutcome,
    },
}

/// How one delivery ended, as its task saw it.
pub(crate) enum DeliveryOutcome {
    /// The handler finished: `Ok` acknowledges, `Err` is a negative acknowledgement.
    Handled(Result<(), CallError>),
    /// The handler panicked. At-least-once topics report it when the ack timeout passes.
    Crashed,
    /// The subscriber refused the event (its queue was full); no handler ran.
    Refused,
    /// At-least-once: no outcome within the ack timeout. The handler may still finish; a
    /// `Late` outcome follows then.
    TimedOut,
    /// The handler of a timed-out delivery finished (or crashed) after all.
    Late(Result<(), CallError>),
}

/// An event the broker still holds.
struct Held<E> {
    event: E,
    key: Option<u64>,
    meta: RequestMeta,
    published_at: Duration,
    /// Per subscriber: the settle token until the event is resolved for it.
    settles: Vec<Option<Settle>>,
    /// Subscribers for which it is not yet resolved.
    unresolved: usize,
}

#[derive(Default)]
struct SubscriberState {
    name: String,
    prefetch: usize,
    /// Events waiting at the broker, with the attempts made so far.
    waiting: VecDeque<(u64, u32)>,
    /// Events in flight to the subscriber: id -> the attempt number and the event's key. The
    /// key is kept here because a late acknowledgement may resolve the event, and drop it from
    /// the held events, while a redelivery is still in flight.
    in_flight: BTreeMap<u64, (u32, Option<u64>)>,
    keys_in_flight: BTreeSet<u64>,
    /// Per event: handler runs so far, deliveries whose handler may still run, and whether
    /// the event is resolved for this subscriber. Dropped once resolved with nothing live.
    tracks: BTreeMap<u64, Track>,
    counts: SubscriberCounts,
    latency: LatencyHistogram,
    lag: LagTracker,
}

#[derive(Default)]
struct Track {
    runs: u32,
    live: u32,
    resolved: bool,
    measured: bool,
}

/// Events waiting for one subscriber over time: maximum, time-weighted mean, and the same
/// window by window for the report's timeline.
#[derive(Default)]
struct LagTracker {
    current: u64,
    since: Duration,
    weighted: u128,
    max: u64,
    windows: LevelWindows,
}

impl LagTracker {
    fn new(windows: Windows) -> Self {
        LagTracker {
            windows: LevelWindows::new(windows),
            ..LagTracker::default()
        }
    }

    fn set(&mut self, lag: u64, now: Duration) {
        self.weighted += u128::from(self.current) * (now.saturating_sub(self.since)).as_nanos();
        self.since = now;
        self.current = lag;
        self.max = self.max.max(lag);
        self.windows.set(crate::nanos::saturating_u64(now), lag);
    }

    fn mean(&self, end: Duration) -> f64 {
        let total =
            self.weighted + u128::from(self.current) * end.saturating_sub(self.since).as_nanos();
        if end.is_zero() {
            0.0
        } else {
            total as f64 / end.as_nanos() as f64
        }
    }
}

struct BrokerState<E: Event> {
    name: String,
    node: NodeId,
    topic: Topic,
    engine: Arc<Engine>,
    rng: SimRng,
    held: BTreeMap<u64, Held<E>>,
    next_event: u64,
    subscribers: Vec<SubscriberState>,
    handles: Vec<Arc<dyn Subscriber<E>>>,
    blocked: VecDeque<BrokerMsg<E>>,
    dead_letter: Option<Arc<BrokerLink<E>>>,
    counts: TopicCounts,
    measured_from: Duration,
}

struct Broker<E: Event> {
    state: Arc<Mutex<BrokerState<E>>>,
}

impl<E: Event> Actor for Broker<E> {
    type Msg = BrokerMsg<E>;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<BrokerMsg<E>>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<BrokerMsg<E>>,
        message: BrokerMsg<E>,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match message {
            publish @ BrokerMsg::Publish { .. } => state.publish(publish, &myself),
            BrokerMsg::Outcome {
                subscriber,
                event,
                outcome,
            } => state.outcome(subscriber, event, outcome, &myself),
        }
        Ok(())
    }
}

impl<E: Event> BrokerState<E> {
    fn now(&self) -> Duration {
        self.engine.clock.now()
    }

    fn measured(&self, published_at: Duration) -> bool {
        published_at >= self.measured_from
    }

    fn publish(&mut self, message: BrokerMsg<E>, myself: &ActorRef<BrokerMsg<E>>) {
        let full = self
            .topic
            .capacity
            .is_some_and(|capacity| self.held.len() >= capacity);
        if full {
            match self.topic.when_full {
                WhenFull::Block => self.blocked.push_back(message),
                WhenFull::Reject => {
                    if let BrokerMsg::Publish { reply, meta, .. } = message {
                        if self.measured(meta.sent_at) {
                            self.counts.rejected += 1;
                        }
                        if let Some(reply) = reply {
                            let _ = reply.send(Err(CallError::TopicFull {
                                topic: self.name.clone(),
                                capacity: self.topic.capacity.unwrap_or(0),
                            }));
                        }
                    }
                }
            }
            return;
        }
        let BrokerMsg::Publish {
            event,
            key,
            meta,
            settle,
            reply,
        } = message
        else {
            return;
        };
        let now = self.now();
        if let Some(reply) = reply {
            let _ = reply.send(Ok(()));
        }
        if self.measured(now) {
            self.counts.published += 1;
        }
        let id = self.next_event;
        self.next_event += 1;
        let subscribers = self.subscribers.len();
        if subscribers == 0 {
            // Nobody listens: the event is published and gone, as on a real broker.
            return;
        }
        let settles = (0..subscribers)
            .map(|_| settle.as_ref().map(Settle::fork))
            .collect();
        drop(settle);
        self.held.insert(
            id,
            Held {
                event,
                key,
                meta,
                published_at: now,
                settles,
                unresolved: subscribers,
            },
        );
        for index in 0..subscribers {
            self.subscribers[index].waiting.push_back((id, 0));
            self.pump(index, myself);
        }
    }

    /// Hands waiting events to subscriber `index` while it has room, in order, one per key.
    fn pump(&mut self, index: usize, myself: &ActorRef<BrokerMsg<E>>) {
        let now = self.now();
        let mut skipped_keys = BTreeSet::new();
        let mut position = 0;
        while self.subscribers[index].in_flight.len() < self.subscribers[index].prefetch
            && position < self.subscribers[index].waiting.len()
        {
            let (id, attempts) = self.subscribers[index].waiting[position];
            let Some(held) = self.held.get(&id) else {
                self.subscribers[index].waiting.remove(position);
                continue;
            };
            if let Some(key) = held.key {
                let subscriber = &self.subscribers[index];
                if subscriber.keys_in_flight.contains(&key) || skipped_keys.contains(&key) {
                    // An earlier event with this key is in flight or waiting: keep order.
                    skipped_keys.insert(key);
                    position += 1;
                    continue;
                }
            }
            self.subscribers[index].waiting.remove(position);
            self.start_delivery(index, id, attempts + 1, myself);
        }
        let lag = self.subscribers[index].waiting.len() as u64;
        self.subscribers[index].lag.set(lag, now);
    }

    fn start_delivery(
        &mut self,
        index: usize,
        id: u64,
        attempt: u32,
        myself: &ActorRef<BrokerMsg<E>>,
    ) {
        let Some(held) = self.held.get(&id) else {
            return;
        };
        let subscriber = &mut self.subscribers[index];
        subscriber.in_flight.insert(id, (attempt, held.key));
        let track = subscriber.tracks.entry(id).or_default();
        track.live += 1;
        track.measured = held.published_at >= self.measured_from;
        if let Some(key) = held.key {
            subscriber.keys_in_flight.insert(key);
        }
        if self.measured(held.published_at) {
            self.counts.delivered += 1;
            if attempt > 1 {
                self.counts.redelivered += 1;
            }
        }
        let latency = sample(&self.topic.broker_latency, &mut self.rng);
        let event = held.event.clone();
        let mut meta = held.meta.clone();
        // Nobody waits for an event's handling: its calls get their own timeouts only.
        meta.deadline = Duration::MAX;
        // Traced, each delivery is a request of its own, caused by the publish.
        let traced = self.engine.tracer.is_some().then(|| {
            let publish = meta.id;
            meta.id = self.engine.next_request_id();
            meta.trace.parent = Some(publish);
            (
                crate::runtime::engine::SpanIds::of(&meta),
                crate::trace::collector::client_span(publish.0),
                crate::nanos::saturating_u64(self.engine.clock.now()),
                self.node,
                self.handles[index].node(),
            )
        });
        let settle = held.settles[index].as_ref().map(Settle::fork);
        let ack_timeout = match self.topic.delivery {
            Delivery::AtLeastOnce { ack_timeout, .. } => Some(ack_timeout),
            Delivery::AtMostOnce => None,
        };
        let handle = Arc::clone(&self.handles[index]);
        let engine = Arc::clone(&self.engine);
        let broker = myself.clone();
        let meta = Envelope::from(meta);
        tokio::spawn(async move {
            let clock = &engine.clock;
            clock.sleep(latency).await;
            let (reply, outcome) = oneshot::channel();
            let report = |outcome: DeliveryOutcome| {
                if let Some((ids, publish, start, topic, subscriber)) = traced {
                    engine.trace_delivery(ids, publish, start, topic, subscriber, &outcome);
                }
                let _ = broker.cast(BrokerMsg::Outcome {
                    subscriber: index,
                    event: id,
                    outcome,
                });
            };
            if handle.deliver(&event, meta, settle, reply).is_err() {
                report(DeliveryOutcome::Refused);
                return;
            }
            let Some(ack_timeout) = ack_timeout else {
                match outcome.await {
                    Ok(result) => report(DeliveryOutcome::Handled(result.map_err(|e| *e))),
                    Err(_) => report(DeliveryOutcome::Crashed),
                }
                return;
            };
            let deadline = clock.now().saturating_add(ack_timeout);
            let mut outcome = std::pin::pin!(outcome);
            match clock.timeout_at(deadline, outcome.as_mut()).await {
                Ok(Ok(result)) => report(DeliveryOutcome::Handled(result.map_err(|e| *e))),
                Ok(Err(_)) => {
                    // The handler crashed: no acknowledgement will come, and the broker
                    // only notices when the ack timeout passes.
                    clock.sleep_until(deadline).await;
                    report(DeliveryOutcome::Crashed);
                }
                Err(_) => {
                    report(DeliveryOutcome::TimedOut);
                    let late = match outcome.await {
                        Ok(late) => late.map_err(|error| *error),
                        Err(_) => Err(CallError::Crashed {
                            service: handle.name().to_string(),
                        }),
                    };
                    report(DeliveryOutcome::Late(late));
                }
            }
        });
    }

    fn outcome(
        &mut self,
        index: usize,
        id: u64,
        outcome: DeliveryOutcome,
        myself: &ActorRef<BrokerMsg<E>>,
    ) {
        let now = self.now();
        let at_least_once = matches!(self.topic.delivery, Delivery::AtLeastOnce { .. });
        match outcome {
            DeliveryOutcome::Late(result) => {
                // A timed-out delivery's handler ended after all: it ran, and its success
                // acknowledges the event unless another delivery did first.
                self.count_run(index, id);
                let track = self.track(index, id);
                track.live = track.live.saturating_sub(1);
                if result.is_ok() && !self.track(index, id).resolved {
                    self.subscribers[index]
                        .waiting
                        .retain(|(waiting, _)| *waiting != id);
                    self.acknowledge(index, id, now);
                }
            }
            outcome => {
                let Some((attempt, key)) = self.subscribers[index].in_flight.remove(&id) else {
                    return;
                };
                if let Some(key) = key {
                    self.subscribers[index].keys_in_flight.remove(&key);
                }
                let ran = matches!(
                    outcome,
                    DeliveryOutcome::Handled(_) | DeliveryOutcome::Crashed
                );
                if ran {
                    self.count_run(index, id);
                }
                if !matches!(outcome, DeliveryOutcome::TimedOut) {
                    let track = self.track(index, id);
                    track.live = track.live.saturating_sub(1);
                }
                if self.track(index, id).resolved {
                    // Acknowledged meanwhile by a late outcome: nothing more to decide.
                } else if matches!(outcome, DeliveryOutcome::Handled(Ok(()))) {
                    self.acknowledge(index, id, now);
                } else if !at_least_once {
                    // At most once: delivered once, and its handler did not succeed.
                    self.resolve(index, id, Resolution::Lost);
                } else {
                    let max = match self.topic.delivery {
                        Delivery::AtLeastOnce { max_deliveries, .. } => max_deliveries,
                        Delivery::AtMostOnce => 1,
                    };
                    if attempt >= max {
                        self.resolve(index, id, Resolution::DeadLettered);
                    } else {
                        // Redeliver before newer events: it keeps per-key order.
                        self.subscribers[index].waiting.push_front((id, attempt));
                    }
                }
            }
        }
        self.forget_if_done(index, id);
        self.pump(index, myself);
        self.admit_blocked(myself);
    }

    fn track(&mut self, index: usize, id: u64) -> &mut Track {
        self.subscribers[index].tracks.entry(id).or_default()
    }

    fn forget_if_done(&mut self, index: usize, id: u64) {
        let tracks = &mut self.subscribers[index].tracks;
        if tracks
            .get(&id)
            .is_some_and(|track| track.resolved && track.live == 0)
        {
            tracks.remove(&id);
        }
    }

    /// A handler run of event `id` for subscriber `index`: a duplicate if not the first.
    fn count_run(&mut self, index: usize, id: u64) {
        let track = self.track(index, id);
        track.runs += 1;
        if track.runs > 1 && track.measured {
            self.counts.duplicates += 1;
        }
    }

    fn acknowledge(&mut self, index: usize, id: u64, now: Duration) {
        if let Some(held) = self.held.get(&id)
            && held.published_at >= self.measured_from
        {
            let subscriber = &mut self.subscribers[index];
            subscriber.counts.handled += 1;
            subscriber
                .latency
                .record(now.saturating_sub(held.published_at));
        }
        self.resolve(index, id, Resolution::Acknowledged);
    }

    fn resolve(&mut self, index: usize, id: u64, resolution: Resolution) {
        self.track(index, id).resolved = true;
        let Some(held) = self.held.get_mut(&id) else {
            return;
        };
        let measured = held.published_at >= self.measured_from;
        let settle = held.settles[index].take();
        held.unresolved -= 1;
        match resolution {
            Resolution::Acknowledged => {}
            Resolution::Lost => {
                if measured {
                    self.counts.lost += 1;
                    self.subscribers[index].counts.lost += 1;
                }
            }
            Resolution::DeadLettered => {
                if measured {
                    self.counts.dead_lettered += 1;
                    self.subscribers[index].counts.dead_lettered += 1;
                }
                if let Some(dead_letter) = &self.dead_letter {
                    let _ = dead_letter.actor.cast(BrokerMsg::Publish {
                        event: held.event.clone(),
                        key: held.key,
                        meta: held.meta.clone(),
                        settle: settle.as_ref().map(Settle::fork),
                        reply: None,
                    });
                }
            }
        }
        drop(settle);
        if held.unresolved == 0 {
            self.held.remove(&id);
        }
    }

    /// Lets blocked publishers in while there is room.
    fn admit_blocked(&mut self, myself: &ActorRef<BrokerMsg<E>>) {
        while let Some(capacity) = self.topic.capacity {
            if self.held.len() >= capacity {
                return;
            }
            let Some(message) = self.blocked.pop_front() else {
                return;
            };
            self.publish(message, myself);
        }
    }

    fn report(&self, end: Duration) -> TopicReport {
        TopicReport {
            delivery: self.topic.delivery.clone(),
            counts: self.counts,
            subscribers: self
                .subscribers
                .iter()
                .map(|subscriber| {
                    (
                        subscriber.name.clone(),
                        SubscriberReport {
                            counts: subscriber.counts,
                            latency_ms: subscriber.latency.summary(),
                            lag_max: subscriber.lag.max,
                            lag_mean: subscriber.lag.mean(end),
                        },
                    )
                })
                .collect(),
        }
    }
}

enum Resolution {
    Acknowledged,
    Lost,
    DeadLettered,
}

fn sample(distribution: &Distribution, rng: &mut SimRng) -> Duration {
    if distribution.is_zero() {
        Duration::ZERO
    } else {
        distribution.sample(rng)
    }
}

/// A started topic, for the report and the shutdown.
pub(crate) trait RunningTopic {
    fn name(&self) -> &str;
    fn report(&self, end: Duration) -> TopicReport;
    /// Each subscriber's lag, window by window.
    fn timeline(&self) -> BTreeMap<String, LagTimeline>;
    fn shutdown(&self);
}

struct RunningBroker<E: Event> {
    name: String,
    state: Arc<Mutex<BrokerState<E>>>,
    actor: ActorRef<BrokerMsg<E>>,
}

impl<E: Event> RunningTopic for RunningBroker<E> {
    fn name(&self) -> &str {
        &self.name
    }

    fn report(&self, end: Duration) -> TopicReport {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .report(end)
    }

    fn timeline(&self) -> BTreeMap<String, LagTimeline> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .subscribers
            .iter()
            .map(|subscriber| (subscriber.name.clone(), subscriber.lag.windows.report()))
            .collect()
    }

    fn shutdown(&self) {
        self.actor.stop(None);
    }
}

/// Starts the broker of `handle` (after every service has started).
pub(crate) async fn start<E: Event>(
    handle: &TopicHandle<E>,
    topic: Topic,
    node: NodeId,
    rng: SimRng,
    engine: Arc<Engine>,
) -> Result<Box<dyn RunningTopic>, SimulationError> {
    let handles: Vec<Arc<dyn Subscriber<E>>> = handle
        .shared
        .subscribers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let timing = engine.timing;
    let subscribers = handles
        .iter()
        .map(|subscriber| SubscriberState {
            name: subscriber.name().to_string(),
            prefetch: subscriber.prefetch().max(1),
            lag: LagTracker::new(timing.windows),
            ..SubscriberState::default()
        })
        .collect();
    let dead_letter = match handle.dead_letter() {
        Some(dead_letter) => Some(dead_letter.running().map_err(|_| SimulationError::Spawn {
            service: handle.name().to_string(),
            reason: "its dead-letter topic did not start first".into(),
        })?),
        None => None,
    };
    let state = Arc::new(Mutex::new(BrokerState {
        name: handle.name().to_string(),
        node,
        topic,
        engine,
        rng,
        held: BTreeMap::new(),
        next_event: 0,
        subscribers,
        handles,
        blocked: VecDeque::new(),
        dead_letter,
        counts: TopicCounts::default(),
        measured_from: timing.warmup,
    }));
    let (actor, _) = Actor::spawn(
        None,
        Broker {
            state: Arc::clone(&state),
        },
        (),
    )
    .await
    .map_err(|error| SimulationError::Spawn {
        service: handle.name().to_string(),
        reason: error.to_string(),
    })?;
    let _ = handle.shared.running.set(Arc::new(BrokerLink {
        node,
        actor: actor.clone(),
    }));
    Ok(Box::new(RunningBroker {
        name: handle.name().to_string(),
        state,
        actor,
    }))
}
