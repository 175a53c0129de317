//! Training steps of a network with a sparse input ([`SparseNetwork`]): a [`SparseSession`],
//! whose every per-step cost is proportional to what the batch holds.

use crate::error::TrainError;
use crate::network::{DenseTensors, Parameters, SparseGradients, SparseNetwork};
use crate::nn::context::Context;
use crate::nn::loss::Loss;
use crate::nn::sparse::{
    CaughtUpState, SparseAdagrad, SparseAdam, SparseAdamW, SparseGradient, SparseMomentumSgd, SparseSgd,
};
use crate::optim::{Optimizer, SparseRule};
use crate::real::Real;
use crate::sparse::SparseBatch;
use crate::train::regularization::{sign, Regularization};

/// Everything a training step of a [`SparseNetwork`] writes besides the network and the
/// optimizer, as [`Session`](crate::train::Session) is for dense networks: the workspace,
/// the gradients, the context, and the state of the first layer's sparse update.
///
/// A [`step`](Self::step) touches, in the first layer's weight, only the columns of the
/// features present in the batch: the forward pass, the weight gradient, the penalties,
/// the gradient norm and clipping, the last-good guard and the update (the optimizer's
/// [`SparseRule`]) all cost those columns times the layer's width, plus the other
/// (dense, small) tensors. The dense optimizer steps the other tensors as in a dense network.
///
/// Penalties: `l1` and `l2` of the [`Regularization`] apply to the other weights as in a
/// dense network and, in the sparse layer, to the present columns only (the lazy convention
/// of sparse training: an absent feature's weights are not decayed, and the reported
/// [`last_penalty`](Self::last_penalty) counts the present columns). Clipping sees the whole
/// gradient (the absent columns' gradient is zero).
///
/// The first step allocates the sparse rule's state (for momentum, Adagrad and Adam, as
/// large as the layer's weight); later steps allocate nothing once a batch with as many
/// touched columns as any later one has been seen. Steps run on the calling thread.
///
/// With SGD momentum or AdamW, columns lag behind until a batch holds their feature again (the step
/// catches them up before its forward pass); call [`catch_up`](Self::catch_up) before
/// evaluating or saving the network, and before changing the learning rate
/// ([`Trainer::fit_sparse`](crate::train::Trainer::fit_sparse) does).
pub struct SparseSession<N: SparseNetwork> {
    /// Per-layer buffers.
    pub workspace: N::Workspace,
    /// Gradients of the last step (after penalties and clipping).
    pub gradients: N::Gradients,
    /// Training context.
    pub context: Context,
    /// Penalties and clipping applied at every step.
    pub regularization: Regularization<N::Scalar>,
    keep_last_good: bool,
    /// The dense tensors before the last update (with the guard on).
    guard_dense: Vec<Vec<N::Scalar>>,
    /// The touched columns of the sparse weight before the last update, in the gradient's
    /// column order (with the guard on, for the rules other than plain SGD).
    guard_columns: Vec<N::Scalar>,
    rule: Option<RuleState<N::Scalar>>,
    last_penalty: f64,
    /// The last step's gradient norm, if clipping needed it; `None`: the norm of
    /// `gradients`, computed when asked.
    last_grad_norm: Option<f64>,
}

/// The rule of the first layer's update and its state.
type RuleState<T> = (SparseRule<T>, LayerOptimizer<T>);

/// The state of the first layer's update.
#[derive(Debug, Clone)]
enum LayerOptimizer<T> {
    Sgd(SparseSgd<T>),
    Momentum(SparseMomentumSgd<T>),
    Adagrad(SparseAdagrad<T>),
    Adam(SparseAdam<T>),
    AdamW(SparseAdamW<T>),
}

