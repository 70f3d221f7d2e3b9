//! `fresco gatys`: Gatys et al. style transfer from the command line, with a
//! progress bar, intermediate images, a JSON-lines log and a loss plot.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, ValueEnum};
use nn::Vgg;
use style::gatys::{Initial, OptimizerKind};
use style::image_io::{load_image, save_image};

use super::objective::ObjectiveArgs;
use super::paths;
use crate::memory_budget::MemoryModel;
use crate::weights::load_vgg;

/// Optimiser choice on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OptimizerArg {
    /// L-BFGS over the pixels.
    Lbfgs,
    /// Adam over the pixels.
    Adam,
}

/// Arguments of `fresco gatys`.
#[derive(Args, Debug)]
pub struct GatysArgs {
    /// The images, the objective's weights and layers, and the VGG.
    #[command(flatten)]
    pub objective: ObjectiveArgs,
    /// Where to write the result (format from the extension: .png, .jpg, .webp, .tif, ...).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Longest side of the output, in pixels.
    #[arg(long, default_value_t = 512)]
    pub size: usize,
    /// Iterations per scale.
    #[arg(long, default_value_t = 500)]
    pub iters: usize,
    /// Optimiser over the pixels.
    #[arg(long, value_enum, default_value = "lbfgs")]
    pub optimizer: OptimizerArg,
    /// Learning rate [default: 1 for L-BFGS, 0.02 for Adam].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Starting image: `content`, `noise`, or a path (write ./noise for a file of that name).
    #[arg(long, default_value = "content")]
    pub init: PathBuf,
    /// Seed of the noise initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep the content's colours (transfer luminance only).
    #[arg(long)]
    pub preserve_colors: bool,
    /// Coarse-to-fine scales, each half the size of the next.
    #[arg(long, default_value_t = 1)]
    pub scales: usize,
    /// Save the image every N iterations (beside the output, as NAME.iterN.EXT).
    #[arg(long)]
    pub save_every: Option<usize>,
    /// Log, plot, progress bar and device.
    #[command(flatten)]
    pub run: super::RunArgs,
}

/// `NAME.iterN.EXT` beside `output`.
fn intermediate_path(output: &Path, iteration: usize) -> PathBuf {
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into());
    let ext = output.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_else(|| "png".into());
    output.with_file_name(format!("{stem}.iter{iteration}.{ext}"))
}

/// The loss at the end of the last scale against its loss at that scale's
/// start: `Err` with the reason when the run blew up (ended at more than
/// 1.5 times its start) or went nowhere (not below its start after 10 or
/// more evaluations). Earlier scales are not compared: losses at different
/// sizes are not comparable.
pub fn check_progress(first: f64, last: f64, evaluations: usize, optimizer: OptimizerArg) -> Result<(), String> {
    let advice = match optimizer {
        OptimizerArg::Lbfgs => "L-BFGS works at --lr 1 (the default)",
        OptimizerArg::Adam => "Adam works at --lr 0.02-0.1 (default 0.02)",
    };
    if last > 1.5 * first {
        return Err(format!(
            "the run diverged: the loss rose from {first:.4e} to {last:.4e} ({:.1}x its start); {advice}",
            last / first
        ));
    }
    if evaluations >= 10 && last >= first {
        return Err(format!(
            "the loss did not fall ({first:.4e} -> {last:.4e} over {evaluations} evaluations); {advice}"
        ));
    }
    Ok(())
}

