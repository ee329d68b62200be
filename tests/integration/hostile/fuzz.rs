//! Generated scenario files: random services (work, workers, queues, replicas, balancers),
//! calls and publishes between them, topics, links, policies, workloads and faults, each file
//! valid by construction and then mutated (a line deleted, duplicated or swapped, a value
//! swapped for an extreme, junk inserted, the file cut short).
//!
//! Parse and check run in-process under `catch_unwind`: never a panic, and every rejection
//! located. An accepted file of at most 1 s of simulated time then runs through the command,
//! under the corpus's memory bound and timeout (an accepted hostile file can exhaust memory or
//! loop, which would take this test process down with it): it must end, with its report or
//! with the run's own error. An unmutated file must be accepted and run to its report.
//!
//! The generator draws every choice from a tape of numbers, so proptest shrinks a failing file
//! towards fewer and simpler parts. The seed and the number of cases are fixed: the same files
//! every time, in bounded time.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use microsim::scenario::Scenario;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

use super::{Outcome, TIMEOUT, excerpt, microsim, sound};

/// Mutated files whose run would hit a known defect: the run is skipped (parse and check are
/// still judged). Empty it as the fixes land.
const FUZZ_PENDING: &[(&str, &str)] = &[];

/// Generated files parsed and checked in-process (cheap).
const CASES_PARSED: u32 = 2_000;
/// Generated files also run through the command.
const CASES_RUN: u32 = 256;

/// The longest simulated time a generated file is run for.
const LONGEST_RUN: Duration = Duration::from_secs(1);

/// Choices drawn from proptest's numbers; past the end every choice is the simplest, 0.
struct Tape<'a> {
    choices: &'a [u16],
    at: usize,
}

impl Tape<'_> {
    /// A number in `0..n`.
    fn pick(&mut self, n: usize) -> usize {
        let choice = self.choices.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        usize::from(choice) % n.max(1)
    }

    /// A number in `low..=high`.
    fn range(&mut self, low: usize, high: usize) -> usize {
        low + self.pick(high - low + 1)
    }

    /// True one time in `n` (never when the tape is exhausted).
    fn maybe(&mut self, n: usize) -> bool {
        self.pick(n) == n - 1
    }

    fn choose<'s>(&mut self, items: &[&'s str]) -> &'s str {
        items[self.pick(items.len())]
    }
}

/// A duration of up to `max_us` microseconds, at least `min_us`.
fn micros(t: &mut Tape, min_us: usize, max_us: usize) -> String {
    format!("\"{}us\"", t.range(min_us, max_us))
}

/// A distribution of durations around a millisecond or so; never always zero if `positive`.
fn distribution(t: &mut Tape, positive: bool) -> String {
    let low = usize::from(positive) * 100;
    match t.pick(7) {
        0 => format!("{{ constant = {} }}", micros(t, low, 2_000)),
        1 => {
            let min = t.range(low, 1_000);
            let max = min + t.pick(2_000);
            format!("{{ uniform = {{ min = \"{min}us\", max = \"{max}us\" }} }}")
        }
        2 => format!("{{ exponential = {{ mean = {} }} }}", micros(t, 1, 2_000)),
        3 => format!(
            "{{ normal = {{ mean = {}, std_dev = {} }} }}",
            micros(t, low.max(1), 2_000),
            micros(t, 0, 2_000)
        ),
        4 => format!(
            "{{ lognormal = {{ mean = {}, std_dev = {} }} }}",
            micros(t, 1, 2_000),
            micros(t, 0, 5_000)
        ),
        5 => format!(
            "{{ pareto = {{ scale = {}, shape = {}.{} }} }}",
            micros(t, 1, 1_000),
            t.range(1, 3),
            t.pick(10)
        ),
        _ => {
            let samples: Vec<String> = (0..t.range(1, 4)).map(|_| micros(t, low, 3_000)).collect();
            format!("{{ empirical = {{ samples = [{}] }} }}", samples.join(", "))
        }
    }
}

