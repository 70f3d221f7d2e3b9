//! Audio style transfer and texture synthesis by Ulyanov & Lebedev's method
//! ("Audio texture synthesis and style transfer", 2016): the log-magnitude
//! spectrogram `log(1 + |STFT|)` is a one-pixel-high image whose channels
//! are the frequency bins; one convolution of many random filters (11 frames
//! wide) and a ReLU give the features; the content loss compares features,
//! the style loss their Gram matrices; the spectrogram is optimised with
//! L-BFGS, and Griffin–Lim recovers a phase.
//!
//! As in [`crate::perceptual`], each loss is divided by its target's mean
//! square, so the weights mean the same for any filter count or loudness.
//! The filters come from the seed, so a run is reproducible bit for bit.

use std::time::{Duration, Instant};

use autograd::Var;
use nn::optim::{Adam, AdamConfig, Lbfgs, LbfgsConfig};
use nn::{Init, ParamStore};
use tensor::{Conv2dParams, DType, Tensor};

use super::stft::Stft;
use crate::error::{setting, Result, StyleError};
use crate::gatys::OptimizerKind;
use crate::perceptual::normalised_weight;

/// The settings of a run.
#[derive(Clone, Debug)]
pub struct AudioConfig {
    /// Random filters (feature channels); Ulyanov & Lebedev use 4096.
    pub filters: usize,
    /// Filter width in STFT frames; 11 in the paper.
    pub kernel_width: usize,
    /// Weight of the content loss (0 or no content: a texture).
    pub content_weight: f64,
    /// Weight of the style loss.
    pub style_weight: f64,
    /// Loss evaluations (L-BFGS's line search may finish its last step
    /// with a few more).
    pub iterations: usize,
    /// The optimiser over the spectrogram.
    pub optimizer: OptimizerKind,
    /// Adam's step, in log-magnitude units (L-BFGS takes whole steps and a
    /// line search).
    pub adam_learning_rate: f64,
    /// L-BFGS history pairs.
    pub history: usize,
    /// Seed of the filters, the starting noise and Griffin–Lim's phase.
    pub seed: u64,
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            filters: 4096,
            kernel_width: 11,
            content_weight: 1.0,
            style_weight: 10.0,
            iterations: 200,
            optimizer: OptimizerKind::Lbfgs,
            adam_learning_rate: 0.05,
            history: 10,
            seed: 0,
        }
    }
}

/// The weighted losses at one evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AudioLosses {
    /// Weighted content loss (0 for a texture).
    pub content: f64,
    /// Weighted style loss.
    pub style: f64,
    /// Their sum.
    pub total: f64,
}

/// What an observer sees after each evaluation.
#[derive(Clone, Copy, Debug)]
pub struct AudioProgress {
    /// Evaluations so far, from 1.
    pub iteration: usize,
    /// The losses.
    pub losses: AudioLosses,
    /// Time since the optimisation began.
    pub elapsed: Duration,
}

/// The random-filter feature network and the targets.
pub struct AudioStyle {
    config: AudioConfig,
    weight: Var,
    bins: usize,
}

/// `log(1 + |X|)` of a spectrum's magnitudes, as a `[1, bins, 1, frames]`
/// tensor (the channels are the frequency bins).
pub fn log_spectrogram(magnitude: &[f32], bins: usize, frames: usize) -> Tensor {
    Tensor::from_vec(magnitude.iter().map(|m| m.ln_1p()).collect::<Vec<f32>>(), &[1, bins, 1, frames])
}

/// Magnitudes `exp(s) − 1` (at least 0) of a `[1, bins, 1, frames]` log
/// spectrogram, `bins × frames` row-major.
pub fn magnitudes(log_spectrogram: &Tensor) -> Vec<f32> {
    log_spectrogram.to_vec::<f32>().iter().map(|s| s.exp_m1().max(0.0)).collect()
}

impl AudioStyle {
    /// Draws the filters, `[filters, bins, 1, kernel_width]`, from a normal
    /// distribution of standard deviation `√2 · √(2 / ((bins + filters) ·
    /// kernel_width))` (Glorot's scale times √2, as in the paper's code).
    ///
    /// # Errors
    /// On zero filters, an even or zero kernel width, or zero bins.
    pub fn new(config: AudioConfig, bins: usize) -> Result<AudioStyle> {
        if config.filters == 0 {
            return Err(setting("--filters", "at least one filter is needed"));
        }
        if config.kernel_width == 0 || config.kernel_width % 2 == 0 {
            return Err(setting(
                "--kernel-width",
                format!("{}: an odd width is needed, so each feature is centred on its frame", config.kernel_width),
            ));
        }
        if bins == 0 {
            return Err(setting("--n-fft", "the spectrogram has no frequency bins"));
        }
        let fan = ((bins + config.filters) * config.kernel_width) as f64;
        let std = 2f64.sqrt() * (2.0 / fan).sqrt();
        let weight = Tensor::randn(&[config.filters, bins, 1, config.kernel_width], 0.0, std, config.seed, DType::F32);
        Ok(AudioStyle { config, weight: Var::constant(weight), bins })
    }

