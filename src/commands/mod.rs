//! The `fresco` subcommands that run style transfer, with their arguments.

pub mod gan;
pub mod gatys;
