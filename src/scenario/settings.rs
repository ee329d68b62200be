//! `[simulation]`: the engine's settings, its defaults where the file says nothing, and the
//! file's seed.

use toml::Spanned;

use crate::simulation::{Simulation, SimulationBuilder};

use super::error::Source;
use super::file::RawSimulation;
use super::values::count;

/// The checked `[simulation]` table.
pub(super) struct Settings {
    /// The file's seed, if it sets one.
    pub(super) seed: Option<u64>,
    /// The engine's settings, overridden by what the file writes.
    pub(super) builder: SimulationBuilder,
    /// Whether every setting the file writes is known: false after a mistake in the table.
    pub(super) complete: bool,
}

/// Checks `[simulation]` (`None`: absent; `Some(None)`: its mistake already reported), and
/// reports a mistake of each of its keys.
pub(super) fn check_simulation(
    source: &Source<'_>,
    simulation: Option<Option<Spanned<RawSimulation>>>,
) -> Settings {
    let mut settings = Settings {
        seed: None,
        builder: Simulation::builder(),
        complete: true,
    };
    let simulation = match simulation {
        None => return settings,
        Some(None) => {
            settings.complete = false;
            return settings;
        }
        Some(Some(simulation)) => simulation.into_inner(),
    };
    let mut builder = settings.builder;
    if let Some(written) = simulation.seed {
        match count(source, &written, "seed") {
            Ok(seed) => settings.seed = Some(seed),
            Err(error) => {
                source.report(error);
                settings.complete = false;
            }
        }
    }
    if let Some(duration) = simulation.duration {
        builder = builder.duration(duration.into_inner().0);
    }
    if let Some(warmup) = simulation.warmup {
        builder = builder.warmup(warmup.into_inner().0);
    }
    if let Some(timeout) = simulation.call_timeout {
        builder = builder.call_timeout(timeout.into_inner().0);
    }
    if let Some(events) = simulation.max_events_per_instant {
        match count(source, &events, "max_events_per_instant") {
            Ok(events) => builder = builder.max_events_per_instant(events),
            Err(error) => {
                source.report(error);
                settings.complete = false;
            }
        }
    }
    if let Some(window) = simulation.timeline_window {
        builder = builder.timeline_window(window.into_inner().0);
    }
    if let Some(latency) = simulation.default_latency {
        builder = builder.default_latency(latency.into_inner());
    }
    settings.builder = builder;
    settings
}
