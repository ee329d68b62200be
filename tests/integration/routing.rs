//! Routed traffic against queueing theory: a Jackson network with feedback written with
//! `send` and `choose`, probabilistic routing of calls to two M/M/1 servers, an M/M/1 whose
//! requests fail after their work with a `fail` step; and the exact times of `send`,
//! `repeat` and `choose`.
//!
//! Every tolerance below is a multiple of the seed-to-seed standard deviation measured by
//! running the same model over 20 seeds (`MICROSIM_SPREAD=1 cargo test --release --test
//! integration routing -- --nocapture` prints it again).

use std::collections::BTreeMap;
use std::time::Duration;

use microsim::scenario::Scenario;
use microsim::{Capacity, Distribution, Report, Script, Simulation, Workload};

fn run_file(text: &str, seed: u64) -> Report {
    Scenario::parse(text, "routing.toml")
        .unwrap_or_else(|e| panic!("{e}"))
        .to_simulation(Some(seed))
        .unwrap()
        .run()
        .unwrap()
}

/// Mean and sample standard deviation.
fn spread(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Prints the seed-to-seed spread of `figure` over 20 seeds when `MICROSIM_SPREAD` is set.
fn print_spread(name: &str, figure: impl Fn(u64) -> Vec<f64>) {
    if std::env::var_os("MICROSIM_SPREAD").is_none() {
        return;
    }
    let runs: Vec<Vec<f64>> = (100..120).map(&figure).collect();
    for column in 0..runs[0].len() {
        let values: Vec<f64> = runs.iter().map(|r| r[column]).collect();
        let (mean, sd) = spread(&values);
        println!("{name}[{column}]: mean {mean:.5}, sd {sd:.5}");
    }
}

/// Three M/M/1 stations; requests enter at A (400/s). After A: to B with probability 0.5,
/// to C with 0.3, out with 0.2. After B: back to A with 0.4. After C: out.
const JACKSON: &str = r#"
[simulation]
duration = "110s"
warmup = "10s"

[services.a]
work = { exponential = { mean = "1ms" } }
steps = [{ choose = [
  { p = 0.5, steps = [{ send = "b" }] },
  { p = 0.3, steps = [{ send = "c" }] },
] }]

[services.b]
work = { exponential = { mean = "2.5ms" } }
steps = [{ choose = [{ p = 0.4, steps = [{ send = "a" }] }] }]

[services.c]
work = { exponential = { mean = "4ms" } }

[workloads.jobs]
target = "a"
open = { rate = 400.0 }
"#;

/// The product form: traffic equations `l_A = 400 + 0.4 l_B`, `l_B = 0.5 l_A`,
/// `l_C = 0.3 l_A` give `l = (500, 250, 150)`, utilisations `(0.5, 0.625, 0.6)`, mean numbers
/// `rho / (1 - rho) = (1, 5/3, 1.5)`, and by Little's law a mean sojourn of
/// `(1 + 5/3 + 1.5) / 400 s = 10.4167 ms`; visits per request `(1.25, 0.625, 0.375)`.
#[test]
fn a_jackson_network_with_feedback_matches_the_product_form() {
    let figures = |seed: u64| {
        let report = run_file(JACKSON, seed);
        let jobs = &report.workloads["jobs"];
        let sent = jobs.counts.sent as f64;
        let visits = |s: &str| report.services[s].counts.handled as f64 / sent;
        vec![jobs.settled_ms.mean, visits("a"), visits("b"), visits("c")]
    };
    print_spread("jackson", figures);
    let [settled, a, b, c] = figures(7)[..] else {
        unreachable!()
    };
    let expected_sojourn = (1.0 + 5.0 / 3.0 + 1.5) / 400.0 * 1e3;
    // Measured over 20 seeds: settled mean 10.397 ms, sd 0.187 ms; visits sd 0.0022 (a),
    // 0.0043 (b), 0.0032 (c). Tolerances: 4 sd.
    assert!(
        (settled - expected_sojourn).abs() < 0.75,
        "settled mean {settled} ms, expected {expected_sojourn}"
    );
    for (name, measured, expected, tolerance) in [
        ("a", a, 1.25, 0.009),
        ("b", b, 0.625, 0.017),
        ("c", c, 0.375, 0.013),
    ] {
        assert!(
            (measured - expected).abs() < tolerance,
            "visits to {name}: {measured}, expected {expected}"
        );
    }
}

/// A router sends each request to `fast` (M/M/1, mu = 1000/s) with probability 0.7, else to
/// `slow` (mu = 500/s), at 600/s: Poisson splitting gives two independent M/M/1 queues at
/// 420/s and 180/s, so the mean response is `0.7 / (1000 - 420) + 0.3 / (500 - 180) =
/// 2.1444 ms`, and the share that reaches `slow` is 0.3.
#[test]
fn probabilistic_routing_splits_into_independent_mm1_queues() {
    let text = r#"
[simulation]
duration = "110s"
warmup = "10s"

[services.router]
workers = "unlimited"
steps = [{ choose = [
  { p = 0.7, steps = [{ call = "fast" }] },
  { p = 0.3, steps = [{ call = "slow" }] },
] }]

[services.fast]
work = { exponential = { mean = "1ms" } }

[services.slow]
work = { exponential = { mean = "2ms" } }

[workloads.requests]
target = "router"
open = { rate = 600.0 }
"#;
    let figures = |seed: u64| {
        let report = run_file(text, seed);
        let requests = &report.workloads["requests"];
        let slow = report.services["slow"].counts.handled as f64;
        let fast = report.services["fast"].counts.handled as f64;
        vec![
            requests.latency_ms.mean,
            slow / (slow + fast),
            report.services["fast"].latency_ms.mean,
            report.services["slow"].latency_ms.mean,
        ]
    };
    print_spread("routing", figures);
    let [mean, share, fast, slow] = figures(7)[..] else {
        unreachable!()
    };
    let expected = 0.7 / (1000.0 - 420.0) * 1e3 + 0.3 / (500.0 - 180.0) * 1e3;
    // Measured over 20 seeds: mean 2.142 ms, sd 0.024 ms; share sd 0.0022; fast 1.720 ms,
    // sd 0.017 ms; slow 3.126 ms, sd 0.058 ms. Tolerances: 4 sd.
    assert!(
        (mean - expected).abs() < 0.1,
        "mean {mean}, expected {expected}"
    );
    assert!((share - 0.3).abs() < 0.009, "share to slow {share}");
    assert!((fast - 1.0 / 580.0 * 1e3).abs() < 0.07, "fast {fast}");
    assert!((slow - 1.0 / 320.0 * 1e3).abs() < 0.23, "slow {slow}");
}

/// An M/M/1 at rho 0.8 (mu = 1000/s, lambda = 800/s) whose requests fail with probability
/// 0.1 *after* their work: the server's load is unchanged, so completed and failed requests
/// alike have the M/M/1 mean of `1 / (mu - lambda) = 5 ms`, and a tenth fail. A `fail`
/// fault would abort before the work and lighten the load instead.
#[test]
fn a_fail_step_fails_after_the_work_without_changing_the_queue() {
    let text = r#"
[simulation]
duration = "110s"
warmup = "10s"

[services.payment]
work = { exponential = { mean = "1ms" } }
steps = [{ fail = 0.1, error = "card declined" }]

[workloads.orders]
target = "payment"
open = { rate = 800.0 }
"#;
    let figures = |seed: u64| {
        let report = run_file(text, seed);
        let orders = &report.workloads["orders"];
        vec![
            orders.counts.failed as f64 / orders.counts.sent as f64,
            orders.latency_ms.mean,
            orders.failed_latency_ms.mean,
            report.services["payment"].utilization.unwrap(),
        ]
    };
    print_spread("fail", figures);
    let report = run_file(text, 7);
    let orders = &report.workloads["orders"];
    let failed = orders.counts.failed as f64 / orders.counts.sent as f64;
    // Measured over 20 seeds: failed share 0.0998, sd 0.0012; completed mean 5.027 ms, sd
    // 0.133 ms; failed mean 5.020 ms, sd 0.141 ms; utilisation 0.8003, sd 0.0042.
    // Tolerances: about 4 sd.
    assert!((failed - 0.1).abs() < 0.005, "failed share {failed}");
    assert!(
        (orders.latency_ms.mean - 5.0).abs() < 0.55,
        "completed mean {}",
        orders.latency_ms.mean
    );
    assert!(
        (orders.failed_latency_ms.mean - 5.0).abs() < 0.6,
        "failed mean {}",
        orders.failed_latency_ms.mean
    );
    let utilization = report.services["payment"].utilization.unwrap();
    assert!(
        (utilization - 0.8).abs() < 0.017,
        "utilisation {utilization}"
    );
    // Every failure is counted, with its cause, at the workload and at the service.
    assert_eq!(
        orders.errors_by_cause,
        BTreeMap::from([("payment: card declined".to_string(), orders.counts.failed)])
    );
    assert_eq!(orders.counts.errors, orders.counts.failed);
    let payment = &report.services["payment"];
    assert_eq!(payment.errors_by_cause, orders.errors_by_cause);
    assert_eq!(payment.failed_latency_ms.count, payment.counts.failed);
    assert_eq!(
        payment.latency_ms.count + payment.failed_latency_ms.count,
        payment.counts.handled
    );
}

/// The same model through the Rust API gives the same report as through the file.
#[test]
fn a_script_built_in_rust_is_the_file_s_service() {
    let file = r#"
[simulation]
duration = "5s"

[services.a]
work = { exponential = { mean = "1ms" } }
steps = [
  { repeat = 2, steps = [{ call = "b" }] },
  { choose = [{ p = 0.25, steps = [{ send = "a" }] }, { p = 0.5, steps = [{ fail = 0.5 }] }] },
]

[services.b]
work = { constant = "200us" }

[workloads.w]
target = "a"
open = { rate = 100.0 }
"#;
    let from_file = run_file(file, 3);
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(5))
        .seed(3)
        .build()
        .unwrap();
    let a = sim.handle_to::<Script>("a").unwrap();
    let b = sim
        .add_service(
            "b",
            Script::new().work(Distribution::constant(Duration::from_micros(200))),
            Capacity::workers(1),
        )
        .unwrap();
    let script = Script::new()
        .work(Distribution::exponential(Duration::from_millis(1)))
        .repeat(2, Script::new().call(&b))
        .choose([
            (0.25, Script::new().send(&a)),
            (0.5, Script::new().fail(0.5, Script::DEFAULT_FAILURE)),
        ]);
    let a = sim.add_service("a", script, Capacity::workers(1)).unwrap();
    sim.add_workload("w", &a, Workload::poisson(100.0), |_| ())
        .unwrap();
    let from_rust = sim.run().unwrap();
    assert_eq!(from_rust.to_json(), from_file.to_json());
    // Each request calls b twice per visit; a is visited 1 / (1 - 0.25) times per request.
    let w = &from_file.workloads["w"];
    assert_eq!(
        from_file.services["b"].counts.handled,
        2 * from_file.services["a"].counts.handled
    );
    assert!(w.counts.failed > 0 && w.errors_by_cause.keys().eq(["a: fail step"]));
}

