//! Audio style transfer and texture synthesis (Ulyanov & Lebedev 2016):
//! WAV files and resampling ([`wav`]), the STFT, its inverse and Griffin–Lim
//! ([`stft`]), the random-filter spectral model optimised on our engine
//! ([`transfer`]) and spectrogram pictures ([`picture`]).

pub mod picture;
pub mod stft;
pub mod transfer;
pub mod wav;
