//! The online store of the examples, shared by `store`, `store_compare` and `black_friday`
//! (and the tests): Online Boutique's services and numbers, with business state -- stock,
//! a payment ledger, orders, shipments -- and one checkout wired four ways ([`Variant`]).
//!
//! ```text
//!  client ──edge──▶ frontend-browse ──▶ catalog, then currency ‖ recommendation ‖ ad
//!  client ──edge──▶ frontend-checkout ──▶ checkout ──▶ cart, catalog + currency per item,
//!                                                      shipping quote + currency, then:
//!
//!  calls    checkout ──▶ inventory (reserve) ──▶ payment (charge) ──▶ shipping (ship)
//!                        ──▶ cart (empty) ··▶ email
//!  events   checkout ──▶ [orders] ──▶ inventory ──▶ [inventory-events] ──▶ payment
//!                        ──▶ [payment-events] ──▶ shipping ──▶ [shipping-events] ──▶ checkout ··▶ email
//!           (and back: a decline or a failed shipment makes inventory release, payment refund)
//!  hybrid   checkout ──▶ inventory (reserve) ──▶ payment (charge) ──▶ [orders] ──▶ shipping
//!                        ──▶ [shipping-events] ──▶ checkout ··▶ email
//! ```
//!
//! The numbers are those of `scenarios/store.toml`, which is the `calls` store written as a
//! scenario file (a test holds the two to the same figures).

#![allow(dead_code)]

pub mod books;
pub mod compare;
pub mod events;
pub mod services;

use std::time::Duration;

use microsim::policy::{CallPolicy, Retry};
use microsim::rand::RngExt;
use microsim::{
    BuildError, Capacity, Distribution, Fault, LogNormalStat, Script, Service, ServiceError,
    ServiceHandle, Simulation, Topic, Workload,
};

use books::{Order, PRODUCTS, SharedBooks};
use events::StoreEvent;
use services::{
    Checkout, CheckoutRequest, Dedup, Inventory, InventoryRequest, PaymentRequest, Payments, Peers,
    Shipping, ShippingRequest,
};

/// How the checkout is wired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Synchronous: checkout orchestrates a chain of calls, and answers when the order is
    /// shipped (or cancelled).
    Calls,
    /// Event-driven: checkout publishes "order placed" and answers at once; inventory,
    /// payment and shipping react to each other's events (choreography), compensating on
    /// failure.
    Events,
    /// Calls for what the customer waits for (stock, payment), events for the rest
    /// (shipping, and the mail after it).
    Hybrid,
    /// The hybrid store built naively: retried calls and redelivered events are applied
    /// as often as they arrive (no idempotency keys, no deduplication).
    Naive,
}

impl Variant {
    /// Every variant, in the order the comparison prints them.
    pub const ALL: [Variant; 4] = [
        Variant::Calls,
        Variant::Events,
        Variant::Hybrid,
        Variant::Naive,
    ];

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Calls => "calls",
            Variant::Events => "events",
            Variant::Hybrid => "hybrid",
            Variant::Naive => "naive",
        }
    }

    fn dedup(self) -> Dedup {
        match self {
            Variant::Naive => Dedup::None,
            _ => Dedup::ByOrder,
        }
    }
}

fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// How long a customer waits for the checkout's answer before giving up.
pub const CUSTOMER_TIMEOUT: Duration = Duration::from_secs(5);

/// The shares of orders of one, two and three lines (two on average, as in the scenario
/// file).
pub const LINES: [(u32, f64); 3] = [(1, 0.3), (2, 0.4), (3, 0.3)];

/// What to build.
#[derive(Clone, Debug)]
pub struct Options {
    pub variant: Variant,
    pub seed: u64,
    pub duration: Duration,
    pub warmup: Duration,
    /// The checkout load.
    pub checkout: Workload,
    /// Shoppers browsing product pages (0: none).
    pub browsers: usize,
    /// Faults to schedule (the comparison's: [`faults`]).
    pub faults: Vec<Fault>,
    /// Whether checkout retries its calls that change state, with timeouts (safe only with
    /// idempotent services).
    pub retries: bool,
    /// The stock of the limited edition at the start.
    pub limited_stock: i64,
    /// Queue bounds of every service, or unbounded queues.
    pub bounded_queues: bool,
}

