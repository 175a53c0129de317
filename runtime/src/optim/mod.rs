//! Optimizers.
//!
//! Update rules and defaults are PyTorch's (`torch.optim`), so that a recipe carries over
//! unchanged. An optimizer keeps its state itself, allocates it at its first step and never
//! allocates again.

pub mod schedule;

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
    /// into the backward pass ([`Network::sgd_step_into`](crate::Network::sgd_step_into)).
    /// `None`, the default, for every other rule.
    fn plain_sgd_rate(&self) -> Option<T> {
        None
    }

    /// Sets the learning rate (used by schedules).
    fn set_learning_rate(&mut self, lr: T);

    /// The optimizer's state (step count and per-tensor buffers), for checkpoints.
    fn state(&self) -> OptimizerState<T>;

    /// Restores a state from [`state`](Self::state).
    ///
    /// # Errors
    /// [`OptimError::State`] if the state belongs to another kind of optimizer.
    fn set_state(&mut self, state: OptimizerState<T>) -> Result<(), OptimError>;
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
    /// L2 penalty added to the gradient (default 0). For decoupled decay use [`AdamW`].
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

    fn update<P, G>(&mut self, params: &mut P, grads: &G) -> Result<(), OptimError>
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
            inner: Adam {
                weight_decay: T::cast(0.01),
                decoupled: true,
                ..Adam::default()
            },
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
