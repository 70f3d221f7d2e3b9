//! Launchers of `elementwise.cu`: unary and binary ops over strided views
//! (their switch cases come from `crate::elementwise`'s op lists), copies
//! between views, fills.

use cudarc::driver::PushKernelArg;

use crate::cuda::launch::items;
use crate::cuda::{CudaDevice, CudaResult, DeviceBuffer, Layout};
use crate::elementwise::{BinaryOp, UnaryOp};

impl CudaDevice {
    /// `out[i] = op(a[view i])` for the `n` elements of the view (`None`:
    /// a plain copy).
    pub fn unary(
        &self,
        op: Option<UnaryOp>,
        a: &DeviceBuffer,
        view: Layout,
        out: &mut DeviceBuffer,
        n: usize,
    ) -> CudaResult<()> {
        let (code, p0, p1) = op.map_or((0, 0.0, 0.0), UnaryOp::cuda_code);
        let n64 = n as i64;
        let mut launch = self.stream().launch_builder(self.function("unary_f32"));
        launch.arg(out).arg(a).arg(&view).arg(&code).arg(&p0).arg(&p1).arg(&n64);
        // SAFETY: the kernel's parameters are (float*, const float*, Layout,
        // int, float, float, long long) as pushed; it reads `a` through the
        // view (inside `a`, checked by the caller) and writes out[0..n].
        unsafe { launch.launch(items(n)) }?;
        Ok(())
    }

    /// `out[i] = a[view_a i] ∘ b[view_b i]`.
    #[allow(clippy::too_many_arguments)]
    pub fn binary(
        &self,
        op: BinaryOp,
        a: &DeviceBuffer,
        view_a: Layout,
        b: &DeviceBuffer,
        view_b: Layout,
        out: &mut DeviceBuffer,
        n: usize,
    ) -> CudaResult<()> {
        let (code, _, _) = op.cuda_code();
        let n64 = n as i64;
        let mut launch = self.stream().launch_builder(self.function("binary_f32"));
        launch.arg(out).arg(a).arg(&view_a).arg(b).arg(&view_b).arg(&code).arg(&n64);
        // SAFETY: parameters as the kernel declares them; views inside their
        // buffers (checked by the caller); writes out[0..n].
        unsafe { launch.launch(items(n)) }?;
        Ok(())
    }

    /// `out[view_out i] = a[view_a i]` for `n` elements.
    pub fn copy_into(
        &self,
        a: &DeviceBuffer,
        view_a: Layout,
        out: &mut DeviceBuffer,
        view_out: Layout,
        n: usize,
    ) -> CudaResult<()> {
        let n64 = n as i64;
        let mut launch = self.stream().launch_builder(self.function("scatter_copy_f32"));
        launch.arg(out).arg(&view_out).arg(a).arg(&view_a).arg(&n64);
        // SAFETY: both views lie inside their buffers (built by the caller
        // from checked layouts) and the output view has no repeated slots.
        unsafe { launch.launch(items(n)) }?;
        Ok(())
    }

    /// Fills `out[0..n]` with `value`.
    pub fn fill(&self, out: &mut DeviceBuffer, value: f32, n: usize) -> CudaResult<()> {
        let n64 = n as i64;
        let mut launch = self.stream().launch_builder(self.function("fill_f32"));
        launch.arg(out).arg(&value).arg(&n64);
        // SAFETY: writes out[0..n], which the caller allocated.
        unsafe { launch.launch(items(n)) }?;
        Ok(())
    }
}
