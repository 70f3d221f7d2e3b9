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
    let (a_at, b_at) = (a.as_ptr(), b.as_ptr());
    assert_eq!(pool_stats().live_high_water_bytes, 20 * MIB);
    drop((a, b));
    let stats = pool_stats();
    assert_eq!((stats.live_bytes, stats.held_bytes), (0, 20 * MIB));

    // 7 MiB: a 10 MiB buffer is more than 5/4 of it, so none fits; a new
    // buffer beside the 20 held would exceed 112% of the 20 MiB working set
    // (22.4 MiB), so one held buffer is shrunk to 7 MiB and serves it: the
    // same memory, nothing freed beside it, nothing allocated.
    let held_at = [a_at, b_at];
    let c = buffer(7 * MIB);
    let stats = pool_stats();
    assert_eq!((stats.evictions, stats.shrinks, stats.misses - start.misses), (0, 1, 2));
    // glibc shrinks a block with a mapping of its own in place.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    assert!(held_at.contains(&c.as_ptr()), "the shrunk buffer keeps its address");
    let _ = held_at;
    assert_eq!((stats.live_bytes, stats.held_bytes), (7 * MIB, 10 * MIB), "a shrunk buffer counts its new size");

    // 9 MiB fits the held 10 MiB buffer (within 5/4): no new allocation.
    let d = buffer(9 * MIB);
    let stats = pool_stats();
    assert_eq!((stats.hits - start.hits, stats.misses - start.misses, stats.held_bytes), (2, 2, 0));
    assert_eq!(stats.live_bytes, 17 * MIB, "a reused buffer counts its whole capacity");
    assert_eq!(d.len(), 9 * MIB / 4);

    // Nothing is held, so nothing is freed: 4 MiB more makes 21 MiB in use,
    // the new high-water mark.
    let e = buffer(4 * MIB);
    assert_eq!(pool_stats().evictions, 0);
    drop((c, d, e));
    let stats = pool_stats();
    assert_eq!((stats.live_bytes, stats.held_bytes), (0, 21 * MIB));
    assert_eq!(stats.live_high_water_bytes, 21 * MIB);

    // The same passes again find every buffer held: no more allocations.
    let misses = pool_stats().misses;
    let again = (buffer(7 * MIB), buffer(9 * MIB), buffer(4 * MIB));
    drop(again);
    assert_eq!((pool_stats().misses, pool_stats().evictions), (misses, 0));

    // With no slack the pool stays within the working set (21 MiB): 10.5
    // MiB, which no held buffer fits or can be shrunk to, frees the 10 and
    // then the 7 MiB one.
    kernels::buffer_pool::set_pool_budget_slack_percent(0);
    let wide = buffer(MIB * 21 / 2);
    let stats = pool_stats();
    assert_eq!((stats.evictions, stats.shrinks, stats.held_bytes, stats.live_bytes), (2, 1, 4 * MIB, MIB * 21 / 2));
    drop(wide);

    // Within the budget a smaller request does not shrink a held buffer
    // (that buffer may serve its own size later): it allocates.
    kernels::buffer_pool::set_pool_budget_slack_percent(1000);
    let small = buffer(MIB);
    let stats = pool_stats();
    assert_eq!((stats.shrinks, stats.held_bytes), (1, MIB * 21 / 2 + 4 * MIB));
    drop(small);
    kernels::buffer_pool::release_pooled_buffers();
    kernels::buffer_pool::set_pool_budget_slack_percent(0);

    // Adopted and released vectors are counted in and out.
    let adopted = PooledVec::from_vec(vec![0.0f32; MIB]);
    assert_eq!(pool_stats().live_bytes, 4 * MIB);
    let released = adopted.into_vec();
    assert_eq!((pool_stats().live_bytes, released.len()), (0, MIB));
}
