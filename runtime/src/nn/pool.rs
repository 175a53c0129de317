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

use crate::real::Real;

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

/// Calls `f(window_origin, output_index)` for every window of one channel plane, row by
/// row: `window_origin` is the plane index of the window's top-left value.
#[inline]
fn windows(g: &Pool2d, mut f: impl FnMut(usize, usize)) {
    let (oh, ow) = (g.out_h(), g.out_w());
    for oy in 0..oh {
        for ox in 0..ow {
            f(oy * g.stride.0 * g.in_w + ox * g.stride.1, oy * ow + ox);
        }
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
    let (kh, kw) = geom.window;
    let (plane_in, plane_out) = (geom.in_h * geom.in_w, geom.out_h() * geom.out_w());
    let x = &x[..geom.input_len() * n];
    let out = &mut out[..geom.output_len() * n];
    let argmax = &mut argmax[..geom.output_len() * n];
    let planes = x.chunks_exact(plane_in);
    for ((plane, out_p), arg_p) in planes
        .zip(out.chunks_exact_mut(plane_out))
        .zip(argmax.chunks_exact_mut(plane_out))
    {
        windows(geom, |origin, o| {
            let (mut best, mut best_at) = (T::NEG_INFINITY, origin);
            for row in 0..kh {
                let start = origin + row * geom.in_w;
                for (at, &v) in (start..start + kw).zip(&plane[start..start + kw]) {
                    if v > best || v.to_f64().is_nan() {
                        (best, best_at) = (v, at);
                    }
                }
            }
            out_p[o] = best;
            // `best_at < in_h * in_w <= u32::MAX + 1`, as `Pool2d::new` checked.
            arg_p[o] = best_at as u32;
        });
    }
    out
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
    let (plane_in, plane_out) = (geom.in_h * geom.in_w, geom.out_h() * geom.out_w());
    let argmax = &argmax[..geom.output_len() * n];
    let grad_out = &grad_out[..geom.output_len() * n];
    let grad_in = &mut grad_in[..geom.input_len() * n];
    grad_in.fill(T::zero());
    let planes = grad_in.chunks_exact_mut(plane_in);
    for ((plane, g_p), arg_p) in planes
        .zip(grad_out.chunks_exact(plane_out))
        .zip(argmax.chunks_exact(plane_out))
    {
        for (&g, &at) in g_p.iter().zip(arg_p) {
            plane[at as usize] += g;
        }
    }
    grad_in
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
    let (kh, kw) = geom.window;
    let (plane_in, plane_out) = (geom.in_h * geom.in_w, geom.out_h() * geom.out_w());
    let divisor = T::cast((kh * kw) as f64);
    let x = &x[..geom.input_len() * n];
    let out = &mut out[..geom.output_len() * n];
    for (plane, out_p) in x.chunks_exact(plane_in).zip(out.chunks_exact_mut(plane_out)) {
        windows(geom, |origin, o| {
            let mut sum = T::zero();
            for row in 0..kh {
                let start = origin + row * geom.in_w;
                for &v in &plane[start..start + kw] {
                    sum += v;
                }
            }
            out_p[o] = sum / divisor;
        });
    }
    out
}

/// The gradient of [`avg_pool_forward`] with respect to its input: each value of `grad_out`
/// (`output_len * n`), divided by `kh * kw`, is added to every position of its window, so
/// overlapping windows accumulate. Overwrites the first `input_len * n` values of `grad_in`
/// and returns them.
///
/// # Panics
/// If a buffer is shorter than stated.
pub fn avg_pool_backward<'a, T: Real>(geom: &Pool2d, grad_out: &[T], grad_in: &'a mut [T], n: usize) -> &'a mut [T] {
    let (kh, kw) = geom.window;
    let (plane_in, plane_out) = (geom.in_h * geom.in_w, geom.out_h() * geom.out_w());
    let divisor = T::cast((kh * kw) as f64);
    let grad_out = &grad_out[..geom.output_len() * n];
    let grad_in = &mut grad_in[..geom.input_len() * n];
    grad_in.fill(T::zero());
    for (plane, g_p) in grad_in.chunks_exact_mut(plane_in).zip(grad_out.chunks_exact(plane_out)) {
        windows(geom, |origin, o| {
            let share = g_p[o] / divisor;
            for row in 0..kh {
                let start = origin + row * geom.in_w;
                for v in &mut plane[start..start + kw] {
                    *v += share;
                }
            }
        });
    }
    grad_in
}
