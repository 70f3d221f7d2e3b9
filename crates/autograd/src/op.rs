//! The recorded operations: one variant per op, holding its inputs and what
//! its backward rule needs. `backward` matches on this enum exhaustively, so
//! an op without a gradient rule does not compile.

use std::sync::Arc;

use tensor::{Conv2dParams, MaxPoolIndices, Pad2d, PadMode, Pool2dParams, Tensor, UpsampleMode};

use crate::Var;

/// Element-wise functions of one input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Unary {
    Neg,
    Exp,
    Log,
    Sqrt,
    Abs,
    Relu,
    LeakyRelu(f64),
    Tanh,
    Sigmoid,
    Powf(f64),
    Clamp(f64, f64),
    AddScalar(f64),
    MulScalar(f64),
}

/// Element-wise functions of two broadcast inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

/// Reductions over a set of axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reduction {
    Sum,
    Mean,
    Max,
}

/// Which statistics a batch norm normalises with.
#[derive(Clone, Debug)]
pub(crate) enum NormStats {
    /// Statistics of the input itself (instance norm, training batch norm):
    /// the normalised output and `1/σ` per group are saved for backward.
    Own { inv_std: Tensor },
    /// Fixed statistics (evaluation batch norm): an affine map of the input.
    Fixed { inv_std: Tensor },
}

/// A user-defined differentiable op (see the crate docs for a worked example).
pub trait CustomOp: Send + Sync {
    /// Name used in errors and by the gradient checker.
    fn name(&self) -> &str;
    /// The op's value.
    fn forward(&self, inputs: &[&Tensor]) -> tensor::Result<Tensor>;
    /// Gradients with respect to each input, given the inputs, the output and
    /// the output's gradient. `None` for an input that has no gradient.
    fn backward(&self, inputs: &[&Tensor], output: &Tensor, grad_output: &Tensor) -> Vec<Option<Tensor>>;
}

pub(crate) enum Op {
    Unary(Unary, Var),
    Binary(Binary, Var, Var),
    Matmul(Var, Var),
    Reduce { kind: Reduction, input: Var, axes: Vec<usize>, keepdim: bool },
    BroadcastTo(Var),
    Reshape(Var),
    Permute(Var, Vec<usize>),
    Flip(Var, usize),
    Narrow { input: Var, dim: usize, start: usize },
    Cat(Vec<Var>, usize),
    Conv2d { input: Var, weight: Var, bias: Option<Var>, params: Conv2dParams },
    Conv2dRelu { input: Var, weight: Var, bias: Option<Var>, params: Conv2dParams },
    // max_pool2d(relu(conv2d(…))): only the pooled value and the window
    // positions are kept, not the full-size activation.
    Conv2dReluMaxPool { input: Var, weight: Var, bias: Option<Var>, params: Conv2dParams, indices: MaxPoolIndices },
    ConvTranspose2d { input: Var, weight: Var, bias: Option<Var>, params: Conv2dParams },
    MaxPool2d { input: Var, indices: MaxPoolIndices },
    AvgPool2d { input: Var, params: Pool2dParams, count_include_pad: bool },
    Upsample2d { input: Var, factor: usize, mode: UpsampleMode },
    Pad2d { input: Var, pad: Pad2d, mode: PadMode },
    Normalize { input: Var, axes: Vec<usize>, stats: NormStats },
    Mse(Var, Var),
    Gram { input: Var, scale: f64 },
    TotalVariation(Var),
    Custom(Arc<dyn CustomOp>, Vec<Var>),
}

impl Op {
    /// The vars this op read.
    pub(crate) fn inputs(&self) -> Vec<&Var> {
        match self {
            Op::Unary(_, x)
            | Op::BroadcastTo(x)
            | Op::Reshape(x)
            | Op::Permute(x, _)
            | Op::Flip(x, _)
            | Op::Narrow { input: x, .. }
            | Op::Reduce { input: x, .. }
            | Op::MaxPool2d { input: x, .. }
            | Op::AvgPool2d { input: x, .. }
            | Op::Upsample2d { input: x, .. }
            | Op::Pad2d { input: x, .. }
            | Op::Normalize { input: x, .. }
            | Op::Gram { input: x, .. }
            | Op::TotalVariation(x) => vec![x],
            Op::Binary(_, a, b) | Op::Matmul(a, b) | Op::Mse(a, b) => vec![a, b],
            Op::Cat(parts, _) | Op::Custom(_, parts) => parts.iter().collect(),
            Op::Conv2d { input, weight, bias, .. }
            | Op::Conv2dRelu { input, weight, bias, .. }
            | Op::Conv2dReluMaxPool { input, weight, bias, .. }
            | Op::ConvTranspose2d { input, weight, bias, .. } => {
                [Some(input), Some(weight), bias.as_ref()].into_iter().flatten().collect()
            }
        }
    }

    /// A short name for messages.
    pub(crate) fn name(&self) -> &str {
        match self {
            Op::Unary(u, _) => match u {
                Unary::Neg => "neg",
                Unary::Exp => "exp",
                Unary::Log => "log",
                Unary::Sqrt => "sqrt",
                Unary::Abs => "abs",
                Unary::Relu => "relu",
                Unary::LeakyRelu(_) => "leaky_relu",
                Unary::Tanh => "tanh",
                Unary::Sigmoid => "sigmoid",
                Unary::Powf(_) => "powf",
                Unary::Clamp(..) => "clamp",
                Unary::AddScalar(_) => "add_scalar",
                Unary::MulScalar(_) => "mul_scalar",
            },
            Op::Binary(b, ..) => match b {
                Binary::Add => "add",
                Binary::Sub => "sub",
                Binary::Mul => "mul",
                Binary::Div => "div",
            },
            Op::Matmul(..) => "matmul",
            Op::Reduce { kind, .. } => match kind {
                Reduction::Sum => "sum",
                Reduction::Mean => "mean",
                Reduction::Max => "max",
            },
            Op::BroadcastTo(_) => "broadcast_to",
            Op::Reshape(_) => "reshape",
            Op::Permute(..) => "permute",
            Op::Flip(..) => "flip",
            Op::Narrow { .. } => "narrow",
            Op::Cat(..) => "cat",
            Op::Conv2d { .. } => "conv2d",
            Op::Conv2dRelu { .. } => "conv2d_relu",
            Op::Conv2dReluMaxPool { .. } => "conv2d_relu_max_pool2d",
            Op::ConvTranspose2d { .. } => "conv_transpose2d",
            Op::MaxPool2d { .. } => "max_pool2d",
            Op::AvgPool2d { .. } => "avg_pool2d",
            Op::Upsample2d { .. } => "upsample2d",
            Op::Pad2d { .. } => "pad2d",
            Op::Normalize { .. } => "normalize",
            Op::Mse(..) => "mse",
            Op::Gram { .. } => "gram",
            Op::TotalVariation(_) => "total_variation",
            Op::Custom(op, _) => op.name(),
        }
    }
}
