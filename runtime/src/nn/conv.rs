//! 2-D convolution over a batch: the geometry [`Conv2d`], the forward pass
//! [`conv2d_forward`] and the backward pass [`conv2d_backward`], as a `conv2d` layer's
//! generated code calls them.
//!
//! # Layout
//! A sample is stored flat, `C * H * W` values in channel, row, column order (PyTorch's NCHW
//! for one sample); a batch is `n` such samples one after another. The output of a sample
//! has the same layout, `out_channels * out_h * out_w` values.
//!
//! The weight of PyTorch shape `[out, in, kh, kw]` is stored as every parameter tensor is
//! (see [`TensorSpec`](crate::network::TensorSpec)): an `out x (in * kh * kw)` column-major
//! matrix, element `(o, (i * kh + y) * kw + x)` at index `o + column * out`. The bias has
//! `out` values.
//!
//! # Method
//! Each sample's receptive fields are copied into a patch matrix (im2col, zero padding
//! included), `patch_len x (out_h * out_w)` with one row per weight column and one column per
//! output position, stored row by row. The output is then one matrix product per sample,
//! `W * patches + b`, computed by the [`matrixmultiply`] crate: the work per sample is
//! proportional to `out * in * kh * kw * out_h * out_w`. The backward pass recomputes the
//! patches, accumulates `dW += delta * patches^T`, and for the input gradient writes
//! `W^T * delta` into the same buffer and adds each column back to the input positions it
//! came from (col2im).
//!
//! The patch buffer holds one sample, `Conv2d::patches_len` values, and is reused across
//! the batch; every buffer is the caller's. These functions allocate nothing themselves, but
//! each call to `matrixmultiply` allocates (and frees) one packing buffer: one allocation per
//! sample in the forward pass, one or two per sample in the backward pass.
//!
//! Results are deterministic for a given CPU; `matrixmultiply` picks its kernels (with or
//! without fused multiply-add) from the CPU's features at run time, so two CPUs can differ
//! by rounding.
//!
//! # Panics
//! Like slice indexing, each function panics if a buffer is shorter than the lengths
//! documented on it (for `n` samples); a [`Conv2d`] is validated when it is built, so
//! geometry never makes them panic.

use crate::real::Real;

/// The geometry of a 2-D convolution: input and output channels, input size, kernel, stride
/// and zero padding. Built by [`Conv2d::new`] (usable in a `const`), which checks it; every
/// method is then free of overflow and division by zero.
///
/// ```
/// use retroprop_runtime::nn::conv::Conv2d;
///
/// // LeNet-5's first layer on MNIST: 1 -> 6 channels, 5x5 kernel, padding 2.
/// const CONV1: Conv2d = Conv2d::new(1, 28, 28, 6, (5, 5), (1, 1), (2, 2));
/// assert_eq!((CONV1.out_h(), CONV1.out_w()), (28, 28));
/// assert_eq!(CONV1.patch_len(), 25);
/// assert_eq!(CONV1.weight_len(), 150);
/// assert_eq!(CONV1.output_len(), 6 * 28 * 28);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2d {
    in_channels: usize,
    in_h: usize,
    in_w: usize,
    out_channels: usize,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
}

