//! Perceptual losses, shared by every method that compares images through a
//! VGG (Gatys et al. 2016, "Image Style Transfer Using Convolutional Neural
//! Networks"; Johnson et al. 2016, "Perceptual Losses for Real-Time Style
//! Transfer"): Gatys optimisation, GAN training, and scoring any image.
//!
//! * content: `Σ_l w_l · mean((F_l − C_l)²) / mean(C_l²)` over the content
//!   layers, `F_l` the image's features `[B, C, H, W]`, `C_l` the target's;
//! * style: `Σ_l w_l · mean((G(F_l) − T_l)²) / mean(T_l²)` over the style
//!   layers, `G` the Gram matrix `[B, C, C]` (see `autograd`'s `gram`), `T_l`
//!   the style image's (or a blend of several);
//! * total variation of the pixels (see `autograd`'s `total_variation`);
//! * temporal: the pixels held to the previous video frame's result, warped
//!   by optical flow, where the flow is reliable (Ruder et al. 2016);
//! * detail and control: the Laplacian loss ([`laplacian`], Li et al. 2017),
//!   the histogram loss ([`histogram`], Risser et al. 2017) and style masks
//!   ([`regions`], Gatys et al. 2017).
//!
//! Dividing each layer's loss by its target's mean square makes every layer
//! start near 1 whatever its depth, width or the network's input scale
//! (Caffe's 0–255 inputs make raw Gram losses ~10⁷ times larger than
//! torchvision's), so one set of weights serves every network.

use autograd::Var;
use nn::Vgg;
use tensor::{DType, Device, Tensor};

use crate::error::{setting, Result};

pub mod histogram;
pub mod laplacian;
pub mod regions;

/// Parses `relu1_1,relu2_1:0.5` into layers with weights (1 when omitted);
/// `name` (the option, such as `--style-layers`) is named in errors.
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

/// The layers a loss reads: each distinct name once (the order features
/// are asked of the VGG), and each content and style layer as an index into
/// them with its weight.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerPlan {
    /// Distinct layer names, in first-use order (content layers first).
    pub names: Vec<String>,
    /// `(index into names, weight)` of each content layer.
    pub content: Vec<(usize, f64)>,
    /// `(index into names, weight)` of each style layer.
    pub style: Vec<(usize, f64)>,
}

impl LayerPlan {
    /// The plan for these layers of `vgg`; an unknown name is refused
    /// naming it and the network.
    pub fn new(vgg: &Vgg, content: &[(String, f64)], style: &[(String, f64)]) -> Result<LayerPlan> {
        let mut plan = LayerPlan { names: Vec::new(), content: Vec::new(), style: Vec::new() };
        plan.content = plan.add(vgg, "layers", content)?;
        plan.style = plan.add(vgg, "layers", style)?;
        Ok(plan)
    }

    /// `(index into names, weight)` of each of `layers`, adding the names
    /// not yet read (for a loss on further layers, such as the histogram
    /// loss's); an unknown name is refused naming it, the network and
    /// `option` (the setting that gave it).
    pub fn add(&mut self, vgg: &Vgg, option: &str, layers: &[(String, f64)]) -> Result<Vec<(usize, f64)>> {
        layers
            .iter()
            .map(|(name, w)| {
                if !vgg.layer_names().iter().any(|n| n == name) {
                    return Err(setting(
                        option,
                        format!(
                            "`{name}` is not a layer of {}; layers are named like relu4_2, conv1_1, pool3",
                            vgg.kind().name()
                        ),
                    ));
                }
                let index = self.names.iter().position(|l| l == name).unwrap_or_else(|| {
                    self.names.push(name.clone());
                    self.names.len() - 1
                });
                Ok((index, *w))
            })
            .collect()
    }

    /// The names, as `Vgg::forward_features` takes them.
    pub fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }
}

/// What one layer's loss compares against: the feature (content) or Gram
/// matrix (style) `value`, and the weight with the normalisation applied.
#[derive(Clone)]
pub struct Target {
    /// Index into [`LayerPlan::names`].
    pub layer: usize,
    /// The target, a constant.
    pub value: Var,
    /// `weight / mean(value²)` (the mean floored at 1e-12).
    pub weight: f64,
}

/// `weight / mean(target²)`, the mean floored at 1e-12.
pub fn normalised_weight(target: &Tensor, weight: f64) -> f64 {
    weight / target.square().mean_all().to_scalar().max(1e-12)
}

/// Content targets: `features` (from [`LayerPlan::names`]) at the content
/// layers, each weighted by its normalisation.
pub fn content_targets(plan: &LayerPlan, features: &[Var]) -> Vec<Target> {
    plan.content
        .iter()
        .map(|&(layer, w)| {
            let value = features[layer].value().clone();
            let weight = normalised_weight(&value, w);
            Target { layer, value: Var::constant(value), weight }
        })
        .collect()
}

