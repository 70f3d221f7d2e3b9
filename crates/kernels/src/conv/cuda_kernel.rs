//! Convolution on the GPU: the algorithm (per image, im2col + GEMM, and the
//! two gradients) and the launchers of `conv.cu` it is built from (im2col,
//! its adjoint col2im, the bias added per output channel). The CPU
//! counterpart is `crate::conv`.

use cudarc::driver::{DeviceRepr, PushKernelArg};

use crate::conv::Conv2dGeometry;
use crate::cuda::launch::items;
use crate::cuda::{CudaDevice, CudaResult, DeviceBuffer, Matrix};

/// Convolution geometry of one image (must match `ConvGeometry` in conv.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    channels: i64,
    height: i64,
    width: i64,
    kernel_h: i64,
    kernel_w: i64,
    stride_h: i64,
    stride_w: i64,
    pad_h: i64,
    pad_w: i64,
    dil_h: i64,
    dil_w: i64,
    out_h: i64,
    out_w: i64,
}

// SAFETY: plain integers in C layout, matching the kernel's struct.
unsafe impl DeviceRepr for ConvGeometry {}

fn conv_geometry(g: &Conv2dGeometry) -> ConvGeometry {
    ConvGeometry {
        channels: g.in_channels as i64,
        height: g.in_height as i64,
        width: g.in_width as i64,
        kernel_h: g.kernel_height as i64,
        kernel_w: g.kernel_width as i64,
        stride_h: g.stride.0 as i64,
        stride_w: g.stride.1 as i64,
        pad_h: g.padding.0 as i64,
        pad_w: g.padding.1 as i64,
        dil_h: g.dilation.0 as i64,
        dil_w: g.dilation.1 as i64,
        out_h: g.out_height() as i64,
        out_w: g.out_width() as i64,
    }
}

impl CudaDevice {
    /// Forward convolution of a dense NCHW batch `x` with dense weights
    /// `[out, in, kh, kw]` (and a bias per output channel): per image,
    /// im2col, then `W · cols` into the image's slice of the output, then
    /// the bias. Returns the dense `[batch, out, oh, ow]` output.
    pub fn conv2d(
        &self,
        geo: &Conv2dGeometry,
        x: &DeviceBuffer,
        w: &DeviceBuffer,
        bias: Option<&DeviceBuffer>,
    ) -> CudaResult<DeviceBuffer> {
        let taps = geo.in_channels * geo.kernel_height * geo.kernel_width;
        let pixels = geo.out_height() * geo.out_width();
        let mut cols = self.uninit(taps * pixels)?;
        let mut out = self.uninit(geo.output_len())?;
        let image = geo.in_channels * geo.in_height * geo.in_width;
        for n in 0..geo.batch {
            self.im2col(geo, x, n * image, &mut cols)?;
            let ma = Matrix::new(geo.out_channels, taps, taps, 1, 0);
            let mb = Matrix::new(taps, pixels, pixels, 1, 0);
            let mc = Matrix::new(geo.out_channels, pixels, pixels, 1, n * geo.out_channels * pixels);
            self.gemm(1.0, w, ma, &cols, mb, 0.0, &mut out, mc)?;
        }
        if let Some(bias) = bias {
            self.add_bias(&mut out, bias, geo.out_channels, pixels)?;
        }
        Ok(out)
    }

    /// Gradient of the convolution with respect to its input, from the
    /// dense output gradient `g`: per image, `cols = Wᵀ · dY` (Wᵀ a view by
    /// swapped strides), then col2im scatters it back. Dense NCHW result.
    pub fn conv2d_backward_input(
        &self,
        geo: &Conv2dGeometry,
        g: &DeviceBuffer,
        w: &DeviceBuffer,
    ) -> CudaResult<DeviceBuffer> {
        let taps = geo.in_channels * geo.kernel_height * geo.kernel_width;
        let pixels = geo.out_height() * geo.out_width();
        let mut cols = self.uninit(taps * pixels)?;
        let mut out = self.uninit(geo.input_len())?;
        let image = geo.in_channels * geo.in_height * geo.in_width;
        for n in 0..geo.batch {
            let ma = Matrix::new(taps, geo.out_channels, 1, taps, 0);
            let mb = Matrix::new(geo.out_channels, pixels, pixels, 1, n * geo.out_channels * pixels);
            let mc = Matrix::new(taps, pixels, pixels, 1, 0);
            self.gemm(1.0, w, ma, g, mb, 0.0, &mut cols, mc)?;
            self.col2im(geo, &cols, &mut out, n * image)?;
        }
        Ok(out)
    }

