//! Why the clock stopped a run before it drained, and the cell that holds the first reason.
//!
//! The clock is the one place that sees every wait of a run, so it is the one place that can
//! tell that a run cannot go on: nothing left to wake ([`Halt::Stalled`]), millions of events
//! without simulated time moving ([`Halt::NoProgress`]), or a wait that would end past the
//! clock's range ([`Halt::BeyondRange`]). The runtime reports a model that can never work in a
//! simulation to the same cell ([`Halt::Misuse`]). The run waits on [`HaltCell::halted`]
//! beside its drain and reports the reason as an error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use crate::error::SimulationError;

/// Why the clock stopped a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Halt {
    /// Every task waits and no timer is left: nothing can happen again.
    Stalled,
    /// `events` waits began at one simulated instant without time moving on.
    NoProgress {
        /// The limit that was reached.
        events: u64,
    },
    /// A wait of `wait` from the current instant would end past the last instant the clock
    /// can count (`u64::MAX` nanoseconds, about 584 years).
    BeyondRange {
        /// The wait asked for.
        wait: Duration,
    },
    /// The model does something that can never work in a simulation.
    Misuse(Misuse),
}

/// Something a model does that can never work in a simulation, found as the run goes: it
/// fails the run at its first occurrence, with an error that says what to do instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Misuse {
    /// `service` used a handle to `target` that another simulation made.
    ForeignHandle {
        /// The service whose handler used the handle.
        service: String,
        /// The service or topic the handle names.
        target: String,
    },
    /// A handler of `service` made a tokio timer on the virtual clock.
    TokioTimer {
        /// The service.
        service: String,
    },
}

impl From<Misuse> for SimulationError {
    fn from(misuse: Misuse) -> Self {
        match misuse {
            Misuse::ForeignHandle { service, target } => {
                SimulationError::ForeignHandle { service, target }
            }
            Misuse::TokioTimer { service } => SimulationError::TokioTimer { service },
        }
    }
}

/// The first [`Halt`] of a run, and a way to wait for it.
#[derive(Debug, Default)]
pub(crate) struct HaltCell {
    /// Set with `reason`, read without the lock (the idle hook asks at every instant).
    halted: AtomicBool,
    reason: Mutex<Option<Halt>>,
    notify: Notify,
}

impl HaltCell {
    /// Stops the run for `reason`, unless it was already stopped for another.
    pub(crate) fn halt(&self, reason: Halt) {
        let mut current = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
        if current.is_none() {
            *current = Some(reason);
            self.halted.store(true, Ordering::Release);
            drop(current);
            self.notify.notify_waiters();
        }
    }

    /// Whether the run is stopped.
    pub(crate) fn is_halted(&self) -> bool {
        self.halted.load(Ordering::Acquire)
    }

    fn reason(&self) -> Option<Halt> {
        self.reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Resolves with the reason once the run is stopped.
    pub(crate) async fn halted(&self) -> Halt {
        loop {
            let notified = self.notify.notified();
            if let Some(reason) = self.reason() {
                return reason;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins() {
        let cell = HaltCell::default();
        cell.halt(Halt::NoProgress { events: 5 });
        cell.halt(Halt::Stalled);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let reason = runtime.block_on(cell.halted());
        assert_eq!(reason, Halt::NoProgress { events: 5 });
    }
}
