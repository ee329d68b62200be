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
/// The entries are in a *radix heap*, the priority queue of a discrete-event simulation:
/// every timer is set at or after the last deadline taken, so an entry can be filed by the
/// highest bit in which its deadline differs from that one -- bucket `b` holds the deadlines
/// whose highest differing bit is `b - 1` -- and only the lowest non-empty bucket is ever
/// sorted, by moving its entries to lower buckets once the smallest of them is the last
/// deadline. Setting a timer is a push; each entry moves down at most 64 times, and in
/// practice once or twice. The entries due at the last deadline wait in `due_last` in the
/// order they were set, and moving preserves order, so timers due at the same instant wake
/// in the order they were set, as from one heap ordered by `(deadline, sequence)`. A timer
/// set before the last deadline (a deadline already past: the real clock reads its time
/// before it sets one) waits in `overdue`, which comes first.
#[derive(Debug, Default)]
pub(super) struct TimerQueue {
    /// The deadline the buckets are filed against: the last one taken out of them.
    last: u64,
    /// Entries due at `last`, in the order they were set.
    due_last: VecDeque<Entry>,
    /// `buckets[b - 1]` is bucket `b`: deadlines whose highest bit differing from `last` is
    /// bit `b - 1`.
    buckets: Vec<Vec<Entry>>,
    /// Bit `b - 1` set when bucket `b` holds an entry.
    occupied: u64,
    /// Entries due before `last`, as a heap (rarely any).
    overdue: BinaryHeap<Reverse<Entry>>,
    /// Entries in all of the above.
    len: usize,
    slots: Vec<TimerSlot>,
    free: Vec<u32>,
    sequence: u64,
    /// Entries of timers cancelled before they fired.
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
        self.file((deadline, self.sequence, slot, generation));
        self.len += 1;
        TimerKey { slot, generation }
    }

    /// Puts `entry` where its deadline belongs, given `last`.
    #[inline]
    fn file(&mut self, entry: Entry) {
        let deadline = entry.0;
        if deadline == self.last {
            self.due_last.push_back(entry);
        } else if deadline > self.last {
            // 1 to 64: the position of the highest bit in which they differ, from 1.
            let bucket = (u64::BITS - (deadline ^ self.last).leading_zeros()) as usize;
            if self.buckets.len() < bucket {
                self.buckets.resize_with(bucket, Vec::new);
            }
            self.buckets[bucket - 1].push(entry);
            self.occupied |= 1 << (bucket - 1);
        } else {
            self.overdue.push(Reverse(entry));
        }
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
                // Cancelled before it fired: its entry is now stale.
                self.stale += 1;
                self.compact_if_mostly_stale();
            }
        }
    }

    /// Drops stale entries once they make up most of the queue. Cancelled call timeouts
    /// (every answered call cancels one) would otherwise pile up for a whole timeout period
    /// and hold memory. Filtering costs O(length) once per length's worth of cancellations,
    /// and keeps every bucket's order.
    fn compact_if_mostly_stale(&mut self) {
        if self.stale > 64 && self.stale * 2 > self.len {
            let slots = &self.slots;
            let live = |&(_, _, slot, generation): &Entry| {
                let entry = &slots[slot as usize];
                entry.in_use && entry.generation == generation
            };
            self.due_last.retain(live);
            self.overdue.retain(|Reverse(entry)| live(entry));
            let mut occupied = 0;
            for (index, bucket) in self.buckets.iter_mut().enumerate() {
                bucket.retain(live);
                if !bucket.is_empty() {
                    occupied |= 1 << index;
                }
            }
            self.occupied = occupied;
            self.len = self.due_last.len()
                + self.overdue.len()
                + self.buckets.iter().map(Vec::len).sum::<usize>();
            self.stale = 0;
        }
    }

    fn is_live(&self, slot: u32, generation: u32) -> bool {
        let entry = &self.slots[slot as usize];
        entry.in_use && entry.generation == generation
    }

    /// The earliest entry, live or stale: first the overdue, then those due at `last`; when
    /// there are none, the lowest non-empty bucket's smallest deadline becomes `last` and its
    /// entries move down (in order, so those due then end in `due_last` in the order they
    /// were set).
    fn front(&mut self) -> Option<Entry> {
        if let Some(&Reverse(entry)) = self.overdue.peek() {
            return Some(entry);
        }
        if self.due_last.is_empty() {
            if self.occupied == 0 {
                return None;
            }
            let index = self.occupied.trailing_zeros() as usize;
            self.occupied &= !(1 << index);
            let mut bucket = std::mem::take(&mut self.buckets[index]);
            self.last = bucket
                .iter()
                .map(|&(deadline, ..)| deadline)
                .min()
                .expect("an occupied bucket has an entry");
            // Every entry moves to a lower bucket (or to `due_last`): all of them agree
            // with the new `last` above the bucket's bit.
            for entry in bucket.drain(..) {
                self.file(entry);
            }
            // Its capacity kept for the next entries.
            self.buckets[index] = bucket;
        }
        self.due_last.front().copied()
    }

    /// Removes `entry`, the earliest (just returned by `front`); returns whether its timer
    /// is live.
    fn pop(&mut self, (deadline, _, slot, generation): Entry) -> bool {
        if deadline < self.last {
            self.overdue.pop();
        } else {
            self.due_last.pop_front();
        }
        self.len -= 1;
        let live = self.is_live(slot, generation);
        if !live {
            self.stale = self.stale.saturating_sub(1);
        }
        live
    }

    /// The earliest deadline of an entry, whether its timer is live or was cancelled.
    pub(super) fn earliest_entry(&mut self) -> Option<u64> {
        self.front().map(|(deadline, ..)| deadline)
    }

    /// The earliest deadline of a live timer, dropping stale entries on the way.
    pub(super) fn next_deadline(&mut self) -> Option<u64> {
        while let Some(entry) = self.front() {
            if self.is_live(entry.2, entry.3) {
                return Some(entry.0);
            }
            self.pop(entry);
        }
        None
    }

    /// Removes every live timer due at `deadline` and returns their wakers in insertion order.
    pub(super) fn take_due(&mut self, deadline: u64, wakers: &mut DueWakers) {
        while let Some(entry) = self.front() {
            if entry.0 > deadline {
                break;
            }
            if self.pop(entry)
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
    fn timers_wake_in_deadline_then_insertion_order_as_the_buckets_are_sorted() {
        // Deadlines apart in high and low bits, repeated, some set after time has moved on
        // (as the virtual clock does), timer 2 and timer 5 cancelled.
        let timers = [
            (1 << 40, false),
            (7, false),
            (1 << 40, true),
            (7, false),
            (1 << 20, false),
            (8, true),
            ((1 << 40) + 1, false),
            (1 << 20, false),
        ];
        assert_eq!(wake_order(&timers), vec![1, 3, 4, 7, 0, 6]);
        assert_eq!(wake_order(&timers), expected_order(&timers));
    }

    #[test]
    fn timers_set_as_time_moves_on_wake_in_order_and_past_deadlines_first() {
        let woken = Arc::new(Mutex::new(Vec::new()));
        let waker = |number| {
            Waker::from(Arc::new(Named {
                number,
                woken: Arc::clone(&woken),
            }))
        };
        let mut queue = TimerQueue::default();
        queue.insert(100, waker(0));
        queue.insert(300, waker(1));
        let mut due = DueWakers::default();
        assert_eq!(queue.next_deadline(), Some(100));
        queue.take_due(100, &mut due);
        due.wake_all();
        // Set after the clock reached 100: one due at 100 (now), one already past (as the
        // real clock may set), and two later ones, one tied with timer 1.
        queue.insert(300, waker(2));
        queue.insert(100, waker(3));
        queue.insert(50, waker(4));
        queue.insert(200, waker(5));
        while let Some(deadline) = queue.next_deadline() {
            queue.take_due(deadline, &mut due);
            due.wake_all();
        }
        assert_eq!(*woken.lock().unwrap(), vec![0, 4, 3, 5, 1, 2]);
    }

    #[test]
    fn cancelled_timeouts_are_compacted_away() {
        let mut queue = TimerQueue::default();
        // Like call timeouts: each later than the one before, nearly all cancelled.
        let keys: Vec<_> = (0..1_000)
            .map(|i| queue.insert(1_000 + i, Waker::noop().clone()))
            .collect();
        for key in &keys[..999] {
            queue.remove(*key);
        }
        let held: usize = queue.buckets.iter().map(Vec::len).sum();
        assert!(held < 200, "{held} entries left for 1 live timer");
        assert_eq!(queue.next_deadline(), Some(1_999));
    }

    /// One step of a run: set a timer `offset` from now (some before it, as the real clock
    /// may), cancel the `n`-th timer set (if it still waits), or let time move to the next
    /// deadline and wake what is due.
    #[derive(Debug, Clone)]
    enum Step {
        Set(i64),
        Cancel(usize),
        Advance,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (-3i64..40).prop_map(Step::Set),
            1 => (0usize..64).prop_map(Step::Cancel),
            2 => Just(Step::Advance),
        ]
    }

    /// The timers woken at each instant, in order.
    type Wakes = Vec<(u64, Vec<usize>)>;

    /// Runs `steps` on a queue and on a plain list sorted by `(deadline, insertion order)`;
    /// returns what each woke.
    fn run_both(steps: &[Step]) -> (Wakes, Wakes) {
        let woken = Arc::new(Mutex::new(Vec::new()));
        let mut queue = TimerQueue::default();
        let mut keys = Vec::new();
        // The model: (deadline, number) of each timer still waiting.
        let mut waiting: Vec<(u64, usize)> = Vec::new();
        let (mut now, mut got, mut want) = (0u64, Vec::new(), Vec::new());
        let mut advance =
            |queue: &mut TimerQueue, waiting: &mut Vec<(u64, usize)>, now: &mut u64| {
                let Some(deadline) = queue.next_deadline() else {
                    assert!(waiting.is_empty(), "the queue lost {waiting:?}");
                    return;
                };
                *now = (*now).max(deadline);
                let mut due = DueWakers::default();
                queue.take_due(deadline, &mut due);
                due.wake_all();
                got.push((deadline, std::mem::take(&mut *woken.lock().unwrap())));
                waiting.sort();
                let earliest = waiting[0].0;
                let split = waiting.partition_point(|&(at, _)| at <= earliest);
                want.push((earliest, waiting.drain(..split).map(|(_, n)| n).collect()));
            };
        for step in steps {
            match *step {
                Step::Set(offset) => {
                    let deadline = now.saturating_add_signed(offset);
                    let number = keys.len();
                    let waker = Waker::from(Arc::new(Named {
                        number,
                        woken: Arc::clone(&woken),
                    }));
                    keys.push(queue.insert(deadline, waker));
                    waiting.push((deadline, number));
                }
                Step::Cancel(n) => {
                    if let Some(&key) = keys.get(n) {
                        queue.remove(key);
                        waiting.retain(|&(_, number)| number != n);
                    }
                }
                Step::Advance => advance(&mut queue, &mut waiting, &mut now),
            }
        }
        while queue.earliest_entry().is_some() || !waiting.is_empty() {
            advance(&mut queue, &mut waiting, &mut now);
        }
        (got, want)
    }

    proptest! {
        #[test]
        fn timers_set_while_time_moves_wake_as_a_sorted_list_would(
            steps in proptest::collection::vec(step(), 0..300)
        ) {
            let (got, want) = run_both(&steps);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn any_timers_wake_in_the_order_one_heap_would_give(
            timers in proptest::collection::vec((0u64..40, proptest::bool::weighted(0.3)), 0..200)
        ) {
            prop_assert_eq!(wake_order(&timers), expected_order(&timers));
        }
    }
}
