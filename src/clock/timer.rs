//! Timers: the queue of pending deadlines that each clock keeps, and the futures that wait in
//! it.
//!
//! A [`TimerQueue`] orders its timers by `(deadline, insertion order)`, so timers due at the
//! same instant wake in the order they were set; a cancelled timer leaves a stale heap entry
//! that is skipped (and compacted away once stale entries are most of the heap). A
//! [`QueuedSleep`] is one wait in the queue of a clock, through what [`TimerHost`] gives it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::MutexGuard;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// What a [`QueuedSleep`] needs from its clock.
pub(super) trait TimerHost: Send + Sync + 'static {
    fn now_nanos(&self) -> u64;
    fn timers(&self) -> MutexGuard<'_, TimerQueue>;
    /// Called after a timer was inserted (the lock released).
    fn inserted(&self, _deadline: u64) {}
}

/// The wakers of the timers due at one instant, in the order they were set. Most instants wake
/// one timer: it is kept apart, and a list is allocated only for the others.
#[derive(Default)]
pub(super) struct DueWakers {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl DueWakers {
    fn push(&mut self, waker: Waker) {
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    pub(super) fn wake_all(&mut self) {
        if let Some(waker) = self.first.take() {
            waker.wake();
        }
        for waker in self.rest.drain(..) {
            waker.wake();
        }
    }
}

/// Pending timers: a min-heap of `(deadline, sequence, slot, generation)` plus the slots
/// holding their wakers. A cancelled timer frees its slot; its heap entry is then stale
/// (generation mismatch) and skipped without moving the clock.
#[derive(Debug, Default)]
pub(super) struct TimerQueue {
    heap: BinaryHeap<Reverse<(u64, u64, u32, u32)>>,
    slots: Vec<TimerSlot>,
    free: Vec<u32>,
    sequence: u64,
    /// Heap entries of timers cancelled before they fired.
    stale: usize,
}

#[derive(Debug, Default)]
struct TimerSlot {
    generation: u32,
    in_use: bool,
    waker: Option<Waker>,
}

#[derive(Debug, Clone, Copy)]
struct TimerKey {
    slot: u32,
    generation: u32,
}

impl TimerQueue {
    fn insert(&mut self, deadline: u64, waker: Waker) -> TimerKey {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(TimerSlot::default());
                u32::try_from(self.slots.len() - 1).expect("more than 4 billion pending timers")
            }
        };
        let entry = &mut self.slots[slot as usize];
        entry.in_use = true;
        entry.waker = Some(waker);
        let generation = entry.generation;
        self.sequence += 1;
        self.heap
            .push(Reverse((deadline, self.sequence, slot, generation)));
        TimerKey { slot, generation }
    }

    fn update_waker(&mut self, key: TimerKey, waker: &Waker) {
        let entry = &mut self.slots[key.slot as usize];
        if entry.generation == key.generation {
            match &entry.waker {
                Some(current) if current.will_wake(waker) => {}
                _ => entry.waker = Some(waker.clone()),
            }
        }
    }

    fn remove(&mut self, key: TimerKey) {
        let entry = &mut self.slots[key.slot as usize];
        if entry.generation == key.generation && entry.in_use {
            entry.in_use = false;
            entry.generation = entry.generation.wrapping_add(1);
            let cancelled = entry.waker.take().is_some();
            self.free.push(key.slot);
            if cancelled {
                // Cancelled before it fired: its heap entry is now stale.
                self.stale += 1;
                self.compact_if_mostly_stale();
            }
        }
    }

    /// Drops stale entries once they make up most of the heap. Cancelled call timeouts (every
    /// answered call cancels one) would otherwise pile up for a whole timeout period and slow
    /// every heap operation. Rebuilding costs O(heap) once per heap-size cancellations.
    fn compact_if_mostly_stale(&mut self) {
        if self.stale > 64 && self.stale * 2 > self.heap.len() {
            let slots = &self.slots;
            self.heap.retain(|&Reverse((_, _, slot, generation))| {
                let entry = &slots[slot as usize];
                entry.in_use && entry.generation == generation
            });
            self.stale = 0;
        }
    }

    fn is_live(&self, slot: u32, generation: u32) -> bool {
        let entry = &self.slots[slot as usize];
        entry.in_use && entry.generation == generation
    }

    /// The earliest deadline in the heap, whether its timer is live or was cancelled.
    pub(super) fn earliest_entry(&self) -> Option<u64> {
        self.heap.peek().map(|&Reverse((deadline, ..))| deadline)
    }

    /// The earliest deadline of a live timer, dropping stale entries on the way.
    pub(super) fn next_deadline(&mut self) -> Option<u64> {
        while let Some(&Reverse((deadline, _, slot, generation))) = self.heap.peek() {
            if self.is_live(slot, generation) {
                return Some(deadline);
            }
            self.heap.pop();
            self.stale = self.stale.saturating_sub(1);
        }
        None
    }

    /// Removes every live timer due at `deadline` and returns their wakers in insertion order.
    pub(super) fn take_due(&mut self, deadline: u64, wakers: &mut DueWakers) {
        while let Some(&Reverse((due, _, slot, generation))) = self.heap.peek() {
            if due > deadline {
                break;
            }
            self.heap.pop();
            if self.is_live(slot, generation) {
                if let Some(waker) = self.slots[slot as usize].waker.take() {
                    wakers.push(waker);
                }
            } else {
                self.stale = self.stale.saturating_sub(1);
            }
        }
    }
}

/// A wait in a clock's timer queue.
pub(super) struct QueuedSleep<'a, H: TimerHost> {
    clock: &'a H,
    deadline: u64,
    timer: Option<TimerKey>,
    /// Skip reading the clock on the first poll: the caller knows the deadline is ahead (a
    /// call's deadline, just computed from a clock reading). If it has passed after all, the
    /// timer fires at once. On the real clock a reading is a system call.
    unchecked: bool,
}

impl<'a, H: TimerHost> QueuedSleep<'a, H> {
    pub(super) fn new(clock: &'a H, deadline: Duration) -> Self {
        QueuedSleep {
            clock,
            deadline: crate::nanos::saturating_u64(deadline),
            timer: None,
            unchecked: false,
        }
    }

    pub(super) fn skip_first_check(mut self) -> Self {
        self.unchecked = true;
        self
    }
}

impl<H: TimerHost> Future for QueuedSleep<'_, H> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let first = this.timer.is_none();
        if !(first && this.unchecked) && this.clock.now_nanos() >= this.deadline {
            if let Some(key) = this.timer.take() {
                this.clock.timers().remove(key);
            }
            return Poll::Ready(());
        }
        match this.timer {
            Some(key) => this.clock.timers().update_waker(key, cx.waker()),
            None => {
                let key = this
                    .clock
                    .timers()
                    .insert(this.deadline, cx.waker().clone());
                this.timer = Some(key);
                this.clock.inserted(this.deadline);
            }
        }
        Poll::Pending
    }
}

impl<H: TimerHost> Drop for QueuedSleep<'_, H> {
    fn drop(&mut self) {
        if let Some(key) = self.timer.take() {
            self.clock.timers().remove(key);
        }
    }
}
