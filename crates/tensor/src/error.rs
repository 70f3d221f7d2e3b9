//! The error type of every fallible tensor operation. Each variant names the
//! op and the shapes or values involved, so a message stands on its own.

use crate::{DType, Device};

/// What went wrong in a tensor operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorError {
    /// Two shapes cannot be broadcast to a common shape.
    #[error("{op}: shapes {lhs:?} and {rhs:?} cannot be broadcast together")]
    Broadcast {
        /// The operation.
        op: &'static str,
        /// Left operand's shape.
        lhs: Vec<usize>,
        /// Right operand's shape.
        rhs: Vec<usize>,
    },
    /// Shapes that must agree do not.
    #[error("{op}: shapes {lhs:?} and {rhs:?} do not agree: {detail}")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// First shape.
        lhs: Vec<usize>,
        /// Second shape.
        rhs: Vec<usize>,
        /// Which dimensions and why.
        detail: String,
    },
    /// Operands of different dtypes.
    #[error("{op}: dtypes differ ({lhs} vs {rhs}); convert one with to_dtype")]
    DTypeMismatch {
        /// The operation.
        op: &'static str,
        /// First dtype.
        lhs: DType,
        /// Second dtype.
        rhs: DType,
    },
    /// An op asked of a storage-only dtype, or a mismatched element type.
    #[error("{op}: not supported for {dtype} tensors{hint}")]
    UnsupportedDType {
        /// The operation.
        op: &'static str,
        /// The dtype it met.
        dtype: DType,
        /// What to do instead.
        hint: &'static str,
    },
    /// A dimension index past the rank.
    #[error("{op}: dimension {dim} is out of range for shape {shape:?}")]
    DimOutOfRange {
        /// The operation.
        op: &'static str,
        /// The dimension asked for.
        dim: usize,
        /// The tensor's shape.
        shape: Vec<usize>,
    },
    /// A buffer whose length does not match the shape.
    #[error("{op}: shape {shape:?} needs {expected} elements, got {got}")]
    ElementCount {
        /// The operation.
        op: &'static str,
        /// The shape asked for.
        shape: Vec<usize>,
        /// Elements that shape holds.
        expected: usize,
        /// Elements provided.
        got: usize,
    },
    /// Any other invalid argument.
    #[error("{op}: {detail} (shape {shape:?})")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// The tensor's shape.
        shape: Vec<usize>,
        /// What is wrong.
        detail: String,
    },
    /// Operands on different devices.
    #[error("{op}: operands are on different devices ({lhs} and {rhs}); move one with to_device")]
    DeviceMismatch {
        /// The operation.
        op: &'static str,
        /// First operand's device.
        lhs: Device,
        /// The other device.
        rhs: Device,
    },
    /// A device this build or this machine cannot use.
    #[error("{op}: device {device} is not available: {detail}")]
    DeviceUnavailable {
        /// The operation.
        op: &'static str,
        /// The device asked for.
        device: Device,
        /// Why.
        detail: String,
    },
}

/// Result of a tensor operation.
pub type Result<T> = std::result::Result<T, TensorError>;

pub(crate) fn invalid(op: &'static str, shape: &[usize], detail: impl Into<String>) -> TensorError {
    TensorError::invalid_argument(op, shape, detail)
}

impl TensorError {
    /// An [`TensorError::InvalidArgument`]: for ops built on tensors in other
    /// crates, so their errors read like the tensor ops' own.
    pub fn invalid_argument(op: &'static str, shape: &[usize], detail: impl Into<String>) -> TensorError {
        TensorError::InvalidArgument { op, shape: shape.to_vec(), detail: detail.into() }
    }
}

/// Unwraps a tensor result, panicking with the error's message: the panicking
/// twin of every `try_*` method.
#[track_caller]
pub(crate) fn expect<T>(result: Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}
