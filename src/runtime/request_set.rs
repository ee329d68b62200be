//! The open-loop generator's requests in flight: a set of futures, each polled when woken, in
//! the order woken.
//!
//! `futures_util`'s `FuturesUnordered` does this job with one allocation per future (its task
//! node, the future inside it: 504 bytes for a request), moving each future twice to get it
//! there, and re-registering its owner's waker every time it is asked for the next output.
//! It also yields to the scheduler after polling as many futures as it holds, which with one
//! request in flight (an M/M/1 queue, most of the time) is after every new request: its owner
//! then runs once more for nothing. Here a slot keeps its waker from one request to the next,
//! and its box too while few free slots have one ([`SPARE_BOXES`]), so a request costs no
//! allocation in a steady run, and a burst's memory is given back after it;
//! the owner's waker is replaced only when it changes; and the set yields only to a future
//! that keeps waking itself (tokio's cooperative budget does that when it runs out), which
//! would otherwise be polled again and again.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// How many free slots keep their box for the next future. The rest give theirs back, so that
/// a burst of requests in flight (a staged workload's peak) does not hold its memory, 440
/// bytes a request, until the workload ends; the generator rarely needs more spare boxes
/// than this at once.
const SPARE_BOXES: usize = 256;

/// Futures run to completion, each polled when it is woken.
pub(crate) struct RequestSet<F> {
    slots: Vec<Slot<F>>,
    /// Slots whose future has ended and that are not queued.
    free: Vec<usize>,
    /// Free slots that kept their box.
    spare: usize,
    ready: Arc<Ready>,
    /// Futures not yet ended.
    len: usize,
}

struct Slot<F> {
    /// Where the slot's future lives: `None` inside once it has ended; no box at all for a
    /// free slot that gave it back.
    future: Option<Pin<Box<Option<F>>>>,
    waker: Waker,
    /// In `free`.
    free: bool,
}

/// Which slots were woken, shared with their wakers.
#[derive(Default)]
struct Ready(Mutex<ReadyState>);

#[derive(Default)]
struct ReadyState {
    /// Woken slots, in the order woken.
    queue: VecDeque<usize>,
    /// Whether each slot is in `queue`.
    queued: Vec<bool>,
    /// The set's owner, to wake when a slot is queued; taken then.
    owner: Option<Waker>,
}

impl Ready {
    fn lock(&self) -> MutexGuard<'_, ReadyState> {
        // Every update under this lock completes before anything that can panic.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `slot` unless it is queued already; returns the owner's waker to wake, if it
    /// has not been woken since it last polled.
    fn queue(&self, slot: usize) -> Option<Waker> {
        let mut state = self.lock();
        if std::mem::replace(&mut state.queued[slot], true) {
            return None;
        }
        state.queue.push_back(slot);
        state.owner.take()
    }
}

/// The waker of one slot.
struct SlotWaker {
    slot: usize,
    ready: Arc<Ready>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Woken outside the lock: the owner's waker may run code of its own.
        if let Some(owner) = self.ready.queue(self.slot) {
            owner.wake();
        }
    }
}

