//! `fresco gatys` end to end on generated images and weights: outputs,
//! logs, plots and snapshots; one-line errors that leave no output behind.
//! Plus a real run on `../shared` when it is there.

use std::path::{Path, PathBuf};
use std::process::Output;

use image::{Rgb, RgbImage};
#[path = "support/cli.rs"]
mod cli;

use nn::VggKind;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fresco-gatys-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_images(dir: &Path) -> (PathBuf, PathBuf) {
    let content = RgbImage::from_fn(48, 36, |x, y| Rgb([(x * 5) as u8, (y * 7) as u8, 120]));
    let style =
        RgbImage::from_fn(40, 40, |x, y| if (x + y) / 5 % 2 == 0 { Rgb([230, 200, 30]) } else { Rgb([20, 40, 160]) });
    let (c, s) = (dir.join("content.png"), dir.join("style.jpg"));
    content.save(&c).unwrap();
    style.save(&s).unwrap();
    (c, s)
}

fn write_weights(dir: &Path) -> PathBuf {
    cli::tiny_vgg(dir, VggKind::Vgg19, [6, 8, 8, 8, 8])
}

fn fresco(args: &[&str], cache: &Path) -> Output {
    cli::fresco_offline(args, cache)
}

fn one_line_error(out: &Output) -> String {
    cli::one_line_error(out)
}

