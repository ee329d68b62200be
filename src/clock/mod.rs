//! Time: the one place the simulation reads the clock or waits on it.
//!
//! Two clocks share one interface:
//!
//! - [`ClockKind::Virtual`] (the default) runs on a current-thread tokio runtime, used only as
//!   an *idleness oracle*: tokio calls our hook when it is about to park, that is when every
//!   task is waiting. Simulated time itself lives here, in nanoseconds, with a queue of timers
//!   ordered by `(deadline, insertion order)`. When the runtime goes idle, the hook jumps
//!   simulated time to the earliest deadline and wakes exactly the timers due then. tokio's
//!   own timers (paused or not) round every deadline up to a whole millisecond; this clock
//!   does not, so a 250 us link costs exactly 250 us.
//! - [`ClockKind::Real`] reads the wall clock, for measuring the real in-process cost of
//!   messages and actors. Waits shorter than tokio's millisecond timer resolution finish by
//!   yielding until the deadline passes.
//!
//! Everything that waits in the simulation -- processing time, link latency, think time,
//! arrivals, call timeouts -- goes through this clock (`Clock::sleep`, `Clock::timeout`). Code
//! running inside a simulation must not use `tokio::time` directly: the virtual clock's
//! runtime has no tokio timers, and a handler that makes one fails the run.

// The clock's parts, each in a module of its own:
// - virtual_clock: simulated time, and the idle hook that moves it;
// - real_clock: the wall clock, with its timer driver;
// - call_timer: a real-clock caller's own timer for its calls' deadlines;
// - timer: the timer queue both clocks keep, and the futures that wait in it;
// - halt: why a clock stops a run before it drains (stall, no progress, past its range,
//   a model's misuse);
// - tokio_timer: recognising a handler's tokio timer, which the virtual runtime lacks.
// This module holds what the rest of the crate uses: the kinds, the `Clock` that dispatches
// to one of them, and the futures it returns.
mod call_timer;
mod halt;
mod real_clock;
mod timer;
mod tokio_timer;
mod virtual_clock;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub(crate) use call_timer::CallTimer;
use call_timer::CellDeadline;
pub(crate) use halt::{Halt, Misuse};
use real_clock::RealClock;
use timer::{QueuedSleep, TimerHost};
pub(crate) use tokio_timer::is_tokio_timer_panic;
use virtual_clock::VirtualClock;

/// Which clock a simulation runs on.
///
/// ```
/// use microsim::ClockKind;
/// assert_eq!(ClockKind::default(), ClockKind::Virtual);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// Simulated time, exact to the nanosecond: an hour of traffic runs in seconds and the
    /// result depends only on the seed.
    #[default]
    Virtual,
    /// The wall clock: durations really pass, and results include the real cost of the
    /// machinery (and the noise of the machine).
    Real,
}

/// The simulation's clock. Cheap to clone; all clones read the same time.
#[derive(Clone, Debug)]
pub(crate) enum Clock {
    Virtual(Arc<VirtualClock>),
    Real(Arc<RealClock>),
}

/// Returned by [`Clock::timeout_at`] and [`Clock::call_timeout_at`] when the deadline passes
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elapsed;

/// What the clock allows a run before it halts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RunLimits {
    /// Waits that may begin at one simulated instant (virtual clock only).
    pub(crate) events_per_instant: u64,
}

/// Builds the current-thread runtime a simulation on `kind` runs on, with its clock.
///
/// On the virtual clock, tokio is only the *idleness oracle*. A discrete-event simulator may
/// move time forward only once everything the current instant holds has happened: no task is
/// runnable, none has yielded. tokio knows that moment exactly -- it is when its scheduler is
/// about to park the thread -- and calls its `on_thread_park` hook then. The hook moves
/// simulated time to the earliest deadline and wakes the timers due there, so the runtime
/// finds work again and goes on without parking. If no timer is left, nothing in the
/// simulation can ever happen again: the hook halts the run as stalled ([`Halt::Stalled`], seen through [`Clock::halted`]).
///
/// The virtual runtime has no tokio timer driver: nothing in it waits on tokio's clock, and
/// code that tries to (`tokio::time::sleep` in a handler) panics instead of measuring the
/// wrong time; the run then fails with [`SimulationError::TokioTimer`] (see `tokio_timer.rs`).
/// The real clock's runtime has the timer driver.
///
/// [`SimulationError::TokioTimer`]: crate::SimulationError::TokioTimer
pub(crate) fn runtime(
    kind: ClockKind,
    limits: RunLimits,
) -> std::io::Result<(tokio::runtime::Runtime, Clock)> {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    match kind {
        ClockKind::Virtual => {
            let clock = Arc::new(VirtualClock::new(limits));
            // Weak: the runtime's hook must not keep alive a timer queue whose wakers keep the
            // runtime alive.
            let idle = Arc::downgrade(&clock);
            builder.on_thread_park(move || {
                if let Some(clock) = idle.upgrade() {
                    clock.idle();
                }
            });
            Ok((builder.build()?, Clock::Virtual(clock)))
        }
        ClockKind::Real => {
            let runtime = builder.enable_time().build()?;
            let clock = Arc::new(RealClock::new());
            runtime.spawn(real_clock::drive(Arc::clone(&clock)));
            Ok((runtime, Clock::Real(clock)))
        }
    }
}

