//! Packing: copying a block of an operand into the order the microkernel reads
//! it, so that its inner loop walks memory contiguously.
//!
//! A block of A (`mc × kc`) becomes panels of `MR` rows, each stored k-major
//! (`panel[k * MR + i]`); a block of B (`kc × nc`) becomes panels of `NR`
//! columns (`panel[k * NR + j]`). Edge panels are zero-padded so the
//! microkernel never needs a bounds check.

use super::source::{MatRef, MatrixSource};
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
        if valid == mr && pack_rows_in_place(a, row0, k0, kc, chunk) {
            continue;
        }
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

/// Fills one whole A panel k-major from `MR` rows that `a` stores
/// contiguously, reading the rows side by side so the panel is written in
/// order; false (nothing written) when the rows are not stored so.
fn pack_rows_in_place<T: GemmFloat, S: MatrixSource<T> + ?Sized>(
    a: &S,
    row0: usize,
    k0: usize,
    kc: usize,
    panel: &mut [T],
) -> bool {
    const MAX_MR: usize = 16;
    const { assert!(T::MR <= MAX_MR, "pack_rows_in_place holds at most 16 rows") };
    let mr = T::MR;
    let mut rows: [&[T]; MAX_MR] = [&[]; MAX_MR];
    for (i, row) in rows.iter_mut().enumerate().take(mr) {
        match a.row_slice(row0 + i, k0, kc) {
            Some(slice) => *row = slice,
            None => return false,
        }
    }
    interleave_runs(&rows[..mr], mr, kc, panel);
    true
}

