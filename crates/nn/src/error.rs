//! The error type of the nn crate: every variant names the file, key or
//! layer involved, so the message stands alone on a command line.

use std::path::PathBuf;

use tensor::{DType, TensorError};

/// What went wrong loading, saving or running a network.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// Reading or writing a file failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error (shown in the message, so not chained as a source).
        error: std::io::Error,
    },
    /// The file is not a valid safetensors file.
    #[error("{}: not a valid safetensors file: {detail}", path.display())]
    NotSafetensors {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        detail: String,
    },
    /// A tensor the model needs is absent.
    #[error("{}: missing tensor `{key}`{hint}", path.display())]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The missing key.
        key: String,
        /// What the file holds instead, when that helps.
        hint: String,
    },
    /// A tensor has the wrong shape.
    #[error("{}: tensor `{key}` has shape {found:?}, expected {expected:?}", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The shape the model needs.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor is stored in a dtype we cannot read.
    #[error("{}: tensor `{key}` has unsupported dtype {dtype} (expected F32, F16, BF16 or F64)", path.display())]
    UnsupportedDType {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The dtype as the file names it.
        dtype: String,
    },
    /// The file's tensors do not form the expected architecture.
    #[error("{}: {detail}", path.display())]
    Architecture {
        /// The file.
        path: PathBuf,
        /// What does not fit.
        detail: String,
    },
    /// A layer name that the network does not have.
    #[error("unknown layer `{name}`; this network has {available}")]
    UnknownLayer {
        /// The name asked for.
        name: String,
        /// The names it has, summarised.
        available: String,
    },
    /// A parameter was created twice with different shapes.
    #[error("parameter `{name}` already exists with shape {existing:?}, asked for {requested:?}")]
    ParameterShape {
        /// The parameter.
        name: String,
        /// Its shape.
        existing: Vec<usize>,
        /// The new request.
        requested: Vec<usize>,
    },
    /// A tensor op failed (shapes, dtypes).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An optimiser met a non-finite loss or gradient.
    #[error("{optimizer}: the {what} is not finite ({value}) at iteration {iteration}")]
    NotFinite {
        /// Which optimiser.
        optimizer: &'static str,
        /// Loss or gradient.
        what: &'static str,
        /// The offending value.
        value: f64,
        /// Where.
        iteration: usize,
    },
    /// A dtype the operation cannot use.
    #[error("{op}: unsupported dtype {dtype}")]
    DType {
        /// The operation.
        op: &'static str,
        /// The dtype.
        dtype: DType,
    },
}

/// Result of an nn operation.
pub type Result<T> = std::result::Result<T, NnError>;

impl NnError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> NnError {
        NnError::Io { path: path.into(), error: source }
    }
}
