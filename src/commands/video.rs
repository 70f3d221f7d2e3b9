//! `fresco video`: style transfer for videos with temporal consistency
//! (Ruder, Dosovitskiy & Brox 2016 and 2018). Frames stream in from a folder
//! or a video file; each result is written as it is made, so an interrupted
//! run resumes where it stopped; a video output is encoded at the end with
//! the input's frame rate and audio.
//!
//! * `--method gatys`: the first frame gets the full Gatys schedule; each
//!   later one starts from the previous result warped into it by optical
//!   flow and is held to it by the temporal loss where the flow is reliable,
//!   so a few iterations suffice; a long-term term holds it to the first
//!   frame's result too, so a static scene does not drift.
//! * `--method gan`: a trained stylizer per frame, its output blended with
//!   the previous output warped into the frame, where reliable; a stylizer
//!   trained with colour matching recolours every frame by one map, made
//!   from the whole clip's colours in a first pass.
//! * `--no-temporal`: every frame alone (the baseline).
//!
//! After every frame but the first, the warping error against the previous
//! result (flow from the input frames) is logged; the summary gives its mean.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use nn::Vgg;
use style::color::{transfer_luminance, ColourStatistics};
use style::gan::StyleModel;
use style::gatys::{Gatys, Initial, TemporalTarget};
use style::image_io::{fit_dims, load_image, resize, save_image};
use style::video::flow::FlowConfig;
use style::video::frames::{self, frame_path, FrameSource};
use style::video::temporal::{blend, frame_flow, reliability_map, warp_frame, warping_error};
use tensor::Tensor;

use super::objective::ObjectiveArgs;
use super::paths;
use crate::weights::load_vgg;

/// How each frame is stylised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VideoMethod {
    /// Gatys optimisation per frame, with the temporal loss.
    Gatys,
    /// A stylizer from `fresco gan train`, with flow-based blending.
    Gan,
}

/// Arguments of `fresco video`.
#[derive(Args, Debug)]
pub struct VideoArgs {
    /// The input (`--content`): a folder of frames in name order, or a video file (read with ffmpeg); with
    /// `--method gatys` the style images, weights and layers as for `gatys`.
    #[command(flatten)]
    pub objective: ObjectiveArgs,
    /// Where to write: a video file (.mp4, .mkv, .mov, .webm, .avi, .gif, .m4v; its frames are kept in
    /// OUTPUT.frames/ until it is encoded, so a rerun resumes), or a folder of PNG frames (a name without an
    /// extension).
    #[arg(long, short)]
    pub output: PathBuf,
    /// How each frame is stylised.
    #[arg(long, value_enum, default_value = "gatys")]
    pub method: VideoMethod,
    /// The stylizer for `--method gan` (a file written by `fresco gan train`, e.g. models/starry_night.safetensors).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Stylise every frame alone: no warped start, temporal loss or blending (the flicker baseline).
    #[arg(long)]
    pub no_temporal: bool,
    /// Longest side of the frames processed and written, in pixels.
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    pub size: usize,
    /// Gatys: iterations at the full size for the first frame (and every frame with --no-temporal).
    #[arg(long, default_value_t = 65, allow_negative_numbers = true)]
    pub iters: usize,
    /// Gatys: iterations at each coarser scale of the first frame.
    #[arg(long, default_value_t = 60, allow_negative_numbers = true)]
    pub coarse_iters: usize,
    /// Gatys: coarse-to-fine scales of the first frame [default: 2, or 1 where half the size is too small].
    #[arg(long)]
    pub scales: Option<usize>,
    /// Gatys: iterations of each later frame, which starts from the previous result warped into it.
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    pub frame_iters: usize,
    /// Gatys: weight of the temporal loss (mean squared difference, in 0-1 pixels, from the warped previous result
    /// where the flow is reliable).
    #[arg(long, default_value_t = 100.0, allow_negative_numbers = true)]
    pub temporal_weight: f64,
    /// Gatys: weight of the long-term term, the same loss against the first frame's result warped straight into
    /// each frame, which keeps a static scene from drifting over a long clip; 0 turns it off.
    #[arg(long, default_value_t = 100.0, allow_negative_numbers = true)]
    pub long_term_weight: f64,
    /// GAN: how much of the warped previous output reliable pixels keep (0-1; more is steadier but softer).
    #[arg(long, default_value_t = 0.45, allow_negative_numbers = true)]
    pub blend: f64,
    /// Gatys: L-BFGS history pairs.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    pub history: usize,
    /// Gatys: search each L-BFGS step's length (strong Wolfe) within the evaluation budget; steadier with --histogram-weight.
    #[arg(long)]
    pub line_search: bool,
    /// Keep each frame's colours (transfer luminance only), with either method.
    #[arg(long)]
    pub preserve_colors: bool,
    /// Stop after this many frames.
    #[arg(long, allow_negative_numbers = true)]
    pub max_frames: Option<usize>,
    /// Frame rate of a video written from a folder of frames, a number or a ratio such as 30000/1001 (a video
    /// input's own rate is kept).
    #[arg(long, default_value = "25", allow_negative_numbers = true)]
    pub fps: String,
    /// Log (one JSON line per frame), plot, progress bar and device.
    #[command(flatten)]
    pub run: super::RunArgs,
}

