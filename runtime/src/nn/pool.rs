//! 2-D max and average pooling over a batch, without padding: the geometry [`Pool2d`] and
//! the passes [`max_pool_forward`], [`max_pool_backward`], [`avg_pool_forward`] and
//! [`avg_pool_backward`].
//!
//! Samples are laid out as in [`conv`](crate::nn::conv): `C * H * W` values in channel, row,
//! column order, `n` samples one after another. Pooling works on each channel separately, so
//! the output has as many channels as the input. Every buffer is the caller's; nothing
//! allocates.
//!
//! # Panics
//! Like slice indexing, each function panics if a buffer is shorter than the lengths
//! documented on it (for `n` samples); a [`Pool2d`] is validated when it is built.

use crate::nn::kernels::{kernel_path, KernelPath};
use crate::real::{cast, cast_mut, Real};
use safetensors::Dtype;

/// The geometry of a 2-D pooling layer: channels, input size, window and stride (no padding).
/// Built by [`Pool2d::new`] (usable in a `const`), which checks it.
///
/// ```
/// use retroprop_runtime::nn::pool::Pool2d;
///
/// // LeNet-5's subsampling after its first convolution: 2x2 windows, stride 2.
/// const POOL1: Pool2d = Pool2d::new(6, 28, 28, (2, 2), (2, 2));
/// assert_eq!((POOL1.out_h(), POOL1.out_w()), (14, 14));
/// // Sizes round down, as in PyTorch: a 7x7 input gives 3x3, the last row and column unused.
/// assert_eq!(Pool2d::new(1, 7, 7, (2, 2), (2, 2)).out_h(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pool2d {
    channels: usize,
    in_h: usize,
    in_w: usize,
    window: (usize, usize),
    stride: (usize, usize),
}

impl Pool2d {
    /// Pooling of `channels` channels of `in_h x in_w` values over `window = (kh, kw)`
    /// windows moved by `stride = (sh, sw)` (PyTorch's default stride is the window).
    ///
    /// # Panics
    /// If the geometry is invalid (see [`Pool2d::checked`]); in a `const`, that is a
    /// compile-time error.
    pub const fn new(
        channels: usize,
        in_h: usize,
        in_w: usize,
        window: (usize, usize),
        stride: (usize, usize),
    ) -> Pool2d {
        let geom = Pool2d {
            channels,
            in_h,
            in_w,
            window,
            stride,
        };
        if let Some(problem) = geom.problem() {
            panic!("{}", problem);
        }
        geom
    }

    /// [`Pool2d::new`] without the panic: `None` if a size, the window or the stride is zero,
    /// if the window is larger than the input, if a channel has more than `2^32` values (the
    /// indices of the maxima are `u32`), or if a buffer length would overflow `usize`.
    ///
    /// ```
    /// use retroprop_runtime::nn::pool::Pool2d;
    /// assert!(Pool2d::checked(1, 4, 4, (5, 5), (1, 1)).is_none());
    /// assert!(Pool2d::checked(1, 4, 4, (2, 2), (2, 2)).is_some());
    /// ```
    pub const fn checked(
        channels: usize,
        in_h: usize,
        in_w: usize,
        window: (usize, usize),
        stride: (usize, usize),
    ) -> Option<Pool2d> {
        let geom = Pool2d {
            channels,
            in_h,
            in_w,
            window,
            stride,
        };
        match geom.problem() {
            None => Some(geom),
            Some(_) => None,
        }
    }

