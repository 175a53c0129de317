//! Adagrad, as PyTorch's `torch.optim.Adagrad`.

use super::{check_matching, Optimizer, OptimizerState, Slots, SparseRule};
use crate::error::OptimError;
use crate::network::Parameters;
use crate::real::Real;

/// Adagrad, as PyTorch's `torch.optim.Adagrad` (defaults `lr = 0.01`, `lr_decay = 0`,
/// `weight_decay = 0`, `initial_accumulator_value = 0`, `eps = 1e-10`):
///
/// ```text
/// t += 1
/// g = grad + weight_decay * p
/// clr = lr / (1 + (t - 1) * lr_decay)
/// sum += g^2
/// p -= clr * g / (sqrt(sum) + eps)
/// ```
#[derive(Debug, Clone)]
pub struct Adagrad<T> {
    /// Learning rate (default 0.01).
    pub lr: T,
    /// Learning-rate decay per step (default 0).
    pub lr_decay: T,
    /// L2 penalty added to the gradient (default 0).
    pub weight_decay: T,
    /// Starting value of the accumulators (default 0).
    pub initial_accumulator_value: T,
    /// Term added to the denominator (default 1e-10).
    pub eps: T,
    steps: u64,
    sums: Slots<T>,
}

impl<T: Real> Default for Adagrad<T> {
    fn default() -> Self {
        Adagrad {
            lr: T::cast(0.01),
            lr_decay: T::cast(0.0),
            weight_decay: T::cast(0.0),
            initial_accumulator_value: T::cast(0.0),
            eps: T::cast(1e-10),
            steps: 0,
            sums: Slots::default(),
        }
    }
}

impl<T: Real> Adagrad<T> {
    /// Adagrad with learning rate `lr` and PyTorch's other defaults.
    pub fn new(lr: T) -> Self {
        Adagrad { lr, ..Self::default() }
    }

    /// Sets the learning-rate decay.
    pub fn with_lr_decay(mut self, lr_decay: T) -> Self {
        self.lr_decay = lr_decay;
        self
    }

    /// Sets the weight decay.
    pub fn with_weight_decay(mut self, weight_decay: T) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the accumulators' starting value.
    pub fn with_initial_accumulator_value(mut self, value: T) -> Self {
        self.initial_accumulator_value = value;
        self
    }

    /// Sets epsilon.
    pub fn with_eps(mut self, eps: T) -> Self {
        self.eps = eps;
        self
    }
}

impl<T: Real> Optimizer<T> for Adagrad<T> {
    fn step<P, G>(&mut self, params: &mut P, grads: &G) -> Result<(), OptimError>
    where
        P: Parameters<Scalar = T> + ?Sized,
        G: Parameters<Scalar = T> + ?Sized,
    {
        check_matching(params, grads)?;
        self.sums.prepare(params, self.initial_accumulator_value)?;
        self.steps += 1;
        let clr = self.lr / (T::cast(1.0) + T::cast((self.steps - 1) as f64) * self.lr_decay);
        for index in 0..P::TENSORS.len() {
            let p = params.tensor_mut(index);
            let g = grads.tensor(index);
            for ((p, &g), s) in p.iter_mut().zip(g).zip(self.sums.buffers[index].iter_mut()) {
                let g = g + self.weight_decay * *p;
                *s += g * g;
                *p -= clr * g / (s.sqrt() + self.eps);
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
        if self.weight_decay != T::cast(0.0) {
            return Err(OptimError::NoSparseRule {
                optimizer: "`Adagrad` with weight decay",
                reason: "PyTorch's sparse Adagrad has no weight decay; use `Regularization::l2`, which applies \
                         to the present columns",
            });
        }
        Ok(SparseRule::Adagrad {
            lr_decay: self.lr_decay,
            initial_accumulator_value: self.initial_accumulator_value,
            eps: self.eps,
        })
    }

    fn state(&self) -> OptimizerState<T> {
        OptimizerState::new("adagrad", self.steps, self.lr, vec![("sum", &self.sums)])
    }

    fn set_state(&mut self, mut state: OptimizerState<T>) -> Result<(), OptimError> {
        state.check_kind("adagrad")?;
        self.steps = state.steps;
        self.lr = T::cast(state.lr);
        self.sums = state.take("sum");
        Ok(())
    }
}
