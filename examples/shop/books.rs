//! The store's business state -- stock, the payment ledger, orders and shipments -- and the
//! invariants checked on it at the end of every run.
//!
//! Each service writes only its own part (inventory the stock, payment the ledger, shipping
//! the shipments, checkout the orders), as each would own its database. The parts sit in
//! one [`Books`] behind a mutex shared with the code that builds the simulation, so that the
//! invariants can be read after the run. A handler holds the lock only between two waits:
//! every operation on the books is atomic, as a database transaction would be.
//!
//! Every change is written in the order's history, with the simulated time, so that a
//! violation can say what happened to the order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// An order's number, unique in a run.
pub type OrderId = u64;

/// One product of the catalog, by index in [`PRODUCTS`].
pub type Item = usize;

/// The catalog: name, and price in cents. The last is a limited edition, of which there is
/// little stock (see [`Books::new`]); of the others, plenty.
pub const PRODUCTS: [(&str, u64); 8] = [
    ("vintage camera", 8_999),
    ("city bike", 34_900),
    ("sunglasses", 1_999),
    ("tank top", 1_850),
    ("watch", 10_999),
    ("loafers", 8_990),
    ("hairdryer", 2_499),
    ("limited-edition mug", 1_450),
];

/// The stock of every item but the limited edition.
pub const STOCK: i64 = 1_000_000;

/// What a customer buys: lines of (item, quantity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// The order's number.
    pub id: OrderId,
    /// The lines, each item once.
    pub lines: Vec<(Item, u32)>,
}

impl Order {
    /// The price of the order, in cents.
    pub fn total_cents(&self) -> u64 {
        self.lines
            .iter()
            .map(|&(item, quantity)| PRODUCTS[item].1 * u64::from(quantity))
            .sum()
    }
}

/// Where an order is. `Completed` and `Cancelled` are terminal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderState {
    /// Taken; the saga is under way.
    Placed,
    /// Shipped and confirmed.
    Completed,
    /// Refused or failed, with every compensation done; the reason.
    Cancelled(String),
}

/// The orders table (the checkout's): each order's lines and state, and what its saga is
/// still waiting for.
#[derive(Clone, Debug)]
pub struct OrderRecord {
    pub order: Order,
    pub state: OrderState,
    pub placed_at: Duration,
    /// When the order reached its terminal state.
    pub ended_at: Option<Duration>,
    /// Compensations confirmed by events (event-driven variant): `"refund"`, `"release"`.
    pub confirmed: BTreeSet<&'static str>,
    /// Why the order failed and the compensations it needs before it is cancelled
    /// (event-driven variant).
    pub needs: Option<(String, BTreeSet<&'static str>)>,
}

/// One charge of the payment ledger.
#[derive(Clone, Debug)]
pub struct Charge {
    pub cents: u64,
    pub at: Duration,
    pub refunded_at: Option<Duration>,
}

/// The payment ledger: charges per order, and orders voided (refunded as a compensation),
/// which a late charge must not bill again.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    pub charges: BTreeMap<OrderId, Vec<Charge>>,
    pub voided: BTreeSet<OrderId>,
    /// Orders whose card was declined: declined again if asked again.
    pub declined: BTreeSet<OrderId>,
}

/// The inventory: stock per item, each order's reservation, and orders released.
#[derive(Clone, Debug)]
pub struct Inventory {
    pub stock: Vec<i64>,
    /// The least each item's stock has been.
    pub low_water: Vec<i64>,
    /// Reserved lines per order, while reserved.
    pub reserved: BTreeMap<OrderId, Vec<(Item, u32)>>,
    /// Orders whose reservation was released, or refused because the order was released
    /// first.
    pub released: BTreeSet<OrderId>,
    /// When an order was first refused for want of each item.
    pub sold_out_at: BTreeMap<Item, Duration>,
}

/// One shipment.
#[derive(Clone, Debug)]
pub struct Shipment {
    pub order: OrderId,
    pub lines: Vec<(Item, u32)>,
    pub at: Duration,
}

/// The shipping service's records.
#[derive(Clone, Debug, Default)]
pub struct Shipping {
    pub shipments: Vec<Shipment>,
    /// Orders whose shipment was cancelled before it left.
    pub cancelled: BTreeSet<OrderId>,
    /// Orders whose address could not be delivered to.
    pub undeliverable: BTreeSet<OrderId>,
}

