//! Winograd's minimal filtering F(2×2, 3×3) for 3×3, stride-1,
//! undilated convolutions: every 2×2 block of outputs is computed from a 4×4
//! block of input with 16 multiplications per (input, output) channel pair
//! instead of 36, so the GEMM work falls by 2.25× (Lavin & Gray, 2015).
//!
//! With `d` a 4×4 input tile, `g` a 3×3 kernel and `⊙` the element-wise
//! product, the 2×2 output tile is `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`. Summed over
//! input channels, each of the 16 positions ξ of the transformed tiles is an
//! ordinary matrix product: `M[ξ] (O × tiles) = U[ξ] (O × C) · V[ξ] (C ×
//! tiles)`, with `U = G g Gᵀ` per kernel and `V = Bᵀ d B` per tile. Tiles are
//! processed in blocks so the transformed input and products stay a few tens
//! of MB whatever the image size.
//!
//! The transforms only add and halve, so the result matches direct
//! convolution to within a few ulps (checked against the reference in the
//! tests).

use rayon::prelude::*;

use super::geometry::Conv2dGeometry;
use crate::buffer_pool::PooledVec;
use crate::gemm::{gemm, GemmFloat, MatMut, MatRef};

/// Scratch budget for one block of transformed input plus products.
const BLOCK_BYTES: usize = 32 << 20;

/// True when Winograd F(2×2, 3×3) applies and pays: a 3×3 kernel, stride 1,
/// no dilation, padding at most 2, and enough channels that the GEMMs
/// dominate the transforms.
pub(crate) fn applies(geo: &Conv2dGeometry) -> bool {
    geo.kernel_height == 3
        && geo.kernel_width == 3
        && geo.stride == (1, 1)
        && geo.dilation == (1, 1)
        && geo.padding.0 <= 2
        && geo.padding.1 <= 2
        && geo.in_channels >= 16
        && geo.out_channels >= 16
}

/// `U[ξ][o][c] = (G g Gᵀ)[ξ]` for every kernel `g = weight[o][c]` (3×3),
/// with `G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]`.
fn transform_kernels<T: GemmFloat>(weight: &[T], outputs: usize, inputs: usize) -> PooledVec<T> {
    let half = T::from_f64(0.5);
    let plane = outputs * inputs;
    let mut u = PooledVec::uninit_contents(16 * plane);
    for (index, g) in weight.chunks_exact(9).enumerate() {
        // Gg: 4×3, one column at a time.
        let mut gg = [[T::ZERO; 3]; 4];
        for j in 0..3 {
            let (a, b, c) = (g[j], g[3 + j], g[6 + j]);
            gg[0][j] = a;
            gg[1][j] = (a + b + c) * half;
            gg[2][j] = (a - b + c) * half;
            gg[3][j] = c;
        }
        // (Gg)Gᵀ: 4×4.
        for (i, row) in gg.iter().enumerate() {
            let (a, b, c) = (row[0], row[1], row[2]);
            let values = [a, (a + b + c) * half, (a - b + c) * half, c];
            for (j, v) in values.into_iter().enumerate() {
                u[(i * 4 + j) * plane + index] = v;
            }
        }
    }
    u
}

/// One task's buffers for the input transform: a padded image row, the
/// even/odd samples of the four rows under a tile row, and
/// [`transform_row`]'s 17 arrays.
struct InputScratch<T> {
    padded: Vec<T>,
    rows: [[Vec<T>; 2]; 4],
    scratch: [Vec<T>; 17],
}

impl<T: GemmFloat> InputScratch<T> {
    fn new(tiles: usize) -> Self {
        InputScratch {
            padded: vec![T::ZERO; 2 * (tiles + 1)],
            rows: std::array::from_fn(|_| [vec![T::ZERO; tiles + 1], vec![T::ZERO; tiles + 1]]),
            scratch: std::array::from_fn(|_| vec![T::ZERO; tiles]),
        }
    }
}

/// Splits a zero-padded image row into its even and odd samples: tile `t`
/// of the row reads `even[t], odd[t], even[t+1], odd[t+1]`. The row is first
/// copied behind `pad` zeros into `padded` (`2 · even.len()` values), so the
/// split itself is a branch-free pass over pairs.
fn deinterleave<T: GemmFloat>(line: Option<&[T]>, pad: usize, padded: &mut [T], even: &mut [T], odd: &mut [T]) {
    match line {
        Some(line) => {
            let end = (pad + line.len()).min(padded.len());
            padded[..pad].fill(T::ZERO);
            padded[pad..end].copy_from_slice(&line[..end - pad]);
            padded[end..].fill(T::ZERO);
        }
        None => padded.fill(T::ZERO),
    }
    for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(padded.chunks_exact(2)) {
        *e = pair[0];
        *o = pair[1];
    }
}

