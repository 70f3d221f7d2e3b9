//! Element-wise activations as layers.

use autograd::Var;

use super::Module;

/// An activation function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `x` for positive `x`, else `slope·x`.
    LeakyRelu(f64),
    /// `tanh x`.
    Tanh,
    /// `1 / (1 + e⁻ˣ)`.
    Sigmoid,
}

impl Module for Activation {
    fn forward(&self, x: &Var) -> crate::Result<Var> {
        Ok(match *self {
            Activation::Relu => x.relu(),
            Activation::LeakyRelu(slope) => x.leaky_relu(slope),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
        })
    }
}
