//! Scenario files: the shipped scenarios run on the library engine with the effects they claim,
//! and malformed files fail with located messages -- never a panic.

#![cfg(feature = "scenario")]

use std::path::Path;

use microsim::policy::BreakerState;
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
        arrivals.counts.completed >= 980_000,
        "too few requests for the stated tolerance: {}",
        arrivals.counts.completed
    );
    assert_eq!(arrivals.counts.failed, 0);
    let latency = &arrivals.latency_ms;
    let mean_error = relative_error(latency.mean, 5.0);
    let p99_error = relative_error(latency.p99, 23.026);
    assert!(mean_error < 0.03, "mean {} ms", latency.mean);
    assert!(p99_error < 0.05, "p99 {} ms", latency.p99);
    let utilization = report.services["server"]
        .utilization
        .expect("a fixed number of workers");
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
        assert!(workload.counts.sent > 1000, "{name}: {workload:?}");
        assert_eq!(
            workload.counts.sent,
            workload.counts.completed + workload.counts.failed,
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
        assert!(service.counts.handled > 0, "{name} handled nothing");
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
    assert_eq!(search.counts.failed, 0);
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
        report.services["backend-01"].counts.handled,
        report.services["backend-20"].counts.handled
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
    assert_eq!(checkout.counts.completed, 100);
    assert_eq!(
        checkout.counts.sent,
        checkout.counts.completed + checkout.counts.failed
    );
    assert_eq!(checkout.latency_ms.p50, 3.2);
    assert_eq!(checkout.latency_ms.max, 3.2);
    assert_eq!(checkout.settled_ms.count, 100);
    assert_eq!(checkout.settled_ms.p50, 6.0);
    assert_eq!(checkout.settled_ms.max, 6.0);
    assert_eq!(checkout.settled_ms.mean, 6.0);
    let orders = &report.topics["orders"];
    assert_eq!(orders.counts.published, 100);
    assert_eq!(orders.subscribers["payment"].counts.handled, 100);
    assert_eq!(orders.subscribers["payment"].latency_ms.max, 2.7);
    let payments = &report.topics["payments"];
    assert_eq!(payments.counts.published, 100);
    assert_eq!(payments.subscribers["shipping"].counts.handled, 100);
    assert_eq!(payments.subscribers["shipping"].latency_ms.max, 1.3);
    // The at-least-once topic has its dead-letter topic, unused here.
    assert_eq!(report.topics["orders.dead-letter"].counts.published, 0);
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
    assert!(stories.counts.completed > 1000, "{stories:?}");
    assert_eq!(stories.counts.failed, 0);
    let news = &report.topics["news"];
    assert_eq!(news.counts.published, stories.counts.completed);
    assert_eq!(news.subscribers.len(), 3);
    for name in ["web", "mobile", "archive"] {
        assert_eq!(
            news.subscribers[name].counts.handled, news.counts.published,
            "{name}"
        );
        assert_eq!(
            report.services[name].counts.handled, news.counts.published,
            "{name}"
        );
    }
    assert_eq!(news.counts.delivered, 3 * news.counts.published);
    assert_eq!(
        (
            news.counts.lost,
            news.counts.redelivered,
            news.counts.rejected
        ),
        (0, 0, 0)
    );
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
    assert!(orders.counts.sent > 4000, "{orders:?}");
    assert_eq!(
        orders.counts.sent,
        orders.counts.completed + orders.counts.failed
    );
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
            subscriber.counts.handled + subscriber.counts.dead_lettered,
            placed.counts.published,
            "{name}"
        );
    }
    let done = &report.topics["payment-done"];
    assert!(done.counts.published > 4000, "{done:?}");
    assert_eq!(
        done.subscribers["shipping"].counts.handled,
        done.counts.published
    );
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
    assert!(checkout.counts.completed > 0);
    assert_eq!(
        checkout.counts.sent,
        checkout.counts.completed + checkout.counts.failed
    );
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
            "bad.toml:2:11: services.a.workers: workers must be 0 or more, got -2",
        ),
        (
            "negative duration",
            "[simulation]\nwarmup = \"-5s\"\n",
            "bad.toml:2:10: simulation.warmup: duration \"-5s\" is negative; durations must be zero or more",
        ),
        (
            "missing parameter of a distribution",
            "[services.a]\nwork = { lognormal = { mean = \"1ms\" } }\n",
            "bad.toml:2:8: services.a.work: lognormal takes exactly two of mean, p50, p90, p99 \
             and p999 (or mean and std_dev), got only mean",
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
            "bad.toml:2:1: workloads.w: missing traffic: add open = { rate = R } or closed = { users = N, think = DIST } (or stages of either)",
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
            "bad.toml:2:10: services.a.steps[0]: a step has exactly one of the keys call, work, send, publish, fail, parallel, choose or repeat; found call and work",
        ),
        (
            "warm-up longer than the duration",
            "[simulation]\nduration = \"10s\"\nwarmup = \"10s\"\n[services.a]\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\n",
            "bad.toml:3:10: simulation.warmup: warmup 10s leaves nothing to measure: it must be shorter than the duration 10s",
        ),
        (
            "wrong type",
            "[services.a]\nqueue = \"four\"\n",
            "bad.toml:2:9: services.a.queue: expected a whole number, found string \"four\"",
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
            "bad.toml:6:19: services.shop.steps[0].call: \"orders\" is a topic, not a service: a call goes to a service; publish to a topic with { publish = \"orders\" }",
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

/// A valid file with two replicas, a call, a topic and a workload (8 lines); each case below
/// adds a fault or policy entry from line 9.
const RESILIENT: &str = "[services.frontend]\nsteps = [{ call = \"payment\" }]\n[services.payment]\nreplicas = 2\n[topics.orders]\n[workloads.w]\ntarget = \"frontend\"\nopen = { rate = 10.0 }\n";

#[test]
fn the_resilient_base_file_is_valid() {
    Scenario::parse(RESILIENT, "base.toml").unwrap();
}

/// Each malformed fault, policy or replica setting and its exact message: file, line,
/// column, key path, what is wrong -- and the closest name where one was misspelt.
#[test]
fn malformed_resilience_keys_are_located_errors() {
    let entries: &[(&str, &str, &str)] = &[
        (
            "unknown service in a fault",
            "[[faults]]\nslow = \"paymnt\"\nfactor = 2.0",
            "bad.toml:10:8: faults[0].slow: unknown service \"paymnt\"; did you mean \"payment\"?",
        ),
        (
            "a slow fault without a factor",
            "[[faults]]\nslow = \"payment\"",
            "bad.toml:9:1: faults[0]: missing key \"factor\": a slow fault needs it, e.g. { slow = \"payment\", factor = 3.0 }",
        ),
        (
            "a zero factor",
            "[[faults]]\nslow = \"payment\"\nfactor = 0.0",
            "bad.toml:11:10: faults[0].factor: factor must be a finite number > 0 (3.0 = three times slower), got 0",
        ),
        (
            "a replica out of range",
            "[[faults]]\nslow = \"payment\"\nfactor = 2.0\nreplica = 2",
            "bad.toml:12:11: faults[0].replica: payment has 2 replicas (numbered from 0), so there is no replica 2",
        ),
        (
            "a replica of a service without replicas",
            "[[faults]]\ncrash = \"frontend\"\nreplica = 1",
            "bad.toml:11:11: faults[0].replica: frontend has 1 replica (numbered from 0), so there is no replica 1; set replicas = N on the service, or leave replica out to act on the whole service",
        ),
        (
            "a negative replica",
            "[[faults]]\ncrash = \"payment\"\nreplica = -1",
            "bad.toml:11:11: faults[0].replica: replica must be 0 or more, got -1",
        ),
        (
            "a factor on a crash",
            "[[faults]]\ncrash = \"payment\"\nfactor = 2.0",
            "bad.toml:11:10: faults[0].factor: factor applies only to a slow fault, e.g. { slow = \"payment\", factor = 3.0 }",
        ),
        (
            "a replica on a fail fault",
            "[[faults]]\nfail = \"payment\"\nprobability = 0.5\nreplica = 0",
            "bad.toml:12:11: faults[0].replica: replica applies only to slow and crash faults, e.g. { crash = \"catalog\", replica = 0 }",
        ),
        (
            "extra on a slow fault",
            "[[faults]]\nslow = \"payment\"\nfactor = 2.0\nextra = \"1ms\"",
            "bad.toml:12:9: faults[0].extra: extra applies only to a latency fault, e.g. { latency = [\"frontend\", \"payment\"], extra = \"50ms\" }",
        ),
        (
            "crash a topic",
            "[[faults]]\ncrash = \"orders\"",
            "bad.toml:10:9: faults[0].crash: \"orders\" is a topic, not a service: a crash fault takes a service's replicas down",
        ),
        (
            "crash the client",
            "[[faults]]\ncrash = \"client\"",
            "bad.toml:10:9: faults[0].crash: \"client\" is where workload requests come from, not a service: a crash fault takes a service's replicas down",
        ),
        (
            "a fail fault without a probability",
            "[[faults]]\nfail = \"payment\"",
            "bad.toml:9:1: faults[0]: missing key \"probability\": a fail fault needs it, e.g. { fail = \"payment\", probability = 0.1 }",
        ),
        (
            "a probability above 1",
            "[[faults]]\nfail = \"payment\"\nprobability = 1.5",
            "bad.toml:11:15: faults[0].probability: probability must be within [0, 1] (0.1 = one in ten), got 1.5",
        ),
        (
            "a fault after the end",
            "[[faults]]\nfail = \"payment\"\nprobability = 0.5\nat = \"2m\"",
            "bad.toml:12:6: faults[0].at: the fault starts at 120s, when the simulation's duration of 60s is over: it would never act",
        ),
        (
            "a fault lasting no time",
            "[[faults]]\nfail = \"payment\"\nprobability = 0.5\nlasting = \"0s\"",
            "bad.toml:12:11: faults[0].lasting: lasting must be greater than 0s",
        ),
        (
            "a fault lasting without a unit",
            "[[faults]]\nfail = \"payment\"\nprobability = 0.5\nlasting = \"10\"",
            "bad.toml:12:11: faults[0].lasting: duration \"10\" has no unit; write it with one of ns, us, ms, s, m, h, e.g. \"10us\"",
        ),
        (
            "two kinds in one fault",
            "[[faults]]\nslow = \"payment\"\ncrash = \"payment\"",
            "bad.toml:9:1: faults[0]: a fault has exactly one of the keys slow, latency, fail, loss, partition or crash; found slow and crash: write one [[faults]] entry per fault",
        ),
        (
            "no kind",
            "[[faults]]\nat = \"1s\"",
            "bad.toml:9:1: faults[0]: a fault has exactly one of the keys slow, latency, fail, loss, partition or crash; found none, e.g. { slow = \"payment\", factor = 3.0 }",
        ),
        (
            "a misspelt kind",
            "[[faults]]\nslo = \"payment\"",
            "bad.toml:10:1: faults[0]: unknown key \"slo\"; did you mean \"slow\"?",
        ),
        (
            "one endpoint",
            "[[faults]]\nlatency = [\"frontend\"]\nextra = \"1ms\"",
            "bad.toml:10:11: faults[0].latency: latency takes two names, e.g. latency = [\"frontend\", \"payment\"]; got 1",
        ),
        (
            "a latency fault the wrong way round",
            "[[faults]]\nlatency = [\"payment\", \"frontend\"]\nextra = \"1ms\"",
            "bad.toml:10:11: faults[0].latency: \"payment\" never calls \"frontend\", so this fault would never act; \"frontend\" calls \"payment\": did you mean from \"frontend\" to \"payment\"?",
        ),
        (
            "a latency fault to an unknown service",
            "[[faults]]\nlatency = [\"frontend\", \"paymnt\"]\nextra = \"1ms\"",
            "bad.toml:10:24: faults[0].latency[1]: unknown service \"paymnt\"; did you mean \"payment\"?",
        ),
        (
            "a latency fault without extra",
            "[[faults]]\nlatency = [\"frontend\", \"payment\"]",
            "bad.toml:9:1: faults[0]: missing key \"extra\": a latency fault needs it, e.g. { latency = [\"frontend\", \"payment\"], extra = \"50ms\" }",
        ),
        (
            "a latency fault from client to a topic",
            "[[faults]]\nlatency = [\"client\", \"orders\"]\nextra = \"1ms\"",
            "bad.toml:10:11: faults[0].latency: workloads send requests to services, they do not publish to topics like \"orders\", so this fault would never act",
        ),
        (
            "loss on a topic",
            "[[faults]]\nloss = [\"frontend\", \"orders\"]\nprobability = 0.1",
            "bad.toml:10:21: faults[0].loss[1]: \"orders\" is a topic: loss acts on the messages between services (and \"client\"), not on publishes",
        ),
        (
            "loss on a pair that never talks",
            "[[faults]]\nloss = [\"client\", \"payment\"]\nprobability = 0.1",
            "bad.toml:10:8: faults[0].loss: no workload targets \"payment\", so this fault would never act",
        ),
        (
            "a partition with one side",
            "[[faults]]\npartition = [\"payment\", \"payment\"]",
            "bad.toml:10:13: faults[0].partition: a partition fault needs two different sides, got \"payment\" twice",
        ),
        (
            "a probability on a partition",
            "[[faults]]\npartition = [\"payment\", \"frontend\"]\nprobability = 0.5",
            "bad.toml:11:15: faults[0].probability: probability does not apply to a partition, which loses every message; for a fraction, use { loss = [A, B], probability = P }",
        ),
        (
            "a partition as a string",
            "[[faults]]\npartition = \"payment\"",
            "bad.toml:10:13: faults[0].partition: expected an array, found string \"payment\"",
        ),
        (
            "faults inline after a table",
            "faults = [{ crash = \"payment\" }]",
            "bad.toml:9:1: workloads.w: unknown key \"faults\"; expected one of target, open, closed, timeout; faults is a top-level key: write each entry as a [[faults]] table, or put `faults = [...]` before the first [table] header",
        ),
        (
            "a policy to an unknown service",
            "[[policies]]\nfrom = \"frontend\"\nto = \"paymnt\"\ntimeout = \"1s\"",
            "bad.toml:11:6: policies[0].to: unknown service \"paymnt\"; did you mean \"payment\"?",
        ),
        (
            "a policy from an unknown service",
            "[[policies]]\nfrom = \"fronted\"\nto = \"payment\"\ntimeout = \"1s\"",
            "bad.toml:10:8: policies[0].from: unknown service \"fronted\"; did you mean \"frontend\"?",
        ),
        (
            "a policy the wrong way round",
            "[[policies]]\nfrom = \"payment\"\nto = \"frontend\"\ntimeout = \"1s\"",
            "bad.toml:11:6: policies[0].to: \"payment\" never calls \"frontend\", so this policy would never apply; \"frontend\" calls \"payment\": did you mean from \"frontend\" to \"payment\"?",
        ),
        (
            "a client policy without a workload",
            "[[policies]]\nfrom = \"client\"\nto = \"payment\"\ntimeout = \"1s\"",
            "bad.toml:11:6: policies[0].to: no workload targets \"payment\", so this policy would never apply",
        ),
        (
            "a policy to a topic",
            "[[policies]]\nfrom = \"frontend\"\nto = \"orders\"\ntimeout = \"1s\"",
            "bad.toml:11:6: policies[0].to: \"orders\" is a topic: a policy applies to calls, and publishes are not calls",
        ),
        (
            "a policy from a topic",
            "[[policies]]\nfrom = \"orders\"\nto = \"payment\"\ntimeout = \"1s\"",
            "bad.toml:10:8: policies[0].from: a policy cannot start at topic \"orders\": a topic delivers events, it makes no calls",
        ),
        (
            "a policy without parts",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"",
            "bad.toml:9:1: policies[0]: a policy without parts changes nothing: add timeout, retry, circuit_breaker, bulkhead, rate_limit or hedge",
        ),
        (
            "a zero timeout",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\ntimeout = \"0s\"",
            "bad.toml:12:11: policies[0].timeout: timeout must be greater than 0s",
        ),
        (
            "a misspelt policy key",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\ntimout = \"1s\"",
            "bad.toml:12:1: policies[0]: unknown key \"timout\"; did you mean \"timeout\"?",
        ),
        (
            "a policy set twice",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\ntimeout = \"1s\"\n[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nbulkhead = 3",
            "bad.toml:13:1: policies[1]: the policy frontend -> payment is set twice (first at line 9)",
        ),
        (
            "a policy without from",
            "[[policies]]\nto = \"payment\"\ntimeout = \"1s\"",
            "bad.toml:9:1: policies[0]: missing key \"from\"",
        ),
        (
            "zero attempts",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { max_attempts = 0 }",
            "bad.toml:12:26: policies[0].retry.max_attempts: max_attempts counts the first attempt too, so it must be at least 1, got 0",
        ),
        (
            "a misspelt backoff",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { backoff = \"exponentail\" }",
            "bad.toml:12:21: policies[0].retry.backoff: unknown backoff \"exponentail\"; did you mean \"exponential\"?",
        ),
        (
            "a constant backoff without a delay",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { backoff = \"constant\" }",
            "bad.toml:12:21: policies[0].retry.backoff: a constant backoff needs a delay, e.g. { backoff = \"constant\", delay = \"100ms\" }",
        ),
        (
            "base with a constant backoff",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { backoff = \"constant\", delay = \"1ms\", base = \"1ms\" }",
            "bad.toml:12:55: policies[0].retry.base: base applies only to backoff = \"exponential\"; a constant backoff waits its delay",
        ),
        (
            "delay with an exponential backoff",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { backoff = \"exponential\", delay = \"1ms\" }",
            "bad.toml:12:44: policies[0].retry.delay: delay applies only to backoff = \"constant\"; an exponential backoff takes base and cap",
        ),
        (
            "a cap below the base",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { base = \"100ms\", cap = \"10ms\" }",
            "bad.toml:12:33: policies[0].retry.cap: cap 10ms is below base 100ms: the longest wait cannot be shorter than the first",
        ),
        (
            "a zero base",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { base = \"0ms\" }",
            "bad.toml:12:18: policies[0].retry.base: base must be greater than 0s",
        ),
        (
            "a misspelt jitter",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { jitter = \"ful\" }",
            "bad.toml:12:20: policies[0].retry.jitter: unknown jitter \"ful\"; did you mean \"full\"?",
        ),
        (
            "a budget ratio above 1",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { budget = { ratio = 2.0 } }",
            "bad.toml:12:30: policies[0].retry.budget.ratio: ratio must be within [0, 1] (0.2 = retries may add 20% to the calls), got 2",
        ),
        (
            "a budget without a ratio",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { budget = { min_per_second = 2.0 } }",
            "bad.toml:12:20: policies[0].retry.budget: missing key \"ratio\"",
        ),
        (
            "a negative budget floor",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { budget = { ratio = 0.1, min_per_second = -1.0 } }",
            "bad.toml:12:52: policies[0].retry.budget.min_per_second: min_per_second must be a finite number >= 0, got -1",
        ),
        (
            "a zero budget window",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { budget = { ratio = 0.1, window = \"0s\" } }",
            "bad.toml:12:44: policies[0].retry.budget.window: window must be greater than 0s",
        ),
        (
            "a misspelt retry key",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nretry = { max_attemps = 2 }",
            "bad.toml:12:11: policies[0].retry: unknown key \"max_attemps\"; did you mean \"max_attempts\"?",
        ),
        (
            "a failure rate in percent",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\ncircuit_breaker = { failure_rate = 50 }",
            "bad.toml:12:36: policies[0].circuit_breaker.failure_rate: failure_rate must be within (0, 1] (a share of calls: 0.5 = half), got 50",
        ),
        (
            "two breaker windows",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\ncircuit_breaker = { window_calls = 10, window_time = \"1s\" }",
            "bad.toml:12:54: policies[0].circuit_breaker.window_time: a circuit breaker's window is either window_calls or window_time, not both",
        ),
        (
            "minimum calls above the window",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\ncircuit_breaker = { window_calls = 10, minimum_calls = 20 }",
            "bad.toml:12:56: policies[0].circuit_breaker.minimum_calls: minimum_calls 20 exceeds its window_calls of 10, so the breaker could never open",
        ),
        (
            "minimum calls above the default window",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\ncircuit_breaker = { minimum_calls = 200 }",
            "bad.toml:12:37: policies[0].circuit_breaker.minimum_calls: minimum_calls 200 exceeds its window_calls of 100, so the breaker could never open",
        ),
        (
            "a zero open_for",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\ncircuit_breaker = { open_for = \"0s\" }",
            "bad.toml:12:32: policies[0].circuit_breaker.open_for: open_for must be greater than 0s",
        ),
        (
            "zero trial calls",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\ncircuit_breaker = { trial_calls = 0 }",
            "bad.toml:12:35: policies[0].circuit_breaker.trial_calls: trial_calls must be at least 1, got 0",
        ),
        (
            "a zero window",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\ncircuit_breaker = { window_calls = 0 }",
            "bad.toml:12:36: policies[0].circuit_breaker.window_calls: window_calls must be at least 1, got 0",
        ),
        (
            "a zero bulkhead",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nbulkhead = 0",
            "bad.toml:12:12: policies[0].bulkhead: bulkhead must be at least 1, got 0",
        ),
        (
            "a zero rate limit",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nrate_limit = { per_second = 0.0 }",
            "bad.toml:12:29: policies[0].rate_limit.per_second: per_second must be a finite number > 0 and at most 1e9, got 0",
        ),
        (
            "a zero burst",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nrate_limit = { per_second = 10.0, burst = 0 }",
            "bad.toml:12:43: policies[0].rate_limit.burst: burst must be at least 1, got 0",
        ),
        (
            "a rate limit without a rate",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nrate_limit = { burst = 10 }",
            "bad.toml:12:14: policies[0].rate_limit: missing key \"per_second\"",
        ),
        (
            "a hedge with both delays",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nhedge = { after = \"1ms\", percentile = 95 }",
            "bad.toml:12:39: policies[0].hedge.percentile: a hedge waits either a fixed delay (after) or a percentile, not both",
        ),
        (
            "an empty hedge",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nhedge = {}",
            "bad.toml:12:9: policies[0].hedge: a hedge needs after = DURATION or percentile = P, e.g. { after = \"10ms\" } or { percentile = 95 }",
        ),
        (
            "a hedge at the 100th percentile",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nhedge = { percentile = 100 }",
            "bad.toml:12:24: policies[0].hedge.percentile: percentile must be within (0, 100), e.g. 95, got 100",
        ),
        (
            "min_samples on a fixed hedge",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nhedge = { after = \"1ms\", min_samples = 3 }",
            "bad.toml:12:40: policies[0].hedge.min_samples: min_samples applies only to a percentile hedge, e.g. { percentile = 95, min_samples = 100 }",
        ),
        (
            "a hedge as a string",
            "[[policies]]\nfrom = \"frontend\"\nto = \"payment\"\nhedge = \"10ms\"",
            "bad.toml:12:9: policies[0].hedge: expected a table such as { after = \"10ms\" } or { percentile = 95 }, found string \"10ms\"",
        ),
    ];
    let services: &[(&str, &str, &str)] = &[
        (
            "zero replicas",
            "[services.a]\nreplicas = 0\n",
            "bad.toml:2:12: services.a.replicas: replicas must be at least 1, got 0",
        ),
        (
            "a balancer on one replica",
            "[services.a]\nbalancer = \"random\"\n",
            "bad.toml:2:12: services.a.balancer: balancer applies only to a service with replicas >= 2 (this one has 1): a single replica gets every request",
        ),
        (
            "a misspelt balancer",
            "[services.a]\nreplicas = 2\nbalancer = \"round-robin\"\n",
            "bad.toml:3:12: services.a.balancer: unknown balancer \"round-robin\"; did you mean \"round_robin\"?",
        ),
        (
            "an unknown balancer",
            "[services.a]\nreplicas = 2\nbalancer = \"p2c\"\n",
            "bad.toml:3:12: services.a.balancer: unknown balancer \"p2c\"; expected one of \"round_robin\", \"random\", \"least_outstanding\", \"power_of_two_choices\", \"peak_ewma\"",
        ),
        (
            "a decay on another balancer",
            "[services.a]\nreplicas = 2\nbalancer = \"random\"\nbalancer_decay = \"1s\"\n",
            "bad.toml:4:18: services.a.balancer_decay: balancer_decay applies only to balancer = \"peak_ewma\"",
        ),
        (
            "a decay without a balancer",
            "[services.a]\nreplicas = 2\nbalancer_decay = \"1s\"\n",
            "bad.toml:3:18: services.a.balancer_decay: balancer_decay applies only to balancer = \"peak_ewma\"",
        ),
        (
            "a zero decay",
            "[services.a]\nreplicas = 2\nbalancer = \"peak_ewma\"\nbalancer_decay = \"0s\"\n",
            "bad.toml:4:18: services.a.balancer_decay: balancer_decay must be greater than 0s",
        ),
        (
            "replicas as a string",
            "[services.a]\nreplicas = \"two\"\n",
            "bad.toml:2:12: services.a.replicas: expected a whole number, found string \"two\"",
        ),
        (
            "replica for replicas",
            "[services.a]\nreplica = 2\n",
            "bad.toml:2:1: services.a: unknown key \"replica\"; did you mean \"replicas\"?",
        ),
    ];
    let workload = "[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\n";
    let mut wrong = Vec::new();
    let texts = entries
        .iter()
        .map(|(what, entry, expected)| (what, format!("{RESILIENT}{entry}\n"), expected))
        .chain(
            services
                .iter()
                .map(|(what, service, expected)| (what, format!("{service}{workload}"), expected)),
        );
    for (what, text, expected) in texts {
        let message = error_of(&text);
        if message != *expected {
            wrong.push(format!(
                "{what}:\n  got      {message}\n  expected {expected}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
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
    fn mutations_of_the_resilience_file_never_panic(
        at in 0usize..2600,
        len in 0usize..12,
        insert in prop::sample::select(vec![
            "", "\"", "=", "[", "]", "{", "}", ",", "\n", "0", "-1", "1.5", "nan", "\"0s\"",
            "replica = 9", "replicas = 0", "[[faults]]", "[[policies]]", "crash = \"x\"",
            "\"client\"", "\"orders\"", "window_time = \"1s\"", "after = \"1ms\"", "#",
        ]),
    ) {
        let text = mutate(&shipped("resilience.toml"), at, len, insert);
        if let Err(err) = Scenario::parse(&text, "resilience.toml") {
            let message = err.to_string();
            prop_assert!(message.starts_with("resilience.toml:"), "{}", message);
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

// --- Replicas, balancers, faults and policies -------------------------------------------

fn run(text: &str) -> microsim::Report {
    Scenario::parse(text, "test.toml")
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .to_simulation(None)
        .unwrap()
        .run()
        .unwrap()
}

/// `api` calls `db`, each working a constant 1 ms, over links that take no time: a request
/// takes exactly 2 ms. 100 requests a second at equal gaps for 1 s, so nothing queues.
/// `db_keys` go into db's table (with a `work` of their own if they set one); `rest`
/// (faults, policies) at the end.
fn api_db(db_keys: &str, rest: &str) -> String {
    let db_work = if db_keys.contains("work =") {
        ""
    } else {
        "work = { constant = \"1ms\" }"
    };
    format!(
        r#"[simulation]
duration = "1s"
call_timeout = "100ms"

[services.api]
workers = 10
work = {{ constant = "1ms" }}
steps = [{{ call = "db" }}]

[services.db]
{db_work}
{db_keys}

[workloads.w]
target = "api"
open = {{ rate = 100.0, arrivals = "constant" }}

{rest}
"#
    )
}

#[test]
fn the_api_db_base_takes_exactly_two_milliseconds() {
    let report = run(&api_db("", ""));
    let w = &report.workloads["w"];
    assert_eq!(
        (w.counts.sent, w.counts.completed, w.counts.failed),
        (100, 100, 0)
    );
    assert_eq!((w.latency_ms.p50, w.latency_ms.max), (2.0, 2.0));
    assert!(report.faults.is_empty() && report.policies.is_empty());
    assert!(report.services["db"].replicas.is_empty());
}

/// `replicas = N` gives N replica lines in the report, and the balancer decides who gets what.
#[test]
fn replicas_and_balancers_come_from_the_file() {
    let report = run(&api_db("replicas = 2", ""));
    let db = &report.services["db"];
    assert_eq!(db.replicas.len(), 2);
    // Round robin by default: one each in turn.
    let handled: Vec<u64> = db.replicas.iter().map(|r| r.counts.handled).collect();
    assert_eq!(handled, [50, 50]);
    assert_eq!(db.counts.handled, 100);

    let report = run(&api_db("replicas = 4\nbalancer = \"random\"", ""));
    let handled: Vec<u64> = report.services["db"]
        .replicas
        .iter()
        .map(|r| r.counts.handled)
        .collect();
    assert_eq!(handled.len(), 4);
    assert_eq!(handled.iter().sum::<u64>(), 100);
    assert_ne!(handled, [25, 25, 25, 25], "random is not round robin");

    // Least outstanding: nothing is ever outstanding here, so the lowest index gets all.
    let report = run(&api_db(
        "replicas = 3\nbalancer = \"least_outstanding\"",
        "",
    ));
    let handled: Vec<u64> = report.services["db"]
        .replicas
        .iter()
        .map(|r| r.counts.handled)
        .collect();
    assert_eq!(handled, [100, 0, 0]);

    for balancer in ["power_of_two_choices", "peak_ewma"] {
        let report = run(&api_db(
            &format!("replicas = 3\nbalancer = \"{balancer}\""),
            "",
        ));
        assert_eq!(report.services["db"].replicas.len(), 3, "{balancer}");
        assert_eq!(report.workloads["w"].counts.completed, 100, "{balancer}");
    }
    let ewma = api_db(
        "replicas = 2\nbalancer = \"peak_ewma\"\nbalancer_decay = \"500ms\"",
        "",
    );
    assert_eq!(run(&ewma).services["db"].replicas.len(), 2);
}

/// Each fault kind has its effect, exactly where the times are constant.
#[test]
fn every_fault_kind_acts() {
    // Three times slower for 200 ms: 1 + 3 ms instead of 2 ms, for about a fifth of requests.
    let report = run(&api_db(
        "",
        "[[faults]]\nslow = \"db\"\nfactor = 3.0\nat = \"500ms\"\nlasting = \"200ms\"",
    ));
    let latency = &report.workloads["w"].latency_ms;
    assert!((latency.p50 - 2.0).abs() < 0.01, "{latency:?}");
    assert_eq!(latency.max, 4.0);
    assert!((latency.mean - 2.4).abs() < 0.05, "{latency:?}");
    assert_eq!(report.faults[0].fault, "slow db x3");
    assert_eq!(report.faults[0].start_seconds, 0.5);
    assert_eq!(report.faults[0].end_seconds, Some(0.7));

    // 5 ms more each way on api -> db, for the whole run: 2 + 2 * 5 ms.
    let report = run(&api_db(
        "",
        "[[faults]]\nlatency = [\"api\", \"db\"]\nextra = \"5ms\"",
    ));
    let latency = &report.workloads["w"].latency_ms;
    assert_eq!((latency.p50, latency.max), (12.0, 12.0));
    assert_eq!(report.faults[0].fault, "latency api -> db +5ms");

    // Half the calls to db fail at once.
    let report = run(&api_db("", "[[faults]]\nfail = \"db\"\nprobability = 0.5"));
    let w = &report.workloads["w"];
    assert!((30..=70).contains(&w.counts.failed), "{w:?}");
    assert_eq!(report.faults[0].counts.failed_calls, w.counts.failed);

    // Lost messages: the caller hears nothing and gives up after the call timeout.
    let report = run(&api_db(
        "",
        "[[faults]]\nloss = [\"api\", \"db\"]\nprobability = 0.3",
    ));
    let w = &report.workloads["w"];
    let lost = report.faults[0].counts.lost_messages;
    assert!(lost > 10, "{:?}", report.faults);
    assert!(
        w.counts.failed > 10 && w.counts.failed <= lost,
        "{w:?} lost {lost}"
    );

    // A partition of 100 ms: the 10 requests in it fail.
    let report = run(&api_db(
        "",
        "[[faults]]\npartition = [\"db\", \"api\"]\nat = \"500ms\"\nlasting = \"100ms\"",
    ));
    let w = &report.workloads["w"];
    assert_eq!(w.counts.failed, 10, "{w:?}");
    assert_eq!(report.faults[0].counts.lost_messages, 10);
    assert_eq!(report.faults[0].fault, "partition db | api");

    // A crash while db works on a request (5 ms, from 501 ms): that request fails, and db
    // refuses the rest until it restarts.
    let report = run(&api_db(
        "work = { constant = \"5ms\" }",
        "[[faults]]\ncrash = \"db\"\nat = \"503ms\"\nlasting = \"100ms\"",
    ));
    assert!(
        report.faults[0].counts.crashed_requests >= 1,
        "{:?}",
        report.faults
    );
    assert!(report.services["db"].counts.crashed >= 1);
    let w = &report.workloads["w"];
    assert!((9..=11).contains(&w.counts.failed), "{w:?}");
}

/// A crash of one replica fails only what that replica had; the other keeps working.
#[test]
fn a_replica_crash_fails_its_requests() {
    let report = run(&api_db(
        "replicas = 2\nwork = { constant = \"15ms\" }",
        "[[faults]]\ncrash = \"db\"\nreplica = 1\nat = \"505ms\"\nlasting = \"100ms\"",
    ));
    assert_eq!(report.faults[0].fault, "crash db replica 1");
    assert!(
        report.faults[0].counts.crashed_requests > 0,
        "{:?}",
        report.faults
    );
    let db = &report.services["db"];
    assert_eq!(db.replicas.len(), 2);
    let w = &report.workloads["w"];
    assert!(w.counts.failed > 0 && w.counts.failed < 10, "{w:?}");
    assert!(
        db.replicas[0].counts.handled > db.replicas[1].counts.handled,
        "{db:?}"
    );
}

/// A retry policy hides a failing dependency: the retries show in the policy's report.
#[test]
fn a_retry_policy_retries_the_calls_a_fault_fails() {
    let fault = "[[faults]]\nfail = \"db\"\nprobability = 0.5\n";
    let without = run(&api_db("", fault));
    let with = run(&api_db(
        "",
        &format!(
            "{fault}\n[[policies]]\nfrom = \"api\"\nto = \"db\"\nretry = {{ max_attempts = 5, backoff = \"constant\", delay = \"1ms\" }}"
        ),
    ));
    let policy = &with.policies["api -> db"];
    assert!(policy.counts.retries > 0, "{policy:?}");
    assert_eq!(policy.counts.calls, 100);
    assert_eq!(
        policy.counts.attempts,
        policy.counts.calls + policy.counts.retries
    );
    assert_eq!(policy.counts.failed, with.workloads["w"].counts.failed);
    // Five attempts fail together one time in 32.
    assert!(
        with.workloads["w"].counts.failed * 5 < without.workloads["w"].counts.failed,
        "with retries {} failed, without {}",
        with.workloads["w"].counts.failed,
        without.workloads["w"].counts.failed
    );
    // A constant backoff of 1 ms: a request that needed one retry took 2 + 1 + 1 ms... at
    // least one more millisecond than the base.
    assert!(with.workloads["w"].latency_ms.max >= 3.0);
}

/// Every other part of a policy acts as its key says.
#[test]
fn every_policy_part_acts() {
    let policy = |fault: &str, parts: &str| {
        api_db(
            "",
            &format!("{fault}\n[[policies]]\nfrom = \"api\"\nto = \"db\"\n{parts}"),
        )
    };
    // db fails every call from 200 ms to 500 ms.
    let down = "[[faults]]\nfail = \"db\"\nprobability = 1.0\nat = \"200ms\"\nlasting = \"300ms\"";

    // A budget of 10% of the calls, without a floor: most retries are refused.
    let report = run(&policy(
        down,
        "retry = { max_attempts = 3, budget = { ratio = 0.1, window = \"1s\" } }",
    ));
    let p = &report.policies["api -> db"];
    assert!(p.counts.retries > 0 && p.counts.retries_denied > 0, "{p:?}");
    assert!(p.counts.retries <= 10, "{p:?}");

    // The breaker opens, rejects, half-opens after 50 ms and closes once db is back.
    let report = run(&policy(
        down,
        "circuit_breaker = { window_calls = 10, minimum_calls = 5, open_for = \"50ms\", trial_calls = 2 }",
    ));
    let p = &report.policies["api -> db"];
    assert!(p.counts.breaker_rejected > 0, "{p:?}");
    let states: Vec<BreakerState> = p.breaker_transitions.iter().map(|t| t.to).collect();
    assert_eq!(states.first(), Some(&BreakerState::Open), "{states:?}");
    assert!(states.contains(&BreakerState::HalfOpen), "{states:?}");
    assert_eq!(states.last(), Some(&BreakerState::Closed), "{states:?}");

    // Each attempt's own timeout: db 20 times slower (20 ms) against a 10 ms timeout.
    let slow = "[[faults]]\nslow = \"db\"\nfactor = 20.0\nat = \"500ms\"\nlasting = \"100ms\"";
    let report = run(&policy(slow, "timeout = \"10ms\""));
    let p = &report.policies["api -> db"];
    assert!((9..=11).contains(&p.counts.timeouts), "{p:?}");
    assert_eq!(report.workloads["w"].counts.failed, p.counts.timeouts);
    // No success took longer than the timeout allows: 1 ms of api's work, then the call.
    assert!(report.workloads["w"].latency_ms.max <= 11.0);

    // At most 2 calls in flight: db takes 20 ms for a while, so a third call is refused.
    let report = run(&policy(slow, "bulkhead = 2"));
    let p = &report.policies["api -> db"];
    assert!(p.counts.bulkhead_rejected > 0, "{p:?}");

    // 50 calls a second, one at a time, against 100 requests a second.
    let report = run(&policy("", "rate_limit = { per_second = 50.0, burst = 1 }"));
    let p = &report.policies["api -> db"];
    assert!((45..=55).contains(&p.counts.rate_limited), "{p:?}");
    assert_eq!(report.workloads["w"].counts.failed, p.counts.rate_limited);

    // A second copy of every call still unanswered after 1.5 ms: the slow ones, and those
    // queued behind them; none of the others.
    let report = run(&policy(slow, "hedge = { after = \"1500us\" }"));
    let p = &report.policies["api -> db"];
    assert!((10..50).contains(&p.counts.hedges_sent), "{p:?}");

    // At the 50th percentile of what was observed, after 10 calls: about half are hedged.
    let varied = api_db(
        "workers = 2\nwork = { exponential = { mean = \"1ms\" } }",
        "[[policies]]\nfrom = \"api\"\nto = \"db\"\nhedge = { percentile = 50, min_samples = 10 }",
    );
    let report = run(&varied);
    let p = &report.policies["api -> db"];
    assert!((25..=75).contains(&p.counts.hedges_sent), "{p:?}");
    assert!(p.counts.hedges_won > 0, "{p:?}");
}

/// A policy on the workload's requests, `from = "client"`.
#[test]
fn a_policy_from_the_client_applies_to_workload_requests() {
    let report = run(&api_db(
        "",
        "[[faults]]\nfail = \"api\"\nprobability = 0.5\n\n[[policies]]\nfrom = \"client\"\nto = \"api\"\nretry = { max_attempts = 20, backoff = \"exponential\", base = \"1ms\", cap = \"2ms\", jitter = \"none\" }",
    ));
    let p = &report.policies["client -> api"];
    assert_eq!(p.counts.calls, 100);
    assert!(p.counts.retries > 50, "{p:?}");
    assert_eq!(report.workloads["w"].counts.failed, 0);
}

/// The shipped resilience scenario shows what it says: three replicas, retries and their
/// budget, a breaker that opens and closes again, faults that fail calls.
#[test]
fn resilience_file_shows_replicas_policies_and_faults() {
    let scenario = Scenario::parse(&shipped("resilience.toml"), "resilience.toml").unwrap();
    let started = std::time::Instant::now();
    let report = scenario.to_simulation(None).unwrap().run().unwrap();
    eprintln!("{report} in {:?}", started.elapsed());
    let orders = &report.workloads["orders"];
    assert!(orders.counts.sent > 5000, "{orders:?}");
    assert_eq!(
        orders.counts.sent,
        orders.counts.completed + orders.counts.failed
    );
    assert!(orders.counts.failed > 0);

    let catalog = &report.services["catalog"];
    assert_eq!(catalog.replicas.len(), 3);
    assert!(
        catalog.replicas.iter().all(|r| r.counts.handled > 0),
        "{catalog:?}"
    );

    let payment = &report.policies["frontend -> payment"];
    assert!(payment.counts.retries > 0, "{payment:?}");
    assert!(payment.counts.retries_denied > 0, "{payment:?}");
    assert!(payment.counts.breaker_rejected > 0, "{payment:?}");
    let opened = payment
        .breaker_transitions
        .iter()
        .filter(|t| t.to == BreakerState::Open)
        .count();
    assert!(opened >= 1, "{payment:?}");
    assert_eq!(
        payment.breaker_transitions.last().map(|t| t.to),
        Some(BreakerState::Closed)
    );
    assert!(report.policies["frontend -> catalog"].counts.retries > 0);

    assert_eq!(report.faults.len(), 4);
    assert!(report.faults[0].counts.failed_calls > 0);
    assert!(report.faults[1].counts.failed_calls > 0);
    assert_eq!(report.faults[2].fault, "crash catalog replica 0");
    assert_eq!(report.faults[3].fault, "slow catalog replica 1 x5");

    // The same seed gives the same report.
    let again = scenario.to_simulation(None).unwrap().run().unwrap();
    assert_eq!(again.to_json(), report.to_json());
}

/// A key written twice is named, with the line it was first written on, at its second place.
#[test]
fn duplicate_keys_are_located_and_named() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "a key twice in a table",
            "[services.a]\nworkers = 1\nworkers = 2\n",
            "bad.toml:3:1: services.a: invalid TOML: duplicate key \"workers\" (first at line 2)",
        ),
        (
            "a table header twice",
            "[services.a]\nworkers = 1\n\n[services.a]\nqueue = 2\n",
            "bad.toml:4:11: services: invalid TOML: duplicate key \"a\" (first at line 1)",
        ),
        (
            "a key twice in an inline table in an array",
            "[services.a]\nsteps = [{ call = \"b\" }, { call = \"b\", call = \"c\" }]\n",
            "bad.toml:2:40: services.a.steps[1]: invalid TOML: duplicate key \"call\" (first at line 2)",
        ),
        (
            "a key twice in an entry of an array of tables",
            "[[links]]\nfrom = \"client\"\n[[links]]\nfrom = \"client\"\nfrom = \"a\"\n",
            "bad.toml:5:1: links[1]: invalid TOML: duplicate key \"from\" (first at line 4)",
        ),
        (
            "a table under a header, then again as a dotted key",
            "[services.\"a b\"]\nworkers = 1\n[services]\n\"a b\".workers = 2\n",
            "bad.toml:4:1: services: invalid TOML: duplicate key \"a b\" (first at line 1)",
        ),
        (
            "an inline table, then a header for it",
            "simulation = { seed = 1 }\n[simulation]\n",
            "bad.toml:2:2: invalid TOML: duplicate key \"simulation\" (first at line 1)",
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

/// A file that is not UTF-8 is located at its first invalid byte.
#[test]
fn a_file_that_is_not_utf8_is_located_at_the_bad_byte() {
    let path = std::env::temp_dir().join(format!("microsim-latin1-{}.toml", std::process::id()));
    // "µs" in Latin-1: 0xB5 is not UTF-8.
    std::fs::write(&path, b"[services.a]\nwork = { constant = \"1\xB5s\" }\n").unwrap();
    let error = Scenario::load(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy();
    assert_eq!(
        error.to_string(),
        format!(
            "{name}:2:23: services.a.work.constant: invalid UTF-8 (byte 0xB5): save the file as \
             UTF-8"
        )
    );
    let ScenarioError::Invalid { line, column, .. } = error else {
        panic!("{error}")
    };
    assert_eq!((line, column), (2, Some(23)));
}

// --- [tracing] ---------------------------------------------------------------------------

/// The chain of `trace.rs`'s exact-spans test, as a file: `api` works 2 ms and calls `db`,
/// which works 3 ms, every hop 1 ms; one request every 100 ms for 1 s, so nobody queues and
/// each of the 10 requests takes exactly 9 ms in 9 spans (the root, two calls, two
/// processings, four link crossings). `tracing` is the `[tracing]` table (`""`: none).
fn traced(tracing: &str) -> String {
    format!(
        r#"[simulation]
duration = "1s"
default_latency = {{ constant = "1ms" }}

{tracing}

[services.api]
work = {{ constant = "2ms" }}
steps = [{{ call = "db" }}]

[services.db]
work = {{ constant = "3ms" }}

[workloads.load]
target = "api"
open = {{ rate = 10.0, arrivals = "constant" }}
"#
    )
}

/// The traces a run of `text` kept: (trace id, why kept, spans held, spans dropped), by id.
fn kept(report: &microsim::Report) -> Vec<(u64, Vec<String>, usize, u64)> {
    let traces = report.traces.as_ref().expect("tracing is on");
    assert_eq!(traces.requests, 10, "every request ended traced");
    traces
        .traces
        .iter()
        .map(|t| {
            assert_eq!(t.latency_ns, 9_000_000);
            (
                t.trace_id,
                t.kept_as.clone(),
                t.spans.len(),
                t.spans_dropped,
            )
        })
        .collect()
}

/// `[tracing]` turns tracing on with its settings, the engine's defaults for the keys it
/// leaves out; without it the report has no traces.
#[test]
fn a_tracing_table_turns_tracing_on_with_its_settings() {
    let off = run(&traced(""));
    assert!(off.traces.is_none() && off.critical_path.is_empty());
    assert!(
        Scenario::parse(&traced(""), "t.toml")
            .unwrap()
            .tracing()
            .is_none()
    );

    // A rate of 1 samples all 10 requests (under max_sampled's default 100), and the 10
    // slowest of the workload (keep_slowest's default) are all of them too.
    let all = run(&traced("[tracing]\nrate = 1.0"));
    let every = kept(&all);
    assert_eq!(every.len(), 10);
    for (_, why, spans, dropped) in &every {
        assert_eq!(
            (why.as_slice(), *spans, *dropped),
            (&["sampled".to_string(), "slowest".to_string()][..], 9, 0)
        );
    }
    let ids: Vec<u64> = every.iter().map(|(id, ..)| *id).collect();
    assert_eq!(all.critical_path["load"].total_ms(), 9.0);
    // Tracing changes no figure.
    assert_eq!(
        all.workloads["load"].latency_ms,
        off.workloads["load"].latency_ms
    );

    // At most 4 sampled, no slowest: 4 traces, kept as sampled only.
    let four = kept(&run(&traced(
        "[tracing]\nrate = 1.0\nmax_sampled = 4\nkeep_slowest = 0",
    )));
    assert_eq!(four.len(), 4);
    assert!(
        four.iter()
            .all(|(id, why, ..)| ids.contains(id) && why == &["sampled"])
    );

    // No sample, the 3 slowest: every request takes 9 ms, and among equals the earliest
    // requests (the smallest trace ids) are kept.
    let slowest = kept(&run(&traced("[tracing]\nrate = 0.0\nkeep_slowest = 3")));
    let slowest_ids: Vec<u64> = slowest.iter().map(|(id, ..)| *id).collect();
    assert_eq!(slowest_ids, ids[..3]);
    assert!(slowest.iter().all(|(_, why, ..)| why == &["slowest"]));

    // Two spans per trace: the other 7 are counted, not kept.
    let capped = kept(&run(&traced(
        "[tracing]\nrate = 1.0\nmax_spans_per_trace = 2",
    )));
    assert_eq!(capped.len(), 10);
    assert!(
        capped
            .iter()
            .all(|(_, _, spans, dropped)| (*spans, *dropped) == (2, 7))
    );

    // The table alone: the engine's defaults.
    let defaults = Scenario::parse(&traced("[tracing]"), "t.toml").unwrap();
    assert_eq!(
        defaults.tracing(),
        Some(&microsim::trace::Tracing::default())
    );
}

/// `--set tracing.KEY=VALUE` is an override like any other: it adds the table to a file
/// without one (turning tracing on), and the engine's rule applies to its value, reported at
/// the override; `with_tracing` sets the settings from Rust.
#[test]
fn tracing_keys_take_overrides_and_with_tracing_sets_them() {
    use microsim::scenario::Override;
    use microsim::trace::Tracing;

    let set = |argument: &str| Override::parse(argument).unwrap();
    let scenario =
        Scenario::parse_with_overrides(&traced(""), "t.toml", &[set("tracing.rate=0.5")]).unwrap();
    assert_eq!(scenario.tracing(), Some(&Tracing::default().rate(0.5)));
    let scenario = Scenario::parse_with_overrides(
        &traced("[tracing]\nrate = 1.0"),
        "t.toml",
        &[set("tracing.keep_slowest=0"), set("tracing.max_sampled=4")],
    )
    .unwrap();
    let report = scenario.to_simulation(None).unwrap().run().unwrap();
    assert_eq!(kept(&report).len(), 4);

    let err = Scenario::parse_with_overrides(&traced(""), "t.toml", &[set("tracing.rate=2")])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "--set 1 (tracing.rate=2): tracing.rate: tracing.rate must be within [0, 1] (0.01 = \
         one request in a hundred), got 2"
    );
    let err = Scenario::parse_with_overrides(&traced(""), "t.toml", &[set("tracing.rat=0.1")])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "--set 1 (tracing.rat=0.1): tracing: unknown key \"rat\"; did you mean \"rate\"?"
    );

    // `with_tracing` replaces the file's table (the command keeps it: see
    // `trace::the_command_keeps_a_files_tracing_table`).
    let replaced = Scenario::parse(&traced("[tracing]\nrate = 0.0\nkeep_slowest = 3"), "t.toml")
        .unwrap()
        .with_tracing(Tracing::default());
    assert_eq!(replaced.tracing(), Some(&Tracing::default()));
    // A file without the table takes the one given.
    let given = Scenario::parse(&traced(""), "t.toml")
        .unwrap()
        .with_tracing(Tracing::default().rate(1.0).keep_slowest(0));
    assert_eq!(
        kept(&given.to_simulation(None).unwrap().run().unwrap()).len(),
        10
    );
}

/// Each mistake in `[tracing]` and its exact message: the engine's rules at the value, the
/// file's own (a key it does not have, a value of the wrong type, a negative count) as in
/// every other table.
#[test]
fn malformed_tracing_tables_are_located_errors() {
    let rest = "\n[services.a]\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\n";
    let cases: &[(&str, &str, &str)] = &[
        (
            "a rate above 1",
            "[tracing]\nrate = 2.0\n",
            "bad.toml:2:8: tracing.rate: tracing.rate must be within [0, 1] (0.01 = one request in a hundred), got 2",
        ),
        (
            "a negative rate",
            "[tracing]\nkeep_failed = 3\nrate = -0.5\n",
            "bad.toml:3:8: tracing.rate: tracing.rate must be within [0, 1] (0.01 = one request in a hundred), got -0.5",
        ),
        (
            "an unknown key with a suggestion",
            "[tracing]\nrat = 0.1\n",
            "bad.toml:2:1: tracing: unknown key \"rat\"; did you mean \"rate\"?",
        ),
        (
            "an unknown key without one",
            "[tracing]\nenabled = true\n",
            "bad.toml:2:1: tracing: unknown key \"enabled\"; expected one of rate, max_sampled, keep_slowest, keep_failed, max_spans_per_trace",
        ),
        (
            "a misspelt table",
            "[tracin]\nrate = 0.1\n",
            "bad.toml:1:2: unknown key \"tracin\"; did you mean \"tracing\"?",
        ),
        (
            "not a table",
            "tracing = 1.0\n",
            "bad.toml:1:11: tracing: expected a table of tracing settings, found number `1.0`",
        ),
        (
            "a rate as a word",
            "[tracing]\nrate = \"all\"\n",
            "bad.toml:2:8: tracing.rate: expected a number, found string \"all\"",
        ),
        (
            "a negative count",
            "[tracing]\nmax_sampled = -1\n",
            "bad.toml:2:15: tracing.max_sampled: max_sampled must be 0 or more, got -1",
        ),
        (
            "a count as a number with a fraction",
            "[tracing]\nkeep_slowest = 2.5\n",
            "bad.toml:2:16: tracing.keep_slowest: expected a whole number, found number `2.5`",
        ),
        (
            "too many kept",
            "[tracing]\nkeep_failed = 100001\n",
            "bad.toml:2:15: tracing.keep_failed: tracing.keep_failed must be at most 100000 (traces are held in memory), got 100001",
        ),
        (
            "no span per trace",
            "[tracing]\nmax_spans_per_trace = 0\n",
            "bad.toml:2:23: tracing.max_spans_per_trace: tracing.max_spans_per_trace must be at least 1, got 0",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, text, expected) in cases {
        let message = error_of(&format!("{text}{rest}"));
        if message != *expected {
            wrong.push(format!(
                "{what}:\n  got      {message}\n  expected {expected}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Located as data, too.
    let err = Scenario::parse(&format!("[tracing]\nrate = 2.0\n{rest}"), "bad.toml").unwrap_err();
    let ScenarioError::Invalid {
        line, column, key, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*line, *column, key.as_str()), (2, Some(8), "tracing.rate"));

    // A mistake in [tracing] hides none in [simulation], and the other way round.
    let err = error_of(&format!(
        "[simulation]\nduration = \"0s\"\n[tracing]\nrate = 2.0\n{rest}"
    ));
    assert_eq!(
        err,
        "bad.toml:2:12: simulation.duration: duration must be greater than 0s\n\
         bad.toml:4:8: tracing.rate: tracing.rate must be within [0, 1] (0.01 = one request in a hundred), got 2"
    );
}
