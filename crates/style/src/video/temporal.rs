//! Temporal consistency between stylised frames, on top of [`super::flow`]:
//! flow between two frames given as tensors, the previous result warped
//! into the current frame, the blending of a feed-forward network's output
//! with it (Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos
//! and spherical images", 2018), and the warping error that measures
//! flicker (Lai et al., "Learning Blind Video Temporal Consistency", 2018).

use tensor::{DType, Tensor};

use super::flow::{self, FlowConfig, FlowField};

fn dims(image: &Tensor) -> (usize, usize, usize) {
    let shape = image.shape();
    assert!(shape.len() == 4 && shape[0] == 1, "video frames are [1, C, H, W], got {shape:?}");
    (shape[1], shape[2], shape[3])
}

/// Optical flow from frame `first` to frame `second` (both `[1, 3, H, W]` in
/// 0–1, one size), on their luminance: `first(x) ≈ second(x + flow(x))`.
///
/// # Panics
/// When the frames differ in size or are not `[1, 3, H, W]`.
pub fn frame_flow(first: &Tensor, second: &Tensor, config: &FlowConfig) -> FlowField {
    let (c, h, w) = dims(first);
    assert_eq!((c, h, w), dims(second), "frame_flow: frames {:?} and {:?}", first.shape(), second.shape());
    assert_eq!(c, 3, "frame_flow: RGB frames expected, got {:?}", first.shape());
    let luminance = |t: &Tensor| flow::luminance(&t.to_vec::<f32>(), w, h);
    flow::estimate_flow(&luminance(first), &luminance(second), w, h, config)
}

/// `image` (`[1, C, H, W]`) sampled at `x + flow(x)`: with `flow` from frame
/// t to frame t − 1, the result of frame t − 1 brought into frame t.
///
/// # Panics
/// When the flow's size is not the image's.
pub fn warp_frame(image: &Tensor, flow: &FlowField) -> Tensor {
    let (c, h, w) = dims(image);
    assert_eq!(
        (flow.height, flow.width),
        (h, w),
        "warp_frame: flow of {}x{} for an image of {w}x{h}",
        flow.width,
        flow.height
    );
    Tensor::from_vec(flow::warp(&image.to_vec::<f32>(), c, flow), &[1, c, h, w]).to_dtype(DType::F32)
}

/// The reliability of `flow` (see [`flow::reliability`]) as a `[1, 1, H, W]`
/// tensor of 0s and 1s.
pub fn reliability_map(flow: &FlowField, reverse: &FlowField) -> Tensor {
    Tensor::from_vec(flow::reliability(flow, reverse), &[1, 1, flow.height, flow.width]).to_dtype(DType::F32)
}

/// A feed-forward network's output `stylised` blended with the previous
/// output `warped` into this frame: `s + strength · c · (ω − s)`, so
/// reliable pixels keep (a `strength` share of) what the previous frame
/// showed and occluded ones take the network's new answer. `strength` in
/// 0–1; below 1, what the warp carries decays geometrically, so repeated
/// bilinear resampling cannot blur a static scene over a long clip.
///
/// # Panics
/// On shapes other than `[1, C, H, W]`, `[1, C, H, W]`, `[1, 1, H, W]`.
pub fn blend(stylised: &Tensor, warped: &Tensor, reliability: &Tensor, strength: f64) -> Tensor {
    let (c, h, w) = dims(stylised);
    assert_eq!(dims(warped), (c, h, w), "blend: warped {:?} for {:?}", warped.shape(), stylised.shape());
    assert_eq!(dims(reliability), (1, h, w), "blend: reliability {:?} for {:?}", reliability.shape(), stylised.shape());
    let (s, o, r) = (stylised.to_vec::<f32>(), warped.to_vec::<f32>(), reliability.to_vec::<f32>());
    let plane = h * w;
    let values: Vec<f32> =
        s.iter().zip(&o).enumerate().map(|(i, (&s, &o))| s + strength as f32 * r[i % plane] * (o - s)).collect();
    Tensor::from_vec(values, &[1, c, h, w]).to_dtype(DType::F32)
}

/// The warping error between consecutive results: the mean over reliable
/// pixels (`reliability` 1) and channels of `(result − ω)²`, `ω` the
/// previous result warped into this frame by `flow` (taken from the input
/// frames, this frame to the previous). In squared 0–1 units; 0 when no
/// pixel is reliable.
///
/// # Panics
/// When the sizes differ.
pub fn warping_error(previous_result: &Tensor, result: &Tensor, flow: &FlowField, reliability: &Tensor) -> f64 {
    let (c, h, w) = dims(result);
    assert_eq!(
        dims(previous_result),
        (c, h, w),
        "warping_error: results {:?} and {:?}",
        previous_result.shape(),
        result.shape()
    );
    let warped = warp_frame(previous_result, flow).to_vec::<f32>();
    let (now, r) = (result.to_vec::<f32>(), reliability.to_vec::<f32>());
    let plane = h * w;
    let (mut sum, mut count) = (0.0f64, 0usize);
    for (i, (&a, &b)) in now.iter().zip(&warped).enumerate() {
        if r[i % plane] > 0.5 {
            sum += ((a - b) as f64).powi(2);
            count += 1;
        }
    }
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(offset: f64) -> Tensor {
        Tensor::from_fn(&[1, 3, 6, 8], DType::F32, |i| ((i % 8) as f64 + offset) / 16.0)
    }

    #[test]
    fn the_warping_error_counts_reliable_pixels_only() {
        let (a, b) = (ramp(0.0), ramp(1.0));
        let still = FlowField::zeros(8, 6);
        let everywhere = Tensor::from_fn(&[1, 1, 6, 8], DType::F32, |_| 1.0);
        let nowhere = Tensor::zeros(&[1, 1, 6, 8], DType::F32);
        assert_eq!(warping_error(&a, &a, &still, &everywhere), 0.0);
        let expected = (1.0f64 / 16.0).powi(2);
        assert!((warping_error(&a, &b, &still, &everywhere) - expected).abs() < 1e-9);
        assert_eq!(warping_error(&a, &b, &still, &nowhere), 0.0);
        // One pixel to the right: b(x) = a(x + 1) except in the last column.
        let shifted = FlowField { width: 8, height: 6, dx: vec![1.0; 48], dy: vec![0.0; 48] };
        let interior = Tensor::from_fn(&[1, 1, 6, 8], DType::F32, |i| if i % 8 < 7 { 1.0 } else { 0.0 });
        assert!(warping_error(&a, &b, &shifted, &everywhere) > 0.0);
        assert!(warping_error(&b, &a, &FlowField { dx: vec![-1.0; 48], ..shifted.clone() }, &interior) > 0.0);
        assert!(warping_error(&a, &b, &shifted, &interior) < 1e-12);
    }

    #[test]
    fn blending_keeps_a_share_of_the_warped_frame_where_reliable() {
        let (new, old) = (ramp(0.0), ramp(4.0));
        let half = Tensor::from_fn(&[1, 1, 6, 8], DType::F32, |i| if i < 24 { 1.0 } else { 0.0 });
        let mixed = blend(&new, &old, &half, 0.25).to_vec::<f32>();
        let (n, o) = (new.to_vec::<f32>(), old.to_vec::<f32>());
        for (i, v) in mixed.iter().enumerate() {
            let expected = if i % 48 < 24 { n[i] + 0.25 * (o[i] - n[i]) } else { n[i] };
            assert!((v - expected).abs() < 1e-6, "{i}: {v} against {expected}");
        }
    }
}
