//! Colour: keeping the content's colours by transferring luminance only,
//! and recolouring a photo to a painting's colour statistics.
//!
//! In YIQ, `Y` carries brightness and `I`, `Q` the chroma. "Preserve
//! colours" takes Y from the stylised image and I, Q from the content.
//! [`match_colours`] maps an image's colour mean and covariance onto
//! another's (Gatys et al. 2017, §5.2), as GAN stylizers do to their input.

use tensor::{DType, Tensor};

const TO_YIQ: [[f64; 3]; 3] =
    [[0.299, 0.587, 0.114], [0.595_716, -0.274_453, -0.321_263], [0.211_456, -0.522_591, 0.311_135]];

/// Applies a 3×3 colour matrix to an `[N, 3, H, W]` image.
fn transform(image: &Tensor, m: &[[f64; 3]; 3]) -> Tensor {
    let channel = |c| image.narrow(1, c, 1);
    let (r, g, b) = (channel(0), channel(1), channel(2));
    let rows: Vec<Tensor> =
        m.iter().map(|row| r.mul_scalar(row[0]) + g.mul_scalar(row[1]) + b.mul_scalar(row[2])).collect();
    Tensor::cat(&rows.iter().collect::<Vec<_>>(), 1)
}

/// The inverse of a 3×3 matrix (by cofactors).
fn invert(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let c = |r: usize, k: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (k1, k2) = ((k + 1) % 3, (k + 2) % 3);
        m[r1][k1] * m[r2][k2] - m[r1][k2] * m[r2][k1]
    };
    let det = m[0][0] * c(0, 0) + m[0][1] * c(0, 1) + m[0][2] * c(0, 2);
    let mut inv = [[0.0; 3]; 3];
    for (r, row) in inv.iter_mut().enumerate() {
        for (k, v) in row.iter_mut().enumerate() {
            *v = c(k, r) / det;
        }
    }
    inv
}

/// RGB → YIQ.
pub fn rgb_to_yiq(image: &Tensor) -> Tensor {
    transform(&image.to_dtype(DType::F32), &TO_YIQ)
}

/// YIQ → RGB.
pub fn yiq_to_rgb(image: &Tensor) -> Tensor {
    transform(image, &invert(&TO_YIQ))
}

/// The luminance of `stylised` with the chroma of `content` (same size).
pub fn transfer_luminance(stylised: &Tensor, content: &Tensor) -> Tensor {
    let (s, c) = (rgb_to_yiq(stylised), rgb_to_yiq(content));
    let yiq = Tensor::cat(&[&s.narrow(1, 0, 1), &c.narrow(1, 1, 2)], 1);
    yiq_to_rgb(&yiq).clamp(0.0, 1.0)
}

/// The mean and covariance of an image's colours (0–1 RGB), the statistics
/// the linear colour transfer [`match_colours`] maps between.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColourStatistics {
    /// Mean of R, G, B over the pixels.
    pub mean: [f64; 3],
    /// Covariance of R, G, B over the pixels (symmetric).
    pub covariance: [[f64; 3]; 3],
}

/// The least variance a photo's colour covariance is given along each of
/// its eigenvectors before it is inverted (a standard deviation of 0.01,
/// 2.5 grey levels): a grey photo has none in its chroma directions, and
/// its compression noise must not be blown up to the painting's range of
/// colours.
const COVARIANCE_FLOOR: f64 = 1e-4;

