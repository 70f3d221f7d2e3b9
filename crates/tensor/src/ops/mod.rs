//! Tensor operations, one file per op family (named as in `kernels`): each
//! checks its operands and calls its device's `Backend` method.

mod conv;
mod elementwise;
mod matmul;
mod padding;
mod pooling;
mod reduce;
mod shape;
mod upsample;

pub use conv::Conv2dParams;
pub(crate) use pooling::MaxPoolPositions;
pub use pooling::{MaxPoolIndices, Pool2dParams};

use crate::error::{invalid, Result};
use crate::tensor::Tensor;

/// The (N, C, H, W) of a 4-D tensor, or an error naming `op`.
pub(crate) fn nchw(op: &'static str, t: &Tensor) -> Result<(usize, usize, usize, usize)> {
    match *t.shape() {
        [n, c, h, w] => Ok((n, c, h, w)),
        _ => Err(invalid(op, t.shape(), "expected a 4-D NCHW tensor")),
    }
}
