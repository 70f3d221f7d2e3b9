//! `fresco video` end to end on clips the tests draw (a textured scene panned
//! a few pixels a frame) and a tiny random VGG: folders of frames in and
//! out, resuming, the temporal terms lowering the warping error, the GAN
//! method with the shipped stylizer, one-line errors; and the video-file
//! path through `ffmpeg`, skipped with a printed reason where it is absent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};
#[path = "support/cli.rs"]
mod cli;

use nn::VggKind;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fresco-video-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A smooth scene (blobs of colour at several scales) seen through a
/// `width × height` window whose left edge is at `offset`.
fn scene(width: u32, height: u32, offset: f64) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = (x as f64 + offset, y as f64);
        let a = (u * 0.31).sin() * (v * 0.23).cos() + 0.5 * (u * 0.11 + v * 0.07).sin();
        let b = (u * 0.17 - v * 0.29).cos() + 0.5 * (v * 0.13).sin();
        let c = (u * 0.05).sin() + (v * 0.41 + u * 0.03).cos() * 0.5;
        let level = |t: f64| (128.0 + 70.0 * t).clamp(0.0, 255.0) as u8;
        Rgb([level(a), level(b), level(c)])
    })
}

/// `count` frames of the scene panned by `step` pixels a frame.
fn write_clip(dir: &Path, count: usize, step: f64) -> PathBuf {
    let frames = dir.join("clip");
    std::fs::create_dir_all(&frames).unwrap();
    for k in 0..count {
        scene(48, 36, k as f64 * step).save(frames.join(format!("in_{k:03}.png"))).unwrap();
    }
    frames
}

fn write_style(dir: &Path) -> PathBuf {
    let style = dir.join("style.png");
    RgbImage::from_fn(40, 40, |x, y| if (x + 2 * y) / 4 % 2 == 0 { Rgb([230, 200, 30]) } else { Rgb([20, 40, 160]) })
        .save(&style)
        .unwrap();
    style
}

