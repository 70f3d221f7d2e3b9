//! Conversions between f32 compute buffers and f16/bf16 storage buffers.
//!
//! f16 goes through `half`'s slice conversions, which use the F16C
//! instructions (8 values per instruction) when the build target has them.
//! bf16 is the top half of an f32, so its loops are plain integer arithmetic
//! written in fixed-width chunks that the compiler turns into vector code.

use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};

/// `dst[i] = f16(src[i])`, round to nearest even.
///
/// # Panics
/// If the lengths differ.
pub fn f32_to_f16(src: &[f32], dst: &mut [f16]) {
    assert_eq!(src.len(), dst.len(), "f32_to_f16: {} values into {}", src.len(), dst.len());
    dst.convert_from_f32_slice(src);
}

/// `dst[i] = f32(src[i])`, exact.
///
/// # Panics
/// If the lengths differ.
pub fn f16_to_f32(src: &[f16], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len(), "f16_to_f32: {} values into {}", src.len(), dst.len());
    src.convert_to_f32_slice(dst);
}

/// One f32 to bf16 by round-to-nearest-even on the bit pattern; NaN stays a
/// (quiet) NaN.
#[inline(always)]
fn round_to_bf16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7FFF + ((bits >> 16) & 1)) >> 16;
    let nan = (bits & 0x7FFF_FFFF) > 0x7F80_0000;
    if nan {
        ((bits >> 16) | 0x0040) as u16
    } else {
        rounded as u16
    }
}

const CHUNK: usize = 16;

/// `dst[i] = bf16(src[i])`, round to nearest even.
///
/// # Panics
/// If the lengths differ.
pub fn f32_to_bf16(src: &[f32], dst: &mut [bf16]) {
    assert_eq!(src.len(), dst.len(), "f32_to_bf16: {} values into {}", src.len(), dst.len());
    let mut s = src.chunks_exact(CHUNK);
    let mut d = dst.chunks_exact_mut(CHUNK);
    for (sc, dc) in (&mut s).zip(&mut d) {
        for (x, y) in sc.iter().zip(dc.iter_mut()) {
            *y = bf16::from_bits(round_to_bf16_bits(*x));
        }
    }
    for (x, y) in s.remainder().iter().zip(d.into_remainder()) {
        *y = bf16::from_bits(round_to_bf16_bits(*x));
    }
}

/// `dst[i] = f32(src[i])`, exact.
///
/// # Panics
/// If the lengths differ.
pub fn bf16_to_f32(src: &[bf16], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len(), "bf16_to_f32: {} values into {}", src.len(), dst.len());
    for (x, y) in src.iter().zip(dst.iter_mut()) {
        *y = f32::from_bits((x.to_bits() as u32) << 16);
    }
}
