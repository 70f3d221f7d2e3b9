//! The register-tiled microkernel: an `MR × NR` block of C held in SIMD
//! registers while it runs down `kc` packed columns of A and rows of B.
//!
//! NR is `NV` vectors wide, so each k step does `NV` vector loads of B, `MR`
//! broadcasts of A and `NV·MR` fused multiply-adds. With AVX-512, `MR = 6`
//! and `NV = 4` (6 × 64) keeps 24 accumulators, 4 B vectors and a broadcast
//! in the 32 vector registers; it measured best among 12×2, 14×2, 8×3 and 6×4
//! on 1024³ and on VGG's convolution shapes (where M = 64 pads to 66 rows,
//! against 72 with MR = 12). With AVX2's 16 registers, 6 × 2 vectors (6 × 16).

use crate::element::{Float, SimdVector};

/// Where the microkernel writes: C at `ptr` with strides, and the valid extent
/// of this tile (smaller than `MR × NR` at the matrix edges).
pub struct TileOut<T> {
    pub(crate) ptr: *mut T,
    pub(crate) row_stride: isize,
    pub(crate) col_stride: isize,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

/// Hints the CPU to bring the cache line holding `p` into L1.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// `C_tile = alpha · (A_panel · B_panel) + beta · C_tile`.
///
/// `beta == 0` never reads C, so uninitialised (NaN-holding) outputs are safe.
///
/// # Safety
/// `a` must hold `kc · MR` packed values, `b` `kc · NV·LANES`, and every
/// `out.ptr + i·row_stride + j·col_stride` for `i < out.rows`, `j < out.cols`
/// must be valid for reads and writes and not be written by anyone else
/// meanwhile.
#[inline(always)]
pub(crate) unsafe fn microkernel<T: Float, const MR: usize, const NV: usize>(
    kc: usize,
    alpha: T,
    a: *const T,
    b: *const T,
    beta: T,
    out: &TileOut<T>,
) {
    let lanes = T::LANES;
    let nr = NV * lanes;
    let zero = T::Vector::splat(T::ZERO);
    let mut acc = [[zero; NV]; MR];
    // Touch the tile's rows of C now, so their cache misses overlap the k
    // loop instead of stalling the stores at its end (rows of a wide C sit a
    // page apart and tend to be cold).
    for i in 0..out.rows {
        prefetch(out.ptr.wrapping_offset(i as isize * out.row_stride));
    }
    let mut a = a;
    let mut b = b;
    for _ in 0..kc {
        // SAFETY: the packed panels hold kc·MR and kc·NR values; we advance by
        // exactly MR and NR per step.
        unsafe {
            let mut bv = [zero; NV];
            for (h, v) in bv.iter_mut().enumerate() {
                *v = T::Vector::load(b.add(h * lanes));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = T::Vector::splat(*a.add(i));
                for (slot, &bh) in row.iter_mut().zip(bv.iter()) {
                    *slot = ai.mul_add(bh, *slot);
                }
            }
            a = a.add(MR);
            b = b.add(nr);
        }
    }

    let alpha_v = T::Vector::splat(alpha);
    let beta_v = T::Vector::splat(beta);
    let read_c = beta != T::ZERO;
    if out.rows == MR && out.cols == nr && out.col_stride == 1 {
        for (i, row) in acc.iter().enumerate() {
            // SAFETY: full tile, unit column stride: NV·LANES contiguous values per row.
            unsafe {
                let p = out.ptr.offset(i as isize * out.row_stride);
                for (h, &v) in row.iter().enumerate() {
                    let q = p.add(h * lanes);
                    let mut value = v * alpha_v;
                    if read_c {
                        value = T::Vector::load(q).mul_add(beta_v, value);
                    }
                    value.store(q);
                }
            }
        }
    } else {
        // Edge or strided tile: spill to a scratch tile, then write the valid part.
        const { assert!(NV * 16 <= 64, "scratch tile too narrow") };
        let mut scratch = [[T::ZERO; 64]; MR];
        for (i, row) in acc.iter().enumerate() {
            for (h, &v) in row.iter().enumerate() {
                // SAFETY: 64 ≥ NR = NV·LANES (checked by the assertion above).
                unsafe { (v * alpha_v).store(scratch[i].as_mut_ptr().add(h * lanes)) };
            }
        }
        for (i, row) in scratch.iter().enumerate().take(out.rows) {
            for (j, &value) in row.iter().enumerate().take(out.cols) {
                // SAFETY: (i, j) lies inside the valid extent of the tile.
                unsafe {
                    let q = out.ptr.offset(i as isize * out.row_stride + j as isize * out.col_stride);
                    *q = if read_c { value + beta * *q } else { value };
                }
            }
        }
    }
}