/// How one frame is made.
enum Stylizer {
    /// The first frame's run and the later frames' run.
    Gatys { first: Box<Gatys>, later: Box<Gatys>, styles: Vec<Tensor> },
    /// A stylizer network.
    Gan(Box<StyleModel>),
}

/// Where results go: the folder the frames are written to, and for a video
/// output the file to encode them into at the end.
struct Destination {
    frames: PathBuf,
    video: Option<PathBuf>,
}

fn destination(output: &Path) -> Result<Destination> {
    // A trailing separator names a folder (`styled.final/`, `out-0.25/`),
    // except after a video extension (`clip.mp4/`), refused as ambiguous.
    if output.to_string_lossy().chars().last().is_some_and(std::path::is_separator) {
        if frames::is_video_file(output) {
            bail!("{}: a video file's name cannot end with a path separator", output.display());
        }
        paths::check_output_dir(output)?;
        return Ok(Destination { frames: output.to_path_buf(), video: None });
    }
    if frames::is_video_file(output) {
        paths::check_output_file(output, "output", None)?;
        frames::require_ffmpeg(output)?;
        let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let frames = output.with_file_name(format!("{name}.frames"));
        paths::check_output_dir(&frames)?;
        return Ok(Destination { frames, video: Some(output.to_path_buf()) });
    }
    let alphabetic_extension =
        output.extension().and_then(|e| e.to_str()).is_some_and(|e| e.chars().all(|c| c.is_ascii_alphabetic()));
    if alphabetic_extension && !output.is_dir() {
        let what =
            if frames::is_frame_image(output) { "names one image" } else { "is not a video format written here" };
        bail!(
            "{}: {what}; give a video file ({}) or a folder for the frames (a name without an extension)",
            output.display(),
            frames::VIDEO_EXTENSIONS.join(", ")
        );
    }
    paths::check_output_dir(output)?;
    Ok(Destination { frames: output.to_path_buf(), video: None })
}

