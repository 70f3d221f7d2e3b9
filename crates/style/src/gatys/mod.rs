//! The Gatys et al. method: optimise an image's pixels so that its VGG
//! features match the content image's at the content layers and its Gram
//! matrices match the style images' at the style layers, with a little total
//! variation for smoothness. L-BFGS (default) or Adam, coarse to fine over
//! one or more scales (two by default), each starting from the previous
//! result, the pixels kept in 0–1.
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
//! let gatys = Gatys::builder().size(32).scales(1).iterations(10).initial(Initial::Content).build(vgg)?;
//! let result = gatys.run(&content, &[style], |_| Ok(()))?;
//! assert_eq!(result.image.shape(), &[1, 3, 24, 32]);
//! assert!(result.final_losses.total < result.first_losses.total);
//! # Ok::<(), style::StyleError>(())
//! ```

use std::time::{Duration, Instant};

use autograd::Var;
use nn::optim::{Adam, AdamConfig, Lbfgs, LbfgsConfig};
use nn::{Init, ParamStore, Vgg};
use tensor::{DType, Device, Tensor};

use crate::color::transfer_luminance;
use crate::error::{setting, Result, StyleError};
use crate::image_io::{fit_dims, resize};
use crate::perceptual::histogram::{histogram_loss, HistogramTarget};
use crate::perceptual::laplacian::{laplacian_loss, laplacian_targets, LaplacianTarget};
use crate::perceptual::regions::{region_style_loss, StyleRegion};
use crate::perceptual::{self, LayerPlan, Target};

mod pyramid;
mod settings;
pub use pyramid::{PyramidPreconditioner, PRECONDITIONER_LIFT};
pub use settings::{
    GatysBuilder, GatysConfig, DEFAULT_CONTENT_LAYERS, DEFAULT_HISTOGRAM_LAYERS, DEFAULT_LAPLACIAN_POOLS,
    DEFAULT_STYLE_LAYERS, PROGRESS_WINDOW,
};

/// The start of a finer scale for a run that began from the photo: the
/// coarser scale's result enlarged to the photo's size, plus the photo's
/// detail that the coarser scale could not hold, `up(x) + (c − up(down(c)))`
/// with `c` the photo at this scale, clamped to 0–1 (the blend of two
/// Laplacian pyramids: coarse levels from the result, fine ones from the
/// photo; Burt & Adelson, 1983). Enlarging alone leaves the finer scale a
/// blurred picture: on the README's main job it started the 512-px scale at
/// a loss of 17.1 (1.84 at the end of the 256-px one) and ended at 1.450;
/// with the photo's detail it starts at 14.1 and ends at 1.400, with a
/// sharper face, in the same time.
///
/// `previous` and `content` are `[1, 3, h, w]` and `[1, 3, H, W]`; the result
/// has `content`'s shape.
fn carry_up(previous: &Tensor, content: &Tensor) -> Tensor {
    let (h, w) = (previous.shape()[2], previous.shape()[3]);
    let (height, width) = (content.shape()[2], content.shape()[3]);
    let detail = content.sub(&resize(&resize(content, h, w), height, width));
    resize(previous, height, width).add(&detail).clamp(0.0, 1.0)
}

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

/// The parts of the loss at one evaluation (weights applied).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossParts {
    /// Weighted content loss.
    pub content: f64,
    /// Weighted style loss.
    pub style: f64,
    /// Weighted total variation.
    pub tv: f64,
    /// Weighted temporal loss (video frames after the first; 0 otherwise).
    pub temporal: f64,
    /// Weighted Laplacian loss (0 when off).
    pub laplacian: f64,
    /// Weighted histogram loss (0 when off).
    pub histogram: f64,
    /// Their sum.
    pub total: f64,
}

