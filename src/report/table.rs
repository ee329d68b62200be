//! The report as text: the aligned plain-text tables that [`Report`] prints as.
//!
//! A title line, then one table per section -- workloads, services, topics and their
//! subscriptions, call policies, faults, invariants, critical paths, and last the thresholds'
//! verdicts -- each left out when it has no rows. Every
//! table has a left-aligned name column and right-aligned figures; latencies are milliseconds
//! with three decimals. The layout is part of what users read and compare between runs: it is
//! deterministic, and changes to it are deliberate.

use std::fmt::{self, Write as _};

use super::Report;
use crate::clock::ClockKind;

/// The display name of a clock, as in the report's title line.
/// The causes of failures, most frequent first (ties by name), the first three and how many
/// more.
fn causes(by_cause: &std::collections::BTreeMap<String, u64>) -> String {
    let mut sorted: Vec<(&String, &u64)> = by_cause.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let shown: Vec<String> = sorted
        .iter()
        .take(3)
        .map(|(cause, count)| format!("{count} {cause}"))
        .collect();
    let more = sorted.len().saturating_sub(3);
    match more {
        0 => format!("by cause: {}", shown.join(", ")),
        _ => format!("by cause: {} and {more} more", shown.join(", ")),
    }
}

/// How many violations' messages the table shows per invariant; the JSON has up to
/// [`InvariantReport::MAX_EXAMPLES`](crate::InvariantReport::MAX_EXAMPLES).
const SHOWN_EXAMPLES: usize = 3;

/// The note below a violated invariant's row: its first examples, a line each (a message's
/// own lines indented under it), and how many more violations there were.
fn violations(invariant: &crate::InvariantReport) -> String {
    let mut lines: Vec<String> = invariant
        .examples
        .iter()
        .take(SHOWN_EXAMPLES)
        .map(|example| example.replace('\n', "\n    "))
        .collect();
    let shown = u64::try_from(lines.len()).unwrap_or(u64::MAX);
    let more = invariant.violations.saturating_sub(shown);
    if more > 0 && lines.is_empty() {
        // A report read from JSON written by hand may count violations without messages.
        lines.push(format!("{more} without a message kept"));
    } else if more > 0 {
        lines.push(format!("and {more} more"));
    }
    lines.join("\n  ")
}

/// A threshold's value: a whole number as it is, others with three decimals (tiny ones in
/// scientific notation, so that they do not read as zero).
fn figure(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 0.001 || !value.is_finite() {
        format!("{value:.3}")
    } else {
        format!("{value:.3e}")
    }
}

fn clock_name(clock: ClockKind) -> &'static str {
    match clock {
        ClockKind::Virtual => "virtual",
        ClockKind::Real => "real",
    }
}

/// Names longer than this get a line of their own above their row, so that
/// the tables stay narrow.
const MAX_NAME_WIDTH: usize = 24;

/// One table row: a name, right-aligned cells and an optional note line
/// printed below it.
struct Row {
    name: String,
    cells: Vec<String>,
    note: Option<String>,
}

