//! Optimizers.
//!
//! Update rules and defaults are PyTorch's (`torch.optim`), so that a recipe carries over
//! unchanged. An optimizer keeps its state itself, allocates it at its first step and never
//! allocates again.

use crate::error::OptimError;
use crate::network::Parameters;
use crate::real::Real;

/// Updates parameters from their gradients.
pub trait Optimizer<T: Real> {
    /// Applies one update to `params` from `grads` (which must describe the same tensors).
    ///
    /// # Errors
    /// [`OptimError`] if the gradients, or the state from earlier steps, do not match the
    /// parameters; nothing is changed then.
    fn step<P, G>(&mut self, params: &mut P, grads: &G) -> Result<(), OptimError>
    where
        P: Parameters<Scalar = T> + ?Sized,
        G: Parameters<Scalar = T> + ?Sized;

    /// The current learning rate.
    fn learning_rate(&self) -> T;

    /// Sets the learning rate (used by schedules).
    fn set_learning_rate(&mut self, lr: T);
}

/// Checks that `params` and `grads` list tensors of the same sizes.
pub fn check_matching<T, P, G>(params: &P, grads: &G) -> Result<(), OptimError>
where
    T: Real,
    P: Parameters<Scalar = T> + ?Sized,
    G: Parameters<Scalar = T> + ?Sized,
{
    if P::TENSORS.len() != G::TENSORS.len() {
        return Err(OptimError::TensorCount {
            params: P::TENSORS.len(),
            grads: G::TENSORS.len(),
        });
    }
    for (index, spec) in P::TENSORS.iter().enumerate() {
        let p = params.tensor(index).len();
        let g = grads.tensor(index).len();
        if p != g {
            return Err(OptimError::Mismatch {
                index,
                name: spec.name,
                params: p,
                other: g,
                what: "gradients",
            });
        }
    }
    Ok(())
}

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
    buffers: Vec<Vec<T>>,
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
            buffers: Vec::new(),
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
        self.buffers.clear();
    }
}

impl<T: Real> Optimizer<T> for Sgd<T> {
    fn step<P, G>(&mut self, params: &mut P, grads: &G) -> Result<(), OptimError>
    where
        P: Parameters<Scalar = T> + ?Sized,
        G: Parameters<Scalar = T> + ?Sized,
    {
        check_matching(params, grads)?;
        let zero = T::cast(0.0);
        let one = T::cast(1.0);
        let use_momentum = self.momentum != zero;
        let first = self.buffers.is_empty();
        if use_momentum && !first {
            for (index, spec) in P::TENSORS.iter().enumerate() {
                let have = self.buffers.get(index).map_or(0, Vec::len);
                if have != params.tensor(index).len() {
                    return Err(OptimError::Mismatch {
                        index,
                        name: spec.name,
                        params: params.tensor(index).len(),
                        other: have,
                        what: "optimizer state values",
                    });
                }
            }
        }
        if use_momentum && first {
            self.buffers = (0..P::TENSORS.len())
                .map(|i| vec![zero; params.tensor(i).len()])
                .collect();
        }
        for index in 0..P::TENSORS.len() {
            let p = params.tensor_mut(index);
            let g = grads.tensor(index);
            if use_momentum {
                let buf = &mut self.buffers[index];
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

    fn set_learning_rate(&mut self, lr: T) {
        self.lr = lr;
    }
}
