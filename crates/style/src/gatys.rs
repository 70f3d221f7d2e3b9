//! The Gatys et al. method: optimise an image's pixels so that its VGG
//! features match the content image's at the content layers and its Gram
//! matrices match the style images' at the style layers, with a little total
//! variation for smoothness. L-BFGS (default) or Adam; optionally coarse to
//! fine over several scales, each starting from the previous result.
//!
//! Every layer's loss is normalised by its target: content
//! `‖F − C‖² / ‖C‖²` and style `‖G − T‖² / ‖T‖²` (mean squares), so each
//! layer starts near 1 and the weights mean the same for any network and
//! input convention. Total variation is measured on 0–1 pixels.
//!
//! ```
//! use style::gatys::{Gatys, Initial};
//! use nn::{Vgg, VggKind};
//! use tensor::{DType, Device, Tensor};
//!
//! // A tiny random-feature VGG and procedural images keep the example fast.
//! let vgg = Vgg::random_with_widths(VggKind::Vgg19, [8, 8, 16, 16, 16], 1);
//! let content = Tensor::rand_uniform(&[1, 3, 48, 64], 0.0, 1.0, 2, DType::F32);
//! let style = Tensor::from_fn(&[1, 3, 64, 64], DType::F32, |i| ((i % 64) / 8 % 2) as f64);
//! let gatys = Gatys::builder().size(32).iterations(10).initial(Initial::Content).build(vgg)?;
//! let result = gatys.run(&content, &[style], |_| Ok(()))?;
//! assert_eq!(result.image.shape(), &[1, 3, 24, 32]);
//! assert!(result.final_losses.total < result.first_losses.total);
//! # Ok::<(), style::StyleError>(())
//! ```

use std::time::{Duration, Instant};

use autograd::Var;
use nn::optim::{Adam, AdamConfig, Lbfgs, LbfgsConfig};
use nn::{Init, ParamStore, Pooling, Vgg};
use tensor::{DType, Device, Tensor};

use crate::color::transfer_luminance;
use crate::error::{setting, Result, StyleError};
use crate::image_io::{fit_dims, resize};

/// How the optimised image starts.
#[derive(Clone, Debug)]
pub enum Initial {
    /// The content image.
    Content,
    /// Uniform noise (seeded).
    Noise,
    /// A given image (resized to the working size).
    Image(Tensor),
}

/// The optimiser over the pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// L-BFGS (neural-style's default: fewest evaluations for a good image).
    Lbfgs,
    /// Adam.
    Adam,
}

/// Every setting of a run; see [`GatysBuilder`] for the defaults.
#[derive(Clone, Debug)]
pub struct GatysConfig {
    /// Longest side of the output, in pixels.
    pub size: usize,
    /// Iterations per scale.
    pub iterations: usize,
    /// L-BFGS or Adam.
    pub optimizer: OptimizerKind,
    /// Step size (L-BFGS: 1; Adam: 0.02 in 0–1 pixel units).
    pub learning_rate: f64,
    /// Weight of the content loss.
    pub content_weight: f64,
    /// Weight of the style loss.
    pub style_weight: f64,
    /// Weight of the total-variation loss.
    pub tv_weight: f64,
    /// Content layers with their weights.
    pub content_layers: Vec<(String, f64)>,
    /// Style layers with their weights.
    pub style_layers: Vec<(String, f64)>,
    /// Max or average pooling in the VGG.
    pub pooling: Pooling,
    /// Starting image.
    pub initial: Initial,
    /// Seed of the noise initialisation.
    pub seed: u64,
    /// Style images are resized to `size · style_scale` (longest side).
    pub style_scale: f64,
    /// Relative weights of several style images (normalised to sum to 1).
    pub style_blend: Vec<f64>,
    /// Keep the content's colours (luminance-only transfer).
    pub preserve_colors: bool,
    /// Number of scales, coarse to fine, each half the next.
    pub scales: usize,
    /// Where the network and the image compute.
    pub device: Device,
}

/// Parses `relu1_1,relu2_1:0.5` into layers with weights (1 when omitted).
pub fn parse_layers(name: &str, spec: &str) -> Result<Vec<(String, f64)>> {
    let layers: Vec<(String, f64)> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item.split_once(':') {
            Some((layer, weight)) => weight
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|w| w.is_finite() && *w >= 0.0)
                .map(|w| (layer.trim().to_string(), w))
                .ok_or_else(|| setting(name, format!("`{item}`: the weight after ':' must be a non-negative number"))),
            None => Ok((item.to_string(), 1.0)),
        })
        .collect::<Result<_>>()?;
    if layers.is_empty() {
        return Err(setting(name, "no layers given"));
    }
    Ok(layers)
}

