//! WAV files in and out (through `hound`) and sample-rate conversion
//! (through `rubato`): what the spectral model needs around it. Samples are
//! mono `f32` in −1…1.

use std::path::Path;

use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::error::{Result, StyleError};

fn audio_error(path: &Path, detail: impl Into<String>) -> StyleError {
    StyleError::Audio { path: path.to_path_buf(), detail: detail.into() }
}

/// A mono recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    /// Samples in −1…1.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

impl Audio {
    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}

/// Reads a WAV file: 8-, 16-, 24- or 32-bit integer or 32-bit float
/// samples, any number of channels, mixed down to mono by their mean (so a
/// stereo pair in opposite phase mixes to silence; a trailing partial frame
/// is dropped).
///
/// # Errors
/// One line naming the file: unreadable, not a WAV file, corrupt, or
/// without samples.
pub fn read_wav(path: &Path) -> Result<Audio> {
    let unsupported = "an encoding not read here (8-32-bit integer and 32-bit float PCM are); convert it with `ffmpeg -i IN -c:a pcm_f32le OUT.wav`";
    let mut reader = hound::WavReader::open(path).map_err(|e| match e {
        hound::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            audio_error(path, "truncated: the WAV header ends early")
        }
        hound::Error::IoError(io) => audio_error(path, format!("cannot read: {io}")),
        hound::Error::Unsupported => audio_error(path, unsupported),
        other => audio_error(path, format!("not a readable WAV file: {other}")),
    })?;
    let spec = reader.spec();
    let channels = spec.channels.max(1) as usize;
    let interleaved: std::result::Result<Vec<f32>, hound::Error> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect()
        }
    };
    let interleaved = interleaved.map_err(|e| match e {
        hound::Error::Unsupported | hound::Error::TooWide => audio_error(path, unsupported),
        other => audio_error(path, format!("corrupt WAV data: {other}")),
    })?;
    let samples: Vec<f32> =
        interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32).collect();
    if samples.is_empty() {
        return Err(audio_error(path, "has no samples"));
    }
    if samples.iter().any(|s| !s.is_finite()) {
        return Err(audio_error(path, "holds samples that are not finite numbers"));
    }
    Ok(Audio { samples, sample_rate: spec.sample_rate })
}

/// Writes mono 16-bit PCM, atomically (the file is complete or absent).
/// Samples beyond −1…1 are clipped.
///
/// # Errors
/// One line naming the file.
pub fn write_wav(path: &Path, audio: &Audio) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: audio.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = std::io::Cursor::new(Vec::new());
    let encoded = (|| -> std::result::Result<(), hound::Error> {
        let mut writer = hound::WavWriter::new(&mut bytes, spec)?;
        for &s in &audio.samples {
            writer.write_sample((s.clamp(-1.0, 1.0) * i16::MAX as f32).round() as i16)?;
        }
        writer.finalize()
    })();
    encoded.map_err(|e| audio_error(path, format!("cannot encode: {e}")))?;
    nn::io::write_atomically(path, |file| std::io::Write::write_all(file, bytes.get_ref()))
        .map_err(|e| audio_error(path, format!("cannot write: {e}")))
}

/// `audio` at `sample_rate` (band-limited FFT resampling; a copy when the
/// rate is already right).
///
/// # Errors
/// When the resampler refuses the rates (either 0).
pub fn resample(audio: &Audio, sample_rate: u32) -> Result<Audio> {
    if audio.sample_rate == sample_rate {
        return Ok(audio.clone());
    }
    let failed = |e: String| StyleError::Setting { name: "resampling".into(), detail: e };
    let mut resampler = Fft::<f32>::new(audio.sample_rate as usize, sample_rate as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| failed(format!("{} Hz to {sample_rate} Hz: {e}", audio.sample_rate)))?;
    let input = SequentialSlice::new(&audio.samples[..], 1, audio.samples.len()).map_err(|e| failed(e.to_string()))?;
    let output = resampler.process_all(&input, audio.samples.len(), None).map_err(|e| failed(e.to_string()))?;
    Ok(Audio { samples: output.take_data(), sample_rate })
}
