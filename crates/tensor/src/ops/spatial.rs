//! Image ops on NCHW tensors: 2-D convolution and its gradients, max and
//! average pooling, upsampling and padding, each with the backward function
//! autograd needs.

use std::sync::Arc;

use kernels::buffer_pool::PooledVec;
use kernels::conv::{self, Conv2dGeometry};
use kernels::padding::{pad2d_backward, pad2d_forward, Pad2d, PadMode};
use kernels::pooling::{self, Pool2dGeometry};
use kernels::upsample::{upsample2d_backward, upsample2d_forward, UpsampleMode};

use crate::error::{expect, invalid, Result, TensorError};
use crate::tensor::{with_float, Tensor};

/// Stride, padding and dilation of a 2-D convolution, (vertical, horizontal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    /// Step between output pixels.
    pub stride: (usize, usize),
    /// Zeros added on each side.
    pub padding: (usize, usize),
    /// Spacing of kernel taps.
    pub dilation: (usize, usize),
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams { stride: (1, 1), padding: (0, 0), dilation: (1, 1) }
    }
}

impl Conv2dParams {
    /// Square stride and padding, no dilation.
    pub fn new(stride: usize, padding: usize) -> Self {
        Conv2dParams { stride: (stride, stride), padding: (padding, padding), dilation: (1, 1) }
    }
}

/// Window, stride and padding of a 2-D pooling, (vertical, horizontal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dParams {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step.
    pub stride: (usize, usize),
    /// Implicit padding on each side.
    pub padding: (usize, usize),
}

impl Pool2dParams {
    /// A square window with the given stride and no padding.
    pub fn new(kernel: usize, stride: usize) -> Self {
        Pool2dParams { kernel: (kernel, kernel), stride: (stride, stride), padding: (0, 0) }
    }
}

/// Which input each max-pooling output took: what its backward needs.
#[derive(Clone)]
pub struct MaxPoolIndices {
    positions: Positions,
    geometry: Pool2dGeometry,
    input_shape: Vec<usize>,
}

/// Where the recorded positions live: beside the tensor's values.
#[derive(Clone)]
enum Positions {
    Host(Arc<PooledVec<u32>>),
    Device(crate::cuda::DeviceIndices),
}

impl std::fmt::Debug for MaxPoolIndices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = match self.positions {
            Positions::Host(_) => "host",
            Positions::Device(_) => "device",
        };
        write!(f, "MaxPoolIndices({:?} input, {place})", self.input_shape)
    }
}

impl MaxPoolIndices {
    /// Shape of the pooled input.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }
}

fn nchw(op: &'static str, t: &Tensor) -> Result<(usize, usize, usize, usize)> {
    match *t.shape() {
        [n, c, h, w] => Ok((n, c, h, w)),
        _ => Err(invalid(op, t.shape(), "expected a 4-D NCHW tensor")),
    }
}

fn same_dtype(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dtype() == b.dtype() {
        Ok(())
    } else {
        Err(TensorError::DTypeMismatch { op, lhs: a.dtype(), rhs: b.dtype() })
    }
}

fn conv_geometry(
    op: &'static str,
    input_shape: &[usize],
    weight_shape: &[usize],
    params: Conv2dParams,
) -> Result<Conv2dGeometry> {
    let ([n, c, h, w], [o, ci, kh, kw]) = (input_shape, weight_shape) else {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: input_shape.to_vec(),
            rhs: weight_shape.to_vec(),
            detail: "input must be NCHW and weight OIHW (4-D each)".into(),
        });
    };
    if c != ci {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: input_shape.to_vec(),
            rhs: weight_shape.to_vec(),
            detail: format!("input has {c} channels, weight expects {ci}"),
        });
    }
    let geo = Conv2dGeometry {
        batch: *n,
        in_channels: *c,
        in_height: *h,
        in_width: *w,
        out_channels: *o,
        kernel_height: *kh,
        kernel_width: *kw,
        stride: params.stride,
        padding: params.padding,
        dilation: params.dilation,
    };
    geo.validate().map_err(|detail| invalid(op, input_shape, detail))?;
    Ok(geo)
}

