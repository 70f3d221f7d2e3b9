//! The kernels a device provides. Every tensor op that computes checks its
//! operands, then calls one [`Backend`] method on the device its operands
//! live on ([`on_device`]); the CPU ([`cpu::Cpu`]) and CUDA ([`Cuda`])
//! each implement every method, so an op without a path for one of them
//! does not compile.
//!
//! Methods take operands whose shapes and device the op has checked, and the
//! geometry the kernels need; they return new tensors. A dtype the CPU
//! kernels do not compute (f16, bf16) is refused by the CPU methods with an
//! error naming the op (`binary` and `reduce` check it before, to name the
//! op as the user wrote it).

mod cpu;
pub(crate) mod kept_kernels;

use kernels::conv::{Activation, Conv2dGeometry};
use kernels::elementwise::{BinaryOp, UnaryOp};
use kernels::padding::{Pad2d, PadMode};
use kernels::pooling::Pool2dGeometry;
use kernels::reduce::ReduceOp;
use kernels::upsample::UpsampleMode;

use crate::error::Result;
use crate::ops::{MaxPoolIndices, MaxPoolPositions};
use crate::Tensor;

/// `(planes, height, width)` of an NCHW image batch with `planes = N·C`.
pub(crate) type Planes = (usize, usize, usize);

