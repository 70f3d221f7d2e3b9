//! Training the generator against the discriminator, with perceptual losses
//! from a frozen VGG, checkpoints that resume bit for bit, and the model file
//! that `apply` reads.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use autograd::Var;
use nn::io::{write_safetensors, TensorFile};
use nn::optim::{Adam, AdamConfig};
use nn::{ParamStore, Vgg};
use tensor::{DType, Device, Tensor};

use super::data::{batch, below, stream, Augment, ColourMatched, FakePool, Paired, PhotoSource};
use super::nets::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig};
use crate::color::{match_colours, ColourStatistics};
use crate::error::{setting, Result, StyleError};
use crate::image_io::{fit_dims, resize};
use crate::perceptual::{self, parse_layers, LayerPlan, Target};

/// The model file's metadata entry holding the painting's colour
/// statistics ([`ColourStatistics::to_metadata`]), for models trained with
/// [`GanConfig::match_colours`].
pub const COLOUR_TARGET_KEY: &str = "generator.colour_target";

/// The adversarial objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdversarialLoss {
    /// Least squares (LSGAN): real → 1, fake → 0.
    LeastSquares,
    /// Hinge: `max(0, 1 − D(real)) + max(0, 1 + D(fake))`.
    Hinge,
}

/// Everything that fixes a training run.
#[derive(Clone, Debug)]
pub struct GanConfig {
    /// Generator size.
    pub generator: GeneratorConfig,
    /// Discriminator size.
    pub discriminator: DiscriminatorConfig,
    /// Training steps (one generator and one discriminator update each).
    pub steps: usize,
    /// Crops per batch.
    pub batch_size: usize,
    /// Side of the square training crops (a multiple of
    /// [`GeneratorConfig::side_multiple`]).
    pub crop_size: usize,
    /// The longest side, in pixels, photos and the style image are resized
    /// to before crops are taken (shorter sides at least `crop_size`): the
    /// size the stylizer is meant to be applied at, so that its strokes
    /// come out at the painting's scale there.
    pub train_size: usize,
    /// `m` in `[1, 4]`: each crop is taken at a random scale in `[1/m, m]`.
    pub scale_jitter: f64,
    /// `c` in `[0, 0.5]`: each photo crop's brightness, contrast and
    /// saturation are multiplied by random factors in `[1 − c, 1 + c]`.
    pub colour_jitter: f64,
    /// Recolour every photo to the painting's colour mean and covariance
    /// ([`crate::color::match_colours`]) before the generator sees it, in
    /// training and in `apply` (the model file keeps the painting's
    /// statistics): the generator then spends its steps on strokes, not on
    /// colour, which instance norm hides from most of its layers.
    pub match_colours: bool,
    /// Weight of the content loss.
    pub content_weight: f64,
    /// Weight of the style loss.
    pub style_weight: f64,
    /// Weight of the total variation.
    pub tv_weight: f64,
    /// Weight of the adversarial term.
    pub adversarial_weight: f64,
    /// Weight of the temporal term, a synthetic camera pan: the first half
    /// of the batch (at least one crop) is cut again, [`TEMPORAL_SHIFT`] px
    /// smaller, at a random offset of 0 to that many pixels in each
    /// direction (most offsets are not multiples of the downsamplings'
    /// stride, where the network is not shift-equivariant), with Gaussian
    /// noise of σ [`TEMPORAL_NOISE`] added (a video's next frame never has
    /// the same pixels; our choice of stand-in for sensor and compression
    /// noise). The term is the mean squared difference, in squared 0–1
    /// pixels, between the copy's output and the same image pixels of the
    /// crop's own output, leaving out a [`TEMPORAL_MARGIN`]-px border of the
    /// copy, where one output sees padding and the other the image; the
    /// rest of a pan's edge effects (the copy's instance-norm statistics
    /// come from less of the image) stay in, as in a real pan. Both outputs
    /// get the gradient. The loss is Huang et al.'s output-space temporal
    /// loss ("Real-time neural style transfer for videos", 2017), which
    /// they computed on consecutive video frames with optical flow; here
    /// the motion is known. 0: none.
    pub temporal_weight: f64,
    /// Weight of the teacher term: the mean absolute difference, in 0–1
    /// pixels, between the generator's output and a teacher's stylisation
    /// of the same crop (a `fresco gatys` result of each training photo,
    /// given by [`Trainer::with_teachers`]), so that the generator learns
    /// where an optimiser puts the strokes, not only their statistics.
    /// 0: none.
    pub teacher_weight: f64,
    /// Content layers, `name[:weight],…`.
    pub content_layers: String,
    /// Style layers, `name[:weight],…`.
    pub style_layers: String,
    /// LSGAN or hinge.
    pub loss: AdversarialLoss,
    /// Adam learning rate of both networks.
    pub lr: f64,
    /// Adam β₁ of both networks.
    pub beta1: f64,
    /// Step from which the learning rate falls linearly to 0 at `steps`.
    pub decay_from: Option<usize>,
    /// Past fakes kept for the discriminator.
    pub pool_size: usize,
    /// Seed of initialisation and sampling.
    pub seed: u64,
    /// Where the networks compute (not saved: a run may resume elsewhere).
    pub device: Device,
}

