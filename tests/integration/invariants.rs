//! Business invariants: checks over the model's own state, run by the engine at the end of a
//! completed run, in the order added, and kept in the report (counted, the first examples
//! kept) and its table.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use microsim::{
    BuildError, Capacity, Context, InvariantReport, Report, Service, ServiceError, Simulation,
    SimulationError, Workload,
};

use crate::support::{Notifier, Stuck, Worker, ms};

/// Takes orders, one millisecond each, and counts them in state shared with the test.
struct Orders {
    taken: Arc<Mutex<u64>>,
}

impl Service for Orders {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work_for(ms(1)).await;
        *self.taken.lock().unwrap() += 1;
        Ok(())
    }
}

/// Orders sent by a constant-rate workload: 100 per second for one second, so exactly 100.
const ORDERS: u64 = 100;

/// A simulation of one second of 100 orders a second, and the counter its service keeps.
fn orders() -> (Simulation, Arc<Mutex<u64>>) {
    let taken = Arc::new(Mutex::new(0));
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .build()
        .unwrap();
    let orders = sim
        .add_service(
            "orders",
            Orders {
                taken: Arc::clone(&taken),
            },
            Capacity::workers(1),
        )
        .unwrap();
    sim.add_workload(
        "checkout",
        &orders,
        Workload::constant_rate(ORDERS as f64),
        |_| (),
    )
    .unwrap();
    (sim, taken)
}

/// "At most `limit` orders taken": one violation per order past the limit.
fn at_most(limit: u64, taken: &Arc<Mutex<u64>>) -> impl FnOnce() -> Vec<String> + Send + 'static {
    let taken = Arc::clone(taken);
    move || {
        let taken = *taken.lock().unwrap();
        (limit + 1..=taken)
            .map(|order| format!("order {order} of {taken} is past the stock of {limit}"))
            .collect()
    }
}

#[test]
fn an_invariant_that_holds_has_no_violation() {
    let (mut sim, taken) = orders();
    sim.add_invariant("every order taken", {
        let taken = Arc::clone(&taken);
        move || {
            let taken = *taken.lock().unwrap();
            // The run has drained: every order sent has been taken.
            if taken == ORDERS {
                Vec::new()
            } else {
                vec![format!("{taken} of {ORDERS} orders taken")]
            }
        }
    })
    .unwrap();
    sim.add_invariant("at most the orders sent", at_most(ORDERS, &taken))
        .unwrap();
    let report = sim.run().unwrap();
    assert_eq!(report.invariants.len(), 2);
    for invariant in &report.invariants {
        assert_eq!(invariant.violations, 0, "{invariant:?}");
        assert!(invariant.examples.is_empty());
        assert!(invariant.holds());
    }
    assert!(report.invariants_hold());
}

#[test]
fn an_invariant_broken_by_the_run_counts_every_violation() {
    let (mut sim, taken) = orders();
    sim.add_invariant("at most 60 orders", at_most(60, &taken))
        .unwrap();
    let report = sim.run().unwrap();
    assert_eq!(report.workloads["checkout"].counts.completed, ORDERS);
    let invariant = &report.invariants[0];
    assert_eq!(invariant.name, "at most 60 orders");
    // Orders 61 to 100.
    assert_eq!(invariant.violations, 40);
    assert!(!invariant.holds());
    assert!(!report.invariants_hold());
    let kept: Vec<String> = (61..=70)
        .map(|order| format!("order {order} of 100 is past the stock of 60"))
        .collect();
    assert_eq!(invariant.examples, kept);
}

#[test]
fn a_report_keeps_the_first_ten_examples_and_counts_the_rest() {
    let (mut sim, _) = orders();
    sim.add_invariant("fifteen violations", || {
        (1..=15).map(|n| format!("violation {n}")).collect()
    })
    .unwrap();
    let report = sim.run().unwrap();
    let invariant = &report.invariants[0];
    assert_eq!(invariant.violations, 15);
    assert_eq!(InvariantReport::MAX_EXAMPLES, 10);
    assert_eq!(invariant.examples.len(), InvariantReport::MAX_EXAMPLES);
    assert_eq!(invariant.examples.first().unwrap(), "violation 1");
    assert_eq!(invariant.examples.last().unwrap(), "violation 10");
}

#[test]
fn a_check_that_panics_is_one_violation_and_the_run_goes_on() {
    let (mut sim, taken) = orders();
    sim.add_invariant("panics", || panic!("the ledger is missing order 7"))
        .unwrap();
    sim.add_invariant("panics with a value", || std::panic::panic_any(7_u32))
        .unwrap();
    let after = Arc::new(AtomicBool::new(false));
    sim.add_invariant("after the panics", {
        let after = Arc::clone(&after);
        move || {
            after.store(true, Ordering::SeqCst);
            Vec::new()
        }
    })
    .unwrap();
    let report = sim.run().unwrap();
    assert_eq!(*taken.lock().unwrap(), ORDERS);
    assert_eq!(report.invariants[0].violations, 1);
    assert_eq!(
        report.invariants[0].examples,
        ["the check panicked: the ledger is missing order 7"]
    );
    assert_eq!(
        report.invariants[1].examples,
        ["the check panicked: a value that is not text (std::panic::panic_any)"]
    );
    assert!(after.load(Ordering::SeqCst));
    assert!(report.invariants[2].holds());
}

