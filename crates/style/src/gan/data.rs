//! Training data for the GAN: random crops and flips of the content photos
//! and of the style image, and a pool of past fakes for the discriminator.
//!
//! All randomness is a pure function of (seed, step, stream, index), so a
//! run resumed at step `s` draws exactly what the uninterrupted run drew.

use tensor::{DType, Tensor};

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
}

/// A `size × size` crop of `image` at a random place, mirrored half the
/// time; draws 4 values of `stream` starting at `4·index`.
pub(crate) fn random_crop(image: &Tensor, size: usize, seed: u64, step: usize, stream: u64, index: usize) -> Tensor {
    let (h, w) = (image.shape()[2], image.shape()[3]);
    let y = below(h - size + 1, seed, step, stream, 4 * index);
    let x = below(w - size + 1, seed, step, stream, 4 * index + 1);
    let crop = image.narrow(2, y, size).narrow(3, x, size);
    if uniform(seed, step, stream, 4 * index + 2) < 0.5 {
        let reversed: Vec<usize> = (0..size).rev().collect();
        crop.index_select(3, &reversed)
    } else {
        crop.contiguous()
    }
}

/// A batch of crops from `images` (picked at random).
pub(crate) fn batch(images: &[Tensor], count: usize, size: usize, seed: u64, step: usize, stream: u64) -> Tensor {
    let crops: Vec<Tensor> = (0..count)
        .map(|b| {
            let pick = below(images.len(), seed, step, stream, 1_000_000 + b);
            random_crop(&images[pick], size, seed, step, stream, b)
        })
        .collect();
    Tensor::cat(&crops.iter().collect::<Vec<_>>(), 0).to_dtype(DType::F32)
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
