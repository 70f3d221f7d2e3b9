//! Shape, strides and offset: how a tensor's elements sit in its storage.
//! Every view (reshape of a contiguous tensor, permute, narrow, broadcast) is
//! a new layout over the same storage.

use crate::error::{invalid, Result, TensorError};

/// Shape, per-dimension strides (in elements; 0 for a broadcast dimension) and
/// the offset of the first element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub(crate) shape: Vec<usize>,
    pub(crate) strides: Vec<usize>,
    pub(crate) offset: usize,
}

/// Row-major strides of a contiguous tensor of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    kernels::strided::contiguous_strides(shape)
}

impl Layout {
    /// A contiguous row-major layout starting at element 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout { shape: shape.to_vec(), strides: contiguous_strides(shape), offset: 0 }
    }

    /// The dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Element strides per dimension.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Offset of the first element in the storage.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// A layout from its parts (for views built by the device backend).
    pub(crate) fn from_parts(shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Self {
        Layout { shape, strides, offset }
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when elements are laid out row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&n, &s) in self.shape.iter().zip(&self.strides).rev() {
            if n != 1 && s != expected {
                return false;
            }
            expected *= n;
        }
        true
    }

    pub(crate) fn check_dim(&self, op: &'static str, dim: usize) -> Result<()> {
        if dim < self.shape.len() {
            Ok(())
        } else {
            Err(TensorError::DimOutOfRange { op, dim, shape: self.shape.clone() })
        }
    }

    /// The view with dimensions reordered: new dimension `i` is old `order[i]`.
    pub(crate) fn permute(&self, order: &[usize]) -> Result<Layout> {
        let rank = self.shape.len();
        let mut seen = vec![false; rank];
        if order.len() != rank || order.iter().any(|&d| d >= rank || std::mem::replace(&mut seen[d], true)) {
            return Err(invalid("permute", &self.shape, format!("{order:?} is not a permutation of 0..{rank}")));
        }
        Ok(Layout {
            shape: order.iter().map(|&d| self.shape[d]).collect(),
            strides: order.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        })
    }

    /// The view of `len` indices of `dim` starting at `start`.
    pub(crate) fn narrow(&self, dim: usize, start: usize, len: usize) -> Result<Layout> {
        self.check_dim("narrow", dim)?;
        if start + len > self.shape[dim] {
            return Err(invalid(
                "narrow",
                &self.shape,
                format!("range {start}..{} of dimension {dim} exceeds its size {}", start + len, self.shape[dim]),
            ));
        }
        let mut layout = self.clone();
        layout.shape[dim] = len;
        if len > 0 {
            layout.offset += start * self.strides[dim];
        }
        Ok(layout)
    }

    /// The view broadcast to `shape` (NumPy rules: align right, expand 1s).
    pub(crate) fn broadcast_to(&self, shape: &[usize]) -> Result<Layout> {
        let err = || TensorError::Broadcast { op: "broadcast_to", lhs: self.shape.clone(), rhs: shape.to_vec() };
        if shape.len() < self.shape.len() {
            return Err(err());
        }
        let lead = shape.len() - self.shape.len();
        let mut strides = vec![0; shape.len()];
        for (d, &n) in shape.iter().enumerate().skip(lead) {
            let (own, stride) = (self.shape[d - lead], self.strides[d - lead]);
            strides[d] = if own == n {
                stride
            } else if own == 1 {
                0
            } else {
                return Err(err());
            };
        }
        Ok(Layout { shape: shape.to_vec(), strides, offset: self.offset })
    }

    /// The view as `shape`, if the existing strides allow it without a copy
    /// (always when contiguous).
    pub(crate) fn reshape_view(&self, shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() {
            return Some(Layout { shape: shape.to_vec(), strides: contiguous_strides(shape), offset: self.offset });
        }
        None
    }
}

/// The broadcast of two shapes, NumPy rules.
pub fn broadcast_shapes(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>> {
    let rank = lhs.len().max(rhs.len());
    let mut shape = vec![0; rank];
    for (d, slot) in shape.iter_mut().enumerate() {
        let a = if d + lhs.len() >= rank { lhs[d + lhs.len() - rank] } else { 1 };
        let b = if d + rhs.len() >= rank { rhs[d + rhs.len() - rank] } else { 1 };
        *slot = if a == b || b == 1 {
            a
        } else if a == 1 {
            b
        } else {
            return Err(TensorError::Broadcast { op, lhs: lhs.to_vec(), rhs: rhs.to_vec() });
        };
    }
    Ok(shape)
}