#[test]
fn checks_run_once_each_in_the_order_added_after_the_run() {
    let (mut sim, taken) = orders();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let names = ["stock", "ledger", "all orders", "shipments"];
    for name in names {
        let ran = Arc::clone(&ran);
        let taken = Arc::clone(&taken);
        sim.add_invariant(name, move || {
            // Each sees the state the run left.
            ran.lock().unwrap().push((name, *taken.lock().unwrap()));
            Vec::new()
        })
        .unwrap();
    }
    let report = sim.run().unwrap();
    let ran = ran.lock().unwrap();
    assert_eq!(*ran, names.map(|name| (name, ORDERS)));
    let reported: Vec<&str> = report.invariants.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(reported, names);
}

#[test]
fn names_must_be_given_and_unique() {
    let (mut sim, _) = orders();
    let error = sim.add_invariant("", Vec::new).unwrap_err();
    assert!(
        matches!(&error, BuildError::InvalidInvariant { invariant, .. } if invariant.is_empty()),
        "{error:?}"
    );
    assert_eq!(
        error.reason(),
        "the name is empty: give the invariant a name, which the report shows it by"
    );
    assert_eq!(error.field(), None);

    sim.add_invariant("no double charge", Vec::new).unwrap();
    let error = sim.add_invariant("no double charge", Vec::new).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invariant \"no double charge\": another invariant has this name: give each its own, \
         which the report shows it by"
    );
    assert_eq!(
        error.reason(),
        "another invariant has this name: give each its own, which the report shows it by"
    );
    // The one added first is kept, and runs once.
    sim.add_invariant("no double shipment", Vec::new).unwrap();
    let report = sim.run().unwrap();
    let reported: Vec<&str> = report.invariants.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(reported, ["no double charge", "no double shipment"]);
}

#[test]
fn the_json_report_has_the_invariants_and_reads_back() {
    let (mut sim, taken) = orders();
    sim.add_invariant("at most 98 orders", at_most(98, &taken))
        .unwrap();
    let report = sim.run().unwrap();
    let json = report.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        value["invariants"],
        serde_json::json!([{
            "name": "at most 98 orders",
            "violations": 2,
            "examples": [
                "order 99 of 100 is past the stock of 98",
                "order 100 of 100 is past the stock of 98",
            ],
        }])
    );
    assert_eq!(Report::from_json(&json).unwrap(), report);

    // Without invariants the key is absent.
    let (sim, _) = orders();
    let value: serde_json::Value = serde_json::from_str(&sim.run().unwrap().to_json()).unwrap();
    assert!(value.get("invariants").is_none());
}

#[test]
fn the_table_shows_the_invariants_last() {
    let (mut sim, taken) = orders();
    sim.add_invariant("every order taken", Vec::new).unwrap();
    sim.add_invariant("at most 95 orders", at_most(95, &taken))
        .unwrap();
    let text = sim.run().unwrap().to_string();
    let section = &text[text.find("\n\ninvariant ").expect(&text)..];
    assert_eq!(
        section,
        "\n\ninvariant          violations    status\
         \nevery order taken           0        ok\
         \nat most 95 orders           5  VIOLATED\
         \n  order 96 of 100 is past the stock of 95\
         \n  order 97 of 100 is past the stock of 95\
         \n  order 98 of 100 is past the stock of 95\
         \n  and 2 more"
    );

    let (sim, _) = orders();
    assert!(!sim.run().unwrap().to_string().contains("invariant"));
}

#[test]
fn an_interrupted_run_checks_nothing() {
    let (mut sim, _) = orders();
    let ran = Arc::new(AtomicBool::new(false));
    sim.add_invariant("every order taken", {
        let ran = Arc::clone(&ran);
        move || {
            ran.store(true, Ordering::SeqCst);
            vec!["an order in flight looks lost".to_string()]
        }
    })
    .unwrap();
    sim.interrupt_handle().interrupt();
    let report = sim.run().unwrap();
    assert_eq!(report.interrupted_at, Some(0.0));
    assert!(!ran.load(Ordering::SeqCst));
    assert!(report.invariants.is_empty());
    assert!(!report.to_string().contains("invariant"));
}

#[test]
fn a_failed_run_checks_nothing() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .build()
        .unwrap();
    let stuck = sim
        .add_service("stuck", Stuck, Capacity::workers(1))
        .unwrap();
    let forwarder = sim
        .add_service("forwarder", Notifier { to: stuck }, Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &forwarder, Workload::constant_rate(4.0), |_| ())
        .unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    sim.add_invariant("never runs", {
        let ran = Arc::clone(&ran);
        move || {
            ran.store(true, Ordering::SeqCst);
            Vec::new()
        }
    })
    .unwrap();
    // One-way messages wait forever on a future from outside the simulation: a stall.
    let error = sim.run().unwrap_err();
    assert!(
        matches!(error, SimulationError::Stalled { .. }),
        "{error:?}"
    );
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn an_invariant_is_checked_on_the_real_clock_too() {
    let mut sim = Simulation::builder()
        .duration(ms(50))
        .clock(microsim::ClockKind::Real)
        .build()
        .unwrap();
    let server = sim
        .add_service("server", Worker::constant(ms(1)), Capacity::workers(1))
        .unwrap();
    sim.add_workload("load", &server, Workload::constant_rate(100.0), |_| ())
        .unwrap();
    sim.add_invariant("one violation", || vec!["found".to_string()])
        .unwrap();
    let report = sim.run().unwrap();
    assert_eq!(report.invariants[0].examples, ["found"]);
}

/// The report's invariants cross threads with it.
#[test]
fn invariant_reports_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<InvariantReport>();
}
