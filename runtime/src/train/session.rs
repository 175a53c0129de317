//! Training steps: a [`Session`] holding the buffers a step writes into, and the penalties and
//! clipping it applies.

use crate::error::TrainError;
use crate::network::{Network, Parameters, Workspace};
use crate::nn::context::Context;
use crate::nn::loss::Loss;
use crate::optim::Optimizer;
use crate::real::Real;
use crate::shape::{batch_len, run_len};
use crate::train::regularization::Regularization;

/// Everything a training step writes besides the network and the optimizer: the workspace
/// for batches up to a maximum size, the gradients and the context. Create it once; steps
/// then allocate nothing.
///
/// Generated networks take a session in `train_step` and `train_batch`; see the `retroprop`
/// crate's documentation for a complete example.
pub struct Session<N: Network> {
    /// Per-layer buffers.
    pub workspace: N::Workspace,
    /// Gradients of the last step (after penalties and clipping).
    pub gradients: N::Gradients,
    /// Training context.
    pub context: Context,
    /// Penalties and clipping applied at every step.
    pub regularization: Regularization<N::Scalar>,
    keep_last_good: bool,
    last_good: Option<N>,
    last_penalty: f64,
    /// The last step's gradient norm, or `None` when it is computed on request (see
    /// [`Session::last_grad_norm`]).
    last_grad_norm: Option<f64>,
    /// Per-thread buffers when batches are split across threads (empty otherwise).
    parts: Vec<Part<N>>,
    /// The parts' gradients, one per part.
    part_gradients: Vec<PartGradients<N>>,
}

/// One thread's share of a split batch: its own buffers and context.
struct Part<N: Network> {
    workspace: N::Workspace,
    context: Context,
    result: Result<N::Scalar, TrainError>,
    /// The part's samples when it copies them itself ([`Session::step_gathered`]).
    features: Vec<N::Scalar>,
    targets: Vec<N::Scalar>,
}

/// Copies the samples of a batch from `first` on into `features` and `targets` (as many as
/// they hold).
pub(crate) type Gather<'a, T> = dyn Fn(usize, &mut [T], &mut [T]) + Sync + 'a;

/// Where a step's samples are.
enum Samples<'a, 'g, T> {
    /// In these slices.
    Given { x: &'a [T], target: &'a [T] },
    /// `n` samples to copy with `gather`: each part copies its own when the batch is split,
    /// otherwise they are copied into `features` and `targets` first.
    Gathered {
        n: usize,
        gather: &'a Gather<'g, T>,
        features: &'a mut Vec<T>,
        targets: &'a mut Vec<T>,
    },
}

/// A part's gradients and its number of samples, kept apart from its buffers so that every
/// thread can read all of them when they are combined (the workspaces need not be `Sync`).
struct PartGradients<N: Network> {
    gradients: N::Gradients,
    samples: usize,
}

/// What combining the parts' gradients checked on the way.
#[derive(Debug, Clone, Copy)]
struct Checks {
    /// Every combined gradient is finite.
    gradient: bool,
    /// Every `p - lr * grad` is finite (true when not asked).
    update: bool,
}

impl Checks {
    const PASSED: Checks = Checks {
        gradient: true,
        update: true,
    };

    fn and(self, other: Checks) -> Checks {
        Checks {
            gradient: self.gradient & other.gradient,
            update: self.update & other.update,
        }
    }
}

impl<N: Network> Session<N> {
    /// A session for batches of up to `max_batch` samples, in training mode, with randomness
    /// from `seed`.
    pub fn new(max_batch: usize, seed: u64) -> Self {
        Session {
            workspace: N::workspace(max_batch),
            gradients: N::zeroed_gradients(),
            context: Context::training(seed),
            regularization: Regularization::default(),
            keep_last_good: false,
            last_good: None,
            last_penalty: 0.0,
            last_grad_norm: Some(0.0),
            parts: Vec::new(),
            part_gradients: Vec::new(),
        }
    }