/// What the generator knows of the file it is writing, to keep every reference valid.
struct Model {
    services: usize,
    replicas: Vec<usize>,
    /// Each topic's home: services before it publish to it, services from it on subscribe.
    topics: Vec<usize>,
    /// (from, to): every call and publish, and every workload's entry.
    edges: Vec<(String, String)>,
}

/// One step of service `i`, at nesting `depth`.
fn step(t: &mut Tape, model: &mut Model, i: usize, depth: usize) -> String {
    let publishable: Vec<usize> = (0..model.topics.len())
        .filter(|&k| model.topics[k] > i)
        .collect();
    match t.pick(4) {
        1 if i + 1 < model.services => {
            let callee = format!("s{}", t.range(i + 1, model.services - 1));
            model.edges.push((format!("s{i}"), callee.clone()));
            format!("{{ call = \"{callee}\" }}")
        }
        2 if !publishable.is_empty() => {
            let topic = format!("t{}", publishable[t.pick(publishable.len())]);
            model.edges.push((format!("s{i}"), topic.clone()));
            if t.maybe(2) {
                format!("{{ publish = \"{topic}\", keys = {} }}", t.range(1, 20))
            } else {
                format!("{{ publish = \"{topic}\" }}")
            }
        }
        3 if depth < 2 => {
            let branches: Vec<String> = (0..t.range(1, 3))
                .map(|_| step(t, model, i, depth + 1))
                .collect();
            format!("{{ parallel = [{}] }}", branches.join(", "))
        }
        _ => format!("{{ work = {} }}", distribution(t, false)),
    }
}

fn policy(t: &mut Tape) -> Vec<String> {
    let mut parts = Vec::new();
    if t.maybe(2) {
        parts.push(format!("timeout = \"{}ms\"", t.range(1, 200)));
    }
    if t.maybe(2) {
        let backoff = if t.maybe(2) {
            format!("backoff = \"constant\", delay = \"{}ms\"", t.pick(10))
        } else {
            let base = t.range(1, 10);
            format!("base = \"{base}ms\", cap = \"{}ms\"", base + t.pick(50))
        };
        let budget = if t.maybe(3) {
            format!(
                ", budget = {{ ratio = 0.{}, min_per_second = {}.0 }}",
                t.pick(10),
                t.pick(20)
            )
        } else {
            String::new()
        };
        parts.push(format!(
            "retry = {{ max_attempts = {}, {backoff}, jitter = \"{}\"{budget} }}",
            t.range(1, 5),
            t.choose(&["none", "full", "equal", "decorrelated"])
        ));
    }
    if t.maybe(3) {
        let window = t.range(1, 50);
        parts.push(format!(
            "circuit_breaker = {{ failure_rate = 0.{}, window_calls = {window}, minimum_calls = {}, open_for = \"{}ms\", trial_calls = {} }}",
            t.range(1, 9),
            t.range(1, window),
            t.range(1, 100),
            t.range(1, 5)
        ));
    }
    if t.maybe(3) {
        parts.push(format!("bulkhead = {}", t.range(1, 20)));
    }
    if t.maybe(3) {
        parts.push(format!(
            "rate_limit = {{ per_second = {}.0, burst = {} }}",
            t.range(1, 1_000),
            t.range(1, 20)
        ));
    }
    if t.maybe(3) {
        parts.push(if t.maybe(2) {
            format!("hedge = {{ after = \"{}ms\" }}", t.range(1, 20))
        } else {
            format!(
                "hedge = {{ percentile = {}, min_samples = {} }}",
                t.range(50, 99),
                t.range(1, 20)
            )
        });
    }
    if parts.is_empty() {
        parts.push(format!("timeout = \"{}ms\"", t.range(1, 200)));
    }
    parts
}

