//! One-sample SGD steps of small dense networks as straight-line code over the layers'
//! compile-time shapes.
//!
//! For a network whose layers are all dense and small (see [`SMALL_WEIGHTS`]), `network!`
//! implements [`SmallSteps`](crate::network::SmallSteps): the whole run of one-sample steps,
//! written against the static matrices with the functions of this module, which take every
//! dimension as a const generic. The compiler unrolls and vectorizes each layer for its exact
//! shape, and there is one instruction-set dispatch per run
//! ([`small_sgd_steps`](crate::network::small_sgd_steps)) instead of one per kernel call, with
//! no row-tile cascade and no run-time lengths. The generated code has no `unsafe`: the
//! dispatch into code compiled with fused multiply-adds is in the runtime.
//!
//! Every value is the one the run-time kernels of [`kernels`](crate::nn::kernels) compute for
//! one sample, in the same order (the forward pass from the bias, `W[r, k] x[k]` added for `k`
//! in order, with a fused multiply-add on the paths that use them; the input gradient summed
//! over the rows in order; the update `g = d * a`, then `w - lr * g`), so a run gives the same
//! bits as the generic path on the same kernel path, and as `gradients_into` followed by an
//! [`Sgd`](crate::optim::Sgd) step.

use crate::nn::activation::Activation;
use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// The most weights a dense layer may have for its network to take the static path (`network!`
/// checks this). Larger layers run faster on the run-time kernels' register tiles: on a Zen 4,
/// a 64-32-10 network (2048 weights in its first layer) trained 1.5M steps/s on them and 1.0M
/// on the static path, while the 2-8-1 network went from 6.5M to 8.8M (`step_each`).
pub const SMALL_WEIGHTS: usize = 256;

/// The widest layer whose input gradient the static path computes (the run-time kernels sum
/// wider ones in partial sums).
pub const SMALL_WIDTH: usize = 32;

/// How the forward pass adds a product: with one rounding ([`Fused`], on the kernel paths
/// with FMA) or two ([`Separate`], the portable path).
pub trait MulAdd {
    /// `c + a * b`.
    fn mul_add<T: Real>(a: T, b: T, c: T) -> T;
}

/// `a.mul_add(b, c)`: a fused multiply-add (an instruction in code compiled with FMA).
pub struct Fused;

/// `c + a * b`, rounded twice.
pub struct Separate;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add<T: Real>(a: T, b: T, c: T) -> T {
        a.mul_add(b, c)
    }
}

impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add<T: Real>(a: T, b: T, c: T) -> T {
        c + a * b
    }
}

/// `out = W x + b` for one sample; returns `out`'s first `O` values.
///
/// # Panics
/// Like slice indexing, if a slice is shorter than the layer's shape says (the generated code
/// passes buffers sized for it).
#[inline(always)]
pub fn dense_forward<'a, M: MulAdd, T: Real, const O: usize, const I: usize>(
    weight: &SMatrix<T, O, I>,
    bias: &SVector<T, O>,
    x: &[T],
    out: &'a mut [T],
) -> &'a [T] {
    let (out, x): (&mut [T; O], &[T; I]) = (first_mut(out), first(x));
    let mut acc: [T; O] = *first(bias.as_slice());
    for (w_col, &xk) in weight.as_slice().chunks_exact(O).zip(x) {
        for (a, &w) in acc.iter_mut().zip(w_col) {
            *a = M::mul_add(w, xk, *a);
        }
    }
    *out = acc;
    out
}

/// `out = W^T d` for one sample (the loss gradient with respect to the layer's input), each
/// value summed over the `O <= SMALL_WIDTH` rows in order; returns `out`'s first `I` values.
///
/// # Panics
/// Like slice indexing, if a slice is shorter than the layer's shape says (the generated code
/// passes buffers sized for it).
#[inline(always)]
pub fn input_gradient<'a, T: Real, const O: usize, const I: usize>(
    weight: &SMatrix<T, O, I>,
    delta: &[T],
    out: &'a mut [T],
) -> &'a mut [T] {
    const { assert!(O <= SMALL_WIDTH) };
    let (out, d): (&mut [T; I], &[T; O]) = (first_mut(out), first(delta));
    for (value, w_col) in out.iter_mut().zip(weight.as_slice().chunks_exact(O)) {
        *value = w_col.iter().zip(d).fold(T::zero(), |s, (&w, &d)| s + w * d);
    }
    out
}

