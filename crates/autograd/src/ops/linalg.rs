//! Matrix products: `matmul` (batched, broadcasting) and the Gram matrix that
//! every style loss is built on, with their gradient rules.

use tensor::{Result, Tensor, TensorError};

use crate::op::Op;
use crate::ops::elementwise::expect;
use crate::ops::shape::sum_to;
use crate::Var;

/// The last two dimensions swapped (a view).
fn swap_last(t: &Tensor) -> Tensor {
    let r = t.rank();
    t.transpose(r - 2, r - 1)
}

/// Gradients of `y = a·b` over the last two dimensions.
pub(crate) fn matmul_backward(a: &Tensor, b: &Tensor, g: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
    vec![
        // ∂L/∂A = ∂L/∂Y · Bᵀ (summed over broadcast batch dimensions)
        needs[0].then(|| sum_to(&g.matmul(&swap_last(b)), a.shape())),
        // ∂L/∂B = Aᵀ · ∂L/∂Y
        needs[1].then(|| sum_to(&swap_last(a).matmul(g), b.shape())),
    ]
}

/// The features of an `[N, C, …]` tensor as `[N, C, M]` (M the positions).
fn features(x: &Tensor) -> Tensor {
    let (n, c) = (x.shape()[0], x.shape()[1]);
    x.reshape(&[n, c, x.numel() / (n * c).max(1)])
}

/// Gradient of `G = s·F·Fᵀ`: `∂L/∂F = s·(∂L/∂G + ∂L/∂Gᵀ)·F`.
pub(crate) fn gram_backward(x: &Tensor, g: &Tensor, scale: f64) -> Tensor {
    let f = features(x);
    let symmetric = g + &swap_last(g);
    symmetric.matmul(&f).mul_scalar(scale).reshape(x.shape())
}

impl Var {
    /// The matrix product over the last two dimensions, batched (with
    /// broadcasting) over the rest.
    pub fn try_matmul(&self, rhs: &Var) -> Result<Var> {
        let value = self.value().try_matmul(rhs.value())?;
        Ok(Var::from_op(value, Op::Matmul(self.clone(), rhs.clone())))
    }

    /// As [`Var::try_matmul`].
    ///
    /// # Panics
    /// If the shapes or dtypes do not agree.
    pub fn matmul(&self, rhs: &Var) -> Var {
        expect(self.try_matmul(rhs))
    }

    /// The Gram matrix of an `[N, C, H, W]` (or `[N, C, M]`) feature map:
    /// `G[n] = F·Fᵀ / (C·M)` with `F` the `C × M` features of image `n` and
    /// `M` the number of positions, so the style statistics of a layer do not
    /// grow with its size. One GEMM against a transposed view; no copy of F.
    pub fn try_gram(&self) -> Result<Var> {
        let x = self.value();
        if x.rank() < 3 {
            return Err(TensorError::invalid_argument(
                "gram",
                x.shape(),
                "expected [N, C, H, W] or [N, C, M] features",
            ));
        }
        let f = features(x);
        let (c, m) = (f.shape()[1], f.shape()[2]);
        let scale = 1.0 / (c * m).max(1) as f64;
        let value = f.try_matmul(&swap_last(&f))?.mul_scalar(scale);
        Ok(Var::from_op(value, Op::Gram { input: self.clone(), scale }))
    }

    /// As [`Var::try_gram`].
    ///
    /// # Panics
    /// If the var has fewer than 3 dimensions.
    pub fn gram(&self) -> Var {
        expect(self.try_gram())
    }
}