fn check_settings(args: &VideoArgs) -> Result<()> {
    if args.size == 0 {
        bail!("--size 0: the frames need at least one pixel");
    }
    if !(0.0..=1.0).contains(&args.blend) {
        bail!("--blend {}: expected a share between 0 and 1", args.blend);
    }
    for (name, weight) in [("--temporal-weight", args.temporal_weight), ("--long-term-weight", args.long_term_weight)] {
        if !(weight >= 0.0 && weight.is_finite()) {
            bail!("{name} {weight}: expected a finite weight of 0 or more");
        }
    }
    if args.frame_iters == 0 {
        bail!("--frame-iters 0: each later frame needs at least one iteration");
    }
    if args.max_frames == Some(0) {
        bail!("--max-frames 0: nothing to do");
    }
    let rate = match args.fps.split_once('/') {
        Some((n, d)) => n.trim().parse::<f64>().ok().zip(d.trim().parse::<f64>().ok()).map(|(n, d)| n / d),
        None => args.fps.trim().parse::<f64>().ok(),
    };
    if !rate.is_some_and(|r| r.is_finite() && r > 0.0) {
        bail!("--fps {}: expected frames per second, a positive number or a ratio such as 30000/1001", args.fps);
    }
    match args.method {
        VideoMethod::Gan if args.model.is_none() => {
            bail!(
                "--method gan needs --model (a stylizer from `fresco gan train`, e.g. models/starry_night.safetensors)"
            )
        }
        VideoMethod::Gan if !args.objective.style.is_empty() => {
            bail!("--style is for --method gatys; a --method gan stylizer carries its own style")
        }
        VideoMethod::Gatys if args.model.is_some() => bail!("--model is for --method gan"),
        _ => {
            // An option the run would not read is named, not ignored.
            let given = options_of_the_other_method(args);
            if !given.is_empty() {
                let (this, other) = if args.method == VideoMethod::Gan { ("gan", "gatys") } else { ("gatys", "gan") };
                let verb = if given.len() == 1 { "is" } else { "are" };
                bail!("{} {verb} for --method {other}, not --method {this}", given.join(", "));
            }
            // The temporal options stay allowed with --no-temporal: it is
            // the baseline switch, added to a command to compare against.
            Ok(())
        }
    }
}

/// The options given with a value other than their default that only the
/// other `--method` reads (`--blend` for gan; the objective's, the VGG's
/// and the optimisation's for gatys).
fn options_of_the_other_method(args: &VideoArgs) -> Vec<&'static str> {
    let d: VideoArgs = super::defaults_of(&["--content", "c", "--output", "o"]);
    let options = match args.method {
        VideoMethod::Gatys => vec![("--blend", args.blend != d.blend)],
        VideoMethod::Gan => vec![
            ("--iters", args.iters != d.iters),
            ("--coarse-iters", args.coarse_iters != d.coarse_iters),
            ("--scales", args.scales != d.scales),
            ("--frame-iters", args.frame_iters != d.frame_iters),
            ("--temporal-weight", args.temporal_weight != d.temporal_weight),
            ("--long-term-weight", args.long_term_weight != d.long_term_weight),
            ("--history", args.history != d.history),
            ("--line-search", args.line_search != d.line_search),
            ("--style-blend", args.objective.style_blend != d.objective.style_blend),
            ("--content-weight", args.objective.content_weight != d.objective.content_weight),
            ("--style-weight", args.objective.style_weight != d.objective.style_weight),
            ("--tv-weight", args.objective.tv_weight != d.objective.tv_weight),
            ("--laplacian-weight", args.objective.laplacian_weight != d.objective.laplacian_weight),
            ("--laplacian-pool", args.objective.laplacian_pool != d.objective.laplacian_pool),
            ("--histogram-weight", args.objective.histogram_weight != d.objective.histogram_weight),
            ("--histogram-layers", args.objective.histogram_layers != d.objective.histogram_layers),
            ("--content-layers", args.objective.content_layers != d.objective.content_layers),
            ("--style-layers", args.objective.style_layers != d.objective.style_layers),
            ("--pooling", args.objective.pooling != d.objective.pooling),
            ("--style-scale", args.objective.style_scale != d.objective.style_scale),
            ("--weights", args.objective.weights.weights.is_some()),
            ("--offline", args.objective.weights.offline),
            ("--require-pretrained", args.objective.weights.require_pretrained),
        ],
    };
    options.into_iter().filter_map(|(name, given)| given.then_some(name)).collect()
}

fn stylizer(args: &VideoArgs) -> Result<Stylizer> {
    match args.method {
        VideoMethod::Gan => {
            let path = args.model.as_deref().expect("checked");
            Ok(Stylizer::Gan(Box::new(StyleModel::load(path, args.run.device)?)))
        }
        VideoMethod::Gatys => {
            let styles = args.objective.load_styles()?;
            let base = args
                .objective
                .builder()?
                .size(args.size)
                .history(args.history)
                // Frames start from the previous result carried along the
                // flow; the preconditioner was measured on single pictures.
                .preconditioner_levels(0)
                .line_search(args.line_search)
                .device(args.run.device);
            let mut first = base.clone().iterations(args.iters).coarse_iterations(args.coarse_iters);
            if let Some(scales) = args.scales {
                first = first.scales(scales);
            }
            let later = base.scales(1).iterations(args.frame_iters).coarse_iterations(args.frame_iters);
            // Settings are checked against the layers before any weights are fetched.
            let kind = args.objective.expected_kind()?;
            first.clone().build(Vgg::random_with_widths(kind, [1; 5], 0))?;
            later.clone().build(Vgg::random_with_widths(kind, [1; 5], 0))?;
            let vgg = load_vgg(&args.objective.weights)?;
            Ok(Stylizer::Gatys {
                first: Box::new(first.build(vgg.clone())?),
                later: Box::new(later.build(vgg)?),
                styles,
            })
        }
    }
}

