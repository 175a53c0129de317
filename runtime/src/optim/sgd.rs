//! Stochastic gradient descent, as PyTorch's `torch.optim.SGD`.

use super::{check_matching, Optimizer, OptimizerState, Slots, SparseRule};
use crate::error::OptimError;
use crate::network::Parameters;
use crate::real::Real;

/// Stochastic gradient descent with optional momentum, dampening, weight decay and Nesterov
/// momentum, as PyTorch's `torch.optim.SGD`:
///
/// ```text
/// g = grad + weight_decay * p
/// if momentum != 0:
///     buf = g                                   (first step)
///     buf = momentum * buf + (1 - dampening) * g (later steps)
///     g = g + momentum * buf if nesterov else buf
/// p = p - lr * g
/// ```
///
/// ```
/// use retroprop_runtime::optim::Sgd;
/// let sgd = Sgd::new(0.1_f32).with_momentum(0.9).with_nesterov(true);
/// assert_eq!(sgd.momentum, 0.9);
/// ```
#[derive(Debug, Clone)]
pub struct Sgd<T> {
    /// Learning rate.
    pub lr: T,
    /// Momentum factor (default 0).
    pub momentum: T,
    /// Dampening for momentum (default 0).
    pub dampening: T,
    /// L2 penalty added to the gradient (default 0).
    pub weight_decay: T,
    /// Nesterov momentum (default false).
    pub nesterov: bool,
    momentum_buffers: Slots<T>,
}

impl<T: Real> Sgd<T> {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: T) -> Self {
        let zero = T::cast(0.0);
        Sgd {
            lr,
            momentum: zero,
            dampening: zero,
            weight_decay: zero,
            nesterov: false,
            momentum_buffers: Slots::default(),
        }
    }

    /// Sets the momentum factor.
    pub fn with_momentum(mut self, momentum: T) -> Self {
        self.momentum = momentum;
        self
    }

    /// Sets the dampening.
    pub fn with_dampening(mut self, dampening: T) -> Self {
        self.dampening = dampening;
        self
    }

    /// Sets the weight decay.
    pub fn with_weight_decay(mut self, weight_decay: T) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Turns Nesterov momentum on or off.
    pub fn with_nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// Forgets the momentum buffers (the next step starts afresh).
    pub fn reset(&mut self) {
        self.momentum_buffers.clear();
    }
}

impl<T: Real> Optimizer<T> for Sgd<T> {
    fn step<P, G>(&mut self, params: &mut P, grads: &G) -> Result<(), OptimError>
    where
        P: Parameters<Scalar = T> + ?Sized,
        G: Parameters<Scalar = T> + ?Sized,
    {
        check_matching(params, grads)?;
        let one = T::cast(1.0);
        let use_momentum = self.momentum != T::cast(0.0);
        let first = use_momentum && self.momentum_buffers.prepare(params, T::cast(0.0))?;
        for index in 0..P::TENSORS.len() {
            let p = params.tensor_mut(index);
            let g = grads.tensor(index);
            if use_momentum {
                let buf = &mut self.momentum_buffers.buffers[index];
                for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                    let g = g + self.weight_decay * *p;
                    *b = if first {
                        g
                    } else {
                        self.momentum * *b + (one - self.dampening) * g
                    };
                    let update = if self.nesterov { g + self.momentum * *b } else { *b };
                    *p -= self.lr * update;
                }
            } else {
                for (p, &g) in p.iter_mut().zip(g) {
                    let g = g + self.weight_decay * *p;
                    *p -= self.lr * g;
                }
            }
        }
        Ok(())
    }

    fn learning_rate(&self) -> T {
        self.lr
    }

    fn plain_sgd_rate(&self) -> Option<T> {
        let zero = T::cast(0.0);
        (self.momentum == zero && self.weight_decay == zero).then_some(self.lr)
    }

    fn set_learning_rate(&mut self, lr: T) {
        self.lr = lr;
    }

    fn sparse_rule(&self) -> Result<SparseRule<T>, OptimError> {
        let zero = T::cast(0.0);
        if self.momentum == zero {
            return Ok(SparseRule::Sgd {
                weight_decay: self.weight_decay,
            });
        }
        if self.dampening != zero || self.weight_decay != zero {
            return Err(OptimError::NoSparseRule {
                optimizer: "`Sgd` with momentum and dampening or weight decay",
                reason: "the missed steps of a column would depend on more than its momentum buffer; use \
                         no dampening, and `Regularization::l2` for the decay",
            });
        }
        Ok(SparseRule::Momentum {
            momentum: self.momentum,
            nesterov: self.nesterov,
        })
    }

    fn state(&self) -> OptimizerState<T> {
        OptimizerState::new("sgd", 0, self.lr, vec![("momentum_buffer", &self.momentum_buffers)])
    }

    fn set_state(&mut self, mut state: OptimizerState<T>) -> Result<(), OptimError> {
        state.check_kind("sgd")?;
        self.lr = T::cast(state.lr);
        self.momentum_buffers = state.take("momentum_buffer");
        Ok(())
    }
}
