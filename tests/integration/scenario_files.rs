//! Scenario files: the shipped scenarios run on the library engine with the effects they claim,
//! and malformed files fail with located messages -- never a panic.

#![cfg(feature = "scenario")]

use std::path::Path;

use microsim::scenario::{Scenario, ScenarioError};
use proptest::prelude::*;

use crate::support::relative_error;

fn shipped(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The M/M/1 case through the file format: the same figures as `accuracy.rs` finds by hand.
/// W = 1 / (mu - lambda) = 5 ms; the sojourn time is exponential with rate 200/s, so
/// p99 = ln(100) / 200 = 23.03 ms.
#[test]
fn mm1_file_matches_queueing_theory() {
    let scenario = Scenario::parse(&shipped("mm1.toml"), "mm1.toml").unwrap();
    let report = scenario.to_simulation(None).unwrap().run().unwrap();
    let arrivals = &report.workloads["arrivals"];
    assert!(
        arrivals.completed >= 980_000,
        "too few requests for the stated tolerance: {}",
        arrivals.completed
    );
    assert_eq!(arrivals.failed, 0);
    let latency = &arrivals.latency_ms;
    let mean_error = relative_error(latency.mean, 5.0);
    let p99_error = relative_error(latency.p99, 23.026);
    assert!(mean_error < 0.03, "mean {} ms", latency.mean);
    assert!(p99_error < 0.05, "p99 {} ms", latency.p99);
    let utilization = report.services["server"].utilization;
    assert!(
        relative_error(utilization, 0.8) < 0.01,
        "utilization {utilization}"
    );
}

/// The bundled store: every request ends, both workloads measure, the edge dominates.
#[test]
fn store_file_runs_and_accounts_for_every_request() {
    let from_disk = Scenario::parse(&shipped("store.toml"), "store.toml").unwrap();
    let bundled = Scenario::bundled_store();
    assert_eq!(from_disk.seed(), Some(7));
    assert_eq!(bundled.duration(), std::time::Duration::from_secs(60));

    let report = bundled.to_simulation(None).unwrap().run().unwrap();
    eprintln!("{report}");
    for name in ["browse", "checkout"] {
        let workload = &report.workloads[name];
        assert!(workload.sent > 1000, "{name}: {workload:?}");
        assert_eq!(
            workload.sent,
            workload.completed + workload.failed,
            "{name}"
        );
        // Two crossings of the 20 ms internet edge at least, most of the time.
        assert!(workload.latency_ms.p50 > 30.0, "{name}: {workload:?}");
    }
    // A checkout makes 13 calls one after another; a page view 2 rounds.
    assert!(
        report.workloads["checkout"].latency_ms.p50 > report.workloads["browse"].latency_ms.p50
    );
    // Every backend was reached.
    for (name, service) in &report.services {
        assert!(service.handled > 0, "{name} handled nothing");
    }
    // The same seed gives the same report.
    let again = from_disk.to_simulation(None).unwrap().run().unwrap();
    assert_eq!(again.to_json(), report.to_json());
}

/// Tail amplification: with 20 parallel calls, a frontend request waits for the slowest of
/// 20 draws. If one backend exceeds x with probability p, the frontend does with probability
/// 1 - (1 - p)^20: 64% of requests see at least one backend above its p95, 18% one above its
/// p99. So the frontend's median sits near a backend's p96.5, and its p99 near a backend's
/// p99.95.
#[test]
fn fanout_file_amplifies_the_tail() {
    let scenario = Scenario::parse(&shipped("fanout.toml"), "fanout.toml").unwrap();
    let report = scenario.to_simulation(None).unwrap().run().unwrap();
    eprintln!("{report}");
    let search = &report.workloads["search"];
    assert_eq!(search.failed, 0);
    let frontend = &report.services["frontend"].latency_ms;
    let backend = &report.services["backend-01"].latency_ms;
    assert!(
        frontend.p50 >= backend.p90,
        "frontend p50 {} < backend p90 {}",
        frontend.p50,
        backend.p90
    );
    assert!(
        frontend.p99 >= 1.5 * backend.p99,
        "frontend p99 {} vs backend p99 {}",
        frontend.p99,
        backend.p99
    );
    // Each backend sees every request once.
    assert_eq!(
        report.services["backend-01"].handled,
        report.services["backend-20"].handled
    );
}

/// An event chain with constant times: order -> orders -> payment -> payments -> shipping.
const CHAIN: &str = r#"[simulation]
duration = "1s"

[topics.orders]
delivery = "at_least_once"
ack_timeout = "1s"
max_deliveries = 3
broker_latency = { constant = "500us" }

[topics.payments]
broker_latency = { constant = "300us" }

[services.order]
work = { constant = "1ms" }
# The publish and 100 us of work at once: the publish (200 us) is the longer branch.
steps = [{ parallel = [{ publish = "orders" }, { work = { constant = "100us" } }] }]

[services.payment]
subscribes = ["orders"]
work = { constant = "2ms" }
steps = [{ publish = "payments" }]

[services.shipping]
subscribes = ["payments"]
work = { constant = "1ms" }

[[links]]
from = "client"
to = "order"
latency = { constant = "1ms" }

[[links]]
from = "order"
to = "orders"
latency = { constant = "100us" }

[[links]]
from = "payment"
to = "payments"
latency = { constant = "100us" }

[workloads.checkout]
target = "order"
open = { rate = 100.0, arrivals = "constant" }
"#;

/// The settled latency of the chain is the analytic sum, and the response excludes the
/// asynchronous part. One order every 10 ms: no queueing anywhere. From the send (0 ms):
/// - the request reaches order at 1.0 (client link); order works 1 ms (2.0) and publishes:
///   the broker has the event at 2.1 and the confirm is back at 2.2; the response reaches
///   the client at 3.2. Response latency: 3.2 ms.
/// - orders delivers 500 us after 2.1 (2.6); payment works 2 ms (4.6) and publishes: the
///   broker has it at 4.7, and payment's handling ends with the confirm at 4.8 (a subscriber
///   that publishes pays the round trip before it ends): 2.7 ms after the publish at 2.1.
/// - payments delivers 300 us after 4.7 (5.0); shipping works 1 ms: 6.0, the settled latency,
///   1.3 ms after the publish at 4.7.
#[test]
fn an_event_chain_settles_at_the_analytic_sum() {
    let scenario = Scenario::parse(CHAIN, "chain.toml").unwrap();
    assert_eq!(
        scenario.topic_names().collect::<Vec<_>>(),
        ["orders", "payments"]
    );
    let report = scenario.to_simulation(None).unwrap().run().unwrap();
    let checkout = &report.workloads["checkout"];
    assert_eq!(checkout.completed, 100);
    assert_eq!(checkout.sent, checkout.completed + checkout.failed);
    assert_eq!(checkout.latency_ms.p50, 3.2);
    assert_eq!(checkout.latency_ms.max, 3.2);
    assert_eq!(checkout.settled_ms.count, 100);
    assert_eq!(checkout.settled_ms.p50, 6.0);
    assert_eq!(checkout.settled_ms.max, 6.0);
    assert_eq!(checkout.settled_ms.mean, 6.0);
    let orders = &report.topics["orders"];
    assert_eq!(orders.published, 100);
    assert_eq!(orders.subscribers["payment"].handled, 100);
    assert_eq!(orders.subscribers["payment"].latency_ms.max, 2.7);
    let payments = &report.topics["payments"];
    assert_eq!(payments.published, 100);
    assert_eq!(payments.subscribers["shipping"].handled, 100);
    assert_eq!(payments.subscribers["shipping"].latency_ms.max, 1.3);
    // The at-least-once topic has its dead-letter topic, unused here.
    assert_eq!(report.topics["orders.dead-letter"].published, 0);
    // The JSON report carries the topics and the settled latency.
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(
        json["topics"]["orders"]["delivery"]["at_least_once"]["max_deliveries"],
        3
    );
    assert_eq!(
        json["topics"]["payments"]["subscribers"]["shipping"]["latency_ms"]["max"],
        1.3
    );
    assert_eq!(json["workloads"]["checkout"]["settled_ms"]["p50"], 6.0);
}

/// Fan-out: every subscriber of a topic handles every event once.
#[test]
fn every_subscriber_of_a_topic_handles_every_event() {
    let text = r#"[simulation]
duration = "5s"
seed = 3

[topics.news]
broker_latency = { exponential = { mean = "200us" } }

[services.editor]
workers = 4
work = { exponential = { mean = "500us" } }
steps = [{ publish = "news" }]

[services.web]
subscribes = ["news"]
work = { exponential = { mean = "300us" } }

[services.mobile]
workers = 2
subscribes = ["news"]
work = { exponential = { mean = "1ms" } }

[services.archive]
subscribes = ["news"]
work = { constant = "100us" }

[workloads.stories]
target = "editor"
open = { rate = 300.0 }
"#;
    let report = Scenario::parse(text, "fanout.toml")
        .unwrap()
        .to_simulation(None)
        .unwrap()
        .run()
        .unwrap();
    let stories = &report.workloads["stories"];
    assert!(stories.completed > 1000, "{stories:?}");
    assert_eq!(stories.failed, 0);
    let news = &report.topics["news"];
    assert_eq!(news.published, stories.completed);
    assert_eq!(news.subscribers.len(), 3);
    for name in ["web", "mobile", "archive"] {
        assert_eq!(news.subscribers[name].handled, news.published, "{name}");
        assert_eq!(report.services[name].handled, news.published, "{name}");
    }
    assert_eq!(news.delivered, 3 * news.published);
    assert_eq!((news.lost, news.redelivered, news.rejected), (0, 0, 0));
}

/// The shipped event-driven store: every order ends, and settling takes longer than the
/// response, which does not wait for payment, inventory, email and shipping.
#[test]
fn events_file_runs_and_settles_after_the_response() {
    let scenario = Scenario::parse(&shipped("events.toml"), "events.toml").unwrap();
    assert_eq!(
        scenario.topic_names().collect::<Vec<_>>(),
        ["order-placed", "payment-done"]
    );
    let report = scenario.to_simulation(None).unwrap().run().unwrap();
    eprintln!("{report}");
    let orders = &report.workloads["orders"];
    assert!(orders.sent > 4000, "{orders:?}");
    assert_eq!(orders.sent, orders.completed + orders.failed);
    assert!(
        orders.settled_ms.p50 > orders.latency_ms.p50,
        "settled p50 {} vs latency p50 {}",
        orders.settled_ms.p50,
        orders.latency_ms.p50
    );
    let placed = &report.topics["order-placed"];
    for name in ["payment", "inventory", "email"] {
        let subscriber = &placed.subscribers[name];
        assert_eq!(
            subscriber.handled + subscriber.dead_lettered,
            placed.published,
            "{name}"
        );
    }
    let done = &report.topics["payment-done"];
    assert!(done.published > 4000, "{done:?}");
    assert_eq!(done.subscribers["shipping"].handled, done.published);
    // The slowest subscriber lags; the broker holds its backlog.
    assert!(placed.subscribers["email"].lag_max > placed.subscribers["inventory"].lag_max);
    // The same seed gives the same report.
    let again = scenario.to_simulation(None).unwrap().run().unwrap();
    assert_eq!(again.to_json(), report.to_json());
}

/// Every complete example in SCENARIOS.md (a toml block with a workload) parses.
#[test]
fn every_example_in_the_reference_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("SCENARIOS.md");
    let reference = std::fs::read_to_string(path).unwrap();
    let mut examples = 0;
    for block in reference.split("```toml\n").skip(1) {
        let block = &block[..block.find("```").expect("its end")];
        if block.contains("[workloads.") {
            Scenario::parse(block, "SCENARIOS.md").unwrap_or_else(|e| panic!("{e}\n{block}"));
            examples += 1;
        }
    }
    assert!(examples >= 2, "{examples}");
}

