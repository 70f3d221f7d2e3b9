//! `fresco audio`: audio style transfer and texture synthesis (Ulyanov &
//! Lebedev 2016) from the command line: WAV in, WAV out, with a progress
//! bar, a JSON-lines log, a loss plot and a picture of the three log
//! spectrograms.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use style::audio::picture::write_spectrograms;
use style::audio::stft::Stft;
use style::audio::transfer::{transfer, AudioConfig};
use style::audio::wav::{read_wav, resample, write_wav, Audio};

use super::paths;

/// Arguments of `fresco audio`.
#[derive(Args, Debug)]
pub struct AudioArgs {
    /// The content recording (WAV: 8/16/24/32-bit integer or 32-bit float, any channels, mixed to mono).
    #[arg(long, required_unless_present = "texture")]
    pub content: Option<PathBuf>,
    /// The style recording (WAV).
    #[arg(long)]
    pub style: PathBuf,
    /// Where to write the result (16-bit mono WAV).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Synthesise a texture from the style alone (no content).
    #[arg(long, conflicts_with = "content")]
    pub texture: bool,
    /// Length of a texture, in seconds [default: the style's length].
    #[arg(long, requires = "texture", allow_negative_numbers = true)]
    pub seconds: Option<f64>,
    /// Weight of the content loss.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub content_weight: f64,
    /// Weight of the style loss.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub style_weight: f64,
    /// L-BFGS evaluations over the spectrogram (the line search may finish its last step with a few more).
    #[arg(long, default_value_t = 200, allow_negative_numbers = true)]
    pub iters: usize,
    /// Optimiser over the spectrogram.
    #[arg(long, value_enum, default_value = "lbfgs")]
    pub optimizer: super::gatys::OptimizerArg,
    /// Adam's learning rate, in log-magnitude units (L-BFGS takes whole steps with a line search).
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub lr: f64,
    /// L-BFGS history pairs.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    pub history: usize,
    /// Random filters (feature channels).
    #[arg(long, default_value_t = 4096, allow_negative_numbers = true)]
    pub filters: usize,
    /// Width of each filter in STFT frames (odd).
    #[arg(long, default_value_t = 11, allow_negative_numbers = true)]
    pub kernel_width: usize,
    /// Seed of the filters, the starting noise and Griffin-Lim's phase.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sample rate everything is brought to, in Hz.
    #[arg(long, default_value_t = 22050, allow_negative_numbers = true)]
    pub sample_rate: u32,
    /// STFT window and FFT length, in samples (even).
    #[arg(long, default_value_t = 2048, allow_negative_numbers = true)]
    pub n_fft: usize,
    /// STFT hop, in samples (at most half the window).
    #[arg(long, default_value_t = 512, allow_negative_numbers = true)]
    pub hop: usize,
    /// Griffin-Lim iterations to recover a phase.
    #[arg(long, default_value_t = 300, allow_negative_numbers = true)]
    pub griffin_lim_iters: usize,
    /// Draw the content, style and result log spectrograms side by side to this PNG file.
    #[arg(long)]
    pub spectrogram: Option<PathBuf>,
    /// Log, plot, progress bar and device.
    #[command(flatten)]
    pub run: super::RunArgs,
}

