//! The file as written: serde structures that mirror the TOML layout, with spans kept on
//! everything a later check may need to point at.
//!
//! Nothing here is validated beyond its shape; [`super::Scenario::parse`] checks the values.
//! [`read`] deserializes each entry of each section apart, so that every entry's mistake is
//! found, not only the file's first.
//! Each structure's serde name (`rename`) says what it is in the file's terms, for the
//! messages about a value of the wrong type (`expected a table such as { rate = 100.0 }, ...`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::Spanned;
use toml::de::DeValue;

use super::error::Source;
use crate::distribution::Distribution;
use crate::error::PathSegment;

/// The whole file, each section's entries deserialized apart: an entry with a mistake is
/// `None`, its mistake reported (see [`read`]), so that the checks know it is there without
/// checking it again.
#[derive(Debug, Default)]
pub(super) struct RawFile {
    /// `None` if absent; `Some(None)` if it has a mistake.
    pub(super) simulation: Option<Option<Spanned<RawSimulation>>>,
    /// As `simulation`.
    pub(super) tracing: Option<Option<Spanned<RawTracing>>>,
    pub(super) services: BTreeMap<Spanned<String>, Option<Spanned<RawService>>>,
    pub(super) topics: BTreeMap<Spanned<String>, Option<Spanned<RawTopic>>>,
    pub(super) links: Vec<Option<Spanned<RawLink>>>,
    pub(super) workloads: BTreeMap<Spanned<String>, Option<Spanned<RawWorkload>>>,
    pub(super) faults: Vec<Option<Spanned<RawFault>>>,
    pub(super) policies: Vec<Option<Spanned<RawPolicy>>>,
    pub(super) thresholds: Vec<Option<Spanned<RawThreshold>>>,
    /// Sections that are not tables (or arrays) at all, e.g. `links = 5`: nothing is known
    /// of their entries.
    pub(super) broken: Vec<&'static str>,
}

/// The top-level keys, in the order the messages list them.
const SECTIONS: &[&str] = &[
    "simulation",
    "tracing",
    "services",
    "topics",
    "links",
    "workloads",
    "faults",
    "policies",
    "thresholds",
];

/// Reads the file's tree section by section, each entry on its own, reporting each entry's
/// first mistake to `source`.
pub(super) fn read(source: &Source<'_>) -> RawFile {
    let mut file = RawFile::default();
    for (key, value) in source.root().iter() {
        let Some(&section) = SECTIONS.iter().find(|s| **s == key.get_ref().as_ref()) else {
            source.report(source.unknown_top_level_key(key.get_ref(), SECTIONS, key.span()));
            continue;
        };
        let at = |inner: Option<PathSegment>| {
            let mut path = vec![PathSegment::Key(section.to_string())];
            path.extend(inner);
            path
        };
        let named = |file: &mut RawFile| -> Option<Vec<(Spanned<String>, &Spanned<DeValue<'_>>)>> {
            match value.get_ref() {
                DeValue::Table(table) => Some(
                    table
                        .iter()
                        .map(|(name, entry)| {
                            (Spanned::new(name.span(), name.get_ref().to_string()), entry)
                        })
                        .collect(),
                ),
                _ => {
                    let shape =
                        source.deserialize_at::<BTreeMap<String, IgnoredAny>>(value, &at(None));
                    source.ok(shape);
                    file.broken.push(section);
                    None
                }
            }
        };
        let listed = |file: &mut RawFile| -> Option<Vec<&Spanned<DeValue<'_>>>> {
            match value.get_ref() {
                DeValue::Array(items) => Some(items.iter().collect()),
                _ => {
                    source.ok(source.deserialize_at::<Vec<IgnoredAny>>(value, &at(None)));
                    file.broken.push(section);
                    None
                }
            }
        };
        // Each entry of a section by itself: its own mistake, the others still read.
        macro_rules! by_name {
            ($field:ident) => {
                if let Some(entries) = named(&mut file) {
                    for (name, entry) in entries {
                        let path = at(Some(PathSegment::Key(name.get_ref().clone())));
                        let read = source.ok(source.deserialize_at(entry, &path));
                        file.$field.insert(name, read);
                    }
                }
            };
        }
        macro_rules! by_index {
            ($field:ident) => {
                if let Some(entries) = listed(&mut file) {
                    for (index, entry) in entries.into_iter().enumerate() {
                        let path = at(Some(PathSegment::Index(index)));
                        file.$field
                            .push(source.ok(source.deserialize_at(entry, &path)));
                    }
                }
            };
        }
        match section {
            "simulation" => {
                file.simulation = Some(source.ok(source.deserialize_at(value, &at(None))));
            }
            "tracing" => {
                file.tracing = Some(source.ok(source.deserialize_at(value, &at(None))));
            }
            "services" => by_name!(services),
            "topics" => by_name!(topics),
            "workloads" => by_name!(workloads),
            "links" => by_index!(links),
            "faults" => by_index!(faults),
            "policies" => by_index!(policies),
            _ => by_index!(thresholds),
        }
    }
    file
}

