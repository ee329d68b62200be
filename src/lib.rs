//! microsim
pub mod clock;
pub mod distribution;
pub mod duration_format;
mod engine;
pub mod error;
pub mod handle;
pub mod link;
pub mod message;
pub mod metrics;
pub mod random;
mod replica;
pub mod report;
pub mod service;
pub mod simulation;
pub mod workload;

pub use clock::ClockKind;
pub use distribution::Distribution;
pub use error::{BuildError, CallError, ServiceError, SimulationError};
pub use handle::ServiceHandle;
pub use message::{RequestId, RequestMeta, TraceContext};
pub use report::Report;
pub use service::{Capacity, Context, Service};
pub use simulation::{Simulation, SimulationBuilder};
pub use workload::{Arrivals, Workload};
