//! `fresco bench`: measure the engine (kernels, VGG, Gatys, GAN) and print
//! plain tables to set beside PyTorch's (`../shared/anchors`).

use anyhow::Result;
use clap::Subcommand;

use crate::bench::vgg::print_vgg_report;
use crate::bench::{print_kernel_report, BenchConfig};

/// `fresco bench` subcommands.
#[derive(Subcommand, Debug)]
pub enum BenchTarget {
    /// SGEMM (square and VGG-19 shapes) and 3x3 convolution passes, in GFLOP/s.
    Kernels {
        /// Fewer, shorter samples (a quick look, not figures to quote).
        #[arg(long)]
        quick: bool,
    },
    /// GAN transfer: training steps per second, apply time at 512 and 1024 px.
    Gan {
        /// Training crop side.
        #[arg(long, default_value_t = 128)]
        crop_size: usize,
        /// Training batch size.
        #[arg(long, default_value_t = 4)]
        batch_size: usize,
        /// Training steps timed.
        #[arg(long, default_value_t = 20)]
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

/// Runs `fresco bench`.
pub fn run(what: BenchTarget) -> Result<()> {
    match what {
        BenchTarget::Kernels { quick } => {
            print_kernel_report(if quick { BenchConfig::quick() } else { BenchConfig::standard() })
        }
        BenchTarget::Gan { crop_size, batch_size, steps, apply_sizes } => {
            crate::bench::gan::print_gan_report(crop_size, batch_size, steps, &apply_sizes)
        }
        BenchTarget::Gatys { sizes, evals } => {
            let runs: Vec<(usize, usize)> = sizes.iter().map(|&s| (s, evals)).collect();
            crate::bench::gatys::print_gatys_report(&runs);
        }
        BenchTarget::Vgg { sizes, quick } => {
            let config =
                if quick { BenchConfig::quick() } else { BenchConfig { samples: 5, warmups: 2, min_sample_s: 0.0 } };
            print_vgg_report(&sizes, config);
        }
    }
    Ok(())
}
