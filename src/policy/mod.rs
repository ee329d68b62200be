//! Call policies: what a caller does about a callee that is slow or failing.
//!
//! A [`CallPolicy`] is set per caller-to-callee pair with
//! [`Simulation::add_policy`](crate::Simulation::add_policy) (the caller may be `"client"`,
//! for workload requests) and applies to every call over that pair. Its parts, applied in
//! this order around each attempt (Resilience4j's order):
//!
//! ```text
//!   call ─▶ retry ─▶ circuit breaker ─▶ bulkhead ─▶ rate limiter ─▶ timeout ─▶ hedge ─▶ callee
//! ```
//!
//! - [`Retry`]: up to `max_attempts` attempts, with [`Backoff`], [`Jitter`] and an optional
//!   [`RetryBudget`];
//! - [`CircuitBreaker`]: closed / open / half-open on the failure rate of recent attempts;
//! - bulkhead: at most so many attempts in flight at once;
//! - [`RateLimit`]: a token bucket;
//! - timeout: each attempt's own, within the caller's deadline (deadline propagation: no
//!   attempt waits past the time the caller's caller gives up);
//! - [`Hedge`]: a second copy of a slow attempt, the first answer wins.
//!
//! Running, the parts live here as well: the retry loop (`retry.rs`) makes each attempt of a
//! call through admission (`admission.rs`: breaker, bulkhead, rate limiter as one pipeline),
//! and the hedge race (`hedge.rs`) runs each attempt's copies; the engine's own part is
//! sending one copy across the link to the callee's replicas and waiting for its reply within
//! the attempt's timeout.
//!
//! The policy's state (breaker, budget, bucket, in-flight count, observed latencies) belongs
//! to the pair: every replica and worker of the caller shares it, as a client library shared
//! by one service would. The report gives, per pair, what the policy did
//! ([`PolicyReport`]).
//!
//! ```
//! use std::time::Duration;
//! use microsim::policy::{Backoff, CallPolicy, CircuitBreaker, Hedge, Jitter, Retry, RetryBudget};
//!
//! let ms = Duration::from_millis;
//! let policy = CallPolicy::new()
//!     .timeout(ms(200))
//!     .retry(
//!         Retry::attempts(3)
//!             .backoff(Backoff::exponential(ms(10), ms(100)))
//!             .jitter(Jitter::Full)
//!             .budget(RetryBudget::ratio(0.1)),
//!     )
//!     .circuit_breaker(CircuitBreaker::default().window_calls(50).minimum_calls(20))
//!     .bulkhead(25)
//!     .hedge(Hedge::at_percentile(95.0));
//! assert_eq!(policy.timeout, Some(ms(200)));
//! ```

mod admission;
mod breaker;
pub(crate) mod hedge;
mod limit;
pub(crate) mod retry;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use breaker::{BreakerState, BreakerTransition, BreakerWindow, CircuitBreaker};
pub use hedge::Hedge;
pub use limit::RateLimit;
pub use retry::{Backoff, Jitter, Retry, RetryBudget};

use admission::{Admission, CopyTicket, Finished, Refusal, Ticket};
use hedge::HedgeDelay;
use retry::BudgetState;

use crate::error::FieldError;
use crate::metrics::{LatencyHistogram, LatencySummary};
use crate::node::NodeId;
use crate::random::SimRng;
use crate::rules;
use rustc_hash::FxHashMap;

/// What a caller does around its calls to one callee. Every part is optional; an empty
/// policy changes nothing.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct CallPolicy {
    /// Each attempt's timeout (instead of the simulation's call timeout).
    pub timeout: Option<Duration>,
    /// Retries of failed attempts.
    pub retry: Option<Retry>,
    /// A circuit breaker.
    pub circuit_breaker: Option<CircuitBreaker>,
    /// At most this many attempts in flight at once; more are rejected with
    /// [`CallError::BulkheadFull`](crate::CallError::BulkheadFull).
    pub bulkhead: Option<usize>,
    /// A token bucket on attempts.
    pub rate_limit: Option<RateLimit>,
    /// A second copy of slow attempts.
    pub hedge: Option<Hedge>,
}

impl CallPolicy {
    /// A policy that changes nothing; add parts with the other methods.
    pub fn new() -> Self {
        CallPolicy::default()
    }

