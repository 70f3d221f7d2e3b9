//! General matrix multiply, `C = α·A·B + β·C`, for f32 (fast) and f64.
//!
//! The structure follows the BLIS/gemm family. For each `NC`-wide column
//! block of C and each `KC`-deep slice, the block of B is packed once into
//! `NR`-column panels that every thread shares (the threads pack it together);
//! then jobs of one `MC`-row block × one run of panels each pack their block
//! of A into `MR`-row panels (kept in L2) and sweep the `MR × NR` sub-tiles
//! with the microkernel (one B panel in L1 at a time). Sharing the packed B
//! matters when M is large: packing it per row block instead repeated the
//! copy (or, for convolution, the image gather) once per block. Operands are
//! [`MatrixSource`]s, so a transposed or otherwise strided matrix costs
//! nothing extra, and convolution feeds its image patches straight into the
//! packing step.

pub(crate) mod cuda_kernel;

mod microkernel;
mod pack;
mod source;

use std::cell::RefCell;

use rayon::prelude::*;

pub use pack::PackedRows;
pub use source::{MatRef, MatrixSource, Transposed};

use crate::buffer_pool::PooledVec;
use crate::element::Float;
use microkernel::microkernel;
pub use microkernel::TileOut;

/// Per-type GEMM parameters and the microkernel instantiation.
pub trait GemmFloat: Float + crate::buffer_pool::Poolable {
    /// Rows of C per microkernel call.
    const MR: usize;
    /// Columns of C per microkernel call (a whole number of vectors).
    const NR: usize;
    /// Depth of one packed slice.
    const KC: usize;
    /// Largest row block of A kept packed at once.
    const MC: usize;
    /// Largest column block of B kept packed at once.
    const NC: usize;

    /// Runs the microkernel for this type.
    ///
    /// # Safety
    /// As [`microkernel`]: packed panels of the right length, a valid tile.
    #[doc(hidden)]
    unsafe fn run_microkernel(kc: usize, alpha: Self, a: *const Self, b: *const Self, beta: Self, out: &TileOut<Self>);

    /// Runs `f` with this thread's buffer for packed blocks of A.
    #[doc(hidden)]
    fn with_pack_buffer<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
}

macro_rules! impl_gemm_float {
    ($t:ty, $mr:expr, $nv:expr, $kc:expr, $mc:expr, $nc:expr, $buffer:ident) => {
        thread_local! {
            static $buffer: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) };
        }
        impl GemmFloat for $t {
            const MR: usize = $mr;
            const NR: usize = $nv * <$t as Float>::LANES;
            const KC: usize = $kc;
            const MC: usize = $mc;
            const NC: usize = $nc;

            #[inline(always)]
            unsafe fn run_microkernel(
                kc: usize,
                alpha: Self,
                a: *const Self,
                b: *const Self,
                beta: Self,
                out: &TileOut<Self>,
            ) {
                // SAFETY: forwarded contract.
                unsafe { microkernel::<$t, $mr, $nv>(kc, alpha, a, b, beta, out) }
            }

            fn with_pack_buffer<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
                $buffer.with(|cell| {
                    let mut buffer = cell.borrow_mut();
                    if buffer.len() < len {
                        buffer.resize(len, 0.0);
                    }
                    f(&mut buffer[..len])
                })
            }
        }
    };
}

/// Vectors per microkernel row: 6 × 4 vectors fill 24 of AVX-512's 32
/// registers with accumulators; AVX2 has 16, so 6 × 2 (the BLIS Haswell
/// shape, 12 accumulators + 2 B vectors + 1 broadcast).
const NV: usize = if cfg!(target_feature = "avx512f") { 4 } else { 2 };

impl_gemm_float!(f32, 6, NV, 384, 240, 2048, F32_PACK_A);
impl_gemm_float!(f64, 6, NV, 256, 240, 1024, F64_PACK_A);

/// The output of a GEMM: a mutable matrix given by strides into a slice.
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T: Float> MatMut<'a, T> {
    /// Views `data` as a `rows × cols` output matrix.
    ///
    /// # Panics
    /// If the matrix reaches outside `data`, or if its strides could map two
    /// elements to one place (one stride must step over the whole other
    /// dimension).
    pub fn new(data: &'a mut [T], rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Self {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * row_stride + (cols - 1) * col_stride;
            assert!(
                last < data.len(),
                "MatMut: a {rows}x{cols} matrix with strides ({row_stride}, {col_stride}) needs {} elements, slice has {}",
                last + 1,
                data.len()
            );
            let disjoint = rows == 1
                || cols == 1
                || (col_stride >= 1 && row_stride >= cols * col_stride)
                || (row_stride >= 1 && col_stride >= rows * row_stride);
            assert!(disjoint, "MatMut: strides ({row_stride}, {col_stride}) of a {rows}x{cols} matrix overlap");
            assert!(rows == 1 || row_stride > 0, "MatMut: zero row stride with {rows} rows");
            assert!(cols == 1 || col_stride > 0, "MatMut: zero column stride with {cols} columns");
        }
        MatMut { data, rows, cols, row_stride, col_stride }
    }

    /// A contiguous row-major output.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }
}

