//! Convolution and transposed convolution on vars, with their gradient rules
//! (which call the dedicated kernels: each backward is itself a convolution).

use tensor::{Conv2dParams, Pool2dParams, Result, Tensor, TensorError};

use crate::op::Op;
use crate::ops::elementwise::expect;
use crate::Var;

/// `bias` as `[1, C, 1, 1]`, to broadcast over an NCHW tensor.
fn bias_view(bias: &Tensor) -> Tensor {
    bias.reshape(&[1, bias.numel(), 1, 1])
}

/// Gradients of `y = conv2d(x, w) + b`.
pub(crate) fn conv2d_backward(
    x: &Tensor,
    w: &Tensor,
    g: &Tensor,
    params: Conv2dParams,
    needs: &[bool],
) -> Vec<Option<Tensor>> {
    vec![
        // ∂L/∂x: the transposed convolution of ∂L/∂y with the same kernel.
        needs[0].then(|| g.try_conv2d_backward_input(w, x.shape(), params).expect("shapes checked in forward")),
        // ∂L/∂w[o,c,i,j] = Σ ∂L/∂y[n,o,p,q] · x[n,c,p·s+i·d−pad, q·s+j·d−pad]
        needs[1].then(|| x.try_conv2d_backward_weight(g, w.shape(), params).expect("shapes checked in forward")),
        // ∂L/∂b[o] = Σ over n, p, q of ∂L/∂y[n,o,p,q]
        needs.get(2).copied().unwrap_or(false).then(|| g.sum(&[0, 2, 3], false)),
    ]
}

/// Gradients of `y = conv_transpose2d(x, w) + b`, the adjoint of conv2d:
/// what conv2d's backward does to `x`, its forward undoes.
pub(crate) fn conv_transpose2d_backward(
    x: &Tensor,
    w: &Tensor,
    g: &Tensor,
    params: Conv2dParams,
    needs: &[bool],
) -> Vec<Option<Tensor>> {
    vec![
        // y = Cᵀx for the convolution C, so ∂L/∂x = C·∂L/∂y: a forward convolution.
        needs[0].then(|| g.conv2d(w, None, params)),
        // The weight gradient of C with input ∂L/∂y and output gradient x.
        needs[1].then(|| g.try_conv2d_backward_weight(x, w.shape(), params).expect("shapes checked in forward")),
        // ∂L/∂b[o] = Σ over n, p, q of ∂L/∂y[n,o,p,q]
        needs.get(2).copied().unwrap_or(false).then(|| g.sum(&[0, 2, 3], false)),
    ]
}

impl Var {
    /// 2-D convolution of an NCHW input with an OIHW `weight`, plus an
    /// optional bias per output channel.
    pub fn try_conv2d(&self, weight: &Var, bias: Option<&Var>, params: Conv2dParams) -> Result<Var> {
        let value = self.value().try_conv2d(weight.value(), bias.map(Var::value), params)?;
        let op = Op::Conv2d { input: self.clone(), weight: weight.clone(), bias: bias.cloned(), params };
        Ok(Var::from_op(value, op))
    }

    /// `relu(conv2d(…))` as one op: the pre-activation is never kept, so a
    /// network of conv–ReLU pairs holds half the activations for backward
    /// (the ReLU's output is all either rule needs).
    pub fn try_conv2d_relu(&self, weight: &Var, bias: Option<&Var>, params: Conv2dParams) -> Result<Var> {
        let value = self.value().try_conv2d_relu(weight.value(), bias.map(Var::value), params)?;
        let op = Op::Conv2dRelu { input: self.clone(), weight: weight.clone(), bias: bias.cloned(), params };
        Ok(Var::from_op(value, op))
    }

