//! GAN-based style transfer: train a feed-forward generator once (perceptual
//! content and style losses from a frozen VGG, plus a PatchGAN
//! discriminator that tells its outputs from crops of the painting), then
//! stylise any image in one forward pass.

mod apply;
mod data;
mod nets;
mod train;

pub use apply::{apply_generator, StyleModel};
pub use data::PhotoSource;
pub use nets::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig};
pub use train::{AdversarialLoss, GanConfig, StepLosses, Trainer};
