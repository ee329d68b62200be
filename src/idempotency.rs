//! Idempotency keys, as Stripe uses them: a caller names an operation with a key
//! ([`Context::call_idempotent`](crate::Context::call_idempotent)), every retry of it carries
//! the same key, and the service stores the first outcome per key and replays it for the
//! copies that follow -- so a retried payment charges the customer once.
//!
//! A service opts in by keeping an [`IdempotencyStore`] in its state and handling requests
//! through [`Context::idempotent`](crate::Context::idempotent):
//!
//! - a key seen for the first time runs the handler and stores its outcome (errors too);
//! - a key whose outcome is stored returns it again without running anything;
//! - a key whose first request is still being handled fails with
//!   [`IdempotencyError::InProgress`] (a retry later gets the stored outcome);
//! - a key reused with a *different* request fails with [`IdempotencyError::Mismatch`];
//! - a request without a key runs the handler every time;
//! - a first request that never finishes (its handler panics, or its replica crashes) may
//!   have applied part of the operation, so its key stores a failure that copies get, rather
//!   than running it again: at most once, as a payment needs.
//!
//! The store lives in the service's state, so it survives panics and crash faults (as a
//! database would); with several replicas, each has its own.

use std::collections::BTreeMap;

use crate::error::ServiceError;

/// The outcomes of keyed requests, for replaying them. `R` is the request (compared to detect
/// a key reused for another operation), `T` the response.
#[derive(Debug, Clone)]
pub struct IdempotencyStore<R, T> {
    entries: BTreeMap<String, Entry<R, T>>,
    replayed: u64,
}

#[derive(Debug, Clone)]
enum Entry<R, T> {
    InProgress(R),
    Done(R, Result<T, ServiceError>),
}

/// What the store says about a keyed request.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<T> {
    /// First time: handle it, then [`IdempotencyStore::finish`].
    New,
    /// Seen and finished: this is the stored outcome.
    Replay(Result<T, ServiceError>),
    /// Refused.
    Refused(IdempotencyError),
}

/// Why a keyed request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdempotencyError {
    /// The key's first request is still being handled.
    #[error("a request with idempotency key {0:?} is still in progress")]
    InProgress(String),
    /// The key was first used with a different request.
    #[error("idempotency key {0:?} was already used for a different request")]
    Mismatch(String),
}

impl<R, T> Default for IdempotencyStore<R, T> {
    fn default() -> Self {
        IdempotencyStore {
            entries: BTreeMap::new(),
            replayed: 0,
        }
    }
}

impl<R, T> IdempotencyStore<R, T> {
    /// Stores a failure for a key whose first request never finished (its handler panicked
    /// or its replica crashed): the operation may be partly applied, so copies must not run
    /// it again.
    pub(crate) fn fail_pending(&mut self, key: &str) {
        if !matches!(self.entries.get(key), Some(Entry::InProgress(_))) {
            return;
        }
        if let Some(Entry::InProgress(request)) = self.entries.remove(key) {
            let failure = ServiceError::new(format!(
                "the first request with idempotency key {key:?} did not finish (its handler panicked or its replica crashed) and may be partly applied; use a new key to try again"
            ));
            self.entries
                .insert(key.to_string(), Entry::Done(request, Err(failure)));
        }
    }
}

impl<R: PartialEq + Clone, T: Clone> IdempotencyStore<R, T> {
    /// An empty store.
    pub fn new() -> Self {
        IdempotencyStore::default()
    }

    /// Looks `key` up for `request`; a new key is marked in progress.
    ///
    /// ```
    /// use microsim::idempotency::{IdempotencyError, IdempotencyStore, Lookup};
    ///
    /// let mut store: IdempotencyStore<u32, &str> = IdempotencyStore::new();
    /// assert_eq!(store.begin("order-7", &100), Lookup::New);
    /// assert_eq!(
    ///     store.begin("order-7", &100),
    ///     Lookup::Refused(IdempotencyError::InProgress("order-7".into()))
    /// );
    /// store.finish("order-7", Ok("charged"));
    /// assert_eq!(store.begin("order-7", &100), Lookup::Replay(Ok("charged")));
    /// assert_eq!(
    ///     store.begin("order-7", &999),
    ///     Lookup::Refused(IdempotencyError::Mismatch("order-7".into()))
    /// );
    /// assert_eq!(store.replayed(), 1);
    /// ```
    pub fn begin(&mut self, key: &str, request: &R) -> Lookup<T> {
        match self.entries.get(key) {
            None => {
                self.entries
                    .insert(key.to_string(), Entry::InProgress(request.clone()));
                Lookup::New
            }
            Some(Entry::InProgress(first) | Entry::Done(first, _)) if first != request => {
                Lookup::Refused(IdempotencyError::Mismatch(key.to_string()))
            }
            Some(Entry::InProgress(_)) => {
                Lookup::Refused(IdempotencyError::InProgress(key.to_string()))
            }
            Some(Entry::Done(_, outcome)) => {
                self.replayed += 1;
                Lookup::Replay(outcome.clone())
            }
        }
    }

    /// Stores the outcome of the request begun under `key`.
    pub fn finish(&mut self, key: &str, outcome: Result<T, ServiceError>) {
        if let Some(entry) = self.entries.get_mut(key) {
            let request = match entry {
                Entry::InProgress(request) | Entry::Done(request, _) => request.clone(),
            };
            *entry = Entry::Done(request, outcome);
        }
    }

    /// Keys stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Requests answered from the store.
    pub fn replayed(&self) -> u64 {
        self.replayed
    }
}