/// What became of the previous frame: its input, its result as written,
/// and the result the next frame builds on (the same, except that with
/// `--preserve-colors` the written one has the input's colours and this one
/// the style's, which the next frame's style loss keeps).
struct Previous {
    input: Tensor,
    written: Tensor,
    state: Tensor,
}

/// A file's identity for the resume check: its full path, length and time
/// of last change.
fn identity(path: &Path) -> String {
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let meta = std::fs::metadata(path).ok();
    let modified = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    format!("{} ({} bytes, modified {modified})", full.display(), meta.map_or(0, |m| m.len()))
}

/// The record of what a folder of result frames was made from: the input,
/// the model or styles, and every setting that changes a frame. A rerun
/// resumes only into a folder whose record matches.
fn run_record(args: &VideoArgs) -> String {
    let o = &args.objective;
    let mut lines = vec!["fresco video".to_string(), format!("input: {}", identity(&o.content))];
    lines.push(format!("method: {:?}, temporal: {}, size: {}", args.method, !args.no_temporal, args.size));
    match args.method {
        VideoMethod::Gan => {
            lines.push(format!("model: {}", identity(args.model.as_deref().expect("checked"))));
            lines.push(format!("blend: {}, preserve colours: {}", args.blend, args.preserve_colors));
            // A stylizer trained with colour matching recolours every frame
            // by one map made from the frames it stylises.
            lines.push(format!("colour map: one per clip, from frames up to {:?}", args.max_frames));
        }
        VideoMethod::Gatys => {
            lines.extend(o.style.iter().map(|s| format!("style: {}", identity(s))));
            lines.push(format!(
                "objective: blend {:?}, weights {} {} {}, laplacian {} {:?}, histogram {} {}, layers {} / {}, pooling {:?}, style scale {}, vgg {:?}",
                o.style_blend,
                o.content_weight,
                o.style_weight,
                o.tv_weight,
                o.laplacian_weight,
                o.laplacian_pool,
                o.histogram_weight,
                o.histogram_layers,
                o.content_layers,
                o.style_layers,
                o.pooling,
                o.style_scale,
                o.weights.weights.as_deref().map(identity)
            ));
            lines.push(format!(
                "schedule: {} + {} x {:?} scales, later frames {}, temporal weights {} {}, history {}, line search {}, preserve colours {}",
                args.coarse_iters,
                args.iters,
                args.scales,
                args.frame_iters,
                args.temporal_weight,
                args.long_term_weight,
                args.history,
                args.line_search,
                args.preserve_colors
            ));
        }
    }
    lines.join("\n") + "\n"
}

/// The name of the record in a folder of result frames.
const RECORD_NAME: &str = "fresco-video.txt";

/// Whether `folder` holds frames of an earlier run of these settings (to
/// resume), holds nothing of ours (a fresh start), or holds frames of
/// something else (refused, so no one's frames are mixed or overwritten).
fn check_resume(folder: &Path, record: &str) -> Result<bool> {
    let has_frames = frame_path(folder, 0).exists();
    match std::fs::read_to_string(folder.join(RECORD_NAME)) {
        Ok(existing) if existing == record => Ok(has_frames),
        // A run that failed before its first frame left its record alone:
        // nothing to resume, nothing of another run's to protect.
        Ok(_) if !has_frames => Ok(false),
        Ok(existing) => {
            let differs = record.lines().zip(existing.lines()).find(|(a, b)| a != b).map_or("", |(a, _)| a);
            let key = differs.split(':').next().unwrap_or("settings");
            bail!(
                "{}: holds frames of another run (its {key} differs); remove them, or give another output",
                folder.display()
            )
        }
        Err(_) if has_frames => bail!(
            "{}: holds frame_*.png files that no `fresco video` run recorded ({RECORD_NAME} is missing); give an empty or new folder",
            folder.display()
        ),
        Err(_) => Ok(false),
    }
}

