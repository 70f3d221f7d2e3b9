//! The Gatys objective as the command line sets it — the content and style
//! images, the weights of the content, style and total-variation terms, the
//! layers, pooling, style scale and the VGG — declared once for `gatys`,
//! which optimises it, and `score`, which measures it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use nn::{Pooling, Vgg, VggKind};
use style::gatys::{Gatys, GatysBuilder, DEFAULT_CONTENT_LAYERS, DEFAULT_HISTOGRAM_LAYERS, DEFAULT_STYLE_LAYERS};
use style::image_io::{load_image, load_mask};
use style::perceptual::parse_layers;
use tensor::Tensor;

use crate::weights::WeightsArgs;

/// Pooling choice on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PoolingArg {
    /// Max pooling (as trained).
    Max,
    /// Average pooling.
    Avg,
}

/// The objective's options.
#[derive(Args, Debug)]
pub struct ObjectiveArgs {
    /// The content image (for `video`: the input clip, a video file or a folder of frames).
    #[arg(long)]
    pub content: PathBuf,
    /// A style image; repeat the option for several (each value is one path, commas included).
    #[arg(long)]
    pub style: Vec<PathBuf>,
    /// Relative weights of several style images, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub style_blend: Vec<f64>,
    /// Weight of the content loss.
    #[arg(long, default_value_t = 1.0)]
    pub content_weight: f64,
    /// Weight of the style loss.
    #[arg(long, default_value_t = 10.0)]
    pub style_weight: f64,
    /// Weight of the total-variation (smoothness) loss.
    #[arg(long, default_value_t = 10.0)]
    pub tv_weight: f64,
    /// Weight of the Laplacian loss (Li et al. 2017), which keeps the photo's edges and fine detail; 0: off.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub laplacian_weight: f64,
    /// Pooling of the Laplacian loss at the full size, comma-separated (several share the weight); `score`'s detail column uses the first.
    #[arg(long, value_delimiter = ',', default_value = "4", value_name = "P")]
    pub laplacian_pool: Vec<usize>,
    /// Weight of the histogram loss (Risser et al. 2017), which matches each channel's distribution of values to the style's; 0: off. In gatys and video, use it with --line-search.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub histogram_weight: f64,
    /// Layers of the histogram loss, comma-separated, each optionally `layer:weight`.
    #[arg(long, default_value = DEFAULT_HISTOGRAM_LAYERS)]
    pub histogram_layers: String,
    /// Content layers, comma-separated, each optionally `layer:weight`.
    #[arg(long, default_value = DEFAULT_CONTENT_LAYERS)]
    pub content_layers: String,
    /// Style layers, comma-separated, each optionally `layer:weight`.
    #[arg(long, default_value = DEFAULT_STYLE_LAYERS)]
    pub style_layers: String,
    /// Pooling in the VGG.
    #[arg(long, value_enum, default_value = "max")]
    pub pooling: PoolingArg,
    /// Style images are resized to the output's longest side × style-scale.
    #[arg(long, default_value_t = 1.0)]
    pub style_scale: f64,
    /// Where the VGG comes from.
    #[command(flatten)]
    pub weights: WeightsArgs,
}

impl ObjectiveArgs {
    /// A Gatys builder with these weights, layers, pooling, style scale
    /// and blend (the caller adds size, iterations and the rest).
    pub fn builder(&self) -> Result<GatysBuilder> {
        Ok(Gatys::builder()
            .content_weight(self.content_weight)
            .style_weight(self.style_weight)
            .tv_weight(self.tv_weight)
            .laplacian_weight(self.laplacian_weight)
            .laplacian_pools(self.laplacian_pool.clone())
            .histogram_weight(self.histogram_weight)
            .histogram_layers(parse_layers("--histogram-layers", &self.histogram_layers)?)
            .content_layers(parse_layers("--content-layers", &self.content_layers)?)
            .style_layers(parse_layers("--style-layers", &self.style_layers)?)
            .pooling(match self.pooling {
                PoolingArg::Max => Pooling::Max,
                PoolingArg::Avg => Pooling::Average,
            })
            .style_scale(self.style_scale)
            .style_blend(self.style_blend.clone()))
    }

