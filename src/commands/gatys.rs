//! `fresco gatys`: Gatys et al. style transfer from the command line, with a
//! progress bar, intermediate images, a JSON-lines log and a loss plot.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use nn::Pooling;
use style::gatys::{parse_layers, Gatys, Initial, OptimizerKind, DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS};
use style::image_io::{load_image, save_image};
use style::plot::{plot_curves, Series};

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
    if let Some(plot) = &args.plot {
        if !plot.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
            bail!("{}: the plot is written as PNG; give it a .png name", plot.display());
        }
        check_directory(plot)?;
    }
    if let Some(log) = &args.log {
        check_directory(log)?;
    }
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

    let mut log = match &args.log {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("{}: cannot create the log", path.display()))?,
        )),
        None => None,
    };
    let total = (args.iters * args.scales) as u64;
    let bar = super::progress_bar(total, args.quiet);
    let mut curves: [Vec<(f64, f64)>; 4] = Default::default();
    let result = gatys.run(&content, &styles, |p| {
        let l = p.losses;
        bar.set_position(p.iteration as u64);
        bar.set_message(format!(
            "scale {}/{} loss {:.3e} (content {:.2e} style {:.2e} tv {:.2e})",
            p.scale, p.scales, l.total, l.content, l.style, l.tv
        ));
        for (curve, value) in curves.iter_mut().zip([l.total, l.content, l.style, l.tv]) {
            curve.push((p.iteration as f64, value));
        }
        if let Some(log) = log.as_mut() {
            writeln!(
                log,
                "{{\"iteration\":{},\"scale\":{},\"content\":{:e},\"style\":{:e},\"tv\":{:e},\"total\":{:e},\"elapsed_s\":{:.3}}}",
                p.iteration,
                p.scale,
                l.content,
                l.style,
                l.tv,
                l.total,
                p.elapsed.as_secs_f64()
            )
            .and_then(|_| log.flush())
            .map_err(|e| format!("{}: cannot write the log: {e}", args.log.as_ref().expect("log path").display()))?;
        }
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
    if let Some(plot) = &args.plot {
        let names = ["total", "content", "style", "tv"];
        let series: Vec<Series> =
            names.iter().zip(curves).map(|(n, points)| Series { name: n.to_string(), points }).collect();
        plot_curves(plot, "gatys loss (weighted)", "iteration", &series)?;
    }
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
