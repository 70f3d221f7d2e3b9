//! Frames in and out of `fresco video`: a folder of images (PNG, JPEG, … in
//! name order) or a video file read and written through the `ffmpeg`
//! program, as users of video tools expect. Frames are streamed one at a
//! time, never all held in memory.
//!
//! Results are written as numbered PNG frames (`frame_000001.png`, …),
//! each atomically, into the output folder or, for a video output, into a
//! work folder beside it (`OUT.frames/`) that `ffmpeg` encodes at the end
//! with the input's frame rate and audio track. A rerun finds the frames
//! already written and resumes after them.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

use tensor::{DType, Tensor};

use crate::error::{Result, StyleError};
use crate::image_io::load_image;

/// Extensions read as video files (anything else that is not a folder is
/// refused before work starts).
pub const VIDEO_EXTENSIONS: [&str; 7] = ["mp4", "mkv", "mov", "webm", "avi", "gif", "m4v"];

/// Extensions of the images a folder of frames may hold.
const FRAME_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff"];

fn video_error(path: &Path, detail: impl Into<String>) -> StyleError {
    StyleError::Video { path: path.to_path_buf(), detail: detail.into() }
}

/// Whether `path`'s extension, in any case, is one of `extensions`.
fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension().and_then(OsStr::to_str).is_some_and(|e| extensions.contains(&e.to_ascii_lowercase().as_str()))
}

/// Whether `path` names a video file by its extension.
pub fn is_video_file(path: &Path) -> bool {
    has_extension(path, &VIDEO_EXTENSIONS)
}

/// Whether `path` names an image of a kind a folder of frames holds.
pub fn is_frame_image(path: &Path) -> bool {
    has_extension(path, &FRAME_EXTENSIONS)
}

/// Checks that the `ffmpeg` program (and `ffprobe`, which comes with it)
/// runs, for a video file at `path`.
///
/// # Errors
/// One line naming the file and the package to install.
pub fn require_ffmpeg(path: &Path) -> Result<()> {
    for program in ["ffmpeg", "ffprobe"] {
        let runs = Command::new(program)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !runs {
            return Err(video_error(
                path,
                format!("video files need the `{program}` program, which was not found: install the `ffmpeg` package (e.g. `apt-get install ffmpeg`), or give a folder of frames"),
            ));
        }
    }
    Ok(())
}

/// What `ffprobe` says of a video file.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoInfo {
    /// Frame rate as `ffmpeg` writes it (`30000/1001`, `25/1`).
    pub frame_rate: String,
    /// Frames, when the container says.
    pub frames: Option<usize>,
    /// Whether there is an audio stream to carry over.
    pub has_audio: bool,
}

fn ffprobe(path: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(path)
        .output()
        .map_err(|e| video_error(path, format!("cannot run ffprobe: {e}")))?;
    if !output.status.success() {
        let why = String::from_utf8_lossy(&output.stderr);
        let why = why.lines().last().unwrap_or("ffprobe failed").trim().to_string();
        return Err(video_error(path, format!("not a readable video: {why}")));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Probes a video file's frame rate, frame count and audio.
///
/// # Errors
/// When `ffprobe` cannot read it or it has no video stream.
pub fn probe(path: &Path) -> Result<VideoInfo> {
    let video = ffprobe(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=r_frame_rate,nb_frames",
            "-of",
            "default=noprint_wrappers=1",
        ],
    )?;
    let field = |name: &str| {
        video.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('='))).map(str::to_string)
    };
    let frame_rate = field("r_frame_rate").ok_or_else(|| video_error(path, "no video stream"))?;
    let frames = field("nb_frames").and_then(|n| n.parse().ok()).filter(|&n| n > 0);
    let audio = ffprobe(path, &["-select_streams", "a", "-show_entries", "stream=index", "-of", "csv=p=0"])?;
    Ok(VideoInfo { frame_rate, frames, has_audio: !audio.is_empty() })
}

