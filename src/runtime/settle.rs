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

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::metrics::LatencyHistogram;
use crate::nanos::saturating_u64 as nanos;
use crate::runtime::engine::{Engine, InFlightGuard};

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
    /// The request's intended send time, in nanoseconds. Atomic so that a spare root can be
    /// given its next request without another uniqueness check.
    intended_ns: AtomicU64,
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
            intended_ns: AtomicU64::new(nanos(intended)),
            engine: Arc::clone(engine),
            sink,
            in_flight: Mutex::new(None),
        }
    }

    fn intended(&self) -> Duration {
        Duration::from_nanos(self.intended_ns.load(Ordering::Acquire))
    }

    /// Ready for another request (no token of the old one is left).
    fn reset(&mut self) {
        *self.outstanding.get_mut() = 1;
        *self.settled.get_mut() = false;
        *self.forgotten.get_mut() = false;
        *self.forked.get_mut() = false;
        // Released when the old request settled.
        debug_assert!(self.in_flight.get_mut().is_ok_and(|guard| guard.is_none()));
    }

    /// Drops one counted token; the last one settles the request at `now()`.
    fn release(&self, now: impl FnOnce() -> Duration) {
        if self.outstanding.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        self.settled.store(true, Ordering::Release);
        if !self.forgotten.load(Ordering::Acquire) {
            self.sink.settled(self.intended(), now());
        }
        // Only a request that forked work holds the run.
        if self.forked.load(Ordering::Acquire) {
            let guard = self
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            drop(guard);
        }
    }
}

/// The state behind a finished request's token, reset for the same workload's next request.
pub(crate) struct SpareRoot(Arc<Root>);

/// One piece of outstanding work of a request's causal tree (a *counted* token), or a link
/// to the tree that counts nothing (held by the callee of a synchronous call, whose caller's
/// token already covers it -- and which must not hold the request open if the caller gives
/// up on it).
pub(crate) struct Settle {
    /// `None` only once [`finish_at`](Self::finish_at) has taken it, consuming the token.
    root: Option<Arc<Root>>,
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
            Some(SpareRoot(root)) => {
                root.intended_ns.store(nanos(intended), Ordering::Release);
                root
            }
            None => Arc::new(Root::new(engine, intended, Arc::clone(sink) as _)),
        };
        Settle {
            root: Some(root),
            counted: true,
        }
    }

    fn state(&self) -> &Arc<Root> {
        self.root
            .as_ref()
            .expect("only `finish_at` takes the root, and it consumes the token")
    }

    /// Records nothing for this request when it settles (it failed).
    pub(crate) fn forget(&self) {
        self.state().forgotten.store(true, Ordering::Release);
    }

    /// A token for more work caused by the same request.
    pub(crate) fn fork(&self) -> Settle {
        let root = self.state();
        // Work started after the request settled (by a call its caller gave up on) is not
        // counted: the request's settled time is already recorded.
        let counted = !root.settled.load(Ordering::Acquire);
        if counted {
            root.outstanding.fetch_add(1, Ordering::AcqRel);
            if !root.forked.swap(true, Ordering::AcqRel) {
                // The request may end before this work does: from now on it holds the run.
                *root
                    .in_flight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(InFlightGuard::enter(Arc::clone(&root.engine)));
            }
        }
        Settle {
            root: Some(Arc::clone(root)),
            counted,
        }
    }

    /// A link to the same request that counts nothing, for the callee of a synchronous call.
    pub(crate) fn link(&self) -> Settle {
        Settle {
            root: Some(Arc::clone(self.state())),
            counted: false,
        }
    }

    /// Drops the root token at `now`, the time its response arrived, which the workload has
    /// just read. Returns `Settled::WithResponse` if the request caused no work of its own:
    /// it settles with its response, nothing is recorded here, and the workload counts its
    /// response latency as its settled latency (one histogram record instead of two).
    ///
    /// Also returns the state behind the token for the workload's next request, if no token
    /// of this one is left (no forked work still running, no handler still holding a link).
    pub(crate) fn finish_at(mut self, now: Duration) -> (Settled, Option<SpareRoot>) {
        let Some(mut root) = self.root.take() else {
            unreachable!("a token's root is only taken here, and this consumes the token")
        };
        let settled = if root.forked.load(Ordering::Acquire) {
            Settled::Later
        } else {
            root.forgotten.store(true, Ordering::Release);
            Settled::WithResponse
        };
        if self.counted {
            root.release(|| now);
        }
        let spare = match Arc::get_mut(&mut root) {
            Some(state) => {
                state.reset();
                Some(SpareRoot(root))
            }
            None => None,
        };
        (settled, spare)
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if self.counted
            && let Some(root) = &self.root
        {
            root.release(|| root.engine.clock.now());
        }
    }
}

impl std::fmt::Debug for Settle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("Settle");
        if let Some(root) = &self.root {
            debug
                .field("intended", &root.intended())
                .field("outstanding", &root.outstanding.load(Ordering::Relaxed));
        }
        debug.field("counted", &self.counted).finish()
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
#[derive(Debug)]
pub(crate) struct SettledLatency {
    pub(crate) warmup: Duration,
    pub(crate) histogram: std::sync::Mutex<LatencyHistogram>,
    /// The settled latency of the requests that settled later than their response (warm-up
    /// included), by the window they were intended in; the workload's timeline adds those
    /// that settled with it.
    pub(crate) timeline: std::sync::Mutex<crate::report::timeline::WindowedLatency>,
    pub(crate) windows: crate::report::timeline::Windows,
}

impl SettledLatency {
    /// Records in the timeline a request intended at `intended` that settled `latency` after
    /// it, later than its response.
    pub(crate) fn record_window(&self, intended: Duration, latency: Duration) {
        if let Some(window) = self.windows.index(crate::nanos::saturating_u64(intended)) {
            self.timeline
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .record(window, crate::nanos::saturating_u64(latency));
        }
    }
}

impl SettleSink for SettledLatency {
    fn settled(&self, intended: Duration, at: Duration) {
        self.record_window(intended, at.saturating_sub(intended));
        if intended >= self.warmup {
            self.histogram
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .record(at.saturating_sub(intended));
        }
    }
}
