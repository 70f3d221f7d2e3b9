//! The histogram loss of Risser, Wilmot and Barnes, "Stable and
//! Controllable Neural Texture Synthesis and Style Transfer Using Histogram
//! Losses" (2017). A Gram matrix holds only second moments: many feature
//! distributions share it, some of them washed out, and which one a run
//! lands on depends on where it starts. Matching each channel's whole
//! distribution pins it down.
//!
//! For a layer's features `F` (`[1, C, H, W]`) and the style's, each channel
//! of `F` is remapped to the style's distribution by exact histogram
//! matching: the value of rank `r` among the `M = H·W` positions becomes
//! the style's quantile at `(r + ½)/M`, `R(F)`. The loss is
//! `w · mean((F − R(F))²) / mean(S²)`, `S` the style's features, with
//! `R(F)` held constant as in Risser et al. Its gradient
//! `2w(F − R(F)) / (C·M·mean(S²))` is the loss's true gradient wherever
//! the values of a channel are distinct: `R` depends on `F` only through
//! the ranks, which no small change moves, so `R` is locally constant.

use autograd::Var;
use rayon::prelude::*;
use tensor::{DType, Element, Tensor};

use crate::error::{setting, Result};

/// One channel's target distribution: the style's values in ascending
/// order and, for each, the midpoint of its step of the cumulative weight
/// (its quantile). Several style images mix their distributions by their
/// blend weights.
#[derive(Clone, Debug)]
struct ChannelDistribution {
    values: Vec<f64>,
    quantiles: Vec<f64>,
}

impl ChannelDistribution {
    /// The distribution's values at the quantiles `(r + ½)/m` of ranks
    /// `r = 0 … m−1`: linear between the stored quantiles, constant beyond
    /// the first and last. One walk up the stored quantiles, as the
    /// requested ones ascend.
    fn values_at_ranks(&self, m: usize) -> Vec<f64> {
        let mut k = 0;
        (0..m)
            .map(|rank| {
                let q = (rank as f64 + 0.5) / m as f64;
                while k < self.quantiles.len() && self.quantiles[k] < q {
                    k += 1;
                }
                if k == 0 {
                    return self.values[0];
                }
                if k == self.values.len() {
                    return self.values[k - 1];
                }
                let (q0, q1) = (self.quantiles[k - 1], self.quantiles[k]);
                let t = if q1 > q0 { (q - q0) / (q1 - q0) } else { 0.0 };
                self.values[k - 1] + t * (self.values[k] - self.values[k - 1])
            })
            .collect()
    }
}

/// The style's feature distributions at one layer.
#[derive(Clone, Debug)]
pub struct HistogramTarget {
    /// Index into [`super::LayerPlan::names`].
    pub layer: usize,
    channels: Vec<ChannelDistribution>,
    /// `weight / mean(S²)`.
    pub weight: f64,
}

/// A key that sorts like `v` (sign flipped into the high bit).
fn sortable(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// [`sortable`] for an f32.
fn sortable32(v: f32) -> u32 {
    let bits = v.to_bits();
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | (1 << 31)
    }
}

/// `(key, index)` of `values` in ascending order of value, equal values
/// with equal keys. Values that came from f32 (or narrower) features,
/// `exact_in_f32`, sort as single 64-bit words, value above index, about
/// twice as fast as pairs.
fn rank_order(values: &[f64], exact_in_f32: bool) -> Vec<(u64, u32)> {
    if exact_in_f32 {
        let mut packed: Vec<u64> =
            values.iter().enumerate().map(|(i, &v)| (u64::from(sortable32(v as f32)) << 32) | i as u64).collect();
        packed.sort_unstable();
        return packed.into_iter().map(|k| (k >> 32, k as u32)).collect();
    }
    let mut order: Vec<(u64, u32)> = values.iter().enumerate().map(|(i, &v)| (sortable(v), i as u32)).collect();
    order.sort_unstable();
    order
}

