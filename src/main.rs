//! The `fresco` command line: neural style transfer, weights management and
//! benchmarks. Errors print as one line naming the file or value at fault,
//! with a non-zero exit status.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use fresco::bench::vgg::print_vgg_report;
use fresco::bench::{print_kernel_report, BenchConfig};
use fresco::kernels::buffer_pool::OutOfMemory;

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
        what: fresco::commands::weights::WeightsCommand,
    },
    /// Measure the engine and print plain tables.
    Bench {
        #[command(subcommand)]
        what: BenchTarget,
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

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Gatys(args) => fresco::commands::gatys::run(*args),
        Command::Gan { what: fresco::commands::gan::GanCommand::Train(args) } => fresco::commands::gan::train(*args),
        Command::Gan { what: fresco::commands::gan::GanCommand::Apply(args) } => fresco::commands::gan::apply(args),
        Command::Weights { what } => fresco::commands::weights::run(what),
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
    // A refused allocation unwinds with `OutOfMemory` (see
    // `kernels::buffer_pool`); it is reported as an error below, so the
    // default hook's "panicked at" lines are kept for real bugs only.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<OutOfMemory>().is_none() {
            default_hook(info);
        }
    }));
    let cli = Cli::parse();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli)));
    let error = match outcome {
        Ok(Ok(())) => return ExitCode::SUCCESS,
        Ok(Err(error)) => format!("{error:#}"),
        Err(payload) => match payload.downcast_ref::<OutOfMemory>() {
            Some(oom) => format!("{oom}; use smaller images (--size, or --crop-size and --batch-size to train)"),
            None => std::panic::resume_unwind(payload),
        },
    };
    eprintln!("fresco: error: {error}");
    ExitCode::FAILURE
}
