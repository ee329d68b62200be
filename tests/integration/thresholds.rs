//! Thresholds: a scenario file's `[[thresholds]]` and the engine's `Threshold`, judged on
//! models whose figures are known exactly; their paths checked before the run as far as the
//! file tells, and after it against the report.

use microsim::report::threshold::{Threshold, ThresholdResult};
use microsim::scenario::{Override, Scenario};
use microsim::{FieldPath, PathSegment, Report};

/// A deterministic queue: one worker, 10 ms of work per request, one request every 20 ms,
/// and 1 ms on the link each way, for 10 s. No request waits, so every latency is exactly
/// 12 ms -- p99 included -- and 500 requests complete: 50 per second.
const CONSTANT: &str = r#"
[simulation]
duration = "10s"

[services.api]
workers = 1
work = { constant = "10ms" }

[[links]]
from = "client"
to = "api"
latency = { constant = "1ms" }

[workloads.checkout]
target = "api"
open = { rate = 50.0, arrivals = "constant" }
"#;

fn run_with(thresholds: &str) -> (Scenario, Report) {
    let scenario = Scenario::parse(&format!("{CONSTANT}{thresholds}"), "constant.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut report = scenario.to_simulation(None).unwrap().run().unwrap();
    scenario.check_thresholds(&mut report);
    (scenario, report)
}

/// The mistakes `Scenario::parse` finds in `text`, a line each, as the command prints them.
fn mistakes(text: &str, file: &str) -> Vec<String> {
    let err = Scenario::parse(text, file).expect_err("the file has mistakes");
    err.errors().iter().map(ToString::to_string).collect()
}

fn verdicts(report: &Report) -> Vec<(Option<f64>, bool)> {
    report
        .thresholds
        .iter()
        .map(|result| (result.value, result.passed))
        .collect()
}

#[test]
fn an_exact_p99_passes_a_max_just_above_it_and_fails_one_just_below() {
    let (scenario, report) = run_with(
        r#"
[[thresholds]]
metric = "workloads.checkout.latency_ms.p99"
max = 12.001

[[thresholds]]
metric = "workloads.checkout.latency_ms.p99"
max = 11.999

[[thresholds]]
metric = "workloads.checkout.latency_ms.p99"
max = 12.0
"#,
    );
    let checkout = &report.workloads["checkout"];
    assert_eq!(checkout.latency_ms.p99, 12.0);
    assert_eq!(checkout.latency_ms.max, 12.0);
    assert_eq!(scenario.thresholds().len(), 3);
    assert_eq!(
        scenario.thresholds()[1],
        Threshold::max("workloads.checkout.latency_ms.p99", 11.999)
    );
    // The bound is included.
    assert_eq!(
        verdicts(&report),
        [(Some(12.0), true), (Some(12.0), false), (Some(12.0), true)]
    );
    assert!(
        report
            .thresholds
            .iter()
            .all(|result| result.error.is_none())
    );
    assert!(report.thresholds_breached());
    assert_eq!(
        report.thresholds[1].to_string(),
        "workloads.checkout.latency_ms.p99 = 12: breached, above max 11.999"
    );
}

#[test]
fn min_thresholds_hold_the_figure_from_below() {
    let (_, report) = run_with(
        r#"
[[thresholds]]
metric = "workloads.checkout.throughput_per_s"
min = 50.0

[[thresholds]]
metric = "workloads.checkout.throughput_per_s"
min = 50.001

[[thresholds]]
metric = "workloads.checkout.completed"
min = 500
max = 500

[[thresholds]]
metric = "workloads.checkout.latency_ms.p50"
min = 11.999
max = 12.001

[[thresholds]]
metric = "workloads.checkout.failed"
min = 1
"#,
    );
    assert_eq!(report.workloads["checkout"].counts.completed, 500);
    assert_eq!(
        verdicts(&report),
        [
            (Some(50.0), true),
            (Some(50.0), false),
            (Some(500.0), true),
            (Some(12.0), true),
            (Some(0.0), false),
        ]
    );
    assert_eq!(
        report.thresholds[4].to_string(),
        "workloads.checkout.failed = 0: breached, below min 1"
    );
}

#[test]
fn a_run_within_its_thresholds_is_not_breached() {
    let (_, report) = run_with(
        r#"
[[thresholds]]
metric = "workloads.checkout.latency_ms.p99"
max = 12.5

[[thresholds]]
metric = "services.api.utilization"
min = 0.49
max = 0.51
"#,
    );
    assert!(!report.thresholds_breached(), "{:?}", report.thresholds);
    // A file without thresholds leaves a report without verdicts.
    let (scenario, report) = run_with("");
    assert!(scenario.thresholds().is_empty());
    assert!(report.thresholds.is_empty() && !report.thresholds_breached());
    assert!(!report.to_json().contains("thresholds"));
}

/// Entries of the file below, one threshold each, and the error each gives.
const BAD: &[(&str, &str)] = &[
    (
        "metric = \"workload.checkout.latency_ms.p99\"\nmax = 1.0",
        "bad.toml:22:10: thresholds[0].metric: the report has no \"workload\"; did you mean \"workloads\"?",
    ),
    (
        "metric = \"workloads.chekout.latency_ms.p99\"\nmax = 1.0",
        "bad.toml:26:10: thresholds[1].metric: unknown workload \"chekout\"; did you mean \"checkout\"?",
    ),
    (
        "metric = \"workloads.checkout.latency_ms.p99x\"\nmax = 1.0",
        "bad.toml:30:10: thresholds[2].metric: workloads.checkout.latency_ms has no \"p99x\"; did you mean \"p99\"?",
    ),
    (
        "metric = \"workloads.checkout.latency_ms\"\nmax = 1.0",
        "bad.toml:34:10: thresholds[3].metric: workloads.checkout.latency_ms is a table, not a number: add one of its keys (count, max, mean, p50, p90, p99, p999)",
    ),
    (
        "metric = \"workloads.checkout.latency ms.p99\"\nmax = 1.0",
        "bad.toml:38:10: thresholds[4].metric: unexpected 'm' in the key at column 28: expected `.` or `[`",
    ),
    (
        "metric = \"services.api.replicas[0].handled\"\nmax = 1.0",
        "bad.toml:42:10: thresholds[5].metric: services.api has no \"replicas\"",
    ),
    (
        "metric = \"faults[1].failed_calls\"\nmax = 1.0",
        "bad.toml:46:10: thresholds[6].metric: faults has 1 entry (from [0]): it has no [1]",
    ),
    (
        "metric = 'policies.\"client -> apj\".retries'\nmax = 1.0",
        "bad.toml:50:10: thresholds[7].metric: unknown policy \"client -> apj\"; did you mean \"client -> api\"?",
    ),
    (
        "metric = \"topics.order.published\"\nmax = 1.0",
        "bad.toml:54:10: thresholds[8].metric: unknown topic \"order\"; did you mean \"orders\"?",
    ),
    (
        "metric = \"clock\"\nmax = 1.0",
        "bad.toml:58:10: thresholds[9].metric: clock is a string, not a number",
    ),
    (
        "metric = \"workloads.checkout.sent\"\nmaximum = 1.0",
        "bad.toml:63:1: thresholds[10]: unknown key \"maximum\"; expected one of metric, min, max",
    ),
    (
        "metric = \"workloads.checkout.sent\"",
        "bad.toml:65:1: thresholds[11]: a threshold needs a bound: max, min or both",
    ),
    (
        "metric = \"workloads.checkout.sent\"\nmin = 10\nmax = 5",
        "bad.toml:70:7: thresholds[12].min: min must be at most max (5), got 10",
    ),
    (
        "metric = \"workloads.checkout.sent\"\nmax = inf",
        "bad.toml:75:7: thresholds[13].max: max must be a finite number, got inf",
    ),
    (
        "max = 1.0",
        "bad.toml:77:1: thresholds[14]: missing key \"metric\"",
    ),
    (
        "metric = \"thresholds[0].value\"\nmax = 1.0",
        "bad.toml:81:10: thresholds[15].metric: thresholds are the verdicts on the report, not a number of it",
    ),
    (
        "metric = \"workloads.checkout.sent\"\nmax = \"1\"",
        "bad.toml:86:7: thresholds[16].max: expected a number, found string \"1\"",
    ),
];

/// A file with every mistake of [`BAD`], after 20 lines of a valid scenario.
fn bad_file() -> String {
    let mut text = String::from(
        "[services.api]\n\
         work = { constant = \"1ms\" }\n\
         subscribes = [\"orders\"]\n\
         \n\
         [topics.orders]\n\
         delivery = \"at_least_once\"\n\
         \n\
         [workloads.checkout]\n\
         target = \"api\"\n\
         open = { rate = 10.0 }\n\
         \n\
         [[policies]]\n\
         from = \"client\"\n\
         to = \"api\"\n\
         timeout = \"1s\"\n\
         \n\
         [[faults]]\n\
         slow = \"api\"\n\
         factor = 2.0\n\
         \n",
    );
    for (entry, _) in BAD {
        text.push_str("[[thresholds]]\n");
        text.push_str(entry);
        text.push_str("\n\n");
    }
    text
}

#[test]
fn bad_metrics_and_bounds_are_located_errors() {
    let err = Scenario::parse(&bad_file(), "bad.toml").unwrap_err();
    let lines: Vec<String> = err.errors().iter().map(ToString::to_string).collect();
    let expected: Vec<&str> = BAD.iter().map(|(_, message)| *message).collect();
    assert_eq!(lines, expected);
    assert_eq!(err.unlisted(), 0);
}

#[test]
fn paths_the_file_does_know_are_checked_exactly() {
    // Each valid: a replicated service's replicas, a dead-letter topic, a policy of a pair
    // written with quotes, a fault by its index, a count by cause (known after the run only).
    let text = r#"
[services.api]
replicas = 2
subscribes = ["orders.dead-letter"]

[topics.orders]
delivery = "at_least_once"

[workloads.checkout]
target = "api"
open = { rate = 10.0 }

[[policies]]
from = "client"
to = "api"
timeout = "1s"

[[faults]]
slow = "api"
factor = 2.0

[[thresholds]]
metric = "services.api.replicas[1].handled"
min = 0

[[thresholds]]
metric = 'topics."orders.dead-letter".subscribers.api.lag_max'
max = 0

[[thresholds]]
metric = 'policies."client -> api".latency_ms.p99'
max = 1000

[[thresholds]]
metric = "faults[0].failed_calls"
max = 0

[[thresholds]]
metric = 'workloads.checkout.errors_by_cause."api: failed"'
max = 0

[[thresholds]]
metric = "timeline.workloads.checkout.sent[3]"
min = 1
"#;
    let scenario = Scenario::parse(text, "known.toml").unwrap_or_else(|e| panic!("{e}"));
    let metrics: Vec<&str> = scenario
        .thresholds()
        .iter()
        .map(Threshold::metric)
        .collect();
    assert_eq!(
        metrics[1],
        "topics.\"orders.dead-letter\".subscribers.api.lag_max"
    );
    let lines = mistakes(
        &text
            .replace("lag_max'", "lagmax'")
            .replace("sent[3]", "snt[3]"),
        "known.toml",
    );
    assert_eq!(
        lines,
        [
            "known.toml:27:10: thresholds[1].metric: topics.\"orders.dead-letter\".subscribers.api has no \"lagmax\"; did you mean \"lag_max\"?",
            "known.toml:43:10: thresholds[5].metric: timeline.workloads.checkout has no \"snt\"; did you mean \"sent\"?",
        ]
    );
}

#[test]
fn a_path_only_the_run_can_check_is_a_breach_when_it_finds_no_number() {
    // Which causes of failure a run counts, and what crossed which edge, only the run knows:
    // a path into them passes the file's checks, and fails if the report has no number there.
    let (_, report) = run_with(
        r#"
[[thresholds]]
metric = 'workloads.checkout.errors_by_cause."api: failed"'
max = 0

[[thresholds]]
metric = "edges[3].count"
max = 1000

[[thresholds]]
metric = "edges[0].count"
min = 500
max = 500
"#,
    );
    let errors: Vec<Option<&str>> = report
        .thresholds
        .iter()
        .map(|result| result.error.as_deref())
        .collect();
    assert_eq!(
        errors,
        [
            Some(
                "workloads.checkout.errors_by_cause.\"api: failed\": no such number in the report: \
                 workloads.checkout has no \"errors_by_cause\""
            ),
            Some(
                "edges[3].count: no such number in the report: edges has 1 entry (from [0]): it has no [3]"
            ),
            None,
        ]
    );
    assert_eq!(
        verdicts(&report),
        [(None, false), (None, false), (Some(500.0), true)]
    );
    assert!(report.thresholds_breached());
}

#[test]
fn a_typo_below_a_workload_is_reported_in_the_result() {
    // The Rust API: a threshold judges any report; the path's mistake is its result's error.
    let scenario = Scenario::parse(CONSTANT, "constant.toml").unwrap();
    let mut report = scenario.to_simulation(None).unwrap().run().unwrap();
    report.check_thresholds(&[
        Threshold::max("workloads.checkout.latency_ms.p99x", 250.0),
        Threshold::max("workloads.checkout.latncy_ms.p99", 250.0),
        Threshold::min("workloads.chekout.throughput_per_s", 50.0),
        Threshold::max("workloads.checkout.latency_ms.p99", 250.0).and_min(12.0),
    ]);
    let results: Vec<(&str, Option<&str>)> = report
        .thresholds
        .iter()
        .map(|result| (result.metric.as_str(), result.error.as_deref()))
        .collect();
    assert_eq!(
        results,
        [
            (
                "workloads.checkout.latency_ms.p99x",
                Some(
                    "workloads.checkout.latency_ms.p99x: no such number in the report: \
                     workloads.checkout.latency_ms has no \"p99x\"; did you mean \"p99\"?"
                )
            ),
            (
                "workloads.checkout.latncy_ms.p99",
                Some(
                    "workloads.checkout.latncy_ms.p99: no such number in the report: \
                     workloads.checkout has no \"latncy_ms\"; did you mean \"latency_ms\"?"
                )
            ),
            (
                "workloads.chekout.throughput_per_s",
                Some(
                    "workloads.chekout.throughput_per_s: no such number in the report: \
                     unknown workload \"chekout\"; did you mean \"checkout\"?"
                )
            ),
            ("workloads.checkout.latency_ms.p99", None),
        ]
    );
    assert_eq!(
        verdicts(&report),
        [
            (None, false),
            (None, false),
            (None, false),
            (Some(12.0), true)
        ]
    );
    // Unresolved counts as breached, and the table says why.
    assert!(report.thresholds_breached());
    let text = report.to_string();
    assert!(
        text.ends_with(
            "\n\nthreshold  value         bound  status\
             \nworkloads.checkout.latency_ms.p99x\
             \n               -        <= 250    FAIL\
             \n  no such number in the report: workloads.checkout.latency_ms has no \"p99x\"; did you mean \"p99\"?\
             \nworkloads.checkout.latncy_ms.p99\
             \n               -        <= 250    FAIL\
             \n  no such number in the report: workloads.checkout has no \"latncy_ms\"; did you mean \"latency_ms\"?\
             \nworkloads.chekout.throughput_per_s\
             \n               -         >= 50    FAIL\
             \n  no such number in the report: unknown workload \"chekout\"; did you mean \"checkout\"?\
             \nworkloads.checkout.latency_ms.p99\
             \n              12  in [12, 250]    PASS"
        ),
        "{text}"
    );
}

#[test]
fn results_round_trip_through_the_json() {
    let (_, report) = run_with(
        r#"
[[thresholds]]
metric = "workloads.checkout.latency_ms.p99"
max = 12.5

[[thresholds]]
metric = "services.api.handled"
min = 1
max = 1000

[[thresholds]]
metric = 'workloads.checkout.errors_by_cause."api: failed"'
max = 0
"#,
    );
    let json = report.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        value["thresholds"],
        serde_json::json!([
            {
                "metric": "workloads.checkout.latency_ms.p99",
                "max": 12.5,
                "value": 12.0,
                "passed": true,
            },
            {
                "metric": "services.api.handled",
                "min": 1.0,
                "max": 1000.0,
                "value": 500.0,
                "passed": true,
            },
            {
                "metric": "workloads.checkout.errors_by_cause.\"api: failed\"",
                "max": 0.0,
                "value": null,
                "passed": false,
                "error": "workloads.checkout.errors_by_cause.\"api: failed\": no such number in \
                          the report: workloads.checkout has no \"errors_by_cause\"",
            },
        ])
    );
    let read = Report::from_json(&json).unwrap();
    assert_eq!(read, report);
    assert!(read.thresholds_breached());
    let result: ThresholdResult = serde_json::from_value(value["thresholds"][1].clone()).unwrap();
    assert_eq!(result, report.thresholds[1]);
}

