//! Named parameters: created once with a seeded initialiser, shared by the
//! layer that uses them and the optimiser that updates them, and saved to or
//! loaded from safetensors under their names (`features.0.weight`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use autograd::{Var, VarId};
use tensor::{DType, Tensor};

use crate::error::{NnError, Result};
use crate::io::{write_safetensors, TensorFile};

/// How a new parameter's values are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros (biases, batch-norm shifts, running means).
    Zeros,
    /// All ones (norm scales, running variances).
    Ones,
    /// Normal with a mean and a standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Kaiming/He normal for layers followed by (leaky) ReLU:
    /// `std = gain / √fan_in`, `gain = √(2 / (1 + slope²))`.
    KaimingNormal {
        /// Negative slope of the following leaky ReLU (0 for ReLU).
        slope: f64,
    },
    /// Xavier/Glorot uniform: `U(−a, a)`, `a = √(6 / (fan_in + fan_out))`.
    XavierUniform,
}

/// Fan-in and fan-out of a weight: `[out, in, k…]` (PyTorch's convention;
/// a transposed convolution's `[in, out, k…]` swaps them, which the two
/// schemes here tolerate).
fn fans(shape: &[usize]) -> (usize, usize) {
    let receptive: usize = shape.iter().skip(2).product();
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [out, input, ..] => (input * receptive, out * receptive),
    }
}

impl Init {
    /// A tensor of `shape` drawn with `seed`.
    pub fn tensor(self, shape: &[usize], seed: u64, dtype: DType) -> Tensor {
        let (fan_in, fan_out) = fans(shape);
        match self {
            Init::Zeros => Tensor::zeros(shape, dtype),
            Init::Ones => Tensor::ones(shape, dtype),
            Init::Normal { mean, std } => Tensor::randn(shape, mean, std, seed, dtype),
            Init::KaimingNormal { slope } => {
                let gain = (2.0 / (1.0 + slope * slope)).sqrt();
                Tensor::randn(shape, 0.0, gain / (fan_in.max(1) as f64).sqrt(), seed, dtype)
            }
            Init::XavierUniform => {
                let a = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
                Tensor::rand_uniform(shape, -a, a, seed, dtype)
            }
        }
    }
}

/// A named parameter (or a non-trainable buffer such as a running mean),
/// shared between its layer, its store and the optimiser.
#[derive(Clone)]
pub struct Param {
    name: Arc<str>,
    trainable: bool,
    var: Arc<Mutex<Var>>,
}

impl Param {
    /// The current value as a var for a forward pass: a parameter when
    /// trainable, a constant otherwise.
    pub fn var(&self) -> Var {
        self.var.lock().expect("parameter lock poisoned").clone()
    }

    /// The current value.
    pub fn value(&self) -> Tensor {
        self.var().value().clone()
    }

    /// Replaces the value (optimiser steps, loading); the id stays, so
    /// gradients computed from earlier vars still find this parameter.
    pub fn set(&self, value: Tensor) {
        self.var.lock().expect("parameter lock poisoned").set_value(value);
    }

    /// The id gradients are keyed by.
    pub fn id(&self) -> VarId {
        self.var().id()
    }

    /// The name (`features.0.weight`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True for parameters the optimiser updates (false for buffers).
    pub fn trainable(&self) -> bool {
        self.trainable
    }

    /// The value's shape.
    pub fn shape(&self) -> Vec<usize> {
        self.var().shape().to_vec()
    }
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param({}, {:?}, trainable: {})", self.name, self.shape(), self.trainable)
    }
}

/// FNV-1a of a name: each parameter's seed depends on its name, not on the
/// order layers are built in.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// All parameters of a model, by name.
pub struct ParamStore {
    params: BTreeMap<String, Param>,
    seed: u64,
    dtype: DType,
}

impl ParamStore {
    /// An empty store whose initialisers draw from `seed`.
    pub fn new(seed: u64, dtype: DType) -> ParamStore {
        ParamStore { params: BTreeMap::new(), seed, dtype }
    }

    /// The compute dtype of new parameters.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    fn get_or_create(&mut self, name: &str, shape: &[usize], init: Init, trainable: bool) -> Result<Param> {
        if let Some(existing) = self.params.get(name) {
            if existing.shape() != shape {
                return Err(NnError::ParameterShape {
                    name: name.to_string(),
                    existing: existing.shape(),
                    requested: shape.to_vec(),
                });
            }
            return Ok(existing.clone());
        }
        let value = init.tensor(shape, self.seed ^ name_hash(name), self.dtype);
        let var = if trainable { Var::parameter(value) } else { Var::constant(value) };
        let param = Param { name: name.into(), trainable, var: Arc::new(Mutex::new(var)) };
        self.params.insert(name.to_string(), param.clone());
        Ok(param)
    }

    /// The trainable parameter `name`, created with `init` if new.
    ///
    /// Fails if it exists (say, loaded from a file) with another shape.
    pub fn param(&mut self, name: &str, shape: &[usize], init: Init) -> Result<Param> {
        self.get_or_create(name, shape, init, true)
    }

    /// The non-trainable buffer `name` (running statistics), created if new.
    pub fn buffer(&mut self, name: &str, shape: &[usize], init: Init) -> Result<Param> {
        self.get_or_create(name, shape, init, false)
    }

    /// Moves every parameter and buffer to `device`.
    pub fn to_device(&self, device: tensor::Device) -> Result<()> {
        for param in self.params.values() {
            param.set(param.value().try_to_device(device)?);
        }
        Ok(())
    }

    /// Every parameter and buffer, by name.
    pub fn all(&self) -> impl Iterator<Item = &Param> {
        self.params.values()
    }

    /// The trainable parameters, by name.
    pub fn trainable(&self) -> Vec<Param> {
        self.params.values().filter(|p| p.trainable).cloned().collect()
    }

    /// Number of scalar values in trainable parameters.
    pub fn trainable_count(&self) -> usize {
        self.trainable().iter().map(|p| p.shape().iter().product::<usize>()).sum()
    }

    /// The values by name (what [`ParamStore::save`] writes).
    pub fn values(&self) -> BTreeMap<String, Tensor> {
        self.params.iter().map(|(name, p)| (name.clone(), p.value())).collect()
    }

    /// Saves every parameter and buffer, with `metadata`, atomically.
    pub fn save(&self, path: &Path, metadata: &HashMap<String, String>) -> Result<()> {
        write_safetensors(path, &self.values(), metadata)
    }

    /// Replaces the values of the existing parameters with those in `file`;
    /// every parameter must be there with its shape (extra entries in the
    /// file are allowed: checkpoints hold optimiser state too).
    pub fn load_from(&self, file: &TensorFile) -> Result<()> {
        for (name, param) in &self.params {
            let device = param.value().device();
            param.set(file.take(name, &param.shape(), self.dtype)?.try_to_device(device)?);
        }
        Ok(())
    }
}
