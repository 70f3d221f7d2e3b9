//! `fresco audio` end to end on sounds the tests make (a sweep, a chord,
//! silence) with small settings: the result, its log, its spectrogram
//! picture, a texture of a given length, inputs at different rates, and
//! one-line errors that leave nothing behind.

use std::path::{Path, PathBuf};
use std::process::Output;

#[path = "support/cli.rs"]
mod cli;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fresco-audio-cli-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn write_tone(path: &Path, rate: u32, seconds: f32, sound: impl Fn(f32) -> f32) {
    let spec =
        hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(seconds * rate as f32) as usize {
        writer.write_sample((sound(i as f32 / rate as f32) * 20000.0) as i16).unwrap();
    }
    writer.finalize().unwrap();
}

fn sounds(dir: &Path) -> (PathBuf, PathBuf) {
    let (content, style) = (dir.join("sweep.wav"), dir.join("chord.wav"));
    write_tone(&content, 8000, 0.6, |t| (std::f32::consts::TAU * (300.0 + 900.0 * t) * t).sin() * 0.5);
    // The style at another rate: it is resampled to the run's.
    write_tone(&style, 16000, 0.5, |t| {
        [262.0f32, 330.0, 392.0].iter().map(|f| (std::f32::consts::TAU * f * t).sin()).sum::<f32>() / 4.0
    });
    (content, style)
}

const SMALL: [&str; 12] = [
    "--filters",
    "48",
    "--iters",
    "8",
    "--n-fft",
    "256",
    "--hop",
    "64",
    "--sample-rate",
    "8000",
    "--griffin-lim-iters",
    "10",
];

fn fresco(args: &[&str], dir: &Path) -> Output {
    let mut all: Vec<&str> = vec!["audio"];
    all.extend(args);
    all.extend(SMALL);
    all.push("--quiet");
    cli::fresco_offline(&all, dir)
}

/// The standard output of a run that must have succeeded.
fn succeeded(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn one_line_error(out: &Output) -> String {
    assert!(!out.status.success(), "expected failure, got success: {}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr.trim().to_string()
}

#[test]
fn a_transfer_writes_the_sound_log_and_spectrograms() {
    let dir = temp("run");
    let (content, style) = sounds(&dir);
    let (output, log, picture) = (dir.join("out.wav"), dir.join("run.jsonl"), dir.join("spectrograms.png"));
    let args = ["--content", &s(&content), "--style", &s(&style), "-o", &s(&output), "--log", &s(&log)];
    let out = fresco(&[&args[..], &["--spectrogram", &s(&picture)]].concat(), &dir);
    let stdout = succeeded(&out);
    assert!(stdout.contains("(0.60 s at 8000 Hz)") && stdout.contains("spectral convergence"), "{stdout}");
    let reader = hound::WavReader::open(&output).unwrap();
    assert_eq!((reader.spec().sample_rate, reader.spec().channels, reader.len()), (8000, 1, 4800));
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(lines.lines().count() >= 2 && lines.starts_with("{\"iteration\":1,"), "{lines}");
    let picture = image::open(&picture).unwrap();
    assert!(picture.width() > 3 * 40 && picture.height() > 256, "three panels");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_texture_takes_the_length_asked_for() {
    let dir = temp("texture");
    let (_, style) = sounds(&dir);
    let output = dir.join("texture.wav");
    let out = fresco(&["--texture", "--seconds", "0.25", "--style", &s(&style), "-o", &s(&output)], &dir);
    succeeded(&out);
    assert_eq!(hound::WavReader::open(&output).unwrap().len(), 2000);
    // Adam instead of L-BFGS lowers the loss too.
    let log = dir.join("adam.jsonl");
    let args = ["--texture", "--seconds", "0.25", "--style", &s(&style), "-o", &s(&output), "--log", &s(&log)];
    let out = fresco(&[&args[..], &["--optimizer", "adam", "--lr", "0.1"]].concat(), &dir);
    succeeded(&out);
    let totals: Vec<f64> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.split("\"total\":").nth(1).unwrap().split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(totals.len() == 8 && totals[7] < totals[0], "{totals:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_inputs_fail_in_one_line_and_write_nothing() {
    let dir = temp("bad");
    let (content, style) = sounds(&dir);
    let silent = dir.join("silence.wav");
    write_tone(&silent, 8000, 0.3, |_| 0.0);
    std::fs::write(dir.join("notes.wav"), "not audio at all").unwrap();
    let output = dir.join("never.wav");
    let (c, st, o) = (s(&content), s(&style), s(&output));
    let short = dir.join("short.wav");
    write_tone(&short, 8000, 0.0125, |t| (t * 3000.0).sin());
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--content".into(), s(&silent), "--style".into(), st.clone(), "-o".into(), o.clone()],
            "silence.wav: is silent",
        ),
        (
            vec!["--content".into(), s(&short), "--style".into(), st.clone(), "-o".into(), o.clone()],
            "short.wav: 100 samples at 8000 Hz, shorter than one 256-sample window",
        ),
        (
            vec![
                "--content".into(),
                c.clone(),
                "--style".into(),
                st.clone(),
                "-o".into(),
                o.clone(),
                "--seconds".into(),
                "1".into(),
            ],
            "--seconds: only for --texture",
        ),
        (vec!["--content".into(), c.clone(), "--style".into(), st.clone(), "-o".into(), c.clone()], "is an input"),
        (
            vec!["--content".into(), c.clone(), "--style".into(), st.clone(), "-o".into(), s(&dir.join("out.mp3"))],
            "give it a .wav name",
        ),
        (
            vec!["--content".into(), c.clone(), "--style".into(), s(&dir.join("missing.wav")), "-o".into(), o.clone()],
            "missing.wav: cannot read",
        ),
        (
            vec!["--content".into(), s(&dir.join("notes.wav")), "--style".into(), st.clone(), "-o".into(), o.clone()],
            "notes.wav: not a readable WAV file",
        ),
        (
            vec!["--content".into(), c.clone(), "--style".into(), s(&silent), "-o".into(), o.clone()],
            "silence.wav: is silent",
        ),
        (
            vec![
                "--content".into(),
                c.clone(),
                "--style".into(),
                st.clone(),
                "-o".into(),
                o.clone(),
                "--kernel-width".into(),
                "4".into(),
            ],
            "--kernel-width 4",
        ),
        (
            vec![
                "--content".into(),
                c.clone(),
                "--style".into(),
                st.clone(),
                "-o".into(),
                o.clone(),
                "--style-weight".into(),
                "-1".into(),
            ],
            "--style-weight -1",
        ),
    ];
    for (args, needle) in cases {
        let message = one_line_error(&fresco(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir));
        assert!(message.contains(needle), "{args:?}: {message}");
    }
    assert!(!output.exists(), "nothing written on failure");
    assert_eq!(hound::WavReader::open(&content).unwrap().len(), 4800, "the content survives an output naming it");
    std::fs::remove_dir_all(&dir).ok();
}