#[test]
fn an_override_sets_a_threshold() {
    let text = format!(
        "{CONSTANT}\n[[thresholds]]\nmetric = \"workloads.checkout.latency_ms.p99\"\nmax = 250.0\n"
    );
    let overrides = [Override::parse("thresholds[0].max=11.5").unwrap()];
    let scenario = Scenario::parse_with_overrides(&text, "constant.toml", &overrides).unwrap();
    assert_eq!(scenario.thresholds()[0].max_bound(), Some(11.5));
    let overrides = [Override::parse("thresholds[0].metric=workloads.nope.sent").unwrap()];
    let err = Scenario::parse_with_overrides(&text, "constant.toml", &overrides).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--set 1 (thresholds[0].metric=workloads.nope.sent): thresholds[0].metric: unknown \
         workload \"nope\""
    );
}

/// Every key path to a number in `value`, an array's by its first entry that is not null.
fn number_paths(value: &serde_json::Value, at: &mut Vec<PathSegment>, paths: &mut Vec<String>) {
    match value {
        serde_json::Value::Number(_) => {
            paths.push(FieldPath::from_segments(at.clone()).to_string())
        }
        serde_json::Value::Object(fields) => {
            for (key, field) in fields {
                at.push(PathSegment::Key(key.clone()));
                number_paths(field, at, paths);
                at.pop();
            }
        }
        serde_json::Value::Array(items) => {
            if let Some((index, item)) = items.iter().enumerate().find(|(_, item)| !item.is_null())
            {
                at.push(PathSegment::Index(index));
                number_paths(item, at, paths);
                at.pop();
            }
        }
        _ => {}
    }
}