/// One service, one workload, 60 s at 10 requests per second: quick to run.
const SMALL: &str = "[services.a]\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 10.0 }\n";

#[test]
fn seed_argument_overrides_the_file() {
    let seeded = Scenario::parse(&format!("[simulation]\nseed = 11\n{SMALL}"), "a.toml").unwrap();
    assert_eq!(seeded.seed(), Some(11));
    assert_eq!(seeded.to_simulation(None).unwrap().run().unwrap().seed, 11);
    assert_eq!(
        seeded.to_simulation(Some(99)).unwrap().run().unwrap().seed,
        99
    );
    let unseeded = Scenario::parse(SMALL, "a.toml").unwrap();
    assert_eq!(unseeded.seed(), None);
    assert_eq!(unseeded.to_simulation(None).unwrap().run().unwrap().seed, 0);
}

#[test]
fn load_names_the_missing_file() {
    let err = Scenario::load(Path::new("/nonexistent/nowhere.toml")).unwrap_err();
    assert!(matches!(err, ScenarioError::Read { .. }));
    let message = err.to_string();
    assert!(
        message.starts_with("/nonexistent/nowhere.toml: cannot read the scenario file"),
        "{message}"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mm1.toml");
    assert_eq!(Scenario::load(&path).unwrap().origin(), "mm1.toml");
}

/// The complete example of SCENARIOS.md parses and runs: the reference cannot drift from the
/// parser.
#[test]
fn the_reference_example_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("SCENARIOS.md");
    let reference = std::fs::read_to_string(path).unwrap();
    let start = reference.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + reference[start..].find("```").expect("its end");
    let scenario = Scenario::parse(&reference[start..end], "SCENARIOS.md").unwrap();
    assert_eq!(scenario.seed(), Some(7));
    let sim = Scenario::parse(
        &reference[start..end].replace("duration = \"60s\"", "duration = \"6s\""),
        "SCENARIOS.md",
    )
    .unwrap()
    .to_simulation(None)
    .unwrap();
    let report = sim.run().unwrap();
    let checkout = &report.workloads["checkout"];
    assert!(checkout.completed > 0);
    assert_eq!(checkout.sent, checkout.completed + checkout.failed);
}

