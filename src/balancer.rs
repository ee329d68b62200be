//! Load balancing across a service's replicas.
//!
//! A service can run several replicas, each its own set of worker actors with its own queue.
//! Every call or event to the service picks one replica with the service's [`Balancer`]:
//!
//! - [`RoundRobin`](Balancer::RoundRobin): each replica in turn;
//! - [`Random`](Balancer::Random): uniformly at random;
//! - [`LeastOutstanding`](Balancer::LeastOutstanding): the replica with the fewest requests
//!   in it (handled or waiting), ties to the lowest index;
//! - [`PowerOfTwoChoices`](Balancer::PowerOfTwoChoices): two distinct replicas at random, the
//!   less loaded of the two;
//! - [`PeakEwma`](Balancer::PeakEwma): the lowest `latency estimate * (outstanding + 1)`,
//!   where the estimate jumps up to a slower response at once and decays toward faster ones
//!   with the given time constant (Finagle's and Linkerd's balancer).
//!
//! The balancer's state is the service's, shared by all its callers, and its random draws come
//! from the service's own stream (`balancer/NAME`).

use std::time::Duration;

use rand::RngExt;

use crate::random::SimRng;

/// How callers choose among a service's replicas.
///
/// ```
/// use std::time::Duration;
/// use microsim::Balancer;
/// assert_eq!(Balancer::default(), Balancer::RoundRobin);
/// let ewma = Balancer::PeakEwma { decay: Duration::from_secs(10) };
/// # let _ = ewma;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Balancer {
    /// Each replica in turn.
    #[default]
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// The replica with the fewest requests in it.
    LeastOutstanding,
    /// The less loaded of two replicas drawn at random.
    PowerOfTwoChoices,
    /// The lowest latency estimate times (outstanding + 1).
    PeakEwma {
        /// Time constant over which the estimate decays toward faster responses.
        decay: Duration,
    },
}

impl Balancer {
    /// Peak-EWMA's default time constant, Finagle's: 10 s.
    pub const DEFAULT_DECAY: Duration = Duration::from_secs(10);

    /// A decay greater than zero for peak-EWMA (the key `balancer_decay` of a scenario file).
    pub(crate) fn validate(&self) -> Result<(), crate::error::FieldError> {
        match *self {
            Balancer::PeakEwma { decay } => {
                crate::rules::positive_duration("balancer_decay", decay)
            }
            _ => Ok(()),
        }
    }
}

/// The mutable side of a balancer.
#[derive(Debug)]
pub(crate) struct BalancerState {
    balancer: Balancer,
    next: usize,
    rng: SimRng,
    /// Peak-EWMA: per replica, the latency estimate (ns) and when it was last updated.
    estimates: Vec<(f64, Duration)>,
}

impl BalancerState {
    pub(crate) fn new(balancer: Balancer, replicas: usize, rng: SimRng) -> Self {
        BalancerState {
            balancer,
            next: 0,
            rng,
            estimates: vec![(0.0, Duration::ZERO); replicas],
        }
    }

    /// Picks a replica among `replicas` (at least 1), given each one's outstanding requests.
    pub(crate) fn pick(&mut self, replicas: usize, outstanding: impl Fn(usize) -> usize) -> usize {
        if replicas <= 1 {
            return 0;
        }
        match self.balancer {
            Balancer::RoundRobin => {
                let index = self.next % replicas;
                self.next = (index + 1) % replicas;
                index
            }
            Balancer::Random => self.rng.random_range(0..replicas),
            Balancer::LeastOutstanding => (0..replicas)
                .min_by_key(|&index| (outstanding(index), index))
                .unwrap_or(0),
            Balancer::PowerOfTwoChoices => {
                let first = self.rng.random_range(0..replicas);
                let mut second = self.rng.random_range(0..replicas - 1);
                if second >= first {
                    second += 1;
                }
                if (outstanding(second), second) < (outstanding(first), first) {
                    second
                } else {
                    first
                }
            }
            Balancer::PeakEwma { .. } => {
                let cost =
                    |index: usize| self.estimates[index].0 * (outstanding(index) as f64 + 1.0);
                (0..replicas)
                    .map(|index| (cost(index), index))
                    .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
                    .map_or(0, |(_, index)| index)
            }
        }
    }

    /// Whether [`observe`](Self::observe) does anything: only peak-EWMA learns.
    pub(crate) fn learns_from_latency(&self) -> bool {
        matches!(self.balancer, Balancer::PeakEwma { .. })
    }

    /// Records a response time observed from replica `index` (used by peak-EWMA).
    pub(crate) fn observe(&mut self, index: usize, latency: Duration, now: Duration) {
        let Balancer::PeakEwma { decay } = self.balancer else {
            return;
        };
        let sample = latency.as_nanos() as f64;
        let estimate = self.estimates[index].0;
        let updated = if sample > estimate {
            // Peak: a slower response raises the estimate at once.
            sample
        } else {
            let elapsed = now.saturating_sub(self.estimates[index].1).as_secs_f64();
            let weight = (-elapsed / decay.as_secs_f64().max(1e-9)).exp();
            estimate * weight + sample * (1.0 - weight)
        };
        self.estimates[index] = (updated, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(balancer: Balancer, replicas: usize) -> BalancerState {
        BalancerState::new(
            balancer,
            replicas,
            crate::random::stream(1, "balancer/test"),
        )
    }

    #[test]
    fn round_robin_cycles() {
        let mut balancer = state(Balancer::RoundRobin, 3);
        let picks: Vec<usize> = (0..7).map(|_| balancer.pick(3, |_| 0)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn least_outstanding_picks_the_emptiest() {
        let mut balancer = state(Balancer::LeastOutstanding, 4);
        let load = [3, 1, 2, 1];
        assert_eq!(balancer.pick(4, |i| load[i]), 1);
    }

    #[test]
    fn power_of_two_never_picks_the_most_loaded_of_two() {
        let mut balancer = state(Balancer::PowerOfTwoChoices, 2);
        let load = [5, 0];
        for _ in 0..100 {
            assert_eq!(balancer.pick(2, |i| load[i]), 1);
        }
    }

    #[test]
    fn random_spreads_evenly() {
        let mut balancer = state(Balancer::Random, 4);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[balancer.pick(4, |_| 0)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn peak_ewma_jumps_up_and_decays_down() {
        let decay = Duration::from_secs(1);
        let mut balancer = state(Balancer::PeakEwma { decay }, 2);
        balancer.observe(0, Duration::from_millis(100), Duration::ZERO);
        assert_eq!(balancer.estimates[0].0, 100e6);
        // A faster sample one time constant later moves the estimate 63% of the way.
        balancer.observe(0, Duration::from_millis(10), Duration::from_secs(1));
        let expected = 100e6 * (-1f64).exp() + 10e6 * (1.0 - (-1f64).exp());
        assert!((balancer.estimates[0].0 - expected).abs() < 1.0);
        // The slow replica now costs more than the unknown (zero) one.
        assert_eq!(balancer.pick(2, |_| 0), 1);
    }
}
