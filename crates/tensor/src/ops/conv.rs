//! 2-D convolution of NCHW tensors and its two gradients (input and
//! weights), each checked here and run by the device's backend.

use kernels::conv::{Activation, Conv2dGeometry};

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
        self.conv2d_then(weight, bias, params, Activation::Identity)
    }

    /// `relu(conv2d(…))` without a separate ReLU op: on the CPU's Winograd
    /// path the ReLU is applied as the convolution writes its output (one
    /// pass over it instead of two), on its other paths in place after; on
    /// CUDA by the ReLU kernel after. Otherwise as [`Tensor::try_conv2d`].
    pub fn try_conv2d_relu(&self, weight: &Tensor, bias: Option<&Tensor>, params: Conv2dParams) -> Result<Tensor> {
        self.conv2d_then(weight, bias, params, Activation::Relu)
    }

    fn conv2d_then(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: Conv2dParams,
        activation: Activation,
    ) -> Result<Tensor> {
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
        on_device("conv2d", &operands, |backend| backend.conv2d(self, weight, bias, &geo, activation))
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
}
