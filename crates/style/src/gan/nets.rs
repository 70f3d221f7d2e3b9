//! The two networks of GAN-based transfer.
//!
//! * The generator is a feed-forward image transformation network (after
//!   Johnson et al.): a reflection-padded 9×9 convolution, two stride-2
//!   downsamplings, residual blocks with instance norm, two upsamplings by
//!   nearest-neighbour resize then convolution (a transposed convolution
//!   would leave checkerboard artefacts), and a 9×9 convolution mapped to
//!   0–1 by `(tanh + 1)/2`. A residual generator adds the last layer to the
//!   input photo in that tanh space instead, so an untrained one returns the
//!   photo and training spends every step on the style.
//! * The discriminator is a PatchGAN: strided 4×4 convolutions with
//!   LeakyReLU and instance norm, ending in one channel, so it scores every
//!   overlapping patch of the image as real or fake.

use std::collections::HashMap;

use autograd::Var;
use nn::layers::{Activation, Conv2d, Conv2dConfig, InstanceNorm2d, Module, Residual, Sequential, Upsample};
use nn::{Init, ParamStore};
use tensor::{DType, PadMode, Tensor, UpsampleMode};

use crate::error::{setting, Result};

/// Size of the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Channels of the first layer (doubled at each downsampling).
    pub width: usize,
    /// Residual blocks at the lowest resolution.
    pub res_blocks: usize,
    /// Output `(tanh(y + atanh(2x' − 1)) + 1)/2` for input `x` (with
    /// `x' = clamp(x, 0.005, 0.995)`) and last layer `y`: the photo plus a
    /// change, instead of `(tanh(y) + 1)/2`.
    pub residual: bool,
}

impl Default for GeneratorConfig {
    /// Width 16 (half of Johnson et al.'s 32, a quarter of the work: `apply`
    /// at 512² fits in a second on two CPU cores), five residual blocks,
    /// residual output.
    fn default() -> Self {
        GeneratorConfig { width: 16, res_blocks: 5, residual: true }
    }
}

impl GeneratorConfig {
    /// As metadata entries (for the model file).
    pub fn to_metadata(self) -> Vec<(String, String)> {
        vec![
            ("generator.width".into(), self.width.to_string()),
            ("generator.res_blocks".into(), self.res_blocks.to_string()),
            ("generator.residual".into(), self.residual.to_string()),
        ]
    }

    /// The widest generator a file may ask for (Johnson et al. used 32).
    pub const MAX_WIDTH: usize = 128;
    /// The most residual blocks a file may ask for (Johnson et al. used 5).
    pub const MAX_RES_BLOCKS: usize = 16;

    /// Reads the entries [`GeneratorConfig::to_metadata`] wrote; `None`
    /// when they are missing, unreadable, or outside 1..=[`Self::MAX_WIDTH`]
    /// and 0..=[`Self::MAX_RES_BLOCKS`] (a damaged file must not make the
    /// reader allocate a network of any size it names). Files without
    /// `generator.residual` predate it and are not residual.
    pub fn from_metadata(metadata: &HashMap<String, String>) -> Option<GeneratorConfig> {
        let get = |k: &str| metadata.get(k)?.parse::<usize>().ok();
        let width = get("generator.width").filter(|w| (1..=Self::MAX_WIDTH).contains(w))?;
        let res_blocks = get("generator.res_blocks").filter(|&r| r <= Self::MAX_RES_BLOCKS)?;
        let residual = match metadata.get("generator.residual").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return None,
        };
        Some(GeneratorConfig { width, res_blocks, residual })
    }
}

fn conv(
    store: &mut ParamStore,
    name: &str,
    inputs: usize,
    outputs: usize,
    kernel: usize,
    stride: usize,
) -> Result<Conv2d> {
    let config = Conv2dConfig::new(kernel).stride(stride).padding(kernel / 2, PadMode::Reflect);
    Ok(Conv2d::new(store, name, inputs, outputs, config)?)
}

/// Conv → instance norm → ReLU.
fn conv_block(
    store: &mut ParamStore,
    name: &str,
    inputs: usize,
    outputs: usize,
    kernel: usize,
    stride: usize,
) -> Result<Sequential> {
    Ok(Sequential::new()
        .with(conv(store, &format!("{name}.conv"), inputs, outputs, kernel, stride)?)
        .with(InstanceNorm2d::new(store, &format!("{name}.norm"), outputs, true)?)
        .with(Activation::Relu))
}

/// The image transformation network.
pub struct Generator {
    net: Sequential,
    config: GeneratorConfig,
}

