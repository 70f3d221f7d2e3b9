//! `fresco gan train` and `fresco gan apply` end to end on generated photos
//! and a tiny network: the model, samples, checkpoints and log appear; apply
//! handles a file and a folder; bad inputs fail in one line.

use std::path::{Path, PathBuf};
use std::process::Output;

#[path = "support/cli.rs"]
mod cli;

use image::{Rgb, RgbImage};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fresco-gan-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fresco(args: &[&str], cache: &Path) -> Output {
    cli::fresco_offline(args, cache)
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Three photos and a painting, as files.
fn data(dir: &Path) -> (PathBuf, PathBuf) {
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    for k in 0..3u32 {
        RgbImage::from_fn(30 + 4 * k, 26, |x, y| Rgb([(x * 7 + k * 40) as u8, (y * 9) as u8, 90]))
            .save(photos.join(format!("p{k}.png")))
            .unwrap();
    }
    std::fs::write(photos.join("notes.txt"), "not an image, ignored").unwrap();
    let painting = dir.join("painting.png");
    RgbImage::from_fn(24, 24, |x, y| if (x / 3 + y / 3) % 2 == 0 { Rgb([240, 180, 20]) } else { Rgb([20, 30, 140]) })
        .save(&painting)
        .unwrap();
    (photos, painting)
}

const TINY: [&str; 16] = [
    "--steps",
    "4",
    "--batch-size",
    "2",
    "--crop-size",
    "16",
    "--width",
    "4",
    "--res-blocks",
    "1",
    "--disc-width",
    "4",
    "--disc-layers",
    "2",
    "--quiet",
    "--lr",
];

/// `gan train` with the tiny settings, an option of `extra` replacing the
/// tiny one of the same name.
fn train_args(photos: &Path, painting: &Path, model: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "gan".to_string(),
        "train".into(),
        "--style".into(),
        s(painting),
        "--content-dir".into(),
        s(photos),
        "-o".into(),
        s(model),
    ];
    let tiny = TINY.iter().copied().chain(["1e-3", "--train-size", "32"]).collect::<Vec<_>>();
    let mut k = 0;
    while k < tiny.len() {
        let takes_value = tiny.get(k + 1).is_some_and(|v| !v.starts_with("--"));
        if !extra.contains(&tiny[k]) {
            args.push(tiny[k].to_string());
            if takes_value {
                args.push(tiny[k + 1].to_string());
            }
        }
        k += if takes_value { 2 } else { 1 };
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

#[test]
fn train_then_apply_to_a_file_and_a_folder() {
    let dir = temp("run");
    let (photos, painting) = data(&dir);
    let model = dir.join("model.safetensors");
    let log = dir.join("train.jsonl");
    let card = dir.join("model.md");
    let sample = dir.join("unseen.png");
    RgbImage::from_fn(41, 23, |x, y| Rgb([(x * 5) as u8, 200, (y * 11) as u8])).save(&sample).unwrap();
    let extra = [
        "--sample-every",
        "2",
        "--checkpoint-every",
        "2",
        "--log",
        &s(&log),
        "--card",
        &s(&card),
        "--sample-image",
        &s(&sample),
    ];
    let args = train_args(&photos, &painting, &model, &extra);
    let out = fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(model.exists());
    assert!(dir.join("model-samples/step000002.png").exists() && dir.join("model-samples/step000004.png").exists());
    // The samples stylise the photo asked for, at the training size (32 px).
    let sample_out = image::open(dir.join("model-samples/step000004.png")).unwrap();
    assert_eq!((sample_out.width(), sample_out.height()), (32, 18));
    assert!(dir.join("model.checkpoint.safetensors").exists());
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 4);
    // The card names the photos, the steps and the command that made it.
    let card = std::fs::read_to_string(&card).unwrap();
    for needle in ["# model.safetensors", "p0.png, p1.png, p2.png", "| steps | 4 (batch 2, 16 px crops", "--card"] {
        assert!(card.contains(needle), "the card lacks {needle:?}:\n{card}");
    }
    assert!(!card.contains("notes.txt"));

    let single = dir.join("single.jpg");
    let out = fresco(
        &["gan", "apply", "--model", &s(&model), "--content", &s(&photos.join("p1.png")), "-o", &s(&single)],
        &dir,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let image = image::open(&single).unwrap();
    assert_eq!((image.width(), image.height()), (34, 26));

    let folder = dir.join("stylised");
    let out = fresco(&["gan", "apply", "--model", &s(&model), "--content", &s(&photos), "-o", &s(&folder)], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for k in 0..3 {
        assert!(folder.join(format!("p{k}.png")).exists());
    }
}

/// A run that fails at its first step leaves an earlier log of the same
/// name as it was (the log is opened at the first line, not truncated up
/// front).
#[test]
fn a_run_that_diverges_at_once_keeps_the_old_log() {
    let dir = temp("diverge");
    let (photos, painting) = data(&dir);
    let (model, log) = (dir.join("model.safetensors"), dir.join("run.jsonl"));
    std::fs::write(&log, "{\"step\":1}\n").unwrap();
    // Finite in f64, so accepted, but infinite as an f32 weight.
    let args = train_args(&photos, &painting, &model, &["--style-weight", "1e308", "--log", &s(&log)]);
    let out = fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir);
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && error.contains("at step 1"), "{error}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "{\"step\":1}\n");
    assert!(!model.exists());
}

#[test]
fn resuming_from_a_checkpoint_finishes_the_run() {
    let dir = temp("resume");
    let (photos, painting) = data(&dir);
    let model = dir.join("model.safetensors");
    let args = train_args(&photos, &painting, &model, &["--checkpoint-every", "2"]);
    let full = fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir);
    assert!(full.status.success(), "{}", String::from_utf8_lossy(&full.stderr));
    let straight = nn::io::TensorFile::read(&model).unwrap().tensors;
    std::fs::remove_file(&model).unwrap();
    // The checkpoint of step 2 continues to the same model.
    let checkpoint = dir.join("model.checkpoint.safetensors");
    // Settings other than the checkpoint's are refused, not dropped, and
    // nothing is written.
    let args = train_args(&photos, &painting, &model, &["--resume", &s(&checkpoint), "--steps", "6", "--lr", "0.5"]);
    let refused = fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir);
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && error.trim().lines().count() == 1, "{error}");
    assert!(error.contains("--lr 0.5 (the checkpoint has 0.001), --steps 6 (the checkpoint has 4)"), "{error}");
    assert!(!model.exists());
    // The checkpoint's style layers in another order and spelling are the same.
    let same_layers = "relu5_1,relu4_1:1,relu3_1,relu2_1,relu1_1";
    let args = train_args(&photos, &painting, &model, &["--resume", &s(&checkpoint), "--style-layers", same_layers]);
    let resumed = fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    // Tensors, not bytes: the metadata's order in the file is not fixed.
    let resumed = nn::io::TensorFile::read(&model).unwrap().tensors;
    assert_eq!(resumed.len(), straight.len());
    for (name, value) in &straight {
        let same = resumed[name].to_f64_vec().iter().zip(value.to_f64_vec()).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{name} differs between the resumed and the uninterrupted run");
    }
}

