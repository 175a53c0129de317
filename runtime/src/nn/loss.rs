//! Loss functions.
//!
//! A loss sees the output layer's pre-activation (logits) and its activation, so that
//! cross-entropy after `softmax` and binary cross-entropy after `sigmoid` use the stable
//! log-sum-exp forms and the fused gradient (prediction minus target). After any other
//! activation a loss computes `dL/da` and the chain rule goes through the activation.
//!
//! Reductions follow PyTorch's defaults (`reduction='mean'`): [`MeanSquaredError`],
//! [`MeanAbsoluteError`], [`Huber`] and [`BinaryCrossEntropy`] average over every element;
//! [`CrossEntropy`] averages over samples.

#[cfg(doc)]
use crate::nn::activation::neg_log_softmax_into;
use crate::nn::activation::{log_sum_exp, sigmoid, Activation};
use crate::nn::kernels::{log_sum_exp_columns, COLUMN_GROUP, FEWEST_COLUMNS};
use crate::real::{c, Real};

/// The output layer of a network for a batch: what a [`Loss`] sees.
#[derive(Debug, Clone, Copy)]
pub struct Output<'a, T> {
    /// Pre-activations (logits), `rows * n` values, one sample per column.
    pub pre: &'a [T],
    /// Activations, same layout.
    pub act: &'a [T],
    /// The output layer's activation.
    pub activation: Activation<T>,
    /// Outputs per sample.
    pub rows: usize,
}

impl<T: Real> Output<'_, T> {
    /// Number of samples in the batch.
    pub fn samples(&self) -> usize {
        self.act.len().checked_div(self.rows).unwrap_or(0)
    }
}

