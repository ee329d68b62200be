//! The online store of the examples (`examples/shop/`): its business invariants hold in the
//! three correct variants under many seeds and fault mixes, the naive variant breaks them
//! and the report says so, response and settled latency differ where they must, the
//! comparison is deterministic, and `scenarios/store.toml` is the same store.

#[path = "../../examples/shop/mod.rs"]
mod shop;

use std::time::Duration;

use microsim::rand::{RngExt, SeedableRng};
use microsim::scenario::Scenario;
use microsim::{Fault, SimRng, Workload};

use shop::{Options, Variant, compare};

const CORRECT: [Variant; 3] = [Variant::Calls, Variant::Events, Variant::Hybrid];

/// A short, busy store: 200 orders per second for 6 s, nobody browsing, and a limited
/// edition of 150 that sells out half-way (orders hold 0.375 of them on average, 75 per
/// second), so that stock runs short while orders race for it.
fn short(variant: Variant, seed: u64, faults: Vec<Fault>) -> Options {
    Options {
        seed,
        duration: Duration::from_secs(6),
        warmup: Duration::from_secs(1),
        checkout: Workload::poisson(200.0),
        browsers: 0,
        faults,
        retries: true,
        limited_stock: 150,
        ..Options::store(variant)
    }
}

/// A random mix of faults in a 6 s run, each at a random time for a random while: the
/// kinds of the comparison, and crashes of the services that hold state.
fn fault_mix(rng: &mut SimRng) -> Vec<Fault> {
    let s = |seconds: f64| Duration::from_secs_f64(seconds);
    let mut faults = Vec::new();
    let kinds = [
        Fault::fail("payment", 0.3),
        Fault::crash("shipping"),
        Fault::crash("inventory"),
        Fault::crash("payment"),
        Fault::slow("currency", 20.0),
        Fault::slow("shipping", 30.0),
        Fault::loss("checkout", "payment", 0.2),
        Fault::loss("checkout", "inventory", 0.2),
        Fault::loss("checkout", "shipping", 0.2),
    ];
    for kind in kinds {
        if rng.random_bool(0.4) {
            let at = rng.random_range(0.5..4.5);
            let lasting = rng.random_range(0.1..1.5);
            faults.push(kind.at(s(at)).lasting(s(lasting)));
        }
    }
    faults
}

/// How many (seed, fault mix) cases each correct variant runs.
const CASES: u64 = 12;