    /// Splits every batch of at least `2 * threads` samples into `threads` parts whose
    /// gradients are computed in parallel on rayon's thread pool (the global one, or the one
    /// the call runs in under `ThreadPool::install`), then averaged in a fixed order. With
    /// `threads <= 1`, steps stay on the calling thread.
    ///
    /// Results are deterministic for a given number of threads, and match the single-thread
    /// gradients up to rounding (the batch mean is summed in another order). Dropout masks
    /// come from per-part generators seeded from the session's context at each step, so they
    /// differ from a single-thread run but still follow the session's seed (and checkpoints).
    /// Each part has its own workspace and gradients: memory grows with `threads`.
    /// Combining the parts' gradients, checking that they are finite, and plain SGD's update
    /// ([`Optimizer::plain_sgd_rate`]) also run in parallel, each thread over one piece of every
    /// tensor of at least 16384 values; they work value by value, so the bits are those of the
    /// same work on one thread.
    /// [`Trainer::threads`](crate::train::fit::Trainer::threads) sets this for `fit`.
    #[cfg(feature = "parallel")]
    pub fn with_threads(mut self, threads: usize) -> Self {
        let per_part = self.capacity().div_ceil(threads.max(1));
        let threads = if threads > 1 { threads } else { 0 };
        self.parts = (0..threads)
            .map(|_| Part {
                workspace: N::workspace(per_part),
                context: Context::training(0),
                result: Ok(N::Scalar::cast(0.0)),
                features: Vec::new(),
                targets: Vec::new(),
            })
            .collect();
        self.part_gradients = (0..threads)
            .map(|_| PartGradients {
                gradients: N::zeroed_gradients(),
                samples: 0,
            })
            .collect();
        self
    }

    /// Threads a batch is split across (1 unless set with `with_threads`).
    pub fn threads(&self) -> usize {
        self.parts.len().max(1)
    }

    /// Sets the penalties and clipping.
    pub fn with_regularization(mut self, regularization: Regularization<N::Scalar>) -> Self {
        self.regularization = regularization;
        self
    }

    /// Keeps a copy of the weights before each update and puts it back if the update leaves
    /// a non-finite weight (an overflow), so that no NaN or infinity is ever left in the
    /// network: the step is then refused with the network unchanged. Costs one copy of the
    /// parameters per step; `fit` turns it on. With plain SGD
    /// ([`Optimizer::plain_sgd_rate`]) there is no copy: the update is checked before it is
    /// written ([`sgd_update_finite`](crate::nn::kernels::sgd_update_finite), one read pass).
    /// The guard keeps the weights only: an optimizer with state (momentum buffers, Adam's
    /// moments) keeps what the refused step wrote into it.
    pub fn with_last_good_guard(mut self, on: bool) -> Self {
        self.keep_last_good = on;
        self
    }

    /// The largest batch the session holds.
    pub fn capacity(&self) -> usize {
        self.workspace.capacity()
    }

    /// The regularization penalty of the last step (not included in the returned loss).
    pub fn last_penalty(&self) -> f64 {
        self.last_penalty
    }

    /// The global gradient norm of the last step, before clipping (0 before the first step),
    /// also of a step refused for its loss or its gradient.
    ///
    /// In `f32` without clipping, a step only checks that the gradient is finite, and the
    /// norm is computed here, from [`gradients`](Self::gradients) (a pass over every gradient
    /// that a step does not pay for unless it is asked for; changing `gradients` before
    /// asking changes the answer).
    pub fn last_grad_norm(&self) -> f64 {
        self.last_grad_norm.unwrap_or_else(|| self.gradients.global_norm())
    }

    /// One step on a batch (column-major slices): computes the gradients of the mean loss,
    /// adds the penalties' gradients, checks that the loss and the gradient are finite, clips,
    /// and lets the optimizer update `net`. Returns the mean data loss before the update
    /// (the penalty is in [`last_penalty`](Self::last_penalty)).
    ///
    /// On one sample with plain SGD ([`Optimizer::plain_sgd_rate`]) and no penalties,
    /// clipping or last-good guard, the step is fused into the backward pass
    /// ([`Network::sgd_step_into`]): the same result, bit for bit, without storing the gradient
    /// (`gradients` then keeps the previous step's values). With `with_threads` (feature
    /// `parallel`), batches are split across threads.
    ///
    /// # Errors
    /// [`TrainError`] for a batch that does not fit, a non-finite loss or gradient, or an
    /// optimizer whose state does not match; `net` is left unchanged then.
    pub fn step<L, O>(
        &mut self,
        net: &mut N,
        x: &[N::Scalar],
        target: &[N::Scalar],
        loss: &L,
        optimizer: &mut O,
    ) -> Result<N::Scalar, TrainError>
    where
        L: Loss<N::Scalar> + ?Sized,
        O: Optimizer<N::Scalar> + ?Sized,
    {
        if let Some(lr) = self.fused_sgd_rate(x.len(), optimizer) {
            return match net.sgd_step_into(x, target, loss, &mut self.context, &mut self.workspace, lr) {
                Ok(step) => {
                    self.last_grad_norm = Some(step.grad_norm);
                    Ok(step.loss)
                }
                Err(error) => {
                    self.note_refused_norm(&error);
                    Err(error)
                }
            };
        }
        self.step_from(net, Samples::Given { x, target }, loss, optimizer)
    }