/// The input transform of one row of tiles of one channel: writes
/// `V[ξ][t]` for the row's tiles into `out[ξ][..tiles]`.
///
/// `Bᵀ d B` with `Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0],
/// [0, 1, 0, −1]]`, computed for all tiles of the row at once: first along x
/// on each of the four input rows (whose samples are `e[t], o[t], e[t+1],
/// o[t+1]`), then along y, each step a loop over contiguous arrays.
/// `scratch` holds 17 arrays of `tiles` values.
fn transform_row<T: GemmFloat>(
    rows: &[[Vec<T>; 2]; 4],
    tiles: usize,
    scratch: &mut [Vec<T>; 17],
    mut out: impl FnMut(usize, &[T]),
) {
    // x pass: r[i][j][t] for input row i, column term j.
    for (i, [e, o]) in rows.iter().enumerate() {
        let [r0, r1, r2, r3] = &mut scratch[4 * i..4 * i + 4] else { unreachable!("four terms per row") };
        // Slices of exact length let the loop run without bounds checks
        // (and so in SIMD vectors).
        let (r0, r1, r2, r3) = (&mut r0[..tiles], &mut r1[..tiles], &mut r2[..tiles], &mut r3[..tiles]);
        let (e, o) = (&e[..tiles + 1], &o[..tiles + 1]);
        for t in 0..tiles {
            let (e0, o0, e1, o1) = (e[t], o[t], e[t + 1], o[t + 1]);
            r0[t] = e0 - e1;
            r1[t] = o0 + e1;
            r2[t] = e1 - o0;
            r3[t] = o0 - o1;
        }
    }
    // y pass: V[i][j] from the four rows' term j.
    let (x_terms, v) = scratch.split_at_mut(16);
    let v = &mut v[0][..tiles];
    for j in 0..4 {
        let (d0, d1, d2, d3) =
            (&x_terms[j][..tiles], &x_terms[4 + j][..tiles], &x_terms[8 + j][..tiles], &x_terms[12 + j][..tiles]);
        for (t, slot) in v.iter_mut().enumerate() {
            *slot = d0[t] - d2[t];
        }
        out(j, v);
        for (t, slot) in v.iter_mut().enumerate() {
            *slot = d1[t] + d2[t];
        }
        out(4 + j, v);
        for (t, slot) in v.iter_mut().enumerate() {
            *slot = d2[t] - d1[t];
        }
        out(8 + j, v);
        for (t, slot) in v.iter_mut().enumerate() {
            *slot = d1[t] - d3[t];
        }
        out(12 + j, v);
    }
}