/// The input frames, in order.
pub enum FrameSource {
    /// A folder's images in name order.
    Folder {
        /// The images.
        paths: Vec<PathBuf>,
        /// The next one to read.
        next: usize,
    },
    /// A video decoded by `ffmpeg` into a stream of 8-bit binary PPM
    /// images at the stream's frame rate (each carries its size, so rotated
    /// videos come out upright).
    Video {
        /// The file.
        path: PathBuf,
        /// The decoder.
        child: Child,
        /// Its output.
        stream: BufReader<ChildStdout>,
        /// What it says on its standard error, collected by a thread.
        messages: Option<JoinHandle<String>>,
        /// Frames read so far.
        read: usize,
        /// What ffprobe said.
        info: VideoInfo,
    },
}

impl FrameSource {
    /// Opens a folder of frames or a video file.
    ///
    /// # Errors
    /// A missing path, an empty folder, a file that is not a video by its
    /// extension, a missing `ffmpeg`, or a video `ffprobe` cannot read.
    pub fn open(path: &Path) -> Result<FrameSource> {
        if path.is_dir() {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| video_error(path, format!("cannot list the folder: {e}")))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_frame_image(p))
                .collect();
            paths.sort();
            if paths.is_empty() {
                return Err(video_error(
                    path,
                    format!("no frames in the folder (images named *.{})", FRAME_EXTENSIONS.join(", *.")),
                ));
            }
            return Ok(FrameSource::Folder { paths, next: 0 });
        }
        if !path.exists() {
            return Err(video_error(path, "no such file or folder"));
        }
        if !is_video_file(path) {
            return Err(video_error(
                path,
                format!("not a folder of frames nor a video file by its extension ({})", VIDEO_EXTENSIONS.join(", ")),
            ));
        }
        require_ffmpeg(path)?;
        let info = probe(path)?;
        // 8-bit RGB whatever the source's depth (10-bit phone video too), at
        // the rate the result is encoded at, so its timing is kept.
        let mut child = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(path)
            .args(["-map", "0:v:0", "-fps_mode", "cfr", "-r", &info.frame_rate, "-pix_fmt", "rgb24"])
            .args(["-f", "image2pipe", "-vcodec", "ppm", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| video_error(path, format!("cannot run ffmpeg: {e}")))?;
        let stream = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let messages = std::thread::spawn(move || {
            let mut text = String::new();
            stderr.read_to_string(&mut text).ok();
            text
        });
        Ok(FrameSource::Video { path: path.to_path_buf(), child, stream, messages: Some(messages), read: 0, info })
    }

    /// Frames in all, when known (a folder's count, or the container's).
    pub fn len_hint(&self) -> Option<usize> {
        match self {
            FrameSource::Folder { paths, .. } => Some(paths.len()),
            FrameSource::Video { info, .. } => info.frames,
        }
    }

    /// The video's probe, for a video input.
    pub fn info(&self) -> Option<&VideoInfo> {
        match self {
            FrameSource::Folder { .. } => None,
            FrameSource::Video { info, .. } => Some(info),
        }
    }

    /// The next frame, `[1, 3, H, W]` in 0–1, or `None` at the end.
    ///
    /// # Errors
    /// A frame that cannot be read (naming it), a broken decoder stream, or
    /// a decoder that ended in failure (a damaged file: its last message is
    /// given), so a clip is never silently cut short.
    pub fn next_frame(&mut self) -> Result<Option<Tensor>> {
        match self {
            FrameSource::Folder { paths, next } => {
                let Some(path) = paths.get(*next) else { return Ok(None) };
                *next += 1;
                load_image(path, None).map(Some)
            }
            FrameSource::Video { path, stream, child, messages, read, info } => {
                let frame = read_ppm(stream).map_err(|why| video_error(path, why))?;
                if frame.is_some() {
                    *read += 1;
                    return Ok(frame);
                }
                let status = child.wait().map_err(|e| video_error(path, format!("ffmpeg: {e}")))?;
                let text = messages.take().and_then(|m| m.join().ok()).unwrap_or_default();
                let last = text.lines().rev().find(|l| !l.trim().is_empty()).map(str::trim);
                if !status.success() {
                    let why = last.unwrap_or("no message");
                    return Err(video_error(path, format!("ffmpeg could not decode it to the end: {why}")));
                }
                // A damaged file can end early without ffmpeg failing.
                if let (Some(expected), Some(why)) = (info.frames, last) {
                    if *read < expected {
                        return Err(video_error(
                            path,
                            format!("ffmpeg decoded {read} of its {expected} frames and stopped: {why}"),
                        ));
                    }
                }
                if let Some(last) = last {
                    eprintln!("note: {}: ffmpeg said: {last}", path.display());
                }
                Ok(None)
            }
        }
    }

    /// Where frame `index` (from 0) came from, for messages.
    pub fn describe(&self, index: usize) -> String {
        match self {
            FrameSource::Folder { paths, .. } => {
                paths.get(index).map_or_else(|| format!("frame {}", index + 1), |p| p.display().to_string())
            }
            FrameSource::Video { path, .. } => format!("{}: frame {}", path.display(), index + 1),
        }
    }
}

