//! What `check` finds in a scenario file: counts at and past their bounds.

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
