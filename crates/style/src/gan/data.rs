//! Training data for the GAN: augmented crops of the content photos and of
//! the style image, and a pool of past fakes for the discriminator.
//!
//! A few photos go further when every crop differs: each is taken at a
//! random scale (a square of `size / s` pixels resized to `size`, `s`
//! log-uniform in `[1/m, m]`), mirrored half the time, and, for photos
//! only, given a random brightness, contrast and saturation (the style's
//! colours are what the generator must learn, so its crops keep theirs).
//!
//! All randomness is a pure function of (seed, step, stream, index), so a
//! run resumed at step `s` draws exactly what the uninterrupted run drew.

use tensor::{DType, Tensor};

use crate::color::{match_colours, ColourStatistics};
use crate::error::Result;
use crate::image_io::resize;

/// Where training photos come from: held in memory, or (for a data set
/// too large for that, such as COCO's 118,000) read from disk as drawn.
pub trait PhotoSource: Send + Sync {
    /// How many photos there are (at least one).
    fn count(&self) -> usize;
    /// Photo `index` (`[1, 3, H, W]` in 0–1, both sides at least the crop
    /// size). An error names the photo.
    fn photo(&self, index: usize) -> Result<Tensor>;
    /// The photos, taken out of a source that holds them all in memory (it
    /// is left empty), so that work done to every photo is done once;
    /// `None` (the default) for a source that reads them as drawn.
    fn take_held(&mut self) -> Option<Vec<Tensor>> {
        None
    }
}

/// Photos in memory, each already at the training size.
impl PhotoSource for Vec<Tensor> {
    fn count(&self) -> usize {
        self.len()
    }

    fn photo(&self, index: usize) -> Result<Tensor> {
        Ok(self[index].clone())
    }

    fn take_held(&mut self) -> Option<Vec<Tensor>> {
        Some(std::mem::take(self))
    }
}

/// Photos recoloured to a painting's colour statistics as they are drawn
/// (see [`crate::color::match_colours`]), for sources that read photos as
/// drawn (photos held in memory are recoloured once instead); each whole
/// photo is matched, not each crop, as `apply` matches the whole image.
pub(crate) struct ColourMatched {
    pub photos: Box<dyn PhotoSource>,
    pub target: ColourStatistics,
}

impl PhotoSource for ColourMatched {
    fn count(&self) -> usize {
        self.photos.count()
    }

    fn photo(&self, index: usize) -> Result<Tensor> {
        Ok(match_colours(&self.photos.photo(index)?, &self.target))
    }
}

/// Photos each paired with a teacher's stylisation of it: photo `i` comes
/// back as `[1, 6, H, W]`, the photo's three channels and then the
/// teacher's picture, resized to the photo's size if it differs, so that
/// one crop draw cuts both alike ([`random_crop`]'s colour jitter touches
/// the first three channels only).
pub(crate) struct Paired {
    pub photos: Box<dyn PhotoSource>,
    pub teachers: Box<dyn PhotoSource>,
}

impl PhotoSource for Paired {
    fn count(&self) -> usize {
        self.photos.count()
    }

    fn photo(&self, index: usize) -> Result<Tensor> {
        let photo = self.photos.photo(index)?.to_dtype(DType::F32);
        let teacher = resize(&self.teachers.photo(index)?, photo.shape()[2], photo.shape()[3]);
        Ok(Tensor::cat(&[&photo, &teacher], 1))
    }
}

/// A uniform value in `[0, 1)` for (seed, step, stream, index).
pub(crate) fn uniform(seed: u64, step: usize, stream: u64, index: usize) -> f64 {
    let mut z = seed
        ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03)
        ^ (index as u64).wrapping_mul(0x94D0_49BB_1331_11EB);
    for _ in 0..2 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// An integer in `0..n` for (seed, step, stream, index).
pub(crate) fn below(n: usize, seed: u64, step: usize, stream: u64, index: usize) -> usize {
    ((uniform(seed, step, stream, index) * n as f64) as usize).min(n.saturating_sub(1))
}

/// Random streams (so the draws of one purpose never repeat another's).
pub(crate) mod stream {
    pub const CONTENT: u64 = 1;
    pub const STYLE: u64 = 2;
    pub const POOL: u64 = 3;
    pub const TEMPORAL: u64 = 4;
}

