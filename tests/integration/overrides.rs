//! Overrides of a scenario file (`--set KEY=VALUE`, `Scenario::parse_with_overrides`): the
//! value acts as if the file wrote it, its mistakes name the override, and the report lists
//! the overrides.

use std::process::Output;
use std::time::Duration;

use microsim::scenario::{Override, Scenario, ScenarioError};

use crate::support::{microsim, relative_error};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `microsim run ARGS --json -`: the report as JSON.
fn run_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--quiet", "--json", "-"]);
    let output = microsim(&all);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("the report is JSON")
}

fn overrides(arguments: &[&str]) -> Vec<Override> {
    arguments
        .iter()
        .map(|argument| Override::parse(argument).unwrap())
        .collect()
}

fn parse(text: &str, arguments: &[&str]) -> Result<Scenario, ScenarioError> {
    Scenario::parse_with_overrides(text, "api.toml", &overrides(arguments))
}

/// `scenarios/mm1.toml` is an M/M/1 queue at rho = 0.8 (mean 5 ms). With its arrival rate set
/// to 500/s, rho = 0.5: the time in the system is exponential with rate mu - lambda = 500/s,
/// so the mean is 2 ms and the p99 ln(100) / 500 s = 9.210 ms.
///
/// Tolerances, from 30 replications of this very command (seeds 101-130, 200 s measured,
/// about 100,000 requests each): the run's mean has a seed-to-seed standard deviation of 1.1%
/// (mean of the 30: 1.998 ms), its p99 of 2.0% (mean of the 30: 9.17 ms, 0.4% under theory:
/// the histogram's buckets). Each run's mean must be within 5% (4.5 standard deviations),
/// the mean of the three runs within 3% (4.7 standard deviations of a mean of three), each
/// p99 within 9% (4.5 standard deviations).
#[test]
fn mm1_with_its_arrival_rate_set_lower_matches_queueing_theory() {
    let (lambda, mu) = (500.0, 1000.0);
    let expected_mean = 1000.0 / (mu - lambda);
    let expected_p99 = 1000.0 * 100f64.ln() / (mu - lambda);
    let mut means = Vec::new();
    for seed in ["1", "2", "3"] {
        let report = run_json(&[
            "scenarios/mm1.toml",
            "--seed",
            seed,
            "--set",
            "workloads.arrivals.open.rate=500",
            "--set",
            "simulation.duration=210s",
            "--set",
            "simulation.warmup=10s",
        ]);
        assert_eq!(report["simulated_seconds"], 210.0);
        assert_eq!(report["measured_seconds"], 200.0);
        let latency = &report["workloads"]["arrivals"]["latency_ms"];
        // 500/s for 200 s: 100,000 requests, give or take a Poisson count's few hundred.
        let count = latency["count"].as_f64().unwrap();
        assert!(relative_error(count, 100_000.0) < 0.02, "count {count}");
        let mean = latency["mean"].as_f64().unwrap();
        let p99 = latency["p99"].as_f64().unwrap();
        assert!(
            relative_error(mean, expected_mean) < 0.05,
            "seed {seed}: mean {mean}"
        );
        assert!(
            relative_error(p99, expected_p99) < 0.09,
            "seed {seed}: p99 {p99}"
        );
        means.push(mean);
    }
    let mean = means.iter().sum::<f64>() / means.len() as f64;
    assert!(
        relative_error(mean, expected_mean) < 0.03,
        "means {means:?}"
    );
}

const API: &str = r#"
[services.api]
workers = 4
work = { exponential = { mean = "1ms" } }

[workloads.users]
target = "api"
open = { rate = 100.0, arrivals = "constant" }
"#;