/// With constant times and no overlap, the times are exact: `send` does not wait but its
/// handling is in the settled latency; `repeat` runs its steps in order; `fail` after work
/// fails after the work.
#[test]
fn send_repeat_and_fail_take_exact_times() {
    let text = r#"
[simulation]
duration = "1s"

[services.front]
work = { constant = "1ms" }
steps = [
  { repeat = 3, steps = [{ call = "db" }, { work = { constant = "100us" } }] },
  { send = "audit" },
]

[services.db]
work = { constant = "2ms" }

[services.audit]
work = { constant = "5ms" }
steps = [{ fail = 1.0, error = "disk full" }]

[workloads.w]
target = "front"
open = { rate = 10.0, arrivals = "constant" }
"#;
    let report = run_file(text, 1);
    let w = &report.workloads["w"];
    assert_eq!((w.counts.sent, w.counts.completed), (10, 10));
    // 1 ms + 3 x (2 ms + 0.1 ms) = 7.3 ms; the audit's 5 ms after that, though it fails.
    assert_eq!((w.latency_ms.mean, w.latency_ms.max), (7.3, 7.3));
    assert_eq!(w.settled_ms.max, 12.3);
    assert_eq!(report.services["db"].counts.handled, 30);
    let audit = &report.services["audit"];
    assert_eq!((audit.counts.handled, audit.counts.failed), (10, 10));
    assert_eq!(audit.failed_latency_ms.max, 5.0);
    assert_eq!(
        audit.errors_by_cause,
        BTreeMap::from([("audit: disk full".to_string(), 10)])
    );
}

