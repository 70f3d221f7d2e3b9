//! The Laplacian loss of Li, Xu, Nie and Chua, "Laplacian-Steered Neural
//! Style Transfer" (ACM Multimedia 2017): the image's Laplacian,
//! after `p × p` average pooling, held to the content's. VGG's deep content
//! features keep where things are but not their edges; the Laplacian is
//! large exactly at edges and fine structure (eyes, letters, outlines), so
//! this term keeps them while the style term repaints flat regions.
//!
//! `L = Σ_p w · mean((D_p(x) − D_p(c))²) / mean(D_p(c)²)`, `D_p` the 3 × 3
//! Laplacian `[[0, −1, 0], [−1, 4, −1], [0, −1, 0]]` applied to the sum of
//! the colour channels (Li et al. apply one kernel across the three
//! channels) of the image average-pooled by `p`, without padding (a padded
//! border would be an edge that is not in the photo). Dividing by the
//! target's mean square makes the term start near 1 at any size, like the
//! content and style terms; the mean square is floored at
//! [`LAPLACIAN_FLOOR`], so a content with almost no detail (a clear sky, a
//! smooth ramp) does not make the term enormous.

use autograd::Var;
use tensor::{Conv2dParams, DType, Pool2dParams, Tensor};

use crate::error::{setting, Result};

/// The least mean square a target's Laplacian is normalised by: that of a
/// faint texture, an RMS of 0.01 for the Laplacian of the three channels'
/// sum (about 0.003 per channel) on 0–1 pixels.
pub const LAPLACIAN_FLOOR: f64 = 1e-4;

/// The 3 × 3 Laplacian, the same for each of the three colour channels and
/// summed over them: weight `[1, 3, 3, 3]`.
fn laplacian_kernel(dtype: DType) -> Tensor {
    const TAPS: [f64; 9] = [0.0, -1.0, 0.0, -1.0, 4.0, -1.0, 0.0, -1.0, 0.0];
    Tensor::from_fn(&[1, 3, 3, 3], dtype, |i| TAPS[i % 9])
}

/// `D_p(image)`: the Laplacian of the channel sum of `image` (`[N, 3, H,
/// W]`) after `pool × pool` average pooling (stride `pool`), `[N, 1, H/p −
/// 2, W/p − 2]`. Differentiable.
///
/// # Errors
/// When `image` is not `[N, 3, H, W]`, `pool` is 0, or the pooled image is
/// smaller than the 3 × 3 kernel.
pub fn pooled_laplacian(image: &Var, pool: usize) -> Result<Var> {
    let shape = image.shape().to_vec();
    if shape.len() != 4 || shape[1] != 3 {
        return Err(setting("laplacian", format!("expected an image [N, 3, H, W], got {shape:?}")));
    }
    if pool == 0 || shape[2] / pool < 3 || shape[3] / pool < 3 {
        return Err(setting(
            "--laplacian-pool",
            format!("pooling {}x{} px by {pool} leaves less than the 3x3 Laplacian needs", shape[3], shape[2]),
        ));
    }
    let pooled = if pool == 1 { image.clone() } else { image.try_avg_pool2d(Pool2dParams::new(pool, pool), false)? };
    let kernel = Var::constant(laplacian_kernel(image.value().dtype()).try_to_device(image.value().device())?);
    Ok(pooled.try_conv2d(&kernel, None, Conv2dParams::default())?)
}

/// The content's pooled Laplacian at one pooling size, a constant, with
/// its normalised weight.
#[derive(Clone)]
pub struct LaplacianTarget {
    /// The pooling size `p`.
    pub pool: usize,
    /// `D_p(content)`.
    pub value: Var,
    /// `weight / max(mean(value²), LAPLACIAN_FLOOR)`.
    pub weight: f64,
}

