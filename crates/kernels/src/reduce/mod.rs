//! Reductions (sum, max, min) over any set of axes of a strided buffer.
//!
//! Two loop orders cover every case with unit-stride inner loops where the
//! layout allows: when the innermost input dimension is reduced, each output
//! is a vectorised horizontal reduction; otherwise rows of the output are
//! accumulated vertically, one reduced index at a time.

pub(crate) mod cuda_kernel;

use rayon::prelude::*;

use crate::element::{Float, SimdVector};
use crate::strided::{coalesce, Strided};

/// The reduction to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    /// Σ.
    Sum,
    /// Maximum.
    Max,
    /// Minimum.
    Min,
}

impl ReduceOp {
    fn identity<T: Float>(self) -> T {
        match self {
            ReduceOp::Sum => T::ZERO,
            ReduceOp::Max => T::NEG_INFINITY,
            ReduceOp::Min => T::INFINITY,
        }
    }

    #[inline(always)]
    fn combine<T: Float>(self, a: T, b: T) -> T {
        match self {
            ReduceOp::Sum => a + b,
            ReduceOp::Max => propagate_nan(a, b, a.max(b)),
            ReduceOp::Min => propagate_nan(a, b, a.min(b)),
        }
    }

    #[inline(always)]
    fn combine_vector<V: SimdVector>(self, a: V, b: V) -> V {
        match self {
            ReduceOp::Sum => a + b,
            ReduceOp::Max => a.max(b),
            ReduceOp::Min => a.min(b),
        }
    }

    #[inline(always)]
    fn finish_vector<V: SimdVector>(self, v: V) -> V::Scalar {
        match self {
            ReduceOp::Sum => v.reduce_sum(),
            ReduceOp::Max => v.reduce_max(),
            ReduceOp::Min => v.reduce_min(),
        }
    }
}

/// A NaN in either operand wins, as in PyTorch's max/min.
#[inline(always)]
fn propagate_nan<T: Float>(a: T, b: T, picked: T) -> T {
    if a.is_nan() {
        a
    } else if b.is_nan() {
        b
    } else {
        picked
    }
}

/// Reduces a unit-stride run.
#[inline]
fn reduce_run<T: Float>(op: ReduceOp, run: &[T]) -> T {
    let lanes = T::LANES;
    let mut acc = [T::Vector::splat(op.identity::<T>()); 4];
    let mut chunks = run.chunks_exact(4 * lanes);
    for chunk in &mut chunks {
        for (k, slot) in acc.iter_mut().enumerate() {
            // SAFETY: the chunk holds 4·LANES values.
            let v = unsafe { T::Vector::load(chunk.as_ptr().add(k * lanes)) };
            *slot = op.combine_vector(*slot, v);
        }
    }
    let folded = op.combine_vector(op.combine_vector(acc[0], acc[1]), op.combine_vector(acc[2], acc[3]));
    let mut result = op.finish_vector(folded);
    for &x in chunks.remainder() {
        result = op.combine(result, x);
    }
    if op != ReduceOp::Sum && run.iter().any(|x| x.is_nan()) {
        // Vector max/min do not propagate NaN: find it the slow way.
        return run.iter().copied().find(|x| x.is_nan()).unwrap_or(result);
    }
    result
}

/// `Σᵢ aᵢ·bᵢ` over two runs of one length, in the order [`reduce`] sums a
/// contiguous buffer of the products (each product rounded to `T`, four
/// vector accumulators, then the tail): equal bit for bit to reducing `a * b`,
/// without writing the products. One thread, as that reduction is.
///
/// # Panics
/// If the runs' lengths differ.
pub fn dot_run<T: Float>(a: &[T], b: &[T]) -> T {
    assert_eq!(a.len(), b.len(), "dot: runs of {} and {} values", a.len(), b.len());
    let lanes = T::LANES;
    let mut acc = [T::Vector::splat(T::ZERO); 4];
    let (mut a_chunks, mut b_chunks) = (a.chunks_exact(4 * lanes), b.chunks_exact(4 * lanes));
    for (ca, cb) in (&mut a_chunks).zip(&mut b_chunks) {
        for (k, slot) in acc.iter_mut().enumerate() {
            // SAFETY: both chunks hold 4·LANES values.
            let (va, vb) =
                unsafe { (T::Vector::load(ca.as_ptr().add(k * lanes)), T::Vector::load(cb.as_ptr().add(k * lanes))) };
            *slot = *slot + va * vb;
        }
    }
    let mut result = ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_sum();
    for (&x, &y) in a_chunks.remainder().iter().zip(b_chunks.remainder()) {
        result += x * y;
    }
    result
}

/// Σ of a slice, vectorised. Large slices are summed in fixed chunks whose
/// partial sums are added in order, so the result does not depend on how
/// threads happened to split the work (runs are reproducible bit for bit).
pub fn sum_slice<T: Float>(values: &[T]) -> T {
    if values.len() >= 1 << 16 {
        let partials: Vec<T> = values.par_chunks(1 << 15).map(|c| reduce_run(ReduceOp::Sum, c)).collect();
        partials.into_iter().fold(T::ZERO, |a, b| a + b)
    } else {
        reduce_run(ReduceOp::Sum, values)
    }
}

