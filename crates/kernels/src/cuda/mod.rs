//! CUDA devices: finding the driver, compiling every op family's kernels
//! with NVRTC, device buffers, and the shared header `common.cuh`. The
//! kernels and their launchers live in each family's folder.
//!
//! The runtime is `cudarc` with dynamic loading: this crate compiles and its
//! tests run on machines without CUDA, and the driver is found when a device
//! is first asked for. Asking where there is none is a [`CudaError`], not a
//! crash.
//!
//! The CUDA C sources (`common.cuh` here, and each op family's `<family>.cu`
//! in its own folder beside its CPU kernel) are embedded in the binary
//! and compiled to PTX by NVRTC the first time a device is used, once per
//! process. We chose run-time NVRTC over build-time nvcc so that a fresh
//! clone builds with no CUDA toolkit at all, the PTX always matches the
//! device it runs on, and no generated file can drift from its source.
//!
//! Device memory comes from the driver's stream-ordered pool
//! (`cuMemAllocAsync`, which cudarc uses where the device supports it), so a
//! freed buffer is reused by the next allocation of the step without a trip
//! to the OS. Kernels compute in f32.

pub(crate) mod launch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DeviceRepr};

pub use crate::conv::cuda_kernel::ConvGeometry;
pub use crate::gemm::cuda_kernel::{BatchedOperand, Matrix};
pub use crate::padding::cuda_kernel::Padding;
pub use crate::pooling::cuda_kernel::Pool;

/// A device buffer of f32 values.
pub type DeviceBuffer = CudaSlice<f32>;

/// A device buffer of indices (max-pooling positions).
pub type IndexBuffer = CudaSlice<i32>;

/// Why a CUDA operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CudaError {
    /// No driver, no device with that ordinal, or NVRTC missing.
    Unavailable(String),
    /// NVRTC rejected the kernels (a bug: the message is the compile log).
    Compile(String),
    /// The driver reported an error while running.
    Driver(String),
}

impl std::fmt::Display for CudaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CudaError::Unavailable(m) => write!(f, "CUDA is not available: {m}"),
            CudaError::Compile(m) => write!(f, "compiling the CUDA kernels failed: {m}"),
            CudaError::Driver(m) => write!(f, "CUDA driver error: {m}"),
        }
    }
}

impl std::error::Error for CudaError {}

impl From<cudarc::driver::DriverError> for CudaError {
    fn from(e: cudarc::driver::DriverError) -> Self {
        CudaError::Driver(e.to_string())
    }
}

/// Result of a CUDA operation.
pub type CudaResult<T> = Result<T, CudaError>;

/// The kernel sources, in the order NVRTC sees them: the shared header, then
/// each op family's kernels from its own folder (beside its CPU kernel and
/// its launcher, `cuda_kernel.rs`).
pub const SOURCES: [(&str, &str); 8] = [
    ("common.cuh", include_str!("common.cuh")),
    ("elementwise.cu", include_str!("../elementwise/elementwise.cu")),
    ("reduce.cu", include_str!("../reduce/reduce.cu")),
    ("gemm.cu", include_str!("../gemm/gemm.cu")),
    ("conv.cu", include_str!("../conv/conv.cu")),
    ("pooling.cu", include_str!("../pooling/pooling.cu")),
    ("upsample.cu", include_str!("../upsample/upsample.cu")),
    ("padding.cu", include_str!("../padding/padding.cu")),
];

/// Every kernel the sources define, by name.
pub const KERNELS: [&str; 18] = [
    "unary_f32",
    "scatter_copy_f32",
    "binary_f32",
    "fill_f32",
    "reduce_rows_f32",
    "reduce_blocks_f32",
    "sgemm_f32",
    "im2col_f32",
    "col2im_f32",
    "add_bias_f32",
    "max_pool_f32",
    "max_pool_backward_f32",
    "avg_pool_f32",
    "avg_pool_backward_f32",
    "upsample_f32",
    "upsample_backward_f32",
    "pad_f32",
    "pad_backward_f32",
];

/// The switch cases of the element-wise kernels, from the op lists
/// (`UnaryOp::CUDA`, `BinaryOp::CUDA`) as `#define`s the sources expand.
pub fn generated_cases() -> String {
    use crate::elementwise::{BinaryOp, UnaryOp};
    let cases = |list: &[(&str, &str)], first: usize, result: &str| -> String {
        list.iter()
            .enumerate()
            .map(|(k, (name, expr))| format!("case {}: {result} = ({expr}); break; /* {name} */ ", k + first))
            .collect()
    };
    format!(
        "#define UNARY_CASES {}\n#define BINARY_CASES {}\n",
        cases(UnaryOp::CUDA, 1, "y"),
        cases(BinaryOp::CUDA, 0, "r")
    )
}

/// The sources as one translation unit: the generated cases, then each file.
pub fn program_source() -> String {
    let files: String = SOURCES.iter().map(|(name, text)| format!("// ---- {name}\n{text}\n")).collect();
    format!("// ---- generated from kernels::elementwise\n{}{files}", generated_cases())
}

/// Compiles the kernel sources to PTX with NVRTC (no GPU needed).
pub fn compile() -> CudaResult<cudarc::nvrtc::Ptx> {
    nvrtc_present()?;
    // NVRTC panics inside cudarc only when the library is missing, which
    // nvrtc_present ruled out.
    cudarc::nvrtc::compile_ptx(program_source()).map_err(|e| CudaError::Compile(e.to_string()))
}

/// One CUDA device with its stream and compiled kernels.
pub struct CudaDevice {
    ordinal: usize,
    stream: Arc<CudaStream>,
    _module: Arc<CudaModule>,
    functions: HashMap<&'static str, CudaFunction>,
}