/// Content targets of `image` (`[N, 3, H, W]`) computed directly: only the
/// content layers are run (VGG stops at the deepest of them), and no graph
/// is recorded. Same targets as [`content_targets`] of the full features.
///
/// # Errors
/// A VGG error when `image` is not `[N, 3, H, W]` or too small for the
/// deepest content layer.
pub fn content_targets_of(vgg: &Vgg, plan: &LayerPlan, image: &Tensor) -> Result<Vec<Target>> {
    let names = plan.names();
    let wanted: Vec<&str> = plan.content.iter().map(|&(layer, _)| names[layer]).collect();
    let features = autograd::no_grad(|| vgg.forward_features(&Var::constant(image.clone()), &wanted))?;
    Ok(plan
        .content
        .iter()
        .zip(features)
        .map(|(&(layer, w), feature)| {
            let value = feature.value().clone();
            let weight = normalised_weight(&value, w);
            Target { layer, value: Var::constant(value), weight }
        })
        .collect())
}

/// Style targets: the Gram matrices of each style image's features at the
/// style layers, blended by `blend` (any positive weights; normalised to sum
/// 1), each weighted by its normalisation. Images are moved to `device`.
///
/// # Errors
/// A `style blend` setting error when `blend` does not hold one
/// non-negative weight per style image with a positive sum.
pub fn style_targets(
    vgg: &Vgg,
    plan: &LayerPlan,
    styles: &[Tensor],
    blend: &[f64],
    device: Device,
) -> Result<Vec<Target>> {
    style_targets_of_features(plan, &style_features(vgg, plan, styles, device)?, blend)
}

/// Each style image's features at every layer of `plan` (in
/// [`LayerPlan::names`] order), no graph recorded, on `device`: what
/// [`style_targets_of_features`] and other style terms are built from, so
/// the images go through the network once.
///
/// # Errors
/// A VGG error when an image is not `[1, 3, H, W]` or too small for the
/// deepest layer.
pub fn style_features(vgg: &Vgg, plan: &LayerPlan, styles: &[Tensor], device: Device) -> Result<Vec<Vec<Var>>> {
    let names = plan.names();
    styles
        .iter()
        .map(|style| {
            let style = Var::constant(style.try_to_device(device)?);
            Ok(autograd::no_grad(|| vgg.forward_features(&style, &names))?)
        })
        .collect()
}

/// [`style_targets`] from features [`style_features`] computed.
///
/// # Errors
/// As [`style_targets`].
pub fn style_targets_of_features(plan: &LayerPlan, features: &[Vec<Var>], blend: &[f64]) -> Result<Vec<Target>> {
    if features.is_empty() || blend.len() != features.len() {
        return Err(setting("style blend", format!("{} weights for {} style images", blend.len(), features.len())));
    }
    let blend_sum: f64 = blend.iter().sum();
    if !(blend_sum > 0.0 && blend.iter().all(|b| b.is_finite() && *b >= 0.0)) {
        return Err(setting("style blend", format!("{blend:?}: the weights must be non-negative with a positive sum")));
    }
    let mut grams: Vec<Option<Tensor>> = vec![None; plan.style.len()];
    for (style, &b) in features.iter().zip(blend) {
        for (slot, &(i, _)) in grams.iter_mut().zip(&plan.style) {
            let g = style[i].gram().value().mul_scalar(b / blend_sum);
            *slot = Some(match slot.take() {
                Some(sum) => sum + g,
                None => g,
            });
        }
    }
    Ok(plan
        .style
        .iter()
        .zip(grams)
        .map(|(&(layer, w), gram)| {
            let value = gram.expect("at least one style image");
            let weight = normalised_weight(&value, w);
            Target { layer, value: Var::constant(value), weight }
        })
        .collect())
}

/// The sum of `terms`, `None` when there are none: the loss terms that are
/// optional (masked regions, the detail terms) are `Option`s, so that an
/// absent one costs no zero tensor and no graph node.
pub(crate) fn sum_of_terms(terms: impl IntoIterator<Item = Result<Var>>) -> Result<Option<Var>> {
    let mut sum: Option<Var> = None;
    for term in terms {
        let term = term?;
        sum = Some(match sum {
            Some(sum) => sum + term,
            None => term,
        });
    }
    Ok(sum)
}

/// A zero scalar on `device`, where the sums start.
fn zero(device: Device) -> Result<Var> {
    Ok(Var::constant(Tensor::scalar(0.0, DType::F32).try_to_device(device)?))
}

/// `Σ weight · mse(features[layer], value)` over `targets` (each target of
/// its feature's shape).
pub fn content_loss(features: &[Var], targets: &[Target], device: Device) -> Result<Var> {
    let mut loss = zero(device)?;
    for t in targets {
        loss = loss + features[t.layer].try_mse(&t.value)?.mul_scalar(t.weight);
    }
    Ok(loss)
}