impl Conv2d {
    /// The geometry of a convolution from `in_channels` channels of `in_h x in_w` values to
    /// `out_channels` channels, with a `kernel = (kh, kw)` kernel moved by
    /// `stride = (sh, sw)` over the input padded with `padding = (ph, pw)` zeros on each side.
    ///
    /// # Panics
    /// If the geometry is invalid (see [`Conv2d::checked`]); in a `const`, that is a
    /// compile-time error:
    ///
    /// ```compile_fail,E0080
    /// use retroprop_runtime::nn::conv::Conv2d;
    /// // A 5x5 kernel does not fit a 4x4 input without padding.
    /// const BAD: Conv2d = Conv2d::new(1, 4, 4, 1, (5, 5), (1, 1), (0, 0));
    /// let _ = BAD;
    /// ```
    pub const fn new(
        in_channels: usize,
        in_h: usize,
        in_w: usize,
        out_channels: usize,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Conv2d {
        let geom = Conv2d {
            in_channels,
            in_h,
            in_w,
            out_channels,
            kernel,
            stride,
            padding,
        };
        if let Some(problem) = geom.problem() {
            panic!("{}", problem);
        }
        geom
    }

    /// [`Conv2d::new`] without the panic: `None` if a channel count, an input size, a kernel
    /// size or a stride is zero, if the kernel is larger than the padded input, or if a
    /// buffer length would overflow `usize`.
    ///
    /// ```
    /// use retroprop_runtime::nn::conv::Conv2d;
    /// assert!(Conv2d::checked(1, 4, 4, 2, (5, 5), (1, 1), (0, 0)).is_none());
    /// assert!(Conv2d::checked(1, 4, 4, 2, (5, 5), (1, 1), (1, 1)).is_some());
    /// ```
    pub const fn checked(
        in_channels: usize,
        in_h: usize,
        in_w: usize,
        out_channels: usize,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Option<Conv2d> {
        let geom = Conv2d {
            in_channels,
            in_h,
            in_w,
            out_channels,
            kernel,
            stride,
            padding,
        };
        match geom.problem() {
            None => Some(geom),
            Some(_) => None,
        }
    }

    /// What makes the geometry invalid, if anything.
    const fn problem(&self) -> Option<&'static str> {
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.stride;
        if self.in_channels == 0 || self.out_channels == 0 {
            return Some("Conv2d: channel counts must be positive");
        }
        if self.in_h == 0 || self.in_w == 0 {
            return Some("Conv2d: the input size must be positive");
        }
        if kh == 0 || kw == 0 {
            return Some("Conv2d: the kernel size must be positive");
        }
        if sh == 0 || sw == 0 {
            return Some("Conv2d: the stride must be positive");
        }
        let (Some(padded_h), Some(padded_w)) = (padded(self.in_h, self.padding.0), padded(self.in_w, self.padding.1))
        else {
            return Some("Conv2d: the padded input size overflows usize");
        };
        if kh > padded_h || kw > padded_w {
            return Some("Conv2d: the kernel is larger than the padded input");
        }
        let out_plane = ((padded_h - kh) / sh + 1).checked_mul((padded_w - kw) / sw + 1);
        let lengths = [
            product(&[self.in_channels, self.in_h, self.in_w]),
            product(&[self.in_channels, kh, kw, self.out_channels]),
            match out_plane {
                Some(plane) => product(&[plane, self.out_channels, self.in_channels, kh, kw]),
                None => None,
            },
        ];
        let mut i = 0;
        while i < lengths.len() {
            if lengths[i].is_none() {
                return Some("Conv2d: a buffer length overflows usize");
            }
            i += 1;
        }
        None
    }

    /// Input channels.
    pub const fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// Input rows (before padding).
    pub const fn in_h(&self) -> usize {
        self.in_h
    }

    /// Input columns (before padding).
    pub const fn in_w(&self) -> usize {
        self.in_w
    }

    /// Output channels (the number of filters).
    pub const fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// Kernel size `(kh, kw)`.
    pub const fn kernel(&self) -> (usize, usize) {
        self.kernel
    }

    /// Stride `(sh, sw)`.
    pub const fn stride(&self) -> (usize, usize) {
        self.stride
    }

    /// Zero padding `(ph, pw)` on each side.
    pub const fn padding(&self) -> (usize, usize) {
        self.padding
    }

    /// Output rows, `(in_h + 2 ph - kh) / sh + 1` rounded down, as PyTorch.
    pub const fn out_h(&self) -> usize {
        (self.in_h + 2 * self.padding.0 - self.kernel.0) / self.stride.0 + 1
    }

    /// Output columns, `(in_w + 2 pw - kw) / sw + 1` rounded down, as PyTorch.
    pub const fn out_w(&self) -> usize {
        (self.in_w + 2 * self.padding.1 - self.kernel.1) / self.stride.1 + 1
    }

    /// Values in one receptive field, `in_channels * kh * kw`: the weight matrix's columns.
    pub const fn patch_len(&self) -> usize {
        self.in_channels * self.kernel.0 * self.kernel.1
    }

    /// Values in one input sample, `in_channels * in_h * in_w`.
    pub const fn input_len(&self) -> usize {
        self.in_channels * self.in_h * self.in_w
    }

    /// Values in one output sample, `out_channels * out_h * out_w`.
    pub const fn output_len(&self) -> usize {
        self.out_channels * self.out_h() * self.out_w()
    }

    /// Values in the weight, `out_channels * patch_len`.
    pub const fn weight_len(&self) -> usize {
        self.out_channels * self.patch_len()
    }

    /// Values in the bias, `out_channels`.
    pub const fn bias_len(&self) -> usize {
        self.out_channels
    }

    /// Values in the patch buffer of [`conv2d_forward`] and [`conv2d_backward`]:
    /// `patch_len * out_h * out_w` (one sample).
    pub const fn patches_len(&self) -> usize {
        self.patch_len() * self.out_h() * self.out_w()
    }

    /// Multiply-adds of the forward pass per sample, `weight_len * out_h * out_w` (the
    /// backward pass does as many for the weight gradient, and as many again for the input
    /// gradient).
    pub const fn multiply_adds(&self) -> usize {
        self.weight_len() * self.out_h() * self.out_w()
    }
}

/// `len + 2 pad`, if it fits.
const fn padded(len: usize, pad: usize) -> Option<usize> {
    match pad.checked_mul(2) {
        Some(both) => len.checked_add(both),
        None => None,
    }
}

/// The product of `factors`, if it fits.
const fn product(factors: &[usize]) -> Option<usize> {
    let mut acc: usize = 1;
    let mut i = 0;
    while i < factors.len() {
        acc = match acc.checked_mul(factors[i]) {
            Some(p) => p,
            None => return None,
        };
        i += 1;
    }
    Some(acc)
}

/// The output positions `o < out_len` whose input position `o * stride + offset - pad` lies
/// in `0..in_len`, as a range `lo..hi` (empty if there are none).
#[inline]
fn valid_range(offset: usize, pad: usize, stride: usize, in_len: usize, out_len: usize) -> (usize, usize) {
    // o * stride + offset >= pad
    let lo = pad.saturating_sub(offset).div_ceil(stride).min(out_len);
    // o * stride + offset < in_len + pad
    let hi = (in_len + pad).saturating_sub(offset).div_ceil(stride).min(out_len);
    (lo, hi.max(lo))
}

/// Writes the patch matrix of one sample `x` into `patches` (`patch_len` rows of
/// `out_h * out_w` values; zeros where a receptive field covers the padding).
fn im2col<T: Real>(g: &Conv2d, x: &[T], patches: &mut [T]) {
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let (ph, pw) = g.padding;
    let (oh, ow) = (g.out_h(), g.out_w());
    let mut rows = patches.chunks_exact_mut(oh * ow);
    for plane in x.chunks_exact(g.in_h * g.in_w) {
        for ky in 0..kh {
            let (y_lo, y_hi) = valid_range(ky, ph, sh, g.in_h, oh);
            for kx in 0..kw {
                let (x_lo, x_hi) = valid_range(kx, pw, sw, g.in_w, ow);
                let Some(row) = rows.next() else { return };
                row[..y_lo * ow].fill(T::zero());
                row[y_hi * ow..].fill(T::zero());
                for oy in y_lo..y_hi {
                    let iy = oy * sh + ky - ph;
                    let src = &plane[iy * g.in_w..(iy + 1) * g.in_w];
                    let dst = &mut row[oy * ow..(oy + 1) * ow];
                    dst[..x_lo].fill(T::zero());
                    dst[x_hi..].fill(T::zero());
                    if x_lo == x_hi {
                        continue;
                    }
                    let start = x_lo * sw + kx - pw;
                    if sw == 1 {
                        dst[x_lo..x_hi].copy_from_slice(&src[start..start + (x_hi - x_lo)]);
                    } else {
                        for (d, &s) in dst[x_lo..x_hi].iter_mut().zip(src[start..].iter().step_by(sw)) {
                            *d = s;
                        }
                    }
                }
            }
        }
    }
}

/// Adds each value of the column matrix `cols` (laid out as [`im2col`]'s patches) to the
/// input position it was copied from; values at padding positions are dropped. `dx` (one
/// sample) is overwritten.
fn col2im<T: Real>(g: &Conv2d, cols: &[T], dx: &mut [T]) {
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let (ph, pw) = g.padding;
    let (oh, ow) = (g.out_h(), g.out_w());
    dx.fill(T::zero());
    let mut rows = cols.chunks_exact(oh * ow);
    for plane in dx.chunks_exact_mut(g.in_h * g.in_w) {
        for ky in 0..kh {
            let (y_lo, y_hi) = valid_range(ky, ph, sh, g.in_h, oh);
            for kx in 0..kw {
                let (x_lo, x_hi) = valid_range(kx, pw, sw, g.in_w, ow);
                let Some(row) = rows.next() else { return };
                if x_lo == x_hi {
                    continue;
                }
                for oy in y_lo..y_hi {
                    let iy = oy * sh + ky - ph;
                    let dst = &mut plane[iy * g.in_w..(iy + 1) * g.in_w];
                    let src = &row[oy * ow + x_lo..oy * ow + x_hi];
                    let start = x_lo * sw + kx - pw;
                    for (d, &s) in dst[start..].iter_mut().step_by(sw).zip(src) {
                        *d += s;
                    }
                }
            }
        }
    }
}

/// The convolution of the `n` samples of `x` (each [`Conv2d::input_len`] values) with
/// `weight` (`out x patch_len`, column-major, [`Conv2d::weight_len`] values) plus `bias`
/// ([`Conv2d::bias_len`] values), written into the first `output_len * n` values of `out`,
/// which it returns. `patches` is scratch space of at least [`Conv2d::patches_len`] values;
/// its contents on entry do not matter.
///
/// ```
/// use retroprop_runtime::nn::conv::{conv2d_forward, Conv2d};
///
/// // A 2x2 sum over a 3x3 image: one channel in, one out.
/// const G: Conv2d = Conv2d::new(1, 3, 3, 1, (2, 2), (1, 1), (0, 0));
/// let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
/// let (weight, bias) = ([1.0; 4], [0.5]);
/// let mut patches = [0.0; G.patches_len()];
/// let mut out = [0.0; G.output_len()];
/// let y = conv2d_forward(&G, &weight, &bias, &x, &mut patches, &mut out, 1);
/// assert_eq!(y, [12.5, 16.5, 24.5, 28.5]);
/// ```
///
/// # Panics
/// If a buffer is shorter than stated.
pub fn conv2d_forward<'a, T: Real>(
    geom: &Conv2d,
    weight: &[T],
    bias: &[T],
    x: &[T],
    patches: &mut [T],
    out: &'a mut [T],
    n: usize,
) -> &'a [T] {
    let (in_len, out_len) = (geom.input_len(), geom.output_len());
    let (o, k, p) = (geom.out_channels, geom.patch_len(), geom.out_h() * geom.out_w());
    let weight = &weight[..geom.weight_len()];
    let bias = &bias[..o];
    let x = &x[..in_len * n];
    let patches = &mut patches[..geom.patches_len()];
    let out = &mut out[..out_len * n];
    for (x_s, out_s) in x.chunks_exact(in_len).zip(out.chunks_exact_mut(out_len)) {
        im2col(geom, x_s, patches);
        for (channel, &b) in out_s.chunks_exact_mut(p).zip(bias) {
            channel.fill(b);
        }
        // out_s (o x p, row-major) += W (o x k, column-major) * patches (k x p, row-major)
        gemm(o, k, p, weight, (1, o), patches, (p, 1), T::one(), out_s, (p, 1));
    }
    out
}

