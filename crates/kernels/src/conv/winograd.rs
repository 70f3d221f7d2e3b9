//! Winograd's minimal filtering F(4×4, 3×3) for 3×3, stride-1, undilated
//! convolutions: every 4×4 block of outputs is computed from a 6×6 block of
//! input with 36 multiplications per (input, output) channel pair instead of
//! 144, so the GEMM work falls by 4× against direct convolution and by 1.78×
//! against F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional
//! Neural Networks", 2015, with the interpolation points 0, ±1, ±2 and ∞).
//!
//! With `d` a 6×6 input tile, `g` a 3×3 kernel and `⊙` the element-wise
//! product, the 4×4 output tile is `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`. Summed over
//! input channels, each of the 36 positions ξ of the transformed tiles is an
//! ordinary matrix product: `M[ξ] (O × tiles) = U[ξ] (O × C) · V[ξ] (C ×
//! tiles)`, with `U = G g Gᵀ` per kernel and `V = Bᵀ d B` per tile. Tiles are
//! processed in blocks of whole tile rows so the transformed input and
//! products stay a few tens of MB whatever the image size.
//!
//! Accuracy: the transforms scale by up to 8 and divide by 24, so f32 results
//! carry more rounding than F(2×2, 3×3): on a VGG-like layer (128 → 128
//! channels, activations in 0–1) the worst error is 6.5e-6 of the output's
//! range (rms 3.5e-7), against 4.6e-7 for F(2×2, 3×3), measured by
//! `kernels/tests/conv.rs`; f64 results match the definition to 1e-12.

use std::ops::{Add, Mul, Sub};

use rayon::prelude::*;

use super::geometry::Conv2dGeometry;
use super::Activation;
use crate::element::SimdVector;
use crate::gemm::{gemm, GemmFloat, MatMut, MatRef, PackedRows};
use crate::scratch::{Scratch, ScratchSlot};

/// Scratch budgets for one block of transformed input plus products: the
/// small one for layers whose transformed kernels fit in it, the large one
/// for the others. Every block reads all the kernels again; with kernels no
/// larger than a small block that costs less than the blocks gain by staying
/// in the last-level cache (32 MB on the Zen 4 this was measured on), and
/// with larger ones more. Forward and input gradient, best of 8, 512² image:
///
/// | layer (transformed kernels) | 32 MB blocks | 8 MB blocks |
/// | --- | --- | --- |
/// | 64 → 64 at 512² (0.6 MB) | 61–65 ms | 45–49 ms |
/// | 128 → 128 at 256² (2.4 MB) | 46–49 ms | 37–39 ms |
/// | 128 → 256 at 128² (4.7 MB) | 21–23 ms | 18–20 ms |
/// | 256 → 256 at 128² (9.4 MB) | 40 ms | 43–45 ms |
/// | 512 → 512 at 64² (37.7 MB) | 37–38 ms | 50–52 ms |
const BLOCK_BYTES: usize = 32 << 20;
/// The small budget of [`BLOCK_BYTES`]'s rule.
const SMALL_BLOCK_BYTES: usize = 8 << 20;

/// Outputs per tile side, input samples per tile side, and transformed
/// positions per tile.
const OUT: usize = 4;
const IN: usize = 6;
pub(crate) const POSITIONS: usize = IN * IN;

/// True when Winograd F(4×4, 3×3) applies and pays: a 3×3 kernel, stride 1,
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

/// `G x` for the three taps `x` of a kernel row or column: the 1-D kernel
/// transform, with `G = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙],
/// [1⁄24, 1⁄12, ⅙], [1⁄24, −1⁄12, ⅙], [0, 0, 1]]`. `L` is a scalar or a SIMD
/// vector of them (`constant` makes the fractions): the same operations in
/// the same order either way.
#[inline(always)]
fn kernel_1d<L: Lane>(x: [L; 3], constant: impl Fn(f64) -> L + Copy) -> [L; IN] {
    std::array::from_fn(|i| kernel_1d_at(i, x, constant))
}

