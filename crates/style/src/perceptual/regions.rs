//! Spatial control of style (Gatys, Ecker, Bethge, Hertzmann and
//! Shechtman, "Controlling Perceptual Factors in Neural Style Transfer",
//! CVPR 2017, §4): each style image applies only where its mask says. A
//! region's Gram matrix is taken over its own positions, each weighted by
//! the mask (resized to the layer), and meets that style's Gram matrix;
//! where no mask reaches, only the content term acts, so the photo stays.
//!
//! Masked Gram of features `F` (`C × M` positions) and mask `m` at the
//! layer's size: `G_m = (F·diag(m²)·Fᵀ) / (C · Σ m²)`, the Gram of the
//! masked features renormalised by the region's (soft) size instead of the
//! whole image's, so a region that meets its style exactly scores 0 and a
//! full mask gives the plain Gram. Each region's term is then weighted by
//! its share of the image, `Σ m² / (h·w)`, so that masks that together
//! cover the image weigh what one style over the whole image does, and a
//! region's term does not grow as the region shrinks.

use autograd::Var;
use tensor::{DType, Device, Tensor};

use super::Target;
use crate::error::{setting, Result};
use crate::image_io::resize;

/// A region's masks at each style layer, and that style's Gram targets.
#[derive(Clone)]
pub struct StyleRegion {
    /// The style's Gram targets (one per style layer, as
    /// [`super::style_targets`] of that style alone).
    pub targets: Vec<Target>,
    /// Per target: the mask at its layer's size `[1, 1, h, w]` and the
    /// region's share of the image, `Σ m² / (h·w)`; `None` where the mask
    /// leaves nothing at that size.
    pub masks: Vec<Option<(Var, f64)>>,
}

/// `mask` (`[1, 3, H, W]` grey, or any image: its channels are averaged) at
/// `height × width`, in 0–1, `[1, 1, height, width]`.
pub fn mask_at(mask: &Tensor, height: usize, width: usize) -> Tensor {
    let grey = mask.to_dtype(DType::F32).mean(&[1], true);
    let rgb = Tensor::cat(&[&grey, &grey, &grey], 1);
    resize(&rgb, height, width).narrow(1, 0, 1).clamp(0.0, 1.0)
}

impl StyleRegion {
    /// The region of `mask` for a style whose Gram targets are `targets`,
    /// given each layer's feature size `(h, w)` (indexed as
    /// [`super::LayerPlan::names`]), on `device`.
    ///
    /// # Errors
    /// When the mask cannot be moved to `device`.
    ///
    /// # Panics
    /// When a target's layer has no entry in `layer_sizes`.
    pub fn new(mask: &Tensor, targets: Vec<Target>, layer_sizes: &[(usize, usize)], device: Device) -> Result<Self> {
        let masks = targets
            .iter()
            .map(|t| {
                let (h, w) = layer_sizes[t.layer];
                let m = mask_at(mask, h, w);
                let share = m.square().sum_all().to_scalar() / (h * w) as f64;
                Ok(if share < 1e-6 { None } else { Some((Var::constant(m.try_to_device(device)?), share)) })
            })
            .collect::<Result<_>>()?;
        Ok(StyleRegion { targets, masks })
    }
}

/// `G_m` of `features` (`[1, C, h, w]`) under `mask` (`[1, 1, h, w]`) with
/// `scale = h·w / Σ m²`. Differentiable in the features.
///
/// # Errors
/// When the shapes do not match.
pub fn masked_gram(features: &Var, mask: &Var, scale: f64) -> Result<Var> {
    if features.shape().len() != 4 || mask.shape().len() != 4 || features.shape()[2..] != mask.shape()[2..] {
        return Err(setting(
            "style mask",
            format!("features {:?} and mask {:?} differ in size", features.shape(), mask.shape()),
        ));
    }
    Ok(features.try_mul(mask)?.try_gram()?.mul_scalar(scale))
}

/// `Σ_regions Σ_targets share · weight · mse(G_m(features[layer]), value)`:
/// each style's term over its own region, or `None` when no region has any.
///
/// # Errors
/// When a feature map does not match its mask or target.
///
/// # Panics
/// When a target's layer is not an index into `features`.
pub fn region_style_loss(features: &[Var], regions: &[StyleRegion]) -> Result<Option<Var>> {
    let masked = regions.iter().flat_map(|region| {
        region.targets.iter().zip(&region.masks).filter_map(|(t, mask)| mask.as_ref().map(|mask| (t, mask)))
    });
    super::sum_of_terms(masked.map(|(t, (mask, share))| {
        let gram = masked_gram(&features[t.layer], mask, 1.0 / share)?;
        Ok(gram.try_mse(&t.value)?.mul_scalar(t.weight * share))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_mask_gives_the_plain_gram_and_a_half_mask_the_halfs() {
        let f = Var::constant(Tensor::rand_uniform(&[1, 3, 4, 6], -1.0, 1.0, 1, DType::F64));
        let full = Var::constant(Tensor::full(&[1, 1, 4, 6], 1.0, DType::F64));
        let gap = (masked_gram(&f, &full, 1.0).unwrap().value() - f.gram().value())
            .abs()
            .to_dtype(DType::F64)
            .to_vec::<f64>()
            .into_iter()
            .fold(0.0, f64::max);
        assert!(gap < 1e-12);
        // The left half alone, renormalised by its area, is the Gram of the left half.
        let left = Var::constant(Tensor::from_fn(&[1, 1, 4, 6], DType::F64, |i| f64::from(i % 6 < 3)));
        let half = masked_gram(&f, &left, 2.0).unwrap();
        let of_left = f.narrow(3, 0, 3).gram();
        assert!(
            (half.value() - of_left.value()).abs().to_dtype(DType::F64).to_vec::<f64>().into_iter().fold(0.0, f64::max)
                < 1e-12
        );
    }

    #[test]
    fn the_region_loss_has_the_gradient_of_its_formula() {
        let goal = Tensor::rand_uniform(&[1, 2, 2], 0.0, 0.5, 3, DType::F64);
        let mask = Tensor::rand_uniform(&[1, 1, 3, 4], 0.0, 1.0, 4, DType::F64);
        let region = StyleRegion {
            targets: vec![Target { layer: 0, value: Var::constant(goal), weight: 1.5 }],
            masks: vec![Some((Var::constant(mask), 0.6))],
        };
        let loss =
            |v: &[Var]| region_style_loss(std::slice::from_ref(&v[0]), std::slice::from_ref(&region)).unwrap().unwrap();
        let f = Tensor::rand_uniform(&[1, 2, 3, 4], -1.0, 1.0, 5, DType::F64);
        autograd::gradcheck("region_style_loss", &[f], loss, &Default::default()).unwrap();
    }

    #[test]
    fn masks_are_resized_to_each_layer_and_a_black_one_leaves_none() {
        let left = Tensor::from_fn(&[1, 3, 16, 16], DType::F32, |i| f64::from(i % 16 < 8));
        let at = mask_at(&left, 4, 4).to_vec::<f32>();
        assert!(at[0] > 0.95 && at[3] < 0.05, "{at:?}");
        let target = Target { layer: 0, value: Var::constant(Tensor::zeros(&[1, 2, 2], DType::F32)), weight: 1.0 };
        let black = Tensor::zeros(&[1, 3, 16, 16], DType::F32);
        let region = StyleRegion::new(&black, vec![target], &[(4, 4)], Device::Cpu).unwrap();
        assert!(region.masks[0].is_none());
    }
}
