//! The `fresco` command line: the list of commands, and how an error (or a
//! refused allocation) becomes one line on standard error and a non-zero
//! exit status. Each command's arguments and work live in its own file
//! under `src/commands/`.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

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
    /// Video style transfer with temporal consistency: frames or a video file in, the same out.
    Video(Box<fresco::commands::video::VideoArgs>),
    /// Audio style transfer and texture synthesis (Ulyanov & Lebedev): WAV in, WAV out.
    Audio(Box<fresco::commands::audio::AudioArgs>),
    /// Score any images by the Gatys objective (content, style and TV terms), one row each.
    Score(Box<fresco::commands::score::ScoreArgs>),
    /// Pretrained VGG weights: fetch, import from ONNX, inspect.
    Weights {
        #[command(subcommand)]
        what: fresco::commands::weights::WeightsCommand,
    },
    /// Measure the engine and print plain tables.
    Bench {
        #[command(subcommand)]
        what: fresco::commands::bench::BenchTarget,
    },
}

/// The buffer pool's settings from the environment, in place of its
/// defaults: `FRESCO_POOL_MIB`, the most MiB of freed buffers it keeps for
/// reuse (0 turns pooling off), and `FRESCO_POOL_SLACK_PERCENT`, how far
/// above the working set the pool may take the process (default
/// `DEFAULT_BUDGET_SLACK_PERCENT`; larger is faster and takes more memory,
/// see `kernels::buffer_pool`).
fn apply_pool_settings() -> Result<()> {
    let read = |name: &str, meaning: &str| -> Result<Option<usize>> {
        let Ok(value) = std::env::var(name) else {
            return Ok(None);
        };
        match value.trim().parse::<usize>() {
            Ok(number) => Ok(Some(number)),
            Err(_) => anyhow::bail!("{name}={value}: expected {meaning}"),
        }
    };
    let mib_meaning = "a whole number of MiB (0 turns the pool off)";
    if let Some(mib) = read("FRESCO_POOL_MIB", mib_meaning)? {
        let bytes = mib
            .checked_mul(1 << 20)
            .ok_or_else(|| anyhow::anyhow!("FRESCO_POOL_MIB={mib}: too large; expected {mib_meaning}"))?;
        fresco::kernels::buffer_pool::set_pool_limit_bytes(bytes);
    }
    let slack_meaning =
        format!("a whole number of percent (default {})", fresco::kernels::buffer_pool::DEFAULT_BUDGET_SLACK_PERCENT);
    if let Some(percent) = read("FRESCO_POOL_SLACK_PERCENT", &slack_meaning)? {
        fresco::kernels::buffer_pool::set_pool_budget_slack_percent(percent);
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    use fresco::commands::{audio, bench, gan, gatys, score, video, weights};
    apply_pool_settings()?;
    match cli.command {
        Command::Gatys(args) => gatys::run(*args),
        Command::Gan { what: gan::GanCommand::Train(args) } => gan::train(*args),
        Command::Gan { what: gan::GanCommand::Apply(args) } => gan::apply(args),
        Command::Score(args) => score::run(*args),
        Command::Video(args) => video::run(*args),
        Command::Audio(args) => audio::run(*args),
        Command::Weights { what } => weights::run(what),
        Command::Bench { what } => bench::run(what),
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
    // One line whatever a library's message holds (some end in, or span,
    // line breaks).
    let error = error.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ");
    eprintln!("fresco: error: {error}");
    ExitCode::FAILURE
}
