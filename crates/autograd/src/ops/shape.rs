//! Shape ops on vars (broadcast, reshape, permute, narrow, cat) and their
//! gradient rules: each moves the gradient back to where the value came from.

use tensor::{Result, Tensor};

use crate::op::Op;
use crate::ops::elementwise::expect;
use crate::Var;

/// Sums `g` over the axes along which a tensor of `shape` was broadcast to
/// `g`'s shape: the gradient of a broadcast (one value feeds many outputs,
/// so its gradient is the sum of theirs).
pub(crate) fn sum_to(g: &Tensor, shape: &[usize]) -> Tensor {
    if g.shape() == shape {
        return g.clone();
    }
    let lead = g.rank() - shape.len();
    let axes: Vec<usize> = (0..g.rank()).filter(|&d| d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1)).collect();
    g.sum(&axes, true).reshape(shape)
}

/// The inverse of a permutation.
fn inverse(order: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; order.len()];
    for (i, &o) in order.iter().enumerate() {
        inv[o] = i;
    }
    inv
}

/// Gradient of `narrow(dim, start, len)` of a tensor of `input_shape`: the
/// output gradient in its slot, zeros elsewhere.
pub(crate) fn narrow_backward(g: &Tensor, input_shape: &[usize], dim: usize, start: usize) -> Tensor {
    let len = g.shape()[dim];
    let zeros = |n: usize| {
        let mut shape = input_shape.to_vec();
        shape[dim] = n;
        g.new_full(&shape, 0.0)
    };
    let (before, after) = (zeros(start), zeros(input_shape[dim] - start - len));
    let parts: Vec<&Tensor> = [&before, g, &after].into_iter().filter(|t| t.shape()[dim] > 0).collect();
    Tensor::cat(&parts, dim)
}

/// Gradients of the parts of a `cat` along `dim`: consecutive slices of `g`.
pub(crate) fn cat_backward(g: &Tensor, parts: &[Var], dim: usize, needs: &[bool]) -> Vec<Option<Tensor>> {
    let mut start = 0;
    parts
        .iter()
        .zip(needs)
        .map(|(part, &need)| {
            let len = part.shape()[dim];
            let grad = need.then(|| g.narrow(dim, start, len));
            start += len;
            grad
        })
        .collect()
}

/// Gradient of a permutation: the inverse permutation of the gradient.
pub(crate) fn permute_backward(g: &Tensor, order: &[usize]) -> Tensor {
    g.permute(&inverse(order))
}

impl Var {
    /// Broadcasts to `shape` (NumPy rules).
    pub fn try_broadcast_to(&self, shape: &[usize]) -> Result<Var> {
        let value = self.value().try_broadcast_to(shape)?;
        Ok(Var::from_op(value, Op::BroadcastTo(self.clone())))
    }

    /// As [`Var::try_broadcast_to`].
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    pub fn broadcast_to(&self, shape: &[usize]) -> Var {
        expect(self.try_broadcast_to(shape))
    }

    /// Alias of [`Var::broadcast_to`].
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    pub fn expand(&self, shape: &[usize]) -> Var {
        self.broadcast_to(shape)
    }

    /// The same elements as `shape`.
    pub fn try_reshape(&self, shape: &[usize]) -> Result<Var> {
        let value = self.value().try_reshape(shape)?;
        Ok(Var::from_op(value, Op::Reshape(self.clone())))
    }

    /// As [`Var::try_reshape`].
    ///
    /// # Panics
    /// If the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Var {
        expect(self.try_reshape(shape))
    }

    /// All elements as one dimension.
    pub fn flatten(&self) -> Var {
        self.reshape(&[self.numel()])
    }

    /// Dimensions reordered: new dimension `i` is old `order[i]`.
    pub fn try_permute(&self, order: &[usize]) -> Result<Var> {
        let value = self.value().try_permute(order)?;
        Ok(Var::from_op(value, Op::Permute(self.clone(), order.to_vec())))
    }

    /// As [`Var::try_permute`].
    ///
    /// # Panics
    /// If `order` is not a permutation of the dimensions.
    pub fn permute(&self, order: &[usize]) -> Var {
        expect(self.try_permute(order))
    }

    /// The values in reverse order along `dim` (a mirror image for `dim` 3
    /// of an NCHW image).
    ///
    /// # Errors
    /// If `dim` is out of range or the dtype is storage-only.
    pub fn try_flip(&self, dim: usize) -> Result<Var> {
        let value = self.value().try_flip(dim)?;
        Ok(Var::from_op(value, Op::Flip(self.clone(), dim)))
    }

    /// As [`Var::try_flip`].
    ///
    /// # Panics
    /// If `dim` is out of range.
    pub fn flip(&self, dim: usize) -> Var {
        expect(self.try_flip(dim))
    }

    /// Dimensions `a` and `b` swapped.
    ///
    /// # Panics
    /// If either is out of range.
    pub fn transpose(&self, a: usize, b: usize) -> Var {
        let mut order: Vec<usize> = (0..self.value().rank()).collect();
        order.swap(a, b);
        self.permute(&order)
    }

    /// `len` entries of `dim` from `start`.
    pub fn try_narrow(&self, dim: usize, start: usize, len: usize) -> Result<Var> {
        let value = self.value().try_narrow(dim, start, len)?;
        Ok(Var::from_op(value, Op::Narrow { input: self.clone(), dim, start }))
    }

    /// As [`Var::try_narrow`].
    ///
    /// # Panics
    /// If the range is out of bounds.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Var {
        expect(self.try_narrow(dim, start, len))
    }

    /// A new dimension of size 1 at `dim`.
    ///
    /// # Panics
    /// If `dim` is past the rank.
    pub fn unsqueeze(&self, dim: usize) -> Var {
        let mut shape = self.shape().to_vec();
        assert!(dim <= shape.len(), "unsqueeze: dimension {dim} is out of range for shape {shape:?}");
        shape.insert(dim, 1);
        self.reshape(&shape)
    }

    /// Joins vars along `dim`.
    pub fn try_cat(parts: &[&Var], dim: usize) -> Result<Var> {
        let values: Vec<&Tensor> = parts.iter().map(|v| v.value()).collect();
        let value = Tensor::try_cat(&values, dim)?;
        Ok(Var::from_op(value, Op::Cat(parts.iter().map(|&v| v.clone()).collect(), dim)))
    }

    /// As [`Var::try_cat`].
    ///
    /// # Panics
    /// If the parts do not agree.
    pub fn cat(parts: &[&Var], dim: usize) -> Var {
        expect(Self::try_cat(parts, dim))
    }

    /// Stacks equally shaped vars along a new dimension `dim`.
    ///
    /// # Panics
    /// If the parts do not agree.
    pub fn stack(parts: &[&Var], dim: usize) -> Var {
        let expanded: Vec<Var> = parts.iter().map(|v| v.unsqueeze(dim)).collect();
        Self::cat(&expanded.iter().collect::<Vec<_>>(), dim)
    }
}