    /// `max_pool2d(relu(conv2d(…)))` as one op, for a network whose ReLU
    /// output feeds only a max pool: the full-size activation is freed once
    /// pooled, and backward keeps the pooled value and the window positions
    /// (a quarter and, as u32 positions, another quarter of the activation's
    /// bytes for 2×2 windows). Gradients equal those of the three ops.
    ///
    /// # Errors
    /// As [`Var::try_conv2d`] and [`Var::try_max_pool2d`].
    pub fn try_conv2d_relu_max_pool2d(
        &self,
        weight: &Var,
        bias: Option<&Var>,
        params: Conv2dParams,
        pool: Pool2dParams,
    ) -> Result<Var> {
        let activation = self.value().try_conv2d_relu(weight.value(), bias.map(Var::value), params)?;
        let (value, indices) = activation.try_max_pool2d(pool)?;
        drop(activation);
        let op =
            Op::Conv2dReluMaxPool { input: self.clone(), weight: weight.clone(), bias: bias.cloned(), params, indices };
        Ok(Var::from_op(value, op))
    }

    /// As [`Var::try_conv2d`].
    ///
    /// # Panics
    /// If the shapes or dtypes do not agree.
    pub fn conv2d(&self, weight: &Var, bias: Option<&Var>, params: Conv2dParams) -> Var {
        expect(self.try_conv2d(weight, bias, params))
    }

    /// Transposed 2-D convolution of `[N, Cin, H, W]` with a `[Cin, Cout, kh,
    /// kw]` weight (PyTorch's layout): output side `(H−1)·s − 2·p + d·(k−1) +
    /// 1 + output_padding` with `output_padding < stride` (it picks among the
    /// output sizes that a strided convolution maps to the same input size).
    /// The adjoint of [`Var::conv2d`].
    pub fn try_conv_transpose2d(
        &self,
        weight: &Var,
        bias: Option<&Var>,
        params: Conv2dParams,
        output_padding: (usize, usize),
    ) -> Result<Var> {
        let (x, w) = (self.value(), weight.value());
        let (&[n, cin, h, wd], &[wcin, cout, kh, kw]) = (x.shape(), w.shape()) else {
            return Err(TensorError::ShapeMismatch {
                op: "conv_transpose2d",
                lhs: x.shape().to_vec(),
                rhs: w.shape().to_vec(),
                detail: "input must be NCHW and weight [Cin, Cout, kh, kw]".into(),
            });
        };
        if cin != wcin {
            return Err(TensorError::ShapeMismatch {
                op: "conv_transpose2d",
                lhs: x.shape().to_vec(),
                rhs: w.shape().to_vec(),
                detail: format!("input has {cin} channels, weight expects {wcin}"),
            });
        }
        let side = |len: usize, k: usize, s: usize, p: usize, d: usize, extra: usize| {
            ((len - 1) * s + d * (k - 1) + 1 + extra).checked_sub(2 * p)
        };
        let (s, p, d) = (params.stride, params.padding, params.dilation);
        if output_padding.0 >= s.0 || output_padding.1 >= s.1 || h == 0 || wd == 0 {
            return Err(TensorError::invalid_argument(
                "conv_transpose2d",
                x.shape(),
                format!("output padding {output_padding:?} must be smaller than the stride {s:?}"),
            ));
        }
        let (Some(oh), Some(ow)) =
            (side(h, kh, s.0, p.0, d.0, output_padding.0), side(wd, kw, s.1, p.1, d.1, output_padding.1))
        else {
            return Err(TensorError::invalid_argument("conv_transpose2d", x.shape(), "padding exceeds the output"));
        };
        let mut value = x.try_conv2d_backward_input(w, &[n, cout, oh, ow], params)?;
        if let Some(b) = bias {
            value = value.try_add(&bias_view(b.value()))?;
        }
        let op = Op::ConvTranspose2d { input: self.clone(), weight: weight.clone(), bias: bias.cloned(), params };
        Ok(Var::from_op(value, op))
    }

    /// As [`Var::try_conv_transpose2d`].
    ///
    /// # Panics
    /// If the shapes or dtypes do not agree.
    pub fn conv_transpose2d(
        &self,
        weight: &Var,
        bias: Option<&Var>,
        params: Conv2dParams,
        output_padding: (usize, usize),
    ) -> Var {
        expect(self.try_conv_transpose2d(weight, bias, params, output_padding))
    }
}
