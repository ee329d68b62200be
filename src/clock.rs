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
//! runtime has no tokio timers.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

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

/// Returned by [`Clock::timeout`] when the deadline passes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elapsed;

/// Builds the current-thread runtime a simulation on `kind` runs on, with its clock.
///
/// On the virtual clock, tokio is only the *idleness oracle*. A discrete-event simulator may
/// move time forward only once everything the current instant holds has happened: no task is
/// runnable, none has yielded. tokio knows that moment exactly -- it is when its scheduler is
/// about to park the thread -- and calls its `on_thread_park` hook then. The hook moves
/// simulated time to the earliest deadline and wakes the timers due there, so the runtime
/// finds work again and goes on without parking. If no timer is left, nothing in the
/// simulation can ever happen again: the hook reports a stall ([`Clock::stalled`]).
///
/// The virtual runtime has no tokio timer driver: nothing in it waits on tokio's clock, and
/// code that tries to (`tokio::time::sleep` in a handler) fails loudly instead of measuring
/// the wrong time. The real clock's runtime has the timer driver.
pub(crate) fn runtime(kind: ClockKind) -> std::io::Result<(tokio::runtime::Runtime, Clock)> {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    match kind {
        ClockKind::Virtual => {
            let clock = Arc::new(VirtualClock::default());
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
            let counter = quanta::Clock::new();
            let clock = Arc::new(RealClock {
                start: counter.raw(),
                counter,
                origin: tokio::time::Instant::now(),
                timers: Mutex::default(),
                armed: AtomicU64::new(u64::MAX),
                rearm: Notify::new(),
                call_timers: Mutex::default(),
            });
            runtime.spawn(drive_real(Arc::clone(&clock)));
            Ok((runtime, Clock::Real(clock)))
        }
    }
}

impl Clock {
    /// Time since the simulation started.
    #[inline]
    pub(crate) fn now(&self) -> Duration {
        match self {
            Clock::Virtual(clock) => Duration::from_nanos(clock.now.load(Ordering::Acquire)),
            Clock::Real(clock) => Duration::from_nanos(clock.now_nanos()),
        }
    }

    /// Waits for `duration` of this clock's time. A zero duration returns at once without
    /// yielding (and without reading the clock).
    #[inline]
    pub(crate) fn sleep(&self, duration: Duration) -> Sleep<'_> {
        if duration.is_zero() {
            return Sleep(SleepState::Done);
        }
        self.sleep_until(self.now().saturating_add(duration))
    }

    /// Waits until the clock reads `deadline` (time since the start).
    pub(crate) fn sleep_until(&self, deadline: Duration) -> Sleep<'_> {
        Sleep(match self {
            Clock::Virtual(clock) => SleepState::Queued(QueuedSleep::new(&**clock, deadline)),
            // Boxed so the (much larger) tokio timer does not inflate every virtual-clock
            // future that contains a sleep.
            Clock::Real(clock) => SleepState::Real(Box::pin(real_sleep_until(clock, deadline))),
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
    ) -> Timeout<'c, 'f, F> {
        Timeout {
            future,
            deadline: self.deadline(deadline),
        }
    }

    /// [`timeout_at`](Self::timeout_at) for a call, timed by the caller's own `timer` if it
    /// has one (see [`CallTimer`]) and it is free.
    pub(crate) fn call_timeout_at<'c, 'f, F: Future + ?Sized>(
        &'c self,
        deadline: Duration,
        future: Pin<&'f mut F>,
        timer: Option<&'c CallTimer>,
    ) -> Timeout<'c, 'f, F> {
        let deadline = match (self, timer) {
            (Clock::Real(clock), Some(timer)) => Deadline::Cell(CellDeadline {
                clock,
                cell: &timer.0,
                deadline: crate::nanos::saturating_u64(deadline),
                state: CellState::Unarmed,
            }),
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
            Clock::Real(clock) => {
                let cell = Arc::new(CallTimerCell {
                    deadline: AtomicU64::new(u64::MAX),
                    busy: AtomicBool::new(false),
                    waker: OnceLock::new(),
                });
                let mut timers = clock
                    .call_timers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let first = timers.is_empty();
                timers.push(Arc::downgrade(&cell));
                drop(timers);
                if first {
                    // The driver starts ticking.
                    clock.rearm.notify_one();
                }
                Some(CallTimer(cell))
            }
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

    /// Resolves when the virtual clock finds the runtime idle with no timer left: nothing in the
    /// simulation can ever happen again. Never resolves on the real clock.
    pub(crate) async fn stalled(&self) {
        match self {
            Clock::Virtual(clock) => loop {
                let notified = clock.stall.notified();
                if clock.stalled.load(Ordering::Acquire) {
                    return;
                }
                notified.await;
            },
            Clock::Real(_) => std::future::pending().await,
        }
    }
}

// The saturating conversion under its former name, for the modules that import it from here.
pub(crate) use crate::nanos::saturating_u64 as nanos;

/// Sleeps on the wall clock with sub-millisecond precision: tokio's timer for the whole
/// milliseconds, then cooperative yielding until the clock reads `deadline`.
async fn real_sleep_until(clock: &RealClock, deadline: Duration) {
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
    fn idle(&self) {
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
}

/// The wakers of the timers due at one instant, in the order they were set. Most instants wake
/// one timer: it is kept apart, and a list is allocated only for the others.
#[derive(Default)]
struct DueWakers {
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

    fn wake_all(&mut self) {
        if let Some(waker) = self.first.take() {
            waker.wake();
        }
        for waker in self.rest.drain(..) {
            waker.wake();
        }
    }
}

/// The wall clock, with a timer queue for call timeouts (see [`Clock::deadline`]).
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
}

/// What a [`QueuedSleep`] needs from its clock.
trait TimerHost: Send + Sync + 'static {
    fn now_nanos(&self) -> u64;
    fn timers(&self) -> MutexGuard<'_, TimerQueue>;
    /// Called after a timer was inserted (the lock released).
    fn inserted(&self, _deadline: u64) {}
}

impl TimerHost for VirtualClock {
    fn now_nanos(&self) -> u64 {
        self.now.load(Ordering::Acquire)
    }

    fn timers(&self) -> MutexGuard<'_, TimerQueue> {
        VirtualClock::timers(self)
    }
}

