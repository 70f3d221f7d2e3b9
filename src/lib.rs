//! The `fresco` program's library half: what the command line, the examples
//! and the benches share.
//!
//! The engine itself lives in the workspace crates: [`kernels`] (SIMD CPU
//! kernels over slices) and [`tensor`] (the tensor type).

pub mod bench;

pub use kernels;
pub use tensor;