    /// What makes the geometry invalid, if anything.
    const fn problem(&self) -> Option<&'static str> {
        let (kh, kw) = self.window;
        if self.channels == 0 || self.in_h == 0 || self.in_w == 0 {
            return Some("Pool2d: the channel count and input size must be positive");
        }
        if kh == 0 || kw == 0 {
            return Some("Pool2d: the window size must be positive");
        }
        if self.stride.0 == 0 || self.stride.1 == 0 {
            return Some("Pool2d: the stride must be positive");
        }
        if kh > self.in_h || kw > self.in_w {
            return Some("Pool2d: the window is larger than the input");
        }
        let Some(plane) = self.in_h.checked_mul(self.in_w) else {
            return Some("Pool2d: a buffer length overflows usize");
        };
        if plane - 1 > u32::MAX as usize {
            return Some("Pool2d: a channel has more values than u32 indices reach");
        }
        if plane.checked_mul(self.channels).is_none() {
            return Some("Pool2d: a buffer length overflows usize");
        }
        None
    }

    /// Channels (of the input and of the output).
    pub const fn channels(&self) -> usize {
        self.channels
    }

    /// Input rows.
    pub const fn in_h(&self) -> usize {
        self.in_h
    }

    /// Input columns.
    pub const fn in_w(&self) -> usize {
        self.in_w
    }

    /// Window size `(kh, kw)`.
    pub const fn window(&self) -> (usize, usize) {
        self.window
    }

    /// Stride `(sh, sw)`.
    pub const fn stride(&self) -> (usize, usize) {
        self.stride
    }

    /// Output rows, `(in_h - kh) / sh + 1` rounded down, as PyTorch.
    pub const fn out_h(&self) -> usize {
        (self.in_h - self.window.0) / self.stride.0 + 1
    }

    /// Output columns, `(in_w - kw) / sw + 1` rounded down, as PyTorch.
    pub const fn out_w(&self) -> usize {
        (self.in_w - self.window.1) / self.stride.1 + 1
    }

    /// Values in one input sample, `channels * in_h * in_w`.
    pub const fn input_len(&self) -> usize {
        self.channels * self.in_h * self.in_w
    }

    /// Values in one output sample, `channels * out_h * out_w` (also the number of indices
    /// [`max_pool_forward`] writes per sample).
    pub const fn output_len(&self) -> usize {
        self.channels * self.out_h() * self.out_w()
    }
}

/// The maximum of each window of the `n` samples of `x` (each [`Pool2d::input_len`] values),
/// written into the first `output_len * n` values of `out`, which it returns, with its
/// position in `argmax` (as many values): the index `row * in_w + column` within its
/// channel, as PyTorch's `return_indices` gives it. On ties the first maximum wins, scanning
/// the window row by row; a NaN wins over any number (the last NaN if several), so that it
/// propagates, as in PyTorch.
///
/// ```
/// use retroprop_runtime::nn::pool::{max_pool_forward, Pool2d};
///
/// const G: Pool2d = Pool2d::new(1, 2, 4, (2, 2), (2, 2));
/// let x = [1.0, 5.0, 2.0, 2.0,
///          5.0, 0.0, 2.0, 1.0];
/// let (mut out, mut argmax) = ([0.0; G.output_len()], [0; G.output_len()]);
/// assert_eq!(max_pool_forward(&G, &x, &mut out, &mut argmax, 1), [5.0, 2.0]);
/// assert_eq!(argmax, [1, 2]); // the first 5 and the first 2
/// ```
///
/// # Panics
/// If a buffer is shorter than stated.
pub fn max_pool_forward<'a, T: Real>(
    geom: &Pool2d,
    x: &[T],
    out: &'a mut [T],
    argmax: &mut [u32],
    n: usize,
) -> &'a [T] {
    max_pool_forward_on(kernel_path(), geom, x, out, argmax, n)
}

/// [`max_pool_forward`] on a given kernel path (every path gives the same results; the wider
/// ones are faster).
///
/// # Panics
/// If a buffer is shorter than stated.
pub fn max_pool_forward_on<'a, T: Real>(
    path: KernelPath,
    geom: &Pool2d,
    x: &[T],
    out: &'a mut [T],
    argmax: &mut [u32],
    n: usize,
) -> &'a [T] {
    let len = geom.output_len() * n;
    T::max_pool_forward(path, geom, x, out, argmax, n);
    &out[..len]
}

/// The gradient of [`max_pool_forward`] with respect to its input: each value of `grad_out`
/// (`output_len * n`) is added to the input position `argmax` recorded for it (as many
/// values, from `max_pool_forward` with the same geometry), so overlapping windows with the
/// same maximum accumulate. Overwrites the first `input_len * n` values of `grad_in` and
/// returns them.
///
/// # Panics
/// If a buffer is shorter than stated, or if an index in `argmax` is not within a channel
/// (`in_h * in_w` or more).
pub fn max_pool_backward<'a, T: Real>(
    geom: &Pool2d,
    argmax: &[u32],
    grad_out: &[T],
    grad_in: &'a mut [T],
    n: usize,
) -> &'a mut [T] {
    let len = geom.input_len() * n;
    match T::DTYPE {
        Dtype::F32 => max_backward_f32(geom, argmax, cast(grad_out), cast_mut(grad_in), n),
        _ => max_backward_f64(geom, argmax, cast(grad_out), cast_mut(grad_in), n),
    }
    &mut grad_in[..len]
}

