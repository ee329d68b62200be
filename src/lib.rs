//! # microsim: what will this architecture do to our latency?
//!
//! microsim simulates how microservices communicate, inside one process. Each service is a
//! [ractor](https://docs.rs/ractor) actor with its own mailbox; calls between services cross
//! links with simulated network latency; workloads send traffic; and a [`Report`] gives latency
//! end to end and per service -- count, mean, p50, p90, p99, p99.9, max -- with throughput,
//! utilisation, rejections and failures. No network is involved.
//!
//! It runs on a **virtual clock** by default: simulated time jumps from event to event, so an
//! hour of traffic takes seconds, durations are exact to the nanosecond (not rounded to tokio's
//! millisecond timers), and one seed decides every random draw. The **real clock**
//! ([`ClockKind::Real`]) measures the real in-process cost instead.
//!
//! ## The workflow
//!
//! ```text
//!  1. describe services        2. wire them               3. run            4. read
//!  impl Service for Catalog    sim.add_service(..)        sim.run()?        report.workloads
//!    async fn handle(ctx, req)  sim.add_link(..)                            report.services
//!      ctx.work(&dist).await    sim.add_workload(..)                        println!("{report}")
//!      ctx.call(&other, ..)
//! ```
//!
//! 1. **Define services.** Implement [`Service`]: typed request and response, a
//!    [`State`](Service::State) kept apart from behaviour, and an async `handle` that spends
//!    processing time ([`Context::work`]), calls other services ([`Context::call`]) and sends
//!    one-way messages ([`Context::send`]).
//! 2. **Wire them.** [`Simulation::builder`] sets the seed, duration, warm-up, default link
//!    latency and call timeout. [`Simulation::add_service`] gives each service a [`Capacity`]
//!    (workers and a bounded queue) and returns a typed [`ServiceHandle`] to pass to callers.
//!    [`Simulation::add_link`] sets the latency between two services, drawn per message from a
//!    [`Distribution`]. [`Simulation::add_workload`] attaches open-loop (Poisson or constant
//!    rate) or closed-loop traffic ([`Workload`]).
//! 3. **Run.** [`Simulation::run`] checks the description, runs the workloads for the duration,
//!    waits for every request in flight to end, and returns the [`Report`].
//! 4. **Read** the report: print it as a table, or serialize it ([`Report::to_json`]).
//!
//! ```
//! use std::time::Duration;
//! use microsim::{Capacity, Context, Distribution, Service, ServiceError, ServiceHandle,
//!                Simulation, Workload};
//!
//! /// Answers product lookups in about half a millisecond.
//! struct Catalog;
//!
//! impl Service for Catalog {
//!     type Request = u32;
//!     type Response = String;
//!     type State = ();
//!     fn init_state(&self) {}
//!
//!     async fn handle(&self, ctx: &Context<Self>, id: u32) -> Result<String, ServiceError> {
//!         ctx.work(&Distribution::exponential(Duration::from_micros(500))).await;
//!         Ok(format!("product {id}"))
//!     }
//! }
//!
//! /// Renders a page: 200 us of its own work, then one catalog call.
//! struct Frontend {
//!     catalog: ServiceHandle<Catalog>,
//! }
//!
//! impl Service for Frontend {
//!     type Request = u32;
//!     type Response = String;
//!     type State = ();
//!     fn init_state(&self) {}
//!
//!     async fn handle(&self, ctx: &Context<Self>, id: u32) -> Result<String, ServiceError> {
//!         ctx.work_for(Duration::from_micros(200)).await;
//!         Ok(ctx.call(&self.catalog, id).await?)
//!     }
//! }
//!
//! let mut sim = Simulation::builder()
//!     .seed(7)
//!     .duration(Duration::from_secs(60))
//!     .warmup(Duration::from_secs(5))
//!     .build()?;
//! let catalog = sim.add_service("catalog", Catalog, Capacity::workers(1).with_queue(100))?;
//! let frontend = sim.add_service("frontend", Frontend { catalog }, Capacity::workers(8))?;
//! sim.add_link("frontend", "catalog", Distribution::constant(Duration::from_micros(250)))?;
//! sim.add_workload("pages", &frontend, Workload::poisson(1000.0), |_| 42)?;
//!
//! let report = sim.run()?;
//! let pages = &report.workloads["pages"];
//! assert_eq!(pages.counts.sent, pages.counts.completed + pages.counts.failed);
//! // At least 200 us of frontend work plus two 250 us hops.
//! assert!(pages.latency_ms.mean > 0.7);
//! println!("{report}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Beyond request/response
//!
//! - **Events** ([`topic`]): [`Simulation::add_topic`] creates a topic with a broker actor;
//!   [`Simulation::subscribe`] makes a service handle its events; handlers publish with
//!   [`Context::publish`]. Fan-out, consumer groups, partition keys, at-most-once and
//!   at-least-once delivery with dead-letter topics, and each workload's *settled* latency:
//!   until everything its requests caused has finished.
//! - **Replicas** ([`balancer`]): [`Simulation::add_replicated_service`] runs several replicas
//!   behind a [`Balancer`].
//! - **Call policies** ([`policy`]): [`Simulation::add_policy`] gives a caller-to-callee pair a
//!   timeout, retries with backoff, jitter and a budget, a circuit breaker, a bulkhead, a rate
//!   limit or hedging. **Idempotency keys** ([`idempotency`]) let a service apply a retried
//!   operation once.
//! - **Faults** ([`fault`]): [`Simulation::add_fault`] slows a service down, adds latency to a
//!   link, aborts a fraction of calls, loses messages, partitions two services or crashes a
//!   replica, for a window of simulated time.
//! - **Business invariants** ([`invariant`]): [`Simulation::add_invariant`] gives a check
//!   over the model's own state (stock, a payment ledger, orders shared through
//!   `Arc<Mutex<..>>`) that runs when a completed run has drained; the report counts its
//!   violations and keeps the first messages ("order 17: charged twice", [`InvariantReport`]).
//! - **Scenario files** (`scenario`, feature `scenario`): the same engine from a TOML file,
//!   and the `microsim` command (feature `cli`).
//!
//! ## Guarantees
//!
//! - **Exact simulated time.** Processing times and link latencies are exact to the
//!   nanosecond: a 250 us link costs 250 us, not tokio's rounded-up millisecond.
//! - **Deterministic.** The same program and seed give the same report, in every run and
//!   every process. Each service, link and workload draws from its own stream derived from
//!   the seed and its name.
//! - **Nothing hangs or vanishes.** Every call has a timeout; a request ends completed, or
//!   failed with a cause ([`CallError`]): rejected by a full queue, timed out, crashed (the
//!   handler panicked; the worker is restarted by its supervisor), or failed by the handler.
//! - **Bad input is an error before anything runs** ([`BuildError`]), saying what and where.
//!
//! Inside a handler, wait only through the [`Context`]: simulated time is microsim's, not
//! tokio's. On the virtual clock the runtime has no tokio timers at all, so a
//! `tokio::time::sleep` in a handler fails the run ([`SimulationError::TokioTimer`], naming
//! the service) instead of quietly measuring the wrong clock. And give each service the
//! handles of its own simulation: a handle works only in the simulation that made it
//! ([`ServiceHandle`]).
//!
//! See `DESIGN.md` for why it is built this way.