impl ColourStatistics {
    /// Of every pixel of an `[N, 3, H, W]` image, all `N` together (the
    /// covariance about the mean, in two passes). Panics unless the image
    /// has that shape and at least one pixel.
    pub fn of(image: &Tensor) -> ColourStatistics {
        let shape = image.shape();
        assert!(
            shape.len() == 4 && shape[1] == 3 && shape[2] * shape[3] > 0,
            "colour statistics need a non-empty [N, 3, H, W] image, got {shape:?}"
        );
        let values = image.to_dtype(DType::F32).contiguous().to_vec::<f32>();
        let plane = shape[2] * shape[3];
        let pixels = (values.len() / 3) as f64;
        let pixel = |picture: &[f32], p: usize| [0, 1, 2].map(|c| f64::from(picture[c * plane + p]));
        let mut mean = [0.0; 3];
        for picture in values.chunks_exact(3 * plane) {
            for p in 0..plane {
                let x = pixel(picture, p);
                (0..3).for_each(|c| mean[c] += x[c]);
            }
        }
        mean = mean.map(|m| m / pixels);
        let mut covariance = [[0.0; 3]; 3];
        for picture in values.chunks_exact(3 * plane) {
            for p in 0..plane {
                let x = pixel(picture, p);
                let d = [0, 1, 2].map(|c| x[c] - mean[c]);
                for (r, row) in covariance.iter_mut().enumerate() {
                    for (k, v) in row.iter_mut().enumerate() {
                        *v += d[r] * d[k];
                    }
                }
            }
        }
        let covariance = covariance.map(|row| row.map(|v| v / pixels));
        ColourStatistics { mean, covariance }
    }

    /// The statistics of several images' pixels taken together, from each
    /// one's statistics and pixel count (the pooled mean, and the pooled
    /// covariance: the parts' covariances plus the spread of their means,
    /// `Σ = Σᵢ nᵢ (Σᵢ + (μᵢ − μ)(μᵢ − μ)ᵀ) / Σᵢ nᵢ`). `None` for no pixels.
    /// Lets a clip's statistics be gathered a frame at a time.
    pub fn pool(parts: &[(ColourStatistics, usize)]) -> Option<ColourStatistics> {
        let pixels: usize = parts.iter().map(|(_, n)| n).sum();
        if pixels == 0 {
            return None;
        }
        let share = |n: usize| n as f64 / pixels as f64;
        let mean: [f64; 3] = std::array::from_fn(|c| parts.iter().map(|(s, n)| share(*n) * s.mean[c]).sum());
        let covariance = std::array::from_fn(|r| {
            std::array::from_fn(|k| {
                let spread = |s: &ColourStatistics| (s.mean[r] - mean[r]) * (s.mean[k] - mean[k]);
                parts.iter().map(|(s, n)| share(*n) * (s.covariance[r][k] + spread(s))).sum()
            })
        });
        Some(ColourStatistics { mean, covariance })
    }

    /// The twelve numbers (mean, then the covariance row by row), comma
    /// separated, for a model file's metadata.
    pub fn to_metadata(&self) -> String {
        let numbers = self.mean.iter().chain(self.covariance.iter().flatten());
        numbers.map(|v| format!("{v:e}")).collect::<Vec<_>>().join(",")
    }

    /// Reads [`Self::to_metadata`]'s text; `None` unless it is twelve finite
    /// numbers that 0–1 colours can have: the means in 0–1, the covariance
    /// symmetric, its variances in 0–0.25 and each covariance at most the
    /// geometric mean of its two variances.
    pub fn from_metadata(text: &str) -> Option<ColourStatistics> {
        let numbers: Vec<f64> = text.split(',').map(|v| v.trim().parse::<f64>().ok()).collect::<Option<_>>()?;
        if numbers.len() != 12 || numbers.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mean = [numbers[0], numbers[1], numbers[2]];
        let covariance: [[f64; 3]; 3] = std::array::from_fn(|r| std::array::from_fn(|k| numbers[3 + 3 * r + k]));
        let symmetric = (0..3).all(|r| (0..3).all(|k| (covariance[r][k] - covariance[k][r]).abs() <= 1e-9));
        let variances_fit = (0..3).all(|c| (0.0..=0.25).contains(&covariance[c][c]));
        let correlations_fit = (0..3)
            .all(|r| (0..3).all(|k| covariance[r][k].abs() <= (covariance[r][r] * covariance[k][k]).sqrt() + 1e-12));
        let plausible = mean.iter().all(|m| (0.0..=1.0).contains(m)) && variances_fit && correlations_fit;
        (symmetric && plausible).then_some(ColourStatistics { mean, covariance })
    }
}