/// The mean of each window of the `n` samples of `x` (each [`Pool2d::input_len`] values):
/// the sum, row by row, divided by `kh * kw`. Written into the first `output_len * n` values
/// of `out`, which it returns.
///
/// ```
/// use retroprop_runtime::nn::pool::{avg_pool_forward, Pool2d};
///
/// const G: Pool2d = Pool2d::new(1, 2, 3, (2, 2), (1, 1));
/// let x = [1.0, 2.0, 3.0,
///          4.0, 5.0, 6.0];
/// let mut out = [0.0; G.output_len()];
/// assert_eq!(avg_pool_forward(&G, &x, &mut out, 1), [3.0, 4.0]);
/// ```
///
/// # Panics
/// If a buffer is shorter than stated.
pub fn avg_pool_forward<'a, T: Real>(geom: &Pool2d, x: &[T], out: &'a mut [T], n: usize) -> &'a [T] {
    let len = geom.output_len() * n;
    match T::DTYPE {
        Dtype::F32 => avg_forward_f32(geom, cast(x), cast_mut(out), n),
        _ => avg_forward_f64(geom, cast(x), cast_mut(out), n),
    }
    &out[..len]
}

/// The gradient of [`avg_pool_forward`] with respect to its input: each value of `grad_out`
/// (`output_len * n`), divided by `kh * kw`, is added to every position of its window, so
/// overlapping windows accumulate. Overwrites the first `input_len * n` values of `grad_in`
/// and returns them.
///
/// # Panics
/// If a buffer is shorter than stated.
pub fn avg_pool_backward<'a, T: Real>(geom: &Pool2d, grad_out: &[T], grad_in: &'a mut [T], n: usize) -> &'a mut [T] {
    let len = geom.input_len() * n;
    match T::DTYPE {
        Dtype::F32 => avg_backward_f32(geom, cast(grad_out), cast_mut(grad_in), n),
        _ => avg_backward_f64(geom, cast(grad_out), cast_mut(grad_in), n),
    }
    &mut grad_in[..len]
}

// The kernels work on one output row at a time. Each visits the values of every window in the
// same order as the definition (row by row, left to right), so the results are the same bits
// whatever the loop structure; the general paths loop over the window positions outside and
// the output columns inside (which LLVM vectorizes when the stride is 1), and 2x2 windows of
// stride 2, the common case, have a fused path.

/// One step of the maximum of a window: `value` at plane index `at` replaces the best so far
/// if it is larger, or if it is NaN (so that a NaN propagates, the last one if several).
/// Written as selects, so that it compiles without a branch.
#[inline(always)]
fn max_step<T: Real>(best: &mut T, best_at: &mut u32, value: T, at: u32) {
    #[allow(clippy::eq_op)] // `value != value`: `value` is NaN.
    let take = value > *best || value != value;
    *best = if take { value } else { *best };
    *best_at = if take { at } else { *best_at };
}

/// [`max_pool_forward`], inlined into each kernel path's copy
/// ([`crate::nn::kernels`]).
#[inline(always)]
pub(crate) fn max_forward<T: Real>(g: &Pool2d, x: &[T], out: &mut [T], argmax: &mut [u32], n: usize) {
    let (kh, kw) = g.window;
    let (sh, sw) = g.stride;
    let (w, ow) = (g.in_w, g.out_w());
    let (plane_in, plane_out) = (g.in_h * w, g.out_h() * ow);
    let x = &x[..g.input_len() * n];
    let out = &mut out[..g.output_len() * n];
    let argmax = &mut argmax[..g.output_len() * n];
    let planes = x.chunks_exact(plane_in);
    for ((plane, out_p), arg_p) in planes
        .zip(out.chunks_exact_mut(plane_out))
        .zip(argmax.chunks_exact_mut(plane_out))
    {
        let rows = out_p.chunks_exact_mut(ow).zip(arg_p.chunks_exact_mut(ow));
        for (oy, (out_r, arg_r)) in rows.enumerate() {
            // Plane indices are below `in_h * in_w <= u32::MAX + 1`, as `Pool2d::new` checked.
            let top = oy * sh * w;
            if (kh, kw, sh, sw) == (2, 2, 2, 2) {
                let upper = plane[top..top + 2 * ow].as_chunks::<2>().0;
                let lower = plane[top + w..top + w + 2 * ow].as_chunks::<2>().0;
                max_row_2x2(upper, lower, out_r, arg_r, top as u32, w as u32);
                continue;
            }
            out_r.fill(T::NEG_INFINITY);
            for (ox, i) in arg_r.iter_mut().enumerate() {
                *i = (top + ox * sw) as u32;
            }
            for ky in 0..kh {
                let start = top + ky * w;
                let row = &plane[start..start + w];
                for kx in 0..kw {
                    let from = &row[kx..];
                    let at = (start + kx) as u32;
                    if sw == 1 {
                        max_columns(out_r, arg_r, from[..ow].iter(), at, 1);
                    } else {
                        max_columns(out_r, arg_r, from.iter().step_by(sw), at, sw as u32);
                    }
                }
            }
        }
    }
}