/// `[simulation]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "a table of settings")]
pub(super) struct RawSimulation {
    pub(super) seed: Option<Spanned<i64>>,
    pub(super) duration: Option<Spanned<Dur>>,
    pub(super) warmup: Option<Spanned<Dur>>,
    pub(super) default_latency: Option<Spanned<Distribution>>,
    pub(super) call_timeout: Option<Spanned<Dur>>,
    pub(super) max_events_per_instant: Option<Spanned<i64>>,
    pub(super) timeline_window: Option<Spanned<Dur>>,
}

/// `[tracing]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "a table of tracing settings")]
pub(super) struct RawTracing {
    pub(super) rate: Option<Spanned<f64>>,
    pub(super) max_sampled: Option<Spanned<i64>>,
    pub(super) keep_slowest: Option<Spanned<i64>>,
    pub(super) keep_failed: Option<Spanned<i64>>,
    pub(super) max_spans_per_trace: Option<Spanned<i64>>,
}

/// `[services.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a service table such as { workers = 4, work = { constant = \"1ms\" } }"
)]
pub(super) struct RawService {
    pub(super) workers: Option<Spanned<RawWorkers>>,
    pub(super) queue: Option<Spanned<i64>>,
    pub(super) work: Option<Spanned<Distribution>>,
    #[serde(default)]
    pub(super) steps: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub(super) subscribes: Vec<Spanned<String>>,
    pub(super) replicas: Option<Spanned<i64>>,
    pub(super) balancer: Option<Spanned<String>>,
    /// Only with `balancer = "peak_ewma"`.
    pub(super) balancer_decay: Option<Spanned<Dur>>,
}

/// A service's `workers`: a whole number, or a word (`"unlimited"` is the one the checks
/// accept).
#[derive(Debug)]
pub(super) enum RawWorkers {
    Count(i64),
    Word(String),
}

impl<'de> Deserialize<'de> for RawWorkers {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawWorkers;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number or \"unlimited\"")
            }

            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<RawWorkers, E> {
                Ok(RawWorkers::Count(value))
            }

            /// Beyond TOML's 64-bit integers, as the other counts say it.
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<RawWorkers, E> {
                i64::try_from(value)
                    .map(RawWorkers::Count)
                    .map_err(|_| out_of_range(value))
            }

            fn visit_i128<E: serde::de::Error>(self, value: i128) -> Result<RawWorkers, E> {
                Err(out_of_range(value))
            }

            fn visit_u128<E: serde::de::Error>(self, value: u128) -> Result<RawWorkers, E> {
                Err(out_of_range(value))
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<RawWorkers, E> {
                Ok(RawWorkers::Word(value.to_string()))
            }
        }

        fn out_of_range<E: serde::de::Error>(value: impl std::fmt::Display) -> E {
            E::custom(format!(
                "integer {value} is out of range: TOML integers go from {} to {}",
                i64::MIN,
                i64::MAX
            ))
        }

        deserializer.deserialize_any(Visitor)
    }
}

/// `[topics.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a topic table such as { delivery = \"at_least_once\", ack_timeout = \"1s\" }"
)]
pub(super) struct RawTopic {
    pub(super) delivery: Option<Spanned<String>>,
    pub(super) ack_timeout: Option<Spanned<Dur>>,
    pub(super) max_deliveries: Option<Spanned<i64>>,
    pub(super) broker_latency: Option<Spanned<Distribution>>,
    pub(super) capacity: Option<Spanned<i64>>,
    pub(super) when_full: Option<Spanned<String>>,
}

