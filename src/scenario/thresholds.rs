//! `[[thresholds]]`: each entry mapped onto the engine's [`Threshold`], whose rules judge it
//! (a bound, finite, `min` at most `max`, a metric that starts with a part of the report),
//! and its metric checked against the shape of the report the run will give: the
//! workloads, services, topics, policies and faults the file declares, each with the keys
//! its report has. A path that leads astray there is an error of the file, before anything
//! runs; what only the run knows (the causes of failures, the edges, the timeline's windows)
//! is left to the run, whose report says so if a path finds no number.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use toml::Spanned;

use crate::clock::ClockKind;
use crate::error::FieldPath;
use crate::fault::{FaultCounts, FaultReport};
use crate::policy::{PAIR_SEPARATOR, PolicyReport};
use crate::report::threshold::{Threshold, report_sections};
use crate::report::timeline::{ServiceTimeline, WorkloadTimeline};
use crate::report::warmup::WarmupEstimate;
use crate::report::{
    ReplicaReport, Report, ServiceReport, SubscriberReport, Timeline, TopicCounts, TopicReport,
    WorkloadReport,
};
use crate::topic::{Delivery, Topic};

use super::entry;
use super::error::Source;
use super::file::RawThreshold;
use super::resilience::{FaultSpec, PolicySpec};
use super::services::ServiceSpec;
use super::workloads::WorkloadSpec;

/// What the file declares, for the shape of its report. A name whose entry has a mistake
/// (already reported) is known, what its report holds is not.
pub(super) struct Declared<'a> {
    /// Every workload the file names; `None` if `workloads` is not even a table.
    pub(super) workloads: Option<Vec<String>>,
    /// The workloads without a mistake.
    pub(super) workload_specs: &'a BTreeMap<String, WorkloadSpec>,
    /// Every service the file names.
    pub(super) services: &'a [&'a str],
    /// The services without a mistake.
    pub(super) service_specs: &'a BTreeMap<String, ServiceSpec>,
    /// Every topic the file names and their dead-letter topics.
    pub(super) topics: &'a [&'a str],
    /// The topics without a mistake.
    pub(super) topic_specs: &'a BTreeMap<String, Topic>,
    /// The policies without a mistake; `None` if one has a mistake.
    pub(super) policies: Option<&'a [PolicySpec]>,
    /// How many `[[faults]]` entries the file writes, and those without a mistake; `None`
    /// if `faults` is not even an array.
    pub(super) faults: Option<(usize, &'a [FaultSpec])>,
}

/// Parts of an entry that the report's JSON leaves out when they are empty, so that the JSON
/// of an entry with zero figures lacks them: by section. What they hold depends on the run.
/// (A report's own fields are known from its type; these are below them.)
const LEFT_OUT_WHEN_EMPTY: &[(&str, &str)] = &[
    ("workloads", "errors_by_cause"),
    ("services", "errors_by_cause"),
    ("policies", "breaker_transitions"),
];

/// Checks every `[[thresholds]]` entry (`None`: its mistake already reported), reporting each
/// one's first mistake, and returns those without one, in file order.
pub(super) fn check_thresholds(
    source: &Source<'_>,
    declared: &Declared<'_>,
    raw_thresholds: Vec<Option<Spanned<RawThreshold>>>,
) -> Vec<Threshold> {
    if raw_thresholds.iter().all(Option::is_none) {
        return Vec::new();
    }
    let shape = shape(declared);
    let mut thresholds = Vec::new();
    for (index, raw) in raw_thresholds.into_iter().enumerate() {
        let Some(raw) = raw else {
            continue;
        };
        let raw = raw.into_inner();
        let mut threshold = Threshold::new(raw.metric.into_inner());
        if let Some(min) = raw.min {
            threshold = threshold.and_min(min.into_inner());
        }
        if let Some(max) = raw.max {
            threshold = threshold.and_max(max.into_inner());
        }
        // The engine's rules, then the report's shape.
        let at = entry("thresholds", index);
        if let Err(error) = threshold.validate() {
            source.report(source.error_at(&at.join(&error.field), error.reason));
            continue;
        }
        if let Err(message) = threshold.check_shape(&shape) {
            source.report(source.error_at(&at.join(&FieldPath::key("metric")), message));
            continue;
        }
        thresholds.push(threshold);
    }
    thresholds
}

