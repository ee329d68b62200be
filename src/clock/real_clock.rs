//! The real clock: the wall clock, read from the CPU's time-stamp counter.
//!
//! Sleeps use tokio's timer for whole milliseconds and yield for the rest
//! ([`sleep_until`]). Call timeouts, which are nearly always cancelled, wait in a timer queue
//! of the clock's own or in the caller's [`CallTimer`] instead; a driver task ([`drive`])
//! sleeps until the earliest of their deadlines and wakes what is due.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::call_timer::{CALL_TIMER_TICK, CallTimer, CallTimerCell};
use super::timer::{DueWakers, TimerHost, TimerQueue};

/// The wall clock, with a timer queue for call timeouts (see
/// [`Clock::deadline`](super::Clock::deadline)).
///
/// It is read from the CPU's time-stamp counter through `quanta` (calibrated against the
/// operating system's monotonic clock once per process, and the monotonic clock itself where
/// the counter is not reliable): a request reads the clock several times, and on virtual
/// machines `clock_gettime` costs about 60 ns against 20 ns. Waits use tokio's timer, whose
/// clock starts at `origin`, the same instant as `start`.
#[derive(Debug)]
pub(crate) struct RealClock {
    counter: quanta::Clock,
    /// The counter's raw reading at the start.
    start: u64,
    origin: tokio::time::Instant,
    timers: Mutex<TimerQueue>,
    /// The deadline (ns since the origin) the driver is sleeping until; `u64::MAX` if none.
    armed: AtomicU64,
    rearm: Notify,
    /// The callers' own call timers ([`CallTimer`]), which the driver checks every tick.
    call_timers: Mutex<Vec<Weak<CallTimerCell>>>,
    pub(super) halt: super::halt::HaltCell,
}

impl RealClock {
    /// A clock that reads zero now.
    pub(super) fn new() -> Self {
        let counter = quanta::Clock::new();
        RealClock {
            start: counter.raw(),
            counter,
            origin: tokio::time::Instant::now(),
            timers: Mutex::default(),
            armed: AtomicU64::new(u64::MAX),
            rearm: Notify::new(),
            call_timers: Mutex::default(),
            halt: super::halt::HaltCell::default(),
        }
    }

    /// A new [`CallTimer`], which the driver checks every [`CALL_TIMER_TICK`] from now on.
    pub(super) fn call_timer(&self) -> CallTimer {
        let timer = CallTimer::new();
        let mut timers = self
            .call_timers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let first = timers.is_empty();
        timers.push(timer.cell());
        drop(timers);
        if first {
            // The driver starts ticking.
            self.rearm.notify_one();
        }
        timer
    }
}

impl TimerHost for RealClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.counter.delta_as_nanos(self.start, self.counter.raw())
    }

    fn timers(&self) -> MutexGuard<'_, TimerQueue> {
        self.timers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn inserted(&self, deadline: u64) {
        if deadline < self.armed.load(Ordering::Acquire) {
            self.rearm.notify_one();
        }
    }
}

/// Sleeps on the wall clock with sub-millisecond precision: tokio's timer for the whole
/// milliseconds, then cooperative yielding until the clock reads `deadline`.
pub(super) async fn sleep_until(clock: &RealClock, deadline: Duration) {
    const TIMER_RESOLUTION: Duration = Duration::from_millis(1);
    let deadline = crate::nanos::saturating_u64(deadline);
    let resolution = crate::nanos::saturating_u64(TIMER_RESOLUTION);
    if deadline > clock.now_nanos().saturating_add(resolution) {
        let wake = Duration::from_nanos(deadline - resolution);
        tokio::time::sleep_until(clock.origin + wake).await;
    }
    while clock.now_nanos() < deadline {
        tokio::task::yield_now().await;
    }
}

/// The real clock's timer driver: sleeps on a tokio timer until the earliest deadline, wakes
/// what is due, and is re-armed when an earlier deadline arrives.
pub(super) async fn drive(clock: Arc<RealClock>) {
    let mut wakers = DueWakers::default();
    loop {
        let next = {
            // The callers' own timers: wake those whose call is overdue, and tick while any
            // caller has one.
            let tick = {
                let now = clock.now_nanos();
                let mut call_timers = clock
                    .call_timers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                call_timers.retain(|cell| match cell.upgrade() {
                    Some(cell) => {
                        cell.wake_if_due(now);
                        true
                    }
                    None => false,
                });
                (!call_timers.is_empty())
                    .then(|| now.saturating_add(crate::nanos::saturating_u64(CALL_TIMER_TICK)))
            };
            let mut timers = clock.timers.lock().unwrap_or_else(PoisonError::into_inner);
            timers.take_due(clock.now_nanos(), &mut wakers);
            // Armed at the earliest entry even if that timer was cancelled since: waking for
            // nothing once per timeout period is cheaper than what disarming costs. A disarmed
            // driver must be woken by the next timer set, and a call cancels its timeout
            // before the next call sets one: back-to-back calls would wake it every time.
            let next = match (timers.earliest_entry(), tick) {
                (Some(entry), Some(tick)) => Some(entry.min(tick)),
                (entry, tick) => entry.or(tick),
            };
            // Stored under the lock: a timer set after it sees what the driver sleeps until.
            clock
                .armed
                .store(next.unwrap_or(u64::MAX), Ordering::Release);
            next
        };
        wakers.wake_all();
        match next {
            Some(deadline) => {
                let sleep = tokio::time::sleep_until(clock.origin + Duration::from_nanos(deadline));
                tokio::select! {
                    biased;
                    () = sleep => {}
                    () = clock.rearm.notified() => {}
                }
            }
            None => clock.rearm.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::clock::{ClockKind, runtime};

    #[test]
    fn real_clock_sleeps_at_least_the_duration() {
        let limits = super::super::RunLimits {
            events_per_instant: u64::MAX,
        };
        let (runtime, clock) = runtime(ClockKind::Real, limits).expect("runtime");
        runtime.block_on(async {
            let before = clock.now();
            clock.sleep(Duration::from_micros(300)).await;
            assert!(clock.now() - before >= Duration::from_micros(300));
        });
    }
}