/// Writes `depth` steps of `width` values into `panel`, step `k` holding
/// `runs[j][k]` for each run `j` and zeros after the last run: a panel
/// packed k-major from runs (rows of A or columns of B) read side by side,
/// so that it is written in order.
fn interleave_runs<T: GemmFloat>(runs: &[&[T]], width: usize, depth: usize, panel: &mut [T]) {
    for (k, step) in panel[..depth * width].chunks_exact_mut(width).enumerate() {
        let (filled, empty) = step.split_at_mut(runs.len());
        for (slot, run) in filled.iter_mut().zip(runs) {
            *slot = run[k];
        }
        empty.fill(T::ZERO);
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
    if b.row_slice(k0, j0, nc).is_some() {
        // Rows stored contiguously: copy NR-wide pieces straight into place.
        let whole = nc / nr;
        for k in 0..kc {
            let row = b.row_slice(k0 + k, j0, nc).expect("MatrixSource::row_slice answers alike for every row");
            let (body, tail) = row.split_at(whole * nr);
            for (p, piece) in body.chunks_exact(nr).enumerate() {
                dst[p * panel_len + k * nr..p * panel_len + (k + 1) * nr].copy_from_slice(piece);
            }
            if !tail.is_empty() {
                let edge = &mut dst[whole * panel_len + k * nr..whole * panel_len + (k + 1) * nr];
                edge[..tail.len()].copy_from_slice(tail);
                edge[tail.len()..].fill(T::ZERO);
            }
        }
        return;
    }
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
        if pack_cols_in_place(b, col0, valid, k0, kc, chunk) {
            continue;
        }
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

/// Fills one B panel k-major from `valid` (≤ `NR`) columns that `b` stores
/// contiguously (a transposed operand such as the Gram matrix's `Fᵀ`),
/// reading a group of columns side by side so the panel is written in runs
/// instead of one value at a time `NR` values apart; missing columns are
/// zeros. False (nothing written) when the columns are not stored so.
fn pack_cols_in_place<T: GemmFloat, S: MatrixSource<T> + ?Sized>(
    b: &S,
    col0: usize,
    valid: usize,
    k0: usize,
    kc: usize,
    panel: &mut [T],
) -> bool {
    const MAX_NR: usize = 64;
    const { assert!(T::NR <= MAX_NR, "pack_cols_in_place holds at most 64 columns") };
    let nr = T::NR;
    let mut cols: [&[T]; MAX_NR] = [&[]; MAX_NR];
    for (j, col) in cols.iter_mut().enumerate().take(valid) {
        match b.col_slice(col0 + j, k0, kc) {
            Some(slice) => *col = slice,
            None => return false,
        }
    }
    // Eight columns at a time. Reading all NR side by side (64 with
    // AVX-512's f32) kept that many streams of memory open at once, more
    // than the prefetchers follow: a Gram matrix
    // F·Fᵀ of 64 × 262,144 features (VGG's relu1_1 at 512²) took 35.5 ms
    // (60 GFLOP/s); in groups of 32, 16, 8 and 4 columns, 31.3, 21.5, 16.4
    // and 19.2 ms. (The same grouping inside `interleave_runs`, shared with
    // A's panels, made a Gatys evaluation 1.3–2.2% slower, side by side on
    // one thread each: A's six rows keep their own loop.)
    const GROUP: usize = 8;
    for (g, group) in cols[..valid].chunks(GROUP).enumerate() {
        for k in 0..kc {
            let step = &mut panel[k * nr + g * GROUP..k * nr + g * GROUP + group.len()];
            for (slot, col) in step.iter_mut().zip(group) {
                *slot = col[k];
            }
        }
    }
    if valid < nr {
        for k in 0..kc {
            panel[k * nr + valid..(k + 1) * nr].fill(T::ZERO);
        }
    }
    true
}

/// A matrix held already packed as the product's left operand: for each
/// depth block of `kc` columns (the last may be shorter), every `MR`-row
/// panel k-major, rows past the last zero. A constant operand used in many
/// products is packed once instead of at every product, and a producer that
/// can write its values in this order (Winograd's kernel transform, through
/// [`PackedRows::offset_in`]) saves the packing altogether. Made by
/// [`PackedRows::pack`] or written in that layout; any other use
/// of it as a [`MatrixSource`] reads through the layout (two divisions per
/// value: slow, but right). The layout depends on the element type's `MR`
/// and `KC` (its GEMM blocking), so packed values are for this build only.
#[derive(Clone, Copy)]
pub struct PackedRows<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    kc: usize,
}

impl<'a, T: GemmFloat> PackedRows<'a, T> {
    /// Values a `rows × cols` matrix takes packed.
    pub fn packed_len(rows: usize, cols: usize) -> usize {
        Self::padded_rows(rows) * cols
    }

    /// Packs the row-major `rows × cols` matrix `a` into `dst`
    /// ([`PackedRows::packed_len`] values, all written).
    ///
    /// # Panics
    /// If `a` or `dst` has the wrong length.
    pub fn pack(a: &[T], rows: usize, cols: usize, dst: &mut [T]) {
        assert_eq!(a.len(), rows * cols, "PackedRows::pack: {} values for {rows}x{cols}", a.len());
        assert_eq!(
            dst.len(),
            Self::packed_len(rows, cols),
            "PackedRows::pack: {} values for {rows}x{cols} packed",
            dst.len()
        );
        let source = MatRef::row_major(a, rows, cols);
        let kc = super::depth_block::<T>(cols);
        for k0 in (0..cols).step_by(kc) {
            let kcur = kc.min(cols - k0);
            let block = Self::padded_rows(rows);
            pack_a(&source, 0, rows, k0, kcur, &mut dst[block * k0..block * (k0 + kcur)]);
        }
    }

    /// Views `data`, packed for `rows × cols` (only
    /// the length is checked: give the shape it was packed with).
    ///
    /// # Panics
    /// If `data` has the wrong length.
    pub fn view(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert_eq!(
            data.len(),
            Self::packed_len(rows, cols),
            "PackedRows::view: {} values for {rows}x{cols}",
            data.len()
        );
        PackedRows { data, rows, cols, kc: super::depth_block::<T>(cols) }
    }

    /// `rows` rounded up to whole panels of `MR`: the rows each depth block
    /// holds.
    fn padded_rows(rows: usize) -> usize {
        rows.div_ceil(T::MR) * T::MR
    }

    /// The depth block the values are packed for.
    pub fn depth_block(&self) -> usize {
        self.kc
    }

    /// Where `(row, col)` lies in the packed layout.
    fn offset(&self, row: usize, col: usize) -> usize {
        Self::offset_with(self.kc, self.rows, self.cols, row, col)
    }

    /// Where `(row, col)` of a `rows × cols` matrix lies packed: a panel's
    /// values for consecutive columns of one depth block
    /// ([`super::depth_block`]) follow each other `MR` apart, so a writer
    /// that fills whole panels (a transform producing its values already
    /// packed) writes runs from here.
    pub(crate) fn offset_in(rows: usize, cols: usize, row: usize, col: usize) -> usize {
        Self::offset_with(super::depth_block::<T>(cols), rows, cols, row, col)
    }

    /// As [`PackedRows::offset_in`], for depth blocks of `kc`.
    fn offset_with(kc: usize, rows: usize, cols: usize, row: usize, col: usize) -> usize {
        let k0 = col / kc * kc;
        let kcur = kc.min(cols - k0);
        Self::padded_rows(rows) * k0 + (row / T::MR) * T::MR * kcur + (col - k0) * T::MR + row % T::MR
    }
}

impl<T: GemmFloat> MatrixSource<T> for PackedRows<'_, T> {
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn read_row(&self, row: usize, col0: usize, len: usize, dst: &mut [T], dst_stride: usize) {
        for j in 0..len {
            dst[j * dst_stride] = self.data[self.offset(row, col0 + j)];
        }
    }
    fn read_col(&self, col: usize, row0: usize, len: usize, dst: &mut [T], dst_stride: usize) {
        for i in 0..len {
            dst[i * dst_stride] = self.data[self.offset(row0 + i, col)];
        }
    }
    fn prefers_rows(&self) -> bool {
        true
    }
    fn packed_panels(&self, row0: usize, col0: usize, len: usize, kc: usize) -> Option<&[T]> {
        let whole_block = col0 % self.kc == 0 && len == self.kc.min(self.cols - col0);
        (kc == self.kc && row0 % T::MR == 0 && whole_block).then(|| {
            let start = self.offset(row0, col0);
            let block = Self::padded_rows(self.rows);
            &self.data[start..block * col0 + block * len]
        })
    }
}