/// The eigenvalues and eigenvectors (columns) of a symmetric 3×3 matrix,
/// by cyclic Jacobi rotations (Golub & Van Loan, *Matrix Computations*,
/// §8.5).
fn symmetric_eigen(matrix: &[[f64; 3]; 3]) -> ([f64; 3], [[f64; 3]; 3]) {
    let mut a = *matrix;
    let mut v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for _sweep in 0..50 {
        let off = a[0][1].powi(2) + a[0][2].powi(2) + a[1][2].powi(2);
        if off <= 1e-30 * (a[0][0].powi(2) + a[1][1].powi(2) + a[2][2].powi(2)).max(1e-300) {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q] == 0.0 {
                continue;
            }
            // The rotation that zeroes a[p][q].
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let t = if theta == 0.0 { 1.0 } else { t };
            let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
            // A ← AJ (columns p, q), then A ← JᵀA (rows p, q).
            for row in a.iter_mut() {
                let (akp, akq) = (row[p], row[q]);
                row[p] = c * akp - s * akq;
                row[q] = s * akp + c * akq;
            }
            let (row_p, row_q) = (a[p], a[q]);
            a[p] = std::array::from_fn(|k| c * row_p[k] - s * row_q[k]);
            a[q] = std::array::from_fn(|k| s * row_p[k] + c * row_q[k]);
            for row in v.iter_mut() {
                let (vp, vq) = (row[p], row[q]);
                row[p] = c * vp - s * vq;
                row[q] = s * vp + c * vq;
            }
        }
    }
    ([a[0][0], a[1][1], a[2][2]], v)
}

/// `Σ^power` of a symmetric positive semi-definite 3×3 matrix, its
/// eigenvalues first raised to at least `floor`.
fn symmetric_power(matrix: &[[f64; 3]; 3], power: f64, floor: f64) -> [[f64; 3]; 3] {
    let (values, vectors) = symmetric_eigen(matrix);
    let scaled = values.map(|l| l.max(floor).powf(power));
    std::array::from_fn(|r| std::array::from_fn(|k| (0..3).map(|e| vectors[r][e] * scaled[e] * vectors[k][e]).sum()))
}

fn multiply(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|r| std::array::from_fn(|k| (0..3).map(|j| a[r][j] * b[j][k]).sum()))
}

/// An `[N, 3, H, W]` image (0–1) recoloured so its colours have `target`'s
/// mean and covariance: `x ↦ A(x − μ) + μₜ` with `A = Σₜ^{1/2} Σ^{−1/2}`
/// (symmetric square roots; the photo's own `μ`, `Σ` over all its pixels,
/// `Σ` floored at a variance of 1e-4 per direction), then clamped to 0–1.
/// The linear colour transfer of Hertzmann's image analogies, used by
/// Gatys et al., "Controlling perceptual factors in neural style transfer"
/// (CVPR 2017), §5.2, in the other direction (there the painting is
/// recoloured to the photo's colours).
pub fn match_colours(image: &Tensor, target: &ColourStatistics) -> Tensor {
    match_colours_from(image, &ColourStatistics::of(image), target)
}

