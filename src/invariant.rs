//! Business invariants: what must hold of a model's own state once a run is over, checked by
//! the engine and printed in the report.
//!
//! A model can keep business state in its services -- stock, a payment ledger, orders,
//! shipments -- and share it with the program through `Arc<Mutex<..>>`. What must hold of that
//! state ("no customer is charged twice", "every paid order is shipped") is a check given to
//! [`Simulation::add_invariant`](crate::Simulation::add_invariant): a closure that returns
//! the violations it finds, a message each, naming the order and its history. The report
//! keeps, per invariant, the count of its violations and the first
//! [`MAX_EXAMPLES`](InvariantReport::MAX_EXAMPLES) messages ([`InvariantReport`], in
//! [`Report::invariants`](crate::Report::invariants)), and its table shows them in a section
//! of their own.
//!
//! # When the checks run
//!
//! - **At the end of a completed run**, after every request in flight has ended and the
//!   services and brokers are shut down: the state is final. Nothing else runs while a check
//!   does (a run has one thread).
//! - **In the order they were added**, each once.
//! - **Not when the run was interrupted** ([`InterruptHandle`](crate::InterruptHandle)):
//!   orders still in flight at that instant -- paid and not shipped yet -- would read as
//!   violations. The report of an interrupted run has no invariants.
//! - **Not when the run failed** with a [`SimulationError`](crate::SimulationError): there is
//!   no report to put them in.
//! - **A check that panics** counts as one violation, `the check panicked: MESSAGE`; the
//!   other checks still run and the run returns its report.
//!
//! See [`Simulation::add_invariant`](crate::Simulation::add_invariant) for an example.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::{Deserialize, Serialize};

/// What one invariant's check found at the end of a run: how many violations, and the first
/// [`MAX_EXAMPLES`](Self::MAX_EXAMPLES) of their messages, in the order the check gave them.
///
/// A report keeps the examples bounded: a check may find a violation in every one of a
/// million orders, and the report stays small.
///
/// # Examples
///
/// ```
/// use microsim::InvariantReport;
///
/// let mut double_charge = InvariantReport::new("no double charge");
/// assert!(double_charge.holds());
/// for order in 0..15 {
///     double_charge.record(format!("order {order}: charged twice"));
/// }
/// assert!(!double_charge.holds());
/// assert_eq!(double_charge.violations, 15);
/// assert_eq!(double_charge.examples.len(), InvariantReport::MAX_EXAMPLES);
/// assert_eq!(double_charge.examples[0], "order 0: charged twice");
///
/// let json = serde_json::to_value(&double_charge).unwrap();
/// assert_eq!(json["violations"], 15);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InvariantReport {
    /// The name it was added under, e.g. `no double charge`.
    pub name: String,
    /// Every violation the check returned, counted.
    pub violations: u64,
    /// The first [`MAX_EXAMPLES`](Self::MAX_EXAMPLES) violations' messages, in the order the
    /// check returned them.
    #[serde(default)]
    pub examples: Vec<String>,
}

impl InvariantReport {
    /// How many violations' messages a report keeps per invariant; the others are counted.
    pub const MAX_EXAMPLES: usize = 10;

    /// The report of an invariant named `name` that holds: no violation recorded yet.
    pub fn new(name: impl Into<String>) -> Self {
        InvariantReport {
            name: name.into(),
            violations: 0,
            examples: Vec::new(),
        }
    }

    /// Counts one violation, and keeps its message if fewer than
    /// [`MAX_EXAMPLES`](Self::MAX_EXAMPLES) are kept.
    pub fn record(&mut self, violation: impl Into<String>) {
        self.violations = self.violations.saturating_add(1);
        if self.examples.len() < Self::MAX_EXAMPLES {
            self.examples.push(violation.into());
        }
    }

    /// Whether the check found no violation.
    pub fn holds(&self) -> bool {
        self.violations == 0
    }
}

/// A check given to [`Simulation::add_invariant`](crate::Simulation::add_invariant), kept
/// until the end of the run.
pub(crate) struct Invariant {
    name: String,
    check: Box<dyn FnOnce() -> Vec<String> + Send>,
}

impl std::fmt::Debug for Invariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invariant")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Invariant {
    pub(crate) fn new(name: &str, check: impl FnOnce() -> Vec<String> + Send + 'static) -> Self {
        Invariant {
            name: name.to_string(),
            check: Box::new(check),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Runs the check. A panic in it is one violation, and goes no further: a mistake in a
    /// check must not cost the report of the run.
    pub(crate) fn check(self) -> InvariantReport {
        let mut report = InvariantReport::new(self.name);
        match catch_unwind(AssertUnwindSafe(self.check)) {
            Ok(violations) => violations
                .into_iter()
                .for_each(|violation| report.record(violation)),
            Err(payload) => report.record(format!(
                "the check panicked: {}",
                panic_message(payload.as_ref())
            )),
        }
        report
    }
}

/// The message of a panic: what `panic!` was given, as text.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "a value that is not text (std::panic::panic_any)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_bounded_and_in_order() {
        let report = Invariant::new("bounded", || {
            (0..25).map(|n| format!("violation {n}")).collect()
        })
        .check();
        assert_eq!(report.name, "bounded");
        assert_eq!(report.violations, 25);
        let kept: Vec<String> = (0..10).map(|n| format!("violation {n}")).collect();
        assert_eq!(report.examples, kept);
    }

    #[test]
    fn a_panic_is_one_violation_with_its_message() {
        let literal = Invariant::new("literal", || panic!("ledger is locked")).check();
        assert_eq!(literal.violations, 1);
        assert_eq!(literal.examples, ["the check panicked: ledger is locked"]);
        let order = 17;
        let formatted = Invariant::new("formatted", move || panic!("order {order} lost")).check();
        assert_eq!(formatted.examples, ["the check panicked: order 17 lost"]);
        let other = Invariant::new("other", || std::panic::panic_any(42_u32)).check();
        assert_eq!(
            other.examples,
            ["the check panicked: a value that is not text (std::panic::panic_any)"]
        );
    }

    #[test]
    fn json_round_trip() {
        let mut report = InvariantReport::new("no double charge");
        report.record("order 3: charged at 1.2 s and at 1.5 s");
        let json = serde_json::to_string(&report).unwrap();
        assert_eq!(
            json,
            r#"{"name":"no double charge","violations":1,"examples":["order 3: charged at 1.2 s and at 1.5 s"]}"#
        );
        assert_eq!(
            serde_json::from_str::<InvariantReport>(&json).unwrap(),
            report
        );
        let holds: InvariantReport =
            serde_json::from_str(r#"{"name":"holds","violations":0}"#).unwrap();
        assert!(holds.holds() && holds.examples.is_empty());
    }
}