/// One step: exactly one of its kind keys must be set (checked after deserializing, so that
/// the message can say which keys were found).
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a step such as { call = \"NAME\" }, { work = DISTRIBUTION }, { send = \"NAME\" }, { publish = \"TOPIC\" }, { fail = P }, { parallel = [STEP, ...] }, { choose = [{ p = P, steps = [STEP, ...] }, ...] } or { repeat = N, steps = [STEP, ...] }"
)]
pub(super) struct RawStep {
    pub(super) call: Option<Spanned<String>>,
    pub(super) work: Option<Spanned<Distribution>>,
    pub(super) parallel: Option<Spanned<Vec<Spanned<RawStep>>>>,
    pub(super) publish: Option<Spanned<String>>,
    /// Only with `publish`: how many partition keys to draw from.
    pub(super) keys: Option<Spanned<i64>>,
    pub(super) send: Option<Spanned<String>>,
    pub(super) fail: Option<Spanned<f64>>,
    /// Only with `fail`: the cause.
    pub(super) error: Option<Spanned<String>>,
    /// Only with `fail`: whether retries stop at it.
    pub(super) permanent: Option<Spanned<bool>>,
    pub(super) choose: Option<Spanned<Vec<Spanned<RawBranch>>>>,
    pub(super) repeat: Option<Spanned<i64>>,
    /// Only with `repeat`: what to repeat.
    pub(super) steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
}

/// A branch of a `choose` step.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a branch such as { p = 0.3, steps = [{ call = \"NAME\" }] }"
)]
pub(super) struct RawBranch {
    pub(super) p: Spanned<f64>,
    #[serde(default)]
    pub(super) steps: Vec<Spanned<RawStep>>,
}

/// `[[links]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "a link table with from, to and latency")]
pub(super) struct RawLink {
    pub(super) from: Spanned<String>,
    pub(super) to: Spanned<String>,
    pub(super) latency: Spanned<Distribution>,
}

/// `[workloads.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a workload table with a target and open or closed traffic"
)]
pub(super) struct RawWorkload {
    pub(super) target: Spanned<String>,
    pub(super) open: Option<Spanned<RawOpen>>,
    pub(super) closed: Option<Spanned<RawClosed>>,
    pub(super) timeout: Option<Spanned<Dur>>,
}

/// `open = { rate = R, arrivals = "poisson" | "constant" }`, `open = { start_rate = R0,
/// stages = [...], arrivals = ... }` or `open = { replay = "FILE" }`: which keys go together
/// is checked after deserializing, so that the message can say which were found.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a table such as { rate = 100.0 }, { stages = [{ duration = \"1m\", target = 100.0 }] } or { replay = \"arrivals.csv\" }"
)]
pub(super) struct RawOpen {
    pub(super) rate: Option<Spanned<f64>>,
    pub(super) arrivals: Option<Spanned<String>>,
    pub(super) start_rate: Option<Spanned<f64>>,
    pub(super) stages: Option<Spanned<Vec<Spanned<RawRateStage>>>>,
    pub(super) replay: Option<Spanned<String>>,
}

/// One stage of `open.stages`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a stage such as { duration = \"1m\", target = 100.0 }"
)]
pub(super) struct RawRateStage {
    pub(super) duration: Spanned<Dur>,
    pub(super) target: Spanned<f64>,
}

/// `closed = { users = N, think = DIST }` or `closed = { start_users = N0, stages = [...],
/// think = DIST }`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a table such as { users = 10, think = { constant = \"1s\" } }"
)]
pub(super) struct RawClosed {
    pub(super) users: Option<Spanned<i64>>,
    pub(super) think: Spanned<Distribution>,
    pub(super) start_users: Option<Spanned<i64>>,
    pub(super) stages: Option<Spanned<Vec<Spanned<RawUserStage>>>>,
}

/// One stage of `closed.stages`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a stage such as { duration = \"1m\", target = 10 }"
)]
pub(super) struct RawUserStage {
    pub(super) duration: Spanned<Dur>,
    pub(super) target: Spanned<i64>,
}

