//! `fresco gan train` and `fresco gan apply`: train a feed-forward stylizer
//! against a PatchGAN discriminator, then stylise images or folders with it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use style::gan::{AdversarialLoss, DiscriminatorConfig, GanConfig, GeneratorConfig, StyleModel, Trainer};
use style::gatys::{DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS};
use style::image_io::{load_image, resize, save_image, scaled_dims};
use tensor::Device;

use super::{paths, training_photos};
use crate::memory_budget::MemoryModel;
use crate::weights::{load_vgg, WeightsArgs};

/// The adversarial loss on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LossArg {
    /// Least squares (LSGAN).
    Lsgan,
    /// Hinge.
    Hinge,
}

/// `fresco gan` subcommands.
#[derive(Subcommand, Debug)]
pub enum GanCommand {
    /// Train a stylizer for one style on a folder of photos.
    Train(Box<TrainArgs>),
    /// Stylise an image or a folder of images with a trained model.
    Apply(ApplyArgs),
}

/// Arguments of `fresco gan train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The style image (a painting).
    #[arg(long)]
    pub style: PathBuf,
    /// Folder of content photos to train on (every image in it).
    #[arg(long)]
    pub content_dir: PathBuf,
    /// Where to write the trained model (.safetensors).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Training steps (one generator and one discriminator update each).
    #[arg(long, default_value_t = 900)]
    pub steps: usize,
    /// Crops per batch (their Gram matrices are pooled: together they meet the painting's).
    #[arg(long, default_value_t = 4)]
    pub batch_size: usize,
    /// Side of the square training crops (a multiple of 2^downsamplings: 4 by default).
    #[arg(long, default_value_t = 128)]
    pub crop_size: usize,
    /// Longest side photos and the style image are resized to before crops
    /// are taken: the size the stylizer will be applied at.
    #[arg(long, default_value_t = 512)]
    pub train_size: usize,
    /// Crops are taken at random scales between 1/M and M (1: no zoom).
    #[arg(long, default_value_t = 1.25, value_name = "M")]
    pub scale_jitter: f64,
    /// Photo crops get random brightness, contrast and saturation within 1 +- C (0: none).
    #[arg(long, default_value_t = 0.1, value_name = "C")]
    pub colour_jitter: f64,
    /// Do not recolour photos to the painting's colour mean and covariance
    /// before the generator (in training and in `apply`); the generator
    /// must then learn the colours itself.
    #[arg(long)]
    pub no_colour_match: bool,
    /// Weight of the content loss.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub content_weight: f64,
    /// Weight of the style loss.
    #[arg(long, default_value_t = 40.0, allow_negative_numbers = true)]
    pub style_weight: f64,
    /// Weight of the total-variation loss.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub tv_weight: f64,
    /// Weight of the adversarial loss.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub adversarial_weight: f64,
    /// Weight of the temporal term: a copy of half the batch's crops (at least one), cut 16 px smaller at an
    /// offset of 0-16 px and with noise added, must be stylised as the same pixels of the crop were (for
    /// `fresco video --method gan`; the README's Video section measures it; needs --crop-size 48 or more; 0: none).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub temporal_weight: f64,
    /// Weight of the teacher term: the mean absolute difference between the output and a teacher's picture of
    /// the same crop, each training photo's `fresco gatys` result in --teacher-dir (0: none).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub teacher_weight: f64,
    /// Folder of the teachers' pictures: for each training photo NAME.ext, an image NAME.* (e.g. made by
    /// `fresco gatys --content photos/NAME.jpg --output teachers/NAME.png`).
    #[arg(long)]
    pub teacher_dir: Option<PathBuf>,
    /// Content layers, `name[:weight],...` (as `gatys` and `score`).
    #[arg(long, default_value = DEFAULT_CONTENT_LAYERS)]
    pub content_layers: String,
    /// Style layers, `name[:weight],...` (as `gatys` and `score`).
    #[arg(long, default_value = DEFAULT_STYLE_LAYERS)]
    pub style_layers: String,
    /// Adversarial loss.
    #[arg(long, value_enum, default_value = "lsgan")]
    pub loss: LossArg,
    /// Adam learning rate (both networks).
    #[arg(long, default_value_t = 2e-4, allow_negative_numbers = true)]
    pub lr: f64,
    /// Adam beta1 (both networks).
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    pub beta1: f64,
    /// Decay the learning rate linearly to zero from this step on [default: two thirds of --steps].
    #[arg(long)]
    pub decay_from: Option<usize>,
    /// Generator width (channels of its first layer; Johnson et al. used 32).
    #[arg(long, default_value_t = 16)]
    pub width: usize,
    /// Generator residual blocks.
    #[arg(long, default_value_t = 5)]
    pub res_blocks: usize,
    /// Generator downsamplings before its residual blocks, 1-4 (Johnson et al. used 2); each one more doubles the blocks' receptive field and channels (width x 2^downsamplings at most 512), and --crop-size must be a multiple of 2^downsamplings.
    #[arg(long, default_value_t = 2)]
    pub downsamplings: usize,
    /// Let the generator draw the image from scratch, not change the photo
    /// (the original design; slower to learn).
    #[arg(long)]
    pub no_residual: bool,
    /// Discriminator width.
    #[arg(long, default_value_t = 32)]
    pub disc_width: usize,
    /// Discriminator stride-2 layers.
    #[arg(long, default_value_t = 3)]
    pub disc_layers: usize,
    /// Past fakes kept for the discriminator.
    #[arg(long, default_value_t = 50)]
    pub pool_size: usize,
    /// Seed of initialisation and sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the VGG of the perceptual losses comes from.
    #[command(flatten)]
    pub weights: WeightsArgs,
    /// Save a sample image every N steps (into --samples).
    #[arg(long, default_value_t = 0)]
    pub sample_every: usize,
    /// Folder for sample images [default: beside the output, NAME-samples].
    #[arg(long)]
    pub samples: Option<PathBuf>,
    /// The photo the samples stylise, best one not trained on [default: the first training photo].
    #[arg(long)]
    pub sample_image: Option<PathBuf>,
    /// Also write a model card (Markdown): the command, photos, steps, time and final losses.
    #[arg(long)]
    pub card: Option<PathBuf>,
    /// Checkpoint file [default: NAME.checkpoint.safetensors beside the output].
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Write a checkpoint every N steps (0: only on Ctrl-C).
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: usize,
    /// Continue an interrupted run from its checkpoint, with its settings (one given here
    /// other than its default and the checkpoint's is refused).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Log, plot, progress bar and device.
    #[command(flatten)]
    pub run: super::RunArgs,
}

