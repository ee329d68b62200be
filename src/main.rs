//! The `microsim` command (lands with the scenario module).
fn main() {}