/// A loss function over a batch.
///
/// Implementations may assume that `target` and `grad` have as many values as
/// `output.act`; the network's training entry points check that before calling. Losses are
/// `Sync`, so that a batch can be split across threads.
pub trait Loss<T: Real>: Sync {
    /// The mean loss of the batch.
    fn loss(&self, output: &Output<'_, T>, target: &[T]) -> T;

    /// The mean loss of the batch; writes its gradient with respect to the output layer's
    /// pre-activation into `grad` (the first layer of the backward pass).
    fn loss_and_grad(&self, output: &Output<'_, T>, target: &[T], grad: &mut [T]) -> T;
}

/// Computes the loss and its gradient with respect to the output pre-activation into the
/// first `output.act.len()` values of `delta`; returns the loss and that gradient.
///
/// # Panics
/// If `delta` is shorter than `output.act` (generated code sizes it from the workspace).
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

/// Applies the activation's chain rule to a gradient with respect to the activation.
fn through_activation<T: Real>(output: &Output<'_, T>, grad: &mut [T]) {
    output.activation.backward(output.pre, output.act, grad, output.rows);
}

fn mean_divisor<T: Real>(count: usize) -> T {
    T::cast(count.max(1) as f64)
}

/// Mean squared error, `mean((a - y)^2)` over every element (PyTorch's `MSELoss`).
///
/// ```
/// use retroprop_runtime::nn::activation::Activation;
/// use retroprop_runtime::nn::loss::{Loss, MeanSquaredError, Output};
/// let out = Output { pre: &[1.0_f64, 3.0], act: &[1.0, 3.0], activation: Activation::Identity, rows: 1 };
/// assert_eq!(MeanSquaredError.loss(&out, &[0.0, 1.0]), 2.5);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanSquaredError;

impl<T: Real> Loss<T> for MeanSquaredError {
    fn loss(&self, output: &Output<'_, T>, target: &[T]) -> T {
        let sum = output
            .act
            .iter()
            .zip(target)
            .fold(T::zero(), |s, (&a, &y)| s + (a - y) * (a - y));
        sum / mean_divisor::<T>(output.act.len())
    }

    fn loss_and_grad(&self, output: &Output<'_, T>, target: &[T], grad: &mut [T]) -> T {
        let scale = c::<T>(2.0) / mean_divisor::<T>(output.act.len());
        for ((g, &a), &y) in grad.iter_mut().zip(output.act).zip(target) {
            *g = scale * (a - y);
        }
        through_activation(output, grad);
        self.loss(output, target)
    }
}

/// Mean absolute error, `mean(|a - y|)` over every element (PyTorch's `L1Loss`; the
/// gradient at `a == y` is zero, as there).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanAbsoluteError;

impl<T: Real> Loss<T> for MeanAbsoluteError {
    fn loss(&self, output: &Output<'_, T>, target: &[T]) -> T {
        let sum = output
            .act
            .iter()
            .zip(target)
            .fold(T::zero(), |s, (&a, &y)| s + (a - y).abs());
        sum / mean_divisor::<T>(output.act.len())
    }

    fn loss_and_grad(&self, output: &Output<'_, T>, target: &[T], grad: &mut [T]) -> T {
        let scale = T::one() / mean_divisor::<T>(output.act.len());
        for ((g, &a), &y) in grad.iter_mut().zip(output.act).zip(target) {
            *g = scale * sign(a - y);
        }
        through_activation(output, grad);
        self.loss(output, target)
    }
}

/// `sum_c w_c y_c (-ln softmax(z)_c)` for one sample, from the logits `z` and their
/// log-sum-exp `lse` ([`log_sum_exp`]); infinite logits give the exact limits (see
/// [`neg_log_softmax_into`]). Allocates nothing.
fn cross_entropy_from_log_sum_exp<T: Real>(z: &[T], y: &[T], lse: T, weight: &impl Fn(usize) -> T) -> T {
    let infinite = lse == T::NEG_INFINITY || lse == -T::NEG_INFINITY;
    let winners = if infinite {
        z.iter().filter(|&&v| v == lse).count().max(1)
    } else {
        1
    };
    let mut sum = T::cast(0.0);
    for (c, (&z, &y)) in z.iter().zip(y).enumerate() {
        if y == T::cast(0.0) {
            continue;
        }
        let nll = if !infinite {
            lse - z
        } else if z == lse {
            T::cast(winners as f64).ln()
        } else {
            -T::NEG_INFINITY
        };
        sum += weight(c) * y * nll;
    }
    sum
}

/// `coefficient * z`, taken as 0 when the coefficient is 0 (so that `0 * inf` is not NaN).
fn scaled<T: Real>(coefficient: T, z: T) -> T {
    if coefficient == T::cast(0.0) {
        T::cast(0.0)
    } else {
        coefficient * z
    }
}

/// Binary cross-entropy from a logit, with weight `l = 1 + (pos_weight - 1) y` on the
/// positive term: `(1 - y) z + l ln(1 + exp(-z))`, arranged so that no intermediate overflows
/// and infinite logits give the exact limit.
fn bce_with_logits<T: Real>(z: T, y: T, l: T) -> T {
    let one = T::one();
    if z >= T::cast(0.0) {
        scaled(one - y, z) + scaled(l, (-z).exp().ln_1p())
    } else {
        // (1 - y) z + l (-z + ln(1 + exp(z))) = (1 - y - l) z + l ln(1 + exp(z)).
        scaled(one - y - l, z) + scaled(l, z.exp().ln_1p())
    }
}

fn sign<T: Real>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        T::zero()
    }
}

/// Huber loss over every element (PyTorch's `HuberLoss`): `0.5 d^2` for `|d| <= delta`,
/// else `delta (|d| - 0.5 delta)`, where `d = a - y`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Huber<T> {
    /// Where the loss turns from quadratic to linear; PyTorch's default is 1.
    pub delta: T,
}

impl<T: Real> Default for Huber<T> {
    fn default() -> Self {
        Huber { delta: T::one() }
    }
}

impl<T: Real> Loss<T> for Huber<T> {
    fn loss(&self, output: &Output<'_, T>, target: &[T]) -> T {
        let half = c::<T>(0.5);
        let sum = output.act.iter().zip(target).fold(T::zero(), |s, (&a, &y)| {
            let d = (a - y).abs();
            s + if d <= self.delta {
                half * d * d
            } else {
                self.delta * (d - half * self.delta)
            }
        });
        sum / mean_divisor::<T>(output.act.len())
    }

