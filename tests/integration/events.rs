//! Events: publish, fan-out, consumer groups, delivery guarantees, ordering, settled latency.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use microsim::{
    BuildError, Capacity, Context, Distribution, Service, ServiceError, Simulation, Topic,
    TopicHandle, Workload,
};

use crate::support::{ms, us};

/// An order event: which order, and its sequence number within its customer (the key).
#[derive(Clone, Debug)]
struct OrderPlaced {
    customer: u64,
    sequence: u64,
}

/// Answers each request after publishing one event (customers round robin over `customers`).
struct Shop {
    orders: TopicHandle<OrderPlaced>,
    work: Duration,
    customers: u64,
    keyed: bool,
}

impl Service for Shop {
    type Request = ();
    type Response = ();
    /// Orders placed so far.
    type State = u64;

    fn init_state(&self) -> u64 {
        0
    }

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work_for(self.work).await;
        let n = ctx.with_state(|placed| {
            *placed += 1;
            *placed
        });
        let event = OrderPlaced {
            customer: n % self.customers,
            sequence: n / self.customers,
        };
        if self.keyed {
            ctx.publish_keyed(&self.orders, event.customer, event)
                .await?;
        } else {
            ctx.publish(&self.orders, event).await?;
        }
        Ok(())
    }
}

/// Handles order events; optionally panics on every `crash_every`-th handling; records the
/// order in which each customer's events finished.
struct Consumer {
    work: Distribution,
    crash_every: Option<u64>,
    /// (customer, sequence) of each event whose handling finished, in finishing order.
    finished: Arc<Mutex<Vec<(u64, u64)>>>,
}

impl Consumer {
    fn new(work: Distribution, crash_every: Option<u64>) -> Self {
        Consumer {
            work,
            crash_every,
            finished: Arc::default(),
        }
    }
}

#[derive(Default)]
struct ConsumerState {
    handlings: u64,
}

impl Service for Consumer {
    type Request = OrderPlaced;
    type Response = ();
    type State = ConsumerState;

    fn init_state(&self) -> ConsumerState {
        ConsumerState::default()
    }

    async fn handle(&self, ctx: &Context<Self>, order: OrderPlaced) -> Result<(), ServiceError> {
        ctx.work(&self.work).await;
        let n = ctx.with_state(|state| {
            state.handlings += 1;
            state.handlings
        });
        if self
            .crash_every
            .is_some_and(|every| n.is_multiple_of(every))
        {
            panic!(
                "consumer crashed while handling order {}/{}",
                order.customer, order.sequence
            );
        }
        self.finished
            .lock()
            .unwrap()
            .push((order.customer, order.sequence));
        Ok(())
    }
}

fn shop(
    sim: &mut Simulation,
    orders: &TopicHandle<OrderPlaced>,
    keyed: bool,
) -> microsim::ServiceHandle<Shop> {
    sim.add_service(
        "shop",
        Shop {
            orders: orders.clone(),
            work: us(100),
            customers: 5,
            keyed,
        },
        Capacity::workers(4),
    )
    .unwrap()
}