    /// The content image and every style image. A `--style` value that
    /// names no file but whose comma-separated parts do (the old list
    /// syntax) is refused with a hint.
    pub fn load_images(&self) -> Result<(Tensor, Vec<Tensor>)> {
        let content = load_image(&self.content, None)?;
        Ok((content, self.load_styles()?))
    }

    /// Every style image (at least one is required).
    pub fn load_styles(&self) -> Result<Vec<Tensor>> {
        if self.style.is_empty() {
            bail!("--style: a style image is required (repeat --style for several)");
        }
        self
            .style
            .iter()
            .map(|path| {
                if !path.exists() {
                    let text = path.to_string_lossy();
                    if text.contains(',') && text.split(',').any(|p| Path::new(p).exists()) {
                        bail!("--style {text}: no such file; give each style image its own --style (a comma is part of a file name)");
                    }
                }
                Ok(load_image(path, None)?)
            })
            .collect::<Result<Vec<_>>>()
    }

    /// The architecture `load_vgg` will return, to check layer names
    /// against before any download: the named or cached file's, else VGG-19
    /// (which has every layer of VGG-16; the network actually loaded checks
    /// the layers again).
    pub fn expected_kind(&self) -> Result<VggKind> {
        match self.weights.weights.clone().or_else(crate::weights::default_weights) {
            Some(path) => Ok(Vgg::inspect(&path)?.kind),
            None => Ok(VggKind::Vgg19),
        }
    }
}

/// Style masks (Gatys et al. 2017), for `gatys` and `score`.
#[derive(Args, Debug)]
pub struct MaskArgs {
    /// A mask for each --style, in the same order, with the content's aspect ratio (within 2%): the style applies in proportion to the mask's grey level (white: fully; black or transparent: not at all; colours are averaged); where no mask reaches only the content term acts, so a run started from the photo keeps it there.
    #[arg(long, value_name = "IMAGE")]
    pub style_mask: Vec<PathBuf>,
}

impl MaskArgs {
    /// The masks, checked against `styles` style images and `content`
    /// (`[1, 3, H, W]`): none, or one per style image, each of the
    /// content's aspect ratio (within 2%) and at least half white
    /// somewhere (a darker mask is taken for a mistake).
    pub fn load(&self, styles: usize, content: &Tensor) -> Result<Vec<Tensor>> {
        if !self.style_mask.is_empty() && self.style_mask.len() != styles {
            let masks = self.style_mask.len();
            bail!(
                "--style-mask: {masks} mask{} for {styles} style image{}; give one per --style, in the same order",
                if masks == 1 { "" } else { "s" },
                if styles == 1 { "" } else { "s" }
            );
        }
        let (ch, cw) = (content.shape()[2] as f64, content.shape()[3] as f64);
        self.style_mask
            .iter()
            .map(|path| {
                let mask = load_mask(path).with_context(|| format!("--style-mask {}", path.display()))?;
                let (mh, mw) = (mask.shape()[2] as f64, mask.shape()[3] as f64);
                if ((mw / mh) / (cw / ch) - 1.0).abs() > 0.02 {
                    bail!(
                        "--style-mask {}: {mw}x{mh} does not have the shape of the content image ({cw}x{ch}); draw the mask over the content",
                        path.display()
                    );
                }
                let lightest = mask.max(&[0, 1, 2, 3], false).to_scalar();
                if lightest < 0.5 {
                    bail!(
                        "--style-mask {}: its lightest pixel is {:.0}% grey (colours averaged, transparency as black); the style applies in proportion to the grey, so paint white where it goes",
                        path.display(),
                        100.0 * lightest
                    );
                }
                Ok(mask)
            })
            .collect()
    }
}
