//! The two networks of GAN-based transfer.
//!
//! * The generator is a feed-forward image transformation network (after
//!   Johnson et al.): a reflection-padded 9×9 convolution, two (or more)
//!   stride-2 downsamplings, residual blocks with instance norm, as many
//!   upsamplings, each a nearest-neighbour resize then a convolution (a
//!   transposed convolution would leave checkerboard artefacts), and a 9×9 convolution mapped to
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
    /// Stride-2 downsamplings before the residual blocks (and upsamplings
    /// after): Johnson et al. use 2. Each one more doubles the blocks'
    /// channels and their receptive field in the image, at about the same
    /// work per block; inputs must have sides that are multiples of
    /// `2^downsamplings`.
    pub downsamplings: usize,
    /// Output `(tanh(y + atanh(2x' − 1)) + 1)/2` for input `x` (with
    /// `x' = clamp(x, 0.005, 0.995)`) and last layer `y`: the photo plus a
    /// change, instead of `(tanh(y) + 1)/2`.
    pub residual: bool,
}

impl Default for GeneratorConfig {
    /// Width 16 (half of Johnson et al.'s 32, a quarter of the work: `apply`
    /// at 512² fits in a second on two CPU cores), two downsamplings, five
    /// residual blocks, residual output.
    fn default() -> Self {
        GeneratorConfig { width: 16, res_blocks: 5, downsamplings: 2, residual: true }
    }
}

impl GeneratorConfig {
    /// As metadata entries (for the model file).
    pub fn to_metadata(self) -> Vec<(String, String)> {
        vec![
            ("generator.width".into(), self.width.to_string()),
            ("generator.res_blocks".into(), self.res_blocks.to_string()),
            ("generator.downsamplings".into(), self.downsamplings.to_string()),
            ("generator.residual".into(), self.residual.to_string()),
        ]
    }

    /// The widest generator a file may ask for (Johnson et al. used 32).
    pub const MAX_WIDTH: usize = 128;
    /// The most residual blocks a file may ask for (Johnson et al. used 5).
    pub const MAX_RES_BLOCKS: usize = 16;
    /// The most downsamplings a file may ask for (Johnson et al. used 2).
    pub const MAX_DOWNSAMPLINGS: usize = 4;

    /// The most channels the residual blocks may have,
    /// `width · 2^downsamplings` (Johnson et al.: 128; a width-128
    /// generator with two downsamplings: 512).
    pub const MAX_DEEP_CHANNELS: usize = 4 * Self::MAX_WIDTH;

    /// `Err` naming the option when `width · 2^downsamplings` exceeds
    /// [`Self::MAX_DEEP_CHANNELS`] or the downsamplings are outside
    /// 1..=[`Self::MAX_DOWNSAMPLINGS`].
    pub fn check_depth(self) -> Result<()> {
        if !(1..=Self::MAX_DOWNSAMPLINGS).contains(&self.downsamplings) {
            return Err(setting(
                "--downsamplings",
                format!("{} is outside 1-{}", self.downsamplings, Self::MAX_DOWNSAMPLINGS),
            ));
        }
        if self.width << self.downsamplings > Self::MAX_DEEP_CHANNELS {
            return Err(setting(
                "--downsamplings",
                format!(
                    "width {} with {} downsamplings gives {} channels in the residual blocks; the most is {}",
                    self.width,
                    self.downsamplings,
                    self.width << self.downsamplings,
                    Self::MAX_DEEP_CHANNELS
                ),
            ));
        }
        Ok(())
    }

    /// What the sides of an input must be multiples of: `2^downsamplings`.
    pub fn side_multiple(self) -> usize {
        1 << self.downsamplings
    }

    /// Reads the entries [`GeneratorConfig::to_metadata`] wrote; `None`
    /// when they are missing, unreadable, or outside 1..=[`Self::MAX_WIDTH`]
    /// and 0..=[`Self::MAX_RES_BLOCKS`], or a depth [`Self::check_depth`]
    /// refuses (a damaged file must not make the
    /// reader allocate a network of any size it names). Files without
    /// `generator.residual` predate it and are not residual; files without
    /// `generator.downsamplings` have two.
    pub fn from_metadata(metadata: &HashMap<String, String>) -> Option<GeneratorConfig> {
        let get = |k: &str| metadata.get(k)?.parse::<usize>().ok();
        let width = get("generator.width").filter(|w| (1..=Self::MAX_WIDTH).contains(w))?;
        let res_blocks = get("generator.res_blocks").filter(|&r| r <= Self::MAX_RES_BLOCKS)?;
        let downsamplings = match metadata.get("generator.downsamplings") {
            None => 2,
            Some(_) => get("generator.downsamplings").filter(|d| (1..=Self::MAX_DOWNSAMPLINGS).contains(d))?,
        };
        let residual = match metadata.get("generator.residual").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return None,
        };
        let config = GeneratorConfig { width, res_blocks, downsamplings, residual };
        config.check_depth().ok().map(|()| config)
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
        config.check_depth()?;
        let (w, p, d) = (config.width, prefix, config.downsamplings);
        let mut net = Sequential::new();
        net.push(conv_block(store, &format!("{p}.in"), 3, w, 9, 1)?);
        for k in 0..d {
            net.push(conv_block(store, &format!("{p}.down{}", k + 1), w << k, w << (k + 1), 3, 2)?);
        }
        let deep = w << d;
        for r in 0..config.res_blocks {
            let name = format!("{p}.res{r}");
            let body = Sequential::new()
                .with(conv(store, &format!("{name}.conv1"), deep, deep, 3, 1)?)
                .with(InstanceNorm2d::new(store, &format!("{name}.norm1"), deep, true)?)
                .with(Activation::Relu)
                .with(conv(store, &format!("{name}.conv2"), deep, deep, 3, 1)?)
                .with(InstanceNorm2d::new(store, &format!("{name}.norm2"), deep, true)?);
            net.push(Residual::new(body));
        }
        for k in 0..d {
            let outputs = w << (d - 1 - k);
            net.push(Upsample { factor: 2, mode: UpsampleMode::Nearest });
            net.push(conv_block(store, &format!("{p}.up{}", k + 1), outputs * 2, outputs, 3, 1)?);
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

    /// Stylises a batch `[N, 3, H, W]` in 0–1 (H and W multiples of
    /// [`GeneratorConfig::side_multiple`]).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let (h, w, m) = (x.shape()[2], x.shape()[3], self.config.side_multiple());
        if h % m != 0 || w % m != 0 {
            return Err(setting(
                "generator input",
                format!("{w}x{h} px: sides must be multiples of {m} (see apply_generator)"),
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
