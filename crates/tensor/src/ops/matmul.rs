//! Matrix products: `[..., m, k] × [..., k, n]` with broadcast batch
//! dimensions. Transposed and other strided views go to GEMM as strides, with
//! no copy.

use kernels::gemm::{gemm, MatMut, MatRef};

use crate::error::{expect, invalid, Result, TensorError};
use crate::layout::broadcast_shapes;
use crate::storage::FloatElement;
use crate::tensor::{with_float, Tensor};

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
        if crate::cuda::common_device("matmul", &[self, rhs])?.is_some() {
            return crate::cuda::matmul(&a, &b, &batch, (m, k, n), &out_shape);
        }
        with_float!(self.dtype(), "matmul", |T| Ok(matmul_impl::<T>(&a, &b, &batch, m, k, n, &out_shape)))
    }

    /// As [`Tensor::try_matmul`].
    ///
    /// # Panics
    /// If the shapes or dtypes do not agree.
    pub fn matmul(&self, rhs: &Tensor) -> Tensor {
        expect(self.try_matmul(rhs))
    }
}

#[allow(clippy::too_many_arguments)]
fn matmul_impl<T: FloatElement>(
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    m: usize,
    k: usize,
    n: usize,
    out_shape: &[usize],
) -> Tensor {
    let batches: usize = batch.iter().product();
    let (sa, sb) = (a.strides(), b.strides());
    let nb = batch.len();
    Tensor::build::<T>(out_shape, |out| {
        if m * n == 0 {
            return;
        }
        for (index, c) in out.chunks_exact_mut(m * n).enumerate().take(batches) {
            // Storage offsets of this batch entry in each operand.
            let (mut rest, mut oa, mut ob) = (index, a.layout.offset, b.layout.offset);
            for d in (0..nb).rev() {
                let i = rest % batch[d];
                rest /= batch[d];
                oa += i * sa[d];
                ob += i * sb[d];
            }
            let am = MatRef::new(&a.data::<T>()[oa..], m, k, sa[nb], sa[nb + 1]);
            let bm = MatRef::new(&b.data::<T>()[ob..], k, n, sb[nb], sb[nb + 1]);
            gemm(T::ONE, &am, &bm, T::ZERO, MatMut::row_major(c, m, n));
        }
    })
}