/// The store's business state: every service's part, and every order's history.
#[derive(Debug)]
pub struct Books {
    pub orders: BTreeMap<OrderId, OrderRecord>,
    pub ledger: Ledger,
    pub inventory: Inventory,
    pub shipping: Shipping,
    /// What happened to each order, in order: "1.204381s payment: charged $89.99".
    pub history: BTreeMap<OrderId, Vec<String>>,
    /// Events published, by (order, event), and how many times.
    pub published: BTreeMap<(OrderId, &'static str), u32>,
    /// Which subscribers handled each (order, event) at least once.
    pub handled: BTreeMap<(OrderId, &'static str), BTreeSet<&'static str>>,
    /// The subscribers of each event, for the lost-event check.
    pub subscribers: BTreeMap<&'static str, Vec<&'static str>>,
    /// Compensations made: refunds and stock releases.
    pub compensations: u64,
    /// What each customer's checkout request got, as the frontend answered it: when the
    /// customer sent it, how long the frontend took to answer from then (the way back over
    /// the internet not included), and whether the answer was a success. Requests the
    /// frontend's own queue turned away are not here (the report counts them).
    pub responses: Vec<Response>,
}

/// One answer of the frontend to a checkout request (see [`Books::responses`]).
#[derive(Clone, Copy, Debug)]
pub struct Response {
    pub order: OrderId,
    pub sent_at: Duration,
    pub latency: Duration,
    pub ok: bool,
}

impl Books {
    /// The books at the start of a run: plenty of stock, `limited` of the limited edition.
    pub fn new(limited: i64) -> Self {
        let mut stock = vec![STOCK; PRODUCTS.len()];
        stock[PRODUCTS.len() - 1] = limited;
        Books {
            orders: BTreeMap::new(),
            ledger: Ledger::default(),
            inventory: Inventory {
                low_water: stock.clone(),
                stock,
                reserved: BTreeMap::new(),
                released: BTreeSet::new(),
                sold_out_at: BTreeMap::new(),
            },
            shipping: Shipping::default(),
            history: BTreeMap::new(),
            published: BTreeMap::new(),
            handled: BTreeMap::new(),
            subscribers: BTreeMap::new(),
            compensations: 0,
            responses: Vec::new(),
        }
    }
}

/// The books, shared by the services and whoever reads them after the run.
#[derive(Clone, Debug)]
pub struct SharedBooks(Arc<Mutex<Books>>);

impl SharedBooks {
    /// New books (see [`Books::new`]), to share.
    pub fn new(limited: i64) -> Self {
        SharedBooks(Arc::new(Mutex::new(Books::new(limited))))
    }

    /// Runs `f` on the books, as one transaction.
    pub fn with<R>(&self, f: impl FnOnce(&mut Books) -> R) -> R {
        f(&mut self.lock())
    }

    /// The books, locked.
    pub fn lock(&self) -> MutexGuard<'_, Books> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Dollars and cents.
pub fn dollars(cents: u64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

impl Books {
    /// Writes `what` in `order`'s history, at `at`.
    pub fn note(&mut self, order: OrderId, at: Duration, what: impl AsRef<str>) {
        self.history.entry(order).or_default().push(format!(
            "{:.6}s {}",
            at.as_secs_f64(),
            what.as_ref()
        ));
    }

    /// `order`'s history, one line.
    pub fn history_of(&self, order: OrderId) -> String {
        match self.history.get(&order) {
            Some(lines) => lines.join("; "),
            None => "no history".to_string(),
        }
    }

    fn violation(&self, order: OrderId, what: impl AsRef<str>) -> String {
        format!(
            "order {order}: {} (history: {})",
            what.as_ref(),
            self.history_of(order)
        )
    }

    /// Orders in a terminal state, cancelled ones, and completed ones.
    pub fn order_counts(&self) -> (usize, usize, usize) {
        let cancelled = self
            .orders
            .values()
            .filter(|record| matches!(record.state, OrderState::Cancelled(_)))
            .count();
        let completed = self
            .orders
            .values()
            .filter(|record| record.state == OrderState::Completed)
            .count();
        (self.orders.len(), cancelled, completed)
    }

    /// Times from placing to shipping of the orders placed at or after `from` (the
    /// warm-up's end) and shipped.
    pub fn time_to_ship(&self, from: Duration) -> microsim::metrics::LatencyHistogram {
        let mut histogram = microsim::metrics::LatencyHistogram::new();
        for shipment in &self.shipping.shipments {
            if let Some(record) = self.orders.get(&shipment.order)
                && record.placed_at >= from
            {
                histogram.record(shipment.at.saturating_sub(record.placed_at));
            }
        }
        histogram
    }

    /// The invariants, each with its violations: what must hold at the end of every run,
    /// whatever the variant, the load and the faults.
    pub fn invariants(&self) -> Vec<(&'static str, Vec<String>)> {
        vec![
            // Stock never fell below zero.
            ("no item oversold", self.oversold()),
            // At most one charge per order.
            ("no order charged twice", self.charged_twice()),
            // At most one shipment per order.
            ("no order shipped twice", self.shipped_twice()),
            // Every shipment is of an order placed, paid for (a charge not refunded), with
            // the items ordered.
            ("shipments match orders", self.unpaid_shipments()),
            // Every cancelled order's charges refunded and its stock released.
            ("cancels compensated", self.unrefunded()),
            // Every order completed or cancelled once the run has drained.
            ("every order terminal", self.unfinished()),
            // Every event published reached each of its topic's subscribers (at least once
            // delivery, dead letters aside).
            ("no event lost", self.lost_events()),
        ]
    }

    fn oversold(&self) -> Vec<String> {
        self.inventory
            .low_water
            .iter()
            .enumerate()
            .filter(|(_, low)| **low < 0)
            .map(|(item, low)| format!("{}: stock fell to {low}", PRODUCTS[item].0))
            .collect()
    }

    fn charged_twice(&self) -> Vec<String> {
        self.ledger
            .charges
            .iter()
            .filter(|(_, charges)| charges.len() > 1)
            .map(|(order, charges)| {
                self.violation(*order, format!("charged {} times", charges.len()))
            })
            .collect()
    }

    fn shipped_twice(&self) -> Vec<String> {
        let mut shipments: BTreeMap<OrderId, usize> = BTreeMap::new();
        for shipment in &self.shipping.shipments {
            *shipments.entry(shipment.order).or_default() += 1;
        }
        shipments
            .into_iter()
            .filter(|(_, count)| *count > 1)
            .map(|(order, count)| self.violation(order, format!("shipped {count} times")))
            .collect()
    }

    fn unpaid_shipments(&self) -> Vec<String> {
        let mut violations = Vec::new();
        for shipment in &self.shipping.shipments {
            let paid = self
                .ledger
                .charges
                .get(&shipment.order)
                .is_some_and(|charges| charges.iter().any(|charge| charge.refunded_at.is_none()));
            if !paid {
                violations.push(self.violation(shipment.order, "shipped, but not paid for"));
            }
            match self.orders.get(&shipment.order) {
                Some(record) if record.order.lines == shipment.lines => {}
                Some(_) => violations
                    .push(self.violation(shipment.order, "shipped other items than ordered")),
                None => violations.push(self.violation(shipment.order, "shipped, never ordered")),
            }
        }
        violations
    }

    fn unrefunded(&self) -> Vec<String> {
        let mut violations = Vec::new();
        for (order, record) in &self.orders {
            if !matches!(record.state, OrderState::Cancelled(_)) {
                continue;
            }
            let unrefunded = self.ledger.charges.get(order).map_or(0, |charges| {
                charges
                    .iter()
                    .filter(|charge| charge.refunded_at.is_none())
                    .count()
            });
            if unrefunded > 0 {
                violations.push(self.violation(*order, "cancelled, but a charge was not refunded"));
            }
            if self.inventory.reserved.contains_key(order) {
                violations
                    .push(self.violation(*order, "cancelled, but its stock is still reserved"));
            }
        }
        violations
    }

    fn unfinished(&self) -> Vec<String> {
        self.orders
            .iter()
            .filter(|(_, record)| record.state == OrderState::Placed)
            .map(|(order, _)| {
                self.violation(*order, "not finished: neither completed nor cancelled")
            })
            .collect()
    }

    fn lost_events(&self) -> Vec<String> {
        let mut violations = Vec::new();
        for &(order, event) in self.published.keys() {
            let handled = self.handled.get(&(order, event));
            for subscriber in self.subscribers.get(event).into_iter().flatten() {
                if !handled.is_some_and(|by| by.contains(subscriber)) {
                    violations
                        .push(self.violation(order, format!("{event} never reached {subscriber}")));
                }
            }
        }
        violations
    }
}
