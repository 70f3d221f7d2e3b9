//! Neural style transfer for fresco.
//!
//! * [`gatys`]: the optimisation method of Gatys, Ecker and Bethge — content
//!   loss on VGG features, style loss on their Gram matrices, optimised over
//!   the pixels with L-BFGS or Adam, optionally coarse to fine.
//! * [`gan`]: feed-forward transfer — a Johnson-style generator trained
//!   against a PatchGAN discriminator with perceptual losses, checkpoints
//!   that resume bit for bit, and [`gan::StyleModel`] to apply a trained one.
//! * [`perceptual`]: the content, style (Gram) and total-variation losses
//!   both methods share, each layer normalised by its target.
//! * [`audio`]: audio style transfer and texture synthesis (Ulyanov &
//!   Lebedev) — WAV, STFT, Griffin–Lim, the random-filter spectral model.
//! * [`video`]: video transfer with temporal consistency — optical flow,
//!   warping, reliability, the temporal loss's targets, frames in and out.
//! * [`image_io`] and [`color`]: images to tensors and back, luminance-only
//!   transfer and colour matching; [`plot`]: loss curves as a picture.

pub mod audio;
pub mod color;
mod error;
pub mod gan;
pub mod gatys;
pub mod image_io;
pub mod perceptual;
pub mod plot;
pub mod video;

pub use error::{Result, StyleError};
