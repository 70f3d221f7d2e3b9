//! Log spectrograms as one picture: panels side by side (content, style,
//! result), time to the right, frequency upwards on a logarithmic axis (as
//! the ear hears pitch: each octave gets the same height, so the lowest
//! kilohertz is not squeezed into a few rows), one colour scale shared by
//! all panels so their loudness compares.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::error::{Result, StyleError};
use crate::plot::text;

/// Rows of a panel: the frequency bins are averaged down to this many.
const PANEL_HEIGHT: usize = 256;
/// Most columns of a panel: longer spectrograms are sampled down to this.
const PANEL_WIDTH: usize = 480;
const GAP: usize = 8;
const LABEL: usize = 18;

/// A dark-to-bright colour ramp (black, purple, red, orange, pale yellow).
fn colour(t: f32) -> Rgb<u8> {
    const STOPS: [[f32; 3]; 5] =
        [[0.0, 0.0, 0.02], [0.32, 0.07, 0.45], [0.76, 0.19, 0.35], [0.98, 0.55, 0.16], [0.99, 0.99, 0.75]];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let (i, f) = ((x.floor() as usize).min(STOPS.len() - 2), x - x.floor());
    let mix = |c: usize| ((STOPS[i][c] * (1.0 - f) + STOPS[i + 1][c] * f) * 255.0).round() as u8;
    Rgb([mix(0), mix(1), mix(2)])
}

/// Writes `panels` (each a name and a `bins × frames` row-major log
/// spectrogram) side by side as a PNG, atomically.
///
/// # Errors
/// When the file cannot be encoded or written (naming it).
pub fn write_spectrograms(path: &Path, panels: &[(&str, &[f32], usize, usize)]) -> Result<()> {
    let peak = panels.iter().flat_map(|(_, v, _, _)| v.iter()).fold(1e-6f32, |m, &v| m.max(v));
    // Short clips are drawn two columns a frame, long ones sampled down.
    let widths: Vec<usize> = panels.iter().map(|&(_, _, _, frames)| (2 * frames).clamp(1, PANEL_WIDTH)).collect();
    let width = widths.iter().sum::<usize>() + GAP * (panels.len() + 1);
    let height = PANEL_HEIGHT + LABEL + GAP;
    let mut picture = RgbImage::from_pixel(width as u32, height as u32, Rgb([255, 255, 255]));
    let mut left = GAP;
    for (&(name, values, bins, frames), &panel_width) in panels.iter().zip(&widths) {
        text(&mut picture, left as i64, 4, name, [0, 0, 0]);
        for column in 0..panel_width {
            let frame = column * frames / panel_width;
            for row in 0..PANEL_HEIGHT {
                // Row 0 is the top: the highest frequencies. Band edges run
                // geometrically from bin 1 to the last bin.
                let band = PANEL_HEIGHT - 1 - row;
                let edge = |k: usize| ((bins as f64).powf(k as f64 / PANEL_HEIGHT as f64)).floor() as usize;
                let (low, high) = (edge(band).min(bins - 1), edge(band + 1).clamp(edge(band) + 1, bins));
                let mean = (low..high.max(low + 1)).map(|b| values[b * frames + frame]).sum::<f32>()
                    / (high.max(low + 1) - low) as f32;
                // A square-root scale shows the quiet parts as well.
                picture.put_pixel((left + column) as u32, (LABEL + row) as u32, colour((mean / peak).sqrt()));
            }
        }
        left += panel_width + GAP;
    }
    let mut bytes = Vec::new();
    picture
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| StyleError::WriteImage { path: path.to_path_buf(), detail: e.to_string() })?;
    nn::io::write_atomically(path, |file| std::io::Write::write_all(file, &bytes))
        .map_err(|e| StyleError::WriteImage { path: path.to_path_buf(), detail: e.to_string() })
}