/// Each kind of value -- a number, a string (bare or quoted), a distribution table, a key the
/// file leaves out, a table the file lacks -- acts as if the file wrote it: the simulated
/// times come out exact.
#[test]
fn each_kind_of_value_acts_as_if_the_file_wrote_it() {
    let scenario = parse(
        API,
        &[
            // [simulation] is absent: the table is added.
            "simulation.duration=2s",
            "simulation.warmup=\"1s\"",
            "simulation.seed=42",
            "workloads.users.open.rate=50.0",
            "services.api.work={ constant = \"3ms\" }",
            // Absent from the file.
            "services.api.queue=10",
        ],
    )
    .unwrap();
    assert_eq!(scenario.duration(), Duration::from_secs(2));
    assert_eq!(scenario.warmup(), Duration::from_secs(1));
    assert_eq!(scenario.seed(), Some(42));
    assert_eq!(
        scenario
            .overrides()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "simulation.duration=2s",
            "simulation.warmup=\"1s\"",
            "simulation.seed=42",
            "workloads.users.open.rate=50.0",
            "services.api.work={ constant = \"3ms\" }",
            "services.api.queue=10",
        ]
    );
    let report = scenario.to_simulation(None).unwrap().run().unwrap();
    assert_eq!(report.seed, 42);
    let users = &report.workloads["users"];
    // One request every 20 ms, at 0, 20 ms, ...: those of the second second are counted.
    assert_eq!(users.latency_ms.count, 50);
    // Constant work and no links: every request takes exactly 3 ms.
    assert_eq!(users.latency_ms.p50, 3.0);
    assert_eq!(users.latency_ms.max, 3.0);
    assert_eq!(users.latency_ms.mean, 3.0);
}

/// An override changes only what it names, and the last of one key wins; a sweep reuses one
/// key with other values.
#[test]
fn the_last_override_of_a_key_wins_and_a_key_takes_other_values() {
    let durations = |arguments: &[&str]| parse(API, arguments).unwrap().duration();
    assert_eq!(durations(&[]), Duration::from_secs(60));
    assert_eq!(
        durations(&["simulation.duration=1s", "simulation.duration=3s"]),
        Duration::from_secs(3)
    );
    let key = Override::parse("services.api.work={ constant = \"1ms\" }").unwrap();
    for (value, expected) in [
        ("{ constant = \"2ms\" }", 2.0),
        ("{ constant = \"5ms\" }", 5.0),
    ] {
        let setting = [
            key.with_value(value).unwrap(),
            Override::parse("simulation.duration=1s").unwrap(),
        ];
        let scenario = Scenario::parse_with_overrides(API, "api.toml", &setting).unwrap();
        let report = scenario.to_simulation(None).unwrap().run().unwrap();
        assert_eq!(report.workloads["users"].latency_ms.max, expected);
    }
    // An override of a whole table, then of a key inside it: in order.
    let scenario = parse(
        API,
        &[
            "services.api.work={ constant = \"9ms\" }",
            "services.api.work.constant=4ms",
            "simulation.duration=1s",
        ],
    )
    .unwrap();
    let report = scenario.to_simulation(None).unwrap().run().unwrap();
    assert_eq!(report.workloads["users"].latency_ms.max, 4.0);
}

fn messages(error: &ScenarioError) -> Vec<String> {
    error.errors().iter().map(ToString::to_string).collect()
}

