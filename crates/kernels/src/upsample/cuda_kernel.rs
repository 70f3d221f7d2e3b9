//! Launcher of `upsample.cu`: upsampling and its gradient.

use cudarc::driver::PushKernelArg;

use crate::cuda::launch::items;
use crate::cuda::{CudaDevice, CudaResult, DeviceBuffer};
use crate::upsample::UpsampleMode;

impl CudaDevice {
    /// Upsampling (and, with `backward`, its gradient into a zeroed `out`).
    #[allow(clippy::too_many_arguments)]
    pub fn upsample(
        &self,
        mode: UpsampleMode,
        planes: usize,
        h: usize,
        w: usize,
        factor: usize,
        input: &DeviceBuffer,
        out: &mut DeviceBuffer,
        backward: bool,
    ) -> CudaResult<()> {
        let (planes64, h64, w64, f64_) = (planes as i64, h as i64, w as i64, factor as i64);
        let bilinear = (mode == UpsampleMode::Bilinear) as i32;
        let name = if backward { "upsample_backward_f32" } else { "upsample_f32" };
        let mut launch = self.stream().launch_builder(self.function(name));
        launch.arg(input).arg(out).arg(&planes64).arg(&h64).arg(&w64).arg(&f64_).arg(&bilinear);
        // SAFETY: one thread per upsampled value; planes as given.
        unsafe { launch.launch(items(planes * h * w * factor * factor)) }?;
        Ok(())
    }
}
