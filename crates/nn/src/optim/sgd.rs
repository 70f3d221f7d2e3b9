//! Stochastic gradient descent with momentum (PyTorch's formulation).

use std::collections::HashMap;

use autograd::Gradients;
use tensor::Tensor;

use super::gradient_of;
use crate::params::Param;

/// `v ← μ·v + g`, `p ← p − lr·v` (plain SGD when `momentum` is 0).
pub struct Sgd {
    /// Step size.
    pub lr: f64,
    /// Momentum `μ`.
    pub momentum: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    velocity: HashMap<String, Tensor>,
}

impl Sgd {
    /// SGD with learning rate `lr` and `momentum`.
    pub fn new(lr: f64, momentum: f64) -> Sgd {
        Sgd { lr, momentum, weight_decay: 0.0, velocity: HashMap::new() }
    }

    /// One update of every trainable parameter.
    pub fn step(&mut self, params: &[Param], grads: &Gradients) {
        for param in params.iter().filter(|p| p.trainable()) {
            let g = gradient_of(param, grads, self.weight_decay);
            let v = match self.velocity.remove(param.name()) {
                Some(v) if self.momentum != 0.0 => v.mul_scalar(self.momentum) + g,
                _ => g,
            };
            param.set(param.value() - v.mul_scalar(self.lr));
            if self.momentum != 0.0 {
                self.velocity.insert(param.name().to_string(), v);
            }
        }
    }
}
