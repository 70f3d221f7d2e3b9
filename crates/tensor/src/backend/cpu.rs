//! The CPU's kernels: each method runs the `kernels` crate's routine for the
//! tensor's compute dtype (f32 or f64) on contiguous or strided host data.

use std::sync::Arc;

use kernels::buffer_pool::PooledVec;
use kernels::conv::{self, Activation, Conv2dGeometry, ConvPass};
use kernels::elementwise::{binary, copy_strided, unary, BinaryOp, UnaryOp};
use kernels::gemm::{gemm, MatMut, MatRef};
use kernels::padding::{pad2d_backward, pad2d_forward, Pad2d, PadMode};
use kernels::pooling::{self, Pool2dGeometry};
use kernels::reduce::{reduce, ReduceOp};
use kernels::upsample::{upsample2d_backward, upsample2d_forward, UpsampleMode};

use super::kept_kernels::kept_kernels;
use super::{Backend, Planes};
use crate::error::{invalid, Result};
use crate::ops::{MaxPoolIndices, MaxPoolPositions};
use crate::storage::{FloatElement, Storage};
use crate::tensor::{with_float, Tensor};
use crate::DType;

/// The host's kernels.
pub(crate) struct Cpu;

impl Backend for Cpu {
    fn full_like(&self, like: &Tensor, shape: &[usize], value: f64) -> Result<Tensor> {
        Ok(Tensor::full(shape, value, like.dtype()))
    }

    fn unary(&self, x: &Tensor, op: UnaryOp) -> Result<Tensor> {
        let shape = x.shape().to_vec();
        with_float!(x.dtype(), "unary", |T| Ok(Tensor::build::<T>(&shape, |out| unary(
            op,
            &shape,
            x.strided::<T>(),
            out
        ))))
    }

    fn contiguous_copy(&self, x: &Tensor) -> Result<Tensor> {
        let shape = x.shape().to_vec();
        Ok(match x.dtype() {
            DType::F32 => Tensor::build::<f32>(&shape, |out| copy_strided(&shape, x.strided::<f32>(), out)),
            DType::F64 => Tensor::build::<f64>(&shape, |out| copy_strided(&shape, x.strided::<f64>(), out)),
            // Storage-only dtypes: gathered element by element.
            DType::F16 | DType::BF16 => {
                let mut offsets = Vec::with_capacity(x.numel());
                x.for_each_offset(|o| offsets.push(o));
                let storage = match &*x.storage {
                    Storage::F16(v) => Storage::F16(offsets.iter().map(|&o| v[o]).collect()),
                    Storage::BF16(v) => Storage::BF16(offsets.iter().map(|&o| v[o]).collect()),
                    _ => unreachable!("host storage of the matched dtype"),
                };
                Tensor::from_storage(storage, &shape)
            }
        })
    }

    fn binary(&self, op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        with_float!(a.dtype(), "binary", |T| Ok(Tensor::build::<T>(shape, |out| binary(
            op,
            shape,
            a.strided::<T>(),
            b.strided::<T>(),
            out
        ))))
    }

    fn reduce(&self, x: &Tensor, op: ReduceOp, reduced: &[bool], out_shape: &[usize]) -> Result<Tensor> {
        with_float!(x.dtype(), "reduce", |T| Ok(Tensor::build::<T>(out_shape, |out| reduce(
            op,
            x.shape(),
            x.strided::<T>(),
            reduced,
            out
        ))))
    }

    fn matmul(
        &self,
        a: &Tensor,
        b: &Tensor,
        batch: &[usize],
        mkn: (usize, usize, usize),
        out_shape: &[usize],
    ) -> Result<Tensor> {
        with_float!(a.dtype(), "matmul", |T| Ok(matmul_impl::<T>(a, b, batch, mkn, out_shape)))
    }

    fn cat(&self, parts: &[&Tensor], dim: usize, shape: &[usize]) -> Result<Tensor> {
        with_float!(parts[0].dtype(), "cat", |T| Ok(cat_impl::<T>(parts, dim, shape)))
    }

