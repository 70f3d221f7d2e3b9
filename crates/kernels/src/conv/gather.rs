//! Image patches as a virtual matrix: the im2col matrix of a convolution, read
//! straight from the image while GEMM packs it, so the full matrix (151 MB for
//! VGG's conv1_2 at 256²) is never built.
//!
//! Row `(channel, ky, kx)`, column `(y, x)` holds `image[channel][sy][sx]`
//! where `sy = (y·step + ky·dilation + offset) / divisor` when that division is
//! exact and lands inside the image, and zero otherwise (likewise for x).
//!
//! * Forward convolution: `step = stride`, `offset = -padding`, `divisor = 1`.
//! * Gradient to the input (a transposed convolution of the output gradient
//!   with the flipped kernel): `step = 1`, `offset = padding - (k-1)·dilation`,
//!   `divisor = stride`.

use crate::gemm::MatrixSource;
use crate::Float;

/// The index map along one spatial axis.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AxisMap {
    /// Source extent (image height or width).
    pub source_len: usize,
    /// Column-space extent (output height or width).
    pub target_len: usize,
    pub step: isize,
    pub dilation: isize,
    pub offset: isize,
    pub divisor: isize,
}

impl AxisMap {
    /// Source index for target index `t` and kernel tap `tap`, if any.
    #[inline(always)]
    fn source(&self, t: usize, tap: usize) -> Option<usize> {
        let numerator = t as isize * self.step + tap as isize * self.dilation + self.offset;
        if numerator < 0 || numerator % self.divisor != 0 {
            return None;
        }
        let s = (numerator / self.divisor) as usize;
        (s < self.source_len).then_some(s)
    }

    /// For a unit map (`step = divisor = 1`): the range of targets `t` whose
    /// source `t + shift` is inside the image, and that shift.
    #[inline(always)]
    fn unit_window(&self, tap: usize) -> (usize, usize, isize) {
        let shift = tap as isize * self.dilation + self.offset;
        let lo = (-shift).clamp(0, self.target_len as isize) as usize;
        let hi = (self.source_len as isize - shift).clamp(lo as isize, self.target_len as isize) as usize;
        (lo, hi, shift)
    }

    /// For a map without a divisor (`divisor = 1`, any step): the range of
    /// targets `t` whose source `t·step + shift` is inside the image, and
    /// that shift. Solving `0 ≤ t·step + shift < source_len` for `t` once per
    /// run keeps the division out of the per-element loop.
    #[inline(always)]
    fn strided_window(&self, tap: usize) -> (usize, usize, isize) {
        debug_assert!(self.divisor == 1 && self.step >= 1);
        let shift = tap as isize * self.dilation + self.offset;
        let step = self.step;
        let ceil_div = |a: isize| if a <= 0 { 0 } else { (a + step - 1) / step };
        let lo = ceil_div(-shift).min(self.target_len as isize) as usize;
        let hi = ceil_div(self.source_len as isize - shift).clamp(lo as isize, self.target_len as isize) as usize;
        (lo, hi, shift)
    }

    /// For a map with a divisor and unit step (`t + shift` must be a multiple
    /// of `divisor`): the first target at or after `from` that lands on a
    /// source sample, one past the last target that does (at most
    /// `target_len`), and the shift. Sources then advance by one every
    /// `divisor` targets.
    #[inline(always)]
    fn divided_window(&self, tap: usize, from: usize) -> (usize, usize, isize) {
        debug_assert!(self.step == 1 && self.divisor > 1);
        let shift = tap as isize * self.dilation + self.offset;
        let d = self.divisor;
        let start = (from as isize).max(-shift);
        let first = start + (-(start + shift)).rem_euclid(d);
        let end = (d * (self.source_len as isize - 1) - shift + 1).clamp(0, self.target_len as isize);
        (first.max(0) as usize, (end.max(first)) as usize, shift)
    }

    fn is_unit(&self) -> bool {
        self.step == 1 && self.divisor == 1
    }
}

/// One image (`channels × H × W`, contiguous) seen as its patch matrix.
pub(crate) struct PatchMatrix<'a, T> {
    pub image: &'a [T],
    pub channels: usize,
    pub kernel_height: usize,
    pub kernel_width: usize,
    pub rows: AxisMap,
    pub cols: AxisMap,
}