/// One device's kernels, one method per op that computes.
pub(crate) trait Backend {
    /// A tensor of `shape` filled with `value`, with `like`'s dtype.
    fn full_like(&self, like: &Tensor, shape: &[usize], value: f64) -> Result<Tensor>;
    /// `op` of every element of `x`.
    fn unary(&self, x: &Tensor, op: UnaryOp) -> Result<Tensor>;
    /// `x`'s values in a new contiguous tensor.
    fn contiguous_copy(&self, x: &Tensor) -> Result<Tensor>;
    /// `a ∘ b` for operands already broadcast to `shape`.
    fn binary(&self, op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor>;
    /// `op` over the axes flagged in `reduced`, giving `out_shape`.
    fn reduce(&self, x: &Tensor, op: ReduceOp, reduced: &[bool], out_shape: &[usize]) -> Result<Tensor>;
    /// Batched `a · b`: operands broadcast to `batch + [m, k]` and
    /// `batch + [k, n]`.
    fn matmul(
        &self,
        a: &Tensor,
        b: &Tensor,
        batch: &[usize],
        mkn: (usize, usize, usize),
        out_shape: &[usize],
    ) -> Result<Tensor>;
    /// `parts` joined along `dim` into `shape`.
    fn cat(&self, parts: &[&Tensor], dim: usize, shape: &[usize]) -> Result<Tensor>;
    /// 2-D convolution (cross-correlation) of NCHW `x` with `w`, plus `bias`,
    /// then `activation`.
    fn conv2d(
        &self,
        x: &Tensor,
        w: &Tensor,
        bias: Option<&Tensor>,
        geo: &Conv2dGeometry,
        activation: Activation,
    ) -> Result<Tensor>;
    /// The convolution's input gradient from the output gradient `g`.
    fn conv2d_backward_input(&self, g: &Tensor, w: &Tensor, geo: &Conv2dGeometry) -> Result<Tensor>;
    /// The convolution's weight gradient from the input `x` and output gradient `g`.
    fn conv2d_backward_weight(&self, x: &Tensor, g: &Tensor, geo: &Conv2dGeometry) -> Result<Tensor>;
    /// Max pooling into `shape`, with the position each output took.
    fn max_pool(&self, x: &Tensor, geo: &Pool2dGeometry, shape: &[usize]) -> Result<(Tensor, MaxPoolPositions)>;
    /// Max pooling's gradient: each output gradient to its recorded position.
    fn max_pool_backward(&self, g: &Tensor, indices: &MaxPoolIndices) -> Result<Tensor>;
    /// Average pooling into `shape`.
    fn avg_pool(&self, x: &Tensor, geo: &Pool2dGeometry, count_include_pad: bool, shape: &[usize]) -> Result<Tensor>;
    /// Average pooling's gradient, into `input_shape`.
    fn avg_pool_backward(
        &self,
        g: &Tensor,
        geo: &Pool2dGeometry,
        count_include_pad: bool,
        input_shape: &[usize],
    ) -> Result<Tensor>;
    /// Upsampling of `planes` by `factor` into `out_shape`.
    fn upsample(
        &self,
        x: &Tensor,
        mode: UpsampleMode,
        factor: usize,
        planes: Planes,
        out_shape: &[usize],
    ) -> Result<Tensor>;
    /// Upsampling's gradient, from `g` back to `planes` (the input's size).
    fn upsample_backward(
        &self,
        g: &Tensor,
        mode: UpsampleMode,
        factor: usize,
        planes: Planes,
        out_shape: &[usize],
    ) -> Result<Tensor>;
    /// Padding of `planes` (the input's size) into `out_shape`.
    fn pad(&self, x: &Tensor, pad: &Pad2d, mode: PadMode, planes: Planes, out_shape: &[usize]) -> Result<Tensor>;
    /// Padding's gradient, from `g` back to `planes` (the input's size).
    fn pad_backward(
        &self,
        g: &Tensor,
        pad: &Pad2d,
        mode: PadMode,
        planes: Planes,
        out_shape: &[usize],
    ) -> Result<Tensor>;
}

/// Runs `f` with the backend of the device `tensors` live on; an error
/// naming `op` when they are on different devices.
pub(crate) fn on_device<R>(
    op: &'static str,
    tensors: &[&Tensor],
    f: impl FnOnce(&dyn Backend) -> Result<R>,
) -> Result<R> {
    match crate::cuda::common_device(op, tensors)? {
        Some(_) => f(&Cuda),
        None => f(&cpu::Cpu),
    }
}

/// The CUDA kernels (on the device the operands are on): `crate::cuda` turns
/// tensors into device buffers and back; the algorithms and launchers live
/// in each family's `kernels/src/<family>/cuda_kernel.rs`.
pub(crate) struct Cuda;

impl Backend for Cuda {
    fn full_like(&self, like: &Tensor, shape: &[usize], value: f64) -> Result<Tensor> {
        let device = crate::cuda::common_device("full", &[like])?.expect("dispatched to CUDA for a device tensor");
        crate::cuda::full(&device, shape, value as f32)
    }
    fn unary(&self, x: &Tensor, op: UnaryOp) -> Result<Tensor> {
        crate::cuda::unary(x, Some(op))
    }
    fn contiguous_copy(&self, x: &Tensor) -> Result<Tensor> {
        crate::cuda::unary(x, None)
    }
    fn binary(&self, op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        crate::cuda::binary(op, a, b, shape)
    }
    fn reduce(&self, x: &Tensor, op: ReduceOp, reduced: &[bool], out_shape: &[usize]) -> Result<Tensor> {
        crate::cuda::reduce(x, op, reduced, out_shape)
    }
    fn matmul(
        &self,
        a: &Tensor,
        b: &Tensor,
        batch: &[usize],
        mkn: (usize, usize, usize),
        out_shape: &[usize],
    ) -> Result<Tensor> {
        crate::cuda::matmul(a, b, batch, mkn, out_shape)
    }
    fn cat(&self, parts: &[&Tensor], dim: usize, shape: &[usize]) -> Result<Tensor> {
        crate::cuda::cat(parts, dim, shape)
    }
    fn conv2d(
        &self,
        x: &Tensor,
        w: &Tensor,
        bias: Option<&Tensor>,
        geo: &Conv2dGeometry,
        activation: Activation,
    ) -> Result<Tensor> {
        let out = crate::cuda::conv2d(x, w, bias, geo)?;
        match activation {
            Activation::Identity => Ok(out),
            Activation::Relu => crate::cuda::unary(&out, Some(UnaryOp::Relu)),
        }
    }
    fn conv2d_backward_input(&self, g: &Tensor, w: &Tensor, geo: &Conv2dGeometry) -> Result<Tensor> {
        crate::cuda::conv2d_backward_input(g, w, geo)
    }
    fn conv2d_backward_weight(&self, x: &Tensor, g: &Tensor, geo: &Conv2dGeometry) -> Result<Tensor> {
        crate::cuda::conv2d_backward_weight(x, g, geo)
    }
    fn max_pool(&self, x: &Tensor, geo: &Pool2dGeometry, shape: &[usize]) -> Result<(Tensor, MaxPoolPositions)> {
        let (pooled, positions) = crate::cuda::max_pool(x, geo, shape)?;
        Ok((pooled, MaxPoolPositions::Device(positions)))
    }
    fn max_pool_backward(&self, g: &Tensor, indices: &MaxPoolIndices) -> Result<Tensor> {
        match &indices.positions {
            MaxPoolPositions::Device(d) => {
                crate::cuda::max_pool_backward(g, &indices.geometry, d, &indices.input_shape)
            }
            MaxPoolPositions::Host(_) => Err(crate::error::invalid(
                "max_pool2d_backward",
                g.shape(),
                "gradient and recorded positions are on different devices",
            )),
        }
    }
    fn avg_pool(&self, x: &Tensor, geo: &Pool2dGeometry, count_include_pad: bool, shape: &[usize]) -> Result<Tensor> {
        crate::cuda::avg_pool(x, geo, count_include_pad, shape, false)
    }
    fn avg_pool_backward(
        &self,
        g: &Tensor,
        geo: &Pool2dGeometry,
        count_include_pad: bool,
        input_shape: &[usize],
    ) -> Result<Tensor> {
        crate::cuda::avg_pool(g, geo, count_include_pad, input_shape, true)
    }
    fn upsample(
        &self,
        x: &Tensor,
        mode: UpsampleMode,
        factor: usize,
        planes: Planes,
        out_shape: &[usize],
    ) -> Result<Tensor> {
        crate::cuda::upsample(x, mode, factor, planes, out_shape, false)
    }
    fn upsample_backward(
        &self,
        g: &Tensor,
        mode: UpsampleMode,
        factor: usize,
        planes: Planes,
        out_shape: &[usize],
    ) -> Result<Tensor> {
        crate::cuda::upsample(g, mode, factor, planes, out_shape, true)
    }
    fn pad(&self, x: &Tensor, pad: &Pad2d, mode: PadMode, planes: Planes, out_shape: &[usize]) -> Result<Tensor> {
        crate::cuda::pad(x, pad, mode, planes, out_shape, false)
    }
    fn pad_backward(
        &self,
        g: &Tensor,
        pad: &Pad2d,
        mode: PadMode,
        planes: Planes,
        out_shape: &[usize],
    ) -> Result<Tensor> {
        crate::cuda::pad(g, pad, mode, planes, out_shape, true)
    }
}
