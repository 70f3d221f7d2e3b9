//! `fresco score`: measures any images by the Gatys objective — the content,
//! style and total-variation terms against a content and style images, with
//! the same weights, layers and VGG options as `gatys` — so results of any
//! method (Gatys, a GAN stylizer, another tool, the untouched photo) can be
//! compared by one number per term. One row per image, as a table or as
//! JSON lines.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use nn::Vgg;
use style::image_io::{fit_dims, load_image, resize};
use tensor::Device;

use super::objective::ObjectiveArgs;
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
    let builder = args.objective.builder()?.device(args.device);
    // Settings are checked against the layers before any weights are fetched.
    builder.clone().build(Vgg::random_with_widths(args.objective.expected_kind()?, [1; 5], 0))?;
    let gatys = builder.build(load_vgg(&args.objective.weights)?)?;
    if !args.json {
        println!(
            "Gatys objective with {} (content {} x{}, style {} x{}, tv x{}), images at {}",
            gatys.vgg().description(),
            args.objective.content_layers,
            args.objective.content_weight,
            args.objective.style_layers,
            args.objective.style_weight,
            args.objective.tv_weight,
            if args.size == 0 { "their own size".to_string() } else { format!("{} px", args.size) }
        );
        println!("{:<40} {:>9} {:>10} {:>10} {:>10} {:>10}", "image", "size", "content", "style", "tv", "total");
    }
    let mut failed = 0;
    for path in &args.images {
        let scored = (|| -> Result<_> {
            let image = load_image(path, None)?;
            let (h, w) = (image.shape()[2], image.shape()[3]);
            let longest = if args.size == 0 { h.max(w) } else { args.size };
            let (h, w) = fit_dims(h, w, longest, gatys.min_side());
            if args.device == Device::Cpu {
                MemoryModel::gatys(0).check((h * w) as u64, longest, &format!("{} at {w}x{h}", path.display()))?;
            }
            let losses = gatys
                .measure(&resize(&image, h, w), &content, &styles)
                .with_context(|| format!("{}: cannot be scored", path.display()))?;
            Ok(((w, h), losses))
        })();
        match scored {
            Ok(((w, h), l)) if args.json => println!(
                "{{\"image\":{},\"width\":{w},\"height\":{h},\"content\":{},\"style\":{},\"tv\":{},\"total\":{}}}",
                json_string(&path.to_string_lossy()),
                json_number(l.content),
                json_number(l.style),
                json_number(l.tv),
                json_number(l.total)
            ),
            Ok(((w, h), l)) => println!(
                "{:<40} {:>9} {:>10.4} {:>10.4} {:>10.4} {:>10.4}",
                path.display(),
                format!("{w}x{h}"),
                l.content,
                l.style,
                l.tv,
                l.total
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
