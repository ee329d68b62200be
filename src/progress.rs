//! Watching a run from another thread: how far simulated time has got and how many requests
//! have ended. The `microsim` command draws its progress bar from this.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// A live view of a running simulation; get it from
/// [`Simulation::progress`](crate::Simulation::progress) before calling `run`. Cheap to clone
/// and safe to read from any thread.
///
/// ```
/// use std::time::Duration;
/// use microsim::{Capacity, Context, Service, ServiceError, Simulation, Workload};
/// # struct Echo;
/// # impl Service for Echo {
/// #     type Request = (); type Response = (); type State = ();
/// #     fn init_state(&self) {}
/// #     async fn handle(&self, _: &Context<Self>, _: ()) -> Result<(), ServiceError> { Ok(()) }
/// # }
/// let mut sim = Simulation::builder().duration(Duration::from_secs(2)).build()?;
/// let echo = sim.add_service("echo", Echo, Capacity::default())?;
/// sim.add_workload("load", &echo, Workload::constant_rate(10.0), |_| ())?;
/// let progress = sim.progress();
/// assert!(!progress.is_finished());
/// sim.run()?;
/// assert!(progress.is_finished());
/// assert_eq!(progress.requests(), 20);
/// assert_eq!(progress.simulated(), Duration::from_millis(1900));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Progress {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    simulated_nanos: AtomicU64,
    requests: AtomicU64,
    finished: AtomicBool,
}

impl Progress {
    /// Simulated time at which the latest workload request ended.
    pub fn simulated(&self) -> Duration {
        Duration::from_nanos(self.inner.simulated_nanos.load(Ordering::Relaxed))
    }

    /// Workload requests that have ended, completed or failed, warm-up included.
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Whether the run has ended (successfully or not).
    pub fn is_finished(&self) -> bool {
        self.inner.finished.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn request_ended(&self, at: Duration) {
        // One writer: the simulation's runtime is current-thread, and only its tasks end
        // requests. A load and a store are then exact, without the locked read-modify-write
        // instructions that `fetch_max` and `fetch_add` cost on every request.
        let nanos = crate::nanos::saturating_u64(at);
        let counters = &self.inner;
        if nanos > counters.simulated_nanos.load(Ordering::Relaxed) {
            counters.simulated_nanos.store(nanos, Ordering::Relaxed);
        }
        let requests = counters.requests.load(Ordering::Relaxed);
        counters.requests.store(requests + 1, Ordering::Relaxed);
    }

    pub(crate) fn finish(&self) {
        self.inner.finished.store(true, Ordering::Release);
    }
}
