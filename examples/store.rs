//! Example: the online store, on virtual time -- the same store as `scenarios/store.toml`,
//! with its business state.
//!
//! Shows:
//! - Online Boutique's services as actors with their own capacity (workers, bounded queues):
//!   two frontends, checkout, cart, catalog, currency, inventory, payment, shipping, email,
//!   recommendation and ad (see `examples/shop/` for the code, shared with the other store
//!   examples);
//! - a checkout that calls its dependencies one after another, as Online Boutique's
//!   `PlaceOrder` does, and keeps the business right: stock reserved before payment, a
//!   declined card or an undeliverable address undone (refund, stock released) after the
//!   customer has had the answer;
//! - link latencies from sub-millisecond (inside the cluster) to milliseconds (the internet
//!   edge, an external payment provider);
//! - an open-loop checkout workload beside a closed-loop population of browsing users;
//! - the report: latency per workload, by cause of failure, queue wait and utilisation per
//!   service, and the store's invariants (no order charged twice, ...) checked at the end;
//! - the books after the run: orders, revenue, refunds, stock.
//!
//! Run it with `cargo run --release --example store`. Its standard output is the same on every
//! run; the wall-clock time goes to standard error. The same store wired with events, or both,
//! is compared under faults by `cargo run --release --example store_compare`.
//!
//! The load is steady (no fault, no ramp): the report's timeline sparklines are all the
//! over-time view it needs. Its plots come from the same store as a scenario file (the same
//! services and numbers, its own random draws, no books), as its last lines say:
//! `cargo run --release -- run scenarios/store.toml --plots plots/store --html store.html`
//! writes them as SVG files, and one HTML page with them.

#[path = "shop/mod.rs"]
mod shop;

use std::collections::BTreeMap;
use std::time::Instant;

use shop::books::{OrderState, PRODUCTS, dollars};
use shop::{Options, Variant, build};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = build(&Options::store(Variant::Calls))?;
    let started = Instant::now();
    let report = store.simulation.run()?;
    let wall = started.elapsed();
    println!("{report}");

    let books = store.books.lock();
    let (orders, cancelled, completed) = books.order_counts();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for record in books.orders.values() {
        if let OrderState::Cancelled(reason) = &record.state {
            *reasons.entry(reason.as_str()).or_default() += 1;
        }
    }
    let charged: u64 = books
        .ledger
        .charges
        .values()
        .flatten()
        .map(|c| c.cents)
        .sum();
    let refunded: u64 = books
        .ledger
        .charges
        .values()
        .flatten()
        .filter(|c| c.refunded_at.is_some())
        .map(|c| c.cents)
        .sum();
    println!("the books: {orders} orders taken, {completed} completed, {cancelled} cancelled");
    for (reason, count) in &reasons {
        println!("  cancelled, {reason}: {count}");
    }
    println!(
        "  charged {}, refunded {}, {} shipments; {} left of the {}",
        dollars(charged),
        dollars(refunded),
        books.shipping.shipments.len(),
        books.inventory.stock[PRODUCTS.len() - 1],
        PRODUCTS[PRODUCTS.len() - 1].0,
    );
    println!(
        "\nplots: cargo run --release -- run scenarios/store.toml --plots plots/store --html \
         store.html\n  (this store as a scenario file: the same services and numbers, its own \
         random draws, no books)"
    );
    eprintln!(
        "simulated {:.0} s in {:.2} s of wall time",
        report.drained_seconds,
        wall.as_secs_f64()
    );
    Ok(())
}
