//! Launchers: one Rust function per kernel family, taking device buffers
//! and the geometry the kernel needs, as the CPU kernels take slices.

use cudarc::driver::{DeviceRepr, LaunchConfig, PushKernelArg};

use super::{CudaDevice, CudaResult, DeviceBuffer, IndexBuffer, Layout};
use crate::conv::Conv2dGeometry;
use crate::elementwise::{BinaryOp, UnaryOp};
use crate::padding::{Pad2d, PadMode};
use crate::pooling::Pool2dGeometry;
use crate::reduce::ReduceOp;
use crate::upsample::UpsampleMode;

/// Threads per block of the grid-stride kernels.
const BLOCK: u32 = 256;

/// A grid-stride launch over `n` items (capped: each thread loops).
fn items(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, 65_535) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 }
}

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

// SAFETY: plain integers in C layout, matching the kernels' structs.
unsafe impl DeviceRepr for Matrix {}
// SAFETY: as above.
unsafe impl DeviceRepr for ConvGeometry {}
// SAFETY: as above.
unsafe impl DeviceRepr for Pool {}
// SAFETY: as above.
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

/// The kernel's code and parameters for a unary op.
fn unary_code(op: UnaryOp) -> (i32, f32, f32) {
    match op {
        UnaryOp::Neg => (1, 0.0, 0.0),
        UnaryOp::Exp => (2, 0.0, 0.0),
        UnaryOp::Log => (3, 0.0, 0.0),
        UnaryOp::Sqrt => (4, 0.0, 0.0),
        UnaryOp::Abs => (5, 0.0, 0.0),
        UnaryOp::Square => (6, 0.0, 0.0),
        UnaryOp::Recip => (7, 0.0, 0.0),
        UnaryOp::Relu => (8, 0.0, 0.0),
        UnaryOp::LeakyRelu(s) => (9, s as f32, 0.0),
        UnaryOp::Tanh => (10, 0.0, 0.0),
        UnaryOp::Sigmoid => (11, 0.0, 0.0),
        UnaryOp::Powf(p) => (12, p as f32, 0.0),
        UnaryOp::Clamp(lo, hi) => (13, lo as f32, hi as f32),
        UnaryOp::AddScalar(c) => (14, c as f32, 0.0),
        UnaryOp::MulScalar(c) => (15, c as f32, 0.0),
        UnaryOp::StepPositive => (16, 0.0, 0.0),
        UnaryOp::Sign => (17, 0.0, 0.0),
    }
}

fn binary_code(op: BinaryOp) -> i32 {
    match op {
        BinaryOp::Add => 0,
        BinaryOp::Sub => 1,
        BinaryOp::Mul => 2,
        BinaryOp::Div => 3,
        BinaryOp::Max => 4,
        BinaryOp::Min => 5,
        BinaryOp::Gt => 6,
        BinaryOp::Ge => 7,
        BinaryOp::Eq => 8,
    }
}

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
        let (code, p0, p1) = op.map_or((0, 0.0, 0.0), unary_code);
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
        let code = binary_code(op);
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