impl<T: Real> LayerOptimizer<T> {
    fn new(rule: SparseRule<T>, width: usize, features: usize, lr: T) -> Self {
        match rule {
            SparseRule::Sgd { weight_decay } => {
                LayerOptimizer::Sgd(SparseSgd::new(width, features, lr).with_weight_decay(weight_decay))
            }
            SparseRule::Momentum { momentum, nesterov } => {
                LayerOptimizer::Momentum(SparseMomentumSgd::new(width, features, lr, momentum).with_nesterov(nesterov))
            }
            SparseRule::Adagrad {
                lr_decay,
                initial_accumulator_value,
                eps,
            } => LayerOptimizer::Adagrad(
                SparseAdagrad::new(width, features)
                    .with_lr(lr)
                    .with_lr_decay(lr_decay)
                    .with_initial_accumulator_value(initial_accumulator_value)
                    .with_eps(eps),
            ),
            SparseRule::Adam { betas, eps } => LayerOptimizer::Adam(
                SparseAdam::new(width, features)
                    .with_lr(lr)
                    .with_betas(betas.0, betas.1)
                    .with_eps(eps),
            ),
            SparseRule::AdamW {
                betas,
                eps,
                weight_decay,
            } => {
                let mut o = SparseAdamW::new(width, features).with_weight_decay(weight_decay);
                o.adam = o.adam.with_lr(lr).with_betas(betas.0, betas.1).with_eps(eps);
                LayerOptimizer::AdamW(o)
            }
        }
    }

    /// Brings the lagging columns of `features` up to date (momentum and AdamW's decay;
    /// nothing for the other rules).
    fn catch_up_features(&mut self, weight: &mut [T], features: &[u32]) {
        match self {
            LayerOptimizer::Momentum(o) => o.catch_up_features(weight, features),
            LayerOptimizer::AdamW(o) => o.catch_up_features(weight, features),
            _ => {}
        }
    }

    /// Brings every lagging column up to date.
    fn catch_up_all(&mut self, weight: &mut [T]) {
        match self {
            LayerOptimizer::Momentum(o) => o.catch_up_all(weight),
            LayerOptimizer::AdamW(o) => o.catch_up_all(weight),
            _ => {}
        }
    }

    /// The rule's name in checkpoints.
    fn kind(&self) -> &'static str {
        match self {
            LayerOptimizer::Sgd(_) => "sgd",
            LayerOptimizer::Momentum(_) => "sgd_momentum",
            LayerOptimizer::Adagrad(_) => "adagrad",
            LayerOptimizer::Adam(_) => "sparse_adam",
            LayerOptimizer::AdamW(_) => "sparse_adamw",
        }
    }

    /// The state, which must be caught up ([`catch_up_all`](Self::catch_up_all)).
    fn caught_up_state(&self) -> CaughtUpState<T> {
        match self {
            LayerOptimizer::Sgd(_) => CaughtUpState {
                steps: 0,
                decayed: 0.0,
                buffers: Vec::new(),
            },
            LayerOptimizer::Momentum(o) => o.caught_up_state(),
            LayerOptimizer::Adagrad(o) => o.caught_up_state(),
            LayerOptimizer::Adam(o) => o.caught_up_state(),
            LayerOptimizer::AdamW(o) => o.caught_up_state(),
        }
    }

    fn restore_caught_up(&mut self, state: CaughtUpState<T>) -> Result<(), String> {
        match self {
            LayerOptimizer::Sgd(_) if state.buffers.is_empty() => Ok(()),
            LayerOptimizer::Sgd(_) => Err("plain SGD keeps no state for the sparse layer".into()),
            LayerOptimizer::Momentum(o) => o.restore_caught_up(state),
            LayerOptimizer::Adagrad(o) => o.restore_caught_up(state),
            LayerOptimizer::Adam(o) => o.restore_caught_up(state),
            LayerOptimizer::AdamW(o) => o.restore_caught_up(state),
        }
    }

    /// [`step`](Self::step) if it leaves the touched columns finite; returns whether it
    /// stepped (else the columns are as before). Plain SGD checks its update before writing
    /// it ([`SparseSgd::update_is_finite`]), so nothing is copied; the other rules copy the
    /// touched columns to `kept`, step, check, and put them back if needed.
    fn step_guarded(&mut self, lr: T, weight: &mut [T], grad: &SparseGradient<T>, kept: &mut Vec<T>) -> bool {
        if let LayerOptimizer::Sgd(o) = self {
            o.lr = lr;
            if !o.update_is_finite(weight, grad) {
                return false;
            }
            o.step(weight, grad);
            return true;
        }
        let width = grad.width();
        kept.clear();
        for &k in grad.columns() {
            let k = k as usize;
            kept.extend_from_slice(&weight[k * width..(k + 1) * width]);
        }
        self.step(lr, weight, grad);
        if crate::nn::sparse::columns_finite(weight, grad.columns(), width) {
            return true;
        }
        for (&k, column) in grad.columns().iter().zip(kept.chunks_exact(width)) {
            let k = k as usize;
            weight[k * width..(k + 1) * width].copy_from_slice(column);
        }
        false
    }

    fn step(&mut self, lr: T, weight: &mut [T], grad: &SparseGradient<T>) {
        match self {
            LayerOptimizer::Sgd(o) => {
                o.lr = lr;
                o.step(weight, grad);
            }
            LayerOptimizer::Momentum(o) => {
                o.lr = lr;
                o.step(weight, grad);
            }
            LayerOptimizer::Adagrad(o) => {
                o.lr = lr;
                o.step(weight, grad);
            }
            LayerOptimizer::Adam(o) => {
                o.lr = lr;
                o.step(weight, grad);
            }
            LayerOptimizer::AdamW(o) => {
                o.adam.lr = lr;
                o.step(weight, grad);
            }
        }
    }
}

