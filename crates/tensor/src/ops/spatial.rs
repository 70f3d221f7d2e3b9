//! Image ops on NCHW tensors: 2-D convolution and its gradients, max and
//! average pooling, upsampling and padding, each with the backward function
//! autograd needs.

use std::sync::Arc;

use kernels::buffer_pool::PooledVec;
use kernels::conv::Conv2dGeometry;
use kernels::padding::{Pad2d, PadMode};
use kernels::pooling::Pool2dGeometry;
use kernels::upsample::UpsampleMode;

use crate::backend::on_device;
use crate::error::{expect, invalid, Result, TensorError};
use crate::tensor::Tensor;

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
    pub(crate) positions: MaxPoolPositions,
    pub(crate) geometry: Pool2dGeometry,
    pub(crate) input_shape: Vec<usize>,
}

/// Where the recorded positions live: beside the tensor's values.
#[derive(Clone)]
pub(crate) enum MaxPoolPositions {
    Host(Arc<PooledVec<u32>>),
    Device(crate::cuda::DeviceIndices),
}

impl std::fmt::Debug for MaxPoolIndices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = match self.positions {
            MaxPoolPositions::Host(_) => "host",
            MaxPoolPositions::Device(_) => "device",
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
        on_device("conv2d", &operands, |backend| backend.conv2d(self, weight, bias, &geo))
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
        on_device("conv2d_backward_input", &[self, weight], |backend| backend.conv2d_backward_input(self, weight, &geo))
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
        on_device("conv2d_backward_weight", &[self, grad_output], |backend| {
            backend.conv2d_backward_weight(self, grad_output, &geo)
        })
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
        let (pooled, positions) = on_device("max_pool2d", &[self], |backend| backend.max_pool(self, &geo, &shape))?;
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
        on_device("max_pool2d_backward", &[self], |backend| backend.max_pool_backward(self, indices))
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
        on_device("avg_pool2d", &[self], |backend| backend.avg_pool(self, &geo, count_include_pad, &shape))
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
        on_device("avg_pool2d_backward", &[self], |backend| {
            backend.avg_pool_backward(self, &geo, count_include_pad, input_shape)
        })
    }

    /// Upsamples an NCHW tensor by an integer `factor`.
    pub fn try_upsample2d(&self, factor: usize, mode: UpsampleMode) -> Result<Tensor> {
        let (n, c, h, w) = nchw("upsample2d", self)?;
        if factor == 0 {
            return Err(invalid("upsample2d", self.shape(), "scale factor must be at least 1"));
        }
        let out_shape = [n, c, h * factor, w * factor];
        on_device("upsample2d", &[self], |backend| backend.upsample(self, mode, factor, (n * c, h, w), &out_shape))
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
        on_device("upsample2d_backward", &[self], |backend| {
            backend.upsample_backward(self, mode, factor, (n * c, h, w), &[n, c, h, w])
        })
    }

    /// Pads the last two dimensions of an NCHW tensor.
    pub fn try_pad2d(&self, pad: Pad2d, mode: PadMode) -> Result<Tensor> {
        let (n, c, h, w) = nchw("pad2d", self)?;
        pad.validate(mode, h, w).map_err(|d| invalid("pad2d", self.shape(), d))?;
        let shape = [n, c, h + pad.top + pad.bottom, w + pad.left + pad.right];
        on_device("pad2d", &[self], |backend| backend.pad(self, &pad, mode, (n * c, h, w), &shape))
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
        on_device("pad2d_backward", &[self], |backend| {
            backend.pad_backward(self, &pad, mode, (n * c, h, w), &[n, c, h, w])
        })
    }
}