    fn loss_and_grad(&self, output: &Output<'_, T>, target: &[T], grad: &mut [T]) -> T {
        let scale = T::one() / mean_divisor::<T>(output.act.len());
        for ((g, &a), &y) in grad.iter_mut().zip(output.act).zip(target) {
            let d = a - y;
            *g = scale * if d.abs() <= self.delta { d } else { self.delta * sign(d) };
        }
        through_activation(output, grad);
        self.loss(output, target)
    }
}

/// Binary cross-entropy over every element.
///
/// After a `sigmoid` output it is computed from the logits as PyTorch's
/// `BCEWithLogitsLoss` does (`max(z, 0) - z y + ln(1 + exp(-|z|))`, gradient
/// `sigmoid(z) - y`), so it stays finite for any logit. After any other activation it is
/// PyTorch's `BCELoss` on the activation: logarithms clamped at -100 and the gradient's
/// denominator `a (1 - a)` at `1e-12`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BinaryCrossEntropy;

impl<T: Real> Loss<T> for BinaryCrossEntropy {
    fn loss(&self, output: &Output<'_, T>, target: &[T]) -> T {
        bce_sum(output, target, |_| T::one()) / mean_divisor::<T>(output.act.len())
    }

    fn loss_and_grad(&self, output: &Output<'_, T>, target: &[T], grad: &mut [T]) -> T {
        let scale = T::one() / mean_divisor::<T>(output.act.len());
        bce_grad(output, target, grad, |_| T::one(), scale);
        self.loss(output, target)
    }
}

/// Binary cross-entropy summed over every element, with weight `pos_weight(row)` on the
/// positive term: from the logits after `sigmoid`, else from the activation (logarithms
/// clamped at -100, as PyTorch's `BCELoss`).
fn bce_sum<T: Real>(output: &Output<'_, T>, target: &[T], pos_weight: impl Fn(usize) -> T) -> T {
    let rows = output.rows.max(1);
    let one = T::one();
    let mut sum = T::zero();
    if output.activation == Activation::Sigmoid {
        for (i, (&z, &y)) in output.pre.iter().zip(target).enumerate() {
            sum += bce_with_logits(z, y, one + (pos_weight(i % rows) - one) * y);
        }
    } else {
        let floor = c::<T>(-100.0);
        for (i, (&a, &y)) in output.act.iter().zip(target).enumerate() {
            sum -= pos_weight(i % rows) * y * a.ln().max(floor) + (one - y) * (one - a).ln().max(floor);
        }
    }
    sum
}

/// The gradient of [`bce_sum`] times `scale` with respect to the output pre-activation.
fn bce_grad<T: Real>(output: &Output<'_, T>, target: &[T], grad: &mut [T], pos_weight: impl Fn(usize) -> T, scale: T) {
    let rows = output.rows.max(1);
    let one = T::one();
    if output.activation == Activation::Sigmoid {
        // d/dz [(1 - y) z + l ln(1 + exp(-z))] = (1 - y) - l (1 - sigmoid(z)): sigmoid(z) - y for l = 1.
        for (i, ((g, &z), &y)) in grad.iter_mut().zip(output.pre).zip(target).enumerate() {
            let l = one + (pos_weight(i % rows) - one) * y;
            *g = scale * ((one - y) - l * (one - sigmoid(z)));
        }
    } else {
        // d/da = (a (1 - y + p y) - p y) / (a (1 - a)), the denominator clamped at 1e-12 as in
        // PyTorch's BCELoss (for p = 1 this is its (a - y) / (a (1 - a))).
        let eps = c::<T>(1e-12);
        for (i, ((g, &a), &y)) in grad.iter_mut().zip(output.act).zip(target).enumerate() {
            let p = pos_weight(i % rows);
            *g = scale * (a * (one - y + p * y) - p * y) / ((one - a) * a).max(eps);
        }
        through_activation(output, grad);
    }
}

/// Categorical cross-entropy, averaged over samples; targets are one-hot or soft (each
/// column a distribution).
///
/// After a `softmax` output it is computed from the logits with log-sum-exp, as PyTorch's
/// `CrossEntropyLoss` does, and its gradient is `softmax(z) * sum(y) - y` (prediction minus
/// target for a distribution). After any other activation the activation is taken as the
/// probabilities: `-sum(y ln a)` with the logarithm clamped at -100, and `dL/da = -y / a` with
/// `a` clamped at `1e-12`, then the chain rule through the activation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CrossEntropy;

