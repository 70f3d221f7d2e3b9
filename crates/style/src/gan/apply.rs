//! Using a trained generator: load the model file (its metadata holds the
//! architecture and, for models trained so, the painting's colour
//! statistics) and stylise images of any size.

use std::path::Path;

use autograd::Var;
use nn::io::TensorFile;
use nn::ParamStore;
use tensor::{DType, Device, Pad2d, PadMode, Tensor};

use super::nets::{Generator, GeneratorConfig};
use super::train::COLOUR_TARGET_KEY;
use crate::color::{match_colours_from, ColourStatistics};
use crate::error::{setting, Result};

/// A generator read from a model file.
pub struct StyleModel {
    generator: Generator,
    _store: ParamStore,
    device: Device,
    colour_target: Option<ColourStatistics>,
    /// The model's description.
    pub description: String,
}

impl StyleModel {
    /// Reads a model written by `Trainer::save_model`, to run on `device`.
    pub fn load(path: &Path, device: Device) -> Result<StyleModel> {
        let file = TensorFile::read(path)?;
        if file.metadata.get("fresco").map(String::as_str) != Some("gan-generator") {
            return Err(setting(
                "--model",
                format!("{}: not a fresco GAN model (no `fresco: gan-generator` metadata)", path.display()),
            ));
        }
        let config = GeneratorConfig::from_metadata(&file.metadata).ok_or_else(|| {
            setting(
                "--model",
                format!(
                    "{}: the generator's architecture is missing from the metadata or out of range",
                    path.display()
                ),
            )
        })?;
        let mut store = ParamStore::new(0, DType::F32);
        let generator = Generator::new(&mut store, "generator", config)?;
        store.load_from(&file)?;
        store.to_device(device)?;
        let colour_target = match file.metadata.get(COLOUR_TARGET_KEY) {
            None => None,
            Some(text) => Some(ColourStatistics::from_metadata(text).ok_or_else(|| {
                setting(
                    "--model",
                    format!("{}: the metadata `{COLOUR_TARGET_KEY}` is damaged: {text:?}", path.display()),
                )
            })?),
        };
        let description = file.metadata.get("description").cloned().unwrap_or_default();
        Ok(StyleModel { generator, _store: store, device, colour_target, description })
    }

    /// The generator.
    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    /// The painting's colour statistics the model recolours photos to
    /// before its generator runs (models trained with colour matching).
    pub fn colour_target(&self) -> Option<ColourStatistics> {
        self.colour_target
    }

    /// Stylises one image (`[1, 3, H, W]`, any size): recoloured to the
    /// painting's colours first where the model was trained so.
    pub fn apply(&self, image: &Tensor) -> Result<Tensor> {
        match &self.colour_target {
            Some(_) => self.apply_with_colours_of(image, &ColourStatistics::of(image)),
            None => apply_generator(&self.generator, image, self.device),
        }
    }

    /// [`Self::apply`] with the colour map that takes `source`'s colour
    /// statistics, not the image's own, to the painting's
    /// ([`crate::color::match_colours_from`]): for a frame of a clip, the
    /// clip's (all its frames' pixels, pooled), so the map does not change
    /// from frame to frame.
    pub fn apply_with_colours_of(&self, image: &Tensor, source: &ColourStatistics) -> Result<Tensor> {
        match &self.colour_target {
            Some(target) => apply_generator(&self.generator, &match_colours_from(image, source, target), self.device),
            None => apply_generator(&self.generator, image, self.device),
        }
    }
}

/// The least side the generator runs at: its 9×9 convolutions reflect 4
/// pixels and its downsamplings need a few pixels left at the bottom, so
/// smaller images are padded up to this and the result cropped back.
const MIN_SIDE: usize = 32;

/// `image` (`[1, 3, h, w]`) extended down and right to `height × width` by
/// mirrored tiling (`abcd|dcba|abcd…`): the padding has the image's own
/// colours and textures, so the generator's instance norm sees about the
/// image's statistics. Repeating the edges instead let the last row fill
/// most of a 6-px-high image's padded 32 rows, and its stylised colours
/// came out 75.9 grey levels (in one channel's mean) from those of the same
/// image mirrored down to 36 rows; 16.1 with this padding (and the colour
/// map made from the unpadded image).
fn mirror_tile(image: &Tensor, height: usize, width: usize) -> Tensor {
    let (h, w) = (image.shape()[2], image.shape()[3]);
    // The source of padded row (or column) `i` of a side of `n`.
    let fold = |i: usize, n: usize| {
        let m = i % (2 * n);
        if m < n {
            m
        } else {
            2 * n - 1 - m
        }
    };
    let values = image.to_dtype(DType::F32).contiguous().to_vec::<f32>();
    let mut out = Vec::with_capacity(3 * height * width);
    for c in 0..3 {
        for y in 0..height {
            let row = (c * h + fold(y, h)) * w;
            out.extend((0..width).map(|x| values[row + fold(x, w)]));
        }
    }
    Tensor::from_vec(out, &[1, 3, height, width])
}

/// Runs `generator` (whose parameters are on `device`) on an image of any
/// size: reflection-pads it to sides that are multiples of `2^d` (what its
/// `d` downsamplings need; an image with a side under 32 px is first
/// extended by mirrored tiling), then crops the result back. No graph is
/// recorded; the result is on the host.
pub fn apply_generator(generator: &Generator, image: &Tensor, device: Device) -> Result<Tensor> {
    let (h, w, m) = (image.shape()[2], image.shape()[3], generator.config().side_multiple());
    let padded = if h < MIN_SIDE || w < MIN_SIDE {
        mirror_tile(image, h.max(MIN_SIDE).next_multiple_of(m), w.max(MIN_SIDE).next_multiple_of(m))
    } else {
        let (ph, pw) = ((m - h % m) % m, (m - w % m) % m);
        image.to_dtype(DType::F32).try_pad2d(Pad2d { top: 0, bottom: ph, left: 0, right: pw }, PadMode::Reflect)?
    };
    let input = Var::constant(padded.try_to_device(device)?);
    let out = autograd::no_grad(|| generator.forward(&input))?;
    Ok(out.value().narrow(2, 0, h).narrow(3, 0, w).try_to_cpu()?.contiguous())
}
