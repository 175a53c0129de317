//! Activation functions and their derivatives, in one place.
//!
//! Generated code calls [`Activation::forward`] and [`Activation::backward`] on whole
//! batches (column-major slices, one sample per column). The scalar functions are public so
//! that tests and users can check them directly.

use crate::real::{c, Real};
use nalgebra::SVector;

/// An activation function, as written after `->` in a `network!` definition.
///
/// Every variant but [`Softmax`](Activation::Softmax) acts element by element; softmax
/// normalizes each sample (column).
///
/// ```
/// use retroprop_runtime::nn::activation::Activation;
/// let pre = [-1.0_f32, 0.5];
/// let mut act = [0.0_f32; 2];
/// Activation::Relu.forward(&pre, &mut act, 2);
/// assert_eq!(act, [0.0, 0.5]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation<T> {
    /// `a = z` (also a bare `dense(n)`).
    Identity,
    /// `a = max(z, 0)`.
    Relu,
    /// `a = z` for `z > 0`, else `slope * z`.
    LeakyRelu(T),
    /// `a = z` for `z > 0`, else `alpha * (exp(z) - 1)`.
    Elu(T),
    /// `a = 1 / (1 + exp(-z))`, computed without overflow.
    Sigmoid,
    /// `a = tanh(z)`.
    Tanh,
    /// `a = ln(1 + exp(z))`, computed as `max(z, 0) + ln(1 + exp(-|z|))`.
    Softplus,
    /// GELU, tanh approximation: `0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))`.
    Gelu,
    /// SiLU (swish): `a = z * sigmoid(z)`.
    Silu,
    /// Softmax over each sample's outputs, with the maximum subtracted first.
    Softmax,
}

impl<T: Real> Activation<T> {
    /// The name used in `network!` definitions (`"leaky_relu"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Elu(_) => "elu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softplus => "softplus",
            Activation::Gelu => "gelu",
            Activation::Silu => "silu",
            Activation::Softmax => "softmax",
        }
    }

    /// The activation of one pre-activation value. Softmax is not element-wise; for it this
    /// returns `z` unchanged (use [`forward`](Self::forward) with the whole sample).
    #[inline]
    pub fn value(self, z: T) -> T {
        match self {
            Activation::Identity | Activation::Softmax => z,
            Activation::Relu => relu(z),
            Activation::LeakyRelu(slope) => leaky_relu(z, slope),
            Activation::Elu(alpha) => elu(z, alpha),
            Activation::Sigmoid => sigmoid(z),
            Activation::Tanh => z.tanh_activation(),
            Activation::Softplus => softplus(z),
            Activation::Gelu => gelu(z),
            Activation::Silu => silu(z),
        }
    }

    /// `da/dz` for one element, given the pre-activation `z` and the activation `a`.
    /// Softmax has no element-wise derivative; for it this returns one.
    #[inline]
    pub fn derivative(self, z: T, a: T) -> T {
        let zero = T::zero();
        let one = T::one();
        match self {
            Activation::Identity | Activation::Softmax => one,
            Activation::Relu => {
                if z > zero {
                    one
                } else {
                    zero
                }
            }
            Activation::LeakyRelu(slope) => {
                if z > zero {
                    one
                } else {
                    slope
                }
            }
            Activation::Elu(alpha) => {
                if z > zero {
                    one
                } else {
                    alpha * z.exp()
                }
            }
            Activation::Sigmoid => a * (one - a),
            Activation::Tanh => one - a * a,
            Activation::Softplus => sigmoid(z),
            Activation::Gelu => gelu_derivative(z),
            Activation::Silu => {
                let s = sigmoid(z);
                if s == T::zero() || s == one {
                    // Saturated: the derivative is 0 (z -> -inf) or 1 (z -> +inf); the formula
                    // would compute inf * 0 at the infinities.
                    return s;
                }
                s + z * s * (one - s)
            }
        }
    }

    /// Applies the activation to `pre` (`rows` values per sample) and writes the result into
    /// the first `pre.len()` values of `act`, which it returns.
    ///
    /// `act` may be longer than `pre` (a workspace buffer sized for the largest batch); if it
    /// is shorter, only `act.len()` values are written.
    pub fn forward<'a>(self, pre: &[T], act: &'a mut [T], rows: usize) -> &'a [T] {
        let len = pre.len().min(act.len());
        let act = &mut act[..len];
        match self {
            Activation::Softmax => {
                // Whole samples several at a time (the same bits as one by one), unless there
                // are only a few; a trailing partial sample, if any, on its own.
                let rows = rows.max(1);
                let whole = if len / rows < crate::nn::kernels::FEWEST_COLUMNS {
                    0
                } else {
                    len - len % rows
                };
                if whole > 0 {
                    crate::nn::kernels::softmax_columns(&pre[..whole], &mut act[..whole], rows);
                }
                for (z, a) in pre[whole..len].chunks(rows).zip(act[whole..].chunks_mut(rows)) {
                    softmax_into(z, a);
                }
            }
            Activation::Identity => act.copy_from_slice(&pre[..len]),
            // The cheap ones get a loop of their own (which the compiler vectorizes) instead
            // of a `match` per value.
            Activation::Relu => map(pre, act, |z| Activation::Relu.value(z)),
            Activation::LeakyRelu(slope) => map(pre, act, |z| Activation::LeakyRelu(slope).value(z)),
            // The widest vectors pay off for these (their arithmetic is in f64).
            Activation::Tanh => crate::nn::kernels::tanh_into(pre, act),
            Activation::Sigmoid => crate::nn::kernels::sigmoid_into(pre, act),
            _ => map(pre, act, |z| self.value(z)),
        }
        act
    }

    /// Turns `grad`, the loss gradient with respect to this layer's activation, into the
    /// gradient with respect to its pre-activation, in place (the chain rule through the
    /// activation), and returns it.
    pub fn backward<'a>(self, pre: &[T], act: &[T], grad: &'a mut [T], rows: usize) -> &'a mut [T] {
        match self {
            Activation::Identity => {}
            Activation::Softmax => {
                for (a, g) in act.chunks(rows.max(1)).zip(grad.chunks_mut(rows.max(1))) {
                    let dot = a.iter().zip(g.iter()).fold(T::zero(), |s, (&a, &g)| s + a * g);
                    for (g, &a) in g.iter_mut().zip(a) {
                        *g = a * (*g - dot);
                    }
                }
            }
            Activation::Relu => chain(pre, act, grad, |z, a| Activation::Relu.derivative(z, a)),
            Activation::Tanh => chain(pre, act, grad, |z, a| Activation::Tanh.derivative(z, a)),
            Activation::Sigmoid => chain(pre, act, grad, |z, a| Activation::Sigmoid.derivative(z, a)),
            Activation::LeakyRelu(slope) => chain(pre, act, grad, |z, a| Activation::LeakyRelu(slope).derivative(z, a)),
            _ => chain(pre, act, grad, |z, a| self.derivative(z, a)),
        }
        grad
    }

    /// Applies the activation to one sample held in a static vector.
    pub fn forward_vector<const N: usize>(self, pre: SVector<T, N>) -> SVector<T, N> {
        let mut act = pre;
        self.forward(pre.as_slice(), act.as_mut_slice(), N);
        act
    }
}

