//! Neural-network building blocks for fresco: layers with named, seeded
//! parameters saved as safetensors; VGG-16/19 feature extractors with real
//! or random weights; and the SGD, Adam and L-BFGS optimisers.
//!
//! ```
//! use autograd::Var;
//! use nn::layers::{Activation, Conv2d, Conv2dConfig, Module, Sequential};
//! use nn::optim::{Adam, AdamConfig};
//! use nn::ParamStore;
//! use tensor::{DType, Tensor};
//!
//! let mut store = ParamStore::new(42, DType::F32);
//! let net = Sequential::new()
//!     .with(Conv2d::new(&mut store, "body.0", 3, 8, Conv2dConfig::new(3))?)
//!     .with(Activation::Relu)
//!     .with(Conv2d::new(&mut store, "body.2", 8, 3, Conv2dConfig::new(3))?);
//! let x = Var::constant(Tensor::rand_uniform(&[1, 3, 8, 8], 0.0, 1.0, 1, DType::F32));
//! let target = Var::constant(Tensor::zeros(&[1, 3, 8, 8], DType::F32));
//! let mut adam = Adam::new(AdamConfig { lr: 1e-2, ..Default::default() });
//! let first = net.forward(&x)?.mse(&target).to_scalar();
//! for _ in 0..20 {
//!     let loss = net.forward(&x)?.mse(&target);
//!     adam.step(&store.trainable(), &loss.backward());
//! }
//! assert!(net.forward(&x)?.mse(&target).to_scalar() < first);
//! # Ok::<(), nn::NnError>(())
//! ```

mod error;
pub mod io;
pub mod layers;
pub mod onnx;
pub mod optim;
mod params;
pub mod vgg;

pub use error::{NnError, Result};
pub use params::{Init, Param, ParamStore};
pub use vgg::{InputConvention, Pooling, Vgg, VggInfo, VggKind};
