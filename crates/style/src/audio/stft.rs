//! The short-time Fourier transform, its inverse, and phase recovery by
//! Griffin–Lim, on top of `realfft`'s FFT.
//!
//! Frames of `n_fft` samples every `hop` samples, each multiplied by a
//! periodic Hann window; the signal is padded with `n_fft / 2` zeros in front
//! (frame `t` is centred on sample `t · hop`) and with zeros at the end so
//! the last sample is covered. A spectrogram is `bins × frames` row-major,
//! `bins = n_fft / 2 + 1`. The inverse is weighted overlap-add divided by the
//! sum of squared windows at each sample (the least-squares inverse of
//! Griffin & Lim 1984, exact for an unmodified STFT).

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// STFT settings and the FFT plans for them.
#[derive(Clone)]
pub struct Stft {
    /// Window and FFT length, in samples.
    pub n_fft: usize,
    /// Step between frames, in samples.
    pub hop: usize,
    window: Vec<f32>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stft {{ n_fft: {}, hop: {} }}", self.n_fft, self.hop)
    }
}

/// A complex spectrogram, `bins × frames` row-major.
#[derive(Clone, Debug)]
pub struct Spectrum {
    /// Frequency bins, `n_fft / 2 + 1`.
    pub bins: usize,
    /// Frames.
    pub frames: usize,
    /// The values, bin-major: `values[bin · frames + frame]`.
    pub values: Vec<Complex32>,
}

impl Spectrum {
    /// `|values|`, `bins × frames`.
    pub fn magnitude(&self) -> Vec<f32> {
        self.values.iter().map(|c| c.norm()).collect()
    }
}