/// Value `i` of [`kernel_1d`] alone (the same operations).
#[inline(always)]
fn kernel_1d_at<L: Lane>(i: usize, [a, b, c]: [L; 3], constant: impl Fn(f64) -> L) -> L {
    match i {
        0 => a * constant(0.25),
        1 => constant(0.0) - (a + b + c) * constant(1.0 / 6.0),
        2 => constant(0.0) - (a - b + c) * constant(1.0 / 6.0),
        3 => a * constant(1.0 / 24.0) + b * constant(1.0 / 12.0) + c * constant(1.0 / 6.0),
        4 => a * constant(1.0 / 24.0) - b * constant(1.0 / 12.0) + c * constant(1.0 / 6.0),
        _ => c,
    }
}

/// `Bᵀ x` for six input samples `x`: the 1-D input transform, with
/// `Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0],
/// [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]]`.
/// `L` is a scalar or a SIMD vector of them (`constant` makes its 2, 4, 5):
/// the same operations in the same order either way.
#[inline(always)]
fn input_1d<L: Lane>([d0, d1, d2, d3, d4, d5]: [L; IN], constant: impl Fn(f64) -> L) -> [L; IN] {
    let (two, four, five) = (constant(2.0), constant(4.0), constant(5.0));
    // Shared partial sums: d4 − 4·d2 and d3 − 4·d1 feed rows 1 and 2;
    // d4 − d2 and 2·(d3 − d1) feed rows 3 and 4.
    let (even_a, odd_a) = (d4 - four * d2, d3 - four * d1);
    let (even_b, odd_b) = (d4 - d2, two * (d3 - d1));
    [
        four * d0 - five * d2 + d4,
        even_a + odd_a,
        even_a - odd_a,
        even_b + odd_b,
        even_b - odd_b,
        four * d1 - five * d3 + d5,
    ]
}

/// `Aᵀ m` for six transformed values `m`: the 1-D output transform, with
/// `Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0],
/// [0, 1, −1, 8, −8, 1]]`, for scalars or SIMD vectors as [`input_1d`].
#[inline(always)]
fn output_1d<L: Lane>([m0, m1, m2, m3, m4, m5]: [L; IN], constant: impl Fn(f64) -> L) -> [L; OUT] {
    let (two, four, eight) = (constant(2.0), constant(4.0), constant(8.0));
    let (sum_12, difference_12) = (m1 + m2, m1 - m2);
    let (sum_34, difference_34) = (m3 + m4, m3 - m4);
    [
        m0 + sum_12 + sum_34,
        difference_12 + two * difference_34,
        sum_12 + four * sum_34,
        difference_12 + eight * difference_34 + m5,
    ]
}

/// What the 1-D transforms compute with: a scalar or a SIMD vector.
trait Lane: Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> {}
impl<L: Copy + Add<Output = L> + Sub<Output = L> + Mul<Output = L>> Lane for L {}

/// Runs a 1-D transform down runs of tiles: `outputs[k][t] = f([inputs[0][t],
/// …, inputs[5][t]])[k]` for `t < len`, `LANES` tiles at a time in SIMD
/// vectors (`vector`), the rest one at a time (`scalar`, the same
/// arithmetic). Written per tile, the compiler vectorised each tile's few
/// values instead of the run, and the transforms took as long as the
/// products.
///
/// # Panics
/// If a run is shorter than `len`.
#[inline(always)]
fn transform_runs<T: GemmFloat, const N: usize>(
    inputs: [&[T]; IN],
    mut outputs: [&mut [T]; N],
    len: usize,
    vector: impl Fn([T::Vector; IN]) -> [T::Vector; N],
    scalar: impl Fn([T; IN]) -> [T; N],
) {
    let inputs = inputs.map(|run| &run[..len]);
    for run in outputs.iter_mut() {
        assert!(run.len() >= len, "transform_runs: an output run of {} for {len} tiles", run.len());
    }
    let lanes = T::LANES;
    let whole = len / lanes * lanes;
    // Indexed loads and stores, not array maps: those were not inlined and
    // moved every vector through memory.
    for t in (0..whole).step_by(lanes) {
        // SAFETY: t + LANES ≤ len, and every run holds at least len values
        // (sliced and asserted above).
        let load = |i: usize| unsafe { T::Vector::load(inputs[i].as_ptr().add(t)) };
        let values = vector([load(0), load(1), load(2), load(3), load(4), load(5)]);
        for k in 0..N {
            // SAFETY: as above, for the output runs.
            unsafe { values[k].store(outputs[k].as_mut_ptr().add(t)) };
        }
    }
    for t in whole..len {
        let values = scalar([inputs[0][t], inputs[1][t], inputs[2][t], inputs[3][t], inputs[4][t], inputs[5][t]]);
        for k in 0..N {
            outputs[k][t] = values[k];
        }
    }
}

