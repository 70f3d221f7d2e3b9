//! Convolution layers: `Conv2d` with zero, reflection or replication
//! padding, and `ConvTranspose2d`.

use autograd::Var;
use tensor::{Conv2dParams, Pad2d, PadMode};

use super::Module;
use crate::params::{Init, Param, ParamStore};

/// Shape and padding of a [`Conv2d`].
#[derive(Clone, Copy, Debug)]
pub struct Conv2dConfig {
    /// Square kernel side.
    pub kernel: usize,
    /// Step between output pixels.
    pub stride: usize,
    /// Pixels added on each side.
    pub padding: usize,
    /// What the added pixels hold.
    pub pad_mode: PadMode,
    /// Whether there is a bias.
    pub bias: bool,
    /// Initialiser of the weight.
    pub init: Init,
}

impl Conv2dConfig {
    /// A `kernel × kernel` convolution, stride 1, "same" zero padding, with
    /// bias, Kaiming-initialised for a following ReLU.
    pub fn new(kernel: usize) -> Self {
        Conv2dConfig {
            kernel,
            stride: 1,
            padding: kernel / 2,
            pad_mode: PadMode::Zero,
            bias: true,
            init: Init::KaimingNormal { slope: 0.0 },
        }
    }

    /// With this stride.
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    /// With this padding and padding mode.
    pub fn padding(mut self, padding: usize, mode: PadMode) -> Self {
        self.padding = padding;
        self.pad_mode = mode;
        self
    }

    /// With or without a bias.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// With this weight initialiser.
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }
}

/// A 2-D convolution, `weight` `[out, in, k, k]`.
pub struct Conv2d {
    weight: Param,
    bias: Option<Param>,
    config: Conv2dConfig,
}

impl Conv2d {
    /// `name.weight` and (with a bias) `name.bias`.
    pub fn new(
        store: &mut ParamStore,
        name: &str,
        inputs: usize,
        outputs: usize,
        config: Conv2dConfig,
    ) -> crate::Result<Conv2d> {
        let weight =
            store.param(&format!("{name}.weight"), &[outputs, inputs, config.kernel, config.kernel], config.init)?;
        let bias = config.bias.then(|| store.param(&format!("{name}.bias"), &[outputs], Init::Zeros)).transpose()?;
        Ok(Conv2d { weight, bias, config })
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Var) -> crate::Result<Var> {
        let Conv2dConfig { stride, padding, pad_mode, .. } = self.config;
        // Zero padding is free inside the convolution; the others pad first.
        let (input, conv_padding) = if pad_mode == PadMode::Zero || padding == 0 {
            (x.clone(), padding)
        } else {
            (x.try_pad2d(Pad2d::uniform(padding), pad_mode)?, 0)
        };
        let bias = self.bias.as_ref().map(Param::var);
        Ok(input.try_conv2d(&self.weight.var(), bias.as_ref(), Conv2dParams::new(stride, conv_padding))?)
    }
}

/// A transposed convolution, `weight` `[in, out, k, k]` (PyTorch's layout).
pub struct ConvTranspose2d {
    weight: Param,
    bias: Option<Param>,
    params: Conv2dParams,
    output_padding: usize,
}

impl ConvTranspose2d {
    /// `name.weight` (Kaiming) and `name.bias`, for a `kernel × kernel`
    /// kernel with `stride`, `padding` and `output_padding`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: &mut ParamStore,
        name: &str,
        inputs: usize,
        outputs: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        output_padding: usize,
    ) -> crate::Result<ConvTranspose2d> {
        let weight = store.param(
            &format!("{name}.weight"),
            &[inputs, outputs, kernel, kernel],
            Init::KaimingNormal { slope: 0.0 },
        )?;
        let bias = Some(store.param(&format!("{name}.bias"), &[outputs], Init::Zeros)?);
        Ok(ConvTranspose2d { weight, bias, params: Conv2dParams::new(stride, padding), output_padding })
    }
}

impl Module for ConvTranspose2d {
    fn forward(&self, x: &Var) -> crate::Result<Var> {
        let bias = self.bias.as_ref().map(Param::var);
        let extra = (self.output_padding, self.output_padding);
        Ok(x.try_conv_transpose2d(&self.weight.var(), bias.as_ref(), self.params, extra)?)
    }
}
