//! Walking N-d strided layouts: dimension coalescing and an odometer over all
//! but the innermost dimension, so kernels run long unit-stride inner loops.

/// A strided operand: data, the element offset of index zero, and one stride
/// per dimension of the shared shape (0 for a broadcast dimension).
#[derive(Clone, Copy, Debug)]
pub struct Strided<'a, T> {
    /// Backing slice.
    pub data: &'a [T],
    /// Offset of element `[0, 0, ...]`.
    pub offset: usize,
    /// Stride per dimension, in elements.
    pub strides: &'a [usize],
}

impl<T> Strided<'_, T> {
    /// Checks that every index of `shape` stays inside `data`.
    ///
    /// # Panics
    /// If the layout reaches outside the slice or has the wrong rank.
    pub fn check(&self, op: &str, shape: &[usize]) {
        assert_eq!(self.strides.len(), shape.len(), "{op}: {} strides for shape {shape:?}", self.strides.len());
        if shape.contains(&0) {
            return;
        }
        let last: usize = self.offset + shape.iter().zip(self.strides).map(|(&n, &s)| (n - 1) * s).sum::<usize>();
        assert!(last < self.data.len(), "{op}: layout reaches element {last} of a {}-element buffer", self.data.len());
    }
}

/// Merges adjacent dimensions that are contiguous in every stride set and
/// drops unit dimensions. Returns the new shape and one stride set per input.
pub fn coalesce(shape: &[usize], strides: &[&[usize]]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut out_shape: Vec<usize> = Vec::with_capacity(shape.len());
    let mut out_strides: Vec<Vec<usize>> = vec![Vec::with_capacity(shape.len()); strides.len()];
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        let mergeable = out_shape
            .last()
            .is_some_and(|_| strides.iter().zip(&out_strides).all(|(s, o)| *o.last().unwrap() == s[d] * shape[d]));
        if mergeable {
            *out_shape.last_mut().unwrap() *= shape[d];
            for (s, o) in strides.iter().zip(out_strides.iter_mut()) {
                *o.last_mut().unwrap() = s[d];
            }
        } else {
            out_shape.push(shape[d]);
            for (s, o) in strides.iter().zip(out_strides.iter_mut()) {
                o.push(s[d]);
            }
        }
    }
    if out_shape.is_empty() {
        out_shape.push(1);
        for o in out_strides.iter_mut() {
            o.push(1);
        }
    }
    (out_shape, out_strides)
}

/// Contiguous row-major strides of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

/// Offsets of `row` (a linear index over all dims but the last) in each
/// stride set.
pub fn row_offsets<const K: usize>(shape: &[usize], strides: [&[usize]; K], mut row: usize) -> [usize; K] {
    let mut offsets = [0; K];
    for d in (0..shape.len() - 1).rev() {
        let i = row % shape[d];
        row /= shape[d];
        for k in 0..K {
            offsets[k] += i * strides[k][d];
        }
    }
    offsets
}
