//! The `microsim` command (placeholder).
fn main() {}