/// `Σ weight · mse(gram(features[layer]), value)` over `targets`; a target
/// of batch 1 is broadcast over a batch of images.
pub fn style_loss(features: &[Var], targets: &[Target], device: Device) -> Result<Var> {
    let mut loss = zero(device)?;
    for t in targets {
        let gram = features[t.layer].try_gram()?;
        let target = if t.value.shape() == gram.shape() {
            t.value.clone()
        } else {
            Var::constant(t.value.value().try_broadcast_to(gram.shape())?)
        };
        loss = loss + gram.try_mse(&target)?.mul_scalar(t.weight);
    }
    Ok(loss)
}

/// Ruder et al.'s short-term temporal loss ("Artistic style transfer for
/// videos", 2016, eq. 7): `Σ c ⊙ (x − ω)² / D`, `x` the image `[1, 3, H, W]`,
/// `ω` the previous stylised frame warped into this one by optical flow
/// (same shape), `c` the flow's reliability `[1, 1, H, W]` (1 where the flow
/// can be trusted, 0 at occlusions and motion boundaries; broadcast over the
/// channels) and `D = 3·H·W`. In the squared units of 0–1 pixels.
///
/// # Errors
/// When the shapes do not match as above.
pub fn temporal_loss(image: &Var, warped: &Tensor, reliability: &Tensor) -> Result<Var> {
    let difference = image.try_sub(&Var::constant(warped.clone()))?;
    let weighted = difference.try_mul(&Var::constant(reliability.clone()))?;
    Ok(weighted.try_mul(&difference)?.mean_all())
}

/// `Σ weight · mse(mean_n gram(features[layer])_n, value)` over `targets`:
/// the style loss of a batch `[N, C, H, W]` taken as one sample, its Gram
/// matrices averaged over the batch before they meet the target (the mean
/// of the crops' Grams is the Gram of all their positions together, as if
/// the crops were tiled into one image). Training on crops needs this: a
/// 128-px crop of The Starry Night itself scores a style term of 19–46
/// against the whole painting's Gram at the same scale (256-px crops,
/// 4.6–5.9), so a loss that asks every crop for the whole painting's
/// statistics asks for what no part of the painting has, and the
/// generator answers with every colour everywhere, washed out.
///
/// # Errors
/// When a feature is not `[N, C, H, W]` or `[N, C, M]`, or a target's
/// shape is not `[1, C, C]` for its layer's `C`.
pub fn pooled_style_loss(features: &[Var], targets: &[Target], device: Device) -> Result<Var> {
    let terms = targets.iter().map(|t| {
        let gram = features[t.layer].try_gram()?.mean(&[0], true);
        Ok(gram.try_mse(&t.value)?.mul_scalar(t.weight))
    });
    sum_of_terms(terms)?.map_or_else(|| zero(device), Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(value: Tensor) -> Target {
        Target { layer: 0, value: Var::constant(value), weight: 1.0 }
    }

    #[test]
    fn the_pooled_style_loss_compares_the_batchs_mean_gram() {
        let a = Tensor::rand_uniform(&[1, 3, 4, 5], -1.0, 1.0, 1, DType::F32);
        let b = Tensor::rand_uniform(&[1, 3, 4, 5], -1.0, 1.0, 2, DType::F32);
        let batch = Var::constant(Tensor::cat(&[&a, &b], 0));
        // Against the mean of the two crops' Grams the pooled loss is zero,
        // though neither crop alone matches it.
        let gram = |t: &Tensor| Var::constant(t.clone()).gram().value().clone();
        let mean_gram = (gram(&a) + gram(&b)).mul_scalar(0.5);
        let targets = [target(mean_gram)];
        let pooled = pooled_style_loss(std::slice::from_ref(&batch), &targets, Device::Cpu).unwrap().to_scalar();
        let per_crop = style_loss(std::slice::from_ref(&batch), &targets, Device::Cpu).unwrap().to_scalar();
        assert!(per_crop > 1e-4 && pooled < 1e-6 * per_crop, "pooled loss {pooled}, per crop {per_crop}");
        // A batch of one: the two losses agree.
        let single = [Var::constant(a)];
        let one = pooled_style_loss(&single, &targets, Device::Cpu).unwrap().to_scalar();
        let other = style_loss(&single, &targets, Device::Cpu).unwrap().to_scalar();
        assert!((one - other).abs() <= 1e-6 * other.abs().max(1.0));
    }

    #[test]
    fn the_pooled_style_loss_has_the_gradient_of_its_formula() {
        let batch = Tensor::rand_uniform(&[3, 2, 3, 4], -1.0, 1.0, 5, DType::F64);
        let goal = Tensor::rand_uniform(&[1, 2, 2], 0.0, 0.5, 6, DType::F64);
        let loss = |v: &[Var]| {
            let targets = [target(goal.clone())];
            pooled_style_loss(std::slice::from_ref(&v[0]), &targets, Device::Cpu).unwrap()
        };
        autograd::gradcheck("pooled_style_loss", &[batch], loss, &Default::default()).unwrap();
    }
}
