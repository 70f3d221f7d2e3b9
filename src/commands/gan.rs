//! `fresco gan train` and `fresco gan apply`: train a feed-forward stylizer
//! against a PatchGAN discriminator, then stylise images or folders with it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use style::gan::{AdversarialLoss, DiscriminatorConfig, GanConfig, GeneratorConfig, StyleModel, Trainer};
use style::image_io::{load_image, resize, resize_longest, save_image};
use tensor::{Device, Tensor};

use super::gatys::{check_directory, check_output};
use crate::weights::load_vgg;

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
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    /// Crops per batch.
    #[arg(long, default_value_t = 4)]
    pub batch_size: usize,
    /// Side of the square training crops (a multiple of 4).
    #[arg(long, default_value_t = 256)]
    pub crop_size: usize,
    /// Weight of the content loss.
    #[arg(long, default_value_t = 1.0)]
    pub content_weight: f64,
    /// Weight of the style loss.
    #[arg(long, default_value_t = 10.0)]
    pub style_weight: f64,
    /// Weight of the total-variation loss.
    #[arg(long, default_value_t = 10.0)]
    pub tv_weight: f64,
    /// Weight of the adversarial loss.
    #[arg(long, default_value_t = 0.1)]
    pub adversarial_weight: f64,
    /// Content layers, `name[:weight],...`.
    #[arg(long, default_value = "relu2_2")]
    pub content_layers: String,
    /// Style layers, `name[:weight],...`.
    #[arg(long, default_value = "relu1_2,relu2_2,relu3_3,relu4_3")]
    pub style_layers: String,
    /// Adversarial loss.
    #[arg(long, value_enum, default_value = "lsgan")]
    pub loss: LossArg,
    /// Adam learning rate (both networks).
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    /// Adam beta1 (both networks).
    #[arg(long, default_value_t = 0.5)]
    pub beta1: f64,
    /// Decay the learning rate linearly to zero from this step on.
    #[arg(long)]
    pub decay_from: Option<usize>,
    /// Generator width (channels of its first layer; Johnson et al. used 32).
    #[arg(long, default_value_t = 16)]
    pub width: usize,
    /// Generator residual blocks.
    #[arg(long, default_value_t = 5)]
    pub res_blocks: usize,
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
    /// VGG weights for the perceptual losses [default: cached, else random features].
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Save a sample image every N steps (into --samples).
    #[arg(long, default_value_t = 0)]
    pub sample_every: usize,
    /// Folder for sample images [default: beside the output, NAME-samples].
    #[arg(long)]
    pub samples: Option<PathBuf>,
    /// Checkpoint file [default: NAME.checkpoint.safetensors beside the output].
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Write a checkpoint every N steps (0: only on Ctrl-C).
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: usize,
    /// Continue an interrupted run from its checkpoint (its settings are kept).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Write each step's losses as JSON lines to this file.
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
    pub device: Device,
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

const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

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

/// `image` resized so its shorter side is `side`.
fn shorter_side(image: &Tensor, side: usize) -> Tensor {
    let (h, w) = (image.shape()[2], image.shape()[3]);
    let scale = side as f64 / h.min(w) as f64;
    resize(image, ((h as f64 * scale).round() as usize).max(side), ((w as f64 * scale).round() as usize).max(side))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    path.with_file_name(format!("{stem}{suffix}"))
}