/// The temporal term of a video frame's run (Ruder et al. 2016): the image
/// is held, with `weight`, to `warped` where `reliability` is 1 (see
/// [`perceptual::temporal_loss`]), at the full size only (the last scale).
#[derive(Clone, Debug)]
pub struct TemporalTarget {
    /// The previous stylised frame warped into this one, `[1, 3, H, W]` in 0–1.
    pub warped: Tensor,
    /// Per-pixel reliability of the flow, `[1, 1, H, W]`, 0 or 1.
    pub reliability: Tensor,
    /// The term's weight (Ruder et al. use 200 against content 1 and style
    /// 0.02 relative to it on raw losses; see `fresco video` for ours).
    pub weight: f64,
}

/// What the observer of a run sees after each evaluation.
pub struct Progress<'a> {
    /// Current scale, from 1.
    pub scale: usize,
    /// Number of scales.
    pub scales: usize,
    /// Evaluations so far, over all scales, from 1.
    pub iteration: usize,
    /// Iterations the whole run will make at most (fewer when
    /// [`GatysConfig::min_progress`] ends a scale early).
    pub total_iterations: usize,
    /// The losses at this evaluation.
    pub losses: LossParts,
    /// The image being optimised (in 0–1, at the current scale's size).
    pub image: &'a Tensor,
    /// Time since the run began.
    pub elapsed: Duration,
}

/// The outcome of a run.
pub struct GatysResult {
    /// The stylised image, `[1, 3, H, W]` in 0–1: the best (lowest loss)
    /// evaluated image of the last scale. (L-BFGS takes fixed steps along
    /// its quasi-Newton direction, and its last one can raise the loss.)
    pub image: Tensor,
    /// The losses at the first evaluation.
    pub first_losses: LossParts,
    /// The losses at the last evaluation.
    pub final_losses: LossParts,
    /// The losses of the returned image.
    pub best_losses: LossParts,
    /// Which evaluation (over all scales, from 1) the returned image is.
    pub best_evaluation: usize,
    /// Loss evaluations over all scales.
    pub evaluations: usize,
}

/// Whether a scale whose losses so far are `losses` should go on: not when
/// the best of them fell by less than `min_progress` (a fraction) over the
/// last [`PROGRESS_WINDOW`] of them. Always while fewer than
/// `PROGRESS_WINDOW + 1` are in, and always for `min_progress` 0.
fn progressing(losses: &[f64], min_progress: f64) -> bool {
    if min_progress <= 0.0 || losses.len() <= PROGRESS_WINDOW {
        return true;
    }
    let best = |l: &[f64]| l.iter().copied().fold(f64::INFINITY, f64::min);
    let before = best(&losses[..losses.len() - PROGRESS_WINDOW]);
    let now = best(losses);
    now < before * (1.0 - min_progress)
}

/// A configured Gatys run.
pub struct Gatys {
    config: GatysConfig,
    vgg: Vgg,
    /// The fewest pixels per side the deepest layer used can see.
    min_side: usize,
}

/// The targets at one scale: content features, blended style Grams (or
/// one set per masked region), and those of the detail terms that are on.
struct Targets {
    plan: LayerPlan,
    content: Vec<Target>,
    style: Vec<Target>,
    regions: Vec<StyleRegion>,
    laplacian: Vec<LaplacianTarget>,
    histogram: Vec<HistogramTarget>,
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

    /// Replaces how the next runs' image starts: for a video, each frame
    /// after the first from the previous result warped into it.
    pub fn set_initial(&mut self, initial: Initial) {
        self.config.initial = initial;
    }

    /// The feature network.
    pub fn vgg(&self) -> &Vgg {
        &self.vgg
    }

