//! Integration tests of microsim: one binary, a module per concern.

mod support;

mod accuracy;
mod agreement;
mod balancing;
mod capacity;
mod checking;
#[cfg(feature = "cli")]
mod command;
mod determinism;
mod events;
mod exactness;
mod failures;
mod faults;
#[cfg(feature = "cli")]
mod hostile;
mod html;
mod idempotency;
mod invariants;
mod limits;
mod load_shapes;
mod messaging;
#[cfg(feature = "cli")]
mod overrides;
mod percentiles;
mod real_time;
mod resilience;
mod routing;
mod scenario_files;
mod send_sync;
mod store;
mod sweep;
mod thresholds;
mod timeline;
mod topology;
mod trace;
mod validation;
mod warmup;