/// One output row of 2x2 windows of stride 2: output `ox` is the maximum of `upper[ox]` and
/// `lower[ox]` (the window's two rows, as pairs of columns), at plane indices `at + 2 * ox`,
/// `+ 1`, `+ below` and `+ below + 1`, visited in that order ([`max_step`]).
///
/// The row goes in blocks of 8 outputs (4 for rows of 4 to 7), and the last block ends at the
/// row's end, overlapping the one before it when the width is not a multiple of the block:
/// the outputs it computes twice get the same values, and every output is computed by the
/// vectorized block, with no scalar remainder (LeNet's rows are 14 and 5 outputs wide).
#[inline(always)]
fn max_row_2x2<T: Real>(upper: &[[T; 2]], lower: &[[T; 2]], out: &mut [T], argmax: &mut [u32], at: u32, below: u32) {
    let ow = out.len();
    if ow >= 8 {
        max_blocks_2x2::<T, 8>(upper, lower, out, argmax, at, below);
    } else if ow >= 4 {
        max_blocks_2x2::<T, 4>(upper, lower, out, argmax, at, below);
    } else {
        max_block_2x2(upper, lower, out, argmax, at, below);
    }
}

/// [`max_row_2x2`] in blocks of `B` outputs, for rows of at least `B`.
#[inline(always)]
fn max_blocks_2x2<T: Real, const B: usize>(
    upper: &[[T; 2]],
    lower: &[[T; 2]],
    out: &mut [T],
    argmax: &mut [u32],
    at: u32,
    below: u32,
) {
    let ow = out.len();
    let mut ox = 0;
    while ox < ow {
        // The last block starts `B` before the end (`ow >= B`).
        let start = ox.min(ow - B);
        let (Some(u), Some(l)) = (upper[start..].first_chunk::<B>(), lower[start..].first_chunk::<B>()) else {
            return;
        };
        let (Some(o), Some(i)) = (
            out[start..].first_chunk_mut::<B>(),
            argmax[start..].first_chunk_mut::<B>(),
        ) else {
            return;
        };
        max_block_2x2(u, l, o, i, at.wrapping_add(2 * start as u32), below);
        ox = start + B;
    }
}

/// The windows of [`max_row_2x2`] for as many outputs as `out` holds (a fixed `B` when called
/// with arrays, which the compiler vectorizes).
#[inline(always)]
fn max_block_2x2<T: Real>(upper: &[[T; 2]], lower: &[[T; 2]], out: &mut [T], argmax: &mut [u32], at: u32, below: u32) {
    let mut at = at;
    for (((a, b), o), i) in upper.iter().zip(lower).zip(out.iter_mut()).zip(argmax.iter_mut()) {
        let (mut best, mut best_at) = (T::NEG_INFINITY, at);
        max_step(&mut best, &mut best_at, a[0], at);
        max_step(&mut best, &mut best_at, a[1], at.wrapping_add(1));
        max_step(&mut best, &mut best_at, b[0], at.wrapping_add(below));
        max_step(&mut best, &mut best_at, b[1], at.wrapping_add(below).wrapping_add(1));
        (*o, *i) = (best, best_at);
        at = at.wrapping_add(2);
    }
}

/// One window position over an output row: the value at it for each output column
/// (`values`, one for each) at plane index `at`, `at + stride`, ... enters the maxima.
#[inline(always)]
fn max_columns<'v, T: Real>(
    out: &mut [T],
    argmax: &mut [u32],
    values: impl Iterator<Item = &'v T>,
    mut at: u32,
    stride: u32,
) {
    for ((best, best_at), &v) in out.iter_mut().zip(argmax.iter_mut()).zip(values) {
        max_step(best, best_at, v, at);
        at = at.wrapping_add(stride);
    }
}

