//! Matrix products: `[..., m, k] × [..., k, n]` with broadcast batch
//! dimensions. Transposed and other strided views go to GEMM as strides, with
//! no copy.

use crate::backend::on_device;
use crate::error::{expect, invalid, Result, TensorError};
use crate::layout::broadcast_shapes;
use crate::tensor::Tensor;

impl Tensor {
    /// The matrix product over the last two dimensions, batched over the rest.
    pub fn try_matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        if self.rank() < 2 || rhs.rank() < 2 {
            return Err(invalid(
                "matmul",
                self.shape(),
                format!("both operands need 2+ dimensions, rhs is {:?}", rhs.shape()),
            ));
        }
        if self.dtype() != rhs.dtype() {
            return Err(TensorError::DTypeMismatch { op: "matmul", lhs: self.dtype(), rhs: rhs.dtype() });
        }
        let (ra, rb) = (self.rank(), rhs.rank());
        let (m, k, k2, n) = (self.shape()[ra - 2], self.shape()[ra - 1], rhs.shape()[rb - 2], rhs.shape()[rb - 1]);
        if k != k2 {
            return Err(TensorError::ShapeMismatch {
                op: "matmul",
                lhs: self.shape().to_vec(),
                rhs: rhs.shape().to_vec(),
                detail: format!("inner dimensions {k} and {k2} differ"),
            });
        }
        let batch = broadcast_shapes("matmul", &self.shape()[..ra - 2], &rhs.shape()[..rb - 2])?;
        let a = self.try_broadcast_to(&[&batch[..], &[m, k]].concat())?;
        let b = rhs.try_broadcast_to(&[&batch[..], &[k, n]].concat())?;
        let out_shape = [&batch[..], &[m, n]].concat();
        on_device("matmul", &[self, rhs], |backend| backend.matmul(&a, &b, &batch, (m, k, n), &out_shape))
    }

    /// As [`Tensor::try_matmul`].
    ///
    /// # Panics
    /// If the shapes or dtypes do not agree.
    pub fn matmul(&self, rhs: &Tensor) -> Tensor {
        expect(self.try_matmul(rhs))
    }
}
