//! Layers: each owns its parameters (shared with the [`crate::ParamStore`])
//! and maps a var to a var.

mod activation;
mod container;
mod conv;
mod linear;
mod norm;
mod resample;

pub use activation::Activation;
pub use container::{Residual, Sequential};
pub use conv::{Conv2d, Conv2dConfig, ConvTranspose2d};
pub use linear::Linear;
pub use norm::{BatchNorm2d, InstanceNorm2d};
pub use resample::{AvgPool2d, MaxPool2d, Upsample};

use autograd::Var;

/// A layer or a network of layers.
pub trait Module: Send + Sync {
    /// The layer's output for `x`.
    fn forward(&self, x: &Var) -> crate::Result<Var>;

    /// Switches training behaviour (batch-norm statistics) on or off.
    fn set_training(&self, _training: bool) {}
}
