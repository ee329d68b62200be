//! Links: the simulated network between two services.
//!
//! A link's latency is drawn afresh for every message that crosses it, request and response
//! alike, so a call over a link with a constant 1 ms latency costs 2 ms plus the callee's time.
//! Each ordered pair of endpoints has its own random stream, derived from the seed and the two
//! names. Where no link is set, the simulation's default latency applies.
//!
//! Only what is used is stored: the configured links, and for the default latency one random
//! stream per pair that has carried a message, made when its first message crosses. A stream
//! depends only on the seed and the two names, never on when it was made, so making it late
//! draws exactly what making it up front would. Memory is linear in the links set and the
//! pairs that talk, not quadratic in the number of services.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::distribution::Distribution;
use crate::node::NodeId;
use crate::random::{self, SimRng};

pub(crate) use crate::node::CLIENT;

/// One configured latency between a source and a destination, with its own stream.
#[derive(Debug)]
struct Link {
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
    fn sample(&self) -> Duration {
        if self.zero {
            return Duration::ZERO;
        }
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        self.latency.sample(&mut *rng)
    }
}

/// The links of every source node (client, services, topics): the configured ones by
/// destination, and the default latency's streams as pairs start to use them.
#[derive(Debug)]
pub(crate) struct Links {
    seed: u64,
    /// Node names, for the labels of the streams made on demand.
    names: Vec<Box<str>>,
    default: Distribution,
    default_zero: bool,
    /// Per source node: its configured links, by destination node.
    configured: Vec<FxHashMap<usize, Link>>,
    /// Per source node: the default latency's stream to each destination it has sent to.
    defaults: Vec<Mutex<FxHashMap<usize, SimRng>>>,
}

impl Links {
    /// `names[i]` is the name of node `i` (node 0 is the client); `configured` lists the
    /// links set, by node, each pair once.
    pub(crate) fn new(
        seed: u64,
        names: &[&str],
        default: &Distribution,
        configured: impl IntoIterator<Item = (NodeId, NodeId, Distribution)>,
    ) -> Self {
        let mut by_source: Vec<FxHashMap<usize, Link>> =
            names.iter().map(|_| FxHashMap::default()).collect();
        for (from, to, latency) in configured {
            let rng = random::stream(seed, &label(names[from.0], names[to.0]));
            by_source[from.0].insert(to.0, Link::new(latency, rng));
        }
        Links {
            seed,
            names: names.iter().map(|name| Box::from(*name)).collect(),
            default_zero: default.is_zero(),
            default: default.clone(),
            configured: by_source,
            defaults: names.iter().map(|_| Mutex::default()).collect(),
        }
    }

    /// The latency of one message from `from` to `to`.
    #[inline]
    /// How many nodes there are.
    pub(crate) fn nodes(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn sample(&self, from: NodeId, to: NodeId) -> Duration {
        let configured = &self.configured[from.0];
        if !configured.is_empty()
            && let Some(link) = configured.get(&to.0)
        {
            return link.sample();
        }
        if self.default_zero {
            return Duration::ZERO;
        }
        let mut streams = self.defaults[from.0]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let rng = streams.entry(to.0).or_insert_with(|| {
            random::stream(self.seed, &label(&self.names[from.0], &self.names[to.0]))
        });
        self.default.sample(rng)
    }
}

/// The label of the stream of the link from `from` to `to`.
fn label(from: &str, to: &str) -> String {
    format!("link/{from}->{to}")
}
