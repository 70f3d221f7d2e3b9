//! Adam (Kingma & Ba), with bias correction and optional L2 weight decay,
//! as `torch.optim.Adam` computes it. Its state can be saved and restored,
//! so an interrupted training run resumes exactly.

use std::collections::{BTreeMap, HashMap};

use autograd::Gradients;
use tensor::Tensor;

use super::gradient_of;
use crate::error::{NnError, Result};
use crate::params::Param;

/// Adam's hyper-parameters.
#[derive(Clone, Copy, Debug)]
pub struct AdamConfig {
    /// Step size.
    pub lr: f64,
    /// Decay of the first-moment average.
    pub beta1: f64,
    /// Decay of the second-moment average.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    /// `lr = 1e-3, β = (0.9, 0.999), ε = 1e-8`, no weight decay.
    fn default() -> Self {
        AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

/// The Adam optimiser.
pub struct Adam {
    /// Hyper-parameters (the learning rate may be changed between steps).
    pub config: AdamConfig,
    step: u64,
    moments: HashMap<String, (Tensor, Tensor)>,
}

impl Adam {
    /// A fresh optimiser.
    pub fn new(config: AdamConfig) -> Adam {
        Adam { config, step: 0, moments: HashMap::new() }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// One update of every trainable parameter:
    /// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
    /// `p ← p − lr · (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)`.
    pub fn step(&mut self, params: &[Param], grads: &Gradients) {
        self.step += 1;
        let AdamConfig { lr, beta1, beta2, eps, weight_decay } = self.config;
        let t = self.step as i32;
        let (correction1, correction2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
        for param in params.iter().filter(|p| p.trainable()) {
            let g = gradient_of(param, grads, weight_decay);
            let (m, v) = match self.moments.remove(param.name()) {
                Some((m, v)) => (
                    m.mul_scalar(beta1) + g.mul_scalar(1.0 - beta1),
                    v.mul_scalar(beta2) + g.square().mul_scalar(1.0 - beta2),
                ),
                None => (g.mul_scalar(1.0 - beta1), g.square().mul_scalar(1.0 - beta2)),
            };
            let denominator = v.mul_scalar(1.0 / correction2).sqrt().add_scalar(eps);
            let update = (m.mul_scalar(lr / correction1)) / denominator;
            param.set(param.value() - update);
            self.moments.insert(param.name().to_string(), (m, v));
        }
    }

    /// The state as named tensors (`{prefix}.step`, `{prefix}.m.{param}`,
    /// `{prefix}.v.{param}`), to save beside the parameters.
    pub fn state(&self, prefix: &str) -> BTreeMap<String, Tensor> {
        let mut state = BTreeMap::new();
        state.insert(format!("{prefix}.step"), Tensor::from_vec(vec![self.step as f64], &[1]));
        for (name, (m, v)) in &self.moments {
            state.insert(format!("{prefix}.m.{name}"), m.clone());
            state.insert(format!("{prefix}.v.{name}"), v.clone());
        }
        state
    }

    /// Restores a state written by [`Adam::state`].
    pub fn load_state(
        &mut self,
        prefix: &str,
        tensors: &BTreeMap<String, Tensor>,
        path: &std::path::Path,
    ) -> Result<()> {
        let missing =
            |key: String| NnError::MissingKey { path: path.to_path_buf(), key, hint: " (optimiser state)".into() };
        let step_key = format!("{prefix}.step");
        let step = tensors.get(&step_key).ok_or_else(|| missing(step_key.clone()))?;
        self.step = step.to_f64_vec().first().copied().unwrap_or(0.0) as u64;
        self.moments.clear();
        let m_prefix = format!("{prefix}.m.");
        for (key, m) in tensors.iter().filter(|(k, _)| k.starts_with(&m_prefix)) {
            let name = &key[m_prefix.len()..];
            let v_key = format!("{prefix}.v.{name}");
            let v = tensors.get(&v_key).ok_or_else(|| missing(v_key.clone()))?;
            self.moments.insert(name.to_string(), (m.clone(), v.clone()));
        }
        Ok(())
    }
}
