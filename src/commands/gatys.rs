//! `fresco gatys`: Gatys et al. style transfer from the command line, with a
//! progress bar, intermediate images, a JSON-lines log and a loss plot.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use nn::Vgg;
use style::gatys::{Initial, OptimizerKind};
use style::image_io::{load_image, save_image};

use super::objective::{MaskArgs, ObjectiveArgs};
use super::paths;
use crate::memory_budget::{gib, MemoryModel};
use crate::weights::load_vgg;

/// Optimiser choice on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OptimizerArg {
    /// L-BFGS (quasi-Newton) over the pixels, or the spectrogram for audio.
    Lbfgs,
    /// Adam over the pixels, or the spectrogram for audio.
    Adam,
}

/// Arguments of `fresco gatys`.
#[derive(Args, Debug)]
pub struct GatysArgs {
    /// The images, the objective's weights and layers, and the VGG.
    #[command(flatten)]
    pub objective: ObjectiveArgs,
    /// Where each style applies.
    #[command(flatten)]
    pub masks: MaskArgs,
    /// Where to write the result (format from the extension: .png, .jpg, .webp, .tif, ...).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Longest side of the output, in pixels.
    #[arg(long, default_value_t = 512)]
    pub size: usize,
    /// Iterations (L-BFGS: loss evaluations) at the full size.
    #[arg(long, default_value_t = 125, allow_negative_numbers = true)]
    pub iters: usize,
    /// Iterations at each coarser scale.
    #[arg(long, default_value_t = 60, allow_negative_numbers = true)]
    pub coarse_iters: usize,
    /// End a scale when its best loss fell by less than this fraction (in [0, 1)) over its last 10 evaluations; 0: never.
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION", allow_negative_numbers = true)]
    pub min_progress: f64,
    /// L-BFGS: how many (step, gradient change) pairs it keeps; each pair holds two images' worth of memory.
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    pub history: usize,
    /// L-BFGS on the CPU: levels of the image pyramid that precondition its steps, so the picture's large-scale layout converges as fast as its detail; 0: plain L-BFGS. Adam and GPU runs go without.
    #[arg(long, default_value_t = 4, value_name = "LEVELS", allow_negative_numbers = true)]
    pub precondition_levels: usize,
    /// Optimiser over the pixels.
    #[arg(long, value_enum, default_value = "lbfgs")]
    pub optimizer: OptimizerArg,
    /// L-BFGS: search each step's length (strong Wolfe) instead of taking the full step; its evaluations count against --iters. Steadier with the histogram loss.
    #[arg(long)]
    pub line_search: bool,
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
    /// Coarse-to-fine scales, each half the size of the next [default: 2, or 1 where half the size is too small for the layers]
    #[arg(long)]
    pub scales: Option<usize>,
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

/// The losses of one scale of a run, as the observer saw them.
#[derive(Clone, Copy, Debug)]
pub struct ScaleLosses {
    /// The scale's first loss.
    pub first: f64,
    /// Its lowest loss.
    pub lowest: f64,
    /// Its last loss.
    pub last: f64,
    /// Its evaluations.
    pub evaluations: usize,
}

/// Each scale's end against its own start (losses at different sizes are
/// not compared): `Err` with the reason when a scale blew up (ended at more
/// than 1.5 times its start, and above 1e-3: a loss that starts at 0, as
/// when content and style are one image, may wobble) or the last scale went
/// nowhere (not below its start after 10 or more evaluations). A scale ends
/// at its lowest loss for L-BFGS (the image kept) and at its last for Adam
/// (where its steps went).
pub fn check_progress(scales: &[ScaleLosses], optimizer: OptimizerArg) -> Result<(), String> {
    let advice = match optimizer {
        OptimizerArg::Lbfgs => "L-BFGS works at --lr 1 (the default)",
        OptimizerArg::Adam => "Adam works at --lr 0.02-0.1 (default 0.02)",
    };
    for (k, s) in scales.iter().enumerate() {
        let end = match optimizer {
            OptimizerArg::Lbfgs => s.lowest,
            OptimizerArg::Adam => s.last,
        };
        let at = if scales.len() > 1 { format!(" at scale {} of {}", k + 1, scales.len()) } else { String::new() };
        if end > 1.5 * s.first && end > 1e-3 {
            return Err(format!(
                "the run diverged{at}: the loss rose from {:.4e} to {end:.4e} ({:.1}x its start); {advice}",
                s.first,
                end / s.first
            ));
        }
        if k + 1 == scales.len() && s.evaluations >= 10 && end >= s.first {
            return Err(format!(
                "the loss did not fall ({:.4e} -> {end:.4e} over {} evaluations); {advice}",
                s.first, s.evaluations
            ));
        }
    }
    Ok(())
}

/// Runs `fresco gatys`.
pub fn run(args: GatysArgs) -> Result<()> {
    paths::check_output_image(&args.output, "output", None)?;
    paths::check_report_paths(args.run.log.as_deref(), args.run.plot.as_deref())?;
    let (content, styles) = args.objective.load_images()?;
    let masks = args.masks.load(styles.len(), &content)?;
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
        .coarse_iterations(args.coarse_iters)
        .min_progress(args.min_progress)
        .history(args.history)
        .preconditioner_levels(args.precondition_levels)
        .optimizer(match args.optimizer {
            OptimizerArg::Lbfgs => OptimizerKind::Lbfgs,
            OptimizerArg::Adam => OptimizerKind::Adam,
        })
        .line_search(args.line_search)
        .initial(initial)
        .seed(args.seed)
        .preserve_colors(args.preserve_colors)
        .style_masks(masks)
        .device(args.run.device);
    if let Some(scales) = args.scales {
        builder = builder.scales(scales);
    }
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
    // The largest image of the run, and what to say if it does not fit.
    let raised = out_h.max(out_w) > args.size;
    let mut largest = (out_h.saturating_mul(out_w), None::<(&Path, (usize, usize), (usize, usize))>);
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
        if lh.saturating_mul(lw) > largest.0 {
            largest = (lh.saturating_mul(lw), Some((path.as_path(), (sw, sh), (lw, lh))));
        }
    }
    paths::check_output_image(&args.output, "output", Some(out_h.max(out_w)))?;
    if args.run.device == tensor::Device::Cpu {
        // Each scale starts a fresh history; the full size holds the most.
        let model = MemoryModel::gatys_objective(args.history.min(args.iters), args.objective.histogram_weight > 0.0);
        if let Some((needed, available, limit)) = model.shortfall(largest.0 as u64) {
            let fits = format!("needs about {} of memory and {limit} leaves {}", gib(needed), gib(available));
            match largest.1 {
                // An elongated content image sets every size of the run.
                _ if raised => bail!(
                    "{}: {width}x{height} is too elongated: with the {min_side} px its shorter side needs, the run is {out_w}x{out_h}, which {fits} (the style images are sized to the output's longest side); crop it to a less elongated shape",
                    args.objective.content.display()
                ),
                None => model.check(largest.0 as u64, args.size, &format!("--size {}", args.size))?,
                Some((path, (sw, sh), (lw, lh))) if lw.min(lh) <= min_side => bail!(
                    "{}: {sw}x{sh} is too elongated: with the {min_side} px its shorter side needs, it is used at {lw}x{lh}, which {fits}; crop it, or lower --style-scale",
                    path.display()
                ),
                Some((path, _, (lw, lh))) => bail!(
                    "--style-scale {}: {} is used at {lw}x{lh}, which {fits}; use a smaller --style-scale or --size",
                    args.objective.style_scale,
                    path.display()
                ),
            }
        }
    }
    let gatys = builder.build(load_vgg(&args.objective.weights)?)?;

