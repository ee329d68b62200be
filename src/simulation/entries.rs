//! What a simulation holds of each service, workload and topic between being added and being
//! started: type-erased entries, so that one simulation can hold services of many types.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::balancer::{Balancer, BalancerState};
use crate::capacity::Capacity;
use crate::error::SimulationError;
use crate::node::NodeId;
use crate::random::{self};
use crate::report::ServiceReport;
use crate::runtime::broker::RunningTopic;
use crate::runtime::engine::{Engine, ServiceControl};
use crate::runtime::handle::ServiceHandle;
use crate::runtime::handle::TopicHandle;
use crate::runtime::replica::{Replica, ReplicaSet};
use crate::runtime::service::Service;
use crate::runtime::workload_driver::{MakeRequest, WorkloadResult, WorkloadRun};
use crate::topic::{Event, Topic};
use crate::workload::Workload;

pub(super) type StartFuture =
    Pin<Box<dyn Future<Output = Result<Arc<dyn RunningService>, SimulationError>>>>;

/// A service added to a simulation, type-erased until it starts.
pub(super) trait ServiceEntry {
    fn name(&self) -> &str;
    fn replicas(&self) -> usize;
    /// The service's steps, if it is a [`Script`](crate::Script): what the routing check
    /// can see of it.
    fn script(&self) -> Option<&crate::script::Script>;
    fn start(self: Box<Self>, node: NodeId, seed: u64, engine: Arc<Engine>) -> StartFuture;
}

pub(super) trait RunningService: ServiceControl {
    fn name(&self) -> &str;
    /// The figures of the measurement window cut at `end`.
    fn report(&self, end: Duration) -> ServiceReport;
    /// The service's series of the report's timeline.
    fn timeline(&self) -> crate::report::timeline::ServiceTimeline;
    /// Requests being handled or waiting, over all replicas.
    fn outstanding(&self) -> usize;
    fn shutdown(&self);
}

pub(super) struct PendingService<S: Service> {
    pub(super) handle: ServiceHandle<S>,
    pub(super) service: S,
    pub(super) capacity: Capacity,
    pub(super) replicas: usize,
    pub(super) balancer: Balancer,
}

impl<S: Service> ServiceEntry for PendingService<S> {
    fn name(&self) -> &str {
        self.handle.name()
    }

    fn replicas(&self) -> usize {
        self.replicas
    }

    fn script(&self) -> Option<&crate::script::Script> {
        (&self.service as &dyn std::any::Any).downcast_ref()
    }

    fn start(self: Box<Self>, node: NodeId, seed: u64, engine: Arc<Engine>) -> StartFuture {
        Box::pin(async move {
            let PendingService {
                handle,
                service,
                capacity,
                replicas,
                balancer,
            } = *self;
            engine.set_simulation(handle.simulation);
            let name: Arc<str> = Arc::from(handle.name());
            let service = Arc::new(service);
            let mut started = Vec::with_capacity(replicas);
            for index in 0..replicas {
                // Replica 0 keeps the stream a single-replica service has.
                let label = match index {
                    0 => format!("service/{name}"),
                    _ => format!("service/{name}#{index}"),
                };
                let rng = random::stream(seed, &label);
                let replica = Replica::start(
                    Arc::clone(&name),
                    node,
                    index,
                    Arc::clone(&service),
                    capacity,
                    rng,
                    Arc::clone(&engine),
                )
                .await?;
                started.push(replica);
            }
            let balancer = BalancerState::new(
                balancer,
                replicas,
                random::stream(seed, &format!("balancer/{name}")),
            );
            let set = Arc::new(ReplicaSet::new(started, balancer));
            handle.bind(&set);
            Ok(Arc::new(RunningReplicas { set }) as Arc<dyn RunningService>)
        })
    }
}

pub(super) struct RunningReplicas<S: Service> {
    pub(super) set: Arc<ReplicaSet<S>>,
}

impl<S: Service> RunningService for RunningReplicas<S> {
    fn name(&self) -> &str {
        self.set.name()
    }

    fn report(&self, end: Duration) -> ServiceReport {
        self.set.report(end)
    }

    fn timeline(&self) -> crate::report::timeline::ServiceTimeline {
        self.set.timeline()
    }

    fn outstanding(&self) -> usize {
        self.set
            .replicas()
            .iter()
            .map(|replica| replica.outstanding())
            .sum()
    }

    fn shutdown(&self) {
        self.set.shutdown();
    }
}

impl<S: Service> ServiceControl for RunningReplicas<S> {
    fn crash(&self, replica: Option<usize>) -> u64 {
        match replica {
            Some(index) => self.set.replica(index).map_or(0, |replica| replica.crash()),
            None => self
                .set
                .replicas()
                .iter()
                .map(|replica| replica.crash())
                .sum(),
        }
    }

    fn restart(&self, replica: Option<usize>) {
        match replica {
            Some(index) => {
                if let Some(replica) = self.set.replica(index) {
                    replica.restart();
                }
            }
            None => self
                .set
                .replicas()
                .iter()
                .for_each(|replica| replica.restart()),
        }
    }
}

pub(super) trait WorkloadEntry {
    fn name(&self) -> &str;
    fn workload(&self) -> &Workload;
    fn start(self: Box<Self>, engine: &Arc<Engine>, seed: u64) -> WorkloadResult;
}

pub(super) struct PendingWorkload<S: Service> {
    pub(super) name: String,
    pub(super) workload: Workload,
    pub(super) target: ServiceHandle<S>,
    pub(super) make_request: MakeRequest<S>,
}

impl<S: Service> WorkloadEntry for PendingWorkload<S> {
    fn name(&self) -> &str {
        &self.name
    }

    fn workload(&self) -> &Workload {
        &self.workload
    }

    fn start(self: Box<Self>, engine: &Arc<Engine>, seed: u64) -> WorkloadResult {
        let target = self
            .target
            .running()
            .expect("the target was checked to belong to this simulation, and every service starts before any workload");
        WorkloadRun {
            name: self.name,
            workload: self.workload,
            target,
            make_request: self.make_request,
        }
        .start(engine, seed)
    }
}

pub(super) type StartTopicFuture =
    Pin<Box<dyn Future<Output = Result<Box<dyn RunningTopic>, SimulationError>>>>;

/// A topic added to a simulation, type-erased until it starts.
pub(super) trait TopicEntry {
    fn name(&self) -> &str;
    fn start(self: Box<Self>, node: NodeId, seed: u64, engine: Arc<Engine>) -> StartTopicFuture;
}

pub(super) struct PendingTopic<E: Event> {
    pub(super) handle: TopicHandle<E>,
    pub(super) topic: Topic,
}

impl<E: Event> TopicEntry for PendingTopic<E> {
    fn name(&self) -> &str {
        self.handle.name()
    }

    fn start(self: Box<Self>, node: NodeId, seed: u64, engine: Arc<Engine>) -> StartTopicFuture {
        Box::pin(async move {
            engine.set_simulation(self.handle.simulation);
            let rng = random::stream(seed, &format!("topic/{}", self.handle.name()));
            crate::runtime::broker::start(&self.handle, self.topic, node, rng, engine).await
        })
    }
}
