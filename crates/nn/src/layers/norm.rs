//! Normalisation layers: instance norm (the GAN generator's) and batch norm
//! with running statistics.

use std::sync::atomic::{AtomicBool, Ordering};

use autograd::Var;

use super::Module;
use crate::params::{Init, Param, ParamStore};

/// `[1, C, 1, 1]` view of a per-channel parameter.
fn per_channel(p: &Param) -> Var {
    let c = p.shape()[0];
    p.var().reshape(&[1, c, 1, 1])
}

/// Instance normalisation, with an optional learned scale and shift.
pub struct InstanceNorm2d {
    affine: Option<(Param, Param)>,
    eps: f64,
}

impl InstanceNorm2d {
    /// With `affine`, `name.weight` (ones) and `name.bias` (zeros).
    pub fn new(store: &mut ParamStore, name: &str, channels: usize, affine: bool) -> crate::Result<InstanceNorm2d> {
        let affine = if affine {
            Some((
                store.param(&format!("{name}.weight"), &[channels], Init::Ones)?,
                store.param(&format!("{name}.bias"), &[channels], Init::Zeros)?,
            ))
        } else {
            None
        };
        Ok(InstanceNorm2d { affine, eps: 1e-5 })
    }
}

impl Module for InstanceNorm2d {
    fn forward(&self, x: &Var) -> crate::Result<Var> {
        let y = x.try_instance_norm(self.eps)?;
        Ok(match &self.affine {
            Some((scale, shift)) => y.try_mul(&per_channel(scale))?.try_add(&per_channel(shift))?,
            None => y,
        })
    }
}

/// Batch normalisation: batch statistics while training (folded into the
/// running averages with `momentum`, the unbiased variance as PyTorch
/// does), the running averages in evaluation.
pub struct BatchNorm2d {
    weight: Param,
    bias: Param,
    running_mean: Param,
    running_var: Param,
    momentum: f64,
    eps: f64,
    training: AtomicBool,
}

impl BatchNorm2d {
    /// `name.{weight, bias, running_mean, running_var}`; starts in training mode.
    pub fn new(store: &mut ParamStore, name: &str, channels: usize) -> crate::Result<BatchNorm2d> {
        Ok(BatchNorm2d {
            weight: store.param(&format!("{name}.weight"), &[channels], Init::Ones)?,
            bias: store.param(&format!("{name}.bias"), &[channels], Init::Zeros)?,
            running_mean: store.buffer(&format!("{name}.running_mean"), &[channels], Init::Zeros)?,
            running_var: store.buffer(&format!("{name}.running_var"), &[channels], Init::Ones)?,
            momentum: 0.1,
            eps: 1e-5,
            training: AtomicBool::new(true),
        })
    }

    /// The running mean and variance.
    pub fn running_stats(&self) -> (tensor::Tensor, tensor::Tensor) {
        (self.running_mean.value(), self.running_var.value())
    }
}

impl Module for BatchNorm2d {
    fn forward(&self, x: &Var) -> crate::Result<Var> {
        let y = if self.training.load(Ordering::Relaxed) {
            let (y, stats) = x.try_batch_norm_train(self.eps)?;
            let shape = x.shape();
            let count = (shape[0] * shape[2] * shape[3]) as f64;
            let c = shape[1];
            let unbiased = stats.variance.reshape(&[c]).mul_scalar(count / (count - 1.0).max(1.0));
            let m = self.momentum;
            let blend = |old: tensor::Tensor, new: tensor::Tensor| old.mul_scalar(1.0 - m) + new.mul_scalar(m);
            self.running_mean.set(blend(self.running_mean.value(), stats.mean.reshape(&[c])));
            self.running_var.set(blend(self.running_var.value(), unbiased));
            y
        } else {
            x.try_batch_norm_eval(&self.running_mean.value(), &self.running_var.value(), self.eps)?
        };
        Ok(y.try_mul(&per_channel(&self.weight))?.try_add(&per_channel(&self.bias))?)
    }

    fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }
}