/// A value's mistake is the file's rule, located at the override; a path the file could not
/// have is an error with a suggestion; the file's own mistakes keep their line and column.
#[test]
fn mistakes_are_located_at_the_override_or_in_the_file() {
    let error = parse(API, &["services.api.workers=0"]).unwrap_err();
    assert_eq!(
        messages(&error),
        [
            "--set 1 (services.api.workers=0): services.api.workers: workers must be at least 1, got 0"
        ]
    );
    // The same rule, and the same reason, as written in the file.
    let written = Scenario::parse(&API.replace("workers = 4", "workers = 0"), "api.toml");
    assert_eq!(
        messages(&written.unwrap_err()),
        ["api.toml:3:11: services.api.workers: workers must be at least 1, got 0"]
    );
    let ScenarioError::Override {
        number,
        key,
        message,
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(
        (*number, key.as_str(), message.as_str()),
        (
            1,
            "services.api.workers",
            "workers must be at least 1, got 0"
        )
    );

    // One mistake an entry, as in a file; the file's own keep their line and column, and
    // come first.
    let text = format!(
        "{}\n[services.db]\n\n[services.cache]\n",
        API.replace("rate = 100.0", "rate = 0.0")
    );
    let error = parse(
        &text,
        &[
            "simulation.duration=2s",
            "services.ap.workers=8",
            "services.db.wrokers=8",
            "services.cache.work={ constnt = \"2ms\" }",
            "simulation.warmup=5",
            "simulaton.seed=1",
            "links[0].latency={ constant = \"1ms\" }",
            "services.api.workers.count=1",
        ],
    )
    .unwrap_err();
    assert_eq!(
        messages(&error),
        [
            "api.toml:8:17: workloads.users.open.rate: rate must be a finite number of requests per second > 0, got 0",
            "--set 2 (services.ap.workers=8): services: no service \"ap\"; did you mean \"api\"?",
            "--set 3 (services.db.wrokers=8): services.db: unknown key \"wrokers\"; did you mean \"workers\"?",
            "--set 4 (services.cache.work={ constnt = \"2ms\" }): services.cache.work: unknown key \"constnt\"; did you mean \"constant\"?",
            "--set 5 (simulation.warmup=5): simulation.warmup: duration \"5\" has no unit; write it with one of ns, us, ms, s, m, h, e.g. \"5us\"",
            "--set 6 (simulaton.seed=1): unknown key \"simulaton\"; did you mean \"simulation\"?",
            "--set 7 (links[0].latency={ constant = \"1ms\" }): links: no entry [0]: the file has none, and an override does not add entries",
            "--set 8 (services.api.workers.count=1): services.api.workers: a whole number has no key \"count\"",
        ]
    );
    // A key path printed in an error reads back as an override's key.
    let quoted = API
        .replace("[services.api]", "[services.\"cart v2\"]")
        .replace("target = \"api\"", "target = \"cart v2\"");
    let error = parse(&quoted, &["services.\"cart v2\".workers=0"]).unwrap_err();
    assert_eq!(
        messages(&error),
        [
            "--set 1 (services.\"cart v2\".workers=0): services.\"cart v2\".workers: workers must be at least 1, got 0"
        ]
    );
    assert!(parse(&quoted, &["services.'cart v2'.workers=2"]).is_ok());
    // A service the file does not declare is not added, even without a likely name.
    let error = parse(API, &["services.zzzzzz.workers=8"]).unwrap_err();
    assert_eq!(
        messages(&error),
        [
            "--set 1 (services.zzzzzz.workers=8): services: no service \"zzzzzz\" in the file: an override changes a service, it does not add one"
        ]
    );
}

/// Errors the engine finds when the simulation is built are located at the override too.
#[test]
fn engine_errors_in_an_array_entry_are_located_at_the_override() {
    let text = format!(
        "{API}\n[services.db]\n\n[[links]]\nfrom = \"api\"\nto = \"db\"\nlatency = {{ constant = \"1ms\" }}\n\n\
         [[faults]]\nfail = \"api\"\nprobability = 0.5\n"
    );
    let error = parse(
        &text,
        &["faults[0].probability=2.0", "links[0].latency.constant=1"],
    )
    .unwrap_err();
    assert_eq!(
        messages(&error),
        [
            "--set 1 (faults[0].probability=2.0): faults[0].probability: probability must be within [0, 1] (0.1 = one in ten), got 2",
            "--set 2 (links[0].latency.constant=1): links[0].latency.constant: duration \"1\" has no unit; write it with one of ns, us, ms, s, m, h, e.g. \"1us\"",
        ]
    );
}

#[test]
fn the_command_takes_set_on_run_and_check_and_records_it() {
    // check: accepted, then refused at the override.
    let output = microsim([
        "check",
        "scenarios/mm1.toml",
        "--set",
        "services.server.workers=2",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = microsim([
        "check",
        "scenarios/mm1.toml",
        "--set",
        "services.server.workers=2",
        "--set",
        "services.srever.workers=3",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: --set 2 (services.srever.workers=3): services: no service \"srever\"; did you mean \"server\"?\n"
    );

    // run: the JSON and the table list the overrides in order; the last of a key wins;
    // --seed wins over simulation.seed.
    let arguments = [
        "simulation.duration=3s",
        "simulation.warmup=0s",
        "simulation.duration=2s",
        "simulation.seed=11",
        "services.server.work={ constant = \"1ms\" }",
    ];
    let mut args = vec!["scenarios/mm1.toml"];
    for argument in &arguments {
        args.extend(["--set", argument]);
    }
    let report = run_json(&args);
    assert_eq!(report["overrides"], serde_json::json!(arguments));
    assert_eq!(report["simulated_seconds"], 2.0);
    assert_eq!(report["seed"], 11);
    // Constant work of 1 ms: no request takes less (the file's exponential work would).
    let latency = &report["workloads"]["arrivals"]["latency_ms"];
    assert!(latency["p50"].as_f64().unwrap() >= 1.0, "{latency}");
    args.extend(["--seed", "5"]);
    let report = run_json(&args);
    assert_eq!(report["seed"], 5);

    let mut table = vec!["run", "scenarios/mm1.toml", "--quiet"];
    table.extend([
        "--set",
        "simulation.duration=1s",
        "--set",
        "simulation.warmup=0s",
    ]);
    let output = microsim(&table);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.lines().nth(1),
        Some("overrides: --set simulation.duration=1s --set simulation.warmup=0s")
    );
    // Without overrides, no such line, and no `overrides` in the JSON.
    let short =
        std::env::temp_dir().join(format!("microsim-test-{}-short.toml", std::process::id()));
    std::fs::write(
        &short,
        API.replace(
            "[services.api]",
            "[simulation]\nduration = \"1s\"\n\n[services.api]",
        ),
    )
    .unwrap();
    let short = short.to_str().unwrap();
    let plain = run_json(&[short]);
    assert!(plain.get("overrides").is_none(), "{plain}");
    let output = microsim(["run", short, "--quiet"]);
    std::fs::remove_file(short).ok();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!String::from_utf8_lossy(&output.stdout).contains("overrides"));
}

#[test]
fn the_bundled_store_takes_overrides_too() {
    let report = run_json(&[
        "--set",
        "simulation.duration=2s",
        "--set",
        "simulation.warmup=1s",
    ]);
    assert_eq!(report["simulated_seconds"], 2.0);
    assert!(report["workloads"]["checkout"]["sent"].as_u64().unwrap() > 0);
}

/// A `--set` that is not `KEY=VALUE` is a usage error (exit 2), before any file is read.
#[test]
fn a_malformed_set_is_a_usage_error() {
    for (argument, message) in [
        (
            "services.server.workers",
            "error: --set services.server.workers: expected KEY=VALUE, found no `=`\n",
        ),
        (
            "services.server.work={ constant = 2ms }",
            "error: --set services.server.work={ constant = 2ms }: invalid TOML value: ",
        ),
        ("=3", "error: --set =3: no key before `=`\n"),
        (
            "services.server.workers=",
            "error: --set services.server.workers=: no value after `=`; write `\"\"` for an empty string\n",
        ),
    ] {
        let output = microsim(["check", "no-such-file.toml", "--set", argument]);
        assert_eq!(output.status.code(), Some(2), "{argument}");
        assert!(
            stderr(&output).starts_with(message),
            "{argument}: {}",
            stderr(&output)
        );
    }
}