/// `output = conv2d(input, weight) + bias` by F(2×2, 3×3). The caller checked
/// [`applies`] and the buffer lengths.
pub(crate) fn conv2d_winograd<T: GemmFloat>(
    geo: &Conv2dGeometry,
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    output: &mut [T],
) {
    let (c_in, c_out) = (geo.in_channels, geo.out_channels);
    let (h, w) = (geo.in_height, geo.in_width);
    let (oh, ow) = (geo.out_height(), geo.out_width());
    let pad_y = geo.padding.0 as isize;
    let (tiles_y, tiles_x) = (oh.div_ceil(2), ow.div_ceil(2));
    let u = transform_kernels(weight, c_out, c_in);
    // Blocks of whole tile rows within the scratch budget.
    let row_bytes = 16 * (c_in + c_out) * tiles_x * size_of::<T>();
    let block_rows = (BLOCK_BYTES / row_bytes).clamp(1, tiles_y);
    let block = block_rows * tiles_x;
    let mut v = PooledVec::<T>::uninit_contents(16 * c_in * block);
    let mut m = PooledVec::<T>::uninit_contents(16 * c_out * block);

    for (image, out) in input.chunks_exact(c_in * h * w).zip(output.chunks_exact_mut(c_out * oh * ow)) {
        for first_row in (0..tiles_y).step_by(block_rows) {
            let rows_here = block_rows.min(tiles_y - first_row);
            let count = rows_here * tiles_x;
            // V[ξ][c][t]: transformed input tiles, one channel per task.
            let v_plane = c_in * count;
            let v_ptr = SharedSlice(v.as_mut_ptr());
            // Row buffers are made once per rayon task, not per channel.
            (0..c_in).into_par_iter().for_each_init(
                || InputScratch::new(tiles_x),
                |buffers, c| {
                    let InputScratch { padded, rows, scratch } = buffers;
                    let plane = &image[c * h * w..(c + 1) * h * w];
                    for r in 0..rows_here {
                        let ty = first_row + r;
                        for (i, [even, odd]) in rows.iter_mut().enumerate() {
                            let y = 2 * ty as isize - pad_y + i as isize;
                            let line = (y >= 0 && y < h as isize).then(|| &plane[y as usize * w..(y as usize + 1) * w]);
                            deinterleave(line, geo.padding.1, padded, even, odd);
                        }
                        transform_row(rows, tiles_x, scratch, |xi, values| {
                            let start = xi * v_plane + c * count + r * tiles_x;
                            // SAFETY: task c alone writes channel c's run of tile
                            // row r for position ξ, inside v (16·C·block values).
                            unsafe { v_ptr.write_run(start, values) };
                        });
                    }
                },
            );
            // M[ξ] = U[ξ] · V[ξ], sixteen independent products.
            let m_plane = c_out * count;
            m[..16 * m_plane].par_chunks_mut(m_plane).enumerate().for_each(|(xi, m_xi)| {
                let u_xi = MatRef::row_major(&u[xi * c_out * c_in..(xi + 1) * c_out * c_in], c_out, c_in);
                let v_xi = MatRef::row_major(&v[xi * v_plane..(xi + 1) * v_plane], c_in, count);
                gemm(T::ONE, &u_xi, &v_xi, T::ZERO, MatMut::row_major(m_xi, c_out, count));
            });
            // Output: Aᵀ m A with Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]], a tile
            // row of one channel at a time, as loops over contiguous runs.
            let m = &m[..16 * m_plane];
            let terms = || -> [Vec<T>; 8] { std::array::from_fn(|_| vec![T::ZERO; tiles_x]) };
            out.par_chunks_mut(oh * ow).enumerate().for_each_init(terms, |s, (o, plane)| {
                let b = bias.map_or(T::ZERO, |b| b[o]);
                for r in 0..rows_here {
                    let run = |xi: usize| &m[xi * m_plane + o * count + r * tiles_x..][..tiles_x];
                    // y pass first: s[0][j] = m0j + m1j + m2j, s[1][j] = m1j − m2j − m3j.
                    for j in 0..4 {
                        let (m0, m1, m2, m3) = (run(j), run(4 + j), run(8 + j), run(12 + j));
                        let (top, bottom) = s.split_at_mut(4);
                        let (top, bottom) = (&mut top[j][..tiles_x], &mut bottom[j][..tiles_x]);
                        for t in 0..tiles_x {
                            top[t] = m0[t] + m1[t] + m2[t];
                            bottom[t] = m1[t] - m2[t] - m3[t];
                        }
                    }
                    let ty = first_row + r;
                    for (i, terms) in s.chunks_exact(4).enumerate() {
                        let oy = 2 * ty + i;
                        if oy >= oh {
                            continue;
                        }
                        let line = &mut plane[oy * ow..(oy + 1) * ow];
                        let (t0, t1, t2, t3) =
                            (&terms[0][..tiles_x], &terms[1][..tiles_x], &terms[2][..tiles_x], &terms[3][..tiles_x]);
                        let (pairs, odd_end) = line.split_at_mut(ow / 2 * 2);
                        for (t, pair) in pairs.chunks_exact_mut(2).enumerate() {
                            pair[0] = t0[t] + t1[t] + t2[t] + b;
                            pair[1] = t1[t] - t2[t] - t3[t] + b;
                        }
                        if let Some(last) = odd_end.first_mut() {
                            let t = ow / 2;
                            *last = t0[t] + t1[t] + t2[t] + b;
                        }
                    }
                }
            });
        }
    }
}

/// A raw pointer that tasks writing disjoint elements may share.
#[derive(Clone, Copy)]
struct SharedSlice<T>(*mut T);

// SAFETY: used only for writes to disjoint indices (see the call site).
unsafe impl<T: Send> Send for SharedSlice<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SharedSlice<T> {}

impl<T: Copy> SharedSlice<T> {
    /// Copies `values` to `start..start + values.len()`.
    ///
    /// # Safety
    /// The range must be in bounds and no other task may touch it meanwhile.
    #[inline(always)]
    unsafe fn write_run(self, start: usize, values: &[T]) {
        // SAFETY: forwarded contract; `values` cannot overlap the target,
        // which no shared reference covers while tasks write.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), self.0.add(start), values.len()) }
    }
}