/// Each channel's values of a `[1, C, H, W]` (or `[1, C, M]`) feature map,
/// on the host, as f64 (a plain vector: an f64 tensor would be kept by the
/// buffer pool after use, up to its limit, for every evaluation's copy).
fn channels_of(features: &Tensor) -> Result<(usize, Vec<f64>)> {
    let shape = features.shape();
    if shape.len() < 3 || shape[0] != 1 {
        return Err(setting("histogram loss", format!("expected features [1, C, H, W], got {shape:?}")));
    }
    Ok((shape[1], features.to_f64_vec()))
}

impl HistogramTarget {
    /// The mixture of the styles' feature distributions at `layer`:
    /// `styles[k]` (each `[1, C, …]` with the same `C`) weighted by
    /// `blend[k]` (non-negative, positive sum), and `weight` normalised by
    /// the mixture's mean square.
    ///
    /// # Errors
    /// When the feature maps are not `[1, C, …]` with one `C`, or `blend`
    /// does not match them.
    pub fn new(layer: usize, styles: &[Tensor], blend: &[f64], weight: f64) -> Result<HistogramTarget> {
        let total: f64 = blend.iter().sum();
        if styles.is_empty() || blend.len() != styles.len() || !total.is_finite() || total <= 0.0 {
            return Err(setting(
                "histogram loss",
                format!("{} weights for {} style images", blend.len(), styles.len()),
            ));
        }
        let maps = styles.iter().map(channels_of).collect::<Result<Vec<_>>>()?;
        let channels = maps[0].0;
        if maps.iter().any(|(c, _)| *c != channels) {
            return Err(setting("histogram loss", "the style images' features differ in channels"));
        }
        let mut mean_square = 0.0;
        let distributions = (0..channels)
            .map(|c| {
                let mut weighted: Vec<(f64, f64)> = Vec::new();
                for ((_, values), &b) in maps.iter().zip(blend) {
                    let m = values.len() / channels;
                    let each = b / total / m as f64;
                    weighted.extend(values[c * m..(c + 1) * m].iter().map(|&v| (v, each)));
                }
                weighted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                let mut cumulative = 0.0;
                let quantiles = weighted
                    .iter()
                    .map(|&(_, w)| {
                        cumulative += w;
                        cumulative - w / 2.0
                    })
                    .collect();
                mean_square += weighted.iter().map(|&(v, w)| v * v * w).sum::<f64>() / channels as f64;
                ChannelDistribution { values: weighted.into_iter().map(|(v, _)| v).collect(), quantiles }
            })
            .collect();
        // As `normalised_weight`, for the mixture's mean square.
        Ok(HistogramTarget { layer, channels: distributions, weight: weight / mean_square.max(1e-12) })
    }

    /// `R(F)`: each channel of `features` (`[1, C, …]`, this target's `C`)
    /// remapped to the target's distribution by rank, in `features`'
    /// dtype, on its device.
    ///
    /// # Errors
    /// When `features` has another number of channels.
    pub fn matched(&self, features: &Tensor) -> Result<Tensor> {
        let (channels, values) = channels_of(features)?;
        if channels != self.channels.len() {
            return Err(setting(
                "histogram loss",
                format!("features {:?} against a target of {} channels", features.shape(), self.channels.len()),
            ));
        }
        let m = values.len() / channels.max(1);
        let exact_in_f32 = features.dtype() != DType::F64;
        let mut remapped = vec![0.0f64; values.len()];
        remapped.par_chunks_mut(m.max(1)).zip(values.par_chunks(m.max(1))).zip(&self.channels).for_each(
            |((out, values), distribution)| {
                let order = rank_order(values, exact_in_f32);
                let by_rank = distribution.values_at_ranks(m);
                // Equal values (ReLU's zeros) share the mean of their
                // ranks' targets, so the result does not depend on where
                // in the image each one is.
                let mut start = 0;
                while start < m {
                    let end = start + order[start..].iter().take_while(|(key, _)| *key == order[start].0).count();
                    let target = by_rank[start..end].iter().sum::<f64>() / (end - start) as f64;
                    for &(_, i) in &order[start..end] {
                        out[i as usize] = target;
                    }
                    start = end;
                }
            },
        );
        // Built in a buffer from the pool (a tensor made from a vector would
        // hand one more buffer to the pool every evaluation, which it keeps).
        let matched = Tensor::from_fn(features.shape(), features.dtype(), |i| remapped[i]);
        Ok(matched.try_to_device(features.device())?)
    }
}

