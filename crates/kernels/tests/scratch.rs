//! Kept scratch buffers, in a process of their own (the pool's count of
//! bytes in use is process-wide, so no other test may allocate beside
//! these steps).

use kernels::buffer_pool::{pool_stats, release_pooled_buffers};
use kernels::scratch::{Scratch, ScratchSlot};

const MIB: usize = 1 << 20;

/// A scratch buffer of `bytes` of f32 in the Winograd tiles' slot.
fn tiles(bytes: usize) -> Scratch<f32> {
    Scratch::take(ScratchSlot::WinogradTiles, bytes / 4)
}

#[test]
fn a_slot_keeps_its_largest_buffer_between_calls_and_counts_it_as_in_use() {
    assert_eq!(pool_stats().live_bytes, 0);

    // The first call allocates zeros; the buffer stays in the slot after it.
    let first = tiles(2 * MIB);
    assert_eq!(first.len(), 2 * MIB / 4);
    assert!(first.iter().all(|&v| v == 0.0));
    let kept_at = first.as_ptr();
    drop(first);
    assert_eq!(pool_stats().live_bytes, 2 * MIB, "the kept buffer counts as in use");

    // A smaller call reuses it, seeing only the length it asked for.
    let mut smaller = tiles(MIB);
    assert_eq!((smaller.as_ptr(), smaller.len()), (kept_at, MIB / 4));
    smaller.fill(1.5);
    drop(smaller);

    // Another slot is another buffer.
    let kernels = Scratch::<f32>::take(ScratchSlot::WinogradKernels, MIB / 4);
    assert_ne!(kernels.as_ptr(), kept_at);
    drop(kernels);
    assert_eq!(pool_stats().live_bytes, 3 * MIB);

    // Two calls at once: the second finds the slot empty and allocates; when
    // both are back the larger stays and the other is freed.
    let (a, b) = (tiles(2 * MIB), tiles(3 * MIB));
    assert_eq!(a.as_ptr(), kept_at);
    assert_ne!(b.as_ptr(), kept_at);
    let larger_at = b.as_ptr();
    assert_eq!(pool_stats().live_bytes, 6 * MIB);
    drop((a, b));
    assert_eq!(pool_stats().live_bytes, 4 * MIB);
    let again = tiles(3 * MIB);
    assert_eq!(again.as_ptr(), larger_at);
    drop(again);

    // A larger call than the kept buffer replaces it.
    let grown = tiles(5 * MIB);
    assert_eq!(grown.len(), 5 * MIB / 4);
    drop(grown);
    assert_eq!(pool_stats().live_bytes, 6 * MIB);

    // Releasing the pool frees the kept buffers too.
    release_pooled_buffers();
    assert_eq!(pool_stats().live_bytes, 0);
    let fresh = tiles(MIB);
    assert_eq!(pool_stats().live_bytes, MIB);
    drop(fresh);
}
