//! Max and average pooling over NCHW planes, forward and backward.
//!
//! Max pooling records, for every output, the flat in-plane index of the input
//! it took, so the backward pass is a scatter of gradients to those indices.

pub(crate) mod cuda_kernel;

use rayon::prelude::*;

use crate::Float;

/// Shapes of a 2-D pooling window over `planes` independent `H × W` planes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dGeometry {
    /// Batch × channels.
    pub planes: usize,
    /// Input height.
    pub in_height: usize,
    /// Input width.
    pub in_width: usize,
    /// Window (height, width).
    pub kernel: (usize, usize),
    /// Step (vertical, horizontal).
    pub stride: (usize, usize),
    /// Implicit padding on each side (vertical, horizontal); max pooling pads
    /// with −∞, average pooling with zeros.
    pub padding: (usize, usize),
}

impl Pool2dGeometry {
    /// Describes what is wrong with the geometry, if anything.
    pub fn validate(&self) -> Result<(), String> {
        let (kh, kw) = self.kernel;
        if kh == 0 || kw == 0 || self.stride.0 == 0 || self.stride.1 == 0 {
            return Err(format!("kernel {:?} and stride {:?} must be positive", self.kernel, self.stride));
        }
        if 2 * self.padding.0 > kh || 2 * self.padding.1 > kw {
            return Err(format!("padding {:?} must be at most half the kernel {:?}", self.padding, self.kernel));
        }
        if self.in_height + 2 * self.padding.0 < kh || self.in_width + 2 * self.padding.1 < kw {
            return Err(format!(
                "kernel {:?} larger than input {}x{} padded by {:?}",
                self.kernel, self.in_height, self.in_width, self.padding
            ));
        }
        Ok(())
    }

    /// Output height.
    pub fn out_height(&self) -> usize {
        (self.in_height + 2 * self.padding.0 - self.kernel.0) / self.stride.0 + 1
    }

    /// Output width.
    pub fn out_width(&self) -> usize {
        (self.in_width + 2 * self.padding.1 - self.kernel.1) / self.stride.1 + 1
    }

    fn in_plane(&self) -> usize {
        self.in_height * self.in_width
    }

    fn out_plane(&self) -> usize {
        self.out_height() * self.out_width()
    }

    /// The input rows (or columns) window `o` covers, clipped to the image.
    fn window(o: usize, stride: usize, padding: usize, kernel: usize, len: usize) -> (usize, usize) {
        let start = (o * stride) as isize - padding as isize;
        let lo = start.max(0) as usize;
        let hi = ((start + kernel as isize) as usize).min(len);
        (lo, hi)
    }

    fn check(&self, op: &str, input: usize, output: usize) {
        if let Err(message) = self.validate() {
            panic!("{op}: {message}");
        }
        assert!(
            input == self.planes * self.in_plane() && output == self.planes * self.out_plane(),
            "{op}: {input} input and {output} output values for geometry {self:?}"
        );
    }
}

/// Max pooling; `indices[o]` receives the in-plane index of the chosen input.
///
/// # Panics
/// If the geometry is invalid or a buffer has the wrong length.
pub fn max_pool2d_forward<T: Float>(geo: &Pool2dGeometry, input: &[T], output: &mut [T], indices: &mut [u32]) {
    geo.check("max_pool2d_forward", input.len(), output.len());
    assert_eq!(
        indices.len(),
        output.len(),
        "max_pool2d_forward: {} indices for {} outputs",
        indices.len(),
        output.len()
    );
    let (ow, w) = (geo.out_width(), geo.in_width);
    let (op, ip) = (geo.out_plane(), geo.in_plane());
    if geo.kernel == (2, 2) && geo.stride == (2, 2) && geo.padding == (0, 0) {
        max_pool_2x2(geo, input, output, indices);
        return;
    }
    output.par_chunks_mut(op).zip(indices.par_chunks_mut(op)).zip(input.par_chunks(ip)).for_each(
        |((out, idx), plane)| {
            for (o, (slot, index)) in out.iter_mut().zip(idx.iter_mut()).enumerate() {
                let (y0, y1) = Pool2dGeometry::window(o / ow, geo.stride.0, geo.padding.0, geo.kernel.0, geo.in_height);
                let (x0, x1) = Pool2dGeometry::window(o % ow, geo.stride.1, geo.padding.1, geo.kernel.1, w);
                let mut best = T::NEG_INFINITY;
                let mut best_at = y0 * w + x0;
                'window: for y in y0..y1 {
                    for x in x0..x1 {
                        let v = plane[y * w + x];
                        if v.is_nan() {
                            best = v;
                            best_at = y * w + x;
                            break 'window;
                        }
                        if v > best {
                            best = v;
                            best_at = y * w + x;
                        }
                    }
                }
                *slot = best;
                *index = best_at as u32;
            }
        },
    );
}