impl Default for GanConfig {
    /// Adam 2e-4 with β₁ = 0.5 (decaying to 0 over the last third),
    /// LSGAN, the layers `gatys` and `fresco score` use (content relu4_2;
    /// style relu1_1 … relu5_1) with the style weighted 40, 900 steps of
    /// four 128-px crops (their Gram matrices pooled) from images at
    /// 512 px: the recipe of the shipped stylizers (see the README).
    fn default() -> Self {
        GanConfig {
            generator: GeneratorConfig::default(),
            discriminator: DiscriminatorConfig::default(),
            steps: 900,
            batch_size: 4,
            crop_size: 128,
            train_size: 512,
            scale_jitter: 1.25,
            colour_jitter: 0.1,
            match_colours: true,
            content_weight: 1.0,
            style_weight: 40.0,
            tv_weight: 10.0,
            adversarial_weight: 0.1,
            temporal_weight: 0.0,
            teacher_weight: 0.0,
            content_layers: crate::gatys::DEFAULT_CONTENT_LAYERS.into(),
            style_layers: crate::gatys::DEFAULT_STYLE_LAYERS.into(),
            loss: AdversarialLoss::LeastSquares,
            lr: 2e-4,
            beta1: 0.5,
            decay_from: Some(600),
            pool_size: 50,
            seed: 0,
            device: Device::Cpu,
        }
    }
}