/// A raw view of C that tiles of the parallel loop write through.
#[derive(Clone, Copy)]
struct SharedOut<T> {
    ptr: *mut T,
    row_stride: usize,
    col_stride: usize,
}
// SAFETY: every parallel tile writes a disjoint set of C's elements (tiles
// partition the index space and `MatMut::new` rejects overlapping strides).
unsafe impl<T: Send> Send for SharedOut<T> {}
// SAFETY: as above; the pointer is only used to write disjoint tiles.
unsafe impl<T: Send> Sync for SharedOut<T> {}

impl<T> SharedOut<T> {
    /// Pointer to element `(row, col)`.
    ///
    /// # Safety
    /// `(row, col)` must lie inside the matrix this was made from.
    unsafe fn at(&self, row: usize, col: usize) -> *mut T {
        // SAFETY: forwarded contract: the offset stays inside the slice.
        unsafe { self.ptr.add(row * self.row_stride + col * self.col_stride) }
    }
}

/// How C is cut into tiles for this problem.
#[derive(Clone, Copy, Debug)]
struct Blocking {
    mc: usize,
    nc: usize,
    kc: usize,
    /// Runs of B panels each column block is dealt out in: a job is one row
    /// block × one run (used when the depth is not split).
    col_chunks: usize,
    /// Slices the depth is split into, each computed separately and summed.
    k_splits: usize,
    /// False for products too small to repay handing work to other threads.
    parallel: bool,
}

/// Products of fewer multiply-adds than this (64³) run on the calling thread:
/// they take microseconds, about what waking the pool costs.
const SEQUENTIAL_WORK: usize = 1 << 18;

/// Outputs with fewer elements than this split a long depth rather than
/// share packed B: one depth slice of them is too little work (under about
/// 25 MFLOP) to pay for the two fork-joins each slice costs.
const SMALL_OUTPUT: usize = 1 << 15;

/// The size of blocks of at most `max` that split `len` evenly, rounded up
/// to a multiple of `unit`.
fn even_blocks(len: usize, max: usize, unit: usize) -> usize {
    let blocks = len.div_ceil(max).max(1);
    len.div_ceil(blocks).div_ceil(unit) * unit
}

/// The depth (`kc`) a product of inner dimension `k` is blocked by: what
/// [`PackedRows`] packs for.
pub(crate) fn depth_block<T: GemmFloat>(k: usize) -> usize {
    even_blocks(k, T::KC, 1).max(1)
}

/// Chooses tile sizes: the type's defaults, balanced so blocks are even.
///
/// A column block is dealt out as `row blocks × col_chunks` jobs, at least
/// two per thread and a whole number per thread, so that equal jobs keep
/// every thread equally busy. When that leaves threads idle anyway, or C is
/// small and the depth long, the depth is split instead (split-K: a Gram
/// matrix `F·Fᵀ` of 64 channels over 65536 pixels is one tile).
fn blocking<T: GemmFloat>(m: usize, n: usize, k: usize) -> Blocking {
    let mr = T::MR;
    let nr = T::NR;
    let even = even_blocks;
    let parallel = m * n * k >= SEQUENTIAL_WORK;
    let threads = rayon::current_num_threads();
    let mc = even(m, T::MC, mr);
    let kc = depth_block::<T>(k);
    let nc = even(n, T::NC, nr);
    let row_blocks = m.div_ceil(mc);
    let panels = nc.div_ceil(nr);
    let wanted = if parallel { 2 * threads } else { 1 };
    let mut col_chunks = wanted.div_ceil(row_blocks).min(panels);
    while parallel && col_chunks < panels && (row_blocks * col_chunks) % threads != 0 {
        col_chunks += 1;
    }
    let deep_slices = k / (2 * kc);
    let jobs = row_blocks * n.div_ceil(nc) * col_chunks;
    let small_output = m * n < SMALL_OUTPUT;
    if (jobs < wanted || small_output) && deep_slices >= 2 && m * n <= 1 << 22 {
        let tiles = row_blocks * n.div_ceil(nc);
        let k_splits = wanted.div_ceil(tiles).min(deep_slices);
        return Blocking { mc, nc, kc, col_chunks: 1, k_splits, parallel };
    }
    Blocking { mc, nc, kc, col_chunks, k_splits: 1, parallel }
}