impl Drop for FrameSource {
    fn drop(&mut self) {
        if let FrameSource::Video { child, .. } = self {
            // The decoder may still be writing: stop it rather than wait.
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// Reads one binary PPM (P6, 8-bit) image from the decoder's stream; `None`
/// at a clean end of stream.
fn read_ppm(stream: &mut impl BufRead) -> std::result::Result<Option<Tensor>, String> {
    if stream.fill_buf().map_err(|e| e.to_string())?.is_empty() {
        return Ok(None);
    }
    // Header: "P6", width, height, maxval, each separated by whitespace
    // (ffmpeg writes no comments), then one whitespace byte.
    let mut fields = Vec::new();
    let mut current = Vec::new();
    while fields.len() < 4 {
        let mut byte = [0u8];
        stream.read_exact(&mut byte).map_err(|e| format!("truncated frame header from ffmpeg: {e}"))?;
        if byte[0].is_ascii_whitespace() {
            if !current.is_empty() {
                fields.push(String::from_utf8_lossy(&current).into_owned());
                current.clear();
            }
        } else {
            current.push(byte[0]);
        }
    }
    let number = |s: &str| s.parse::<usize>().map_err(|_| format!("bad frame header from ffmpeg: {fields:?}"));
    if fields[0] != "P6" || number(&fields[3])? != 255 {
        return Err(format!("unexpected frame format from ffmpeg: {fields:?}"));
    }
    let (width, height) = (number(&fields[1])?, number(&fields[2])?);
    let mut bytes = vec![0u8; width * height * 3];
    stream.read_exact(&mut bytes).map_err(|e| format!("truncated frame from ffmpeg: {e}"))?;
    let plane = width * height;
    let mut values = vec![0f32; 3 * plane];
    for (i, rgb) in bytes.chunks_exact(3).enumerate() {
        for (c, &v) in rgb.iter().enumerate() {
            values[c * plane + i] = v as f32 / 255.0;
        }
    }
    Ok(Some(Tensor::from_vec(values, &[1, 3, height, width]).to_dtype(DType::F32)))
}

/// The path of result frame `index` (from 0) in `folder`.
pub fn frame_path(folder: &Path, index: usize) -> PathBuf {
    folder.join(format!("frame_{:06}.png", index + 1))
}

/// The `(height, width)` the frames of `height × width` have in the video
/// `output` once encoded: H.264 and most codecs in 4:2:0 need even sides, so
/// an odd last row or column is cropped (not in a GIF).
pub fn encoded_dims(output: &Path, height: usize, width: usize) -> (usize, usize) {
    if video_extension(output) == "gif" {
        (height, width)
    } else {
        (height / 2 * 2, width / 2 * 2)
    }
}

fn video_extension(output: &Path) -> String {
    output.extension().and_then(OsStr::to_str).unwrap_or("mp4").to_ascii_lowercase()
}

/// Encodes the first `frames` PNG frames of `folder` (`frame_000001.png`,
/// …) into the video `output` at `frame_rate`, with the audio of
/// `audio_from` when given (not into a GIF), through a temporary file
/// renamed into place.
///
/// # Errors
/// When `ffmpeg` fails (its last message is given) or the result cannot be
/// moved into place.
pub fn encode(folder: &Path, output: &Path, frames: usize, frame_rate: &str, audio_from: Option<&Path>) -> Result<()> {
    require_ffmpeg(output)?;
    let extension = video_extension(output);
    let temporary = output.with_file_name(format!(
        ".{}.partial.{extension}",
        output.file_name().and_then(OsStr::to_str).unwrap_or("video")
    ));
    let mut command = Command::new("ffmpeg");
    // The image sequence pattern, a `%` in the folder's own name doubled.
    let folder_pattern = folder.to_string_lossy().replace('%', "%%");
    let pattern = format!("{folder_pattern}{}frame_%06d.png", std::path::MAIN_SEPARATOR);
    command.args(["-v", "error", "-nostdin", "-y", "-framerate", frame_rate, "-i", &pattern]);
    match audio_from {
        Some(audio) if extension != "gif" => {
            command.arg("-i").arg(audio).args(["-map", "0:v:0", "-map", "1:a?", "-shortest"]);
        }
        _ => {}
    }
    command.args(["-frames:v", &frames.to_string()]);
    if extension == "gif" {
        // A palette made from the clip itself, not GIF's generic one.
        command.args(["-vf", "split[frames][copy];[copy]palettegen[palette];[frames][palette]paletteuse"]);
    } else {
        // H.264 and most codecs in 4:2:0 need even sides: an odd last row
        // or column is cropped (as `encoded_dims` reports).
        command.args(["-vf", "crop=trunc(iw/2)*2:trunc(ih/2)*2", "-pix_fmt", "yuv420p"]);
    }
    if matches!(extension.as_str(), "mp4" | "mov" | "mkv" | "m4v") {
        command.args(["-c:v", "libx264", "-crf", "18"]);
    }
    let result = command.arg(&temporary).stdin(Stdio::null()).output();
    let failure = match result {
        Ok(out) if out.status.success() => None,
        Ok(out) => {
            Some(String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("ffmpeg failed").trim().to_string())
        }
        Err(e) => Some(format!("cannot run ffmpeg: {e}")),
    };
    if let Some(why) = failure {
        std::fs::remove_file(&temporary).ok();
        return Err(video_error(output, format!("encoding failed: {why}")));
    }
    std::fs::rename(&temporary, output).map_err(|e| {
        std::fs::remove_file(&temporary).ok();
        video_error(output, format!("cannot move the encoded video into place: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ppm_stream_reads_frame_by_frame() {
        let mut bytes = b"P6\n2 1\n255\n".to_vec();
        bytes.extend_from_slice(&[255, 0, 0, 0, 0, 255]);
        bytes.extend_from_slice(b"P6 1 1 255\n");
        bytes.extend_from_slice(&[0, 255, 0]);
        let mut stream = BufReader::new(bytes.as_slice());
        let first = read_ppm(&mut stream).unwrap().unwrap();
        assert_eq!(first.shape(), &[1, 3, 1, 2]);
        assert_eq!(first.to_vec::<f32>(), vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        let second = read_ppm(&mut stream).unwrap().unwrap();
        assert_eq!(second.to_vec::<f32>(), vec![0.0, 1.0, 0.0]);
        assert!(read_ppm(&mut stream).unwrap().is_none());
        let mut truncated = BufReader::new(&b"P6\n4 4\n255\n\x01\x02"[..]);
        assert!(read_ppm(&mut truncated).unwrap_err().contains("truncated"));
    }

    #[test]
    fn video_files_are_known_by_extension() {
        assert!(is_video_file(Path::new("clip.MP4")));
        assert!(is_video_file(Path::new("a/b.webm")));
        assert!(!is_video_file(Path::new("frame.png")));
        assert!(!is_video_file(Path::new("noextension")));
    }
}
