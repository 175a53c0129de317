//! The small dense-layer kernels generated code calls.
//!
//! Batches are column-major slices holding one sample per column. A weight matrix
//! `SMatrix<T, O, I>` is column-major too, so column `k` of the weights (the fan-out of input
//! `k`) is contiguous. Every kernel works in place in caller-owned buffers and allocates
//! nothing. They are written so that the compiler can vectorize the inner loops (each one
//! an `axpy` or a dot product over a contiguous column).
//!
//! # Panics
//! Like slice indexing, each kernel panics if a buffer holds fewer than `n` samples; the
//! generated code checks batch sizes (returning a `ShapeError`) before calling them.

use crate::real::Real;
use nalgebra::{SMatrix, SVector};

/// Samples processed together, so that each weight column read from cache serves several
/// samples (the batch is the GEMM's third dimension).
const BLOCK: usize = 4;

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
    let mut out_blocks = out.chunks_exact_mut(O * BLOCK);
    let mut x_blocks = x[..I * n].chunks_exact(I * BLOCK);
    for (out_block, x_block) in (&mut out_blocks).zip(&mut x_blocks) {
        let (o0, rest) = out_block.split_at_mut(O);
        let (o1, rest) = rest.split_at_mut(O);
        let (o2, o3) = rest.split_at_mut(O);
        for o in [&mut *o0, &mut *o1, &mut *o2, &mut *o3] {
            o.copy_from_slice(bias.as_slice());
        }
        let (x0, rest) = x_block.split_at(I);
        let (x1, rest) = rest.split_at(I);
        let (x2, x3) = rest.split_at(I);
        for (k, w_col) in w.chunks_exact(O).enumerate() {
            let (a0, a1, a2, a3) = (x0[k], x1[k], x2[k], x3[k]);
            // Equal lengths let the compiler drop the bounds checks and vectorize.
            let (o0, o1, o2, o3, w_col) = (&mut o0[..O], &mut o1[..O], &mut o2[..O], &mut o3[..O], &w_col[..O]);
            for r in 0..O {
                let wv = w_col[r];
                o0[r] += a0 * wv;
                o1[r] += a1 * wv;
                o2[r] += a2 * wv;
                o3[r] += a3 * wv;
            }
        }
    }
    for (out_col, x_col) in out_blocks
        .into_remainder()
        .chunks_exact_mut(O)
        .zip(x_blocks.remainder().chunks_exact(I))
    {
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
    let delta = &delta[..O * n];
    let a_prev = &a_prev[..I * n];
    let mut d_blocks = delta.chunks_exact(O * BLOCK);
    let mut a_blocks = a_prev.chunks_exact(I * BLOCK);
    let mut first = true;
    for (d_block, a_block) in (&mut d_blocks).zip(&mut a_blocks) {
        let (d0, rest) = d_block.split_at(O);
        let (d1, rest) = rest.split_at(O);
        let (d2, d3) = rest.split_at(O);
        let (x0, rest) = a_block.split_at(I);
        let (x1, rest) = rest.split_at(I);
        let (x2, x3) = rest.split_at(I);
        for (k, g_col) in g.chunks_exact_mut(O).enumerate() {
            let (a0, a1, a2, a3) = (x0[k], x1[k], x2[k], x3[k]);
            let (g_col, d0, d1, d2, d3) = (&mut g_col[..O], &d0[..O], &d1[..O], &d2[..O], &d3[..O]);
            if first {
                for r in 0..O {
                    g_col[r] = a0 * d0[r] + a1 * d1[r] + a2 * d2[r] + a3 * d3[r];
                }
            } else {
                for r in 0..O {
                    g_col[r] += a0 * d0[r] + a1 * d1[r] + a2 * d2[r] + a3 * d3[r];
                }
            }
        }
        first = false;
    }
    let remainder = d_blocks
        .remainder()
        .chunks_exact(O)
        .zip(a_blocks.remainder().chunks_exact(I));
    for (d_col, a_col) in remainder {
        for (g_col, &ak) in g.chunks_exact_mut(O).zip(a_col) {
            if first {
                // The first sample writes (one pass) instead of zeroing and adding (two).
                for (gv, &dv) in g_col.iter_mut().zip(d_col) {
                    *gv = ak * dv;
                }
            } else {
                axpy(ak, d_col, g_col);
            }
        }
        first = false;
    }
    if first {
        g.fill(T::zero());
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
    let mut out_blocks = out.chunks_exact_mut(I * BLOCK);
    let mut d_blocks = delta[..O * n].chunks_exact(O * BLOCK);
    for (out_block, d_block) in (&mut out_blocks).zip(&mut d_blocks) {
        let (d0, rest) = d_block.split_at(O);
        let (d1, rest) = rest.split_at(O);
        let (d2, d3) = rest.split_at(O);
        for (k, w_col) in w.chunks_exact(O).enumerate() {
            let (mut s0, mut s1, mut s2, mut s3) = (T::zero(), T::zero(), T::zero(), T::zero());
            for ((((&wv, &e0), &e1), &e2), &e3) in w_col.iter().zip(d0).zip(d1).zip(d2).zip(d3) {
                s0 += wv * e0;
                s1 += wv * e1;
                s2 += wv * e2;
                s3 += wv * e3;
            }
            out_block[k] = s0;
            out_block[I + k] = s1;
            out_block[2 * I + k] = s2;
            out_block[3 * I + k] = s3;
        }
    }
    for (out_col, d_col) in out_blocks
        .into_remainder()
        .chunks_exact_mut(I)
        .zip(d_blocks.remainder().chunks_exact(O))
    {
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
