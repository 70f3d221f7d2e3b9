//! Upsampling of NCHW planes by an integer factor: nearest neighbour and
//! bilinear (PyTorch's `align_corners = false`), forward and backward.

pub(crate) mod cuda_kernel;

use rayon::prelude::*;

use crate::Float;

/// Interpolation rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpsampleMode {
    /// Repeat each pixel `factor × factor` times.
    Nearest,
    /// Bilinear between the four nearest input pixel centres.
    Bilinear,
}

/// For output coordinate `o`: the two input taps and the weight of the second,
/// with input pixel centres at half-integers (`align_corners = false`).
fn bilinear_taps(o: usize, factor: usize, len: usize) -> (usize, usize, f64) {
    let source = ((o as f64 + 0.5) / factor as f64 - 0.5).max(0.0);
    let i0 = (source.floor() as usize).min(len - 1);
    let i1 = (i0 + 1).min(len - 1);
    (i0, i1, source - i0 as f64)
}

fn check(op: &str, planes: usize, height: usize, width: usize, factor: usize, input: usize, output: usize) {
    assert!(factor >= 1, "{op}: scale factor must be at least 1");
    assert!(
        input == planes * height * width && output == input * factor * factor,
        "{op}: {input} input and {output} output values for {planes} planes of {height}x{width} scaled by {factor}"
    );
}

/// Upsamples `planes` planes of `height × width` by `factor`.
///
/// # Panics
/// If a buffer has the wrong length or `factor` is zero.
pub fn upsample2d_forward<T: Float>(
    mode: UpsampleMode,
    planes: usize,
    height: usize,
    width: usize,
    factor: usize,
    input: &[T],
    output: &mut [T],
) {
    check("upsample2d_forward", planes, height, width, factor, input.len(), output.len());
    let (oh, ow) = (height * factor, width * factor);
    if input.is_empty() {
        return;
    }
    let columns: Vec<(usize, usize, T)> =
        (0..ow).map(|x| bilinear_taps(x, factor, width)).map(|(a, b, l)| (a, b, T::from_f64(l))).collect();
    output.par_chunks_mut(oh * ow).zip(input.par_chunks(height * width)).for_each(|(out, plane)| {
        for (y, row) in out.chunks_exact_mut(ow).enumerate() {
            match mode {
                UpsampleMode::Nearest => {
                    let src = &plane[(y / factor) * width..(y / factor + 1) * width];
                    for (x, slot) in row.iter_mut().enumerate() {
                        *slot = src[x / factor];
                    }
                }
                UpsampleMode::Bilinear => {
                    let (y0, y1, ly) = bilinear_taps(y, factor, height);
                    let ly = T::from_f64(ly);
                    let (r0, r1) = (&plane[y0 * width..(y0 + 1) * width], &plane[y1 * width..(y1 + 1) * width]);
                    for (slot, &(x0, x1, lx)) in row.iter_mut().zip(&columns) {
                        let top = r0[x0] + lx * (r0[x1] - r0[x0]);
                        let bottom = r1[x0] + lx * (r1[x1] - r1[x0]);
                        *slot = top + ly * (bottom - top);
                    }
                }
            }
        }
    });
}

/// Gradient of [`upsample2d_forward`]: each output gradient is spread back
/// over the inputs with the forward weights. Overwrites `grad_input`.
///
/// # Panics
/// If a buffer has the wrong length or `factor` is zero.
pub fn upsample2d_backward<T: Float>(
    mode: UpsampleMode,
    planes: usize,
    height: usize,
    width: usize,
    factor: usize,
    grad_output: &[T],
    grad_input: &mut [T],
) {
    check("upsample2d_backward", planes, height, width, factor, grad_input.len(), grad_output.len());
    let (oh, ow) = (height * factor, width * factor);
    if grad_input.is_empty() {
        return;
    }
    let columns: Vec<(usize, usize, T)> =
        (0..ow).map(|x| bilinear_taps(x, factor, width)).map(|(a, b, l)| (a, b, T::from_f64(l))).collect();
    grad_input.par_chunks_mut(height * width).zip(grad_output.par_chunks(oh * ow)).for_each(|(gin, gout)| {
        gin.fill(T::ZERO);
        for (y, row) in gout.chunks_exact(ow).enumerate() {
            match mode {
                UpsampleMode::Nearest => {
                    let dst = &mut gin[(y / factor) * width..(y / factor + 1) * width];
                    for (x, &g) in row.iter().enumerate() {
                        dst[x / factor] += g;
                    }
                }
                UpsampleMode::Bilinear => {
                    // out = (1-ly)(1-lx)·a + (1-ly)lx·b + ly(1-lx)·c + ly·lx·d
                    let (y0, y1, ly) = bilinear_taps(y, factor, height);
                    let ly = T::from_f64(ly);
                    for (&g, &(x0, x1, lx)) in row.iter().zip(&columns) {
                        let (top, bottom) = (g * (T::ONE - ly), g * ly);
                        gin[y0 * width + x0] += top * (T::ONE - lx);
                        gin[y0 * width + x1] += top * lx;
                        gin[y1 * width + x0] += bottom * (T::ONE - lx);
                        gin[y1 * width + x1] += bottom * lx;
                    }
                }
            }
        }
    });
}
