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
            "bad.toml:2:10: services.a.steps[0]: a step has exactly one of the keys call, work or parallel; found call and work",
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