/// A valid scenario file of at most 1 s of simulated time.
fn scenario(t: &mut Tape) -> String {
    let services = t.range(1, 5);
    let topics = if services >= 2 {
        (0..t.pick(3)).map(|_| t.range(1, services - 1)).collect()
    } else {
        Vec::new()
    };
    let mut model = Model {
        services,
        replicas: Vec::new(),
        topics,
        edges: Vec::new(),
    };
    let duration_ms = t.range(10, 1_000);
    let mut text = format!(
        "[simulation]\nseed = {}\nduration = \"{duration_ms}ms\"\n",
        t.pick(1_000)
    );
    if t.maybe(3) {
        text += &format!("warmup = \"{}ms\"\n", t.pick(10));
    }
    if t.maybe(3) {
        text += &format!("call_timeout = \"{}ms\"\n", t.range(1, 500));
    }
    if t.maybe(3) {
        text += &format!("default_latency = {}\n", distribution(t, false));
    }

    let mut at_least_once = Vec::new();
    for k in 0..model.topics.len() {
        text += &format!("\n[topics.t{k}]\n");
        let reliable = t.maybe(2);
        at_least_once.push(reliable);
        if reliable {
            text += "delivery = \"at_least_once\"\n";
            if t.maybe(2) {
                text += &format!("ack_timeout = \"{}ms\"\n", t.range(1, 100));
            }
            if t.maybe(2) {
                text += &format!("max_deliveries = {}\n", t.range(1, 10));
            }
        }
        if t.maybe(3) {
            text += &format!("broker_latency = {}\n", distribution(t, false));
        }
        if t.maybe(3) {
            text += &format!("capacity = {}\n", t.range(1, 100));
            if t.maybe(2) {
                text += &format!("when_full = \"{}\"\n", t.choose(&["block", "reject"]));
            }
        }
    }

    for i in 0..services {
        text += &format!("\n[services.s{i}]\n");
        if t.maybe(2) {
            text += &format!("workers = {}\n", t.range(1, 8));
        }
        if t.maybe(3) {
            text += &format!("queue = {}\n", t.pick(20));
        }
        let replicas = if t.maybe(3) { t.range(2, 3) } else { 1 };
        model.replicas.push(replicas);
        if replicas > 1 {
            text += &format!("replicas = {replicas}\n");
            if t.maybe(2) {
                let balancer = t.choose(&[
                    "round_robin",
                    "random",
                    "least_outstanding",
                    "power_of_two_choices",
                    "peak_ewma",
                ]);
                text += &format!("balancer = \"{balancer}\"\n");
                if balancer == "peak_ewma" && t.maybe(2) {
                    text += &format!("balancer_decay = \"{}ms\"\n", t.range(1, 1_000));
                }
            }
        }
        if t.maybe(2) {
            text += &format!("work = {}\n", distribution(t, false));
        }
        let steps: Vec<String> = (0..t.pick(4)).map(|_| step(t, &mut model, i, 0)).collect();
        if !steps.is_empty() {
            text += &format!("steps = [{}]\n", steps.join(", "));
        }
        let mut subscribes = Vec::new();
        for (k, (&home, &reliable)) in model.topics.iter().zip(&at_least_once).enumerate() {
            if home <= i && t.maybe(2) {
                subscribes.push(format!("\"t{k}\""));
            }
            if home <= i && reliable && t.maybe(4) {
                subscribes.push(format!("\"t{k}.dead-letter\""));
            }
        }
        if !subscribes.is_empty() {
            text += &format!("subscribes = [{}]\n", subscribes.join(", "));
        }
    }

    for w in 0..t.range(1, 2) {
        let target = format!("s{}", t.pick(services));
        model.edges.push(("client".to_string(), target.clone()));
        text += &format!("\n[workloads.w{w}]\ntarget = \"{target}\"\n");
        if t.maybe(2) {
            text += &format!(
                "closed = {{ users = {}, think = {} }}\n",
                t.range(1, 10),
                distribution(t, true)
            );
        } else {
            let arrivals = if t.maybe(2) {
                ", arrivals = \"constant\""
            } else {
                ""
            };
            text += &format!("open = {{ rate = {}.0{arrivals} }}\n", t.range(1, 300));
        }
        if t.maybe(3) {
            text += &format!("timeout = \"{}ms\"\n", t.range(1, 500));
        }
    }

    model.edges.sort();
    model.edges.dedup();
    let calls: Vec<(String, String)> = model
        .edges
        .iter()
        .filter(|(_, to)| to.starts_with('s'))
        .cloned()
        .collect();
    for (from, to) in &model.edges {
        if t.maybe(3) {
            text += &format!(
                "\n[[links]]\nfrom = \"{from}\"\nto = \"{to}\"\nlatency = {}\n",
                distribution(t, false)
            );
        }
    }
    for (from, to) in &calls {
        if t.maybe(3) {
            text += &format!(
                "\n[[policies]]\nfrom = \"{from}\"\nto = \"{to}\"\n{}\n",
                policy(t).join("\n")
            );
        }
    }

    for _ in 0..t.pick(4) {
        let window = {
            let mut window = String::new();
            if t.maybe(2) {
                window += &format!("at = \"{}ms\"\n", t.pick(duration_ms));
            }
            if t.maybe(2) {
                window += &format!("lasting = \"{}ms\"\n", t.range(1, 500));
            }
            window
        };
        let service = t.pick(services);
        let replica = |t: &mut Tape| {
            if model.replicas[service] > 1 && t.maybe(2) {
                format!("replica = {}\n", t.pick(model.replicas[service]))
            } else {
                String::new()
            }
        };
        let fault = match t.pick(6) {
            0 => format!(
                "slow = \"s{service}\"\n{}factor = {}.{}\n",
                replica(t),
                t.range(1, 10),
                t.pick(10)
            ),
            1 => {
                let (from, to) = &model.edges[t.pick(model.edges.len())];
                format!(
                    "latency = [\"{from}\", \"{to}\"]\nextra = \"{}ms\"\n",
                    t.range(0, 50)
                )
            }
            2 => format!("fail = \"s{service}\"\nprobability = 0.{}\n", t.pick(10)),
            3 if !calls.is_empty() => {
                let (a, b) = &calls[t.pick(calls.len())];
                format!(
                    "loss = [\"{a}\", \"{b}\"]\nprobability = 0.{}\n",
                    t.pick(10)
                )
            }
            4 if !calls.is_empty() => {
                let (a, b) = &calls[t.pick(calls.len())];
                format!("partition = [\"{a}\", \"{b}\"]\n")
            }
            _ => format!("crash = \"s{service}\"\n{}", replica(t)),
        };
        text += &format!("\n[[faults]]\n{fault}{window}");
    }
    text
}