/// [`max_pool2d_forward`] for the 2×2 window at stride 2 without padding
/// (VGG's): each output row reads two input rows, with no window arithmetic
/// per output (a division and a clip each, about a third of the general
/// loop's time). The same choice as the general loop: the first NaN in
/// row-major order, else the first of the largest values.
fn max_pool_2x2<T: Float>(geo: &Pool2dGeometry, input: &[T], output: &mut [T], indices: &mut [u32]) {
    let (oh, ow, w) = (geo.out_height(), geo.out_width(), geo.in_width);
    let (op, ip) = (geo.out_plane(), geo.in_plane());
    output.par_chunks_mut(op).zip(indices.par_chunks_mut(op)).zip(input.par_chunks(ip)).for_each(
        |((out, idx), plane)| {
            for oy in 0..oh {
                let top = &plane[2 * oy * w..][..2 * ow];
                let bottom = &plane[(2 * oy + 1) * w..][..2 * ow];
                let out_row = &mut out[oy * ow..][..ow];
                let idx_row = &mut idx[oy * ow..][..ow];
                for (ox, (slot, index)) in out_row.iter_mut().zip(idx_row.iter_mut()).enumerate() {
                    let candidates = [top[2 * ox], top[2 * ox + 1], bottom[2 * ox], bottom[2 * ox + 1]];
                    let (mut best, mut best_at) = (candidates[0], 0);
                    if !best.is_nan() {
                        for (at, &v) in candidates.iter().enumerate().skip(1) {
                            if v.is_nan() || v > best {
                                (best, best_at) = (v, at);
                                if v.is_nan() {
                                    break;
                                }
                            }
                        }
                    }
                    *slot = best;
                    let (dy, dx) = (best_at / 2, best_at % 2);
                    *index = ((2 * oy + dy) * w + 2 * ox + dx) as u32;
                }
            }
        },
    );
}

/// Gradient of max pooling: each output gradient goes to the input it took.
/// Overwrites `grad_input`.
///
/// # Panics
/// If the geometry is invalid or a buffer has the wrong length.
pub fn max_pool2d_backward<T: Float>(geo: &Pool2dGeometry, grad_output: &[T], indices: &[u32], grad_input: &mut [T]) {
    geo.check("max_pool2d_backward", grad_input.len(), grad_output.len());
    let (op, ip) = (geo.out_plane(), geo.in_plane());
    grad_input.par_chunks_mut(ip).zip(grad_output.par_chunks(op)).zip(indices.par_chunks(op)).for_each(
        |((gin, gout), idx)| {
            gin.fill(T::ZERO);
            for (&g, &i) in gout.iter().zip(idx) {
                gin[i as usize] += g;
            }
        },
    );
}

/// Number of inputs averaged by output `(oy, ox)`.
fn avg_divisor(geo: &Pool2dGeometry, oy: usize, ox: usize, count_include_pad: bool) -> usize {
    if count_include_pad {
        // PyTorch counts padded positions but not those past the padded edge.
        let span = |o: usize, s: usize, p: usize, k: usize, len: usize| {
            let start = (o * s) as isize - p as isize;
            let end = (start + k as isize).min((len + p) as isize);
            (end - start) as usize
        };
        span(oy, geo.stride.0, geo.padding.0, geo.kernel.0, geo.in_height)
            * span(ox, geo.stride.1, geo.padding.1, geo.kernel.1, geo.in_width)
    } else {
        let (y0, y1) = Pool2dGeometry::window(oy, geo.stride.0, geo.padding.0, geo.kernel.0, geo.in_height);
        let (x0, x1) = Pool2dGeometry::window(ox, geo.stride.1, geo.padding.1, geo.kernel.1, geo.in_width);
        (y1 - y0) * (x1 - x0)
    }
}

/// Average pooling (PyTorch's `count_include_pad` convention).
///
/// # Panics
/// If the geometry is invalid or a buffer has the wrong length.
pub fn avg_pool2d_forward<T: Float>(geo: &Pool2dGeometry, count_include_pad: bool, input: &[T], output: &mut [T]) {
    geo.check("avg_pool2d_forward", input.len(), output.len());
    let (ow, w) = (geo.out_width(), geo.in_width);
    let (op, ip) = (geo.out_plane(), geo.in_plane());
    output.par_chunks_mut(op).zip(input.par_chunks(ip)).for_each(|(out, plane)| {
        for (o, slot) in out.iter_mut().enumerate() {
            let (oy, ox) = (o / ow, o % ow);
            let (y0, y1) = Pool2dGeometry::window(oy, geo.stride.0, geo.padding.0, geo.kernel.0, geo.in_height);
            let (x0, x1) = Pool2dGeometry::window(ox, geo.stride.1, geo.padding.1, geo.kernel.1, w);
            let mut sum = T::ZERO;
            for y in y0..y1 {
                for &v in &plane[y * w + x0..y * w + x1] {
                    sum += v;
                }
            }
            *slot = sum / T::from_f64(avg_divisor(geo, oy, ox, count_include_pad) as f64);
        }
    });
}

/// Gradient of average pooling. Overwrites `grad_input`.
///
/// # Panics
/// If the geometry is invalid or a buffer has the wrong length.
pub fn avg_pool2d_backward<T: Float>(
    geo: &Pool2dGeometry,
    count_include_pad: bool,
    grad_output: &[T],
    grad_input: &mut [T],
) {
    geo.check("avg_pool2d_backward", grad_input.len(), grad_output.len());
    let (ow, w) = (geo.out_width(), geo.in_width);
    let (op, ip) = (geo.out_plane(), geo.in_plane());
    grad_input.par_chunks_mut(ip).zip(grad_output.par_chunks(op)).for_each(|(gin, gout)| {
        gin.fill(T::ZERO);
        for (o, &g) in gout.iter().enumerate() {
            let (oy, ox) = (o / ow, o % ow);
            let share = g / T::from_f64(avg_divisor(geo, oy, ox, count_include_pad) as f64);
            let (y0, y1) = Pool2dGeometry::window(oy, geo.stride.0, geo.padding.0, geo.kernel.0, geo.in_height);
            let (x0, x1) = Pool2dGeometry::window(ox, geo.stride.1, geo.padding.1, geo.kernel.1, w);
            for y in y0..y1 {
                for slot in &mut gin[y * w + x0..y * w + x1] {
                    *slot += share;
                }
            }
        }
    });
}