impl Options {
    /// The store under the comparison's faults, with retries.
    pub fn under_faults(variant: Variant) -> Self {
        Options {
            faults: faults(),
            retries: true,
            ..Options::store(variant)
        }
    }

    /// The store of `scenarios/store.toml`: 60 orders per second, 2,000 shoppers, 60 s.
    pub fn store(variant: Variant) -> Self {
        Options {
            variant,
            seed: 7,
            duration: Duration::from_secs(60),
            warmup: Duration::from_secs(5),
            checkout: Workload::poisson(60.0),
            browsers: 2_000,
            faults: Vec::new(),
            retries: false,
            bounded_queues: true,
            limited_stock: 1_500,
        }
    }
}

/// The faults of the comparison, one after another in a 60 s run: the card processor
/// failing a fifth of the calls for 5 s, shipping crashing for a second, currency ten times
/// slower for 5 s, and a link to payment that loses 5% of messages for 5 s.
pub fn faults() -> Vec<Fault> {
    let s = Duration::from_secs;
    vec![
        Fault::fail("payment", 0.2).at(s(10)).lasting(s(5)),
        Fault::crash("shipping").at(s(25)).lasting(s(1)),
        Fault::slow("currency", 10.0).at(s(35)).lasting(s(5)),
        Fault::loss("checkout", "payment", 0.05)
            .at(s(45))
            .lasting(s(5)),
    ]
}

/// The topics and what each carries, in the books' names.
pub const TOPICS: [(&str, &[&str]); 4] = [
    ("orders", &["order placed", "order paid"]),
    (
        "inventory-events",
        &["stock reserved", "stock refused", "stock released"],
    ),
    (
        "payment-events",
        &["payment done", "payment declined", "refunded"],
    ),
    ("shipping-events", &["shipped", "shipping failed"]),
];

/// A built store: the simulation, ready to run, and its books, to read after the run.
pub struct Store {
    pub simulation: Simulation,
    pub books: SharedBooks,
}

/// Forwards an order from the internet to checkout.
pub struct Frontend {
    pub work: Distribution,
    pub checkout: ServiceHandle<Checkout>,
    pub books: SharedBooks,
}

impl Service for Frontend {
    type Request = Order;
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(
        &self,
        ctx: &microsim::Context<Self>,
        order: Order,
    ) -> Result<(), ServiceError> {
        let id = order.id;
        ctx.work(&self.work).await;
        let outcome = ctx
            .call(&self.checkout, CheckoutRequest::Place(order))
            .await
            .map_err(ServiceError::from);
        let sent_at = ctx.request().sent_at;
        let response = books::Response {
            order: id,
            sent_at,
            latency: ctx.now().saturating_sub(sent_at),
            ok: outcome.is_ok(),
        };
        self.books.with(|books| books.responses.push(response));
        outcome
    }
}

/// A capacity: `workers`, and `queue` waiting when queues are bounded.
fn capacity(workers: usize, queue: usize, bounded: bool) -> Capacity {
    if bounded {
        Capacity::workers(workers).with_queue(queue)
    } else {
        Capacity::workers(workers)
    }
}

/// Draws an order: one to three lines of distinct items, one or two of each.
fn draw_order(rng: &mut microsim::SimRng, id: u64) -> Order {
    let roll: f64 = rng.random();
    let mut cumulative = 0.0;
    let mut count = LINES[LINES.len() - 1].0;
    for (lines, share) in LINES {
        cumulative += share;
        if roll < cumulative {
            count = lines;
            break;
        }
    }
    let mut lines: Vec<(usize, u32)> = Vec::new();
    while lines.len() < count as usize {
        let item = rng.random_range(0..PRODUCTS.len());
        if lines.iter().all(|line| line.0 != item) {
            lines.push((item, rng.random_range(1..=2)));
        }
    }
    lines.sort_unstable();
    Order { id, lines }
}