/// The JSON of the report a run of the file gives, with zero figures: every part of it the
/// file determines -- its workloads, services (their replicas), topics (their delivery and
/// subscribers), policies and faults, each with the keys its report has -- and `null` where
/// what the run writes is not known beforehand (a list or table of the run's own making, a
/// figure that may be absent, an entry with a mistake).
fn shape(declared: &Declared<'_>) -> Value {
    let mut top = match json(&Report::new(0, ClockKind::Virtual)) {
        Value::Object(top) => top,
        _ => Map::new(),
    };
    // The report's fields its JSON leaves out when empty.
    for section in report_sections() {
        top.entry(section).or_insert(Value::Null);
    }

    let workloads = declared.workloads.as_ref().map(|names| {
        entries(names.iter().map(String::as_str), |name| {
            declared
                .workload_specs
                .contains_key(name)
                .then(|| entry_shape("workloads", &WorkloadReport::default()))
        })
    });
    top.insert("workloads".into(), workloads.unwrap_or(Value::Null));

    // A warm-up estimate per workload, as far as the file tells: the run decides which get
    // one (see `WarmupEstimate::of`), so a path to one it leaves out is found after the run.
    let warmup = declared.workloads.as_ref().map(|names| {
        entries(names.iter().map(String::as_str), |name| {
            declared.workload_specs.contains_key(name).then(|| {
                entry_shape(
                    "warmup",
                    &WarmupEstimate {
                        needed_s: 0.0,
                        configured_s: 0.0,
                        settled: true,
                        bias_ms: 0.0,
                        noise_ms: 0.0,
                    },
                )
            })
        })
    });
    top.insert("warmup".into(), warmup.unwrap_or(Value::Null));

    let services = entries(declared.services.iter().copied(), |name| {
        let spec = declared.service_specs.get(name)?;
        let mut service = ServiceReport::default();
        if spec.replicas > 1 {
            service.replicas = vec![ReplicaReport::default(); spec.replicas];
        }
        Some(entry_shape("services", &service))
    });
    top.insert("services".into(), services);

    // Who subscribes to what: known only if every service is.
    let subscribers = (declared.service_specs.len() == declared.services.len()).then(|| {
        let mut subscribers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (service, spec) in declared.service_specs {
            for topic in &spec.subscribes {
                subscribers.entry(topic).or_default().push(service);
            }
        }
        subscribers
    });
    let topics = entries(declared.topics.iter().copied(), |name| {
        let delivery = match declared.topic_specs.get(name) {
            Some(topic) => topic.delivery().clone(),
            // A dead-letter topic, of a topic without a mistake.
            None => {
                let of = name.strip_suffix(".dead-letter")?;
                declared.topic_specs.get(of)?;
                Delivery::AtMostOnce
            }
        };
        let mut topic = entry_shape(
            "topics",
            &TopicReport {
                delivery,
                counts: TopicCounts::default(),
                subscribers: BTreeMap::new(),
            },
        );
        let subscribers = subscribers.as_ref().map_or(Value::Null, |subscribers| {
            let of_this = subscribers.get(name).map_or(&[][..], Vec::as_slice);
            entries(of_this.iter().copied(), |_| {
                Some(entry_shape("subscribers", &SubscriberReport::default()))
            })
        });
        if let Value::Object(topic) = &mut topic {
            topic.insert("subscribers".into(), subscribers);
        }
        Some(topic)
    });
    top.insert("topics".into(), topics);

    let policies = declared.policies.map_or(Value::Null, |policies| {
        let pairs: Vec<String> = policies
            .iter()
            .map(|spec| format!("{}{PAIR_SEPARATOR}{}", spec.from, spec.to))
            .collect();
        entries(pairs.iter().map(String::as_str), |_| {
            Some(entry_shape("policies", &PolicyReport::default()))
        })
    });
    top.insert("policies".into(), policies);

    let faults = declared.faults.map_or(Value::Null, |(count, specs)| {
        Value::Array(
            (0..count)
                .map(|index| {
                    if specs.iter().any(|spec| spec.index == index) {
                        entry_shape(
                            "faults",
                            &FaultReport {
                                fault: String::new(),
                                start_seconds: 0.0,
                                end_seconds: None,
                                counts: FaultCounts::default(),
                            },
                        )
                    } else {
                        Value::Null
                    }
                })
                .collect(),
        )
    });
    top.insert("faults".into(), faults);

    // The timeline: a series per workload and service, of windows the run counts.
    let mut timeline = entry_shape("timeline", &Timeline::default());
    if let Value::Object(timeline) = &mut timeline {
        let workloads = declared.workloads.as_ref().map(|names| {
            entries(names.iter().map(String::as_str), |_| {
                Some(entry_shape("timeline", &WorkloadTimeline::default()))
            })
        });
        timeline.insert("workloads".into(), workloads.unwrap_or(Value::Null));
        let services = entries(declared.services.iter().copied(), |_| {
            Some(entry_shape("timeline", &ServiceTimeline::default()))
        });
        timeline.insert("services".into(), services);
        timeline.insert("topics".into(), Value::Null);
    }
    top.insert("timeline".into(), timeline);
    Value::Object(top)
}

/// A table of `names`, each with its entry's shape (`null` for `None`: not known).
fn entries<'n>(
    names: impl Iterator<Item = &'n str>,
    mut shape: impl FnMut(&'n str) -> Option<Value>,
) -> Value {
    Value::Object(
        names
            .map(|name| (name.to_string(), shape(name).unwrap_or(Value::Null)))
            .collect::<Map<String, Value>>(),
    )
}

/// The JSON of an entry of `section` with zero figures, as a shape: an empty list or table in
/// it holds what the run makes (`null`: not known), and so do the parts its JSON leaves out
/// when empty.
fn entry_shape(section: &str, entry: &impl serde::Serialize) -> Value {
    let mut value = unknown_when_empty(json(entry));
    if let Value::Object(fields) = &mut value {
        for (_, part) in LEFT_OUT_WHEN_EMPTY.iter().filter(|(s, _)| *s == section) {
            fields.entry(*part).or_insert(Value::Null);
        }
    }
    value
}

/// `value` with every empty array and table in it `null`.
fn unknown_when_empty(value: Value) -> Value {
    match value {
        Value::Array(items) if items.is_empty() => Value::Null,
        Value::Object(fields) if fields.is_empty() => Value::Null,
        Value::Array(items) => Value::Array(items.into_iter().map(unknown_when_empty).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, field)| (key, unknown_when_empty(field)))
                .collect(),
        ),
        other => other,
    }
}

fn json(value: &impl serde::Serialize) -> Value {
    // The report's types always serialize: their maps have string keys.
    serde_json::to_value(value).unwrap_or(Value::Null)
}