/// Runs `fresco gan train`.
pub fn train(args: TrainArgs) -> Result<()> {
    check_directory(&args.output)?;
    let checkpoint = args.checkpoint.clone().unwrap_or_else(|| with_suffix(&args.output, ".checkpoint.safetensors"));
    let samples = args.samples.clone().unwrap_or_else(|| with_suffix(&args.output, "-samples"));
    super::check_report_paths(args.log.as_deref(), args.plot.as_deref())?;
    let crop = args.crop_size;
    let photos = images_in(&args.content_dir)?
        .iter()
        .map(|p| Ok(shorter_side(&load_image(p, None)?, crop + crop / 2)))
        .collect::<Result<Vec<_>>>()?;
    let style = shorter_side(&load_image(&args.style, None)?, 2 * crop);
    let vgg = load_vgg(args.weights.as_deref())?;
    let description = format!(
        "style {} trained on {} photos of {} with {}",
        args.style.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        photos.len(),
        args.content_dir.display(),
        vgg.description()
    );
    let sample_input = photos[0].clone();
    let mut trainer = match &args.resume {
        Some(path) => Trainer::resume(path, vgg, style, photos, args.device)?,
        None => {
            let config = GanConfig {
                generator: GeneratorConfig { width: args.width, res_blocks: args.res_blocks },
                discriminator: DiscriminatorConfig { width: args.disc_width, layers: args.disc_layers },
                steps: args.steps,
                batch_size: args.batch_size,
                crop_size: crop,
                content_weight: args.content_weight,
                style_weight: args.style_weight,
                tv_weight: args.tv_weight,
                adversarial_weight: args.adversarial_weight,
                content_layers: args.content_layers.clone(),
                style_layers: args.style_layers.clone(),
                loss: match args.loss {
                    LossArg::Lsgan => AdversarialLoss::LeastSquares,
                    LossArg::Hinge => AdversarialLoss::Hinge,
                },
                lr: args.lr,
                beta1: args.beta1,
                decay_from: args.decay_from,
                pool_size: args.pool_size,
                seed: args.seed,
                device: args.device,
            };
            Trainer::new(config, vgg, style, photos)?
        }
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupted);
    // A second handler cannot be installed (tests call train twice in one
    // process); then Ctrl-C simply ends the process as usual.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));

    let steps = trainer.config().steps;
    let bar = super::progress_bar(steps as u64, args.quiet);
    bar.set_position(trainer.step_count() as u64);
    let mut record = super::LossRecord::new(
        ["generator", "discriminator", "style", "content"],
        args.log.as_deref(),
        args.resume.is_some(),
    )?;
    let start = Instant::now();
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
        let step = trainer.step_count();
        bar.set_position(step as u64);
        bar.set_message(format!(
            "G {:.3e} (style {:.2e} content {:.2e} adv {:.2e}) D {:.3e}",
            l.generator, l.style, l.content, l.adversarial, l.discriminator
        ));
        record.record(step as f64, [l.generator, l.discriminator, l.style, l.content], || {
            format!(
                "{{\"step\":{step},\"content\":{:e},\"style\":{:e},\"tv\":{:e},\"adversarial\":{:e},\"generator\":{:e},\"discriminator\":{:e},\"elapsed_s\":{:.3}}}",
                l.content,
                l.style,
                l.tv,
                l.adversarial,
                l.generator,
                l.discriminator,
                start.elapsed().as_secs_f64()
            )
        })?;
        if args.sample_every > 0 && step % args.sample_every == 0 {
            std::fs::create_dir_all(&samples).with_context(|| format!("{}: cannot create", samples.display()))?;
            let image = style::gan::apply_generator(trainer.generator(), &sample_input, args.device)?;
            save_image(&samples.join(format!("step{step:06}.png")), &image)?;
        }
        if args.checkpoint_every > 0 && step % args.checkpoint_every == 0 && step < steps {
            trainer.save_checkpoint(&checkpoint)?;
        }
    }
    bar.finish_and_clear();
    trainer.save_model(&args.output, &description)?;
    record.plot(args.plot.as_deref(), "gan losses (weighted)", "step")?;
    println!(
        "wrote {} after {} steps in {:.1} s",
        args.output.display(),
        trainer.step_count(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs `fresco gan apply`.
pub fn apply(args: ApplyArgs) -> Result<()> {
    let model = StyleModel::load(&args.model, args.device)?;
    let stylise = |input: &Path, output: &Path| -> Result<()> {
        let image = load_image(input, None)?;
        let image = match args.size {
            Some(side) => resize_longest(&image, side),
            None => image,
        };
        let start = Instant::now();
        let result = model.apply(&image)?;
        save_image(output, &result)?;
        println!(
            "wrote {} ({}x{}, {:.2} s)",
            output.display(),
            image.shape()[3],
            image.shape()[2],
            start.elapsed().as_secs_f64()
        );
        Ok(())
    };
    if args.content.is_dir() {
        std::fs::create_dir_all(&args.output)
            .with_context(|| format!("{}: cannot create the folder", args.output.display()))?;
        for input in images_in(&args.content)? {
            let name = input.file_name().expect("a file");
            stylise(&input, &args.output.join(name))?;
        }
        Ok(())
    } else {
        check_output(&args.output, "output")?;
        stylise(&args.content, &args.output)
    }
}
