//! `fresco video`: style transfer for videos with temporal consistency
//! (Ruder, Dosovitskiy & Brox 2016 and 2018). Frames stream in from a folder
//! or a video file; each result is written as it is made, so an interrupted
//! run resumes where it stopped; a video output is encoded at the end with
//! the input's frame rate and audio.
//!
//! * `--method gatys`: the first frame gets the full Gatys schedule; each
//!   later one starts from the previous result warped into it by optical
//!   flow and is held to it by the temporal loss where the flow is reliable,
//!   so a few iterations suffice.
//! * `--method gan`: a trained stylizer per frame, its output blended with
//!   the previous output warped into the frame, where reliable.
//! * `--no-temporal`: every frame alone (the baseline).
//!
//! After every frame but the first, the warping error against the previous
//! result (flow from the input frames) is logged; the summary gives its mean.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use nn::Vgg;
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
    /// Where to write: a video file (.mp4, .mkv, .mov, .webm, .avi, .gif, .m4v, .mpg; its frames are kept in
    /// OUTPUT.frames/ until it is encoded, so a rerun resumes), else a folder of PNG frames.
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
    #[arg(long, default_value_t = 256)]
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
    /// GAN: how much of the warped previous output reliable pixels keep (0-1; more is steadier but softer).
    #[arg(long, default_value_t = 0.45, allow_negative_numbers = true)]
    pub blend: f64,
    /// Gatys: L-BFGS history pairs.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    pub history: usize,
    /// Gatys: keep each frame's colours (transfer luminance only).
    #[arg(long)]
    pub preserve_colors: bool,
    /// Stop after this many frames.
    #[arg(long)]
    pub max_frames: Option<usize>,
    /// Frame rate of a video written from a folder of frames (a video input's own rate is kept).
    #[arg(long, default_value = "25")]
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
    if frames::is_video_file(output) {
        paths::check_output_file(output, "output", None)?;
        frames::require_ffmpeg(output)?;
        let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let frames = output.with_file_name(format!("{name}.frames"));
        paths::check_output_dir(&frames)?;
        return Ok(Destination { frames, video: Some(output.to_path_buf()) });
    }
    if frames::is_frame_image(output) && !output.is_dir() {
        bail!(
            "{}: names one image; give a folder for the frames, or a video file ({})",
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
    if !(args.temporal_weight >= 0.0 && args.temporal_weight.is_finite()) {
        bail!("--temporal-weight {}: expected a finite weight of 0 or more", args.temporal_weight);
    }
    if args.frame_iters == 0 {
        bail!("--frame-iters 0: each later frame needs at least one iteration");
    }
    if args.max_frames == Some(0) {
        bail!("--max-frames 0: nothing to do");
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
        _ => Ok(()),
    }
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
                .preserve_colors(args.preserve_colors)
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

/// What became of the previous frame: its input and its result.
struct Previous {
    input: Tensor,
    result: Tensor,
}

/// Runs `fresco video`.
pub fn run(args: VideoArgs) -> Result<()> {
    check_settings(&args)?;
    let destination = destination(&args.output)?;
    paths::check_report_paths(args.run.log.as_deref(), args.run.plot.as_deref())?;
    let input = args.objective.content.clone();
    let mut source = FrameSource::open(&input)?;
    let frame_rate = source.info().map_or_else(|| args.fps.clone(), |info| info.frame_rate.clone());
    let has_audio = source.info().is_some_and(|info| info.has_audio);
    let mut stylizer = stylizer(&args)?;
    std::fs::create_dir_all(&destination.frames)
        .with_context(|| format!("{}: cannot create the folder", destination.frames.display()))?;

    let total = match (source.len_hint(), args.max_frames) {
        (Some(n), Some(m)) => Some(n.min(m)),
        (n, m) => n.or(m),
    };
    let bar = super::progress_bar(total.unwrap_or(0) as u64, args.run.quiet);
    let mut record = super::LossRecord::new(["warping error"], args.run.log.as_deref(), false)?;
    let flow_config = FlowConfig::default();
    let min_side = match &stylizer {
        Stylizer::Gatys { first, .. } => first.min_side(),
        Stylizer::Gan(_) => 1,
    };
    let mut previous: Option<Previous> = None;
    let (mut resumed, mut made, mut later_seconds, mut later_frames) = (0usize, 0usize, 0.0f64, 0usize);
    let mut warping_errors: Vec<f64> = Vec::new();
    let mut size: Option<(usize, usize)> = None;
    for index in 0.. {
        if args.max_frames.is_some_and(|m| index >= m) {
            break;
        }
        let Some(frame) = source.next_frame()? else { break };
        let (h, w) = *size.get_or_insert_with(|| fit_dims(frame.shape()[2], frame.shape()[3], args.size, min_side));
        let frame = resize(&frame, h, w);
        let path = frame_path(&destination.frames, index);
        // A frame written by an earlier run is taken as it is.
        if let Ok(result) = load_image(&path, None) {
            if result.shape()[2..] == [h, w] {
                previous = Some(Previous { input: frame, result });
                resumed += 1;
                bar.inc(1);
                continue;
            }
        }
        let started = Instant::now();
        // Flow from this frame back to the previous one, its reliability
        // (from the flow the other way), and the previous result warped in.
        let motion = previous.as_ref().map(|p| {
            let backward = frame_flow(&frame, &p.input, &flow_config);
            let forward = frame_flow(&p.input, &frame, &flow_config);
            let reliability = reliability_map(&backward, &forward);
            let warped = warp_frame(&p.result, &backward);
            (backward, reliability, warped)
        });
        let temporal = motion.as_ref().filter(|_| !args.no_temporal);
        let result = match &mut stylizer {
            Stylizer::Gatys { first, later, styles } => {
                let (gatys, target) = match temporal {
                    Some((_, reliability, warped)) => {
                        later.set_initial(Initial::Image(warped.clone()));
                        let target = TemporalTarget {
                            warped: warped.clone(),
                            reliability: reliability.clone(),
                            weight: args.temporal_weight,
                        };
                        (later.as_ref(), Some(target))
                    }
                    None => (first.as_ref(), None),
                };
                gatys.run_with_temporal(&frame, styles, target.as_ref(), |_| Ok(()))?.image
            }
            Stylizer::Gan(model) => {
                let stylised = model.apply(&frame)?;
                match temporal {
                    Some((_, reliability, warped)) => blend(&stylised, warped, reliability, args.blend),
                    None => stylised,
                }
            }
        };
        save_image(&path, &result)?;
        let seconds = started.elapsed().as_secs_f64();
        if index > 0 {
            later_seconds += seconds;
            later_frames += 1;
        }
        let error = match (&motion, &previous) {
            (Some((backward, reliability, _)), Some(p)) => {
                Some(warping_error(&p.result, &result, backward, reliability))
            }
            _ => None,
        };
        if let Some(e) = error {
            warping_errors.push(e);
            record.record(index as f64, [e], || {
                format!("{{\"frame\":{},\"seconds\":{seconds:.3},\"warping_error\":{e:e}}}", index + 1)
            })?;
        }
        made += 1;
        bar.inc(1);
        bar.set_message(format!("frame {} took {seconds:.1} s", index + 1));
        previous = Some(Previous { input: frame, result });
    }
    bar.finish_and_clear();
    let frames_done = resumed + made;
    if frames_done == 0 {
        bail!("{}: no frames could be read", input.display());
    }
    record.plot(args.run.plot.as_deref(), "warping error between consecutive results", "frame")?;
    if let Some(video) = &destination.video {
        let audio = has_audio.then_some(input.as_path());
        frames::encode(&destination.frames, video, &frame_rate, audio)?;
        std::fs::remove_dir_all(&destination.frames).ok();
    }
    let (h, w) = size.unwrap_or_default();
    let mean_error = warping_errors.iter().sum::<f64>() / warping_errors.len().max(1) as f64;
    let pace = if later_frames > 0 {
        format!(", {:.2} s per frame after the first", later_seconds / later_frames as f64)
    } else {
        String::new()
    };
    let resumed_note = if resumed > 0 { format!(" ({resumed} found from an earlier run)") } else { String::new() };
    println!(
        "wrote {} ({frames_done} frames of {w}x{h}{resumed_note}{pace}); mean warping error {mean_error:.4e} over {} new frame pairs",
        args.output.display(),
        warping_errors.len()
    );
    Ok(())
}
