//! The `fresco` program's library half: what the command line, the examples
//! and the benches share.
//!
//! The engine itself lives in the workspace crates: [`kernels`] (SIMD CPU
//! kernels over slices), [`tensor`] (the tensor type), [`autograd`]
//! (reverse-mode differentiation) and [`nn`] (layers, VGG, optimisers).

pub mod bench;
pub mod commands;
pub mod memory_budget;
pub mod weights;

pub use autograd;
pub use kernels;
pub use nn;
pub use tensor;
