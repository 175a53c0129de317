//! The context a forward or backward pass runs in.

use crate::nn::init::{seeded_rng, SeededRng};

/// The context of a forward/backward pass: whether it is training, and the seeded random
/// generator that stochastic layers (such as dropout) draw from.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Context {
    rng: SeededRng,
    training: bool,
}

impl Context {
    /// A training context whose randomness comes from `seed`.
    pub fn training(seed: u64) -> Self {
        Context {
            rng: seeded_rng(seed),
            training: true,
        }
    }

    /// An inference context: stochastic layers are off.
    pub fn inference() -> Self {
        Context {
            rng: seeded_rng(0),
            training: false,
        }
    }

    /// Whether stochastic layers are active.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Switches between training and inference mode.
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// The random generator.
    pub fn rng(&mut self) -> &mut SeededRng {
        &mut self.rng
    }
}