#[test]
fn bad_inputs_fail_in_one_line() {
    let dir = temp("errors");
    let (photos, painting) = data(&dir);
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let model = dir.join("never.safetensors");
    let one_line = |out: Output| {
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("note:")).collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        lines[0].to_string()
    };
    let args = train_args(&empty, &painting, &model, &[]);
    let message = one_line(fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir));
    assert!(message.contains("no images in this folder"), "{message}");
    let args = train_args(&photos, &dir.join("absent.jpg"), &model, &[]);
    let message = one_line(fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir));
    assert!(message.contains("absent.jpg"), "{message}");
    let args = train_args(&photos, &painting, &model, &["--content-layers", "relu9_1"]);
    let message = one_line(fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir));
    assert!(message.contains("relu9_1"), "{message}");
    let args = train_args(&photos, &painting, &model, &["--train-size", "16", "--crop-size", "20"]);
    let message = one_line(fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir));
    assert!(message.contains("--train-size") && message.contains("20 px crops"), "{message}");
    for (value, needle) in [("-1", "got -1"), ("inf", "finite non-negative number, got inf")] {
        let args = train_args(&photos, &painting, &model, &["--temporal-weight", value]);
        let message = one_line(fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir));
        assert!(message.contains("--temporal-weight") && message.contains(needle), "{message}");
    }
    let args = train_args(&photos, &painting, &model, &["--teacher-weight", "5"]);
    let message = one_line(fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir));
    assert!(message.contains("--teacher-weight 5") && message.contains("--teacher-dir"), "{message}");
    let args = train_args(&photos, &painting, &model, &["--teacher-dir", &s(&photos)]);
    let message = one_line(fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir));
    assert!(message.contains("--teacher-dir") && message.contains("teacher weight is 0"), "{message}");
    let partial = dir.join("teachers");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::copy(photos.join("p0.png"), partial.join("p0.png")).unwrap();
    let args = train_args(&photos, &painting, &model, &["--teacher-dir", &s(&partial), "--teacher-weight", "5"]);
    let message = one_line(fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir));
    assert!(message.contains("no picture for the training photo p1.png"), "{message}");
    // With every picture there, the run trains and logs the teacher term.
    for k in 1..3 {
        std::fs::copy(photos.join(format!("p{k}.png")), partial.join(format!("p{k}.png"))).unwrap();
    }
    let log = dir.join("taught.jsonl");
    let taught = dir.join("taught.safetensors");
    let args = train_args(
        &photos,
        &painting,
        &taught,
        &[
            "--teacher-dir",
            &s(&partial),
            "--teacher-weight",
            "5",
            "--log",
            &s(&log),
            "--card",
            &s(&dir.join("taught.md")),
        ],
    );
    let out = fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let first = std::fs::read_to_string(&log).unwrap().lines().next().unwrap().to_string();
    assert!(first.contains("\"teacher\":") && !first.contains("\"teacher\":0e0"), "{first}");
    let card = std::fs::read_to_string(dir.join("taught.md")).unwrap();
    assert!(card.contains("teacher (L1 to Gatys pictures) x5") && card.contains(", teacher "), "{card}");
    let args = train_args(&photos, &painting, &model, &["--card", &s(&dir.join("card.txt"))]);
    let message = one_line(fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir));
    assert!(message.contains("card.txt"), "{message}");
    assert!(!model.exists());

    let message = one_line(fresco(
        &["gan", "apply", "--model", &s(&painting), "--content", &s(&painting), "-o", &s(&dir.join("o.png"))],
        &dir,
    ));
    assert!(message.contains("painting.png"), "{message}");
    assert!(!dir.join("o.png").exists());
}