    /// Gradient with respect to the weights: `dW = Σ_images dY · colsᵀ`
    /// (the first image overwrites, the others accumulate). Dense
    /// `[out, in, kh, kw]` result.
    pub fn conv2d_backward_weight(
        &self,
        geo: &Conv2dGeometry,
        x: &DeviceBuffer,
        g: &DeviceBuffer,
    ) -> CudaResult<DeviceBuffer> {
        let taps = geo.in_channels * geo.kernel_height * geo.kernel_width;
        let pixels = geo.out_height() * geo.out_width();
        let mut cols = self.uninit(taps * pixels)?;
        let mut out = self.zeros(geo.weight_len())?;
        let image = geo.in_channels * geo.in_height * geo.in_width;
        for n in 0..geo.batch {
            self.im2col(geo, x, n * image, &mut cols)?;
            let ma = Matrix::new(geo.out_channels, pixels, pixels, 1, n * geo.out_channels * pixels);
            let mb = Matrix::new(pixels, taps, 1, pixels, 0);
            let mc = Matrix::new(geo.out_channels, taps, taps, 1, 0);
            self.gemm(1.0, g, ma, &cols, mb, if n == 0 { 0.0 } else { 1.0 }, &mut out, mc)?;
        }
        Ok(out)
    }

    /// The column matrix of one image (`cols` holds `C·kh·kw × OH·OW`).
    pub fn im2col(
        &self,
        geo: &Conv2dGeometry,
        image: &DeviceBuffer,
        image_offset: usize,
        cols: &mut DeviceBuffer,
    ) -> CudaResult<()> {
        let g = conv_geometry(geo);
        let view = image.slice(image_offset..image_offset + geo.in_channels * geo.in_height * geo.in_width);
        let total = geo.in_channels * geo.kernel_height * geo.kernel_width * geo.out_height() * geo.out_width();
        let mut launch = self.stream().launch_builder(self.function("im2col_f32"));
        launch.arg(&view).arg(cols).arg(&g);
        // SAFETY: reads one image, writes `total` columns values.
        unsafe { launch.launch(items(total)) }?;
        Ok(())
    }

    /// The adjoint of [`CudaDevice::im2col`], overwriting one image.
    pub fn col2im(
        &self,
        geo: &Conv2dGeometry,
        cols: &DeviceBuffer,
        image: &mut DeviceBuffer,
        image_offset: usize,
    ) -> CudaResult<()> {
        let g = conv_geometry(geo);
        let len = geo.in_channels * geo.in_height * geo.in_width;
        let mut view = image.slice_mut(image_offset..image_offset + len);
        let mut launch = self.stream().launch_builder(self.function("col2im_f32"));
        launch.arg(cols).arg(&mut view).arg(&g);
        // SAFETY: reads the column matrix, writes one image.
        unsafe { launch.launch(items(len)) }?;
        Ok(())
    }

    /// Adds `bias[channel]` to every value of `out` (`[N, C, pixels]`).
    pub fn add_bias(
        &self,
        out: &mut DeviceBuffer,
        bias: &DeviceBuffer,
        channels: usize,
        pixels: usize,
    ) -> CudaResult<()> {
        let n = out.len();
        let (c, p, n64) = (channels as i64, pixels as i64, n as i64);
        let mut launch = self.stream().launch_builder(self.function("add_bias_f32"));
        launch.arg(out).arg(bias).arg(&c).arg(&p).arg(&n64);
        // SAFETY: reads bias[0..channels], updates out[0..n].
        unsafe { launch.launch(items(n)) }?;
        Ok(())
    }
}