    /// The most iterations a run makes over all its scales: the full
    /// size's plus the coarse budget at each coarser scale.
    pub fn total_iterations(&self) -> usize {
        let c = &self.config;
        c.iterations.saturating_add(c.coarse_iterations.saturating_mul(c.scales - 1))
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

    /// The targets for an image the size of `content`, whose longest side
    /// is `full_side` at the last scale (the Laplacian's pooling shrinks
    /// with the scale, rounded down, so a pooling that fits the full size
    /// fits every coarser one).
    fn targets(&self, content: &Tensor, styles: &[Tensor], full_side: usize) -> Result<Targets> {
        let c = &self.config;
        let mut plan = LayerPlan::new(&self.vgg, &c.content_layers, &c.style_layers)?;
        let histogram_layers = if c.histogram_weight > 0.0 {
            plan.add(&self.vgg, "--histogram-layers", &c.histogram_layers)?
        } else {
            Vec::new()
        };
        let names = plan.names();
        let content_image = Var::constant(content.try_to_device(c.device)?);
        let content_features = autograd::no_grad(|| self.vgg.forward_features(&content_image, &names))?;
        let content_targets = perceptual::content_targets(&plan, &content_features);
        let blend: Vec<f64> = if c.style_blend.is_empty() { vec![1.0; styles.len()] } else { c.style_blend.clone() };
        // Each style image goes through the network once, for its Gram
        // targets and its histogram targets alike.
        let style_features = perceptual::style_features(&self.vgg, &plan, styles, c.device)?;
        let (style, regions) = if c.style_masks.is_empty() {
            (perceptual::style_targets_of_features(&plan, &style_features, &blend)?, Vec::new())
        } else {
            let sizes: Vec<(usize, usize)> = content_features.iter().map(|f| (f.shape()[2], f.shape()[3])).collect();
            let regions = style_features
                .iter()
                .zip(&c.style_masks)
                .map(|(features, mask)| {
                    let targets = perceptual::style_targets_of_features(&plan, std::slice::from_ref(features), &[1.0])?;
                    StyleRegion::new(mask, targets, &sizes, c.device)
                })
                .collect::<Result<Vec<_>>>()?;
            (Vec::new(), regions)
        };
        let laplacian = if c.laplacian_weight > 0.0 {
            let side = content.shape()[2].max(content.shape()[3]);
            let pools: Vec<usize> = c
                .laplacian_pools
                .iter()
                .map(|&p| ((p * side) as f64 / full_side as f64).floor().max(1.0) as usize)
                .collect();
            laplacian_targets(content_image.value(), &pools, c.laplacian_weight)?
        } else {
            Vec::new()
        };
        let histogram = histogram_layers
            .iter()
            .map(|&(layer, weight)| {
                let at_layer: Vec<Tensor> = style_features.iter().map(|f| f[layer].value().clone()).collect();
                HistogramTarget::new(layer, &at_layer, &blend, weight * c.histogram_weight)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Targets { plan, content: content_targets, style, regions, laplacian, histogram })
    }

    /// The weighted loss of `image` against `targets` (and the temporal
    /// target, at this image's size, if any).
    fn loss(&self, image: &Var, targets: &Targets, temporal: &[TemporalTarget]) -> Result<(Var, LossParts)> {
        let c = &self.config;
        let features = self.vgg.forward_features(image, &targets.plan.names())?;
        let content = perceptual::content_loss(&features, &targets.content, c.device)?.mul_scalar(c.content_weight);
        let style = match region_style_loss(&features, &targets.regions)? {
            Some(masked) => masked,
            None => perceptual::style_loss(&features, &targets.style, c.device)?,
        }
        .mul_scalar(c.style_weight);
        let tv = image.try_total_variation()?.mul_scalar(c.tv_weight);
        let mut total = &(&content + &style) + &tv;
        let mut parts = LossParts {
            content: content.to_scalar(),
            style: style.to_scalar(),
            tv: tv.to_scalar(),
            ..LossParts::default()
        };
        if let Some(term) = laplacian_loss(image, &targets.laplacian)? {
            parts.laplacian = term.to_scalar();
            total = &total + &term;
        }
        if let Some(term) = histogram_loss(&features, &targets.histogram)? {
            parts.histogram = term.to_scalar();
            total = &total + &term;
        }
        for t in temporal {
            let term = perceptual::temporal_loss(image, &t.warped, &t.reliability)?.mul_scalar(t.weight);
            parts.temporal += term.to_scalar();
            total = &total + &term;
        }
        parts.total = total.to_scalar();
        Ok((total, parts))
    }

    /// Each Laplacian pooling leaves the 3 × 3 kernel room at the full size
    /// (coarser scales pool proportionally less, so they fit too).
    fn check_laplacian_pools(&self, height: usize, width: usize) -> Result<()> {
        if self.config.laplacian_weight <= 0.0 {
            return Ok(());
        }
        match self.config.laplacian_pools.iter().find(|&&p| height / p < 3 || width / p < 3) {
            Some(p) => Err(setting(
                "--laplacian-pool",
                format!(
                    "{p}: a {width}x{height} result pooled by {p} is smaller than the 3x3 Laplacian; use at most {}",
                    height.min(width) / 3
                ),
            )),
            None => Ok(()),
        }
    }

    /// One mask per style image, or none.
    fn check_masks(&self, styles: usize) -> Result<()> {
        let masks = self.config.style_masks.len();
        if masks != 0 && masks != styles {
            return Err(setting(
                "--style-mask",
                format!(
                    "{masks} masks for {styles} style images: give one per --style (none for one style everywhere)"
                ),
            ));
        }
        Ok(())
    }

    /// The weighted losses of an image `[1, 3, H, W]` against `content` and
    /// `styles` (resized to its size as in a run): how well any stylised
    /// image, from this method or another, meets this method's objective.
    pub fn measure(&self, image: &Tensor, content: &Tensor, styles: &[Tensor]) -> Result<LossParts> {
        let (h, w) = (image.shape()[2], image.shape()[3]);
        let styles = self.resize_styles(styles, h, w);
        self.check_masks(styles.len())?;
        self.check_laplacian_pools(h, w)?;
        let targets = self.targets(&resize(content, h, w), &styles, h.max(w))?;
        let image = image.to_dtype(DType::F32).try_to_device(self.config.device)?;
        Ok(self.loss(&Var::constant(image), &targets, &[])?.1)
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
        observe: impl FnMut(&Progress) -> std::result::Result<(), String>,
    ) -> Result<GatysResult> {
        self.run_with_temporal(content, styles, &[], observe)
    }

    /// [`Gatys::run`] for a video frame: each of `temporal` adds a term that
    /// holds the image to an earlier result warped into this frame (Ruder et
    /// al. 2016: the previous frame's, and for long-term consistency earlier
    /// ones; the frame usually starts from the previous one, through
    /// [`Initial::Image`]).
    ///
    /// # Errors
    /// As [`Gatys::run`], and when a temporal target's shapes are not
    /// `[1, 3, H, W]` and `[1, 1, H, W]` at the full size of the result
    /// ([`Gatys::scale_dims`]' last).
    pub fn run_with_temporal(
        &self,
        content: &Tensor,
        styles: &[Tensor],
        temporal: &[TemporalTarget],
        mut observe: impl FnMut(&Progress) -> std::result::Result<(), String>,
    ) -> Result<GatysResult> {
        let c = &self.config;
        for t in temporal {
            let (w, r) = (t.warped.shape(), t.reliability.shape());
            if w.len() != 4 || r.len() != 4 || w[..2] != [1, 3] || r[..2] != [1, 1] || w[2..] != r[2..] {
                return Err(setting(
                    "temporal target",
                    format!("warped frame {w:?} and reliability {r:?}: expected [1, 3, H, W] and [1, 1, H, W]"),
                ));
            }
        }
        if styles.is_empty() {
            return Err(setting("style", "at least one style image is needed"));
        }
        if !c.style_blend.is_empty() && c.style_blend.len() != styles.len() {
            return Err(setting(
                "style blend",
                format!("{} weights for {} style images", c.style_blend.len(), styles.len()),
            ));
        }
        self.check_masks(styles.len())?;
        let dims = self.scale_dims(content.shape()[2], content.shape()[3]);
        let &(full_h, full_w) = dims.last().expect("at least one scale");
        self.check_laplacian_pools(full_h, full_w)?;
        for t in temporal {
            if t.warped.shape()[2..] != [full_h, full_w] {
                return Err(setting(
                    "temporal target",
                    format!("warped frame {:?} for a full-size result of {full_h}x{full_w}", t.warped.shape()),
                ));
            }
        }
        let budget = |scale: usize| if scale + 1 == dims.len() { c.iterations } else { c.coarse_iterations };
        let total_iterations = self.total_iterations();
        let start = Instant::now();
        let mut iteration = 0;
        let mut first_losses = None;
        let mut last_losses = LossParts::default();
        let mut image: Option<Tensor> = None;
        let mut best: Option<(LossParts, usize, Tensor)> = None;
        for (scale, &(h, w)) in dims.iter().enumerate() {
            if scale > 0 {
                // The buffers the pool kept from the coarser scale are mostly
                // too small for this one's (a buffer serves requests of half
                // to all its size); held, they add to the peak: 1.063 against
                // 1.110 GiB for the README's main job, same time and picture.
                tensor::release_pooled_buffers();
                // Likewise the Winograd kernels kept for the deep layers on
                // the coarser scale's small images, which do not pay here.
                tensor::release_kept_kernels();
            }
            let content_here = resize(content, h, w);
            let styles_here = self.resize_styles(styles, h, w);
            let targets = self.targets(&content_here, &styles_here, full_h.max(full_w))?;
            // The temporal term holds the full-size result; coarser scales
            // only lay the strokes out.
            let temporal_here = if scale + 1 == dims.len() {
                temporal
                    .iter()
                    .map(|t| {
                        Ok(TemporalTarget {
                            warped: t.warped.to_dtype(DType::F32).try_to_device(c.device)?,
                            reliability: t.reliability.to_dtype(DType::F32).try_to_device(c.device)?,
                            weight: t.weight,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?
            } else {
                Vec::new()
            };
            let start_image = match (&image, &c.initial) {
                (Some(previous), Initial::Content) => carry_up(previous, &content_here),
                (Some(previous), _) => resize(previous, h, w),
                (None, Initial::Content) => content_here.clone(),
                (None, Initial::Noise) => Tensor::rand_uniform(&[1, 3, h, w], 0.0, 1.0, c.seed, DType::F32),
                (None, Initial::Image(t)) => resize(t, h, w),
            };
            let mut store = ParamStore::new(c.seed, DType::F32);
            let pixels = store.param("image", &[1, 3, h, w], Init::Zeros)?;
            pixels.set(start_image.try_to_device(c.device)?);
            best = None;
            // The stopping rule: every evaluation's loss at this scale,
            // judged over the last PROGRESS_WINDOW of them by their best.
            let losses = std::cell::RefCell::new(Vec::new());
            let keep_going = || progressing(&losses.borrow(), c.min_progress);
            // One evaluation: loss, gradients, and the observer's look.
            let mut evaluate = |iteration: &mut usize| -> Result<(f64, autograd::Gradients)> {
                // Projected onto 0–1 before every evaluation, so the loss is
                // that of a picture that can be saved: left free, L-BFGS
                // pushed 5% of the values below 0 and the written (clamped)
                // result scored 1.60 where the run had reported 1.145
                // (astronaut × The Starry Night, 512 px). Clamping inside the
                // loss instead would give pixels at exactly 0 or 1, common in
                // photos, no gradient, and freeze them.
                pixels.set(pixels.value().clamp(0.0, 1.0));
                let (loss, parts) = self.loss(&pixels.var(), &targets, &temporal_here)?;
                losses.borrow_mut().push(parts.total);
                *iteration += 1;
                if !parts.total.is_finite() {
                    return Err(StyleError::Diverged { value: parts.total, iteration: *iteration, scale: scale + 1 });
                }
                let grads = loss.backward_and_free();
                first_losses.get_or_insert(parts);
                last_losses = parts;
                let value = pixels.value();
                if best.as_ref().is_none_or(|(b, _, _)| parts.total < b.total) {
                    // A copy: the optimiser may update the pixels in place.
                    best = Some((parts, *iteration, value.mul_scalar(1.0)));
                }
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
            let iterations = budget(scale);
            match c.optimizer {
                OptimizerKind::Lbfgs => {
                    let config = LbfgsConfig {
                        lr: c.learning_rate,
                        max_iter: iterations,
                        max_eval: iterations,
                        history_size: c.history,
                        line_search: c.line_search,
                        ..LbfgsConfig::default()
                    };
                    // Pixels stay in 0–1 inside the optimiser, not only by
                    // the clamp before each evaluation: on the README's main
                    // job 136 evaluations at full size instead of 150 to a
                    // loss of 1.2075, and 1.157 after 200 instead of 1.177.
                    let mut lbfgs = Lbfgs::new(config).with_bounds(0.0, 1.0);
                    // The preconditioner works on the host's copy of the pixels;
                    // a run elsewhere goes without.
                    if c.preconditioner_levels > 0 && c.device == Device::Cpu {
                        let m = PyramidPreconditioner::new(3, h, w, c.preconditioner_levels, PRECONDITIONER_LIFT);
                        lbfgs = lbfgs.with_preconditioner(move |v| {
                            let mut values = v.to_vec::<f32>();
                            m.apply(&mut values);
                            Tensor::from_vec(values, v.shape())
                        });
                    }
                    lbfgs.step_while(std::slice::from_ref(&pixels), || evaluate(&mut iteration), |_| keep_going())?;
                }
                OptimizerKind::Adam => {
                    let mut adam = Adam::new(AdamConfig { lr: c.learning_rate, ..AdamConfig::default() });
                    for _ in 0..iterations {
                        let (_, grads) = evaluate(&mut iteration)?;
                        adam.step(std::slice::from_ref(&pixels), &grads);
                        if !keep_going() {
                            break;
                        }
                    }
                }
            }
            image = Some(pixels.value());
        }
        // The network outlives the run; the kernels kept for it need not.
        tensor::release_kept_kernels();
        let (best_losses, best_evaluation, image) = match best {
            Some(best) => best,
            None => (last_losses, iteration, image.expect("at least one scale")),
        };
        let content_final = resize(content, image.shape()[2], image.shape()[3]);
        Ok(GatysResult {
            image: self.presentable(&image, &content_final),
            first_losses: first_losses.unwrap_or_default(),
            final_losses: last_losses,
            best_losses,
            best_evaluation,
            evaluations: iteration,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A coarse result that is the photo brought down to its size is carried
    /// up to the photo itself, detail and all; a flat one gains the photo's
    /// detail around its own level.
    #[test]
    fn carry_up_restores_the_photos_detail() {
        let photo = Tensor::from_fn(&[1, 3, 32, 48], DType::F32, |i| {
            let (x, y) = ((i % 48) as f64, (i / 48 % 32) as f64);
            0.5 + 0.3 * (x * 1.3).sin() * (y * 0.9).cos()
        });
        let coarse = resize(&photo, 16, 24);
        let carried = carry_up(&coarse, &photo);
        assert_eq!(carried.shape(), photo.shape());
        let worst = carried.sub(&photo).abs().max(&[0, 1, 2, 3], false).to_scalar();
        assert!(worst < 1e-5, "carried up to the photo within {worst}");
        let plain = resize(&coarse, 32, 48);
        assert!(
            plain.sub(&photo).abs().max(&[0, 1, 2, 3], false).to_scalar() > 0.05,
            "enlarging alone loses the detail"
        );
        let flat = Tensor::full(&[1, 3, 16, 24], 0.5, DType::F32);
        let carried = carry_up(&flat, &photo);
        let detail = photo.sub(&resize(&coarse, 32, 48));
        let worst = carried.sub(&detail.add_scalar(0.5)).abs().max(&[0, 1, 2, 3], false).to_scalar();
        assert!(worst < 1e-5, "a flat result gains the photo's detail, within {worst}");
    }
}
