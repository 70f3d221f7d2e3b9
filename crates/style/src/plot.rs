//! Loss curves as a PNG: one coloured polyline per series over a shared x
//! axis, y on a log scale, decade ticks, a legend. Text is drawn with a tiny
//! built-in bitmap font, so the plot needs nothing beyond the `image` crate.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::error::{Result, StyleError};

/// One named curve.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// `(x, y)` points in order of x.
    pub points: Vec<(f64, f64)>,
}

const WIDTH: u32 = 900;
const HEIGHT: u32 = 540;
const LEFT: i64 = 80;
const RIGHT: i64 = 30;
const TOP: i64 = 40;
const BOTTOM: i64 = 50;
const SCALE: i64 = 2;
const COLOURS: [[u8; 3]; 8] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [148, 103, 189],
    [255, 127, 14],
    [23, 190, 207],
    [140, 86, 75],
    [0, 0, 0],
];

/// 3×5 glyphs (digits, capitals, a little punctuation; lower case is drawn
/// as capitals), one row of three bits per entry, top row first.
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '-' => [0, 0, 7, 0, 0],
        '.' => [0, 0, 0, 0, 2],
        '(' => [2, 4, 4, 4, 2],
        ')' => [2, 1, 1, 1, 2],
        '/' => [1, 1, 2, 4, 4],
        ':' => [0, 2, 0, 2, 0],
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'C' => [3, 4, 4, 4, 3],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'G' => [3, 4, 5, 5, 3],
        'H' => [5, 5, 7, 5, 5],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 2],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [2, 5, 5, 5, 2],
        'P' => [6, 5, 6, 4, 4],
        'Q' => [2, 5, 5, 7, 3],
        'R' => [6, 5, 6, 5, 5],
        'S' => [3, 4, 2, 1, 6],
        'T' => [7, 2, 2, 2, 2],
        'U' => [5, 5, 5, 5, 7],
        'V' => [5, 5, 5, 5, 2],
        'W' => [5, 5, 7, 7, 5],
        'X' => [5, 5, 2, 5, 5],
        'Y' => [5, 5, 2, 2, 2],
        'Z' => [7, 1, 2, 4, 7],
        _ => [0; 5],
    }
}

fn put(img: &mut RgbImage, x: i64, y: i64, colour: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, Rgb(colour));
    }
}

pub(crate) fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, colour: [u8; 3]) {
    for (k, c) in s.chars().enumerate() {
        let rows = glyph(c);
        for (r, bits) in rows.iter().enumerate() {
            for col in 0..3 {
                if bits >> (2 - col) & 1 == 1 {
                    for dy in 0..SCALE {
                        for dx in 0..SCALE {
                            put(img, x + (k as i64 * 4 + col) * SCALE + dx, y + r as i64 * SCALE + dy, colour);
                        }
                    }
                }
            }
        }
    }
}

fn text_width(s: &str) -> i64 {
    s.chars().count() as i64 * 4 * SCALE
}

/// Bresenham's line, two pixels thick.
fn line(img: &mut RgbImage, (x0, y0): (i64, i64), (x1, y1): (i64, i64), colour: [u8; 3]) {
    let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
    let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
    let (mut x, mut y, mut err) = (x0, y0, dx + dy);
    loop {
        put(img, x, y, colour);
        put(img, x, y + 1, colour);
        if x == x1 && y == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

/// A short label for a tick value.
fn tick_label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor() as i32;
    if (-2..=4).contains(&magnitude) {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.0e}")
    }
}

/// Draws `series` (y on a log10 scale; non-positive values are skipped) and
/// writes the PNG atomically.
pub fn plot_curves(path: &Path, title: &str, x_label: &str, series: &[Series]) -> Result<()> {
    let write_error = |detail: String| StyleError::WriteImage { path: path.to_path_buf(), detail };
    let points =
        series.iter().flat_map(|s| s.points.iter()).filter(|(x, y)| x.is_finite() && y.is_finite() && *y > 0.0);
    let (mut x_min, mut x_max, mut y_min, mut y_max) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_min = y_min.min(y.log10());
        y_max = y_max.max(y.log10());
    }
    if x_min > x_max {
        return Err(write_error("no positive, finite values to plot".into()));
    }
    if x_max == x_min {
        x_max = x_min + 1.0;
    }
    let (y_lo, y_hi) = (y_min.floor(), y_max.ceil().max(y_min.floor() + 1.0));
    let mut img = RgbImage::from_pixel(WIDTH, HEIGHT, Rgb([255, 255, 255]));
    let (w, h) = (WIDTH as i64, HEIGHT as i64);
    let to_px = |x: f64, y: f64| {
        let px = LEFT + ((x - x_min) / (x_max - x_min) * (w - LEFT - RIGHT) as f64).round() as i64;
        let py = h - BOTTOM - ((y.log10() - y_lo) / (y_hi - y_lo) * (h - TOP - BOTTOM) as f64).round() as i64;
        (px, py)
    };
    let (grey, black) = ([220, 220, 220], [0, 0, 0]);
    // Decade grid and labels.
    let mut decade = y_lo;
    while decade <= y_hi + 1e-9 {
        let (_, py) = to_px(x_min, 10f64.powf(decade));
        line(&mut img, (LEFT, py), (w - RIGHT, py), grey);
        let label = tick_label(10f64.powf(decade));
        text(&mut img, LEFT - 8 - text_width(&label), py - 5, &label, black);
        decade += 1.0;
    }
    for k in 0..=5 {
        let x = x_min + (x_max - x_min) * k as f64 / 5.0;
        let (px, _) = to_px(x, 10f64.powf(y_lo));
        line(&mut img, (px, TOP), (px, h - BOTTOM), grey);
        let label = tick_label(if x_max - x_min >= 10.0 { x.round() } else { x });
        text(&mut img, px - text_width(&label) / 2, h - BOTTOM + 8, &label, black);
    }
    line(&mut img, (LEFT, TOP), (LEFT, h - BOTTOM), black);
    line(&mut img, (LEFT, h - BOTTOM), (w - RIGHT, h - BOTTOM), black);
    text(&mut img, LEFT, 12, title, black);
    text(&mut img, (w - text_width(x_label)) / 2, h - 20, x_label, black);
    // Curves and legend.
    for (k, s) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let mut previous = None;
        for &(x, y) in &s.points {
            if !(x.is_finite() && y.is_finite() && y > 0.0) {
                previous = None;
                continue;
            }
            let p = to_px(x, y);
            if let Some(q) = previous {
                line(&mut img, q, p, colour);
            }
            previous = Some(p);
        }
        let (lx, ly) = (w - RIGHT - 200, TOP + 10 + k as i64 * 18);
        line(&mut img, (lx, ly + 5), (lx + 24, ly + 5), colour);
        text(&mut img, lx + 32, ly, &s.name, black);
    }
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| write_error(e.to_string()))?;
    nn::io::write_atomically(path, |f| std::io::Write::write_all(f, &bytes)).map_err(|e| write_error(e.to_string()))
}
