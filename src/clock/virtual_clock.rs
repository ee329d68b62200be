//! The virtual clock: simulated time in nanoseconds, which moves only when nothing is left to
//! run at the current instant.
//!
//! The runtime's idle hook calls [`VirtualClock::idle`] when every task is waiting; it jumps
//! simulated time to the earliest deadline in the timer queue and wakes exactly the timers due
//! then, in the order they were set. With no timer left, it reports a stall instead.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::timer::{DueWakers, TimerHost, TimerQueue};

/// Simulated time and the timers waiting on it.
#[derive(Debug, Default)]
pub(crate) struct VirtualClock {
    /// Nanoseconds since the start.
    now: AtomicU64,
    timers: Mutex<TimerQueue>,
    stalled: AtomicBool,
    stall: Notify,
}

impl VirtualClock {
    fn timers(&self) -> MutexGuard<'_, TimerQueue> {
        // A panic while the lock is held cannot leave the queue inconsistent: every method
        // finishes its update before anything that could panic.
        self.timers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called when every task is waiting: advances to the next deadline, or reports a stall
    /// if there is none.
    pub(super) fn idle(&self) {
        if !self.advance_to_next_deadline() {
            self.stalled.store(true, Ordering::Release);
            self.stall.notify_waiters();
        }
    }

    /// Moves simulated time to the earliest deadline and wakes the timers due then, in the
    /// order they were set. Returns whether there was a timer to wake.
    fn advance_to_next_deadline(&self) -> bool {
        let mut due = DueWakers::default();
        {
            let mut timers = self.timers();
            let Some(deadline) = timers.next_deadline() else {
                return false;
            };
            self.now.fetch_max(deadline, Ordering::AcqRel);
            timers.take_due(deadline, &mut due);
        }
        // Woken outside the lock: a wake may drop a finished task, whose timers then take it.
        due.wake_all();
        true
    }

    /// Resolves once [`idle`](Self::idle) has found no timer left: nothing in the simulation
    /// can ever happen again.
    pub(super) async fn stalled(&self) {
        loop {
            let notified = self.stall.notified();
            if self.stalled.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

impl TimerHost for VirtualClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.now.load(Ordering::Acquire)
    }

    fn timers(&self) -> MutexGuard<'_, TimerQueue> {
        VirtualClock::timers(self)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use crate::clock::tests::virtual_runtime;

    #[test]
    fn sub_millisecond_sleeps_are_exact() {
        let (runtime, clock) = virtual_runtime();
        runtime.block_on(async {
            clock.sleep(Duration::from_micros(250)).await;
            assert_eq!(clock.now(), Duration::from_micros(250));
            clock.sleep(Duration::from_nanos(1)).await;
            assert_eq!(clock.now(), Duration::from_nanos(250_001));
            clock.sleep(Duration::ZERO).await;
            assert_eq!(clock.now(), Duration::from_nanos(250_001));
        });
    }

    #[test]
    fn concurrent_sleeps_wake_in_deadline_order() {
        let (runtime, clock) = virtual_runtime();
        runtime.block_on(async {
            let order = Arc::new(Mutex::new(Vec::new()));
            let mut tasks = Vec::new();
            for (name, micros) in [("c", 300), ("a", 100), ("b", 200), ("a2", 100)] {
                let clock = clock.clone();
                let order = Arc::clone(&order);
                tasks.push(tokio::spawn(async move {
                    clock.sleep(Duration::from_micros(micros)).await;
                    order.lock().unwrap().push((name, clock.now()));
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            let order = order.lock().unwrap().clone();
            let us = Duration::from_micros;
            assert_eq!(
                order,
                vec![
                    ("a", us(100)),
                    ("a2", us(100)),
                    ("b", us(200)),
                    ("c", us(300))
                ]
            );
        });
    }

    #[test]
    fn the_clock_waits_for_tasks_that_yield_and_for_wakes_within_the_instant() {
        let (runtime, clock) = virtual_runtime();
        runtime.block_on(async {
            let timer = {
                let clock = clock.clone();
                tokio::spawn(async move {
                    clock.sleep(Duration::from_micros(10)).await;
                    clock.now()
                })
            };
            // Yielding puts a task at the back of the run queue, and a task woken at this
            // instant (through a channel) still belongs to it: neither lets time move on.
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let relay = tokio::spawn(async move {
                let mut seen = 0;
                while rx.recv().await.is_some() {
                    seen += 1;
                }
                seen
            });
            for round in 0..1_000 {
                tokio::task::yield_now().await;
                tx.send(round).expect("the relay is running");
                assert_eq!(
                    clock.now(),
                    Duration::ZERO,
                    "time moved during round {round}"
                );
            }
            drop(tx);
            assert_eq!(relay.await.unwrap(), 1_000);
            assert_eq!(clock.now(), Duration::ZERO);
            assert_eq!(timer.await.unwrap(), Duration::from_micros(10));
        });
    }

    #[test]
    fn a_wait_that_can_never_end_is_reported_as_a_stall() {
        let (runtime, clock) = virtual_runtime();
        runtime.block_on(async {
            let never = std::future::pending::<()>();
            tokio::select! {
                biased;
                _ = never => unreachable!("pending never completes"),
                _ = clock.stalled() => {}
            }
            assert_eq!(clock.now(), Duration::ZERO);
        });
    }
}