fn check(args: &AudioArgs) -> Result<()> {
    if args.iters == 0 {
        bail!("--iters 0: at least one evaluation is needed");
    }
    if !(1000..=192_000).contains(&args.sample_rate) {
        bail!("--sample-rate {}: expected 1000 to 192000 Hz", args.sample_rate);
    }
    if args.filters == 0 {
        bail!("--filters 0: at least one filter is needed");
    }
    if args.kernel_width % 2 == 0 {
        bail!("--kernel-width {}: an odd width is needed, so each feature is centred on its frame", args.kernel_width);
    }
    if !(args.lr > 0.0 && args.lr.is_finite()) {
        bail!("--lr {}: expected a positive step", args.lr);
    }
    if args.history == 0 {
        bail!("--history 0: L-BFGS needs at least one pair");
    }
    if args.griffin_lim_iters == 0 {
        bail!("--griffin-lim-iters 0: without it the phase is random noise");
    }
    if args.seconds.is_some() && !args.texture {
        bail!("--seconds: only for --texture; a transfer takes the content's length");
    }
    if args.output.to_string_lossy().ends_with(std::path::MAIN_SEPARATOR) {
        bail!("{}: a file name is needed, not a folder", args.output.display());
    }
    if args.n_fft < 16 || args.n_fft % 2 == 1 {
        bail!("--n-fft {}: expected an even window of at least 16 samples", args.n_fft);
    }
    if args.hop == 0 || args.hop > args.n_fft / 2 {
        bail!("--hop {}: expected 1 to {} (half the window)", args.hop, args.n_fft / 2);
    }
    for (name, weight) in [("--content-weight", args.content_weight), ("--style-weight", args.style_weight)] {
        if !(weight >= 0.0 && weight.is_finite()) {
            bail!("{name} {weight}: expected a finite weight of 0 or more");
        }
    }
    if args.style_weight == 0.0 {
        bail!("--style-weight 0: the style would play no part");
    }
    if let Some(seconds) = args.seconds {
        if !(seconds > 0.0 && seconds <= 600.0) {
            bail!("--seconds {seconds}: expected a length above 0 and at most 600 seconds");
        }
    }
    if args.run.device != tensor::Device::Cpu {
        bail!("--device {}: audio runs on the CPU only", args.run.device);
    }
    Ok(())
}

