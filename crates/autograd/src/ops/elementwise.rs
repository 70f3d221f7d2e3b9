//! Element-wise ops on vars (unary, scalar and broadcasting binary) and their
//! gradient rules.

use std::ops::{Add, Div, Mul, Neg, Sub};

use tensor::{BinaryOp, Result, Tensor};

use crate::op::{Binary, Op, Unary};
use crate::ops::shape::sum_to;
use crate::Var;

fn apply_unary(op: Unary, x: &Tensor) -> Tensor {
    match op {
        Unary::Neg => x.neg(),
        Unary::Exp => x.exp(),
        Unary::Log => x.log(),
        Unary::Sqrt => x.sqrt(),
        Unary::Abs => x.abs(),
        Unary::Relu => x.relu(),
        Unary::LeakyRelu(slope) => x.leaky_relu(slope),
        Unary::Tanh => x.tanh(),
        Unary::Sigmoid => x.sigmoid(),
        Unary::Powf(p) => x.powf(p),
        Unary::Clamp(low, high) => x.clamp(low, high),
        Unary::AddScalar(c) => x.add_scalar(c),
        Unary::MulScalar(c) => x.mul_scalar(c),
    }
}

/// `g · [by > 0]`, the ReLU's gate, written into `g`'s buffer when nothing
/// else holds it (`Tensor::try_binary_consuming`).
pub(crate) fn relu_gate(g: Tensor, by: &Tensor) -> Tensor {
    g.try_binary_consuming(BinaryOp::PassWherePositive, by).expect("a gradient has its value's shape")
}

/// Gradient of `y = op(x)` given `g = ∂L/∂y` (consumed: the ReLU's gate may
/// reuse its buffer).
pub(crate) fn unary_backward(op: Unary, x: &Tensor, y: &Tensor, g: Tensor) -> Tensor {
    match op {
        // d(−x)/dx = −1
        Unary::Neg => g.neg(),
        // d(eˣ)/dx = eˣ = y
        Unary::Exp => g * y,
        // d(ln x)/dx = 1/x
        Unary::Log => g / x,
        // d(√x)/dx = 1/(2√x) = 1/(2y)
        Unary::Sqrt => (g / y).mul_scalar(0.5),
        // d|x|/dx = sign(x)
        Unary::Abs => g * x.sign(),
        // d relu(x)/dx = [x > 0]
        Unary::Relu => relu_gate(g, x),
        // d/dx = 1 where x > 0, slope elsewhere: slope + (1 − slope)·[x > 0]
        Unary::LeakyRelu(slope) => g * x.positive_mask().mul_scalar(1.0 - slope).add_scalar(slope),
        // d tanh(x)/dx = 1 − tanh²(x) = 1 − y²
        Unary::Tanh => g * y.square().neg().add_scalar(1.0),
        // dσ/dx = σ(1 − σ) = y(1 − y)
        Unary::Sigmoid => g * (y * y.neg().add_scalar(1.0)),
        // d xᵖ/dx = p·xᵖ⁻¹
        Unary::Powf(p) => g * x.powf(p - 1.0).mul_scalar(p),
        // d clamp(x)/dx = [low < x < high]
        Unary::Clamp(low, high) => g * (x.add_scalar(-low).positive_mask() * x.neg().add_scalar(high).positive_mask()),
        // d(x + c)/dx = 1
        Unary::AddScalar(_) => g,
        // d(c·x)/dx = c
        Unary::MulScalar(c) => g.mul_scalar(c),
    }
}

/// Gradients of `y = a ∘ b` (broadcast) given `g = ∂L/∂y`, reduced back to
/// each operand's shape; `None` where `needs` is false.
pub(crate) fn binary_backward(op: Binary, a: &Tensor, b: &Tensor, g: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
    let grad_a = needs[0].then(|| {
        let full = match op {
            // ∂(a ± b)/∂a = 1
            Binary::Add | Binary::Sub => g.clone(),
            // ∂(a·b)/∂a = b
            Binary::Mul => g * b,
            // ∂(a/b)/∂a = 1/b
            Binary::Div => g / b,
        };
        sum_to(&full, a.shape())
    });
    let grad_b = needs[1].then(|| {
        let full = match op {
            // ∂(a + b)/∂b = 1
            Binary::Add => g.clone(),
            // ∂(a − b)/∂b = −1
            Binary::Sub => g.neg(),
            // ∂(a·b)/∂b = a
            Binary::Mul => g * a,
            // ∂(a/b)/∂b = −a/b²
            Binary::Div => (g * a / b.square()).neg(),
        };
        sum_to(&full, b.shape())
    });
    vec![grad_a, grad_b]
}

impl Var {
    fn unary(&self, op: Unary) -> Var {
        Var::from_op(apply_unary(op, self.value()), Op::Unary(op, self.clone()))
    }

