//! The [`Tensor`] type: shared storage plus a layout. Cloning a tensor and
//! taking views are O(1); data is copied only by ops that make new values and
//! by [`Tensor::contiguous`] on a non-contiguous view.

use std::fmt;
use std::sync::Arc;

use half::{bf16, f16};
use kernels::buffer_pool::PooledVec;
use kernels::strided::Strided;

use crate::error::{expect, invalid, Result, TensorError};
use crate::layout::Layout;
use crate::random::{standard_normal, unit_uniform};
use crate::storage::{FloatElement, Storage};
use crate::{DType, Device, Element};

/// An n-dimensional array of numbers on a device.
#[derive(Clone)]
pub struct Tensor {
    pub(crate) storage: Arc<Storage>,
    pub(crate) layout: Layout,
}

/// Runs `$body` with `$T` bound to the tensor's compute type (f32 or f64), or
/// returns `UnsupportedDType` for storage-only dtypes.
macro_rules! with_float {
    ($dtype:expr, $op:expr, |$T:ident| $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            other => Err($crate::TensorError::UnsupportedDType {
                op: $op,
                dtype: other,
                hint: "; convert to f32 or f64 with to_dtype first",
            }),
        }
    };
}
pub(crate) use with_float;

impl Tensor {
    pub(crate) fn from_storage(storage: Storage, shape: &[usize]) -> Tensor {
        debug_assert_eq!(storage.len(), shape.iter().product::<usize>());
        Tensor { storage: Arc::new(storage), layout: Layout::contiguous(shape) }
    }

    pub(crate) fn from_buffer<T: FloatElement>(buffer: PooledVec<T>, shape: &[usize]) -> Tensor {
        Self::from_storage(T::wrap(buffer), shape)
    }

    /// A new contiguous tensor of `shape` whose values `fill` writes.
    pub(crate) fn build<T: FloatElement>(shape: &[usize], fill: impl FnOnce(&mut [T])) -> Tensor {
        let mut buffer = PooledVec::<T>::uninit_contents(shape.iter().product());
        fill(&mut buffer);
        Self::from_buffer(buffer, shape)
    }

    /// The whole storage as a slice of `T` (the caller checked the dtype).
    pub(crate) fn data<T: FloatElement>(&self) -> &[T] {
        T::slice(&self.storage).expect("dtype checked by the caller")
    }