/// Runs `fresco audio`.
pub fn run(args: AudioArgs) -> Result<()> {
    check(&args)?;
    if !args.output.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")) {
        bail!("{}: the result is written as WAV; give it a .wav name", args.output.display());
    }
    paths::check_output_file(&args.output, "output", Some("wav"))?;
    if let Some(picture) = &args.spectrogram {
        paths::check_output_file(picture, "spectrogram picture", Some("png"))?;
    }
    paths::check_report_paths(args.run.log.as_deref(), args.run.plot.as_deref())?;
    let same = |a: &std::path::Path| {
        std::fs::canonicalize(a).ok().is_some_and(|a| std::fs::canonicalize(&args.output).ok() == Some(a))
    };
    if args.content.as_deref().is_some_and(same) || same(&args.style) {
        bail!("{}: is an input; the result would overwrite it (give another output)", args.output.display());
    }
    let rate = args.sample_rate;
    // Each input must be heard and hold one window; both are brought to one
    // level (RMS 0.1), so a quiet recording is not a near-zero spectrogram
    // on the flat part of the loss, and the result is given the content's
    // level back (a texture, the style's).
    let prepare = |path: &std::path::Path| -> Result<(Audio, f32)> {
        let audio = resample(&read_wav(path)?, rate)?;
        let rms = (audio.samples.iter().map(|s| s * s).sum::<f32>() / audio.samples.len().max(1) as f32).sqrt();
        if rms < 1e-5 {
            bail!("{}: is silent (RMS {rms:.1e}): there is nothing to hear in it", path.display());
        }
        if audio.samples.len() < args.n_fft {
            bail!(
                "{}: {} samples at {rate} Hz, shorter than one {}-sample window (--n-fft)",
                path.display(),
                audio.samples.len(),
                args.n_fft
            );
        }
        let gain = 0.1 / rms;
        Ok((Audio { samples: audio.samples.iter().map(|s| s * gain).collect(), sample_rate: rate }, rms))
    };
    let (style, style_rms) = prepare(&args.style)?;
    let (content, level) = match &args.content {
        Some(path) if !args.texture => {
            let (audio, rms) = prepare(path)?;
            (Some(audio), rms)
        }
        _ => (None, style_rms),
    };
    let texture_len = match args.seconds {
        Some(seconds) => (seconds * rate as f64).round().max(1.0) as usize,
        None => style.samples.len(),
    };
    if content.is_none() && texture_len < args.n_fft {
        bail!("--seconds {}: shorter than one {}-sample window (--n-fft)", args.seconds.unwrap_or(0.0), args.n_fft);
    }
    let stft = Stft::new(args.n_fft, args.hop);
    let config = AudioConfig {
        filters: args.filters,
        kernel_width: args.kernel_width,
        content_weight: if content.is_some() { args.content_weight } else { 0.0 },
        style_weight: args.style_weight,
        iterations: args.iters,
        optimizer: match args.optimizer {
            super::gatys::OptimizerArg::Lbfgs => style::gatys::OptimizerKind::Lbfgs,
            super::gatys::OptimizerArg::Adam => style::gatys::OptimizerKind::Adam,
        },
        adam_learning_rate: args.lr,
        history: args.history,
        seed: args.seed,
    };
    let mut record = super::LossRecord::new(["total", "content", "style"], args.run.log.as_deref(), false);
    let bar = super::progress_bar(args.iters as u64, args.run.quiet);
    let result = transfer(
        config,
        &stft,
        content.as_ref().map(|a| a.samples.as_slice()),
        &style.samples,
        texture_len,
        args.griffin_lim_iters,
        |p| {
            let l = p.losses;
            bar.set_position(p.iteration as u64);
            bar.set_message(format!("loss {:.3e} (content {:.2e} style {:.2e})", l.total, l.content, l.style));
            record
                .record(p.iteration as f64, [l.total, l.content, l.style], || {
                    format!(
                        "{{\"iteration\":{},\"content\":{:e},\"style\":{:e},\"total\":{:e},\"elapsed_s\":{:.3}}}",
                        p.iteration,
                        l.content,
                        l.style,
                        l.total,
                        p.elapsed.as_secs_f64()
                    )
                })
                .map_err(|e| format!("{e:#}"))
        },
    );
    bar.finish_and_clear();
    let result = result?;
    // Back to the content's level; Griffin-Lim's phase can overshoot the
    // range, so then scaled down, never clipped.
    let rms = (result.samples.iter().map(|s| s * s).sum::<f32>() / result.samples.len().max(1) as f32).sqrt();
    let gain = if rms > 0.0 { level / rms } else { 0.0 };
    let peak = result.samples.iter().fold(0f32, |m, s| m.max(s.abs())) * gain;
    let gain = if peak > 0.99 { gain * 0.99 / peak } else { gain };
    let samples: Vec<f32> = result.samples.iter().map(|s| s * gain).collect();
    let audio = Audio { samples, sample_rate: rate };
    write_wav(&args.output, &audio)?;
    record.plot(args.run.plot.as_deref(), "audio loss (weighted)", "iteration")?;
    if let Some(picture) = &args.spectrogram {
        let spectrogram_of = |a: &Audio| {
            let s = stft.forward(&a.samples);
            (s.magnitude().iter().map(|m| m.ln_1p()).collect::<Vec<f32>>(), s.bins, s.frames)
        };
        let style_panel = spectrogram_of(&style);
        let result_panel = (result.spectrogram.to_vec::<f32>(), stft.bins(), stft.frames(audio.samples.len()));
        let mut panels = Vec::new();
        let content_panel = content.as_ref().map(spectrogram_of);
        if let Some((v, b, f)) = &content_panel {
            panels.push(("content", v.as_slice(), *b, *f));
        }
        panels.push(("style", style_panel.0.as_slice(), style_panel.1, style_panel.2));
        panels.push(("result", result_panel.0.as_slice(), result_panel.1, result_panel.2));
        write_spectrograms(picture, &panels)?;
    }
    let (optimise, griffin_lim) = (result.optimise_time.as_secs_f64(), result.griffin_lim_time.as_secs_f64());
    println!(
        "wrote {} ({:.2} s at {rate} Hz): loss {:.4e} (content {:.3e}, style {:.3e}) after {} evaluations in {optimise:.1} s; Griffin-Lim {griffin_lim:.1} s, spectral convergence {:.3}; {:.2} s of compute per second of audio",
        args.output.display(),
        audio.seconds(),
        result.losses.total,
        result.losses.content,
        result.losses.style,
        result.evaluations,
        result.spectral_convergence,
        (optimise + griffin_lim) / audio.seconds().max(1e-9)
    );
    Ok(())
}