impl<F: Future> RequestSet<F> {
    pub(crate) fn new() -> Self {
        RequestSet {
            slots: Vec::new(),
            free: Vec::new(),
            spare: 0,
            ready: Arc::default(),
            len: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `future`, to be polled at the next [`poll_next`](Self::poll_next) (after those
    /// woken before it).
    pub(crate) fn push(&mut self, future: F) {
        let slot = match self.free.pop() {
            Some(slot) => {
                let reused = &mut self.slots[slot];
                reused.free = false;
                match &mut reused.future {
                    Some(kept) => {
                        kept.set(Some(future));
                        self.spare -= 1;
                    }
                    None => reused.future = Some(Box::pin(Some(future))),
                }
                slot
            }
            None => {
                let slot = self.slots.len();
                self.ready.lock().queued.push(false);
                self.slots.push(Slot {
                    future: Some(Box::pin(Some(future))),
                    waker: Waker::from(Arc::new(SlotWaker {
                        slot,
                        ready: Arc::clone(&self.ready),
                    })),
                    free: false,
                });
                slot
            }
        };
        self.len += 1;
        // Queued without waking the owner: it is the one pushing, and polls next. (A slot
        // woken spuriously while free is queued already.)
        let mut state = self.ready.lock();
        if !std::mem::replace(&mut state.queued[slot], true) {
            state.queue.push_back(slot);
        }
    }

    /// Puts `slot`, whose future has ended, in the free list (once), keeping its box if few
    /// free slots have one.
    fn release(&mut self, slot: usize) {
        let released = &mut self.slots[slot];
        if std::mem::replace(&mut released.free, true) {
            return;
        }
        if released.future.is_some() {
            if self.spare < SPARE_BOXES {
                self.spare += 1;
            } else {
                released.future = None;
            }
        }
        self.free.push(slot);
    }

    /// Polls the woken futures in the order woken until one ends, and returns its output;
    /// `Ready(None)` when the set is empty, `Pending` when no woken future is left (the owner
    /// is woken when one is).
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        {
            let mut state = self.ready.lock();
            if !state
                .owner
                .as_ref()
                .is_some_and(|owner| owner.will_wake(cx.waker()))
            {
                state.owner = Some(cx.waker().clone());
            }
        }
        // Futures that woke themselves as they were polled.
        let mut yielded = 0;
        loop {
            let slot = {
                let mut state = self.ready.lock();
                let Some(slot) = state.queue.pop_front() else {
                    return if self.len == 0 {
                        Poll::Ready(None)
                    } else {
                        Poll::Pending
                    };
                };
                state.queued[slot] = false;
                slot
            };
            let Slot { future, waker, .. } = &mut self.slots[slot];
            // A slot whose future ended while it was queued (woken as it ended, or spuriously
            // since) is freed when it comes up.
            let Some(running) = future.as_mut().and_then(|kept| kept.as_mut().as_pin_mut()) else {
                self.release(slot);
                continue;
            };
            match running.poll(&mut Context::from_waker(waker)) {
                Poll::Ready(output) => {
                    if let Some(kept) = future {
                        kept.set(None);
                    }
                    self.len -= 1;
                    let queued = self.ready.lock().queued[slot];
                    if !queued {
                        self.release(slot);
                    }
                    return Poll::Ready(Some(output));
                }
                Poll::Pending => {
                    if self.ready.lock().queued[slot] {
                        yielded += 1;
                        if yielded >= 2 {
                            // The owner was woken by that future's own wake (the first since
                            // the owner registered): it comes back after the others have run.
                            return Poll::Pending;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Wake, Waker};

    use super::{RequestSet, SPARE_BOXES};

    /// Counts the times the set's owner is woken.
    #[derive(Default)]
    struct Owner(AtomicUsize);

    impl Wake for Owner {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A future that ends with its number once its gate is opened, keeping the last waker it
    /// was polled with (as a timer or a channel would).
    struct Gate {
        open: bool,
        waker: Option<Waker>,
    }

    type Gates = Arc<Mutex<Vec<Gate>>>;

    fn gated(gates: &Gates, number: usize) -> impl Future<Output = usize> + use<> {
        gates.lock().unwrap().push(Gate {
            open: false,
            waker: None,
        });
        let gates = Arc::clone(gates);
        std::future::poll_fn(move |cx| {
            let mut gates = gates.lock().unwrap();
            let gate = &mut gates[number];
            if gate.open {
                return Poll::Ready(number);
            }
            gate.waker = Some(cx.waker().clone());
            Poll::Pending
        })
    }

    /// Opens gate `number` and wakes its future.
    fn open(gates: &Gates, number: usize) {
        let waker = {
            let mut gates = gates.lock().unwrap();
            gates[number].open = true;
            gates[number].waker.clone()
        };
        waker.expect("polled once").wake();
    }

    fn drain<F: Future>(set: &mut RequestSet<F>, cx: &mut Context<'_>) -> Vec<F::Output> {
        let mut outputs = Vec::new();
        while let Poll::Ready(Some(output)) = set.poll_next(cx) {
            outputs.push(output);
        }
        outputs
    }

    #[test]
    fn futures_end_in_the_order_woken_and_their_slots_are_reused() {
        let owner = Arc::new(Owner::default());
        let waker = Waker::from(Arc::clone(&owner));
        let mut cx = Context::from_waker(&waker);
        let gates = Gates::default();
        let mut set = RequestSet::new();
        for number in 0..3 {
            set.push(gated(&gates, number));
        }
        assert_eq!(drain(&mut set, &mut cx), Vec::<usize>::new());
        assert_eq!(
            owner.0.load(Ordering::Relaxed),
            0,
            "pushing does not wake the owner"
        );
        open(&gates, 2);
        open(&gates, 0);
        assert_eq!(
            owner.0.load(Ordering::Relaxed),
            1,
            "woken once until it polls again"
        );
        assert_eq!(drain(&mut set, &mut cx), vec![2, 0]);
        // Two slots are free: the next two futures take them, the third a new one.
        for number in 3..6 {
            set.push(gated(&gates, number));
        }
        assert_eq!(set.slots.len(), 4);
        assert_eq!(drain(&mut set, &mut cx), Vec::<usize>::new());
        for number in [5, 1, 3, 4] {
            open(&gates, number);
        }
        assert_eq!(drain(&mut set, &mut cx), vec![5, 1, 3, 4]);
        assert!(set.is_empty());
        assert_eq!(set.poll_next(&mut cx), Poll::Ready(None));
    }

    #[test]
    fn a_stale_wake_of_an_ended_future_neither_runs_nor_loses_the_next_one() {
        let waker = Waker::from(Arc::new(Owner::default()));
        let mut cx = Context::from_waker(&waker);
        let gates = Gates::default();
        let mut set = RequestSet::new();
        set.push(gated(&gates, 0));
        assert_eq!(drain(&mut set, &mut cx), Vec::<usize>::new());
        open(&gates, 0);
        assert_eq!(drain(&mut set, &mut cx), vec![0]);
        // Its waker, kept by something that outlived it, wakes the free slot twice.
        let stale = gates.lock().unwrap()[0].waker.clone().expect("polled");
        stale.wake_by_ref();
        stale.wake_by_ref();
        assert_eq!(drain(&mut set, &mut cx), Vec::<usize>::new());
        set.push(gated(&gates, 1));
        set.push(gated(&gates, 2));
        assert_eq!(set.slots.len(), 2, "the free slot is taken once");
        assert_eq!(drain(&mut set, &mut cx), Vec::<usize>::new());
        open(&gates, 2);
        open(&gates, 1);
        assert_eq!(drain(&mut set, &mut cx), vec![2, 1]);
        assert!(set.is_empty());
    }

    #[test]
    fn after_a_burst_only_a_few_free_slots_keep_their_box() {
        let waker = Waker::from(Arc::new(Owner::default()));
        let mut cx = Context::from_waker(&waker);
        let gates = Gates::default();
        let mut set = RequestSet::new();
        let burst = SPARE_BOXES + 100;
        for round in 0..2 {
            for number in round * burst..(round + 1) * burst {
                set.push(gated(&gates, number));
            }
            assert_eq!(drain(&mut set, &mut cx), Vec::<usize>::new());
            for number in round * burst..(round + 1) * burst {
                open(&gates, number);
            }
            let ended = drain(&mut set, &mut cx);
            assert_eq!(
                ended,
                (round * burst..(round + 1) * burst).collect::<Vec<_>>()
            );
            let boxed = set
                .slots
                .iter()
                .filter(|slot| slot.future.is_some())
                .count();
            assert_eq!(boxed, SPARE_BOXES, "round {round}");
            assert_eq!(set.slots.len(), burst, "the second burst reuses the slots");
        }
    }

    #[test]
    fn a_future_that_keeps_waking_itself_makes_the_set_yield() {
        let owner = Arc::new(Owner::default());
        let waker = Waker::from(Arc::clone(&owner));
        let mut cx = Context::from_waker(&waker);
        let mut set = RequestSet::new();
        let polls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&polls);
        set.push(std::future::poll_fn(move |cx| {
            counted.fetch_add(1, Ordering::Relaxed);
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        }));
        assert_eq!(set.poll_next(&mut cx), Poll::Pending);
        assert_eq!(
            polls.load(Ordering::Relaxed),
            2,
            "polled twice, then the set yields"
        );
        assert_eq!(
            owner.0.load(Ordering::Relaxed),
            1,
            "and wakes its owner to come back"
        );
    }
}
