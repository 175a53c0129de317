//! The scalar types a network can be built over, and ([`math`]) the `f32` elementary
//! functions their activations use.

pub mod math;

use core::fmt::{Debug, Display};

/// A floating-point scalar a generated network can use: `f32` or `f64`.
///
/// The trait is sealed; it exists so that runtime code is written once for both types.
pub trait Real:
    nalgebra::RealField
    + Copy
    + Default
    + bytemuck::Pod
    + Debug
    + Display
    + Send
    + Sync
    + crate::nn::kernels::Kernels
    + private::Sealed
{
    /// The type's name as written in Rust (`"f32"` or `"f64"`).
    const NAME: &'static str;
    /// The type's dtype in safetensors files (`F32` or `F64`).
    const DTYPE: safetensors::Dtype;
    /// Negative infinity.
    const NEG_INFINITY: Self;
    /// Whether an `f64` sum of squares of finite values of this type stays finite (`f32`:
    /// each square is below 2^256, so any practical count of them is; `f64`: a square can
    /// overflow), so that a finiteness check of the values stands in for one of their norm.
    const SQUARES_FIT_F64: bool;
    /// Converts from `f64`, rounding to nearest.
    fn cast(value: f64) -> Self;
    /// Whether the value is neither NaN nor infinite.
    fn finite(self) -> bool;
    /// Converts to `f64` (exact for both implementations).
    fn to_f64(self) -> f64;
    /// `exp` as softmax and log-sum-exp compute it: [`math::exp_f32`]
    /// for `f32` (vectorizable, within one ulp), the standard library's for `f64`.
    fn exp_activation(self) -> Self;
    /// `tanh` as activations compute it: [`math::tanh_f32`] for `f32`
    /// (vectorizable, within one ulp), the standard library's for `f64`.
    fn tanh_activation(self) -> Self;
    /// The logistic function as activations compute it:
    /// [`math::sigmoid_f32`] for `f32`, the stable two-branch
    /// form with the standard library's `exp` for `f64`.
    fn sigmoid_activation(self) -> Self;
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    const DTYPE: safetensors::Dtype = safetensors::Dtype::F32;
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    const SQUARES_FIT_F64: bool = true;
    #[inline]
    fn finite(self) -> bool {
        f32::is_finite(self)
    }
    #[inline]
    fn cast(value: f64) -> Self {
        value as f32
    }
    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline]
    fn exp_activation(self) -> Self {
        crate::real::math::exp_f32(self)
    }
    #[inline]
    fn tanh_activation(self) -> Self {
        crate::real::math::tanh_f32(self)
    }
    #[inline]
    fn sigmoid_activation(self) -> Self {
        crate::real::math::sigmoid_f32(self)
    }
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    const DTYPE: safetensors::Dtype = safetensors::Dtype::F64;
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    const SQUARES_FIT_F64: bool = false;
    #[inline]
    fn finite(self) -> bool {
        f64::is_finite(self)
    }
    #[inline]
    fn cast(value: f64) -> Self {
        value
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn exp_activation(self) -> Self {
        self.exp()
    }
    #[inline]
    fn tanh_activation(self) -> Self {
        self.tanh()
    }
    #[inline]
    fn sigmoid_activation(self) -> Self {
        if self >= 0.0 {
            1.0 / (1.0 + (-self).exp())
        } else {
            let e = self.exp();
            e / (1.0 + e)
        }
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Shorthand for a constant of type `T`.
#[inline]
pub(crate) fn c<T: Real>(value: f64) -> T {
    T::cast(value)
}

/// `values` as a slice of `U`, which is `T` (for kernels that pick their `f32` or `f64`
/// instance by `T::DTYPE`).
///
/// # Panics
/// If `U` is not `T`'s size, which the sealed [`Real`] rules out.
#[inline]
pub(crate) fn cast<T: Real, U: Real>(values: &[T]) -> &[U] {
    bytemuck::cast_slice(values)
}

/// [`cast`] of a mutable slice.
#[inline]
pub(crate) fn cast_mut<T: Real, U: Real>(values: &mut [T]) -> &mut [U] {
    bytemuck::cast_slice_mut(values)
}