/// Builds a [`Gatys`] run with checked settings.
#[derive(Clone, Debug)]
pub struct GatysBuilder {
    config: GatysConfig,
    learning_rate_set: bool,
}

/// The default content layer (Gatys et al.'s conv4_2, after its ReLU).
pub const DEFAULT_CONTENT_LAYERS: &str = "relu4_2";
/// The default style layers (Gatys et al.'s).
pub const DEFAULT_STYLE_LAYERS: &str = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1";

impl Default for GatysBuilder {
    /// 512 px, 500 L-BFGS iterations, content weight 1, style weight 10,
    /// TV weight 10 (chosen by looking at astronaut × The Starry Night with
    /// the pretrained VGG-16: style weight 100 and above lose the astronaut
    /// entirely, 10 keeps her face and suit in Van Gogh's strokes).
    fn default() -> Self {
        GatysBuilder {
            config: GatysConfig {
                size: 512,
                iterations: 500,
                optimizer: OptimizerKind::Lbfgs,
                learning_rate: 1.0,
                content_weight: 1.0,
                style_weight: 10.0,
                tv_weight: 10.0,
                content_layers: parse_layers("content layers", DEFAULT_CONTENT_LAYERS).expect("valid default"),
                style_layers: parse_layers("style layers", DEFAULT_STYLE_LAYERS).expect("valid default"),
                pooling: Pooling::Max,
                initial: Initial::Content,
                seed: 0,
                style_scale: 1.0,
                style_blend: Vec::new(),
                preserve_colors: false,
                scales: 1,
                device: Device::Cpu,
            },
            learning_rate_set: false,
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $t:ty;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: $t) -> Self {
            self.config.$name = value;
            self
        }
    )*};
}

impl GatysBuilder {
    setters! {
        /// Longest side of the output.
        size: usize;
        /// Iterations per scale.
        iterations: usize;
        /// Weight of the content loss.
        content_weight: f64;
        /// Weight of the style loss.
        style_weight: f64;
        /// Weight of the total-variation loss.
        tv_weight: f64;
        /// Content layers with weights.
        content_layers: Vec<(String, f64)>;
        /// Style layers with weights.
        style_layers: Vec<(String, f64)>;
        /// Max or average pooling.
        pooling: Pooling;
        /// The starting image.
        initial: Initial;
        /// Seed of the noise initialisation.
        seed: u64;
        /// Size of the style images relative to the output.
        style_scale: f64;
        /// Relative weights of several style images.
        style_blend: Vec<f64>;
        /// Keep the content's colours.
        preserve_colors: bool;
        /// Number of coarse-to-fine scales.
        scales: usize;
        /// Where to compute (`Device::Cuda(n)` for a GPU).
        device: Device;
    }

    /// The optimiser (its default learning rate follows unless one is set).
    pub fn optimizer(mut self, optimizer: OptimizerKind) -> Self {
        self.config.optimizer = optimizer;
        if !self.learning_rate_set {
            self.config.learning_rate = match optimizer {
                OptimizerKind::Lbfgs => 1.0,
                OptimizerKind::Adam => 0.02,
            };
        }
        self
    }

