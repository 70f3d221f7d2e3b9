//! Optimisers: SGD with momentum, Adam, and L-BFGS with an optional
//! strong-Wolfe line search. Each updates [`crate::Param`]s in place from
//! the [`autograd::Gradients`] of a backward pass.

mod adam;
mod lbfgs;
mod line_search;
mod sgd;

pub use adam::{Adam, AdamConfig};
pub use lbfgs::{Lbfgs, LbfgsConfig, LbfgsOutcome};
pub use sgd::Sgd;

use autograd::Gradients;
use tensor::Tensor;

use crate::params::Param;

/// The gradient of `param` (zeros when the loss did not reach it), plus
/// `weight_decay · param` when asked (L2 regularisation).
pub(crate) fn gradient_of(param: &Param, grads: &Gradients, weight_decay: f64) -> Tensor {
    let value = param.value();
    let g = match grads.get(&param.var()) {
        Some(g) => g.clone(),
        None => value.zeros_like(),
    };
    if weight_decay == 0.0 {
        g
    } else {
        g + value.mul_scalar(weight_decay)
    }
}
