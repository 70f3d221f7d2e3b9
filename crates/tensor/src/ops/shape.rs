//! Shape ops: views (reshape of contiguous data, permute, transpose, narrow,
//! broadcast, unsqueeze/squeeze) and the copying joins and selections (cat,
//! stack, index_select).

use crate::error::{expect, invalid, Result, TensorError};
use crate::tensor::Tensor;

impl Tensor {
    /// The same elements as `shape` (a view when contiguous, else a copy).
    pub fn try_reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let count: usize = shape.iter().product();
        if count != self.numel() {
            return Err(TensorError::ElementCount {
                op: "reshape",
                shape: shape.to_vec(),
                expected: count,
                got: self.numel(),
            });
        }
        match self.layout.reshape_view(shape) {
            Some(layout) => Ok(self.with_layout(layout)),
            None => self.contiguous().try_reshape(shape),
        }
    }

    /// As [`Tensor::try_reshape`].
    ///
    /// # Panics
    /// If the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        expect(self.try_reshape(shape))
    }

    /// All elements as one dimension.
    pub fn flatten(&self) -> Tensor {
        self.reshape(&[self.numel()])
    }

    /// A view with dimensions reordered: new dimension `i` is old `order[i]`.
    pub fn try_permute(&self, order: &[usize]) -> Result<Tensor> {
        Ok(self.with_layout(self.layout.permute(order)?))
    }

    /// As [`Tensor::try_permute`].
    ///
    /// # Panics
    /// If `order` is not a permutation of the dimensions.
    pub fn permute(&self, order: &[usize]) -> Tensor {
        expect(self.try_permute(order))
    }

    /// A view with dimensions `a` and `b` swapped.
    pub fn try_transpose(&self, a: usize, b: usize) -> Result<Tensor> {
        self.layout.check_dim("transpose", a)?;
        self.layout.check_dim("transpose", b)?;
        let mut order: Vec<usize> = (0..self.rank()).collect();
        order.swap(a, b);
        self.try_permute(&order)
    }

    /// As [`Tensor::try_transpose`].
    ///
    /// # Panics
    /// If a dimension is out of range.
    pub fn transpose(&self, a: usize, b: usize) -> Tensor {
        expect(self.try_transpose(a, b))
    }

    /// The matrix transpose (last two dimensions swapped), as a view.
    ///
    /// # Panics
    /// If the rank is below 2.
    pub fn t(&self) -> Tensor {
        assert!(self.rank() >= 2, "t: needs at least 2 dimensions, shape {:?}", self.shape());
        self.transpose(self.rank() - 2, self.rank() - 1)
    }

    /// A view of `len` indices of `dim` starting at `start`.
    pub fn try_narrow(&self, dim: usize, start: usize, len: usize) -> Result<Tensor> {
        Ok(self.with_layout(self.layout.narrow(dim, start, len)?))
    }

    /// As [`Tensor::try_narrow`].
    ///
    /// # Panics
    /// If the range is out of bounds.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Tensor {
        expect(self.try_narrow(dim, start, len))
    }

    /// A view broadcast to `shape` (NumPy rules); no data is copied.
    pub fn try_broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        Ok(self.with_layout(self.layout.broadcast_to(shape)?))
    }

    /// As [`Tensor::try_broadcast_to`].
    ///
    /// # Panics
    /// If the shapes are not broadcast-compatible.
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor {
        expect(self.try_broadcast_to(shape))
    }

    /// Alias of [`Tensor::broadcast_to`] (PyTorch's name).
    ///
    /// # Panics
    /// If the shapes are not broadcast-compatible.
    pub fn expand(&self, shape: &[usize]) -> Tensor {
        self.broadcast_to(shape)
    }

    /// A view with a new dimension of size 1 at `dim`.
    pub fn try_unsqueeze(&self, dim: usize) -> Result<Tensor> {
        if dim > self.rank() {
            return Err(TensorError::DimOutOfRange { op: "unsqueeze", dim, shape: self.shape().to_vec() });
        }
        let mut layout = self.layout.clone();
        let stride = if dim < self.rank() { layout.strides[dim] * layout.shape[dim] } else { 1 };
        layout.shape.insert(dim, 1);
        layout.strides.insert(dim, stride);
        Ok(self.with_layout(layout))
    }

    /// As [`Tensor::try_unsqueeze`].
    ///
    /// # Panics
    /// If `dim > rank`.
    pub fn unsqueeze(&self, dim: usize) -> Tensor {
        expect(self.try_unsqueeze(dim))
    }

    /// A view without dimension `dim`, which must have size 1.
    pub fn try_squeeze(&self, dim: usize) -> Result<Tensor> {
        self.layout.check_dim("squeeze", dim)?;
        if self.shape()[dim] != 1 {
            return Err(invalid(
                "squeeze",
                self.shape(),
                format!("dimension {dim} has size {}, not 1", self.shape()[dim]),
            ));
        }
        let mut layout = self.layout.clone();
        layout.shape.remove(dim);
        layout.strides.remove(dim);
        Ok(self.with_layout(layout))
    }

    /// As [`Tensor::try_squeeze`].
    ///
    /// # Panics
    /// If the dimension is out of range or not of size 1.
    pub fn squeeze(&self, dim: usize) -> Tensor {
        expect(self.try_squeeze(dim))
    }

    /// The view at index `index` of `dim`, with that dimension removed.
    pub fn try_select(&self, dim: usize, index: usize) -> Result<Tensor> {
        self.try_narrow(dim, index, 1)?.try_squeeze(dim)
    }

    /// As [`Tensor::try_select`].
    ///
    /// # Panics
    /// If out of range.
    pub fn select(&self, dim: usize, index: usize) -> Tensor {
        expect(self.try_select(dim, index))
    }

    /// Joins tensors along `dim`; all other dimensions must agree.
    pub fn try_cat(tensors: &[&Tensor], dim: usize) -> Result<Tensor> {
        let first = *tensors.first().ok_or_else(|| invalid("cat", &[], "no tensors to join"))?;
        first.layout.check_dim("cat", dim)?;
        for t in &tensors[1..] {
            if t.dtype() != first.dtype() {
                return Err(TensorError::DTypeMismatch { op: "cat", lhs: first.dtype(), rhs: t.dtype() });
            }
            let agree = t.rank() == first.rank() && (0..t.rank()).all(|d| d == dim || t.shape()[d] == first.shape()[d]);
            if !agree {
                return Err(TensorError::ShapeMismatch {
                    op: "cat",
                    lhs: first.shape().to_vec(),
                    rhs: t.shape().to_vec(),
                    detail: format!("all dimensions but {dim} must match"),
                });
            }
        }
        let mut shape = first.shape().to_vec();
        shape[dim] = tensors.iter().map(|t| t.shape()[dim]).sum();
        crate::backend::on_device("cat", tensors, |backend| backend.cat(tensors, dim, &shape))
    }

    /// As [`Tensor::try_cat`].
    ///
    /// # Panics
    /// If the tensors do not agree.
    pub fn cat(tensors: &[&Tensor], dim: usize) -> Tensor {
        expect(Self::try_cat(tensors, dim))
    }

    /// Stacks equally shaped tensors along a new dimension `dim`.
    pub fn try_stack(tensors: &[&Tensor], dim: usize) -> Result<Tensor> {
        let expanded = tensors.iter().map(|t| t.try_unsqueeze(dim)).collect::<Result<Vec<_>>>()?;
        Self::try_cat(&expanded.iter().collect::<Vec<_>>(), dim)
    }

    /// As [`Tensor::try_stack`].
    ///
    /// # Panics
    /// If the tensors do not agree.
    pub fn stack(tensors: &[&Tensor], dim: usize) -> Tensor {
        expect(Self::try_stack(tensors, dim))
    }

    /// The slices at `indices` of `dim`, in that order, as a new tensor.
    pub fn try_index_select(&self, dim: usize, indices: &[usize]) -> Result<Tensor> {
        self.layout.check_dim("index_select", dim)?;
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.shape()[dim]) {
            return Err(invalid("index_select", self.shape(), format!("index {bad} out of range for dimension {dim}")));
        }
        let parts = indices.iter().map(|&i| self.try_narrow(dim, i, 1)).collect::<Result<Vec<_>>>()?;
        if parts.is_empty() {
            let mut shape = self.shape().to_vec();
            shape[dim] = 0;
            return Ok(self.new_full(&shape, 0.0));
        }
        Self::try_cat(&parts.iter().collect::<Vec<_>>(), dim)
    }

    /// The values in reverse order along `dim`, as a new contiguous tensor.
    ///
    /// # Errors
    /// If `dim` is out of range or the dtype is storage-only (f16, bf16).
    pub fn try_flip(&self, dim: usize) -> Result<Tensor> {
        self.layout.check_dim("flip", dim)?;
        if !self.dtype().is_compute() {
            return Err(TensorError::UnsupportedDType {
                op: "flip",
                dtype: self.dtype(),
                hint: "; convert to f32 or f64 with to_dtype first",
            });
        }
        let len = self.shape()[dim];
        if len <= 1 || self.numel() == 0 {
            return Ok(self.contiguous());
        }
        // On the host, one pass over a contiguous copy: runs of `inner`
        // values are copied in reverse order of their index along `dim`.
        if self.device() == crate::Device::Cpu && matches!(self.dtype(), crate::DType::F32 | crate::DType::F64) {
            let source = self.contiguous();
            let inner: usize = self.shape()[dim + 1..].iter().product();
            fn reverse_runs<T: Copy>(from: &[T], to: &mut [T], len: usize, inner: usize) {
                for (block_in, block_out) in from.chunks_exact(len * inner).zip(to.chunks_exact_mut(len * inner)) {
                    for (k, run) in block_out.chunks_exact_mut(inner).enumerate() {
                        run.copy_from_slice(&block_in[(len - 1 - k) * inner..(len - k) * inner]);
                    }
                }
            }
            return Ok(match self.dtype() {
                crate::DType::F32 => Tensor::build::<f32>(self.shape(), |out| {
                    reverse_runs(source.contiguous_data::<f32>(), out, len, inner)
                }),
                _ => Tensor::build::<f64>(self.shape(), |out| {
                    reverse_runs(source.contiguous_data::<f64>(), out, len, inner)
                }),
            });
        }
        let reversed: Vec<usize> = (0..len).rev().collect();
        self.try_index_select(dim, &reversed)
    }

    /// As [`Tensor::try_flip`].
    ///
    /// # Panics
    /// If `dim` is out of range.
    pub fn flip(&self, dim: usize) -> Tensor {
        expect(self.try_flip(dim))
    }

    /// As [`Tensor::try_index_select`].
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn index_select(&self, dim: usize, indices: &[usize]) -> Tensor {
        expect(self.try_index_select(dim, indices))
    }
}