/// Which kernels a transform reads from a weight `W` (`O × C × 3 × 3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KernelSource {
    /// The forward pass's: kernel `(o, c)` is `W[o][c]` (`O` outputs, `C`
    /// inputs).
    Weight,
    /// The input gradient's: the transposed, flipped `W̃`, whose kernel
    /// `(c, o)` is `W[o][c]` turned half a turn, `W̃[c][o][ky][kx] =
    /// W[o][c][2 − ky][2 − kx]` (`C` outputs, `O` inputs).
    Adjoint,
}

/// `U[ξ] = (G g Gᵀ)[ξ]` for every kernel `g` of `weight` read as `source`
/// says: 36 matrices of `outputs × inputs`, each written already packed as
/// the products read their left operand ([`PackedRows`]), in a kept scratch
/// buffer ([`ScratchSlot::WinogradKernels`]; for a call's own use, not to be
/// kept).
pub(crate) fn transform_kernels<T: GemmFloat>(
    weight: &[T],
    source: KernelSource,
    outputs: usize,
    inputs: usize,
) -> Scratch<T> {
    let plane = PackedRows::<T>::packed_len(outputs, inputs);
    let mut u = Scratch::take(ScratchSlot::WinogradKernels, POSITIONS * plane);
    transform_kernels_into(weight, source, outputs, inputs, &mut u);
    u
}

/// As [`transform_kernels`], into `u` (36 planes of
/// [`PackedRows::packed_len`]`(outputs, inputs)` values, all written: the
/// padding rows of the last panel get zeros, the transform of a zero kernel).
///
/// The kernels' transform and the packing are one pass. One task per panel
/// of `MR` output rows gathers, for a run of inputs, each kernel's taps in
/// the order of the packed run (`taps[t][q·MR + i]`), then transforms the
/// run `LANES` kernels at a time, storing each position's values straight
/// into its packed plane. (Transformed one kernel at a time in scalars into
/// row-major planes, then packed at each product, with the input gradient's
/// `W̃` first copied out of the weight, the kernels cost 9% of a Gatys
/// evaluation at 512², where no kernels are kept.) The arithmetic is the
/// same in vectors and scalars, so results do not depend on the layout.
///
/// # Panics
/// If `weight` or `u` has the wrong length.
pub(crate) fn transform_kernels_into<T: GemmFloat>(
    weight: &[T],
    source: KernelSource,
    outputs: usize,
    inputs: usize,
    u: &mut [T],
) {
    /// Inputs per run: the taps of `STAGED · MR` kernels are gathered at
    /// once, `9 · STAGED · MR` values (6.9 KB in f32 with `MR` 6), so the
    /// taps stay in L1 beside the 36 output runs being written.
    const STAGED: usize = 32;
    let mr = T::MR;
    let plane = PackedRows::<T>::packed_len(outputs, inputs);
    assert_eq!(
        weight.len(),
        9 * outputs * inputs,
        "transform_kernels: {} weights for {outputs}x{inputs} 3x3 kernels",
        weight.len()
    );
    assert_eq!(u.len(), POSITIONS * plane, "transform_kernels: {} values for {outputs}x{inputs} kernels", u.len());
    if plane == 0 {
        return;
    }
    let depth = crate::gemm::depth_block::<T>(inputs);
    let u_ptr = SharedSlice(u.as_mut_ptr());
    let panels = outputs.div_ceil(mr);
    let run_len = STAGED * mr;
    (0..panels).into_par_iter().for_each_init(
        || vec![T::ZERO; 9 * run_len],
        |taps, panel| {
            for k0 in (0..inputs).step_by(depth) {
                let kcur = depth.min(inputs - k0);
                for c0 in (k0..k0 + kcur).step_by(STAGED) {
                    let count = STAGED.min(k0 + kcur - c0);
                    let len = count * mr;
                    // taps[t][q·MR + i]: tap t of kernel (panel·MR + i, c0 + q),
                    // in the order of the packed run.
                    for i in 0..mr {
                        let row = panel * mr + i;
                        let mut put = |q: usize, t: usize, tap: T| taps[t * run_len + q * mr + i] = tap;
                        if row >= outputs {
                            (0..count).for_each(|q| (0..9).for_each(|t| put(q, t, T::ZERO)));
                            continue;
                        }
                        match source {
                            KernelSource::Weight => {
                                let kernels = &weight[(row * inputs + c0) * 9..][..count * 9];
                                for (q, g) in kernels.chunks_exact(9).enumerate() {
                                    g.iter().enumerate().for_each(|(t, &tap)| put(q, t, tap));
                                }
                            }
                            KernelSource::Adjoint => {
                                for q in 0..count {
                                    let g = &weight[((c0 + q) * outputs + row) * 9..][..9];
                                    g.iter().rev().enumerate().for_each(|(t, &tap)| put(q, t, tap));
                                }
                            }
                        }
                    }
                    let start = PackedRows::<T>::offset_in(outputs, inputs, panel * mr, c0);
                    let taps_at = |t: usize| &taps[t * run_len..t * run_len + len];
                    let kernel_taps: [&[T]; 9] = std::array::from_fn(taps_at);
                    let mut runs: [&mut [T]; POSITIONS] = std::array::from_fn(|xi| {
                        // SAFETY: the task of `panel` alone writes that
                        // panel's runs, each inside plane ξ of u (the offset
                        // is PackedRows's, and the run's inputs stay inside
                        // one depth block), and the 36 runs lie in 36
                        // different planes.
                        unsafe { u_ptr.run_mut(xi * plane + start, len) }
                    });
                    transform_kernel_runs(kernel_taps, &mut runs, len);
                }
            }
        },
    );
}

