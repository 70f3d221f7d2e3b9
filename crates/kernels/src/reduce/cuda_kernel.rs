//! Launchers of `reduce.cu`: sums, maxima and minima over rows or blocks.

use cudarc::driver::{LaunchConfig, PushKernelArg};

use crate::cuda::launch::items;
use crate::cuda::{CudaDevice, CudaResult, DeviceBuffer, Layout};
use crate::reduce::ReduceOp;

impl CudaDevice {
    /// `out[o] = fold(op, input[kept o + reduced r] for r)`: `kept` walks the
    /// `outputs` results, `reduced` the `count` values folded into each.
    pub fn reduce(
        &self,
        op: ReduceOp,
        input: &DeviceBuffer,
        kept: Layout,
        reduced: Layout,
        out: &mut DeviceBuffer,
        (outputs, count): (usize, usize),
    ) -> CudaResult<()> {
        let code: i32 = match op {
            ReduceOp::Sum => 0,
            ReduceOp::Max => 1,
            ReduceOp::Min => 2,
        };
        let (outputs64, count64) = (outputs as i64, count as i64);
        if count >= 4096 && outputs <= 65_535 {
            let mut launch = self.stream().launch_builder(self.function("reduce_blocks_f32"));
            launch.arg(out).arg(input).arg(&kept).arg(&reduced).arg(&code).arg(&count64);
            let config = LaunchConfig { grid_dim: (outputs as u32, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
            // SAFETY: one 256-thread block per output (the kernel's shared
            // array has 256 slots); views inside `input`.
            unsafe { launch.launch(config) }?;
        } else {
            let mut launch = self.stream().launch_builder(self.function("reduce_rows_f32"));
            launch.arg(out).arg(input).arg(&kept).arg(&reduced).arg(&code).arg(&outputs64).arg(&count64);
            // SAFETY: views inside `input`; writes out[0..outputs].
            unsafe { launch.launch(items(outputs)) }?;
        }
        Ok(())
    }
}
