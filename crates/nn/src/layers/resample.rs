//! Pooling and upsampling layers.

use autograd::Var;
use tensor::{Pool2dParams, UpsampleMode};

use super::Module;

/// Max pooling with a square window.
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d {
    /// Window and stride.
    pub params: Pool2dParams,
}

impl MaxPool2d {
    /// A `kernel × kernel` window moved by `stride`.
    pub fn new(kernel: usize, stride: usize) -> Self {
        MaxPool2d { params: Pool2dParams::new(kernel, stride) }
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Var) -> crate::Result<Var> {
        Ok(x.try_max_pool2d(self.params)?)
    }
}

/// Average pooling with a square window (padding not counted).
#[derive(Clone, Copy, Debug)]
pub struct AvgPool2d {
    /// Window and stride.
    pub params: Pool2dParams,
}

impl AvgPool2d {
    /// A `kernel × kernel` window moved by `stride`.
    pub fn new(kernel: usize, stride: usize) -> Self {
        AvgPool2d { params: Pool2dParams::new(kernel, stride) }
    }
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Var) -> crate::Result<Var> {
        Ok(x.try_avg_pool2d(self.params, false)?)
    }
}

/// Upsampling by an integer factor.
#[derive(Clone, Copy, Debug)]
pub struct Upsample {
    /// Scale factor.
    pub factor: usize,
    /// Nearest or bilinear.
    pub mode: UpsampleMode,
}

impl Module for Upsample {
    fn forward(&self, x: &Var) -> crate::Result<Var> {
        Ok(x.try_upsample2d(self.factor, self.mode)?)
    }
}
