//! Normalisation: instance norm and batch norm (training and evaluation),
//! fused, with closed-form gradient rules.
//!
//! Both normalise `x` over a set of axes: `y = (x − μ)·s` with `μ` the mean
//! and `s = 1/√(σ² + ε)` (σ² the biased variance). Affine scale and shift
//! are ordinary broadcast multiplies and adds, left to the layer.

use tensor::{Result, Tensor, TensorError};

use crate::op::{NormStats, Op};
use crate::ops::elementwise::expect;
use crate::Var;

/// Statistics of a normalisation: mean and biased variance, keepdim shape.
#[derive(Clone, Debug)]
pub struct NormalizationStats {
    /// Mean over the normalised axes.
    pub mean: Tensor,
    /// Biased variance over the normalised axes.
    pub variance: Tensor,
}

/// Gradient of a normalisation given its output `y` and `g = ∂L/∂y`.
pub(crate) fn normalize_backward(y: &Tensor, g: &Tensor, axes: &[usize], stats: &NormStats) -> Tensor {
    match stats {
        // y = (x − μ)·s with μ, s functions of x over the group of n values:
        // ∂L/∂x = s·(g − mean(g) − y·mean(g·y))
        NormStats::Own { inv_std } => {
            let mean_g = g.mean(axes, true);
            let mean_gy = (g * y).mean(axes, true);
            (g - &mean_g - y * &mean_gy) * inv_std
        }
        // y = (x − μ)·s with μ, s constants: ∂L/∂x = s·g
        NormStats::Fixed { inv_std } => g * inv_std,
    }
}

fn check_nchw(op: &'static str, x: &Tensor) -> Result<()> {
    if x.rank() == 4 {
        Ok(())
    } else {
        Err(TensorError::invalid_argument(op, x.shape(), "expected a 4-D NCHW tensor"))
    }
}

impl Var {
    /// Normalises over `axes` with the input's own statistics.
    fn normalize_own(&self, axes: &[usize], eps: f64) -> (Var, NormalizationStats) {
        let x = self.value();
        let mean = x.mean(axes, true);
        let centred = x - &mean;
        let variance = centred.square().mean(axes, true);
        let inv_std = variance.add_scalar(eps).powf(-0.5);
        let value = &centred * &inv_std;
        let op = Op::Normalize { input: self.clone(), axes: axes.to_vec(), stats: NormStats::Own { inv_std } };
        (Var::from_op(value, op), NormalizationStats { mean, variance })
    }

    /// Instance norm of an NCHW var: each (image, channel) plane to zero mean
    /// and unit variance.
    pub fn try_instance_norm(&self, eps: f64) -> Result<Var> {
        check_nchw("instance_norm", self.value())?;
        Ok(self.normalize_own(&[2, 3], eps).0)
    }

    /// As [`Var::try_instance_norm`].
    ///
    /// # Panics
    /// If the var is not 4-D.
    pub fn instance_norm(&self, eps: f64) -> Var {
        expect(self.try_instance_norm(eps))
    }

    /// Training-mode batch norm of an NCHW var: each channel normalised with
    /// the batch's statistics, which are returned (shape `[1, C, 1, 1]`) for
    /// the layer's running averages.
    pub fn try_batch_norm_train(&self, eps: f64) -> Result<(Var, NormalizationStats)> {
        check_nchw("batch_norm", self.value())?;
        Ok(self.normalize_own(&[0, 2, 3], eps))
    }

    /// Evaluation-mode batch norm: `(x − mean)/√(variance + ε)` with fixed
    /// per-channel statistics of shape `[C]`.
    pub fn try_batch_norm_eval(&self, mean: &Tensor, variance: &Tensor, eps: f64) -> Result<Var> {
        let x = self.value();
        check_nchw("batch_norm", x)?;
        let c = x.shape()[1];
        if mean.shape() != [c] || variance.shape() != [c] {
            return Err(TensorError::ShapeMismatch {
                op: "batch_norm",
                lhs: mean.shape().to_vec(),
                rhs: variance.shape().to_vec(),
                detail: format!("running mean and variance must have shape [{c}] for input {:?}", x.shape()),
            });
        }
        let (mean, variance) = (mean.reshape(&[1, c, 1, 1]), variance.reshape(&[1, c, 1, 1]));
        let inv_std = variance.add_scalar(eps).powf(-0.5);
        let value = x.try_sub(&mean)?.try_mul(&inv_std)?;
        let op = Op::Normalize { input: self.clone(), axes: vec![0, 2, 3], stats: NormStats::Fixed { inv_std } };
        Ok(Var::from_op(value, op))
    }
}
