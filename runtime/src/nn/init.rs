//! Weight initialization.

use crate::real::Real;
use rand::{Rng, SeedableRng};

/// The random generator used for initialization, dropout masks and shuffling.
///
/// ChaCha8 is portable and its output for a seed is stable across platforms and releases of
/// `rand_chacha`, so a seed always gives the same network.
pub type SeededRng = rand_chacha::ChaCha8Rng;

/// A generator seeded from `seed`.
pub fn seeded_rng(seed: u64) -> SeededRng {
    SeededRng::seed_from_u64(seed)
}

/// How a weight tensor is initialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// He (Kaiming) uniform, for the relu family: `U(-b, b)` with `b = sqrt(6 / fan_in)`.
    HeUniform,
    /// Xavier (Glorot) uniform: `U(-b, b)` with `b = sqrt(6 / (fan_in + fan_out))`.
    XavierUniform,
    /// All zeros (used for biases).
    Zeros,
}

impl Init {
    /// The bound `b` of the uniform distribution for these fans.
    pub fn bound(self, fan_in: usize, fan_out: usize) -> f64 {
        match self {
            Init::HeUniform => (6.0 / fan_in.max(1) as f64).sqrt(),
            Init::XavierUniform => (6.0 / (fan_in + fan_out).max(1) as f64).sqrt(),
            Init::Zeros => 0.0,
        }
    }

    /// Fills `values` (a layer with `fan_in` inputs and `fan_out` outputs) from `rng`.
    ///
    /// ```
    /// use retroprop_runtime::nn::init::{seeded_rng, Init};
    /// let mut w = [0.0_f32; 6];
    /// Init::XavierUniform.fill(&mut w, 3, 2, &mut seeded_rng(7));
    /// assert!(w.iter().all(|v| v.abs() <= (6.0_f32 / 5.0).sqrt()));
    /// ```
    pub fn fill<T: Real>(self, values: &mut [T], fan_in: usize, fan_out: usize, rng: &mut SeededRng) {
        let bound = self.bound(fan_in, fan_out);
        for v in values.iter_mut() {
            *v = match self {
                Init::Zeros => T::cast(0.0),
                _ => T::cast(bound * (2.0 * rng.random::<f64>() - 1.0)),
            };
        }
    }
}