impl GanConfig {
    /// The settings as safetensors metadata.
    pub fn to_metadata(&self) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = self.generator.to_metadata().into_iter().collect();
        let mut put = |k: &str, v: String| {
            m.insert(format!("gan.{k}"), v);
        };
        put("discriminator.width", self.discriminator.width.to_string());
        put("discriminator.layers", self.discriminator.layers.to_string());
        put("steps", self.steps.to_string());
        put("batch_size", self.batch_size.to_string());
        put("crop_size", self.crop_size.to_string());
        put("train_size", self.train_size.to_string());
        put("scale_jitter", format!("{:e}", self.scale_jitter));
        put("colour_jitter", format!("{:e}", self.colour_jitter));
        put("match_colours", self.match_colours.to_string());
        put("content_weight", format!("{:e}", self.content_weight));
        put("style_weight", format!("{:e}", self.style_weight));
        put("tv_weight", format!("{:e}", self.tv_weight));
        put("adversarial_weight", format!("{:e}", self.adversarial_weight));
        put("temporal_weight", format!("{:e}", self.temporal_weight));
        put("teacher_weight", format!("{:e}", self.teacher_weight));
        put("content_layers", self.content_layers.clone());
        put("style_layers", self.style_layers.clone());
        put("loss", if self.loss == AdversarialLoss::Hinge { "hinge" } else { "lsgan" }.into());
        put("lr", format!("{:e}", self.lr));
        put("beta1", format!("{:e}", self.beta1));
        put("decay_from", self.decay_from.map_or("none".into(), |d| d.to_string()));
        put("pool_size", self.pool_size.to_string());
        put("seed", self.seed.to_string());
        m
    }

    /// The settings of the checkpoint at `path` (see [`Trainer::save_checkpoint`]).
    pub fn from_checkpoint(path: &Path) -> Result<GanConfig> {
        let file = TensorFile::read(path)?;
        if file.metadata.get("fresco").map(String::as_str) != Some("gan-checkpoint") {
            return Err(setting("--resume", format!("{}: not a fresco GAN checkpoint", path.display())));
        }
        GanConfig::from_metadata(&file.metadata, path)
    }

    /// Reads what [`GanConfig::to_metadata`] wrote.
    pub fn from_metadata(m: &HashMap<String, String>, path: &Path) -> Result<GanConfig> {
        let missing = |k: &str| {
            setting(
                "checkpoint",
                format!(
                    "{}: metadata `gan.{k}` is missing or unreadable (a checkpoint of an older fresco cannot be resumed; start afresh)",
                    path.display()
                ),
            )
        };
        let get = |k: &str| m.get(&format!("gan.{k}")).ok_or_else(|| missing(k));
        let num = |k: &str| get(k)?.parse::<f64>().map_err(|_| missing(k));
        let int = |k: &str| get(k)?.parse::<usize>().map_err(|_| missing(k));
        let config = GanConfig {
            generator: GeneratorConfig::from_metadata(m).ok_or_else(|| missing("generator"))?,
            discriminator: DiscriminatorConfig {
                width: int("discriminator.width")?,
                layers: int("discriminator.layers")?,
            },
            steps: int("steps")?,
            batch_size: int("batch_size")?,
            crop_size: int("crop_size")?,
            train_size: int("train_size")?,
            scale_jitter: num("scale_jitter")?,
            colour_jitter: num("colour_jitter")?,
            // Checkpoints from before colour matching had none.
            match_colours: match m.get("gan.match_colours").map(String::as_str) {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(setting(
                        "checkpoint",
                        format!("{}: metadata `gan.match_colours` is {other:?}, not true or false", path.display()),
                    ))
                }
            },
            content_weight: num("content_weight")?,
            style_weight: num("style_weight")?,
            tv_weight: num("tv_weight")?,
            adversarial_weight: num("adversarial_weight")?,
            // Checkpoints from before the temporal term had none.
            temporal_weight: if m.contains_key("gan.temporal_weight") { num("temporal_weight")? } else { 0.0 },
            teacher_weight: if m.contains_key("gan.teacher_weight") { num("teacher_weight")? } else { 0.0 },
            content_layers: get("content_layers")?.clone(),
            style_layers: get("style_layers")?.clone(),
            loss: if get("loss")? == "hinge" { AdversarialLoss::Hinge } else { AdversarialLoss::LeastSquares },
            lr: num("lr")?,
            beta1: num("beta1")?,
            decay_from: get("decay_from")?.parse().ok(),
            pool_size: int("pool_size")?,
            seed: get("seed")?.parse().map_err(|_| missing("seed"))?,
            device: Device::Cpu,
        };
        // A damaged file must not make the reader allocate networks or
        // batches of whatever size it names.
        config.check().map_err(|e| setting("checkpoint", format!("{}: {e}", path.display())))?;
        Ok(config)
    }

    /// The size a `height × width` image is resized to for training:
    /// longest side `train_size`, shorter side at least `crop_size`.
    pub fn training_dims(&self, height: usize, width: usize) -> (usize, usize) {
        fit_dims(height, width, self.train_size, self.crop_size)
    }

    /// How photo crops are varied.
    fn photo_augment(&self) -> Augment {
        Augment { scale: self.scale_jitter, colour: self.colour_jitter }
    }

    /// How style crops are varied: scale only (their colours are the target).
    fn style_augment(&self) -> Augment {
        Augment { scale: self.scale_jitter, ..Augment::NONE }
    }

    /// Checks the sizes against bounds far beyond any real run (Johnson et
    /// al.: width 32, 5 blocks, 256-px crops, batch 4): generator width
    /// 1–128 with at most 16 residual blocks, discriminator width 1–256
    /// with 1–6 layers, batch 1–256, crops a multiple of `2^downsamplings`
    /// (1–4 of them) in 16–4096, a
    /// training size in 16–16,384 and not below the crops, a pool of at
    /// most 10,000 fakes, at least one step; scale jitter in 1–4, colour
    /// jitter in 0–0.5; crops of at least [`SMALLEST_TEMPORAL_CROP`] px
    /// with a temporal term; and the weights, learning rate and β₁ in range.
    /// The error names the command-line option.
    pub fn check(&self) -> Result<()> {
        let limits = [
            ("--width", self.generator.width, 1..=GeneratorConfig::MAX_WIDTH),
            ("--res-blocks", self.generator.res_blocks, 0..=GeneratorConfig::MAX_RES_BLOCKS),
            ("--disc-width", self.discriminator.width, 1..=256),
            ("--disc-layers", self.discriminator.layers, 1..=6),
            ("--batch-size", self.batch_size, 1..=256),
            ("--crop-size", self.crop_size, 16..=4096),
            ("--train-size", self.train_size, 16..=16_384),
            ("--pool-size", self.pool_size, 0..=10_000),
        ];
        if self.steps == 0 {
            return Err(setting("--steps", "must be at least 1"));
        }
        for (option, value, range) in limits {
            if !range.contains(&value) {
                return Err(setting(option, format!("{value} is outside {}-{}", range.start(), range.end())));
            }
        }
        self.generator.check_depth()?;
        let multiple = self.generator.side_multiple();
        if self.crop_size % multiple != 0 {
            return Err(setting(
                "--crop-size",
                format!("{} is not a multiple of {multiple} (2^downsamplings)", self.crop_size),
            ));
        }
        if self.train_size < self.crop_size {
            return Err(setting(
                "--train-size",
                format!("{} is smaller than the {} px crops (--crop-size)", self.train_size, self.crop_size),
            ));
        }
        if !(self.scale_jitter.is_finite() && (1.0..=4.0).contains(&self.scale_jitter)) {
            return Err(setting("--scale-jitter", format!("must be in [1, 4], got {}", self.scale_jitter)));
        }
        if !(0.0..=0.5).contains(&self.colour_jitter) {
            return Err(setting("--colour-jitter", format!("must be in [0, 0.5], got {}", self.colour_jitter)));
        }
        let weights = [
            ("--content-weight", self.content_weight),
            ("--style-weight", self.style_weight),
            ("--tv-weight", self.tv_weight),
            ("--adversarial-weight", self.adversarial_weight),
            ("--temporal-weight", self.temporal_weight),
            ("--teacher-weight", self.teacher_weight),
        ];
        for (option, value) in weights {
            if !(value.is_finite() && value >= 0.0) {
                return Err(setting(option, format!("must be a finite non-negative number, got {value}")));
            }
        }
        if self.temporal_weight > 0.0 && self.crop_size < SMALLEST_TEMPORAL_CROP {
            return Err(setting(
                "--crop-size",
                format!(
                    "{} px is too small for --temporal-weight: at least {SMALLEST_TEMPORAL_CROP} (or --temporal-weight 0)",
                    self.crop_size
                ),
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(setting("--lr", format!("must be a positive number, got {}", self.lr)));
        }
        if !(0.0..1.0).contains(&self.beta1) {
            return Err(setting("--beta1", format!("must be in [0, 1), got {}", self.beta1)));
        }
        Ok(())
    }
}

/// Largest offset, in pixels, between a crop and its shifted copy in the
/// temporal term; the copy is this much smaller than the crop (a multiple
/// of 16, so any generator's stride divides it).
pub const TEMPORAL_SHIFT: usize = 16;
/// Border, in pixels, the temporal term leaves out (where the two outputs'
/// padding differs).
pub const TEMPORAL_MARGIN: usize = 8;
/// σ of the Gaussian noise, in 0–1 pixels, added to the shifted copy.
pub const TEMPORAL_NOISE: f64 = 0.01;
/// The smallest crop a temporal term takes: the shift, both margins, and
/// 16 px compared.
pub const SMALLEST_TEMPORAL_CROP: usize = TEMPORAL_SHIFT + 2 * TEMPORAL_MARGIN + 16;
// The copy is TEMPORAL_SHIFT px smaller than the crop, so it must stay a
// multiple of the deepest generator's stride.
const _: () = assert!(TEMPORAL_SHIFT % (1 << GeneratorConfig::MAX_DOWNSAMPLINGS) == 0);

/// The losses of one training step (weights applied).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepLosses {
    /// Generator's content term.
    pub content: f64,
    /// Generator's style term.
    pub style: f64,
    /// Generator's total variation.
    pub tv: f64,
    /// Generator's adversarial term.
    pub adversarial: f64,
    /// Generator's temporal term (0 without one).
    pub temporal: f64,
    /// Generator's teacher term (0 without one).
    pub teacher: f64,
    /// The generator's whole loss.
    pub generator: f64,
    /// The discriminator's loss.
    pub discriminator: f64,
}