    /// [`step`](Self::step) on `n` samples that `gather(first, features, targets)` copies (from
    /// sample `first` of the batch on, as many as the slices hold). When the batch is split
    /// across threads, each part copies its own samples on its thread just before it computes
    /// on them, so they arrive in that core's cache; otherwise they are copied into `features`
    /// and `targets` first. The same results as copying the batch and calling `step`.
    pub(crate) fn step_gathered<L, O>(
        &mut self,
        net: &mut N,
        n: usize,
        gather: &Gather<'_, N::Scalar>,
        (features, targets): (&mut Vec<N::Scalar>, &mut Vec<N::Scalar>),
        loss: &L,
        optimizer: &mut O,
    ) -> Result<N::Scalar, TrainError>
    where
        L: Loss<N::Scalar> + ?Sized,
        O: Optimizer<N::Scalar> + ?Sized,
    {
        if !self.splits(n) {
            gather_all(gather, 0, n, features, targets, N::INPUT, N::OUTPUT);
            return self.step(net, features, targets, loss, optimizer);
        }
        let samples = Samples::Gathered {
            n,
            gather,
            features,
            targets,
        };
        self.step_from(net, samples, loss, optimizer)
    }

    /// Whether a batch of `n` samples is split across the parts.
    fn splits(&self, n: usize) -> bool {
        let parts = self.parts.len();
        parts >= 2 && n >= 2 * parts
    }

    /// `step` after the fused path: the gradient, its checks, and the update.
    fn step_from<L, O>(
        &mut self,
        net: &mut N,
        samples: Samples<'_, '_, N::Scalar>,
        loss: &L,
        optimizer: &mut O,
    ) -> Result<N::Scalar, TrainError>
    where
        L: Loss<N::Scalar> + ?Sized,
        O: Optimizer<N::Scalar> + ?Sized,
    {
        let regularize = !self.regularization.is_none();
        // With the gradient final once combined (no penalties), plain SGD's update is checked
        // while the parts' gradients are combined.
        let check_rate = optimizer
            .plain_sgd_rate()
            .filter(|_| self.keep_last_good && !regularize);
        let (value, combined) = self.gradients_into(net, samples, loss, check_rate)?;
        let split = combined.is_some();
        // What the combining checked, while it still holds (penalties change the gradient).
        let checked = combined.filter(|_| !regularize);
        if !value.finite() {
            // The refused step's gradient is stored: its norm is the last one, computed when
            // asked (whether the step before computed its own or not).
            self.last_grad_norm = None;
            return Err(TrainError::NonFinite {
                what: "loss",
                value: value.to_f64(),
            });
        }
        if regularize {
            self.last_penalty = self.regularization.penalty(net);
            self.regularization.add_penalty_gradient(net, &mut self.gradients);
        }
        let clipping = self.regularization.clip_value.is_some() || self.regularization.clip_norm.is_some();
        // Clipping needs the norm (and changes the gradient it is the norm of), and so does
        // `f64`, whose finite squares can overflow; otherwise a finiteness check is enough, and
        // the norm waits until someone asks for it.
        let eager = clipping || !<N::Scalar as Real>::SQUARES_FIT_F64;
        if eager || !checked.map_or_else(|| self.gradients.is_finite(), |checks| checks.gradient) {
            let norm = self.gradients.global_norm();
            self.last_grad_norm = Some(norm);
            if !norm.is_finite() {
                return Err(TrainError::NonFinite {
                    what: "gradient norm",
                    value: norm,
                });
            }
            if regularize {
                self.regularization.clip(&mut self.gradients, norm);
            }
        } else {
            self.last_grad_norm = None;
        }
        let refused = TrainError::NonFinite {
            what: "updated weights",
            value: f64::INFINITY,
        };
        // Plain SGD's update (`p - lr * grad`) is checked before it is written: nothing to
        // copy, nothing to put back. (The gradient is finite here, so `p - lr * (grad + 0 *
        // p)`, what `Sgd` computes, is finite exactly when `p - lr * grad` is.)
        if let Some(lr) = optimizer.plain_sgd_rate().filter(|_| self.keep_last_good) {
            let finite = match checked.filter(|_| check_rate.is_some()) {
                Some(checks) => checks.update,
                None => (0..N::TENSORS.len()).all(|index| {
                    crate::nn::kernels::sgd_update_finite(net.tensor(index), self.gradients.tensor(index), lr)
                }),
            };
            if !finite {
                return Err(refused);
            }
            self.update(net, optimizer, split)?;
            return Ok(value);
        }
        if self.keep_last_good {
            self.keep_copy(net);
        }
        self.update(net, optimizer, split)?;
        if self.keep_last_good && !net.is_finite() {
            if let Some(copy) = &self.last_good {
                copy_parameters(copy, net);
            }
            return Err(refused);
        }
        Ok(value)
    }
}