#[test]
fn a_folder_too_large_for_memory_is_read_as_drawn() {
    let dir = temp("large");
    let (_, painting) = data(&dir);
    let photos = dir.join("many");
    std::fs::create_dir_all(&photos).unwrap();
    // One more than the in-memory limit (200), and a damaged file.
    for k in 0..201u32 {
        RgbImage::from_fn(20 + k % 7, 18, |x, y| Rgb([(x * 9 + k) as u8, (y * 13) as u8, (k * 3) as u8]))
            .save(photos.join(format!("photo{k:03}.png")))
            .unwrap();
    }
    std::fs::write(photos.join("broken.png"), b"\x89PNG\r\n\x1a\n not really").unwrap();
    let model = dir.join("model.safetensors");
    let card = dir.join("model.md");
    let args = train_args(&photos, &painting, &model, &["--card", &s(&card)]);
    let out = fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("202 photos") && stderr.contains("read from disk when drawn"), "{stderr}");
    assert!(stderr.contains("broken.png: skipped"), "{stderr}");
    assert!(model.exists());
    let card = std::fs::read_to_string(&card).unwrap();
    assert!(card.contains("| training photos | 201 in") && card.contains("and 189 more"), "{card}");
}

/// An image smaller than the generator's 32 px is padded by mirrored tiling
/// and recoloured by its own colours, so it is stylised about as the same
/// pattern is when large: a 40×6 strip whose last row is blue came out 75.9
/// grey levels (in one channel's mean) from the same strip mirrored down to
/// 40×36 when its edges were repeated to 32 rows, and 16.1 now.
#[test]
fn a_tiny_image_is_stylised_like_a_large_one_of_the_same_pattern() {
    let dir = temp("tiny");
    let strip = RgbImage::from_fn(40, 6, |x, y| {
        if y == 5 {
            return Rgb([20, 40, 200]);
        }
        let t = x as f64 * 0.5 + y as f64;
        Rgb([(120.0 + 100.0 * t.sin()) as u8, (100.0 + 60.0 * (x as f64 * 0.3 + y as f64).cos()) as u8, 90])
    });
    // The strip mirrored down to 36 rows (`abc|cba|abc…`), as the padding is.
    let tall = RgbImage::from_fn(40, 36, |x, y| {
        let m = y % 12;
        *strip.get_pixel(x, if m < 6 { m } else { 11 - m })
    });
    let (small, large) = (dir.join("strip.png"), dir.join("tall.png"));
    strip.save(&small).unwrap();
    tall.save(&large).unwrap();
    let model = s(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/starry_night.safetensors"));
    let mean_colour = |input: &Path, name: &str| -> [f64; 3] {
        let out = dir.join(name);
        let o = fresco(&["gan", "apply", "--model", &model, "--content", &s(input), "--output", &s(&out)], &dir);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let image = image::open(&out).unwrap().to_rgb8();
        let n = (image.width() * image.height()) as f64;
        [0, 1, 2].map(|c| image.pixels().map(|p| f64::from(p.0[c])).sum::<f64>() / n)
    };
    let (a, b) = (mean_colour(&small, "strip_out.png"), mean_colour(&large, "tall_out.png"));
    let worst = (0..3).map(|c| (a[c] - b[c]).abs()).fold(0.0, f64::max);
    println!("40x6 strip: mean colour {a:.1?}, tiled to 40x36: {b:.1?}");
    assert!(worst < 35.0, "the strip's stylised mean colour is {worst:.1} grey levels from the tall image's");
    std::fs::remove_dir_all(&dir).ok();
}