/// A model with a part of every kind: replicas, a topic with its dead-letter topic and
/// subscribers, one-way sends, failures by cause, a retry policy whose breaker opens, faults,
/// tracing.
const EVERYTHING: &str = r#"
[simulation]
duration = "4s"
warmup = "1s"
timeline_window = "1s"

[tracing]
rate = 0.1

[services.frontend]
workers = 8
work = { constant = "1ms" }
steps = [{ call = "payment" }, { publish = "orders" }, { send = "audit" }]

[services.payment]
replicas = 2
balancer = "round_robin"
workers = 2
work = { exponential = { mean = "2ms" } }
steps = [{ fail = 0.2, error = "card declined" }]

[services.audit]
work = { constant = "100us" }

[services.shipping]
work = { constant = "1ms" }
steps = [{ fail = 0.3, error = "no stock" }]
subscribes = ["orders"]

[services.janitor]
subscribes = ["orders.dead-letter"]

[topics.orders]
delivery = "at_least_once"
ack_timeout = "1s"
max_deliveries = 2

[[policies]]
from = "frontend"
to = "payment"
timeout = "50ms"
retry = { max_attempts = 2 }
circuit_breaker = { failure_rate = 0.1, window_calls = 20, minimum_calls = 10, open_for = "200ms", trial_calls = 2 }