/// Reduces `input` (with `shape`) over the axes where `reduced[d]` is true,
/// writing the kept axes, in order and contiguous, to `output`.
///
/// # Panics
/// If the layout is out of bounds or `output` has the wrong length.
pub fn reduce<T: Float>(op: ReduceOp, shape: &[usize], input: Strided<'_, T>, reduced: &[bool], output: &mut [T]) {
    input.check("reduce", shape);
    assert_eq!(reduced.len(), shape.len(), "reduce: {} axis flags for shape {shape:?}", reduced.len());
    let kept_shape: Vec<usize> = (0..shape.len()).filter(|&d| !reduced[d]).map(|d| shape[d]).collect();
    let kept_count: usize = kept_shape.iter().product();
    assert_eq!(output.len(), kept_count, "reduce: output of {} for kept shape {kept_shape:?}", output.len());
    let kept_strides: Vec<usize> = (0..shape.len()).filter(|&d| !reduced[d]).map(|d| input.strides[d]).collect();
    let red_shape: Vec<usize> = (0..shape.len()).filter(|&d| reduced[d]).map(|d| shape[d]).collect();
    let red_strides: Vec<usize> = (0..shape.len()).filter(|&d| reduced[d]).map(|d| input.strides[d]).collect();
    let red_count: usize = red_shape.iter().product();
    if red_count == 0 {
        output.fill(op.identity());
        return;
    }
    let out_strides = crate::strided::contiguous_strides(&kept_shape);
    let (kept_shape, kept) = coalesce(&kept_shape, &[&kept_strides, &out_strides]);
    let kept_strides = &kept[0];
    let (red_shape, red) = coalesce(&red_shape, &[&red_strides]);
    let red_strides = &red[0];
    let data = input.data;
    let base = input.offset;

    let kept_offset = |mut index: usize| -> usize {
        let mut off = 0;
        for d in (0..kept_shape.len()).rev() {
            off += (index % kept_shape[d]) * kept_strides[d];
            index /= kept_shape[d];
        }
        off
    };
    let inner_red = *red_shape.last().unwrap();
    let inner_red_stride = *red_strides.last().unwrap();
    let outer_red: usize = red_count / inner_red;
    let red_outer_offset = |mut index: usize| -> usize {
        let mut off = 0;
        for d in (0..red_shape.len() - 1).rev() {
            off += (index % red_shape[d]) * red_strides[d];
            index /= red_shape[d];
        }
        off
    };

    let horizontal = inner_red_stride == 1 || kept_count == 1;
    let grain = (1usize << 15) / red_count.max(1) + 1;
    if horizontal {
        output.par_iter_mut().with_min_len(grain).enumerate().for_each(|(i, slot)| {
            let start = base + kept_offset(i);
            let mut acc = op.identity::<T>();
            for r in 0..outer_red {
                let s = start + red_outer_offset(r);
                let value = if inner_red_stride == 1 {
                    reduce_run(op, &data[s..s + inner_red])
                } else {
                    (0..inner_red).fold(op.identity::<T>(), |a, j| op.combine(a, data[s + j * inner_red_stride]))
                };
                acc = op.combine(acc, value);
            }
            *slot = acc;
        });
    } else {
        // Vertical: output rows along the innermost kept dimension.
        let row_len = *kept_shape.last().unwrap();
        let row_stride = *kept_strides.last().unwrap();
        output.par_chunks_mut(row_len).with_min_len(grain.div_ceil(row_len)).enumerate().for_each(|(row, out)| {
            out.fill(op.identity());
            let row_start = base + kept_offset(row * row_len);
            for r in 0..red_count {
                let s = row_start + red_outer_offset(r / inner_red) + (r % inner_red) * inner_red_stride;
                if row_stride == 1 {
                    accumulate_run(op, out, &data[s..s + row_len]);
                } else {
                    for (j, slot) in out.iter_mut().enumerate() {
                        *slot = op.combine(*slot, data[s + j * row_stride]);
                    }
                }
            }
        });
    }
}

/// `acc[i] = op(acc[i], run[i])`, vectorised for sums (max and min take the
/// scalar path, which propagates NaN).
fn accumulate_run<T: Float>(op: ReduceOp, acc: &mut [T], run: &[T]) {
    if op != ReduceOp::Sum {
        for (a, &r) in acc.iter_mut().zip(run) {
            *a = op.combine(*a, r);
        }
        return;
    }
    let lanes = T::LANES;
    let split = acc.len() / lanes * lanes;
    let (acc_body, acc_tail) = acc.split_at_mut(split);
    for (a, r) in acc_body.chunks_exact_mut(lanes).zip(run.chunks_exact(lanes)) {
        // SAFETY: both chunks hold exactly LANES values.
        unsafe {
            let v = op.combine_vector(T::Vector::load(a.as_ptr()), T::Vector::load(r.as_ptr()));
            v.store(a.as_mut_ptr());
        }
    }
    for (a, &r) in acc_tail.iter_mut().zip(&run[split..]) {
        *a += r;
    }
}