    /// The learning rate.
    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        self.config.learning_rate = learning_rate;
        self.learning_rate_set = true;
        self
    }

    /// Checks the settings against `vgg` and returns the runnable method.
    pub fn build(self, vgg: Vgg) -> Result<Gatys> {
        let c = &self.config;
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(setting(name, format!("must be a positive number, got {v}")))
            }
        };
        let non_negative = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(setting(name, format!("must be a non-negative number, got {v}")))
            }
        };
        positive("learning rate", c.learning_rate)?;
        positive("style scale", c.style_scale)?;
        non_negative("content weight", c.content_weight)?;
        non_negative("style weight", c.style_weight)?;
        non_negative("tv weight", c.tv_weight)?;
        for &w in &c.style_blend {
            non_negative("style blend", w)?;
        }
        if !c.style_blend.is_empty() && c.style_blend.iter().sum::<f64>() <= 0.0 {
            return Err(setting("style blend", "the weights sum to zero"));
        }
        for (name, _) in c.content_layers.iter().chain(&c.style_layers) {
            if !vgg.layer_names().contains(name) {
                return Err(setting(
                    "layers",
                    format!(
                        "`{name}` is not a layer of {}; layers are named like relu4_2, conv1_1, pool3",
                        vgg.kind().name()
                    ),
                ));
            }
        }
        // Each pooling halves the image: the deepest layer used needs
        // 2^poolings pixels per side to keep one.
        let names = vgg.layer_names();
        let deepest = c
            .content_layers
            .iter()
            .chain(&c.style_layers)
            .filter_map(|(n, _)| names.iter().position(|m| m == n))
            .max()
            .ok_or_else(|| setting("layers", "no content or style layer is given"))?;
        let pools = names[..deepest].iter().filter(|n| n.starts_with("pool")).count();
        let min_side = 1usize << pools;
        let needs = format!(
            "the deepest layer used, {}, is {pools} poolings deep and needs {min_side} px per side",
            names[deepest]
        );
        if c.size < min_side {
            return Err(setting(
                "--size",
                format!("{} px is too small: {needs}; use --size {min_side} or more", c.size),
            ));
        }
        let coarsest = u32::try_from(c.scales.saturating_sub(1)).ok().and_then(|k| c.size.checked_shr(k)).unwrap_or(0);
        if c.scales == 0 || coarsest < min_side {
            let most = (0..usize::BITS).take_while(|&k| c.size >> k >= min_side).count();
            return Err(setting(
                "--scales",
                format!(
                    "{} scales of a {} px output make the coarsest {coarsest} px, and {needs}; use at most {most}",
                    c.scales, c.size
                ),
            ));
        }
        let mut vgg = vgg.to_device(c.device)?;
        vgg.set_pooling(c.pooling);
        Ok(Gatys { config: self.config, vgg, min_side })
    }
}

/// The parts of the loss at one evaluation (weights applied).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossParts {
    /// Weighted content loss.
    pub content: f64,
    /// Weighted style loss.
    pub style: f64,
    /// Weighted total variation.
    pub tv: f64,
    /// Their sum.
    pub total: f64,
}

/// What the observer of a run sees after each evaluation.
pub struct Progress<'a> {
    /// Current scale, from 1.
    pub scale: usize,
    /// Number of scales.
    pub scales: usize,
    /// Evaluations so far, over all scales, from 1.
    pub iteration: usize,
    /// Iterations the whole run will make.
    pub total_iterations: usize,
    /// The losses at this evaluation.
    pub losses: LossParts,
    /// The image being optimised (unclamped, at the current scale's size).
    pub image: &'a Tensor,
    /// Time since the run began.
    pub elapsed: Duration,
}

/// The outcome of a run.
pub struct GatysResult {
    /// The stylised image, `[1, 3, H, W]` in 0–1.
    pub image: Tensor,
    /// The losses at the first evaluation.
    pub first_losses: LossParts,
    /// The losses at the last evaluation.
    pub final_losses: LossParts,
    /// Loss evaluations over all scales.
    pub evaluations: usize,
}

/// A configured Gatys run.
pub struct Gatys {
    config: GatysConfig,
    vgg: Vgg,
    /// The fewest pixels per side the deepest layer used can see.
    min_side: usize,
}

/// The targets at one scale: content features and blended style Grams.
struct Targets {
    layers: Vec<String>,
    content: Vec<(usize, Var, f64)>,
    style: Vec<(usize, Var, f64)>,
}

impl Gatys {
    /// A builder with the default settings.
    pub fn builder() -> GatysBuilder {
        GatysBuilder::default()
    }

    /// The settings.
    pub fn config(&self) -> &GatysConfig {
        &self.config
    }

    /// The feature network.
    pub fn vgg(&self) -> &Vgg {
        &self.vgg
    }

    /// The fewest pixels per side any image may have: `2^p` for the deepest
    /// layer used, `p` poolings down (16 for `relu5_1`).
    pub fn min_side(&self) -> usize {
        self.min_side
    }

    /// The output sizes `(height, width)` of the scales, coarse to fine, for
    /// a content image of `height × width`: the longest side is the scale's
    /// size, unless the image is so elongated that its shorter side would
    /// fall under [`Gatys::min_side`]; then it is raised to that, keeping
    /// the aspect ratio (the output is larger than `size`).
    pub fn scale_dims(&self, height: usize, width: usize) -> Vec<(usize, usize)> {
        let scales = self.config.scales;
        (0..scales).map(|k| fit_dims(height, width, self.config.size >> (scales - 1 - k), self.min_side)).collect()
    }

    /// The size a style image of `style_height × style_width` is resized to
    /// against an output of `height × width`: longest side `style_scale`
    /// times the output's, shorter side at least [`Gatys::min_side`].
    pub fn style_dims(&self, style_height: usize, style_width: usize, height: usize, width: usize) -> (usize, usize) {
        let longest = ((height.max(width) as f64) * self.config.style_scale).round().max(1.0) as usize;
        fit_dims(style_height, style_width, longest, self.min_side)
    }

