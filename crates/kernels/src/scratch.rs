//! Working buffers that a kernel needs only during a call, kept between
//! calls instead of going back to the buffer pool.
//!
//! A Winograd convolution asks for its transformed tiles (`36 × C × tiles`
//! values in and `36 × O × tiles` out, blocks of tile rows of about 8 or
//! 32 MiB together (see the Winograd module's `BLOCK_BYTES`), one tile row
//! when a row alone is larger) at every call
//! and gives them back at its end. Through the pool these buffers were the
//! first to be freed by its budget (largest first) whenever an activation
//! missed, and were mapped and zeroed again by the next convolution: at
//! 256² a Gatys evaluation faulted in about 200 MB a time, 7% of its
//! duration. A [`Scratch`] buffer instead lives in one slot per purpose and
//! element type ([`ScratchSlot`]), grows to the largest call, and stays
//! mapped until [`crate::buffer_pool::release_pooled_buffers`] frees it.
//!
//! The kept buffers count as memory in use for the pool's budget (they are
//! resident all the time), so the budget's working set includes them. A
//! call that finds its slot taken (two convolutions at once on different
//! threads) gets a fresh buffer; when both are returned the larger is kept.

use std::ops::{Deref, DerefMut};
use std::sync::TryLockError;

use crate::buffer_pool::{allocate, track_live_add, track_live_sub, Poolable};

/// How many slots each element type has: one per [`ScratchSlot`].
pub(crate) const SLOTS: usize = 2;
const _: () = assert!(ScratchSlot::WinogradKernels as usize == SLOTS - 1, "one slot per ScratchSlot");

/// What a kept scratch buffer serves; each has its own slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScratchSlot {
    /// A Winograd convolution's transformed input and output tiles.
    WinogradTiles = 0,
    /// The Winograd-domain kernels of a layer whose transforms are not kept
    /// ([`crate::conv::WinogradKernels`]), made at each call: 36 `O × C`
    /// matrices packed for the products ([`crate::gemm::PackedRows`], rows
    /// padded to whole panels of `MR`).
    WinogradKernels = 1,
}

/// A scratch buffer of `len` elements with unspecified (initialised)
/// contents, returned to its slot on drop.
#[derive(Debug)]
pub struct Scratch<T: Poolable> {
    vec: Vec<T>,
    len: usize,
    slot: ScratchSlot,
}

fn bytes_of<T>(vec: &Vec<T>) -> usize {
    vec.capacity() * size_of::<T>()
}

impl<T: Poolable> Scratch<T> {
    /// The slot's buffer when it is free and holds at least `len` values;
    /// otherwise a fresh zeroed one (a slot's smaller buffer is freed first).
    ///
    /// # Panics
    /// Unwinds with [`crate::buffer_pool::OutOfMemory`] when a fresh buffer
    /// cannot be allocated.
    pub fn take(slot: ScratchSlot, len: usize) -> Self {
        let kept = match T::scratch_slots()[slot as usize].try_lock() {
            Ok(mut held) => held.take(),
            // A panic while the slot was locked left a valid Option behind.
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().take(),
            Err(TryLockError::WouldBlock) => None,
        };
        let vec = match kept {
            Some(vec) if vec.len() >= len => vec,
            small => {
                if let Some(small) = small {
                    track_live_sub(bytes_of(&small));
                }
                let fresh = allocate::<T>(len);
                track_live_add(bytes_of(&fresh));
                fresh
            }
        };
        Scratch { vec, len, slot }
    }
}

impl<T: Poolable> Deref for Scratch<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.vec[..self.len]
    }
}

impl<T: Poolable> DerefMut for Scratch<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.vec[..self.len]
    }
}

impl<T: Poolable> Drop for Scratch<T> {
    fn drop(&mut self) {
        let mine = std::mem::take(&mut self.vec);
        let mut held = T::scratch_slots()[self.slot as usize].lock().unwrap_or_else(|e| e.into_inner());
        // Keep the larger of the slot's buffer and this one; free the other.
        let freed = match held.take() {
            Some(other) if other.len() >= mine.len() => {
                *held = Some(other);
                mine
            }
            other => {
                *held = Some(mine);
                other.unwrap_or_default()
            }
        };
        track_live_sub(bytes_of(&freed));
    }
}

/// Frees the kept buffers of type `T` that no call holds now.
pub(crate) fn release<T: Poolable>() {
    for slot in T::scratch_slots() {
        let freed = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(freed) = freed {
            track_live_sub(bytes_of(&freed));
        }
    }
}