/// `runs[ξ][l] = (G g Gᵀ)[ξ]` for the kernels `g[t] = taps[t][l]`, `l < len`:
/// `LANES` kernels at a time in SIMD vectors, the rest one at a time with
/// the same arithmetic.
///
/// # Panics
/// If a tap run or an output run is shorter than `len`.
#[inline(always)]
fn transform_kernel_runs<T: GemmFloat>(taps: [&[T]; 9], runs: &mut [&mut [T]; POSITIONS], len: usize) {
    let taps = taps.map(|run| &run[..len]);
    for run in runs.iter() {
        assert!(run.len() >= len, "transform_kernels: an output run of {} for {len} kernels", run.len());
    }
    let lanes = T::LANES;
    let whole = len / lanes * lanes;
    let splat = |c: f64| T::Vector::splat(T::from_f64(c));
    for l in (0..whole).step_by(lanes) {
        // SAFETY: l + LANES ≤ len, and every tap run holds len values
        // (sliced above).
        let g = taps.map(|run| unsafe { T::Vector::load(run.as_ptr().add(l)) });
        // SAFETY: as above, for the output runs (asserted above).
        kernel_2d(g, splat, |xi, value| unsafe { value.store(runs[xi].as_mut_ptr().add(l)) });
    }
    for l in whole..len {
        let g = taps.map(|run| run[l]);
        kernel_2d(g, T::from_f64, |xi, value| runs[xi][l] = value);
    }
}

/// `G g Gᵀ` (6×6) for one 3×3 kernel `g` (row-major), of scalars or of SIMD
/// vectors of them (`constant` as in [`kernel_1d`]): `store(6i + j, value)`
/// for each of its values, one row `i` at a time. Each row takes value `i`
/// of the three columns of `G g` and transforms it, so that no more than a
/// row of values is live at once (whole 6×6 arrays of vectors went through
/// memory); the operations are those of `G g` then `(G g) Gᵀ` either way.
#[inline(always)]
fn kernel_2d<L: Lane>(g: [L; 9], constant: impl Fn(f64) -> L + Copy, mut store: impl FnMut(usize, L)) {
    for i in 0..IN {
        let column_values = [0, 1, 2].map(|j| kernel_1d_at(i, [g[j], g[3 + j], g[6 + j]], constant));
        for (j, value) in kernel_1d(column_values, constant).into_iter().enumerate() {
            store(IN * i + j, value);
        }
    }
}

