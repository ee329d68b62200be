//! A caller's own timer for its calls' deadlines, on the real clock.
//!
//! A caller that makes one call at a time keeps one [`CallTimer`] for all of them instead of
//! joining the clock's timer queue for each call; the real clock's driver checks it every
//! [`CALL_TIMER_TICK`].

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::real_clock::RealClock;
use super::timer::{QueuedSleep, TimerHost};

/// The timer of a caller that makes one call at a time from one task, on the real clock.
///
/// Every call has a deadline, and almost every call is answered long before it. Joining the
/// clock's timer queue for each call costs two lock round trips and a clone of the task's
/// waker, in the path of every request; on the real clock that is a measurable part of a
/// request's cost. A caller that never has two calls pending at once (a closed-loop user, a
/// worker) instead keeps one timer for all its calls: the clock's driver looks at it every
/// [`CALL_TIMER_TICK`] and wakes the caller once its call's deadline has passed. Arming
/// and disarming it are plain stores, and the task's waker is stored once.
///
/// If the timer is in use (a handler joining two calls) or used from another task, a call
/// falls back to the timer queue: the timer is an optimisation, never a requirement.
#[derive(Debug)]
pub(crate) struct CallTimer(Arc<CallTimerCell>);

impl CallTimer {
    /// A timer with no call in it, and no owner until its first call.
    pub(super) fn new() -> Self {
        CallTimer(Arc::new(CallTimerCell {
            deadline: AtomicU64::new(u64::MAX),
            busy: AtomicBool::new(false),
            waker: OnceLock::new(),
        }))
    }

    /// The timer as the clock's driver keeps it: for as long as its owner does.
    pub(super) fn cell(&self) -> Weak<CallTimerCell> {
        Arc::downgrade(&self.0)
    }
}

/// What a [`CallTimer`] shares with the clock's driver.
#[derive(Debug)]
pub(super) struct CallTimerCell {
    /// The deadline of the call using the timer (ns since the start); `u64::MAX` if none.
    deadline: AtomicU64,
    /// Whether a call is using the timer. Only its owner's task touches it, one future at a
    /// time, so a load and a store suffice.
    busy: AtomicBool,
    /// The owner's task, from its first call.
    waker: OnceLock<Waker>,
}

impl CallTimerCell {
    /// Wakes the owner if the deadline of the call using the timer is `now` (ns since the
    /// start) or earlier.
    pub(super) fn wake_if_due(&self, now: u64) {
        if self.deadline.load(Ordering::Acquire) <= now
            && let Some(waker) = self.waker.get()
        {
            waker.wake_by_ref();
        }
    }
}

/// How often the real clock's driver checks the callers' [`CallTimer`]s: a call timed by one
/// times out up to this late, as a call timed by a tokio timer is late by up to a millisecond.
pub(super) const CALL_TIMER_TICK: Duration = Duration::from_millis(1);

/// A call's deadline in its caller's [`CallTimer`].
pub(super) struct CellDeadline<'a> {
    clock: &'a RealClock,
    cell: &'a CallTimerCell,
    deadline: u64,
    state: CellState<'a>,
}

enum CellState<'a> {
    /// Not polled yet.
    Unarmed,
    /// Armed in the cell.
    Armed,
    /// The cell was not available: in the timer queue instead.
    Queued(QueuedSleep<'a, RealClock>),
}

impl<'a> CellDeadline<'a> {
    /// A wait until the clock reads `deadline`, in `timer` if it is free when first polled.
    pub(super) fn new(clock: &'a RealClock, timer: &'a CallTimer, deadline: Duration) -> Self {
        CellDeadline {
            clock,
            cell: &timer.0,
            deadline: crate::nanos::saturating_u64(deadline),
            state: CellState::Unarmed,
        }
    }

    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.state {
            CellState::Armed => {
                if self.clock.now_nanos() >= self.deadline {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
            CellState::Queued(sleep) => Pin::new(sleep).poll(cx),
            CellState::Unarmed => {
                let cell = self.cell;
                let owner = cell.waker.get_or_init(|| cx.waker().clone());
                if owner.will_wake(cx.waker()) && !cell.busy.load(Ordering::Relaxed) {
                    // Not checked against the clock: a call's deadline is just computed from a
                    // reading and ahead (if it has passed after all, the next tick fires it).
                    cell.busy.store(true, Ordering::Relaxed);
                    cell.deadline.store(self.deadline, Ordering::Release);
                    self.state = CellState::Armed;
                    return Poll::Pending;
                }
                // Registered by its first poll; the sleep holds only its key, so it may move.
                let mut sleep = QueuedSleep::new(self.clock, Duration::from_nanos(self.deadline))
                    .skip_first_check();
                let poll = Pin::new(&mut sleep).poll(cx);
                self.state = CellState::Queued(sleep);
                poll
            }
        }
    }
}

impl Drop for CellDeadline<'_> {
    fn drop(&mut self) {
        if matches!(self.state, CellState::Armed) {
            self.cell.deadline.store(u64::MAX, Ordering::Release);
            self.cell.busy.store(false, Ordering::Relaxed);
        }
    }
}
