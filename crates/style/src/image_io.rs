//! Images to and from tensors: `[1, 3, H, W]` f32 RGB in 0–1.
//!
//! Reading shows an image as a viewer does: the EXIF orientation (phones
//! store portraits sideways and say so in a tag) is applied, and transparent
//! pixels are composited over white. Writing picks the format from the file's
//! extension, checks it before any work is done ([`check_writable_format`]),
//! and is atomic: the file is complete or absent.

use std::io::Cursor;
use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Rgb32FImage, RgbImage};
use tensor::{DType, Tensor};

use crate::error::{Result, StyleError};

/// Reads an image as upright RGB (EXIF orientation applied, transparency
/// over white), resized (Lanczos) so its longest side is `longest_side` when
/// given.
///
/// # Errors
/// [`StyleError::ReadImage`], naming the file: missing, unreadable, of a
/// format this build cannot decode, corrupt, or empty.
pub fn load_image(path: &Path, longest_side: Option<usize>) -> Result<Tensor> {
    let tensor = from_dynamic(&decode(path)?);
    Ok(match longest_side {
        Some(side) => resize_longest(&tensor, side),
        None => tensor,
    })
}

/// A mask image as `[1, 3, H, W]` with the same grey level in every channel:
/// the mean of its colour channels, times its alpha where it has one (a
/// transparent pixel is "no", where [`load_image`] would lay it over white).
///
/// # Errors
/// As [`load_image`].
pub fn load_mask(path: &Path) -> Result<Tensor> {
    let rgba = decode(path)?.to_rgba32f();
    let (w, h) = (rgba.width() as usize, rgba.height() as usize);
    let raw = rgba.as_raw();
    Ok(Tensor::from_fn(&[1, 3, h, w], DType::F32, |i| {
        let p = &raw[(i % (h * w)) * 4..][..4];
        let grey = (p[0].clamp(0.0, 1.0) + p[1].clamp(0.0, 1.0) + p[2].clamp(0.0, 1.0)) / 3.0;
        (grey * p[3].clamp(0.0, 1.0)) as f64
    }))
}

/// Reads and decodes `path` (a non-empty image, upright).
fn decode(path: &Path) -> Result<DynamicImage> {
    let read_error = |detail: String| StyleError::ReadImage { path: path.to_path_buf(), detail };
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
        return Err(read_error("the file is empty (0 bytes)".into()));
    }
    let reader = ImageReader::open(path).map_err(|e| read_error(e.to_string()))?;
    let reader = reader.with_guessed_format().map_err(|e| read_error(e.to_string()))?;
    if reader.format().is_none() {
        return Err(read_error(
            "unrecognised image format (this build reads PNG, JPEG, BMP, GIF, TIFF, WebP and PPM)".into(),
        ));
    }
    // The decoders are third-party code fed strangers' bytes: a panic in one
    // is reported as this file's error, not a crash.
    let decoded = std::panic::catch_unwind(|| decode_upright(reader))
        .unwrap_or_else(|_| Err("the decoder failed on this file (damaged?)".to_string()))
        .map_err(read_error)?;
    if decoded.width() == 0 || decoded.height() == 0 {
        return Err(read_error("the image is empty".into()));
    }
    Ok(decoded)
}

/// Decodes with the image crate's default limits (at most 512 MiB of
/// decoded pixels, checked against the header before anything is
/// allocated) and applies the EXIF orientation.
fn decode_upright(reader: ImageReader<std::io::BufReader<std::fs::File>>) -> std::result::Result<DynamicImage, String> {
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let (w, h) = decoder.dimensions();
    image::Limits::default().reserve(decoder.total_bytes()).map_err(|_| {
        format!("{w}x{h} pixels need more than the 512 MiB this reader allows; scale the image down first")
    })?;
    // A damaged EXIF block is no reason to refuse the pixels: read them as stored.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut decoded = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    decoded.apply_orientation(orientation);
    Ok(decoded)
}