fn fresco(args: &[&str], cache: &Path) -> Output {
    cli::fresco_offline(args, cache)
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn one_line_error(out: &Output) -> String {
    cli::one_line_error(out)
}

/// The mean warping error the summary line reports.
fn mean_warping_error(summary: &str) -> f64 {
    let after = summary.split("mean warping error ").nth(1).unwrap_or_else(|| panic!("no error in {summary}"));
    after.split_whitespace().next().unwrap().parse().unwrap()
}

/// The tiny-VGG `gatys` settings: a 48 px frame, few iterations.
fn gatys_args<'a>(clip: &'a str, style: &'a str, weights: &'a str, output: &'a str) -> Vec<&'a str> {
    vec![
        "video",
        "--content",
        clip,
        "--style",
        style,
        "--weights",
        weights,
        "--output",
        output,
        "--size",
        "48",
        "--scales",
        "1",
        "--iters",
        "12",
        "--frame-iters",
        "6",
        "--style-weight",
        "50",
        "--quiet",
    ]
}

#[test]
fn a_folder_of_frames_is_stylised_and_an_interrupted_run_resumes() {
    let dir = temp("folder");
    let clip = write_clip(&dir, 4, 2.0);
    let style = write_style(&dir);
    let weights = cli::tiny_vgg(&dir, VggKind::Vgg16, [6, 8, 8, 8, 8]);
    // A trailing separator names a folder, whatever its name's dots say.
    let out_dir = dir.join("styled.final");
    let log = dir.join("run.jsonl");
    let (c, st, w, l) = (s(&clip), s(&style), s(&weights), s(&log));
    let o = format!("{}{}", s(&out_dir), std::path::MAIN_SEPARATOR);
    let mut args = gatys_args(&c, &st, &w, &o);
    args.extend(["--log", &l]);
    let summary = stdout(&fresco(&args, &dir));
    assert!(summary.contains("4 frames of 48x36"), "{summary}");
    for k in 1..=4 {
        let frame = image::open(out_dir.join(format!("frame_{k:06}.png"))).unwrap();
        assert_eq!((frame.width(), frame.height()), (48, 36));
    }
    let lines: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "one line per frame after the first: {lines:?}");
    assert!(lines[0].starts_with("{\"frame\":2,") && lines[0].contains("\"warping_error\":"), "{}", lines[0]);

    // An interrupted run: the last frame is missing; the rerun makes only it.
    std::fs::remove_file(out_dir.join("frame_000004.png")).unwrap();
    let before = std::fs::metadata(out_dir.join("frame_000002.png")).unwrap().modified().unwrap();
    let summary = stdout(&fresco(&gatys_args(&c, &st, &w, &o), &dir));
    assert!(summary.contains("4 frames of 48x36); 3 found from an earlier run"), "{summary}");
    assert!(out_dir.join("frame_000004.png").exists());
    assert_eq!(std::fs::metadata(out_dir.join("frame_000002.png")).unwrap().modified().unwrap(), before);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_temporal_terms_lower_the_warping_error() {
    let dir = temp("temporal");
    let clip = write_clip(&dir, 4, 2.0);
    let style = write_style(&dir);
    let weights = cli::tiny_vgg(&dir, VggKind::Vgg16, [6, 8, 8, 8, 8]);
    let (c, st, w) = (s(&clip), s(&style), s(&weights));
    let with = s(&dir.join("with"));
    let without = s(&dir.join("without"));
    let temporal = mean_warping_error(&stdout(&fresco(&gatys_args(&c, &st, &w, &with), &dir)));
    let mut alone = gatys_args(&c, &st, &w, &without);
    alone.push("--no-temporal");
    let baseline = mean_warping_error(&stdout(&fresco(&alone, &dir)));
    println!("tiny VGG, 48 px: warping error {temporal:.3e} with the temporal terms, {baseline:.3e} without");
    assert!(temporal * 2.0 < baseline, "warping error {temporal:.3e} with the temporal terms, {baseline:.3e} without");

    // The GAN method, with the shipped stylizer: blending lowers it too.
    let model = s(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/starry_night.safetensors"));
    let gan = |output: &str, extra: &[&str]| {
        let mut args = vec!["video", "--method", "gan", "--model", &model, "--content", &c, "--output", output];
        args.extend(["--size", "48", "--quiet"]);
        args.extend(extra);
        mean_warping_error(&stdout(&fresco(&args, &dir)))
    };
    let blended = gan(&s(&dir.join("gan")), &[]);
    let per_frame = gan(&s(&dir.join("gan-alone")), &["--no-temporal"]);
    println!("shipped Starry Night stylizer, 48 px: warping error {blended:.3e} blended, {per_frame:.3e} per frame");
    assert!(blended < per_frame, "GAN warping error {blended:.3e} blended, {per_frame:.3e} per frame");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_inputs_fail_in_one_line_naming_the_culprit() {
    let dir = temp("bad");
    let clip = write_clip(&dir, 2, 2.0);
    let style = write_style(&dir);
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a video").unwrap();
    let (c, st) = (s(&clip), s(&style));
    let out = s(&dir.join("out"));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--content".into(), s(&dir.join("missing")), "--style".into(), st.clone()], "no such file or folder"),
        (vec!["--content".into(), s(&empty), "--style".into(), st.clone()], "no frames in the folder"),
        (vec!["--content".into(), s(&dir.join("notes.txt")), "--style".into(), st.clone()], "nor a video file"),
        (vec!["--content".into(), c.clone()], "--style: a style image is required"),
        (vec!["--content".into(), c.clone(), "--method".into(), "gan".into()], "--method gan needs --model"),
        (
            vec!["--content".into(), c.clone(), "--style".into(), st.clone(), "--blend".into(), "1.5".into()],
            "--blend 1.5",
        ),
        (
            vec!["--content".into(), c.clone(), "--style".into(), st.clone(), "--frame-iters".into(), "0".into()],
            "--frame-iters 0",
        ),
        // An option the chosen method would ignore is named, not dropped.
        (
            vec!["--content".into(), c.clone(), "--style".into(), st.clone(), "--blend".into(), "0.3".into()],
            "--blend is for --method gan, not --method gatys",
        ),
        (
            ["--content", &c, "--method", "gan", "--model", "m.safetensors", "--iters", "5", "--history", "3"]
                .map(String::from)
                .to_vec(),
            "--iters, --history are for --method gatys, not --method gan",
        ),
        (
            ["--content", &c, "--method", "gan", "--model", "m.safetensors", "--style-weight", "5", "--offline"]
                .map(String::from)
                .to_vec(),
            "--style-weight, --offline are for --method gatys, not --method gan",
        ),
        // Both methods keep the frame's colours when asked: this one gets as
        // far as the missing model.
        (
            ["--content", &c, "--method", "gan", "--model", "m.safetensors", "--preserve-colors"]
                .map(String::from)
                .to_vec(),
            "m.safetensors",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["video".to_string(), "--output".into(), out.clone()];
        args.extend(extra);
        let message = one_line_error(&fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir));
        assert!(message.contains(needle), "{args:?}: {message}");
    }
    // An output naming one image is refused before work.
    let message = one_line_error(&fresco(&["video", "--content", &c, "--style", &st, "--output", "out.png"], &dir));
    assert!(message.contains("out.png: names one image"), "{message}");
    let message = one_line_error(&fresco(&["video", "--content", &c, "--style", &st, "--output", "clip.mp4/"], &dir));
    assert!(message.contains("clip.mp4/: a video file's name cannot end with a path separator"), "{message}");
    assert!(!Path::new(&out).exists(), "nothing is written on failure");
    std::fs::remove_dir_all(&dir).ok();
}

/// Whether `ffmpeg` runs here; prints why a test is skipped when it does not.
fn ffmpeg_present(test: &str) -> bool {
    let present = Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success());
    if !present {
        println!(
            "{test}: skipped, the ffmpeg program is not installed (`apt-get install ffmpeg`; .ci/run installs it)"
        );
    }
    present
}

#[test]
fn a_video_file_keeps_its_frame_rate_and_audio() {
    if !ffmpeg_present("a_video_file_keeps_its_frame_rate_and_audio") {
        return;
    }
    let dir = temp("file");
    let clip = write_clip(&dir, 6, 2.0);
    let input = dir.join("clip.mp4");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-framerate", "12", "-i"])
        .arg(clip.join("in_%03d.png"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=0.5", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-shortest"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(made.success());
    let output = dir.join("styled.mp4");
    let model = s(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/starry_night.safetensors"));
    let args = ["video", "--method", "gan", "--model", &model, "--content", &s(&input), "--output", &s(&output)];
    let summary = stdout(&fresco(&[&args[..], &["--size", "48", "--quiet"]].concat(), &dir));
    assert!(summary.contains("6 frames of 48x36"), "{summary}");
    assert!(!dir.join("styled.mp4.frames").exists(), "the work folder is removed once encoded");
    let probe = |what: &str| {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", what, "-of", "csv=p=0"])
            .arg(&output)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let streams = probe("stream=codec_type,r_frame_rate");
    assert!(streams.contains("video,12/1") && streams.contains("audio"), "{streams}");
    // An odd width is cropped for H.264, and the summary gives the size
    // the file has.
    let odd = dir.join("odd.mp4");
    let args = ["video", "--method", "gan", "--model", &model, "--content", &s(&input), "--output", &s(&odd)];
    let summary = stdout(&fresco(&[&args[..], &["--size", "47", "--quiet"]].concat(), &dir));
    assert!(summary.contains("(6 frames of 46x34); frames made at 47x35, the odd row or column cropped"), "{summary}");
    let sizes = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0"])
        .arg(&odd)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&sizes.stdout).trim(), "46,34");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_video_file_without_ffmpeg_is_a_one_line_error() {
    let dir = temp("noffmpeg");
    let input = dir.join("clip.mp4");
    std::fs::write(&input, b"not really").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fresco"))
        .args(["video", "--content", &s(&input), "--style", "x.png", "--output", &s(&dir.join("out"))])
        .env("PATH", &dir)
        .env("FRESCO_OFFLINE", "1")
        .env("FRESCO_CACHE", &dir)
        .output()
        .unwrap();
    let message = one_line_error(&out);
    assert!(message.contains("install the `ffmpeg` package"), "{message}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_input_and_the_frames_of_other_runs_are_never_overwritten() {
    let dir = temp("guard");
    let clip = write_clip(&dir, 3, 2.0);
    let model = s(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/starry_night.safetensors"));
    let gan = |content: &str, output: &str, extra: &[&str]| {
        let mut args = vec!["video", "--method", "gan", "--model", &model, "--content", content, "--output", output];
        args.extend(["--size", "32", "--quiet"]);
        args.extend(extra);
        fresco(&args, &dir)
    };
    let c = s(&clip);
    let inputs_before: Vec<Vec<u8>> =
        (0..3).map(|k| std::fs::read(clip.join(format!("in_{k:03}.png"))).unwrap()).collect();
    let message = one_line_error(&gan(&c, &c, &[]));
    assert!(message.contains("is the input"), "{message}");
    // A run into a folder, then another run with other settings into it.
    let out = s(&dir.join("out"));
    stdout(&gan(&c, &out, &[]));
    let message = one_line_error(&gan(&c, &out, &["--blend", "0.9"]));
    assert!(message.contains("holds frames of another run (its blend differs)"), "{message}");
    // Frames nobody recorded.
    let foreign = dir.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::copy(clip.join("in_000.png"), foreign.join("frame_000001.png")).unwrap();
    let message = one_line_error(&gan(&c, &s(&foreign), &[]));
    assert!(message.contains("no `fresco video` run recorded"), "{message}");
    // The record of a run that failed before its first frame guards nothing:
    // a run with other settings starts afresh there.
    let failed = dir.join("failed");
    std::fs::create_dir_all(&failed).unwrap();
    std::fs::write(failed.join("fresco-video.txt"), "fresco video\ninput: elsewhere\n").unwrap();
    stdout(&gan(&c, &s(&failed), &[]));
    assert!(failed.join("frame_000001.png").exists());
    // Frames of different sizes are refused, naming the frame.
    scene(40, 30, 0.0).save(clip.join("in_002.png")).unwrap();
    let message = one_line_error(&gan(&c, &s(&dir.join("mixed")), &[]));
    assert!(message.contains("in_002.png: is 40x30, the first frame 48x36"), "{message}");
    for (k, before) in inputs_before.iter().enumerate().take(2) {
        assert_eq!(&std::fs::read(clip.join(format!("in_{k:03}.png"))).unwrap(), before, "input {k} untouched");
    }
    let message = one_line_error(&gan(&c, &s(&dir.join("rate.mp4")), &["--fps", "0"]));
    assert!(message.contains("--fps 0"), "{message}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A clip stylised by a network trained with colour matching is recoloured
/// by one map for the whole clip. Here a red block fills the right third of
/// the second frame; the left third, unchanged, moved by a mean of 21.9
/// grey levels between the results when each frame was matched to its own
/// colours, and by 12.0 with the clip's map (the rest: the generator's
/// instance norm sees the whole frame).
#[test]
fn a_clips_colours_are_mapped_alike_in_every_frame() {
    let dir = temp("clip-colours");
    let frames = dir.join("clip");
    std::fs::create_dir_all(&frames).unwrap();
    let first = scene(96, 64, 0.0);
    let mut second = first.clone();
    for (x, _, pixel) in second.enumerate_pixels_mut() {
        if x >= 64 {
            *pixel = Rgb([240, 20, 20]);
        }
    }
    first.save(frames.join("in_000.png")).unwrap();
    second.save(frames.join("in_001.png")).unwrap();
    let model = s(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/starry_night.safetensors"));
    let out = dir.join("out");
    let (c, o) = (s(&frames), s(&out));
    let args = ["video", "--method", "gan", "--model", &model, "--content", &c, "--output", &o];
    stdout(&fresco(&[&args[..], &["--size", "96", "--no-temporal", "--quiet"]].concat(), &dir));
    let left_third = |k: usize| -> Vec<f64> {
        let frame = image::open(out.join(format!("frame_{k:06}.png"))).unwrap().to_rgb8();
        frame.enumerate_pixels().filter(|(x, _, _)| *x < 32).flat_map(|(_, _, p)| p.0.map(f64::from)).collect()
    };
    let (a, b) = (left_third(1), left_third(2));
    let change = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64;
    println!("unchanged left third: mean change {change:.2} grey levels between the two results");
    assert!(change < 16.0, "the unchanged left third moved by {change:.2} grey levels");

    // The first pass finds a frame of another size before anything is
    // written.
    scene(80, 64, 0.0).save(frames.join("in_002.png")).unwrap();
    let refused = dir.join("refused");
    let r = s(&refused);
    let args = ["video", "--method", "gan", "--model", &model, "--content", &c, "--output", &r, "--quiet"];
    let message = one_line_error(&fresco(&args, &dir));
    assert!(message.contains("in_002.png") && message.contains("must have one size"), "{message}");
    assert!(!refused.exists(), "the refused run left {}", refused.display());
    std::fs::remove_dir_all(&dir).ok();
}
