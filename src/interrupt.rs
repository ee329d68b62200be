//! Stopping a run from outside it: the `microsim` command's Ctrl-C, or any thread of a program
//! that embeds a simulation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Stops a running simulation at its current instant of simulated time; get it from
/// [`Simulation::interrupt_handle`](crate::Simulation::interrupt_handle) before calling
/// `run`. Cheap to clone and safe to use from any thread (a signal handler, a UI).
///
/// An interrupted run still returns its report, for what it measured up to that instant,
/// with [`Report::interrupted_at`](crate::Report::interrupted_at) set; requests still in
/// flight then are not counted.
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
/// let mut sim = Simulation::builder().duration(Duration::from_secs(10)).build()?;
/// let echo = sim.add_service("echo", Echo, Capacity::default())?;
/// sim.add_workload("load", &echo, Workload::constant_rate(10.0), |_| ())?;
/// let interrupt = sim.interrupt_handle();
/// interrupt.interrupt(); // before the run: it stops at once
/// let report = sim.run()?;
/// assert_eq!(report.interrupted_at, Some(0.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct InterruptHandle {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    interrupted: AtomicBool,
    notify: Notify,
}

impl InterruptHandle {
    /// Asks the run to stop at its current instant. Asking again does nothing more.
    pub fn interrupt(&self) {
        self.inner.interrupted.store(true, Ordering::Release);
        self.inner.notify.notify_waiters();
    }

    /// Whether [`interrupt`](Self::interrupt) was called.
    pub fn is_interrupted(&self) -> bool {
        self.inner.interrupted.load(Ordering::Acquire)
    }

    /// Resolves once the run is asked to stop.
    pub(crate) async fn interrupted(&self) {
        loop {
            let notified = self.inner.notify.notified();
            if self.is_interrupted() {
                return;
            }
            notified.await;
        }
    }
}
