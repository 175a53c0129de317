//! Optimizers.
//!
//! Update rules and defaults are PyTorch's (`torch.optim`), so that a recipe carries over
//! unchanged. An optimizer keeps its state itself, allocates it at its first step and never
//! allocates again.
//!
//! This module has the [`Optimizer`] trait and the state checkpoints save; each optimizer has
//! a module of its own ([`sgd`], [`rmsprop`], [`adagrad`], [`adam`], [`adamw`]) and is
//! re-exported here, as are the learning-rate schedules of [`schedule`].

pub mod adagrad;
pub mod adam;
pub mod adamw;
pub mod rmsprop;
pub mod schedule;
pub mod sgd;

pub use adagrad::Adagrad;
pub use adam::Adam;
pub use adamw::AdamW;
pub use rmsprop::RmsProp;
pub use schedule::{ReduceOnPlateau, Schedule};
pub use sgd::Sgd;

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

    /// `Some(lr)` if this optimizer's next update is plain gradient descent, `p -= lr * grad`,
    /// with no state and nothing else: then a training step on one sample may fuse the update
    /// into the backward pass ([`Network::sgd_step_into`](crate::Network::sgd_step_into)), and
    /// the last-good guard checks `p - lr * grad` before the update instead of copying the
    /// weights. `None`, the default, for every other rule.
    fn plain_sgd_rate(&self) -> Option<T> {
        None
    }

    /// Sets the learning rate (used by schedules).
    fn set_learning_rate(&mut self, lr: T);

    /// How this optimizer updates the weight of a sparse first layer (`input: sparse(n)`),
    /// which a [`SparseSession`](crate::train::SparseSession) applies to the columns of the
    /// features present in a batch only (see [`SparseRule`]); the other tensors go through
    /// [`step`](Self::step) as in a dense network.
    ///
    /// # Errors
    /// [`OptimError::NoSparseRule`], the default, for an optimizer or a setting that has no
    /// sparse form: training a sparse network with it is refused rather than densified.
    fn sparse_rule(&self) -> Result<SparseRule<T>, OptimError> {
        Err(OptimError::NoSparseRule {
            optimizer: "this optimizer",
            reason: "it has no update rule for a sparse layer",
        })
    }

    /// The optimizer's state (step count and per-tensor buffers), for checkpoints.
    fn state(&self) -> OptimizerState<T>;

    /// Restores a state from [`state`](Self::state).
    ///
    /// # Errors
    /// [`OptimError::State`] if the state belongs to another kind of optimizer.
    fn set_state(&mut self, state: OptimizerState<T>) -> Result<(), OptimError>;
}

/// What an optimizer does to the weight of a sparse first layer: the rule, with the settings
/// it needs besides the learning rate (which is read from the optimizer at every step). Each
/// rule touches only the columns of the features present in the batch, and each has a
/// documented relation to its dense counterpart (see the types in
/// [`nn::sparse`](crate::nn::sparse)):
///
/// | optimizer | sparse rule | relation to the dense optimizer |
/// |---|---|---|
/// | [`Sgd`] without momentum | [`SparseSgd`](crate::nn::sparse::SparseSgd) | exact; weight decay only on present columns (lazy L2) |
/// | [`Sgd`] with momentum | [`SparseMomentumSgd`](crate::nn::sparse::SparseMomentumSgd) | equal after catch-up (closed form), as `torch.optim.SGD` |
/// | [`Adagrad`] | [`SparseAdagrad`](crate::nn::sparse::SparseAdagrad) | exact: PyTorch's sparse Adagrad, untouched entries do not move |
/// | [`Adam`] | [`SparseAdam`](crate::nn::sparse::SparseAdam) | `torch.optim.SparseAdam`: moments of present entries only |
/// | [`AdamW`] | [`SparseAdamW`](crate::nn::sparse::SparseAdamW) | SparseAdam's moments; the decoupled decay of every weight at every step, caught up lazily (equal after catch-up) |
///
/// [`RmsProp`] has no sparse rule (a typed error), nor do the settings the sparse forms do not
/// support (momentum with dampening or weight decay, Adagrad or Adam with weight decay,
/// AMSGrad): use [`Regularization`](crate::train::Regularization)'s `l2`, which a sparse
/// session applies to the present columns.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum SparseRule<T> {
    /// Plain SGD, with L2 weight decay on the present columns.
    Sgd {
        /// The L2 factor added to the gradient of present columns.
        weight_decay: T,
    },
    /// SGD with momentum (dampening 0, no weight decay), caught up lazily.
    Momentum {
        /// The momentum factor.
        momentum: T,
        /// Nesterov momentum.
        nesterov: bool,
    },
    /// Adagrad without weight decay.
    Adagrad {
        /// The learning-rate decay.
        lr_decay: T,
        /// The accumulators' start value.
        initial_accumulator_value: T,
        /// The denominator's epsilon.
        eps: T,
    },
    /// Adam without weight decay or AMSGrad, as `torch.optim.SparseAdam`.
    Adam {
        /// The moments' decay rates.
        betas: (T, T),
        /// The denominator's epsilon.
        eps: T,
    },
    /// AdamW without AMSGrad: SparseAdam's moments, and the decoupled decay of every weight
    /// at every step caught up lazily.
    AdamW {
        /// The moments' decay rates.
        betas: (T, T),
        /// The denominator's epsilon.
        eps: T,
        /// The decoupled weight decay.
        weight_decay: T,
    },
}