impl<N: SparseNetwork> SparseSession<N> {
    /// A session for batches of up to `max_batch` samples, in training mode, with randomness
    /// from `seed`.
    pub fn new(max_batch: usize, seed: u64) -> Self {
        SparseSession {
            workspace: N::workspace(max_batch),
            gradients: N::zeroed_gradients(),
            context: Context::training(seed),
            regularization: Regularization::default(),
            keep_last_good: false,
            guard_dense: Vec::new(),
            guard_columns: Vec::new(),
            rule: None,
            last_penalty: 0.0,
            last_grad_norm: Some(0.0),
        }
    }

    /// Sets the penalties and clipping.
    pub fn with_regularization(mut self, regularization: Regularization<N::Scalar>) -> Self {
        self.regularization = regularization;
        self
    }

    /// Keeps a copy of what the next update changes (the dense tensors and the batch's
    /// columns of the sparse weight) and puts it back if the update leaves a non-finite
    /// weight: the step is then refused with the network unchanged. `fit_sparse` turns it on.
    ///
    /// The dense tensors are copied before the optimizer's step and checked after it, before
    /// the sparse layer moves. With plain SGD on the sparse layer, its update is computed
    /// and checked before it is written ([`SparseSgd::update_is_finite`]: a read pass over
    /// the touched columns, no copy); with the other rules, the touched columns are copied
    /// before the update and checked after it. The guard keeps the weights only: the
    /// optimizers' state (the sparse rule's and the dense optimizer's) keeps what the refused
    /// step wrote into it.
    pub fn with_last_good_guard(mut self, on: bool) -> Self {
        self.keep_last_good = on;
        self
    }

    /// The largest batch the session holds.
    pub fn capacity(&self) -> usize {
        crate::network::Workspace::capacity(&self.workspace)
    }

    /// The regularization penalty of the last step (the dense weights and the batch's
    /// columns of the sparse weight; not included in the returned loss).
    pub fn last_penalty(&self) -> f64 {
        self.last_penalty
    }

    /// The global gradient norm of the last step, before clipping (0 before the first step),
    /// also of a step refused for its loss or its gradient.
    ///
    /// In `f32` without clipping, a step only checks that the gradient is finite, and the
    /// norm is computed here, from [`gradients`](Self::gradients) (a pass over the batch's
    /// columns that a step does not pay for unless it is asked for; changing `gradients`
    /// before asking changes the answer).
    pub fn last_grad_norm(&self) -> f64 {
        self.last_grad_norm.unwrap_or_else(|| joint_norm(&self.gradients))
    }

    /// Brings the columns that SGD with momentum or AdamW's decay left behind up to date (a
    /// pass over the whole sparse weight; nothing to do for the other rules). After it, the
    /// weights equal the eager form's to rounding.
    pub fn catch_up(&mut self, net: &mut N) {
        if let Some((_, layer)) = &mut self.rule {
            layer.catch_up_all(net.tensor_mut(0));
        }
    }

    /// Catches up every column and returns the sparse layer's update state with the rule's
    /// name, for a checkpoint (`None` before the first step).
    pub(crate) fn layer_state(&mut self, net: &mut N) -> Option<(&'static str, CaughtUpState<N::Scalar>)> {
        self.catch_up(net);
        self.rule
            .as_ref()
            .map(|(_, layer)| (layer.kind(), layer.caught_up_state()))
    }

