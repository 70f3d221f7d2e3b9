//! Launchers of `spatial.cu`: max and average pooling, upsampling and
//! padding, each with its backward.

use cudarc::driver::{DeviceRepr, PushKernelArg};

use super::launch::items;
use super::{CudaDevice, CudaResult, DeviceBuffer, IndexBuffer};
use crate::padding::{Pad2d, PadMode};
use crate::pooling::Pool2dGeometry;
use crate::upsample::UpsampleMode;

/// Pooling geometry (must match `Pool` in spatial.cu).
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

/// Padding geometry (must match `Padding` in spatial.cu).
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
unsafe impl DeviceRepr for Pool {}
// SAFETY: plain integers in C layout, matching the kernel's struct.
unsafe impl DeviceRepr for Padding {}

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