    fn conv2d(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: Option<&Tensor>,
        geo: &Conv2dGeometry,
        activation: Activation,
    ) -> Result<Tensor> {
        let (x, w, b) = (x.contiguous(), weight.contiguous(), bias.map(Tensor::contiguous));
        let shape = [geo.batch, geo.out_channels, geo.out_height(), geo.out_width()];
        with_float!(x.dtype(), "conv2d", |T| {
            let kept = kept_kernels::<T>(weight, w.contiguous_data::<T>(), geo, ConvPass::Forward);
            Ok(Tensor::build::<T>(&shape, |out| {
                conv::conv2d_forward_with(
                    geo,
                    x.contiguous_data::<T>(),
                    w.contiguous_data::<T>(),
                    kept.as_deref(),
                    b.as_ref().map(|b| b.contiguous_data::<T>()),
                    activation,
                    out,
                )
            }))
        })
    }

    fn conv2d_backward_input(&self, g: &Tensor, weight: &Tensor, geo: &Conv2dGeometry) -> Result<Tensor> {
        let (g, w) = (g.contiguous(), weight.contiguous());
        let shape = [geo.batch, geo.in_channels, geo.in_height, geo.in_width];
        with_float!(g.dtype(), "conv2d_backward_input", |T| {
            let kept = kept_kernels::<T>(weight, w.contiguous_data::<T>(), geo, ConvPass::InputGradient);
            Ok(Tensor::build::<T>(&shape, |out| {
                conv::conv2d_backward_input_with(
                    geo,
                    g.contiguous_data::<T>(),
                    w.contiguous_data::<T>(),
                    kept.as_deref(),
                    out,
                )
            }))
        })
    }

    fn conv2d_backward_weight(&self, x: &Tensor, g: &Tensor, geo: &Conv2dGeometry) -> Result<Tensor> {
        let (x, g) = (x.contiguous(), g.contiguous());
        let shape = [geo.out_channels, geo.in_channels, geo.kernel_height, geo.kernel_width];
        with_float!(x.dtype(), "conv2d_backward_weight", |T| Ok(Tensor::build::<T>(&shape, |out| {
            conv::conv2d_backward_weight(geo, x.contiguous_data::<T>(), g.contiguous_data::<T>(), out)
        })))
    }

    fn max_pool(&self, x: &Tensor, geo: &Pool2dGeometry, shape: &[usize]) -> Result<(Tensor, MaxPoolPositions)> {
        let x = x.contiguous();
        let mut indices = PooledVec::<u32>::uninit_contents(shape.iter().product());
        let pooled = with_float!(x.dtype(), "max_pool2d", |T| Ok(Tensor::build::<T>(shape, |out| {
            pooling::max_pool2d_forward(geo, x.contiguous_data::<T>(), out, &mut indices)
        })))?;
        Ok((pooled, MaxPoolPositions::Host(Arc::new(indices))))
    }

    fn max_pool_backward(&self, g: &Tensor, indices: &MaxPoolIndices) -> Result<Tensor> {
        let MaxPoolPositions::Host(positions) = &indices.positions else {
            return Err(invalid(
                "max_pool2d_backward",
                g.shape(),
                "gradient and recorded positions are on different devices",
            ));
        };
        let g = g.contiguous();
        with_float!(g.dtype(), "max_pool2d_backward", |T| Ok(Tensor::build::<T>(&indices.input_shape, |out| {
            pooling::max_pool2d_backward(&indices.geometry, g.contiguous_data::<T>(), positions, out)
        })))
    }

    fn avg_pool(&self, x: &Tensor, geo: &Pool2dGeometry, count_include_pad: bool, shape: &[usize]) -> Result<Tensor> {
        let x = x.contiguous();
        with_float!(x.dtype(), "avg_pool2d", |T| Ok(Tensor::build::<T>(shape, |out| {
            pooling::avg_pool2d_forward(geo, count_include_pad, x.contiguous_data::<T>(), out)
        })))
    }

    fn avg_pool_backward(
        &self,
        g: &Tensor,
        geo: &Pool2dGeometry,
        count_include_pad: bool,
        input_shape: &[usize],
    ) -> Result<Tensor> {
        let g = g.contiguous();
        with_float!(g.dtype(), "avg_pool2d_backward", |T| Ok(Tensor::build::<T>(input_shape, |out| {
            pooling::avg_pool2d_backward(geo, count_include_pad, g.contiguous_data::<T>(), out)
        })))
    }