/// `[[faults]]`: exactly one kind key (checked after deserializing), its parameters, and the
/// window.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a fault such as { slow = \"payment\", factor = 3.0, at = \"10s\", lasting = \"5s\" }"
)]
pub(super) struct RawFault {
    pub(super) slow: Option<Spanned<String>>,
    pub(super) latency: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) fail: Option<Spanned<String>>,
    pub(super) loss: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) partition: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) crash: Option<Spanned<String>>,
    /// `slow` and `crash`: one replica only.
    pub(super) replica: Option<Spanned<i64>>,
    /// `slow`: the slowdown.
    pub(super) factor: Option<Spanned<f64>>,
    /// `latency`: the added latency.
    pub(super) extra: Option<Spanned<Dur>>,
    /// `fail` and `loss`: the fraction affected.
    pub(super) probability: Option<Spanned<f64>>,
    pub(super) at: Option<Spanned<Dur>>,
    pub(super) lasting: Option<Spanned<Dur>>,
}

/// `[[policies]]`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a policy table with from, to and its parts (timeout, retry, circuit_breaker, ...)"
)]
pub(super) struct RawPolicy {
    pub(super) from: Spanned<String>,
    pub(super) to: Spanned<String>,
    pub(super) timeout: Option<Spanned<Dur>>,
    pub(super) retry: Option<Spanned<RawRetry>>,
    pub(super) circuit_breaker: Option<Spanned<RawBreaker>>,
    pub(super) bulkhead: Option<Spanned<i64>>,
    pub(super) rate_limit: Option<Spanned<RawRateLimit>>,
    pub(super) hedge: Option<Spanned<RawHedge>>,
}

/// `[[thresholds]]`: which bounds make sense together is the engine's to check
/// ([`Threshold::validate`](crate::report::threshold::Threshold::validate)).
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a threshold table such as { metric = \"workloads.NAME.latency_ms.p99\", max = 250.0 }"
)]
pub(super) struct RawThreshold {
    pub(super) metric: Spanned<String>,
    pub(super) min: Option<Spanned<f64>>,
    pub(super) max: Option<Spanned<f64>>,
}

/// `retry = { max_attempts, backoff, delay | base + cap, jitter, budget }`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a table such as { max_attempts = 3, backoff = \"exponential\", base = \"25ms\", cap = \"250ms\" }"
)]
pub(super) struct RawRetry {
    pub(super) max_attempts: Option<Spanned<i64>>,
    pub(super) backoff: Option<Spanned<String>>,
    pub(super) delay: Option<Spanned<Dur>>,
    pub(super) base: Option<Spanned<Dur>>,
    pub(super) cap: Option<Spanned<Dur>>,
    pub(super) jitter: Option<Spanned<String>>,
    pub(super) budget: Option<Spanned<RawBudget>>,
}

/// `budget = { ratio, min_per_second, window }`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a table such as { ratio = 0.2, min_per_second = 10.0 }"
)]
pub(super) struct RawBudget {
    pub(super) ratio: Spanned<f64>,
    pub(super) min_per_second: Option<Spanned<f64>>,
    pub(super) window: Option<Spanned<Dur>>,
}

/// `circuit_breaker = { failure_rate, window_calls | window_time, minimum_calls, open_for,
/// trial_calls, slow_call }`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a table such as { failure_rate = 0.5, window_calls = 20, open_for = \"5s\" }"
)]
pub(super) struct RawBreaker {
    pub(super) failure_rate: Option<Spanned<f64>>,
    pub(super) window_calls: Option<Spanned<i64>>,
    pub(super) window_time: Option<Spanned<Dur>>,
    pub(super) minimum_calls: Option<Spanned<i64>>,
    pub(super) open_for: Option<Spanned<Dur>>,
    pub(super) trial_calls: Option<Spanned<i64>>,
    pub(super) slow_call: Option<Spanned<Dur>>,
}

/// `rate_limit = { per_second, burst }`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a table such as { per_second = 100.0, burst = 20 }"
)]
pub(super) struct RawRateLimit {
    pub(super) per_second: Spanned<f64>,
    pub(super) burst: Option<Spanned<i64>>,
}

/// `hedge = { after = D }` or `hedge = { percentile = P, min_samples = N }`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename = "a table such as { after = \"10ms\" } or { percentile = 95 }"
)]
pub(super) struct RawHedge {
    pub(super) after: Option<Spanned<Dur>>,
    pub(super) percentile: Option<Spanned<f64>>,
    pub(super) min_samples: Option<Spanned<i64>>,
}

/// A duration written with a unit, as [`crate::duration_format`] reads it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(transparent)]
pub(super) struct Dur(#[serde(with = "crate::duration_format")] pub(super) Duration);
