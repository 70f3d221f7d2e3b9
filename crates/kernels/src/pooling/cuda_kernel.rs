//! Launchers of `pooling.cu`: max and average pooling and their gradients.

use cudarc::driver::{DeviceRepr, PushKernelArg};

use crate::cuda::launch::items;
use crate::cuda::{CudaDevice, CudaResult, DeviceBuffer, IndexBuffer};
use crate::pooling::Pool2dGeometry;

/// Pooling geometry (must match `Pool` in pooling.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    planes: i64,
    height: i64,
    width: i64,
    out_h: i64,
    out_w: i64,
    kernel_h: i64,
    kernel_w: i64,
    stride_h: i64,
    stride_w: i64,
    pad_h: i64,
    pad_w: i64,
}

// SAFETY: plain integers in C layout, matching the kernel's struct.
unsafe impl DeviceRepr for Pool {}

impl From<&Pool2dGeometry> for Pool {
    fn from(g: &Pool2dGeometry) -> Pool {
        Pool {
            planes: g.planes as i64,
            height: g.in_height as i64,
            width: g.in_width as i64,
            out_h: g.out_height() as i64,
            out_w: g.out_width() as i64,
            kernel_h: g.kernel.0 as i64,
            kernel_w: g.kernel.1 as i64,
            stride_h: g.stride.0 as i64,
            stride_w: g.stride.1 as i64,
            pad_h: g.padding.0 as i64,
            pad_w: g.padding.1 as i64,
        }
    }
}

impl CudaDevice {
    /// Max pooling with the chosen positions (per plane) in `indices`.
    pub fn max_pool(
        &self,
        geo: &Pool2dGeometry,
        input: &DeviceBuffer,
        out: &mut DeviceBuffer,
        indices: &mut IndexBuffer,
    ) -> CudaResult<()> {
        let p = Pool::from(geo);
        let n = geo.planes * geo.out_height() * geo.out_width();
        let mut launch = self.stream().launch_builder(self.function("max_pool_f32"));
        launch.arg(input).arg(out).arg(indices).arg(&p);
        // SAFETY: one thread per output; reads inside each input plane.
        unsafe { launch.launch(items(n)) }?;
        Ok(())
    }

    /// Scatters the output gradient to the recorded positions (`grad_in`
    /// must be zeroed).
    pub fn max_pool_backward(
        &self,
        geo: &Pool2dGeometry,
        grad_out: &DeviceBuffer,
        indices: &IndexBuffer,
        grad_in: &mut DeviceBuffer,
    ) -> CudaResult<()> {
        let p = Pool::from(geo);
        let n = geo.planes * geo.out_height() * geo.out_width();
        let mut launch = self.stream().launch_builder(self.function("max_pool_backward_f32"));
        launch.arg(grad_out).arg(indices).arg(grad_in).arg(&p);
        // SAFETY: indices were written by max_pool for this geometry.
        unsafe { launch.launch(items(n)) }?;
        Ok(())
    }

    /// Average pooling (and, with `backward`, its gradient into a zeroed
    /// `out`).
    pub fn avg_pool(
        &self,
        geo: &Pool2dGeometry,
        include_pad: bool,
        input: &DeviceBuffer,
        out: &mut DeviceBuffer,
        backward: bool,
    ) -> CudaResult<()> {
        let p = Pool::from(geo);
        let include = include_pad as i32;
        let n = geo.planes * geo.out_height() * geo.out_width();
        let name = if backward { "avg_pool_backward_f32" } else { "avg_pool_f32" };
        let mut launch = self.stream().launch_builder(self.function(name));
        launch.arg(input).arg(out).arg(&p).arg(&include);
        // SAFETY: one thread per pooled value; planes as the geometry says.
        unsafe { launch.launch(items(n)) }?;
        Ok(())
    }
}