    /// The settings.
    pub fn config(&self) -> &AudioConfig {
        &self.config
    }

    /// `relu(conv(spectrogram, filters))`, `[1, filters, 1, frames]`.
    ///
    /// # Errors
    /// When the spectrogram is not `[1, bins, 1, frames]`.
    pub fn features(&self, spectrogram: &Var) -> Result<Var> {
        let params = Conv2dParams { padding: (0, self.config.kernel_width / 2), ..Conv2dParams::default() };
        Ok(spectrogram.try_conv2d_relu(&self.weight, None, params)?)
    }

    /// The style's Gram matrix `[1, filters, filters]` of a log spectrogram.
    ///
    /// # Errors
    /// As [`AudioStyle::features`].
    pub fn gram(&self, spectrogram: &Tensor) -> Result<Tensor> {
        Ok(self.features(&Var::constant(spectrogram.clone()))?.try_gram()?.value().clone())
    }

    /// Optimises a log spectrogram of `frames` frames so that its features
    /// match `content`'s (when given and the content weight is above 0) and
    /// its Gram matrix matches `style`'s; `observe` sees every evaluation
    /// and may stop the run by returning `Err`.
    ///
    /// # Errors
    /// A silent style (no Gram statistics to match), a non-finite loss, or
    /// the observer's message.
    pub fn optimise(
        &self,
        content: Option<&Tensor>,
        style: &Tensor,
        frames: usize,
        mut observe: impl FnMut(&AudioProgress) -> std::result::Result<(), String>,
    ) -> Result<(Tensor, AudioLosses)> {
        let c = &self.config;
        let style_gram = self.gram(style)?;
        if style_gram.square().mean_all().to_scalar() < 1e-20 {
            return Err(setting("--style", "the style is silent: its features have no statistics to match"));
        }
        let style_weight = normalised_weight(&style_gram, c.style_weight);
        let style_target = Var::constant(style_gram);
        let content_target = match content.filter(|_| c.content_weight > 0.0) {
            Some(spectrogram) => {
                let features = self.features(&Var::constant(spectrogram.clone()))?.value().clone();
                let weight = normalised_weight(&features, c.content_weight);
                Some((Var::constant(features), weight))
            }
            None => None,
        };
        let mut store = ParamStore::new(c.seed, DType::F32);
        let estimate = store.param("spectrogram", &[1, self.bins, 1, frames], Init::Zeros)?;
        // The start: the content itself (as Gatys starts from the photo), or
        // for a texture noise at the style's mean level. Noise near 0, as in
        // the paper's code, sits on a plateau of the Gram loss (features ≈ 0
        // give a loss flat to second order), where L-BFGS without a line
        // search barely moved (normalised style loss 1.0000 -> 0.99996 in
        // 30 evaluations).
        // (Measured on speech in the style of a plucked string, 1,024
        // filters, 60 evaluations: total loss 0.666 from the content, 0.682
        // from content plus noise, 0.702 from noise.)
        let start = match content {
            Some(spectrogram) if spectrogram.shape()[3] == frames => spectrogram.clone(),
            _ => {
                let level = style.mean_all().to_scalar().max(1e-3);
                Tensor::rand_uniform(&[1, self.bins, 1, frames], 0.0, 2.0 * level, c.seed ^ 0x5eed, DType::F32)
            }
        };
        estimate.set(start);
        let start = Instant::now();
        let mut iteration = 0;
        let mut best: Option<(AudioLosses, Tensor)> = None;
        // Unconstrained, as in the paper: projecting onto log magnitudes
        // of 0 or more inside the loop moved the point behind L-BFGS's back
        // and broke its curvature pairs; the magnitudes are clamped at the
        // end instead.
        let mut evaluate = || -> Result<(f64, autograd::Gradients)> {
            let features = self.features(&estimate.var())?;
            let style = features.try_gram()?.try_mse(&style_target)?.mul_scalar(style_weight);
            let (total, content) = match &content_target {
                Some((target, weight)) => {
                    let content = features.try_mse(target)?.mul_scalar(*weight);
                    (&style + &content, content.to_scalar())
                }
                None => (style.clone(), 0.0),
            };
            let losses = AudioLosses { content, style: style.to_scalar(), total: total.to_scalar() };
            iteration += 1;
            if !losses.total.is_finite() {
                return Err(StyleError::Diverged { value: losses.total, iteration, scale: 1 });
            }
            let grads = total.backward_and_free();
            if best.as_ref().is_none_or(|(b, _)| losses.total < b.total) {
                best = Some((losses, estimate.value().mul_scalar(1.0)));
            }
            observe(&AudioProgress { iteration, losses, elapsed: start.elapsed() }).map_err(StyleError::Stopped)?;
            Ok((losses.total, grads))
        };
        match c.optimizer {
            OptimizerKind::Lbfgs => {
                let config = LbfgsConfig {
                    max_iter: c.iterations,
                    max_eval: c.iterations,
                    history_size: c.history,
                    // Fixed unit steps diverged here (the log magnitudes run
                    // 0-6 and the Gram loss is quartic in them); the
                    // strong-Wolfe line search, as in the paper's scipy
                    // L-BFGS, does not.
                    line_search: true,
                    ..LbfgsConfig::default()
                };
                Lbfgs::new(config).step_while(std::slice::from_ref(&estimate), &mut evaluate, |_| true)?;
            }
            OptimizerKind::Adam => {
                let mut adam = Adam::new(AdamConfig { lr: c.adam_learning_rate, ..AdamConfig::default() });
                for _ in 0..c.iterations {
                    let (_, grads) = evaluate()?;
                    adam.step(std::slice::from_ref(&estimate), &grads);
                }
            }
        }
        let (losses, spectrogram) = best.expect("at least one evaluation");
        Ok((spectrogram.clamp(0.0, f64::MAX), losses))
    }
}