/// The image as a tensor; an alpha channel is composited over white
/// (`rgb·α + (1 − α)`), which is how most viewers show a transparent picture
/// on a page.
fn from_dynamic(image: &DynamicImage) -> Tensor {
    if !image.color().has_alpha() {
        return from_rgb(&image.to_rgb32f());
    }
    let rgba = image.to_rgba32f();
    let (w, h) = (rgba.width() as usize, rgba.height() as usize);
    let raw = rgba.as_raw();
    Tensor::from_fn(&[1, 3, h, w], DType::F32, |i| {
        let (c, pixel) = (i / (h * w), i % (h * w));
        let alpha = raw[pixel * 4 + 3].clamp(0.0, 1.0);
        (raw[pixel * 4 + c].clamp(0.0, 1.0) * alpha + (1.0 - alpha)) as f64
    })
}

fn from_rgb(image: &Rgb32FImage) -> Tensor {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw = image.as_raw();
    Tensor::from_fn(&[1, 3, h, w], DType::F32, |i| {
        let (c, pixel) = (i / (h * w), i % (h * w));
        raw[pixel * 3 + c].clamp(0.0, 1.0) as f64
    })
}

fn to_rgb(t: &Tensor) -> Rgb32FImage {
    let (h, w) = (t.shape()[2], t.shape()[3]);
    let values = t.to_dtype(DType::F32).to_vec::<f32>();
    let mut raw = vec![0.0f32; 3 * h * w];
    for c in 0..3 {
        for p in 0..h * w {
            raw[p * 3 + c] = values[c * h * w + p];
        }
    }
    Rgb32FImage::from_raw(w as u32, h as u32, raw).expect("buffer of 3·w·h values")
}

/// The height and width that give `longest_side` with `image`'s aspect ratio.
pub fn scaled_dims(height: usize, width: usize, longest_side: usize) -> (usize, usize) {
    let scale = longest_side as f64 / height.max(width) as f64;
    (((height as f64 * scale).round() as usize).max(1), ((width as f64 * scale).round() as usize).max(1))
}

/// The size of a `height × width` image scaled, with one factor for both
/// sides, so that its longest side is `longest_side` — or, for an image so
/// elongated that its shorter side would then fall under `min_side`, so
/// that the shorter side is `min_side` (the longest side is then larger).
pub fn fit_dims(height: usize, width: usize, longest_side: usize, min_side: usize) -> (usize, usize) {
    let (h, w) = (height.max(1) as f64, width.max(1) as f64);
    let scale = (longest_side as f64 / h.max(w)).max(min_side as f64 / h.min(w));
    let side = |v: f64| ((v * scale).round() as usize).max(min_side).max(1);
    (side(h), side(w))
}

/// `image` (`[1, 3, H, W]`) resized to `height × width` (Lanczos, or
/// Catmull-Rom when enlarging).
pub fn resize(image: &Tensor, height: usize, width: usize) -> Tensor {
    let (h, w) = (image.shape()[2], image.shape()[3]);
    if (h, w) == (height, width) {
        return image.to_dtype(DType::F32);
    }
    let filter = if height < h { FilterType::Lanczos3 } else { FilterType::CatmullRom };
    from_rgb(&image::imageops::resize(&to_rgb(image), width as u32, height as u32, filter))
}

/// `image` resized so its longest side is `longest_side`.
pub fn resize_longest(image: &Tensor, longest_side: usize) -> Tensor {
    let (h, w) = scaled_dims(image.shape()[2], image.shape()[3], longest_side);
    resize(image, h, w)
}

/// The image formats this build writes, by extension, each with the longest
/// side its encoder accepts.
pub const WRITABLE_FORMATS: [(ImageFormat, &str, u32); 7] = [
    (ImageFormat::Png, "png", u32::MAX),
    (ImageFormat::Jpeg, "jpg", 65_535),
    (ImageFormat::Bmp, "bmp", i32::MAX as u32),
    (ImageFormat::Gif, "gif", 65_535),
    (ImageFormat::Tiff, "tif", u32::MAX),
    (ImageFormat::WebP, "webp", 16_383),
    (ImageFormat::Pnm, "ppm", u32::MAX),
];

