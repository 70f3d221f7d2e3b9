//! Neural style transfer for fresco.
//!
//! * [`gatys`]: the optimisation method of Gatys, Ecker and Bethge — content
//!   loss on VGG features, style loss on their Gram matrices, optimised over
//!   the pixels with L-BFGS or Adam, optionally coarse to fine.
//! * [`image_io`] and [`color`]: images to tensors and back, luminance-only
//!   transfer; [`plot`]: loss curves as a picture.

pub mod color;
mod error;
pub mod gan;
pub mod gatys;
pub mod image_io;
pub mod plot;

pub use error::{Result, StyleError};
