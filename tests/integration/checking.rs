//! What `check` finds in a scenario file: counts at and past their bounds, and the words a
//! count may be instead.

use microsim::scenario::Scenario;

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
            wrong.push(format!("{what}:\n  got      {message}\n  expected {expected}"));
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
        wrong.push(format!("window_calls:\n  got      {message}\n  expected {expected}"));
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
