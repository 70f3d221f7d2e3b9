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
    /// The content recording (WAV: 8/16/24/32-bit integer or float, any channels, mixed to mono).
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
    /// L-BFGS evaluations over the spectrogram.
    #[arg(long, default_value_t = 200, allow_negative_numbers = true)]
    pub iters: usize,
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
    if args.sample_rate < 1000 {
        bail!("--sample-rate {}: expected at least 1000 Hz", args.sample_rate);
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
    let rate = args.sample_rate;
    let style = resample(&read_wav(&args.style)?, rate)?;
    let content = match &args.content {
        Some(path) if !args.texture => Some(resample(&read_wav(path)?, rate)?),
        _ => None,
    };
    let texture_len = match args.seconds {
        Some(seconds) => (seconds * rate as f64).round().max(1.0) as usize,
        None => style.samples.len(),
    };
    let stft = Stft::new(args.n_fft, args.hop);
    let config = AudioConfig {
        filters: args.filters,
        kernel_width: args.kernel_width,
        content_weight: if content.is_some() { args.content_weight } else { 0.0 },
        style_weight: args.style_weight,
        iterations: args.iters,
        history: args.history,
        seed: args.seed,
    };
    let mut record = super::LossRecord::new(["total", "content", "style"], args.run.log.as_deref(), false)?;
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
    // Griffin-Lim's phase can overshoot the range: scaled down, never clipped.
    let peak = result.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    let gain = if peak > 0.99 { 0.99 / peak } else { 1.0 };
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
    println!(
        "wrote {} ({:.2} s at {rate} Hz): loss {:.4e} (content {:.3e}, style {:.3e}); Griffin-Lim spectral convergence {:.3}",
        args.output.display(),
        audio.seconds(),
        result.losses.total,
        result.losses.content,
        result.losses.style,
        result.spectral_convergence
    );
    Ok(())
}