/// [`max_pool_backward`] without the dispatch on `T`.
#[inline(always)]
fn max_backward<T: Real>(g: &Pool2d, argmax: &[u32], grad_out: &[T], grad_in: &mut [T], n: usize) {
    let (plane_in, plane_out) = (g.in_h * g.in_w, g.out_h() * g.out_w());
    let argmax = &argmax[..g.output_len() * n];
    let grad_out = &grad_out[..g.output_len() * n];
    let grad_in = &mut grad_in[..g.input_len() * n];
    let planes = grad_in.chunks_exact_mut(plane_in);
    for ((plane, g_p), arg_p) in planes
        .zip(grad_out.chunks_exact(plane_out))
        .zip(argmax.chunks_exact(plane_out))
    {
        plane.fill(T::zero());
        for (&d, &at) in g_p.iter().zip(arg_p) {
            plane[at as usize] += d;
        }
    }
}

/// [`avg_pool_forward`] without the dispatch on `T`.
#[inline(always)]
fn avg_forward<T: Real>(g: &Pool2d, x: &[T], out: &mut [T], n: usize) {
    let (kh, kw) = g.window;
    let (sh, sw) = g.stride;
    let (w, ow) = (g.in_w, g.out_w());
    let (plane_in, plane_out) = (g.in_h * w, g.out_h() * ow);
    let divisor = T::cast((kh * kw) as f64);
    let x = &x[..g.input_len() * n];
    let out = &mut out[..g.output_len() * n];
    for (plane, out_p) in x.chunks_exact(plane_in).zip(out.chunks_exact_mut(plane_out)) {
        for (oy, out_r) in out_p.chunks_exact_mut(ow).enumerate() {
            let top = oy * sh * w;
            if (kh, kw, sh, sw) == (2, 2, 2, 2) {
                let upper = plane[top..top + 2 * ow].chunks_exact(2);
                let lower = plane[top + w..top + w + 2 * ow].chunks_exact(2);
                for ((a, b), o) in upper.zip(lower).zip(out_r.iter_mut()) {
                    // From zero, as the definition: `0 + -0` is `+0`.
                    *o = (((T::zero() + a[0]) + a[1]) + b[0] + b[1]) / divisor;
                }
                continue;
            }
            out_r.fill(T::zero());
            for ky in 0..kh {
                let start = top + ky * w;
                let row = &plane[start..start + w];
                for kx in 0..kw {
                    let from = &row[kx..];
                    if sw == 1 {
                        for (o, &v) in out_r.iter_mut().zip(&from[..ow]) {
                            *o += v;
                        }
                    } else {
                        for (o, &v) in out_r.iter_mut().zip(from.iter().step_by(sw)) {
                            *o += v;
                        }
                    }
                }
            }
            for o in out_r {
                *o /= divisor;
            }
        }
    }
}

/// [`avg_pool_backward`] without the dispatch on `T`.
#[inline(always)]
fn avg_backward<T: Real>(g: &Pool2d, grad_out: &[T], grad_in: &mut [T], n: usize) {
    let (kh, kw) = g.window;
    let (sh, sw) = g.stride;
    let (w, ow) = (g.in_w, g.out_w());
    let (plane_in, plane_out) = (g.in_h * w, g.out_h() * ow);
    let divisor = T::cast((kh * kw) as f64);
    let grad_out = &grad_out[..g.output_len() * n];
    let grad_in = &mut grad_in[..g.input_len() * n];
    for (plane, g_p) in grad_in.chunks_exact_mut(plane_in).zip(grad_out.chunks_exact(plane_out)) {
        plane.fill(T::zero());
        for (oy, g_r) in g_p.chunks_exact(ow).enumerate() {
            let top = oy * sh * w;
            if (kh, kw, sh, sw) == (2, 2, 2, 2) {
                // The windows do not overlap: each value receives one share, onto zero.
                let (upper, lower) = plane[top..top + 2 * w].split_at_mut(w);
                let upper = upper[..2 * ow].chunks_exact_mut(2);
                let lower = lower[..2 * ow].chunks_exact_mut(2);
                for ((a, b), &d) in upper.zip(lower).zip(g_r) {
                    let share = d / divisor;
                    a[0] += share;
                    a[1] += share;
                    b[0] += share;
                    b[1] += share;
                }
                continue;
            }
            for ky in 0..kh {
                let start = top + ky * w;
                let row = &mut plane[start..start + w];
                // A value receives the shares of the windows over it in output order: within
                // this output row, a window further right covers it at a smaller `kx`, so the
                // window columns go from right to left.
                for kx in (0..kw).rev() {
                    let from = &mut row[kx..];
                    if sw == 1 {
                        for (v, &d) in from[..ow].iter_mut().zip(g_r) {
                            *v += d / divisor;
                        }
                    } else {
                        for (v, &d) in from.iter_mut().step_by(sw).zip(g_r) {
                            *v += d / divisor;
                        }
                    }
                }
            }
        }
    }
}

