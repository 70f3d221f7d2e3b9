//! The settings of a Gatys run: every value with its default, and the
//! builder that checks them against the network before a run.

use nn::{Pooling, Vgg};
use tensor::{Device, Tensor};

use super::{Gatys, Initial, OptimizerKind};
use crate::error::{setting, Result};
use crate::perceptual::{parse_layers, LayerPlan};

/// Every setting of a run; see [`GatysBuilder`] for the defaults.
#[derive(Clone, Debug)]
pub struct GatysConfig {
    /// Longest side of the output, in pixels.
    pub size: usize,
    /// Iterations (L-BFGS: loss evaluations) at the finest scale.
    pub iterations: usize,
    /// Iterations at each coarser scale.
    pub coarse_iterations: usize,
    /// A scale ends early when its loss fell by less than this fraction
    /// over its last [`PROGRESS_WINDOW`] evaluations (0: never).
    pub min_progress: f64,
    /// L-BFGS: the `(step, gradient change)` pairs kept, each two images'
    /// worth of memory.
    pub history: usize,
    /// L-BFGS: levels of the pyramid preconditioner above the image
    /// ([`super::PyramidPreconditioner`]; 0: none, plain L-BFGS). It runs
    /// on the host, for runs on the CPU; a run on a GPU goes without.
    pub preconditioner_levels: usize,
    /// L-BFGS or Adam.
    pub optimizer: OptimizerKind,
    /// L-BFGS: a strong-Wolfe line search on each step instead of a fixed
    /// step of `learning_rate` (each search's evaluations count against
    /// the iterations).
    pub line_search: bool,
    /// Step size (L-BFGS: 1; Adam: 0.02 in 0–1 pixel units).
    pub learning_rate: f64,
    /// Weight of the content loss.
    pub content_weight: f64,
    /// Weight of the style loss.
    pub style_weight: f64,
    /// Weight of the total-variation loss.
    pub tv_weight: f64,
    /// Weight of the Laplacian loss (Li et al. 2017; 0: off).
    pub laplacian_weight: f64,
    /// Pooling sizes of the Laplacian loss at the full size, the weight
    /// shared evenly between them (coarser scales pool proportionally less).
    pub laplacian_pools: Vec<usize>,
    /// Weight of the histogram loss (Risser et al. 2017; 0: off).
    pub histogram_weight: f64,
    /// Layers of the histogram loss with their weights.
    pub histogram_layers: Vec<(String, f64)>,
    /// One mask per style image (`[1, C, H, W]` in 0–1, any size with the
    /// content's aspect ratio; channels averaged): each style applies only where
    /// its mask is white (Gatys et al. 2017). Empty: every style everywhere.
    pub style_masks: Vec<Tensor>,
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

/// Builds a [`Gatys`] run with checked settings.
#[derive(Clone, Debug)]
pub struct GatysBuilder {
    config: GatysConfig,
    learning_rate_set: bool,
    scales_set: bool,
}

/// Evaluations over which [`GatysConfig::min_progress`] is measured.
pub const PROGRESS_WINDOW: usize = 10;

/// The default content layer (Gatys et al.'s conv4_2, after its ReLU).
pub const DEFAULT_CONTENT_LAYERS: &str = "relu4_2";
/// The default style layers (Gatys et al.'s).
pub const DEFAULT_STYLE_LAYERS: &str = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1";
/// The default pooling of the Laplacian loss (Li et al.'s `p = 4`).
pub const DEFAULT_LAPLACIAN_POOLS: &[usize] = &[4];
/// The default layers of the histogram loss (Risser et al.'s).
pub const DEFAULT_HISTOGRAM_LAYERS: &str = "relu1_1,relu4_1";

impl Default for GatysBuilder {
    /// 512 px in two scales (one where the half-size image is too small for
    /// the layers), 60 L-BFGS evaluations at the coarse scale and 125 at the
    /// full size, 20 pairs of history; content weight 1, style weight 10,
    /// TV weight 10 (chosen by looking at astronaut × The Starry Night with
    /// the pretrained VGG-16: style weight 100 and above lose the astronaut
    /// entirely, 10 keeps her face and suit in Van Gogh's strokes).
    ///
    /// The schedule reaches a loss within 5% of what two scales of 200
    /// reached on that pair (1.15): 1.2075 at the 123rd full-size
    /// evaluation, 1.2045 at the 125th, in about 155 s on a 2-core Zen 4
    /// with the pyramid preconditioner and the box (see the README's "Gatys
    /// schedule"). 20 pairs instead of 10 save 13 evaluations to that loss
    /// (136 → 123) for 65 MB; `iterations(65)` gives a first picture at
    /// 1.34 in about 90 s.
    fn default() -> Self {
        GatysBuilder {
            config: GatysConfig {
                size: 512,
                iterations: 125,
                coarse_iterations: 60,
                min_progress: 0.0,
                history: 20,
                preconditioner_levels: 4,
                optimizer: OptimizerKind::Lbfgs,
                line_search: false,
                learning_rate: 1.0,
                content_weight: 1.0,
                style_weight: 10.0,
                tv_weight: 10.0,
                laplacian_weight: 0.0,
                laplacian_pools: DEFAULT_LAPLACIAN_POOLS.to_vec(),
                histogram_weight: 0.0,
                histogram_layers: parse_layers("histogram layers", DEFAULT_HISTOGRAM_LAYERS).expect("valid default"),
                style_masks: Vec::new(),
                content_layers: parse_layers("content layers", DEFAULT_CONTENT_LAYERS).expect("valid default"),
                style_layers: parse_layers("style layers", DEFAULT_STYLE_LAYERS).expect("valid default"),
                pooling: Pooling::Max,
                initial: Initial::Content,
                seed: 0,
                style_scale: 1.0,
                style_blend: Vec::new(),
                preserve_colors: false,
                scales: 2,
                device: Device::Cpu,
            },
            learning_rate_set: false,
            scales_set: false,
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
        /// Iterations at the finest scale.
        iterations: usize;
        /// Iterations at each coarser scale.
        coarse_iterations: usize;
        /// The least relative progress over the last [`PROGRESS_WINDOW`]
        /// evaluations that keeps a scale going (0: never stop early).
        min_progress: f64;
        /// L-BFGS pairs kept.
        history: usize;
        /// L-BFGS: levels of the pyramid preconditioner (0: none).
        preconditioner_levels: usize;
        /// L-BFGS: a strong-Wolfe line search instead of fixed steps.
        line_search: bool;
        /// Weight of the content loss.
        content_weight: f64;
        /// Weight of the style loss.
        style_weight: f64;
        /// Weight of the total-variation loss.
        tv_weight: f64;
        /// Weight of the Laplacian loss (0: off).
        laplacian_weight: f64;
        /// Pooling sizes of the Laplacian loss at the full size.
        laplacian_pools: Vec<usize>;
        /// Weight of the histogram loss (0: off).
        histogram_weight: f64;
        /// Layers of the histogram loss with weights.
        histogram_layers: Vec<(String, f64)>;
        /// One mask per style image (empty: none).
        style_masks: Vec<Tensor>;
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

    /// The number of coarse-to-fine scales, each half the size of the next
    /// (default 2, or 1 where the coarse scale would be too small).
    pub fn scales(mut self, scales: usize) -> Self {
        self.config.scales = scales;
        self.scales_set = true;
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
        non_negative("--laplacian-weight", c.laplacian_weight)?;
        non_negative("--histogram-weight", c.histogram_weight)?;
        if c.laplacian_pools.is_empty() || c.laplacian_pools.contains(&0) {
            return Err(setting(
                "--laplacian-pool",
                format!("{:?}: give one or more sizes of at least 1", c.laplacian_pools),
            ));
        }
        if !c.style_masks.is_empty() && !c.style_blend.is_empty() {
            return Err(setting(
                "--style-mask",
                "cannot be combined with --style-blend: with masks each style applies at full strength in its own region",
            ));
        }
        if !c.style_masks.is_empty() && c.histogram_weight > 0.0 {
            return Err(setting(
                "--style-mask",
                "cannot be combined with the histogram loss, which matches the whole image's distribution to the styles'",
            ));
        }
        if !(c.min_progress.is_finite() && (0.0..1.0).contains(&c.min_progress)) {
            return Err(setting("--min-progress", format!("must be in [0, 1), got {}", c.min_progress)));
        }
        if c.line_search && c.optimizer == OptimizerKind::Adam {
            return Err(setting(
                "--line-search",
                "searches L-BFGS's steps; Adam takes none (drop it or use --optimizer lbfgs)",
            ));
        }
        if c.history == 0 {
            return Err(setting("--history", "must be at least 1, got 0"));
        }
        if c.iterations == 0 {
            return Err(setting("--iters", "must be at least 1, got 0"));
        }
        if c.coarse_iterations == 0 {
            return Err(setting("--coarse-iters", "must be at least 1, got 0 (use --scales 1 for no coarse scale)"));
        }
        for &w in &c.style_blend {
            non_negative("style blend", w)?;
        }
        if !c.style_blend.is_empty() && c.style_blend.iter().sum::<f64>() <= 0.0 {
            return Err(setting("style blend", "the weights sum to zero"));
        }
        // Unknown layer names are refused as the losses would refuse them.
        LayerPlan::new(&vgg, &c.content_layers, &c.style_layers)?.add(
            &vgg,
            "--histogram-layers",
            &c.histogram_layers,
        )?;
        let histogram_layers: &[(String, f64)] = if c.histogram_weight > 0.0 { &c.histogram_layers } else { &[] };
        // Each pooling halves the image: the deepest layer used needs
        // 2^poolings pixels per side to keep one.
        let names = vgg.layer_names();
        let deepest = c
            .content_layers
            .iter()
            .chain(&c.style_layers)
            .chain(histogram_layers)
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
        let mut config = self.config;
        let c = &mut config;
        if !self.scales_set && (c.size >> (c.scales - 1)) < min_side {
            c.scales = 1;
        }
        let coarsest = u32::try_from(c.scales.saturating_sub(1)).ok().and_then(|k| c.size.checked_shr(k)).unwrap_or(0);
        if c.scales == 0 {
            return Err(setting("--scales", "must be at least 1"));
        }
        if coarsest < min_side {
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
        Ok(Gatys { config, vgg, min_side })
    }
}