impl<T: Real> Loss<T> for CrossEntropy {
    fn loss(&self, output: &Output<'_, T>, target: &[T]) -> T {
        cross_entropy_sum(output, target, |_| T::one()) / mean_divisor::<T>(output.samples())
    }

    fn loss_and_grad(&self, output: &Output<'_, T>, target: &[T], grad: &mut [T]) -> T {
        let scale = T::one() / mean_divisor::<T>(output.samples());
        cross_entropy_grad(output, target, grad, |_| T::one(), scale);
        self.loss(output, target)
    }
}

/// Cross-entropy summed over the batch with class weights `weight(c)`: from the logits
/// after `softmax`, else from the activation as probabilities (logarithm clamped at -100).
fn cross_entropy_sum<T: Real>(output: &Output<'_, T>, target: &[T], weight: impl Fn(usize) -> T) -> T {
    let rows = output.rows.max(1);
    let mut sum = T::zero();
    if output.activation == Activation::Softmax {
        // The log-sum-exps a group of samples at a time (the same bits as one by one), then
        // each sample's loss in order.
        let mut lse = [T::zero(); COLUMN_GROUP];
        let group = rows * COLUMN_GROUP;
        let grouped = output.pre.len() / rows >= FEWEST_COLUMNS;
        for (pre, target) in output.pre.chunks(group).zip(target.chunks(group)) {
            let whole = if grouped { pre.len() / rows } else { 0 };
            if whole > 0 {
                log_sum_exp_columns(pre, rows, &mut lse[..whole]);
            }
            let samples = pre.chunks(rows).zip(target.chunks(rows));
            for (s, (z, y)) in samples.enumerate() {
                // One by one for a few samples, and for a trailing partial one.
                let lse = if s < whole { lse[s] } else { log_sum_exp(z) };
                sum += cross_entropy_from_log_sum_exp(z, y, lse, &weight);
            }
        }
    } else {
        let floor = c::<T>(-100.0);
        for (i, (&a, &y)) in output.act.iter().zip(target).enumerate() {
            if y != T::zero() {
                sum -= weight(i % rows) * y * a.ln().max(floor);
            }
        }
    }
    sum
}

/// The gradient of [`cross_entropy_sum`] times `scale` with respect to the output
/// pre-activation: `p sum_c(w_c y_c) - w y` after softmax (prediction minus target for unit
/// weights and a distribution), else `-w y / a` (`a` clamped at 1e-12) through the activation.
fn cross_entropy_grad<T: Real>(
    output: &Output<'_, T>,
    target: &[T],
    grad: &mut [T],
    weight: impl Fn(usize) -> T,
    scale: T,
) {
    let rows = output.rows.max(1);
    if output.activation == Activation::Softmax {
        for ((a, y), g) in output
            .act
            .chunks(rows)
            .zip(target.chunks(rows))
            .zip(grad.chunks_mut(rows))
        {
            let sample_weight = y.iter().enumerate().fold(T::zero(), |s, (c, &y)| s + weight(c) * y);
            for (c, ((g, &a), &y)) in g.iter_mut().zip(a).zip(y).enumerate() {
                *g = scale * (a * sample_weight - weight(c) * y);
            }
        }
    } else {
        let eps = c::<T>(1e-12);
        for (i, ((g, &a), &y)) in grad.iter_mut().zip(output.act).zip(target).enumerate() {
            *g = -scale * weight(i % rows) * y / a.max(eps);
        }
        through_activation(output, grad);
    }
}

