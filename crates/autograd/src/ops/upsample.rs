//! Upsampling of NCHW vars by an integer factor.
//! The gradient rules are one kernel call each, so they stay inline in
//! `backward.rs`, with their derivation comments.

use tensor::{Result, UpsampleMode};

use crate::op::Op;
use crate::ops::elementwise::expect;
use crate::Var;

impl Var {
    /// Upsampling by an integer factor (nearest or bilinear).
    pub fn try_upsample2d(&self, factor: usize, mode: UpsampleMode) -> Result<Var> {
        let value = self.value().try_upsample2d(factor, mode)?;
        Ok(Var::from_op(value, Op::Upsample2d { input: self.clone(), factor, mode }))
    }

    /// As [`Var::try_upsample2d`].
    ///
    /// # Panics
    /// If the var is not 4-D or `factor` is zero.
    pub fn upsample2d(&self, factor: usize, mode: UpsampleMode) -> Var {
        expect(self.try_upsample2d(factor, mode))
    }
}