/// One task's buffers for the input transform: a padded image row, the four
/// phases of the six rows under a tile row, and the x pass's 36 terms.
struct InputScratch<T> {
    padded: Vec<T>,
    rows: [[Vec<T>; OUT]; IN],
    terms: [Vec<T>; POSITIONS],
}

impl<T: GemmFloat> InputScratch<T> {
    fn new(tiles: usize) -> Self {
        InputScratch {
            padded: vec![T::ZERO; OUT * (tiles + 1)],
            rows: std::array::from_fn(|_| std::array::from_fn(|_| vec![T::ZERO; tiles + 1])),
            terms: std::array::from_fn(|_| vec![T::ZERO; tiles]),
        }
    }
}

/// Splits a zero-padded image row into its four phases: `phases[k][t]` is
/// sample `4t + k`, so tile `t` of the row reads `phases[0..4][t]` and
/// `phases[0..2][t + 1]`. The row is first copied behind `pad` zeros into
/// `padded` (`4 · phase length` values), so the split is a branch-free pass.
fn deinterleave<T: GemmFloat>(line: Option<&[T]>, pad: usize, padded: &mut [T], phases: &mut [Vec<T>; OUT]) {
    match line {
        Some(line) => {
            let end = (pad + line.len()).min(padded.len());
            padded[..pad].fill(T::ZERO);
            padded[pad..end].copy_from_slice(&line[..end - pad]);
            padded[end..].fill(T::ZERO);
        }
        None => padded.fill(T::ZERO),
    }
    let [p0, p1, p2, p3] = phases;
    for (t, quad) in padded.chunks_exact(OUT).enumerate() {
        p0[t] = quad[0];
        p1[t] = quad[1];
        p2[t] = quad[2];
        p3[t] = quad[3];
    }
}

/// The input transform `Bᵀ d B` of one row of tiles of one channel, for all
/// of the row's tiles at once: first along x on each of the six input rows,
/// then along y, each step a loop over contiguous arrays. `out(ξ)` gives the
/// `tiles` slots of position ξ.
fn transform_row<'v, T: GemmFloat + 'v>(
    rows: &[[Vec<T>; OUT]; IN],
    tiles: usize,
    terms: &mut [Vec<T>; POSITIONS],
    mut out: impl FnMut(usize) -> &'v mut [T],
) {
    let vector = |d: [T::Vector; IN]| input_1d(d, |c| T::Vector::splat(T::from_f64(c)));
    let scalar = |d: [T; IN]| input_1d(d, T::from_f64);
    // x pass: terms[6i + j][t] is term j of input row i; tile t reads
    // samples 4t … 4t + 5, phases 0–3 of tile t and 0–1 of tile t + 1.
    for (i, [p0, p1, p2, p3]) in rows.iter().enumerate() {
        let [r0, r1, r2, r3, r4, r5] = &mut terms[IN * i..IN * (i + 1)] else { unreachable!("six terms per row") };
        let inputs = [&p0[..], &p1[..], &p2[..], &p3[..], &p0[1..], &p1[1..]];
        transform_runs(inputs, [r0, r1, r2, r3, r4, r5].map(|r| &mut r[..]), tiles, vector, scalar);
    }
    // y pass: V[6i + j] from term j of the six rows, written in place.
    for j in 0..IN {
        let d: [&[T]; IN] = std::array::from_fn(|i| &terms[IN * i + j][..]);
        let v = [0, 1, 2, 3, 4, 5].map(|i| &mut out(IN * i + j)[..tiles]);
        transform_runs(d, v, tiles, vector, scalar);
    }
}

/// True when keeping a layer's transformed kernels across calls pays for
/// their memory: when the call has at most [`KEPT_KERNEL_TILES`] output tiles
/// (all images together). Transforming the kernels costs the same whatever
/// the image, writing 36·O·C values, while the products grow with the
/// tiles; with few tiles (VGG's 512-channel layers at 32² and 16²) the
/// transform is a large share of the layer's time.
pub(crate) fn kernels_worth_keeping(geo: &Conv2dGeometry) -> bool {
    applies(geo) && geo.batch * geo.out_height().div_ceil(OUT) * geo.out_width().div_ceil(OUT) <= KEPT_KERNEL_TILES
}

