//! `fresco gatys`: Gatys et al. style transfer from the command line, with a
//! progress bar, intermediate images, a JSON-lines log and a loss plot.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use nn::Pooling;
use style::gatys::{parse_layers, Gatys, Initial, OptimizerKind, DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS};
use style::image_io::{load_image, save_image};

use crate::weights::load_vgg;

/// Optimiser choice on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OptimizerArg {
    /// L-BFGS over the pixels.
    Lbfgs,
    /// Adam over the pixels.
    Adam,
}

/// Pooling choice on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PoolingArg {
    /// Max pooling (as trained).
    Max,
    /// Average pooling.
    Avg,
}

/// Arguments of `fresco gatys`.
#[derive(Args, Debug)]
pub struct GatysArgs {
    /// The content image.
    #[arg(long)]
    pub content: PathBuf,
    /// Style image(s), comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub style: Vec<PathBuf>,
    /// Where to write the result (format from the extension: .png, .jpg, ...).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Relative weights of several style images, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub style_blend: Vec<f64>,
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
    /// Weight of the content loss.
    #[arg(long, default_value_t = 1.0)]
    pub content_weight: f64,
    /// Weight of the style loss.
    #[arg(long, default_value_t = 10.0)]
    pub style_weight: f64,
    /// Weight of the total-variation (smoothness) loss.
    #[arg(long, default_value_t = 10.0)]
    pub tv_weight: f64,
    /// Content layers, comma-separated, each optionally `layer:weight`.
    #[arg(long, default_value = DEFAULT_CONTENT_LAYERS)]
    pub content_layers: String,
    /// Style layers, comma-separated, each optionally `layer:weight`.
    #[arg(long, default_value = DEFAULT_STYLE_LAYERS)]
    pub style_layers: String,
    /// Pooling in the VGG.
    #[arg(long, value_enum, default_value = "max")]
    pub pooling: PoolingArg,
    /// Starting image: `content`, `noise`, or a path.
    #[arg(long, default_value = "content")]
    pub init: String,
    /// Seed of the noise initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Style images are resized to size × style-scale.
    #[arg(long, default_value_t = 1.0)]
    pub style_scale: f64,
    /// Keep the content's colours (transfer luminance only).
    #[arg(long)]
    pub preserve_colors: bool,
    /// Coarse-to-fine scales, each half the size of the next.
    #[arg(long, default_value_t = 1)]
    pub scales: usize,
    /// VGG weights (safetensors) [default: the cached ones, else random features].
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Save the image every N iterations (beside the output, as NAME.iterN.EXT).
    #[arg(long)]
    pub save_every: Option<usize>,
    /// Write each iteration's losses as JSON lines to this file.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Draw the loss curves to this PNG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Where to compute: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: tensor::Device,
}

/// `NAME.iterN.EXT` beside `output`.
fn intermediate_path(output: &Path, iteration: usize) -> PathBuf {
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into());
    let ext = output.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_else(|| "png".into());
    output.with_file_name(format!("{stem}.iter{iteration}.{ext}"))
}

/// Fails early, before any work, on an output that cannot be written.
pub fn check_output(path: &Path, what: &str) -> Result<()> {
    if image::ImageFormat::from_path(path).is_err() {
        bail!("{}: unknown image format for the {what}; use an extension such as .png or .jpg", path.display());
    }
    check_directory(path)
}

/// Fails early when the directory that should hold `path` does not exist.
pub fn check_directory(path: &Path) -> Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) if !dir.is_dir() => bail!("{}: the directory {} does not exist", path.display(), dir.display()),
        _ => Ok(()),
    }
}

/// Runs `fresco gatys`.
pub fn run(args: GatysArgs) -> Result<()> {
    check_output(&args.output, "output")?;
    super::check_report_paths(args.log.as_deref(), args.plot.as_deref())?;
    let content = load_image(&args.content, None)?;
    let styles = args.style.iter().map(|p| load_image(p, None)).collect::<style::Result<Vec<_>>>()?;
    let initial = match args.init.as_str() {
        "content" => Initial::Content,
        "noise" => Initial::Noise,
        path => Initial::Image(load_image(Path::new(path), None)?),
    };
    let vgg = load_vgg(args.weights.as_deref())?;
    let mut builder = Gatys::builder()
        .size(args.size)
        .iterations(args.iters)
        .optimizer(match args.optimizer {
            OptimizerArg::Lbfgs => OptimizerKind::Lbfgs,
            OptimizerArg::Adam => OptimizerKind::Adam,
        })
        .content_weight(args.content_weight)
        .style_weight(args.style_weight)
        .tv_weight(args.tv_weight)
        .content_layers(parse_layers("--content-layers", &args.content_layers)?)
        .style_layers(parse_layers("--style-layers", &args.style_layers)?)
        .pooling(match args.pooling {
            PoolingArg::Max => Pooling::Max,
            PoolingArg::Avg => Pooling::Average,
        })
        .initial(initial)
        .seed(args.seed)
        .style_scale(args.style_scale)
        .style_blend(args.style_blend.clone())
        .preserve_colors(args.preserve_colors)
        .scales(args.scales)
        .device(args.device);
    if let Some(lr) = args.lr {
        builder = builder.learning_rate(lr);
    }
    let gatys = builder.build(vgg)?;

    let mut record = super::LossRecord::new(["total", "content", "style", "tv"], args.log.as_deref(), false)?;
    let total = (args.iters * args.scales) as u64;
    let bar = super::progress_bar(total, args.quiet);
    let result = gatys.run(&content, &styles, |p| {
        let l = p.losses;
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
    record.plot(args.plot.as_deref(), "gatys loss (weighted)", "iteration")?;
    let (h, w) = (result.image.shape()[2], result.image.shape()[3]);
    println!(
        "wrote {} ({w}x{h}) with {}: loss {:.4e} -> {:.4e} over {} evaluations",
        args.output.display(),
        gatys.vgg().description(),
        result.first_losses.total,
        result.final_losses.total,
        result.evaluations
    );
    Ok(())
}