/// A checksum of a tensor's values, to tell a resumed run it has the same
/// style image.
fn digest(t: &Tensor) -> String {
    let h = t
        .to_dtype(DType::F32)
        .to_vec::<f32>()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, v| (h ^ v.to_bits() as u64).wrapping_mul(0x0100_0000_01b3));
    format!("{h:016x}")
}

/// A training run in progress.
pub struct Trainer {
    config: GanConfig,
    vgg: Vgg,
    generator_store: ParamStore,
    generator: Generator,
    discriminator_store: ParamStore,
    discriminator: Discriminator,
    adam_g: Adam,
    adam_d: Adam,
    contents: Box<dyn PhotoSource>,
    style: Tensor,
    colour_target: Option<ColourStatistics>,
    plan: LayerPlan,
    style_targets: Vec<Target>,
    pool: FakePool,
    step: usize,
}

impl Trainer {
    /// A fresh run on `contents` (photos) toward `style` (the painting),
    /// with `vgg` frozen. Every image is resized to
    /// [`GanConfig::training_dims`] (callers that load many photos save
    /// memory by resizing each as they read it).
    pub fn new(config: GanConfig, vgg: Vgg, style: Tensor, contents: Vec<Tensor>) -> Result<Trainer> {
        let fit = |image: Tensor| {
            let (h, w) = config.training_dims(image.shape()[2], image.shape()[3]);
            resize(&image, h, w)
        };
        let contents: Vec<Tensor> = contents.into_iter().map(fit).collect();
        // with_source resizes the style itself.
        Trainer::with_source(config, vgg, style, Box::new(contents))
    }