#[test]
fn a_run_writes_the_image_log_plot_and_snapshots() {
    let dir = temp("run");
    let (content, style) = write_images(&dir);
    let weights = write_weights(&dir);
    let output = dir.join("out.png");
    let (log, plot) = (dir.join("run.jsonl"), dir.join("loss.png"));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = fresco(
        &[
            "gatys",
            "--content",
            &s(&content),
            "--style",
            &s(&style),
            "--output",
            &s(&output),
            "--size",
            "32",
            "--iters",
            "6",
            "--scales",
            "1",
            "--weights",
            &s(&weights),
            "--save-every",
            "3",
            "--log",
            &s(&log),
            "--plot",
            &s(&plot),
            "--quiet",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let image = image::open(&output).unwrap();
    assert_eq!((image.width(), image.height()), (32, 24));
    let lines: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(String::from).collect();
    assert_eq!(lines.len(), 6);
    assert!(lines[0].starts_with("{\"iteration\":1,\"scale\":1,\"content\":") && lines[0].contains("\"elapsed_s\":"));
    assert_eq!(image::open(&plot).unwrap().width(), 900);
    assert!(dir.join("out.iter3.png").exists() && dir.join("out.iter6.png").exists());
}

#[test]
fn without_weights_a_random_network_is_announced() {
    let dir = temp("random");
    let (content, style) = write_images(&dir);
    let output = dir.join("out.jpg");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let args = [
        "gatys",
        "--content",
        &s(&content),
        "--style",
        &s(&style),
        "-o",
        &s(&output),
        "--size",
        "32",
        "--iters",
        "2",
        "--coarse-iters",
        "2",
        "--quiet",
    ];
    let out = fresco(&args, &dir.join("empty-cache"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("random-feature VGG-19") && stderr.contains("downloads are off"), "{stderr}");
    assert!(output.exists());
}

#[test]
fn bad_inputs_fail_in_one_line_and_write_nothing() {
    let dir = temp("errors");
    let (content, style) = write_images(&dir);
    let weights = write_weights(&dir);
    let corrupt = dir.join("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\n but then nonsense").unwrap();
    let output = dir.join("never.png");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let run = |content: &Path, style: &Path, output: &Path, extra: &[&str]| {
        let mut args = vec![
            "gatys".to_string(),
            "--content".into(),
            s(content),
            "--style".into(),
            s(style),
            "-o".into(),
            s(output),
        ];
        args.extend(["--size", "32", "--iters", "3", "--coarse-iters", "3", "--quiet"].map(String::from));
        if !extra.contains(&"--weights") {
            args.extend(["--weights".to_string(), s(&weights)]);
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir)
    };

    let missing = dir.join("missing.png");
    let message = one_line_error(&run(&missing, &style, &output, &[]));
    assert!(message.contains("missing.png"), "{message}");

    let message = one_line_error(&run(&content, &corrupt, &output, &[]));
    assert!(message.contains("corrupt.png") && message.contains("cannot read image"), "{message}");

    // An empty file, and a JPEG cut short (whose decoder's message ended in
    // a line break): one line each.
    let empty = dir.join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let message = one_line_error(&run(&content, &empty, &output, &[]));
    assert!(message.contains("empty.jpg") && message.contains("the file is empty"), "{message}");
    let cut = dir.join("cut.jpg");
    std::fs::write(&cut, [0xFF, 0xD8, 0xFF, 0xE0, 0x00]).unwrap();
    let message = one_line_error(&run(&content, &cut, &output, &[]));
    assert!(message.contains("cut.jpg") && message.contains("cannot read image"), "{message}");

    let message = one_line_error(&run(&content, &style, &dir.join("out.xyz"), &[]));
    assert!(message.contains("out.xyz") && message.contains("unknown image format"), "{message}");

    let message = one_line_error(&run(&content, &style, &dir.join("no/such/dir/out.png"), &[]));
    assert!(message.contains("does not exist"), "{message}");

    let message = one_line_error(&run(&content, &style, &output, &["--style-layers", "relu1_1,relu7_1"]));
    assert!(message.contains("relu7_1"), "{message}");

    let message = one_line_error(&run(&content, &style, &output, &["--style-mask", &s(&style)]));
    assert!(message.contains("--style-mask") && message.contains("does not have the shape"), "{message}");

    let message =
        one_line_error(&run(&content, &style, &output, &["--laplacian-weight", "1", "--laplacian-pool", "16"]));
    assert!(message.contains("--laplacian-pool"), "{message}");

    // Pixels are clamped inside the loss, so a huge step saturates them
    // instead of overflowing; the run still says it blew up.
    // (It writes its picture all the same, as every blown-up run does.)
    let diverged = dir.join("diverged.png");
    let message = one_line_error(&run(&content, &style, &diverged, &["--optimizer", "adam", "--lr", "1e30"]));
    assert!(message.contains("diverged") && diverged.exists(), "{message}");

    let bad_weights = dir.join("bad.safetensors");
    std::fs::write(&bad_weights, b"12345678 not json").unwrap();
    let message = one_line_error(&run(&content, &style, &output, &["--weights", &s(&bad_weights)]));
    assert!(message.contains("bad.safetensors"), "{message}");

    assert!(!output.exists(), "a failed run left {}", output.display());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// Astronaut × The Starry Night with the pretrained VGG-16 from `../shared`.
#[test]
fn shared_images_with_pretrained_vgg16() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let (content, style) = (shared.join("images/content/astronaut.png"), shared.join("images/styles/starry_night.jpg"));
    let weights = shared.join("weights/vgg16-imagenet-keras-f16.safetensors");
    if !(content.exists() && style.exists() && weights.exists()) {
        println!("skipped: {} is absent (it lives beside the checkout, not in a clone)", shared.display());
        return;
    }
    let dir = temp("shared");
    let output = dir.join("astronaut-starry.png");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = fresco(
        &[
            "gatys",
            "--content",
            &s(&content),
            "--style",
            &s(&style),
            "-o",
            &s(&output),
            "--size",
            "64",
            "--iters",
            "10",
            "--coarse-iters",
            "10",
            "--weights",
            &s(&weights),
            "--quiet",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8_lossy(&out.stdout);
    println!("{summary}");
    // "loss A -> B": the run must have lowered it.
    let numbers: Vec<f64> = summary.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(numbers.len() >= 2 && numbers[numbers.len() - 2] < numbers[numbers.len() - 3], "{summary}");
    assert_eq!(image::open(&output).unwrap().width(), 64);
}