/// Refuses an output that is, or would write into, the input.
fn check_not_the_input(input: &Path, destination: &Destination) -> Result<()> {
    let full = |p: &Path| -> PathBuf {
        std::fs::canonicalize(p).unwrap_or_else(|_| {
            let parent = p.parent().filter(|q| !q.as_os_str().is_empty()).unwrap_or(Path::new("."));
            std::fs::canonicalize(parent)
                .map_or_else(|_| p.to_path_buf(), |d| d.join(p.file_name().unwrap_or_default()))
        })
    };
    let input_full = full(input);
    let mut outputs = vec![&destination.frames];
    outputs.extend(destination.video.as_ref());
    for out in outputs {
        if full(out) == input_full {
            bail!("{}: is the input; the results would overwrite it (give another output)", out.display());
        }
    }
    Ok(())
}

/// Removes the frames of `folder` (and its record), then the folder if
/// nothing else is in it.
fn remove_work_folder(folder: &Path, frames: usize) {
    for index in 0..frames {
        std::fs::remove_file(frame_path(folder, index)).ok();
    }
    std::fs::remove_file(folder.join(RECORD_NAME)).ok();
    std::fs::remove_dir(folder).ok();
}

/// A frame of another size than the clip's first: the error.
fn frame_size_error(
    source: &FrameSource,
    index: usize,
    (h, w): (usize, usize),
    (fh, fw): (usize, usize),
) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: is {w}x{h}, the first frame {fw}x{fh}; every frame of a clip must have one size",
        source.describe(index)
    )
}

/// The colour statistics of a clip's frames (the first `max_frames`), at
/// the size they are stylised at, pooled: a first pass over the input.
/// `None` for a clip with no frames (the main pass says so).
fn clip_colour_statistics(input: &Path, max_frames: Option<usize>, size: usize) -> Result<Option<ColourStatistics>> {
    let mut source = FrameSource::open(input)?;
    let mut parts = Vec::new();
    let mut first_dims = None;
    while max_frames.is_none_or(|m| parts.len() < m) {
        let Some(frame) = source.next_frame()? else { break };
        let dims = (frame.shape()[2], frame.shape()[3]);
        let &mut first = first_dims.get_or_insert(dims);
        if dims != first {
            return Err(frame_size_error(&source, parts.len(), dims, first));
        }
        let (h, w) = fit_dims(dims.0, dims.1, size, 1);
        parts.push((ColourStatistics::of(&resize(&frame, h, w)), h * w));
    }
    Ok(ColourStatistics::pool(&parts))
}

