//! The small dense-layer kernels generated code calls.
//!
//! Batches are column-major slices holding one sample per column. A weight matrix
//! `SMatrix<T, O, I>` is column-major too, so column `k` of the weights (the fan-out of input
//! `k`) is contiguous. Every kernel works in place in caller-owned buffers and allocates
//! nothing. They are written so that the compiler can vectorize the inner loops (each one
//! an `axpy` or a dot product over a contiguous column).

use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// `out[:, j] = W x[:, j] + b` for the `n` samples of `x`; returns the written prefix of `out`.
#[inline]
pub fn dense_forward<'a, T: Real, const O: usize, const I: usize>(
    weight: &SMatrix<T, O, I>,
    bias: &SVector<T, O>,
    x: &[T],
    out: &'a mut [T],
    n: usize,
) -> &'a [T] {
    let out = &mut out[..O * n];
    let w = weight.as_slice();
    for (out_col, x_col) in out.chunks_exact_mut(O).zip(x.chunks_exact(I)) {
        out_col.copy_from_slice(bias.as_slice());
        for (w_col, &xk) in w.chunks_exact(O).zip(x_col) {
            axpy(xk, w_col, out_col);
        }
    }
    out
}

/// `W x + b` for one sample.
#[inline]
pub fn dense_vector<T: Real, const O: usize, const I: usize>(
    weight: &SMatrix<T, O, I>,
    bias: &SVector<T, O>,
    x: &SVector<T, I>,
) -> SVector<T, O> {
    let mut out = *bias;
    for (w_col, &xk) in weight.as_slice().chunks_exact(O).zip(x.iter()) {
        axpy(xk, w_col, out.as_mut_slice());
    }
    out
}

/// Overwrites `grad` with `sum_j delta[:, j] a_prev[:, j]^T`, the weight gradient of a layer.
#[inline]
pub fn weight_gradient<T: Real, const O: usize, const I: usize>(
    grad: &mut SMatrix<T, O, I>,
    delta: &[T],
    a_prev: &[T],
    n: usize,
) {
    let g = grad.as_mut_slice();
    g.fill(T::zero());
    for (d_col, a_col) in delta[..O * n].chunks_exact(O).zip(a_prev.chunks_exact(I)) {
        for (g_col, &ak) in g.chunks_exact_mut(O).zip(a_col) {
            axpy(ak, d_col, g_col);
        }
    }
}

/// Overwrites `grad` with `sum_j delta[:, j]`, the bias gradient of a layer.
#[inline]
pub fn bias_gradient<T: Real, const O: usize>(grad: &mut SVector<T, O>, delta: &[T], n: usize) {
    let g = grad.as_mut_slice();
    g.fill(T::zero());
    for d_col in delta[..O * n].chunks_exact(O) {
        for (g, &d) in g.iter_mut().zip(d_col) {
            *g += d;
        }
    }
}

/// Writes `W^T delta` (the loss gradient with respect to the layer's input) into the first
/// `I * n` values of `out` and returns them.
#[inline]
pub fn input_gradient<'a, T: Real, const O: usize, const I: usize>(
    weight: &SMatrix<T, O, I>,
    delta: &[T],
    out: &'a mut [T],
    n: usize,
) -> &'a mut [T] {
    let out = &mut out[..I * n];
    let w = weight.as_slice();
    for (out_col, d_col) in out.chunks_exact_mut(I).zip(delta.chunks_exact(O)) {
        for (o, w_col) in out_col.iter_mut().zip(w.chunks_exact(O)) {
            *o = dot(w_col, d_col);
        }
    }
    out
}

#[inline(always)]
fn axpy<T: Real>(alpha: T, x: &[T], y: &mut [T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

#[inline(always)]
fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    a.iter().zip(b).fold(T::zero(), |s, (&a, &b)| s + a * b)
}
