//! Where GEMM operands come from: anything that can copy out a run of a row or
//! of a column. A strided matrix is the ordinary case (a transpose is a swap of
//! strides); convolution supplies "virtual" matrices whose entries are gathered
//! from an image on the fly, so im2col never exists in memory as a whole.

use crate::Float;

/// A read-only matrix that can copy runs of its rows and columns into a packing
/// buffer. Implementations must be cheap to share between threads.
pub trait MatrixSource<T: Float>: Sync {
    /// Number of rows.
    fn rows(&self) -> usize;
    /// Number of columns.
    fn cols(&self) -> usize;
    /// Writes `self[row][col0 + j]` to `dst[j * dst_stride]` for `j < len`.
    fn read_row(&self, row: usize, col0: usize, len: usize, dst: &mut [T], dst_stride: usize);
    /// Writes `self[row0 + i][col]` to `dst[i * dst_stride]` for `i < len`.
    fn read_col(&self, col: usize, row0: usize, len: usize, dst: &mut [T], dst_stride: usize);
    /// True when runs along a row are the cheap direction to read.
    fn prefers_rows(&self) -> bool;
    /// `self[row][col0..col0 + len]` as a slice, when it is stored
    /// contiguously: packing then reads it in place instead of staging a copy.
    /// The answer must not depend on `row` (the packer asks for the first row
    /// of a block and relies on it for the rest).
    fn row_slice(&self, _row: usize, _col0: usize, _len: usize) -> Option<&[T]> {
        None
    }
    /// `self[row0..row0 + len][col]` as a slice, when it is stored
    /// contiguously; as for [`row_slice`](Self::row_slice), alike for every column.
    fn col_slice(&self, _col: usize, _row0: usize, _len: usize) -> Option<&[T]> {
        None
    }
    /// The `MR`-row panels of rows `row0..` over columns `col0..col0 + len`,
    /// exactly as packing would write them (k-major, rows past the matrix
    /// zero), when the source already holds itself so: the product then
    /// reads them in place ([`super::PackedRows`]). The product asks with
    /// `row0` a multiple of `MR` and `col0..col0 + len` one of its depth
    /// blocks of `kc`; a source packed for other blocks answers `None`. The
    /// slice must run at least to the end of the matrix's last panel of
    /// rows (the product checks its length before reading).
    fn packed_panels(&self, _row0: usize, _col0: usize, _len: usize, _kc: usize) -> Option<&[T]> {
        None
    }
}

/// A borrowed matrix given as (slice, rows, cols, row stride, column stride).
///
/// Strides are in elements and may be zero (a broadcast row or column).
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T: Float> MatRef<'a, T> {
    /// Views `data` as a `rows × cols` matrix with the given strides.
    ///
    /// # Panics
    /// If the furthest element lies outside `data`.
    pub fn new(data: &'a [T], rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Self {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * row_stride + (cols - 1) * col_stride;
            assert!(
                last < data.len(),
                "MatRef: a {rows}x{cols} matrix with strides ({row_stride}, {col_stride}) needs {} elements, slice has {}",
                last + 1,
                data.len()
            );
        }
        MatRef { data, rows, cols, row_stride, col_stride }
    }

    /// A contiguous row-major matrix.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transpose, as a view (strides swapped).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Element `(i, j)`.
    pub fn at(&self, i: usize, j: usize) -> T {
        self.data[i * self.row_stride + j * self.col_stride]
    }
}

/// Copies `len` elements starting at `src[start]` with stride `src_stride` into
/// `dst` with stride `dst_stride`, taking the `memcpy` path when both are 1.
#[inline]
fn strided_copy<T: Float>(src: &[T], start: usize, src_stride: usize, len: usize, dst: &mut [T], dst_stride: usize) {
    if len == 0 {
        return;
    }
    if src_stride == 1 && dst_stride == 1 {
        dst[..len].copy_from_slice(&src[start..start + len]);
    } else if dst_stride == 1 {
        for (j, d) in dst[..len].iter_mut().enumerate() {
            *d = src[start + j * src_stride];
        }
    } else {
        for j in 0..len {
            dst[j * dst_stride] = src[start + j * src_stride];
        }
    }
}

impl<T: Float> MatrixSource<T> for MatRef<'_, T> {
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn read_row(&self, row: usize, col0: usize, len: usize, dst: &mut [T], dst_stride: usize) {
        let start = row * self.row_stride + col0 * self.col_stride;
        strided_copy(self.data, start, self.col_stride, len, dst, dst_stride);
    }
    fn read_col(&self, col: usize, row0: usize, len: usize, dst: &mut [T], dst_stride: usize) {
        let start = row0 * self.row_stride + col * self.col_stride;
        strided_copy(self.data, start, self.row_stride, len, dst, dst_stride);
    }
    fn prefers_rows(&self) -> bool {
        self.col_stride <= self.row_stride
    }
    fn row_slice(&self, row: usize, col0: usize, len: usize) -> Option<&[T]> {
        let start = row * self.row_stride + col0 * self.col_stride;
        (self.col_stride == 1 || len <= 1).then(|| &self.data[start..start + len])
    }
    fn col_slice(&self, col: usize, row0: usize, len: usize) -> Option<&[T]> {
        let start = row0 * self.row_stride + col * self.col_stride;
        (self.row_stride == 1 || len <= 1).then(|| &self.data[start..start + len])
    }
}

/// The transpose of another source, as a view.
pub struct Transposed<S>(pub S);

impl<T: Float, S: MatrixSource<T>> MatrixSource<T> for Transposed<S> {
    fn rows(&self) -> usize {
        self.0.cols()
    }
    fn cols(&self) -> usize {
        self.0.rows()
    }
    fn read_row(&self, row: usize, col0: usize, len: usize, dst: &mut [T], dst_stride: usize) {
        self.0.read_col(row, col0, len, dst, dst_stride)
    }
    fn read_col(&self, col: usize, row0: usize, len: usize, dst: &mut [T], dst_stride: usize) {
        self.0.read_row(col, row0, len, dst, dst_stride)
    }
    fn prefers_rows(&self) -> bool {
        !self.0.prefers_rows()
    }
    fn row_slice(&self, row: usize, col0: usize, len: usize) -> Option<&[T]> {
        self.0.col_slice(row, col0, len)
    }
    fn col_slice(&self, col: usize, row0: usize, len: usize) -> Option<&[T]> {
        self.0.row_slice(col, row0, len)
    }
}
