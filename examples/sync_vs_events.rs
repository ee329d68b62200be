//! Example: one order flow, done with direct calls and with events, side by side.
//!
//! Shows:
//! - the same services, work distributions, link latencies and seed wired two ways:
//!   - **synchronous**: checkout calls payment (then shipping), inventory and email -- all
//!     three branches at once, with `tokio::join!` -- and answers when all have answered;
//!   - **event-driven**: checkout publishes `order-placed` (at least once, through a broker
//!     with its own latency) and answers at once; payment, inventory and email subscribe to
//!     it, and payment publishes `payment-done`, which shipping subscribes to;
//! - *response* latency (what the customer waits for) against *settled* latency (until the
//!   order has been paid, reserved, mailed and shipped): the same thing for direct calls, far
//!   apart for events, which answer sooner but finish later, by the broker hops;
//! - what happens at a higher rate: a synchronous checkout holds a worker for the whole flow
//!   and saturates (its bounded queue rejects orders), while the event-driven checkout holds
//!   one for its own work and the publish only, and the load waits at the broker instead
//!   (the subscribers' lag);
//! - reading topic figures from the report: `lag_max` per topic and subscriber.
//!
//! ```text
//! synchronous: checkout answers when every call has answered
//!
//!   client ──▶ checkout ──┬──▶ payment, then shipping
//!                         ├──▶ inventory
//!                         └──▶ email
//!
//! event-driven: checkout answers when the broker has the order
//!
//!   client ──▶ checkout ──▶ [order-placed] ──┬──▶ payment ──▶ [payment-done] ──▶ shipping
//!                                            ├──▶ inventory
//!                                            └──▶ email
//! ```
//!
//! Run it with `cargo run --release --example sync_vs_events`. Its standard output is the same
//! on every run; the wall-clock time goes to standard error.

use std::time::{Duration, Instant};

use microsim::{
    Capacity, Context, Distribution, Report, Service, ServiceError, ServiceHandle, Simulation,
    Topic, TopicHandle, Workload,
};

fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Seed of both versions: the same draws, service by service.
const SEED: u64 = 7;
/// Simulated duration of each run, seconds.
const DURATION_S: u64 = 60;
/// Warm-up, not counted, seconds.
const WARMUP_S: u64 = 5;
/// The two arrival rates compared, orders per second: one both versions sustain, one the
/// synchronous checkout cannot.
const RATES: [f64; 2] = [500.0, 1_600.0];

/// An order, as a request and as an event: its number.
type Order = u64;

/// A downstream step that spends a drawn time per order: inventory, email and shipping differ
/// only in their numbers.
struct Step {
    work: Distribution,
}

impl Service for Step {
    type Request = Order;
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: Order) -> Result<(), ServiceError> {
        ctx.work(&self.work).await;
        Ok(())
    }
}

/// Charges the order; when driven by events, publishes `payment-done` afterwards.
struct Payment {
    work: Distribution,
    done: Option<TopicHandle<Order>>,
}

impl Service for Payment {
    type Request = Order;
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, order: Order) -> Result<(), ServiceError> {
        ctx.work(&self.work).await;
        if let Some(done) = &self.done {
            ctx.publish(done, order).await?;
        }
        Ok(())
    }
}

/// How checkout hands the order on.
enum Flow {
    /// Calls every step and answers after all of them.
    Calls {
        payment: ServiceHandle<Payment>,
        inventory: ServiceHandle<Step>,
        email: ServiceHandle<Step>,
        shipping: ServiceHandle<Step>,
    },
    /// Publishes `order-placed` and answers.
    Events { placed: TopicHandle<Order> },
}

/// Validates the order, then hands it on.
struct Checkout {
    work: Distribution,
    flow: Flow,
}

impl Service for Checkout {
    type Request = Order;
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, order: Order) -> Result<(), ServiceError> {
        ctx.work(&self.work).await;
        match &self.flow {
            Flow::Calls {
                payment,
                inventory,
                email,
                shipping,
            } => {
                let paid_then_shipped = async {
                    ctx.call(payment, order).await?;
                    ctx.call(shipping, order).await
                };
                let (shipped, reserved, mailed) = tokio::join!(
                    paid_then_shipped,
                    ctx.call(inventory, order),
                    ctx.call(email, order),
                );
                shipped?;
                reserved?;
                mailed?;
            }
            Flow::Events { placed } => ctx.publish(placed, order).await?,
        }
        Ok(())
    }
}

/// Which way the flow is wired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wiring {
    Synchronous,
    EventDriven,
}

