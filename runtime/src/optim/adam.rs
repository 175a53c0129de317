//! Adam, as PyTorch's `torch.optim.Adam`.

use super::{check_matching, Optimizer, OptimizerState, Slots, SparseRule};
use crate::error::OptimError;
use crate::network::Parameters;
use crate::real::Real;

/// Adam, as PyTorch's `torch.optim.Adam` (defaults `lr = 1e-3`, `betas = (0.9, 0.999)`,
/// `eps = 1e-8`, `weight_decay = 0` added to the gradient, `amsgrad = false`):
///
/// ```text
/// t += 1
/// g = grad + weight_decay * p
/// m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
/// v_max = max(v_max, v) if amsgrad
/// p -= lr / (1 - b1^t) * m / (sqrt(v or v_max) / sqrt(1 - b2^t) + eps)
/// ```
#[derive(Debug, Clone)]
pub struct Adam<T> {
    /// Learning rate (default 1e-3).
    pub lr: T,
    /// Decay rates of the first and second moment estimates (default (0.9, 0.999)).
    pub betas: (T, T),
    /// Term added to the denominator (default 1e-8).
    pub eps: T,
    /// L2 penalty added to the gradient (default 0). For decoupled decay use [`AdamW`](super::AdamW).
    pub weight_decay: T,
    /// Use the maximum of past second moments (default false).
    pub amsgrad: bool,
    decoupled: bool,
    steps: u64,
    first: Slots<T>,
    second: Slots<T>,
    second_max: Slots<T>,
}

impl<T: Real> Default for Adam<T> {
    fn default() -> Self {
        Adam {
            lr: T::cast(1e-3),
            betas: (T::cast(0.9), T::cast(0.999)),
            eps: T::cast(1e-8),
            weight_decay: T::cast(0.0),
            amsgrad: false,
            decoupled: false,
            steps: 0,
            first: Slots::default(),
            second: Slots::default(),
            second_max: Slots::default(),
        }
    }
}

impl<T: Real> Adam<T> {
    /// Adam with learning rate `lr` and PyTorch's other defaults.
    pub fn new(lr: T) -> Self {
        Adam { lr, ..Self::default() }
    }

    /// Sets the moment decay rates.
    pub fn with_betas(mut self, beta1: T, beta2: T) -> Self {
        self.betas = (beta1, beta2);
        self
    }

    /// Sets epsilon.
    pub fn with_eps(mut self, eps: T) -> Self {
        self.eps = eps;
        self
    }

    /// Sets the weight decay (added to the gradient).
    pub fn with_weight_decay(mut self, weight_decay: T) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Turns AMSGrad on or off.
    pub fn with_amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    /// Adam with PyTorch's defaults and decoupled weight decay `weight_decay` (what
    /// [`AdamW`](super::AdamW) runs).
    pub(super) fn decoupled(weight_decay: T) -> Self {
        Adam {
            weight_decay,
            decoupled: true,
            ..Adam::default()
        }
    }

    /// One update: L2 decay added to the gradient, or decoupled decay applied to the
    /// weights first.
    pub(super) fn update<P, G>(&mut self, params: &mut P, grads: &G) -> Result<(), OptimError>
    where
        P: Parameters<Scalar = T> + ?Sized,
        G: Parameters<Scalar = T> + ?Sized,
    {
        check_matching(params, grads)?;
        let zero = T::cast(0.0);
        let one = T::cast(1.0);
        self.first.prepare(params, zero)?;
        self.second.prepare(params, zero)?;
        if self.amsgrad {
            self.second_max.prepare(params, zero)?;
        }
        self.steps += 1;
        let (b1, b2) = self.betas;
        let t = i32::try_from(self.steps).unwrap_or(i32::MAX);
        let bias1 = one - b1.powi(t);
        let bias2_sqrt = (one - b2.powi(t)).sqrt();
        let step_size = self.lr / bias1;
        let decay = one - self.lr * self.weight_decay;
        for index in 0..P::TENSORS.len() {
            let p = params.tensor_mut(index);
            let g = grads.tensor(index);
            let m = &mut self.first.buffers[index];
            let v = &mut self.second.buffers[index];
            let mut v_max = self.second_max.buffers.get_mut(index).map(|b| b.iter_mut());
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                let g = if self.decoupled {
                    *p *= decay;
                    g
                } else {
                    g + self.weight_decay * *p
                };
                *m = b1 * *m + (one - b1) * g;
                *v = b2 * *v + (one - b2) * g * g;
                let second = match v_max.as_mut().and_then(Iterator::next) {
                    Some(vm) => {
                        if *v > *vm {
                            *vm = *v;
                        }
                        *vm
                    }
                    None => *v,
                };
                *p -= step_size * *m / (second.sqrt() / bias2_sqrt + self.eps);
            }
        }
        Ok(())
    }
}

impl<T: Real> Optimizer<T> for Adam<T> {
    fn step<P, G>(&mut self, params: &mut P, grads: &G) -> Result<(), OptimError>
    where
        P: Parameters<Scalar = T> + ?Sized,
        G: Parameters<Scalar = T> + ?Sized,
    {
        self.update(params, grads)
    }

    fn learning_rate(&self) -> T {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: T) {
        self.lr = lr;
    }

    fn sparse_rule(&self) -> Result<SparseRule<T>, OptimError> {
        if self.weight_decay != T::cast(0.0) || self.amsgrad {
            return Err(OptimError::NoSparseRule {
                optimizer: "`Adam` with weight decay or AMSGrad",
                reason: "`torch.optim.SparseAdam` has neither; use `Regularization::l2` for the decay",
            });
        }
        Ok(SparseRule::Adam {
            betas: self.betas,
            eps: self.eps,
        })
    }

    fn state(&self) -> OptimizerState<T> {
        OptimizerState::new(
            "adam",
            self.steps,
            self.lr,
            vec![
                ("exp_avg", &self.first),
                ("exp_avg_sq", &self.second),
                ("max_exp_avg_sq", &self.second_max),
            ],
        )
    }

    fn set_state(&mut self, mut state: OptimizerState<T>) -> Result<(), OptimError> {
        state.check_kind("adam")?;
        self.steps = state.steps;
        self.lr = T::cast(state.lr);
        self.first = state.take("exp_avg");
        self.second = state.take("exp_avg_sq");
        self.second_max = state.take("max_exp_avg_sq");
        Ok(())
    }
}