/// The gradients of a convolution for the `n` samples of `x` (its input, as given to
/// [`conv2d_forward`]) and `delta` (the loss gradient with respect to its output, each sample
/// [`Conv2d::output_len`] values):
///
/// - `weight_grad` ([`Conv2d::weight_len`] values, column-major as the weight) is overwritten
///   with `sum_s delta_s * patches_s^T`;
/// - `bias_grad` ([`Conv2d::bias_len`] values) with the sum of `delta` over the batch and
///   the output positions of each channel;
/// - `input_grad`, if given ([`Conv2d::input_len`] values per sample), with the gradient
///   with respect to `x` (`W^T * delta_s` added back over the receptive fields); `None`
///   skips that work, for a first layer.
///
/// `patches` is scratch space of at least [`Conv2d::patches_len`] values (it holds each
/// sample's patches, then the columns of its input gradient); its contents on entry do not
/// matter.
///
/// # Panics
/// If a buffer is shorter than stated.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward<T: Real>(
    geom: &Conv2d,
    weight: &[T],
    x: &[T],
    delta: &[T],
    patches: &mut [T],
    weight_grad: &mut [T],
    bias_grad: &mut [T],
    input_grad: Option<&mut [T]>,
    n: usize,
) {
    let (in_len, out_len) = (geom.input_len(), geom.output_len());
    let (o, k, p) = (geom.out_channels, geom.patch_len(), geom.out_h() * geom.out_w());
    let weight = &weight[..geom.weight_len()];
    let x = &x[..in_len * n];
    let delta = &delta[..out_len * n];
    let patches = &mut patches[..geom.patches_len()];
    let weight_grad = &mut weight_grad[..geom.weight_len()];
    let bias_grad = &mut bias_grad[..o];
    let mut input_grad = input_grad.map(|dx| &mut dx[..in_len * n]);

    weight_grad.fill(T::zero());
    bias_grad.fill(T::zero());
    for (s, (x_s, d_s)) in x.chunks_exact(in_len).zip(delta.chunks_exact(out_len)).enumerate() {
        for (g, channel) in bias_grad.iter_mut().zip(d_s.chunks_exact(p)) {
            *g += channel.iter().fold(T::zero(), |acc, &d| acc + d);
        }
        im2col(geom, x_s, patches);
        // dW (o x k, column-major) += delta_s (o x p, row-major) * patches^T (p x k)
        gemm(o, p, k, d_s, (p, 1), patches, (1, p), T::one(), weight_grad, (1, o));
        if let Some(dx) = input_grad.as_deref_mut() {
            // cols (k x p, row-major, in the patch buffer) = W^T (k x o) * delta_s (o x p)
            gemm(k, o, p, weight, (o, 1), d_s, (p, 1), T::zero(), patches, (p, 1));
            col2im(geom, patches, &mut dx[s * in_len..(s + 1) * in_len]);
        }
    }
}

