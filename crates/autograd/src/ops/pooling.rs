//! Max and average pooling of NCHW vars (max pooling keeps the positions
//! its backward needs).
//! The gradient rules are one kernel call each, so they stay inline in
//! `backward.rs`, with their derivation comments.

use tensor::{Pool2dParams, Result};

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
}