    /// Each attempt times out after `timeout` (or earlier, at the caller's deadline).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Retries failed attempts.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Puts a circuit breaker in front of the callee.
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.circuit_breaker = Some(breaker);
        self
    }

    /// Allows at most `max_concurrent` attempts in flight.
    pub fn bulkhead(mut self, max_concurrent: usize) -> Self {
        self.bulkhead = Some(max_concurrent);
        self
    }

    /// Limits the rate of attempts.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Hedges slow attempts.
    pub fn hedge(mut self, hedge: Hedge) -> Self {
        self.hedge = Some(hedge);
        self
    }

    /// Checks every part; the error names the part and its key (`retry.max_attempts`).
    pub(crate) fn validate(&self) -> Result<(), FieldError> {
        if let Some(timeout) = self.timeout {
            rules::positive_duration("timeout", timeout)?;
        }
        if let Some(retry) = &self.retry {
            retry.validate().map_err(|e| e.within("retry"))?;
        }
        if let Some(breaker) = &self.circuit_breaker {
            breaker
                .validate()
                .map_err(|e| e.within("circuit_breaker"))?;
        }
        if let Some(bulkhead) = self.bulkhead {
            rules::at_least("bulkhead", bulkhead, 1)?;
        }
        if let Some(limit) = &self.rate_limit {
            limit.validate().map_err(|e| e.within("rate_limit"))?;
        }
        if let Some(hedge) = &self.hedge {
            hedge.validate().map_err(|e| e.within("hedge"))?;
        }
        Ok(())
    }
}

/// What a [`CallPolicy`] did on one caller-to-callee pair, over calls that started in the
/// measured window (breaker transitions: over the whole run).
///
/// Its counts are in [`counts`](Self::counts) (`policy.counts.retries`); in the JSON they sit
/// beside its other fields.
///
/// # Examples
///
/// ```
/// use microsim::policy::PolicyReport;
///
/// let mut policy = PolicyReport::default();
/// policy.counts.calls = 10;
/// policy.counts.attempts = 12;
/// policy.counts.retries = 2;
/// assert_eq!(policy.counts.attempts, policy.counts.calls + policy.counts.retries);
///
/// let json = serde_json::to_value(&policy).unwrap();
/// assert_eq!(json["retries"], 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PolicyReport {
    /// What the policy counted.
    #[serde(flatten)]
    pub counts: PolicyCounts,
    /// The circuit breaker's state changes, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaker_transitions: Vec<BreakerTransition>,
    /// Latency of successful calls, from the call to its response (all attempts and backoff
    /// included), ms.
    pub latency_ms: LatencySummary,
}

/// What a [`CallPolicy`] counted on one caller-to-callee pair, over calls that started in the
/// measured window.
///
/// The running policy increments these, and the report shows them as they are
/// ([`PolicyReport::counts`]).
///
/// # Examples
///
/// ```
/// use microsim::policy::PolicyCounts;
///
/// let mut first = PolicyCounts::default();
/// first.calls = 10;
/// first.attempts = 12;
/// first.retries = 2;
/// let mut both = first;
/// both.merge(&first);
/// assert_eq!((both.calls, both.attempts, both.retries), (20, 24, 4));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PolicyCounts {
    /// Calls made (each may take several attempts).
    pub calls: u64,
    /// Calls that got a successful response.
    pub succeeded: u64,
    /// Calls that failed after every attempt allowed.
    pub failed: u64,
    /// Attempts sent, the first of each call included (hedge copies not included).
    pub attempts: u64,
    /// Part of `attempts`: retries.
    pub retries: u64,
    /// Retries the retry budget refused (the call failed instead).
    pub retries_denied: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// Second copies sent by hedging.
    pub hedges_sent: u64,
    /// Part of `hedges_sent`: copies that answered first.
    pub hedges_won: u64,
    /// Attempts rejected by an open (or full half-open) circuit breaker.
    pub breaker_rejected: u64,
    /// Attempts rejected by a full bulkhead.
    pub bulkhead_rejected: u64,
    /// Attempts rejected by the rate limiter.
    pub rate_limited: u64,
}

impl PolicyCounts {
    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &PolicyCounts) {
        // Named one by one: a count added to the struct but not here does not compile.
        let PolicyCounts {
            calls,
            succeeded,
            failed,
            attempts,
            retries,
            retries_denied,
            timeouts,
            hedges_sent,
            hedges_won,
            breaker_rejected,
            bulkhead_rejected,
            rate_limited,
        } = *other;
        self.calls += calls;
        self.succeeded += succeeded;
        self.failed += failed;
        self.attempts += attempts;
        self.retries += retries;
        self.retries_denied += retries_denied;
        self.timeouts += timeouts;
        self.hedges_sent += hedges_sent;
        self.hedges_won += hedges_won;
        self.breaker_rejected += breaker_rejected;
        self.bulkhead_rejected += bulkhead_rejected;
        self.rate_limited += rate_limited;
    }
}