/// Arguments of `fresco gan apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The trained model.
    #[arg(long)]
    pub model: PathBuf,
    /// An image, or a folder of images.
    #[arg(long)]
    pub content: PathBuf,
    /// The output image, or a folder (created if needed) for a folder input.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Resize inputs so their longest side is this many pixels first.
    #[arg(long)]
    pub size: Option<usize>,
    /// Where to compute: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
}

/// Extensions of the images taken from a folder: every format this build
/// both reads and writes (so `apply` can keep each file's name and type).
const IMAGE_EXTENSIONS: [&str; 9] = ["png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp", "ppm"];

/// The image files of a folder, sorted by name.
fn images_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("{}: cannot read the folder", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_string_lossy().to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{}: no images in this folder", dir.display());
    }
    Ok(files)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    path.with_file_name(format!("{stem}{suffix}"))
}

/// The teachers' pictures in `dir` for the photos `names` (`NAME.*` for
/// `NAME.ext`), at the training size.
fn teacher_pictures(dir: &Path, names: &[String], config: &GanConfig) -> Result<Vec<tensor::Tensor>> {
    if names.len() > training_photos::MAX_IN_MEMORY {
        bail!(
            "--teacher-dir: {} photos; teachers' pictures are held in memory, for at most {}",
            names.len(),
            training_photos::MAX_IN_MEMORY
        );
    }
    let files = images_in(dir)?;
    names
        .iter()
        .map(|name| {
            let stem = Path::new(name).file_stem().unwrap_or_default();
            let path = files
                .iter()
                .find(|f| f.file_stem() == Some(stem))
                .ok_or_else(|| anyhow::anyhow!("{}: no picture for the training photo {name}", dir.display()))?;
            Ok(training_photos::fit_for_training(&load_image(path, None)?, config))
        })
        .collect()
}

