//! The run's faults, resolved to nodes: the ones scheduled before the run and the ones
//! injected while it runs ([`Context::inject_fault`](crate::Context::inject_fault)). The
//! engine consults them at each place a fault can act; with none, each check is one atomic
//! load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use rand::RngExt;

use crate::error::{BuildError, FieldPath};
use crate::fault::{Fault, FaultCounts, FaultKind, FaultReport};
use crate::node::NodeId;
use crate::random::SimRng;
use crate::suggest::did_you_mean;

/// The run's faults.
#[derive(Debug)]
pub(crate) struct Faults {
    seed: u64,
    /// Every node's name (client, services, topics, by node id) and its replicas (0 for what
    /// is not a service).
    nodes: Vec<(String, usize)>,
    active: RwLock<Vec<Arc<ScheduledFault>>>,
    any: AtomicBool,
}

/// One fault of the run.
#[derive(Debug)]
pub(crate) struct ScheduledFault {
    pub(crate) fault: Fault,
    /// The nodes it names, in the order of `Fault::services`.
    pub(crate) nodes: Vec<NodeId>,
    state: Mutex<FaultState>,
}

/// A fault's random stream and what it has done.
#[derive(Debug)]
struct FaultState {
    rng: SimRng,
    counts: FaultCounts,
}

impl ScheduledFault {
    fn state(&self) -> MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts requests failed by this crash.
    pub(crate) fn count_crashed(&self, requests: u64) {
        self.state().counts.crashed_requests += requests;
    }

    fn draw(&self, probability: f64) -> bool {
        self.state().rng.random_bool(probability)
    }

    /// Whether this is a loss or partition fault between `a` and `b` (either way).
    fn joins(&self, from: NodeId, to: NodeId) -> bool {
        let [a, b] = [self.nodes[0], self.nodes[1]];
        (a == from && b == to) || (a == to && b == from)
    }
}

/// Checks that `fault` names nodes that exist and can suffer it: `nodes` gives every node's
/// name and its replicas (0 for the client and topics).
pub(crate) fn check_targets(fault: &Fault, nodes: &[(&str, usize)]) -> Result<(), BuildError> {
    let invalid = |reason: String| {
        Err(BuildError::InvalidFault {
            fault: fault.to_string(),
            field: FieldPath::key(fault.kind.key()),
            reason,
        })
    };
    let replicas_of = |name: &str| {
        nodes
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, replicas)| *replicas)
    };
    for name in fault.services() {
        if replicas_of(name).is_none() {
            let known = nodes.iter().map(|(known, _)| *known);
            return invalid(format!(
                "unknown service {name:?}{}",
                did_you_mean(name, known)
            ));
        }
    }
    let first = fault.services()[0];
    let replicas = replicas_of(first).unwrap_or(0);
    let acts_on_a_service = matches!(
        fault.kind,
        FaultKind::Slow { .. } | FaultKind::Fail { .. } | FaultKind::Crash { .. }
    );
    if acts_on_a_service && replicas == 0 {
        return invalid(format!("{first:?} is not a service"));
    }
    if matches!(
        fault.kind,
        FaultKind::Loss { .. } | FaultKind::Partition { .. }
    ) && let Some(topic) = fault
        .services()
        .into_iter()
        .find(|name| *name != crate::node::CLIENT && replicas_of(name) == Some(0))
    {
        return invalid(format!(
            "{topic:?} is a topic: loss and partition faults act on calls and messages between services"
        ));
    }
    if let Some(replica) = fault.replica_index()
        && replica >= replicas
    {
        return Err(BuildError::InvalidFault {
            fault: fault.to_string(),
            field: FieldPath::key("replica"),
            reason: format!(
                "{first} has {replicas} replica{} (numbered from 0), so there is no replica {replica}",
                if replicas == 1 { "" } else { "s" }
            ),
        });
    }
    Ok(())
}

impl Faults {
    /// The faults scheduled before the run, already checked. `nodes` as in [`check_targets`].
    pub(crate) fn new(seed: u64, nodes: Vec<(String, usize)>, scheduled: Vec<Fault>) -> Self {
        let faults = Faults {
            seed,
            nodes,
            active: RwLock::default(),
            any: AtomicBool::new(false),
        };
        for fault in scheduled {
            faults.add(fault);
        }
        faults
    }