#[test]
fn every_invariant_holds_in_the_correct_variants_over_seeds_and_fault_mixes() {
    let mut rng = SimRng::seed_from_u64(2026);
    let mut failures = Vec::new();
    let mut sold_out = 0;
    for case in 0..CASES {
        let faults = fault_mix(&mut rng);
        for variant in CORRECT {
            let store = shop::build(&short(variant, 100 + case, faults.clone())).unwrap();
            let report = store.simulation.run().unwrap();
            let books = store.books.lock();
            assert!(
                books.orders.len() > 500,
                "{variant:?}: {} orders",
                books.orders.len()
            );
            if books.inventory.stock[shop::books::PRODUCTS.len() - 1] < 3 {
                sold_out += 1;
            }
            for (invariant, violations) in books.invariants() {
                if !violations.is_empty() {
                    failures.push(format!(
                        "{variant:?}, case {case}, faults {:?}: {invariant}: {} violations, e.g. {}",
                        faults.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        violations.len(),
                        violations[0]
                    ));
                }
            }
            // And the report says the same.
            for invariant in &report.invariants {
                let checked = books
                    .invariants()
                    .into_iter()
                    .find(|(name, _)| *name == invariant.name)
                    .map(|(_, violations)| violations.len() as u64);
                assert_eq!(checked, Some(invariant.violations), "{}", invariant.name);
            }
            assert_eq!(report.invariants.len(), 7);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The stock check was put to the test: the limited edition sold out in most runs.
    assert!(
        sold_out >= CASES as usize * 2,
        "sold out in {sold_out} runs"
    );
}

#[test]
fn the_naive_store_charges_and_ships_twice_and_the_report_says_so() {
    for seed in [7, 8, 9] {
        let options = Options {
            seed,
            ..Options::under_faults(Variant::Naive)
        };
        let store = shop::build(&options).unwrap();
        let report = store.simulation.run().unwrap();
        let violations = |name: &str| {
            report
                .invariants
                .iter()
                .find(|invariant| invariant.name == name)
                .unwrap_or_else(|| panic!("no invariant {name}"))
        };
        let charged = violations("no order charged twice");
        let shipped = violations("no order shipped twice");
        assert!(charged.violations > 0, "seed {seed}: {charged:?}");
        assert!(shipped.violations > 0, "seed {seed}: {shipped:?}");
        assert!(!report.invariants_hold());
        // A violation names the order and its history.
        let example = &charged.examples[0];
        assert!(
            example.starts_with("order ") && example.contains("payment: charged"),
            "{example}"
        );
        let table = report.to_string();
        assert!(table.contains("no order charged twice"), "{table}");
        // The books agree with the report.
        let books = store.books.lock();
        let twice = books
            .ledger
            .charges
            .values()
            .filter(|charges| charges.len() > 1)
            .count() as u64;
        assert_eq!(twice, charged.violations);
    }
}

/// Synchronous checkout answers after the shipment; event-driven checkout answers before
/// it, and its settled latency exceeds its response latency.
#[test]
fn calls_answer_after_shipping_and_events_before_it() {
    for variant in [Variant::Calls, Variant::Events] {
        let store = shop::build(&short(variant, 3, Vec::new())).unwrap();
        let report = store.simulation.run().unwrap();
        let books = store.books.lock();
        let shipped: std::collections::BTreeMap<u64, Duration> = books
            .shipping
            .shipments
            .iter()
            .map(|shipment| (shipment.order, shipment.at))
            .collect();
        let mut answered_after = 0;
        let mut answered_before = 0;
        for response in books.responses.iter().filter(|response| response.ok) {
            let answered = response.sent_at + response.latency;
            match shipped.get(&response.order) {
                Some(at) if *at <= answered => answered_after += 1,
                Some(_) => answered_before += 1,
                None => {}
            }
        }
        let checkout = &report.workloads["checkout"];
        match variant {
            Variant::Calls => {
                assert!(answered_after > 500, "{answered_after}");
                assert_eq!(answered_before, 0, "calls answered before shipping");
            }
            _ => {
                assert!(answered_before > 500, "{answered_before}");
                assert_eq!(answered_after, 0, "events answered after shipping");
                assert!(
                    checkout.settled_ms.mean > checkout.latency_ms.mean,
                    "settled {:?} response {:?}",
                    checkout.settled_ms,
                    checkout.latency_ms
                );
                assert!(checkout.settled_ms.p99 > checkout.latency_ms.p99);
            }
        }
    }
}

#[test]
fn the_comparison_prints_the_same_table_every_time() {
    let table = || {
        let outcomes: Vec<_> = Variant::ALL
            .into_iter()
            .map(|variant| {
                let options = Options {
                    duration: Duration::from_secs(20),
                    ..Options::under_faults(variant)
                };
                compare::run(&options).unwrap()
            })
            .collect();
        compare::table(&outcomes)
    };
    let first = table();
    assert_eq!(first, table());
    for name in [
        "calls",
        "events",
        "hybrid",
        "naive",
        "no order charged twice",
    ] {
        assert!(first.contains(name), "{first}");
    }
}

/// `scenarios/store.toml` is the `calls` store written as a file: the figures both have --
/// checkout and browse latency, the share of failed checkouts, each service's utilisation --
/// agree within the seed-to-seed noise.
///
/// The tolerance: 4 standard deviations of the difference of two means of `SEEDS` runs,
/// from the spread measured across the runs themselves (the two sides draw different random
/// numbers, so their difference is noise plus any real disagreement).
#[test]
fn the_scenario_file_is_the_same_store_as_the_examples() {
    const SEEDS: u64 = 5;
    let file = Scenario::bundled_store();
    let mut figures: [Vec<Vec<f64>>; 2] = [Vec::new(), Vec::new()];
    let names = [
        "checkout mean",
        "checkout p99",
        "browse mean",
        "browse p99",
        "checkout failed share",
        "payment utilisation",
        "shipping utilisation",
        "inventory utilisation",
        "currency utilisation",
    ];
    for seed in 0..SEEDS {
        let rust = shop::build(&Options {
            seed: 11 + seed,
            ..Options::store(Variant::Calls)
        })
        .unwrap()
        .simulation
        .run()
        .unwrap();
        let toml = file.to_simulation(Some(11 + seed)).unwrap().run().unwrap();
        for (side, report) in [rust, toml].iter().enumerate() {
            let checkout = &report.workloads["checkout"];
            let browse = &report.workloads["browse"];
            let utilisation = |name: &str| report.services[name].utilization.unwrap();
            figures[side].push(vec![
                checkout.latency_ms.mean,
                checkout.latency_ms.p99,
                browse.latency_ms.mean,
                browse.latency_ms.p99,
                checkout.counts.failed as f64 / checkout.counts.sent as f64,
                utilisation("payment"),
                utilisation("shipping"),
                utilisation("inventory"),
                utilisation("currency"),
            ]);
        }
    }
    let mean_sd = |values: &[f64]| {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    };
    let mut disagreements = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let column = |side: usize| figures[side].iter().map(|f| f[index]).collect::<Vec<_>>();
        let (rust_mean, rust_sd) = mean_sd(&column(0));
        let (file_mean, file_sd) = mean_sd(&column(1));
        let tolerance = 4.0 * ((rust_sd.powi(2) + file_sd.powi(2)) / SEEDS as f64).sqrt();
        eprintln!(
            "{name}: Rust {rust_mean:.4} (sd {rust_sd:.4}), file {file_mean:.4} (sd {file_sd:.4}), tolerance {tolerance:.4}"
        );
        if (rust_mean - file_mean).abs() > tolerance {
            disagreements.push(format!(
                "{name}: Rust {rust_mean} vs file {file_mean} (tolerance {tolerance})"
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