/// Categorical cross-entropy with a weight per class, for imbalanced data (PyTorch's
/// `CrossEntropyLoss(weight=...)` with class-index targets).
///
/// The loss is `sum_n sum_c w_c y_nc (lse_n - z_nc) / sum_n sum_c w_c y_nc`: for one-hot
/// targets, each sample's loss weighted by its class's weight, divided by the total weight of
/// the batch. A class without a weight (the vector is shorter than the output) has weight 1.
/// After an activation other than softmax the activation is taken as the probabilities, as
/// for [`CrossEntropy`].
///
/// ```
/// use retroprop_runtime::nn::loss::WeightedCrossEntropy;
/// let loss = WeightedCrossEntropy::new(vec![1.0_f32, 4.0]);
/// assert_eq!(loss.weights, [1.0, 4.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedCrossEntropy<T> {
    /// Weight of each class.
    pub weights: Vec<T>,
}

impl<T: Real> WeightedCrossEntropy<T> {
    /// Cross-entropy with these class weights.
    pub fn new(weights: Vec<T>) -> Self {
        WeightedCrossEntropy { weights }
    }

    /// Weights inversely proportional to class frequency (`n / (classes * count_c)`, as
    /// scikit-learn's `class_weight='balanced'`), from class indices. A class that does not
    /// occur gets weight 1.
    pub fn balanced(labels: &[usize], classes: usize) -> Self {
        let mut counts = vec![0usize; classes];
        for &label in labels {
            if let Some(c) = counts.get_mut(label) {
                *c += 1;
            }
        }
        let n = labels.len() as f64;
        let weights = counts
            .iter()
            .map(|&c| {
                if c == 0 {
                    T::cast(1.0)
                } else {
                    T::cast(n / (classes as f64 * c as f64))
                }
            })
            .collect();
        WeightedCrossEntropy { weights }
    }

    fn weight(&self, class: usize) -> T {
        self.weights.get(class).copied().unwrap_or_else(|| T::cast(1.0))
    }

    /// `1 / sum_n sum_c w_c y_nc`, the normalization of the batch (0 for no weight at all).
    fn scale(&self, target: &[T], rows: usize) -> T {
        let mut total = T::zero();
        for col in target.chunks(rows.max(1)) {
            for (c, &y) in col.iter().enumerate() {
                total += self.weight(c) * y;
            }
        }
        if total == T::zero() {
            T::zero()
        } else {
            T::one() / total
        }
    }
}

impl<T: Real> Loss<T> for WeightedCrossEntropy<T> {
    fn loss(&self, output: &Output<'_, T>, target: &[T]) -> T {
        cross_entropy_sum(output, target, |c| self.weight(c)) * self.scale(target, output.rows)
    }

    fn loss_and_grad(&self, output: &Output<'_, T>, target: &[T], grad: &mut [T]) -> T {
        cross_entropy_grad(
            output,
            target,
            grad,
            |c| self.weight(c),
            self.scale(target, output.rows),
        );
        self.loss(output, target)
    }
}

/// Binary cross-entropy with a weight on the positive examples of each output, for
/// imbalanced data (PyTorch's `BCEWithLogitsLoss(pos_weight=...)`), averaged over every
/// element: `-(p_c y log a + (1 - y) log(1 - a))`. After `sigmoid` it is computed from the
/// logits and stays finite for any logit. An output without a weight has weight 1.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedBinaryCrossEntropy<T> {
    /// Weight of positive examples, per output.
    pub pos_weight: Vec<T>,
}

impl<T: Real> WeightedBinaryCrossEntropy<T> {
    /// Binary cross-entropy with these positive weights.
    pub fn new(pos_weight: Vec<T>) -> Self {
        WeightedBinaryCrossEntropy { pos_weight }
    }

    fn weight(&self, output: usize) -> T {
        self.pos_weight.get(output).copied().unwrap_or_else(|| T::cast(1.0))
    }
}

impl<T: Real> Loss<T> for WeightedBinaryCrossEntropy<T> {
    fn loss(&self, output: &Output<'_, T>, target: &[T]) -> T {
        bce_sum(output, target, |r| self.weight(r)) / mean_divisor::<T>(output.act.len())
    }

    fn loss_and_grad(&self, output: &Output<'_, T>, target: &[T], grad: &mut [T]) -> T {
        let scale = T::one() / mean_divisor::<T>(output.act.len());
        bce_grad(output, target, grad, |r| self.weight(r), scale);
        self.loss(output, target)
    }
}
