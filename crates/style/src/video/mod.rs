//! Video style transfer with temporal consistency (Ruder, Dosovitskiy &
//! Brox, "Artistic style transfer for videos", 2016): optical flow between
//! frames ([`flow`]), the previous result warped into the current frame and
//! the reliability of that warp, the blending of a feed-forward network's
//! output and the warping error that measures flicker ([`temporal`]), and
//! frames in and out of folders and video files ([`frames`]).

pub mod flow;
pub mod frames;
pub mod temporal;