impl Stft {
    /// Plans an STFT.
    ///
    /// # Panics
    /// If `n_fft` is odd or under 4, or `hop` is 0 or above `n_fft / 2`
    /// (the inverse needs every sample under at least two windows).
    pub fn new(n_fft: usize, hop: usize) -> Stft {
        assert!(n_fft >= 4 && n_fft % 2 == 0, "Stft: n_fft {n_fft} must be even and at least 4");
        assert!(hop >= 1 && hop <= n_fft / 2, "Stft: hop {hop} must be 1..={} for n_fft {n_fft}", n_fft / 2);
        let window = (0..n_fft)
            .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n_fft as f64).cos()) as f32)
            .collect();
        let mut planner = RealFftPlanner::<f32>::new();
        Stft { n_fft, hop, window, forward: planner.plan_fft_forward(n_fft), inverse: planner.plan_fft_inverse(n_fft) }
    }

    /// Frequency bins of a spectrum.
    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Frames for a signal of `len` samples: one every `hop`, the last at or
    /// after the last sample.
    pub fn frames(&self, len: usize) -> usize {
        len.div_ceil(self.hop) + 1
    }

    /// The STFT of `signal`.
    pub fn forward(&self, signal: &[f32]) -> Spectrum {
        let (bins, frames) = (self.bins(), self.frames(signal.len()));
        let pad = self.n_fft / 2;
        let mut values = vec![Complex32::new(0.0, 0.0); bins * frames];
        let mut buffer = self.forward.make_input_vec();
        let mut spectrum = self.forward.make_output_vec();
        for t in 0..frames {
            for (i, slot) in buffer.iter_mut().enumerate() {
                let position = (t * self.hop + i).checked_sub(pad);
                *slot = position.and_then(|p| signal.get(p)).map_or(0.0, |&s| s * self.window[i]);
            }
            self.forward.process(&mut buffer, &mut spectrum).expect("buffers sized by the plan");
            for (bin, value) in spectrum.iter().enumerate() {
                values[bin * frames + t] = *value;
            }
        }
        Spectrum { bins, frames, values }
    }

    /// The signal of `len` samples whose STFT is closest to `spectrum` in
    /// the least-squares sense (weighted overlap-add).
    ///
    /// # Panics
    /// If the spectrum's bins are not this STFT's.
    pub fn inverse(&self, spectrum: &Spectrum, len: usize) -> Vec<f32> {
        assert_eq!(spectrum.bins, self.bins(), "Stft::inverse: {} bins for n_fft {}", spectrum.bins, self.n_fft);
        let pad = self.n_fft / 2;
        let mut sum = vec![0f32; len];
        let mut weight = vec![0f32; len];
        let mut bins = self.inverse.make_input_vec();
        let mut frame = self.inverse.make_output_vec();
        let scale = 1.0 / self.n_fft as f32;
        for t in 0..spectrum.frames {
            for (bin, slot) in bins.iter_mut().enumerate() {
                *slot = spectrum.values[bin * spectrum.frames + t];
            }
            // A real signal's DC and Nyquist bins are real.
            let last = bins.len() - 1;
            bins[0].im = 0.0;
            bins[last].im = 0.0;
            self.inverse.process(&mut bins, &mut frame).expect("buffers sized by the plan");
            for (i, &v) in frame.iter().enumerate() {
                if let Some(p) = (t * self.hop + i).checked_sub(pad).filter(|&p| p < len) {
                    sum[p] += v * scale * self.window[i];
                    weight[p] += self.window[i] * self.window[i];
                }
            }
        }
        sum.iter().zip(&weight).map(|(s, w)| if *w > 1e-8 { s / w } else { 0.0 }).collect()
    }

    /// Spectral convergence of `signal` against `magnitude`:
    /// `‖ |STFT(signal)| − magnitude ‖ / ‖magnitude‖` (Sturmel & Daudet
    /// 2011); 0 is a perfect match.
    pub fn spectral_convergence(&self, signal: &[f32], magnitude: &[f32]) -> f64 {
        let found = self.forward(signal).magnitude();
        let (mut diff, mut norm) = (0f64, 0f64);
        for (f, m) in found.iter().zip(magnitude) {
            diff += ((f - m) as f64).powi(2);
            norm += (*m as f64).powi(2);
        }
        (diff / norm.max(1e-30)).sqrt()
    }

    /// A signal of `len` samples whose STFT magnitude approaches `magnitude`
    /// (`bins × frames`): Griffin & Lim's alternating projections (1984),
    /// with Perraudin, Balazs & Søndergaard's momentum ("A fast Griffin–Lim
    /// algorithm", 2013, α = 0.99), from the phase of `start` when given (a
    /// spectrum of the same size), else from a seeded random phase.
    ///
    /// # Panics
    /// If `magnitude` (or `start`) is not `bins × frames(len)`.
    pub fn griffin_lim(
        &self,
        magnitude: &[f32],
        len: usize,
        iterations: usize,
        seed: u64,
        start: Option<&Spectrum>,
    ) -> Vec<f32> {
        let (bins, frames) = (self.bins(), self.frames(len));
        assert_eq!(magnitude.len(), bins * frames, "griffin_lim: {} magnitudes for {bins} x {frames}", magnitude.len());
        if let Some(start) = start {
            assert_eq!(start.values.len(), bins * frames, "griffin_lim: a start of {} x {}", start.bins, start.frames);
        }
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
        let mut spectrum = Spectrum {
            bins,
            frames,
            values: magnitude
                .iter()
                .enumerate()
                .map(|(i, &m)| {
                    if let Some(start) = start {
                        let phase = start.values[i];
                        let norm = phase.norm();
                        return if norm > 1e-12 { phase * (m / norm) } else { Complex32::new(m, 0.0) };
                    }
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let angle = (state >> 11) as f64 / (1u64 << 53) as f64 * std::f64::consts::TAU;
                    Complex32::from_polar(m, angle as f32)
                })
                .collect(),
        };
        let mut previous: Option<Vec<Complex32>> = None;
        const MOMENTUM: f32 = 0.99;
        for _ in 0..iterations {
            // Project onto consistent spectrograms (STFT of a signal) ...
            let projected = self.forward(&self.inverse(&spectrum, len)).values;
            // ... accelerate along the last step, then take the magnitude.
            let accelerated: Vec<Complex32> = match &previous {
                Some(p) => projected.iter().zip(p).map(|(t, p)| t + (t - p) * MOMENTUM).collect(),
                None => projected.clone(),
            };
            for ((slot, value), &m) in spectrum.values.iter_mut().zip(&accelerated).zip(magnitude) {
                let norm = value.norm();
                *slot = if norm > 1e-12 { value * (m / norm) } else { Complex32::new(m, 0.0) };
            }
            previous = Some(projected);
        }
        self.inverse(&spectrum, len)
    }
}
