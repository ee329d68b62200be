//! Timers: the queue of pending deadlines that each clock keeps, and the futures that wait in
//! it.
//!
//! A [`TimerQueue`] orders its timers by `(deadline, insertion order)`, so timers due at the
//! same instant wake in the order they were set; a cancelled timer leaves a stale entry that
//! is skipped (and compacted away once stale entries are most of the queue). A
//! [`QueuedSleep`] is one wait in the queue of a clock, through what [`TimerHost`] gives it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
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

/// One pending timer's place in the order: `(deadline, sequence, slot, generation)`.
type Entry = (u64, u64, u32, u32);

/// Pending timers, in the order `(deadline, sequence)`, plus the slots holding their wakers.
/// A cancelled timer frees its slot; its entry is then stale (generation mismatch) and
/// skipped without moving the clock.
///
/// The entries are in two sorted places: a min-heap, and a *lane*, a queue of timers each
/// due no earlier than the one set before it. A timer goes to the lane when it is due at or
/// after the lane's last one, else to the heap. A run's call timeouts go to the lane: each
/// is set at the current instant plus the same timeout, so they come in order. They are most
/// of the pending timers and nearly all are cancelled, and in the lane each costs a push and
/// a pop at its end instead of two trips through a heap they would fill; the heap is left
/// with the few timers due soon. The earliest timer is whichever of the two fronts comes
/// first, so timers wake in exactly the order one heap would give.
#[derive(Debug, Default)]
pub(super) struct TimerQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    lane: VecDeque<Entry>,
    slots: Vec<TimerSlot>,
    free: Vec<u32>,
    sequence: u64,
    /// Entries of timers cancelled before they fired, in the heap and in the lane.
    stale_in_heap: usize,
    stale_in_lane: usize,
}

#[derive(Debug, Default)]
struct TimerSlot {
    generation: u32,
    in_use: bool,
    /// Whether its entry is in the lane (else in the heap).
    in_lane: bool,
    waker: Option<Waker>,
}

#[derive(Debug, Clone, Copy)]
struct TimerKey {
    slot: u32,
    generation: u32,
}

