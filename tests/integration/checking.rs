//! What `check` finds in a scenario file: counts at and past their bounds, and the words a
//! count may be instead; and how long it takes on a file of a hundred thousand services.

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