    /// A fresh run on photos from `source` (each already at
    /// [`GanConfig::training_dims`]) toward `style`, which is resized here.
    pub fn with_source(
        config: GanConfig,
        vgg: Vgg,
        style: Tensor,
        mut contents: Box<dyn PhotoSource>,
    ) -> Result<Trainer> {
        config.check()?;
        if contents.count() == 0 {
            return Err(setting("content images", "none to train on"));
        }
        let (h, w) = config.training_dims(style.shape()[2], style.shape()[3]);
        let style = resize(&style, h, w);
        let colour_target = config.match_colours.then(|| ColourStatistics::of(&style));
        let contents: Box<dyn PhotoSource> = match colour_target {
            None => contents,
            Some(target) => match contents.take_held() {
                // Photos in memory are recoloured once, each original
                // dropped as its recoloured copy is made.
                Some(photos) => {
                    Box::new(photos.into_iter().map(|photo| match_colours(&photo, &target)).collect::<Vec<_>>())
                }
                None => Box::new(ColourMatched { photos: contents, target }),
            },
        };
        let plan = LayerPlan::new(
            &vgg,
            &parse_layers("content layers", &config.content_layers)?,
            &parse_layers("style layers", &config.style_layers)?,
        )?;
        let vgg = vgg.to_device(config.device)?;
        let style_targets =
            perceptual::style_targets(&vgg, &plan, std::slice::from_ref(&style), &[1.0], config.device)?;
        let mut generator_store = ParamStore::new(config.seed, DType::F32);
        let generator = Generator::new(&mut generator_store, "generator", config.generator)?;
        let mut discriminator_store = ParamStore::new(config.seed ^ 0xD15C, DType::F32);
        let discriminator = Discriminator::new(&mut discriminator_store, "discriminator", config.discriminator)?;
        generator_store.to_device(config.device)?;
        discriminator_store.to_device(config.device)?;
        let adam = AdamConfig { lr: config.lr, beta1: config.beta1, ..AdamConfig::default() };
        let pool = FakePool { capacity: config.pool_size, images: Vec::new() };
        Ok(Trainer {
            vgg,
            generator_store,
            generator,
            discriminator_store,
            discriminator,
            adam_g: Adam::new(adam),
            adam_d: Adam::new(adam),
            contents,
            style,
            colour_target,
            plan,
            style_targets,
            pool,
            step: 0,
            config,
        })
    }

    /// The same run with each photo paired with a teacher's stylisation of
    /// it (`teachers.photo(i)` for `photo(i)`, resized to its size), for
    /// [`GanConfig::teacher_weight`].
    ///
    /// # Errors
    /// When the two sources hold different numbers of images.
    pub fn with_teachers(mut self, teachers: Box<dyn PhotoSource>) -> Result<Trainer> {
        let count = self.contents.count();
        if teachers.count() != count {
            return Err(setting("teachers", format!("{} pictures for {count} photos", teachers.count())));
        }
        let mut photos = std::mem::replace(&mut self.contents, Box::new(Vec::<Tensor>::new()));
        self.contents = match photos.take_held() {
            // Photos in memory are paired once, not at every draw.
            Some(held) => {
                let paired = Paired { photos: Box::new(held), teachers };
                Box::new((0..count).map(|i| paired.photo(i)).collect::<Result<Vec<_>>>()?)
            }
            None => Box::new(Paired { photos, teachers }),
        };
        Ok(self)
    }