impl<N: Network> Session<N> {
    /// One [`step`](Self::step) per sample of `x`, in order ("online" training, a batch of
    /// one per update); returns the mean loss. The run may be longer than the session's
    /// capacity.
    ///
    /// With plain SGD ([`Optimizer::plain_sgd_rate`]) and no penalties or clipping, the run
    /// goes through [`Network::sgd_steps_into`]: the same weights, bit for bit,
    /// as a step per sample, but each sample's update of the first layer is applied while the
    /// next sample's forward pass reads the weights, which saves a third of the memory
    /// traffic when that layer's weights do not fit in the L1 cache (a 784-128-10 network
    /// trains about 1.35 times as fast as with a `step` call per sample). The last-good guard
    /// then costs one copy of the weights per run, not per sample. Otherwise it calls `step`
    /// on each sample.
    ///
    /// The `retroprop` crate's documentation has an example ("Training one sample at a
    /// time").
    ///
    /// # Errors
    /// [`TrainError::Shape`] if `x` and `target` are not whole samples of the same count (at
    /// least one); nothing is changed then. Otherwise [`TrainError::InRun`] with the sample
    /// whose step failed (and why): the samples before it were trained on, it and the ones
    /// after were not.
    pub fn step_each<L, O>(
        &mut self,
        net: &mut N,
        x: &[N::Scalar],
        target: &[N::Scalar],
        loss: &L,
        optimizer: &mut O,
    ) -> Result<N::Scalar, TrainError>
    where
        L: Loss<N::Scalar> + ?Sized,
        O: Optimizer<N::Scalar> + ?Sized,
    {
        let loss_sum = self.run(net, x, target, loss, optimizer)?;
        // `run` checked that `x` holds a whole number of samples, at least one.
        Ok(N::Scalar::cast(loss_sum / (x.len() / N::INPUT) as f64))
    }

    /// [`step_each`](Self::step_each), returning the sum of the losses in `f64` (what `fit`
    /// accumulates). With the last-good guard, the run keeps one copy of the weights from
    /// its start; if any weight is not finite at its end, the run starts again from that
    /// copy with a guarded `step` per sample, which stops at the step that overflowed.
    pub(crate) fn run<L, O>(
        &mut self,
        net: &mut N,
        x: &[N::Scalar],
        target: &[N::Scalar],
        loss: &L,
        optimizer: &mut O,
    ) -> Result<f64, TrainError>
    where
        L: Loss<N::Scalar> + ?Sized,
        O: Optimizer<N::Scalar> + ?Sized,
    {
        run_len(x.len(), target.len(), N::INPUT, N::OUTPUT, self.capacity())?;
        let Some(lr) = self.plain_sgd_rate(optimizer) else {
            return self.run_by_steps(net, x, target, loss, optimizer);
        };
        let context = self.keep_last_good.then(|| {
            self.keep_copy(net);
            self.context.clone()
        });
        let result = net.sgd_steps_into(x, target, loss, &mut self.context, &mut self.workspace, lr);
        if let (Some(context), Some(copy)) = (context, &self.last_good) {
            if !net.is_finite() {
                copy_parameters(copy, net);
                self.context = context;
                return self.run_by_steps(net, x, target, loss, optimizer);
            }
        }
        match result {
            Ok(run) => {
                self.last_grad_norm = Some(run.last.grad_norm);
                Ok(run.loss_sum)
            }
            Err(error) => {
                self.note_refused_norm(&error);
                Err(error)
            }
        }
    }