/// A small valid file; the malformed cases below each break one thing.
const BASE: &str = r#"[simulation]
duration = "10s"

[services.frontend]
workers = 4
steps = [{ call = "payment" }]

[services.payment]
work = { constant = "1ms" }

[workloads.checkout]
target = "frontend"
open = { rate = 100.0 }
"#;

/// A small valid event file; `shop` and `billing` get extra lines (lines 6 and 8).
fn events(shop: &str, billing: &str) -> String {
    format!(
        "[topics.orders]\ndelivery = \"at_least_once\"\nack_timeout = \"1s\"\n\n[services.shop]\n{shop}\n[services.billing]\n{billing}\n\n[workloads.w]\ntarget = \"shop\"\nopen = {{ rate = 1.0 }}\n"
    )
}

fn error_of(text: &str) -> String {
    match Scenario::parse(text, "bad.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn the_base_file_is_valid() {
    Scenario::parse(BASE, "base.toml").unwrap();
}

/// Each malformed file and its exact message: file, line, column, key path, what is wrong.
#[test]
fn malformed_files_are_located_errors() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown service in a call",
            "[services.frontend]\nsteps = [{ call = \"paymnt\" }]\n[services.payment]\n[workloads.w]\ntarget = \"frontend\"\nopen = { rate = 1.0 }\n",
            "bad.toml:2:19: services.frontend.steps[0].call: unknown service \"paymnt\"; did you mean \"payment\"?",
        ),
        (
            "unknown key with a suggestion",
            "[services.frontend]\nwrokers = 4\n",
            "bad.toml:2:1: services.frontend: unknown key \"wrokers\"; did you mean \"workers\"?",
        ),
        (
            "unknown top-level table",
            "[workload.w]\ntarget = \"a\"\n",
            "bad.toml:1:2: unknown key \"workload\"; did you mean \"workloads\"?",
        ),
        (
            "unknown distribution kind",
            "[services.a]\nwork = { exponental = { mean = \"1ms\" } }\n",
            "bad.toml:2:10: services.a.work: unknown key \"exponental\"; did you mean \"exponential\"?",
        ),
        (
            "duration without a unit",
            "[simulation]\nduration = \"60\"\n",
            "bad.toml:2:12: simulation.duration: duration \"60\" has no unit; write it with one of ns, us, ms, s, m, h, e.g. \"60us\"",
        ),
        (
            "call cycle",
            "[services.a]\nsteps = [{ call = \"b\" }]\n[services.b]\nsteps = [{ work = { constant = \"1ms\" } }, { call = \"a\" }]\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\n",
            "bad.toml:2:19: services.a.steps[0].call: call cycle a -> b -> a",
        ),
        (
            "a service calling itself",
            "[services.a]\nsteps = [{ parallel = [{ call = \"a\" }] }]\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\n",
            "bad.toml:2:33: services.a.steps[0].parallel[0].call: call cycle a -> a",
        ),
        (
            "zero rate",
            "[services.a]\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 0.0 }\n",
            "bad.toml:4:17: workloads.w.open.rate: rate must be a finite number of requests per second > 0, got 0",
        ),
        (
            "NaN rate",
            "[services.a]\n[workloads.w]\ntarget = \"a\"\nopen = { rate = nan }\n",
            "bad.toml:4:17: workloads.w.open.rate: rate must be a finite number of requests per second > 0, got NaN",
        ),
        (
            "negative workers",
            "[services.a]\nworkers = -2\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\n",
            "bad.toml:2:11: services.a.workers: workers must be at least 1, got -2",
        ),
        (
            "negative duration",
            "[simulation]\nwarmup = \"-5s\"\n",
            "bad.toml:2:10: simulation.warmup: duration \"-5s\" is negative; durations must be zero or more",
        ),
        (
            "missing parameter of a distribution",
            "[services.a]\nwork = { lognormal = { mean = \"1ms\" } }\n",
            "bad.toml:2:22: services.a.work.lognormal: missing key \"std_dev\"",
        ),
        (
            "invalid distribution parameters",
            "[services.a]\nwork = { pareto = { scale = \"1ms\", shape = -1.5 } }\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\n",
            "bad.toml:2:8: services.a.work: pareto shape must be a finite number > 0, got -1.5",
        ),
        (
            "link to an unknown service",
            "[services.payment]\n[[links]]\nfrom = \"client\"\nto = \"paymnet\"\nlatency = { constant = \"1ms\" }\n[workloads.w]\ntarget = \"payment\"\nopen = { rate = 1.0 }\n",
            "bad.toml:4:6: links[0].to: unknown service \"paymnet\"; did you mean \"payment\"?",
        ),
        (
            "workload targeting an unknown service",
            "[services.frontend]\n[workloads.w]\ntarget = \"fronted\"\nopen = { rate = 1.0 }\n",
            "bad.toml:3:10: workloads.w.target: unknown service \"fronted\"; did you mean \"frontend\"?",
        ),
        (
            "workload with both open and closed",
            "[services.a]\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\nclosed = { users = 1, think = { constant = \"1s\" } }\n",
            "bad.toml:5:10: workloads.w.closed: a workload is either open or closed, not both",
        ),
        (
            "workload with neither open nor closed",
            "[services.a]\n[workloads.w]\ntarget = \"a\"\n",
            "bad.toml:2:1: workloads.w: missing traffic: add open = { rate = R } or closed = { users = N, think = DIST }",
        ),
        (
            "missing target",
            "[services.a]\n[workloads.w]\nopen = { rate = 1.0 }\n",
            "bad.toml:2:1: workloads.w: missing key \"target\"",
        ),
        (
            "zero users",
            "[services.a]\n[workloads.w]\ntarget = \"a\"\nclosed = { users = 0, think = { constant = \"1s\" } }\n",
            "bad.toml:4:20: workloads.w.closed.users: users must be at least 1, got 0",
        ),
        (
            "a step with two keys",
            "[services.a]\nsteps = [{ call = \"b\", work = { constant = \"1ms\" } }]\n[services.b]\n",
            "bad.toml:2:10: services.a.steps[0]: a step has exactly one of the keys call, work, publish or parallel; found call and work",
        ),
        (
            "warm-up longer than the duration",
            "[simulation]\nduration = \"10s\"\nwarmup = \"10s\"\n[services.a]\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\n",
            "bad.toml:3:10: simulation.warmup: warmup 10s leaves nothing to measure: it must be shorter than the duration 10s",
        ),
        (
            "wrong type",
            "[services.a]\nworkers = \"four\"\n",
            "bad.toml:2:11: services.a.workers: expected a whole number, found string \"four\"",
        ),
        (
            "syntax error",
            "[services.a]\nworkers = \n",
            "bad.toml:2:11: services.a.workers: invalid TOML: string values must be quoted, expected literal string",
        ),
        (
            "the reserved name client",
            "[services.client]\n[workloads.w]\ntarget = \"client\"\nopen = { rate = 1.0 }\n",
            "bad.toml:1:11: services.client: \"client\" is reserved: it is where workload requests come from",
        ),
        (
            "a duplicate link",
            "[services.a]\n[[links]]\nfrom = \"client\"\nto = \"a\"\nlatency = { constant = \"1ms\" }\n[[links]]\nfrom = \"client\"\nto = \"a\"\nlatency = { constant = \"2ms\" }\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\n",
            "bad.toml:6:1: links[1]: link client -> a is set twice (first at line 2)",
        ),
        (
            "unknown arrivals",
            "[services.a]\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0, arrivals = \"constnt\" }\n",
            "bad.toml:4:33: workloads.w.open.arrivals: unknown arrivals \"constnt\"; did you mean \"constant\"?",
        ),
        (
            "publish to an unknown topic",
            &events("steps = [{ publish = \"ordres\" }]", ""),
            "bad.toml:6:22: services.shop.steps[0].publish: unknown topic \"ordres\"; did you mean \"orders\"?",
        ),
        (
            "publish without any topic",
            "[services.a]\nsteps = [{ publish = \"orders\" }]\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\n",
            "bad.toml:2:22: services.a.steps[0].publish: unknown topic \"orders\"; declare topics in [topics.NAME] tables",
        ),
        (
            "subscribe to a service",
            &events("", "subscribes = [\"orders\", \"billing\"]"),
            "bad.toml:8:25: services.billing.subscribes[1]: \"billing\" is a service, not a topic",
        ),
        (
            "subscribe to a misspelt topic",
            &events("", "subscribes = [\"ordres\"]"),
            "bad.toml:8:15: services.billing.subscribes[0]: unknown topic \"ordres\"; did you mean \"orders\"?",
        ),
        (
            "subscribe to a misspelt dead-letter topic",
            &events("", "subscribes = [\"orders.deadletter\"]"),
            "bad.toml:8:15: services.billing.subscribes[0]: unknown topic \"orders.deadletter\"; did you mean \"orders.dead-letter\"?",
        ),
        (
            "subscribe twice",
            &events("", "subscribes = [\"orders\", \"orders\"]"),
            "bad.toml:8:25: services.billing.subscribes[1]: subscribes to \"orders\" twice",
        ),
        (
            "publish to a service",
            &events("steps = [{ publish = \"billing\" }]", ""),
            "bad.toml:6:22: services.shop.steps[0].publish: \"billing\" is a service, not a topic: call it with { call = \"billing\" }",
        ),
        (
            "call a topic",
            &events("steps = [{ call = \"orders\" }]", ""),
            "bad.toml:6:19: services.shop.steps[0].call: \"orders\" is a topic, not a service: publish to it with { publish = \"orders\" }",
        ),
        (
            "zero ack timeout",
            "[topics.orders]\ndelivery = \"at_least_once\"\nack_timeout = \"0s\"\n",
            "bad.toml:3:15: topics.orders.ack_timeout: ack_timeout must be greater than 0s",
        ),
        (
            "zero max deliveries",
            "[topics.orders]\ndelivery = \"at_least_once\"\nmax_deliveries = 0\n",
            "bad.toml:3:18: topics.orders.max_deliveries: max_deliveries must be at least 1, got 0",
        ),
        (
            "an ack timeout on an at-most-once topic",
            "[topics.orders]\nack_timeout = \"1s\"\n",
            "bad.toml:2:15: topics.orders.ack_timeout: ack_timeout applies only to at_least_once topics; add delivery = \"at_least_once\" (the default is at_most_once)",
        ),
        (
            "unknown delivery",
            "[topics.orders]\ndelivery = \"at-least-once\"\n",
            "bad.toml:2:12: topics.orders.delivery: unknown delivery \"at-least-once\"; did you mean \"at_least_once\"?",
        ),
        (
            "zero capacity",
            "[topics.orders]\ncapacity = 0\n",
            "bad.toml:2:12: topics.orders.capacity: capacity must be at least 1, got 0",
        ),
        (
            "when_full without a capacity",
            "[topics.orders]\nwhen_full = \"reject\"\n",
            "bad.toml:2:13: topics.orders.when_full: when_full applies only to a topic with a capacity: an unbounded topic is never full",
        ),
        (
            "unknown key in a topic",
            "[topics.orders]\nack_timout = \"1s\"\n",
            "bad.toml:2:1: topics.orders: unknown key \"ack_timout\"; did you mean \"ack_timeout\"?",
        ),
        (
            "a topic named like a service",
            "[services.orders]\n[topics.orders]\n[workloads.w]\ntarget = \"orders\"\nopen = { rate = 1.0 }\n",
            "bad.toml:2:9: topics.orders: topic \"orders\" has the name of a service: services and topics share one namespace",
        ),
        (
            "a dead-letter topic named like a service",
            "[services.\"orders.dead-letter\"]\n[topics.orders]\ndelivery = \"at_least_once\"\n",
            "bad.toml:2:9: topics.orders: an at_least_once topic's dead-letter topic is named \"orders.dead-letter\", which is already a service",
        ),
        (
            "keys on a call",
            &events("steps = [{ call = \"billing\", keys = 4 }]", ""),
            "bad.toml:6:37: services.shop.steps[0].keys: keys applies only to a publish step, e.g. { publish = \"orders\", keys = 100 }",
        ),
        (
            "zero keys",
            &events("steps = [{ publish = \"orders\", keys = 0 }]", ""),
            "bad.toml:6:39: services.shop.steps[0].keys: keys must be at least 1, got 0",
        ),
        (
            "an event cycle",
            &events(
                "steps = [{ publish = \"orders\" }]\nsubscribes = [\"orders\"]",
                "",
            ),
            "bad.toml:6:22: services.shop.steps[0].publish: event cycle shop -> orders -> shop: every event would cause another, forever",
        ),
        (
            "an event cycle through a call and a dead-letter topic",
            &events(
                "steps = [{ call = \"billing\" }]\nsubscribes = [\"orders.dead-letter\"]",
                "steps = [{ publish = \"orders\" }]",
            ),
            "bad.toml:9:22: services.billing.steps[0].publish: event cycle billing -> orders -> orders.dead-letter -> shop -> billing: every event would cause another, forever",
        ),
        (
            "a link from a topic",
            &format!(
                "{}[[links]]\nfrom = \"orders\"\nto = \"billing\"\nlatency = {{ constant = \"1ms\" }}\n",
                events("", "")
            ),
            "bad.toml:14:8: links[0].from: a link cannot start at topic \"orders\": a topic delivers its events after its broker_latency",
        ),
        (
            "a workload targeting a topic",
            "[topics.orders]\n[services.a]\n[workloads.w]\ntarget = \"orders\"\nopen = { rate = 1.0 }\n",
            "bad.toml:4:10: workloads.w.target: \"orders\" is a topic: a workload sends requests to a service (which may publish)",
        ),
        (
            "no workloads",
            "[services.a]\n",
            "bad.toml:1: workloads: no workloads: add a [workloads.NAME] table with a target and open or closed traffic",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, text, expected) in cases {
        let message = error_of(text);
        if message != *expected {
            wrong.push(format!(
                "{what}:\n  got      {message}\n  expected {expected}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Errors carry their parts as fields, for tools that want them.
#[test]
fn errors_expose_file_line_column_and_key() {
    let text = BASE.replace("{ call = \"payment\" }", "{ call = \"paymnt\" }");
    let err = Scenario::parse(&text, "store.toml").unwrap_err();
    let ScenarioError::Invalid {
        origin,
        line,
        column,
        key,
        message,
        ..
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!(origin, "store.toml");
    assert_eq!(line, 6);
    assert_eq!(column, Some(19));
    assert_eq!(key, "services.frontend.steps[0].call");
    assert_eq!(
        message,
        "unknown service \"paymnt\"; did you mean \"payment\"?"
    );
}

/// A mutation of a valid file: cut a range, or insert a piece of TOML-ish text.
fn mutate(text: &str, at: usize, len: usize, insert: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + len).min(chars.len());
    chars.splice(at..end, insert.chars());
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Scenario::parse(&text, "fuzz.toml");
    }

    #[test]
    fn toml_shaped_text_never_panics(
        text in "(\\[{1,2}[a-z.]{0,12}\\]{1,2}\n|[a-z_]{1,8} = (\"[0-9.a-z]{0,5}\"|-?[0-9.]{1,4}|\\{ ?[a-z]{0,8} = [^\n]{0,12}\\}|\\[[^\n]{0,12}\\])\n){0,12}"
    ) {
        let _ = Scenario::parse(&text, "fuzz.toml");
    }

    #[test]
    fn mutations_of_a_valid_file_never_panic(
        at in 0usize..400,
        len in 0usize..8,
        insert in prop::sample::select(vec![
            "", "\"", "=", "[", "]", "{", "}", ",", "\n", "-", "0", "nan", "inf", "1e400", "ms",
            "\"x\"", "call", "parallel = []", "µs", "\u{0}", "[[links]]", "#", "'", "s",
        ]),
    ) {
        let text = mutate(BASE, at, len, insert);
        if let Err(err) = Scenario::parse(&text, "fuzz.toml") {
            // Every message names the file and a line.
            let message = err.to_string();
            prop_assert!(message.starts_with("fuzz.toml:"), "{}", message);
        }
    }

    #[test]
    fn mutations_of_an_event_file_never_panic(
        at in 0usize..700,
        len in 0usize..8,
        insert in prop::sample::select(vec![
            "", "\"", "=", "[", "]", "{", "}", ",", "\n", "0", "-1", "\"0s\"", "publish",
            "subscribes = [\"a\"]", "keys = 0", "\"at_most_once\"", "[topics.a]",
            "[topics.shop]", ".dead-letter", "#",
        ]),
    ) {
        let text = mutate(CHAIN, at, len, insert);
        if let Err(err) = Scenario::parse(&text, "fuzz.toml") {
            let message = err.to_string();
            prop_assert!(message.starts_with("fuzz.toml:"), "{}", message);
        }
    }

    #[test]
    fn mutations_of_the_store_never_panic(
        at in 0usize..6000,
        len in 0usize..20,
        insert in "[ -~\n]{0,6}",
    ) {
        let store = shipped("store.toml");
        let text = mutate(&store, at, len, &insert);
        if let Err(err) = Scenario::parse(&text, "store.toml") {
            let message = err.to_string();
            prop_assert!(message.starts_with("store.toml:"), "{}", message);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_or_a_scenario_not_a_crash() {
    for depth in [10, 100, 1000, 10_000] {
        let steps = format!(
            "{}{{ call = \"b\" }}{}",
            "{ parallel = [".repeat(depth),
            "] }".repeat(depth)
        );
        let text = format!(
            "[services.a]\nsteps = [{steps}]\n[services.b]\n[workloads.w]\ntarget = \"a\"\nopen = {{ rate = 1.0 }}\n"
        );
        match Scenario::parse(&text, "deep.toml") {
            Ok(_) => assert!(depth <= 10, "depth {depth} accepted"),
            Err(err) => {
                let message = err.to_string();
                assert!(depth > 10, "{message}");
                assert!(message.starts_with("deep.toml:2:"), "{message}");
                assert!(message.contains("max recursion depth"), "{message}");
            }
        }
    }
}
