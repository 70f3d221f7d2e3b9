//! Packing: copying a block of an operand into the order the microkernel reads
//! it, so that its inner loop walks memory contiguously.
//!
//! A block of A (`mc × kc`) becomes panels of `MR` rows, each stored k-major
//! (`panel[k * MR + i]`); a block of B (`kc × nc`) becomes panels of `NR`
//! columns (`panel[k * NR + j]`). Edge panels are zero-padded so the
//! microkernel never needs a bounds check.

use super::source::MatrixSource;
use super::GemmFloat;

/// Values read per call along an operand's cheap direction: long enough that
/// a source's per-call cost (an image patch row decodes its channel and tap)
/// is amortised, short enough to stay on the stack.
const RUN: usize = 256;

/// Packs rows `i0..i0+mc`, columns `k0..k0+kc` of `a` into `MR`-row panels.
pub(crate) fn pack_a<T: GemmFloat, S: MatrixSource<T> + ?Sized>(
    a: &S,
    i0: usize,
    mc: usize,
    k0: usize,
    kc: usize,
    dst: &mut [T],
) {
    let mr = T::MR;
    let panel_len = mr * kc;
    if !a.prefers_rows() {
        // The mirror image of `pack_b`'s row path: long runs down each
        // column, dealt out to the panels MR values at a time.
        let mut run = [T::ZERO; RUN];
        let whole = RUN / mr * mr;
        for chunk0 in (0..mc).step_by(whole) {
            let len = whole.min(mc - chunk0);
            let padded = len.div_ceil(mr) * mr;
            run[len..padded].fill(T::ZERO);
            for k in 0..kc {
                a.read_col(k0 + k, i0 + chunk0, len, &mut run, 1);
                for (p, piece) in run[..padded].chunks_exact(mr).enumerate() {
                    let panel = (chunk0 / mr + p) * panel_len;
                    dst[panel + k * mr..panel + (k + 1) * mr].copy_from_slice(piece);
                }
            }
        }
        return;
    }
    for (panel, chunk) in dst.chunks_mut(panel_len).take(mc.div_ceil(mr)).enumerate() {
        let row0 = i0 + panel * mr;
        let valid = mr.min(i0 + mc - row0);
        for i in 0..valid {
            a.read_row(row0 + i, k0, kc, &mut chunk[i..], mr);
        }
        for i in valid..mr {
            for k in 0..kc {
                chunk[k * mr + i] = T::ZERO;
            }
        }
    }
}

/// Packs rows `k0..k0+kc`, columns `j0..j0+nc` of `b` into `NR`-column panels.
pub(crate) fn pack_b<T: GemmFloat, S: MatrixSource<T> + ?Sized>(
    b: &S,
    k0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    dst: &mut [T],
) {
    let nr = T::NR;
    let panel_len = nr * kc;
    if b.prefers_rows() {
        // Read each row of the block in long runs, then deal the run out to
        // the panels in NR-wide pieces (a constant-length copy: a few vector
        // moves, not a memmove call per piece).
        let mut run = [T::ZERO; RUN];
        let whole = RUN / nr * nr;
        for chunk0 in (0..nc).step_by(whole) {
            let len = whole.min(nc - chunk0);
            let padded = len.div_ceil(nr) * nr;
            run[len..padded].fill(T::ZERO);
            for k in 0..kc {
                b.read_row(k0 + k, j0 + chunk0, len, &mut run, 1);
                for (p, piece) in run[..padded].chunks_exact(nr).enumerate() {
                    let panel = (chunk0 / nr + p) * panel_len;
                    dst[panel + k * nr..panel + (k + 1) * nr].copy_from_slice(piece);
                }
            }
        }
        return;
    }
    for (panel, chunk) in dst.chunks_mut(panel_len).take(nc.div_ceil(nr)).enumerate() {
        let col0 = j0 + panel * nr;
        let valid = nr.min(j0 + nc - col0);
        for j in 0..valid {
            b.read_col(col0 + j, k0, kc, &mut chunk[j..], nr);
        }
        for j in valid..nr {
            for k in 0..kc {
                chunk[k * nr + j] = T::ZERO;
            }
        }
    }
}