    /// A `step` per sample; the sum of the losses.
    fn run_by_steps<L, O>(
        &mut self,
        net: &mut N,
        x: &[N::Scalar],
        target: &[N::Scalar],
        loss: &L,
        optimizer: &mut O,
    ) -> Result<f64, TrainError>
    where
        L: Loss<N::Scalar> + ?Sized,
        O: Optimizer<N::Scalar> + ?Sized,
    {
        let mut loss_sum = 0.0;
        for (j, (xs, ts)) in x.chunks_exact(N::INPUT).zip(target.chunks_exact(N::OUTPUT)).enumerate() {
            let value = self
                .step(net, xs, ts, loss, optimizer)
                .map_err(|error| TrainError::in_run(j, error))?;
            loss_sum += value.to_f64();
        }
        Ok(loss_sum)
    }

    /// Whether [`step_each`](Self::step_each) fuses its steps with this optimizer (plain SGD
    /// and no penalties or clipping).
    pub(crate) fn runs_fuse<O>(&self, optimizer: &O) -> bool
    where
        O: Optimizer<N::Scalar> + ?Sized,
    {
        self.plain_sgd_rate(optimizer).is_some()
    }

    /// Records the gradient norm a fused step refused (in a run or not) as the last one.
    fn note_refused_norm(&mut self, error: &TrainError) {
        match error {
            TrainError::NonFinite {
                what: "gradient norm",
                value,
            } => self.last_grad_norm = Some(*value),
            TrainError::InRun { source, .. } => self.note_refused_norm(source),
            _ => {}
        }
    }

    /// Copies `net` into the last-good copy.
    fn keep_copy(&mut self, net: &N) {
        match &mut self.last_good {
            Some(copy) => copy_parameters(net, copy),
            None => self.last_good = Some(net.clone()),
        }
    }

    /// The gradient of the mean loss on the batch, into `self.gradients`: on this thread, or
    /// split across the parts. For a split batch, also what combining the parts' gradients
    /// checked: that the gradient is finite, and with `check_rate`, that `p - lr * grad` is.
    fn gradients_into<L>(
        &mut self,
        net: &N,
        samples: Samples<'_, '_, N::Scalar>,
        loss: &L,
        check_rate: Option<N::Scalar>,
    ) -> Result<(N::Scalar, Option<Checks>), TrainError>
    where
        L: Loss<N::Scalar> + ?Sized,
    {
        let parts = self.parts.len();
        let (n, given, gather) = match samples {
            Samples::Given { x, target } => {
                let n = batch_len(x.len(), target.len(), N::INPUT, N::OUTPUT, self.capacity())?;
                (n, (x, target), None)
            }
            Samples::Gathered {
                n,
                gather,
                features,
                targets,
            } => {
                batch_len(n * N::INPUT, n * N::OUTPUT, N::INPUT, N::OUTPUT, self.capacity())?;
                if self.splits(n) {
                    (n, (&[][..], &[][..]), Some(gather))
                } else {
                    gather_all(gather, 0, n, features, targets, N::INPUT, N::OUTPUT);
                    (n, (&features[..], &targets[..]), None)
                }
            }
        };
        let (x, target) = given;
        if !self.splits(n) {
            let value = net.gradients_into(
                x,
                target,
                loss,
                &mut self.context,
                &mut self.workspace,
                &mut self.gradients,
            )?;
            return Ok((value, None));
        }
        let per_part = n.div_ceil(parts);
        for (index, (part, share)) in self.parts.iter_mut().zip(&mut self.part_gradients).enumerate() {
            share.samples = per_part.min(n.saturating_sub(index * per_part));
            part.context = Context::training(rand::RngCore::next_u64(self.context.rng()));
            part.context.set_training(self.context.is_training());
        }
        run_parts(&mut self.parts, &mut self.part_gradients, |part, share, index| {
            let start = index * per_part;
            let Part {
                workspace,
                context,
                result,
                features,
                targets,
            } = part;
            let (xs, ts) = match gather {
                Some(gather) => {
                    gather_all(gather, start, share.samples, features, targets, N::INPUT, N::OUTPUT);
                    (&features[..], &targets[..])
                }
                None => (
                    &x[start * N::INPUT..(start + share.samples) * N::INPUT],
                    &target[start * N::OUTPUT..(start + share.samples) * N::OUTPUT],
                ),
            };
            *result = if share.samples == 0 {
                Ok(N::Scalar::cast(0.0))
            } else {
                net.gradients_into(xs, ts, loss, context, workspace, &mut share.gradients)
            };
        });
        // The batch mean: each part's mean weighted by its share, added in part order.
        let mut value = N::Scalar::cast(0.0);
        for (part, share) in self.parts.iter_mut().zip(&self.part_gradients) {
            let part_loss = std::mem::replace(&mut part.result, Ok(N::Scalar::cast(0.0)))?;
            value += N::Scalar::cast(share.samples as f64 / n as f64) * part_loss;
        }
        let shares = &self.part_gradients;
        let mut checks = Checks::PASSED;
        for tensor in 0..N::TENSORS.len() {
            let weights = net.tensor(tensor);
            let piece_checks = over_pieces(self.gradients.tensor_mut(tensor), parts, |start, to| {
                combine_piece::<N>(to, start, tensor, shares, n, check_rate.map(|lr| (weights, lr)))
            });
            checks = checks.and(piece_checks);
        }
        Ok((value, Some(checks)))
    }