/// Routing whose expected visits are infinite is refused before the run, naming the cycle,
/// in files (located at the steps of a service on the cycle) and in the Rust API.
#[test]
fn endless_routing_is_an_error_naming_the_cycle() {
    let text = r#"
[services.a]
steps = [{ repeat = 2, steps = [{ choose = [{ p = 0.5, steps = [{ send = "b" }] }] }] }]

[services.b]
steps = [{ send = "a" }]

[workloads.w]
target = "a"
open = { rate = 1.0 }
"#;
    let error = Scenario::parse(text, "loop.toml").unwrap_err().to_string();
    assert!(
        error.starts_with("loop.toml:3:9: services.a.steps: requests would go round the cycle a -> b -> a for ever"),
        "{error}"
    );
    // Just under one expected return is fine.
    let finite = text.replace("p = 0.5", "p = 0.49");
    let report = run_file(&finite, 1);
    assert!(report.workloads["w"].counts.sent > 0);

    let mut sim = Simulation::builder().build().unwrap();
    let a = sim.handle_to::<Script>("a").unwrap();
    let a = sim
        .add_service("a", Script::new().send(&a), Capacity::workers(1))
        .unwrap();
    sim.add_workload("w", &a, Workload::poisson(1.0), |_| ())
        .unwrap();
    let error = sim.run().unwrap_err().to_string();
    assert!(error.contains("the cycle a -> a for ever"), "{error}");
}

