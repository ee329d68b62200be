//! `[simulation]`: the engine's settings, its defaults where the file says nothing, and the
//! file's seed.

use toml::Spanned;

use crate::simulation::{Simulation, SimulationBuilder};

use super::ScenarioError;
use super::error::Source;
use super::file::RawSimulation;
use super::values::count;

/// Checks `[simulation]`: returns the file's seed, if it sets one, and the engine's settings,
/// overridden by what the file writes.
pub(super) fn check_simulation(
    source: &Source<'_>,
    simulation: Option<Spanned<RawSimulation>>,
) -> Result<(Option<u64>, SimulationBuilder), ScenarioError> {
    let mut seed = None;
    let mut settings = Simulation::builder();
    if let Some(simulation) = simulation {
        let simulation = simulation.into_inner();
        if let Some(written) = simulation.seed {
            seed = Some(count(source, &written, "seed")?);
        }
        if let Some(duration) = simulation.duration {
            settings = settings.duration(duration.into_inner().0);
        }
        if let Some(warmup) = simulation.warmup {
            settings = settings.warmup(warmup.into_inner().0);
        }
        if let Some(timeout) = simulation.call_timeout {
            settings = settings.call_timeout(timeout.into_inner().0);
        }
        if let Some(events) = simulation.max_events_per_instant {
            settings = settings.max_events_per_instant(count(
                source,
                &events,
                "max_events_per_instant",
            )?);
        }
        if let Some(latency) = simulation.default_latency {
            settings = settings.default_latency(latency.into_inner());
        }
    }
    Ok((seed, settings))
}
