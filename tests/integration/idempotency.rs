//! Idempotency keys: a retried payment over a lossy link is applied once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use microsim::idempotency::IdempotencyStore;
use microsim::policy::{Backoff, CallPolicy, Retry};
use microsim::{
    Capacity, Context, Fault, Service, ServiceError, ServiceHandle, Simulation, Workload,
};

use crate::support::ms;

/// Charges are recorded outside the simulation so the test can count them per order.
type Ledger = Arc<Mutex<BTreeMap<u64, u32>>>;

/// Charges an order: 1 ms of work, then one charge in the ledger.
struct Payment {
    ledger: Ledger,
    idempotent: bool,
}

impl Payment {
    async fn charge(&self, ctx: &Context<Self>, order: u64) -> Result<u64, ServiceError> {
        ctx.work_for(ms(1)).await;
        *self.ledger.lock().unwrap().entry(order).or_default() += 1;
        Ok(order)
    }
}

impl Service for Payment {
    type Request = u64;
    type Response = u64;
    type State = IdempotencyStore<u64, u64>;

    fn init_state(&self) -> Self::State {
        IdempotencyStore::new()
    }

    async fn handle(&self, ctx: &Context<Self>, order: u64) -> Result<u64, ServiceError> {
        if self.idempotent {
            ctx.idempotent(|store| store, order, |order| self.charge(ctx, order))
                .await
        } else {
            self.charge(ctx, order).await
        }
    }
}

/// Checks an order out by charging it, with the order as idempotency key.
struct Checkout {
    payment: ServiceHandle<Payment>,
}

impl Service for Checkout {
    type Request = u64;
    type Response = u64;
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, order: u64) -> Result<u64, ServiceError> {
        Ok(ctx
            .call_idempotent(&self.payment, format!("order-{order}"), order)
            .await?)
    }
}

/// Runs 1000 checkouts over a link losing 20% of messages each way, with retries; returns
/// the charges per order and the number of checkouts completed.
fn checkouts(idempotent: bool) -> (BTreeMap<u64, u32>, u64) {
    let ledger = Ledger::default();
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(10))
        .build()
        .unwrap();
    let payment = sim
        .add_service(
            "payment",
            Payment {
                ledger: Arc::clone(&ledger),
                idempotent,
            },
            Capacity::workers(8),
        )
        .unwrap();
    let checkout = sim
        .add_service("checkout", Checkout { payment }, Capacity::workers(64))
        .unwrap();
    let mut next_order = 0;
    sim.add_workload(
        "orders",
        &checkout,
        Workload::constant_rate(100.0),
        move |_| {
            next_order += 1;
            next_order
        },
    )
    .unwrap();
    sim.add_policy(
        "checkout",
        "payment",
        CallPolicy::new()
            .timeout(ms(20))
            .retry(Retry::attempts(8).backoff(Backoff::constant(ms(5)))),
    )
    .unwrap();
    sim.add_fault(Fault::loss("checkout", "payment", 0.2))
        .unwrap();
    let report = sim.run().unwrap();
    let completed = report.workloads["orders"].counts.completed;
    let charges = ledger.lock().unwrap().clone();
    (charges, completed)
}

#[test]
fn with_idempotency_keys_no_order_is_charged_twice() {
    let (charges, completed) = checkouts(true);
    let twice = charges.values().filter(|count| **count > 1).count();
    assert_eq!(twice, 0, "orders charged more than once");
    // Eight attempts all fail with p = 0.36^8 < 3e-4: (nearly) every order is charged.
    assert!(completed >= 998, "{completed} of 1000 completed");
    assert!(charges.len() as u64 >= completed);
}

#[test]
fn without_them_lost_responses_charge_customers_twice() {
    // The control: the same traffic to a payment service that ignores the keys.
    let (charges, _) = checkouts(false);
    let twice = charges.values().filter(|count| **count > 1).count();
    // A response is lost on 20% of the handled attempts, so about 200 orders are charged
    // twice or more.
    assert!(
        (120..=300).contains(&twice),
        "{twice} orders charged more than once"
    );
}

/// Charges, then panics -- the first time only.
struct ChargesThenPanics {
    ledger: Ledger,
}

impl Service for ChargesThenPanics {
    type Request = u64;
    type Response = u64;
    type State = (IdempotencyStore<u64, u64>, bool);

    fn init_state(&self) -> Self::State {
        (IdempotencyStore::new(), false)
    }

    async fn handle(&self, ctx: &Context<Self>, order: u64) -> Result<u64, ServiceError> {
        ctx.idempotent(
            |state| &mut state.0,
            order,
            |order| async move {
                *self.ledger.lock().unwrap().entry(order).or_default() += 1;
                ctx.work_for(ms(1)).await;
                if !ctx.with_state(|state| std::mem::replace(&mut state.1, true)) {
                    panic!("crashed after charging");
                }
                Ok(order)
            },
        )
        .await
    }
}

/// Calls its payment service once per order, with retries.
struct Shop {
    payment: ServiceHandle<ChargesThenPanics>,
}

impl Service for Shop {
    type Request = u64;
    type Response = u64;
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, order: u64) -> Result<u64, ServiceError> {
        Ok(ctx
            .call_idempotent(&self.payment, format!("order-{order}"), order)
            .await?)
    }
}

#[test]
fn a_first_attempt_that_panicked_midway_is_not_run_again() {
    let ledger = Ledger::default();
    let mut sim = Simulation::builder()
        .duration(Duration::from_millis(100))
        .build()
        .unwrap();
    let payment = sim
        .add_service(
            "payment",
            ChargesThenPanics {
                ledger: Arc::clone(&ledger),
            },
            Capacity::workers(1),
        )
        .unwrap();
    let shop = sim
        .add_service("shop", Shop { payment }, Capacity::workers(1))
        .unwrap();
    sim.add_workload("orders", &shop, Workload::constant_rate(10.0), |_| 7)
        .unwrap();
    sim.add_policy(
        "shop",
        "payment",
        CallPolicy::new().retry(Retry::attempts(3).backoff(Backoff::constant(ms(1)))),
    )
    .unwrap();
    let report = sim.run().unwrap();
    // The one order was charged before the panic; its retries got the stored failure.
    assert_eq!(ledger.lock().unwrap().get(&7), Some(&1));
    assert_eq!(report.services["payment"].counts.panics, 1);
    assert_eq!(report.policies["shop -> payment"].counts.attempts, 3);
    assert_eq!(report.workloads["orders"].counts.failed, 1);
}