/// Writes an aligned table: a left-aligned name column, then right-aligned
/// columns each as wide as its widest cell or header, separated by two
/// spaces. `suffix` is appended to the header line. Every line, the header
/// included, is preceded (not followed) by a newline.
fn write_table(
    f: &mut fmt::Formatter<'_>,
    name_header: &str,
    headers: &[&str],
    suffix: &str,
    rows: &[Row],
) -> fmt::Result {
    let name_width = rows
        .iter()
        .map(|row| row.name.chars().count())
        .filter(|&len| len <= MAX_NAME_WIDTH)
        .chain([name_header.chars().count()])
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, header)| {
            rows.iter()
                .filter_map(|row| row.cells.get(i))
                .map(|cell| cell.chars().count())
                .chain([header.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();

    let mut header = format!("{name_header:<name_width$}");
    for (text, width) in headers.iter().zip(&widths) {
        write!(header, "  {text:>width$}")?;
    }
    header.push_str(suffix);
    write!(f, "\n{}", header.trim_end())?;

    for row in rows {
        let name = if row.name.chars().count() > name_width {
            write!(f, "\n{}", row.name)?;
            ""
        } else {
            row.name.as_str()
        };
        let mut line = format!("{name:<name_width$}");
        for (cell, width) in row.cells.iter().zip(&widths) {
            write!(line, "  {cell:>width$}")?;
        }
        write!(f, "\n{}", line.trim_end())?;
        if let Some(note) = &row.note {
            write!(f, "\n  {note}")?;
        }
    }
    Ok(())
}

/// A latency in milliseconds with 3 decimals.
/// The timeline, compact: per workload its p99 and throughput as sparklines over the
/// windows, and the windows with a fault; nothing for a timeline of one window.
fn write_timeline(f: &mut fmt::Formatter<'_>, report: &Report) -> fmt::Result {
    use super::timeline::sparkline;
    const WIDTH: usize = 60;
    let timeline = &report.timeline;
    if timeline.windows < 2 || timeline.workloads.is_empty() {
        return Ok(());
    }
    write!(
        f,
        "\n\ntimeline  {} windows of {}, by intended send time (all of them in the JSON and --timeline)",
        timeline.windows,
        crate::duration_format::format_duration(std::time::Duration::from_secs_f64(
            timeline.window_seconds
        )),
    )?;
    // Services whose queues held a request at some time.
    let queued: Vec<(&String, &super::timeline::ServiceTimeline)> = timeline
        .services
        .iter()
        .filter(|(_, series)| series.queue_max.iter().any(|&n| n > 0))
        .collect();
    let name_width = timeline
        .workloads
        .keys()
        .chain(queued.iter().map(|(name, _)| *name))
        .map(|name| name.chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    let range = |values: &[Option<f64>], digits: usize| {
        let present = values.iter().flatten().copied();
        let (low, high) = present.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if low.is_finite() {
            format!("{low:.digits$} .. {high:.digits$}")
        } else {
            "none".to_string()
        }
    };
    for (name, series) in &timeline.workloads {
        let throughput: Vec<Option<f64>> =
            series.throughput_per_s.iter().map(|&v| Some(v)).collect();
        write!(
            f,
            "\n  {name:name_width$}  p99 ms        {}  {}",
            sparkline(&series.p99_ms, WIDTH),
            range(&series.p99_ms, 3)
        )?;
        write!(
            f,
            "\n  {:name_width$}  completed/s   {}  {}",
            "",
            sparkline(&throughput, WIDTH),
            range(&throughput, 1)
        )?;
    }
    for (name, series) in &queued {
        let mean: Vec<Option<f64>> = series.queue_mean.iter().map(|&v| Some(v)).collect();
        write!(
            f,
            "\n  {name:name_width$}  queue mean    {}  {}",
            sparkline(&mean, WIDTH),
            range(&mean, 1)
        )?;
    }
    // The columns of the sparklines, as simulated time: the windows each one merges.
    let per = timeline.windows.div_ceil(WIDTH);
    let columns = timeline.windows.div_ceil(per);
    let column_span = |column: usize| {
        let start = (column * per) as f64 * timeline.window_seconds;
        (start, start + per as f64 * timeline.window_seconds)
    };
    if !report.faults.is_empty() {
        let line: String = (0..columns)
            .map(|column| {
                let (start, end) = column_span(column);
                let faulty = report.faults.iter().any(|fault| {
                    fault.start_seconds < end && fault.end_seconds.is_none_or(|e| e > start)
                });
                if faulty { '━' } else { ' ' }
            })
            .collect();
        write!(f, "\n  {:name_width$}  faults        {line}", "")?;
    }
    let transitions: Vec<&crate::policy::BreakerTransition> = report
        .policies
        .values()
        .flat_map(|policy| &policy.breaker_transitions)
        .collect();
    if !transitions.is_empty() {
        use crate::policy::BreakerState;
        // Per column the most severe state a breaker went into there.
        let line: String = (0..columns)
            .map(|column| {
                let (start, end) = column_span(column);
                let into = |state| {
                    transitions.iter().any(|transition| {
                        transition.to == state
                            && transition.at_seconds >= start
                            && transition.at_seconds < end
                    })
                };
                if into(BreakerState::Open) {
                    '●'
                } else if into(BreakerState::HalfOpen) {
                    '◐'
                } else if into(BreakerState::Closed) {
                    '○'
                } else {
                    ' '
                }
            })
            .collect();
        write!(
            f,
            "\n  {:name_width$}  breakers      {line}  ● opened ◐ half-open ○ closed",
            ""
        )?;
    }
    Ok(())
}

fn ms(value: f64) -> String {
    format!("{value:.3}")
}

impl fmt::Display for Report {
    /// A plain-text table: a title line, then one row per workload, one per
    /// service, and so on, down to one per invariant with the first messages of
    /// its violations below it (a section is left out when it has no rows). Latencies are
    /// in milliseconds with 3 decimals; a workload's crashed and error counts
    /// are shown on a line below its row when non-zero. The output is
    /// deterministic and has no trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "microsim report  seed {}  {} clock  {:.3} s simulated ({:.3} s measured, drained at {:.3} s)",
            self.seed,
            clock_name(self.clock),
            self.simulated_seconds,
            self.measured_seconds,
            self.drained_seconds,
        )?;
        if !self.overrides.is_empty() {
            write!(f, "\noverrides: --set {}", self.overrides.join(" --set "))?;
        }
        if let Some(at) = self.interrupted_at {
            write!(
                f,
                "\nINTERRUPTED at {at:.3} s of simulated time: the figures cover the run up to \
                 then, without the requests still in flight"
            )?;
        }
        for warning in self.warnings() {
            write!(f, "\nWARNING: {warning}")?;
        }

        if !self.workloads.is_empty() {
            // Settled latency differs from response latency only where requests cause
            // asynchronous work; show it then.
            let settling = self
                .workloads
                .values()
                .any(|w| w.settled_ms != w.latency_ms);
            let rows: Vec<Row> = self
                .workloads
                .iter()
                .map(|(name, w)| Row {
                    name: name.clone(),
                    cells: [
                        w.counts.sent.to_string(),
                        w.counts.completed.to_string(),
                        w.counts.failed.to_string(),
                        w.counts.rejected.to_string(),
                        w.counts.timed_out.to_string(),
                        format!("{:.1}", w.throughput_per_s),
                        ms(w.latency_ms.mean),
                        ms(w.latency_ms.p50),
                        ms(w.latency_ms.p90),
                        ms(w.latency_ms.p99),
                        ms(w.latency_ms.p999),
                        ms(w.latency_ms.max),
                    ]
                    .into_iter()
                    .chain(
                        settling
                            .then(|| [ms(w.settled_ms.p50), ms(w.settled_ms.p99)])
                            .into_iter()
                            .flatten(),
                    )
                    .collect(),
                    note: (w.counts.failed != 0).then(|| {
                        format!(
                            "{name}: {} failed ({} crashed, {} errors): latency mean {} ms, p99 {} ms; {}",
                            w.counts.failed,
                            w.counts.crashed,
                            w.counts.errors,
                            ms(w.failed_latency_ms.mean),
                            ms(w.failed_latency_ms.p99),
                            causes(&w.errors_by_cause),
                        )
                    }),
                })
                .collect();
            let mut headers = vec![
                "sent",
                "completed",
                "failed",
                "rejected",
                "timed out",
                "throughput/s",
                "mean ms",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "p99.9 ms",
                "max ms",
            ];
            if settling {
                headers.extend(["settled p50", "settled p99"]);
            }
            f.write_str("\n")?;
            // Latency columns are of completed requests; failed ones are on the line below.
            write_table(f, "workload", &headers, "  (completed)", &rows)?;
            write_timeline(f, self)?;
        }

        if !self.services.is_empty() {
            let rows: Vec<Row> = self
                .services
                .iter()
                .map(|(name, s)| Row {
                    name: name.clone(),
                    cells: vec![
                        s.workers
                            .map_or_else(|| "unlimited".to_string(), |w| w.to_string()),
                        s.queue_capacity
                            .map_or_else(|| "unbounded".to_string(), |c| c.to_string()),
                        s.counts.handled.to_string(),
                        s.counts.rejected.to_string(),
                        s.counts.failed.to_string(),
                        s.counts.panics.to_string(),
                        s.utilization
                            .map_or_else(|| "-".to_string(), |u| format!("{u:.3}")),
                        ms(s.queue_wait_ms.p50),
                        ms(s.queue_wait_ms.p99),
                        ms(s.processing_ms.mean),
                        ms(s.processing_ms.p99),
                        ms(s.latency_ms.mean),
                        ms(s.latency_ms.p99),
                    ],
                    note: {
                        let mut notes = Vec::new();
                        if s.counts.cancelled != 0 || s.counts.crashed != 0 {
                            notes.push(format!(
                                "{name}: {} hedge copies cancelled in the queue, {} requests lost to crashes",
                                s.counts.cancelled, s.counts.crashed
                            ));
                        }
                        if s.counts.failed != 0 {
                            notes.push(format!(
                                "{name}: {} failed: latency mean {} ms, p99 {} ms; {}",
                                s.counts.failed,
                                ms(s.failed_latency_ms.mean),
                                ms(s.failed_latency_ms.p99),
                                causes(&s.errors_by_cause),
                            ));
                        }
                        (!notes.is_empty()).then(|| notes.join("\n  "))
                    },
                })
                .collect();
            f.write_str("\n")?;
            write_table(
                f,
                "service",
                &[
                    "workers",
                    "queue",
                    "handled",
                    "rejected",
                    "failed",
                    "panics",
                    "util",
                    "wait p50",
                    "wait p99",
                    "proc mean",
                    "proc p99",
                    "ok mean",
                    "ok p99",
                ],
                "  (ms; ok = no error)",
                &rows,
            )?;
        }

        if !self.topics.is_empty() {
            let rows: Vec<Row> = self
                .topics
                .iter()
                .map(|(name, t)| Row {
                    name: name.clone(),
                    cells: vec![
                        match t.delivery {
                            crate::topic::Delivery::AtMostOnce => "at most once".to_string(),
                            crate::topic::Delivery::AtLeastOnce { .. } => {
                                "at least once".to_string()
                            }
                        },
                        t.counts.published.to_string(),
                        t.counts.rejected.to_string(),
                        t.counts.delivered.to_string(),
                        t.counts.redelivered.to_string(),
                        t.counts.duplicates.to_string(),
                        t.counts.dead_lettered.to_string(),
                        t.counts.lost.to_string(),
                    ],
                    note: None,
                })
                .collect();
            f.write_str("\n")?;
            write_table(
                f,
                "topic",
                &[
                    "delivery",
                    "published",
                    "rejected",
                    "delivered",
                    "redelivered",
                    "duplicates",
                    "dead-lettered",
                    "lost",
                ],
                "",
                &rows,
            )?;
            let rows: Vec<Row> = self
                .topics
                .iter()
                .flat_map(|(topic, t)| {
                    t.subscribers.iter().map(move |(name, s)| Row {
                        name: format!("{topic} -> {name}"),
                        cells: vec![
                            s.counts.handled.to_string(),
                            s.counts.dead_lettered.to_string(),
                            s.counts.lost.to_string(),
                            ms(s.latency_ms.p50),
                            ms(s.latency_ms.p99),
                            ms(s.latency_ms.max),
                            s.lag_max.to_string(),
                            format!("{:.2}", s.lag_mean),
                        ],
                        note: None,
                    })
                })
                .collect();
            if !rows.is_empty() {
                f.write_str("\n")?;
                write_table(
                    f,
                    "subscription",
                    &[
                        "handled",
                        "dead-lettered",
                        "lost",
                        "p50 ms",
                        "p99 ms",
                        "max ms",
                        "lag max",
                        "lag mean",
                    ],
                    "  (publish to handled)",
                    &rows,
                )?;
            }
        }

        if !self.policies.is_empty() {
            let rows: Vec<Row> = self
                .policies
                .iter()
                .map(|(pair, p)| Row {
                    name: pair.clone(),
                    cells: vec![
                        p.counts.calls.to_string(),
                        p.counts.failed.to_string(),
                        p.counts.attempts.to_string(),
                        p.counts.retries.to_string(),
                        p.counts.retries_denied.to_string(),
                        p.counts.timeouts.to_string(),
                        format!("{}/{}", p.counts.hedges_won, p.counts.hedges_sent),
                        p.counts.breaker_rejected.to_string(),
                        p.counts.bulkhead_rejected.to_string(),
                        p.counts.rate_limited.to_string(),
                        ms(p.latency_ms.p99),
                    ],
                    note: (!p.breaker_transitions.is_empty()).then(|| {
                        let changes: Vec<String> = p
                            .breaker_transitions
                            .iter()
                            .take(8)
                            .map(|t| format!("{} at {:.3} s", t.to, t.at_seconds))
                            .collect();
                        let more = p.breaker_transitions.len().saturating_sub(8);
                        format!(
                            "breaker: {}{}",
                            changes.join(", "),
                            if more > 0 {
                                format!(" and {more} more")
                            } else {
                                String::new()
                            }
                        )
                    }),
                })
                .collect();
            f.write_str("\n")?;
            write_table(
                f,
                "policy",
                &[
                    "calls",
                    "failed",
                    "attempts",
                    "retries",
                    "denied",
                    "timeouts",
                    "hedges won",
                    "open-rejected",
                    "bulkhead",
                    "rate-limited",
                    "p99 ms",
                ],
                "",
                &rows,
            )?;
        }

        if !self.faults.is_empty() {
            let rows: Vec<Row> = self
                .faults
                .iter()
                .map(|fault| Row {
                    name: fault.fault.clone(),
                    cells: vec![
                        format!("{:.3}", fault.start_seconds),
                        fault
                            .end_seconds
                            .map_or_else(|| "never".to_string(), |end| format!("{end:.3}")),
                        fault.counts.failed_calls.to_string(),
                        fault.counts.lost_messages.to_string(),
                        fault.counts.crashed_requests.to_string(),
                    ],
                    note: None,
                })
                .collect();
            f.write_str("\n")?;
            write_table(
                f,
                "fault",
                &["from s", "until s", "failed", "lost", "crashed"],
                "",
                &rows,
            )?;
        }

        if !self.invariants.is_empty() {
            let rows: Vec<Row> = self
                .invariants
                .iter()
                .map(|invariant| Row {
                    name: invariant.name.clone(),
                    cells: vec![
                        invariant.violations.to_string(),
                        if invariant.holds() { "ok" } else { "VIOLATED" }.to_string(),
                    ],
                    note: (!invariant.holds()).then(|| violations(invariant)),
                })
                .collect();
            f.write_str("\n")?;
            write_table(f, "invariant", &["violations", "status"], "", &rows)?;
        }

        for (workload, path) in &self.critical_path {
            // The eight largest stretches, and the rest together.
            const SHOWN: usize = 8;
            let rest = path.segments.iter().skip(SHOWN);
            let (rest_count, rest_ms, rest_share) = rest
                .fold((0, 0.0, 0.0), |(n, ms, share), s| {
                    (n + 1, ms + s.mean_ms, share + s.share)
                });
            let mut rows: Vec<Row> = path
                .segments
                .iter()
                .take(SHOWN)
                .map(|segment| Row {
                    name: format!("{} {}", segment.kind.as_str(), segment.place),
                    cells: vec![
                        format!("{:.3}", segment.mean_ms),
                        format!("{:.1}%", segment.share * 100.0),
                    ],
                    note: None,
                })
                .collect();
            if rest_count > 0 {
                rows.push(Row {
                    name: format!("{rest_count} more"),
                    cells: vec![
                        format!("{rest_ms:.3}"),
                        format!("{:.1}%", rest_share * 100.0),
                    ],
                    note: None,
                });
            }
            f.write_str("\n")?;
            write_table(
                f,
                &format!("critical path of {workload}"),
                &["ms", "share"],
                &format!(
                    "  (mean of the {}: {:.3} ms)",
                    path.of_what(),
                    path.mean_latency_ms
                ),
                &rows,
            )?;
        }

        if !self.thresholds.is_empty() {
            let rows: Vec<Row> = self
                .thresholds
                .iter()
                .map(|result| Row {
                    name: result.metric.clone(),
                    cells: vec![
                        result.value.map_or_else(|| "-".to_string(), figure),
                        result.bound(),
                        if result.passed { "PASS" } else { "FAIL" }.to_string(),
                    ],
                    // The error, without the metric the row names.
                    note: result.error.as_ref().map(|error| {
                        error
                            .strip_prefix(&format!("{}: ", result.metric))
                            .unwrap_or(error)
                            .to_string()
                    }),
                })
                .collect();
            f.write_str("\n")?;
            write_table(f, "threshold", &["value", "bound", "status"], "", &rows)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;
    use crate::report::{ServiceReport, WorkloadCounts, WorkloadReport};

    /// The column (in chars) where `needle` ends on `line`.
    fn end_of(line: &str, needle: &str) -> usize {
        let start = line
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in {line:?}"));
        line[..start].chars().count() + needle.chars().count()
    }

    fn line_starting<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{text}"))
    }

    #[test]
    fn display_has_aligned_rows() {
        let text = sample().to_string();
        assert!(!text.ends_with('\n'));
        assert_eq!(
            text.lines().next().unwrap(),
            "microsim report  seed 7  virtual clock  60.000 s simulated \
             (55.000 s measured, drained at 60.012 s)"
        );
        for line in text.lines() {
            assert!(line.chars().count() < 160, "too long: {line:?}");
        }

        let header = line_starting(&text, "workload ");
        let checkout = line_starting(&text, "checkout ");
        let browse = line_starting(&text, "browse ");
        // Right edges of each column line up with the header.
        for (column, value) in [
            ("sent", "48000"),
            ("completed", "47950"),
            ("throughput/s", "799.2"),
            ("mean ms", "5.012"),
            ("p50 ms", "3.470"),
            ("p90 ms", "11.500"),
            ("p99 ms", "23.000"),
            ("p99.9 ms", "34.500"),
            ("max ms", "60.100"),
        ] {
            assert_eq!(end_of(header, column), end_of(checkout, value), "{column}");
        }
        assert_eq!(end_of(header, "throughput/s"), end_of(browse, "0.1"));
        assert_eq!(end_of(header, "max ms"), end_of(browse, "10.000"));
        assert_eq!(
            header.find("sent"),
            Some(checkout.find("48000").unwrap() + 1)
        );
        // Failures appear below the row that has them, with their latency and causes, most
        // frequent first.
        assert!(text.contains(
            "\n  browse: 5 failed (3 crashed, 1 errors): latency mean 2.000 ms, p99 8.000 ms; \
             by cause: 3 catalog: handler panicked, 1 browse: timed out, 1 catalog: not found\n"
        ));
        assert!(text.contains(
            "\n  checkout: 50 failed (0 crashed, 0 errors): latency mean 0.200 ms, p99 0.800 ms; \
             by cause: 50 payment: rejected (queue full)\n"
        ));
        assert!(text.contains("\n\nworkload "));
        assert!(text.contains("\n\nservice "));
        assert!(line_starting(&text, "workload ").ends_with("  (completed)"));

        let header = line_starting(&text, "service ");
        assert!(header.ends_with("  (ms; ok = no error)"));
        let frontend = line_starting(&text, "frontend ");
        for (column, value) in [
            ("workers", "64"),
            ("queue", "1000"),
            ("handled", "48000"),
            ("util", "0.800"),
            ("wait p50", "0.005"),
            ("wait p99", "0.040"),
            ("proc mean", "1.234"),
            ("proc p99", "4.936"),
            ("ok mean", "1.500"),
            ("ok p99", "6.000"),
        ] {
            assert_eq!(end_of(header, column), end_of(frontend, value), "{column}");
        }
        // A long name gets its own line; its figures go on the next one.
        let lines: Vec<&str> = text.lines().collect();
        let long = lines
            .iter()
            .position(|line| *line == "a-service-with-a-very-long-name")
            .unwrap();
        let long_row = lines[long + 1];
        assert!(long_row.starts_with("   "));
        assert_eq!(end_of(header, "queue"), end_of(long_row, "unbounded"));
        assert_eq!(end_of(header, "util"), end_of(long_row, "0.123"));
        assert_eq!(end_of(header, "wait p50"), end_of(long_row, "0.125"));
        assert_eq!(long_row.chars().count(), frontend.chars().count());
    }

    #[test]
    fn display_shows_policies_and_faults() {
        let mut report = sample();
        report.policies.insert(
            "frontend -> payment".to_string(),
            crate::policy::PolicyReport {
                counts: crate::policy::PolicyCounts {
                    calls: 100,
                    attempts: 130,
                    retries: 30,
                    hedges_sent: 4,
                    hedges_won: 3,
                    ..Default::default()
                },
                breaker_transitions: vec![crate::policy::BreakerTransition {
                    at_seconds: 2.5,
                    from: crate::policy::BreakerState::Closed,
                    to: crate::policy::BreakerState::Open,
                }],
                ..Default::default()
            },
        );
        report.faults.push(crate::fault::FaultReport {
            fault: "crash api replica 0".to_string(),
            start_seconds: 2.0,
            end_seconds: None,
            counts: crate::fault::FaultCounts {
                crashed_requests: 7,
                ..Default::default()
            },
        });
        let text = report.to_string();
        let policy = line_starting(&text, "frontend -> payment");
        assert!(
            policy.contains("  130  ") && policy.contains("3/4"),
            "{policy}"
        );
        assert!(text.contains("breaker: open at 2.500 s"), "{text}");
        let fault = line_starting(&text, "crash api replica 0");
        assert!(fault.contains("never") && fault.ends_with('7'), "{fault}");
    }

    #[test]
    fn display_shows_invariants_with_three_examples() {
        let mut report = sample();
        report
            .invariants
            .push(crate::InvariantReport::new("no double charge"));
        let mut shipment = crate::InvariantReport::new("no double shipment");
        for order in [17, 40, 41, 52, 60] {
            shipment.record(format!(
                "order {order}: shipped at 1.2 s, shipped again at 1.5 s"
            ));
        }
        report.invariants.push(shipment);
        let mut multiline = crate::InvariantReport::new("an invariant with a long long name");
        multiline.record("order 3:\ncharged twice");
        report.invariants.push(multiline);
        let text = report.to_string();

        assert!(text.contains("\n\ninvariant "), "{text}");
        let header = line_starting(&text, "invariant ");
        assert!(header.ends_with("violations    status"), "{header}");
        let holds = line_starting(&text, "no double charge ");
        assert_eq!(end_of(header, "violations"), end_of(holds, "0"));
        assert!(holds.ends_with("  ok"), "{holds}");
        let violated = line_starting(&text, "no double shipment ");
        assert_eq!(end_of(header, "violations"), end_of(violated, "5"));
        assert!(violated.ends_with("  VIOLATED"), "{violated}");
        assert!(
            text.contains(
                "\nno double shipment           5  VIOLATED\
             \n  order 17: shipped at 1.2 s, shipped again at 1.5 s\
             \n  order 40: shipped at 1.2 s, shipped again at 1.5 s\
             \n  order 41: shipped at 1.2 s, shipped again at 1.5 s\
             \n  and 2 more\
             \nan invariant with a long long name\
             \n                             1  VIOLATED\
             \n  order 3:\
             \n    charged twice"
            ),
            "{text}"
        );
        assert!(text.ends_with("charged twice"));

        // Counted without a message: only a report read from JSON can be so.
        report.invariants = vec![crate::InvariantReport {
            violations: 2,
            ..crate::InvariantReport::new("bare")
        }];
        assert!(report.to_string().ends_with("\n  2 without a message kept"));
        report.invariants.clear();
        assert!(!report.to_string().contains("invariant"));
    }

    #[test]
    fn display_shows_thresholds_last() {
        use crate::report::threshold::Threshold;

        let mut report = sample();
        assert!(!report.to_string().contains("threshold"));
        report.check_thresholds(&[
            Threshold::max("workloads.checkout.latency_ms.p99", 23.5),
            Threshold::min("simulated_seconds", 1000.0).and_max(2000.0),
            Threshold::min("workloads.checkout.sent", 1.0),
            Threshold::max("services.frontend.utilization", 0.75),
            Threshold::max("workloads.checkout.latency_ms.p99x", 1.0),
        ]);
        let text = report.to_string();
        let table = &text[text.find("\n\nthreshold ").expect("the section")..];
        assert_eq!(
            table,
            "\n\nthreshold                value            bound  status\
             \nworkloads.checkout.latency_ms.p99\
             \n                            23          <= 23.5    PASS\
             \nsimulated_seconds           60  in [1000, 2000]    FAIL\
             \nworkloads.checkout.sent  48000             >= 1    PASS\
             \nservices.frontend.utilization\
             \n                         0.800          <= 0.75    FAIL\
             \nworkloads.checkout.latency_ms.p99x\
             \n                             -             <= 1    FAIL\
             \n  no such number in the report: workloads.checkout.latency_ms has no \"p99x\"; \
             did you mean \"p99\"?"
        );
        assert_eq!(figure(0.0004), "4.000e-4");
        assert_eq!(figure(12.0), "12");
        assert_eq!(figure(0.25), "0.250");
    }

    #[test]
    fn display_is_deterministic() {
        assert_eq!(sample().to_string(), sample().clone().to_string());
    }

    #[test]
    fn display_omits_empty_sections() {
        let mut report = Report::new(1, ClockKind::Real);
        let text = report.to_string();
        assert_eq!(text.lines().count(), 1);
        assert!(text.contains("real clock"));

        report
            .services
            .insert("db".to_string(), ServiceReport::default());
        let text = report.to_string();
        assert!(!text.contains("workload"));
        assert!(text.contains("\n\nservice "));
        assert!(line_starting(&text, "db ").contains("unbounded"));

        let mut report = Report::new(1, ClockKind::Virtual);
        report
            .workloads
            .insert("w".to_string(), WorkloadReport::default());
        let text = report.to_string();
        assert!(text.contains("\n\nworkload "));
        assert!(!text.contains("service"));
    }

    #[test]
    fn display_survives_odd_values() {
        let mut report = sample();
        report.simulated_seconds = f64::NAN;
        report.measured_seconds = f64::INFINITY;
        report.workloads.insert(
            "ünïcode".to_string(),
            WorkloadReport {
                counts: WorkloadCounts {
                    sent: u64::MAX,
                    ..WorkloadCounts::default()
                },
                throughput_per_s: f64::NEG_INFINITY,
                ..WorkloadReport::default()
            },
        );
        report
            .workloads
            .insert(String::new(), WorkloadReport::default());
        // Synchronous flows: settled equals response latency, so no settled columns.
        for workload in report.workloads.values_mut() {
            workload.settled_ms = workload.latency_ms.clone();
        }
        let text = report.to_string();
        assert!(text.contains("NaN s simulated"));
        assert!(text.contains(&u64::MAX.to_string()));
        let header = line_starting(&text, "workload ");
        let row = line_starting(&text, "ünïcode ");
        assert!(row.ends_with(" 0.000"));
        assert_eq!(end_of(header, "max ms"), row.chars().count());
    }

    #[test]
    fn clock_names() {
        assert_eq!(clock_name(ClockKind::Real), "real");
        assert_eq!(clock_name(ClockKind::Virtual), "virtual");
    }
}
