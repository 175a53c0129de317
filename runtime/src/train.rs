//! Training steps: the context a pass runs in, and a [`Session`] holding the buffers a step
//! writes into.

use crate::error::{ShapeError, TrainError};
use crate::init::{seeded_rng, SeededRng};
use crate::loss::{Loss, Output};
use crate::network::{Network, Parameters, Workspace};
use crate::optim::Optimizer;
use crate::real::Real;

/// The context of a forward/backward pass: whether it is training, and the seeded random
/// generator that stochastic layers (such as dropout) draw from.
#[derive(Debug, Clone)]
pub struct Context {
    rng: SeededRng,
    training: bool,
}

impl Context {
    /// A training context whose randomness comes from `seed`.
    pub fn training(seed: u64) -> Self {
        Context {
            rng: seeded_rng(seed),
            training: true,
        }
    }

    /// An inference context: stochastic layers are off.
    pub fn inference() -> Self {
        Context {
            rng: seeded_rng(0),
            training: false,
        }
    }

    /// Whether stochastic layers are active.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Switches between training and inference mode.
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// The random generator.
    pub fn rng(&mut self) -> &mut SeededRng {
        &mut self.rng
    }
}

/// Everything a training step writes besides the network and the optimizer: the workspace
/// for batches up to a maximum size, the gradients and the context. Create it once; steps
/// then allocate nothing.
///
/// Generated networks take a session in `train_step` and `train_batch`; see the `retroprop`
/// crate's documentation for a complete example.
pub struct Session<N: Network> {
    /// Per-layer buffers.
    pub workspace: N::Workspace,
    /// Gradients of the last step.
    pub gradients: N::Gradients,
    /// Training context.
    pub context: Context,
}

impl<N: Network> Session<N> {
    /// A session for batches of up to `max_batch` samples, in training mode, with randomness
    /// from `seed`.
    pub fn new(max_batch: usize, seed: u64) -> Self {
        Session {
            workspace: N::workspace(max_batch),
            gradients: N::zeroed_gradients(),
            context: Context::training(seed),
        }
    }

    /// The largest batch the session holds.
    pub fn capacity(&self) -> usize {
        self.workspace.capacity()
    }

    /// One step on a batch (column-major slices): computes the gradients of the mean loss,
    /// checks that loss and gradient norm are finite, and lets the optimizer update `net`.
    /// Returns the mean loss before the update.
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
        let value = net.gradients_into(
            x,
            target,
            loss,
            &mut self.context,
            &mut self.workspace,
            &mut self.gradients,
        )?;
        if !value.finite() {
            return Err(TrainError::NonFinite {
                what: "loss",
                value: value.to_f64(),
            });
        }
        let norm = self.gradients.global_norm();
        if !norm.is_finite() {
            return Err(TrainError::NonFinite {
                what: "gradient norm",
                value: norm,
            });
        }
        optimizer.step(net, &self.gradients)?;
        Ok(value)
    }
}

/// The mean loss of `net` on a batch, in inference mode.
///
/// # Errors
/// [`ShapeError`] if the batch does not fit the network or the workspace.
pub fn evaluate_loss<N, L>(
    net: &N,
    x: &[N::Scalar],
    target: &[N::Scalar],
    loss: &L,
    ws: &mut N::Workspace,
) -> Result<N::Scalar, ShapeError>
where
    N: Network,
    L: Loss<N::Scalar> + ?Sized,
{
    batch_len(x.len(), target.len(), N::INPUT, N::OUTPUT, ws.capacity())?;
    let output = net.forward_into(x, ws)?;
    Ok(loss.loss(&output, target))
}

/// Checks a batch of `x_len` input values and `target_len` target values against the
/// network's widths and the workspace's capacity; returns the number of samples.
///
/// # Errors
/// [`ShapeError`] naming what does not fit.
pub fn batch_len(
    x_len: usize,
    target_len: usize,
    inputs: usize,
    outputs: usize,
    capacity: usize,
) -> Result<usize, ShapeError> {
    let n = input_len(x_len, inputs, capacity)?;
    if !target_len.is_multiple_of(outputs) {
        return Err(ShapeError::Ragged {
            what: "target",
            len: target_len,
            per_sample: outputs,
        });
    }
    if target_len / outputs != n {
        return Err(ShapeError::SampleCountMismatch {
            inputs: n,
            targets: target_len / outputs,
        });
    }
    Ok(n)
}

/// Checks a batch of `x_len` input values against the network's input width and the
/// workspace's capacity; returns the number of samples.
///
/// # Errors
/// [`ShapeError`] naming what does not fit.
pub fn input_len(x_len: usize, inputs: usize, capacity: usize) -> Result<usize, ShapeError> {
    if !x_len.is_multiple_of(inputs) {
        return Err(ShapeError::Ragged {
            what: "input",
            len: x_len,
            per_sample: inputs,
        });
    }
    let n = x_len / inputs;
    if n == 0 {
        return Err(ShapeError::EmptyBatch);
    }
    if n > capacity {
        return Err(ShapeError::BatchTooLarge { len: n, capacity });
    }
    Ok(n)
}

/// Computes the loss and its gradient with respect to the output pre-activation into the
/// first `output.act.len()` values of `delta`; returns the loss and that gradient.
pub fn loss_and_delta<'d, T: Real, L: Loss<T> + ?Sized>(
    loss: &L,
    output: &Output<'_, T>,
    target: &[T],
    delta: &'d mut [T],
) -> (T, &'d mut [T]) {
    let delta = &mut delta[..output.act.len()];
    let value = loss.loss_and_grad(output, target, delta);
    (value, delta)
}