impl<T: Float> PatchMatrix<'_, T> {
    #[inline(always)]
    fn decode_row(&self, row: usize) -> (usize, usize, usize) {
        let taps = self.kernel_height * self.kernel_width;
        (row / taps, (row % taps) / self.kernel_width, row % self.kernel_width)
    }

    #[inline(always)]
    fn plane(&self, channel: usize) -> &[T] {
        let len = self.rows.source_len * self.cols.source_len;
        &self.image[channel * len..(channel + 1) * len]
    }

    /// Writes one output-row's worth of a patch row: targets `x0..x1` of
    /// target row `y`, to `dst[(x - x0) · stride]`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn fill_segment(
        &self,
        plane: &[T],
        ky: usize,
        kx: usize,
        y: usize,
        x0: usize,
        x1: usize,
        dst: &mut [T],
        stride: usize,
    ) {
        let width = self.cols.source_len;
        let Some(sy) = self.rows.source(y, ky) else {
            for j in 0..x1 - x0 {
                dst[j * stride] = T::ZERO;
            }
            return;
        };
        let line = &plane[sy * width..(sy + 1) * width];
        if self.cols.is_unit() {
            let (lo, hi, shift) = self.cols.unit_window(kx);
            let (lo, hi) = (lo.clamp(x0, x1), hi.clamp(x0, x1));
            if stride == 1 {
                dst[..lo - x0].fill(T::ZERO);
                if hi > lo {
                    let s0 = (lo as isize + shift) as usize;
                    dst[lo - x0..hi - x0].copy_from_slice(&line[s0..s0 + (hi - lo)]);
                }
                dst[hi.max(lo) - x0..x1 - x0].fill(T::ZERO);
            } else {
                for x in x0..x1 {
                    dst[(x - x0) * stride] =
                        if x >= lo && x < hi { line[(x as isize + shift) as usize] } else { T::ZERO };
                }
            }
        } else if self.cols.divisor == 1 {
            // Strided forward map: a strided read inside the window.
            let (lo, hi, shift) = self.cols.strided_window(kx);
            let (lo, hi) = (lo.clamp(x0, x1), hi.clamp(x0, x1));
            let step = self.cols.step as usize;
            for x in x0..lo {
                dst[(x - x0) * stride] = T::ZERO;
            }
            for x in lo..hi.max(lo) {
                dst[(x - x0) * stride] = line[((x * step) as isize + shift) as usize];
            }
            for x in hi.max(lo)..x1 {
                dst[(x - x0) * stride] = T::ZERO;
            }
        } else if self.cols.step == 1 {
            // Divided map (gradient of a strided convolution): every
            // `divisor`-th target reads the next source sample, the rest are zero.
            for j in 0..x1 - x0 {
                dst[j * stride] = T::ZERO;
            }
            let (first, end, shift) = self.cols.divided_window(kx, x0);
            let d = self.cols.divisor;
            for x in (first..end.min(x1)).step_by(d as usize) {
                dst[(x - x0) * stride] = line[((x as isize + shift) / d) as usize];
            }
        } else {
            for x in x0..x1 {
                dst[(x - x0) * stride] = match self.cols.source(x, kx) {
                    Some(sx) => line[sx],
                    None => T::ZERO,
                };
            }
        }
    }
}

impl<T: Float> MatrixSource<T> for PatchMatrix<'_, T> {
    fn rows(&self) -> usize {
        self.channels * self.kernel_height * self.kernel_width
    }

    fn cols(&self) -> usize {
        self.rows.target_len * self.cols.target_len
    }

    fn read_row(&self, row: usize, col0: usize, len: usize, dst: &mut [T], dst_stride: usize) {
        let (channel, ky, kx) = self.decode_row(row);
        let plane = self.plane(channel);
        let width = self.cols.target_len;
        let (mut col, end) = (col0, col0 + len);
        let mut written = 0;
        while col < end {
            let (y, x) = (col / width, col % width);
            let x_end = width.min(x + (end - col));
            self.fill_segment(plane, ky, kx, y, x, x_end, &mut dst[written * dst_stride..], dst_stride);
            written += x_end - x;
            col += x_end - x;
        }
    }

    fn read_col(&self, col: usize, row0: usize, len: usize, dst: &mut [T], dst_stride: usize) {
        let width = self.cols.target_len;
        let (y, x) = (col / width, col % width);
        for i in 0..len {
            let (channel, ky, kx) = self.decode_row(row0 + i);
            dst[i * dst_stride] = match (self.rows.source(y, ky), self.cols.source(x, kx)) {
                (Some(sy), Some(sx)) => self.plane(channel)[sy * self.cols.source_len + sx],
                _ => T::ZERO,
            };
        }
    }

    fn prefers_rows(&self) -> bool {
        true
    }
}