/// How crops are varied (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Augment {
    /// `m ≥ 1`: crops are taken at scales in `[1/m, m]` (1: none).
    pub scale: f64,
    /// `c` in `[0, 1)`: brightness, contrast and saturation are each
    /// multiplied by a factor in `[1 − c, 1 + c]` (0: none).
    pub colour: f64,
}

impl Augment {
    /// Crops as they are, mirrored half the time.
    pub const NONE: Augment = Augment { scale: 1.0, colour: 0.0 };
}

/// A `size × size` crop of `image` (`[1, 3, H, W]`, both sides at least
/// `size`) varied by `augment`; draws values `8·index … 8·index + 7` of
/// `stream`.
pub(crate) fn random_crop(
    image: &Tensor,
    size: usize,
    augment: Augment,
    seed: u64,
    step: usize,
    stream: u64,
    index: usize,
) -> Tensor {
    let draw = |k: usize| uniform(seed, step, stream, 8 * index + k);
    let (h, w) = (image.shape()[2], image.shape()[3]);
    // Log-uniform scale: zooming in and out are equally likely.
    let log_m = augment.scale.max(1.0).ln();
    let scale = ((2.0 * draw(0) - 1.0) * log_m).exp();
    let side = ((size as f64 / scale).round() as usize).clamp(4, h.min(w));
    let y = ((draw(1) * (h - side + 1) as f64) as usize).min(h - side);
    let x = ((draw(2) * (w - side + 1) as f64) as usize).min(w - side);
    let mut crop = image.narrow(2, y, side).narrow(3, x, side).contiguous();
    if side != size {
        crop = resize_in_threes(&crop, size);
    }
    if draw(3) < 0.5 {
        let reversed: Vec<usize> = (0..size).rev().collect();
        crop = crop.index_select(3, &reversed);
    }
    if augment.colour > 0.0 {
        let factor = |k: usize| 1.0 + augment.colour * (2.0 * draw(k) - 1.0);
        crop = jitter_colour(&crop, factor(4), factor(5), factor(6));
    }
    crop
}

/// `crop` (`[1, 3k, S, S]`: a photo, or a photo and its teacher's picture
/// from [`Paired`]) resized to `size × size`, three channels at a time.
fn resize_in_threes(crop: &Tensor, size: usize) -> Tensor {
    if crop.shape()[1] == 3 {
        return resize(crop, size, size);
    }
    let groups: Vec<Tensor> =
        (0..crop.shape()[1]).step_by(3).map(|k| resize(&crop.narrow(1, k, 3).contiguous(), size, size)).collect();
    Tensor::cat(&groups.iter().collect::<Vec<_>>(), 1)
}

/// `image` (`[1, 3, H, W]` in 0–1) with its brightness, contrast and
/// saturation multiplied by the given factors, clamped to 0–1. Brightness
/// scales every value; contrast scales the distance from the image's mean
/// luma; saturation scales each pixel's distance from its own luma (Rec.
/// 601 weights 0.299, 0.587, 0.114).
pub(crate) fn jitter_colour(image: &Tensor, brightness: f64, contrast: f64, saturation: f64) -> Tensor {
    let shape = image.shape().to_vec();
    let plane = shape[2] * shape[3];
    let mut v = image.to_dtype(DType::F32).to_vec::<f32>();
    let luma = |v: &[f32], p: usize| 0.299 * v[p] + 0.587 * v[plane + p] + 0.114 * v[2 * plane + p];
    let mean_luma = (0..plane).map(|p| luma(&v, p) as f64).sum::<f64>() / plane as f64 * brightness;
    let (b, c, s, m) = (brightness as f32, contrast as f32, saturation as f32, mean_luma as f32);
    for p in 0..plane {
        let y = luma(&v, p) * b;
        for channel in 0..3 {
            let value = &mut v[channel * plane + p];
            let saturated = y + (*value * b - y) * s;
            *value = (m + (saturated - m) * c).clamp(0.0, 1.0);
        }
    }
    Tensor::from_vec(v, &shape)
}

/// A batch of `count` crops from `images` (each crop from one picked at
/// random).
pub(crate) fn batch(
    images: &dyn PhotoSource,
    count: usize,
    size: usize,
    augment: Augment,
    seed: u64,
    step: usize,
    stream: u64,
) -> Result<Tensor> {
    let crops = (0..count)
        .map(|b| {
            let pick = below(images.count(), seed, step, stream, 1_000_000 + b);
            Ok(random_crop(&images.photo(pick)?, size, augment, seed, step, stream, b))
        })
        .collect::<Result<Vec<Tensor>>>()?;
    Ok(Tensor::cat(&crops.iter().collect::<Vec<_>>(), 0).to_dtype(DType::F32))
}