/// The largest number of output tiles for which [`kernels_worth_keeping`].
const KEPT_KERNEL_TILES: usize = 64;

/// `output = activation(conv2d(input, weight) + bias)` by F(4×4, 3×3), with `u` the
/// kernels' transform, packed ([`transform_kernels`]). The caller checked
/// [`applies`] and the buffer lengths.
pub(crate) fn conv2d_winograd<T: GemmFloat>(
    geo: &Conv2dGeometry,
    input: &[T],
    u: &[T],
    bias: Option<&[T]>,
    activation: Activation,
    output: &mut [T],
) {
    // Applied as each output is written: without the ReLU a NaN stays NaN,
    // with it a NaN becomes 0, as the separate ReLU op made it.
    let relu = activation == Activation::Relu;
    let finish = |v: T| if relu { v.max(T::ZERO) } else { v };
    let u_plane = PackedRows::<T>::packed_len(geo.out_channels, geo.in_channels);
    debug_assert_eq!(u.len(), POSITIONS * u_plane, "conv2d_winograd: transformed kernels for {geo:?}");
    let (c_in, c_out) = (geo.in_channels, geo.out_channels);
    let (h, w) = (geo.in_height, geo.in_width);
    let (oh, ow) = (geo.out_height(), geo.out_width());
    let pad_y = geo.padding.0 as isize;
    let (tiles_y, tiles_x) = (oh.div_ceil(OUT), ow.div_ceil(OUT));
    // Blocks of whole tile rows within the scratch budget.
    let row_bytes = POSITIONS * (c_in + c_out) * tiles_x * size_of::<T>();
    // Balanced blocks: 16 tile rows with room for 13 go as 8 + 8, not 13 + 3.
    let budget = if size_of_val(u) <= SMALL_BLOCK_BYTES { SMALL_BLOCK_BYTES } else { BLOCK_BYTES };
    let blocks = tiles_y.div_ceil((budget / row_bytes).clamp(1, tiles_y));
    let block_rows = tiles_y.div_ceil(blocks);
    let block = block_rows * tiles_x;
    let mut tiles = Scratch::<T>::take(ScratchSlot::WinogradTiles, POSITIONS * (c_in + c_out) * block);
    let (v, m) = tiles.split_at_mut(POSITIONS * c_in * block);

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
                    let InputScratch { padded, rows, terms } = buffers;
                    let plane = &image[c * h * w..(c + 1) * h * w];
                    for r in 0..rows_here {
                        let ty = first_row + r;
                        for (i, phases) in rows.iter_mut().enumerate() {
                            let y = (OUT * ty) as isize - pad_y + i as isize;
                            let line = (y >= 0 && y < h as isize).then(|| &plane[y as usize * w..(y as usize + 1) * w]);
                            deinterleave(line, geo.padding.1, padded, phases);
                        }
                        transform_row(rows, tiles_x, terms, |xi| {
                            let start = xi * v_plane + c * count + r * tiles_x;
                            // SAFETY: task c alone touches channel c's run of
                            // tile row r for position ξ, inside v (36·C·block
                            // values), and each ξ is handed out once per row.
                            unsafe { v_ptr.run_mut(start, tiles_x) }
                        });
                    }
                },
            );
            // M[ξ] = U[ξ] · V[ξ], 36 independent products.
            let m_plane = c_out * count;
            m[..POSITIONS * m_plane].par_chunks_mut(m_plane).enumerate().for_each(|(xi, m_xi)| {
                let v_xi = MatRef::row_major(&v[xi * v_plane..(xi + 1) * v_plane], c_in, count);
                let m_xi = MatMut::row_major(m_xi, c_out, count);
                let u_xi = PackedRows::view(&u[xi * u_plane..(xi + 1) * u_plane], c_out, c_in);
                gemm(T::ONE, &u_xi, &v_xi, T::ZERO, m_xi);
            });
            // Output: Aᵀ m A, a tile row of one channel at a time, as loops
            // over contiguous runs.
            let m = &m[..POSITIONS * m_plane];
            let scratch = || OutputScratch::new(tiles_x);
            out.par_chunks_mut(oh * ow).enumerate().for_each_init(scratch, |scratch, (o, plane)| {
                let OutputScratch { terms: s, columns } = scratch;
                let vector = |m: [T::Vector; IN]| output_1d(m, |c| T::Vector::splat(T::from_f64(c)));
                let scalar = |m: [T; IN]| output_1d(m, T::from_f64);
                let b = bias.map_or(T::ZERO, |b| b[o]);
                for r in 0..rows_here {
                    let run = |xi: usize| &m[xi * m_plane + o * count + r * tiles_x..][..tiles_x];
                    // y pass first: s[6i + j] = (Aᵀ m)[i][j].
                    for j in 0..IN {
                        let m_j: [&[T]; IN] = std::array::from_fn(|i| run(IN * i + j));
                        let mut column = s.iter_mut().skip(j).step_by(IN).map(|terms| &mut terms[..tiles_x]);
                        let mut next = || column.next().expect("four output rows");
                        let s_j = [next(), next(), next(), next()];
                        transform_runs(m_j, s_j, tiles_x, vector, scalar);
                    }
                    // x pass: output row 4·ty + i from the terms of row i.
                    let ty = first_row + r;
                    for (i, row_terms) in s.chunks_exact(IN).enumerate() {
                        let oy = OUT * ty + i;
                        if oy >= oh {
                            continue;
                        }
                        let line = &mut plane[oy * ow..(oy + 1) * ow];
                        let t_i: [&[T]; IN] = std::array::from_fn(|j| &row_terms[j][..tiles_x]);
                        // Column k of every tile first, as loops over
                        // contiguous runs (so in SIMD vectors; computed
                        // straight into the interleaved line, the transform
                        // ran one tile at a time in scalars)...
                        let [c0, c1, c2, c3] = columns;
                        let (bias_v, zero_v) = (T::Vector::splat(b), T::Vector::splat(T::ZERO));
                        let finish_v = |v: T::Vector| if relu { (v + bias_v).max(zero_v) } else { v + bias_v };
                        transform_runs(
                            t_i,
                            [&mut c0[..], &mut c1[..], &mut c2[..], &mut c3[..]],
                            tiles_x,
                            |m| {
                                let y = vector(m);
                                [finish_v(y[0]), finish_v(y[1]), finish_v(y[2]), finish_v(y[3])]
                            },
                            |m| {
                                let y = scalar(m);
                                [finish(y[0] + b), finish(y[1] + b), finish(y[2] + b), finish(y[3] + b)]
                            },
                        );
                        let (c0, c1, c2, c3) = (&c0[..tiles_x], &c1[..tiles_x], &c2[..tiles_x], &c3[..tiles_x]);
                        // ... then interleaved: x = 4t + k.
                        let (whole, partial) = line.split_at_mut(ow / OUT * OUT);
                        for (t, quad) in whole.chunks_exact_mut(OUT).enumerate() {
                            (quad[0], quad[1], quad[2], quad[3]) = (c0[t], c1[t], c2[t], c3[t]);
                        }
                        if !partial.is_empty() {
                            let last = ow / OUT;
                            for (slot, value) in partial.iter_mut().zip([c0[last], c1[last], c2[last], c3[last]]) {
                                *slot = value;
                            }
                        }
                    }
                }
            });
        }
    }
}