/// The training settings `args` ask for.
fn config_from(args: &TrainArgs) -> GanConfig {
    GanConfig {
        generator: GeneratorConfig {
            width: args.width,
            res_blocks: args.res_blocks,
            downsamplings: args.downsamplings,
            residual: !args.no_residual,
        },
        discriminator: DiscriminatorConfig { width: args.disc_width, layers: args.disc_layers },
        steps: args.steps,
        batch_size: args.batch_size,
        crop_size: args.crop_size,
        train_size: args.train_size,
        scale_jitter: args.scale_jitter,
        colour_jitter: args.colour_jitter,
        match_colours: !args.no_colour_match,
        content_weight: args.content_weight,
        style_weight: args.style_weight,
        tv_weight: args.tv_weight,
        adversarial_weight: args.adversarial_weight,
        temporal_weight: args.temporal_weight,
        teacher_weight: args.teacher_weight,
        content_layers: args.content_layers.clone(),
        style_layers: args.style_layers.clone(),
        loss: match args.loss {
            LossArg::Lsgan => AdversarialLoss::LeastSquares,
            LossArg::Hinge => AdversarialLoss::Hinge,
        },
        lr: args.lr,
        beta1: args.beta1,
        decay_from: Some(args.decay_from.unwrap_or(args.steps * 2 / 3)),
        pool_size: args.pool_size,
        seed: args.seed,
        device: args.run.device,
    }
}

/// The flag that sets the checkpoint metadata entry `key`.
fn flag_of(key: &str) -> String {
    match key {
        "generator.residual" => "--no-residual".into(),
        "gan.discriminator.width" => "--disc-width".into(),
        "gan.discriminator.layers" => "--disc-layers".into(),
        _ => {
            let name = key.strip_prefix("gan.").or_else(|| key.strip_prefix("generator.")).unwrap_or(key);
            format!("--{}", name.replace('_', "-"))
        }
    }
}

/// `Err` naming every setting given on the command line with a value other
/// than its default that differs from the checkpoint's: a resumed run keeps
/// the settings it was started with, and silently dropping a `--steps 2000`
/// would leave the user believing they trained longer. (A default value
/// given explicitly cannot be told from none given, and passes.)
fn check_resume_settings(args: &TrainArgs, checkpoint: &GanConfig, path: &Path) -> Result<()> {
    let defaults: TrainArgs = super::defaults_of(&["--style", "s", "--content-dir", "c", "--output", "o"]);
    let (given, default, kept) =
        (config_from(args).to_metadata(), config_from(&defaults).to_metadata(), checkpoint.to_metadata());
    // A given --decay-from is a setting whatever its value (its default is
    // to follow --steps); an unset one follows --steps and is not.
    let counts = |key: &str, value: &String| match key {
        "gan.decay_from" => args.decay_from.is_some(),
        _ => default.get(key) != Some(value),
    };
    // Layer lists mean the same in any order, with `:1` or without.
    let same = |key: &str, value: &String| match (key, kept.get(key)) {
        ("gan.content_layers" | "gan.style_layers", Some(theirs)) => {
            let canonical = |spec: &str| {
                let mut layers = style::perceptual::parse_layers(key, spec).ok()?;
                layers.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
                Some(layers)
            };
            canonical(value).is_some_and(|mine| Some(mine) == canonical(theirs))
        }
        (_, theirs) => theirs == Some(value),
    };
    let mut conflicts: Vec<String> = given
        .iter()
        .filter(|(key, value)| counts(key, value) && !same(key, value))
        .map(|(key, value)| {
            let theirs = kept.get(key).map_or("none", String::as_str);
            match key.as_str() {
                "generator.residual" => "--no-residual (the checkpoint's generator is residual)".to_string(),
                "gan.match_colours" => "--no-colour-match (the checkpoint's run matches colours)".to_string(),
                // Numbers as typed (the metadata writes floats as 1.5e0).
                _ => {
                    let shown = |v: &str| v.parse::<f64>().map_or_else(|_| v.to_string(), |x| x.to_string());
                    format!("{} {} (the checkpoint has {})", flag_of(key), shown(value), shown(theirs))
                }
            }
        })
        .collect();
    if conflicts.is_empty() {
        return Ok(());
    }
    conflicts.sort();
    bail!(
        "--resume {} continues with the checkpoint's settings, but {} {} given; leave {} out, or start a new run without --resume",
        path.display(),
        conflicts.join(", "),
        if conflicts.len() == 1 { "was" } else { "were" },
        if conflicts.len() == 1 { "it" } else { "them" }
    )
}

