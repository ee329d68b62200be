//! The `microsim` command: exit codes, messages, JSON, and the M/M/1 scenario through it.

use std::process::{Command, Output};

use crate::support::relative_error;

fn microsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_microsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the microsim binary runs")
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("microsim-test-{}-{name}", std::process::id()))
}

#[test]
fn mm1_through_the_command_matches_queueing_theory() {
    let json = temp_path("mm1.json");
    let output = microsim(&[
        "run",
        "scenarios/mm1.toml",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).ok();
    let workload = report["workloads"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    let latency = &workload["latency_ms"];
    assert!(latency["count"].as_u64().unwrap() >= 980_000);
    let mean = latency["mean"].as_f64().unwrap();
    let p99 = latency["p99"].as_f64().unwrap();
    assert!(relative_error(mean, 5.0) < 0.03, "mean {mean}");
    assert!(relative_error(p99, 23.026) < 0.05, "p99 {p99}");
    // sent = completed + failed, and the printed table names the workload.
    let sent = workload["sent"].as_u64().unwrap();
    let ended = workload["completed"].as_u64().unwrap() + workload["failed"].as_u64().unwrap();
    assert_eq!(sent, ended);
    assert!(String::from_utf8_lossy(&output.stdout).contains("microsim report"));
}

#[test]
fn without_a_file_it_runs_the_bundled_store_the_same_way_every_time() {
    let first = microsim(&["run", "--quiet"]);
    let second = microsim(&["run", "--quiet"]);
    assert!(first.status.success());
    assert!(!first.stdout.is_empty());
    assert_eq!(first.stdout, second.stdout);
    let other_seed = microsim(&["run", "--quiet", "--seed", "8"]);
    assert!(other_seed.status.success());
    assert_ne!(first.stdout, other_seed.stdout);
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        text.contains("checkout") && text.contains("payment"),
        "{text}"
    );
}

#[test]
fn check_accepts_a_valid_file() {
    let output = microsim(&["check", "scenarios/fanout.toml"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "scenarios/fanout.toml: ok\n"
    );
}

#[test]
fn an_invalid_file_exits_1_with_a_located_message() {
    let path = temp_path("bad.toml");
    std::fs::write(
        &path,
        "[simulation]\nduration = \"10s\"\n\n[services.api]\nwrokers = 4\n\n[workloads.w]\ntarget = \"api\"\nopen = { rate = 10.0 }\n",
    )
    .unwrap();
    for command in ["check", "run"] {
        let output = microsim(&[command, path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains("bad.toml:5:"), "{stderr}");
        assert!(
            stderr.contains("wrokers") && stderr.contains("workers"),
            "{stderr}"
        );
        assert!(output.stdout.is_empty());
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn a_missing_file_exits_1() {
    let output = microsim(&["run", "no-such-scenario.toml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no-such-scenario.toml"));
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(microsim(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(microsim(&["run", "--seed", "seven"]).status.code(), Some(2));
    assert_eq!(microsim(&["check"]).status.code(), Some(2));
}