/// The targets of `content` (`[1, 3, H, W]`) for each pooling size, each
/// with `weight` (split evenly over the sizes, so adding a size does not
/// change the term's overall weight).
///
/// # Errors
/// As [`pooled_laplacian`].
pub fn laplacian_targets(content: &Tensor, pools: &[usize], weight: f64) -> Result<Vec<LaplacianTarget>> {
    let share = weight / pools.len().max(1) as f64;
    pools
        .iter()
        .map(|&pool| {
            let value = pooled_laplacian(&Var::constant(content.clone()), pool)?.value().clone();
            let mean_square = value.square().mean_all().to_scalar();
            let weight = share / mean_square.max(LAPLACIAN_FLOOR);
            Ok(LaplacianTarget { pool, value: Var::constant(value), weight })
        })
        .collect()
}

/// `Σ weight · mse(D_p(image), target)` over `targets`, or `None` when there
/// are none.
///
/// # Errors
/// When `image`'s size does not give the targets' shapes.
pub fn laplacian_loss(image: &Var, targets: &[LaplacianTarget]) -> Result<Option<Var>> {
    super::sum_of_terms(
        targets.iter().map(|t| Ok(pooled_laplacian(image, t.pool)?.try_mse(&t.value)?.mul_scalar(t.weight))),
    )
}

