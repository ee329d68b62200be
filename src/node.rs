//! The endpoints of the simulated network: the workload client and every service and topic,
//! each numbered by a [`NodeId`] when the run starts.

/// The name of the endpoint workload requests come from; a link from `"client"` to a service
/// sets the latency workloads see.
pub const CLIENT: &str = "client";

/// A place messages come from or go to: the workload client (node 0) or a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct NodeId(pub(crate) usize);

impl NodeId {
    /// Where workload requests come from.
    pub(crate) const CLIENT: NodeId = NodeId(0);
}
