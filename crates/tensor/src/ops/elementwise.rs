//! Element-wise ops as methods and operators, with NumPy broadcasting, and
//! the consuming binary form that may write into its left operand.

use std::ops::{Add, Div, Mul, Neg, Sub};

use std::sync::Arc;

use kernels::elementwise::{BinaryOp, UnaryOp};

use crate::backend::on_device;
use crate::storage::Storage;
use crate::Device;

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

    /// What the consuming ops need, but for their shapes and for nobody
    /// else holding the buffer (`Arc::get_mut`, checked where it is
    /// written): both operands in host memory with one dtype, and `self`
    /// contiguous over its whole buffer.
    fn can_write_in_place_beside(&self, rhs: &Tensor) -> bool {
        self.dtype() == rhs.dtype()
            && self.device() == Device::Cpu
            && rhs.device() == Device::Cpu
            && self.layout.is_contiguous()
            && self.layout.offset() == 0
            && self.numel() == self.storage.len()
    }

    /// [`Tensor::try_binary`] that consumes its left operand and, where it
    /// can, writes the result into that operand's buffer instead of a new
    /// one: when nothing else holds the buffer (no other tensor, view or
    /// weak reference: `Arc::get_mut`), the tensor is f32 or f64,
    /// contiguous, in host memory and covers its whole buffer, `rhs` is in
    /// host memory with the same dtype, and the result has the left
    /// operand's shape (`rhs` broadcasts to it). Otherwise it is
    /// `try_binary`. The values are the same either way (the same kernels,
    /// vector and scalar alike); only the memory differs. Autograd's backward pass
    /// uses it for gradients it is about to replace.
    pub fn try_binary_consuming(mut self, op: BinaryOp, rhs: &Tensor) -> Result<Tensor> {
        let shape = self.layout.shape().to_vec();
        let fits = self.can_write_in_place_beside(rhs)
            && broadcast_shapes(binary_name(op), &shape, rhs.shape()).is_ok_and(|joint| joint == shape);
        if fits {
            let rhs = rhs.try_broadcast_to(&shape)?;
            if let Some(storage) = Arc::get_mut(&mut self.storage) {
                match storage {
                    Storage::F32(values) => {
                        kernels::elementwise::binary_assign(op, &shape, values, rhs.strided::<f32>());
                        return Ok(self);
                    }
                    Storage::F64(values) => {
                        kernels::elementwise::binary_assign(op, &shape, values, rhs.strided::<f64>());
                        return Ok(self);
                    }
                    _ => {}
                }
            }
        }
        self.try_binary(op, rhs)
    }

    /// `self + scale·x` (an axpy), consuming `self` and, under the conditions
    /// of [`Tensor::try_binary_consuming`] with `x` of `self`'s shape and
    /// contiguous too, computed in `self`'s buffer in one pass instead of
    /// two ops and two new buffers. The values equal `self + x.mul_scalar(scale)`
    /// bit for bit either way (the product is rounded before the sum).
    ///
    /// # Errors
    /// If the dtypes differ, the shapes do not broadcast (named `add`), or
    /// the dtype is storage-only.
    pub fn try_add_scaled_consuming(mut self, x: &Tensor, scale: f64) -> Result<Tensor> {
        if self.dtype() != x.dtype() {
            return Err(TensorError::DTypeMismatch { op: "add_scaled", lhs: self.dtype(), rhs: x.dtype() });
        }
        if self.can_write_in_place_beside(x) && self.shape() == x.shape() && x.layout.is_contiguous() {
            if let Some(storage) = Arc::get_mut(&mut self.storage) {
                match storage {
                    Storage::F32(values) => {
                        kernels::elementwise::add_scaled_assign(values, x.contiguous_data::<f32>(), scale as f32);
                        return Ok(self);
                    }
                    Storage::F64(values) => {
                        kernels::elementwise::add_scaled_assign(values, x.contiguous_data::<f64>(), scale);
                        return Ok(self);
                    }
                    _ => {}
                }
            }
        }
        self.try_add(&x.try_unary(UnaryOp::MulScalar(scale))?)
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const OPS: [BinaryOp; 10] = BinaryOp::ALL;

    fn buffer_address(t: &Tensor) -> usize {
        Arc::as_ptr(&t.storage) as usize
    }

    proptest! {
        /// In place or not, the values are `try_binary`'s: same-shape, row,
        /// column, scalar, offset (narrowed) and transposed right operands,
        /// values with ties and signed zeros, f32 and f64, and sizes past the
        /// kernels' parallel threshold.
        #[test]
        fn consuming_binary_ops_give_try_binary_values(
            rows in 1usize..6, cols in 1usize..40, big in any::<bool>(), op in 0usize..10,
            rhs_kind in 0usize..6, f64_values in any::<bool>(), seed in 0u64..1000,
        ) {
            let op = OPS[op];
            let cols = if big { cols + 20_000 } else { cols };
            // Small integers with ties between the operands, and ±0; Div's
            // right operand avoids zero.
            let value = |i: usize| {
                let v = ((i as u64).wrapping_mul(2654435761).wrapping_add(seed) % 7) as f64 - 3.0;
                if v == 0.0 && i % 2 == 0 { -0.0 } else { v }
            };
            let rhs_value = |i: usize| if op == BinaryOp::Div && value(i + 3) == 0.0 { 0.5 } else { value(i + 3) };
            let make = |values: Vec<f64>, shape: &[usize]| {
                let t = Tensor::from_vec(values, shape);
                if f64_values { t } else { t.to_dtype(crate::DType::F32) }
            };
            let lhs = make((0..rows * cols).map(value).collect(), &[rows, cols]);
            let rhs = match rhs_kind {
                0 => make((0..rows * cols).map(rhs_value).collect(), &[rows, cols]),
                1 => make((0..cols).map(rhs_value).collect(), &[cols]),
                2 => make((0..rows).map(rhs_value).collect(), &[rows, 1]),
                3 => make(vec![rhs_value(0)], &[1]),
                // A view at an offset into a larger buffer.
                4 => make((0..(rows + 1) * cols).map(rhs_value).collect(), &[rows + 1, cols]).narrow(0, 1, rows),
                // A transposed view: stride 1 along the rows, not the columns.
                _ => make((0..rows * cols).map(rhs_value).collect(), &[cols, rows]).permute(&[1, 0]),
            };
            let as_f64 = |t: &Tensor| t.to_dtype(crate::DType::F64).to_vec::<f64>();
            let expected = as_f64(&lhs.try_binary(op, &rhs).unwrap());
            let address = buffer_address(&lhs);
            let result = lhs.try_binary_consuming(op, &rhs).unwrap();
            prop_assert_eq!(buffer_address(&result), address, "a buffer nothing else holds is reused");
            let got = as_f64(&result);
            // Bit for bit, signed zeros included.
            prop_assert!(got.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits()), "{:?} against {:?}", got, expected);
        }
    }

    #[test]
    fn left_operands_that_are_views_are_not_written_in_place() {
        let rhs = Tensor::from_vec(vec![1.0f32, 10.0, 100.0, 1000.0], &[2, 2]);
        // Transposed and held by nothing else: not contiguous, so a new buffer.
        let transposed = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).permute(&[1, 0]);
        let address = buffer_address(&transposed);
        let sum = transposed.try_binary_consuming(BinaryOp::Add, &rhs).unwrap();
        assert_ne!(buffer_address(&sum), address);
        assert_eq!(sum.to_vec::<f32>(), [2.0, 13.0, 102.0, 1004.0]);
        // Part of a buffer held by nothing else: not the whole buffer.
        let part = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]).narrow(0, 1, 2);
        let address = buffer_address(&part);
        let product = part.try_binary_consuming(BinaryOp::Mul, &rhs).unwrap();
        assert_ne!(buffer_address(&product), address);
        assert_eq!(product.to_vec::<f32>(), [3.0, 40.0, 500.0, 6000.0]);
    }

    #[test]
    fn a_shared_buffer_is_never_written() {
        let lhs = Tensor::from_vec(vec![1.0f64, -2.0, 3.0], &[3]);
        let rhs = Tensor::from_vec(vec![10.0f64, 10.0, 10.0], &[3]);
        // Another tensor holds the buffer: a new one is made, the other keeps its values.
        let other = lhs.clone();
        let sum = lhs.try_binary_consuming(BinaryOp::Add, &rhs).unwrap();
        assert_eq!(sum.to_vec::<f64>(), [11.0, 8.0, 13.0]);
        assert_eq!(other.to_vec::<f64>(), [1.0, -2.0, 3.0]);
        assert!(!sum.shares_storage_with(&other));
        // A view of part of a buffer, and an operand that broadcasts the left one.
        let view = other.narrow(0, 1, 2);
        let gated = view.try_binary_consuming(BinaryOp::PassWherePositive, &rhs.narrow(0, 0, 2)).unwrap();
        assert_eq!(gated.to_vec::<f64>(), [-2.0, 3.0]);
        assert_eq!(other.to_vec::<f64>(), [1.0, -2.0, 3.0]);
        let row = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
        let grown = row.try_binary_consuming(BinaryOp::Mul, &Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]));
        assert_eq!(grown.unwrap().to_vec::<f64>(), [1.0, 4.0, 3.0, 8.0]);
        // The left operand as its own right operand.
        let twice = Tensor::from_vec(vec![2.0f32, 5.0], &[2]);
        let alias = twice.clone();
        assert_eq!(twice.try_binary_consuming(BinaryOp::Mul, &alias).unwrap().to_vec::<f32>(), [4.0, 25.0]);
        assert_eq!(alias.to_vec::<f32>(), [2.0, 5.0]);
    }
}