/// Where the earliest entry is.
#[derive(Clone, Copy)]
enum Front {
    Heap,
    Lane,
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
        // Equal deadlines keep their order in the lane too: the sequence only grows.
        let in_lane = self.lane.back().is_none_or(|&(last, ..)| deadline >= last);
        let entry = &mut self.slots[slot as usize];
        entry.in_use = true;
        entry.in_lane = in_lane;
        entry.waker = Some(waker);
        let generation = entry.generation;
        self.sequence += 1;
        let entry = (deadline, self.sequence, slot, generation);
        if in_lane {
            self.lane.push_back(entry);
        } else {
            self.heap.push(Reverse(entry));
        }
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
            let in_lane = entry.in_lane;
            self.free.push(key.slot);
            if cancelled {
                // Cancelled before it fired: its entry is now stale.
                if in_lane {
                    self.stale_in_lane += 1;
                } else {
                    self.stale_in_heap += 1;
                }
                self.compact_if_mostly_stale();
            }
        }
    }

    /// Drops stale entries once they make up most of the heap, or of the lane. Cancelled call
    /// timeouts (every answered call cancels one) would otherwise pile up for a whole timeout
    /// period, slowing every heap operation and holding memory. Rebuilding costs O(length)
    /// once per length's worth of cancellations.
    fn compact_if_mostly_stale(&mut self) {
        let slots = &self.slots;
        let live = |&(_, _, slot, generation): &Entry| {
            let entry = &slots[slot as usize];
            entry.in_use && entry.generation == generation
        };
        if self.stale_in_heap > 64 && self.stale_in_heap * 2 > self.heap.len() {
            self.heap.retain(|Reverse(entry)| live(entry));
            self.stale_in_heap = 0;
        }
        if self.stale_in_lane > 64 && self.stale_in_lane * 2 > self.lane.len() {
            self.lane.retain(live);
            self.stale_in_lane = 0;
        }
    }

    fn is_live(&self, slot: u32, generation: u32) -> bool {
        let entry = &self.slots[slot as usize];
        entry.in_use && entry.generation == generation
    }

    /// The earliest entry, live or stale, and where it is.
    fn front(&self) -> Option<(Entry, Front)> {
        match (self.heap.peek(), self.lane.front()) {
            (Some(&Reverse(heap)), Some(&lane)) if lane < heap => Some((lane, Front::Lane)),
            (Some(&Reverse(heap)), _) => Some((heap, Front::Heap)),
            (None, Some(&lane)) => Some((lane, Front::Lane)),
            (None, None) => None,
        }
    }

    /// Removes the earliest entry (at `front`); returns whether its timer is live.
    fn pop(&mut self, (_, _, slot, generation): Entry, front: Front) -> bool {
        let live = self.is_live(slot, generation);
        let stale = match front {
            Front::Heap => {
                self.heap.pop();
                &mut self.stale_in_heap
            }
            Front::Lane => {
                self.lane.pop_front();
                &mut self.stale_in_lane
            }
        };
        if !live {
            *stale = stale.saturating_sub(1);
        }
        live
    }

    /// The earliest deadline of an entry, whether its timer is live or was cancelled.
    pub(super) fn earliest_entry(&self) -> Option<u64> {
        self.front().map(|((deadline, ..), _)| deadline)
    }

    /// The earliest deadline of a live timer, dropping stale entries on the way.
    pub(super) fn next_deadline(&mut self) -> Option<u64> {
        while let Some((entry, front)) = self.front() {
            if self.is_live(entry.2, entry.3) {
                return Some(entry.0);
            }
            self.pop(entry, front);
        }
        None
    }

    /// Removes every live timer due at `deadline` and returns their wakers in insertion order.
    pub(super) fn take_due(&mut self, deadline: u64, wakers: &mut DueWakers) {
        while let Some((entry, front)) = self.front() {
            if entry.0 > deadline {
                break;
            }
            if self.pop(entry, front)
                && let Some(waker) = self.slots[entry.2 as usize].waker.take()
            {
                wakers.push(waker);
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::task::{Wake, Waker};

    use proptest::prelude::*;

    use super::{DueWakers, TimerQueue};

    /// A waker that writes its timer's number down when woken.
    struct Named {
        number: usize,
        woken: Arc<Mutex<Vec<usize>>>,
    }

    impl Wake for Named {
        fn wake(self: Arc<Self>) {
            self.woken.lock().unwrap().push(self.number);
        }
    }

    /// Sets a timer at each deadline, cancels those marked, then runs the queue dry the way
    /// the virtual clock does; returns the timers in the order they woke.
    fn wake_order(timers: &[(u64, bool)]) -> Vec<usize> {
        let woken = Arc::new(Mutex::new(Vec::new()));
        let mut queue = TimerQueue::default();
        let keys: Vec<_> = timers
            .iter()
            .enumerate()
            .map(|(number, &(deadline, _))| {
                let waker = Waker::from(Arc::new(Named {
                    number,
                    woken: Arc::clone(&woken),
                }));
                queue.insert(deadline, waker)
            })
            .collect();
        for (key, _) in keys.iter().zip(timers).filter(|(_, (_, cancel))| *cancel) {
            queue.remove(*key);
        }
        let mut previous = 0;
        while let Some(deadline) = queue.next_deadline() {
            assert!(deadline >= previous, "time went back");
            previous = deadline;
            let mut due = DueWakers::default();
            queue.take_due(deadline, &mut due);
            due.wake_all();
        }
        assert_eq!(queue.earliest_entry(), None, "an entry was left behind");
        Arc::try_unwrap(woken).unwrap().into_inner().unwrap()
    }

    /// The order one heap of `(deadline, insertion order)` gives, without the cancelled.
    fn expected_order(timers: &[(u64, bool)]) -> Vec<usize> {
        let mut live: Vec<_> = (0..timers.len()).filter(|&i| !timers[i].1).collect();
        live.sort_by_key(|&i| (timers[i].0, i));
        live
    }

    #[test]
    fn timers_in_the_lane_and_in_the_heap_wake_in_deadline_then_insertion_order() {
        // 50, 50, 70, 70, 70 go to the lane (each at or after the one before); 10, 20 and 60
        // to the heap. Timer 2 (lane) and 4 (heap) are cancelled.
        let timers = [
            (50, false),
            (10, false),
            (50, true),
            (70, false),
            (20, true),
            (70, false),
            (70, false),
            (60, false),
        ];
        assert_eq!(wake_order(&timers), vec![1, 0, 7, 3, 5, 6]);
        assert_eq!(wake_order(&timers), expected_order(&timers));
    }

    #[test]
    fn cancelled_timeouts_are_compacted_out_of_the_lane() {
        let mut queue = TimerQueue::default();
        // Like call timeouts: each later than the one before, nearly all cancelled.
        let keys: Vec<_> = (0..1_000)
            .map(|i| queue.insert(1_000 + i, Waker::noop().clone()))
            .collect();
        for key in &keys[..999] {
            queue.remove(*key);
        }
        assert!(
            queue.lane.len() < 200,
            "{} entries left in the lane for 1 live timer",
            queue.lane.len()
        );
        assert_eq!(queue.next_deadline(), Some(1_999));
    }

    proptest! {
        #[test]
        fn any_timers_wake_in_the_order_one_heap_would_give(
            timers in proptest::collection::vec((0u64..40, proptest::bool::weighted(0.3)), 0..200)
        ) {
            prop_assert_eq!(wake_order(&timers), expected_order(&timers));
        }
    }
}