/// Runs `fresco gan train`.
pub fn train(args: TrainArgs) -> Result<()> {
    // Settings first (a resumed run takes its checkpoint's), then paths,
    // then the photos.
    let config = config_from(&args);
    if args.resume.is_none() {
        config.check()?;
    }
    paths::check_output_file(&args.output, "model", Some("safetensors"))?;
    let checkpoint = args.checkpoint.clone().unwrap_or_else(|| with_suffix(&args.output, ".checkpoint.safetensors"));
    paths::check_output_file(&checkpoint, "checkpoint", Some("safetensors"))?;
    let samples = args.samples.clone().unwrap_or_else(|| with_suffix(&args.output, "-samples"));
    if args.sample_every > 0 {
        paths::check_output_dir(&samples)?;
    }
    paths::check_report_paths(args.run.log.as_deref(), args.run.plot.as_deref())?;
    if let Some(card) = &args.card {
        paths::check_output_file(card, "card", Some("md"))?;
    }
    // A resumed run sizes its images as it was started.
    let config = match &args.resume {
        Some(path) => {
            let kept = GanConfig::from_checkpoint(path)?;
            check_resume_settings(&args, &kept, path)?;
            kept
        }
        None => config,
    };
    match (config.teacher_weight > 0.0, &args.teacher_dir) {
        (true, None) => {
            bail!("--teacher-weight {} needs the teachers' pictures: give --teacher-dir", config.teacher_weight)
        }
        (false, Some(dir)) => bail!("--teacher-dir {}: the teacher weight is 0; give --teacher-weight", dir.display()),
        _ => {}
    }
    let sample_image =
        args.sample_image.as_deref().map(|path| load_image(path, Some(config.train_size))).transpose()?;
    let photos = training_photos::open(&args.content_dir, images_in(&args.content_dir)?, &config)?;
    let style = load_image(&args.style, None)?;
    if training_photos::too_elongated(style.shape()[2], style.shape()[3]) {
        bail!(
            "{}: {}x{} is more than {}:1, too elongated to take training crops from",
            args.style.display(),
            style.shape()[3],
            style.shape()[2],
            training_photos::MAX_ASPECT
        );
    }
    let style = training_photos::fit_for_training(&style, &config);
    let vgg = load_vgg(&args.weights)?;
    let description = format!(
        "style {} trained on {} photos of {} with {}",
        args.style.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        photos.names.len(),
        args.content_dir.display(),
        vgg.description()
    );
    let sample_input = sample_image.unwrap_or_else(|| photos.first.clone());
    let photo_names = photos.names;
    let vgg_description = vgg.description().to_string();
    let teachers = match &args.teacher_dir {
        Some(dir) => Some(teacher_pictures(dir, &photo_names, &config)?),
        None => None,
    };
    let mut trainer = match &args.resume {
        Some(path) => Trainer::resume_with_source(path, vgg, style, photos.source, args.run.device)?,
        None => Trainer::with_source(config, vgg, style, photos.source)?,
    };
    if let Some(teachers) = teachers {
        trainer = trainer.with_teachers(Box::new(teachers))?;
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupted);
    // A second handler cannot be installed (tests call train twice in one
    // process); then Ctrl-C simply ends the process as usual.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));

    let steps = trainer.config().steps;
    let bar = super::progress_bar(steps as u64, args.run.quiet);
    bar.set_position(trainer.step_count() as u64);
    let mut record = super::LossRecord::new(
        ["generator", "discriminator", "style", "content"],
        args.run.log.as_deref(),
        args.resume.is_some(),
    );
    let start = Instant::now();
    let first_step = trainer.step_count();
    let cpu_at_start = super::model_card::process_cpu_seconds();
    // The card reports the mean of the last steps' losses.
    const CARD_WINDOW: usize = 50;
    let mut last_losses = std::collections::VecDeque::with_capacity(CARD_WINDOW);
    while trainer.step_count() < steps {
        if interrupted.load(Ordering::SeqCst) {
            bar.finish_and_clear();
            trainer.save_checkpoint(&checkpoint)?;
            bail!(
                "interrupted at step {}: checkpoint saved to {}; continue with --resume {}",
                trainer.step_count(),
                checkpoint.display(),
                checkpoint.display()
            );
        }
        let l = trainer.step()?;
        if last_losses.len() == CARD_WINDOW {
            last_losses.pop_front();
        }
        last_losses.push_back(l);
        let step = trainer.step_count();
        bar.set_position(step as u64);
        bar.set_message(format!(
            "G {:.3e} (style {:.2e} content {:.2e} adv {:.2e}) D {:.3e}",
            l.generator, l.style, l.content, l.adversarial, l.discriminator
        ));
        record.record(step as f64, [l.generator, l.discriminator, l.style, l.content], || {
            format!(
                "{{\"step\":{step},\"content\":{:e},\"style\":{:e},\"tv\":{:e},\"adversarial\":{:e},\"temporal\":{:e},\"teacher\":{:e},\"generator\":{:e},\"discriminator\":{:e},\"elapsed_s\":{:.3}}}",
                l.content,
                l.style,
                l.tv,
                l.adversarial,
                l.temporal,
                l.teacher,
                l.generator,
                l.discriminator,
                start.elapsed().as_secs_f64()
            )
        })?;
        if args.sample_every > 0 && step % args.sample_every == 0 {
            std::fs::create_dir_all(&samples).with_context(|| format!("{}: cannot create", samples.display()))?;
            let input = match trainer.colour_target() {
                Some(target) => style::color::match_colours(&sample_input, &target),
                None => sample_input.clone(),
            };
            let image = style::gan::apply_generator(trainer.generator(), &input, args.run.device)?;
            save_image(&samples.join(format!("step{step:06}.png")), &image)?;
        }
        if args.checkpoint_every > 0 && step % args.checkpoint_every == 0 && step < steps {
            trainer.save_checkpoint(&checkpoint)?;
        }
    }
    bar.finish_and_clear();
    trainer.save_model(&args.output, &description)?;
    let wall_seconds = start.elapsed().as_secs_f64();
    if let Some(card) = &args.card {
        let last_losses: Vec<_> = last_losses.into_iter().collect();
        let record = super::model_card::TrainingRecord {
            model: &args.output,
            style: &args.style,
            content_dir: &args.content_dir,
            photos: &photo_names,
            config: trainer.config(),
            vgg: &vgg_description,
            first_step,
            wall_seconds,
            cpu_seconds: super::model_card::process_cpu_seconds().zip(cpu_at_start).map(|(now, then)| now - then),
            last_losses: &last_losses,
        };
        super::model_card::write(card, &record)?;
    }
    record.plot(args.run.plot.as_deref(), "gan losses (weighted)", "step")?;
    println!(
        "wrote {} after {} step(s) in {:.1} s",
        args.output.display(),
        trainer.step_count(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Stylises one image into `output`; returns the time taken. The working
/// set is checked (for the CPU) before the image is resized or run.
fn stylise(model: &StyleModel, input: &Path, output: &Path, size: Option<usize>, device: Device) -> Result<f64> {
    let image = load_image(input, None)?;
    let (h, w) = match size {
        Some(side) => scaled_dims(image.shape()[2], image.shape()[3], side),
        None => (image.shape()[2], image.shape()[3]),
    };
    paths::check_output_image(output, "output", Some(h.max(w)))?;
    if device == Device::Cpu {
        // The model was fitted at width 16; activations grow with the width.
        let width = model.generator().config().width as u64;
        let memory = MemoryModel::GAN_APPLY;
        let memory = MemoryModel { per_pixel: memory.per_pixel * width.max(16) / 16, ..memory };
        let what = format!("{} at {w}x{h}", input.display());
        memory
            .check((h as u64) * (w as u64), h.max(w), &what)
            .map_err(|e| anyhow::anyhow!("{e:#}; pass a smaller --size"))?;
    }
    let image = resize(&image, h, w);
    let start = Instant::now();
    let result = model.apply(&image)?;
    save_image(output, &result)?;
    Ok(start.elapsed().as_secs_f64())
}

/// [`stylise`], with an allocation the system refuses reported as this
/// file's error (the batch goes on with the next file).
fn stylise_or_report(
    model: &StyleModel,
    input: &Path,
    output: &Path,
    size: Option<usize>,
    device: Device,
) -> Result<f64> {
    let run = std::panic::AssertUnwindSafe(|| stylise(model, input, output, size, device));
    match std::panic::catch_unwind(run) {
        Ok(result) => result,
        Err(payload) => match payload.downcast_ref::<kernels::buffer_pool::OutOfMemory>() {
            Some(oom) => bail!("{}: {oom}; pass --size", input.display()),
            None => std::panic::resume_unwind(payload),
        },
    }
}

/// Runs `fresco gan apply`: one image, or every image of a folder. In a
/// folder, a file that fails is named with its reason and the others are
/// still done; the command then fails with the count.
pub fn apply(args: ApplyArgs) -> Result<()> {
    if args.size == Some(0) {
        bail!("--size 0: the longest side must be at least 1 pixel");
    }
    if args.content.is_dir() {
        if !args.output.exists() && image::ImageFormat::from_path(&args.output).is_ok() {
            bail!(
                "{}: the output of a folder of images is a folder; give a folder name, not an image name",
                args.output.display()
            );
        }
        paths::check_output_dir(&args.output)?;
    } else {
        paths::check_output_image(&args.output, "output", None)?;
    }
    let model = StyleModel::load(&args.model, args.device)?;
    let report = |output: &Path, seconds: f64| println!("wrote {} ({seconds:.2} s)", output.display());
    if !args.content.is_dir() {
        let seconds = stylise(&model, &args.content, &args.output, args.size, args.device)?;
        report(&args.output, seconds);
        return Ok(());
    }
    let inputs = images_in(&args.content)?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("{}: cannot create the folder", args.output.display()))?;
    let mut failed = 0;
    for input in &inputs {
        let output = args.output.join(input.file_name().expect("a file"));
        match stylise_or_report(&model, input, &output, args.size, args.device) {
            Ok(seconds) => report(&output, seconds),
            Err(e) => {
                failed += 1;
                // Most errors already start with the file's name.
                let message = format!("{e:#}");
                let named = input.display().to_string();
                if message.starts_with(&named) {
                    eprintln!("fresco: skipped: {message}");
                } else {
                    eprintln!("fresco: skipped: {named}: {message}");
                }
            }
        }
    }
    if failed > 0 {
        bail!(
            "{failed} of {} images in {} failed (named above); the others were written",
            inputs.len(),
            args.content.display()
        );
    }
    Ok(())
}