impl Clock {
    /// Time since the simulation started.
    #[inline]
    pub(crate) fn now(&self) -> Duration {
        match self {
            Clock::Virtual(clock) => Duration::from_nanos(clock.now_nanos()),
            Clock::Real(clock) => Duration::from_nanos(clock.now_nanos()),
        }
    }

    /// Waits for `duration` of this clock's time. A zero duration returns at once without
    /// yielding.
    ///
    /// A wait that would end past the clock's range (`u64::MAX` nanoseconds from the start,
    /// about 584 years) halts the run ([`Halt::BeyondRange`]) rather than end at the wrong
    /// time, and never ends.
    #[inline]
    pub(crate) fn sleep(&self, duration: Duration) -> Sleep<'_> {
        if duration.is_zero() {
            if let Clock::Virtual(clock) = self
                && !clock.count_event()
            {
                return Sleep(SleepState::Never);
            }
            return Sleep(SleepState::Done);
        }
        let deadline = self.now().saturating_add(duration);
        if crate::nanos::checked_u64(deadline).is_none_or(|nanos| nanos == u64::MAX) {
            self.halt(Halt::BeyondRange { wait: duration });
            return Sleep(SleepState::Never);
        }
        self.sleep_until(deadline)
    }

    /// Waits until the clock reads `deadline` (time since the start).
    pub(crate) fn sleep_until(&self, deadline: Duration) -> Sleep<'_> {
        Sleep(match self {
            Clock::Virtual(clock) => {
                if clock.count_event() {
                    SleepState::Queued(QueuedSleep::new(&**clock, deadline))
                } else {
                    SleepState::Never
                }
            }
            // Boxed so the (much larger) tokio timer does not inflate every virtual-clock
            // future that contains a sleep.
            Clock::Real(clock) => {
                SleepState::Real(Box::pin(real_clock::sleep_until(clock, deadline)))
            }
        })
    }

    /// Runs `future` for at most `limit` of this clock's time. If the future and the deadline
    /// are ready in the same instant, the future wins.
    #[cfg(test)]
    pub(crate) async fn timeout<F: Future>(
        &self,
        limit: Duration,
        future: F,
    ) -> Result<F::Output, Elapsed> {
        let future = std::pin::pin!(future);
        self.timeout_at(self.now().saturating_add(limit), future)
            .await
    }

    /// Runs `future` until the clock reads `deadline`, which should not have passed (see
    /// [`QueuedSleep::skip_first_check`]). If the future and the deadline are ready in the
    /// same instant, the future wins.
    ///
    /// The future comes pinned (`std::pin::pin!`): [`Timeout`] is then a plain struct around
    /// it, not one more state machine that a call's future is moved into.
    pub(crate) fn timeout_at<'c, 'f, F: Future + ?Sized>(
        &'c self,
        deadline: Duration,
        future: Pin<&'f mut F>,
    ) -> Timeout<'c, Pin<&'f mut F>> {
        Timeout {
            future,
            deadline: self.deadline(deadline),
        }
    }

    /// [`timeout_at`](Self::timeout_at) for a call, timed by the caller's own `timer` if it
    /// has one (see [`CallTimer`]) and it is free. The [`Timeout`] owns the call's future, so
    /// that the future that awaits it holds the call once, not once as its own and again
    /// pinned.
    pub(crate) fn call_timeout_at<'c, F: Future>(
        &'c self,
        deadline: Duration,
        future: F,
        timer: Option<&'c CallTimer>,
    ) -> Timeout<'c, F> {
        let deadline = match (self, timer) {
            (Clock::Real(clock), Some(timer)) => {
                Deadline::Cell(CellDeadline::new(clock, timer, deadline))
            }
            _ => self.deadline(deadline),
        };
        Timeout { future, deadline }
    }

    /// A timer for the calls of one caller (a task making one call at a time: a closed-loop
    /// user, a worker), on the real clock; `None` on the virtual clock, whose timer queue
    /// costs no more.
    pub(crate) fn call_timer(&self) -> Option<CallTimer> {
        match self {
            Clock::Virtual(_) => None,
            Clock::Real(clock) => Some(clock.call_timer()),
        }
    }

    /// A wait until `deadline` like [`sleep_until`](Self::sleep_until), tuned for deadlines that
    /// are usually cancelled (call timeouts). On the real clock it joins a timer queue of our
    /// own instead of registering a tokio timer per call, at the price of millisecond
    /// precision, which is plenty for a timeout.
    fn deadline(&self, deadline: Duration) -> Deadline<'_> {
        match self {
            Clock::Virtual(clock) => Deadline::Virtual(QueuedSleep::new(&**clock, deadline)),
            Clock::Real(clock) => {
                Deadline::Real(QueuedSleep::new(&**clock, deadline).skip_first_check())
            }
        }
    }

    /// Stops the run for `reason` (the first reason given wins).
    pub(crate) fn halt(&self, reason: Halt) {
        match self {
            Clock::Virtual(clock) => clock.halt.halt(reason),
            Clock::Real(clock) => clock.halt.halt(reason),
        }
    }

    /// Resolves once the clock has halted the run, with the reason: on the virtual clock when
    /// it finds the runtime idle with no timer left (nothing can ever happen again) or too
    /// many events at one instant; on either clock for a wait past its range.
    pub(crate) async fn halted(&self) -> Halt {
        match self {
            Clock::Virtual(clock) => clock.halt.halted().await,
            Clock::Real(clock) => clock.halt.halted().await,
        }
    }
}

