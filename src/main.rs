//! The `fresco` command line.

use clap::{Parser, Subcommand};

use fresco::bench::{print_kernel_report, BenchConfig};

/// fresco: a from-scratch tensor engine for neural style transfer research.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Bench { what: BenchTarget::Kernels { quick } } => {
            print_kernel_report(if quick { BenchConfig::quick() } else { BenchConfig::standard() })
        }
    }
}
