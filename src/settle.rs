//! Settled latency: how long until everything a request caused has finished.
//!
//! A workload request is *settled* when its response has arrived and every event and one-way
//! message it caused -- transitively, through every handler they ran -- has been handled,
//! dead-lettered or lost. That is what people mean when they ask how long an event-driven
//! flow ("order placed" to "shipped") takes, and it is invisible in response latency.
//!
//! Each workload request carries a [`Settle`] token. Work that the request causes takes a
//! token of its own ([`Settle::fork`]) and drops it when done; when the last token drops, the
//! request's settled latency is recorded. The tokens also keep the run from reporting before
//! the work they stand for has ended.
//!
//! Most requests never fork: they settle with their response. For them the token should cost
//! next to nothing, so the state behind it is reused by the workload's next request once no
//! token of it is left ([`SpareRoot`]), and it enters the run's in-flight count only when the
//! request first forks work (before that, the workload request itself is in flight).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::{Engine, InFlightGuard};
use crate::metrics::LatencyHistogram;

/// Where a settled latency is recorded.
pub(crate) trait SettleSink: Send + Sync {
    fn settled(&self, intended: Duration, at: Duration);
}

struct Root {
    outstanding: AtomicUsize,
    /// Set when the count reached zero: the request has settled, later work is not its own.
    settled: AtomicBool,
    /// Set when the request failed: nothing is recorded then.
    forgotten: AtomicBool,
    /// Set when the request caused work of its own (an event, a one-way message).
    forked: AtomicBool,
    intended: Duration,
    engine: Arc<Engine>,
    sink: Arc<dyn SettleSink>,
    /// Keeps the run from reporting until the request settles, from its first fork on.
    in_flight: Mutex<Option<InFlightGuard>>,
}

impl Root {
    fn new(engine: &Arc<Engine>, intended: Duration, sink: Arc<dyn SettleSink>) -> Self {
        Root {
            outstanding: AtomicUsize::new(1),
            settled: AtomicBool::new(false),
            forgotten: AtomicBool::new(false),
            forked: AtomicBool::new(false),
            intended,
            engine: Arc::clone(engine),
            sink,
            in_flight: Mutex::new(None),
        }
    }

    /// Ready for a new request intended at `intended` (no token of the old one is left).
    fn reset(&mut self, intended: Duration) {
        *self.outstanding.get_mut() = 1;
        *self.settled.get_mut() = false;
        *self.forgotten.get_mut() = false;
        *self.forked.get_mut() = false;
        self.intended = intended;
        // Released when the old request settled.
        debug_assert!(self.in_flight.get_mut().is_ok_and(|guard| guard.is_none()));
    }
}

/// The state behind a finished request's token, for the same workload's next request.
pub(crate) struct SpareRoot(Arc<Root>);

/// One piece of outstanding work of a request's causal tree (a *counted* token), or a link
/// to the tree that counts nothing (held by the callee of a synchronous call, whose caller's
/// token already covers it -- and which must not hold the request open if the caller gives
/// up on it).
pub(crate) struct Settle {
    root: Arc<Root>,
    counted: bool,
}

impl Settle {
    /// The token of a new workload request intended at `intended`, in `spare` if there is
    /// one (from a request of the same workload: same engine and sink).
    pub(crate) fn root(
        engine: &Arc<Engine>,
        intended: Duration,
        sink: &Arc<SettledLatency>,
        spare: Option<SpareRoot>,
    ) -> Self {
        let root = match spare {
            Some(SpareRoot(mut root)) => match Arc::get_mut(&mut root) {
                Some(state) => {
                    state.reset(intended);
                    root
                }
                // Unreachable: a spare is unique when made, and nothing clones it since.
                None => Arc::new(Root::new(engine, intended, Arc::clone(sink) as _)),
            },
            None => Arc::new(Root::new(engine, intended, Arc::clone(sink) as _)),
        };
        Settle {
            root,
            counted: true,
        }
    }

    /// Records nothing for this request when it settles (it failed).
    pub(crate) fn forget(&self) {
        self.root.forgotten.store(true, Ordering::Release);
    }

    /// A token for more work caused by the same request.
    pub(crate) fn fork(&self) -> Settle {
        // Work started after the request settled (by a call its caller gave up on) is not
        // counted: the request's settled time is already recorded.
        let counted = !self.root.settled.load(Ordering::Acquire);
        if counted {
            self.root.outstanding.fetch_add(1, Ordering::AcqRel);
            if !self.root.forked.swap(true, Ordering::AcqRel) {
                // The request may end before this work does: from now on it holds the run.
                *self
                    .root
                    .in_flight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(InFlightGuard::enter(Arc::clone(&self.root.engine)));
            }
        }
        Settle {
            root: Arc::clone(&self.root),
            counted,
        }
    }

    /// A link to the same request that counts nothing, for the callee of a synchronous call.
    pub(crate) fn link(&self) -> Settle {
        Settle {
            root: Arc::clone(&self.root),
            counted: false,
        }
    }
}

impl Settle {
    /// Drops the root token at `now`, the time its response arrived, which the workload has
    /// just read. Returns `Settled::WithResponse` if the request caused no work of its own:
    /// it settles with its response, nothing is recorded here, and the workload counts its
    /// response latency as its settled latency (one histogram record instead of two).
    ///
    /// Also returns the state behind the token for the workload's next request, if no token
    /// of this one is left (no forked work still running, no handler still holding a link).
    pub(crate) fn finish_at(mut self, now: Duration) -> (Settled, Option<SpareRoot>) {
        let settled = if self.root.forked.load(Ordering::Acquire) {
            Settled::Later
        } else {
            self.root.forgotten.store(true, Ordering::Release);
            Settled::WithResponse
        };
        self.release(|| now);
        self.counted = false;
        let mut root = Arc::clone(&self.root);
        drop(self);
        let spare = Arc::get_mut(&mut root).is_some().then_some(SpareRoot(root));
        (settled, spare)
    }

    fn release(&self, now: impl FnOnce() -> Duration) {
        if !self.counted || self.root.outstanding.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        self.root.settled.store(true, Ordering::Release);
        if !self.root.forgotten.load(Ordering::Acquire) {
            self.root.sink.settled(self.root.intended, now());
        }
        // Only a request that forked work holds the run.
        if self.root.forked.load(Ordering::Acquire) {
            let guard = self
                .root
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            drop(guard);
        }
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        self.release(|| self.root.engine.clock.now());
    }
}

impl std::fmt::Debug for Settle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settle")
            .field("intended", &self.root.intended)
            .field(
                "outstanding",
                &self.root.outstanding.load(Ordering::Relaxed),
            )
            .finish()
    }
}

/// When a request settles, as its root token knows when the response arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    /// It caused no other work: it settles with its response.
    WithResponse,
    /// It caused other work, whose end is recorded in its [`SettledLatency`].
    Later,
}

/// Settled latencies of one workload's measured requests that caused work of their own (the
/// others settle with their response; the workload counts those).
#[derive(Debug, Default)]
pub(crate) struct SettledLatency {
    pub(crate) warmup: Duration,
    pub(crate) histogram: std::sync::Mutex<LatencyHistogram>,
}

impl SettleSink for SettledLatency {
    fn settled(&self, intended: Duration, at: Duration) {
        if intended >= self.warmup {
            self.histogram
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .record(at.saturating_sub(intended));
        }
    }
}