/// `W -= lr * (d a^T)` and `b -= lr * d` for one sample: each weight gets `g = d * a`, then
/// `w - lr * g`.
///
/// # Panics
/// Like slice indexing, if a slice is shorter than the layer's shape says (the generated code
/// passes buffers sized for it).
#[inline(always)]
pub fn sgd_dense_update<T: Real, const O: usize, const I: usize>(
    weight: &mut SMatrix<T, O, I>,
    bias: &mut SVector<T, O>,
    lr: T,
    delta: &[T],
    a_prev: &[T],
) {
    let (d, a): (&[T; O], &[T; I]) = (first(delta), first(a_prev));
    for (w_col, &ak) in weight.as_mut_slice().chunks_exact_mut(O).zip(a) {
        for (w, &dm) in w_col.iter_mut().zip(d) {
            let g = dm * ak;
            *w -= lr * g;
        }
    }
    for (b, &dm) in bias.iter_mut().zip(d) {
        *b -= lr * dm;
    }
}

/// `a = activation(z)` for one sample of `W` values; returns `a`'s first `W` values. The
/// values of [`Activation::forward`].
///
/// # Panics
/// Like slice indexing, if a slice is shorter than the layer's shape says (the generated code
/// passes buffers sized for it).
#[inline(always)]
pub fn activate<'a, T: Real, const W: usize>(activation: Activation<T>, pre: &[T], act: &'a mut [T]) -> &'a [T] {
    let (z, a): (&[T; W], &mut [T; W]) = (first(pre), first_mut(act));
    match activation {
        // A lone value or a few: in place, without the kernel's call and vector setup.
        Activation::Tanh if W < 4 => {
            for (a, &z) in a.iter_mut().zip(z) {
                *a = z.tanh_activation();
            }
        }
        Activation::Sigmoid if W < 4 => {
            for (a, &z) in a.iter_mut().zip(z) {
                *a = z.sigmoid_activation();
            }
        }
        Activation::Relu => {
            for (a, &z) in a.iter_mut().zip(z) {
                *a = Activation::Relu.value(z);
            }
        }
        other => {
            other.forward(z, a, W);
        }
    }
    a
}

/// The first `N` values of `values` as an array.
///
/// # Panics
/// If `values` is shorter (the generated code passes buffers sized for the layer).
#[inline(always)]
fn first<T, const N: usize>(values: &[T]) -> &[T; N] {
    values[..N].try_into().expect("a slice of N values")
}

