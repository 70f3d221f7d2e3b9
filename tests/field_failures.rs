//! The failures users of other style-transfer tools report, each tried on
//! `fresco` as a user would, on images, weights and models the tests make:
//! sideways phone photos, outputs refused after the work, inputs too small
//! for the network, one bad file in a batch, sizes beyond the machine's
//! memory, file names with commas, and runs that blow up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};
#[path = "support/cli.rs"]
mod cli;

use nn::VggKind;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fresco-field-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn fresco(args: &[&str]) -> Output {
    cli::fresco_offline(args, &std::env::temp_dir().join("fresco-field-empty-cache"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn succeeds(out: &Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

/// The one error line of a failed run (notes and warnings aside).
fn one_line_error(out: &Output) -> String {
    assert!(!out.status.success(), "expected failure: {}", stderr(out));
    assert_eq!(out.status.code(), Some(1), "an error, not a crash: {}", stderr(out));
    let text = stderr(out);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("fresco: error:")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    lines[0].to_string()
}

fn size_of(path: &Path) -> (u32, u32) {
    let image = image::open(path).unwrap();
    (image.width(), image.height())
}

fn picture(w: u32, h: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([(x * 5 + seed * 30) as u8, (y * 7) as u8, ((x + y) * 3) as u8]))
}

/// A tiny VGG-19 with random weights.
fn tiny_weights(dir: &Path) -> PathBuf {
    cli::tiny_vgg(dir, VggKind::Vgg19, [6; 5])
}

/// `fresco gatys` at a small size with tiny weights, plus `extra`.
fn gatys(dir: &Path, content: &Path, styles: &[&Path], output: &Path, extra: &[&str]) -> Output {
    let weights = tiny_weights(dir);
    let mut args: Vec<String> = vec!["gatys".into(), "--content".into(), s(content)];
    for style in styles {
        args.extend(["--style".to_string(), s(style)]);
    }
    args.extend(["-o", &s(output), "--weights", &s(&weights), "--quiet"].map(String::from));
    if !extra.contains(&"--size") {
        args.extend(["--size", "48"].map(String::from));
    }
    if !extra.contains(&"--iters") {
        args.extend(["--iters", "3"].map(String::from));
    }
    if !extra.contains(&"--coarse-iters") {
        args.extend(["--coarse-iters", "3"].map(String::from));
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    fresco(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `fresco gan train` of a tiny stylizer on the photos in `photos`.
fn train_tiny(painting: &Path, photos: &Path, model: &Path, steps: &str) -> Output {
    let (painting, photos, model) = (s(painting), s(photos), s(model));
    let mut args = vec!["gan", "train", "--style", &painting, "--content-dir", &photos, "-o", &model];
    args.extend(["--steps", steps, "--batch-size", "1", "--crop-size", "16", "--width", "4", "--res-blocks", "1"]);
    args.extend(["--disc-width", "4", "--disc-layers", "2", "--quiet", "--checkpoint-every", "0"]);
    fresco(&args)
}

/// A small trained stylizer (4 steps on generated photos).
fn tiny_model(dir: &Path) -> PathBuf {
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    picture(40, 32, 1).save(photos.join("a.png")).unwrap();
    picture(36, 36, 2).save(photos.join("b.png")).unwrap();
    let painting = dir.join("painting.png");
    picture(24, 24, 3).save(&painting).unwrap();
    let model = dir.join("model.safetensors");
    succeeds(&train_tiny(&painting, &photos, &model, "4"));
    model
}

/// A JPEG stored `w × h` whose EXIF orientation tag says `orientation`.
fn jpeg_with_orientation(path: &Path, w: u32, h: u32, orientation: u16) {
    let mut jpeg = Vec::new();
    picture(w, h, 4).write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
    // APP1 "Exif": a big-endian TIFF header and one IFD entry, tag 0x0112
    // (Orientation), type SHORT, count 1.
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    tiff.extend(orientation.to_be_bytes());
    tiff.extend([0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut file = jpeg[..2].to_vec();
    file.extend([0xFF, 0xE1]);
    file.extend(((app1.len() + 2) as u16).to_be_bytes());
    file.extend(app1);
    file.extend(&jpeg[2..]);
    std::fs::write(path, file).unwrap();
}

#[test]
fn a_sideways_phone_photo_comes_out_upright() {
    let dir = temp("exif");
    // Stored 80 wide and 120 high; orientation 6 shows it 120 wide, 80 high.
    let photo = dir.join("phone.jpg");
    jpeg_with_orientation(&photo, 80, 120, 6);
    let style = dir.join("style.png");
    picture(40, 40, 5).save(&style).unwrap();

    let output = dir.join("gatys.png");
    succeeds(&gatys(&dir, &photo, &[&style], &output, &["--size", "96"]));
    assert_eq!(size_of(&output), (96, 64));

    let model = tiny_model(&dir);
    let applied = dir.join("applied.png");
    succeeds(&fresco(&["gan", "apply", "--model", &s(&model), "--content", &s(&photo), "-o", &s(&applied)]));
    assert_eq!(size_of(&applied), (120, 80));

    // The same photo as a style image and as training data is upright too.
    let read = style::image_io::load_image(&photo, None).unwrap();
    assert_eq!(read.shape(), &[1, 3, 80, 120]);
}

#[test]
fn transparent_pixels_are_read_over_white() {
    let dir = temp("alpha");
    let path = dir.join("clear.png");
    image::RgbaImage::from_fn(4, 4, |x, _| image::Rgba([0, 0, 0, if x < 2 { 0 } else { 255 }])).save(&path).unwrap();
    let values = style::image_io::load_image(&path, None).unwrap().to_vec::<f32>();
    assert_eq!(&values[..4], &[1.0, 1.0, 0.0, 0.0], "clear pixels are white, opaque black stays black");
}

#[test]
fn every_output_is_checked_before_the_work_starts() {
    let dir = temp("outputs");
    let content = dir.join("content.png");
    picture(48, 36, 6).save(&content).unwrap();
    let style = dir.join("style.png");
    picture(40, 40, 7).save(&style).unwrap();

    // The reported example: a GIF is now written (this build encodes it).
    let gif = dir.join("out.gif");
    succeeds(&gatys(&dir, &content, &[&style], &gif, &[]));
    assert_eq!(image::ImageFormat::from_path(&gif).unwrap(), image::ImageFormat::Gif);
    assert_eq!(size_of(&gif), (48, 36));

    // Formats this build cannot write, missing or read-only places: refused
    // up front, naming the path, and nothing is written.
    for (output, extra, expected) in [
        (dir.join("out.ico"), vec![], "cannot write"),
        (dir.join("out.avif"), vec![], "cannot write"),
        (dir.join("no-such-dir/out.png"), vec![], "does not exist"),
        (dir.clone(), vec![], "is a directory"),
        (dir.join("ok.png"), vec!["--plot".to_string(), s(&dir.join("loss.jpg"))], "loss.jpg"),
        (dir.join("ok.png"), vec!["--log".to_string(), s(&dir.join("missing/run.jsonl"))], "run.jsonl"),
    ] {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let message = one_line_error(&gatys(&dir, &content, &[&style], &output, &extra));
        assert!(message.contains(expected), "{message}");
        assert!(!dir.join("ok.png").exists());
    }

    // gan train: model, checkpoint, samples, plot, all before training.
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    picture(40, 40, 8).save(photos.join("a.png")).unwrap();
    let base =
        ["gan", "train", "--style", &s(&style), "--content-dir", &s(&photos), "--steps", "2", "--crop-size", "16"];
    for (extra, expected) in [
        (vec!["-o".to_string(), s(&dir.join("gone/model.safetensors"))], "gone"),
        (
            vec!["-o".into(), s(&dir.join("m.safetensors")), "--checkpoint".into(), s(&dir.join("x/c.safetensors"))],
            "x/c.safetensors",
        ),
        (
            vec![
                "-o".into(),
                s(&dir.join("m.safetensors")),
                "--sample-every".into(),
                "1".into(),
                "--samples".into(),
                s(&dir.join("a/b")),
            ],
            "a/b",
        ),
        (vec!["-o".into(), s(&dir.join("m.safetensors")), "--plot".into(), s(&dir.join("p.svg"))], "p.svg"),
    ] {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra.iter().map(String::as_str));
        let message = one_line_error(&fresco(&args));
        assert!(message.contains(expected), "{message}");
        assert!(!dir.join("m.safetensors").exists() && !dir.join("m.checkpoint.safetensors").exists());
    }
}

#[test]
fn inputs_of_any_size_work_or_name_the_option() {
    let dir = temp("small");
    let content = dir.join("content.png");
    picture(48, 36, 9).save(&content).unwrap();
    let strip = dir.join("strip.png");
    picture(600, 20, 10).save(&strip).unwrap();
    let dot = dir.join("dot.png");
    picture(1, 1, 11).save(&dot).unwrap();

    // The reported example: a 600x20 style image; brought up, with a notice.
    let out = gatys(&dir, &content, &[&strip], &dir.join("a.png"), &["--scales", "2"]);
    succeeds(&out);
    assert!(stderr(&out).contains("strip.png is 600x20"), "{}", stderr(&out));
    // 1x1 pictures as content and as style.
    succeeds(&gatys(&dir, &dot, &[&dot], &dir.join("b.png"), &[]));
    assert_eq!(size_of(&dir.join("b.png")), (48, 48));
    // A content strip keeps its shape; its shorter side is brought up.
    let out = gatys(&dir, &strip, &[&content], &dir.join("c.png"), &[]);
    succeeds(&out);
    assert_eq!(size_of(&dir.join("c.png")), (480, 16));
    // Options that cannot work name themselves and the value that would.
    let message = one_line_error(&gatys(&dir, &content, &[&content], &dir.join("d.png"), &["--scales", "4"]));
    assert!(message.contains("--scales") && message.contains("at most 2"), "{message}");
    let message = one_line_error(&gatys(&dir, &content, &[&content], &dir.join("d.png"), &["--size", "8"]));
    assert!(message.contains("--size") && message.contains("16"), "{message}");

    // gan apply: tiny and elongated images keep their size.
    let model = tiny_model(&dir);
    for (w, h) in [(1, 1), (3, 2), (5, 300), (33, 17)] {
        let input = dir.join(format!("in{w}x{h}.png"));
        picture(w, h, 12).save(&input).unwrap();
        let output = dir.join(format!("out{w}x{h}.png"));
        succeeds(&fresco(&["gan", "apply", "--model", &s(&model), "--content", &s(&input), "-o", &s(&output)]));
        assert_eq!(size_of(&output), (w, h));
    }
}

#[test]
fn one_bad_file_does_not_stop_a_batch() {
    let dir = temp("batch");
    let model = tiny_model(&dir);
    let inputs = dir.join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    picture(20, 20, 13).save(inputs.join("a.png")).unwrap();
    std::fs::write(inputs.join("b.png"), b"\x89PNG\r\n\x1a\n broken").unwrap();
    picture(24, 18, 14).save(inputs.join("c.jpg")).unwrap();
    let outputs = dir.join("outputs");
    let out = fresco(&["gan", "apply", "--model", &s(&model), "--content", &s(&inputs), "-o", &s(&outputs)]);
    let message = one_line_error(&out);
    assert!(message.contains("1 of 3"), "{message}");
    assert!(stderr(&out).contains("b.png"), "{}", stderr(&out));
    assert!(outputs.join("a.png").exists() && outputs.join("c.jpg").exists() && !outputs.join("b.png").exists());

    // Training skips the bad photo, names it, and trains on the rest.
    let painting = dir.join("painting.png");
    let trained = dir.join("trained.safetensors");
    let out = train_tiny(&painting, &inputs, &trained, "1");
    succeeds(&out);
    assert!(stderr(&out).contains("b.png") && stderr(&out).contains("2 of the 3"), "{}", stderr(&out));
}

#[test]
fn a_size_beyond_the_machines_memory_is_refused_not_aborted() {
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: address-space limits are read from /proc");
        return;
    }
    let dir = temp("memory");
    let content = dir.join("content.png");
    picture(48, 36, 15).save(&content).unwrap();
    let weights = tiny_weights(&dir);
    let output = dir.join("big.png");
    let command = format!(
        "ulimit -v 4000000 && exec '{}' gatys --content '{}' --style '{}' -o '{}' --weights '{}' --size 8000 --iters 1 --quiet",
        env!("CARGO_BIN_EXE_fresco"),
        s(&content),
        s(&content),
        s(&output),
        s(&weights)
    );
    let out = Command::new("sh").args(["-c", &command]).env("FRESCO_OFFLINE", "1").output().unwrap();
    let message = one_line_error(&out);
    assert!(message.contains("--size 8000") && message.contains("largest size that fits"), "{message}");
    assert!(message.contains("limit") || message.contains("memory available"), "names the limit: {message}");
    assert!(!output.exists());
}

#[test]
fn any_file_name_can_be_given() {
    let dir = temp("names");
    let content = dir.join("content.png");
    picture(48, 36, 16).save(&content).unwrap();
    let comma = dir.join("style,comma.png");
    picture(40, 40, 17).save(&comma).unwrap();
    let other = dir.join("other style.png");
    picture(40, 40, 18).save(&other).unwrap();

    succeeds(&gatys(&dir, &content, &[&comma], &dir.join("one.png"), &[]));
    succeeds(&gatys(&dir, &content, &[&comma, &other], &dir.join("two.png"), &["--style-blend", "1,2"]));
    assert!(dir.join("one.png").exists() && dir.join("two.png").exists());

    // The old comma-list syntax names the fix.
    let list = PathBuf::from(format!("{},{}", s(&content), s(&other)));
    let message = one_line_error(&gatys(&dir, &content, &[&list], &dir.join("three.png"), &[]));
    assert!(message.contains("give each style image its own --style"), "{message}");
}

#[test]
fn a_run_that_blows_up_says_so() {
    let dir = temp("diverge");
    let content = dir.join("content.png");
    picture(48, 36, 19).save(&content).unwrap();
    let style = dir.join("style.png");
    picture(40, 40, 20).save(&style).unwrap();
    let output = dir.join("out.png");
    // Pixels are clamped to 0-1, so a huge step saturates them rather than
    // overflowing: with content weighted heavily, that still multiplies the
    // loss (the run starts at the content image, content term 0).
    let blow_up = ["--optimizer", "adam", "--lr", "1", "--iters", "20", "--content-weight", "100", "--scales", "1"];
    let out = gatys(&dir, &content, &[&style], &output, &blow_up);
    let message = one_line_error(&out);
    assert!(message.contains("diverged") && message.contains("Adam works at --lr"), "{message}");
    assert!(output.exists(), "the result is still written");

    // A sensible rate passes.
    succeeds(&gatys(&dir, &content, &[&style], &output, &["--optimizer", "adam", "--lr", "0.02", "--iters", "20"]));
}

#[test]
fn bad_pool_settings_are_named_and_good_ones_run() {
    let dir = temp("pool");
    let content = dir.join("content.png");
    picture(40, 30, 21).save(&content).unwrap();
    let run_with = |name: &str, value: &str| {
        let weights = tiny_weights(&dir);
        Command::new(env!("CARGO_BIN_EXE_fresco"))
            .args(["score", "--content", &s(&content), "--style", &s(&content), "--weights", &s(&weights)])
            .arg(&content)
            .env("FRESCO_OFFLINE", "1")
            .env(name, value)
            .output()
            .unwrap()
    };
    let run = |limit: &str| run_with("FRESCO_POOL_MIB", limit);
    let message = one_line_error(&run("lots"));
    assert!(message.contains("FRESCO_POOL_MIB=lots"), "{message}");
    // 0 turns the pool off; the work is the same.
    succeeds(&run("0"));
    succeeds(&run("64"));
    // The budget's slack: a percentage.
    let message = one_line_error(&run_with("FRESCO_POOL_SLACK_PERCENT", "12%"));
    assert!(message.contains("FRESCO_POOL_SLACK_PERCENT=12%"), "{message}");
    succeeds(&run_with("FRESCO_POOL_SLACK_PERCENT", "0"));
    succeeds(&run_with("FRESCO_POOL_SLACK_PERCENT", "1000"));
}
