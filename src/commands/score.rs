//! `fresco score`: measures any images by the Gatys objective — the content,
//! style and total-variation terms against a content and style images, with
//! the same weights, layers and VGG options as `gatys` — so results of any
//! method (Gatys, a GAN stylizer, another tool, the untouched photo) can be
//! compared by one number per term, and how much of the content's detail
//! each keeps (the correlation of their Laplacians, Li et al. 2017). One row
//! per image, as a table or as JSON lines.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use nn::Vgg;
use style::image_io::{fit_dims, load_image, resize};
use style::perceptual::laplacian::laplacian_correlation;
use tensor::Device;

use super::objective::{MaskArgs, ObjectiveArgs};
use crate::memory_budget::MemoryModel;
use crate::weights::load_vgg;

/// Arguments of `fresco score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// The images to score.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// The images to score against, the objective's weights and layers, and the VGG.
    #[command(flatten)]
    pub objective: ObjectiveArgs,
    /// Where each style applies (the style term is then each style's over its region).
    #[command(flatten)]
    pub masks: MaskArgs,
    /// Each image is scored with its longest side at this many pixels (0: at its own size).
    #[arg(long, default_value_t = 512)]
    pub size: usize,
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where to compute: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `value` as a JSON number, or `null` when it is not finite.
fn json_number(value: f64) -> String {
    if value.is_finite() {
        format!("{value:e}")
    } else {
        "null".to_string()
    }
}

/// Runs `fresco score`. An image that cannot be read or scored is named
/// with its reason; the others are still scored, and the command then fails
/// with the count.
pub fn run(args: ScoreArgs) -> Result<()> {
    let (content, styles) = args.objective.load_images()?;
    let blend = &args.objective.style_blend;
    if !blend.is_empty() && blend.len() != styles.len() {
        bail!("--style-blend: {} weights for {} style images", blend.len(), styles.len());
    }
    let masks = args.masks.load(styles.len(), &content)?;
    let builder = args.objective.builder()?.style_masks(masks).device(args.device);
    // Settings are checked against the layers before any weights are fetched.
    builder.clone().build(Vgg::random_with_widths(args.objective.expected_kind()?, [1; 5], 0))?;
    let gatys = builder.build(load_vgg(&args.objective.weights)?)?;
    // The build above refused an empty --laplacian-pool.
    let detail_pool = args.objective.laplacian_pool.first().copied().unwrap_or(4);
    if !args.json {
        println!(
            "Gatys objective with {} (content {} x{}, style {} x{}, tv x{}, laplacian x{}, histogram {} x{}{}), images at {}",
            gatys.vgg().description(),
            args.objective.content_layers,
            args.objective.content_weight,
            args.objective.style_layers,
            args.objective.style_weight,
            args.objective.tv_weight,
            args.objective.laplacian_weight,
            args.objective.histogram_layers,
            args.objective.histogram_weight,
            if args.masks.style_mask.is_empty() { "" } else { ", masked" },
            if args.size == 0 { "their own size".to_string() } else { format!("{} px", args.size) }
        );
        println!("detail: correlation of the image's and the content's Laplacians after {detail_pool}x{detail_pool} pooling (1: every edge in place)");
        println!(
            "{:<40} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}",
            "image", "size", "content", "style", "tv", "laplacian", "histogram", "total", "detail"
        );
    }
    let mut failed = 0;
    for path in &args.images {
        let scored = (|| -> Result<_> {
            let image = load_image(path, None)?;
            let (h, w) = (image.shape()[2], image.shape()[3]);
            let longest = if args.size == 0 { h.max(w) } else { args.size };
            let (h, w) = fit_dims(h, w, longest, gatys.min_side());
            if args.device == Device::Cpu {
                let model = MemoryModel::gatys_objective(0, args.objective.histogram_weight > 0.0);
                model.check((h * w) as u64, longest, &format!("{} at {w}x{h}", path.display()))?;
            }
            let image = resize(&image, h, w);
            let losses = gatys
                .measure(&image, &content, &styles)
                .with_context(|| format!("{}: cannot be scored", path.display()))?;
            // None (shown as -, or null) when the content has no detail to
            // keep or the image is too small for the pooling.
            let detail = laplacian_correlation(&resize(&content, h, w), &image, detail_pool).ok().flatten();
            Ok(((w, h), losses, detail))
        })();
        match scored {
            Ok(((w, h), l, detail)) if args.json => println!(
                "{{\"image\":{},\"width\":{w},\"height\":{h},\"content\":{},\"style\":{},\"tv\":{},\"laplacian\":{},\"histogram\":{},\"total\":{},\"laplacian_correlation\":{}}}",
                json_string(&path.to_string_lossy()),
                json_number(l.content),
                json_number(l.style),
                json_number(l.tv),
                json_number(l.laplacian),
                json_number(l.histogram),
                json_number(l.total),
                detail.map_or("null".to_string(), json_number)
            ),
            Ok(((w, h), l, detail)) => println!(
                "{:<40} {:>9} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>7}",
                path.display(),
                format!("{w}x{h}"),
                l.content,
                l.style,
                l.tv,
                l.laplacian,
                l.histogram,
                l.total,
                detail.map_or("-".to_string(), |d| format!("{d:.3}"))
            ),
            Err(e) => {
                failed += 1;
                eprintln!("fresco: skipped: {e:#}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} images could not be scored (named above)", args.images.len());
    }
    Ok(())
}