    /// The settings.
    pub fn config(&self) -> &GanConfig {
        &self.config
    }

    /// Steps done.
    pub fn step_count(&self) -> usize {
        self.step
    }

    /// The painting's colour statistics, to which photos are recoloured
    /// before the generator sees them (`None` without
    /// [`GanConfig::match_colours`]).
    pub fn colour_target(&self) -> Option<ColourStatistics> {
        self.colour_target
    }

    /// The generator being trained.
    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    /// The generator's parameters.
    pub fn generator_store(&self) -> &ParamStore {
        &self.generator_store
    }

    /// The discriminator's parameters.
    pub fn discriminator_store(&self) -> &ParamStore {
        &self.discriminator_store
    }

    /// The learning rate at the current step (linear decay if configured).
    fn learning_rate(&self) -> f64 {
        let c = &self.config;
        match c.decay_from {
            Some(from) if self.step >= from && c.steps > from => {
                c.lr * (1.0 - (self.step - from) as f64 / (c.steps - from) as f64)
            }
            _ => c.lr,
        }
    }

    /// The generator's weighted losses for `outputs` of `inputs`, without
    /// the adversarial term.
    fn perceptual(&self, inputs: &Tensor, outputs: &Var) -> Result<(Var, Var, Var)> {
        let c = &self.config;
        let names = self.plan.names();
        let out_features = self.vgg.forward_features(outputs, &names)?;
        // The content target is each crop's own features.
        let targets = perceptual::content_targets_of(&self.vgg, &self.plan, inputs)?;
        let content = perceptual::content_loss(&out_features, &targets, c.device)?;
        // The batch's crops together, not each one, meet the painting's Grams.
        let style = perceptual::pooled_style_loss(&out_features, &self.style_targets, c.device)?;
        let tv = outputs.try_total_variation()?;
        Ok((content.mul_scalar(c.content_weight), style.mul_scalar(c.style_weight), tv.mul_scalar(c.tv_weight)))
    }

    /// The temporal term of `outputs` of `inputs` (see
    /// [`GanConfig::temporal_weight`]), unweighted.
    fn temporal_term(&self, inputs: &Tensor, outputs: &Var) -> Result<Var> {
        let c = &self.config;
        let (n, size) = ((inputs.shape()[0] / 2).max(1), inputs.shape()[2]);
        let inner = size - TEMPORAL_SHIFT;
        let dy = below(TEMPORAL_SHIFT + 1, c.seed, self.step, stream::TEMPORAL, 0);
        let dx = below(TEMPORAL_SHIFT + 1, c.seed, self.step, stream::TEMPORAL, 1);
        let noise_seed = c.seed ^ (self.step as u64).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ stream::TEMPORAL;
        let moved = inputs.narrow(0, 0, n).narrow(2, dy, inner).narrow(3, dx, inner).contiguous();
        let noise = Tensor::randn(moved.shape(), 0.0, TEMPORAL_NOISE, noise_seed, moved.dtype())
            .try_to_device(moved.device())?;
        let moved = moved.try_add(&noise)?.clamp(0.0, 1.0);
        let moved_output = self.generator.forward(&Var::constant(moved))?;
        let (m, kept) = (TEMPORAL_MARGIN, inner - 2 * TEMPORAL_MARGIN);
        let own = outputs.try_narrow(0, 0, n)?.try_narrow(2, dy + m, kept)?.try_narrow(3, dx + m, kept)?;
        let other = moved_output.try_narrow(2, m, kept)?.try_narrow(3, m, kept)?;
        let difference = own.try_sub(&other)?;
        Ok(difference.try_mul(&difference)?.mean_all())
    }

