//! Spatial padding of NCHW planes (zero, reflection, replication), forward and
//! backward.

pub(crate) mod cuda_kernel;

use rayon::prelude::*;

use crate::Float;

/// What fills the border.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadMode {
    /// Zeros.
    Zero,
    /// Mirror image without repeating the edge (`dcb|abcd|cba`).
    Reflect,
    /// The edge value repeated (`aaa|abcd|ddd`).
    Replicate,
}

/// Padding amounts in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pad2d {
    /// Rows added above.
    pub top: usize,
    /// Rows added below.
    pub bottom: usize,
    /// Columns added on the left.
    pub left: usize,
    /// Columns added on the right.
    pub right: usize,
}

impl Pad2d {
    /// The same amount on all four sides.
    pub fn uniform(amount: usize) -> Self {
        Pad2d { top: amount, bottom: amount, left: amount, right: amount }
    }

    /// Describes why `mode` cannot pad a `height × width` plane this much.
    pub fn validate(&self, mode: PadMode, height: usize, width: usize) -> Result<(), String> {
        match mode {
            PadMode::Reflect if self.top.max(self.bottom) >= height || self.left.max(self.right) >= width => {
                Err(format!("reflection padding {self:?} must be smaller than the plane {height}x{width}"))
            }
            PadMode::Replicate | PadMode::Reflect if height == 0 || width == 0 => {
                Err(format!("{mode:?} padding of an empty {height}x{width} plane"))
            }
            _ => Ok(()),
        }
    }
}

/// Source index of padded coordinate `i` (`None` for zero padding outside).
#[inline]
fn source(mode: PadMode, i: usize, before: usize, len: usize) -> Option<usize> {
    let j = i as isize - before as isize;
    let n = len as isize;
    if (0..n).contains(&j) {
        return Some(j as usize);
    }
    match mode {
        PadMode::Zero => None,
        PadMode::Replicate => Some(j.clamp(0, n - 1) as usize),
        PadMode::Reflect => Some(if j < 0 { -j } else { 2 * (n - 1) - j } as usize),
    }
}

/// Checks the padding and the buffer lengths: `input` values of
/// `(planes, height, width)` unpadded, `output` values padded.
fn check(
    op: &str,
    mode: PadMode,
    pad: &Pad2d,
    (planes, height, width): (usize, usize, usize),
    input: usize,
    output: usize,
) {
    if let Err(message) = pad.validate(mode, height, width) {
        panic!("{op}: {message}");
    }
    let padded = (height + pad.top + pad.bottom) * (width + pad.left + pad.right);
    assert!(
        input == planes * height * width && output == planes * padded,
        "{op}: {input} input and {output} output values for {planes} planes of {height}x{width} padded by {pad:?}"
    );
}

/// Pads `planes` planes of `height × width`.
///
/// # Panics
/// If the padding is invalid for `mode` or a buffer has the wrong length.
pub fn pad2d_forward<T: Float>(
    mode: PadMode,
    pad: &Pad2d,
    planes: usize,
    height: usize,
    width: usize,
    input: &[T],
    output: &mut [T],
) {
    check("pad2d_forward", mode, pad, (planes, height, width), input.len(), output.len());
    let (oh, ow) = (height + pad.top + pad.bottom, width + pad.left + pad.right);
    if output.is_empty() {
        return;
    }
    if height * width == 0 {
        output.fill(T::ZERO);
        return;
    }
    let columns: Vec<Option<usize>> = (0..ow).map(|x| source(mode, x, pad.left, width)).collect();
    output.par_chunks_mut(oh * ow).zip(input.par_chunks(height * width)).for_each(|(out, plane)| {
        for (y, row) in out.chunks_exact_mut(ow).enumerate() {
            match source(mode, y, pad.top, height) {
                None => row.fill(T::ZERO),
                Some(sy) => {
                    let src = &plane[sy * width..(sy + 1) * width];
                    row[pad.left..pad.left + width].copy_from_slice(src);
                    for (x, slot) in row.iter_mut().enumerate() {
                        if x < pad.left || x >= pad.left + width {
                            *slot = columns[x].map_or(T::ZERO, |sx| src[sx]);
                        }
                    }
                }
            }
        }
    });
}

/// Gradient of [`pad2d_forward`]: every padded position's gradient is added to
/// the input it copied. Overwrites `grad_input`.
///
/// # Panics
/// If the padding is invalid for `mode` or a buffer has the wrong length.
pub fn pad2d_backward<T: Float>(
    mode: PadMode,
    pad: &Pad2d,
    planes: usize,
    height: usize,
    width: usize,
    grad_output: &[T],
    grad_input: &mut [T],
) {
    check("pad2d_backward", mode, pad, (planes, height, width), grad_input.len(), grad_output.len());
    let (oh, ow) = (height + pad.top + pad.bottom, width + pad.left + pad.right);
    if grad_input.is_empty() || grad_output.is_empty() {
        return;
    }
    let columns: Vec<Option<usize>> = (0..ow).map(|x| source(mode, x, pad.left, width)).collect();
    grad_input.par_chunks_mut(height * width).zip(grad_output.par_chunks(oh * ow)).for_each(|(gin, gout)| {
        gin.fill(T::ZERO);
        for (y, row) in gout.chunks_exact(ow).enumerate() {
            if let Some(sy) = source(mode, y, pad.top, height) {
                let dst = &mut gin[sy * width..(sy + 1) * width];
                for (&g, sx) in row.iter().zip(&columns) {
                    if let Some(sx) = *sx {
                        dst[sx] += g;
                    }
                }
            }
        }
    });
}