/// Number of values a strided `rows x cols` matrix spans from its first element.
#[inline]
fn span(rows: usize, cols: usize, (rs, cs): (usize, usize)) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// `c = a * b + beta * c` for `a` `m x k`, `b` `k x n` and `c` `m x n`, each given by a slice
/// and its (row, column) strides, with `matrixmultiply`'s `sgemm` or `dgemm`. If `beta` is
/// zero, `c` is not read.
///
/// # Panics
/// If a matrix does not fit in its slice, or if `c`'s strides make two of its elements
/// alias (neither column-major-like nor row-major-like). Callers pass lengths checked
/// against the geometry, so this never happens in this module.
#[allow(clippy::too_many_arguments)]
#[inline]
fn gemm<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    a_strides: (usize, usize),
    b: &[T],
    b_strides: (usize, usize),
    beta: T,
    c: &mut [T],
    c_strides: (usize, usize),
) {
    assert!(span(m, k, a_strides) <= a.len(), "gemm: A does not fit its buffer");
    assert!(span(k, n, b_strides) <= b.len(), "gemm: B does not fit its buffer");
    assert!(span(m, n, c_strides) <= c.len(), "gemm: C does not fit its buffer");
    let (rsc, csc) = c_strides;
    assert!(
        m <= 1 || n <= 1 || (rsc >= 1 && csc >= m * rsc) || (csc >= 1 && rsc >= n * csc),
        "gemm: C's strides alias"
    );
    // Every stride is at most the length of a slice (or multiplies a zero index), so it fits
    // in an `isize`.
    let s = |(r, c): (usize, usize)| (r as isize, c as isize);
    let ((rsa, csa), (rsb, csb), (rsc, csc)) = (s(a_strides), s(b_strides), s(c_strides));
    if T::DTYPE == safetensors::Dtype::F64 {
        let (a, b, c): (&[f64], &[f64], &mut [f64]) = (
            bytemuck::cast_slice(a),
            bytemuck::cast_slice(b),
            bytemuck::cast_slice_mut(c),
        );
        // SAFETY: `T` is `f64` (its dtype says so, and `cast_slice` checked the size), so the
        // slices are the caller's, unchanged. The assertions above show that each matrix,
        // with its dimensions and non-negative strides, lies within its slice, so every
        // element dgemm reads (of `a`, `b`, and of `c` when `beta != 0`) or writes (of `c`)
        // is in bounds; `c` is a `&mut` slice, so it aliases neither `a` nor `b`, and its
        // strides map distinct `(i, j)` to distinct elements (the last assertion), as dgemm
        // requires. Exercised by every `f64` test in `tests/conv.rs`.
        #[allow(unsafe_code)]
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                rsa,
                csa,
                b.as_ptr(),
                rsb,
                csb,
                beta.to_f64(),
                c.as_mut_ptr(),
                rsc,
                csc,
            );
        }
    } else if T::DTYPE == safetensors::Dtype::F32 {
        let (a, b, c): (&[f32], &[f32], &mut [f32]) = (
            bytemuck::cast_slice(a),
            bytemuck::cast_slice(b),
            bytemuck::cast_slice_mut(c),
        );
        // SAFETY: as for dgemm above, with `T` being `f32`. Exercised by the `f32` tests in
        // `tests/conv.rs` (`f32_agrees_with_f64`).
        #[allow(unsafe_code)]
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                rsa,
                csa,
                b.as_ptr(),
                rsb,
                csb,
                beta.to_f64() as f32,
                c.as_mut_ptr(),
                rsc,
                csc,
            );
        }
    } else {
        unreachable!("Real is sealed and implemented for f32 and f64 only");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ranges_match_a_direct_scan() {
        for offset in 0..4 {
            for pad in 0..4 {
                for stride in 1..4 {
                    for in_len in 1..7usize {
                        let out_len = (in_len + 2 * pad).saturating_sub(offset) / stride + 1;
                        let valid: Vec<usize> = (0..out_len)
                            .filter(|&o| {
                                let i = o * stride + offset;
                                i >= pad && i - pad < in_len
                            })
                            .collect();
                        let (lo, hi) = valid_range(offset, pad, stride, in_len, out_len);
                        assert_eq!((lo..hi).collect::<Vec<_>>(), valid, "{offset} {pad} {stride} {in_len}");
                    }
                }
            }
        }
    }

    #[test]
    fn gemm_multiplies_with_arbitrary_strides() {
        // A 2x3 column-major, B 3x2 row-major, C 2x2 row-major, both scalar types.
        let a = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let mut c = [1.0; 4];
        gemm(2, 3, 2, &a, (1, 2), &b, (2, 1), 1.0f64, &mut c, (2, 1));
        assert_eq!(c, [59.0, 65.0, 140.0, 155.0]);
        let a32 = a.map(|v| v as f32);
        let b32 = b.map(|v| v as f32);
        let mut c32 = [f32::NAN; 4];
        gemm(2, 3, 2, &a32, (1, 2), &b32, (2, 1), 0.0f32, &mut c32, (2, 1));
        assert_eq!(c32, [58.0, 64.0, 139.0, 154.0]);
    }

    #[test]
    #[should_panic(expected = "C does not fit")]
    fn gemm_rejects_a_short_output() {
        let a = [1.0f64; 4];
        let mut c = [0.0f64; 3];
        gemm(2, 2, 2, &a, (1, 2), &a, (1, 2), 0.0, &mut c, (1, 2));
    }

    #[test]
    #[should_panic(expected = "alias")]
    fn gemm_rejects_aliasing_output_strides() {
        let a = [1.0f64; 4];
        let mut c = [0.0f64; 4];
        gemm(2, 2, 2, &a, (1, 2), &a, (1, 2), 0.0, &mut c, (1, 1));
    }
}
