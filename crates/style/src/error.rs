//! Errors of style transfer runs, each naming the file or value at fault.

use std::path::PathBuf;

/// What went wrong in a style-transfer run.
#[derive(Debug, thiserror::Error)]
pub enum StyleError {
    /// An image that cannot be read or decoded.
    #[error("{}: cannot read image: {detail}", path.display())]
    ReadImage {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// An image that cannot be encoded or written.
    #[error("{}: cannot write image: {detail}", path.display())]
    WriteImage {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A video or folder of frames that cannot be read or written, or the
    /// `ffmpeg` program that video files need.
    #[error("{}: {detail}", path.display())]
    Video {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// An audio file that cannot be read or written.
    #[error("{}: {detail}", path.display())]
    Audio {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A setting that cannot work.
    #[error("{name}: {detail}")]
    Setting {
        /// The setting (`--size`, `style_blend`, …).
        name: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The loss stopped being a finite number.
    #[error(
        "the loss became {value} at iteration {iteration} (scale {scale}); try a lower learning rate or style weight"
    )]
    Diverged {
        /// The value (NaN or infinity).
        value: f64,
        /// Iteration, counted over all scales.
        iteration: usize,
        /// Scale, counted from 1.
        scale: usize,
    },
    /// A GAN training step's generator loss stopped being a finite number.
    #[error(
        "the generator's loss became {value} at step {step}; lower --lr or the loss weights (--style-weight, --temporal-weight, ...)"
    )]
    TrainingDiverged {
        /// The value (NaN or infinity).
        value: f64,
        /// The step, from 1.
        step: usize,
    },
    /// The caller's observer asked to stop (or failed, e.g. writing a file).
    #[error("{0}")]
    Stopped(String),
    /// A network or optimiser error.
    #[error(transparent)]
    Nn(#[from] nn::NnError),
    /// A tensor op error.
    #[error(transparent)]
    Tensor(#[from] tensor::TensorError),
}

/// Result of a style-transfer operation.
pub type Result<T> = std::result::Result<T, StyleError>;

pub(crate) fn setting(name: &str, detail: impl Into<String>) -> StyleError {
    StyleError::Setting { name: name.to_string(), detail: detail.into() }
}