    fn resize_styles(&self, styles: &[Tensor], height: usize, width: usize) -> Vec<Tensor> {
        styles
            .iter()
            .map(|s| {
                let (sh, sw) = self.style_dims(s.shape()[2], s.shape()[3], height, width);
                resize(s, sh, sw)
            })
            .collect()
    }

    fn targets(&self, content: &Tensor, styles: &[Tensor]) -> Result<Targets> {
        let c = &self.config;
        let mut layers: Vec<String> = Vec::new();
        let mut index_of = |name: &String| match layers.iter().position(|l| l == name) {
            Some(i) => i,
            None => {
                layers.push(name.clone());
                layers.len() - 1
            }
        };
        let content_idx: Vec<(usize, f64)> = c.content_layers.iter().map(|(n, w)| (index_of(n), *w)).collect();
        let style_idx: Vec<(usize, f64)> = c.style_layers.iter().map(|(n, w)| (index_of(n), *w)).collect();
        let names: Vec<&str> = layers.iter().map(String::as_str).collect();

        let content = content.try_to_device(c.device)?;
        let content_features = self.vgg.forward_features(&Var::constant(content), &names)?;
        // Each layer's loss is divided by its target's mean square, so every
        // layer starts near 1 whatever its depth, width or the network's
        // input scale (Caffe's 0-255 inputs make raw Gram losses ~10⁷ times
        // larger than torchvision's), and one set of weights serves both.
        let normalised = |target: &Tensor, w: f64| w / target.square().mean_all().to_scalar().max(1e-12);
        let content = content_idx
            .iter()
            .map(|&(i, w)| {
                let target = content_features[i].value().clone();
                let w = normalised(&target, w);
                (i, Var::constant(target), w)
            })
            .collect();

        let blend: Vec<f64> = if c.style_blend.is_empty() { vec![1.0; styles.len()] } else { c.style_blend.clone() };
        let blend_sum: f64 = blend.iter().sum();
        let mut grams: Vec<Option<Tensor>> = vec![None; style_idx.len()];
        for (style, &b) in styles.iter().zip(&blend) {
            let features = self.vgg.forward_features(&Var::constant(style.try_to_device(c.device)?), &names)?;
            for (slot, &(i, _)) in grams.iter_mut().zip(&style_idx) {
                let g = features[i].gram().value().mul_scalar(b / blend_sum);
                *slot = Some(match slot.take() {
                    Some(sum) => sum + g,
                    None => g,
                });
            }
        }
        let style = style_idx
            .iter()
            .zip(grams)
            .map(|(&(i, w), g)| {
                let target = g.expect("at least one style image");
                let w = normalised(&target, w);
                (i, Var::constant(target), w)
            })
            .collect();
        Ok(Targets { layers, content, style })
    }

    /// The weighted loss of `image` against `targets`.
    fn loss(&self, image: &Var, targets: &Targets) -> Result<(Var, LossParts)> {
        let c = &self.config;
        let names: Vec<&str> = targets.layers.iter().map(String::as_str).collect();
        let features = self.vgg.forward_features(image, &names)?;
        let zero = || -> Result<Var> { Ok(Var::constant(Tensor::scalar(0.0, DType::F32).try_to_device(c.device)?)) };
        let mut content = zero()?;
        for (i, target, w) in &targets.content {
            content = content + features[*i].try_mse(target)?.mul_scalar(*w);
        }
        let mut style = zero()?;
        for (i, target, w) in &targets.style {
            style = style + features[*i].try_gram()?.try_mse(target)?.mul_scalar(*w);
        }
        let content = content.mul_scalar(c.content_weight);
        let style = style.mul_scalar(c.style_weight);
        let tv = image.try_total_variation()?.mul_scalar(c.tv_weight);
        let total = &(&content + &style) + &tv;
        let parts = LossParts {
            content: content.to_scalar(),
            style: style.to_scalar(),
            tv: tv.to_scalar(),
            total: total.to_scalar(),
        };
        Ok((total, parts))
    }

    /// The weighted losses of an image `[1, 3, H, W]` against `content` and
    /// `styles` (resized to its size as in a run): how well any stylised
    /// image, from this method or another, meets this method's objective.
    pub fn measure(&self, image: &Tensor, content: &Tensor, styles: &[Tensor]) -> Result<LossParts> {
        let (h, w) = (image.shape()[2], image.shape()[3]);
        let styles = self.resize_styles(styles, h, w);
        let targets = self.targets(&resize(content, h, w), &styles)?;
        let image = image.to_dtype(DType::F32).try_to_device(self.config.device)?;
        Ok(self.loss(&Var::constant(image), &targets)?.1)
    }