impl Tensor {
    /// 2-D convolution of an NCHW input with OIHW `weight`, plus `bias` per
    /// output channel.
    pub fn try_conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, params: Conv2dParams) -> Result<Tensor> {
        let geo = conv_geometry("conv2d", self.shape(), weight.shape(), params)?;
        same_dtype("conv2d", self, weight)?;
        if let Some(b) = bias {
            same_dtype("conv2d", self, b)?;
            if b.shape() != [geo.out_channels] {
                return Err(TensorError::ShapeMismatch {
                    op: "conv2d",
                    lhs: weight.shape().to_vec(),
                    rhs: b.shape().to_vec(),
                    detail: format!("bias must have shape [{}]", geo.out_channels),
                });
            }
        }
        let mut operands = vec![self, weight];
        operands.extend(bias);
        if crate::cuda::common_device("conv2d", &operands)?.is_some() {
            return crate::cuda::conv2d(self, weight, bias, &geo);
        }
        let (x, w, b) = (self.contiguous(), weight.contiguous(), bias.map(Tensor::contiguous));
        let shape = [geo.batch, geo.out_channels, geo.out_height(), geo.out_width()];
        with_float!(self.dtype(), "conv2d", |T| Ok(Tensor::build::<T>(&shape, |out| {
            conv::conv2d_forward(
                &geo,
                x.contiguous_data::<T>(),
                w.contiguous_data::<T>(),
                b.as_ref().map(|b| b.contiguous_data::<T>()),
                out,
            )
        })))
    }

    /// As [`Tensor::try_conv2d`].
    ///
    /// # Panics
    /// If the shapes or dtypes do not agree.
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, params: Conv2dParams) -> Tensor {
        expect(self.try_conv2d(weight, bias, params))
    }

    /// Gradient of a convolution with respect to its input of `input_shape`,
    /// given the gradient of its output (`self`). This is also the forward
    /// pass of a transposed convolution.
    pub fn try_conv2d_backward_input(
        &self,
        weight: &Tensor,
        input_shape: &[usize],
        params: Conv2dParams,
    ) -> Result<Tensor> {
        let geo = conv_geometry("conv2d_backward_input", input_shape, weight.shape(), params)?;
        same_dtype("conv2d_backward_input", self, weight)?;
        let expected = [geo.batch, geo.out_channels, geo.out_height(), geo.out_width()];
        if self.shape() != expected {
            return Err(TensorError::ShapeMismatch {
                op: "conv2d_backward_input",
                lhs: self.shape().to_vec(),
                rhs: expected.to_vec(),
                detail: "output gradient does not match the convolution's output".into(),
            });
        }
        if crate::cuda::common_device("conv2d_backward_input", &[self, weight])?.is_some() {
            return crate::cuda::conv2d_backward_input(self, weight, &geo);
        }
        let (g, w) = (self.contiguous(), weight.contiguous());
        with_float!(self.dtype(), "conv2d_backward_input", |T| Ok(Tensor::build::<T>(input_shape, |out| {
            conv::conv2d_backward_input(&geo, g.contiguous_data::<T>(), w.contiguous_data::<T>(), out)
        })))
    }

    /// Gradient of a convolution with respect to its weight of `weight_shape`,
    /// given its input (`self`) and the gradient of its output.
    pub fn try_conv2d_backward_weight(
        &self,
        grad_output: &Tensor,
        weight_shape: &[usize],
        params: Conv2dParams,
    ) -> Result<Tensor> {
        let geo = conv_geometry("conv2d_backward_weight", self.shape(), weight_shape, params)?;
        same_dtype("conv2d_backward_weight", self, grad_output)?;
        let expected = [geo.batch, geo.out_channels, geo.out_height(), geo.out_width()];
        if grad_output.shape() != expected {
            return Err(TensorError::ShapeMismatch {
                op: "conv2d_backward_weight",
                lhs: grad_output.shape().to_vec(),
                rhs: expected.to_vec(),
                detail: "output gradient does not match the convolution's output".into(),
            });
        }
        if crate::cuda::common_device("conv2d_backward_weight", &[self, grad_output])?.is_some() {
            return crate::cuda::conv2d_backward_weight(self, grad_output, &geo);
        }
        let (x, g) = (self.contiguous(), grad_output.contiguous());
        with_float!(self.dtype(), "conv2d_backward_weight", |T| Ok(Tensor::build::<T>(weight_shape, |out| {
            conv::conv2d_backward_weight(&geo, x.contiguous_data::<T>(), g.contiguous_data::<T>(), out)
        })))
    }

    /// Max pooling of an NCHW tensor; returns the pooled values and the
    /// indices its backward pass needs.
    pub fn try_max_pool2d(&self, params: Pool2dParams) -> Result<(Tensor, MaxPoolIndices)> {
        let (n, c, h, w) = nchw("max_pool2d", self)?;
        let geo = Pool2dGeometry {
            planes: n * c,
            in_height: h,
            in_width: w,
            kernel: params.kernel,
            stride: params.stride,
            padding: params.padding,
        };
        geo.validate().map_err(|d| invalid("max_pool2d", self.shape(), d))?;
        let shape = [n, c, geo.out_height(), geo.out_width()];
        if self.cuda_storage().is_some() {
            let (pooled, positions) = crate::cuda::max_pool(self, &geo, &shape)?;
            let positions = Positions::Device(positions);
            return Ok((pooled, MaxPoolIndices { positions, geometry: geo, input_shape: self.shape().to_vec() }));
        }
        let x = self.contiguous();
        let mut indices = PooledVec::<u32>::uninit_contents(shape.iter().product());
        let pooled = with_float!(self.dtype(), "max_pool2d", |T| Ok(Tensor::build::<T>(&shape, |out| {
            pooling::max_pool2d_forward(&geo, x.contiguous_data::<T>(), out, &mut indices)
        })))?;
        let positions = Positions::Host(Arc::new(indices));
        Ok((pooled, MaxPoolIndices { positions, geometry: geo, input_shape: self.shape().to_vec() }))
    }

    /// As [`Tensor::try_max_pool2d`], values only.
    ///
    /// # Panics
    /// If the tensor is not 4-D or the window does not fit.
    pub fn max_pool2d(&self, params: Pool2dParams) -> Tensor {
        expect(self.try_max_pool2d(params)).0
    }

    /// Gradient of max pooling, given the output gradient (`self`).
    pub fn try_max_pool2d_backward(&self, indices: &MaxPoolIndices) -> Result<Tensor> {
        let expected = indices.geometry.planes * indices.geometry.out_height() * indices.geometry.out_width();
        if self.numel() != expected {
            return Err(invalid("max_pool2d_backward", self.shape(), format!("{expected} recorded positions")));
        }
        let positions = match (&indices.positions, self.cuda_storage()) {
            (Positions::Device(d), Some(_)) => {
                return crate::cuda::max_pool_backward(self, &indices.geometry, d, &indices.input_shape);
            }
            (Positions::Host(h), None) => h,
            _ => {
                return Err(invalid(
                    "max_pool2d_backward",
                    self.shape(),
                    "gradient and recorded positions are on different devices",
                ))
            }
        };
        let g = self.contiguous();
        with_float!(self.dtype(), "max_pool2d_backward", |T| Ok(Tensor::build::<T>(&indices.input_shape, |out| {
            pooling::max_pool2d_backward(&indices.geometry, g.contiguous_data::<T>(), positions, out)
        })))
    }

    fn pool_geometry(&self, op: &'static str, params: Pool2dParams, input_shape: &[usize]) -> Result<Pool2dGeometry> {
        let [n, c, h, w] = *input_shape else {
            return Err(invalid(op, input_shape, "expected a 4-D NCHW shape"));
        };
        let geo = Pool2dGeometry {
            planes: n * c,
            in_height: h,
            in_width: w,
            kernel: params.kernel,
            stride: params.stride,
            padding: params.padding,
        };
        geo.validate().map_err(|d| invalid(op, self.shape(), d))?;
        Ok(geo)
    }

    /// Average pooling of an NCHW tensor (PyTorch's `count_include_pad`).
    pub fn try_avg_pool2d(&self, params: Pool2dParams, count_include_pad: bool) -> Result<Tensor> {
        let geo = self.pool_geometry("avg_pool2d", params, self.shape())?;
        let shape = [self.shape()[0], self.shape()[1], geo.out_height(), geo.out_width()];
        if self.cuda_storage().is_some() {
            return crate::cuda::avg_pool(self, &geo, count_include_pad, &shape, false);
        }
        let x = self.contiguous();
        with_float!(self.dtype(), "avg_pool2d", |T| Ok(Tensor::build::<T>(&shape, |out| {
            pooling::avg_pool2d_forward(&geo, count_include_pad, x.contiguous_data::<T>(), out)
        })))
    }

    /// As [`Tensor::try_avg_pool2d`].
    ///
    /// # Panics
    /// If the tensor is not 4-D or the window does not fit.
    pub fn avg_pool2d(&self, params: Pool2dParams, count_include_pad: bool) -> Tensor {
        expect(self.try_avg_pool2d(params, count_include_pad))
    }

    /// Gradient of average pooling of an input of `input_shape`, given the
    /// output gradient (`self`).
    pub fn try_avg_pool2d_backward(
        &self,
        input_shape: &[usize],
        params: Pool2dParams,
        count_include_pad: bool,
    ) -> Result<Tensor> {
        let geo = self.pool_geometry("avg_pool2d_backward", params, input_shape)?;
        let expected = [input_shape[0], input_shape[1], geo.out_height(), geo.out_width()];
        if self.shape() != expected {
            return Err(TensorError::ShapeMismatch {
                op: "avg_pool2d_backward",
                lhs: self.shape().to_vec(),
                rhs: expected.to_vec(),
                detail: "output gradient does not match the pooled shape".into(),
            });
        }
        if self.cuda_storage().is_some() {
            return crate::cuda::avg_pool(self, &geo, count_include_pad, input_shape, true);
        }
        let g = self.contiguous();
        with_float!(self.dtype(), "avg_pool2d_backward", |T| Ok(Tensor::build::<T>(input_shape, |out| {
            pooling::avg_pool2d_backward(&geo, count_include_pad, g.contiguous_data::<T>(), out)
        })))
    }

    /// Upsamples an NCHW tensor by an integer `factor`.
    pub fn try_upsample2d(&self, factor: usize, mode: UpsampleMode) -> Result<Tensor> {
        let (n, c, h, w) = nchw("upsample2d", self)?;
        if factor == 0 {
            return Err(invalid("upsample2d", self.shape(), "scale factor must be at least 1"));
        }
        if self.cuda_storage().is_some() {
            return crate::cuda::upsample(self, mode, factor, (n * c, h, w), &[n, c, h * factor, w * factor], false);
        }
        let x = self.contiguous();
        with_float!(self.dtype(), "upsample2d", |T| Ok(Tensor::build::<T>(&[n, c, h * factor, w * factor], |out| {
            upsample2d_forward(mode, n * c, h, w, factor, x.contiguous_data::<T>(), out)
        })))
    }

    /// As [`Tensor::try_upsample2d`].
    ///
    /// # Panics
    /// If the tensor is not 4-D or `factor` is zero.
    pub fn upsample2d(&self, factor: usize, mode: UpsampleMode) -> Tensor {
        expect(self.try_upsample2d(factor, mode))
    }

    /// Gradient of upsampling, given the output gradient (`self`).
    pub fn try_upsample2d_backward(&self, factor: usize, mode: UpsampleMode) -> Result<Tensor> {
        let (n, c, oh, ow) = nchw("upsample2d_backward", self)?;
        if factor == 0 || oh % factor != 0 || ow % factor != 0 {
            return Err(invalid("upsample2d_backward", self.shape(), format!("not a {factor}x upsampled shape")));
        }
        let (h, w) = (oh / factor, ow / factor);
        if self.cuda_storage().is_some() {
            return crate::cuda::upsample(self, mode, factor, (n * c, h, w), &[n, c, h, w], true);
        }
        let g = self.contiguous();
        with_float!(self.dtype(), "upsample2d_backward", |T| Ok(Tensor::build::<T>(&[n, c, h, w], |out| {
            upsample2d_backward(mode, n * c, h, w, factor, g.contiguous_data::<T>(), out)
        })))
    }

    /// Pads the last two dimensions of an NCHW tensor.
    pub fn try_pad2d(&self, pad: Pad2d, mode: PadMode) -> Result<Tensor> {
        let (n, c, h, w) = nchw("pad2d", self)?;
        pad.validate(mode, h, w).map_err(|d| invalid("pad2d", self.shape(), d))?;
        let shape = [n, c, h + pad.top + pad.bottom, w + pad.left + pad.right];
        if self.cuda_storage().is_some() {
            return crate::cuda::pad(self, &pad, mode, (n * c, h, w), &shape, false);
        }
        let x = self.contiguous();
        with_float!(self.dtype(), "pad2d", |T| Ok(Tensor::build::<T>(&shape, |out| {
            pad2d_forward(mode, &pad, n * c, h, w, x.contiguous_data::<T>(), out)
        })))
    }

    /// As [`Tensor::try_pad2d`].
    ///
    /// # Panics
    /// If the tensor is not 4-D or the padding is invalid for `mode`.
    pub fn pad2d(&self, pad: Pad2d, mode: PadMode) -> Tensor {
        expect(self.try_pad2d(pad, mode))
    }

    /// Gradient of padding, given the output gradient (`self`).
    pub fn try_pad2d_backward(&self, pad: Pad2d, mode: PadMode) -> Result<Tensor> {
        let (n, c, oh, ow) = nchw("pad2d_backward", self)?;
        let (Some(h), Some(w)) = (oh.checked_sub(pad.top + pad.bottom), ow.checked_sub(pad.left + pad.right)) else {
            return Err(invalid("pad2d_backward", self.shape(), format!("smaller than the padding {pad:?}")));
        };
        pad.validate(mode, h, w).map_err(|d| invalid("pad2d_backward", self.shape(), d))?;
        if self.cuda_storage().is_some() {
            return crate::cuda::pad(self, &pad, mode, (n * c, h, w), &[n, c, h, w], true);
        }
        let g = self.contiguous();
        with_float!(self.dtype(), "pad2d_backward", |T| Ok(Tensor::build::<T>(&[n, c, h, w], |out| {
            pad2d_backward(mode, &pad, n * c, h, w, g.contiguous_data::<T>(), out)
        })))
    }
}
