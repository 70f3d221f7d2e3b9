//! The audio pieces on signals the tests make: the STFT's round trip,
//! Griffin–Lim's convergence, WAV formats and resampling, and the spectral
//! model's transfer (a sine sweep in the style of a chord keeps the sweep's
//! time course and takes the chord's statistics), reproducible by seed.

use std::path::PathBuf;

use style::audio::stft::Stft;
use style::audio::transfer::{log_spectrogram, transfer, AudioConfig, AudioStyle};
use style::audio::wav::{read_wav, resample, write_wav, Audio};

const RATE: f32 = 8000.0;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fresco-audio-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An exponential sweep from `from` to `to` Hz over `seconds`.
fn sweep(from: f32, to: f32, seconds: f32) -> Vec<f32> {
    let n = (seconds * RATE) as usize;
    let mut phase = 0f32;
    (0..n)
        .map(|i| {
            let f = from * (to / from).powf(i as f32 / n as f32);
            phase += std::f32::consts::TAU * f / RATE;
            0.5 * phase.sin()
        })
        .collect()
}

/// A three-note chord switched on and off four times a second.
fn chord_bursts(seconds: f32) -> Vec<f32> {
    let n = (seconds * RATE) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE;
            let on = ((t * 8.0) as usize % 2 == 0) as u8 as f32;
            on * [261.6f32, 329.6, 392.0].iter().map(|f| (std::f32::consts::TAU * f * t).sin()).sum::<f32>() / 4.0
        })
        .collect()
}

#[test]
fn the_inverse_stft_reproduces_a_signal() {
    let signal: Vec<f32> = (0..5000).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
    for (n_fft, hop) in [(256, 64), (512, 128), (64, 32), (2048, 512)] {
        let stft = Stft::new(n_fft, hop);
        let back = stft.inverse(&stft.forward(&signal), signal.len());
        let norm = signal.iter().map(|s| s * s).sum::<f32>().sqrt();
        let error = signal.iter().zip(&back).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt() / norm;
        println!("n_fft {n_fft}, hop {hop}: relative round-trip error {error:.2e}");
        assert!(error < 1e-5, "n_fft {n_fft}, hop {hop}: relative error {error}");
    }
}

#[test]
fn griffin_lim_recovers_a_signal_with_the_magnitude_asked_for() {
    let signal: Vec<f32> = sweep(200.0, 2000.0, 1.0).iter().zip(chord_bursts(1.0)).map(|(a, b)| a + b).collect();
    let stft = Stft::new(256, 64);
    let magnitude = stft.forward(&signal).magnitude();
    let random_phase = stft.spectral_convergence(&stft.griffin_lim(&magnitude, signal.len(), 0, 3, None), &magnitude);
    let recovered = stft.griffin_lim(&magnitude, signal.len(), 100, 3, None);
    let convergence = stft.spectral_convergence(&recovered, &magnitude);
    println!("spectral convergence: {random_phase:.3} from a random phase, {convergence:.4} after 100 iterations");
    assert!(convergence < 0.1 && convergence < random_phase / 5.0, "{convergence} (random phase: {random_phase})");
}

