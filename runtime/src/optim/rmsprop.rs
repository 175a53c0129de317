//! RMSprop, as PyTorch's `torch.optim.RMSprop`.

use super::{check_matching, Optimizer, OptimizerState, Slots, SparseRule};
use crate::error::OptimError;
use crate::network::Parameters;
use crate::real::Real;

/// RMSprop, as PyTorch's `torch.optim.RMSprop` (defaults `lr = 0.01`, `alpha = 0.99`,
/// `eps = 1e-8`, no weight decay, no momentum, not centered):
///
/// ```text
/// g = grad + weight_decay * p
/// v = alpha * v + (1 - alpha) * g^2
/// if centered: m = alpha * m + (1 - alpha) * g;  v_hat = v - m^2  else v_hat = v
/// if momentum > 0: buf = momentum * buf + g / (sqrt(v_hat) + eps);  p -= lr * buf
/// else p -= lr * g / (sqrt(v_hat) + eps)
/// ```
#[derive(Debug, Clone)]
pub struct RmsProp<T> {
    /// Learning rate (default 0.01).
    pub lr: T,
    /// Smoothing constant (default 0.99).
    pub alpha: T,
    /// Term added to the denominator (default 1e-8).
    pub eps: T,
    /// L2 penalty added to the gradient (default 0).
    pub weight_decay: T,
    /// Momentum factor (default 0).
    pub momentum: T,
    /// Normalize by the estimated variance instead of the second moment (default false).
    pub centered: bool,
    square_avg: Slots<T>,
    grad_avg: Slots<T>,
    momentum_buffers: Slots<T>,
}

impl<T: Real> Default for RmsProp<T> {
    fn default() -> Self {
        RmsProp {
            lr: T::cast(0.01),
            alpha: T::cast(0.99),
            eps: T::cast(1e-8),
            weight_decay: T::cast(0.0),
            momentum: T::cast(0.0),
            centered: false,
            square_avg: Slots::default(),
            grad_avg: Slots::default(),
            momentum_buffers: Slots::default(),
        }
    }
}

impl<T: Real> RmsProp<T> {
    /// RMSprop with learning rate `lr` and PyTorch's other defaults.
    pub fn new(lr: T) -> Self {
        RmsProp { lr, ..Self::default() }
    }

    /// Sets the smoothing constant.
    pub fn with_alpha(mut self, alpha: T) -> Self {
        self.alpha = alpha;
        self
    }

    /// Sets epsilon.
    pub fn with_eps(mut self, eps: T) -> Self {
        self.eps = eps;
        self
    }

    /// Sets the weight decay.
    pub fn with_weight_decay(mut self, weight_decay: T) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the momentum factor.
    pub fn with_momentum(mut self, momentum: T) -> Self {
        self.momentum = momentum;
        self
    }

    /// Turns the centered variant on or off.
    pub fn with_centered(mut self, centered: bool) -> Self {
        self.centered = centered;
        self
    }
}

impl<T: Real> Optimizer<T> for RmsProp<T> {
    fn step<P, G>(&mut self, params: &mut P, grads: &G) -> Result<(), OptimError>
    where
        P: Parameters<Scalar = T> + ?Sized,
        G: Parameters<Scalar = T> + ?Sized,
    {
        check_matching(params, grads)?;
        let zero = T::cast(0.0);
        let one = T::cast(1.0);
        let use_momentum = self.momentum > zero;
        self.square_avg.prepare(params, zero)?;
        if self.centered {
            self.grad_avg.prepare(params, zero)?;
        }
        if use_momentum {
            self.momentum_buffers.prepare(params, zero)?;
        }
        for index in 0..P::TENSORS.len() {
            let p = params.tensor_mut(index);
            let g = grads.tensor(index);
            let v = &mut self.square_avg.buffers[index];
            let mut avg = self.grad_avg.buffers.get_mut(index).map(|b| b.iter_mut());
            let mut buf = self.momentum_buffers.buffers.get_mut(index).map(|b| b.iter_mut());
            for ((p, &g), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
                let g = g + self.weight_decay * *p;
                *v = self.alpha * *v + (one - self.alpha) * g * g;
                let v_hat = match avg.as_mut().and_then(Iterator::next) {
                    Some(m) => {
                        *m = self.alpha * *m + (one - self.alpha) * g;
                        *v - *m * *m
                    }
                    None => *v,
                };
                let step = g / (v_hat.sqrt() + self.eps);
                match buf.as_mut().and_then(Iterator::next) {
                    Some(b) => {
                        *b = self.momentum * *b + step;
                        *p -= self.lr * *b;
                    }
                    None => *p -= self.lr * step,
                }
            }
        }
        Ok(())
    }

    fn learning_rate(&self) -> T {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: T) {
        self.lr = lr;
    }

    fn sparse_rule(&self) -> Result<SparseRule<T>, OptimError> {
        Err(OptimError::NoSparseRule {
            optimizer: "`RmsProp`",
            reason: "PyTorch has no sparse form of it (its averages decay on every entry at every step); use \
                     `Adam` or `Adagrad`",
        })
    }

    fn state(&self) -> OptimizerState<T> {
        OptimizerState::new(
            "rmsprop",
            0,
            self.lr,
            vec![
                ("square_avg", &self.square_avg),
                ("grad_avg", &self.grad_avg),
                ("momentum_buffer", &self.momentum_buffers),
            ],
        )
    }

    fn set_state(&mut self, mut state: OptimizerState<T>) -> Result<(), OptimError> {
        state.check_kind("rmsprop")?;
        self.lr = T::cast(state.lr);
        self.square_avg = state.take("square_avg");
        self.grad_avg = state.take("grad_avg");
        self.momentum_buffers = state.take("momentum_buffer");
        Ok(())
    }
}
