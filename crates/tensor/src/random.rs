//! Seeded random numbers for tensor creation: a SplitMix64 stream per
//! element index, so a tensor's values depend only on the seed and the shape,
//! never on thread count or call order.

/// SplitMix64's finaliser: a bijective mix of a 64-bit counter.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform value in `[0, 1)` for stream `seed`, position `index`.
#[inline]
pub(crate) fn unit_uniform(seed: u64, index: u64) -> f64 {
    let bits = mix(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ mix(index.wrapping_add(0x632B_E59B_D9B4_E019)));
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal value for stream `seed`, position `index` (Box–Muller on
/// two uniforms drawn at positions `2·index` and `2·index + 1`).
#[inline]
pub(crate) fn standard_normal(seed: u64, index: u64) -> f64 {
    let u1 = 1.0 - unit_uniform(seed, 2 * index); // in (0, 1]: ln is finite
    let u2 = unit_uniform(seed, 2 * index + 1);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