/// Values that break a setting: negative, zero, huge, not a number, the wrong type.
const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "1e300",
    "-1e300",
    "nan",
    "inf",
    "-inf",
    "0.0",
    "\"\"",
    "\"-1ms\"",
    "\"1e30s\"",
    "\"876001h\"",
    "\"876000h\"",
    "\"0s\"",
    "\"5 parsecs\"",
    "[]",
    "{}",
    "true",
    "\"client\"",
    "\"s0\"",
    "\"t0\"",
    "{ constant = \"0s\" }",
    "{ constant = \"876000h\" }",
    // Values at a bound, which pass and stress the run.
    "1",
    "100",
    "1000",
    "1e6",
    "5e-324",
    "\"1ns\"",
    "{ exponential = { mean = \"876000h\" } }",
    "{ pareto = { scale = \"1ns\", shape = 0.001 } }",
];

/// Text that breaks a line.
const JUNK: &[&str] = &[
    "\"",
    "=",
    "[",
    "]",
    "{",
    "}",
    ",",
    "#",
    "\n",
    "\u{0}",
    "\u{feff}",
    "é",
    "[[faults]]\n",
    "[services.s0]\n",
    " = 1",
    "\\",
    "'''",
    "\"\"\"",
    "\r",
];

/// Where the value after `key = ` that starts at `start` of `line` ends.
fn value_end(line: &str, start: usize) -> usize {
    let bytes = line.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    for (offset, &byte) in bytes[start..].iter().enumerate() {
        let at = start + offset;
        match byte {
            b'"' => in_string = !in_string,
            _ if in_string => {}
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return at,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return at + 1;
                }
            }
            b',' if depth == 0 => return at,
            _ => {}
        }
    }
    bytes.len()
}