    fn try_binary(&self, op: Binary, rhs: &Var) -> Result<Var> {
        let (a, b) = (self.value(), rhs.value());
        let value = match op {
            Binary::Add => a.try_add(b)?,
            Binary::Sub => a.try_sub(b)?,
            Binary::Mul => a.try_mul(b)?,
            Binary::Div => a.try_div(b)?,
        };
        Ok(Var::from_op(value, Op::Binary(op, self.clone(), rhs.clone())))
    }

    /// `self + rhs`, broadcasting.
    pub fn try_add(&self, rhs: &Var) -> Result<Var> {
        self.try_binary(Binary::Add, rhs)
    }
    /// `self − rhs`, broadcasting.
    pub fn try_sub(&self, rhs: &Var) -> Result<Var> {
        self.try_binary(Binary::Sub, rhs)
    }
    /// `self · rhs`, broadcasting.
    pub fn try_mul(&self, rhs: &Var) -> Result<Var> {
        self.try_binary(Binary::Mul, rhs)
    }
    /// `self / rhs`, broadcasting.
    pub fn try_div(&self, rhs: &Var) -> Result<Var> {
        self.try_binary(Binary::Div, rhs)
    }

    /// `−x`.
    pub fn neg(&self) -> Var {
        self.unary(Unary::Neg)
    }
    /// `eˣ`.
    pub fn exp(&self) -> Var {
        self.unary(Unary::Exp)
    }
    /// `ln x`.
    pub fn log(&self) -> Var {
        self.unary(Unary::Log)
    }
    /// `√x`.
    pub fn sqrt(&self) -> Var {
        self.unary(Unary::Sqrt)
    }
    /// `|x|`.
    pub fn abs(&self) -> Var {
        self.unary(Unary::Abs)
    }
    /// `max(x, 0)`.
    pub fn relu(&self) -> Var {
        self.unary(Unary::Relu)
    }
    /// `x` where positive, `slope·x` elsewhere.
    pub fn leaky_relu(&self, slope: f64) -> Var {
        self.unary(Unary::LeakyRelu(slope))
    }
    /// `tanh x`.
    pub fn tanh(&self) -> Var {
        self.unary(Unary::Tanh)
    }
    /// `1 / (1 + e⁻ˣ)`.
    pub fn sigmoid(&self) -> Var {
        self.unary(Unary::Sigmoid)
    }
    /// `xᵖ`.
    pub fn powf(&self, exponent: f64) -> Var {
        self.unary(Unary::Powf(exponent))
    }
    /// `x²`.
    pub fn square(&self) -> Var {
        self.unary(Unary::Powf(2.0))
    }
    /// `min(max(x, low), high)`.
    pub fn clamp(&self, low: f64, high: f64) -> Var {
        self.unary(Unary::Clamp(low, high))
    }
    /// `x + c`.
    pub fn add_scalar(&self, c: f64) -> Var {
        self.unary(Unary::AddScalar(c))
    }
    /// `c·x`.
    pub fn mul_scalar(&self, c: f64) -> Var {
        self.unary(Unary::MulScalar(c))
    }
}

/// Panics with the tensor error's message (the operators' failure mode).
#[track_caller]
pub(crate) fn expect<T>(result: Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

macro_rules! operator {
    ($trait:ident, $method:ident, $try_fn:ident, $scalar:expr) => {
        impl $trait<&Var> for &Var {
            type Output = Var;
            /// # Panics
            /// If the shapes do not broadcast or the dtypes differ.
            fn $method(self, rhs: &Var) -> Var {
                expect(self.$try_fn(rhs))
            }
        }
        impl $trait<Var> for Var {
            type Output = Var;
            fn $method(self, rhs: Var) -> Var {
                expect(self.$try_fn(&rhs))
            }
        }
        impl $trait<&Var> for Var {
            type Output = Var;
            fn $method(self, rhs: &Var) -> Var {
                expect(self.$try_fn(rhs))
            }
        }
        impl $trait<Var> for &Var {
            type Output = Var;
            fn $method(self, rhs: Var) -> Var {
                expect(self.$try_fn(&rhs))
            }
        }
        impl $trait<f64> for &Var {
            type Output = Var;
            fn $method(self, rhs: f64) -> Var {
                let scalar: fn(&Var, f64) -> Var = $scalar;
                scalar(self, rhs)
            }
        }
        impl $trait<f64> for Var {
            type Output = Var;
            fn $method(self, rhs: f64) -> Var {
                let scalar: fn(&Var, f64) -> Var = $scalar;
                scalar(&self, rhs)
            }
        }
    };
}

operator!(Add, add, try_add, |v, c| v.add_scalar(c));
operator!(Sub, sub, try_sub, |v, c| v.add_scalar(-c));
operator!(Mul, mul, try_mul, |v, c| v.mul_scalar(c));
operator!(Div, div, try_div, |v, c| v.mul_scalar(1.0 / c));

impl Neg for &Var {
    type Output = Var;
    fn neg(self) -> Var {
        Var::neg(self)
    }
}

impl Neg for Var {
    type Output = Var;
    fn neg(self) -> Var {
        Var::neg(&self)
    }
}
