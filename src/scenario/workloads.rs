//! `[workloads.NAME]`: each workload's target, its open or closed traffic and its timeout; the
//! mapping onto [`Workload`]. Which keys go together is checked here; every value's rule is
//! the engine's. An `open.replay` file is read here, each of its lines a time.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use crate::duration_format::{DurationParseError, parse_duration};
use crate::workload::{Arrivals, Stage, Workload, check_replay};

use super::ScenarioError;
use super::error::Source;
use super::file::{RawClosed, RawOpen, RawWorkload};
use super::names::{Names, unknown_service};
use super::values::{choice, count};

/// The largest `open.replay` file read: 256 MiB, room for
/// [`Workload::MAX_REPLAY_TIMES`] times of a couple of dozen characters each, with comments.
/// The file is read whole before its lines are.
const MAX_REPLAY_BYTES: u64 = 256 << 20;

/// A checked `[workloads.NAME]` table.
#[derive(Debug, Clone)]
pub(super) struct WorkloadSpec {
    pub(super) span: Range<usize>,
    pub(super) target: String,
    pub(super) workload: Workload,
}

/// Checks every `[workloads.NAME]` table (`None`: its mistake already reported), in name
/// order, reporting each one's first mistake. Returns the workloads without a mistake, and
/// whether every one is among them. `open.replay` files are relative to `dir`.
pub(super) fn check_workloads(
    source: &Source<'_>,
    names: &Names<'_>,
    raw_workloads: BTreeMap<Spanned<String>, Option<Spanned<RawWorkload>>>,
    dir: &Path,
) -> (BTreeMap<String, WorkloadSpec>, bool) {
    let mut workloads = BTreeMap::new();
    let mut complete = true;
    for (name, workload) in raw_workloads {
        let spec = workload.and_then(|workload| {
            let span = workload.span();
            source.ok(check_workload(
                source,
                names,
                span,
                workload.into_inner(),
                dir,
            ))
        });
        match spec {
            Some(spec) => {
                workloads.insert(name.into_inner(), spec);
            }
            None => complete = false,
        }
    }
    (workloads, complete)
}

/// Checks one `[workloads.NAME]` table, written at `span`.
fn check_workload(
    source: &Source<'_>,
    names: &Names<'_>,
    span: Range<usize>,
    raw: RawWorkload,
    dir: &Path,
) -> Result<WorkloadSpec, ScenarioError> {
    let RawWorkload {
        target,
        open,
        closed,
        timeout,
    } = raw;
    if names.is_client(target.get_ref()) {
        return Err(source.error(
            target.span(),
            "a workload cannot target \"client\": its requests come from there",
        ));
    }
    if names.is_only_topic(target.get_ref()) {
        return Err(source.error(
            target.span(),
            format!(
                "{:?} is a topic: a workload sends requests to a service (which may publish)",
                target.get_ref()
            ),
        ));
    }
    if !names.is_service(target.get_ref()) {
        return Err(unknown_service(source, &target, names.services, &[]));
    }
    let mut workload = match (open, closed) {
        (Some(_), Some(closed)) => {
            return Err(source.error(
                closed.span(),
                "a workload is either open or closed, not both",
            ));
        }
        (None, None) => {
            return Err(source.error(
                span,
                "missing traffic: add open = { rate = R } or closed = { users = N, think = DIST } \
                 (or stages of either)",
            ));
        }
        (Some(open), None) => check_open(source, open, dir)?,
        (None, Some(closed)) => check_closed(source, closed)?,
    };
    if let Some(timeout) = timeout {
        workload = workload.with_timeout(timeout.get_ref().0);
    }
    Ok(WorkloadSpec {
        span,
        target: target.into_inner(),
        workload,
    })
}