/// Runs `fresco video`.
pub fn run(args: VideoArgs) -> Result<()> {
    check_settings(&args)?;
    let destination = destination(&args.output)?;
    paths::check_report_paths(args.run.log.as_deref(), args.run.plot.as_deref())?;
    let input = args.objective.content.clone();
    let mut source = FrameSource::open(&input)?;
    check_not_the_input(&input, &destination)?;
    let record = run_record(&args);
    let resuming = check_resume(&destination.frames, &record)?;
    let frame_rate = source.info().map_or_else(|| args.fps.trim().to_string(), |info| info.frame_rate.clone());
    let has_audio = source.info().is_some_and(|info| info.has_audio);
    let mut stylizer = stylizer(&args)?;
    // One colour map for the whole clip (a stylizer trained with colour
    // matching): matched a frame at a time, its colours would shift with
    // the content. Read before anything is written.
    let clip_colours = match &stylizer {
        Stylizer::Gan(model) if model.colour_target().is_some() => {
            clip_colour_statistics(&input, args.max_frames, args.size)?
        }
        _ => None,
    };
    std::fs::create_dir_all(&destination.frames)
        .with_context(|| format!("{}: cannot create the folder", destination.frames.display()))?;
    nn::io::write_atomically(&destination.frames.join(RECORD_NAME), |file| {
        std::io::Write::write_all(file, record.as_bytes())
    })
    .with_context(|| format!("{}: cannot write {RECORD_NAME}", destination.frames.display()))?;

    let total = match (source.len_hint(), args.max_frames) {
        (Some(n), Some(m)) => Some(n.min(m)),
        (n, m) => n.or(m),
    };
    let bar = super::progress_bar(total.unwrap_or(0) as u64, args.run.quiet);
    if total.is_none() {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} frame {pos} [{elapsed_precise}, {per_sec}] {msg}")
                .expect("valid template"),
        );
    }
    // A resumed run adds to the log of the run it continues.
    let mut record_log = super::LossRecord::new(["warping error"], args.run.log.as_deref(), resuming);
    let flow_config = FlowConfig::default();
    let min_side = match &stylizer {
        Stylizer::Gatys { first, .. } => first.min_side(),
        Stylizer::Gan(_) => 1,
    };
    let mut previous: Option<Previous> = None;
    // The first frame's input and result, for the long-term term.
    let mut key: Option<(Tensor, Tensor)> = None;
    let (mut resumed, mut made, mut later_seconds, mut later_frames) = (0usize, 0usize, 0.0f64, 0usize);
    let mut warping_errors: Vec<f64> = Vec::new();
    let mut first_dims: Option<(usize, usize)> = None;
    let mut size: Option<(usize, usize)> = None;
    for index in 0.. {
        if args.max_frames.is_some_and(|m| index >= m) {
            break;
        }
        let Some(frame) = source.next_frame()? else { break };
        let dims = (frame.shape()[2], frame.shape()[3]);
        let &mut (fh, fw) = first_dims.get_or_insert(dims);
        if dims != (fh, fw) {
            return Err(frame_size_error(&source, index, dims, (fh, fw)));
        }
        let (h, w) = *size.get_or_insert_with(|| fit_dims(fh, fw, args.size, min_side));
        let frame = resize(&frame, h, w);
        let path = frame_path(&destination.frames, index);
        // A frame written by the earlier run this one continues.
        if resuming {
            if let Ok(result) = load_image(&path, None) {
                if result.shape()[2..] == [h, w] {
                    if index == 0 {
                        key = Some((frame.clone(), result.clone()));
                    }
                    previous = Some(Previous { input: frame, written: result.clone(), state: result });
                    resumed += 1;
                    bar.inc(1);
                    continue;
                }
            }
        }
        let started = Instant::now();
        // Flow from this frame back to the previous one, its reliability
        // (from the flow the other way), and the previous result warped in.
        let motion = previous.as_ref().map(|p| {
            let backward = frame_flow(&frame, &p.input, &flow_config);
            let forward = frame_flow(&p.input, &frame, &flow_config);
            let reliability = reliability_map(&backward, &forward);
            let warped = warp_frame(&p.state, &backward);
            (backward, reliability, warped)
        });
        let temporal = motion.as_ref().filter(|_| !args.no_temporal);
        // Long-term: the first frame's result carried straight into this
        // frame (one resampling, not one per frame), where that flow is
        // reliable. The previous frame's term alone is a proximal step of
        // the style objective per frame: over 100 frames of a static scene
        // it went on optimising and darkened the background by 2.4% of the
        // range, front-loaded (1.8% by frame 20).
        let long_term = match (&key, &stylizer) {
            (Some((key_input, key_result)), Stylizer::Gatys { .. })
                if index >= 2 && !args.no_temporal && args.long_term_weight > 0.0 =>
            {
                let backward = frame_flow(&frame, key_input, &flow_config);
                let forward = frame_flow(key_input, &frame, &flow_config);
                Some(TemporalTarget {
                    warped: warp_frame(key_result, &backward),
                    reliability: reliability_map(&backward, &forward),
                    weight: args.long_term_weight,
                })
            }
            _ => None,
        };
        let state = match &mut stylizer {
            Stylizer::Gatys { first, later, styles } => {
                let (gatys, mut targets) = match temporal {
                    Some((_, reliability, warped)) => {
                        later.set_initial(Initial::Image(warped.clone()));
                        let target = TemporalTarget {
                            warped: warped.clone(),
                            reliability: reliability.clone(),
                            weight: args.temporal_weight,
                        };
                        (later.as_ref(), vec![target])
                    }
                    None => (first.as_ref(), Vec::new()),
                };
                targets.extend(long_term);
                // The bar moves a frame at a time; within a frame (the
                // first takes the full schedule) its message counts the
                // evaluations.
                let budget = gatys.total_iterations();
                gatys
                    .run_with_temporal(&frame, styles, &targets, |p| {
                        bar.set_message(format!(
                            "frame {}: evaluation {} of up to {budget}, loss {:.3e}",
                            index + 1,
                            p.iteration,
                            p.losses.total
                        ));
                        Ok(())
                    })?
                    .image
            }
            Stylizer::Gan(model) => {
                let stylised = match &clip_colours {
                    Some(clip) => model.apply_with_colours_of(&frame, clip)?,
                    None => model.apply(&frame)?,
                };
                match temporal {
                    Some((_, reliability, warped)) => blend(&stylised, warped, reliability, args.blend),
                    None => stylised,
                }
            }
        };
        let written = if args.preserve_colors { transfer_luminance(&state, &frame) } else { state.clone() };
        save_image(&path, &written)?;
        // The first frame carries no warping error, but once it is written a
        // rerun resumes after it: the log is this run's from here on.
        record_log.open()?;
        let seconds = started.elapsed().as_secs_f64();
        if index > 0 {
            later_seconds += seconds;
            later_frames += 1;
        }
        if let (Some((backward, reliability, _)), Some(p)) = (&motion, &previous) {
            let error = warping_error(&p.written, &written, backward, reliability);
            warping_errors.push(error);
            record_log.record((index + 1) as f64, [error], || {
                format!("{{\"frame\":{},\"seconds\":{seconds:.3},\"warping_error\":{error:e}}}", index + 1)
            })?;
        }
        made += 1;
        bar.inc(1);
        bar.set_message(format!("frame {} took {seconds:.1} s", index + 1));
        if index == 0 {
            key = Some((frame.clone(), state.clone()));
        }
        previous = Some(Previous { input: frame, written, state });
    }
    // The decoder is done with; nothing of it waits through the encoding.
    drop(source);
    bar.finish_and_clear();
    let frames_done = resumed + made;
    if frames_done == 0 {
        remove_work_folder(&destination.frames, 0);
        bail!("{}: no frames could be read", input.display());
    }
    record_log.plot(args.run.plot.as_deref(), "warping error between consecutive results", "frame")?;
    if let Some(video) = &destination.video {
        let audio = has_audio.then_some(input.as_path());
        frames::encode(&destination.frames, video, frames_done, &frame_rate, audio)?;
        remove_work_folder(&destination.frames, frames_done);
    }
    let (mut h, mut w) = size.unwrap_or_default();
    let plural = |n: usize, word: &str| if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") };
    let mut notes = Vec::new();
    if let Some(video) = &destination.video {
        // The size the file has: an odd side is cropped for the codec.
        let (encoded_h, encoded_w) = frames::encoded_dims(video, h, w);
        if (encoded_h, encoded_w) != (h, w) {
            notes.push(format!("frames made at {w}x{h}, the odd row or column cropped for the codec"));
            (h, w) = (encoded_h, encoded_w);
        }
    }
    if resumed > 0 {
        notes.push(format!("{resumed} found from an earlier run"));
    }
    if later_frames > 0 {
        notes.push(format!("{:.2} s per frame after the first", later_seconds / later_frames as f64));
    }
    if !warping_errors.is_empty() {
        let mean = warping_errors.iter().sum::<f64>() / warping_errors.len() as f64;
        notes.push(format!("mean warping error {mean:.4e} over {}", plural(warping_errors.len(), "new frame pair")));
    }
    let notes = if notes.is_empty() { String::new() } else { format!("; {}", notes.join("; ")) };
    println!("wrote {} ({} of {w}x{h}){notes}", args.output.display(), plural(frames_done, "frame"));
    Ok(())
}
