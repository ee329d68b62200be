//! The hostile-input corpus in `tests/hostile/`, through the `microsim` command: every invalid
//! file is an error located at its file, line and column; every valid one ends, with its report
//! or with the run's own error; and nothing panics, hangs or passes a memory bound.
//!
//! `tests/hostile/invalid/` holds files that `check` must reject, `tests/hostile/valid/` files
//! that it must accept. Each file starts with comment lines that say what it expects:
//!
//! ```text
//! # expect: error               check and run exit 1 with a located message
//! # expect: ok                  check passes; the run ends with exit 0 and a report that
//!                               accounts for every request (sent = completed + failed)
//! # expect: run-error           check passes; the run ends with exit 1 and a message
//! # expect: error-or-run-error  either of the two above (check may or may not catch it)
//! # line: 7                     the line the message points at (error)
//! # location: line              a whole-file problem: a line without a column will do
//! # timeout: 60                 seconds each command may take, if not the default 20
//! # contains: TEXT              the message holds TEXT (any number of these)
//! # not-contains: TEXT          the message does not hold TEXT
//! # why: ...                    what the file is about (required)
//! ```
//!
//! A file that cannot hold such a header (an empty file, a file in UTF-16) has it in
//! `FILE.expect` beside it. Cases too large to store (2,000 services, ...) are generated here
//! at test time, under `generated/`.
//!
//! Every command runs under `prlimit --as` (an address-space bound) and a wall-clock timeout,
//! two at a time. Failures are collected and reported together.

mod fuzz;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Files that fail today because of a known defect, with the reason; skipped with a note.
/// Set `MICROSIM_HOSTILE_PENDING=1` to run them as well (and see which pass now).
const PENDING: &[(&str, &str)] = &[];

/// Wall-clock time a command may take before it counts as hung, unless its file says more.
const TIMEOUT: Duration = Duration::from_secs(20);
/// The most a file may ask for.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(120);
/// The address-space bound of every command.
const MEMORY_BOUND: u64 = 2 << 30;
/// Commands at once.
const THREADS: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Error,
    Ok,
    RunError,
    ErrorOrRunError,
}

/// One file of the corpus and what it expects.
#[derive(Debug)]
struct Case {
    /// `invalid/NAME.toml`, `valid/NAME.toml` or `generated/NAME.toml`.
    name: String,
    path: PathBuf,
    expect: Expect,
    line: Option<usize>,
    line_only: bool,
    contains: Vec<String>,
    not_contains: Vec<String>,
    timeout: Duration,
}

impl Case {
    /// The file name the command's messages give.
    fn origin(&self) -> String {
        self.path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn category(&self) -> &str {
        let file = self.name.rsplit('/').next().unwrap_or(&self.name);
        file.split('-').next().unwrap_or(file)
    }
}

/// Reads the header of comment lines at the top of `text`.
fn parse_header(name: &str, path: &Path, text: &str) -> Result<Case, String> {
    let mut case = Case {
        name: name.to_string(),
        path: path.to_path_buf(),
        expect: Expect::Ok,
        line: None,
        line_only: false,
        contains: Vec::new(),
        not_contains: Vec::new(),
        timeout: TIMEOUT,
    };
    let mut expect = None;
    let mut why = false;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for line in text.lines() {
        let Some(comment) = line.strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = comment.trim().split_once(": ") else {
            continue;
        };
        if !key.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            continue;
        }
        let value = value.trim_end_matches('\r').to_string();
        match key {
            "expect" => {
                expect = Some(match value.as_str() {
                    "error" => Expect::Error,
                    "ok" => Expect::Ok,
                    "run-error" => Expect::RunError,
                    "error-or-run-error" => Expect::ErrorOrRunError,
                    other => return Err(format!("unknown expectation {other:?}")),
                });
            }
            "line" => {
                case.line = Some(
                    value
                        .parse()
                        .map_err(|_| format!("line {value:?} is not a number"))?,
                );
            }
            "location" if value == "line" => case.line_only = true,
            "timeout" => {
                case.timeout = value
                    .parse()
                    .ok()
                    .map(Duration::from_secs)
                    .filter(|timeout| *timeout <= LONGEST_TIMEOUT)
                    .ok_or_else(|| {
                        format!("timeout {value:?} is not a number of seconds <= 120")
                    })?;
            }
            "contains" => case.contains.push(value),
            "not-contains" => case.not_contains.push(value),
            "why" => why = true,
            other => return Err(format!("unknown header key {other:?}")),
        }
    }
    case.expect = expect.ok_or("no `# expect:` line in the header")?;
    if !why {
        return Err("no `# why:` line in the header".to_string());
    }
    if case.expect != Expect::Ok && case.contains.is_empty() {
        return Err("an error is expected without a `# contains:` line".to_string());
    }
    if case.expect != Expect::Error && (case.line.is_some() || case.line_only) {
        return Err("`# line:` and `# location:` apply only to `# expect: error`".to_string());
    }
    let folder = name.split('/').next().unwrap_or_default();
    match (folder, case.expect) {
        ("invalid", Expect::Error)
        | ("valid", Expect::Ok | Expect::RunError | Expect::ErrorOrRunError) => {}
        ("invalid" | "valid", expect) => {
            return Err(format!("{expect:?} does not belong in {folder}/"));
        }
        _ => {}
    }
    Ok(case)
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("hostile")
}