/// The one key of `given` (name, span if set) that is set, or the error saying none (`missing`,
/// at `span`) or two are.
fn one_of(
    source: &Source<'_>,
    span: Range<usize>,
    given: &[(&'static str, Option<Range<usize>>)],
    missing: &str,
) -> Result<&'static str, ScenarioError> {
    let set: Vec<(&'static str, &Range<usize>)> = given
        .iter()
        .filter_map(|(key, span)| span.as_ref().map(|span| (*key, span)))
        .collect();
    match set.as_slice() {
        [] => Err(source.error(span, missing.to_string())),
        [(key, _)] => Ok(key),
        [(first, _), (second, at), ..] => {
            let keys: Vec<&str> = given.iter().map(|(key, _)| *key).collect();
            let (last, others) = keys.split_last().unwrap_or((&"", &[]));
            Err(source.error(
                (*at).clone(),
                format!(
                    "{second} and {first} are both set: write one of {} and {last}",
                    others.join(", ")
                ),
            ))
        }
    }
}

/// `open = { ... }`: a rate, stages or a replayed file.
fn check_open(
    source: &Source<'_>,
    open: Spanned<RawOpen>,
    dir: &Path,
) -> Result<Workload, ScenarioError> {
    let span = open.span();
    let RawOpen {
        rate,
        arrivals,
        start_rate,
        stages,
        replay,
    } = open.into_inner();
    let kind = one_of(
        source,
        span.clone(),
        &[
            ("rate", rate.as_ref().map(Spanned::span)),
            ("stages", stages.as_ref().map(Spanned::span)),
            ("replay", replay.as_ref().map(Spanned::span)),
        ],
        "missing rate: add rate = R, stages = [{ duration = D, target = R }, ...] or \
         replay = \"FILE\"",
    )?;
    if let (Some(start_rate), None) = (&start_rate, &stages) {
        return Err(source.error(
            start_rate.span(),
            "start_rate applies only with stages: it is the rate their first stage starts from",
        ));
    }
    let constant = match &arrivals {
        Some(arrivals) if kind == "replay" => {
            return Err(source.error(
                arrivals.span(),
                "arrivals does not apply to replay: the file gives each request's time",
            ));
        }
        Some(arrivals) => {
            choice(source, arrivals, "arrivals", &["poisson", "constant"])? == "constant"
        }
        None => false,
    };
    Ok(match (rate, stages, replay) {
        (Some(rate), _, _) => {
            let rate = *rate.get_ref();
            if constant {
                Workload::constant_rate(rate)
            } else {
                Workload::poisson(rate)
            }
        }
        (_, Some(stages), _) => {
            let start_rate = start_rate.map_or(0.0, |rate| *rate.get_ref());
            let stages = stages.into_inner().into_iter().map(|stage| {
                let stage = stage.into_inner();
                Stage::new(stage.duration.get_ref().0, *stage.target.get_ref())
            });
            if constant {
                Workload::constant_stages(start_rate, stages)
            } else {
                Workload::poisson_stages(start_rate, stages)
            }
        }
        (_, _, Some(replay)) => read_replay(source, &replay, dir)?,
        // `one_of` found one of them.
        (None, None, None) => return Err(source.error(span, "missing rate")),
    })
}

/// `closed = { ... }`: a number of users, or stages of them.
fn check_closed(
    source: &Source<'_>,
    closed: Spanned<RawClosed>,
) -> Result<Workload, ScenarioError> {
    let span = closed.span();
    let RawClosed {
        users,
        think,
        start_users,
        stages,
    } = closed.into_inner();
    one_of(
        source,
        span.clone(),
        &[
            ("users", users.as_ref().map(Spanned::span)),
            ("stages", stages.as_ref().map(Spanned::span)),
        ],
        "missing users: add users = N, or stages = [{ duration = D, target = N }, ...]",
    )?;
    if let (Some(start_users), None) = (&start_users, &stages) {
        return Err(source.error(
            start_users.span(),
            "start_users applies only with stages: it is the number of users their first stage \
             starts from",
        ));
    }
    let think = think.into_inner();
    match (users, stages) {
        (Some(users), _) => Ok(Workload::closed(count(source, &users, "users")?, think)),
        (None, Some(stages)) => {
            let start_users = match &start_users {
                Some(users) => count(source, users, "start_users")?,
                None => 0,
            };
            let stages = stages
                .into_inner()
                .into_iter()
                .map(|stage| {
                    let stage = stage.into_inner();
                    let target = count(source, &stage.target, "target")?;
                    Ok(Stage::new(stage.duration.get_ref().0, target))
                })
                .collect::<Result<Vec<_>, ScenarioError>>()?;
            Ok(Workload::closed_stages(start_users, think, stages))
        }
        (None, None) => Err(source.error(span, "missing users")),
    }
}

/// Reads the arrival times of `replay = "FILE"`, relative to `dir`: one a line, seconds
/// (`0.25`) or a duration with a unit (`250ms`, `"250ms"`), blank lines and `#` comments
/// skipped. A mistake is located at the `replay` key, naming the file's line.
fn read_replay(
    source: &Source<'_>,
    replay: &Spanned<String>,
    dir: &Path,
) -> Result<Workload, ScenarioError> {
    let written = replay.get_ref();
    let at = |message: String| source.error(replay.span(), message);
    if written.trim().is_empty() {
        return Err(at(
            "replay must name a file of arrival times, such as \"arrivals.csv\"".to_string(),
        ));
    }
    let path = dir.join(written);
    let cannot = |error: std::io::Error| {
        at(if dir.as_os_str().is_empty() {
            format!("cannot read {written}: {error}")
        } else {
            // Named as written, then where it was looked for: beside the scenario file.
            format!(
                "cannot read {written}: {error} (looked for {})",
                path.display()
            )
        })
    };
    let metadata = std::fs::metadata(&path).map_err(cannot)?;
    if metadata.is_dir() {
        return Err(at(format!(
            "cannot read {}: it is a directory, not a file of arrival times",
            path.display()
        )));
    }
    if metadata.len() > MAX_REPLAY_BYTES {
        return Err(at(format!(
            "{written} is {} bytes, more than the {} MiB a replayed file may be",
            metadata.len(),
            MAX_REPLAY_BYTES >> 20
        )));
    }
    let bytes = std::fs::read(&path).map_err(cannot)?;
    let mut times = Vec::new();
    // The line of each time, for the engine's errors.
    let mut lines: Vec<usize> = Vec::new();
    for (index, line) in bytes.split(|byte| *byte == b'\n').enumerate() {
        let number = index + 1;
        let line = std::str::from_utf8(line)
            .map_err(|_| at(format!("{written}:{number}: the line is not UTF-8 text")))?;
        let text = line.split('#').next().unwrap_or_default().trim();
        if text.is_empty() {
            continue;
        }
        let time =
            parse_time(text).map_err(|reason| at(format!("{written}:{number}: {reason}")))?;
        times.push(time);
        lines.push(number);
        if times.len() > Workload::MAX_REPLAY_TIMES {
            // The engine's rule says what is wrong; no need to read on.
            break;
        }
    }
    let workload = Workload::replay(times);
    if let Arrivals::Replay { times, .. } = workload.arrivals() {
        check_replay(times).map_err(|error| match error.index.and_then(|i| lines.get(i)) {
            Some(line) => at(format!("{written}:{line}: {}", error.reason)),
            None => at(format!("{written}: {}", error.reason)),
        })?;
    }
    Ok(workload)
}

/// One replayed time: seconds as a plain number, or a duration with a unit, bare or quoted.
fn parse_time(text: &str) -> Result<Duration, String> {
    if text.contains(',') {
        return Err(format!(
            "a line holds one time, found {text:?}: write each time on a line of its own"
        ));
    }
    let unquoted = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(text);
    match parse_duration(unquoted) {
        Err(DurationParseError::MissingUnit { .. }) => parse_duration(&format!("{unquoted}s")),
        parsed => parsed,
    }
    .map_err(|error| format!("{error}; a time is seconds (0.25) or a duration with a unit (250ms)"))
}