/// A wait on a [`Clock`], from [`Clock::sleep`] or [`Clock::sleep_until`].
///
/// A plain future rather than an `async fn`: sleeps sit in every hop of every request, and an
/// `async fn` would wrap each in a state machine of its own.
pub(crate) struct Sleep<'a>(SleepState<'a>);

enum SleepState<'a> {
    /// A zero wait: ready at once.
    Done,
    /// A wait past the clock's range, or past the events one instant may hold: the run is
    /// halted, and the wait is never ready.
    Never,
    Queued(QueuedSleep<'a, VirtualClock>),
    Real(Pin<Box<dyn Future<Output = ()> + Send + 'a>>),
}

impl Future for Sleep<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            SleepState::Done => Poll::Ready(()),
            SleepState::Never => Poll::Pending,
            SleepState::Queued(sleep) => Pin::new(sleep).poll(cx),
            SleepState::Real(sleep) => sleep.as_mut().poll(cx),
        }
    }
}

pin_project_lite::pin_project! {
    /// A future raced against a deadline, from [`Clock::timeout_at`] or
    /// [`Clock::call_timeout_at`].
    pub(crate) struct Timeout<'c, F> {
        #[pin]
        future: F,
        deadline: Deadline<'c>,
    }
}

impl<F: Future> Future for Timeout<'_, F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(value) = this.future.poll(cx) {
            return Poll::Ready(Ok(value));
        }
        match Pin::new(this.deadline).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A call's deadline, from [`Clock::deadline`]: a wait in the clock's own timer queue, or
/// on the real clock in the caller's own [`CallTimer`].
enum Deadline<'a> {
    Virtual(QueuedSleep<'a, VirtualClock>),
    Real(QueuedSleep<'a, RealClock>),
    Cell(CellDeadline<'a>),
}

impl Future for Deadline<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut *self {
            Deadline::Virtual(sleep) => Pin::new(sleep).poll(cx),
            Deadline::Real(sleep) => Pin::new(sleep).poll(cx),
            Deadline::Cell(deadline) => deadline.poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime on the virtual clock, and the clock.
    pub(super) fn virtual_runtime() -> (tokio::runtime::Runtime, Clock) {
        let limits = RunLimits {
            events_per_instant: u64::MAX,
        };
        runtime(ClockKind::Virtual, limits).expect("runtime")
    }

    #[test]
    fn a_wait_past_the_clocks_range_halts_the_run() {
        let (runtime, clock) = virtual_runtime();
        runtime.block_on(async {
            clock.sleep(Duration::from_secs(1)).await;
            let never = clock.sleep(Duration::from_nanos(u64::MAX - 1_000_000_000));
            tokio::select! {
                biased;
                halt = clock.halted() => assert_eq!(
                    halt,
                    Halt::BeyondRange { wait: Duration::from_nanos(u64::MAX - 1_000_000_000) }
                ),
                () = never => unreachable!("a wait past the range never ends"),
            }
        });
        // The last instant that can be waited for is one before the range's end.
        let (runtime, clock) = virtual_runtime();
        runtime.block_on(async {
            clock.sleep(Duration::from_nanos(u64::MAX - 1)).await;
            assert_eq!(clock.now(), Duration::from_nanos(u64::MAX - 1));
        });
    }

    #[test]
    fn cancelled_timers_do_not_move_the_clock() {
        let (runtime, clock) = virtual_runtime();
        runtime.block_on(async {
            let result = clock
                .timeout(
                    Duration::from_secs(30),
                    clock.sleep(Duration::from_micros(10)),
                )
                .await;
            assert_eq!(result, Ok(()));
            clock.sleep(Duration::from_micros(5)).await;
            // The 30 s timeout was cancelled: the clock went to 15 us, not 30 s.
            assert_eq!(clock.now(), Duration::from_micros(15));
        });
    }

    #[test]
    fn timeout_fires_at_its_deadline() {
        let (runtime, clock) = virtual_runtime();
        runtime.block_on(async {
            let result = clock
                .timeout(
                    Duration::from_micros(700),
                    clock.sleep(Duration::from_secs(1)),
                )
                .await;
            assert_eq!(result, Err(Elapsed));
            assert_eq!(clock.now(), Duration::from_micros(700));
        });
    }
}
