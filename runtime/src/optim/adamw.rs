//! AdamW, as PyTorch's `torch.optim.AdamW`: Adam with decoupled weight decay.

use super::adam::Adam;
use super::{Optimizer, OptimizerState, SparseRule};
use crate::error::OptimError;
use crate::network::Parameters;
use crate::real::Real;

/// AdamW, as PyTorch's `torch.optim.AdamW`: Adam with decoupled weight decay
/// (`p *= 1 - lr * weight_decay` before the Adam update; defaults as [`Adam`] but
/// `weight_decay = 0.01`).
#[derive(Debug, Clone)]
pub struct AdamW<T> {
    inner: Adam<T>,
}

impl<T: Real> Default for AdamW<T> {
    fn default() -> Self {
        AdamW {
            inner: Adam::decoupled(T::cast(0.01)),
        }
    }
}

impl<T: Real> AdamW<T> {
    /// AdamW with learning rate `lr` and PyTorch's other defaults.
    pub fn new(lr: T) -> Self {
        let mut opt = Self::default();
        opt.inner.lr = lr;
        opt
    }

    /// Sets the moment decay rates.
    pub fn with_betas(mut self, beta1: T, beta2: T) -> Self {
        self.inner.betas = (beta1, beta2);
        self
    }

    /// Sets epsilon.
    pub fn with_eps(mut self, eps: T) -> Self {
        self.inner.eps = eps;
        self
    }

    /// Sets the decoupled weight decay.
    pub fn with_weight_decay(mut self, weight_decay: T) -> Self {
        self.inner.weight_decay = weight_decay;
        self
    }

    /// Turns AMSGrad on or off.
    pub fn with_amsgrad(mut self, amsgrad: bool) -> Self {
        self.inner.amsgrad = amsgrad;
        self
    }

    /// The decoupled weight decay.
    pub fn weight_decay(&self) -> T {
        self.inner.weight_decay
    }
}

impl<T: Real> Optimizer<T> for AdamW<T> {
    fn step<P, G>(&mut self, params: &mut P, grads: &G) -> Result<(), OptimError>
    where
        P: Parameters<Scalar = T> + ?Sized,
        G: Parameters<Scalar = T> + ?Sized,
    {
        self.inner.update(params, grads)
    }

    fn learning_rate(&self) -> T {
        self.inner.lr
    }

    fn set_learning_rate(&mut self, lr: T) {
        self.inner.lr = lr;
    }

    fn sparse_rule(&self) -> Result<SparseRule<T>, OptimError> {
        if self.inner.amsgrad {
            return Err(OptimError::NoSparseRule {
                optimizer: "`AdamW` with AMSGrad",
                reason: "the sparse form keeps SparseAdam's moments, which have no AMSGrad maximum",
            });
        }
        Ok(SparseRule::AdamW {
            betas: self.inner.betas,
            eps: self.inner.eps,
            weight_decay: self.inner.weight_decay,
        })
    }

    fn state(&self) -> OptimizerState<T> {
        let mut state = self.inner.state();
        state.kind = "adamw".to_owned();
        state
    }

    fn set_state(&mut self, mut state: OptimizerState<T>) -> Result<(), OptimError> {
        state.check_kind("adamw")?;
        state.kind = "adam".to_owned();
        self.inner.set_state(state)
    }
}
