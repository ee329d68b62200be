//! Example: the online store's checkout built three ways -- calls, events, hybrid -- and
//! once naively, under the same load, seed and faults, side by side.
//!
//! Shows:
//! - one set of services and business rules (stock, a payment ledger, orders, shipments;
//!   see `examples/shop/`) wired as a chain of calls, as a choreography of events, and as
//!   calls for what the customer waits for with events for the rest;
//! - a saga: a declined card, a sold-out item or a shipment that cannot leave ends in a
//!   refund and the stock released, and every order in exactly one terminal state;
//! - the same faults in each run: the card processor failing a fifth of the calls for 5 s,
//!   shipping crashing for a second, currency ten times slower for 5 s, a lossy link to
//!   payment with retries;
//! - response latency (what the customer waits for) against settled latency (until every
//!   consequence of the order has happened) and the time from placing to shipping;
//! - the business invariants the engine checks at the end of each run, and a naive store --
//!   retries without idempotency keys, at-least-once events without deduplication -- that
//!   breaks them: customers charged twice, orders shipped twice.
//!
//! Run it with `cargo run --release --example store_compare`. Its standard output is the
//! same on every run; the wall-clock time goes to standard error.

#[path = "shop/mod.rs"]
mod shop;

use std::time::Instant;

use shop::{Options, Variant, compare};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for variant in Variant::ALL {
        outcomes.push(compare::run(&Options::under_faults(variant))?);
    }
    println!(
        "The store's checkout at 60 orders/s with 2,000 shoppers browsing, 60 s (5 s warm-up), \
         seed 7, under the same faults:"
    );
    for fault in &outcomes[0].report.faults {
        let end = fault
            .end_seconds
            .map_or("the end".to_string(), |end| format!("{end:.0} s"));
        println!(
            "  {} from {:.0} s to {end}",
            fault.fault, fault.start_seconds
        );
    }
    println!();
    print!("{}", compare::table(&outcomes));
    println!();
    println!(
        "checkout = the customer's wait for an answer; settled = until every consequence of the \
         order (shipment, refunds, mail) has happened."
    );
    for outcome in &outcomes {
        for invariant in &outcome.report.invariants {
            if let Some(example) = invariant.examples.first() {
                println!(
                    "{} breaks \"{}\", e.g. {example}",
                    outcome.variant.name(),
                    invariant.name
                );
            }
        }
    }
    eprintln!(
        "4 runs in {:.1} s of wall time",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