    /// The optimizer's update from `self.gradients`. Plain SGD's runs over pieces of the
    /// tensors in parallel when the batch was split (the same values as `Sgd::step`).
    fn update<O>(&mut self, net: &mut N, optimizer: &mut O, split: bool) -> Result<(), TrainError>
    where
        O: Optimizer<N::Scalar> + ?Sized,
    {
        match optimizer.plain_sgd_rate().filter(|_| split) {
            Some(lr) => {
                let zero = N::Scalar::cast(0.0);
                for tensor in 0..N::TENSORS.len() {
                    let grad = self.gradients.tensor(tensor);
                    over_pieces(net.tensor_mut(tensor), self.parts.len(), |start, weights| {
                        for (p, &g) in weights.iter_mut().zip(&grad[start..]) {
                            // As `Sgd::step` computes it without weight decay.
                            let g = g + zero * *p;
                            *p -= lr * g;
                        }
                        Checks::PASSED
                    });
                }
                Ok(())
            }
            None => Ok(optimizer.step(net, &self.gradients)?),
        }
    }

    /// The learning rate when this step can take the fused path: one sample, plain SGD, no
    /// penalties, clipping or last-good guard (which need the gradient or a copy).
    fn fused_sgd_rate<O>(&self, x_len: usize, optimizer: &O) -> Option<N::Scalar>
    where
        O: Optimizer<N::Scalar> + ?Sized,
    {
        if x_len != N::INPUT || self.keep_last_good {
            return None;
        }
        self.plain_sgd_rate(optimizer)
    }

    /// The learning rate of plain SGD without penalties or clipping, for a network with the
    /// fused path ([`Network::FUSED_SGD`]).
    fn plain_sgd_rate<O>(&self, optimizer: &O) -> Option<N::Scalar>
    where
        O: Optimizer<N::Scalar> + ?Sized,
    {
        if !N::FUSED_SGD || !self.regularization.is_none() {
            return None;
        }
        optimizer.plain_sgd_rate()
    }
}

/// Runs `work(part, gradients, index)` for every part, in parallel on rayon's pool.
#[cfg(feature = "parallel")]
fn run_parts<P: Send, G: Send>(parts: &mut [P], gradients: &mut [G], work: impl Fn(&mut P, &mut G, usize) + Sync) {
    use rayon::prelude::*;
    parts
        .par_iter_mut()
        .zip(gradients.par_iter_mut())
        .enumerate()
        .for_each(|(index, (part, gradients))| work(part, gradients, index));
}

/// Without the `parallel` feature there is never more than one part; this runs them in turn.
#[cfg(not(feature = "parallel"))]
fn run_parts<P, G>(parts: &mut [P], gradients: &mut [G], work: impl Fn(&mut P, &mut G, usize)) {
    for (index, (part, gradients)) in parts.iter_mut().zip(gradients).enumerate() {
        work(part, gradients, index);
    }
}

