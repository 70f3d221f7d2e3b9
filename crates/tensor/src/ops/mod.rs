//! Tensor operations, one file per op family.

mod elementwise;
mod matmul;
mod reduce;
mod shape;
mod spatial;

pub(crate) use spatial::MaxPoolPositions;
pub use spatial::{Conv2dParams, MaxPoolIndices, Pool2dParams};
