//! Running a simulation: start the clock, the brokers, the services and the workloads, wait
//! for every request to settle, and gather the report.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::clock::{Clock, Halt, RunLimits};
use crate::error::SimulationError;
use crate::invariant::Invariant;
use crate::link::{CLIENT, Links};
use crate::node::NodeId;
use crate::policy::Policies;
use crate::report::{Report, ServiceReport, TopicReport, WorkloadReport};
use crate::runtime::engine::{Engine, Faults, Timing};
use crate::runtime::workload_driver::WorkloadResult;

use super::Simulation;

impl Simulation {
    /// Runs the simulation to the end of its duration, waits for every request in flight to
    /// end, checks the invariants ([`add_invariant`](Self::add_invariant)) unless the run was
    /// interrupted, and returns the report.
    ///
    /// On the virtual clock this takes as long as the computation does, not the simulated
    /// duration; on the real clock it takes the duration (plus the drain).
    ///
    /// # Errors
    /// [`SimulationError::Build`] for links to unknown services (found before anything runs),
    /// [`SimulationError::Stalled`] if a handler waits on something outside the simulation
    /// forever, [`SimulationError::NoProgress`] if the model loops without taking time,
    /// [`SimulationError::BeyondClockRange`] if a wait would end past the clock's range,
    /// [`SimulationError::ForeignHandle`] if a service uses a handle another simulation made,
    /// [`SimulationError::TokioTimer`] if a handler uses tokio's timer on the virtual clock,
    /// [`SimulationError::Runtime`] or [`SimulationError::Spawn`] if tokio or ractor
    /// cannot start.
    pub fn run(self) -> Result<Report, SimulationError> {
        let progress = self.progress.clone();
        let outcome = self.run_to_end();
        progress.finish();
        outcome
    }

    fn run_to_end(self) -> Result<Report, SimulationError> {
        self.validate_links()?;
        let limits = RunLimits {
            events_per_instant: self.settings.max_events_per_instant,
        };
        let (runtime, clock) = crate::clock::runtime(self.settings.clock, limits)?;
        let report = runtime.block_on(self.execute(clock));
        // Dropping the runtime ends every task left (stopped actors, abandoned handlers).
        drop(runtime);
        report
    }