/// The running policy of one pair.
#[derive(Debug)]
pub(crate) struct PairPolicy {
    pub(crate) policy: CallPolicy,
    state: Mutex<PolicyState>,
    rng: Mutex<SimRng>,
}

#[derive(Debug)]
struct PolicyState {
    admission: Admission,
    budget: Option<BudgetState>,
    hedge: Option<HedgeDelay>,
    stats: PolicyStats,
}

/// What a pair's policy measures: its counts, which the report shows as they are, and the
/// latency of its successful calls.
#[derive(Debug, Default)]
struct PolicyStats {
    counts: PolicyCounts,
    latency: LatencyHistogram,
}

/// Permission to send one attempt: holds what admission admitted (a bulkhead slot, the
/// breaker's epoch) until [`finish`](Self::finish) records the outcome, or releases it if
/// dropped unfinished.
#[derive(Debug)]
struct Permit<'a> {
    pair: &'a PairPolicy,
    ticket: Option<Ticket>,
    counted: bool,
}

impl PairPolicy {
    pub(crate) fn new(policy: CallPolicy, rng: SimRng) -> Self {
        let state = PolicyState {
            admission: Admission::new(&policy),
            budget: policy
                .retry
                .as_ref()
                .and_then(|retry| retry.budget)
                .map(BudgetState::new),
            hedge: policy.hedge.map(HedgeDelay::new),
            stats: PolicyStats::default(),
        };
        PairPolicy {
            policy,
            state: Mutex::new(state),
            rng: Mutex::new(rng),
        }
    }

    fn state(&self) -> MutexGuard<'_, PolicyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The attempts allowed per call.
    fn max_attempts(&self) -> u32 {
        self.policy.retry.as_ref().map_or(1, Retry::max_attempts)
    }

    /// A new call starts at `now`.
    fn begin_call(&self, now: Duration, counted: bool) {
        let mut state = self.state();
        if let Some(budget) = &mut state.budget {
            budget.deposit(now);
        }
        if counted {
            state.stats.counts.calls += 1;
        }
    }

    /// The call ended: with a response after `took` (`Some`), or failed (`None`).
    fn end_call(&self, took: Option<Duration>) {
        let mut state = self.state();
        match took {
            Some(took) => {
                state.stats.counts.succeeded += 1;
                state.stats.latency.record(took);
            }
            None => state.stats.counts.failed += 1,
        }
    }

    /// The wait before retry number `retry`; `previous` is the last wait.
    fn backoff(&self, retry: u32, previous: Duration) -> Duration {
        let Some(config) = self.policy.retry.as_ref() else {
            return Duration::ZERO;
        };
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        config.wait(retry, previous, &mut rng)
    }

    /// Takes a retry from the budget, if there is one, at `now`; false if it refuses.
    fn withdraw(&self, now: Duration, counted: bool) -> bool {
        let mut state = self.state();
        let Some(budget) = &mut state.budget else {
            return true;
        };
        if budget.withdraw(now) {
            return true;
        }
        if counted {
            state.stats.counts.retries_denied += 1;
        }
        false
    }

