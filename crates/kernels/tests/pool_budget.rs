//! The buffer pool's budget, in a process of its own (the pool is
//! process-wide, so no other test may allocate beside these steps).

use kernels::buffer_pool::{pool_stats, PooledVec};

const MIB: usize = 1 << 20;

/// `bytes` of f32.
fn buffer(bytes: usize) -> PooledVec<f32> {
    PooledVec::uninit_contents(bytes / 4)
}

#[test]
fn the_pool_frees_held_buffers_to_keep_within_its_budget_and_fits_requests_within_a_quarter() {
    let start = pool_stats();
    assert_eq!((start.live_bytes, start.held_bytes), (0, 0));

    // A working set of 20 MiB, then held.
    let (a, b) = (buffer(10 * MIB), buffer(10 * MIB));
    assert_eq!(pool_stats().live_high_water_bytes, 20 * MIB);
    drop((a, b));
    let stats = pool_stats();
    assert_eq!((stats.live_bytes, stats.held_bytes), (0, 20 * MIB));

    // 7 MiB: a 10 MiB buffer is more than 5/4 of it, so none fits; the new
    // buffer plus the 20 held would exceed 112% of the 20 MiB working set
    // (22.4 MiB), so one held buffer is freed.
    let c = buffer(7 * MIB);
    let stats = pool_stats();
    assert_eq!((stats.evictions, stats.misses - start.misses), (1, 3));
    assert_eq!((stats.live_bytes, stats.held_bytes), (7 * MIB, 10 * MIB));

    // 9 MiB fits the held 10 MiB buffer (within 5/4): no new allocation.
    let d = buffer(9 * MIB);
    let stats = pool_stats();
    assert_eq!((stats.hits - start.hits, stats.misses - start.misses, stats.held_bytes), (1, 3, 0));
    assert_eq!(stats.live_bytes, 17 * MIB, "a reused buffer counts its whole capacity");
    assert_eq!(d.len(), 9 * MIB / 4);

    // Nothing is held, so nothing is freed: 4 MiB more makes 21 MiB in use,
    // the new high-water mark.
    let e = buffer(4 * MIB);
    assert_eq!(pool_stats().evictions, 1);
    drop((c, d, e));
    let stats = pool_stats();
    assert_eq!((stats.live_bytes, stats.held_bytes), (0, 21 * MIB));
    assert_eq!(stats.live_high_water_bytes, 21 * MIB);

    // The same passes again find every buffer held: no more allocations.
    let misses = pool_stats().misses;
    let again = (buffer(7 * MIB), buffer(9 * MIB), buffer(4 * MIB));
    drop(again);
    assert_eq!((pool_stats().misses, pool_stats().evictions), (misses, 1));

    // With no slack the pool stays within the working set (21 MiB): 10.5
    // MiB, which no held buffer fits, frees the 10 and then the 7 MiB one.
    kernels::buffer_pool::set_pool_budget_slack_percent(0);
    let wide = buffer(MIB * 21 / 2);
    let stats = pool_stats();
    assert_eq!((stats.evictions, stats.held_bytes, stats.live_bytes), (3, 4 * MIB, MIB * 21 / 2));
    drop(wide);

    // Adopted and released vectors are counted in and out.
    let adopted = PooledVec::from_vec(vec![0.0f32; MIB]);
    assert_eq!(pool_stats().live_bytes, 4 * MIB);
    let released = adopted.into_vec();
    assert_eq!((pool_stats().live_bytes, released.len()), (0, MIB));
}
