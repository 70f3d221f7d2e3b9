//! The model card `fresco gan train --card` writes beside a stylizer: what
//! it was trained on, how long it took, where its losses ended, and the
//! exact command, so a shipped model can be remade and judged.

use std::path::Path;

use anyhow::{Context, Result};
use style::gan::{GanConfig, StepLosses};

/// What a card says about one finished training run.
pub struct TrainingRecord<'a> {
    /// The model file.
    pub model: &'a Path,
    /// The style image.
    pub style: &'a Path,
    /// The folder of photos.
    pub content_dir: &'a Path,
    /// The names of the photos trained on.
    pub photos: &'a [String],
    /// The run's settings.
    pub config: &'a GanConfig,
    /// The VGG of the perceptual losses, in words.
    pub vgg: &'a str,
    /// The step this process started from (0, or a resumed run's step).
    pub first_step: usize,
    /// Wall-clock seconds of this process's steps.
    pub wall_seconds: f64,
    /// CPU seconds of the same steps, all threads, where the system says.
    pub cpu_seconds: Option<f64>,
    /// The last steps' losses (weighted), averaged on the card.
    pub last_losses: &'a [StepLosses],
}

/// User plus system CPU time of this process in seconds, from
/// `/proc/self/stat` (fields 14 and 15, in the kernel's USER_HZ = 100
/// ticks per second); `None` where there is no such file.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields resume after ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // After ')', field 3 is at index 0, so fields 14 and 15 are 11 and 12.
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// This process's command line, quoted for a POSIX shell where needed.
pub fn command_line() -> String {
    std::env::args()
        .enumerate()
        .map(|(i, a)| if i == 0 { "fresco".to_string() } else { shell_quote(&a) })
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

fn minutes(seconds: f64) -> String {
    let whole = seconds.max(0.0).round() as u64;
    format!("{} min {:02} s", whole / 60, whole % 60)
}

/// The card's Markdown.
pub fn render(r: &TrainingRecord) -> String {
    let c = r.config;
    let n = r.last_losses.len().max(1) as f64;
    let mean = |f: fn(&StepLosses) -> f64| r.last_losses.iter().map(f).sum::<f64>() / n;
    let name = r.model.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut card = format!("# {name}\n\nA GAN stylizer made by `fresco gan train`.\n\n| | |\n| --- | --- |\n");
    let mut row = |key: &str, value: String| card.push_str(&format!("| {key} | {value} |\n"));
    row("style image", format!("`{}`", r.style.display()));
    // A real data set's names would fill pages: the first few stand for it.
    const NAMES_SHOWN: usize = 12;
    let mut names = r.photos.iter().take(NAMES_SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if r.photos.len() > NAMES_SHOWN {
        names.push_str(&format!(" and {} more", r.photos.len() - NAMES_SHOWN));
    }
    row("training photos", format!("{} in `{}`: {names}", r.photos.len(), r.content_dir.display()));
    row(
        "steps",
        format!(
            "{} (batch {}, {} px crops of images brought to {} px, scale jitter {}, colour jitter {})",
            c.steps, c.batch_size, c.crop_size, c.train_size, c.scale_jitter, c.colour_jitter
        ),
    );
    row(
        "generator",
        format!(
            "width {}, {} downsamplings, {} residual blocks, {}",
            c.generator.width,
            c.generator.downsamplings,
            c.generator.res_blocks,
            if c.generator.residual { "residual output (changes the photo)" } else { "draws the image" }
        ),
    );
    row(
        "colours",
        if c.match_colours {
            "photos recoloured to the painting's colour mean and covariance before the generator (in training and in `apply`)"
        } else {
            "the generator's own (no colour matching)"
        }
        .to_string(),
    );
    row(
        "objective",
        format!(
            "content {} x{}, style {} x{}, tv x{}, adversarial x{} ({}){}{}",
            c.content_layers,
            c.content_weight,
            c.style_layers,
            c.style_weight,
            c.tv_weight,
            c.adversarial_weight,
            if c.loss == style::gan::AdversarialLoss::Hinge { "hinge" } else { "LSGAN" },
            if c.temporal_weight > 0.0 { format!(", temporal x{}", c.temporal_weight) } else { String::new() },
            if c.teacher_weight > 0.0 {
                format!(", teacher (L1 to Gatys pictures) x{}", c.teacher_weight)
            } else {
                String::new()
            }
        ),
    );
    row("VGG", r.vgg.to_string());
    let session =
        if r.first_step > 0 { format!(", resumed at step {}: this part only", r.first_step) } else { String::new() };
    row("wall time of the steps", format!("{}{session}", minutes(r.wall_seconds)));
    if let Some(cpu) = r.cpu_seconds {
        row("CPU time of the steps", format!("{} (user + system, all threads{session})", minutes(cpu)));
    }
    row(
        &format!("final losses (weighted, mean of the last {} steps)", r.last_losses.len()),
        format!(
            "content {:.3}, style {:.3}, tv {:.3}, adversarial {:.3}{}{}; discriminator {:.3}",
            mean(|l| l.content),
            mean(|l| l.style),
            mean(|l| l.tv),
            mean(|l| l.adversarial),
            if c.temporal_weight > 0.0 { format!(", temporal {:.3}", mean(|l| l.temporal)) } else { String::new() },
            if c.teacher_weight > 0.0 { format!(", teacher {:.3}", mean(|l| l.teacher)) } else { String::new() },
            mean(|l| l.discriminator)
        ),
    );
    card.push_str(&format!("\nMade with:\n\n```sh\n{}\n```\n", command_line()));
    card
}

/// Writes the card atomically (a temporary file, then a rename).
pub fn write(path: &Path, record: &TrainingRecord) -> Result<()> {
    let temporary = path.with_extension("md.partial");
    std::fs::write(&temporary, render(record)).with_context(|| format!("{}: cannot write", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("{}: cannot write", path.display()))
}
