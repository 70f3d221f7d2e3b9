//! Losses that style transfer is made of: mean squared error and total
//! variation, fused, with their gradient rules.

use tensor::{Pad2d, PadMode, Result, Tensor, TensorError};

use crate::op::Op;
use crate::ops::elementwise::expect;
use crate::Var;

/// Gradients of `L = mean((a − b)²)` given the scalar `g = ∂ℓ/∂L`.
pub(crate) fn mse_backward(a: &Tensor, b: &Tensor, g: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
    // ∂L/∂a = 2(a − b)/n, ∂L/∂b = −∂L/∂a
    let scale = 2.0 * g.to_scalar() / a.numel().max(1) as f64;
    let grad_a = (a - b).mul_scalar(scale);
    let grad_b = needs[1].then(|| grad_a.neg());
    vec![needs[0].then_some(grad_a), grad_b]
}

/// Differences of neighbours along `dim` (2 = rows, 3 = columns).
fn differences(x: &Tensor, dim: usize) -> Tensor {
    let len = x.shape()[dim];
    x.narrow(dim, 1, len - 1) - x.narrow(dim, 0, len - 1)
}

/// Gradient of the total variation (see [`Var::total_variation`]).
pub(crate) fn total_variation_backward(x: &Tensor, g: &Tensor) -> Tensor {
    let g = g.to_scalar();
    let mut grad = x.zeros_like();
    for dim in [2, 3] {
        if x.shape()[dim] < 2 {
            continue;
        }
        // T = Σ dᵢ²/m with dᵢ = x[i+1] − x[i]: x[i] appears in dᵢ₋₁ (with +1)
        // and dᵢ (with −1), so ∂T/∂x[i] = 2(dᵢ₋₁ − dᵢ)/m, zero-padded at the ends.
        let d = differences(x, dim);
        let scale = 2.0 * g / d.numel() as f64;
        let none = Pad2d { top: 0, bottom: 0, left: 0, right: 0 };
        let (before, after) = if dim == 2 {
            (Pad2d { top: 1, ..none }, Pad2d { bottom: 1, ..none })
        } else {
            (Pad2d { left: 1, ..none }, Pad2d { right: 1, ..none })
        };
        let term = d.pad2d(before, PadMode::Zero) - d.pad2d(after, PadMode::Zero);
        grad = grad + term.mul_scalar(scale);
    }
    grad
}

impl Var {
    /// Mean squared error `mean((self − target)²)`, as a rank-0 var. The
    /// shapes must be equal (no broadcasting: a silent broadcast in a loss
    /// hides bugs).
    pub fn try_mse(&self, target: &Var) -> Result<Var> {
        let (a, b) = (self.value(), target.value());
        if a.shape() != b.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "mse",
                lhs: a.shape().to_vec(),
                rhs: b.shape().to_vec(),
                detail: "shapes must be equal".into(),
            });
        }
        let value = a.try_sub(b)?.square().mean_all();
        Ok(Var::from_op(value, Op::Mse(self.clone(), target.clone())))
    }

    /// As [`Var::try_mse`].
    ///
    /// # Panics
    /// If the shapes differ.
    pub fn mse(&self, target: &Var) -> Var {
        expect(self.try_mse(target))
    }

    /// Total variation of an NCHW image: the mean squared difference of
    /// vertical neighbours plus that of horizontal neighbours. Means, not
    /// sums, so a weight keeps its meaning across image sizes.
    pub fn try_total_variation(&self) -> Result<Var> {
        let x = self.value();
        if x.rank() != 4 {
            return Err(TensorError::invalid_argument("total_variation", x.shape(), "expected a 4-D NCHW tensor"));
        }
        let mut value = x.new_full(&[], 0.0);
        for dim in [2, 3] {
            if x.shape()[dim] >= 2 {
                value = value + differences(x, dim).square().mean_all();
            }
        }
        Ok(Var::from_op(value, Op::TotalVariation(self.clone())))
    }

    /// As [`Var::try_total_variation`].
    ///
    /// # Panics
    /// If the var is not 4-D.
    pub fn total_variation(&self) -> Var {
        expect(self.try_total_variation())
    }
}
