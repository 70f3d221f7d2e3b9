//! `fresco score` on generated images and a tiny VGG: the content image
//! itself has no content loss, a table and JSON lines carry the same
//! numbers, and a bad file is named while the others are still scored.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};
#[path = "support/cli.rs"]
mod cli;

use nn::VggKind;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fresco-score-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tiny_weights(dir: &Path) -> PathBuf {
    cli::tiny_vgg(dir, VggKind::Vgg16, [6; 5])
}

fn score(dir: &Path, images: &[&Path], extra: &[&str]) -> Output {
    let (content, style) = (dir.join("content.png"), dir.join("style.png"));
    // A ramp with dark blocks: edges for the Laplacian to find.
    RgbImage::from_fn(40, 30, |x, y| {
        if (x / 6 + y / 5) % 3 == 0 {
            Rgb([20, 30, 40])
        } else {
            Rgb([(x * 6) as u8, (y * 8) as u8, 100])
        }
    })
    .save(&content)
    .unwrap();
    RgbImage::from_fn(32, 32, |x, y| if (x / 4 + y / 4) % 2 == 0 { Rgb([240, 200, 20]) } else { Rgb([20, 40, 160]) })
        .save(&style)
        .unwrap();
    let weights = tiny_weights(dir);
    let mut command = Command::new(env!("CARGO_BIN_EXE_fresco"));
    command.arg("score").arg("--content").arg(&content).arg("--style").arg(&style).arg("--weights").arg(&weights);
    command.args(["--size", "32"]).args(extra).args(images);
    command.env("FRESCO_OFFLINE", "1").output().unwrap()
}

#[test]
fn the_content_image_has_no_content_loss_and_the_style_image_less_style_loss() {
    let dir = temp("rows");
    let out = score(&dir, &[&dir.join("content.png"), &dir.join("style.png")], &["--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 2, "{text}");
    let field = |row: &str, name: &str| -> f64 {
        let start = row.find(&format!("\"{name}\":")).unwrap() + name.len() + 3;
        row[start..].split([',', '}']).next().unwrap().parse().unwrap()
    };
    assert!(rows[0].starts_with("{\"image\":\"") && rows[0].contains("\"width\":32,\"height\":24"), "{}", rows[0]);
    assert_eq!(field(rows[0], "content"), 0.0);
    assert!(field(rows[1], "style") < field(rows[0], "style"), "{text}");
    let total = field(rows[0], "content") + field(rows[0], "style") + field(rows[0], "tv");
    assert!((field(rows[0], "total") - total).abs() < 1e-4 * total.max(1.0));
    // The content keeps all of its own detail; the style image little of it.
    assert!((field(rows[0], "laplacian_correlation") - 1.0).abs() < 1e-6, "{text}");
    assert!(field(rows[1], "laplacian_correlation") < 0.5, "{text}");
    assert_eq!((field(rows[0], "laplacian"), field(rows[0], "histogram")), (0.0, 0.0));
    // With the detail terms on, the style image pays for the content's
    // edges, and the content for the style's distributions.
    let args = ["--json", "--laplacian-weight", "2", "--histogram-weight", "3"];
    let out = score(&dir, &[&dir.join("content.png"), &dir.join("style.png")], &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    // (The style image's own features, cast to f32 and back, match exactly.)
    assert_eq!((field(rows[0], "laplacian"), field(rows[1], "histogram")), (0.0, 0.0), "{text}");
    assert!(field(rows[0], "histogram") > 0.0 && field(rows[1], "laplacian") > 0.0, "{text}");
}

#[test]
fn masks_score_a_styles_region_and_bad_masks_are_named() {
    let dir = temp("masks");
    let left = dir.join("left.png");
    RgbImage::from_fn(40, 30, |x, _| if x < 20 { Rgb([255, 255, 255]) } else { Rgb([0, 0, 0]) }).save(&left).unwrap();
    let out = score(&dir, &[&dir.join("content.png")], &["--json", "--style-mask", left.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A mask painted on a layer: transparent is "no", whatever its colour.
    let layer = dir.join("layer.png");
    image::RgbaImage::from_fn(
        40,
        30,
        |x, _| if x < 20 { image::Rgba([255; 4]) } else { image::Rgba([255, 255, 255, 0]) },
    )
    .save(&layer)
    .unwrap();
    let on_layer = score(&dir, &[&dir.join("content.png")], &["--json", "--style-mask", layer.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&on_layer.stdout), String::from_utf8_lossy(&out.stdout));
    let (square, black) = (dir.join("square.png"), dir.join("black.png"));
    RgbImage::from_pixel(30, 30, Rgb([255, 255, 255])).save(&square).unwrap();
    RgbImage::from_pixel(40, 30, Rgb([0, 0, 0])).save(&black).unwrap();
    for (masks, says) in [
        (vec![&square], "square.png: 30x30 does not have the shape of the content image (40x30)"),
        (vec![&black], "black.png: its lightest pixel is 0% grey"),
        (vec![&left, &left], "2 masks for 1 style image;"),
    ] {
        let args: Vec<&str> = masks.iter().flat_map(|m| ["--style-mask", m.to_str().unwrap()]).collect();
        let out = score(&dir, &[&dir.join("content.png")], &args);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says) && stderr.trim().lines().count() == 1, "{stderr}");
    }
}

#[test]
fn a_bad_image_is_named_and_the_others_are_scored() {
    let dir = temp("bad");
    let broken = dir.join("broken.png");
    std::fs::write(&broken, b"not a picture").unwrap();
    let out = score(&dir, &[&broken, &dir.join("content.png")], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l.contains("content.png") && l.contains("32x24")), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.png") && stderr.contains("1 of 2 images"), "{stderr}");
}

#[test]
fn a_blend_that_does_not_match_the_styles_is_refused() {
    let dir = temp("blend");
    let out = score(&dir, &[&dir.join("content.png")], &["--style-blend", "1,2"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 weights for 1 style images"), "{stderr}");
}
