//! Launcher of `gemm.cu`: C = αAB + βC over strided matrices.

use cudarc::driver::{DeviceRepr, LaunchConfig, PushKernelArg};

use super::{CudaDevice, CudaResult, DeviceBuffer};

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

impl CudaDevice {
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