/// Runs `fresco gatys`.
pub fn run(args: GatysArgs) -> Result<()> {
    paths::check_output_image(&args.output, "output", None)?;
    paths::check_report_paths(args.run.log.as_deref(), args.run.plot.as_deref())?;
    let (content, styles) = args.objective.load_images()?;
    let initial = match args.init.as_os_str().to_str() {
        Some("content") => Initial::Content,
        Some("noise") => Initial::Noise,
        _ => Initial::Image(load_image(&args.init, None)?),
    };
    let mut builder = args
        .objective
        .builder()?
        .size(args.size)
        .iterations(args.iters)
        .optimizer(match args.optimizer {
            OptimizerArg::Lbfgs => OptimizerKind::Lbfgs,
            OptimizerArg::Adam => OptimizerKind::Adam,
        })
        .initial(initial)
        .seed(args.seed)
        .preserve_colors(args.preserve_colors)
        .scales(args.scales)
        .device(args.run.device);
    if let Some(lr) = args.lr {
        builder = builder.learning_rate(lr);
    }
    // Settings are checked against the layers before any weights are fetched.
    let gatys = builder.clone().build(Vgg::random_with_widths(args.objective.expected_kind()?, [1; 5], 0))?;
    let (height, width) = (content.shape()[2], content.shape()[3]);
    let dims = gatys.scale_dims(height, width);
    let &(out_h, out_w) = dims.last().expect("at least one scale");
    let min_side = gatys.min_side();
    if out_h.max(out_w) > args.size {
        eprintln!(
            "note: {} is {width}x{height}; its shorter side is brought up to {min_side} px (the least the deepest layer needs), so the output is {out_w}x{out_h}",
            args.objective.content.display()
        );
    }
    let mut largest = out_h.saturating_mul(out_w);
    for (path, style) in args.objective.style.iter().zip(&styles) {
        let (sh, sw) = (style.shape()[2], style.shape()[3]);
        let (fh, fw) = dims.iter().map(|&(h, w)| gatys.style_dims(sh, sw, h, w)).next().expect("a scale");
        let plain = style::image_io::scaled_dims(
            sh,
            sw,
            ((dims[0].0.max(dims[0].1) as f64) * args.objective.style_scale).round().max(1.0) as usize,
        );
        if (fh, fw) != plain {
            eprintln!(
                "note: {} is {sw}x{sh}; it is used at {fw}x{fh} so that its shorter side has the {min_side} px the deepest layer needs",
                path.display()
            );
        }
        let (lh, lw) = gatys.style_dims(sh, sw, out_h, out_w);
        largest = largest.max(lh.saturating_mul(lw));
    }
    paths::check_output_image(&args.output, "output", Some(out_h.max(out_w)))?;
    if args.run.device == tensor::Device::Cpu {
        MemoryModel::GATYS.check(largest as u64, args.size, &format!("--size {}", args.size))?;
    }
    let gatys = builder.build(load_vgg(&args.objective.weights)?)?;

    let mut record = super::LossRecord::new(["total", "content", "style", "tv"], args.run.log.as_deref(), false)?;
    let total = args.iters.saturating_mul(args.scales) as u64;
    let bar = super::progress_bar(total, args.run.quiet);
    // (scale, its first loss, evaluations in it) of the scale under way.
    let mut last_scale = (0, 0.0, 0);
    let result = gatys.run(&content, &styles, |p| {
        let l = p.losses;
        if p.scale != last_scale.0 {
            last_scale = (p.scale, l.total, 0);
        }
        last_scale.2 += 1;
        bar.set_position(p.iteration as u64);
        bar.set_message(format!(
            "scale {}/{} loss {:.3e} (content {:.2e} style {:.2e} tv {:.2e})",
            p.scale, p.scales, l.total, l.content, l.style, l.tv
        ));
        record
            .record(p.iteration as f64, [l.total, l.content, l.style, l.tv], || {
                format!(
                    "{{\"iteration\":{},\"scale\":{},\"content\":{:e},\"style\":{:e},\"tv\":{:e},\"total\":{:e},\"elapsed_s\":{:.3}}}",
                    p.iteration,
                    p.scale,
                    l.content,
                    l.style,
                    l.tv,
                    l.total,
                    p.elapsed.as_secs_f64()
                )
            })
            .map_err(|e| format!("{e:#}"))?;
        if let Some(every) = args.save_every.filter(|&n| n > 0) {
            if p.iteration % every == 0 {
                let path = intermediate_path(&args.output, p.iteration);
                save_image(&path, &gatys.presentable(p.image, &content)).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    });
    bar.finish_and_clear();
    let result = result?;
    save_image(&args.output, &result.image)?;
    let progress = check_progress(last_scale.1, result.final_losses.total, last_scale.2, args.optimizer);
    record.plot(args.run.plot.as_deref(), "gatys loss (weighted)", "iteration")?;
    let (h, w) = (result.image.shape()[2], result.image.shape()[3]);
    println!(
        "wrote {} ({w}x{h}) with {}: loss {:.4e} -> {:.4e} over {} evaluations",
        args.output.display(),
        gatys.vgg().description(),
        result.first_losses.total,
        result.final_losses.total,
        result.evaluations
    );
    progress.map_err(|why| anyhow::anyhow!("{why} (the result was written to {} all the same)", args.output.display()))
}
