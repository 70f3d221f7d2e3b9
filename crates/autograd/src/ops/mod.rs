//! Ops on vars, one file per family: the forward methods and the gradient
//! rules that `backward` dispatches to.

pub(crate) mod conv;
pub(crate) mod custom;
pub(crate) mod elementwise;
pub(crate) mod linalg;
pub(crate) mod loss;
pub(crate) mod norm;
pub(crate) mod padding;
pub(crate) mod pooling;
pub(crate) mod reduce;
pub(crate) mod shape;
pub(crate) mod upsample;