/// `act[i] = f(pre[i])`.
#[inline(always)]
fn map<T: Real>(pre: &[T], act: &mut [T], f: impl Fn(T) -> T) {
    for (a, &z) in act.iter_mut().zip(pre) {
        *a = f(z);
    }
}

/// `grad[i] *= f'(pre[i], act[i])`.
#[inline(always)]
fn chain<T: Real>(pre: &[T], act: &[T], grad: &mut [T], derivative: impl Fn(T, T) -> T) {
    for ((g, &z), &a) in grad.iter_mut().zip(pre).zip(act) {
        *g *= derivative(z, a);
    }
}

/// `max(z, 0)`.
#[inline]
pub fn relu<T: Real>(z: T) -> T {
    if z > T::zero() {
        z
    } else {
        T::zero()
    }
}

/// `z` for `z > 0`, else `slope * z`.
#[inline]
pub fn leaky_relu<T: Real>(z: T, slope: T) -> T {
    if z > T::zero() {
        z
    } else {
        slope * z
    }
}

/// `z` for `z > 0`, else `alpha * (exp(z) - 1)` (with `exp_m1` for accuracy near zero).
#[inline]
pub fn elu<T: Real>(z: T, alpha: T) -> T {
    if z > T::zero() {
        z
    } else {
        alpha * z.exp_m1()
    }
}

/// The logistic function, without overflow for large `|z|`.
#[inline]
pub fn sigmoid<T: Real>(z: T) -> T {
    z.sigmoid_activation()
}

/// `ln(1 + exp(z))`, as `max(z, 0) + ln(1 + exp(-|z|))`.
#[inline]
pub fn softplus<T: Real>(z: T) -> T {
    relu(z) + (-z.abs()).exp().ln_1p()
}