/// [`match_colours`] with the map that takes `source`'s statistics, not the
/// image's own, to `target`'s: one map for every frame of a clip (from the
/// clip's pooled statistics, [`ColourStatistics::pool`]), so a pixel's
/// colour is mapped the same way whatever else is in its frame. Matched a
/// frame at a time, a clip's colours shift whenever its content does.
pub fn match_colours_from(image: &Tensor, source: &ColourStatistics, target: &ColourStatistics) -> Tensor {
    let a = multiply(
        &symmetric_power(&target.covariance, 0.5, 0.0),
        &symmetric_power(&source.covariance, -0.5, COVARIANCE_FLOOR),
    );
    let offset: [f64; 3] =
        std::array::from_fn(|r| target.mean[r] - (0..3).map(|k| a[r][k] * source.mean[k]).sum::<f64>());
    let mapped = transform(&image.to_dtype(DType::F32), &a);
    let channels: Vec<Tensor> = (0..3).map(|c| mapped.narrow(1, c, 1).add_scalar(offset[c])).collect();
    Tensor::cat(&channels.iter().collect::<Vec<_>>(), 1).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(seed: u64) -> Tensor {
        // Correlated channels: G follows R in part, B is its own.
        let base = Tensor::rand_uniform(&[1, 1, 24, 20], 0.2, 0.8, seed, DType::F32);
        let own = Tensor::rand_uniform(&[1, 1, 24, 20], 0.0, 0.2, seed + 2, DType::F32);
        let other = Tensor::rand_uniform(&[1, 1, 24, 20], 0.4, 0.6, seed + 1, DType::F32);
        Tensor::cat(&[&base, &base.mul_scalar(0.5).add(&own).add_scalar(0.1), &other], 1)
    }

    /// The recoloured photo has the target's mean and covariance (within
    /// the floor's effect and the clamp, which these values stay inside).
    #[test]
    fn matched_colours_have_the_targets_statistics() {
        let target = ColourStatistics {
            mean: [0.3, 0.4, 0.55],
            covariance: [[0.010, 0.004, 0.002], [0.004, 0.008, 0.001], [0.002, 0.001, 0.012]],
        };
        let matched = ColourStatistics::of(&match_colours(&image(3), &target));
        for r in 0..3 {
            assert!((matched.mean[r] - target.mean[r]).abs() < 1e-4, "mean {r}: {:?}", matched.mean);
            for k in 0..3 {
                assert!(
                    (matched.covariance[r][k] - target.covariance[r][k]).abs() < 1e-3 * target.covariance[r][r],
                    "covariance {r}{k}: {:?} against {:?}",
                    matched.covariance,
                    target.covariance
                );
            }
        }
    }

    /// Matching a photo to its own statistics changes nothing; a grey photo
    /// keeps its detail and takes on the target's mean colour.
    #[test]
    fn matching_to_itself_is_the_identity_and_grey_stays_calm() {
        let photo = Tensor::cat(
            &[&image(5).narrow(1, 0, 2), &Tensor::rand_uniform(&[1, 1, 24, 20], 0.1, 0.9, 9, DType::F32)],
            1,
        );
        let same = match_colours(&photo, &ColourStatistics::of(&photo));
        let worst = same.sub(&photo).abs().max(&[0, 1, 2, 3], false).to_scalar();
        assert!(worst < 0.02, "largest change {worst}");
        let grey_plane = Tensor::rand_uniform(&[1, 1, 24, 20], 0.3, 0.7, 11, DType::F32);
        let grey = Tensor::cat(&[&grey_plane, &grey_plane, &grey_plane], 1);
        let target = ColourStatistics {
            mean: [0.2, 0.3, 0.6],
            covariance: [[0.02, 0.0, 0.0], [0.0, 0.02, 0.0], [0.0, 0.0, 0.02]],
        };
        let out = match_colours(&grey, &target);
        let stats = ColourStatistics::of(&out);
        assert!((stats.mean[2] - 0.6).abs() < 0.01, "{:?}", stats.mean);
        assert!(out.to_vec::<f32>().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn statistics_round_trip_through_metadata_and_reject_damage() {
        let stats = ColourStatistics::of(&image(7));
        assert_eq!(ColourStatistics::from_metadata(&stats.to_metadata()), Some(stats));
        for bad in [
            "",
            "1,2,3",
            "0.5,0.5,0.5,0.1,0,0,0,0.1,0,0,0,NaN",
            "2,0.5,0.5,0.1,0,0,0,0.1,0,0,0,0.1",
            "0.5,0.5,0.5,0.1,0.03,0,0,0.1,0,0,0,0.1",
            "0.5,0.5,0.5,1e300,0,0,0,0.1,0,0,0,0.1",
            "0.5,0.5,0.5,0.01,0.05,0,0.05,0.01,0,0,0,0.01",
        ] {
            assert_eq!(ColourStatistics::from_metadata(bad), None, "{bad}");
        }
    }

    /// A symmetric square root squares back, for a general matrix, a
    /// diagonal one and one with equal diagonal entries.
    #[test]
    fn jacobi_reconstructs_a_symmetric_matrix() {
        for m in [
            [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]],
            [[2.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 1.0]],
            [[1.0, 0.3, 0.3], [0.3, 1.0, 0.3], [0.3, 0.3, 1.0]],
        ] {
            let root = symmetric_power(&m, 0.5, 0.0);
            let square = multiply(&root, &root);
            for r in 0..3 {
                for k in 0..3 {
                    assert!((square[r][k] - m[r][k]).abs() < 1e-12, "{m:?}: {square:?}");
                }
            }
        }
    }

    /// A flat image has a covariance of exactly zero, which the model file
    /// can hold (a one-pass sum could leave a variance of −1e-17).
    #[test]
    fn a_flat_image_round_trips() {
        let flat = Tensor::full(&[1, 3, 7, 9], 0.3, DType::F32);
        let stats = ColourStatistics::of(&flat);
        assert!(stats.covariance.iter().flatten().all(|v| *v == 0.0), "{stats:?}");
        assert_eq!(ColourStatistics::from_metadata(&stats.to_metadata()), Some(stats));
    }

    /// Statistics pooled from parts equal those of the parts' pixels taken
    /// together (two images of different sizes and colours); no parts, none.
    #[test]
    fn pooled_statistics_are_those_of_all_the_pixels() {
        let small = image(13).mul_scalar(0.5);
        let large = Tensor::rand_uniform(&[1, 3, 30, 20], 0.3, 0.9, 17, DType::F32);
        let both = Tensor::cat(&[&small.reshape(&[1, 3, 1, 480]), &large.reshape(&[1, 3, 1, 600])], 3);
        let pooled =
            ColourStatistics::pool(&[(ColourStatistics::of(&small), 480), (ColourStatistics::of(&large), 600)])
                .expect("pixels");
        let direct = ColourStatistics::of(&both);
        for r in 0..3 {
            assert!((pooled.mean[r] - direct.mean[r]).abs() < 1e-9, "{pooled:?} against {direct:?}");
            for k in 0..3 {
                assert!((pooled.covariance[r][k] - direct.covariance[r][k]).abs() < 1e-9, "{pooled:?} / {direct:?}");
            }
        }
        assert_eq!(ColourStatistics::pool(&[]), None);
    }

    /// One map for a whole clip: a pixel of a given colour comes out the
    /// same in two frames whose other content differs, where matching each
    /// frame to its own statistics moves it.
    #[test]
    fn a_clips_map_treats_equal_pixels_alike() {
        let first = image(19);
        let mut second = first.to_vec::<f32>();
        // The second frame's right half turns red.
        let plane = 24 * 20;
        for p in 0..plane {
            if p % 20 >= 10 {
                second[p] = 0.95;
                second[plane + p] = 0.1;
                second[2 * plane + p] = 0.1;
            }
        }
        let second = Tensor::from_vec(second, &[1, 3, 24, 20]);
        let target = ColourStatistics::of(&image(23).mul_scalar(0.6).add_scalar(0.2));
        let clip =
            ColourStatistics::pool(&[(ColourStatistics::of(&first), plane), (ColourStatistics::of(&second), plane)])
                .expect("pixels");
        let left_half_change = |a: &Tensor, b: &Tensor| {
            a.narrow(3, 0, 10).sub(&b.narrow(3, 0, 10)).abs().max(&[0, 1, 2, 3], false).to_scalar()
        };
        let per_clip =
            left_half_change(&match_colours_from(&first, &clip, &target), &match_colours_from(&second, &clip, &target));
        let per_frame = left_half_change(&match_colours(&first, &target), &match_colours(&second, &target));
        assert_eq!(per_clip, 0.0);
        assert!(per_frame > 0.05, "per-frame matching moved the unchanged half by only {per_frame}");
    }
}