/// Past generator outputs: the discriminator sees a mix of new and older
/// fakes, which damps oscillation between the two networks (Shrivastava et
/// al.; CycleGAN keeps 50).
pub(crate) struct FakePool {
    pub capacity: usize,
    pub images: Vec<Tensor>,
}

impl FakePool {
    /// For each new fake: while the pool fills, keep and use it; then, half
    /// the time, use a stored one and store the new one in its place.
    pub fn exchange(&mut self, fakes: &Tensor, seed: u64, step: usize) -> Tensor {
        if self.capacity == 0 {
            return fakes.clone();
        }
        let out: Vec<Tensor> = (0..fakes.shape()[0])
            .map(|b| {
                let fake = fakes.narrow(0, b, 1).contiguous();
                if self.images.len() < self.capacity {
                    self.images.push(fake.clone());
                    fake
                } else if uniform(seed, step, stream::POOL, 2 * b) < 0.5 {
                    let slot = below(self.capacity, seed, step, stream::POOL, 2 * b + 1);
                    std::mem::replace(&mut self.images[slot], fake)
                } else {
                    fake
                }
            })
            .collect();
        Tensor::cat(&out.iter().collect::<Vec<_>>(), 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(h: usize, w: usize) -> Tensor {
        Tensor::from_fn(&[1, 3, h, w], DType::F32, move |i| {
            let (c, p) = (i / (h * w), i % (h * w));
            ((p / w) as f64 / h as f64 * 0.6 + (p % w) as f64 / w as f64 * 0.3 + c as f64 * 0.05).min(1.0)
        })
    }

    #[test]
    fn crops_are_the_asked_size_and_repeat_for_the_same_draw() {
        let image = ramp(40, 50);
        for augment in [Augment::NONE, Augment { scale: 2.0, colour: 0.3 }] {
            for step in 0..20 {
                let crop = random_crop(&image, 16, augment, 7, step, stream::CONTENT, 1);
                assert_eq!(crop.shape(), [1, 3, 16, 16]);
                let again = random_crop(&image, 16, augment, 7, step, stream::CONTENT, 1);
                assert_eq!(crop.to_vec::<f32>(), again.to_vec::<f32>());
                assert!(crop.to_vec::<f32>().iter().all(|v| (0.0..=1.0).contains(v)));
            }
        }
    }

    /// A paired photo's teacher channels are cut, zoomed and mirrored as
    /// its photo channels are, and are not colour-jittered: a teacher that
    /// is the photo's negative stays its negative, up to the resampling.
    #[test]
    fn a_teachers_picture_is_cropped_as_its_photo_is() {
        let photo = ramp(40, 50);
        let teacher = photo.neg().add_scalar(1.0);
        let paired = Paired { photos: Box::new(vec![photo]), teachers: Box::new(vec![teacher]) };
        assert_eq!(paired.count(), 1);
        let both = paired.photo(0).unwrap();
        assert_eq!(both.shape(), [1, 6, 40, 50]);
        for (augment, tolerance) in [(Augment::NONE, 1e-6), (Augment { scale: 2.0, colour: 0.0 }, 0.02)] {
            for step in 0..20 {
                let crop = random_crop(&both, 16, augment, 7, step, stream::CONTENT, 1);
                assert_eq!(crop.shape(), [1, 6, 16, 16]);
                let (p, t) = (crop.narrow(1, 0, 3).to_vec::<f32>(), crop.narrow(1, 3, 3).to_vec::<f32>());
                let worst = p.iter().zip(&t).map(|(a, b)| (a + b - 1.0).abs()).fold(0.0f32, f32::max);
                assert!(worst <= tolerance, "step {step}: photo + teacher is 1 within {worst}");
            }
        }
        // Colour jitter changes the photo channels only.
        let crop = random_crop(&both, 16, Augment { scale: 1.0, colour: 0.4 }, 7, 3, stream::CONTENT, 1);
        let plain = random_crop(&both, 16, Augment::NONE, 7, 3, stream::CONTENT, 1);
        assert_eq!(crop.narrow(1, 3, 3).to_vec::<f32>(), plain.narrow(1, 3, 3).to_vec::<f32>());
        assert_ne!(crop.narrow(1, 0, 3).to_vec::<f32>(), plain.narrow(1, 0, 3).to_vec::<f32>());
    }

    #[test]
    fn without_augmentation_a_crop_is_a_window_of_the_image_or_its_mirror() {
        let image = ramp(20, 24);
        let values = image.to_vec::<f32>();
        for step in 0..10 {
            let crop = random_crop(&image, 8, Augment::NONE, 3, step, stream::STYLE, 0).to_vec::<f32>();
            // Find the window: the ramp is strictly increasing along both axes.
            let found = (0..=12).any(|y| {
                (0..=16).any(|x| {
                    let window = |mirrored: bool| {
                        (0..3).all(|c| {
                            (0..8).all(|i| {
                                (0..8).all(|j| {
                                    let source = if mirrored { x + 7 - j } else { x + j };
                                    crop[(c * 8 + i) * 8 + j] == values[(c * 20 + y + i) * 24 + source]
                                })
                            })
                        })
                    };
                    window(false) || window(true)
                })
            });
            assert!(found, "step {step}: the crop is not a window of the image");
        }
    }

    #[test]
    fn scale_jitter_changes_the_scale_of_crops() {
        // Stripes 2 px wide: zooming in (a smaller window enlarged) widens
        // them, so neighbours differ less often; without jitter every crop
        // of the stripes would have the same roughness.
        let stripes = Tensor::from_fn(&[1, 3, 64, 64], DType::F32, |i| ((i % 64) / 2 % 2) as f64);
        let roughness = |t: &Tensor| {
            let v = t.to_vec::<f32>();
            v.windows(2).map(|p| (p[1] - p[0]).abs() as f64).sum::<f64>() / v.len() as f64
        };
        let rough: Vec<f64> = (0..40)
            .map(|step| roughness(&random_crop(&stripes, 16, Augment { scale: 2.0, colour: 0.0 }, 1, step, 9, 0)))
            .collect();
        let (low, high) = rough.iter().fold((f64::MAX, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        assert!(high > 1.5 * low, "roughness only varies in {low}..{high}");
    }

    /// Photos drawn through `ColourMatched` come in the target's mean
    /// colour, each whole photo matched.
    #[test]
    fn colour_matched_photos_take_the_targets_colours() {
        let photos: Vec<Tensor> = vec![ramp(20, 24), ramp(16, 30).mul_scalar(0.5)];
        let target = ColourStatistics {
            mean: [0.2, 0.35, 0.6],
            covariance: [[0.01, 0.0, 0.0], [0.0, 0.01, 0.0], [0.0, 0.0, 0.01]],
        };
        let source = ColourMatched { photos: Box::new(photos), target };
        assert_eq!(source.count(), 2);
        for index in 0..2 {
            let stats = ColourStatistics::of(&source.photo(index).unwrap());
            for (got, want) in stats.mean.iter().zip(target.mean) {
                assert!((got - want).abs() < 0.02, "photo {index}: mean {:?}", stats.mean);
            }
        }
    }

    #[test]
    fn colour_jitter_does_what_its_factors_say() {
        let image = ramp(6, 7);
        let same = jitter_colour(&image, 1.0, 1.0, 1.0).to_vec::<f32>();
        let values = image.to_vec::<f32>();
        assert!(same.iter().zip(&values).all(|(a, b)| (a - b).abs() < 1e-6));
        let darker = jitter_colour(&image, 0.5, 1.0, 1.0).to_vec::<f32>();
        assert!(darker.iter().zip(&values).all(|(a, b)| (a - 0.5 * b).abs() < 1e-6));
        // Saturation 0: every pixel grey (its three channels equal).
        let grey = jitter_colour(&image, 1.0, 1.0, 0.0).to_vec::<f32>();
        let plane = 42;
        assert!((0..plane)
            .all(|p| (grey[p] - grey[plane + p]).abs() < 1e-6 && (grey[p] - grey[2 * plane + p]).abs() < 1e-6));
        // Contrast 0 and saturation 0: one flat grey, the mean luma.
        let flat = jitter_colour(&image, 1.0, 0.0, 0.0).to_vec::<f32>();
        assert!(flat.iter().all(|v| (v - flat[0]).abs() < 1e-6));
        // Values stay in 0–1 however strong the factors.
        let bright = jitter_colour(&image, 3.0, 3.0, 3.0).to_vec::<f32>();
        assert!(bright.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
