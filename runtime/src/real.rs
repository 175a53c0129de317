//! The scalar types a network can be built over.

use core::fmt::{Debug, Display};

/// A floating-point scalar a generated network can use: `f32` or `f64`.
///
/// The trait is sealed; it exists so that runtime code is written once for both types.
pub trait Real:
    nalgebra::RealField + Copy + Default + bytemuck::Pod + Debug + Display + Send + Sync + private::Sealed
{
    /// The type's name as written in Rust (`"f32"` or `"f64"`).
    const NAME: &'static str;
    /// Negative infinity.
    const NEG_INFINITY: Self;
    /// Converts from `f64`, rounding to nearest.
    fn cast(value: f64) -> Self;
    /// Whether the value is neither NaN nor infinite.
    fn finite(self) -> bool;
    /// Converts to `f64` (exact for both implementations).
    fn to_f64(self) -> f64;
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
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
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
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