/// Each step rule gives the same reason through the Rust API and in a file, and the file
/// points at the step the engine names.
#[test]
fn step_rules_agree_in_rust_and_in_files() {
    type Build = fn(&microsim::ServiceHandle<Script>) -> Script;
    let rows: [(&str, Build, &str, Option<&str>); 8] = [
        (
            "fail above 1",
            |_| Script::new().fail(1.5, "x"),
            "[{ fail = 1.5, error = \"x\" }]",
            Some("fail must be within [0, 1] (0.01 = one request in a hundred), got 1.5"),
        ),
        (
            "fail of 1",
            |_| Script::new().fail(1.0, "x"),
            "[{ fail = 1.0, error = \"x\" }]",
            None,
        ),
        (
            "branch probability negative",
            |db| Script::new().choose([(-0.1, Script::new().call(db))]),
            "[{ choose = [{ p = -0.1, steps = [{ call = \"db\" }] }] }]",
            Some("p must be within [0, 1] (0.3 = three times in ten), got -0.1"),
        ),
        (
            "branches past 1",
            |db| Script::new().choose([(0.7, Script::new().call(db)), (0.7, Script::new())]),
            "[{ choose = [{ p = 0.7, steps = [{ call = \"db\" }] }, { p = 0.7 }] }]",
            Some(
                "the branches' probabilities p sum to 1.4, more than 1: at most one branch \
                 runs per request",
            ),
        ),
        (
            "no branches",
            |_| Script::new().choose([]),
            "[{ choose = [] }]",
            Some("choose must be at least 1, got 0"),
        ),
        (
            "repeat of zero",
            |db| Script::new().repeat(0, Script::new().call(db)),
            "[{ repeat = 0, steps = [{ call = \"db\" }] }]",
            Some("repeat must be at least 1, got 0"),
        ),
        (
            "repeat past its bound",
            |db| Script::new().repeat(Script::MAX_REPEAT + 1, Script::new().call(db)),
            "[{ repeat = 1000001, steps = [{ call = \"db\" }] }]",
            Some(
                "repeat must be at most 1000000 (each repetition is a step of the handler: \
                 model a longer batch as more work), got 1000001",
            ),
        ),
        (
            "a nested rule",
            |db| {
                Script::new().call(db).repeat(
                    2,
                    Script::new().choose([(0.5, Script::new().fail(2.0, "x"))]),
                )
            },
            "[{ call = \"db\" }, { repeat = 2, steps = [{ choose = [{ p = 0.5, steps = [{ fail = 2.0, error = \"x\" }] }] }] }]",
            Some("fail must be within [0, 1] (0.01 = one request in a hundred), got 2"),
        ),
    ];
    for (name, build, steps, reason) in rows {
        let mut sim = Simulation::builder().build().unwrap();
        let db = sim
            .add_service("db", Script::new(), Capacity::workers(1))
            .unwrap();
        let rust = sim.add_service("api", build(&db), Capacity::workers(1));
        let text = format!(
            "[services.api]\nwork = {{ constant = \"1ms\" }}\nsteps = {steps}\n\n[services.db]\n\n\
             [workloads.w]\ntarget = \"api\"\nopen = {{ rate = 1.0 }}\n"
        );
        let file = Scenario::parse(&text, "bad.toml");
        match (reason, rust, file) {
            (None, Ok(_), Ok(_)) => {}
            (
                Some(reason),
                Err(rust),
                Err(microsim::scenario::ScenarioError::Invalid { key, message, .. }),
            ) => {
                assert_eq!(rust.reason(), reason, "{name}: Rust API");
                assert_eq!(message, reason, "{name}: file");
                // The file's own `work` comes before its steps; the path names the file's step.
                let field = rust.field().unwrap().to_string();
                assert_eq!(key, format!("services.api.{field}"), "{name}: where");
            }
            (_, rust, file) => panic!("{name}: Rust API {rust:?}, file {file:?}"),
        }
    }
}