    /// One generator update and one discriminator update.
    pub fn step(&mut self) -> Result<StepLosses> {
        let c = self.config.clone();
        let lr = self.learning_rate();
        self.adam_g.config.lr = lr;
        self.adam_d.config.lr = lr;
        let drawn =
            batch(&*self.contents, c.batch_size, c.crop_size, c.photo_augment(), c.seed, self.step, stream::CONTENT)?
                .try_to_device(c.device)?;
        // Photos paired with teachers' pictures come with six channels.
        let (inputs, teacher) = if drawn.shape()[1] == 6 {
            (drawn.narrow(1, 0, 3).contiguous(), Some(drawn.narrow(1, 3, 3).contiguous()))
        } else {
            (drawn, None)
        };
        if c.teacher_weight > 0.0 && teacher.is_none() {
            return Err(setting("--teacher-weight", "needs teachers' pictures (--teacher-dir)"));
        }

        // Generator: perceptual losses plus fooling the discriminator.
        let outputs = self.generator.forward(&Var::constant(inputs.clone()))?;
        let (content, style, tv) = self.perceptual(&inputs, &outputs)?;
        let scores = self.discriminator.forward(&outputs)?;
        let adversarial = match c.loss {
            AdversarialLoss::LeastSquares => scores.add_scalar(-1.0).square().mean_all(),
            AdversarialLoss::Hinge => scores.mean_all().neg(),
        }
        .mul_scalar(c.adversarial_weight);
        let mut total = &(&(&content + &style) + &tv) + &adversarial;
        let teacher_term = match &teacher {
            Some(picture) if c.teacher_weight > 0.0 => {
                let term =
                    outputs.try_sub(&Var::constant(picture.clone()))?.abs().mean_all().mul_scalar(c.teacher_weight);
                total = &total + &term;
                term.to_scalar()
            }
            _ => 0.0,
        };
        let temporal = if c.temporal_weight > 0.0 {
            let term = self.temporal_term(&inputs, &outputs)?.mul_scalar(c.temporal_weight);
            total = &total + &term;
            term.to_scalar()
        } else {
            0.0
        };
        if !total.to_scalar().is_finite() {
            return Err(StyleError::TrainingDiverged { value: total.to_scalar(), step: self.step + 1 });
        }
        let grads = total.backward();
        self.adam_g.step(&self.generator_store.trainable(), &grads);

        // Discriminator: style crops are real, (pooled) generator outputs fake.
        let styles = vec![self.style.clone()];
        let real = batch(&styles, c.batch_size, c.crop_size, c.style_augment(), c.seed, self.step, stream::STYLE)?;
        let fake = self.pool.exchange(outputs.value(), c.seed, self.step);
        let real_scores = self.discriminator.forward(&Var::constant(real))?;
        let fake_scores = self.discriminator.forward(&Var::constant(fake))?;
        let d_loss = match c.loss {
            AdversarialLoss::LeastSquares => {
                (real_scores.add_scalar(-1.0).square().mean_all() + fake_scores.square().mean_all()).mul_scalar(0.5)
            }
            AdversarialLoss::Hinge => {
                real_scores.neg().add_scalar(1.0).relu().mean_all() + fake_scores.add_scalar(1.0).relu().mean_all()
            }
        };
        let d_grads = d_loss.backward();
        self.adam_d.step(&self.discriminator_store.trainable(), &d_grads);
        self.step += 1;
        Ok(StepLosses {
            content: content.to_scalar(),
            style: style.to_scalar(),
            tv: tv.to_scalar(),
            adversarial: adversarial.to_scalar(),
            temporal,
            teacher: teacher_term,
            generator: total.to_scalar(),
            discriminator: d_loss.to_scalar(),
        })
    }

    /// The generator's style loss (weighted) on a fixed batch, for
    /// monitoring and tests.
    pub fn style_loss_on(&self, inputs: &Tensor) -> Result<f64> {
        let inputs = inputs.try_to_device(self.config.device)?;
        let outputs = self.generator.forward(&Var::constant(inputs.clone()))?;
        Ok(self.perceptual(&inputs, &outputs)?.1.to_scalar())
    }

    /// The generator's temporal term (unweighted, see
    /// [`GanConfig::temporal_weight`]) on a fixed batch `[N, 3, S, S]`,
    /// with the shift and noise of the current step, for monitoring and
    /// tests.
    ///
    /// # Errors
    /// When the batch is not square crops of at least
    /// [`SMALLEST_TEMPORAL_CROP`] px, a multiple of the generator's
    /// [`GeneratorConfig::side_multiple`].
    pub fn temporal_loss_on(&self, inputs: &Tensor) -> Result<f64> {
        let inputs = inputs.try_to_device(self.config.device)?;
        let shape = inputs.shape();
        let multiple = self.generator.config().side_multiple();
        if shape.len() != 4 || shape[2] != shape[3] || shape[2] < SMALLEST_TEMPORAL_CROP || shape[2] % multiple != 0 {
            return Err(setting(
                "temporal term",
                format!("crops {shape:?}: need [N, 3, S, S] with S at least {SMALLEST_TEMPORAL_CROP}, a multiple of {multiple}"),
            ));
        }
        let outputs = self.generator.forward(&Var::constant(inputs.clone()))?;
        Ok(self.temporal_term(&inputs, &outputs)?.to_scalar())
    }

