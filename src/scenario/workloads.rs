//! `[workloads.NAME]`: each workload's target, its open or closed traffic and its timeout; the
//! mapping onto [`Workload`].

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use crate::suggest::closest;
use crate::workload::Workload;

use super::ScenarioError;
use super::error::Source;
use super::file::RawWorkload;
use super::names::{Names, unknown_service};
use super::values::count;

/// A checked `[workloads.NAME]` table.
#[derive(Debug, Clone)]
pub(super) struct WorkloadSpec {
    pub(super) span: Range<usize>,
    pub(super) target: String,
    pub(super) workload: Workload,
}

/// Checks every `[workloads.NAME]` table (`None`: its mistake already reported), in name
/// order, reporting each one's first mistake. Returns the workloads without a mistake, and
/// whether every one is among them.
pub(super) fn check_workloads(
    source: &Source<'_>,
    names: &Names<'_>,
    raw_workloads: BTreeMap<Spanned<String>, Option<Spanned<RawWorkload>>>,
) -> (BTreeMap<String, WorkloadSpec>, bool) {
    let mut workloads = BTreeMap::new();
    let mut complete = true;
    for (name, workload) in raw_workloads {
        let spec = workload.and_then(|workload| {
            let span = workload.span();
            source.ok(check_workload(source, names, span, workload.into_inner()))
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
                "missing traffic: add open = { rate = R } or closed = { users = N, think = DIST }",
            ));
        }
        (Some(open), None) => {
            let open = open.into_inner();
            let rate = *open.rate.get_ref();
            match open.arrivals {
                None => Workload::poisson(rate),
                Some(arrivals) => match arrivals.get_ref().as_str() {
                    "poisson" => Workload::poisson(rate),
                    "constant" => Workload::constant_rate(rate),
                    other => {
                        let hint = closest(other, ["poisson", "constant"])
                            .map(|c| format!("did you mean {c:?}?"))
                            .unwrap_or_else(|| "expected \"poisson\" or \"constant\"".to_string());
                        return Err(source.error(
                            arrivals.span(),
                            format!("unknown arrivals {other:?}; {hint}"),
                        ));
                    }
                },
            }
        }
        (None, Some(closed)) => {
            let closed = closed.into_inner();
            let users = count(source, &closed.users, "users")?;
            Workload::closed(users, closed.think.into_inner())
        }
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