    async fn execute(self, clock: Clock) -> Result<Report, SimulationError> {
        let Simulation {
            settings,
            services,
            links,
            workloads,
            topics,
            faults,
            policies,
            invariants,
            progress,
            interrupt,
            ..
        } = self;
        let names: Vec<&str> = std::iter::once(CLIENT)
            .chain(services.iter().map(|s| s.name()))
            .chain(topics.iter().map(|t| t.name()))
            .collect();
        // Every name is known (`validate_links`), and unique (`check_name`).
        let node: std::collections::HashMap<&str, NodeId> = names
            .iter()
            .enumerate()
            .map(|(index, name)| (*name, NodeId(index)))
            .collect();
        let pair = |from: &str, to: &str| (node[from], node[to]);
        let node_names: Vec<String> = names.iter().map(ToString::to_string).collect();
        let links = Links::new(
            settings.seed,
            &names,
            &settings.default_latency,
            links.into_iter().map(|((from, to), latency)| {
                let (from, to) = pair(&from, &to);
                (from, to, latency)
            }),
        );
        let timing = Timing {
            warmup: settings.warmup,
            duration: settings.duration,
            call_timeout: settings.call_timeout,
            windows: crate::report::timeline::Windows::new(settings.window(), settings.duration),
        };
        let nodes: Vec<(String, usize)> = std::iter::once((CLIENT.to_string(), 0))
            .chain(
                services
                    .iter()
                    .map(|s| (s.name().to_string(), s.replicas())),
            )
            .chain(topics.iter().map(|t| (t.name().to_string(), 0)))
            .collect();
        let faults = Faults::new(settings.seed, nodes, faults);
        let policies = Policies::new(
            settings.seed,
            &names,
            policies.into_iter().map(|((from, to), policy)| {
                let (from, to) = pair(&from, &to);
                (from, to, policy)
            }),
        );
        let tracer = settings
            .tracing
            .clone()
            .map(|tracing| crate::trace::collector::Tracer::new(tracing, settings.seed));
        let engine = Arc::new(Engine::new(
            clock, timing, links, progress, faults, policies, tracer,
        ));

        let mut running = Vec::with_capacity(services.len());
        for (index, service) in services.into_iter().enumerate() {
            running.push(
                service
                    .start(NodeId(index + 1), settings.seed, Arc::clone(&engine))
                    .await?,
            );
        }
        let first_topic = running.len() + 1;
        let mut brokers = Vec::with_capacity(topics.len());
        for (index, topic) in topics.into_iter().enumerate() {
            brokers.push(
                topic
                    .start(
                        NodeId(first_topic + index),
                        settings.seed,
                        Arc::clone(&engine),
                    )
                    .await?,
            );
        }
        engine.start_crashes(
            running
                .iter()
                .map(|service| Arc::clone(service) as _)
                .collect(),
        );
        // What can loop at one instant, named if time stops (see `Halt::NoProgress`).
        let thoughtless: Vec<String> = workloads
            .iter()
            .filter(|entry| {
                matches!(&entry.workload().arrivals,
                    crate::workload::Arrivals::Closed { think, .. } if think.is_always_zero())
            })
            .map(|entry| format!("closed workload {} (no think time)", entry.name()))
            .collect();
        let started: Vec<(String, WorkloadResult)> = workloads
            .into_iter()
            .map(|workload| {
                let name = workload.name().to_string();
                (name, workload.start(&engine, settings.seed))
            })
            .collect();

        let (halt, interrupted) = tokio::select! {
            biased;
            () = engine.in_flight.drained() => (None, false),
            halt = engine.clock.halted() => (Some(halt), false),
            () = interrupt.interrupted() => (None, true),
        };
        let drained_at = engine.clock.now();
        let halted = halt.map(|halt| match halt {
            Halt::Stalled => SimulationError::Stalled {
                at: drained_at,
                in_flight: engine.in_flight.count(),
            },
            Halt::NoProgress { events } => SimulationError::NoProgress {
                at: drained_at,
                events,
                busy: thoughtless
                    .into_iter()
                    .chain(
                        running
                            .iter()
                            .filter_map(|service| match service.outstanding() {
                                0 => None,
                                1 => Some(format!("service {} (1 request)", service.name())),
                                n => Some(format!("service {} ({n} requests)", service.name())),
                            }),
                    )
                    .collect(),
            },
            Halt::BeyondRange { wait } => SimulationError::BeyondClockRange {
                at: drained_at,
                wait,
            },
            Halt::Misuse(misuse) => misuse.into(),
        });
        engine.stop_crashes();
        for service in &running {
            service.shutdown();
        }
        for broker in &brokers {
            broker.shutdown();
        }
        if let Some(error) = halted {
            return Err(error);
        }
        // The model's state is final now. An interrupted run's is not: work still in flight
        // would read as violations, so its invariants are not checked.
        let invariants = if interrupted {
            Vec::new()
        } else {
            invariants.into_iter().map(Invariant::check).collect()
        };
        // An interrupted run measured up to the instant it stopped at.
        let measured_end = if interrupted {
            drained_at.min(settings.duration)
        } else {
            settings.duration
        };
        let measured = measured_end.saturating_sub(settings.warmup);
        let workloads: BTreeMap<String, WorkloadReport> = started
            .iter()
            .map(|(name, result)| (name.clone(), result.report(measured)))
            .collect();
        let topics: BTreeMap<String, TopicReport> = brokers
            .iter()
            .map(|broker| (broker.name().to_string(), broker.report(drained_at)))
            .collect();
        let services: BTreeMap<String, ServiceReport> = running
            .iter()
            .map(|service| (service.name().to_string(), service.report(measured_end)))
            .collect();
        let mut timeline = crate::report::Timeline::new(engine.timing.windows);
        timeline.workloads = started
            .iter()
            .map(|(name, result)| (name.clone(), result.timeline()))
            .collect();
        timeline.services = running
            .iter()
            .map(|service| (service.name().to_string(), service.timeline()))
            .collect();
        timeline.topics = brokers
            .iter()
            .map(|broker| (broker.name().to_string(), broker.timeline()))
            .collect();
        let traces = engine
            .tracer
            .as_ref()
            .map(|tracer| tracer.traces(&node_names));
        let critical_path = traces
            .as_ref()
            .map(crate::trace::Traces::critical_paths)
            .unwrap_or_default();
        let edges = engine.edges.report(&node_names, measured);
        let faults = engine.faults.report();
        let warmup = if interrupted || !faults.is_empty() {
            BTreeMap::new()
        } else {
            started
                .iter()
                .filter(|(_, result)| result.stationary)
                .filter_map(|(name, _)| {
                    crate::report::warmup::WarmupEstimate::of(
                        &timeline.workloads[name],
                        timeline.window_seconds,
                        settings.warmup.as_secs_f64(),
                    )
                    .map(|estimate| (name.clone(), estimate))
                })
                .collect()
        };
        Ok(Report {
            timeline,
            edges,
            critical_path,
            traces,
            seed: settings.seed,
            clock: settings.clock,
            simulated_seconds: settings.duration.as_secs_f64(),
            measured_seconds: measured.as_secs_f64(),
            drained_seconds: drained_at.as_secs_f64(),
            interrupted_at: interrupted.then_some(drained_at.as_secs_f64()),
            overrides: Vec::new(),
            workloads,
            services,
            topics,
            faults,
            policies: engine.policies.report(),
            invariants,
            thresholds: Vec::new(),
            warmup,
        })
    }
}