impl std::fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaDevice({})", self.ordinal)
    }
}

/// Opened devices, by ordinal.
fn devices() -> &'static Mutex<HashMap<usize, Arc<CudaDevice>>> {
    static DEVICES: OnceLock<Mutex<HashMap<usize, Arc<CudaDevice>>>> = OnceLock::new();
    DEVICES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// True when one of `names` is a loadable shared library.
fn loadable(names: &[&str]) -> bool {
    names.iter().any(|name| {
        // SAFETY: loading the CUDA driver or NVRTC runs their initialisers,
        // which have no preconditions; the handle is dropped at once.
        unsafe { libloading::Library::new(name) }.is_ok()
    })
}

/// Finds the driver; `Unavailable` where there is none. (cudarc panics
/// when it cannot load a library, so we look first.)
fn driver_present() -> CudaResult<()> {
    if !loadable(&["libcuda.so.1", "libcuda.so", "nvcuda.dll"]) {
        return Err(CudaError::Unavailable("libcuda could not be loaded (no NVIDIA driver on this machine)".into()));
    }
    match CudaContext::device_count() {
        Ok(count) if count > 0 => Ok(()),
        Ok(_) => Err(CudaError::Unavailable("the driver reports no CUDA devices".into())),
        Err(e) => Err(CudaError::Unavailable(e.to_string())),
    }
}

/// Finds NVRTC (the CUDA toolkit's run-time compiler).
fn nvrtc_present() -> CudaResult<()> {
    let names =
        ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so.11.1", "libnvrtc.so.11.0"];
    if loadable(&names) {
        Ok(())
    } else {
        Err(CudaError::Unavailable(
            "libnvrtc could not be loaded (install the CUDA toolkit's NVRTC or add it to LD_LIBRARY_PATH)".into(),
        ))
    }
}

/// The device with `ordinal`, opened and its kernels compiled on first use.
pub fn device(ordinal: usize) -> CudaResult<Arc<CudaDevice>> {
    let mut open = devices().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = open.get(&ordinal) {
        return Ok(Arc::clone(d));
    }
    driver_present()?;
    let count = CudaContext::device_count()? as usize;
    if ordinal >= count {
        return Err(CudaError::Unavailable(format!("device cuda:{ordinal} asked for, {count} present")));
    }
    let context = CudaContext::new(ordinal)?;
    let stream = context.default_stream();
    let module = context.load_module(compile()?)?;
    let mut functions = HashMap::new();
    for name in KERNELS {
        functions.insert(name, module.load_function(name)?);
    }
    let device = Arc::new(CudaDevice { ordinal, stream, _module: module, functions });
    open.insert(ordinal, Arc::clone(&device));
    Ok(device)
}

impl CudaDevice {
    /// The ordinal.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    pub(crate) fn function(&self, name: &str) -> &CudaFunction {
        &self.functions[name]
    }

    pub(crate) fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// Copies host values to a new device buffer.
    pub fn upload(&self, values: &[f32]) -> CudaResult<DeviceBuffer> {
        Ok(self.stream.memcpy_stod(values)?)
    }

    /// Copies a device buffer to the host.
    pub fn download(&self, buffer: &DeviceBuffer) -> CudaResult<Vec<f32>> {
        Ok(self.stream.memcpy_dtov(buffer)?)
    }

    /// A new buffer of `len` zeros.
    pub fn zeros(&self, len: usize) -> CudaResult<DeviceBuffer> {
        Ok(self.stream.alloc_zeros::<f32>(len.max(1))?)
    }

    /// A new buffer whose contents every kernel writing it overwrites.
    pub fn uninit(&self, len: usize) -> CudaResult<DeviceBuffer> {
        // SAFETY: callers pass the buffer only to kernels that write every
        // element before anything reads it.
        Ok(unsafe { self.stream.alloc::<f32>(len.max(1)) }?)
    }

    /// A new index buffer whose contents a kernel overwrites.
    pub fn index_buffer(&self, len: usize) -> CudaResult<IndexBuffer> {
        // SAFETY: max_pool writes every index before backward reads them.
        Ok(unsafe { self.stream.alloc::<i32>(len.max(1)) }?)
    }

    /// Waits for all queued work (for timing and before host reads).
    pub fn synchronize(&self) -> CudaResult<()> {
        Ok(self.stream.synchronize()?)
    }
}

/// A strided view as the kernels read it (must match `Layout` in
/// common.cuh).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    rank: i64,
    shape: [i64; 6],
    strides: [i64; 6],
    offset: i64,
}

// SAFETY: plain integers in C layout, as the kernels declare the struct.
unsafe impl DeviceRepr for Layout {}

/// Most dimensions a kernel view may have.
pub const MAX_RANK: usize = 6;

impl Layout {
    /// A view of `shape` with `strides` from `offset`; `None` past
    /// [`MAX_RANK`] dimensions (collapse contiguous runs first).
    pub fn new(shape: &[usize], strides: &[usize], offset: usize) -> Option<Layout> {
        if shape.len() > MAX_RANK {
            return None;
        }
        let mut layout = Layout { rank: shape.len() as i64, offset: offset as i64, ..Layout::default() };
        for (d, (&n, &s)) in shape.iter().zip(strides).enumerate() {
            layout.shape[d] = n as i64;
            layout.strides[d] = s as i64;
        }
        if shape.is_empty() {
            layout.rank = 1;
            layout.shape[0] = 1;
        }
        Some(layout)
    }

    /// A contiguous vector of `len` values.
    pub fn contiguous(len: usize) -> Layout {
        Layout::new(&[len], &[1], 0).expect("rank 1")
    }
}
