//! fresco's tensor: shared storage plus a strided layout, with ops that
//! dispatch to the `kernels` crate.
//!
//! ```
//! use tensor::{DType, Tensor};
//!
//! let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
//! let b = a.t();                       // a view: no copy
//! let c = a.matmul(&b);                // [2, 2]
//! assert_eq!(c.to_vec::<f32>(), vec![14.0, 32.0, 32.0, 77.0]);
//! let row_sums = (&a * 2.0).sum(&[1], false);
//! assert_eq!(row_sums.to_vec::<f32>(), vec![12.0, 30.0]);
//! assert_eq!(a.to_dtype(DType::BF16).dtype(), DType::BF16);
//! ```
//!
//! Every fallible op has a `try_*` form returning [`TensorError`], which
//! names the op and the shapes; the short form panics with the same message.

mod backend;
mod cuda;
mod dtype;
mod error;
mod layout;
mod ops;
mod random;
mod storage;
mod tensor;

pub use backend::kept_kernels::{kept_kernel_bytes, release_kept_kernels};
pub use dtype::{DType, Device, Element};
pub use error::{Result, TensorError};
pub use kernels::buffer_pool::release_pooled_buffers;
pub use kernels::elementwise::{BinaryOp, UnaryOp};
pub use kernels::padding::{Pad2d, PadMode};
pub use kernels::reduce::ReduceOp;
pub use kernels::upsample::UpsampleMode;
pub use layout::{broadcast_shapes, Layout};
pub use ops::{Conv2dParams, MaxPoolIndices, Pool2dParams};
pub use storage::{FloatElement, Storage};
pub use tensor::Tensor;
