//! A convolution's input gradient by GEMM then col2im, for layers with few
//! input channels (VGG's first, 3 → 64).
//!
//! The input gradient is `dX[c][iy][ix] = Σ_{o, ky, kx} W[o][c][ky][kx] ·
//! dY[o][oy][ox]` over the output positions with `iy = oy·s + ky·d − p`,
//! `ix = ox·s + kx·d − p`. The implicit-im2col path computes it as `W̃ ·
//! P̃(dY)`, a GEMM with only `C` rows: with three input channels each gathered
//! patch value feeds three products, so the gather dominates (66.6 ms for
//! VGG's first layer at 512², 13.6 GFLOP/s). Here the GEMM is the other way
//! round: `T = Wᵀ · dY` (`C·KH·KW × OH·OW`, 27 rows for that layer, reading
//! `dY` in place), then each row of `T` is added onto the input positions its
//! tap reaches (col2im). The output rows go in blocks so that `T` stays a few
//! MB whatever the image.

use rayon::prelude::*;

use super::geometry::Conv2dGeometry;
use crate::buffer_pool::PooledVec;
use crate::gemm::{gemm, GemmFloat, MatMut, MatRef, Transposed};

/// Budget for one block of `T`.
const BLOCK_BYTES: usize = 4 << 20;

/// True when col2im is the better way: with fewer than 16 input channels
/// the gathered GEMM has too few rows to pay for its gather (measured at 3
/// channels, VGG's first layer).
pub(crate) fn applies(geo: &Conv2dGeometry) -> bool {
    geo.in_channels < 16
}

/// Overwrites `grad_input` with the input gradient of `geo`'s convolution
/// for `grad_output` and `weight` (OIHW). The caller checked the lengths.
pub(crate) fn conv2d_backward_input_col2im<T: GemmFloat>(
    geo: &Conv2dGeometry,
    grad_output: &[T],
    weight: &[T],
    grad_input: &mut [T],
) {
    let (kh, kw) = (geo.kernel_height, geo.kernel_width);
    let taps = geo.in_channels * kh * kw;
    let (oh, ow) = (geo.out_height(), geo.out_width());
    let (h, w) = (geo.in_height, geo.in_width);
    grad_input.fill(T::ZERO);
    if taps == 0 || oh == 0 || ow == 0 || geo.out_channels == 0 || h * w == 0 {
        return;
    }
    // Wᵀ: row (c, ky, kx) of T takes column (c, ky, kx) of W (O × taps).
    let weight_t = Transposed(MatRef::row_major(weight, geo.out_channels, taps));
    let block_rows = (BLOCK_BYTES / (size_of::<T>() * taps * ow)).clamp(1, oh);
    let mut t = PooledVec::<T>::uninit_contents(taps * block_rows * ow);
    for (grad_image, grad_in) in
        grad_output.chunks_exact(geo.out_channels * oh * ow).zip(grad_input.chunks_exact_mut(geo.in_channels * h * w))
    {
        for first in (0..oh).step_by(block_rows) {
            let rows = block_rows.min(oh - first);
            let block = &mut t[..taps * rows * ow];
            // dY's rows first..first + rows of every channel: a strided
            // O × (rows·OW) matrix read in place.
            let grad_block = MatRef::new(&grad_image[first * ow..], geo.out_channels, rows * ow, oh * ow, 1);
            gemm(T::ONE, &weight_t, &grad_block, T::ZERO, MatMut::row_major(block, taps, rows * ow));
            // col2im: each input channel's plane is one task's, so the taps
            // that land on the same pixel add up without races.
            let block = &*block;
            grad_in.par_chunks_mut(h * w).enumerate().for_each(|(c, plane)| {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let row = &block[((c * kh + ky) * kw + kx) * rows * ow..][..rows * ow];
                        add_tap(geo, plane, row, first, rows, ky, kx);
                    }
                }
            });
        }
    }
}

/// Adds one tap's row of `T` (output rows `first..first + rows`, `OW` each)
/// onto the input plane it reaches: `plane[oy·s + ky·d − p][ox·s + kx·d − p]`.
fn add_tap<T: GemmFloat>(
    geo: &Conv2dGeometry,
    plane: &mut [T],
    row: &[T],
    first: usize,
    rows: usize,
    ky: usize,
    kx: usize,
) {
    let (h, w, ow) = (geo.in_height as isize, geo.in_width as isize, geo.out_width());
    let ((sy, sx), (py, px), (dy, dx)) = (geo.stride, geo.padding, geo.dilation);
    let x_offset = (kx * dx) as isize - px as isize;
    // The output columns whose input column lies inside the image.
    let first_ox = if x_offset >= 0 { 0 } else { (-x_offset as usize).div_ceil(sx) };
    let end_ox = if w - 1 - x_offset < 0 { 0 } else { (((w - 1 - x_offset) as usize) / sx + 1).min(ow) };
    if first_ox >= end_ox {
        return;
    }
    for (r, values) in row.chunks_exact(ow).take(rows).enumerate() {
        let iy = ((first + r) * sy + ky * dy) as isize - py as isize;
        if iy < 0 || iy >= h {
            continue;
        }
        let line = &mut plane[iy as usize * w as usize..][..w as usize];
        let values = &values[first_ox..end_ox];
        let start = (first_ox * sx) as isize + x_offset;
        if sx == 1 {
            for (slot, &v) in line[start as usize..][..values.len()].iter_mut().zip(values) {
                *slot += v;
            }
        } else {
            for (j, &v) in values.iter().enumerate() {
                line[start as usize + j * sx] += v;
            }
        }
    }
}
