//! A service described by its steps instead of code: spend processing time, call, send,
//! publish, fail with a probability, take one of several branches, repeat, run branches in
//! parallel. Every service of a scenario file is a [`Script`]; the Rust API builds the same
//! ones.
//!
//! ```
//! use std::time::Duration;
//! use microsim::{Capacity, Distribution, Script, Simulation, Workload};
//!
//! let mut sim = Simulation::builder().duration(Duration::from_secs(10)).build()?;
//! let payment = sim.add_service(
//!     "payment",
//!     Script::new()
//!         .work(Distribution::exponential(Duration::from_millis(2)))
//!         // After the work: one request in a hundred is declined.
//!         .fail(0.01, "card declined"),
//!     Capacity::workers(4),
//! )?;
//! let email = sim.add_service("email", Script::new(), Capacity::workers(1))?;
//! let checkout = sim.add_service(
//!     "checkout",
//!     Script::new()
//!         .call(&payment)
//!         // Three customers in ten get an email; the checkout does not wait for it.
//!         .choose([(0.3, Script::new().send(&email))]),
//!     Capacity::workers(8),
//! )?;
//! sim.add_workload("orders", &checkout, Workload::poisson(100.0), |_| ())?;
//! let report = sim.run()?;
//! let orders = &report.workloads["orders"];
//! assert_eq!(orders.counts.sent, orders.counts.completed + orders.counts.failed);
//! assert_eq!(report.services["payment"].errors_by_cause.keys().collect::<Vec<_>>(),
//!            ["payment: card declined"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod routing;
mod run;

pub(crate) use routing::{Routing, endless_cycle};

use std::sync::Arc;

use crate::distribution::Distribution;
use crate::error::{FieldError, FieldPath, PathSegment};
use crate::rules;
use crate::runtime::handle::{ServiceHandle, TopicHandle};

/// A service that runs a list of steps for each request (and each event it subscribes to),
/// in order. Build one with [`Script::new`] and the step methods; each returns the script
/// with the step appended.
///
/// A step that fails (a failed call or publish, a [`fail`](Self::fail) that strikes) fails
/// the request, and the steps after it do not run. Requests, responses and events carry no
/// data: a script models time, routing and capacity, not content.
///
/// The rules of each step (a probability in `[0, 1]`, branches whose probabilities sum to at
/// most 1, a bounded repeat count, valid distributions) are checked when the service is
/// added ([`Simulation::add_service`](crate::Simulation::add_service)), each error naming the
/// step by its place, as a scenario file writes it: `steps[2].choose[1].p`.
#[derive(Clone, Debug, Default)]
pub struct Script {
    steps: Vec<Step>,
}

/// One step of a [`Script`].
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// Spend processing time.
    Work(Distribution),
    /// Call a service and wait for its response.
    Call(ServiceHandle<Script>),
    /// Send a one-way message ([`Context::send`](crate::Context::send)) and go on at once.
    Send(ServiceHandle<Script>),
    /// Publish an event and wait for the broker's confirmation; with `keys`, the event's
    /// partition key is drawn uniformly from `0..keys`.
    Publish {
        topic: TopicHandle<()>,
        keys: Option<u64>,
    },
    /// Fail the request with probability `probability`, naming the cause `error`;
    /// `permanent`: a failure retries do not repeat ([`ServiceError::permanent`]).
    ///
    /// [`ServiceError::permanent`]: crate::ServiceError::permanent
    Fail {
        probability: f64,
        error: Arc<str>,
        permanent: bool,
    },
    /// Run every branch at once and wait for all of them.
    Parallel(Vec<Script>),
    /// Run one branch, drawn with its probability; none the rest of the time.
    Choose(Vec<(f64, Script)>),
    /// Run the steps `times` times in order.
    Repeat(u32, Script),
}

impl Script {
    /// The most times a [`repeat`](Self::repeat) step may repeat: a million.
    ///
    /// Each repetition is at least a step of the request's handler; a request repeating more
    /// than a million times is a batch job, modelled better as a longer `work`.
    pub const MAX_REPEAT: u32 = 1_000_000;

    /// The most branches a [`parallel`](Self::parallel) or [`choose`](Self::choose) step may
    /// have: ten thousand.
    pub const MAX_BRANCHES: usize = 10_000;

    /// The cause a [`fail`](Self::fail) step gives when none is named (the scenario file's
    /// `{ fail = P }` without `error`).
    pub const DEFAULT_FAILURE: &'static str = "fail step";

    /// A script with no steps: a service that answers at once.
    pub fn new() -> Self {
        Script::default()
    }