pub mod balancer;
mod capacity;
mod clock;
pub mod distribution;
pub mod duration_format;
mod error;
pub mod fault;
pub mod idempotency;
mod interrupt;
pub mod invariant;
mod link;
mod message;
pub mod metrics;
mod nanos;
mod node;
pub mod policy;
mod progress;
mod random;
pub mod report;
mod rules;
mod runtime;
#[cfg(feature = "scenario")]
pub mod scenario;
mod script;
mod simulation;
pub mod stats;
mod suggest;
#[cfg(feature = "scenario")]
pub mod sweep;
pub mod topic;
pub mod trace;
mod workload;

pub use rand;

pub use balancer::Balancer;
pub use capacity::Capacity;
pub use clock::ClockKind;
pub use distribution::{Distribution, LogNormalStat};
pub use error::{
    BuildError, CallError, FieldError, FieldPath, PathSegment, ServiceError, SimulationError,
};
pub use fault::{Fault, FaultKind};
pub use interrupt::InterruptHandle;
pub use invariant::InvariantReport;
pub use message::{RequestId, RequestMeta, TraceContext};
pub use node::CLIENT;
pub use policy::CallPolicy;
pub use progress::Progress;
pub use random::SimRng;
pub use report::Report;
pub use rules::{MAX_DURATION, MAX_FACTOR, MAX_RATE, MAX_REPLICAS};
pub use runtime::context::Context;
pub use runtime::handle::{ServiceHandle, TopicHandle};
pub use runtime::service::Service;
pub use script::Script;
pub use simulation::{Simulation, SimulationBuilder};
pub use topic::{Delivery, Event, Topic, WhenFull};
pub use workload::{ArrivalTimes, Arrivals, Stage, Workload};
