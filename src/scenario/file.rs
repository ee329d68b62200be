//! The file as written: serde structures that mirror the TOML layout, with spans kept on
//! everything a later check may need to point at.
//!
//! Nothing here is validated beyond its shape; [`super::Scenario::parse`] checks the values.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::distribution::Distribution;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "scenario file")]
pub(super) struct RawFile {
    #[serde(default)]
    pub(super) simulation: Option<Spanned<RawSimulation>>,
    #[serde(default)]
    pub(super) services: BTreeMap<Spanned<String>, Spanned<RawService>>,
    #[serde(default)]
    pub(super) topics: BTreeMap<Spanned<String>, Spanned<RawTopic>>,
    #[serde(default)]
    pub(super) links: Vec<Spanned<RawLink>>,
    #[serde(default)]
    pub(super) workloads: BTreeMap<Spanned<String>, Spanned<RawWorkload>>,
}

/// `[simulation]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "RawSimulation")]
pub(super) struct RawSimulation {
    pub(super) seed: Option<Spanned<i64>>,
    pub(super) duration: Option<Spanned<Dur>>,
    pub(super) warmup: Option<Spanned<Dur>>,
    pub(super) default_latency: Option<Spanned<Distribution>>,
    pub(super) call_timeout: Option<Spanned<Dur>>,
}

/// `[services.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "RawService")]
pub(super) struct RawService {
    pub(super) workers: Option<Spanned<i64>>,
    pub(super) queue: Option<Spanned<i64>>,
    pub(super) work: Option<Spanned<Distribution>>,
    #[serde(default)]
    pub(super) steps: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub(super) subscribes: Vec<Spanned<String>>,
}

/// `[topics.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "RawTopic")]
pub(super) struct RawTopic {
    pub(super) delivery: Option<Spanned<String>>,
    pub(super) ack_timeout: Option<Spanned<Dur>>,
    pub(super) max_deliveries: Option<Spanned<i64>>,
    pub(super) broker_latency: Option<Spanned<Distribution>>,
    pub(super) capacity: Option<Spanned<i64>>,
    pub(super) when_full: Option<Spanned<String>>,
}

/// One step: exactly one of its keys must be set (checked after deserializing, so that the
/// message can say which keys were found).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "RawStep")]
pub(super) struct RawStep {
    pub(super) call: Option<Spanned<String>>,
    pub(super) work: Option<Spanned<Distribution>>,
    pub(super) parallel: Option<Spanned<Vec<Spanned<RawStep>>>>,
    pub(super) publish: Option<Spanned<String>>,
    /// Only with `publish`: how many partition keys to draw from.
    pub(super) keys: Option<Spanned<i64>>,
}

/// `[[links]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "RawLink")]
pub(super) struct RawLink {
    pub(super) from: Spanned<String>,
    pub(super) to: Spanned<String>,
    pub(super) latency: Spanned<Distribution>,
}

/// `[workloads.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "RawWorkload")]
pub(super) struct RawWorkload {
    pub(super) target: Spanned<String>,
    pub(super) open: Option<Spanned<RawOpen>>,
    pub(super) closed: Option<Spanned<RawClosed>>,
    pub(super) timeout: Option<Spanned<Dur>>,
}

/// `open = { rate = R, arrivals = "poisson" | "constant" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "RawOpen")]
pub(super) struct RawOpen {
    pub(super) rate: Spanned<f64>,
    pub(super) arrivals: Option<Spanned<String>>,
}

/// `closed = { users = N, think = DIST }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "RawClosed")]
pub(super) struct RawClosed {
    pub(super) users: Spanned<i64>,
    pub(super) think: Spanned<Distribution>,
}

/// A duration written with a unit, as [`crate::duration_format`] reads it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(transparent)]
pub(super) struct Dur(#[serde(with = "crate::duration_format")] pub(super) Duration);

/// What serde calls each structure in "invalid type" messages, and what a user should read
/// instead.
pub(super) const EXPECTED_NAMES: &[(&str, &str)] = &[
    ("struct scenario file", "a scenario file"),
    ("struct RawSimulation", "a table of settings"),
    (
        "struct RawService",
        "a service table such as { workers = 4, work = { constant = \"1ms\" } }",
    ),
    (
        "struct RawStep",
        "a step such as { call = \"NAME\" }, { work = DISTRIBUTION }, { publish = \"TOPIC\" } or { parallel = [STEP, ...] }",
    ),
    (
        "struct RawTopic",
        "a topic table such as { delivery = \"at_least_once\", ack_timeout = \"1s\" }",
    ),
    ("struct RawLink", "a link table with from, to and latency"),
    (
        "struct RawWorkload",
        "a workload table with a target and open or closed traffic",
    ),
    ("struct RawOpen", "a table such as { rate = 100.0 }"),
    (
        "struct RawClosed",
        "a table such as { users = 10, think = { constant = \"1s\" } }",
    ),
    (
        "enum Distribution",
        "a distribution such as { exponential = { mean = \"1ms\" } }",
    ),
    ("i64", "a whole number"),
    ("f64", "a number"),
    ("a sequence", "an array"),
    ("a map", "a table"),
];