/// Builds and runs the order flow, wired one way, under Poisson arrivals at `rate` per second.
fn run(wiring: Wiring, rate: f64) -> Result<Report, Box<dyn std::error::Error>> {
    let mut sim = Simulation::builder()
        .seed(SEED)
        .duration(Duration::from_secs(DURATION_S))
        .warmup(Duration::from_secs(WARMUP_S))
        // Inside the cluster, service to service and service to broker: 100-300 us per hop.
        .default_latency(Distribution::uniform(us(100), us(300)))
        .call_timeout(Duration::from_secs(2))
        .build()?;

    // Each at-least-once topic waits 1 s for an acknowledgement (well above any handling
    // here, so nothing is redelivered) and tries 5 times; the broker takes about 1 ms.
    let topic = || {
        Topic::at_least_once(Duration::from_secs(1), 5)
            .with_broker_latency(Distribution::lognormal(ms(1), us(300)))
    };
    let (placed, done) = match wiring {
        Wiring::Synchronous => (None, None),
        Wiring::EventDriven => (
            Some(sim.add_topic::<Order>("order-placed", topic())?),
            Some(sim.add_topic::<Order>("payment-done", topic())?),
        ),
    };

    let payment = sim.add_service(
        "payment",
        Payment {
            work: Distribution::lognormal(ms(3), ms(1)),
            done: done.clone(),
        },
        Capacity::workers(8).with_queue(200),
    )?;
    let inventory = sim.add_service(
        "inventory",
        Step {
            work: Distribution::exponential(ms(2)),
        },
        Capacity::workers(8).with_queue(200),
    )?;
    let email = sim.add_service(
        "email",
        Step {
            work: Distribution::uniform(us(500), us(1500)),
        },
        Capacity::workers(4).with_queue(200),
    )?;
    let shipping = sim.add_service(
        "shipping",
        Step {
            work: Distribution::uniform(us(500), us(1500)),
        },
        Capacity::workers(4).with_queue(200),
    )?;
    let flow = match &placed {
        None => Flow::Calls {
            payment: payment.clone(),
            inventory: inventory.clone(),
            email: email.clone(),
            shipping: shipping.clone(),
        },
        Some(placed) => Flow::Events {
            placed: placed.clone(),
        },
    };
    let checkout = sim.add_service(
        "checkout",
        Checkout {
            work: Distribution::normal(us(300), us(50)),
            flow,
        },
        // Eight workers: a synchronous checkout holds one for the whole flow.
        Capacity::workers(8).with_queue(200),
    )?;
    if let (Some(placed), Some(done)) = (&placed, &done) {
        sim.subscribe(placed, &payment, Order::clone)?;
        sim.subscribe(placed, &inventory, Order::clone)?;
        sim.subscribe(placed, &email, Order::clone)?;
        sim.subscribe(done, &shipping, Order::clone)?;
    }

    // The customer's connection to the store.
    sim.add_link(
        "client",
        "checkout",
        Distribution::uniform(us(500), us(1500)),
    )?;

    let mut orders: Order = 0;
    sim.add_workload("orders", &checkout, Workload::poisson(rate), move |_| {
        orders += 1;
        orders
    })?;
    Ok(sim.run()?)
}

/// One row of the table: a label and the figure of each version.
fn row(label: &str, synchronous: &str, event_driven: &str) {
    println!("  {label:<38} {synchronous:>12} {event_driven:>13}");
}

/// Prints both versions' figures at one rate, side by side.
fn compare(rate: f64, synchronous: &Report, event_driven: &Report) {
    let sync_orders = &synchronous.workloads["orders"];
    let event_orders = &event_driven.workloads["orders"];
    println!();
    row(
        &format!("at {rate:.0} orders/s"),
        "synchronous",
        "event-driven",
    );
    let latency = |label: &str, pick: fn(&microsim::report::WorkloadReport) -> f64| {
        row(
            label,
            &format!("{:.2}", pick(sync_orders)),
            &format!("{:.2}", pick(event_orders)),
        );
    };
    latency("response latency p50, ms", |w| w.latency_ms.p50);
    latency("response latency p99, ms", |w| w.latency_ms.p99);
    latency("settled latency p50, ms", |w| w.settled_ms.p50);
    latency("settled latency p99, ms", |w| w.settled_ms.p99);
    row(
        "throughput, orders/s",
        &format!("{:.1}", sync_orders.throughput_per_s),
        &format!("{:.1}", event_orders.throughput_per_s),
    );
    row(
        "failed orders",
        &sync_orders.counts.failed.to_string(),
        &event_orders.counts.failed.to_string(),
    );
    row(
        "checkout utilisation",
        &format!(
            "{:.0}%",
            100.0
                * synchronous.services["checkout"]
                    .utilization
                    .expect("a fixed number of workers")
        ),
        &format!(
            "{:.0}%",
            100.0
                * event_driven.services["checkout"]
                    .utilization
                    .expect("a fixed number of workers")
        ),
    );
    for (topic, figures) in &event_driven.topics {
        for (subscriber, lag) in &figures.subscribers {
            row(
                &format!("lag_max {topic} -> {subscriber}"),
                "-",
                &lag.lag_max.to_string(),
            );
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    println!("order flow: checkout -> payment (then shipping), inventory, email");
    println!(
        "seed {SEED}, {DURATION_S} s simulated ({WARMUP_S} s warm-up), Poisson arrivals; \
         latencies from intended send"
    );
    for rate in RATES {
        let synchronous = run(Wiring::Synchronous, rate)?;
        let event_driven = run(Wiring::EventDriven, rate)?;
        compare(rate, &synchronous, &event_driven);
    }
    println!();
    println!("response: until the customer has the answer; settled: until, in addition, every");
    println!("step the order causes is done. Direct calls answer when everything is done;");
    println!("events answer after checkout's own work and the publish, and finish later.");
    eprintln!(
        "{} runs in {:.2} s of wall time",
        2 * RATES.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
