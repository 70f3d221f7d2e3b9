//! Launcher of `padding.cu`: padding and its gradient.

use cudarc::driver::{DeviceRepr, PushKernelArg};

use crate::cuda::launch::items;
use crate::cuda::{CudaDevice, CudaResult, DeviceBuffer};
use crate::padding::{Pad2d, PadMode};

/// Padding geometry (must match `Padding` in padding.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Padding {
    planes: i64,
    height: i64,
    width: i64,
    top: i64,
    bottom: i64,
    left: i64,
    right: i64,
}

// SAFETY: plain integers in C layout, matching the kernel's struct.
unsafe impl DeviceRepr for Padding {}

impl CudaDevice {
    /// Padding (and, with `backward`, its gradient into a zeroed `out`).
    #[allow(clippy::too_many_arguments)]
    pub fn pad(
        &self,
        mode: PadMode,
        pad: &Pad2d,
        planes: usize,
        h: usize,
        w: usize,
        input: &DeviceBuffer,
        out: &mut DeviceBuffer,
        backward: bool,
    ) -> CudaResult<()> {
        let p = Padding {
            planes: planes as i64,
            height: h as i64,
            width: w as i64,
            top: pad.top as i64,
            bottom: pad.bottom as i64,
            left: pad.left as i64,
            right: pad.right as i64,
        };
        let code: i32 = match mode {
            PadMode::Zero => 0,
            PadMode::Reflect => 1,
            PadMode::Replicate => 2,
        };
        let name = if backward { "pad_backward_f32" } else { "pad_f32" };
        let mut launch = self.stream().launch_builder(self.function(name));
        launch.arg(input).arg(out).arg(&p).arg(&code);
        let padded = planes * (h + pad.top + pad.bottom) * (w + pad.left + pad.right);
        // SAFETY: one thread per padded value; planes as given.
        unsafe { launch.launch(items(padded)) }?;
        Ok(())
    }
}