impl TimerHost for RealClock {
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

/// The real clock's timer driver: sleeps on a tokio timer until the earliest deadline, wakes
/// what is due, and is re-armed when an earlier deadline arrives.
async fn drive_real(clock: Arc<RealClock>) {
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
                        if cell.deadline.load(Ordering::Acquire) <= now
                            && let Some(waker) = cell.waker.get()
                        {
                            waker.wake_by_ref();
                        }
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

/// Pending timers: a min-heap of `(deadline, sequence, slot, generation)` plus the slots
/// holding their wakers. A cancelled timer frees its slot; its heap entry is then stale
/// (generation mismatch) and skipped without moving the clock.
#[derive(Debug, Default)]
struct TimerQueue {
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
    fn earliest_entry(&self) -> Option<u64> {
        self.heap.peek().map(|&Reverse((deadline, ..))| deadline)
    }

    /// The earliest deadline of a live timer, dropping stale entries on the way.
    fn next_deadline(&mut self) -> Option<u64> {
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
    fn take_due(&mut self, deadline: u64, wakers: &mut DueWakers) {
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

/// A wait on a [`Clock`], from [`Clock::sleep`] or [`Clock::sleep_until`].
///
/// A plain future rather than an `async fn`: sleeps sit in every hop of every request, and an
/// `async fn` would wrap each in a state machine of its own.
pub(crate) struct Sleep<'a>(SleepState<'a>);

enum SleepState<'a> {
    /// A zero wait: ready at once.
    Done,
    Queued(QueuedSleep<'a, VirtualClock>),
    Real(Pin<Box<dyn Future<Output = ()> + Send + 'a>>),
}

impl Future for Sleep<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            SleepState::Done => Poll::Ready(()),
            SleepState::Queued(sleep) => Pin::new(sleep).poll(cx),
            SleepState::Real(sleep) => sleep.as_mut().poll(cx),
        }
    }
}

/// A future raced against a deadline, from [`Clock::timeout_at`].
pub(crate) struct Timeout<'c, 'f, F: ?Sized> {
    future: Pin<&'f mut F>,
    deadline: Deadline<'c>,
}

impl<F: Future + ?Sized> Future for Timeout<'_, '_, F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(value) = this.future.as_mut().poll(cx) {
            return Poll::Ready(Ok(value));
        }
        match Pin::new(&mut this.deadline).poll(cx) {
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

#[derive(Debug)]
struct CallTimerCell {
    /// The deadline of the call using the timer (ns since the start); `u64::MAX` if none.
    deadline: AtomicU64,
    /// Whether a call is using the timer. Only its owner's task touches it, one future at a
    /// time, so a load and a store suffice.
    busy: AtomicBool,
    /// The owner's task, from its first call.
    waker: OnceLock<Waker>,
}

/// How often the real clock's driver checks the callers' [`CallTimer`]s: a call timed by one
/// times out up to this late, as a call timed by a tokio timer is late by up to a millisecond.
const CALL_TIMER_TICK: Duration = Duration::from_millis(1);

/// A call's deadline in its caller's [`CallTimer`].
struct CellDeadline<'a> {
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

impl CellDeadline<'_> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
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

/// A wait in a clock's timer queue.
struct QueuedSleep<'a, H: TimerHost> {
    clock: &'a H,
    deadline: u64,
    timer: Option<TimerKey>,
    /// Skip reading the clock on the first poll: the caller knows the deadline is ahead (a
    /// call's deadline, just computed from a clock reading). If it has passed after all, the
    /// timer fires at once. On the real clock a reading is a system call.
    unchecked: bool,
}

impl<'a, H: TimerHost> QueuedSleep<'a, H> {
    fn new(clock: &'a H, deadline: Duration) -> Self {
        QueuedSleep {
            clock,
            deadline: crate::nanos::saturating_u64(deadline),
            timer: None,
            unchecked: false,
        }
    }

    fn skip_first_check(mut self) -> Self {
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
    use super::*;

    fn virtual_runtime() -> (tokio::runtime::Runtime, Clock) {
        runtime(ClockKind::Virtual).expect("runtime")
    }

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

    #[test]
    fn real_clock_sleeps_at_least_the_duration() {
        let (runtime, clock) = runtime(ClockKind::Real).expect("runtime");
        runtime.block_on(async {
            let before = clock.now();
            clock.sleep(Duration::from_micros(300)).await;
            assert!(clock.now() - before >= Duration::from_micros(300));
        });
    }
}