    fn then(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Spends processing time drawn from `work` (slowed down by a slow fault).
    pub fn work(self, work: Distribution) -> Self {
        self.then(Step::Work(work))
    }

    /// Calls `service` and waits for its response; a failed call fails the request.
    pub fn call(self, service: &ServiceHandle<Script>) -> Self {
        self.then(Step::Call(service.clone()))
    }

    /// Sends a one-way message to `service`, which handles it like a request, and goes on
    /// at once ([`Context::send`](crate::Context::send)). Its handling counts in the
    /// request's settled latency, as events do. Sends may form cycles (a request that comes
    /// back with some probability, a queueing network with feedback); to send to a service
    /// added later, take its handle first with
    /// [`Simulation::handle_to`](crate::Simulation::handle_to).
    pub fn send(self, service: &ServiceHandle<Script>) -> Self {
        self.then(Step::Send(service.clone()))
    }

    /// Publishes an event to `topic` and waits for the broker's confirmation.
    pub fn publish(self, topic: &TopicHandle<()>) -> Self {
        self.then(Step::Publish {
            topic: topic.clone(),
            keys: None,
        })
    }

    /// Publishes an event to `topic` with a partition key drawn uniformly from `0..keys`
    /// (at least 1): events with one key are handled in order by each subscriber.
    pub fn publish_keyed(self, topic: &TopicHandle<()>, keys: u64) -> Self {
        self.then(Step::Publish {
            topic: topic.clone(),
            keys: Some(keys),
        })
    }

    /// Fails the request with probability `probability` (in `[0, 1]`), here: after the
    /// steps before it, so that `work` then `fail` fails after the work is done. The failure
    /// is a handler error ([`ServiceError`](crate::ServiceError)) whose cause is `error`,
    /// counted by cause in the report (`errors_by_cause`).
    pub fn fail(self, probability: f64, error: impl Into<String>) -> Self {
        self.then(Step::Fail {
            probability,
            error: Arc::from(error.into()),
            permanent: false,
        })
    }

    /// As [`fail`](Self::fail), with a permanent failure
    /// ([`ServiceError::permanent`](crate::ServiceError::permanent)): an answer such as a
    /// declined card, which a caller's retry policy does not retry -- so that retries do
    /// not draw the failure again and turn a decline into a charge.
    ///
    /// ```
    /// use std::time::Duration;
    /// use microsim::{Distribution, Script};
    ///
    /// // A card processor: 3 ms, then 2% of cards declined, for good.
    /// let payment = Script::new()
    ///     .work(Distribution::constant(Duration::from_millis(3)))
    ///     .fail_permanently(0.02, "card declined");
    /// # let _ = payment;
    /// ```
    pub fn fail_permanently(self, probability: f64, error: impl Into<String>) -> Self {
        self.then(Step::Fail {
            probability,
            error: Arc::from(error.into()),
            permanent: true,
        })
    }

    /// Runs every branch at once and waits until all have ended; the request fails once
    /// they have, if any did.
    pub fn parallel(self, branches: impl IntoIterator<Item = Script>) -> Self {
        self.then(Step::Parallel(branches.into_iter().collect()))
    }

    /// Runs one of the branches, drawn with its probability: `(0.3, a)` runs `a` three
    /// times in ten. If the probabilities sum to less than 1, the rest of the time nothing
    /// happens; more than 1 is an error.
    pub fn choose(self, branches: impl IntoIterator<Item = (f64, Script)>) -> Self {
        self.then(Step::Choose(branches.into_iter().collect()))
    }

    /// Runs `steps` `times` times in order (a call per item of an order, say).
    pub fn repeat(self, times: u32, steps: Script) -> Self {
        self.then(Step::Repeat(times, steps))
    }

    /// The rule of a [`repeat`](Self::repeat) count, for counts of any width (a file's).
    pub(crate) fn check_repeat(times: u64) -> Result<(), FieldError> {
        rules::at_least("repeat", times, 1).and_then(|()| {
            rules::at_most(
                "repeat",
                times,
                u64::from(Script::MAX_REPEAT),
                "each repetition is a step of the handler: model a longer batch as more work",
            )
        })
    }

    /// The steps, in order.
    pub(crate) fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Checks every step's rules; the error names the step by its place (`steps[2].fail`).
    pub(crate) fn validate(&self) -> Result<(), FieldError> {
        let mut path = vec![PathSegment::Key("steps".into())];
        self.validate_at(&mut path)
    }

    /// Checks these steps, each at `path` (the place of the list) followed by its index.
    fn validate_at(&self, path: &mut Vec<PathSegment>) -> Result<(), FieldError> {
        for (index, step) in self.steps.iter().enumerate() {
            path.push(PathSegment::Index(index));
            step.validate_at(path)?;
            path.pop();
        }
        Ok(())
    }
}

/// `error` about the setting `key` of the step at `path`.
fn at(path: &[PathSegment], key: &str, error: FieldError) -> FieldError {
    let mut segments = path.to_vec();
    segments.push(PathSegment::Key(key.into()));
    segments.extend(error.field.segments().iter().skip(1).cloned());
    FieldError {
        field: FieldPath::from_segments(segments),
        reason: error.reason,
    }
}

impl Step {
    fn validate_at(&self, path: &mut Vec<PathSegment>) -> Result<(), FieldError> {
        match self {
            Step::Work(work) => work
                .validate()
                .map_err(|error| at(path, "work", FieldError::new("work", error.to_string()))),
            Step::Call(_) | Step::Send(_) => Ok(()),
            Step::Publish { keys, .. } => match keys {
                Some(keys) => rules::at_least("keys", *keys, 1).map_err(|e| at(path, "keys", e)),
                None => Ok(()),
            },
            Step::Fail { probability, .. } => rules::share(
                "fail",
                *probability,
                false,
                " (0.01 = one request in a hundred)",
            )
            .map_err(|e| at(path, "fail", e)),
            Step::Parallel(branches) => {
                check_branch_count("parallel", branches.len())
                    .map_err(|e| at(path, "parallel", e))?;
                for (index, branch) in branches.iter().enumerate() {
                    path.push(PathSegment::Key("parallel".into()));
                    path.push(PathSegment::Index(index));
                    // A branch of one step is the step itself, as a file writes it.
                    let result = match branch.steps.as_slice() {
                        [single] => single.validate_at(path),
                        _ => branch.validate_at(&mut with_steps(path)),
                    };
                    path.truncate(path.len() - 2);
                    result?;
                }
                Ok(())
            }
            Step::Choose(branches) => {
                check_branch_count("choose", branches.len()).map_err(|e| at(path, "choose", e))?;
                let mut total = 0.0;
                for (index, (p, branch)) in branches.iter().enumerate() {
                    path.push(PathSegment::Key("choose".into()));
                    path.push(PathSegment::Index(index));
                    let result = rules::share("p", *p, false, " (0.3 = three times in ten)")
                        .map_err(|e| at(path, "p", e))
                        .and_then(|()| branch.validate_at(&mut with_steps(path)));
                    path.truncate(path.len() - 2);
                    result?;
                    total += p;
                }
                // A little slack for decimal fractions that do not add up exactly in binary
                // (0.1 + 0.2 + 0.7).
                if total > 1.0 + 1e-9 {
                    return Err(at(
                        path,
                        "choose",
                        FieldError::new(
                            "choose",
                            format!(
                                "the branches' probabilities p sum to {total}, more than 1: at \
                                 most one branch runs per request"
                            ),
                        ),
                    ));
                }
                Ok(())
            }
            Step::Repeat(times, steps) => {
                Script::check_repeat(u64::from(*times)).map_err(|e| at(path, "repeat", e))?;
                steps.validate_at(&mut with_steps(path))
            }
        }
    }
}

/// `path` followed by `steps`: where the steps of a nested list are.
fn with_steps(path: &[PathSegment]) -> Vec<PathSegment> {
    let mut path = path.to_vec();
    path.push(PathSegment::Key("steps".into()));
    path
}

fn check_branch_count(key: &str, branches: usize) -> Result<(), FieldError> {
    rules::at_least(key, branches, 1).and_then(|()| {
        rules::at_most(
            key,
            branches,
            Script::MAX_BRANCHES,
            "each branch is a step of its own",
        )
    })
}

/// The expected number of times a request handled by this script makes each call, send and
/// publish, by target name, summed into `into` with weight `weight`: the routing matrix of a
/// queueing network. A `fail` step scales the steps after it by its chance of passing.
pub(crate) fn expected_messages(
    steps: &[Step],
    weight: f64,
    into: &mut std::collections::BTreeMap<String, f64>,
) {
    let mut weight = weight;
    for step in steps {
        match step {
            Step::Work(_) => {}
            Step::Call(to) | Step::Send(to) => {
                *into.entry(to.name().to_string()).or_default() += weight
            }
            Step::Publish { topic, .. } => {
                *into.entry(topic.name().to_string()).or_default() += weight;
            }
            Step::Fail { probability, .. } => weight *= 1.0 - probability,
            Step::Parallel(branches) => {
                for branch in branches {
                    expected_messages(&branch.steps, weight, into);
                }
            }
            Step::Choose(branches) => {
                for (p, branch) in branches {
                    expected_messages(&branch.steps, weight * p, into);
                }
            }
            Step::Repeat(times, steps) => {
                expected_messages(&steps.steps, weight * f64::from(*times), into);
            }
        }
    }
}
