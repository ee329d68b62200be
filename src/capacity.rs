//! A service's capacity: its workers and its waiting queue.

/// How much a service can do at once.
///
/// `workers` requests are handled concurrently (1 is a FIFO single server; c models c
/// threads). A worker is busy from the start of a request's handling until its response is
/// sent, downstream calls included. Requests that find every worker busy wait in one FIFO
/// queue; with a bounded queue, an arrival that finds it full is rejected with
/// [`CallError::Rejected`](crate::CallError::Rejected) and counted.
///
/// ```
/// use microsim::Capacity;
/// let pool = Capacity::workers(8).with_queue(100);
/// assert_eq!(pool.worker_count(), 8);
/// assert_eq!(pool.queue_capacity(), Some(100));
/// assert_eq!(Capacity::default(), Capacity::workers(1));
/// ```
///
/// [`Capacity::unlimited`] is an infinite-server delay station: every request starts at once,
/// as in front of a pass-through proxy or a CDN edge whose own capacity is not the question.
///
/// Workers are ractor actors started on demand, when a request finds every started worker
/// busy, so an idle worker costs nothing: `Capacity::workers(100_000)` is cheap until a
/// hundred thousand requests are in progress at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capacity {
    workers: usize,
    queue: Option<usize>,
}

impl Capacity {
    /// The most workers a service may have: each busy worker is an actor of about 10 KB, so
    /// a million of them busy at once is about 10 GB. [`unlimited`](Self::unlimited) has no
    /// bound, as an infinite server has none; what it holds is what is in progress.
    pub const MAX_WORKERS: usize = 1_000_000;

    /// `workers` concurrent handlers and an unbounded queue.
    pub const fn workers(workers: usize) -> Self {
        Capacity {
            workers,
            queue: None,
        }
    }

    /// As many concurrent handlers as there are requests: no request ever waits, and the
    /// queue is never used (an infinite-server, M/G/∞, station).
    ///
    /// ```
    /// use microsim::Capacity;
    /// let edge = Capacity::unlimited();
    /// assert!(edge.is_unlimited());
    /// assert_eq!(edge.worker_count(), usize::MAX);
    /// ```
    pub const fn unlimited() -> Self {
        Capacity {
            workers: usize::MAX,
            queue: None,
        }
    }

    /// Whether every request starts at once ([`unlimited`](Self::unlimited)).
    pub const fn is_unlimited(&self) -> bool {
        self.workers == usize::MAX
    }

    /// Bounds the waiting queue (beyond the workers) at `capacity` requests; 0 means a request
    /// that finds every worker busy is rejected.
    pub const fn with_queue(mut self, capacity: usize) -> Self {
        self.queue = Some(capacity);
        self
    }

    /// The number of concurrent handlers; `usize::MAX` when [`unlimited`](Self::unlimited).
    pub const fn worker_count(&self) -> usize {
        self.workers
    }

    /// The waiting queue's bound, `None` if unbounded.
    pub const fn queue_capacity(&self) -> Option<usize> {
        self.queue
    }

    /// At least one worker and at most [`MAX_WORKERS`](Self::MAX_WORKERS), unless unlimited;
    /// an unlimited service has no queue to bound.
    pub(crate) fn validate(&self) -> Result<(), crate::error::FieldError> {
        if self.is_unlimited() {
            if self.queue.is_some() {
                return Err(crate::error::FieldError::new(
                    "queue",
                    "an unlimited service starts every request at once and never queues: \
                     remove the queue bound, or give it a number of workers",
                ));
            }
            return Ok(());
        }
        crate::rules::at_least("workers", self.workers, 1)?;
        crate::rules::at_most(
            "workers",
            self.workers,
            Self::MAX_WORKERS,
            "each busy worker is an actor of about 10 KB; use \"unlimited\" for a \
             service whose every request starts at once",
        )
    }
}

impl Default for Capacity {
    /// One worker, unbounded queue.
    fn default() -> Self {
        Capacity::workers(1)
    }
}