[[faults]]
slow = "payment"
factor = 3.0
at = "2s"
lasting = "1s"

[[faults]]
loss = ["frontend", "audit"]
probability = 0.1

[workloads.users]
target = "frontend"
open = { rate = 200.0 }
"#;

/// The checks before the run know the report's shape: every number a run's report holds is
/// a metric the file may name (none refused for a part the run fills in), and the run finds
/// it.
#[test]
fn every_number_of_a_report_is_a_metric_its_file_accepts() {
    let scenario = Scenario::parse(EVERYTHING, "everything.toml").unwrap();
    let mut report = scenario.to_simulation(None).unwrap().run().unwrap();
    // Each part is there to be checked.
    assert_eq!(report.services["payment"].replicas.len(), 2);
    assert!(!report.workloads["users"].errors_by_cause.is_empty());
    assert!(!report.topics["orders.dead-letter"].subscribers.is_empty());
    assert!(
        !report.policies["frontend -> payment"]
            .breaker_transitions
            .is_empty()
    );
    assert!(!report.critical_path.is_empty() && !report.edges.is_empty());
    assert!(!report.timeline.topics.is_empty());

    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    let mut paths = Vec::new();
    number_paths(&json, &mut Vec::new(), &mut paths);
    assert!(paths.len() > 300, "{}", paths.len());
    let mut text = EVERYTHING.to_string();
    for path in &paths {
        assert!(!path.contains('\''), "{path}");
        text.push_str(&format!(
            "\n[[thresholds]]\nmetric = '{path}'\nmax = 1e300\n"
        ));
    }
    let with_thresholds =
        Scenario::parse(&text, "everything.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(with_thresholds.thresholds().len(), paths.len());
    with_thresholds.check_thresholds(&mut report);
    let breached: Vec<&ThresholdResult> = report
        .thresholds
        .iter()
        .filter(|result| !result.passed)
        .collect();
    assert!(breached.is_empty(), "{breached:?}");
}

/// The command's exit codes: 0 when every threshold holds, 3 when one is breached (the
/// report still printed, the breach named on stderr), 1 for a metric that is no number of the
/// report, located at its line and column.
#[cfg(feature = "cli")]
#[test]
fn the_command_exits_3_on_a_breach_and_0_when_all_hold() {
    use crate::support::{TempFile, microsim};

    // Every latency is exactly 12 ms (see CONSTANT).
    let file = TempFile::new(
        "thresholds-exit",
        &format!(
            "{CONSTANT}\n[[thresholds]]\nmetric = \"workloads.checkout.latency_ms.p99\"\nmax = 12.0\n"
        ),
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["run", file.path.to_str().unwrap(), "--quiet"];
        args.extend_from_slice(extra);
        microsim(args)
    };
    let holds = run(&[]);
    assert_eq!(
        holds.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&holds.stderr)
    );
    let table = String::from_utf8(holds.stdout).unwrap();
    assert!(table.contains("PASS"), "{table}");

    let breached = run(&["--set", "thresholds[0].max=11.9"]);
    assert_eq!(breached.status.code(), Some(3));
    let stderr = String::from_utf8(breached.stderr).unwrap();
    assert!(
        stderr.contains("1 of 1 thresholds breached")
            && stderr.contains("workloads.checkout.latency_ms.p99 = 12: breached, above max 11.9"),
        "{stderr}"
    );
    assert!(
        String::from_utf8(breached.stdout).unwrap().contains("FAIL"),
        "the report is still printed"
    );

    // Over replications, a threshold must hold with confidence: a constant model has no
    // spread, so its interval is its value.
    assert_eq!(run(&["--seeds", "2"]).status.code(), Some(0));
    let unsure = run(&["--seeds", "2", "--set", "thresholds[0].max=11.9"]);
    assert_eq!(unsure.status.code(), Some(3));
    assert!(
        String::from_utf8(unsure.stderr)
            .unwrap()
            .contains("do not hold with confidence over 2 seeds")
    );

    let misspelt = run(&[
        "--set",
        "thresholds[0].metric=\"workloads.checkout.latency.p99\"",
    ]);
    assert_eq!(misspelt.status.code(), Some(1));
    let stderr = String::from_utf8(misspelt.stderr).unwrap();
    assert!(
        stderr.contains("thresholds[0].metric") && stderr.contains("did you mean \"latency_ms\"?"),
        "{stderr}"
    );
}

#[test]
fn a_warmup_path_is_checked_before_the_run_and_judged_after_it() {
    // Every request of the deterministic queue takes 12 ms from the first on: the start
    // leaves no bias in the mean, exactly.
    let (_, report) = run_with(
        r#"
[[thresholds]]
metric = "warmup.checkout.bias_ms"
max = 0.0
"#,
    );
    assert_eq!(verdicts(&report), [(Some(0.0), true)]);

    let lines = mistakes(
        &format!(
            "{CONSTANT}
[[thresholds]]
metric = \"warmup.checkout.bias\"
max = 1.0

[[thresholds]]
metric = \"warmup.chekout.bias_ms\"
max = 1.0
"
        ),
        "constant.toml",
    );
    assert_eq!(
        lines,
        [
            "constant.toml:19:10: thresholds[0].metric: warmup.checkout has no \"bias\"; did you mean \"bias_ms\"?",
            "constant.toml:23:10: thresholds[1].metric: warmup has no \"chekout\"; did you mean \"checkout\"?",
        ]
    );
}