    /// Saves everything a resumed run needs, atomically: both networks,
    /// both optimisers, the pool of fakes, the step and the settings.
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        let mut tensors: BTreeMap<String, Tensor> = self.generator_store.values();
        tensors.extend(self.discriminator_store.values());
        tensors.extend(self.adam_g.state("adam_g"));
        tensors.extend(self.adam_d.state("adam_d"));
        for (i, fake) in self.pool.images.iter().enumerate() {
            tensors.insert(format!("pool.{i:04}"), fake.clone());
        }
        let mut metadata = self.config.to_metadata();
        metadata.insert("fresco".into(), "gan-checkpoint".into());
        metadata.insert("step".into(), self.step.to_string());
        metadata.insert("style_digest".into(), digest(&self.style));
        Ok(write_safetensors(path, &tensors, &metadata)?)
    }

    /// Continues the run saved at `path`, with the same style image and
    /// photos it was started with, computing on `device`.
    pub fn resume(path: &Path, vgg: Vgg, style: Tensor, contents: Vec<Tensor>, device: Device) -> Result<Trainer> {
        Trainer::resume_into(path, style, device, |config, style| Trainer::new(config, vgg, style, contents))
    }

    /// [`Trainer::resume`] with photos from `source` (see
    /// [`Trainer::with_source`]).
    pub fn resume_with_source(
        path: &Path,
        vgg: Vgg,
        style: Tensor,
        source: Box<dyn PhotoSource>,
        device: Device,
    ) -> Result<Trainer> {
        Trainer::resume_into(path, style, device, |config, style| Trainer::with_source(config, vgg, style, source))
    }

    /// Reads the checkpoint, checks the style image against it, builds the
    /// trainer with `build` and loads the saved state into it.
    fn resume_into(
        path: &Path,
        style: Tensor,
        device: Device,
        build: impl FnOnce(GanConfig, Tensor) -> Result<Trainer>,
    ) -> Result<Trainer> {
        let file = TensorFile::read(path)?;
        if file.metadata.get("fresco").map(String::as_str) != Some("gan-checkpoint") {
            return Err(setting("--resume", format!("{}: not a fresco GAN checkpoint", path.display())));
        }
        let config = GanConfig { device, ..GanConfig::from_metadata(&file.metadata, path)? };
        let (h, w) = config.training_dims(style.shape()[2], style.shape()[3]);
        let style = resize(&style, h, w);
        if file.metadata.get("style_digest") != Some(&digest(&style)) {
            return Err(setting("--resume", format!("{}: was trained with another style image", path.display())));
        }
        let mut trainer = build(config, style)?;
        trainer.generator_store.load_from(&file)?;
        trainer.discriminator_store.load_from(&file)?;
        let on_device: BTreeMap<String, Tensor> = file
            .tensors
            .iter()
            .filter(|(k, _)| k.starts_with("adam_"))
            .map(|(k, t)| Ok((k.clone(), if k.ends_with(".step") { t.clone() } else { t.try_to_device(device)? })))
            .collect::<tensor::Result<_>>()?;
        trainer.adam_g.load_state("adam_g", &on_device, path)?;
        trainer.adam_d.load_state("adam_d", &on_device, path)?;
        trainer.pool.images =
            file.tensors.iter().filter(|(k, _)| k.starts_with("pool.")).map(|(_, t)| t.to_dtype(DType::F32)).collect();
        trainer.step = file
            .metadata
            .get("step")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| setting("--resume", format!("{}: the step count is missing", path.display())))?;
        Ok(trainer)
    }

    /// Writes the generator alone, with its architecture, for `apply`.
    pub fn save_model(&self, path: &Path, description: &str) -> Result<()> {
        let mut metadata: HashMap<String, String> = self.config.generator.to_metadata().into_iter().collect();
        metadata.insert("fresco".into(), "gan-generator".into());
        metadata.insert("trained_steps".into(), self.step.to_string());
        metadata.insert("description".into(), description.into());
        if let Some(target) = &self.colour_target {
            metadata.insert(COLOUR_TARGET_KEY.into(), target.to_metadata());
        }
        Ok(write_safetensors(path, &self.generator_store.values(), &metadata)?)
    }
}
