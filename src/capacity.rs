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
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capacity {
    workers: usize,
    queue: Option<usize>,
}

impl Capacity {
    /// `workers` concurrent handlers and an unbounded queue.
    pub const fn workers(workers: usize) -> Self {
        Capacity {
            workers,
            queue: None,
        }
    }

    /// Bounds the waiting queue (beyond the workers) at `capacity` requests; 0 means a request
    /// that finds every worker busy is rejected.
    pub const fn with_queue(mut self, capacity: usize) -> Self {
        self.queue = Some(capacity);
        self
    }

    /// The number of concurrent handlers.
    pub const fn worker_count(&self) -> usize {
        self.workers
    }

    /// The waiting queue's bound, `None` if unbounded.
    pub const fn queue_capacity(&self) -> Option<usize> {
        self.queue
    }

    /// At least one worker.
    pub(crate) fn validate(&self) -> Result<(), crate::error::FieldError> {
        crate::rules::at_least("workers", self.workers, 1)
    }
}

impl Default for Capacity {
    /// One worker, unbounded queue.
    fn default() -> Self {
        Capacity::workers(1)
    }
}
