//! Files: atomic writes, and tensors to and from safetensors (f32, f64,
//! f16, bf16 on disk; loaded as f32 or f64 for compute).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tensor::{DType, Tensor};

use crate::error::{NnError, Result};

/// Writes a file so that it is either absent or complete: the bytes go to a
/// temporary file beside `path`, which is flushed to disk and then renamed
/// over `path`. On any error the temporary file is removed and `path` is
/// untouched.
pub fn write_atomically(path: &Path, write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> Result<()> {
    let directory = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into());
    // Unique per call: threads of one process may write side by side.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary = directory.join(format!(".{name}.{}-{serial}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        write(&mut file)?;
        file.flush()?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(error) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(NnError::io(path, error));
    }
    Ok(())
}

/// Tensors read from a safetensors file, with its metadata.
pub struct TensorFile {
    /// Where they came from (for error messages).
    pub path: PathBuf,
    /// Tensors by name, as stored (f16/bf16 stay f16/bf16).
    pub tensors: BTreeMap<String, Tensor>,
    /// The file's `__metadata__` entries.
    pub metadata: HashMap<String, String>,
}

impl TensorFile {
    /// Reads every tensor of a safetensors file.
    pub fn read(path: &Path) -> Result<TensorFile> {
        let bytes = std::fs::read(path).map_err(|e| NnError::io(path, e))?;
        Self::parse(path, &bytes)
    }

    /// Parses safetensors bytes (`path` names them in errors).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<TensorFile> {
        let not_safetensors = |detail: String| NnError::NotSafetensors { path: path.to_path_buf(), detail };
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| not_safetensors(e.to_string()))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let file = SafeTensors::deserialize(bytes).map_err(|e| not_safetensors(e.to_string()))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in file.tensors() {
            let tensor = from_view(path, &name, &view)?;
            tensors.insert(name, tensor);
        }
        Ok(TensorFile { path: path.to_path_buf(), tensors, metadata })
    }

    /// The tensor `key`, converted to `dtype`, checked against `shape`.
    pub fn take(&self, key: &str, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let tensor = self.tensors.get(key).ok_or_else(|| NnError::MissingKey {
            path: self.path.clone(),
            key: key.to_string(),
            hint: String::new(),
        })?;
        if tensor.shape() != shape {
            return Err(NnError::Shape {
                path: self.path.clone(),
                key: key.to_string(),
                expected: shape.to_vec(),
                found: tensor.shape().to_vec(),
            });
        }
        Ok(tensor.to_dtype(dtype))
    }
}

fn from_view(path: &Path, name: &str, view: &TensorView<'_>) -> Result<Tensor> {
    let shape = view.shape().to_vec();
    let data = view.data();
    let values = |width: usize| data.chunks_exact(width);
    let tensor = match view.dtype() {
        Dtype::F32 => Tensor::from_vec(
            values(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect::<Vec<_>>(),
            &shape,
        ),
        Dtype::F64 => Tensor::from_vec(
            values(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))).collect::<Vec<_>>(),
            &shape,
        ),
        Dtype::F16 => Tensor::from_vec(
            values(2).map(|b| f16::from_le_bytes(b.try_into().expect("2 bytes"))).collect::<Vec<_>>(),
            &shape,
        ),
        Dtype::BF16 => Tensor::from_vec(
            values(2).map(|b| bf16::from_le_bytes(b.try_into().expect("2 bytes"))).collect::<Vec<_>>(),
            &shape,
        ),
        other => {
            return Err(NnError::UnsupportedDType {
                path: path.to_path_buf(),
                key: name.to_string(),
                dtype: format!("{other:?}"),
            })
        }
    };
    Ok(tensor)
}

/// Little-endian bytes of a tensor, with the safetensors dtype.
fn to_bytes(tensor: &Tensor) -> (Dtype, Vec<u8>) {
    match tensor.dtype() {
        DType::F32 => (Dtype::F32, tensor.to_vec::<f32>().iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::F64 => (Dtype::F64, tensor.to_vec::<f64>().iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::F16 => (Dtype::F16, tensor.to_vec::<f16>().iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::BF16 => (Dtype::BF16, tensor.to_vec::<bf16>().iter().flat_map(|v| v.to_le_bytes()).collect()),
    }
}

/// Writes `tensors` and `metadata` as a safetensors file, atomically.
pub fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
    metadata: &HashMap<String, String>,
) -> Result<()> {
    let encoded: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let (dtype, bytes) = to_bytes(t);
            (name.clone(), dtype, t.shape().to_vec(), bytes)
        })
        .collect();
    let views = encoded
        .iter()
        .map(|(name, dtype, shape, bytes)| TensorView::new(*dtype, shape.clone(), bytes).map(|v| (name.clone(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| NnError::NotSafetensors { path: path.to_path_buf(), detail: e.to_string() })?;
    let metadata = (!metadata.is_empty()).then(|| metadata.clone());
    let bytes = safetensors::serialize(views, metadata)
        .map_err(|e| NnError::NotSafetensors { path: path.to_path_buf(), detail: e.to_string() })?;
    write_atomically(path, |file| file.write_all(&bytes))
}