/// The format `path`'s extension names, provided this build can write it
/// and at `longest_side` pixels when given: checked before a run starts, so
/// that a result is never lost to an unwritable name at the end.
///
/// # Errors
/// [`StyleError::WriteImage`] naming the file: no extension, an extension
/// that names no image format, a format this build reads but cannot write,
/// or a side the format cannot hold.
pub fn check_writable_format(path: &Path, longest_side: Option<usize>) -> Result<ImageFormat> {
    let write_error = |detail: String| StyleError::WriteImage { path: path.to_path_buf(), detail };
    let names = || WRITABLE_FORMATS.iter().map(|(_, ext, _)| *ext).collect::<Vec<_>>().join(", ");
    let format = ImageFormat::from_path(path)
        .map_err(|_| write_error(format!("unknown image format; use one of the extensions {}", names())))?;
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let Some(&(_, _, max_side)) =
        WRITABLE_FORMATS.iter().find(|(f, e, _)| *f == format && (format != ImageFormat::Pnm || ext == *e))
    else {
        return Err(write_error(format!("this build cannot write .{ext} images; use one of {}", names())));
    };
    if let Some(side) = longest_side.filter(|&s| s as u64 > max_side as u64) {
        return Err(write_error(format!(
            "{format:?} holds at most {max_side} px per side and this output is {side} px; use .png"
        )));
    }
    Ok(format)
}

/// Writes `image` (`[1, 3, H, W]`, clamped to 0–1) in the format its
/// extension names (JPEG at quality 92), atomically: the file is complete
/// or absent.
///
/// # Errors
/// [`StyleError::WriteImage`] naming the file: an unwritable format, an
/// encoder error, or an I/O error such as a full disk.
pub fn save_image(path: &Path, image: &Tensor) -> Result<()> {
    let write_error = |detail: String| StyleError::WriteImage { path: path.to_path_buf(), detail };
    let longest = image.shape()[2].max(image.shape()[3]);
    let format = check_writable_format(path, Some(longest))?;
    let rgb: RgbImage = DynamicImage::ImageRgb32F(to_rgb(image)).to_rgb8();
    let mut bytes = Vec::new();
    let encoded = if format == ImageFormat::Jpeg {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 92);
        rgb.write_with_encoder(encoder)
    } else if format == ImageFormat::Pnm {
        // A binary PPM (P6), which every reader knows; the encoder's default
        // for RGB is PAM (P7).
        use image::codecs::pnm::{PnmEncoder, PnmSubtype, SampleEncoding};
        rgb.write_with_encoder(PnmEncoder::new(&mut bytes).with_subtype(PnmSubtype::Pixmap(SampleEncoding::Binary)))
    } else {
        rgb.write_to(&mut Cursor::new(&mut bytes), format)
    };
    encoded.map_err(|e| write_error(e.to_string()))?;
    nn::io::write_atomically(path, |file| std::io::Write::write_all(file, &bytes))
        .map_err(|e| write_error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(h: usize, w: usize) -> Tensor {
        Tensor::from_fn(&[1, 3, h, w], DType::F32, |i| (i % 97) as f64 / 97.0)
    }

    #[test]
    fn every_format_accepted_up_front_is_written_and_read_back() {
        let dir = std::env::temp_dir().join(format!("fresco-image-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (format, ext, _) in WRITABLE_FORMATS {
            let path = dir.join(format!("out.{ext}"));
            assert_eq!(check_writable_format(&path, Some(40)).unwrap(), format);
            save_image(&path, &gradient(30, 40)).unwrap_or_else(|e| panic!("{ext}: {e}"));
            if ext == "ppm" {
                assert_eq!(&std::fs::read(&path).unwrap()[..2], b"P6", "a binary PPM, not PAM");
            }
            let back = load_image(&path, None).unwrap_or_else(|e| panic!("{ext}: {e}"));
            assert_eq!(back.shape(), &[1, 3, 30, 40], "{ext}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn unwritable_names_are_refused_with_the_file_named() {
        for name in ["out.ico", "out.xyz", "out", "out.hdr", "out.pbm"] {
            let message = check_writable_format(Path::new(name), None).unwrap_err().to_string();
            assert!(message.starts_with(name), "{message}");
        }
        let message = check_writable_format(Path::new("big.webp"), Some(20_000)).unwrap_err().to_string();
        assert!(message.contains("16383"), "{message}");
    }

    #[test]
    fn fit_dims_keeps_the_aspect_ratio_and_the_least_side() {
        assert_eq!(fit_dims(400, 600, 48, 16), (32, 48));
        assert_eq!(fit_dims(20, 600, 48, 16), (16, 480));
        assert_eq!(fit_dims(1, 1, 48, 16), (48, 48));
        assert_eq!(fit_dims(600, 1, 48, 16), (9600, 16));
    }
}
