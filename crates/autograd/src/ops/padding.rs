//! Padding of NCHW vars.
//! The gradient rules are one kernel call each, so they stay inline in
//! `backward.rs`, with their derivation comments.

use tensor::{Pad2d, PadMode, Result};

use crate::op::Op;
use crate::ops::elementwise::expect;
use crate::Var;

impl Var {
    /// Padding of the last two dimensions (zero, reflection or replication).
    pub fn try_pad2d(&self, pad: Pad2d, mode: PadMode) -> Result<Var> {
        let value = self.value().try_pad2d(pad, mode)?;
        Ok(Var::from_op(value, Op::Pad2d { input: self.clone(), pad, mode }))
    }

    /// As [`Var::try_pad2d`].
    ///
    /// # Panics
    /// If the var is not 4-D or the padding is invalid for `mode`.
    pub fn pad2d(&self, pad: Pad2d, mode: PadMode) -> Var {
        expect(self.try_pad2d(pad, mode))
    }
}