/// One random change to the file.
fn mutate(text: &str, t: &mut Tape) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return JUNK[t.pick(JUNK.len())].to_string();
    }
    let i = t.pick(lines.len());
    match t.pick(8) {
        0 => {
            lines.remove(i);
        }
        1 => {
            let copy = lines[i].clone();
            lines.insert(i, copy);
        }
        2..=4 => {
            // The value of one `key = value` in the line, swapped for an extreme.
            let line = &lines[i];
            let values: Vec<usize> = line.match_indices(" = ").map(|(at, _)| at + 3).collect();
            if !values.is_empty() {
                let start = values[t.pick(values.len())];
                let end = value_end(line, start);
                let extreme = EXTREMES[t.pick(EXTREMES.len())];
                lines[i] = format!("{}{extreme}{}", &line[..start], &line[end..]);
            }
        }
        5 => {
            let line = &lines[i];
            let boundaries: Vec<usize> = line
                .char_indices()
                .map(|(at, _)| at)
                .chain(std::iter::once(line.len()))
                .collect();
            let at = boundaries[t.pick(boundaries.len())];
            lines[i] = format!("{}{}{}", &line[..at], JUNK[t.pick(JUNK.len())], &line[at..]);
        }
        6 => {
            let j = t.pick(lines.len());
            lines.swap(i, j);
        }
        _ => lines.truncate(i),
    }
    let mut mutated = lines.join("\n");
    mutated.push('\n');
    mutated
}

/// Parses in-process: a panic is a failure, a rejection must be located.
fn parse(text: &str, what: &str) -> Result<Option<Scenario>, TestCaseError> {
    dump(text);
    match catch_unwind(AssertUnwindSafe(|| Scenario::parse(text, "fuzz.toml"))) {
        Err(_) => Err(TestCaseError::fail(format!(
            "{what}: parse panicked on\n{text}"
        ))),
        Ok(Ok(scenario)) => Ok(Some(scenario)),
        Ok(Err(error)) => {
            let message = error.to_string();
            let located = message
                .strip_prefix("fuzz.toml:")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
            if located {
                Ok(None)
            } else {
                Err(TestCaseError::fail(format!(
                    "{what}: an error without its location: {message}\non\n{text}"
                )))
            }
        }
    }
}

/// With `MICROSIM_FUZZ_DUMP=DIR`, every generated and mutated file is also written there, to
/// read what the generator makes.
fn dump(text: &str) {
    static DUMPED: AtomicUsize = AtomicUsize::new(0);
    if let Some(dir) = std::env::var_os("MICROSIM_FUZZ_DUMP") {
        let n = DUMPED.fetch_add(1, Ordering::Relaxed);
        std::fs::write(Path::new(&dir).join(format!("fuzz-{n:05}.toml")), text).ok();
    }
}

/// Runs the file through the command, under the memory bound and the timeout.
fn run(text: &str) -> Outcome {
    static FILES: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "microsim-fuzz-{}-{}.toml",
        std::process::id(),
        FILES.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, text).unwrap();
    let outcome = microsim(
        &[
            "run".into(),
            "--quiet".into(),
            "--json".into(),
            "-".into(),
            path.clone().into_os_string(),
        ],
        TIMEOUT,
    );
    std::fs::remove_file(&path).ok();
    outcome
}

/// A fixed seed and number of cases; `MICROSIM_FUZZ_SEED=N` and `MICROSIM_FUZZ_CASES=N`
/// explore further (not in CI).
fn config(cases: u32) -> Config {
    let from_env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let seed = from_env("MICROSIM_FUZZ_SEED").unwrap_or(0x6d69_6372_6f73_696d);
    Config {
        cases: from_env("MICROSIM_FUZZ_CASES")
            .and_then(|n: u64| u32::try_from(n).ok())
            .unwrap_or(cases),
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 256,
        max_shrink_time: 60_000,
        ..Config::default()
    }
}

