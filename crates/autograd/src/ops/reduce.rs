//! Reductions over axes (sum, mean, max) and their gradient rules.

use tensor::{Result, Tensor};

use crate::op::{Op, Reduction};
use crate::ops::elementwise::expect;
use crate::Var;

/// `g` (the gradient of a reduction over `axes`) with the reduced axes
/// restored as size 1, so it broadcasts against the input.
fn keepdim_shape(g: &Tensor, input_shape: &[usize], axes: &[usize], keepdim: bool) -> Tensor {
    if keepdim {
        return g.clone();
    }
    let shape: Vec<usize> =
        (0..input_shape.len()).map(|d| if axes.contains(&d) { 1 } else { input_shape[d] }).collect();
    g.reshape(&shape)
}

/// Gradient of a reduction of `x` (output `y`) over `axes`.
pub(crate) fn reduce_backward(
    kind: Reduction,
    x: &Tensor,
    y: &Tensor,
    g: &Tensor,
    axes: &[usize],
    keepdim: bool,
) -> Tensor {
    let g = keepdim_shape(g, x.shape(), axes, keepdim);
    match kind {
        // ∂(Σᵢ xᵢ)/∂xⱼ = 1: every input receives the output's gradient.
        Reduction::Sum => g.broadcast_to(x.shape()),
        // ∂(Σᵢ xᵢ / n)/∂xⱼ = 1/n
        Reduction::Mean => {
            let count: usize = axes.iter().map(|&a| x.shape()[a]).product();
            g.mul_scalar(1.0 / count as f64).broadcast_to(x.shape())
        }
        // ∂ max/∂xⱼ = [xⱼ = max] / (number of maxima): ties share equally.
        Reduction::Max => {
            let y = keepdim_shape(y, x.shape(), axes, keepdim);
            let winners = x.eq(&y);
            let count = winners.sum(axes, true);
            winners * (g / count)
        }
    }
}

impl Var {
    fn try_reduce(&self, kind: Reduction, axes: &[usize], keepdim: bool) -> Result<Var> {
        let x = self.value();
        let value = match kind {
            Reduction::Sum => x.try_reduce(tensor::ReduceOp::Sum, axes, keepdim)?,
            Reduction::Mean => {
                let count: usize = axes.iter().map(|&a| x.shape().get(a).copied().unwrap_or(1)).product();
                x.try_reduce(tensor::ReduceOp::Sum, axes, keepdim)?.mul_scalar(1.0 / count.max(1) as f64)
            }
            Reduction::Max => x.try_reduce(tensor::ReduceOp::Max, axes, keepdim)?,
        };
        Ok(Var::from_op(value, Op::Reduce { kind, input: self.clone(), axes: axes.to_vec(), keepdim }))
    }

    /// Σ over `axes` (kept as size 1 with `keepdim`).
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    pub fn sum(&self, axes: &[usize], keepdim: bool) -> Var {
        expect(self.try_reduce(Reduction::Sum, axes, keepdim))
    }

    /// Mean over `axes`.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    pub fn mean(&self, axes: &[usize], keepdim: bool) -> Var {
        expect(self.try_reduce(Reduction::Mean, axes, keepdim))
    }

    /// Maximum over `axes` (ties share the gradient equally).
    ///
    /// # Panics
    /// If an axis is out of range, repeated or empty.
    pub fn max(&self, axes: &[usize], keepdim: bool) -> Var {
        expect(self.try_reduce(Reduction::Max, axes, keepdim))
    }

    /// Σ of all elements, as a rank-0 var.
    pub fn sum_all(&self) -> Var {
        self.sum(&(0..self.value().rank()).collect::<Vec<_>>(), false)
    }

    /// Mean of all elements, as a rank-0 var.
    pub fn mean_all(&self) -> Var {
        self.mean(&(0..self.value().rank()).collect::<Vec<_>>(), false)
    }
}