/// One output task's row buffers for the output transform: the 24 terms of
/// `Aᵀ m` (`terms[6i + j]`, a run over a tile row) and the four output
/// columns of every tile (`columns[k][t]`, output x = 4t + k).
struct OutputScratch<T> {
    terms: [Vec<T>; OUT * IN],
    columns: [Vec<T>; OUT],
}

impl<T: GemmFloat> OutputScratch<T> {
    fn new(tiles: usize) -> Self {
        OutputScratch {
            terms: std::array::from_fn(|_| vec![T::ZERO; tiles]),
            columns: std::array::from_fn(|_| vec![T::ZERO; tiles]),
        }
    }
}

/// A raw pointer that tasks touching disjoint elements may share.
#[derive(Clone, Copy)]
struct SharedSlice<T>(*mut T);

// SAFETY: used only for disjoint runs (see the call site).
unsafe impl<T: Send> Send for SharedSlice<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SharedSlice<T> {}

impl<T> SharedSlice<T> {
    /// The run `start..start + len` as a mutable slice.
    ///
    /// # Safety
    /// The run must be in bounds, and no other slice of it may exist while
    /// the returned one lives.
    #[inline(always)]
    unsafe fn run_mut<'a>(self, start: usize, len: usize) -> &'a mut [T] {
        // SAFETY: forwarded contract.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::MatrixSource;

    /// `G g Gᵀ` by the matrices, in f64 (Lavin & Gray's `G` for the points
    /// 0, ±1, ±2 and ∞).
    fn reference_transform(g: [f64; 9]) -> [f64; POSITIONS] {
        let big_g = [
            [1.0 / 4.0, 0.0, 0.0],
            [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
            [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
            [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
            [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
            [0.0, 0.0, 1.0],
        ];
        std::array::from_fn(|xi| {
            let (i, j) = (xi / IN, xi % IN);
            let mut sum = 0.0;
            for a in 0..3 {
                for b in 0..3 {
                    sum += big_g[i][a] * g[a * 3 + b] * big_g[j][b];
                }
            }
            sum
        })
    }

    /// Every position's matrix, read back through [`PackedRows`], holds the
    /// transform of the kernel `source` names, over several depth blocks
    /// (602 inputs: 301 + 301 for f32, 201 + 201 + 200 for f64), with a last
    /// panel of one row (13 outputs), runs cut short by the blocks' ends and
    /// a scalar tail after the vectors whatever the lane count; the padding
    /// rows are zeros. And to the bit, the values are those of the scalar
    /// transform packed by [`PackedRows::pack`] (another writer of the
    /// layout): the vectors compute what the scalars do.
    fn check_transform<T: GemmFloat>(tolerance: f64) {
        let (outputs, inputs) = (13, 602);
        let weight: Vec<f64> = (0..9 * outputs * inputs).map(|i| ((i * 37 % 101) as f64 - 50.0) / 25.0).collect();
        let weight_t: Vec<T> = weight.iter().map(|&v| T::from_f64(v)).collect();
        let plane = PackedRows::<T>::packed_len(outputs, inputs);
        for source in [KernelSource::Weight, KernelSource::Adjoint] {
            let mut u = vec![T::from_f64(f64::NAN); POSITIONS * plane];
            transform_kernels_into(&weight_t, source, outputs, inputs, &mut u);
            let kernel = |row: usize, col: usize| -> [f64; 9] {
                std::array::from_fn(|t| match source {
                    KernelSource::Weight => weight[(row * inputs + col) * 9 + t],
                    // W̃[row][col][ky][kx] = W[col][row][2 − ky][2 − kx].
                    KernelSource::Adjoint => {
                        let (ky, kx) = (t / 3, t % 3);
                        weight[((col * outputs + row) * 3 + 2 - ky) * 3 + 2 - kx]
                    }
                })
            };
            // Row-major planes by the scalar transform, then packed.
            let mut row_major = vec![T::ZERO; POSITIONS * outputs * inputs];
            for row in 0..outputs {
                for col in 0..inputs {
                    let g = kernel(row, col).map(T::from_f64);
                    kernel_2d(g, T::from_f64, |xi, value| row_major[(xi * outputs + row) * inputs + col] = value);
                }
            }
            let bits = |v: &[T]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
            let mut row_values = vec![T::ZERO; inputs];
            for xi in 0..POSITIONS {
                let mut packed = vec![T::ZERO; plane];
                PackedRows::pack(&row_major[xi * outputs * inputs..][..outputs * inputs], outputs, inputs, &mut packed);
                assert!(bits(&u[xi * plane..(xi + 1) * plane]) == bits(&packed), "{source:?}: position {xi}");
                let view = PackedRows::view(&u[xi * plane..(xi + 1) * plane], outputs, inputs);
                for row in 0..outputs {
                    view.read_row(row, 0, inputs, &mut row_values, 1);
                    for (col, value) in row_values.iter().enumerate() {
                        let (value, want) = (value.to_f64(), reference_transform(kernel(row, col))[xi]);
                        assert!(
                            (value - want).abs() <= tolerance * (1.0 + want.abs()),
                            "{source:?}: position {xi} of kernel ({row}, {col}) is {value}, expected {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn kernels_are_transformed_into_the_packed_layout() {
        check_transform::<f64>(1e-14);
        check_transform::<f32>(1e-6);
    }
}