/// `C = alpha · A · B + beta · C`, with A `m × k`, B `k × n`, C `m × n`.
///
/// Runs on the rayon pool. With `beta == 0`, C is only written, never read.
///
/// # Panics
/// If the shapes do not agree.
pub fn gemm<T, A, B>(alpha: T, a: &A, b: &B, beta: T, c: MatMut<'_, T>)
where
    T: GemmFloat,
    A: MatrixSource<T> + ?Sized,
    B: MatrixSource<T> + ?Sized,
{
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    assert!(
        b.rows() == k && c.rows == m && c.cols == n,
        "gemm: A is {m}x{k}, B is {}x{}, C is {}x{}",
        b.rows(),
        b.cols(),
        c.rows,
        c.cols
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == T::ZERO {
        scale_output(c, beta);
        return;
    }
    let plan = blocking::<T>(m, n, k);
    let out = SharedOut { ptr: c.data.as_mut_ptr(), row_stride: c.row_stride, col_stride: c.col_stride };
    if plan.k_splits == 1 {
        gemm_shared_b(a, b, out, alpha, beta, &plan, 0..k);
        return;
    }
    // Split-K: each depth slice accumulates into its own m × n partial
    // product, then the partials are summed into C.
    let slice = k.div_ceil(plan.k_splits).div_ceil(plan.kc) * plan.kc;
    let slices = k.div_ceil(slice);
    let mut partials = vec![T::ZERO; slices * m * n];
    let partial_out = SharedOut { ptr: partials.as_mut_ptr(), row_stride: n, col_stride: 1 };
    (0..slices).into_par_iter().for_each(|s| {
        // SAFETY: slice s owns rows s·m .. (s+1)·m of `partials`.
        let out_s = SharedOut { ptr: unsafe { partial_out.at(s * m, 0) }, ..partial_out };
        gemm_shared_b(a, b, out_s, T::ONE, T::ZERO, &plan, s * slice..k.min((s + 1) * slice));
    });
    for i in 0..m {
        for j in 0..n {
            let sum = (0..slices).fold(T::ZERO, |acc, s| acc + partials[(s * m + i) * n + j]);
            let slot = &mut c.data[i * c.row_stride + j * c.col_stride];
            *slot = if beta == T::ZERO { alpha * sum } else { alpha * sum + beta * *slot };
        }
    }
}

/// `C = alpha · A[.., depth] · B[depth, ..] + beta · C`: per column block
/// and depth slice, B packed once and shared, then `row blocks × col_chunks`
/// jobs on the rayon pool.
fn gemm_shared_b<T, A, B>(
    a: &A,
    b: &B,
    out: SharedOut<T>,
    alpha: T,
    beta: T,
    plan: &Blocking,
    depth: std::ops::Range<usize>,
) where
    T: GemmFloat,
    A: MatrixSource<T> + ?Sized,
    B: MatrixSource<T> + ?Sized,
{
    let (m, n) = (a.rows(), b.cols());
    let (mr, nr) = (T::MR, T::NR);
    let row_blocks = m.div_ceil(plan.mc);
    let pack_a_len = plan.mc.div_ceil(mr) * mr * plan.kc;
    // Not a thread-local like A's buffer: this thread lends it to the pool's
    // jobs, and while it waits for them it may itself start another GEMM.
    let mut packed_b = PooledVec::<T>::uninit_contents(plan.nc.div_ceil(nr) * nr * plan.kc);
    for j0 in (0..n).step_by(plan.nc) {
        let ncur = plan.nc.min(n - j0);
        let panels = ncur.div_ceil(nr);
        let per_chunk = panels.div_ceil(plan.col_chunks.min(panels));
        let jobs = row_blocks * panels.div_ceil(per_chunk);
        let parallel = plan.parallel && jobs > 1;
        let per_pack_run = if parallel { panels.div_ceil(rayon::current_num_threads().min(panels)) } else { panels };
        for k0 in depth.clone().step_by(plan.kc) {
            let kcur = plan.kc.min(depth.end - k0);
            let beta_here = if k0 == depth.start { beta } else { T::ONE };
            // Pack this slice of B, each thread taking a run of whole panels.
            let pack_run = |(run, dst): (usize, &mut [T])| {
                let c0 = run * per_pack_run * nr;
                pack::pack_b(b, k0, kcur, j0 + c0, (per_pack_run * nr).min(ncur - c0), dst);
            };
            let b_block = &mut packed_b[..panels * nr * kcur];
            if !parallel {
                pack_run((0, b_block));
            } else {
                b_block.par_chunks_mut(per_pack_run * nr * kcur).enumerate().for_each(pack_run);
            }
            let packed_b = &packed_b[..panels * nr * kcur];
            let job = |job: usize| {
                let (i0, p0) = ((job % row_blocks) * plan.mc, (job / row_blocks) * per_chunk);
                let mcur = plan.mc.min(m - i0);
                let sweep = |packed_a: &[T]| {
                    for p in p0..panels.min(p0 + per_chunk) {
                        let jr = p * nr;
                        sweep_panel(
                            out,
                            alpha,
                            beta_here,
                            packed_a,
                            &packed_b[p * nr * kcur..],
                            kcur,
                            i0,
                            mcur,
                            j0 + jr,
                            nr.min(ncur - jr),
                        );
                    }
                };
                match a.packed_panels(i0, k0, kcur, plan.kc) {
                    Some(packed_a) => {
                        // The microkernel reads these panels unchecked.
                        assert!(
                            packed_a.len() >= mcur.div_ceil(mr) * mr * kcur,
                            "gemm: {} packed values for {mcur} rows at depth {kcur}",
                            packed_a.len()
                        );
                        sweep(packed_a)
                    }
                    None => T::with_pack_buffer(pack_a_len, |packed_a| {
                        pack::pack_a(a, i0, mcur, k0, kcur, packed_a);
                        sweep(packed_a);
                    }),
                }
            };
            if parallel {
                (0..jobs).into_par_iter().for_each(job);
            } else {
                (0..jobs).for_each(job);
            }
        }
    }
}

/// Runs the microkernel down one packed B panel (`cols` ≤ NR columns of C
/// from `j`) against every MR-row panel of a packed A block (`mcur` rows of C
/// from `i0`): `C = alpha · A·B + beta · C` there.
#[allow(clippy::too_many_arguments)]
#[inline]
fn sweep_panel<T: GemmFloat>(
    out: SharedOut<T>,
    alpha: T,
    beta: T,
    packed_a: &[T],
    b_panel: &[T],
    kcur: usize,
    i0: usize,
    mcur: usize,
    j: usize,
    cols: usize,
) {
    let mr = T::MR;
    for ir in (0..mcur).step_by(mr) {
        let a_panel = &packed_a[(ir / mr) * mr * kcur..];
        let tile_out = TileOut {
            // SAFETY: (i0 + ir, j) is inside C, so the offset is inside the
            // slice `MatMut::new` checked.
            ptr: unsafe { out.at(i0 + ir, j) },
            row_stride: out.row_stride as isize,
            col_stride: out.col_stride as isize,
            rows: mr.min(mcur - ir),
            cols,
        };
        debug_assert!(a_panel.len() >= kcur * mr && b_panel.len() >= kcur * T::NR);
        // SAFETY: the panels hold kcur·MR / kcur·NR packed values (zero-padded);
        // the tile is inside C and no other thread writes it (jobs and tiles
        // cover disjoint parts of C).
        unsafe { T::run_microkernel(kcur, alpha, a_panel.as_ptr(), b_panel.as_ptr(), beta, &tile_out) };
    }
}

/// `C = beta · C` (C zeroed when `beta == 0`, whatever it held).
fn scale_output<T: Float>(c: MatMut<'_, T>, beta: T) {
    for i in 0..c.rows {
        for j in 0..c.cols {
            let slot = &mut c.data[i * c.row_stride + j * c.col_stride];
            *slot = if beta == T::ZERO { T::ZERO } else { beta * *slot };
        }
    }
}

/// Reference GEMM by the definition, for tests: `C = alpha·A·B + beta·C`.
pub fn gemm_reference<T: Float>(alpha: T, a: &MatRef<'_, T>, b: &MatRef<'_, T>, beta: T, c: MatMut<'_, T>) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0f64;
            for p in 0..k {
                sum += a.at(i, p).to_f64() * b.at(p, j).to_f64();
            }
            let slot = &mut c.data[i * c.row_stride + j * c.col_stride];
            let prior = if beta == T::ZERO { 0.0 } else { beta.to_f64() * slot.to_f64() };
            *slot = T::from_f64(alpha.to_f64() * sum + prior);
        }
    }
}