fn tape() -> impl Strategy<Value = Vec<u16>> {
    prop::collection::vec(any::<u16>(), 0..600)
}

/// Parse and check alone, in-process, on many generated and mutated files.
#[test]
fn generated_files_parse_and_check_without_panic() {
    let started = std::time::Instant::now();
    let accepted = AtomicUsize::new(0);
    let mut runner = TestRunner::new(config(CASES_PARSED));
    let result = runner.run(&(tape(), 1usize..5), |(choices, mutations)| {
        let mut t = Tape {
            choices: &choices,
            at: 0,
        };
        let base = scenario(&mut t);
        if parse(&base, "the generated file")?.is_none() {
            let error = Scenario::parse(&base, "fuzz.toml").unwrap_err();
            return Err(TestCaseError::fail(format!(
                "a generated file, valid by construction, was rejected: {error}\n{base}"
            )));
        }
        let mut text = base;
        for _ in 0..mutations {
            text = mutate(&text, &mut t);
            if parse(&text, "a mutated file")?.is_some() {
                accepted.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    });
    eprintln!(
        "generated files parsed: {} cases in {:.1} s; {} mutated files accepted",
        runner.config().cases,
        started.elapsed().as_secs_f64(),
        accepted.into_inner()
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Parse, check and a short run: every accepted file ends, unmutated files with a report.
#[test]
fn generated_files_run_to_an_end() {
    let started = std::time::Instant::now();
    // Mutated files: rejected, accepted and run, accepted but not run.
    let rejected = AtomicUsize::new(0);
    let ran = AtomicUsize::new(0);
    let skipped = AtomicUsize::new(0);
    let mut runner = TestRunner::new(config(CASES_RUN));
    let result = runner.run(&(tape(), 1usize..3), |(choices, mutations)| {
        let mut t = Tape {
            choices: &choices,
            at: 0,
        };
        let base = scenario(&mut t);
        let Some(scenario) = parse(&base, "the generated file")? else {
            let error = Scenario::parse(&base, "fuzz.toml").unwrap_err();
            return Err(TestCaseError::fail(format!(
                "a generated file, valid by construction, was rejected: {error}\n{base}"
            )));
        };
        prop_assert!(scenario.duration() <= LONGEST_RUN);
        let outcome = run(&base);
        sound("run", &outcome).map_err(|e| TestCaseError::fail(format!("{e}\non\n{base}")))?;
        prop_assert_eq!(
            outcome.code,
            Some(0),
            "the run of a generated file failed: {}\non\n{}",
            excerpt(&outcome.stderr),
            base
        );

        let mut text = base;
        for _ in 0..mutations {
            text = mutate(&text, &mut t);
        }
        let Some(scenario) = parse(&text, "a mutated file")? else {
            rejected.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        if scenario.duration() > LONGEST_RUN {
            skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        if let Some((pattern, reason)) = FUZZ_PENDING.iter().find(|(p, _)| text.contains(p)) {
            eprintln!("run skipped (pending: {reason}): the file holds {pattern:?}");
            skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        ran.fetch_add(1, Ordering::Relaxed);
        let outcome = run(&text);
        sound("run", &outcome).map_err(|e| TestCaseError::fail(format!("{e}\non\n{text}")))?;
        // It ends: with its report, or with the run's own error.
        let ended = outcome.code == Some(0)
            || (outcome.code == Some(1) && outcome.stderr.starts_with("error: the run failed: "));
        prop_assert!(
            ended,
            "the run of an accepted file ended with {:?}: {}\non\n{}",
            outcome.code,
            excerpt(&outcome.stderr),
            text
        );
        Ok(())
    });
    eprintln!(
        "generated files run: {} cases in {:.1} s; of the mutated files {} were \
         rejected, {} run, {} not run (longer than {LONGEST_RUN:?}, or pending)",
        runner.config().cases,
        started.elapsed().as_secs_f64(),
        rejected.into_inner(),
        ran.into_inner(),
        skipped.into_inner()
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}