#[test]
fn every_subscriber_handles_every_event_exactly_once() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(2))
        .build()
        .unwrap();
    let orders = sim
        .add_topic::<OrderPlaced>(
            "orders",
            Topic::at_most_once().with_broker_latency(Distribution::exponential(us(200))),
        )
        .unwrap();
    let shop = shop(&mut sim, &orders, false);
    let names = ["billing", "shipping", "email", "analytics", "loyalty"];
    for name in names {
        let consumer = Consumer::new(Distribution::exponential(us(300)), None);
        let consumer = sim
            .add_service(name, consumer, Capacity::workers(2))
            .unwrap();
        sim.subscribe(&orders, &consumer, OrderPlaced::clone)
            .unwrap();
    }
    sim.add_workload("orders", &shop, Workload::poisson(500.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let topic = &report.topics["orders"];
    let placed = report.workloads["orders"].counts.completed;
    assert!(placed > 800, "{placed}");
    assert_eq!(topic.counts.published, placed);
    assert_eq!(topic.subscribers.len(), names.len());
    for name in names {
        let subscriber = &topic.subscribers[name];
        assert_eq!(subscriber.counts.handled, placed, "{name}");
        assert_eq!(report.services[name].counts.handled, placed, "{name}");
    }
    assert_eq!(topic.counts.delivered, placed * 5);
    assert_eq!(
        (
            topic.counts.redelivered,
            topic.counts.duplicates,
            topic.counts.lost,
            topic.counts.dead_lettered
        ),
        (0, 0, 0, 0)
    );
}

/// Runs the shop with one crashing consumer (every 4th handling panics) under `topic`.
fn crashing_consumer(topic: Topic) -> microsim::Report {
    let mut sim = Simulation::builder()
        .seed(9)
        .duration(Duration::from_secs(2))
        .build()
        .unwrap();
    let orders = sim.add_topic::<OrderPlaced>("orders", topic).unwrap();
    let shop = shop(&mut sim, &orders, false);
    let consumer = Consumer::new(Distribution::constant(us(500)), Some(4));
    let consumer = sim
        .add_service("billing", consumer, Capacity::workers(2))
        .unwrap();
    sim.subscribe(&orders, &consumer, OrderPlaced::clone)
        .unwrap();
    sim.add_workload("orders", &shop, Workload::poisson(400.0), |_| ())
        .unwrap();
    sim.run().unwrap()
}

#[test]
fn at_least_once_loses_nothing_when_a_consumer_crashes_and_counts_the_duplicates() {
    let report = crashing_consumer(Topic::at_least_once(ms(20), 10));
    let topic = &report.topics["orders"];
    let billing = &topic.subscribers["billing"];
    let panics = report.services["billing"].counts.panics;
    assert!(panics > 100, "{panics}");
    assert_eq!(topic.counts.lost, 0);
    // Nothing lost: every event was handled or dead-lettered.
    assert_eq!(
        billing.counts.handled + billing.counts.dead_lettered,
        topic.counts.published
    );
    // Each crash made the handler see its event once more.
    assert_eq!(topic.counts.duplicates, panics);
    assert_eq!(topic.counts.redelivered, panics);
    assert_eq!(
        topic.counts.delivered,
        topic.counts.published + topic.counts.redelivered
    );
}

#[test]
fn at_most_once_loses_the_events_whose_handler_crashed_and_says_how_many() {
    let report = crashing_consumer(Topic::at_most_once());
    let topic = &report.topics["orders"];
    let billing = &topic.subscribers["billing"];
    let panics = report.services["billing"].counts.panics;
    assert!(panics > 100, "{panics}");
    assert_eq!(topic.counts.lost, panics);
    assert_eq!(
        billing.counts.handled + topic.counts.lost,
        topic.counts.published
    );
    assert_eq!((topic.counts.redelivered, topic.counts.duplicates), (0, 0));
}

#[test]
fn events_that_fail_every_delivery_go_to_the_dead_letter_topic() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .build()
        .unwrap();
    let orders = sim
        .add_topic::<OrderPlaced>("orders", Topic::at_least_once(ms(10), 3))
        .unwrap();
    let dead_letters = orders
        .dead_letter()
        .expect("at-least-once topics have one")
        .clone();
    assert_eq!(dead_letters.name(), "orders.dead-letter");
    let shop = shop(&mut sim, &orders, false);
    // Crashes on every handling: no event can ever be acknowledged.
    let doomed = Consumer::new(Distribution::constant(us(100)), Some(1));
    let doomed = sim
        .add_service("doomed", doomed, Capacity::workers(1))
        .unwrap();
    sim.subscribe(&orders, &doomed, OrderPlaced::clone).unwrap();
    let inspector = Consumer::new(Distribution::constant(us(100)), None);
    let inspector = sim
        .add_service("inspector", inspector, Capacity::workers(1))
        .unwrap();
    sim.subscribe(&dead_letters, &inspector, OrderPlaced::clone)
        .unwrap();
    sim.add_workload("orders", &shop, Workload::constant_rate(20.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let topic = &report.topics["orders"];
    assert_eq!(topic.counts.published, 20);
    assert_eq!(topic.counts.dead_lettered, 20);
    assert_eq!(topic.counts.delivered, 60);
    assert_eq!(topic.counts.redelivered, 40);
    assert_eq!(report.services["doomed"].counts.panics, 60);
    let dead = &report.topics["orders.dead-letter"];
    assert_eq!(dead.counts.published, 20);
    assert_eq!(dead.subscribers["inspector"].counts.handled, 20);
}

/// Publishes orders of 5 customers to a consumer group of 4 workers with random processing
/// times, and returns how many events finished after a later event of their customer.
fn out_of_order_finishes(keyed: bool) -> usize {
    let mut sim = Simulation::builder()
        .seed(4)
        .duration(Duration::from_secs(2))
        .build()
        .unwrap();
    let orders = sim
        .add_topic::<OrderPlaced>("orders", Topic::at_least_once(Duration::from_secs(1), 5))
        .unwrap();
    let shop = shop(&mut sim, &orders, keyed);
    let consumer = Consumer::new(Distribution::exponential(ms(2)), None);
    let finished = Arc::clone(&consumer.finished);
    let consumer = sim
        .add_service("ledger", consumer, Capacity::workers(4))
        .unwrap();
    sim.subscribe(&orders, &consumer, OrderPlaced::clone)
        .unwrap();
    sim.add_workload("orders", &shop, Workload::poisson(1500.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let topic = &report.topics["orders"];
    assert_eq!(
        topic.subscribers["ledger"].counts.handled,
        topic.counts.published
    );
    let finished = finished.lock().unwrap();
    assert_eq!(finished.len() as u64, topic.counts.published);
    let mut latest = BTreeMap::new();
    finished
        .iter()
        .filter(|(customer, sequence)| {
            let previous = latest.insert(*customer, *sequence);
            previous.is_some_and(|previous| previous > *sequence)
        })
        .count()
}

#[test]
fn a_partition_key_keeps_each_customers_events_in_order_across_a_consumer_group() {
    assert_eq!(out_of_order_finishes(true), 0);
    // Without keys, four workers with random processing times do reorder events: the check
    // above can fail.
    let unordered = out_of_order_finishes(false);
    assert!(unordered > 50, "{unordered}");
}

/// Answers at once and publishes an event: the first hop of a two-hop chain.
struct Relay<E: microsim::Event> {
    work: Duration,
    next: Option<TopicHandle<E>>,
}

impl Service for Relay<()> {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work_for(self.work).await;
        if let Some(next) = &self.next {
            ctx.publish(next, ()).await?;
        }
        Ok(())
    }
}

/// order -> (orders topic) -> payment -> (payments topic) -> shipping, constant times.
#[test]
fn settled_latency_of_a_two_hop_event_chain_is_the_analytic_sum() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .build()
        .unwrap();
    let orders = sim
        .add_topic::<()>(
            "orders",
            Topic::at_least_once(Duration::from_secs(1), 3)
                .with_broker_latency(Distribution::constant(us(500))),
        )
        .unwrap();
    let payments = sim
        .add_topic::<()>(
            "payments",
            Topic::at_most_once().with_broker_latency(Distribution::constant(us(300))),
        )
        .unwrap();
    let order = Relay {
        work: ms(1),
        next: Some(orders.clone()),
    };
    let order = sim
        .add_service("order", order, Capacity::workers(1))
        .unwrap();
    let payment = Relay {
        work: ms(2),
        next: Some(payments.clone()),
    };
    let payment = sim
        .add_service("payment", payment, Capacity::workers(1))
        .unwrap();
    let shipping = Relay {
        work: ms(1),
        next: None,
    };
    let shipping = sim
        .add_service("shipping", shipping, Capacity::workers(1))
        .unwrap();
    sim.subscribe(&orders, &payment, |_| ()).unwrap();
    sim.subscribe(&payments, &shipping, |_| ()).unwrap();
    sim.add_link("order", "orders", Distribution::constant(us(100)))
        .unwrap();
    sim.add_link("payment", "payments", Distribution::constant(us(100)))
        .unwrap();
    // One order every 10 ms: no queueing anywhere.
    sim.add_workload("checkout", &order, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let checkout = &report.workloads["checkout"];
    assert_eq!(checkout.counts.completed, 100);
    // Response: 1 ms of work + the publish round trip to the broker (2 x 100 us).
    assert_eq!(checkout.latency_ms.max, 1.2);
    assert_eq!(checkout.latency_ms.p50, 1.2);
    // Settled: publish reaches the broker at 1.1 ms, delivered 500 us later (1.6), payment
    // works 2 ms (3.6) and publishes (broker at 3.7), delivered 300 us later (4.0), shipping
    // works 1 ms: 5.0 ms.
    assert_eq!(checkout.settled_ms.count, 100);
    assert_eq!(checkout.settled_ms.p50, 5.0);
    assert_eq!(checkout.settled_ms.max, 5.0);
    assert_eq!(checkout.settled_ms.mean, 5.0);
    // Publish to handled, per subscriber.
    // (payment's handling ends after its own publish round trip, at 3.8 ms: 2.7 ms after 1.1)
    assert_eq!(
        report.topics["orders"].subscribers["payment"]
            .latency_ms
            .max,
        2.7
    );
    assert_eq!(
        report.topics["payments"].subscribers["shipping"]
            .latency_ms
            .max,
        1.3
    );
}

#[test]
fn bad_topic_settings_are_errors_naming_the_topic() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .build()
        .unwrap();
    let error = sim
        .add_topic::<OrderPlaced>("orders", Topic::at_least_once(Duration::ZERO, 3))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "topic orders: ack_timeout must be greater than 0s"
    );
    let error = sim
        .add_topic::<OrderPlaced>("orders", Topic::at_least_once(ms(10), 0))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "topic orders: max_deliveries must be at least 1, got 0"
    );
    let mut other = Simulation::builder()
        .duration(Duration::from_secs(1))
        .build()
        .unwrap();
    let foreign = other
        .add_topic::<OrderPlaced>("orders", Topic::at_most_once())
        .unwrap();
    let consumer = Consumer::new(Distribution::ZERO, None);
    let consumer = sim
        .add_service("billing", consumer, Capacity::default())
        .unwrap();
    let error = sim
        .subscribe(&foreign, &consumer, OrderPlaced::clone)
        .unwrap_err();
    assert!(
        matches!(error, BuildError::InvalidSubscription { .. }),
        "{error}"
    );
}