    /// Restores the sparse layer's update state saved by [`layer_state`](Self::layer_state)
    /// under the rule `kind`, for `optimizer`'s rule at its learning rate.
    ///
    /// # Errors
    /// The optimizer has no sparse rule, or another rule than the state's, or the state does
    /// not fit the layer.
    pub(crate) fn restore_layer_state<O>(
        &mut self,
        optimizer: &O,
        kind: &str,
        state: CaughtUpState<N::Scalar>,
    ) -> Result<(), TrainError>
    where
        O: Optimizer<N::Scalar> + ?Sized,
    {
        let rule = optimizer.sparse_rule()?;
        let mut layer = LayerOptimizer::new(rule, N::WIDTH, N::FEATURES, optimizer.learning_rate());
        if layer.kind() != kind {
            return Err(TrainError::Config(format!(
                "the sparse layer's state is of rule `{kind}`, but the optimizer's rule is `{}`",
                layer.kind()
            )));
        }
        layer.restore_caught_up(state).map_err(TrainError::Config)?;
        self.rule = Some((rule, layer));
        Ok(())
    }

    /// Forgets the state of the sparse layer's update (the next step starts it afresh), as
    /// when the optimizer is reset.
    pub fn reset_sparse_state(&mut self) {
        self.rule = None;
    }

    /// One step on a sparse batch: the gradients of the mean loss, the penalties, the check
    /// that loss and gradient norm are finite, clipping, then the update: the optimizer's
    /// [`Optimizer::step`] on every tensor but the sparse weight, and its
    /// [`SparseRule`] on the sparse weight's present columns, at the optimizer's current
    /// learning rate. Returns the mean data loss before the update.
    ///
    /// # Errors
    /// [`TrainError`] for a batch that does not fit, a non-finite loss or gradient, an
    /// optimizer without a sparse rule ([`OptimError::NoSparseRule`]) or whose state does
    /// not match; `net` is left unchanged then.
    ///
    /// [`OptimError::NoSparseRule`]: crate::OptimError::NoSparseRule
    pub fn step<L, O>(
        &mut self,
        net: &mut N,
        x: &SparseBatch<'_, N::Scalar>,
        target: &[N::Scalar],
        loss: &L,
        optimizer: &mut O,
    ) -> Result<N::Scalar, TrainError>
    where
        L: Loss<N::Scalar> + ?Sized,
        O: Optimizer<N::Scalar> + ?Sized,
    {
        let rule = optimizer.sparse_rule()?;
        // Lagging columns (momentum, AdamW's decay) catch up before the forward pass reads them.
        if let Some((kept, layer)) = &mut self.rule {
            if *kept == rule && x.features() == N::FEATURES {
                layer.catch_up_features(net.tensor_mut(0), x.indices());
            }
        }
        let value = net.gradients_sparse_into(
            x,
            target,
            loss,
            &mut self.context,
            &mut self.workspace,
            &mut self.gradients,
        )?;
        if !value.finite() {
            // The refused step's gradient is stored: its norm is the last one, computed when
            // asked (whether the step before computed its own or not).
            self.last_grad_norm = None;
            return Err(TrainError::NonFinite {
                what: "loss",
                value: value.to_f64(),
            });
        }
        let (l1, l2) = (self.regularization.l1, self.regularization.l2);
        let zero = N::Scalar::cast(0.0);
        self.last_penalty = 0.0;
        if l1 != zero || l2 != zero {
            self.last_penalty = self.regularization.penalty(&DenseTensors(&mut *net))
                + sparse_penalty(l1, l2, net.tensor(0), &mut self.gradients);
            self.regularization
                .add_penalty_gradient(&DenseTensors(&mut *net), &mut self.gradients);
        }
        let clipping = self.regularization.clip_value.is_some() || self.regularization.clip_norm.is_some();
        // Clipping needs the norm (and changes the gradient it is the norm of), and so does
        // `f64`, whose finite squares can overflow; otherwise a finiteness fold is enough, and
        // the norm waits until someone asks for it.
        let eager = clipping || !<N::Scalar as Real>::SQUARES_FIT_F64;
        if eager || !self.gradients.is_finite() || !values_finite(self.gradients.sparse().values()) {
            let norm = joint_norm(&self.gradients);
            self.last_grad_norm = Some(norm);
            if !norm.is_finite() {
                return Err(TrainError::NonFinite {
                    what: "gradient norm",
                    value: norm,
                });
            }
            self.clip(norm);
        } else {
            self.last_grad_norm = None;
        }
        let refused = TrainError::NonFinite {
            what: "updated weights",
            value: f64::INFINITY,
        };
        if self.keep_last_good {
            self.keep_dense(net);
        }
        optimizer.step(&mut DenseTensors(&mut *net), &self.gradients)?;
        // The dense tensors are checked before the sparse layer moves, so that a refused
        // update puts back only what it changed.
        if self.keep_last_good && !(1..N::TENSORS.len()).all(|index| values_finite(net.tensor(index))) {
            self.restore_dense(net);
            return Err(refused);
        }
        let lr = optimizer.learning_rate();
        if self.rule.as_ref().is_none_or(|(kept, _)| *kept != rule) {
            self.rule = Some((rule, LayerOptimizer::new(rule, N::WIDTH, N::FEATURES, lr)));
        }
        if let Some((_, layer)) = &mut self.rule {
            let (weight, grad) = (net.tensor_mut(0), self.gradients.sparse());
            let stepped = if self.keep_last_good {
                layer.step_guarded(lr, weight, grad, &mut self.guard_columns)
            } else {
                layer.step(lr, weight, grad);
                true
            };
            if !stepped {
                self.restore_dense(net);
                return Err(refused);
            }
        }
        Ok(value)
    }

