//! The `fresco` subcommands, one file each, and what they share: the
//! options of a long run (log, plot, progress bar, device), its progress
//! bar and its loss record; `paths` checks what a command will write.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use style::plot::{plot_curves, Series};
use tensor::Device;

pub mod audio;
pub mod bench;
pub mod gan;
pub mod gatys;
pub mod model_card;
pub mod objective;
pub mod paths;
pub mod score;
pub mod training_photos;
pub mod video;
pub mod weights;

/// The options every long run (`gatys`, `gan train`) takes.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Write each iteration's, step's or (video) frame's figures as JSON lines to this file.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Draw the loss curves (video: the warping error per frame) to this PNG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Where to compute: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
}

/// The options `A` take when only `required` (the required options, with
/// any values) are given: their defaults, to tell a setting the user gave
/// from one left alone.
///
/// # Panics
/// When `required` is not a valid command line for `A`.
pub(crate) fn defaults_of<A: Args + clap::FromArgMatches>(required: &[&str]) -> A {
    let command = A::augment_args(clap::Command::new("defaults"));
    let matches = command
        .try_get_matches_from(std::iter::once("defaults").chain(required.iter().copied()))
        .expect("the required options alone are a valid command");
    A::from_arg_matches(&matches).expect("parsed by the same definition")
}

/// The progress bar of a long run (hidden with `quiet`, and by indicatif
/// itself when standard error is not a terminal).
pub(crate) fn progress_bar(len: u64, quiet: bool) -> indicatif::ProgressBar {
    let bar = if quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(len) };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}, {per_sec}] {msg}",
        )
        .expect("valid template"),
    );
    bar
}

/// The losses of a long run as it goes: a JSON object per line in the
/// `--log` file (flushed each time, so an interrupted run keeps its log), and
/// one curve per named loss for the `--plot` picture at the end. The log is
/// opened at the first line, so a run that fails before its first step
/// leaves an earlier log of that name as it was, not an empty file.
pub(crate) struct LossRecord<const N: usize> {
    names: [&'static str; N],
    curves: [Vec<(f64, f64)>; N],
    log: Option<LogFile>,
}

/// The `--log` file: where, whether to continue it, and once opened, its writer.
struct LogFile {
    path: PathBuf,
    append: bool,
    writer: Option<BufWriter<File>>,
}

impl<const N: usize> LossRecord<N> {
    /// A record with the log, if any, to be replaced, or with `append`
    /// continued (a resumed run).
    pub(crate) fn new(names: [&'static str; N], log: Option<&Path>, append: bool) -> Self {
        let log = log.map(|path| LogFile { path: path.to_path_buf(), append, writer: None });
        LossRecord { names, curves: std::array::from_fn(|_| Vec::new()), log }
    }

    /// Opens the log now if it is not open yet (replaced, or continued for a
    /// resumed run): for a run whose first result is written before its
    /// first line, so that a rerun resuming from that result continues this
    /// run's log, not an older one of the same name.
    pub(crate) fn open(&mut self) -> Result<()> {
        if let Some(LogFile { path, append, writer: writer @ None }) = self.log.as_mut() {
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .append(*append)
                .truncate(!*append)
                .open(&*path)
                .with_context(|| format!("{}: cannot open the log", path.display()))?;
            *writer = Some(BufWriter::new(file));
        }
        Ok(())
    }

    /// Adds each loss's point at `x`, and `json` (made only when there is a
    /// log) as a line of the log.
    pub(crate) fn record(&mut self, x: f64, losses: [f64; N], json: impl FnOnce() -> String) -> Result<()> {
        for (curve, value) in self.curves.iter_mut().zip(losses) {
            curve.push((x, value));
        }
        self.open()?;
        if let Some(LogFile { path, writer: Some(log), .. }) = self.log.as_mut() {
            writeln!(log, "{}", json())
                .and_then(|_| log.flush())
                .with_context(|| format!("{}: cannot write the log", path.display()))?;
        }
        Ok(())
    }

    /// Draws the curves to `path`, if any.
    pub(crate) fn plot(self, path: Option<&Path>, title: &str, x_label: &str) -> Result<()> {
        if let Some(path) = path {
            let series: Vec<Series> = self
                .names
                .iter()
                .zip(self.curves)
                .map(|(name, points)| Series { name: name.to_string(), points })
                .collect();
            plot_curves(path, title, x_label, &series)?;
        }
        Ok(())
    }
}
