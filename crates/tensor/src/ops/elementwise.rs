//! Element-wise ops as methods and operators, with NumPy broadcasting.

use std::ops::{Add, Div, Mul, Neg, Sub};

use kernels::elementwise::{BinaryOp, UnaryOp};

use crate::backend::on_device;

use crate::error::{expect, Result, TensorError};
use crate::layout::broadcast_shapes;
use crate::tensor::Tensor;

impl Tensor {
    /// Applies a unary kernel op element-wise.
    pub fn try_unary(&self, op: UnaryOp) -> Result<Tensor> {
        on_device("unary", &[self], |backend| backend.unary(self, op))
    }

    /// Applies a binary kernel op element-wise, broadcasting the operands.
    pub fn try_binary(&self, op: BinaryOp, rhs: &Tensor) -> Result<Tensor> {
        let name = binary_name(op);
        if self.dtype() != rhs.dtype() {
            return Err(TensorError::DTypeMismatch { op: name, lhs: self.dtype(), rhs: rhs.dtype() });
        }
        let shape = broadcast_shapes(name, self.shape(), rhs.shape())?;
        let (a, b) = (self.try_broadcast_to(&shape)?, rhs.try_broadcast_to(&shape)?);
        if !self.dtype().is_compute() {
            return Err(TensorError::UnsupportedDType {
                op: name,
                dtype: self.dtype(),
                hint: "; convert to f32 or f64 with to_dtype first",
            });
        }
        on_device(name, &[self, rhs], |backend| backend.binary(op, &a, &b, &shape))
    }
}

fn binary_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "add",
        BinaryOp::Sub => "sub",
        BinaryOp::Mul => "mul",
        BinaryOp::Div => "div",
        BinaryOp::Max => "maximum",
        BinaryOp::Min => "minimum",
        BinaryOp::Gt => "gt",
        BinaryOp::Ge => "ge",
        BinaryOp::Eq => "eq",
        BinaryOp::PassWherePositive => "pass_where_positive",
    }
}

macro_rules! binary_methods {
    ($($(#[$doc:meta])* $try_name:ident, $name:ident => $op:expr;)*) => {
        impl Tensor {$(
            $(#[$doc])*
            pub fn $try_name(&self, rhs: &Tensor) -> Result<Tensor> {
                self.try_binary($op, rhs)
            }
            $(#[$doc])*
            ///
            /// # Panics
            /// If the shapes do not broadcast or the dtypes differ.
            pub fn $name(&self, rhs: &Tensor) -> Tensor {
                expect(self.$try_name(rhs))
            }
        )*}
    };
}

binary_methods! {
    /// `self + rhs`, broadcasting.
    try_add, add => BinaryOp::Add;
    /// `self - rhs`, broadcasting.
    try_sub, sub => BinaryOp::Sub;
    /// `self · rhs`, broadcasting.
    try_mul, mul => BinaryOp::Mul;
    /// `self / rhs`, broadcasting.
    try_div, div => BinaryOp::Div;
    /// Element-wise maximum, broadcasting.
    try_maximum, maximum => BinaryOp::Max;
    /// Element-wise minimum, broadcasting.
    try_minimum, minimum => BinaryOp::Min;
    /// 1 where `self > rhs`, else 0.
    try_gt, gt => BinaryOp::Gt;
    /// 1 where `self ≥ rhs`, else 0.
    try_ge, ge => BinaryOp::Ge;
    /// 1 where `self == rhs`, else 0.
    try_eq, eq => BinaryOp::Eq;
    /// `self · [rhs > 0]` in one pass: a gradient kept where `rhs` is
    /// positive (the ReLU's backward rule), broadcasting.
    try_pass_where_positive, pass_where_positive => BinaryOp::PassWherePositive;
}

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident ($($arg:ident),*) => $op:expr;)*) => {
        impl Tensor {$(
            $(#[$doc])*
            ///
            /// # Panics
            /// If the dtype is storage-only (f16/bf16).
            pub fn $name(&self $(, $arg: f64)*) -> Tensor {
                expect(self.try_unary($op))
            }
        )*}
    };
}

unary_methods! {
    /// `−x`.
    neg() => UnaryOp::Neg;
    /// `eˣ`.
    exp() => UnaryOp::Exp;
    /// `ln x`.
    log() => UnaryOp::Log;
    /// `√x`.
    sqrt() => UnaryOp::Sqrt;
    /// `|x|`.
    abs() => UnaryOp::Abs;
    /// `x²`.
    square() => UnaryOp::Square;
    /// `1/x`.
    recip() => UnaryOp::Recip;
    /// `max(x, 0)`.
    relu() => UnaryOp::Relu;
    /// `x` for positive `x`, `slope·x` otherwise.
    leaky_relu(slope) => UnaryOp::LeakyRelu(slope);
    /// `tanh x`.
    tanh() => UnaryOp::Tanh;
    /// `1 / (1 + e⁻ˣ)`.
    sigmoid() => UnaryOp::Sigmoid;
    /// `xᵖ`.
    powf(exponent) => UnaryOp::Powf(exponent);
    /// `min(max(x, low), high)`.
    clamp(low, high) => UnaryOp::Clamp(low, high);
    /// `x + c`.
    add_scalar(c) => UnaryOp::AddScalar(c);
    /// `x · c`.
    mul_scalar(c) => UnaryOp::MulScalar(c);
    /// 1 where `x > 0`, else 0.
    positive_mask() => UnaryOp::StepPositive;
    /// −1, 0 or 1 by the sign of `x`.
    sign() => UnaryOp::Sign;
}

macro_rules! operator {
    ($trait:ident, $method:ident, $tensor_fn:ident, $scalar:expr) => {
        impl $trait<&Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$tensor_fn(self, rhs)
            }
        }
        impl $trait<Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$tensor_fn(&self, &rhs)
            }
        }
        impl $trait<&Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$tensor_fn(&self, rhs)
            }
        }
        impl $trait<Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$tensor_fn(self, &rhs)
            }
        }
        impl $trait<f64> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: f64) -> Tensor {
                let scalar: fn(&Tensor, f64) -> Tensor = $scalar;
                scalar(self, rhs)
            }
        }
        impl $trait<f64> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: f64) -> Tensor {
                let scalar: fn(&Tensor, f64) -> Tensor = $scalar;
                scalar(&self, rhs)
            }
        }
    };
}

operator!(Add, add, add, |t, c| t.add_scalar(c));
operator!(Sub, sub, sub, |t, c| t.add_scalar(-c));
operator!(Mul, mul, mul, |t, c| t.mul_scalar(c));
operator!(Div, div, div, |t, c| t.mul_scalar(1.0 / c));

impl Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}

impl Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}