/// A shop publishing 500 orders/s to a billing consumer that handles 100/s, through a topic
/// holding at most 5 events.
fn overloaded_topic(when_full: microsim::WhenFull) -> microsim::Report {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .call_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let orders = sim
        .add_topic::<OrderPlaced>("orders", Topic::at_most_once().with_capacity(5, when_full))
        .unwrap();
    let shop = shop(&mut sim, &orders, false);
    let billing = Consumer::new(Distribution::constant(ms(10)), None);
    let billing = sim
        .add_service("billing", billing, Capacity::workers(1))
        .unwrap();
    sim.subscribe(&orders, &billing, OrderPlaced::clone)
        .unwrap();
    sim.add_workload("orders", &shop, Workload::constant_rate(500.0), |_| ())
        .unwrap();
    sim.run().unwrap()
}

#[test]
fn a_full_topic_that_blocks_slows_its_publishers_and_loses_nothing() {
    let report = overloaded_topic(microsim::WhenFull::Block);
    let topic = &report.topics["orders"];
    let orders = &report.workloads["orders"];
    assert_eq!(orders.counts.failed, 0);
    assert_eq!(topic.counts.rejected, 0);
    assert_eq!(topic.counts.published, 500);
    assert_eq!(topic.subscribers["billing"].counts.handled, 500);
    // At most 5 held, one of them in flight: at most 4 wait.
    assert!(
        topic.subscribers["billing"].lag_max <= 4,
        "{:?}",
        topic.subscribers["billing"]
    );
    // Backpressure: publishers wait for room, so the shop's responses take as long as the
    // consumer needs -- 500 events at 10 ms each is 5 s of work for a 1 s burst.
    assert!(orders.latency_ms.max > 3000.0, "{:?}", orders.latency_ms);
    assert!(report.drained_seconds > 4.9, "{}", report.drained_seconds);
}