// The kernels for `f32` and `f64`, instantiated here, in the runtime, rather than in each crate
// that calls the generic functions above: they are compiled once, with the runtime's
// optimization level (a user's debug build, or a test at opt-level 0, still gets fast
// pooling), and a network's crate compiles no pooling code of its own. The max pooling forward
// pass is instantiated on each kernel path instead, by `compile_for!` in `crate::nn::kernels`.
macro_rules! instances {
    ($($t:ident: $max_backward:ident, $avg_forward:ident, $avg_backward:ident;)*) => {$(
        #[inline(never)]
        fn $max_backward(g: &Pool2d, argmax: &[u32], grad_out: &[$t], grad_in: &mut [$t], n: usize) {
            max_backward(g, argmax, grad_out, grad_in, n);
        }

        #[inline(never)]
        fn $avg_forward(g: &Pool2d, x: &[$t], out: &mut [$t], n: usize) {
            avg_forward(g, x, out, n);
        }

        #[inline(never)]
        fn $avg_backward(g: &Pool2d, grad_out: &[$t], grad_in: &mut [$t], n: usize) {
            avg_backward(g, grad_out, grad_in, n);
        }
    )*};
}

instances! {
    f32: max_backward_f32, avg_forward_f32, avg_backward_f32;
    f64: max_backward_f64, avg_forward_f64, avg_backward_f64;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: each window's values folded with [`max_step`] in row, column order.
    fn max_by_definition(g: &Pool2d, x: &[f32], n: usize) -> (Vec<f32>, Vec<u32>) {
        let (kh, kw) = g.window;
        let (sh, sw) = g.stride;
        let (mut out, mut argmax) = (Vec::new(), Vec::new());
        for plane in x[..g.input_len() * n].chunks_exact(g.in_h * g.in_w) {
            for oy in 0..g.out_h() {
                for ox in 0..g.out_w() {
                    let first = (oy * sh * g.in_w + ox * sw) as u32;
                    let (mut best, mut best_at) = (f32::NEG_INFINITY, first);
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let at = (oy * sh + ky) * g.in_w + ox * sw + kx;
                            max_step(&mut best, &mut best_at, plane[at], at as u32);
                        }
                    }
                    out.push(best);
                    argmax.push(best_at);
                }
            }
        }
        (out, argmax)
    }

    #[test]
    fn two_by_two_windows_in_blocks_give_the_first_maximum_on_every_path() {
        // Few distinct values, so that most windows have ties, and the special values: a NaN
        // wins (the last one in the window), -inf and -0.0 compare as numbers.
        let special = [f32::NAN, f32::NEG_INFINITY, -0.0, 0.0, 1.0, -1.0, 2.0];
        for (in_h, in_w) in [
            (2, 2),
            (3, 5),
            (4, 7),
            (2, 8),
            (5, 9),
            (4, 16),
            (7, 17),
            (28, 28),
            (10, 10),
            (6, 39),
        ] {
            let g = Pool2d::new(2, in_h, in_w, (2, 2), (2, 2));
            let n = 3;
            let x: Vec<f32> = (0..g.input_len() * n)
                .map(|i| special[(i * 7 + i / 5 + i / 13) % special.len()])
                .collect();
            let (want, want_at) = max_by_definition(&g, &x, n);
            for path in KernelPath::ALL {
                let mut out = vec![0.0f32; g.output_len() * n];
                let mut argmax = vec![u32::MAX; g.output_len() * n];
                max_pool_forward_on(path, &g, &x, &mut out, &mut argmax, n);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&out), bits(&want), "{in_h}x{in_w} on {path:?}");
                assert_eq!(argmax, want_at, "{in_h}x{in_w} on {path:?}");
            }
        }
    }
}
