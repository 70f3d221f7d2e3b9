//! The buffers behind tensors. Compute dtypes live in pooled buffers (see
//! `kernels::buffer_pool`), so dropping a tensor recycles its memory for the
//! next one of similar size.

use std::sync::Arc;

use half::{bf16, f16};
use kernels::buffer_pool::PooledVec;
use kernels::cuda::{CudaDevice, DeviceBuffer};

use crate::{DType, Device};

/// A device buffer and the device that owns it.
#[derive(Clone)]
pub struct CudaStorage {
    pub(crate) device: Arc<CudaDevice>,
    pub(crate) buffer: Arc<DeviceBuffer>,
}

impl std::fmt::Debug for CudaStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaStorage(cuda:{}, {} values)", self.device.ordinal(), self.buffer.len())
    }
}

/// A tensor's backing memory.
#[derive(Debug, Clone)]
pub enum Storage {
    /// f32 values in host memory.
    F32(PooledVec<f32>),
    /// f64 values in host memory.
    F64(PooledVec<f64>),
    /// f16 values in host memory.
    F16(Vec<f16>),
    /// bf16 values in host memory.
    BF16(Vec<bf16>),
    /// f32 values on a CUDA device.
    Cuda(CudaStorage),
}

impl Storage {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Storage::F32(_) => DType::F32,
            Storage::F64(_) => DType::F64,
            Storage::F16(_) => DType::F16,
            Storage::BF16(_) => DType::BF16,
            Storage::Cuda(_) => DType::F32,
        }
    }

    /// Where the memory lives.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cuda(s) => Device::Cuda(s.device.ordinal()),
            _ => Device::Cpu,
        }
    }

    /// Element count.
    pub fn len(&self) -> usize {
        match self {
            Storage::F32(v) => v.len(),
            Storage::F64(v) => v.len(),
            Storage::F16(v) => v.len(),
            Storage::BF16(v) => v.len(),
            Storage::Cuda(s) => s.buffer.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as f64 (host storage; device tensors are brought to the
    /// host first by the callers).
    pub(crate) fn get_f64(&self, i: usize) -> f64 {
        match self {
            Storage::F32(v) => v[i] as f64,
            Storage::F64(v) => v[i],
            Storage::F16(v) => v[i].to_f64(),
            Storage::BF16(v) => v[i].to_f64(),
            Storage::Cuda(_) => unreachable!("device storage is read through Tensor::to_cpu"),
        }
    }
}

/// A compute element type: the link between [`Storage`] variants and the
/// generic kernels.
pub trait FloatElement: kernels::gemm::GemmFloat + kernels::buffer_pool::Poolable + crate::Element {
    /// The values of `storage`, if it holds this type.
    fn slice(storage: &Storage) -> Option<&[Self]>;
    /// Wraps a buffer of this type.
    fn wrap(buffer: PooledVec<Self>) -> Storage;
}

impl FloatElement for f32 {
    fn slice(storage: &Storage) -> Option<&[f32]> {
        match storage {
            Storage::F32(v) => Some(v),
            _ => None,
        }
    }
    fn wrap(buffer: PooledVec<f32>) -> Storage {
        Storage::F32(buffer)
    }
}

impl FloatElement for f64 {
    fn slice(storage: &Storage) -> Option<&[f64]> {
        match storage {
            Storage::F64(v) => Some(v),
            _ => None,
        }
    }
    fn wrap(buffer: PooledVec<f64>) -> Storage {
        Storage::F64(buffer)
    }
}