/// `Σ weight · mse(F, R(F))` over `targets`, `F` the features at each
/// target's layer and `R(F)` a constant (see the module's note on the
/// gradient), or `None` when there are no targets. Each call copies the
/// features to the host and sorts every channel: at `relu1_1` of a 512²
/// image, 64 sorts of 262,144 values.
///
/// # Errors
/// When a feature map does not match its target.
///
/// # Panics
/// When a target's layer is not an index into `features`.
pub fn histogram_loss(features: &[Var], targets: &[HistogramTarget]) -> Result<Option<Var>> {
    // `matched` checks each feature map's shape.
    super::sum_of_terms(targets.iter().map(|t| {
        let f = &features[t.layer];
        let matched = Var::constant(t.matched(f.value())?);
        Ok(f.try_mse(&matched)?.mul_scalar(t.weight))
    }))
}

/// The Wasserstein-1 distance between two channels' value distributions
/// of equal count: the mean gap between their sorted values (the histogram
/// loss is, for equal counts and distinct values, the squared
/// Wasserstein-2 distance; both vanish together). For tests and
/// measurement.
pub fn sorted_distance<E: Element>(a: &[E], b: &[E]) -> f64 {
    let sorted = |x: &[E]| {
        let mut v: Vec<f64> = x.iter().map(|e| e.to_f64()).collect();
        v.sort_unstable_by(f64::total_cmp);
        v
    };
    let (a, b) = (sorted(a), sorted(b));
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn features(seed: u64, c: usize, h: usize, w: usize, low: f64, high: f64) -> Tensor {
        Tensor::rand_uniform(&[1, c, h, w], low, high, seed, DType::F64)
    }

    #[test]
    fn the_style_matched_to_itself_is_unchanged() {
        let style = features(1, 3, 6, 7, 0.0, 2.0);
        let target = HistogramTarget::new(0, std::slice::from_ref(&style), &[1.0], 1.0).unwrap();
        let matched = target.matched(&style).unwrap();
        let gap = (&matched - &style).abs().to_dtype(DType::F64).to_vec::<f64>().into_iter().fold(0.0, f64::max);
        assert!(gap < 1e-12, "{gap}");
        let loss = histogram_loss(&[Var::constant(style)], &[target]).unwrap().unwrap().to_scalar();
        assert!(loss < 1e-20, "{loss}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Whatever the sizes and value ranges, the remapped features keep
        /// the image's ranks and take the style's distribution: with equal
        /// counts, exactly the style's sorted values.
        #[test]
        fn matching_keeps_ranks_and_takes_the_styles_values(
            c in 1usize..4, h in 1usize..9, w in 1usize..9, seed in 0u64..1000, shift in -3.0f64..3.0,
        ) {
            let style = features(seed, c, h, w, shift, shift + 1.0);
            let image = features(seed + 1, c, h, w, -1.0, 5.0);
            let target = HistogramTarget::new(0, std::slice::from_ref(&style), &[1.0], 1.0).unwrap();
            let matched = target.matched(&image).unwrap();
            let (s, x, r) = (style.to_vec::<f64>(), image.to_vec::<f64>(), matched.to_vec::<f64>());
            let m = h * w;
            for k in 0..c {
                let range = k * m..(k + 1) * m;
                prop_assert!(sorted_distance(&r[range.clone()], &s[range.clone()]) < 1e-12);
                for i in range.clone() {
                    for j in range.clone() {
                        if x[i] < x[j] {
                            prop_assert!(r[i] <= r[j]);
                        }
                    }
                }
            }
        }

        /// The gradient is the loss's own (finite differences agree), and a
        /// small step against it brings the channels' distributions, summed,
        /// nearer the style's.
        #[test]
        fn the_gradient_is_the_losss_and_descends_toward_the_style(
            c in 1usize..3, h in 2usize..6, w in 2usize..6, seed in 0u64..1000,
        ) {
            let style = features(seed, c, 7, 5, 1.0, 3.0);
            let target = HistogramTarget::new(0, std::slice::from_ref(&style), &[1.0], 2.0).unwrap();
            let image = features(seed + 7, c, h, w, -1.0, 1.0);
            let loss = |v: &[Var]| histogram_loss(std::slice::from_ref(&v[0]), std::slice::from_ref(&target)).unwrap().unwrap();
            autograd::gradcheck("histogram_loss", std::slice::from_ref(&image), loss, &Default::default())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let before: Vec<f64> = target.matched(&image).unwrap().to_vec::<f64>();
            let distance = |t: &Tensor| {
                let (v, m) = (t.to_vec::<f64>(), h * w);
                (0..c).map(|k| sorted_distance(&v[k * m..(k + 1) * m], &before[k * m..(k + 1) * m])).sum::<f64>()
            };
            let x = Var::parameter(image.clone());
            let grad = loss(std::slice::from_ref(&x)).backward().get(&x).expect("a gradient").clone();
            let stepped = &image - &grad.mul_scalar(0.05);
            prop_assert!(distance(&stepped) < distance(&image));
        }
    }

    #[test]
    fn f32_values_rank_as_f64_values_do() {
        let values: Vec<f64> = [0.5f32, -0.0, 3.25, -7.5, 0.0, 0.5, f32::MIN_POSITIVE, -1e-30, 1e30]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let packed = rank_order(&values, true);
        let mut pairs: Vec<(u64, u32)> = values.iter().enumerate().map(|(i, &v)| (sortable(v), i as u32)).collect();
        pairs.sort_unstable();
        let indices = |o: &[(u64, u32)]| o.iter().map(|&(_, i)| values[i as usize]).collect::<Vec<f64>>();
        assert_eq!(indices(&packed), indices(&pairs));
        // Equal values share a key, distinct ones do not.
        let keys: Vec<u64> = packed.iter().map(|&(k, _)| k).collect();
        assert_eq!(keys.windows(2).filter(|w| w[0] == w[1]).count(), 1, "{keys:?}");
    }

    #[test]
    fn tied_values_share_one_target_wherever_they_are() {
        let style = Tensor::from_fn(&[1, 1, 2, 2], DType::F64, |i| i as f64);
        let target = HistogramTarget::new(0, &[style], &[1.0], 1.0).unwrap();
        // Three zeros and a one: the zeros take the mean of ranks 0-2's targets.
        let image = Tensor::from_vec(vec![0.0f64, 1.0, 0.0, 0.0], &[1, 1, 2, 2]);
        let r = target.matched(&image).unwrap().to_vec::<f64>();
        assert_eq!(r, vec![1.0, 3.0, 1.0, 1.0]);
    }

    #[test]
    fn a_blend_of_two_styles_is_their_mixture() {
        // Half the weight on values near 0, half near 10: the median falls
        // between them and the quartiles inside each.
        let low = Tensor::full(&[1, 1, 4, 4], 0.0, DType::F64);
        let high = Tensor::full(&[1, 1, 2, 2], 10.0, DType::F64);
        let target = HistogramTarget::new(0, &[low, high], &[1.0, 1.0], 1.0).unwrap();
        let image = Tensor::from_fn(&[1, 1, 2, 4], DType::F64, |i| i as f64);
        let r = target.matched(&image).unwrap().to_vec::<f64>();
        assert_eq!(&r[..3], &[0.0; 3]);
        assert_eq!(&r[5..], &[10.0; 3]);
    }
}