    /// The image as it is shown and saved: clamped to 0–1, with the content's
    /// colours when `preserve_colors` is set (`content` is resized to match).
    ///
    /// # Panics
    /// If a device image cannot be copied back to the host.
    pub fn presentable(&self, image: &Tensor, content: &Tensor) -> Tensor {
        let image = image.to_device(Device::Cpu).clamp(0.0, 1.0);
        if !self.config.preserve_colors {
            return image;
        }
        let content = resize(content, image.shape()[2], image.shape()[3]);
        transfer_luminance(&image, &content)
    }

    /// Stylises `content` (`[1, 3, H, W]`, any size: it is resized) with
    /// `styles`. `observe` sees every evaluation; returning `Err` stops the
    /// run with that message.
    pub fn run(
        &self,
        content: &Tensor,
        styles: &[Tensor],
        mut observe: impl FnMut(&Progress) -> std::result::Result<(), String>,
    ) -> Result<GatysResult> {
        let c = &self.config;
        if styles.is_empty() {
            return Err(setting("style", "at least one style image is needed"));
        }
        if !c.style_blend.is_empty() && c.style_blend.len() != styles.len() {
            return Err(setting(
                "style blend",
                format!("{} weights for {} style images", c.style_blend.len(), styles.len()),
            ));
        }
        let dims = self.scale_dims(content.shape()[2], content.shape()[3]);
        let total_iterations = c.iterations * dims.len();
        let start = Instant::now();
        let mut iteration = 0;
        let mut first_losses = None;
        let mut last_losses = LossParts::default();
        let mut image: Option<Tensor> = None;
        for (scale, &(h, w)) in dims.iter().enumerate() {
            let content_here = resize(content, h, w);
            let styles_here = self.resize_styles(styles, h, w);
            let targets = self.targets(&content_here, &styles_here)?;
            let start_image = match (&image, &c.initial) {
                (Some(previous), _) => resize(previous, h, w),
                (None, Initial::Content) => content_here.clone(),
                (None, Initial::Noise) => Tensor::rand_uniform(&[1, 3, h, w], 0.0, 1.0, c.seed, DType::F32),
                (None, Initial::Image(t)) => resize(t, h, w),
            };
            let mut store = ParamStore::new(c.seed, DType::F32);
            let pixels = store.param("image", &[1, 3, h, w], Init::Zeros)?;
            pixels.set(start_image.try_to_device(c.device)?);
            // One evaluation: loss, gradients, and the observer's look.
            let mut evaluate = |iteration: &mut usize| -> Result<(f64, autograd::Gradients)> {
                let (loss, parts) = self.loss(&pixels.var(), &targets)?;
                *iteration += 1;
                if !parts.total.is_finite() {
                    return Err(StyleError::Diverged { value: parts.total, iteration: *iteration, scale: scale + 1 });
                }
                let grads = loss.backward();
                first_losses.get_or_insert(parts);
                last_losses = parts;
                let value = pixels.value();
                let progress = Progress {
                    scale: scale + 1,
                    scales: dims.len(),
                    iteration: *iteration,
                    total_iterations,
                    losses: parts,
                    image: &value,
                    elapsed: start.elapsed(),
                };
                observe(&progress).map_err(StyleError::Stopped)?;
                Ok((parts.total, grads))
            };
            match c.optimizer {
                OptimizerKind::Lbfgs => {
                    let config = LbfgsConfig {
                        lr: c.learning_rate,
                        max_iter: c.iterations,
                        max_eval: c.iterations,
                        ..LbfgsConfig::default()
                    };
                    let mut lbfgs = Lbfgs::new(config);
                    lbfgs.step(std::slice::from_ref(&pixels), || evaluate(&mut iteration))?;
                }
                OptimizerKind::Adam => {
                    let mut adam = Adam::new(AdamConfig { lr: c.learning_rate, ..AdamConfig::default() });
                    for _ in 0..c.iterations {
                        let (_, grads) = evaluate(&mut iteration)?;
                        adam.step(std::slice::from_ref(&pixels), &grads);
                    }
                }
            }
            image = Some(pixels.value());
        }
        let image = image.expect("at least one scale");
        let content_final = resize(content, image.shape()[2], image.shape()[3]);
        Ok(GatysResult {
            image: self.presentable(&image, &content_final),
            first_losses: first_losses.unwrap_or_default(),
            final_losses: last_losses,
            evaluations: iteration,
        })
    }
}
