//! The floating-point element types the kernels compute in (f32 and f64), and
//! the SIMD vector that goes with each.
//!
//! Kernels are written once, generic over [`Float`]; the vector type carries
//! the lane count. The width follows the CPU the crate is compiled for
//! (`.cargo/config.toml` asks for the native one): with AVX-512 an f32 kernel
//! runs 16 lanes per register and f64 runs 8; elsewhere (AVX2, or the
//! x86-64-v3 builds carried to other machines) 8 and 4. A 16-lane vector on an
//! AVX2 machine would be emulated as two registers, which doubles register
//! pressure and wrecks the GEMM microkernel's tiling.

use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

#[cfg(target_feature = "avx512f")]
use wide::{f32x16 as F32Vector, f64x8 as F64Vector};
#[cfg(not(target_feature = "avx512f"))]
use wide::{f32x8 as F32Vector, f64x4 as F64Vector};

/// Lanes of the f32 vector on the compilation target.
const F32_LANES: usize = if cfg!(target_feature = "avx512f") { 16 } else { 8 };

/// Operations every SIMD vector we compute with provides.
pub trait SimdVector:
    Copy
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// The scalar in each lane.
    type Scalar: Copy;
    /// Number of lanes.
    const LANES: usize;

    /// All lanes set to `value`.
    fn splat(value: Self::Scalar) -> Self;
    /// Loads `LANES` scalars from `src` (any alignment).
    ///
    /// # Safety
    /// `src` must be valid for reading `LANES` scalars.
    unsafe fn load(src: *const Self::Scalar) -> Self;
    /// Stores `LANES` scalars to `dst` (any alignment).
    ///
    /// # Safety
    /// `dst` must be valid for writing `LANES` scalars.
    unsafe fn store(self, dst: *mut Self::Scalar);
    /// `self * a + b`, fused where the CPU has FMA.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Lane-wise maximum (NaN-propagation unspecified).
    fn max(self, other: Self) -> Self;
    /// Lane-wise minimum.
    fn min(self, other: Self) -> Self;
    /// Lane-wise absolute value.
    fn abs(self) -> Self;
    /// Lane-wise square root.
    fn sqrt(self) -> Self;
    /// Lane-wise e^x.
    fn exp(self) -> Self;
    /// Lane-wise natural logarithm.
    fn ln(self) -> Self;
    /// Lane-wise hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Lane-wise `1.0` where `self > other`, else `0.0`.
    fn gt_mask(self, other: Self) -> Self;
    /// Lane-wise `1.0` where `self >= other`, else `0.0`.
    fn ge_mask(self, other: Self) -> Self;
    /// Lane-wise `1.0` where `self == other`, else `0.0`.
    fn eq_mask(self, other: Self) -> Self;
    /// Sum of all lanes.
    fn reduce_sum(self) -> Self::Scalar;
    /// Maximum of all lanes.
    fn reduce_max(self) -> Self::Scalar;
    /// Minimum of all lanes.
    fn reduce_min(self) -> Self::Scalar;
}

macro_rules! impl_simd_vector {
    ($vec:ty, $scalar:ty, $lanes:expr) => {
        impl SimdVector for $vec {
            type Scalar = $scalar;
            const LANES: usize = $lanes;

            #[inline(always)]
            fn splat(value: $scalar) -> Self {
                <$vec>::splat(value)
            }
            #[inline(always)]
            unsafe fn load(src: *const $scalar) -> Self {
                // SAFETY: the caller guarantees `LANES` readable scalars; the
                // vector is plain old data, read without an alignment demand.
                unsafe { std::ptr::read_unaligned(src as *const $vec) }
            }
            #[inline(always)]
            unsafe fn store(self, dst: *mut $scalar) {
                // SAFETY: the caller guarantees `LANES` writable scalars.
                unsafe { std::ptr::write_unaligned(dst as *mut $vec, self) }
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$vec>::mul_add(self, a, b)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$vec>::fast_max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                <$vec>::fast_min(self, other)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$vec>::abs(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$vec>::sqrt(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$vec>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$vec>::ln(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$vec>::tanh(self)
            }
            #[inline(always)]
            fn gt_mask(self, other: Self) -> Self {
                self.simd_gt(other).select(Self::splat(1.0), Self::splat(0.0))
            }
            #[inline(always)]
            fn ge_mask(self, other: Self) -> Self {
                self.simd_ge(other).select(Self::splat(1.0), Self::splat(0.0))
            }
            #[inline(always)]
            fn eq_mask(self, other: Self) -> Self {
                self.simd_eq(other).select(Self::splat(1.0), Self::splat(0.0))
            }
            #[inline(always)]
            fn reduce_sum(self) -> $scalar {
                self.to_array().iter().sum()
            }
            #[inline(always)]
            fn reduce_max(self) -> $scalar {
                self.to_array().iter().copied().fold(<$scalar>::NEG_INFINITY, <$scalar>::max)
            }
            #[inline(always)]
            fn reduce_min(self) -> $scalar {
                self.to_array().iter().copied().fold(<$scalar>::INFINITY, <$scalar>::min)
            }
        }
    };
}

impl_simd_vector!(F32Vector, f32, F32_LANES);
impl_simd_vector!(F64Vector, f64, F32_LANES / 2);

/// A floating-point type the kernels compute in: `f32` (fast path) or `f64`
/// (gradient checks).
pub trait Float:
    Copy
    + Send
    + Sync
    + Debug
    + Default
    + PartialOrd
    + Sum
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + 'static
{
    /// The SIMD vector of this scalar.
    type Vector: SimdVector<Scalar = Self>;
    /// Lanes in [`Float::Vector`].
    const LANES: usize = <Self::Vector as SimdVector>::LANES;
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// Negative infinity (identity of `max`).
    const NEG_INFINITY: Self;
    /// Positive infinity (identity of `min`).
    const INFINITY: Self;
    /// Short name used in error messages and benchmark tables.
    const NAME: &'static str;

    /// Converts from f64 (rounding for f32).
    fn from_f64(value: f64) -> Self;
    /// Converts to f64 (exact).
    fn to_f64(self) -> f64;
    /// Scalar e^x.
    fn exp(self) -> Self;
    /// Scalar natural logarithm.
    fn ln(self) -> Self;
    /// Scalar square root.
    fn sqrt(self) -> Self;
    /// Scalar absolute value.
    fn abs(self) -> Self;
    /// Scalar hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Scalar `self^exponent`.
    fn powf(self, exponent: Self) -> Self;
    /// Scalar maximum (returns `other` when `self` is NaN, like `f32::max`).
    fn max(self, other: Self) -> Self;
    /// Scalar minimum.
    fn min(self, other: Self) -> Self;
    /// True for NaN.
    fn is_nan(self) -> bool;
}

macro_rules! impl_float {
    ($t:ty, $vec:ty, $name:expr) => {
        impl Float for $t {
            type Vector = $vec;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            const INFINITY: Self = <$t>::INFINITY;
            const NAME: &'static str = $name;

            #[inline(always)]
            fn from_f64(value: f64) -> Self {
                value as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn powf(self, exponent: Self) -> Self {
                <$t>::powf(self, exponent)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                <$t>::min(self, other)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}

impl_float!(f32, F32Vector, "f32");
impl_float!(f64, F64Vector, "f64");
