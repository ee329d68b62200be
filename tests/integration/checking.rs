//! What `check` finds in a scenario file: counts at and past their bounds, the words a count
//! may be instead, every mistake of a file at once; and how long it takes on a file of a
//! hundred thousand services.

use microsim::scenario::{Scenario, ScenarioError};

/// A valid file around `service` (the lines of `[services.a]`, from line 2).
fn with_service(service: &str) -> String {
    format!("[services.a]\n{service}\n[workloads.w]\ntarget = \"a\"\nopen = {{ rate = 1.0 }}\n")
}

fn error_of(text: &str) -> String {
    match Scenario::parse(text, "bad.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn counts_past_what_they_can_hold_are_refused_with_their_bound() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "a float far too large for a count",
            "queue = 1e300",
            "bad.toml:2:9: services.a.queue: expected a whole number, found number `1e300`",
        ),
        (
            "a float of workers",
            "workers = 1e9",
            "bad.toml:2:11: services.a.workers: expected a whole number or \"unlimited\", found \
             number `1000000000.0`",
        ),
        (
            "an integer past TOML's range",
            "workers = 9223372036854775808",
            "bad.toml:2:11: services.a.workers: integer 9223372036854775808 is out of range: \
             TOML integers go from -9223372036854775808 to 9223372036854775807",
        ),
        (
            "a negative count",
            "replicas = -9223372036854775808",
            "bad.toml:2:12: services.a.replicas: replicas must be 0 or more, got \
             -9223372036854775808",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, service, expected) in cases {
        let message = error_of(&with_service(service));
        if message != *expected {
            wrong.push(format!(
                "{what}:\n  got      {message}\n  expected {expected}"
            ));
        }
    }
    // A breaker's window counts in 32 bits: the file says so rather than wrap.
    let text = "[services.a]\n[workloads.w]\ntarget = \"a\"\nopen = { rate = 1.0 }\n\
                [[policies]]\nfrom = \"client\"\nto = \"a\"\n\
                circuit_breaker = { window_calls = 5000000000 }\n";
    let message = error_of(text);
    let expected = "bad.toml:8:36: policies[0].circuit_breaker.window_calls: window_calls must \
                    be at most 4294967295, got 5000000000";
    if message != expected {
        wrong.push(format!(
            "window_calls:\n  got      {message}\n  expected {expected}"
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn workers_is_a_count_or_unlimited() {
    Scenario::parse(&with_service("workers = \"unlimited\""), "ok.toml").unwrap();
    assert_eq!(
        error_of(&with_service("workers = \"unlimted\"")),
        "bad.toml:2:11: services.a.workers: workers is a whole number >= 1 or \"unlimited\", \
         got \"unlimted\"; did you mean \"unlimited\"?"
    );
    assert_eq!(
        error_of(&with_service("workers = \"many\"")),
        "bad.toml:2:11: services.a.workers: workers is a whole number >= 1 or \"unlimited\", \
         got \"many\""
    );
    assert_eq!(
        error_of(&with_service("workers = true")),
        "bad.toml:2:11: services.a.workers: expected a whole number or \"unlimited\", found \
         boolean `true`"
    );
    assert_eq!(
        error_of(&with_service("workers = \"unlimited\"\nqueue = 10")),
        "bad.toml:3:9: services.a.queue: an unlimited service starts every request at once and \
         never queues: remove the queue bound, or give it a number of workers"
    );
}

/// `n` services in a binary tree of calls (each calls its two children), with a link every
/// thousand services and one workload at the root.
fn many_services(n: usize) -> String {
    let mut text = String::from("[simulation]\nduration = \"1s\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "[services.s{i}]\nworkers = 2\nwork = {{ constant = \"1ms\" }}\n"
        ));
        let calls: Vec<String> = [2 * i + 1, 2 * i + 2]
            .into_iter()
            .filter(|&child| child < n)
            .map(|child| format!("{{ call = \"s{child}\" }}"))
            .collect();
        if !calls.is_empty() {
            text.push_str(&format!("steps = [{}]\n", calls.join(", ")));
        }
    }
    for i in (0..n).step_by(1000).filter(|i| 2 * i + 1 < n) {
        text.push_str(&format!(
            "[[links]]\nfrom = \"s{i}\"\nto = \"s{}\"\nlatency = {{ constant = \"100us\" }}\n",
            2 * i + 1
        ));
    }
    text.push_str("[workloads.w]\ntarget = \"s0\"\nopen = { rate = 10.0 }\n");
    text
}

/// Checking grows with the file, not with its square: ten times the services take about ten
/// times as long (a hundred thousand once took minutes, when each name was looked up in a
/// list of all of them).
#[test]
fn checking_a_hundred_thousand_services_grows_linearly() {
    let time = |n: usize| {
        let text = many_services(n);
        let started = std::time::Instant::now();
        let scenario = Scenario::parse(&text, "many.toml").unwrap();
        let took = started.elapsed();
        assert_eq!(scenario.service_names().count(), n);
        took
    };
    let small = time(10_000);
    let large = time(100_000);
    // n log n is about 12 times; n squared, 100. The floor keeps a quick small run from
    // setting too tight a bound.
    let bound = (small * 30).max(std::time::Duration::from_secs(10));
    assert!(
        large < bound,
        "10,000 services took {small:?}, 100,000 took {large:?}"
    );
}

/// Mistakes in every section, found by each kind of check (reading, names, the engine's
/// rules), and one the file makes by leaving out what a mistake hid (a fault on `db`, whose
/// replicas are not known; a policy from `db`, whose calls are not known): each is reported
/// once, in the order of the file.
const MANY: &str = r#"[simulation]
duration = "10"

[services.api]
workers = 2
steps = [{ call = "db" }, { call = "cache" }]

[services.db]
wrokers = 1

[services.cache]
workers = 0

[services.auth]
steps = [{ call = "ath" }]

[topics.orders]
delivery = "sometimes"

[[links]]
from = "api"
to = "dbb"
latency = { constant = "1ms" }

[[faults]]
crash = "db"
replica = 3

[[policies]]
from = "db"
to = "api"
timeout = "1s"

[[policies]]
from = "api"
to = "cache"
retry = { max_attempts = 0 }

[workloads.w]
target = "api"
open = { rate = 10.0 }

[workloads.x]
target = "auth"
closed = { users = -1, think = { constant = "1s" } }
"#;

#[test]
fn every_mistake_of_a_file_is_reported_once_in_file_order() {
    let error = Scenario::parse(MANY, "bad.toml").unwrap_err();
    let lines: Vec<String> = error.errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "bad.toml:2:12: simulation.duration: duration \"10\" has no unit; write it with one \
             of ns, us, ms, s, m, h, e.g. \"10us\"",
            "bad.toml:9:1: services.db: unknown key \"wrokers\"; did you mean \"workers\"?",
            "bad.toml:12:11: services.cache.workers: workers must be at least 1, got 0",
            "bad.toml:15:19: services.auth.steps[0].call: unknown service \"ath\"; did you mean \
             \"auth\"?",
            "bad.toml:18:12: topics.orders.delivery: unknown delivery \"sometimes\"; expected \
             \"at_most_once\" or \"at_least_once\"",
            "bad.toml:22:6: links[0].to: unknown service or topic \"dbb\"; did you mean \"db\"?",
            "bad.toml:37:26: policies[1].retry.max_attempts: max_attempts counts the first \
             attempt too, so it must be at least 1, got 0",
            "bad.toml:45:20: workloads.x.closed.users: users must be 0 or more, got -1",
        ]
    );
    assert_eq!(error.unlisted(), 0);
    // The message is the list, a line each; each line is the error of a file with only it.
    assert_eq!(error.to_string(), lines.join("\n"));
    let ScenarioError::Several { errors, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(matches!(
        &errors[2],
        ScenarioError::Invalid { line: 12, column: Some(11), key, .. } if key == "services.cache.workers"
    ));
}

#[test]
fn a_file_with_one_mistake_gives_it_alone() {
    let error = Scenario::parse(&with_service("workers = 0"), "bad.toml").unwrap_err();
    assert!(matches!(error, ScenarioError::Invalid { line: 2, .. }));
    assert_eq!(error.errors().len(), 1);
    assert_eq!(
        error.to_string(),
        "bad.toml:2:11: services.a.workers: workers must be at least 1, got 0"
    );
}

#[test]
fn a_syntax_error_hides_the_rest_of_the_file() {
    let text = format!("{MANY}\n[services.broken\n");
    let error = Scenario::parse(&text, "bad.toml").unwrap_err();
    assert_eq!(error.errors().len(), 1, "{error}");
    assert!(error.to_string().contains("invalid TOML"), "{error}");
}

#[test]
fn a_section_that_is_not_a_table_is_reported_with_the_other_sections() {
    let text = "links = 5
[services.a]
wrokers = 1
";
    assert_eq!(
        error_of(text),
        "bad.toml:1:9: links: expected an array, found integer `5`\n\
         bad.toml:3:1: services.a: unknown key \"wrokers\"; did you mean \"workers\"?"
    );
    // Without its services, nothing that names one can be checked.
    let text = "services = 5
[workloads.w]
target = \"nobody\"
open = { rate = 1.0 }
";
    assert_eq!(
        error_of(text),
        "bad.toml:1:12: services: expected a table, found integer `5`"
    );
}

#[test]
fn twenty_mistakes_are_listed_and_the_others_counted() {
    let mut text = String::new();
    for i in 0..25 {
        text.push_str(&format!(
            "[services.s{i:02}]\nwrokers = 1\nsteps = [{{ call = \"nobody\" }}]\n"
        ));
    }
    text.push_str("[workloads.w]\ntarget = \"s00\"\nopen = { rate = 1.0 }\n");
    let error = Scenario::parse(&text, "bad.toml").unwrap_err();
    assert_eq!(error.errors().len(), ScenarioError::MAX_LISTED);
    assert_eq!(error.unlisted(), 5);
    let message = error.to_string();
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 21);
    assert_eq!(
        lines[0],
        "bad.toml:2:1: services.s00: unknown key \"wrokers\"; did you mean \"workers\"?"
    );
    assert_eq!(lines[20], "... and 5 more errors");
}

#[test]
fn no_workloads_is_said_of_a_file_otherwise_right() {
    assert_eq!(
        error_of("[services.a]\nworkers = 0\n"),
        "bad.toml:2:11: services.a.workers: workers must be at least 1, got 0"
    );
    assert_eq!(
        error_of("[services.a]\n"),
        "bad.toml:1: workloads: no workloads: add a [workloads.NAME] table with a target and \
         open or closed traffic"
    );
}

/// A closed workload `w` of two users without think time to `api`, with `rest` after it.
fn closed_loop(services: &str, rest: &str) -> String {
    format!(
        "{services}\n[workloads.w]\ntarget = \"api\"\nclosed = {{ users = 2, think = {{ constant = \"0s\" }} }}\n{rest}"
    )
}

#[test]
fn a_closed_loop_that_takes_no_time_is_an_error_naming_the_workload_and_services() {
    assert_eq!(
        error_of(&closed_loop("[services.api]\n", "")),
        "bad.toml:5:31: workloads.w.closed.think: closed workload \"w\" has zero think time and \
         its requests to \"api\" take no simulated time: simulated time cannot advance; give it a \
         think time, or give \"api\" some work"
    );
    // Through calls, parallel branches and publishes that all take no time, and think times
    // and work that are zero whatever their kind.
    let services = "[services.api]\nwork = { uniform = { min = \"0s\", max = \"0s\" } }\n\
                    steps = [{ call = \"db\" }, { parallel = [{ call = \"cache\" }, { publish = \"audit\" }] }]\n\
                    [services.db]\nsteps = [{ work = { empirical = { samples = [\"0s\", \"0ns\"] } } }, { call = \"disk\" }]\n\
                    [services.cache]\n[services.disk]\n[topics.audit]\ncapacity = 10\nwhen_full = \"reject\"\n";
    let text = closed_loop(services, "").replace(
        "think = { constant = \"0s\" }",
        "think = { normal = { mean = \"0s\", std_dev = \"0s\" } }",
    );
    let message = error_of(&text);
    assert!(
        message.ends_with(
            "workloads.w.closed.think: closed workload \"w\" has zero think time and its \
             requests to \"api\" and its calls to \"db\", \"cache\" and \"disk\" take no \
             simulated time: simulated time cannot advance; give it a think time, or give \
             \"api\" some work"
        ),
        "{message}"
    );
}

#[test]
fn a_closed_loop_whose_requests_fail_at_once_is_an_error_naming_the_fault() {
    let services = "[services.api]\nwork = { constant = \"1ms\" }\nsteps = [{ call = \"db\" }]\n\
                    [services.db]\nwork = { constant = \"1ms\" }\n";
    let fault = "[[faults]]\nfail = \"api\"\nprobability = 1.0\n";
    let message = error_of(&closed_loop(services, fault));
    assert!(
        message.ends_with(
            "workloads.w.closed.think: closed workload \"w\" has zero think time and its \
             requests fail at once (faults[0] fails every call to \"api\" from the start): \
             simulated time cannot advance; give it a think time"
        ),
        "{message}"
    );
    // Deeper, with retries that do not wait: the zero-delay retries against a callee that
    // always fails.
    let services = "[services.api]\nsteps = [{ call = \"db\" }]\n[services.db]\nwork = { constant = \"1ms\" }\n";
    let rest = "[[faults]]\nfail = \"db\"\nprobability = 1.0\nat = \"0s\"\nlasting = \"1s\"\n\
                [[policies]]\nfrom = \"api\"\nto = \"db\"\n\
                retry = { max_attempts = 5, backoff = \"constant\", delay = \"0s\", jitter = \"full\" }\n";
    let message = error_of(&closed_loop(services, rest));
    assert!(
        message.ends_with(
            "closed workload \"w\" has zero think time and its requests fail at once (faults[0] \
             fails every call to \"db\" from the start, and policies[0] retries without \
             backoff): simulated time cannot advance; give it a think time"
        ),
        "{message}"
    );
}

/// Whatever may let simulated time advance, the check does not call a loop: it tells only
/// what it can be sure of.
#[test]
fn loops_that_may_take_time_are_not_errors() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "work",
            "[services.api]\nwork = { constant = \"1ns\" }\n",
            "",
        ),
        (
            "work that may be zero",
            "[services.api]\nwork = { uniform = { min = \"0s\", max = \"1us\" } }\n",
            "",
        ),
        (
            "a callee's work",
            "[services.api]\nsteps = [{ call = \"db\" }]\n[services.db]\nwork = { exponential = { mean = \"1ms\" } }\n",
            "",
        ),
        (
            "a link from the client",
            "[services.api]\n",
            "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { constant = \"1us\" }\n",
        ),
        (
            "a link to a callee",
            "[services.api]\nsteps = [{ call = \"db\" }]\n[services.db]\n",
            "[[links]]\nfrom = \"api\"\nto = \"db\"\nlatency = { constant = \"1us\" }\n",
        ),
        (
            "a latency fault",
            "[services.api]\n",
            "[[faults]]\nlatency = [\"client\", \"api\"]\nextra = \"1ms\"\nat = \"5s\"\n",
        ),
        (
            "a loss fault",
            "[services.api]\n",
            "[[faults]]\nloss = [\"client\", \"api\"]\nprobability = 0.5\n",
        ),
        (
            "a fail fault that lets some calls through",
            "[services.api]\nwork = { constant = \"1ms\" }\n",
            "[[faults]]\nfail = \"api\"\nprobability = 0.99\n",
        ),
        (
            "a fail fault from later on",
            "[services.api]\nwork = { constant = \"1ms\" }\n",
            "[[faults]]\nfail = \"api\"\nprobability = 1.0\nat = \"1s\"\n",
        ),
        (
            "retries with a backoff, of calls a bounded queue may refuse",
            "[services.api]\nqueue = 0\n",
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nretry = { max_attempts = 3 }\n",
        ),
        (
            "retries with a backoff, of calls that fail when a breaker refuses theirs",
            "[services.api]\nsteps = [{ call = \"db\" }]\n[services.db]\n",
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nretry = { max_attempts = 3 }\n\
             [[policies]]\nfrom = \"api\"\nto = \"db\"\ncircuit_breaker = { failure_rate = 0.5 }\n",
        ),
        (
            "retries with a backoff, of calls a fault may fail",
            "[services.api]\nsteps = [{ call = \"db\" }]\n[services.db]\n",
            "[[policies]]\nfrom = \"client\"\nto = \"api\"\nretry = { max_attempts = 3 }\n\
             [[faults]]\nfail = \"db\"\nprobability = 0.1\n",
        ),
        (
            "a publish that may wait for room",
            "[services.api]\nsteps = [{ publish = \"audit\" }]\n[topics.audit]\ncapacity = 10\n",
            "",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, services, rest) in cases {
        let text = closed_loop(services, rest);
        if let Err(error) = Scenario::parse(&text, "ok.toml") {
            wrong.push(format!("{what}: {error}"));
        }
    }
    // A think time that may be zero, and an open loop.
    for workload in [
        "closed = { users = 2, think = { exponential = { mean = \"1ms\" } } }",
        "closed = { users = 2, think = { empirical = { samples = [\"0s\", \"1ns\"] } } }",
        "open = { rate = 1e9 }",
    ] {
        let text = format!("[services.api]\n[workloads.w]\ntarget = \"api\"\n{workload}\n");
        if let Err(error) = Scenario::parse(&text, "ok.toml") {
            wrong.push(format!("{workload}: {error}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A retry waits its backoff only after a failure: of calls that cannot fail, it changes
/// nothing.
#[test]
fn retries_of_calls_that_cannot_fail_do_not_give_a_loop_time() {
    let rest = "[[policies]]\nfrom = \"client\"\nto = \"api\"\nretry = { max_attempts = 3 }\n";
    let message = error_of(&closed_loop("[services.api]\n", rest));
    assert!(message.contains("has zero think time"), "{message}");
}

#[test]
fn a_loop_is_told_beside_the_files_other_mistakes() {
    let text = closed_loop("[services.api]\n[services.other]\nwrokers = 2\n", "");
    let error = Scenario::parse(&text, "bad.toml").unwrap_err();
    let lines: Vec<String> = error.errors().iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{error}");
    assert!(lines[0].contains("unknown key \"wrokers\""), "{error}");
    assert!(lines[1].contains("has zero think time"), "{error}");
    // A link with a mistake might be what gives the loop time: nothing is said of it.
    let text = closed_loop(
        "[services.api]\n",
        "[[links]]\nfrom = \"client\"\nto = \"api\"\nlatency = { constant = \"1\" }\n",
    );
    let error = Scenario::parse(&text, "bad.toml").unwrap_err();
    assert_eq!(error.errors().len(), 1, "{error}");
    assert!(error.to_string().contains("has no unit"), "{error}");
}