/// Builds the store.
pub fn build(options: &Options) -> Result<Store, BuildError> {
    let variant = options.variant;
    let bounded = options.bounded_queues;
    let books = SharedBooks::new(options.limited_stock);
    let mut sim = Simulation::builder()
        .seed(options.seed)
        .duration(options.duration)
        .warmup(options.warmup)
        // Inside the cluster: 100-300 us per message.
        .default_latency(Distribution::uniform(us(100), us(300)))
        .call_timeout(Duration::from_secs(2))
        .build()?;

    // The backends that only take time, as in the scenario file.
    let script = |work: Distribution| Script::new().work(work);
    let cart = sim.add_service(
        "cart",
        script(Distribution::lognormal(us(400), us(200))),
        capacity(8, 200, bounded),
    )?;
    let catalog = sim.add_service(
        "catalog",
        script(Distribution::lognormal(us(300), us(150))),
        capacity(8, 200, bounded),
    )?;
    let currency = sim.add_service(
        "currency",
        script(Distribution::exponential(us(150))),
        capacity(8, 500, bounded),
    )?;
    let recommendation = sim.add_service(
        "recommendation",
        script(Distribution::lognormal(ms(2), ms(1))),
        capacity(8, 200, bounded),
    )?;
    let ad = sim.add_service(
        "ad",
        script(Distribution::uniform(us(200), us(800))),
        capacity(4, 100, bounded),
    )?;
    let email = sim.add_service(
        "email",
        script(Distribution::exponential(ms(1))),
        capacity(4, 100, bounded),
    )?;
    let browse = sim.add_service(
        "frontend-browse",
        Script::new()
            .work(Distribution::normal(us(300), us(80)))
            .call(&catalog)
            .parallel([
                Script::new().call(&currency),
                Script::new().call(&recommendation),
                Script::new().call(&ad),
            ]),
        capacity(64, 1000, bounded),
    )?;

    // The topics of the variant: each service publishes on its own.
    let mut topic = |name: &str| -> Result<_, BuildError> {
        let used = match variant {
            Variant::Calls => false,
            Variant::Events => true,
            Variant::Hybrid | Variant::Naive => matches!(name, "orders" | "shipping-events"),
        };
        if !used {
            return Ok(None);
        }
        let topic = Topic::at_least_once(Duration::from_millis(30), Topic::MAX_DELIVERIES)
            .with_broker_latency(Distribution::uniform(ms(1), ms(3)));
        sim.add_topic::<StoreEvent>(name, topic).map(Some)
    };
    let orders = topic("orders")?;
    let inventory_events = topic("inventory-events")?;
    let payment_events = topic("payment-events")?;
    let shipping_events = topic("shipping-events")?;

    let dedup = variant.dedup();
    let inventory = sim.add_service(
        "inventory",
        Inventory {
            // A database transaction.
            work: Distribution::lognormal(ms(1), us(500)),
            books: books.clone(),
            dedup,
            variant,
            events: inventory_events.clone(),
        },
        capacity(4, 200, bounded),
    )?;
    let payment = sim.add_service(
        "payment",
        Payments {
            work: Distribution::lognormal(ms(3), ms(2)),
            decline_rate: 0.02,
            books: books.clone(),
            dedup,
            variant,
            events: payment_events.clone(),
        },
        capacity(8, 100, bounded),
    )?;
    let shipping = sim.add_service(
        "shipping",
        Shipping {
            // The carrier's API: a millisecond mostly, with a long tail.
            work: Distribution::lognormal_fit(
                LogNormalStat::P50(ms(1)),
                LogNormalStat::P99(ms(20)),
            ),
            undeliverable_rate: 0.005,
            books: books.clone(),
            dedup,
            variant,
            events: shipping_events.clone(),
        },
        capacity(4, 100, bounded),
    )?;
    let me = sim.handle_to::<Checkout>("checkout")?;
    let checkout = sim.add_service(
        "checkout",
        Checkout {
            work: Distribution::constant(us(50)),
            confirm: Distribution::constant(us(30)),
            books: books.clone(),
            variant,
            peers: Peers {
                me,
                cart,
                catalog: catalog.clone(),
                currency: currency.clone(),
                email,
                inventory: inventory.clone(),
                payment: payment.clone(),
                shipping: shipping.clone(),
                orders: orders.clone(),
            },
        },
        capacity(16, 500, bounded),
    )?;
    let frontend = sim.add_service(
        "frontend-checkout",
        Frontend {
            work: Distribution::normal(us(200), us(50)),
            checkout: checkout.clone(),
            books: books.clone(),
        },
        capacity(32, 500, bounded),
    )?;

    // Who reacts to what.
    let mut subscriptions: Vec<(&str, &str)> = Vec::new();
    if let (Some(orders), Some(inventory_events), Some(payment_events), Some(shipping_events)) = (
        &orders,
        &inventory_events,
        &payment_events,
        &shipping_events,
    ) {
        // Events: a choreography.
        sim.subscribe(orders, &inventory, |e| InventoryRequest::Event(e.clone()))?;
        sim.subscribe(payment_events, &inventory, |e| {
            InventoryRequest::Event(e.clone())
        })?;
        sim.subscribe(shipping_events, &inventory, |e| {
            InventoryRequest::Event(e.clone())
        })?;
        sim.subscribe(inventory_events, &payment, |e| {
            PaymentRequest::Event(e.clone())
        })?;
        sim.subscribe(shipping_events, &payment, |e| {
            PaymentRequest::Event(e.clone())
        })?;
        sim.subscribe(payment_events, &shipping, |e| {
            ShippingRequest::Event(e.clone())
        })?;
        for topic in [inventory_events, payment_events, shipping_events] {
            sim.subscribe(topic, &checkout, |e| CheckoutRequest::Event(e.clone()))?;
        }
        subscriptions.extend([
            ("orders", "inventory"),
            ("payment-events", "inventory"),
            ("shipping-events", "inventory"),
            ("inventory-events", "payment"),
            ("shipping-events", "payment"),
            ("payment-events", "shipping"),
            ("inventory-events", "checkout"),
            ("payment-events", "checkout"),
            ("shipping-events", "checkout"),
        ]);
    } else if let (Some(orders), Some(shipping_events)) = (&orders, &shipping_events) {
        // Hybrid: shipping follows the paid order; checkout hears how it went.
        sim.subscribe(orders, &shipping, |e| ShippingRequest::Event(e.clone()))?;
        sim.subscribe(shipping_events, &checkout, |e| {
            CheckoutRequest::Event(e.clone())
        })?;
        subscriptions.extend([("orders", "shipping"), ("shipping-events", "checkout")]);
    }
    books.with(|books| {
        for (topic, kinds) in TOPICS {
            for kind in kinds {
                let subscribers = books.subscribers.entry(kind).or_default();
                for &(t, service) in &subscriptions {
                    if t == topic {
                        subscribers.push(service);
                    }
                }
            }
        }
    });

    // The internet edge: shoppers are 10-40 ms away.
    let edge = Distribution::lognormal(ms(20), ms(8));
    sim.add_link("client", "frontend-browse", edge.clone())?;
    sim.add_link("client", "frontend-checkout", edge)?;
    // Payment runs beside the card processor, in another zone: 1-2 ms each way.
    sim.add_link(
        "checkout",
        "payment",
        Distribution::lognormal(us(1500), us(500)),
    )?;

    if options.retries {
        // Calls that change state are retried: safe only with idempotent services.
        let retried =
            |timeout: Duration| CallPolicy::new().timeout(timeout).retry(Retry::attempts(3));
        sim.add_policy("checkout", "payment", retried(ms(100)))?;
        sim.add_policy("checkout", "inventory", retried(ms(200)))?;
        sim.add_policy("checkout", "shipping", retried(ms(200)))?;
    }
    for fault in &options.faults {
        sim.add_fault(fault.clone())?;
    }

    if options.browsers > 0 {
        sim.add_workload(
            "browse",
            &browse,
            Workload::closed(
                options.browsers,
                Distribution::uniform(Duration::from_secs(1), Duration::from_secs(10)),
            ),
            |_| (),
        )?;
    }
    let mut next = 0u64;
    sim.add_workload(
        "checkout",
        &frontend,
        options.checkout.clone().with_timeout(CUSTOMER_TIMEOUT),
        move |rng| {
            next += 1;
            draw_order(rng, next)
        },
    )?;

    for (name, _) in books.lock().invariants() {
        let books = books.clone();
        sim.add_invariant(name, move || {
            books
                .lock()
                .invariants()
                .into_iter()
                .find(|(invariant, _)| *invariant == name)
                .map(|(_, violations)| violations)
                .unwrap_or_default()
        })?;
    }
    Ok(Store {
        simulation: sim,
        books,
    })
}