    fn upsample(
        &self,
        x: &Tensor,
        mode: UpsampleMode,
        factor: usize,
        (planes, h, w): Planes,
        out_shape: &[usize],
    ) -> Result<Tensor> {
        let x = x.contiguous();
        with_float!(x.dtype(), "upsample2d", |T| Ok(Tensor::build::<T>(out_shape, |out| {
            upsample2d_forward(mode, planes, h, w, factor, x.contiguous_data::<T>(), out)
        })))
    }

    fn upsample_backward(
        &self,
        g: &Tensor,
        mode: UpsampleMode,
        factor: usize,
        (planes, h, w): Planes,
        out_shape: &[usize],
    ) -> Result<Tensor> {
        let g = g.contiguous();
        with_float!(g.dtype(), "upsample2d_backward", |T| Ok(Tensor::build::<T>(out_shape, |out| {
            upsample2d_backward(mode, planes, h, w, factor, g.contiguous_data::<T>(), out)
        })))
    }

    fn pad(
        &self,
        x: &Tensor,
        pad: &Pad2d,
        mode: PadMode,
        (planes, h, w): Planes,
        out_shape: &[usize],
    ) -> Result<Tensor> {
        let x = x.contiguous();
        with_float!(x.dtype(), "pad2d", |T| Ok(Tensor::build::<T>(out_shape, |out| {
            pad2d_forward(mode, pad, planes, h, w, x.contiguous_data::<T>(), out)
        })))
    }

    fn pad_backward(
        &self,
        g: &Tensor,
        pad: &Pad2d,
        mode: PadMode,
        (planes, h, w): Planes,
        out_shape: &[usize],
    ) -> Result<Tensor> {
        let g = g.contiguous();
        with_float!(g.dtype(), "pad2d_backward", |T| Ok(Tensor::build::<T>(out_shape, |out| {
            pad2d_backward(mode, pad, planes, h, w, g.contiguous_data::<T>(), out)
        })))
    }
}

/// Batched GEMM: each batch entry's operands are strided views (broadcast
/// batch dimensions have stride 0), so no operand is copied.
fn matmul_impl<T: FloatElement>(
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    (m, k, n): (usize, usize, usize),
    out_shape: &[usize],
) -> Tensor {
    let batches: usize = batch.iter().product();
    let (sa, sb) = (a.strides(), b.strides());
    let nb = batch.len();
    Tensor::build::<T>(out_shape, |out| {
        if m * n == 0 {
            return;
        }
        for (index, c) in out.chunks_exact_mut(m * n).enumerate().take(batches) {
            // Storage offsets of this batch entry in each operand.
            let (mut rest, mut oa, mut ob) = (index, a.layout.offset, b.layout.offset);
            for d in (0..nb).rev() {
                let i = rest % batch[d];
                rest /= batch[d];
                oa += i * sa[d];
                ob += i * sb[d];
            }
            let am = MatRef::new(&a.data::<T>()[oa..], m, k, sa[nb], sa[nb + 1]);
            let bm = MatRef::new(&b.data::<T>()[ob..], k, n, sb[nb], sb[nb + 1]);
            gemm(T::ONE, &am, &bm, T::ZERO, MatMut::row_major(c, m, n));
        }
    })
}

/// `parts` copied side by side along `dim`.
fn cat_impl<T: FloatElement>(parts: &[&Tensor], dim: usize, shape: &[usize]) -> Tensor {
    let outer: usize = shape[..dim].iter().product();
    let inner: usize = shape[dim + 1..].iter().product();
    let row = shape[dim] * inner;
    let parts: Vec<Tensor> = parts.iter().map(|t| t.contiguous()).collect();
    Tensor::build::<T>(shape, |out| {
        let mut column = 0;
        for part in &parts {
            let width = part.shape()[dim] * inner;
            let data = part.contiguous_data::<T>();
            for o in 0..outer {
                out[o * row + column..o * row + column + width].copy_from_slice(&data[o * width..(o + 1) * width]);
            }
            column += width;
        }
    })
}
