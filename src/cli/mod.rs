//! Subcommands of the `microsim` command beyond `run` and `check` (the binary's modules, not
//! the library's): `sweep`, `merge` and `diff`.

pub(crate) mod diff;
pub(crate) mod sweep;