    /// Adds a checked fault; returns it.
    pub(crate) fn add(&self, fault: Fault) -> Arc<ScheduledFault> {
        let nodes = fault
            .services()
            .iter()
            .map(|name| {
                NodeId(
                    self.nodes
                        .iter()
                        .position(|(known, _)| known == name)
                        .unwrap_or(0),
                )
            })
            .collect();
        let mut active = self.active.write().unwrap_or_else(PoisonError::into_inner);
        // The stream of the i-th fault of the run, scheduled or injected (in a deterministic
        // order either way).
        let rng = crate::random::stream(self.seed, &format!("fault/{}", active.len()));
        let scheduled = Arc::new(ScheduledFault {
            fault,
            nodes,
            state: Mutex::new(FaultState {
                rng,
                counts: FaultCounts::default(),
            }),
        });
        active.push(Arc::clone(&scheduled));
        self.any.store(true, Ordering::Release);
        scheduled
    }

    /// Checks a fault injected during the run against the running nodes.
    pub(crate) fn check(&self, fault: &Fault) -> Result<(), BuildError> {
        fault.validate()?;
        let nodes: Vec<(&str, usize)> = self
            .nodes
            .iter()
            .map(|(name, replicas)| (name.as_str(), *replicas))
            .collect();
        check_targets(fault, &nodes)
    }

    fn read(&self) -> RwLockReadGuard<'_, Vec<Arc<ScheduledFault>>> {
        self.active.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the run has no faults at all.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        !self.any.load(Ordering::Acquire)
    }

    /// The product of the slowdowns on `node` (replica `replica`) at `now`.
    pub(crate) fn slowdown(&self, node: NodeId, replica: usize, now: Duration) -> f64 {
        let mut factor = 1.0;
        for scheduled in self.read().iter() {
            if let FaultKind::Slow {
                replica: which,
                factor: slow,
                ..
            } = &scheduled.fault.kind
                && scheduled.nodes[0] == node
                && which.is_none_or(|which| which == replica)
                && scheduled.fault.active(now)
            {
                factor *= slow;
            }
        }
        factor
    }

    /// Latency added to a message from `from` to `to` at `now`.
    pub(crate) fn extra_latency(&self, from: NodeId, to: NodeId, now: Duration) -> Duration {
        let mut extra = Duration::ZERO;
        for scheduled in self.read().iter() {
            if let FaultKind::Latency { extra: more, .. } = &scheduled.fault.kind
                && scheduled.nodes[0] == from
                && scheduled.nodes[1] == to
                && scheduled.fault.active(now)
            {
                extra += *more;
            }
        }
        extra
    }

    /// Whether an injected failure aborts a call to `node` at `now` (a draw per active fault).
    pub(crate) fn aborts(&self, node: NodeId, now: Duration) -> bool {
        for scheduled in self.read().iter() {
            if let FaultKind::Fail { probability, .. } = &scheduled.fault.kind
                && scheduled.nodes[0] == node
                && scheduled.fault.active(now)
                && scheduled.draw(*probability)
            {
                scheduled.state().counts.failed_calls += 1;
                return true;
            }
        }
        false
    }

    /// Whether a message from `from` to `to` at `now` is lost (a draw per active loss fault).
    pub(crate) fn loses(&self, from: NodeId, to: NodeId, now: Duration) -> bool {
        for scheduled in self.read().iter() {
            let lost = match &scheduled.fault.kind {
                FaultKind::Partition { .. } => {
                    scheduled.joins(from, to) && scheduled.fault.active(now)
                }
                FaultKind::Loss { probability, .. } => {
                    scheduled.joins(from, to)
                        && scheduled.fault.active(now)
                        && scheduled.draw(*probability)
                }
                _ => false,
            };
            if lost {
                scheduled.state().counts.lost_messages += 1;
                return true;
            }
        }
        false
    }

    /// The crash faults.
    pub(crate) fn crashes(&self) -> Vec<Arc<ScheduledFault>> {
        self.read()
            .iter()
            .filter(|scheduled| matches!(scheduled.fault.kind, FaultKind::Crash { .. }))
            .cloned()
            .collect()
    }

    /// The timeline, in the order the faults were added.
    pub(crate) fn report(&self) -> Vec<FaultReport> {
        self.read()
            .iter()
            .map(|scheduled| FaultReport {
                fault: scheduled.fault.to_string(),
                start_seconds: scheduled.fault.at.as_secs_f64(),
                end_seconds: scheduled.fault.end().map(|end| end.as_secs_f64()),
                counts: scheduled.state().counts,
            })
            .collect()
    }
}