#[test]
fn wav_files_of_every_sample_format_read_as_mono() {
    let dir = temp("wav");
    let tone: Vec<f32> = (0..800).map(|i| 0.5 * (i as f32 * 0.05).sin()).collect();
    let formats = [(16, hound::SampleFormat::Int), (24, hound::SampleFormat::Int), (32, hound::SampleFormat::Float)];
    for (bits, format) in formats {
        for channels in [1u16, 2] {
            let path = dir.join(format!("tone{bits}_{channels}.wav"));
            let spec = hound::WavSpec { channels, sample_rate: 8000, bits_per_sample: bits, sample_format: format };
            let mut writer = hound::WavWriter::create(&path, spec).unwrap();
            for &s in &tone {
                for c in 0..channels {
                    // The second channel is silent: the mix halves the tone.
                    let v = if c == 0 { s } else { 0.0 };
                    match format {
                        hound::SampleFormat::Float => writer.write_sample(v).unwrap(),
                        hound::SampleFormat::Int => {
                            writer.write_sample((v * ((1 << (bits - 1)) - 1) as f32) as i32).unwrap()
                        }
                    }
                }
            }
            writer.finalize().unwrap();
            let audio = read_wav(&path).unwrap();
            assert_eq!((audio.samples.len(), audio.sample_rate), (800, 8000));
            let expected = 0.5 / channels as f32;
            let peak = audio.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
            assert!((peak - expected).abs() < 1e-3, "{bits}-bit {channels} channels: peak {peak}");
        }
    }
    // Written and read back (16-bit), clipped beyond ±1.
    let path = dir.join("out.wav");
    write_wav(&path, &Audio { samples: vec![0.25, -2.0, 2.0], sample_rate: 8000 }).unwrap();
    let back = read_wav(&path).unwrap().samples;
    assert!((back[0] - 0.25).abs() < 1e-4 && back[1] <= -0.999 && back[2] >= 0.999, "{back:?}");
    // Bad files, each named in one line.
    std::fs::write(dir.join("text.wav"), "not audio").unwrap();
    let empty = dir.join("empty.wav");
    hound::WavWriter::create(
        &empty,
        hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int },
    )
    .unwrap()
    .finalize()
    .unwrap();
    for (name, needle) in
        [("text.wav", "not a readable WAV file"), ("empty.wav", "has no samples"), ("none.wav", "cannot read")]
    {
        let message = read_wav(&dir.join(name)).unwrap_err().to_string();
        assert!(message.contains(name) && message.contains(needle) && !message.contains('\n'), "{message}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn resampling_keeps_the_pitch_and_the_duration() {
    let n = 44100;
    let tone: Vec<f32> = (0..n).map(|i| (std::f32::consts::TAU * 440.0 * i as f32 / 44100.0).sin()).collect();
    let down = resample(&Audio { samples: tone, sample_rate: 44100 }, 22050).unwrap();
    assert!((down.samples.len() as i64 - 22050).abs() < 64, "{} samples", down.samples.len());
    // Zero crossings of a 440 Hz tone: 880 a second.
    let crossings = down.samples.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    assert!((crossings as i64 - 880).abs() < 10, "{crossings} crossings");
}

/// The spectral centroid (in bins) of each frame of a `bins × frames` map.
fn centroids(values: &[f32], bins: usize, frames: usize) -> Vec<f64> {
    (0..frames)
        .map(|t| {
            let (mut weighted, mut total) = (0f64, 1e-9f64);
            for b in 0..bins {
                let v = values[b * frames + t] as f64;
                weighted += v * b as f64;
                total += v;
            }
            weighted / total
        })
        .collect()
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let norm = |v: &[f64], m: f64| v.iter().map(|x| (x - m).powi(2)).sum::<f64>().sqrt();
    cov / (norm(a, ma) * norm(b, mb))
}

#[test]
fn a_sweep_in_the_style_of_a_chord_keeps_its_time_course_and_takes_the_chords_statistics() {
    let (content, style) = (sweep(300.0, 2400.0, 1.0), chord_bursts(1.0));
    let stft = Stft::new(256, 64);
    let config = AudioConfig { filters: 256, iterations: 40, seed: 5, ..AudioConfig::default() };
    let run = |config: AudioConfig| transfer(config, &stft, Some(&content), &style, 0, 30, |_| Ok(())).unwrap();
    let result = run(config.clone());
    assert_eq!(result.samples.len(), content.len());
    // Gram statistics: the result's nearer the style's than the content's.
    let model = AudioStyle::new(config.clone(), stft.bins()).unwrap();
    let spectrogram_of = |signal: &[f32]| {
        let s = stft.forward(signal);
        log_spectrogram(&s.magnitude(), s.bins, s.frames)
    };
    let gram = |s: &tensor::Tensor| model.gram(s).unwrap();
    let distance = |a: &tensor::Tensor, b: &tensor::Tensor| a.sub(b).square().mean_all().to_scalar().sqrt();
    let (g_result, g_style, g_content) =
        (gram(&result.spectrogram), gram(&spectrogram_of(&style)), gram(&spectrogram_of(&content)));
    let (to_style, to_content) = (distance(&g_result, &g_style), distance(&g_result, &g_content));
    // Time structure: the result's spectral centroid follows the sweep's.
    let frames = stft.frames(content.len());
    let follows = correlation(
        &centroids(&result.spectrogram.to_vec::<f32>(), stft.bins(), frames),
        &centroids(&spectrogram_of(&content).to_vec::<f32>(), stft.bins(), frames),
    );
    println!(
        "Gram distance to the style {to_style:.4e}, to the content {to_content:.4e}; centroid correlation with the content {follows:.3}; Griffin-Lim convergence {:.3}",
        result.spectral_convergence
    );
    assert!(to_style < to_content / 2.0, "Gram distance {to_style} to the style, {to_content} to the content");
    assert!(follows > 0.7, "centroid correlation {follows}");
    // The seed decides everything: the same one gives the same samples.
    let again = run(config.clone());
    assert!(result.samples.iter().zip(&again.samples).all(|(a, b)| a.to_bits() == b.to_bits()));
    let other = run(AudioConfig { seed: 6, ..config });
    assert!(result.samples != other.samples);
}
