//! The `microsim` command: exit codes, messages, JSON, and the M/M/1 scenario through it.

use std::process::Command;

use crate::support::{microsim, relative_error};

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("microsim-test-{}-{name}", std::process::id()))
}

#[test]
fn mm1_through_the_command_matches_queueing_theory() {
    let json = temp_path("mm1.json");
    let output = microsim([
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
    let first = microsim(["run", "--quiet"]);
    let second = microsim(["run", "--quiet"]);
    assert!(first.status.success());
    assert!(!first.stdout.is_empty());
    assert_eq!(first.stdout, second.stdout);
    let other_seed = microsim(["run", "--quiet", "--seed", "8"]);
    assert!(other_seed.status.success());
    assert_ne!(first.stdout, other_seed.stdout);
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        text.contains("checkout") && text.contains("payment"),
        "{text}"
    );
    // It ends pointing to the store's examples.
    let last: Vec<&str> = text.trim_end().lines().rev().take(2).collect();
    assert!(
        last[1].contains("cargo run --release --example store_compare"),
        "{text}"
    );
    assert!(
        last[0].contains("cargo run --release --example black_friday"),
        "{text}"
    );
}

#[test]
fn check_accepts_a_valid_file() {
    let output = microsim(["check", "scenarios/fanout.toml"]);
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
        let output = microsim([command, path.to_str().unwrap()]);
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
    let output = microsim(["run", "no-such-scenario.toml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no-such-scenario.toml"));
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(microsim(["frobnicate"]).status.code(), Some(2));
    assert_eq!(microsim(["run", "--seed", "seven"]).status.code(), Some(2));
    assert_eq!(microsim(["check"]).status.code(), Some(2));
}

/// A scenario that runs for minutes of wall time: something to interrupt.
const LONG: &str = r#"
[simulation]
duration = "10h"
[services.api]
workers = 4
work = { exponential = { mean = "1ms" } }
[workloads.w]
target = "api"
open = { rate = 2000.0 }
"#;

fn long_scenario(name: &str) -> std::path::PathBuf {
    let path = temp_path(name);
    std::fs::write(&path, LONG).unwrap();
    path
}

#[test]
fn a_closed_stdout_ends_the_output_quietly_and_the_json_is_still_written() {
    let json = temp_path("pipe.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_microsim"))
        .args(["run", "scenarios/store.toml", "--quiet", "--json"])
        .arg(&json)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before anything is printed, like `| true`.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).ok();
    assert!(report["workloads"]["browse"]["sent"].as_u64().unwrap() > 0);
}

#[test]
fn json_dash_writes_the_json_to_stdout_instead_of_the_table() {
    let output = microsim(["run", "scenarios/mm1.toml", "--quiet", "--json", "-"]);
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["clock"], "virtual");
}

#[test]
fn an_unwritable_json_path_fails_before_the_run() {
    let file = long_scenario("unwritable.toml");
    let started = std::time::Instant::now();
    let output = microsim([
        "run",
        file.to_str().unwrap(),
        "--json",
        "/nonexistent-microsim-dir/r.json",
    ]);
    std::fs::remove_file(&file).ok();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(
            "error: could not write the JSON report to /nonexistent-microsim-dir/r.json:"
        ),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    // The ten simulated hours take minutes; the error came before any of it.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// Runs the command with `args` and then `json` (the path after `--json`), sends it Ctrl-C
/// (SIGINT) after 1.5 s, and returns what it did.
fn interrupted_after_1_5_s(args: &[&str], json: &std::path::Path) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_microsim"))
        .args(args)
        .arg(json)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait_with_output().unwrap()
}

#[test]
fn ctrl_c_prints_and_writes_the_partial_report_and_exits_130() {
    let file = long_scenario("interrupt.toml");
    let json = temp_path("interrupt.json");
    let output =
        interrupted_after_1_5_s(&["run", file.to_str().unwrap(), "--quiet", "--json"], &json);
    std::fs::remove_file(&file).ok();
    assert_eq!(output.status.code(), Some(130), "{:?}", output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("\nINTERRUPTED at "), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).ok();
    let at = report["interrupted_at"].as_f64().unwrap();
    assert!(at > 0.0 && at < 36_000.0, "{at}");
    // The partial figures are the run's up to then: about 2,000 requests a second.
    let w = &report["workloads"]["w"];
    let completed = w["completed"].as_u64().unwrap() as f64;
    assert!(
        relative_error(completed / at, 2_000.0) < 0.05,
        "{completed} by {at}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("interrupted at"));
}

/// Ctrl-C during a sweep stops its runs (ten simulated hours each) and still writes the
/// sweep's JSON, marked interrupted, with no point half done; exit 130.
#[test]
fn ctrl_c_stops_a_sweep_and_writes_what_finished() {
    let file = long_scenario("interrupt-sweep.toml");
    let json = temp_path("interrupt-sweep.json");
    let output = interrupted_after_1_5_s(
        &[
            "sweep",
            file.to_str().unwrap(),
            "--quiet",
            "--seeds",
            "2",
            "--set",
            "simulation.seed=1,2",
            "--json",
        ],
        &json,
    );
    std::fs::remove_file(&file).ok();
    assert_eq!(output.status.code(), Some(130), "{:?}", output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("INTERRUPTED: 0 of the 2 points finished"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).ok();
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["points"].as_array().map(Vec::len), Some(0));
}

#[test]
fn check_lists_every_mistake_of_a_file_each_on_its_own_line() {
    let path = temp_path("several.toml");
    std::fs::write(
        &path,
        "[services.api]\nwrokers = 4\n\n[services.db]\nworkers = 0\n\n\
         [workloads.w]\ntarget = \"apj\"\nopen = { rate = 10.0 }\n",
    )
    .unwrap();
    for command in ["check", "run"] {
        let output = microsim([command, path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines,
            [
                "error: several.toml:2:1: services.api: unknown key \"wrokers\"; did you mean \"workers\"?",
                "error: several.toml:5:11: services.db.workers: workers must be at least 1, got 0",
                "error: several.toml:8:10: workloads.w.target: unknown service \"apj\"; did you mean \"api\"?",
            ]
            .map(|line| line.replace("several.toml", &path.file_name().unwrap().to_string_lossy())),
            "{stderr}"
        );
        assert!(output.stdout.is_empty());
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn replications_refuse_the_outputs_that_draw_one_run_before_anything_runs() {
    for flag in [
        "--timeline",
        "--html",
        "--trace",
        "--otlp",
        "--percentiles",
        "--plots",
        "--topology",
    ] {
        let output = microsim(["run", "scenarios/mm1.toml", "--seeds", "2", flag, "x"]);
        assert_eq!(output.status.code(), Some(2), "{flag}: {output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!(
                "error: --seeds 2 and {flag} do not go together: {flag} draws one run; run it \
                 without --seeds (or with --seed S for one replication's seed)\n"
            )
        );
        assert!(output.stdout.is_empty(), "{flag}: nothing ran");
    }
}