    /// Asks the breaker, bulkhead and rate limiter whether an attempt (a retry if `retry`)
    /// may go at `now`, and counts it (or the refusal) if `counted`.
    fn admit(&self, now: Duration, counted: bool, retry: bool) -> Result<Permit<'_>, Refusal> {
        let mut state = self.state();
        let admitted = state.admission.admit(now);
        if counted {
            let stats = &mut state.stats.counts;
            match admitted {
                Ok(_) => {
                    stats.attempts += 1;
                    stats.retries += u64::from(retry);
                }
                Err(Refusal::CircuitOpen) => stats.breaker_rejected += 1,
                Err(Refusal::BulkheadFull(_)) => stats.bulkhead_rejected += 1,
                Err(Refusal::RateLimited) => stats.rate_limited += 1,
            }
        }
        Ok(Permit {
            pair: self,
            ticket: Some(admitted?),
            counted,
        })
    }

    /// Lets a hedged copy go at `now` if the bulkhead and the rate limiter allow one more
    /// attempt, and counts it if `counted`; the copy holds its bulkhead slot until the
    /// returned guard drops.
    fn admit_copy(&self, now: Duration, counted: bool) -> Option<CopySlot<'_>> {
        let mut state = self.state();
        let ticket = state.admission.admit_copy(now).ok()?;
        if counted {
            state.stats.counts.hedges_sent += 1;
        }
        Some(CopySlot { pair: self, ticket })
    }

    /// The hedged copy answered first.
    fn hedge_won(&self) {
        self.state().stats.counts.hedges_won += 1;
    }

    /// The delay after which to hedge an attempt now, if any.
    fn hedge_delay(&self) -> Option<Duration> {
        self.state().hedge.as_ref().and_then(HedgeDelay::delay)
    }

    pub(crate) fn report(&self) -> PolicyReport {
        let state = self.state();
        let stats = &state.stats;
        PolicyReport {
            counts: stats.counts,
            breaker_transitions: state
                .admission
                .breaker()
                .map(|breaker| breaker.transitions.clone())
                .unwrap_or_default(),
            latency_ms: stats.latency.summary(),
        }
    }
}

impl Permit<'_> {
    /// The attempt ended at `now` after `took`, with `error` if it failed: counts a timeout,
    /// tells admission (the breaker records the outcome, the bulkhead frees the slot) and the
    /// hedge tracker.
    fn finish(mut self, error: Option<&crate::error::CallError>, took: Duration, now: Duration) {
        let Some(ticket) = self.ticket.take() else {
            return;
        };
        let failed = error.is_some();
        let mut state = self.pair.state();
        if self.counted && matches!(error, Some(crate::error::CallError::TimedOut { .. })) {
            state.stats.counts.timeouts += 1;
        }
        let finished = Finished {
            failed,
            took,
            at: now,
        };
        state.admission.finish(ticket, finished);
        if !failed && let Some(hedge) = &mut state.hedge {
            hedge.observe(took);
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            // The caller stopped waiting (its own caller gave up): free the slot, and the
            // breaker's trial slot if it held one.
            self.pair.state().admission.release(ticket);
        }
    }
}

/// The bulkhead slot of a hedged copy.
#[derive(Debug)]
struct CopySlot<'a> {
    pair: &'a PairPolicy,
    ticket: CopyTicket,
}

impl Drop for CopySlot<'_> {
    fn drop(&mut self) {
        self.pair.state().admission.release_copy(self.ticket);
    }
}

/// What the report puts between a caller's and a callee's name (`"api -> db"`); no service
/// name may contain it.
pub(crate) const PAIR_SEPARATOR: &str = " -> ";

/// The pairs of nodes that have a policy, each to its policy: only the pairs configured are
/// stored, so memory is linear in the policies set, not quadratic in the services.
#[derive(Debug)]
pub(crate) struct Policies {
    pairs: FxHashMap<(usize, usize), PairPolicy>,
    /// (caller name, callee name) and nodes of each pair, in name order.
    named: Vec<(String, String, (usize, usize))>,
}

impl Policies {
    /// `names[i]` is node `i`'s name; `configured` lists the pairs with a policy, each once.
    pub(crate) fn new(
        seed: u64,
        names: &[&str],
        configured: impl IntoIterator<Item = (NodeId, NodeId, CallPolicy)>,
    ) -> Self {
        let mut pairs = FxHashMap::default();
        let mut named = Vec::new();
        for (from, to, policy) in configured {
            let (caller, callee) = (names[from.0], names[to.0]);
            let rng = crate::random::stream(seed, &format!("policy/{caller}->{callee}"));
            pairs.insert((from.0, to.0), PairPolicy::new(policy, rng));
            named.push((caller.to_string(), callee.to_string(), (from.0, to.0)));
        }
        named.sort();
        Policies { pairs, named }
    }

    #[inline]
    pub(crate) fn between(&self, from: NodeId, to: NodeId) -> Option<&PairPolicy> {
        if self.pairs.is_empty() {
            return None;
        }
        self.pairs.get(&(from.0, to.0))
    }

    /// The report of every pair with a policy, keyed `"caller -> callee"`.
    pub(crate) fn report(&self) -> std::collections::BTreeMap<String, PolicyReport> {
        self.named
            .iter()
            .filter_map(|(from, to, nodes)| {
                let pair = self.pairs.get(nodes)?;
                Some((format!("{from}{PAIR_SEPARATOR}{to}"), pair.report()))
            })
            .collect()
    }
}