/// Sizes `features` and `targets` for `n` samples and lets `gather` copy them, from sample
/// `first` of the batch on.
fn gather_all<T: Real>(
    gather: &Gather<'_, T>,
    first: usize,
    n: usize,
    features: &mut Vec<T>,
    targets: &mut Vec<T>,
    inputs: usize,
    outputs: usize,
) {
    features.resize(n * inputs, T::cast(0.0));
    targets.resize(n * outputs, T::cast(0.0));
    gather(first, features, targets);
}

/// Tensors shorter than this are combined and updated on the calling thread.
#[cfg(feature = "parallel")]
const SPLIT_LEN: usize = 1 << 14;

/// Runs `work(start, piece)` over `threads` consecutive pieces of `values` (the first value of
/// each at `start`), in parallel on rayon's pool, and joins what they checked; a tensor shorter
/// than 16384 values is one piece.
#[cfg(feature = "parallel")]
fn over_pieces<T: Send>(values: &mut [T], threads: usize, work: impl Fn(usize, &mut [T]) -> Checks + Sync) -> Checks {
    use rayon::prelude::*;
    if values.len() < SPLIT_LEN || threads < 2 {
        return work(0, values);
    }
    // Whole cache lines (of `f32`) per piece.
    let piece = values.len().div_ceil(threads).next_multiple_of(16);
    values
        .par_chunks_mut(piece)
        .enumerate()
        .map(|(index, piece_values)| work(index * piece, piece_values))
        .reduce(|| Checks::PASSED, Checks::and)
}

/// Without the `parallel` feature, one piece.
#[cfg(not(feature = "parallel"))]
fn over_pieces<T>(values: &mut [T], _threads: usize, work: impl Fn(usize, &mut [T]) -> Checks) -> Checks {
    work(0, values)
}

/// Values combined at a time: the block is checked while it is in the L1 cache.
const COMBINE_BLOCK: usize = 1024;

/// Sets `to`, the values of tensor `tensor` from `start` on, to the parts' mean (each part's
/// gradient weighted by its share of the `n` samples, added in part order), and checks that the
/// result is finite and, with `check`, that `p - lr * grad` is for the weights `p`.
fn combine_piece<N: Network>(
    to: &mut [N::Scalar],
    start: usize,
    tensor: usize,
    parts: &[PartGradients<N>],
    n: usize,
    check: Option<(&[N::Scalar], N::Scalar)>,
) -> Checks {
    let mut checks = Checks::PASSED;
    for (block_index, block) in to.chunks_mut(COMBINE_BLOCK).enumerate() {
        let at = start + block_index * COMBINE_BLOCK;
        let range = at..at + block.len();
        for (index, part) in parts.iter().enumerate() {
            let from = &part.gradients.tensor(tensor)[range.clone()];
            let share = N::Scalar::cast(part.samples as f64 / n as f64);
            if index == 0 {
                for (t, &f) in block.iter_mut().zip(from) {
                    *t = share * f;
                }
            } else if part.samples > 0 {
                for (t, &f) in block.iter_mut().zip(from) {
                    *t += share * f;
                }
            }
        }
        checks.gradient &= crate::nn::kernels::all_finite(block);
        if let Some((weights, lr)) = check {
            checks.update &= crate::nn::kernels::sgd_update_finite(&weights[range], block, lr);
        }
    }
    checks
}

/// The checks [`Session::step`] makes before an update, for the fused path: the loss and
/// the gradient norm (given squared) must be finite. Returns the norm.
///
/// # Errors
/// [`TrainError::NonFinite`] naming the loss or the gradient norm.
pub fn check_fused_step<T: Real>(loss: T, norm_squared: f64) -> Result<f64, TrainError> {
    if !loss.finite() {
        return Err(TrainError::NonFinite {
            what: "loss",
            value: loss.to_f64(),
        });
    }
    // The square (a sum of squares: never negative) is finite exactly when its root is; testing
    // it keeps the square root off the path the branch waits on.
    if !norm_squared.is_finite() {
        return Err(TrainError::NonFinite {
            what: "gradient norm",
            value: norm_squared.sqrt(),
        });
    }
    Ok(norm_squared.sqrt())
}

/// Copies every tensor of `from` into `to` (same network type).
pub fn copy_parameters<P: Parameters>(from: &P, to: &mut P) {
    for index in 0..P::TENSORS.len() {
        to.tensor_mut(index).copy_from_slice(from.tensor(index));
    }
}
