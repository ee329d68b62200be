//! Links: the simulated network between two services.
//!
//! A link's latency is drawn afresh for every message that crosses it, request and response
//! alike, so a call over a link with a constant 1 ms latency costs 2 ms plus the callee's time.
//! Each ordered pair of endpoints has its own random stream, derived from the seed and the two
//! names. Where no link is set, the simulation's default latency applies.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::distribution::Distribution;
use crate::node::NodeId;
use crate::random::{self, SimRng};

pub(crate) use crate::node::CLIENT;

/// One direction-agnostic latency between a source and a destination, with its own stream.
#[derive(Debug)]
pub(crate) struct Link {
    latency: Distribution,
    zero: bool,
    rng: Mutex<SimRng>,
}

impl Link {
    fn new(latency: Distribution, rng: SimRng) -> Self {
        Link {
            zero: latency.is_zero(),
            latency,
            rng: Mutex::new(rng),
        }
    }

    /// The latency of one message crossing this link.
    #[inline]
    pub(crate) fn sample(&self) -> Duration {
        if self.zero {
            return Duration::ZERO;
        }
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        self.latency.sample(&mut *rng)
    }
}

/// Every ordered pair of endpoints (client and services) to its link.
#[derive(Debug)]
pub(crate) struct Links {
    nodes: usize,
    cells: Vec<Link>,
}

impl Links {
    /// Builds the full matrix. `names[i]` is the name of node `i` (node 0 is the client);
    /// `latency(from, to)` gives a link's configured distribution or `None` for the default.
    pub(crate) fn new(
        seed: u64,
        names: &[&str],
        default: &Distribution,
        mut latency: impl FnMut(&str, &str) -> Option<Distribution>,
    ) -> Self {
        let nodes = names.len();
        let mut cells = Vec::with_capacity(nodes * nodes);
        for from in names {
            for to in names {
                let distribution = latency(from, to).unwrap_or_else(|| default.clone());
                let rng = random::stream(seed, &format!("link/{from}->{to}"));
                cells.push(Link::new(distribution, rng));
            }
        }
        Links { nodes, cells }
    }

    #[inline]
    pub(crate) fn between(&self, from: NodeId, to: NodeId) -> &Link {
        &self.cells[from.0 * self.nodes + to.0]
    }
}