#[test]
fn a_full_topic_that_rejects_fails_the_publish() {
    let report = overloaded_topic(microsim::WhenFull::Reject);
    let topic = &report.topics["orders"];
    let orders = &report.workloads["orders"];
    assert!(topic.counts.rejected > 300, "{}", topic.counts.rejected);
    // Each rejected publish failed its shop request (the handler returned the error).
    assert_eq!(orders.counts.errors, topic.counts.rejected);
    assert_eq!(topic.counts.published + topic.counts.rejected, 500);
    assert_eq!(
        topic.subscribers["billing"].counts.handled,
        topic.counts.published
    );
    // Nobody waits: the shop answers in its 100 us of work plus the publish.
    assert!(orders.latency_ms.max < 1.0, "{:?}", orders.latency_ms);
}

#[test]
fn lag_grows_while_a_consumer_falls_behind() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(2))
        .build()
        .unwrap();
    let orders = sim
        .add_topic::<OrderPlaced>("orders", Topic::at_most_once())
        .unwrap();
    let shop = shop(&mut sim, &orders, false);
    // Handles 100/s; receives 150/s: the backlog grows by about 50 events a second.
    let billing = Consumer::new(Distribution::constant(ms(10)), None);
    let billing = sim
        .add_service("billing", billing, Capacity::workers(1))
        .unwrap();
    sim.subscribe(&orders, &billing, OrderPlaced::clone)
        .unwrap();
    sim.add_workload("orders", &shop, Workload::constant_rate(150.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let billing = &report.topics["orders"].subscribers["billing"];
    // 300 events, 200 handled by the end of the sending window: about 100 waiting.
    assert!((95..=101).contains(&billing.lag_max), "{billing:?}");
    // The timeline's lag: windows of 20 ms, each the lag's time-weighted mean and maximum.
    let timeline = &report.timeline.topics["orders"]["billing"];
    assert_eq!((timeline.mean.len(), timeline.max.len()), (100, 100));
    assert!(
        timeline.max.windows(2).all(|pair| pair[0] <= pair[1] + 1),
        "{timeline:?}"
    );
    // Half-way (1 s), about 50 waiting; the mean of a window lies within its range.
    assert!((45..=52).contains(&timeline.max[49]), "{timeline:?}");
    assert!(
        timeline.mean[49] <= timeline.max[49] as f64 && timeline.mean[49] >= 40.0,
        "{timeline:?}"
    );
    // The backlog grows as 50 t (150/s in, 100/s out): over [0, 2 s) its time-weighted mean
    // is 50, and every window reads its own level, not only those where it changed.
    let mean = timeline.mean.iter().sum::<f64>() / 100.0;
    assert!((47.0..=53.0).contains(&mean), "{mean}: {timeline:?}");
    assert!(
        timeline.mean[5..].iter().all(|&lag| lag > 0.0),
        "{timeline:?}"
    );
    // The drain handled everything.
    assert_eq!(billing.counts.handled, 300);
}

/// Keyed events on an at-least-once topic whose handler often outlasts the ack timeout: a
/// late acknowledgement resolves an event while its redelivery is still in flight. The key of
/// that redelivery must still be released when it ends, or every later event with the key
/// waits forever (the run used to stall).
#[test]
fn a_late_acknowledgement_releases_the_key_of_the_redelivery_in_flight() {
    let text = r#"
[simulation]
duration = "5s"

[topics.t]
delivery = "at_least_once"
ack_timeout = "10ms"

[services.front]
workers = 4
steps = [{ publish = "t", keys = 5 }]

[services.sub]
workers = 2
subscribes = ["t"]
work = { exponential = { mean = "5ms" } }

[workloads.w]
target = "front"
open = { rate = 100.0 }
"#;
    let scenario = microsim::scenario::Scenario::parse(text, "keys.toml").unwrap();
    for seed in 1..=3 {
        let report = scenario
            .to_simulation(Some(seed))
            .unwrap()
            .run()
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let topic = &report.topics["t"];
        let sub = &topic.subscribers["sub"];
        // Late acknowledgements happened (the case under test), and every event ended.
        assert!(
            topic.counts.redelivered > 0 && topic.counts.duplicates > 0,
            "seed {seed}"
        );
        assert_eq!(
            sub.counts.handled + sub.counts.dead_lettered + sub.counts.lost,
            topic.counts.published,
            "seed {seed}"
        );
    }
}
