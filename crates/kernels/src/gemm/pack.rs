//! Packing: copying a block of an operand into the order the microkernel reads
//! it, so that its inner loop walks memory contiguously.
//!
//! A block of A (`mc × kc`) becomes panels of `MR` rows, each stored k-major
//! (`panel[k * MR + i]`); a block of B (`kc × nc`) becomes panels of `NR`
//! columns (`panel[k * NR + j]`). Edge panels are zero-padded so the
//! microkernel never needs a bounds check.

use super::source::MatrixSource;
use crate::Float;

/// Packs rows `i0..i0+mc`, columns `k0..k0+kc` of `a` into `MR`-row panels.
pub(crate) fn pack_a<T: Float, S: MatrixSource<T> + ?Sized>(
    a: &S,
    i0: usize,
    mc: usize,
    k0: usize,
    kc: usize,
    mr: usize,
    dst: &mut [T],
) {
    for (panel, chunk) in dst.chunks_mut(mr * kc).take(mc.div_ceil(mr)).enumerate() {
        let row0 = i0 + panel * mr;
        let valid = mr.min(i0 + mc - row0);
        if a.prefers_rows() {
            for i in 0..valid {
                a.read_row(row0 + i, k0, kc, &mut chunk[i..], mr);
            }
            for i in valid..mr {
                for k in 0..kc {
                    chunk[k * mr + i] = T::ZERO;
                }
            }
        } else {
            for k in 0..kc {
                let column = &mut chunk[k * mr..(k + 1) * mr];
                a.read_col(k0 + k, row0, valid, column, 1);
                column[valid..].fill(T::ZERO);
            }
        }
    }
}

/// Packs rows `k0..k0+kc`, columns `j0..j0+nc` of `b` into `NR`-column panels.
pub(crate) fn pack_b<T: Float, S: MatrixSource<T> + ?Sized>(
    b: &S,
    k0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    nr: usize,
    dst: &mut [T],
) {
    for (panel, chunk) in dst.chunks_mut(nr * kc).take(nc.div_ceil(nr)).enumerate() {
        let col0 = j0 + panel * nr;
        let valid = nr.min(j0 + nc - col0);
        if b.prefers_rows() {
            for k in 0..kc {
                let row = &mut chunk[k * nr..(k + 1) * nr];
                b.read_row(k0 + k, col0, valid, row, 1);
                row[valid..].fill(T::ZERO);
            }
        } else {
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
}