/// Pearson's correlation between `D_p(a)` and `D_p(b)` for two images of
/// one shape `[1, 3, H, W]`: 1 when `b` has all of `a`'s edges and fine
/// structure in place (at any contrast: the measure ignores scale), near 0
/// when it has none of them. `None` when `a` has no detail to keep (its
/// Laplacian's mean square is below [`LAPLACIAN_FLOOR`]); 0 when `a` has
/// detail and `b` none.
///
/// # Errors
/// As [`pooled_laplacian`], and when the shapes differ.
pub fn laplacian_correlation(a: &Tensor, b: &Tensor, pool: usize) -> Result<Option<f64>> {
    if a.shape() != b.shape() {
        return Err(setting("laplacian correlation", format!("images {:?} and {:?} differ", a.shape(), b.shape())));
    }
    let lap = |t: &Tensor| -> Result<Vec<f64>> {
        let d = autograd::no_grad(|| pooled_laplacian(&Var::constant(t.to_dtype(DType::F64)), pool))?;
        Ok(d.value().to_vec::<f64>())
    };
    let (x, y) = (lap(a)?, lap(b)?);
    let n = x.len() as f64;
    if x.iter().map(|v| v * v).sum::<f64>() / n < LAPLACIAN_FLOOR {
        return Ok(None);
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (u, v) in x.iter().zip(&y) {
        sxy += (u - mx) * (v - my);
        sxx += (u - mx) * (u - mx);
        syy += (v - my) * (v - my);
    }
    Ok(Some(if syy > 0.0 { sxy / (sxx * syy).sqrt() } else { 0.0 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(seed: u64, h: usize, w: usize, dtype: DType) -> Tensor {
        Tensor::rand_uniform(&[1, 3, h, w], 0.0, 1.0, seed, dtype)
    }

    #[test]
    fn the_laplacian_of_a_linear_ramp_is_zero_and_of_a_dot_is_the_stencil() {
        // A ramp in x and y (the same in every channel) has no curvature.
        let ramp = Tensor::from_fn(&[1, 3, 8, 8], DType::F64, |i| (i % 8) as f64 * 0.1 + (i / 8 % 8) as f64 * 0.05);
        let d = pooled_laplacian(&Var::constant(ramp), 1).unwrap().value().to_vec::<f64>();
        assert!(d.iter().all(|v| v.abs() < 1e-12), "{d:?}");
        // One bright pixel in channel 0 at (3, 3): 4 there, −1 at its four
        // neighbours, in output coordinates shifted by the unpadded border.
        let dot = Tensor::from_fn(&[1, 3, 7, 7], DType::F64, |i| f64::from(i == 3 * 7 + 3));
        let d = pooled_laplacian(&Var::constant(dot), 1).unwrap();
        assert_eq!(d.shape(), &[1, 1, 5, 5]);
        let d = d.value().to_vec::<f64>();
        assert_eq!(d[2 * 5 + 2], 4.0);
        assert_eq!([d[5 + 2], d[3 * 5 + 2], d[2 * 5 + 1], d[2 * 5 + 3]], [-1.0; 4]);
        assert_eq!(d.iter().filter(|v| **v != 0.0).count(), 5);
    }

    #[test]
    fn the_laplacian_loss_has_the_gradient_of_its_formula() {
        let content = image(1, 12, 16, DType::F64);
        for pools in [vec![1], vec![2], vec![1, 4]] {
            let targets = laplacian_targets(&content, &pools, 3.0).unwrap();
            let loss = |v: &[Var]| laplacian_loss(&v[0], &targets).unwrap().unwrap();
            autograd::gradcheck("laplacian_loss", &[image(2, 12, 16, DType::F64)], loss, &Default::default())
                .unwrap_or_else(|e| panic!("pools {pools:?}: {e}"));
        }
    }

    #[test]
    fn the_loss_is_zero_at_the_content_and_near_the_weight_at_a_flat_image() {
        let content = image(3, 32, 32, DType::F32);
        let targets = laplacian_targets(&content, &[2], 5.0).unwrap();
        let at_content = laplacian_loss(&Var::constant(content.clone()), &targets).unwrap().unwrap().to_scalar();
        assert!(at_content.abs() < 1e-9, "{at_content}");
        // A flat image has no Laplacian: the normalised loss is exactly 1 × weight.
        let flat = Tensor::full(&[1, 3, 32, 32], 0.5, DType::F32);
        let at_flat = laplacian_loss(&Var::constant(flat), &targets).unwrap().unwrap().to_scalar();
        assert!((at_flat - 5.0).abs() < 1e-4, "{at_flat}");
        // Against a content without detail the term is normalised by the
        // floor: the image's Laplacian mean square over 1e-4.
        let ramp = Tensor::from_fn(&[1, 3, 32, 32], DType::F64, |i| (i % 32) as f64 / 32.0);
        let targets = laplacian_targets(&ramp, &[1], 2.0).unwrap();
        let image = image(7, 32, 32, DType::F64);
        let expected = 2.0
            * pooled_laplacian(&Var::constant(image.clone()), 1).unwrap().value().square().mean_all().to_scalar()
            / LAPLACIAN_FLOOR;
        let got = laplacian_loss(&Var::constant(image), &targets).unwrap().unwrap().to_scalar();
        assert!((got / expected - 1.0).abs() < 1e-9, "{got} against {expected}");
    }

    #[test]
    fn correlation_is_one_for_the_same_edges_and_near_zero_for_unrelated_ones() {
        let a = image(4, 64, 64, DType::F32);
        let brighter = a.mul_scalar(0.5).add_scalar(0.2);
        assert!((laplacian_correlation(&a, &brighter, 1).unwrap().unwrap() - 1.0).abs() < 1e-6);
        let other = laplacian_correlation(&a, &image(5, 64, 64, DType::F32), 1).unwrap().unwrap();
        assert!(other.abs() < 0.1, "{other}");
        let flat = Tensor::full(&[1, 3, 64, 64], 0.5, DType::F32);
        assert_eq!(laplacian_correlation(&a, &flat, 1).unwrap(), Some(0.0));
        assert_eq!(laplacian_correlation(&flat, &a, 1).unwrap(), None);
    }

    #[test]
    fn too_much_pooling_is_refused_naming_the_option() {
        let e = pooled_laplacian(&Var::constant(image(6, 16, 16, DType::F32)), 8).unwrap_err().to_string();
        assert!(e.contains("--laplacian-pool") && e.contains("16x16"), "{e}");
    }
}
