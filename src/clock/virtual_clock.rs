//! The virtual clock: simulated time in nanoseconds, which moves only when nothing is left to
//! run at the current instant.
//!
//! The runtime's idle hook calls [`VirtualClock::idle`] when every task is waiting; it jumps
//! simulated time to the earliest deadline in the timer queue and wakes exactly the timers due
//! then, in the order they were set. With no timer left, it reports a stall instead.
//!
//! It also counts the waits that begin at the current instant: a model that loops without
//! taking time (a closed workload with no think time against a service that takes none)
//! would otherwise run forever at one instant, since time never has to move. Past
//! [`RunLimits::events_per_instant`] such waits the clock halts the run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::RunLimits;
use super::halt::{Halt, HaltCell};
use super::timer::{DueWakers, TimerHost, TimerQueue};

/// Simulated time and the timers waiting on it.
#[derive(Debug)]
pub(crate) struct VirtualClock {
    /// Nanoseconds since the start.
    now: AtomicU64,
    timers: Mutex<TimerQueue>,
    /// Waits begun at the current instant.
    events_now: AtomicU64,
    limits: RunLimits,
    pub(super) halt: HaltCell,
}

impl VirtualClock {
    pub(super) fn new(limits: RunLimits) -> Self {
        VirtualClock {
            now: AtomicU64::new(0),
            timers: Mutex::default(),
            events_now: AtomicU64::new(0),
            limits,
            halt: HaltCell::default(),
        }
    }

    /// One more wait begins at the current instant; returns whether it may (the limit is not
    /// reached). A load and a store rather than an atomic add: the runtime has one thread,
    /// and a count that missed one would still halt.
    ///
    /// Past the limit every wait at this instant never ends: a loop of zero waits runs
    /// inside one poll of one task without ever yielding, so the run can only see the halt
    /// once that task stops.
    #[inline]
    pub(super) fn count_event(&self) -> bool {
        let events = self.events_now.load(Ordering::Relaxed) + 1;
        self.events_now.store(events, Ordering::Relaxed);
        if events < self.limits.events_per_instant {
            return true;
        }
        self.halt.halt(Halt::NoProgress {
            events: self.limits.events_per_instant,
        });
        false
    }

    fn timers(&self) -> MutexGuard<'_, TimerQueue> {
        // A panic while the lock is held cannot leave the queue inconsistent: every method
        // finishes its update before anything that could panic.
        self.timers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called when every task is waiting: advances to the next deadline, or reports a stall
    /// if there is none.
    pub(super) fn idle(&self) {
        if self.halt.is_halted() {
            // Time stays where the run stopped.
            return;
        }
        if !self.advance_to_next_deadline() {
            self.halt.halt(Halt::Stalled);
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
            if self.now.fetch_max(deadline, Ordering::AcqRel) < deadline {
                self.events_now.store(0, Ordering::Relaxed);
            }
            timers.take_due(deadline, &mut due);
        }
        // Woken outside the lock: a wake may drop a finished task, whose timers then take it.
        due.wake_all();
        true
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

    use crate::clock::halt::Halt;
    use crate::clock::tests::virtual_runtime;
    use crate::clock::{ClockKind, RunLimits, runtime};

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
                halt = clock.halted() => assert_eq!(halt, Halt::Stalled),
            }
            assert_eq!(clock.now(), Duration::ZERO);
        });
    }

    #[test]
    fn a_loop_that_takes_no_time_halts_at_the_limit_and_time_moving_resets_the_count() {
        let limits = RunLimits {
            events_per_instant: 1_000,
        };
        let (runtime, clock) = runtime(ClockKind::Virtual, limits).expect("runtime");
        runtime.block_on(async {
            // 999 waits at 0 (the last a wait of 1 ns), then time moves: the count starts again.
            for _ in 0..998 {
                clock.sleep(Duration::ZERO).await;
            }
            clock.sleep(Duration::from_nanos(1)).await;
            let looping = async {
                let mut waits = 0_u64;
                loop {
                    clock.sleep(Duration::ZERO).await;
                    tokio::task::yield_now().await;
                    waits += 1;
                    assert!(waits < 1_000, "not halted after {waits} waits");
                }
            };
            tokio::select! {
                biased;
                halt = clock.halted() => assert_eq!(halt, Halt::NoProgress { events: 1_000 }),
                () = looping => unreachable!(),
            }
            assert_eq!(clock.now(), Duration::from_nanos(1));
        });
    }
}
