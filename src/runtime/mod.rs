//! The running simulation: everything that exists only while [`Simulation::run`]
//! (crate::Simulation::run) runs, and the [`Service`] trait and handler [`Context`] that user
//! code meets it through.
//!
//! ```text
//!   workload_driver ──▶ engine ──▶ replica (worker actors) ──▶ context ──▶ service (user code)
//!                        │  ▲                                   │
//!                        │  └── policy pipeline, links, faults  └──▶ broker (topics) ──▶ replica
//!                        └──▶ settle (when a request and all it caused has finished)
//! ```
//!
//! Nothing outside this folder imports it except the assembly ([`Simulation`](crate::Simulation))
//! and the root's re-exports: configuration types (capacity, workloads, topics, faults,
//! policies, distributions) and the report are below it, so the folder has no import loop with
//! the rest of the crate.

pub(crate) mod broker;
pub(crate) mod context;
pub(crate) mod edges;
pub(crate) mod engine;
pub(crate) mod fault_schedule;
pub(crate) mod handle;
pub(crate) mod replica;
pub(crate) mod request_set;
pub(crate) mod round_trip;
pub(crate) mod service;
pub(crate) mod settle;
pub(crate) mod workload_driver;