/// The state of an optimizer: what a checkpoint stores so that training resumes exactly.
///
/// Buffer names follow PyTorch's state keys (`momentum_buffer`, `exp_avg`, `exp_avg_sq`,
/// `max_exp_avg_sq`, `square_avg`, `grad_avg`, `sum`).
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerState<T> {
    /// The optimizer (`"sgd"`, `"rmsprop"`, `"adagrad"`, `"adam"`, `"adamw"`).
    pub kind: String,
    /// Steps taken.
    pub steps: u64,
    /// The learning rate.
    pub lr: f64,
    /// Named buffers, one vector per parameter tensor (empty before the first step).
    pub buffers: Vec<(String, Vec<Vec<T>>)>,
}

impl<T: Real> OptimizerState<T> {
    fn new(kind: &str, steps: u64, lr: T, buffers: Vec<(&str, &Slots<T>)>) -> Self {
        OptimizerState {
            kind: kind.to_owned(),
            steps,
            lr: lr.to_f64(),
            buffers: buffers
                .into_iter()
                .filter(|(_, slots)| !slots.buffers.is_empty())
                .map(|(name, slots)| (name.to_owned(), slots.buffers.clone()))
                .collect(),
        }
    }

    fn check_kind(&self, kind: &'static str) -> Result<(), OptimError> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(OptimError::State {
                expected: kind,
                found: self.kind.clone(),
            })
        }
    }

    fn take(&mut self, name: &str) -> Slots<T> {
        let buffers = self
            .buffers
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, b)| std::mem::take(b))
            .unwrap_or_default();
        Slots { buffers }
    }
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

/// Per-tensor state buffers of an optimizer (one vector per parameter tensor), allocated at
/// the first step and checked against the parameters at every later one.
#[derive(Debug, Clone, Default)]
struct Slots<T> {
    buffers: Vec<Vec<T>>,
}

impl<T: Real> Slots<T> {
    /// Allocates the buffers (filled with `init`) if this is the first step; otherwise checks
    /// that they match the parameters. Returns whether they were just allocated.
    fn prepare<P: Parameters<Scalar = T> + ?Sized>(&mut self, params: &P, init: T) -> Result<bool, OptimError> {
        if self.buffers.is_empty() {
            self.buffers = (0..P::TENSORS.len())
                .map(|i| vec![init; params.tensor(i).len()])
                .collect();
            return Ok(true);
        }
        for (index, spec) in P::TENSORS.iter().enumerate() {
            let have = self.buffers.get(index).map_or(0, Vec::len);
            let params = params.tensor(index).len();
            if have != params || self.buffers.len() != P::TENSORS.len() {
                return Err(OptimError::Mismatch {
                    index,
                    name: spec.name,
                    params,
                    other: have,
                    what: "optimizer state values",
                });
            }
        }
        Ok(false)
    }

    fn clear(&mut self) {
        self.buffers.clear();
    }
}