/// Every stored file of the corpus, with its header (or the header's problem).
fn stored_cases() -> Vec<Result<Case, String>> {
    let mut cases = Vec::new();
    for folder in ["invalid", "valid"] {
        let dir = corpus_dir().join(folder);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        paths.sort();
        for path in paths {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.extension().is_some_and(|ext| ext == "expect") {
                if !path.with_extension("").exists() {
                    cases.push(Err(format!("{folder}/{file}: no file beside it")));
                }
                continue;
            }
            let name = format!("{folder}/{file}");
            if path.extension().is_none_or(|ext| ext != "toml") {
                cases.push(Err(format!("{name}: not a .toml file")));
                continue;
            }
            let sidecar = PathBuf::from(format!("{}.expect", path.display()));
            let header = std::fs::read(if sidecar.exists() { &sidecar } else { &path })
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            cases.push(
                parse_header(&name, &path, &String::from_utf8_lossy(&header))
                    .map_err(|e| format!("{name}: {e}")),
            );
        }
    }
    cases
}

/// What one command did.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The timeout, if the command hung.
    timed_out: Option<Duration>,
    elapsed: Duration,
}

/// Runs `microsim ARGS` under the memory bound and `timeout`.
fn microsim(args: &[OsString], timeout: Duration) -> Outcome {
    let started = Instant::now();
    let mut child = Command::new("prlimit")
        .arg(format!("--as={MEMORY_BOUND}"))
        .arg(env!("CARGO_BIN_EXE_microsim"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prlimit runs the microsim binary");
    let pid = child.id();
    let read = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let (done, finished) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let status = child.wait();
        let _ = done.send(());
        status
    });
    let timed_out = finished.recv_timeout(timeout).is_err();
    if timed_out {
        // prlimit runs the command in its own process: this is microsim's pid.
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let status = waiter.join().unwrap().expect("the child is waited for");
    Outcome {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        timed_out: timed_out.then_some(timeout),
        elapsed: started.elapsed(),
    }
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 600;
    let text = text.trim_end();
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// Problems every command must not have: a hang, a signal (such as an abort when memory runs
/// out), a panic.
fn sound(what: &str, outcome: &Outcome) -> Result<(), String> {
    if let Some(timeout) = outcome.timed_out {
        return Err(format!(
            "{what}: hung: killed after {} s",
            timeout.as_secs()
        ));
    }
    let Some(code) = outcome.code else {
        return Err(format!(
            "{what}: killed by a signal (past the memory bound of {} GiB?): {}",
            MEMORY_BOUND >> 30,
            excerpt(&outcome.stderr)
        ));
    };
    if code == 101 || outcome.stderr.contains("panicked") {
        return Err(format!(
            "{what}: panicked (exit {code}): {}",
            excerpt(&outcome.stderr)
        ));
    }
    if outcome.stderr.contains("memory allocation of") {
        return Err(format!(
            "{what}: ran out of memory: {}",
            excerpt(&outcome.stderr)
        ));
    }
    Ok(())
}

/// Whether `stderr` points into `origin` as `origin:LINE:COLUMN: ` (or `origin:LINE: ` where
/// a line is enough), at `line` if given.
fn located(stderr: &str, origin: &str, line: Option<usize>, line_only: bool) -> bool {
    let pattern = format!("{origin}:");
    stderr.match_indices(&pattern).any(|(at, _)| {
        let rest = &stderr[at + pattern.len()..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let Ok(found) = rest[..digits].parse::<usize>() else {
            return false;
        };
        if line.is_some_and(|line| line != found) {
            return false;
        }
        let rest = &rest[digits..];
        if rest.starts_with(": ") {
            line_only
        } else if let Some(column) = rest.strip_prefix(':') {
            let digits = column.len()
                - column
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .len();
            digits > 0 && column[digits..].starts_with(": ")
        } else {
            false
        }
    })
}

/// A command that must fail with the case's message, located.
fn rejected(case: &Case, what: &str, outcome: &Outcome) -> Result<(), String> {
    if outcome.code != Some(1) {
        return Err(format!(
            "{what}: expected exit 1 with an error, got {:?}: {}{}",
            outcome.code,
            excerpt(&outcome.stdout),
            excerpt(&outcome.stderr)
        ));
    }
    if !outcome.stderr.starts_with("error: ") {
        return Err(format!(
            "{what}: the message does not start with \"error: \": {}",
            excerpt(&outcome.stderr)
        ));
    }
    let origin = case.origin();
    if !located(&outcome.stderr, &origin, case.line, case.line_only) {
        let place = match case.line {
            Some(line) => format!("{origin}:{line}:"),
            None => format!("{origin}:LINE:"),
        };
        return Err(format!(
            "{what}: the message is not located at {place}{}: {}",
            if case.line_only { "" } else { "COLUMN" },
            excerpt(&outcome.stderr)
        ));
    }
    message_holds(case, what, &outcome.stderr)
}

fn message_holds(case: &Case, what: &str, stderr: &str) -> Result<(), String> {
    for text in &case.contains {
        if !stderr.contains(text.as_str()) {
            return Err(format!(
                "{what}: the message lacks {text:?}: {}",
                excerpt(stderr)
            ));
        }
    }
    for text in &case.not_contains {
        if stderr.contains(text.as_str()) {
            return Err(format!(
                "{what}: the message holds {text:?}: {}",
                excerpt(stderr)
            ));
        }
    }
    Ok(())
}

/// A run that must end with exit 0 and a report that accounts for every request.
fn ran(what: &str, outcome: &Outcome) -> Result<(), String> {
    if outcome.code != Some(0) {
        return Err(format!(
            "{what}: expected exit 0, got {:?}: {}",
            outcome.code,
            excerpt(&outcome.stderr)
        ));
    }
    let report: serde_json::Value = serde_json::from_str(&outcome.stdout)
        .map_err(|e| format!("{what}: the JSON report does not parse: {e}"))?;
    let workloads = report["workloads"]
        .as_object()
        .ok_or_else(|| format!("{what}: the report has no workloads"))?;
    for (name, workload) in workloads {
        let count = |key: &str| workload[key].as_u64().unwrap_or(u64::MAX);
        let (sent, completed, failed) = (count("sent"), count("completed"), count("failed"));
        if completed.checked_add(failed) != Some(sent) {
            return Err(format!(
                "{what}: workload {name} sent {sent} requests but completed {completed} and \
                 failed {failed}"
            ));
        }
    }
    Ok(())
}

/// A run that must end with exit 1 and the case's message.
fn run_failed(case: &Case, what: &str, outcome: &Outcome) -> Result<(), String> {
    if outcome.code != Some(1) || !outcome.stderr.starts_with("error: ") {
        return Err(format!(
            "{what}: expected exit 1 with an error, got {:?}: {}",
            outcome.code,
            excerpt(&outcome.stderr)
        ));
    }
    message_holds(case, what, &outcome.stderr)
}

/// Runs `check` and, where the file should run, `run`, and judges them.
fn judge(case: &Case) -> (Result<(), String>, Duration) {
    let file = case.path.clone().into_os_string();
    let check = microsim(&["check".into(), file.clone()], case.timeout);
    let mut elapsed = check.elapsed;
    let mut verdict = sound("check", &check);
    let check_passed = check.code == Some(0);
    if verdict.is_ok() {
        verdict = match case.expect {
            Expect::Error => rejected(case, "check", &check),
            Expect::ErrorOrRunError if !check_passed => rejected(case, "check", &check),
            Expect::Ok | Expect::RunError | Expect::ErrorOrRunError if !check_passed => {
                Err(format!(
                    "check: expected the file to pass, got {:?}: {}",
                    check.code,
                    excerpt(&check.stderr)
                ))
            }
            _ if !check.stdout.ends_with(": ok\n") => Err(format!(
                "check: expected \"FILE: ok\", got {:?}",
                excerpt(&check.stdout)
            )),
            _ => Ok(()),
        };
    }
    if verdict.is_ok() {
        let run = microsim(
            &[
                "run".into(),
                "--quiet".into(),
                "--json".into(),
                "-".into(),
                file,
            ],
            case.timeout,
        );
        elapsed += run.elapsed;
        verdict = sound("run", &run).and_then(|()| match case.expect {
            Expect::Ok => ran("run", &run),
            Expect::RunError | Expect::ErrorOrRunError if check_passed => {
                run_failed(case, "run", &run)
            }
            _ => rejected(case, "run", &run),
        });
    }
    (verdict, elapsed)
}

// --- Cases generated at test time ------------------------------------------------------------

/// A `[services.NAME]` table per entry of `services`, each a list of its lines.
fn services(text: &mut String, services: impl IntoIterator<Item = (String, String)>) {
    for (name, body) in services {
        let _ = write!(text, "\n[services.{name}]\n{body}");
    }
}

fn workload(text: &mut String, target: &str, traffic: &str) {
    let _ = write!(text, "\n[workloads.w]\ntarget = \"{target}\"\n{traffic}\n");
}

/// Files too large to keep in the repository, by name, with their text.
fn generated() -> Vec<(&'static str, String)> {
    let mut cases = Vec::new();
    let header = |expect: &str, why: &str| {
        format!("# expect: {expect}\n# why: {why}\n\n[simulation]\nduration = \"100ms\"\n")
    };
    let error_header = |contains: &str, why: &str| {
        format!(
            "# expect: error\n# contains: {contains}\n# why: {why}\n\n[simulation]\nduration = \"100ms\"\n"
        )
    };
    let fanout = |n: usize| {
        let mut text = header(
            "ok",
            &format!("one request fans out in parallel to {n} services"),
        );
        let calls: Vec<String> = (0..n)
            .map(|i| format!("{{ call = \"b{i:04}\" }}"))
            .collect();
        services(
            &mut text,
            std::iter::once((
                "frontend".to_string(),
                format!("steps = [{{ parallel = [{}] }}]\n", calls.join(", ")),
            ))
            .chain((0..n).map(|i| {
                (
                    format!("b{i:04}"),
                    "work = { constant = \"100us\" }\n".to_string(),
                )
            })),
        );
        workload(&mut text, "frontend", "open = { rate = 100.0 }");
        text
    };
    cases.push(("many-services-2000-fanout.toml", fanout(2_000)));
    cases.push(("many-services-300-fanout.toml", fanout(300)));

    let mut chain = header("ok", "a chain of 2,000 services, each calling the next");
    services(
        &mut chain,
        (0..2_000).map(|i| {
            let call = if i + 1 < 2_000 {
                format!("steps = [{{ call = \"s{:04}\" }}]\n", i + 1)
            } else {
                String::new()
            };
            (
                format!("s{i:04}"),
                format!("work = {{ constant = \"1us\" }}\n{call}"),
            )
        }),
    );
    workload(&mut chain, "s0000", "open = { rate = 100.0 }");
    cases.push(("many-services-2000-chain.toml", chain));

    let mut topics = header(
        "ok",
        "1,000 topics, one publisher publishing to all of them at once, a subscriber each",
    );
    for i in 0..1_000 {
        let _ = write!(topics, "\n[topics.t{i:04}]\n");
    }
    let publishes: Vec<String> = (0..1_000)
        .map(|i| format!("{{ publish = \"t{i:04}\" }}"))
        .collect();
    services(
        &mut topics,
        std::iter::once((
            "publisher".to_string(),
            format!("steps = [{{ parallel = [{}] }}]\n", publishes.join(", ")),
        ))
        .chain((0..1_000).map(|i| {
            (
                format!("sub{i:04}"),
                format!("subscribes = [\"t{i:04}\"]\n"),
            )
        })),
    );
    workload(&mut topics, "publisher", "open = { rate = 10.0 }");
    cases.push(("many-topics-1000.toml", topics));

    let mut faults = header(
        "ok",
        "2,000 overlapping slow faults on the 50 replicas of one service",
    );
    services(
        &mut faults,
        [
            (
                "api".to_string(),
                "work = { constant = \"1ms\" }\nsteps = [{ call = \"db\" }]\n".to_string(),
            ),
            ("db".to_string(), "replicas = 50\n".to_string()),
        ],
    );
    for i in 0..2_000 {
        let _ = write!(
            faults,
            "\n[[faults]]\nslow = \"db\"\nreplica = {}\nfactor = 1.5\nat = \"{}us\"\nlasting = \"1ms\"\n",
            i % 50,
            i * 50
        );
    }
    workload(&mut faults, "api", "open = { rate = 1000.0 }");
    cases.push(("many-faults-2000.toml", faults));

    let mut pairs = header(
        "ok",
        "a chain of 300 services with a link and a policy on every call",
    );
    services(
        &mut pairs,
        (0..300).map(|i| {
            let call = if i + 1 < 300 {
                format!("steps = [{{ call = \"s{:03}\" }}]\n", i + 1)
            } else {
                "work = { constant = \"1ms\" }\n".to_string()
            };
            (format!("s{i:03}"), call)
        }),
    );
    for i in 0..299 {
        let _ = write!(
            pairs,
            "\n[[links]]\nfrom = \"s{i:03}\"\nto = \"s{:03}\"\nlatency = {{ constant = \"1us\" }}\n\
             \n[[policies]]\nfrom = \"s{i:03}\"\nto = \"s{:03}\"\ntimeout = \"1s\"\nretry = {{ max_attempts = 2 }}\n",
            i + 1,
            i + 1
        );
    }
    workload(&mut pairs, "s000", "open = { rate = 100.0 }");
    cases.push(("many-links-and-policies-300.toml", pairs));

    let mut steps = header("ok", "one service with 10,000 steps of work");
    let work: Vec<&str> = vec!["{ work = { constant = \"1ns\" } }"; 10_000];
    services(
        &mut steps,
        [(
            "api".to_string(),
            format!("steps = [{}]\n", work.join(", ")),
        )],
    );
    workload(&mut steps, "api", "open = { rate = 100.0 }");
    cases.push(("many-steps-10000.toml", steps));

    let mut samples = header("ok", "an empirical distribution of 100,000 samples");
    let values: Vec<String> = (0..100_000).map(|i| format!("\"{i}ns\"")).collect();
    services(
        &mut samples,
        [(
            "api".to_string(),
            format!(
                "work = {{ empirical = {{ samples = [{}] }} }}\n",
                values.join(", ")
            ),
        )],
    );
    workload(&mut samples, "api", "open = { rate = 100.0 }");
    cases.push(("many-samples-100000.toml", samples));

    let mut errors = error_header(
        "unknown key \"wrokers\"",
        "1,000 services with the same typo: every message located, none lost",
    );
    services(
        &mut errors,
        (0..1_000).map(|i| (format!("s{i:04}"), "wrokers = 4\n".to_string())),
    );
    workload(&mut errors, "s0000", "open = { rate = 10.0 }");
    cases.push(("many-errors-1000.toml", errors));

    let mut comment = header("ok", "a comment line of a million characters");
    comment.push('#');
    comment.push_str(&"x".repeat(1_000_000));
    comment.push('\n');
    services(&mut comment, [("api".to_string(), String::new())]);
    workload(&mut comment, "api", "open = { rate = 10.0 }");
    cases.push(("shape-huge-comment-line.toml", comment));

    cases
}

// --- The test ---------------------------------------------------------------------------

fn prlimit_is_present() {
    let present = Command::new("prlimit")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        present,
        "the hostile corpus runs every command under `prlimit --as` (a memory bound), and \
         prlimit was not found: install util-linux"
    );
}

#[test]
fn hostile_corpus_errors_are_located_and_valid_files_end() {
    prlimit_is_present();
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut cases = Vec::new();
    for case in stored_cases() {
        match case {
            Ok(case) => cases.push(case),
            Err(problem) => failures.push(problem),
        }
    }
    let scratch = std::env::temp_dir().join(format!("microsim-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    for (file, text) in generated() {
        let name = format!("generated/{file}");
        let path = scratch.join(file);
        std::fs::write(&path, &text).unwrap();
        match parse_header(&name, &path, &text) {
            Ok(case) => cases.push(case),
            Err(problem) => failures.push(format!("{name}: {problem}")),
        }
    }
    assert!(cases.len() >= 100, "the corpus has {} files", cases.len());

    for (name, _) in PENDING {
        if !cases.iter().any(|case| case.name == *name) {
            failures.push(format!(
                "{name}: listed in PENDING, but there is no such case"
            ));
        }
    }
    let run_pending = std::env::var_os("MICROSIM_HOSTILE_PENDING").is_some();
    let mut categories: BTreeMap<String, usize> = BTreeMap::new();
    let mut queue = Vec::new();
    for case in &cases {
        *categories.entry(case.category().to_string()).or_default() += 1;
        match PENDING.iter().find(|(name, _)| *name == case.name) {
            Some((name, reason)) if !run_pending => {
                eprintln!("skipped (pending): {name}: {reason}");
            }
            _ => queue.push(case),
        }
    }

    let next = Mutex::new(queue.into_iter());
    let results = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                loop {
                    let Some(case) = next.lock().unwrap().next() else {
                        break;
                    };
                    let (verdict, elapsed) = judge(case);
                    results.lock().unwrap().push((case, verdict, elapsed));
                }
            });
        }
    });
    std::fs::remove_dir_all(&scratch).ok();

    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(_, _, elapsed)| std::cmp::Reverse(*elapsed));
    let ran = results.len();
    for (case, verdict, _) in &results {
        let pending = PENDING.iter().find(|(name, _)| *name == case.name);
        match (verdict, pending) {
            (Err(problem), None) => failures.push(format!("{}: {problem}", case.name)),
            (Err(problem), Some(_)) => eprintln!("pending, still fails: {}: {problem}", case.name),
            (Ok(()), Some(_)) => {
                eprintln!("pending, passes now: {}: remove it from PENDING", case.name)
            }
            (Ok(()), None) => {}
        }
    }
    let slowest: Vec<String> = results
        .iter()
        .take(5)
        .map(|(case, _, elapsed)| format!("{} {:.2} s", case.name, elapsed.as_secs_f64()))
        .collect();
    eprintln!(
        "hostile corpus: {} cases ({ran} run) in {:.1} s; by category: {categories:?}; slowest: {}",
        cases.len(),
        started.elapsed().as_secs_f64(),
        slowest.join(", ")
    );
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of the hostile corpus failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
