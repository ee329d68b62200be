//! Scenario files (placeholder until the scenario module lands).
