//! Pooling, upsampling and padding of NCHW vars. Their gradient rules are
//! one kernel call each (the kernel scatters the gradient back to where the
//! values were read), so they stay inline in `backward.rs`, each with its
//! derivation comment.

use tensor::{Pad2d, PadMode, Pool2dParams, Result, UpsampleMode};

use crate::op::Op;
use crate::ops::elementwise::expect;
use crate::Var;

impl Var {
    /// Max pooling; the chosen positions are saved for backward, where
    /// `∂L/∂x` is `∂L/∂y` routed to each window's maximum.
    pub fn try_max_pool2d(&self, params: Pool2dParams) -> Result<Var> {
        let (value, indices) = self.value().try_max_pool2d(params)?;
        Ok(Var::from_op(value, Op::MaxPool2d { input: self.clone(), indices }))
    }

    /// As [`Var::try_max_pool2d`].
    ///
    /// # Panics
    /// If the var is not 4-D or the window does not fit.
    pub fn max_pool2d(&self, params: Pool2dParams) -> Var {
        expect(self.try_max_pool2d(params))
    }

    /// Average pooling (PyTorch's `count_include_pad`).
    pub fn try_avg_pool2d(&self, params: Pool2dParams, count_include_pad: bool) -> Result<Var> {
        let value = self.value().try_avg_pool2d(params, count_include_pad)?;
        Ok(Var::from_op(value, Op::AvgPool2d { input: self.clone(), params, count_include_pad }))
    }

    /// As [`Var::try_avg_pool2d`].
    ///
    /// # Panics
    /// If the var is not 4-D or the window does not fit.
    pub fn avg_pool2d(&self, params: Pool2dParams, count_include_pad: bool) -> Var {
        expect(self.try_avg_pool2d(params, count_include_pad))
    }

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

    /// Padding of the last two dimensions (zero, reflection or replication).
    pub fn try_pad2d(&self, pad: Pad2d, mode: PadMode) -> Result<Var> {
        let value = self.value().try_pad2d(pad, mode)?;
        Ok(Var::from_op(value, Op::Pad2d { input: self.clone(), pad, mode }))
    }

    /// As [`Var::try_pad2d`].
    ///
    /// # Panics
    /// If the var is not 4-D or the padding is invalid for `mode`.
    pub fn pad2d(&self, pad: Pad2d, mode: PadMode) -> Var {
        expect(self.try_pad2d(pad, mode))
    }
}