/// [`first`], mutable.
#[inline(always)]
fn first_mut<T, const N: usize>(values: &mut [T]) -> &mut [T; N] {
    (&mut values[..N]).try_into().expect("a slice of N values")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::kernels::{dense_forward_on, input_gradient_on, sgd_dense_update_on, KernelPath};

    /// Deterministic values in about `[-scale, scale]`.
    fn values<T: Real>(seed: u64, len: usize, scale: f64) -> Vec<T> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                T::cast(((state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * scale)
            })
            .collect()
    }

    /// The static functions for an `O x I` layer against the run-time kernels, bit for bit:
    /// `Separate` against the portable path, `Fused` against every supported path with fused
    /// multiply-adds.
    fn check_layer<T: Real, const O: usize, const I: usize>() {
        let seed = (O * 100 + I) as u64;
        let weight = SMatrix::<T, O, I>::from_column_slice(&values::<T>(seed, O * I, 1.0));
        let bias = SVector::<T, O>::from_column_slice(&values::<T>(seed + 1, O, 1.0));
        let x = values::<T>(seed + 2, I, 2.0);
        let delta = values::<T>(seed + 3, O, 0.5);
        let lr = T::cast(0.1);
        let bits = |v: &[T]| v.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
        for path in KernelPath::ALL.into_iter().filter(|p| p.is_supported()) {
            let what = format!("{O}x{I} {} on {}", T::NAME, path.name());
            let mut expected = vec![T::zero(); O];
            dense_forward_on(path, &weight, &bias, &x, &mut expected, 1);
            let mut out = vec![T::zero(); O];
            let got = if path == KernelPath::Portable {
                dense_forward::<Separate, T, O, I>(&weight, &bias, &x, &mut out)
            } else {
                dense_forward::<Fused, T, O, I>(&weight, &bias, &x, &mut out)
            };
            assert_eq!(bits(got), bits(&expected), "forward, {what}");

            let (mut w1, mut b1, mut w2, mut b2) = (weight, bias, weight, bias);
            sgd_dense_update_on(path, &mut w1, &mut b1, lr, &delta, &x);
            sgd_dense_update(&mut w2, &mut b2, lr, &delta, &x);
            assert_eq!(bits(w2.as_slice()), bits(w1.as_slice()), "update, {what}");
            assert_eq!(bits(b2.as_slice()), bits(b1.as_slice()), "bias update, {what}");
            assert_ne!(w2, weight, "the update changed nothing, {what}");
        }
    }

    /// [`input_gradient`] against the run-time kernel on every supported path, bit for bit.
    fn check_input_gradient<T: Real, const O: usize, const I: usize>() {
        let seed = (O * 100 + I) as u64;
        let weight = SMatrix::<T, O, I>::from_column_slice(&values::<T>(seed, O * I, 1.0));
        let delta = values::<T>(seed + 3, O, 0.5);
        let bits = |v: &[T]| v.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
        for path in KernelPath::ALL.into_iter().filter(|p| p.is_supported()) {
            let mut expected = vec![T::zero(); I];
            input_gradient_on(path, &weight, &delta, &mut expected, 1);
            let mut out = vec![T::zero(); I];
            let got = input_gradient(&weight, &delta, &mut out);
            assert_eq!(
                bits(got),
                bits(&expected),
                "input gradient, {O}x{I} {} on {}",
                T::NAME,
                path.name()
            );
        }
    }

    #[test]
    fn the_static_layer_functions_give_the_bits_of_the_kernels() {
        check_layer::<f32, 1, 1>();
        check_layer::<f32, 8, 2>();
        check_layer::<f32, 1, 8>();
        check_layer::<f32, 32, 24>();
        check_layer::<f32, 16, 32>();
        check_layer::<f32, 10, 33>();
        check_layer::<f32, 64, 64>();
        check_layer::<f64, 8, 2>();
        check_layer::<f64, 1, 8>();
        check_layer::<f64, 31, 17>();
        check_input_gradient::<f32, 1, 8>();
        check_input_gradient::<f32, 16, 32>();
        check_input_gradient::<f32, 32, 24>();
        check_input_gradient::<f32, 10, 33>();
        check_input_gradient::<f64, 1, 8>();
        check_input_gradient::<f64, 31, 17>();
    }

    /// [`activate`] for `W` values against [`Activation::forward`], bit for bit.
    fn check_activate<const W: usize>() {
        let z = values::<f32>(7 + W as u64, W, 4.0);
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        for activation in [
            Activation::Identity,
            Activation::Relu,
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::LeakyRelu(0.1),
            Activation::Gelu,
            Activation::Softmax,
        ] {
            let mut expected = vec![0.0f32; W];
            activation.forward(&z, &mut expected, W);
            let mut out = vec![0.0f32; W];
            let got = activate::<f32, W>(activation, &z, &mut out);
            assert_eq!(bits(got), bits(&expected), "{activation:?}, {W} values");
        }
    }

    #[test]
    fn activate_gives_the_values_of_activation_forward() {
        // In place below 4 values, through the kernels from 4 on.
        check_activate::<1>();
        check_activate::<3>();
        check_activate::<4>();
        check_activate::<12>();
    }
}
