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

use crate::activation::{log_sum_exp, sigmoid, Activation};
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
/// `output.act`; the network's training entry points check that before calling.
pub trait Loss<T: Real> {
    /// The mean loss of the batch.
    fn loss(&self, output: &Output<'_, T>, target: &[T]) -> T;

    /// The mean loss of the batch; writes its gradient with respect to the output layer's
    /// pre-activation into `grad` (the first layer of the backward pass).
    fn loss_and_grad(&self, output: &Output<'_, T>, target: &[T], grad: &mut [T]) -> T;
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
/// use retroprop_runtime::activation::Activation;
/// use retroprop_runtime::loss::{Loss, MeanSquaredError, Output};
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
        let zero = T::zero();
        let one = T::one();
        let sum = if output.activation == Activation::Sigmoid {
            output.pre.iter().zip(target).fold(zero, |s, (&z, &y)| {
                let relu = if z > zero { z } else { zero };
                s + relu - z * y + (-z.abs()).exp().ln_1p()
            })
        } else {
            let floor = c::<T>(-100.0);
            output.act.iter().zip(target).fold(zero, |s, (&a, &y)| {
                let log_a = a.ln().max(floor);
                let log_1ma = (one - a).ln().max(floor);
                s - (y * log_a + (one - y) * log_1ma)
            })
        };
        sum / mean_divisor::<T>(output.act.len())
    }

    fn loss_and_grad(&self, output: &Output<'_, T>, target: &[T], grad: &mut [T]) -> T {
        let scale = T::one() / mean_divisor::<T>(output.act.len());
        if output.activation == Activation::Sigmoid {
            for ((g, &z), &y) in grad.iter_mut().zip(output.pre).zip(target) {
                *g = scale * (sigmoid(z) - y);
            }
        } else {
            let eps = c::<T>(1e-12);
            let one = T::one();
            for ((g, &a), &y) in grad.iter_mut().zip(output.act).zip(target) {
                *g = scale * (a - y) / ((one - a) * a).max(eps);
            }
            through_activation(output, grad);
        }
        self.loss(output, target)
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
        let rows = output.rows.max(1);
        let mut sum = T::zero();
        if output.activation == Activation::Softmax {
            for (z, y) in output.pre.chunks(rows).zip(target.chunks(rows)) {
                let lse = log_sum_exp(z);
                for (&z, &y) in z.iter().zip(y) {
                    if y != T::zero() {
                        sum += y * (lse - z);
                    }
                }
            }
        } else {
            let floor = c::<T>(-100.0);
            for (&a, &y) in output.act.iter().zip(target) {
                if y != T::zero() {
                    sum -= y * a.ln().max(floor);
                }
            }
        }
        sum / mean_divisor::<T>(output.samples())
    }

    fn loss_and_grad(&self, output: &Output<'_, T>, target: &[T], grad: &mut [T]) -> T {
        let rows = output.rows.max(1);
        let scale = T::one() / mean_divisor::<T>(output.samples());
        if output.activation == Activation::Softmax {
            for ((a, y), g) in output
                .act
                .chunks(rows)
                .zip(target.chunks(rows))
                .zip(grad.chunks_mut(rows))
            {
                let total = y.iter().fold(T::zero(), |s, &y| s + y);
                for ((g, &a), &y) in g.iter_mut().zip(a).zip(y) {
                    *g = scale * (a * total - y);
                }
            }
        } else {
            let eps = c::<T>(1e-12);
            for ((g, &a), &y) in grad.iter_mut().zip(output.act).zip(target) {
                *g = -scale * y / a.max(eps);
            }
            through_activation(output, grad);
        }
        self.loss(output, target)
    }
}
