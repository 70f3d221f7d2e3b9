//! Launcher of `gemm.cu` (C = αAB + βC over strided matrices) and the
//! batched product built on it.

use cudarc::driver::{DeviceRepr, LaunchConfig, PushKernelArg};

use crate::cuda::{CudaDevice, CudaResult, DeviceBuffer};

/// A matrix operand as the GEMM kernel reads it (must match `Matrix` in
/// gemm.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Matrix {
    /// Rows.
    pub rows: i64,
    /// Columns.
    pub cols: i64,
    /// Elements between rows.
    pub row_stride: i64,
    /// Elements between columns.
    pub col_stride: i64,
    /// First element.
    pub offset: i64,
}

// SAFETY: plain integers in C layout, matching the kernel's struct.
unsafe impl DeviceRepr for Matrix {}

impl Matrix {
    /// A `rows × cols` operand at element `offset` of its buffer, element
    /// `(i, j)` at `offset + i·row_stride + j·col_stride` (a transpose is a
    /// swap of the strides).
    pub fn new(rows: usize, cols: usize, row_stride: usize, col_stride: usize, offset: usize) -> Matrix {
        Matrix {
            rows: rows as i64,
            cols: cols as i64,
            row_stride: row_stride as i64,
            col_stride: col_stride as i64,
            offset: offset as i64,
        }
    }
}

/// One operand of a batched product: its buffer, the element offset of its
/// first matrix, and its strides (batch dimensions, then rows and columns;
/// a broadcast batch dimension has stride 0).
#[derive(Clone, Copy, Debug)]
pub struct BatchedOperand<'a> {
    /// The device buffer.
    pub buffer: &'a DeviceBuffer,
    /// Element offset of the first matrix.
    pub offset: usize,
    /// Strides of the batch dimensions, then of rows and columns.
    pub strides: &'a [usize],
}

impl CudaDevice {
    /// Batched `C[i] = A[i] · B[i]` over the `batch` dimensions (row-major
    /// order; operands `[.., m, k]` and `[.., k, n]`), into a new contiguous
    /// `[.., m, n]` buffer: one GEMM launch per matrix of the batch.
    pub fn batched_matmul(
        &self,
        a: BatchedOperand<'_>,
        b: BatchedOperand<'_>,
        batch: &[usize],
        (m, k, n): (usize, usize, usize),
    ) -> CudaResult<DeviceBuffer> {
        let batches: usize = batch.iter().product();
        let mut out = self.uninit(batches * m * n)?;
        let nb = batch.len();
        for index in 0..batches {
            let (mut rest, mut oa, mut ob) = (index, a.offset, b.offset);
            for d in (0..nb).rev() {
                let i = rest % batch[d];
                rest /= batch[d];
                oa += i * a.strides[d];
                ob += i * b.strides[d];
            }
            let ma = Matrix::new(m, k, a.strides[nb], a.strides[nb + 1], oa);
            let mb = Matrix::new(k, n, b.strides[nb], b.strides[nb + 1], ob);
            let mc = Matrix::new(m, n, n, 1, index * m * n);
            self.gemm(1.0, a.buffer, ma, b.buffer, mb, 0.0, &mut out, mc)?;
        }
        Ok(out)
    }

    /// `C = alpha·A·B + beta·C` with strided operands.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm(
        &self,
        alpha: f32,
        a: &DeviceBuffer,
        ma: Matrix,
        b: &DeviceBuffer,
        mb: Matrix,
        beta: f32,
        c: &mut DeviceBuffer,
        mc: Matrix,
    ) -> CudaResult<()> {
        if ma.rows == 0 || mb.cols == 0 {
            return Ok(());
        }
        let mut launch = self.stream().launch_builder(self.function("sgemm_f32"));
        launch.arg(a).arg(&ma).arg(b).arg(&mb).arg(c).arg(&mc).arg(&alpha).arg(&beta);
        let grid = ((mb.cols as u32).div_ceil(64), (ma.rows as u32).div_ceil(64), 1);
        let config = LaunchConfig { grid_dim: grid, block_dim: (16, 16, 1), shared_mem_bytes: 0 };
        // SAFETY: 16×16 threads per 64×64 tile as the kernel assumes; every
        // operand's extent lies inside its buffer (checked by the caller).
        unsafe { launch.launch(config) }?;
        Ok(())
    }
}
