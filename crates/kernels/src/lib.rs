//! fresco's compute kernels over slices and strides.
//!
//! Nothing here knows about tensors: every kernel takes slices plus the
//! geometry it needs (shapes, strides, convolution parameters), so each can be
//! tested against a naive reference and benchmarked on its own. CPU kernels
//! are SIMD (`wide`, the widest vectors the build target has) and parallel
//! (`rayon`).
//!
//! | module | what |
//! | --- | --- |
//! | [`gemm`] | `C = αAB + βC`, packed, cache-blocked, register-tiled |
//! | [`conv`] | 2-D convolution and its two gradients, as implicit-im2col GEMMs |
//! | [`pooling`] | max (with indices) and average pooling |
//! | [`upsample`] | nearest and bilinear upsampling |
//! | [`padding`] | zero, reflection and replication padding |
//! | [`elementwise`] | unary and broadcasting binary ops |
//! | [`reduce`] | sum, max, min over any axes |
//! | [`convert`] | f16/bf16 ⇄ f32 |
//! | [`buffer_pool`] | reuse of large buffers across passes |
//! | [`cuda`] | devices, NVRTC compilation, the shared CUDA header |
//!
//! Each op family that runs on the GPU keeps its three parts in its folder:
//! the CPU kernel (`mod.rs`), the CUDA C (`<family>.cu`) and its launcher
//! (`cuda_kernel.rs`, methods on [`cuda::CudaDevice`]).

pub mod buffer_pool;
pub mod conv;
pub mod convert;
pub mod cuda;
pub mod element;
pub mod elementwise;
pub mod gemm;
pub mod padding;
pub mod pooling;
pub mod reduce;
pub mod scratch;
pub mod strided;
pub mod upsample;

pub use element::{Float, SimdVector};