    /// Value and norm clipping of the whole gradient, given its norm.
    fn clip(&mut self, norm: f64) {
        let reg = self.regularization;
        if let Some(limit) = reg.clip_value {
            for index in 0..N::DENSE_TENSORS.len() {
                for g in self.gradients.tensor_mut(index) {
                    *g = nalgebra::RealField::clamp(*g, -limit, limit);
                }
            }
            for g in self.gradients.sparse_mut().values_mut() {
                *g = nalgebra::RealField::clamp(*g, -limit, limit);
            }
        }
        if let Some(max_norm) = reg.clip_norm {
            let norm = if reg.clip_value.is_some() {
                joint_norm(&self.gradients)
            } else {
                norm
            };
            let coefficient = max_norm.to_f64() / (norm + 1e-6);
            if coefficient < 1.0 {
                let c = N::Scalar::cast(coefficient);
                for index in 0..N::DENSE_TENSORS.len() {
                    for g in self.gradients.tensor_mut(index) {
                        *g *= c;
                    }
                }
                for g in self.gradients.sparse_mut().values_mut() {
                    *g *= c;
                }
            }
        }
    }

    /// Copies the dense tensors, which the optimizer's step may change.
    fn keep_dense(&mut self, net: &N) {
        self.guard_dense.resize_with(N::DENSE_TENSORS.len(), Vec::new);
        for (index, copy) in self.guard_dense.iter_mut().enumerate() {
            copy.clear();
            copy.extend_from_slice(net.tensor(index + 1));
        }
    }

    /// Puts back the copy [`keep_dense`](Self::keep_dense) made.
    fn restore_dense(&self, net: &mut N) {
        for (index, copy) in self.guard_dense.iter().enumerate() {
            net.tensor_mut(index + 1).copy_from_slice(copy);
        }
    }
}

/// The penalty of the sparse weight's touched columns, with its gradient added to theirs.
fn sparse_penalty<T: Real, G: SparseGradients<Scalar = T>>(l1: T, l2: T, weight: &[T], grads: &mut G) -> f64 {
    let grad = grads.sparse_mut();
    let width = grad.width();
    let two_l2 = l2 + l2;
    let (l1_f, l2_f) = (l1.to_f64(), l2.to_f64());
    let mut total = 0.0;
    // The column numbers and the values are borrowed in turn: walk the columns by position.
    for c in 0..grad.columns().len() {
        let k = grad.columns()[c] as usize;
        let w = &weight[k * width..(k + 1) * width];
        let g = &mut grad.values_mut()[c * width..(c + 1) * width];
        for (g, &w) in g.iter_mut().zip(w) {
            let wf = w.to_f64();
            total += l1_f * wf.abs() + l2_f * wf * wf;
            *g += l1 * sign(w) + two_l2 * w;
        }
    }
    total
}

/// Whether every value is finite ([`kernels::all_finite`](crate::nn::kernels::all_finite):
/// one vectorized pass on the kernel path, no branch per value).
fn values_finite<T: Real>(values: &[T]) -> bool {
    crate::nn::kernels::all_finite(values)
}

/// The norm of the whole gradient: the dense tensors and the sparse weight's stored columns.
fn joint_norm<G: SparseGradients>(grads: &G) -> f64 {
    let dense = grads.global_norm();
    let sparse = crate::network::sum_of_squares(grads.sparse().values());
    (dense * dense + sparse).sqrt()
}