    /// This tensor as a strided kernel operand.
    pub(crate) fn strided<T: FloatElement>(&self) -> Strided<'_, T> {
        Strided { data: self.data::<T>(), offset: self.layout.offset, strides: &self.layout.strides }
    }

    /// The values of a contiguous tensor (the caller made it contiguous).
    pub(crate) fn contiguous_data<T: FloatElement>(&self) -> &[T] {
        debug_assert!(self.layout.is_contiguous());
        let start = self.layout.offset;
        &self.data::<T>()[start..start + self.numel()]
    }

    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor { storage: Arc::clone(&self.storage), layout }
    }

    // ---- creation -------------------------------------------------------

    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Tensor {
        let n = shape.iter().product();
        let storage = match dtype {
            DType::F32 => Storage::F32(PooledVec::filled(n, value as f32)),
            DType::F64 => Storage::F64(PooledVec::filled(n, value)),
            DType::F16 => Storage::F16(vec![f16::from_f64(value); n]),
            DType::BF16 => Storage::BF16(vec![bf16::from_f64(value); n]),
        };
        Self::from_storage(storage, shape)
    }

    /// Zeros.
    pub fn zeros(shape: &[usize], dtype: DType) -> Tensor {
        Self::full(shape, 0.0, dtype)
    }

    /// Ones.
    pub fn ones(shape: &[usize], dtype: DType) -> Tensor {
        Self::full(shape, 1.0, dtype)
    }

    /// Zeros with this tensor's shape, dtype and device.
    pub fn zeros_like(&self) -> Tensor {
        self.new_full(self.shape(), 0.0)
    }

    /// Ones with this tensor's shape, dtype and device.
    pub fn ones_like(&self) -> Tensor {
        self.new_full(self.shape(), 1.0)
    }

    /// A tensor of `shape` filled with `value`, with this tensor's dtype and
    /// on its device (what gradient rules use to make new values).
    ///
    /// # Panics
    /// If the device fails (it held this tensor a moment ago).
    pub fn new_full(&self, shape: &[usize], value: f64) -> Tensor {
        expect(crate::backend::on_device("full", &[self], |backend| backend.full_like(self, shape, value)))
    }

    /// This tensor on the host (itself when it is there already).
    pub fn try_to_cpu(&self) -> Result<Tensor> {
        match self.cuda_storage() {
            Some(_) => crate::cuda::download(self),
            None => Ok(self.clone()),
        }
    }

    /// A rank-0 tensor holding `value`.
    pub fn scalar(value: f64, dtype: DType) -> Tensor {
        Self::full(&[], value, dtype)
    }

    /// A tensor owning `values`, laid out row-major as `shape`.
    pub fn try_from_vec<E: Element>(values: Vec<E>, shape: &[usize]) -> Result<Tensor> {
        let expected: usize = shape.iter().product();
        if values.len() != expected {
            return Err(TensorError::ElementCount {
                op: "from_vec",
                shape: shape.to_vec(),
                expected,
                got: values.len(),
            });
        }
        // Re-type the vector through the dtype tag (E is one of the four types).
        let any: Box<dyn std::any::Any> = Box::new(values);
        let storage = match E::DTYPE {
            DType::F32 => Storage::F32(PooledVec::from_vec(*any.downcast::<Vec<f32>>().expect("dtype tag"))),
            DType::F64 => Storage::F64(PooledVec::from_vec(*any.downcast::<Vec<f64>>().expect("dtype tag"))),
            DType::F16 => Storage::F16(*any.downcast::<Vec<f16>>().expect("dtype tag")),
            DType::BF16 => Storage::BF16(*any.downcast::<Vec<bf16>>().expect("dtype tag")),
        };
        Ok(Self::from_storage(storage, shape))
    }

    /// As [`Tensor::try_from_vec`].
    ///
    /// # Panics
    /// If `values.len()` is not the product of `shape`.
    pub fn from_vec<E: Element>(values: Vec<E>, shape: &[usize]) -> Tensor {
        expect(Self::try_from_vec(values, shape))
    }

    /// `0, 1, …, n-1`.
    pub fn arange(n: usize, dtype: DType) -> Tensor {
        Self::from_fn(&[n], dtype, |i| i as f64)
    }

    /// A tensor whose element at flat (row-major) index `i` is `f(i)`.
    pub fn from_fn(shape: &[usize], dtype: DType, f: impl Fn(usize) -> f64) -> Tensor {
        let n: usize = shape.iter().product();
        match dtype {
            DType::F32 => {
                Self::build::<f32>(shape, |out| out.iter_mut().enumerate().for_each(|(i, v)| *v = f(i) as f32))
            }
            DType::F64 => Self::build::<f64>(shape, |out| out.iter_mut().enumerate().for_each(|(i, v)| *v = f(i))),
            DType::F16 => Self::from_storage(Storage::F16((0..n).map(|i| f16::from_f64(f(i))).collect()), shape),
            DType::BF16 => Self::from_storage(Storage::BF16((0..n).map(|i| bf16::from_f64(f(i))).collect()), shape),
        }
    }

    /// Uniform values in `[low, high)`, a pure function of `seed` and the shape.
    pub fn rand_uniform(shape: &[usize], low: f64, high: f64, seed: u64, dtype: DType) -> Tensor {
        Self::from_fn(shape, dtype, |i| low + (high - low) * unit_uniform(seed, i as u64))
    }

    /// Normal values with `mean` and `std`, a pure function of `seed` and the shape.
    pub fn randn(shape: &[usize], mean: f64, std: f64, seed: u64, dtype: DType) -> Tensor {
        Self::from_fn(shape, dtype, |i| mean + std * standard_normal(seed, i as u64))
    }

    // ---- inspection -----------------------------------------------------

    /// The dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.layout.shape
    }

    /// The dimensions (alias of [`Tensor::shape`]).
    pub fn dims(&self) -> &[usize] {
        &self.layout.shape
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.layout.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.storage.dtype()
    }

    /// The device holding the storage.
    pub fn device(&self) -> Device {
        self.storage.device()
    }

    /// The layout (shape, strides, offset).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Element strides per dimension.
    pub fn strides(&self) -> &[usize] {
        &self.layout.strides
    }

    /// True when the elements are row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// True when both tensors are views of the same storage.
    pub fn shares_storage_with(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// Storage offset of the element at `index`.
    fn offset_of(&self, index: &[usize]) -> Result<usize> {
        if index.len() != self.rank() || index.iter().zip(self.shape()).any(|(&i, &n)| i >= n) {
            return Err(invalid("get", self.shape(), format!("index {index:?} is out of bounds")));
        }
        Ok(self.layout.offset + index.iter().zip(&self.layout.strides).map(|(i, s)| i * s).sum::<usize>())
    }

    /// The element at `index`, as f64.
    pub fn try_get(&self, index: &[usize]) -> Result<f64> {
        if self.cuda_storage().is_some() {
            return self.try_to_cpu()?.try_get(index);
        }
        Ok(self.storage.get_f64(self.offset_of(index)?))
    }

    /// As [`Tensor::try_get`].
    ///
    /// # Panics
    /// If `index` is out of bounds.
    pub fn get(&self, index: &[usize]) -> f64 {
        expect(self.try_get(index))
    }

    /// The value of a one-element tensor, as f64.
    pub fn try_to_scalar(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(invalid("to_scalar", self.shape(), "tensor does not hold exactly one element"));
        }
        if self.cuda_storage().is_some() {
            return self.try_to_cpu()?.try_to_scalar();
        }
        Ok(self.storage.get_f64(self.layout.offset))
    }

    /// As [`Tensor::try_to_scalar`].
    ///
    /// # Panics
    /// If the tensor does not hold exactly one element.
    pub fn to_scalar(&self) -> f64 {
        expect(self.try_to_scalar())
    }

    /// The elements in row-major order, as `E` (which must be the dtype).
    pub fn try_to_vec<E: Element>(&self) -> Result<Vec<E>> {
        if E::DTYPE != self.dtype() {
            return Err(TensorError::DTypeMismatch { op: "to_vec", lhs: self.dtype(), rhs: E::DTYPE });
        }
        // A contiguous f32 or f64 tensor on the host is copied as it is
        // (not element by element through f64).
        if self.cuda_storage().is_none() && self.is_contiguous() {
            let copied: Option<Box<dyn std::any::Any>> = match self.dtype() {
                DType::F32 => Some(Box::new(self.contiguous_data::<f32>().to_vec())),
                DType::F64 => Some(Box::new(self.contiguous_data::<f64>().to_vec())),
                _ => None,
            };
            if let Some(Ok(values)) = copied.map(|c| c.downcast::<Vec<E>>()) {
                return Ok(*values);
            }
        }
        let values = self.to_f64_vec();
        Ok(values.into_iter().map(E::from_f64).collect())
    }

    /// As [`Tensor::try_to_vec`].
    ///
    /// # Panics
    /// If `E` is not the tensor's dtype.
    pub fn to_vec<E: Element>(&self) -> Vec<E> {
        expect(self.try_to_vec())
    }

    /// The elements in row-major order, converted to f64 (any dtype).
    ///
    /// # Panics
    /// If the tensor is on a device that fails to copy it back.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        if self.cuda_storage().is_some() {
            return expect(self.try_to_cpu()).to_f64_vec();
        }
        let mut out = Vec::with_capacity(self.numel());
        self.for_each_offset(|offset| out.push(self.storage.get_f64(offset)));
        out
    }

    /// Calls `f` with the storage offset of every element, row-major.
    pub(crate) fn for_each_offset(&self, mut f: impl FnMut(usize)) {
        if self.numel() == 0 {
            return;
        }
        let shape = self.shape();
        let mut index = vec![0usize; shape.len()];
        let mut offset = self.layout.offset;
        loop {
            f(offset);
            let mut d = shape.len();
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                index[d] += 1;
                offset += self.layout.strides[d];
                if index[d] < shape[d] {
                    break;
                }
                offset -= self.layout.strides[d] * shape[d];
                index[d] = 0;
            }
        }
    }

    // ---- layout ---------------------------------------------------------

    /// This tensor if contiguous, else a contiguous copy.
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            return self.clone();
        }
        expect(crate::backend::on_device("contiguous", &[self], |b| b.contiguous_copy(self)))
    }

    /// The tensor converted to `dtype` (this tensor itself when it already is).
    ///
    /// Device tensors hold f32: converting one to another dtype brings the
    /// result to the host.
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype() {
            return self.clone();
        }
        if self.cuda_storage().is_some() {
            return expect(self.try_to_cpu()).to_dtype(dtype);
        }
        let source = self.contiguous();
        let shape = self.shape();
        let start = source.layout.offset;
        let range = start..start + source.numel();
        let storage = match (&*source.storage, dtype) {
            (Storage::F32(v), DType::F64) => {
                Storage::F64(PooledVec::from_vec(v[range].iter().map(|&x| x as f64).collect()))
            }
            (Storage::F64(v), DType::F32) => {
                Storage::F32(PooledVec::from_vec(v[range].iter().map(|&x| x as f32).collect()))
            }
            (Storage::F32(v), DType::F16) => {
                let mut out = vec![f16::ZERO; range.len()];
                kernels::convert::f32_to_f16(&v[range], &mut out);
                Storage::F16(out)
            }
            (Storage::F32(v), DType::BF16) => {
                let mut out = vec![bf16::ZERO; range.len()];
                kernels::convert::f32_to_bf16(&v[range], &mut out);
                Storage::BF16(out)
            }
            (Storage::F16(v), DType::F32) => {
                let mut out = PooledVec::uninit_contents(range.len());
                kernels::convert::f16_to_f32(&v[range], &mut out);
                Storage::F32(out)
            }
            (Storage::BF16(v), DType::F32) => {
                let mut out = PooledVec::uninit_contents(range.len());
                kernels::convert::bf16_to_f32(&v[range], &mut out);
                Storage::F32(out)
            }
            // The remaining pairs go through f32 (f16/bf16 are exact in f32).
            _ => return source.to_dtype(DType::F32).to_dtype(dtype),
        };
        Self::from_storage(storage, shape)
    }

    /// The tensor on `device` (a copy when it moves; itself when it is
    /// there already). Device tensors hold f32.
    pub fn try_to_device(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        let host = self.try_to_cpu()?;
        match device {
            Device::Cpu => Ok(host),
            Device::Cuda(ordinal) => crate::cuda::upload(&host, &crate::cuda::open("to_device", ordinal)?),
        }
    }

    /// As [`Tensor::try_to_device`].
    ///
    /// # Panics
    /// If the device is not available or the dtype is not f32.
    pub fn to_device(&self, device: Device) -> Tensor {
        expect(self.try_to_device(device))
    }

    /// The storage slice of a contiguous tensor of compute dtype `T`.
    ///
    /// Returns an error when the dtype differs.
    pub fn try_as_slice<T: FloatElement>(&self) -> Result<&[T]> {
        if T::DTYPE != self.dtype() || !self.is_contiguous() || self.cuda_storage().is_some() {
            return Err(invalid(
                "as_slice",
                self.shape(),
                format!(
                    "needs a contiguous {} tensor, have {} (contiguous: {})",
                    T::DTYPE,
                    self.dtype(),
                    self.is_contiguous()
                ),
            ));
        }
        Ok(self.contiguous_data::<T>())
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor[{:?}, {}, {}]", self.shape(), self.dtype(), self.device())?;
        if self.numel() <= 16 {
            write!(f, " {:?}", self.to_f64_vec())?;
        }
        Ok(())
    }
}
