//! f16/bf16 conversions: exact on representable values, round-to-nearest-even
//! otherwise, NaN and infinities preserved; and the buffer pool's reuse.

use half::{bf16, f16};
use kernels::buffer_pool::{pool_stats, PooledVec};
use kernels::convert::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn conversions_agree_with_half(values in prop::collection::vec(any::<f32>(), 0..200)) {
        let mut h = vec![f16::ZERO; values.len()];
        let mut b = vec![bf16::ZERO; values.len()];
        f32_to_f16(&values, &mut h);
        f32_to_bf16(&values, &mut b);
        for ((&v, &hv), &bv) in values.iter().zip(&h).zip(&b) {
            let (eh, eb) = (f16::from_f32(v), bf16::from_f32(v));
            prop_assert!(hv.to_bits() == eh.to_bits() || (hv.is_nan() && eh.is_nan()), "f16({v})");
            prop_assert!(bv.to_bits() == eb.to_bits() || (bv.is_nan() && eb.is_nan()), "bf16({v}): {:#x} vs {:#x}", bv.to_bits(), eb.to_bits());
        }
        let mut back = vec![0.0f32; values.len()];
        f16_to_f32(&h, &mut back);
        for (&hv, &r) in h.iter().zip(&back) {
            prop_assert!(r.to_bits() == hv.to_f32().to_bits() || r.is_nan());
        }
        bf16_to_f32(&b, &mut back);
        for (&bv, &r) in b.iter().zip(&back) {
            prop_assert!(r.to_bits() == bv.to_f32().to_bits() || r.is_nan());
        }
    }
}

#[test]
fn pool_reuses_a_dropped_buffer() {
    let len = 1 << 20;
    let first = PooledVec::<f32>::filled(len, 1.5);
    let address = first.as_ptr();
    drop(first);
    let before = pool_stats().hits;
    let second = PooledVec::<f32>::uninit_contents(len - 100);
    assert_eq!(second.len(), len - 100);
    assert!(pool_stats().hits > before);
    // Same allocation back (this test runs alone in its process).
    assert_eq!(second.as_ptr(), address);
    let small = PooledVec::<f32>::filled(10, 2.0);
    assert_eq!(&small[..], &[2.0; 10]);
}