/// A whole run from signals: the content (or `None` for a texture) and the
/// style at one sample rate, to a result signal of the content's length (a
/// texture: `texture_len` samples), through `stft` and Griffin–Lim.
pub struct AudioResult {
    /// The result's samples.
    pub samples: Vec<f32>,
    /// The optimised log spectrogram `[1, bins, 1, frames]`.
    pub spectrogram: Tensor,
    /// The losses of that spectrogram.
    pub losses: AudioLosses,
    /// Griffin–Lim's spectral convergence on it.
    pub spectral_convergence: f64,
    /// Loss evaluations made.
    pub evaluations: usize,
    /// Time spent optimising the spectrogram.
    pub optimise_time: Duration,
    /// Time spent in Griffin–Lim.
    pub griffin_lim_time: Duration,
}

/// Runs [`AudioStyle::optimise`] on `content` and `style` signals and
/// recovers a signal with `griffin_lim_iterations` of Griffin–Lim.
///
/// # Errors
/// As [`AudioStyle::new`] and [`AudioStyle::optimise`].
pub fn transfer(
    config: AudioConfig,
    stft: &Stft,
    content: Option<&[f32]>,
    style: &[f32],
    texture_len: usize,
    griffin_lim_iterations: usize,
    observe: impl FnMut(&AudioProgress) -> std::result::Result<(), String>,
) -> Result<AudioResult> {
    let model = AudioStyle::new(config, stft.bins())?;
    let spectrogram_of = |signal: &[f32]| {
        let spectrum = stft.forward(signal);
        log_spectrogram(&spectrum.magnitude(), spectrum.bins, spectrum.frames)
    };
    let len = content.map_or(texture_len, <[f32]>::len);
    let content_spectrogram = content.map(spectrogram_of);
    let started = Instant::now();
    let mut evaluations = 0;
    let mut observe = observe;
    let (spectrogram, losses) =
        model.optimise(content_spectrogram.as_ref(), &spectrogram_of(style), stft.frames(len), |p| {
            evaluations = p.iteration;
            observe(p)
        })?;
    let optimise_time = started.elapsed();
    let started = Instant::now();
    let magnitude = magnitudes(&spectrogram);
    // A transfer starts Griffin–Lim from the content's phase (its
    // magnitudes started there too); a texture from a seeded random phase.
    let content_phase = content.map(|signal| stft.forward(signal));
    let samples =
        stft.griffin_lim(&magnitude, len, griffin_lim_iterations, model.config().seed, content_phase.as_ref());
    let griffin_lim_time = started.elapsed();
    let spectral_convergence = stft.spectral_convergence(&samples, &magnitude);
    Ok(AudioResult { samples, spectrogram, losses, spectral_convergence, evaluations, optimise_time, griffin_lim_time })
}
