//! Admission: the parts of a policy that decide, before an attempt is sent, whether it may go
//! -- the circuit breaker, the bulkhead and the rate limiter -- as one pipeline.
//!
//! Each part is a [`Gate`] with one shape: [`admit`](Gate::admit) an attempt (or refuse it),
//! then either [`finish`](Gate::finish) it with its outcome or [`release`](Gate::release) it
//! unsent. [`Then`] chains two gates: the second is asked only if the first admits, and a
//! refusal by the second releases what the first admitted, so a part that lets an attempt
//! through never keeps the trace of one that was not sent. The [`Admission`] pipeline chains
//! the three in Resilience4j's order:
//!
//! ```text
//!   attempt ─▶ breaker ─▶ bulkhead ─▶ rate limiter ─▶ sent
//!                 │           │             │
//!              refused     refused       refused: releases bulkhead, then breaker
//! ```
//!
//! A hedged copy goes through the bulkhead and the rate limiter only: it is part of an
//! attempt the breaker already let through, and its outcome is not recorded.

use std::time::Duration;

use super::CallPolicy;
use super::breaker::Breaker;
use super::limit::{Bulkhead, TokenBucket};

/// Why the caller refused to send an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    CircuitOpen,
    BulkheadFull(usize),
    RateLimited,
}

impl Refusal {
    pub(crate) fn into_error(self, service: &str) -> crate::error::CallError {
        use crate::error::CallError;
        let service = service.to_string();
        match self {
            Refusal::CircuitOpen => CallError::CircuitOpen { service },
            Refusal::BulkheadFull(max_concurrent) => CallError::BulkheadFull {
                service,
                max_concurrent,
            },
            Refusal::RateLimited => CallError::RateLimited { service },
        }
    }
}

/// How an admitted attempt ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finished {
    /// It returned an error.
    pub(crate) failed: bool,
    /// From its start to its end.
    pub(crate) took: Duration,
    /// When it ended.
    pub(crate) at: Duration,
}

/// One part of admission.
pub(crate) trait Gate {
    /// What the part remembers about an attempt it admitted, until the attempt ends.
    type Ticket;

    /// Lets an attempt through at `now`, or refuses it.
    fn admit(&mut self, now: Duration) -> Result<Self::Ticket, Refusal>;

    /// The admitted attempt ended: record how.
    fn finish(&mut self, ticket: Self::Ticket, finished: Finished);

    /// The admitted attempt was not sent after all (a later part refused it) or its caller
    /// stopped waiting for it: undo what `admit` did.
    fn release(&mut self, ticket: Self::Ticket);
}

/// A part a policy may leave out admits everything.
impl<G: Gate> Gate for Option<G> {
    type Ticket = Option<G::Ticket>;

    #[inline]
    fn admit(&mut self, now: Duration) -> Result<Self::Ticket, Refusal> {
        match self {
            Some(gate) => gate.admit(now).map(Some),
            None => Ok(None),
        }
    }

    #[inline]
    fn finish(&mut self, ticket: Self::Ticket, finished: Finished) {
        if let (Some(gate), Some(ticket)) = (self, ticket) {
            gate.finish(ticket, finished);
        }
    }

    #[inline]
    fn release(&mut self, ticket: Self::Ticket) {
        if let (Some(gate), Some(ticket)) = (self, ticket) {
            gate.release(ticket);
        }
    }
}

/// Two gates in order: `B` is asked only if `A` admits, and `B`'s refusal releases `A`.
#[derive(Debug)]
pub(crate) struct Then<A, B>(A, B);

impl<A: Gate, B: Gate> Gate for Then<A, B> {
    type Ticket = (A::Ticket, B::Ticket);

    #[inline]
    fn admit(&mut self, now: Duration) -> Result<Self::Ticket, Refusal> {
        let first = self.0.admit(now)?;
        match self.1.admit(now) {
            Ok(second) => Ok((first, second)),
            Err(refusal) => {
                self.0.release(first);
                Err(refusal)
            }
        }
    }

    #[inline]
    fn finish(&mut self, (first, second): Self::Ticket, finished: Finished) {
        self.0.finish(first, finished);
        self.1.finish(second, finished);
    }

    #[inline]
    fn release(&mut self, (first, second): Self::Ticket) {
        self.0.release(first);
        self.1.release(second);
    }
}

/// The parts a hedged copy goes through: bulkhead, then rate limiter.
type Limits = Then<Option<Bulkhead>, Option<TokenBucket>>;

/// What [`Admission::admit`] admitted: to be finished or released.
pub(crate) type Ticket = <Then<Option<Breaker>, Limits> as Gate>::Ticket;

/// What [`Admission::admit_copy`] admitted: to be released when the copy ends.
pub(crate) type CopyTicket = <Limits as Gate>::Ticket;

/// The running admission of one pair: its breaker, bulkhead and rate limiter, each if the
/// policy has one, in Resilience4j's order.
#[derive(Debug)]
pub(crate) struct Admission(Then<Option<Breaker>, Limits>);

impl Admission {
    pub(crate) fn new(policy: &CallPolicy) -> Self {
        Admission(Then(
            policy.circuit_breaker.clone().map(Breaker::new),
            Then(
                policy.bulkhead.map(Bulkhead::new),
                policy.rate_limit.map(TokenBucket::new),
            ),
        ))
    }

    /// Admits an attempt at `now` through breaker, bulkhead and rate limiter.
    #[inline]
    pub(crate) fn admit(&mut self, now: Duration) -> Result<Ticket, Refusal> {
        self.0.admit(now)
    }

    /// The attempt of `ticket` ended: the breaker records the outcome, the bulkhead frees
    /// its slot.
    #[inline]
    pub(crate) fn finish(&mut self, ticket: Ticket, finished: Finished) {
        self.0.finish(ticket, finished);
    }

    /// The attempt of `ticket` was abandoned: the bulkhead frees its slot, the breaker its
    /// trial slot if it held one.
    #[inline]
    pub(crate) fn release(&mut self, ticket: Ticket) {
        self.0.release(ticket);
    }

    /// Admits a hedged copy at `now` through bulkhead and rate limiter.
    #[inline]
    pub(crate) fn admit_copy(&mut self, now: Duration) -> Result<CopyTicket, Refusal> {
        (self.0).1.admit(now)
    }

    /// The hedged copy of `ticket` ended (or was abandoned): its bulkhead slot is freed.
    #[inline]
    pub(crate) fn release_copy(&mut self, ticket: CopyTicket) {
        (self.0).1.release(ticket);
    }

    /// The circuit breaker, if the policy has one.
    pub(crate) fn breaker(&self) -> Option<&Breaker> {
        (self.0).0.as_ref()
    }
}
