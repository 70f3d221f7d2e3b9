//! Reductions over any set of axes: sum, mean, max, min.

use kernels::reduce::ReduceOp;

use crate::backend::on_device;

use crate::error::{expect, invalid, Result};
use crate::tensor::Tensor;

impl Tensor {
    /// Reduces over `axes`; with `keepdim` the reduced axes stay as size 1.
    pub fn try_reduce(&self, op: ReduceOp, axes: &[usize], keepdim: bool) -> Result<Tensor> {
        let name = match op {
            ReduceOp::Sum => "sum",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
        };
        let mut reduced = vec![false; self.rank()];
        for &axis in axes {
            self.layout.check_dim(name, axis)?;
            if std::mem::replace(&mut reduced[axis], true) {
                return Err(invalid(name, self.shape(), format!("axis {axis} listed twice in {axes:?}")));
            }
        }
        if op != ReduceOp::Sum && axes.iter().any(|&a| self.shape()[a] == 0) {
            return Err(invalid(name, self.shape(), "cannot take the max or min of an empty axis"));
        }
        let kept: Vec<usize> = (0..self.rank()).filter(|&d| !reduced[d]).map(|d| self.shape()[d]).collect();
        let out_shape: Vec<usize> = if keepdim {
            (0..self.rank()).map(|d| if reduced[d] { 1 } else { self.shape()[d] }).collect()
        } else {
            kept.clone()
        };
        if !self.dtype().is_compute() {
            return Err(crate::TensorError::UnsupportedDType {
                op: name,
                dtype: self.dtype(),
                hint: "; convert to f32 or f64 with to_dtype first",
            });
        }
        on_device(name, &[self], |backend| backend.reduce(self, op, &reduced, &out_shape))
    }

    /// `Σᵢ selfᵢ·otherᵢ` over two tensors of one shape and dtype, as f64.
    /// For contiguous host tensors one pass without a product buffer, equal
    /// bit for bit to `(self * other).sum_all()` (see
    /// [`kernels::reduce::dot_run`]); otherwise that expression.
    ///
    /// # Errors
    /// If the shapes or dtypes differ, or the dtype is storage-only.
    pub fn try_dot(&self, other: &Tensor) -> Result<f64> {
        if self.shape() != other.shape() {
            return Err(crate::TensorError::ShapeMismatch {
                op: "dot",
                lhs: self.shape().to_vec(),
                rhs: other.shape().to_vec(),
                detail: "the operands must have one shape".into(),
            });
        }
        if self.dtype() != other.dtype() {
            return Err(crate::TensorError::DTypeMismatch { op: "dot", lhs: self.dtype(), rhs: other.dtype() });
        }
        let host = self.device() == crate::Device::Cpu && other.device() == crate::Device::Cpu;
        if host && self.layout.is_contiguous() && other.layout.is_contiguous() {
            match self.dtype() {
                crate::DType::F32 => {
                    return Ok(
                        kernels::reduce::dot_run(self.contiguous_data::<f32>(), other.contiguous_data::<f32>()) as f64
                    )
                }
                crate::DType::F64 => {
                    return Ok(kernels::reduce::dot_run(self.contiguous_data::<f64>(), other.contiguous_data::<f64>()))
                }
                _ => {}
            }
        }
        Ok(self.try_mul(other)?.try_reduce(ReduceOp::Sum, &(0..self.rank()).collect::<Vec<_>>(), false)?.to_scalar())
    }

    /// Σ over `axes`.
    ///
    /// # Panics
    /// If an axis is out of range or repeated, or the dtype is storage-only.
    pub fn sum(&self, axes: &[usize], keepdim: bool) -> Tensor {
        expect(self.try_reduce(ReduceOp::Sum, axes, keepdim))
    }

    /// Mean over `axes`.
    ///
    /// # Panics
    /// As [`Tensor::sum`].
    pub fn mean(&self, axes: &[usize], keepdim: bool) -> Tensor {
        let count: usize = axes.iter().map(|&a| self.shape().get(a).copied().unwrap_or(1)).product();
        self.sum(axes, keepdim).mul_scalar(1.0 / count.max(1) as f64)
    }

    /// Maximum over `axes`.
    ///
    /// # Panics
    /// As [`Tensor::sum`], and for an empty axis.
    pub fn max(&self, axes: &[usize], keepdim: bool) -> Tensor {
        expect(self.try_reduce(ReduceOp::Max, axes, keepdim))
    }

    /// Minimum over `axes`.
    ///
    /// # Panics
    /// As [`Tensor::max`].
    pub fn min(&self, axes: &[usize], keepdim: bool) -> Tensor {
        expect(self.try_reduce(ReduceOp::Min, axes, keepdim))
    }

    /// Σ of all elements, as a rank-0 tensor.
    ///
    /// # Panics
    /// If the dtype is storage-only.
    pub fn sum_all(&self) -> Tensor {
        self.sum(&(0..self.rank()).collect::<Vec<_>>(), false)
    }

    /// Mean of all elements, as a rank-0 tensor.
    ///
    /// # Panics
    /// If the dtype is storage-only.
    pub fn mean_all(&self) -> Tensor {
        self.mean(&(0..self.rank()).collect::<Vec<_>>(), false)
    }
}