impl Generator {
    /// Builds the generator's layers, with parameters under `prefix.`.
    pub fn new(store: &mut ParamStore, prefix: &str, config: GeneratorConfig) -> Result<Generator> {
        if config.width == 0 {
            return Err(setting("generator width", "must be at least 1"));
        }
        let (w, p) = (config.width, prefix);
        let mut net = Sequential::new();
        net.push(conv_block(store, &format!("{p}.in"), 3, w, 9, 1)?);
        net.push(conv_block(store, &format!("{p}.down1"), w, 2 * w, 3, 2)?);
        net.push(conv_block(store, &format!("{p}.down2"), 2 * w, 4 * w, 3, 2)?);
        for r in 0..config.res_blocks {
            let name = format!("{p}.res{r}");
            let body = Sequential::new()
                .with(conv(store, &format!("{name}.conv1"), 4 * w, 4 * w, 3, 1)?)
                .with(InstanceNorm2d::new(store, &format!("{name}.norm1"), 4 * w, true)?)
                .with(Activation::Relu)
                .with(conv(store, &format!("{name}.conv2"), 4 * w, 4 * w, 3, 1)?)
                .with(InstanceNorm2d::new(store, &format!("{name}.norm2"), 4 * w, true)?);
            net.push(Residual::new(body));
        }
        for (k, (inputs, outputs)) in [(4 * w, 2 * w), (2 * w, w)].into_iter().enumerate() {
            net.push(Upsample { factor: 2, mode: UpsampleMode::Nearest });
            net.push(conv_block(store, &format!("{p}.up{}", k + 1), inputs, outputs, 3, 1)?);
        }
        // A residual generator starts as the identity (up to a faint noise).
        let init = if config.residual { Init::Normal { mean: 0.0, std: 1e-3 } } else { Init::XavierUniform };
        let out = Conv2dConfig::new(9).padding(4, PadMode::Reflect).init(init);
        net.push(Conv2d::new(store, &format!("{p}.out"), w, 3, out)?);
        Ok(Generator { net, config })
    }

    /// Its size.
    pub fn config(&self) -> GeneratorConfig {
        self.config
    }

    /// Stylises a batch `[N, 3, H, W]` in 0–1 (H and W multiples of 4).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let (h, w) = (x.shape()[2], x.shape()[3]);
        if h % 4 != 0 || w % 4 != 0 {
            return Err(setting(
                "generator input",
                format!("{w}x{h} px: sides must be multiples of 4 (see apply_generator)"),
            ));
        }
        // (tanh(y) + 1)/2 maps the last layer to the image range 0–1.
        let mut y = self.net.forward(x)?;
        if self.config.residual {
            y = &y + &Var::constant(photo_in_tanh_space(x.value())?);
        }
        Ok(y.tanh().add_scalar(1.0).mul_scalar(0.5))
    }
}

/// `atanh(2x − 1) = ln(x / (1 − x)) / 2` of an image in 0–1, its values
/// first limited to `[0.005, 0.995]` (so the result stays within ±2.65):
/// the last layer's value at which the generator's output is the input
/// itself. Computed where `x` lives (no copy to the host); a constant, so no
/// gradient flows into the generator's input.
fn photo_in_tanh_space(x: &Tensor) -> Result<Tensor> {
    let p = x.to_dtype(DType::F32).clamp(0.005, 0.995);
    Ok(p.try_div(&p.neg().add_scalar(1.0))?.log().mul_scalar(0.5))
}

/// Size and loss of the discriminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiscriminatorConfig {
    /// Channels of the first layer (doubled at each further layer).
    pub width: usize,
    /// Stride-2 layers (each halves the patch grid).
    pub layers: usize,
}

impl Default for DiscriminatorConfig {
    /// A 70×70 PatchGAN's shape with three stride-2 layers, width 32.
    fn default() -> Self {
        DiscriminatorConfig { width: 32, layers: 3 }
    }
}

/// The PatchGAN discriminator.
pub struct Discriminator {
    net: Sequential,
}

impl Discriminator {
    /// Builds the layers, with parameters under `prefix.`.
    pub fn new(store: &mut ParamStore, prefix: &str, config: DiscriminatorConfig) -> Result<Discriminator> {
        if config.width == 0 || config.layers == 0 {
            return Err(setting("discriminator", "width and layers must be at least 1"));
        }
        let lrelu = Init::KaimingNormal { slope: 0.2 };
        let mut net = Sequential::new();
        let mut inputs = 3;
        for k in 0..config.layers {
            let outputs = config.width << k.min(3);
            let c = Conv2dConfig::new(4).stride(2).padding(1, PadMode::Zero).init(lrelu);
            net.push(Conv2d::new(store, &format!("{prefix}.conv{k}"), inputs, outputs, c)?);
            if k > 0 {
                net.push(InstanceNorm2d::new(store, &format!("{prefix}.norm{k}"), outputs, true)?);
            }
            net.push(Activation::LeakyRelu(0.2));
            inputs = outputs;
        }
        let last = Conv2dConfig::new(3).padding(1, PadMode::Zero).init(Init::Normal { mean: 0.0, std: 0.02 });
        net.push(Conv2d::new(store, &format!("{prefix}.score"), inputs, 1, last)?);
        Ok(Discriminator { net })
    }

    /// Patch scores `[N, 1, h, w]` for images `[N, 3, H, W]` in 0–1.
    pub fn forward(&self, x: &Var) -> Result<Var> {
        // Centre the input: the first convolution sees values in −1…1.
        Ok(self.net.forward(&x.mul_scalar(2.0).add_scalar(-1.0))?)
    }
}