    let mut record = super::LossRecord::new(["total", "content", "style", "tv"], args.run.log.as_deref(), false);
    let bar = super::progress_bar(gatys.total_iterations() as u64, args.run.quiet);
    let mut scales: Vec<ScaleLosses> = Vec::new();
    let result = gatys.run(&content, &styles, |p| {
        let l = p.losses;
        if p.scale != scales.len() {
            scales.push(ScaleLosses { first: l.total, lowest: l.total, last: l.total, evaluations: 0 });
        }
        if let Some(s) = scales.last_mut() {
            s.lowest = s.lowest.min(l.total);
            s.last = l.total;
            s.evaluations += 1;
        }
        bar.set_position(p.iteration as u64);
        let mut detail = String::new();
        if l.laplacian > 0.0 {
            detail += &format!(" laplacian {:.2e}", l.laplacian);
        }
        if l.histogram > 0.0 {
            detail += &format!(" histogram {:.2e}", l.histogram);
        }
        bar.set_message(format!(
            "scale {}/{} loss {:.3e} (content {:.2e} style {:.2e} tv {:.2e}{detail})",
            p.scale, p.scales, l.total, l.content, l.style, l.tv
        ));
        record
            .record(p.iteration as f64, [l.total, l.content, l.style, l.tv], || {
                format!(
                    "{{\"iteration\":{},\"scale\":{},\"content\":{:e},\"style\":{:e},\"tv\":{:e},\"laplacian\":{:e},\"histogram\":{:e},\"total\":{:e},\"elapsed_s\":{:.3}}}",
                    p.iteration,
                    p.scale,
                    l.content,
                    l.style,
                    l.tv,
                    l.laplacian,
                    l.histogram,
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
    let progress = check_progress(&scales, args.optimizer);
    record.plot(args.run.plot.as_deref(), "gatys loss (weighted)", "iteration")?;
    let (h, w) = (result.image.shape()[2], result.image.shape()[3]);
    println!(
        "wrote {} ({w}x{h}) with {}: loss {:.4e} -> {:.4e} at full size (evaluation {} of {})",
        args.output.display(),
        gatys.vgg().description(),
        scales.last().map_or(result.first_losses.total, |s| s.first),
        result.best_losses.total,
        result.best_evaluation,
        result.evaluations
    );
    progress.map_err(|why| anyhow::anyhow!("{why} (the result was written to {} all the same)", args.output.display()))
}
