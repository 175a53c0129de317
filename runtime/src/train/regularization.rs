//! Penalties on the weights and gradient clipping, applied by a session's steps.

use crate::network::{Parameters, TensorKind};
use crate::real::Real;

/// Penalties and gradient clipping applied by [`Session::step`].
///
/// The penalties are Keras-style terms on the weights only (never on biases), added to the
/// loss and to its gradient: `l1 * sum(|w|) + l2 * sum(w^2)`. They are reported separately
/// from the data loss ([`Session::last_penalty`]). Clipping follows PyTorch:
/// `clip_grad_value_` clamps each gradient value to `[-v, v]`; `clip_grad_norm_` scales all
/// gradients by `max_norm / (norm + 1e-6)` when their global norm exceeds `max_norm`
/// (value clipping is applied first when both are set).
///
/// [`Session::step`]: crate::train::Session::step
/// [`Session::last_penalty`]: crate::train::Session::last_penalty
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regularization<T> {
    /// L1 penalty factor on weights (0 for none).
    pub l1: T,
    /// L2 penalty factor on weights (0 for none).
    pub l2: T,
    /// Clip the global gradient norm to this value.
    pub clip_norm: Option<T>,
    /// Clamp every gradient value to `[-v, v]`.
    pub clip_value: Option<T>,
}

impl<T: Real> Default for Regularization<T> {
    fn default() -> Self {
        Regularization {
            l1: T::cast(0.0),
            l2: T::cast(0.0),
            clip_norm: None,
            clip_value: None,
        }
    }
}

impl<T: Real> Regularization<T> {
    /// Whether the settings change nothing.
    pub fn is_none(&self) -> bool {
        self.l1 == T::cast(0.0) && self.l2 == T::cast(0.0) && self.clip_norm.is_none() && self.clip_value.is_none()
    }

    /// The penalty of `params`' weights, computed in `f64`.
    pub fn penalty<P: Parameters<Scalar = T> + ?Sized>(&self, params: &P) -> f64 {
        let (l1, l2) = (self.l1.to_f64(), self.l2.to_f64());
        if l1 == 0.0 && l2 == 0.0 {
            return 0.0;
        }
        let mut total = 0.0;
        for (index, spec) in P::TENSORS.iter().enumerate() {
            if spec.kind == TensorKind::Weight {
                for &w in params.tensor(index) {
                    let w = w.to_f64();
                    total += l1 * w.abs() + l2 * w * w;
                }
            }
        }
        total
    }

    /// Adds the penalty's gradient to `grads`.
    pub fn add_penalty_gradient<P, G>(&self, params: &P, grads: &mut G)
    where
        P: Parameters<Scalar = T> + ?Sized,
        G: Parameters<Scalar = T> + ?Sized,
    {
        let zero = T::cast(0.0);
        if self.l1 == zero && self.l2 == zero {
            return;
        }
        let two_l2 = self.l2 + self.l2;
        for (index, spec) in P::TENSORS.iter().enumerate() {
            if spec.kind == TensorKind::Weight {
                for (g, &w) in grads.tensor_mut(index).iter_mut().zip(params.tensor(index)) {
                    *g += self.l1 * sign(w) + two_l2 * w;
                }
            }
        }
    }

    /// Applies value and norm clipping to `grads`, given their global norm.
    pub fn clip<G: Parameters<Scalar = T> + ?Sized>(&self, grads: &mut G, norm: f64) {
        if let Some(limit) = self.clip_value {
            for index in 0..G::TENSORS.len() {
                for g in grads.tensor_mut(index) {
                    *g = g.clamp(-limit, limit);
                }
            }
        }
        if let Some(max_norm) = self.clip_norm {
            let norm = if self.clip_value.is_some() {
                grads.global_norm()
            } else {
                norm
            };
            let coefficient = max_norm.to_f64() / (norm + 1e-6);
            if coefficient < 1.0 {
                let c = T::cast(coefficient);
                for index in 0..G::TENSORS.len() {
                    for g in grads.tensor_mut(index) {
                        *g *= c;
                    }
                }
            }
        }
    }
}

/// The sign of `w`: 1, -1, or 0 at 0 (the L1 penalty's gradient).
pub(crate) fn sign<T: Real>(w: T) -> T {
    let zero = T::cast(0.0);
    if w > zero {
        T::cast(1.0)
    } else if w < zero {
        T::cast(-1.0)
    } else {
        zero
    }
}