const GELU_K: f64 = 0.797_884_560_802_865_4; // sqrt(2 / pi)
const GELU_C: f64 = 0.044_715;

/// GELU, tanh approximation (PyTorch's `approximate='tanh'`).
#[inline]
pub fn gelu<T: Real>(z: T) -> T {
    let inner = c::<T>(GELU_K) * (z + c::<T>(GELU_C) * z * z * z);
    let gate = T::one() + inner.tanh();
    if gate == T::zero() {
        // Far on the negative side the exact value underflows to zero; z * 0 could be NaN.
        return T::zero();
    }
    c::<T>(0.5) * z * gate
}

/// Derivative of [`gelu`]; finite for every finite `z`.
#[inline]
pub fn gelu_derivative<T: Real>(z: T) -> T {
    let half = c::<T>(0.5);
    let one = T::one();
    let inner = c::<T>(GELU_K) * (z + c::<T>(GELU_C) * z * z * z);
    let t = inner.tanh();
    let sech2 = one - t * t;
    if sech2 == T::zero() {
        return half * (one + t);
    }
    half * (one + t) + half * z * sech2 * c::<T>(GELU_K) * (one + c::<T>(3.0 * GELU_C) * z * z)
}

/// SiLU: `z * sigmoid(z)`.
#[inline]
pub fn silu<T: Real>(z: T) -> T {
    let s = sigmoid(z);
    if s == T::zero() {
        // z -> -infinity: the exact value tends to 0 (z * s would be -inf * 0).
        return T::zero();
    }
    z * s
}

/// The largest value of a sample (`-inf` for an empty one).
fn max_of<T: Real>(values: &[T]) -> T {
    values
        .iter()
        .copied()
        .fold(T::NEG_INFINITY, |m, z| if z > m { z } else { m })
}

/// Softmax of one sample, with the maximum subtracted for stability.
///
/// Infinite logits give the limit: the probability is shared equally by the `+inf` logits;
/// if every logit is `-inf`, by all of them.
pub fn softmax_into<T: Real>(pre: &[T], act: &mut [T]) {
    let max = max_of(pre);
    if max == T::NEG_INFINITY || max == -T::NEG_INFINITY {
        let winners = pre.iter().filter(|&&z| z == max).count().max(1);
        let share = T::one() / T::cast(winners as f64);
        for (a, &z) in act.iter_mut().zip(pre) {
            *a = if z == max { share } else { T::zero() };
        }
        return;
    }
    // The exponentials in one loop (it vectorizes), then their sum in order.
    for (a, &z) in act.iter_mut().zip(pre) {
        *a = (z - max).exp_activation();
    }
    let sum = act.iter().fold(T::zero(), |s, &a| s + a);
    for a in act.iter_mut() {
        *a /= sum;
    }
}

/// `ln(sum(exp(z)))` of one sample, computed stably (`+inf` if a logit is `+inf`, `-inf` if
/// all are `-inf`).
pub fn log_sum_exp<T: Real>(pre: &[T]) -> T {
    let max = max_of(pre);
    if max == T::NEG_INFINITY || max == -T::NEG_INFINITY {
        return max;
    }
    // The exponentials a chunk at a time into a local array (that loop vectorizes), then
    // summed in order.
    let mut sum = T::zero();
    let mut exps = [T::zero(); 16];
    for chunk in pre.chunks(16) {
        for (e, &z) in exps.iter_mut().zip(chunk) {
            *e = (z - max).exp_activation();
        }
        sum = exps[..chunk.len()].iter().fold(sum, |s, &e| s + e);
    }
    max + sum.ln()
}

/// `-ln(softmax(z)_i)` for each logit of one sample, written into `out`: the cross-entropy
/// of each class. Exact limits for infinite logits (0 for a lone `+inf` logit, `ln k` for `k`
/// of them, `+inf` for the others).
pub fn neg_log_softmax_into<T: Real>(pre: &[T], out: &mut [T]) {
    let max = max_of(pre);
    if max == T::NEG_INFINITY || max == -T::NEG_INFINITY {
        let winners = pre.iter().filter(|&&z| z == max).count().max(1);
        let share = T::cast(winners as f64).ln();
        for (o, &z) in out.iter_mut().zip(pre) {
            *o = if z == max { share } else { -T::NEG_INFINITY };
        }
        return;
    }
    let lse = log_sum_exp(pre);
    for (o, &z) in out.iter_mut().zip(pre) {
        *o = lse - z;
    }
}
