//! The fully connected layer.

use autograd::Var;

use super::Module;
use crate::params::{Init, Param, ParamStore};

/// `y = x·Wᵀ + b` for `x` of shape `[…, in]`, `W` of shape `[out, in]`.
pub struct Linear {
    weight: Param,
    bias: Option<Param>,
}

impl Linear {
    /// `name.weight` (Xavier uniform) and, with `bias`, `name.bias` (zeros).
    pub fn new(store: &mut ParamStore, name: &str, inputs: usize, outputs: usize, bias: bool) -> crate::Result<Linear> {
        let weight = store.param(&format!("{name}.weight"), &[outputs, inputs], Init::XavierUniform)?;
        let bias = bias.then(|| store.param(&format!("{name}.bias"), &[outputs], Init::Zeros)).transpose()?;
        Ok(Linear { weight, bias })
    }
}

impl Module for Linear {
    fn forward(&self, x: &Var) -> crate::Result<Var> {
        let y = x.try_matmul(&self.weight.var().transpose(0, 1))?;
        Ok(match &self.bias {
            Some(b) => y.try_add(&b.var())?,
            None => y,
        })
    }
}
