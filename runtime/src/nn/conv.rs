//! 2-D convolution over a batch: the geometry [`Conv2d`], the forward pass
//! [`conv2d_forward`], and the backward pass in two halves, [`conv2d_parameter_gradients`]
//! and [`conv2d_input_gradient`] (or both at once, [`conv2d_backward`]), as a `conv2d`
//! layer's generated code calls them.
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
//! Each sample's receptive fields are copied into a patch matrix (im2col), and the
//! convolution becomes matrix products done by the dense kernels ([`crate::nn::kernels`],
//! with run-time dimensions), which keep their register tiles along the longest side of each
//! product (the output positions, or the patch length) rather than along the channels, often
//! few. With `P = out_h * out_w` output positions and `K = patch_len = in * kh * kw`, per
//! sample:
//!
//! - forward: the patches by rows (`K` rows of `P` values: a `P x K` column-major matrix)
//!   times `W^T` (the weight transposed once per call) is the output, `P x out` column-major,
//!   which is the sample's channel, row, column layout; the bias is then added to each
//!   channel;
//! - input gradient: the sample's delta (`P x out`, column-major, as it is stored) times `W`
//!   gives `K` rows of `P` values laid out as the patches by rows, and each value is added back
//!   to the input position it came from (col2im; values at padding positions are dropped);
//! - parameter gradients: the patches by position (one column of `K` contiguous values per
//!   output position) and the delta transposed by position (`out` values per position) give
//!   `delta * patches^T`, added into the weight gradient (summed transposed, `K x out`, and
//!   transposed at the end when `K > out`); the bias gradient is the sum of each channel's
//!   delta.
//!
//! With padding, each sample is first copied with its zero padding (and the input gradient
//! summed with it), so that every receptive field is a plain window of the padded image.
//!
//! With a stride of 1 (the usual case), the passes need no patch matrix: each row of it is a
//! contiguous slice of the padded sample when the output positions are numbered over the
//! padded width, and the stride-1 kernels of `nn/kernels/shifted.rs` read the sample in place. The
//! forward pass computes the output at those "wide" positions (`(out_h - 1) * (in_w + 2 pw) +
//! out_w` per channel, in the scratch) and keeps the output positions, with the same bits as
//! the patch-matrix product; the weight gradient is a dot product of each channel's delta
//! (written at the wide positions, zero elsewhere) with each slice, in eight partial sums; the
//! input gradient adds each slice's share back in place. Layers of 16 output channels or more
//! (LeNet's second) put the channels along the vector lanes instead, in the forward pass and
//! the weight gradient: a product over the output positions only (no work past each output
//! row, nothing to reduce), each sum in the patch-matrix product's order (the same values; in
//! the weight gradient a sum of products that are all -0 is +0 here), with the output or the
//! delta by position in the scratch. This trades copying the patches
//! (once per pass, `in * kh * kw` values per output position) for the multiply-adds of the
//! positions past each output row (`kw - 1` per row: 12% more for LeNet's first layer, 36% for
//! its second, whose input gradient is the only pass left at the wide positions), and saves a quarter of the instructions of a LeNet training step. It is taken when
//! the output at the wide positions fits where the patch matrix would be and at most doubles
//! the work; other convolutions (strides above 1 among them) use the patch matrices.
//!
//! The work per sample is proportional to `out * in * kh * kw * out_h * out_w`
//! ([`Conv2d::multiply_adds`]). The scratch buffer ([`Conv2d::scratch_len`] values) holds one
//! sample's intermediate values and is reused across the batch; every buffer is the caller's,
//! and none of these functions allocates.
//!
//! The matrix products run on the kernel path of the dense layers ([`kernel_path`], capped by
//! the environment variable `RETROPROP_KERNELS`), and results are deterministic for a given
//! kernel path: every sum runs in a fixed order, so a sample's output and input gradient do
//! not depend on the batch size or on the sample's place in the batch, and the parameter
//! gradients are summed sample by sample, in order. As for the dense kernels, the AVX2 and
//! AVX-512 paths use fused multiply-adds, so they agree with the portable path to rounding,
//! not bit for bit. The `_on` variants ([`conv2d_forward_on`], [`conv2d_input_gradient_on`],
//! [`conv2d_parameter_gradients_on`]) take the path as an argument.
//!
//! # Panics
//! Like slice indexing, each function panics if a buffer is shorter than the lengths
//! documented on it (for `n` samples); a [`Conv2d`] is validated when it is built, so
//! geometry never makes them panic.

use crate::nn::kernels::{
    add_weight_gradient_dyn, dense_forward_dyn, kernel_path, weight_gradient_dyn, KernelPath, Kernels, Taps,
};
use crate::real::{cast, cast_mut, Real};
use safetensors::Dtype;

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
        let (patches, output) = match out_plane {
            Some(plane) => (
                product(&[plane, self.in_channels, kh, kw]),
                plane.checked_mul(self.out_channels),
            ),
            None => (None, None),
        };
        let weight = product(&[self.in_channels, kh, kw, self.out_channels]);
        let lengths = [
            product(&[self.in_channels, self.in_h, self.in_w]),
            weight,
            match out_plane {
                Some(plane) => product(&[plane, self.out_channels, self.in_channels, kh, kw]),
                None => None,
            },
            // The scratch buffer (with the padded input's length, or more).
            sum(&[
                patches,
                output,
                weight,
                product(&[self.in_channels, padded_h, padded_w]),
            ]),
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

    /// Values in one sample's patch matrix, `patch_len * out_h * out_w`: the first part of the
    /// scratch buffer ([`Conv2d::scratch_len`]).
    pub const fn patches_len(&self) -> usize {
        self.patch_len() * self.out_h() * self.out_w()
    }

    /// Values of scratch space one call of [`conv2d_forward`], [`conv2d_input_gradient`],
    /// [`conv2d_parameter_gradients`] or [`conv2d_backward`] needs (for one sample: the buffer
    /// is reused across the batch): room for one sample's patch matrix or the columns of its
    /// input gradient ([`Conv2d::patches_len`]), its delta by output position (`out_channels`
    /// values per position, [`Conv2d::output_len`] in all), a weight-sized block (the weight
    /// transposed in the forward pass, the weight gradient transposed while it is summed,
    /// [`Conv2d::weight_len`]) and, if there is padding, one sample with its padding
    /// (`in_channels * (in_h + 2 ph) * (in_w + 2 pw)` values).
    ///
    /// ```
    /// use retroprop_runtime::nn::conv::Conv2d;
    /// const CONV2: Conv2d = Conv2d::new(6, 14, 14, 16, (5, 5), (1, 1), (0, 0));
    /// assert_eq!(CONV2.scratch_len(), 150 * 10 * 10 + 16 * 10 * 10 + 16 * 150);
    /// assert_eq!(CONV2.scratch_len(), CONV2.patches_len() + CONV2.output_len() + CONV2.weight_len());
    /// // With padding, one padded sample more: 1 x 32 x 32 values.
    /// const CONV1: Conv2d = Conv2d::new(1, 28, 28, 6, (5, 5), (1, 1), (2, 2));
    /// assert_eq!(CONV1.scratch_len(), 25 * 784 + 6 * 784 + 6 * 25 + 32 * 32);
    /// ```
    pub const fn scratch_len(&self) -> usize {
        self.patches_len() + self.output_len() + self.weight_len() + self.padded_len()
    }

    /// The padded input's size per channel, `(in_h + 2 ph, in_w + 2 pw)`.
    const fn padded_size(&self) -> (usize, usize) {
        (self.in_h + 2 * self.padding.0, self.in_w + 2 * self.padding.1)
    }

    /// Values in one padded sample (the scratch buffer's last part): `in * (in_h + 2 ph) *
    /// (in_w + 2 pw)`, or 0 without padding.
    const fn padded_len(&self) -> usize {
        if self.padding.0 == 0 && self.padding.1 == 0 {
            0
        } else {
            let (hp, wp) = self.padded_size();
            self.in_channels * hp * wp
        }
    }

    /// Where the receptive fields are in a padded sample, for the stride-1 kernels.
    fn taps(&self) -> Taps {
        let (hp, wp) = self.padded_size();
        Taps {
            channels: self.in_channels,
            plane: hp * wp,
            row: wp,
            kh: self.kernel.0,
            kw: self.kernel.1,
        }
    }

    /// The positions over the padded width the stride-1 kernels compute,
    /// `(out_h - 1) * (in_w + 2 pw) + out_w` (see [`crate::nn::kernels`]'s stride-1 kernels).
    fn wide(&self) -> usize {
        self.taps().wide(self.out_h(), self.out_w())
    }

    /// Whether the passes run the stride-1 kernels, without a patch matrix: with a stride of
    /// 1, when the output at the wide positions fits where the patch matrix would be, and
    /// computing the positions past each output row at most doubles the work.
    fn shifted(&self) -> bool {
        let positions = self.out_h() * self.out_w();
        self.stride.0 == 1
            && self.stride.1 == 1
            && self.out_channels * self.wide() <= self.patches_len()
            && self.wide() <= 2 * positions
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

/// The sum of `terms`, if each is known and the sum fits.
const fn sum(terms: &[Option<usize>]) -> Option<usize> {
    let mut acc: usize = 0;
    let mut i = 0;
    while i < terms.len() {
        acc = match terms[i] {
            Some(term) => match acc.checked_add(term) {
                Some(s) => s,
                None => return None,
            },
            None => return None,
        };
        i += 1;
    }
    Some(acc)
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

/// The sample `x` with its zero padding around each channel, `in x (in_h + 2 ph) x
/// (in_w + 2 pw)` values: `x` itself without padding, else `x` copied into `buffer`
/// ([`Conv2d::padded_len`] values) whose padding must already be zero (only the image is
/// written, so it stays zero from sample to sample).
fn padded_sample<'b, T: Real>(g: &Conv2d, x: &'b [T], buffer: &'b mut [T]) -> &'b [T] {
    if g.padding == (0, 0) {
        return x;
    }
    let (ph, pw) = g.padding;
    let (hp, wp) = g.padded_size();
    let buffer = &mut buffer[..g.padded_len()];
    for (plane, padded_plane) in x.chunks_exact(g.in_h * g.in_w).zip(buffer.chunks_exact_mut(hp * wp)) {
        for (y, row) in plane.chunks_exact(g.in_w).enumerate() {
            copy_row(&mut padded_plane[(y + ph) * wp + pw..][..g.in_w], row);
        }
    }
    buffer
}

/// Writes the patch matrix of one sample into `patches` by rows: `patch_len` rows of
/// `out_h * out_w` values, one row per weight column (channel, kernel row, kernel column) and
/// one value per output position (row, column order). As a matrix, `positions x patch_len`,
/// column-major. `padded` is the sample with its padding ([`padded_sample`]).
fn im2col_rows<T: Real>(g: &Conv2d, padded: &[T], patches: &mut [T]) {
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let (hp, wp) = g.padded_size();
    let ow = g.out_w();
    let mut rows = patches.chunks_exact_mut(g.out_h() * ow);
    for plane in padded.chunks_exact(hp * wp) {
        for ky in 0..kh {
            for kx in 0..kw {
                let Some(row) = rows.next() else { return };
                for (oy, dst) in row.chunks_exact_mut(ow).enumerate() {
                    let src = &plane[(oy * sh + ky) * wp + kx..];
                    if sw == 1 {
                        copy_row(dst, src);
                    } else {
                        for (d, &s) in dst.iter_mut().zip(src.iter().step_by(sw)) {
                            *d = s;
                        }
                    }
                }
            }
        }
    }
}

/// Adds each value of `cols` (laid out as [`im2col_rows`]'s patches) to the input position it
/// was copied from, into `dx` (one sample's input gradient, overwritten). Without padding,
/// directly; else into `buffer` ([`Conv2d::padded_len`] values, the gradient with its
/// padding), whose image part is then copied into `dx` (the values at padding positions are
/// dropped).
fn col2im<T: Real>(g: &Conv2d, cols: &[T], buffer: &mut [T], dx: &mut [T]) {
    if g.padding == (0, 0) {
        return col2im_padded(g, cols, dx);
    }
    let buffer = &mut buffer[..g.padded_len()];
    col2im_padded(g, cols, buffer);
    crop(g, buffer, dx);
}

/// Copies the image part of `padded` (one sample with its padding, [`Conv2d::padded_len`]
/// values) into `dx` ([`Conv2d::input_len`] values).
fn crop<T: Real>(g: &Conv2d, padded: &[T], dx: &mut [T]) {
    let (ph, pw) = g.padding;
    let (hp, wp) = g.padded_size();
    for (padded_plane, plane) in padded.chunks_exact(hp * wp).zip(dx.chunks_exact_mut(g.in_h * g.in_w)) {
        for (y, row) in plane.chunks_exact_mut(g.in_w).enumerate() {
            copy_row(row, &padded_plane[(y + ph) * wp + pw..]);
        }
    }
}

/// [`col2im`] into the padded gradient `padded` (overwritten).
fn col2im_padded<T: Real>(g: &Conv2d, cols: &[T], padded: &mut [T]) {
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let (hp, wp) = g.padded_size();
    let ow = g.out_w();
    padded.fill(T::zero());
    let mut rows = cols.chunks_exact(g.out_h() * ow);
    for plane in padded.chunks_exact_mut(hp * wp) {
        for ky in 0..kh {
            for kx in 0..kw {
                let Some(row) = rows.next() else { return };
                for (oy, src) in row.chunks_exact(ow).enumerate() {
                    let dst = &mut plane[(oy * sh + ky) * wp + kx..];
                    if sw == 1 {
                        // (A loop the compiler vectorizes; `step_by` with a run-time step is not.)
                        for (d, &s) in dst.iter_mut().zip(src) {
                            *d += s;
                        }
                    } else {
                        for (d, &s) in dst.iter_mut().step_by(sw).zip(src) {
                            *d += s;
                        }
                    }
                }
            }
        }
    }
}

/// Writes the patch matrix of one sample into `patches` by positions: one column of
/// `patch_len` values per output position (positions in row, column order), each the
/// position's receptive field in weight-column order (channel, kernel row, kernel column). As
/// a matrix, `patch_len x positions`, column-major: the transpose of [`im2col_rows`]'s.
/// `padded` is the sample with its padding ([`padded_sample`]).
///
/// Each kernel row of a channel is copied for all the positions of an output row at once
/// (runs of `kw` values, of a width known at compile time for the usual kernels).
fn im2col_positions<T: Real>(g: &Conv2d, padded: &[T], patches: &mut [T]) {
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let (hp, wp) = g.padded_size();
    let (ow, k) = (g.out_w(), g.patch_len());
    for (oy, row) in patches.chunks_exact_mut(ow * k).enumerate() {
        for (c, plane) in padded.chunks_exact(hp * wp).enumerate() {
            for ky in 0..kh {
                let src = &plane[(oy * sh + ky) * wp..];
                let dst = &mut row[(c * kh + ky) * kw..];
                copy_runs(kw, src, sw, dst, k, ow);
            }
        }
    }
}

/// Copies `count` runs of `width` values: run `j` of `from` starts at `j * from_step`, run `j`
/// of `to` at `j * to_step`. Widths up to 7 are compiled separately, as fixed-size moves; wider
/// runs go through [`copy_row`].
#[inline]
fn copy_runs<T: Real>(width: usize, from: &[T], from_step: usize, to: &mut [T], to_step: usize, count: usize) {
    macro_rules! by_width {
        ($($w:literal)*) => {
            match width {
                $($w => copy_runs_of::<T, $w>($w, from, from_step, to, to_step, count),)*
                _ => copy_runs_of::<T, 0>(width, from, from_step, to, to_step, count),
            }
        };
    }
    by_width!(1 2 3 4 5 6 7);
}

/// [`copy_runs`] of width `W` (or `width` if `W` is 0).
#[inline(always)]
fn copy_runs_of<T: Real, const W: usize>(
    width: usize,
    from: &[T],
    from_step: usize,
    to: &mut [T],
    to_step: usize,
    count: usize,
) {
    for j in 0..count {
        if W == 0 {
            copy_row(&mut to[j * to_step..][..width], &from[j * from_step..]);
        } else {
            to[j * to_step..][..W].copy_from_slice(&from[j * from_step..][..W]);
        }
    }
}

/// `to.copy_from_slice(&from[..to.len()])` for short rows, without a call to `memcpy` (which
/// costs more than copying a few dozen values, and which the compiler makes of a plain copy
/// loop): blocks of 8 values, then the rest, as fixed-size moves.
#[inline(always)]
fn copy_row<T: Copy>(to: &mut [T], from: &[T]) {
    let from = &from[..to.len()];
    let mut to_blocks = to.chunks_exact_mut(8);
    let mut from_blocks = from.chunks_exact(8);
    for (t, f) in (&mut to_blocks).zip(&mut from_blocks) {
        t.copy_from_slice(f);
    }
    let (t, f) = (to_blocks.into_remainder(), from_blocks.remainder());
    macro_rules! tail {
        ($($w:literal)*) => {
            match t.len() {
                $($w => t[..$w].copy_from_slice(&f[..$w]),)*
                _ => {}
            }
        };
    }
    tail!(1 2 3 4 5 6 7);
}

/// Writes the transpose of `from` (`rows x cols`, column-major: element `(r, c)` at
/// `r + c * rows`) into `to` (element `(r, c)` at `c + r * cols`): a sample's delta from its
/// channel, row, column layout (`positions x channels`, column-major) to its by-position
/// layout, the weight to `W^T`, and the transposed weight gradient back.
fn transpose<T: Real>(from: &[T], to: &mut [T], rows: usize, cols: usize) {
    /// Side of the square blocks moved through registers.
    const B: usize = 4;
    let (from, to) = (&from[..rows * cols], &mut to[..rows * cols]);
    let (block_rows, block_cols) = (rows - rows % B, cols - cols % B);
    for r in (0..block_rows).step_by(B) {
        for c in (0..block_cols).step_by(B) {
            let mut block = [[T::zero(); B]; B];
            for (j, column) in block.iter_mut().enumerate() {
                column.copy_from_slice(&from[(c + j) * rows + r..][..B]);
            }
            for i in 0..B {
                let row = &mut to[(r + i) * cols + c..][..B];
                for (t, column) in row.iter_mut().zip(&block) {
                    *t = column[i];
                }
            }
        }
    }
    // The edges: the last columns of the blocked rows, then the last rows.
    for r in 0..block_rows {
        for c in block_cols..cols {
            to[r * cols + c] = from[c * rows + r];
        }
    }
    for r in block_rows..rows {
        for (t, &f) in to[r * cols..(r + 1) * cols]
            .iter_mut()
            .zip(from[r..].iter().step_by(rows))
        {
            *t = f;
        }
    }
}

/// The convolution of the `n` samples of `x` (each [`Conv2d::input_len`] values) with
/// `weight` (`out x patch_len`, column-major, [`Conv2d::weight_len`] values) plus `bias`
/// ([`Conv2d::bias_len`] values), written into the first `output_len * n` values of `out`,
/// which it returns. `scratch` is scratch space of at least [`Conv2d::scratch_len`] values;
/// its contents on entry do not matter.
///
/// ```
/// use retroprop_runtime::nn::conv::{conv2d_forward, Conv2d};
///
/// // A 2x2 sum over a 3x3 image: one channel in, one out.
/// const G: Conv2d = Conv2d::new(1, 3, 3, 1, (2, 2), (1, 1), (0, 0));
/// let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
/// let (weight, bias) = ([1.0; 4], [0.5]);
/// let mut scratch = [0.0; G.scratch_len()];
/// let mut out = [0.0; G.output_len()];
/// let y = conv2d_forward(&G, &weight, &bias, &x, &mut scratch, &mut out, 1);
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
    scratch: &mut [T],
    out: &'a mut [T],
    n: usize,
) -> &'a [T] {
    conv2d_forward_on(kernel_path(), geom, weight, bias, x, scratch, out, n)
}

/// The body of [`conv2d_forward_on`], generic: instantiated for `f32` and `f64` by `instances!`.
#[allow(clippy::too_many_arguments)]
fn forward_on<T: Real>(
    path: KernelPath,
    geom: &Conv2d,
    weight: &[T],
    bias: &[T],
    x: &[T],
    scratch: &mut [T],
    out: &mut [T],
    n: usize,
) {
    if geom.shifted() {
        forward_shifted(path, geom, weight, bias, x, scratch, out, n);
    } else {
        forward_im2col(path, geom, weight, bias, x, scratch, out, n);
    }
}

/// [`forward_on`] with a patch matrix per sample.
#[allow(clippy::too_many_arguments)]
fn forward_im2col<'a, T: Real>(
    path: KernelPath,
    geom: &Conv2d,
    weight: &[T],
    bias: &[T],
    x: &[T],
    scratch: &mut [T],
    out: &'a mut [T],
    n: usize,
) -> &'a [T] {
    let (in_len, out_len) = (geom.input_len(), geom.output_len());
    let (o, k, p) = (geom.out_channels, geom.patch_len(), geom.out_h() * geom.out_w());
    let weight = &weight[..geom.weight_len()];
    let bias = &bias[..o];
    let x = &x[..in_len * n];
    let out = &mut out[..out_len * n];
    let Scratch {
        patches,
        positions,
        weight: weight_t,
        padded,
    } = Scratch::split(geom, scratch);
    let zeros = Scratch::zeros(positions, geom);
    padded.fill(T::zero());
    // W^T, `patch_len x out` column-major: one column of `patch_len` weights per channel.
    transpose(weight, weight_t, o, k);
    for (x_s, out_s) in x.chunks_exact(in_len).zip(out.chunks_exact_mut(out_len)) {
        im2col_rows(geom, padded_sample(geom, x_s, padded), patches);
        // out_s (p x o, column-major: the channels one after another) = patches (p x k) * W^T.
        dense_forward_dyn(path, patches, zeros, weight_t, &mut *out_s, p, k, o);
        for (channel, &b) in out_s.chunks_exact_mut(p).zip(bias) {
            for v in channel {
                *v += b;
            }
        }
    }
    out
}

/// The gradient of a convolution with respect to its input, for the `n` samples of `delta`
/// (the loss gradient with respect to its output, each sample [`Conv2d::output_len`] values):
/// `W^T * delta_s` added back over the receptive fields, written into the first
/// `input_len * n` values of `input_grad` ([`Conv2d::input_len`] values per sample), which it
/// returns. Input positions no window covers get zero. `scratch` is scratch space of at least
/// [`Conv2d::scratch_len`] values; its contents on entry do not matter.
///
/// # Panics
/// If a buffer is shorter than stated.
pub fn conv2d_input_gradient<'a, T: Real>(
    geom: &Conv2d,
    weight: &[T],
    delta: &[T],
    scratch: &mut [T],
    input_grad: &'a mut [T],
    n: usize,
) -> &'a mut [T] {
    conv2d_input_gradient_on(kernel_path(), geom, weight, delta, scratch, input_grad, n)
}

/// The body of [`conv2d_input_gradient_on`], generic: instantiated for `f32` and `f64` by `instances!`.
fn input_gradient_on<T: Real>(
    path: KernelPath,
    geom: &Conv2d,
    weight: &[T],
    delta: &[T],
    scratch: &mut [T],
    input_grad: &mut [T],
    n: usize,
) {
    if geom.shifted() {
        input_gradient_shifted(path, geom, weight, delta, scratch, input_grad, n);
    } else {
        input_gradient_im2col(path, geom, weight, delta, scratch, input_grad, n);
    }
}

/// [`input_gradient_on`] with the columns of a patch matrix per sample.
fn input_gradient_im2col<'a, T: Real>(
    path: KernelPath,
    geom: &Conv2d,
    weight: &[T],
    delta: &[T],
    scratch: &mut [T],
    input_grad: &'a mut [T],
    n: usize,
) -> &'a mut [T] {
    let (in_len, out_len) = (geom.input_len(), geom.output_len());
    let (o, k, p) = (geom.out_channels, geom.patch_len(), geom.out_h() * geom.out_w());
    let weight = &weight[..geom.weight_len()];
    let delta = &delta[..out_len * n];
    let input_grad = &mut input_grad[..in_len * n];
    let Scratch {
        patches: cols,
        positions,
        padded,
        ..
    } = Scratch::split(geom, scratch);
    let zeros = Scratch::zeros(positions, geom);
    for (d_s, dx_s) in delta.chunks_exact(out_len).zip(input_grad.chunks_exact_mut(in_len)) {
        // cols (p x k, column-major: laid out as im2col_rows's patches) = delta_s (p x o: the
        // channels one after another) * W (o x k).
        let cols = dense_forward_dyn(path, d_s, zeros, weight, &mut *cols, p, o, k);
        col2im(geom, cols, padded, dx_s);
    }
    input_grad
}

/// The parameter gradients of a convolution for the `n` samples of `x` (its input, as given
/// to [`conv2d_forward`]) and `delta` (the loss gradient with respect to its output, each
/// sample [`Conv2d::output_len`] values):
///
/// - `weight_grad` ([`Conv2d::weight_len`] values, column-major as the weight) is overwritten
///   with `sum_s delta_s * patches_s^T`;
/// - `bias_grad` ([`Conv2d::bias_len`] values) with the sum of `delta` over the batch and
///   the output positions of each channel.
///
/// An empty batch gives zeros. `scratch` is scratch space of at least [`Conv2d::scratch_len`]
/// values; its contents on entry do not matter.
///
/// # Panics
/// If a buffer is shorter than stated.
pub fn conv2d_parameter_gradients<T: Real>(
    geom: &Conv2d,
    x: &[T],
    delta: &[T],
    scratch: &mut [T],
    weight_grad: &mut [T],
    bias_grad: &mut [T],
    n: usize,
) {
    conv2d_parameter_gradients_on(kernel_path(), geom, x, delta, scratch, weight_grad, bias_grad, n);
}

/// The body of [`conv2d_parameter_gradients_on`], generic: instantiated for `f32` and `f64` by `instances!`.
#[allow(clippy::too_many_arguments)]
fn parameter_gradients_on<T: Real>(
    path: KernelPath,
    geom: &Conv2d,
    x: &[T],
    delta: &[T],
    scratch: &mut [T],
    weight_grad: &mut [T],
    bias_grad: &mut [T],
    n: usize,
) {
    if geom.shifted() {
        return parameter_gradients_shifted(path, geom, x, delta, scratch, weight_grad, bias_grad, n);
    }
    // The weight gradient's longer side goes along the kernel's register tiles.
    let transposed = geom.patch_len() > geom.out_channels;
    parameter_gradients(path, geom, x, delta, scratch, weight_grad, bias_grad, n, transposed);
}

/// [`conv2d_parameter_gradients_on`], the weight gradient summed as `dW^T` (`patch_len x out`,
/// in the scratch block, transposed into `weight_grad` at the end) if `transposed`, else as
/// `dW` directly. Both give the same bits: the same products, summed in the same order.
#[allow(clippy::too_many_arguments)]
fn parameter_gradients<T: Real>(
    path: KernelPath,
    geom: &Conv2d,
    x: &[T],
    delta: &[T],
    scratch: &mut [T],
    weight_grad: &mut [T],
    bias_grad: &mut [T],
    n: usize,
    transposed: bool,
) {
    let (in_len, out_len) = (geom.input_len(), geom.output_len());
    let (o, k, p) = (geom.out_channels, geom.patch_len(), geom.out_h() * geom.out_w());
    let x = &x[..in_len * n];
    let delta = &delta[..out_len * n];
    let weight_grad = &mut weight_grad[..geom.weight_len()];
    let bias_grad = &mut bias_grad[..o];
    let Scratch {
        patches,
        positions,
        weight: grad_t,
        padded,
    } = Scratch::split(geom, scratch);
    bias_grad.fill(T::zero());
    if n == 0 {
        weight_grad.fill(T::zero());
        return;
    }
    padded.fill(T::zero());
    for (s, (x_s, d_s)) in x.chunks_exact(in_len).zip(delta.chunks_exact(out_len)).enumerate() {
        for (g, channel) in bias_grad.iter_mut().zip(d_s.chunks_exact(p)) {
            *g += lane_sum(channel);
        }
        im2col_positions(geom, padded_sample(geom, x_s, padded), patches);
        // delta_s by position: o x p, column-major.
        transpose(d_s, positions, p, o);
        let (grad, d, a, rows, cols) = if transposed {
            (&mut *grad_t, &*patches, &*positions, k, o)
        } else {
            (&mut *weight_grad, &*positions, &*patches, o, k)
        };
        // grad (rows x cols) = or += d (rows x p) * a^T (p x cols): the first sample
        // overwrites, the others add.
        if s == 0 {
            weight_gradient_dyn(path, grad, d, a, rows, cols, p);
        } else {
            add_weight_gradient_dyn(path, grad, d, a, rows, cols, p);
        }
    }
    if transposed {
        transpose(grad_t, weight_grad, k, o);
    }
}

/// [`forward_on`] with the stride-1 kernels: each sample's output at the wide positions (in
/// the scratch's patch space), then its output positions plus the bias. The same bits as
/// [`forward_im2col`].
#[allow(clippy::too_many_arguments)]
fn forward_shifted<T: Real>(
    path: KernelPath,
    geom: &Conv2d,
    weight: &[T],
    bias: &[T],
    x: &[T],
    scratch: &mut [T],
    out: &mut [T],
    n: usize,
) {
    let (in_len, out_len) = (geom.input_len(), geom.output_len());
    let (o, ow, positions) = (geom.out_channels, geom.out_w(), geom.out_h() * geom.out_w());
    let (taps, wide) = (geom.taps(), geom.wide());
    let weight = &weight[..geom.weight_len()];
    let bias = &bias[..o];
    let Scratch {
        patches,
        positions: by_position,
        padded,
        ..
    } = Scratch::split(geom, scratch);
    let at_wide = &mut patches[..o * wide];
    padded.fill(T::zero());
    for (x_s, out_s) in x[..in_len * n]
        .chunks_exact(in_len)
        .zip(out[..out_len * n].chunks_exact_mut(out_len))
    {
        let sample = padded_sample(geom, x_s, padded);
        if o >= CHANNELS_IN_LANES {
            let (oh, ow) = (geom.out_h(), geom.out_w());
            <T as Kernels>::shifted_forward_by_position(path, sample, weight, by_position, taps, oh, ow, o);
            // By position to by channel, plus the bias.
            transpose(by_position, out_s, o, positions);
            for (channel, &b) in out_s.chunks_exact_mut(positions).zip(bias) {
                for v in channel {
                    *v += b;
                }
            }
            continue;
        }
        <T as Kernels>::shifted_forward(path, sample, weight, at_wide, taps, wide, o);
        for ((channel, from), &b) in out_s.chunks_exact_mut(positions).zip(at_wide.chunks(wide)).zip(bias) {
            for (oy, row) in channel.chunks_exact_mut(ow).enumerate() {
                for (v, &f) in row.iter_mut().zip(&from[oy * taps.row..]) {
                    *v = f + b;
                }
            }
        }
    }
}

/// Writes one sample's delta (`out` channels of `out_h x out_w` values) at the wide positions
/// of `at_wide` (`out` channels of [`Conv2d::wide`] values), leaving the positions past each
/// output row as they are (zero).
fn delta_at_wide<T: Real>(geom: &Conv2d, d_s: &[T], at_wide: &mut [T]) {
    let (ow, positions, wide, row) = (geom.out_w(), geom.out_h() * geom.out_w(), geom.wide(), geom.taps().row);
    for (channel, to) in d_s.chunks_exact(positions).zip(at_wide.chunks_mut(wide)) {
        for (oy, from) in channel.chunks_exact(ow).enumerate() {
            copy_row(&mut to[oy * row..oy * row + ow], from);
        }
    }
}

/// [`input_gradient_on`] with the stride-1 kernels: the products of [`input_gradient_im2col`],
/// added to each input position in another (fixed) order.
fn input_gradient_shifted<T: Real>(
    path: KernelPath,
    geom: &Conv2d,
    weight: &[T],
    delta: &[T],
    scratch: &mut [T],
    input_grad: &mut [T],
    n: usize,
) {
    let (in_len, out_len) = (geom.input_len(), geom.output_len());
    let (o, taps, wide) = (geom.out_channels, geom.taps(), geom.wide());
    let weight = &weight[..geom.weight_len()];
    let Scratch { patches, padded, .. } = Scratch::split(geom, scratch);
    let at_wide = &mut patches[..o * wide];
    at_wide.fill(T::zero());
    let samples = delta[..out_len * n].chunks_exact(out_len);
    for (d_s, dx_s) in samples.zip(input_grad[..in_len * n].chunks_exact_mut(in_len)) {
        delta_at_wide(geom, d_s, at_wide);
        if geom.padding == (0, 0) {
            dx_s.fill(T::zero());
            <T as Kernels>::shifted_input_gradient(path, weight, at_wide, dx_s, taps, wide, o);
        } else {
            let padded = &mut padded[..geom.padded_len()];
            padded.fill(T::zero());
            <T as Kernels>::shifted_input_gradient(path, weight, at_wide, padded, taps, wide, o);
            crop(geom, padded, dx_s);
        }
    }
}

/// [`conv2d_parameter_gradients_on`] with the stride-1 kernels: each sample's weight gradient,
/// added to `weight_grad`, is a set of dot products over the wide positions (fewer than
/// [`CHANNELS_IN_LANES`] output channels) or a product over the output positions with the
/// channels along the vector lanes, in the order of the patch-matrix product.
#[allow(clippy::too_many_arguments)]
fn parameter_gradients_shifted<T: Real>(
    path: KernelPath,
    geom: &Conv2d,
    x: &[T],
    delta: &[T],
    scratch: &mut [T],
    weight_grad: &mut [T],
    bias_grad: &mut [T],
    n: usize,
) {
    let (in_len, out_len) = (geom.input_len(), geom.output_len());
    let (o, positions) = (geom.out_channels, geom.out_h() * geom.out_w());
    let (taps, wide) = (geom.taps(), geom.wide());
    let weight_grad = &mut weight_grad[..geom.weight_len()];
    let bias_grad = &mut bias_grad[..o];
    let Scratch {
        patches,
        positions: by_position,
        padded,
        ..
    } = Scratch::split(geom, scratch);
    let at_wide = &mut patches[..o * wide];
    bias_grad.fill(T::zero());
    weight_grad.fill(T::zero());
    at_wide.fill(T::zero());
    padded.fill(T::zero());
    let by_channel = o < CHANNELS_IN_LANES;
    let samples = x[..in_len * n].chunks_exact(in_len);
    for (x_s, d_s) in samples.zip(delta[..out_len * n].chunks_exact(out_len)) {
        for (g, channel) in bias_grad.iter_mut().zip(d_s.chunks_exact(positions)) {
            *g += lane_sum(channel);
        }
        let sample = padded_sample(geom, x_s, padded);
        if by_channel {
            delta_at_wide(geom, d_s, at_wide);
            <T as Kernels>::shifted_weight_gradient(path, sample, at_wide, weight_grad, taps, wide, o);
        } else {
            // The delta by position: `o` values for each output position.
            transpose(d_s, by_position, positions, o);
            let (oh, ow) = (geom.out_h(), geom.out_w());
            <T as Kernels>::shifted_weight_gradient_by_position(
                path,
                sample,
                by_position,
                weight_grad,
                taps,
                oh,
                ow,
                o,
            );
        }
    }
}

/// The output channels from which the stride-1 forward pass and weight gradient put the
/// channels along the vector lanes (a product over the output positions, in order: no work at
/// the positions past each output row, nothing to reduce) instead of working along the wide
/// positions (a dot product per weight, in the weight gradient). The same for every kernel
/// path, so that the paths agree.
const CHANNELS_IN_LANES: usize = 16;

/// The sum of `values` in eight partial sums (value `m` goes to lane `m % 8`), added pairwise
/// at the end: the adds of different lanes do not wait on each other, and the order is fixed.
fn lane_sum<T: Real>(values: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let mut chunks = values.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    for (lane, &v) in lanes.iter_mut().zip(chunks.remainder()) {
        *lane += v;
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
}

/// A call's scratch buffer ([`Conv2d::scratch_len`] values), split into its parts.
struct Scratch<'a, T> {
    /// One sample's patches (either layout), or the input gradient's columns:
    /// [`Conv2d::patches_len`] values.
    patches: &'a mut [T],
    /// One sample's delta by position (`out x positions`, column-major), or its output by
    /// position (the stride-1 forward pass of 16 channels or more), or (its first `out_h *
    /// out_w` values) zeros: [`Conv2d::output_len`] values.
    positions: &'a mut [T],
    /// `W^T` in the forward pass, the transposed weight gradient in the parameter gradients:
    /// [`Conv2d::weight_len`] values.
    weight: &'a mut [T],
    /// One sample (or its input gradient) with its padding: [`Conv2d::padded_len`] values
    /// (none without padding).
    padded: &'a mut [T],
}

impl<'a, T: Real> Scratch<'a, T> {
    /// Splits the first [`Conv2d::scratch_len`] values of `scratch`.
    ///
    /// # Panics
    /// If `scratch` is shorter.
    fn split(geom: &Conv2d, scratch: &'a mut [T]) -> Scratch<'a, T> {
        let (patches, rest) = scratch[..geom.scratch_len()].split_at_mut(geom.patches_len());
        let (positions, rest) = rest.split_at_mut(geom.output_len());
        let (weight, padded) = rest.split_at_mut(geom.weight_len());
        Scratch {
            patches,
            positions,
            weight,
            padded,
        }
    }

    /// `out_h * out_w` zeros in the space of `positions`: the zero bias of the forward kernel
    /// when it has one row per output position.
    fn zeros<'b>(positions: &'b mut [T], geom: &Conv2d) -> &'b [T] {
        let zeros = &mut positions[..geom.out_h() * geom.out_w()];
        zeros.fill(T::zero());
        zeros
    }
}

/// [`conv2d_forward`] on a given kernel path (the widest supported one not wider than `path`).
///
/// # Panics
/// If a buffer is shorter than stated.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward_on<'a, T: Real>(
    path: KernelPath,
    geom: &Conv2d,
    weight: &[T],
    bias: &[T],
    x: &[T],
    scratch: &mut [T],
    out: &'a mut [T],
    n: usize,
) -> &'a [T] {
    let len = geom.output_len() * n;
    match T::DTYPE {
        Dtype::F32 => forward_f32(
            path,
            geom,
            cast(weight),
            cast(bias),
            cast(x),
            cast_mut(scratch),
            cast_mut(out),
            n,
        ),
        _ => forward_f64(
            path,
            geom,
            cast(weight),
            cast(bias),
            cast(x),
            cast_mut(scratch),
            cast_mut(out),
            n,
        ),
    }
    &out[..len]
}

/// [`conv2d_input_gradient`] on a given kernel path (the widest supported one not wider than
/// `path`).
///
/// # Panics
/// If a buffer is shorter than stated.
pub fn conv2d_input_gradient_on<'a, T: Real>(
    path: KernelPath,
    geom: &Conv2d,
    weight: &[T],
    delta: &[T],
    scratch: &mut [T],
    input_grad: &'a mut [T],
    n: usize,
) -> &'a mut [T] {
    let len = geom.input_len() * n;
    match T::DTYPE {
        Dtype::F32 => input_gradient_f32(
            path,
            geom,
            cast(weight),
            cast(delta),
            cast_mut(scratch),
            cast_mut(input_grad),
            n,
        ),
        _ => input_gradient_f64(
            path,
            geom,
            cast(weight),
            cast(delta),
            cast_mut(scratch),
            cast_mut(input_grad),
            n,
        ),
    }
    &mut input_grad[..len]
}

/// [`conv2d_parameter_gradients`] on a given kernel path (the widest supported one not wider
/// than `path`).
///
/// # Panics
/// If a buffer is shorter than stated.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_parameter_gradients_on<T: Real>(
    path: KernelPath,
    geom: &Conv2d,
    x: &[T],
    delta: &[T],
    scratch: &mut [T],
    weight_grad: &mut [T],
    bias_grad: &mut [T],
    n: usize,
) {
    let (dw, db) = (weight_grad, bias_grad);
    match T::DTYPE {
        Dtype::F32 => parameter_gradients_f32(
            path,
            geom,
            cast(x),
            cast(delta),
            cast_mut(scratch),
            cast_mut(dw),
            cast_mut(db),
            n,
        ),
        _ => parameter_gradients_f64(
            path,
            geom,
            cast(x),
            cast(delta),
            cast_mut(scratch),
            cast_mut(dw),
            cast_mut(db),
            n,
        ),
    }
}

// The kernels for `f32` and `f64`, instantiated here, in the runtime, rather than in each crate
// that calls the generic functions above: they are compiled once, with the runtime's
// optimization level (a user's debug build, or a test at opt-level 0, still gets fast
// convolutions), and a network's crate compiles no convolution code of its own.
macro_rules! instances {
    ($($t:ident: $forward:ident, $input:ident, $params:ident;)*) => {$(
        #[inline(never)]
        #[allow(clippy::too_many_arguments)]
        fn $forward(path: KernelPath, g: &Conv2d, w: &[$t], b: &[$t], x: &[$t], s: &mut [$t], out: &mut [$t], n: usize) {
            forward_on(path, g, w, b, x, s, out, n);
        }

        #[inline(never)]
        fn $input(path: KernelPath, g: &Conv2d, w: &[$t], d: &[$t], s: &mut [$t], dx: &mut [$t], n: usize) {
            input_gradient_on(path, g, w, d, s, dx, n);
        }

        #[inline(never)]
        #[allow(clippy::too_many_arguments)]
        fn $params(path: KernelPath, g: &Conv2d, x: &[$t], d: &[$t], s: &mut [$t], dw: &mut [$t], db: &mut [$t], n: usize) {
            parameter_gradients_on(path, g, x, d, s, dw, db, n);
        }
    )*};
}

instances! {
    f32: forward_f32, input_gradient_f32, parameter_gradients_f32;
    f64: forward_f64, input_gradient_f64, parameter_gradients_f64;
}

/// The gradients of a convolution for the `n` samples of `x` (its input) and `delta` (the
/// loss gradient with respect to its output): [`conv2d_parameter_gradients`] into
/// `weight_grad` and `bias_grad`, then, if `input_grad` is given, [`conv2d_input_gradient`]
/// into it (`input_len` values per sample); `None` skips that work, for a first layer.
///
/// `scratch` is scratch space of at least [`Conv2d::scratch_len`] values; its contents on
/// entry do not matter.
///
/// # Panics
/// If a buffer is shorter than stated.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward<T: Real>(
    geom: &Conv2d,
    weight: &[T],
    x: &[T],
    delta: &[T],
    scratch: &mut [T],
    weight_grad: &mut [T],
    bias_grad: &mut [T],
    input_grad: Option<&mut [T]>,
    n: usize,
) {
    conv2d_parameter_gradients(geom, x, delta, scratch, weight_grad, bias_grad, n);
    if let Some(input_grad) = input_grad {
        conv2d_input_gradient(geom, weight, delta, scratch, input_grad, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The valid geometries of one or two channels, 1..=5 rows and columns, and a few
    /// kernels, strides and paddings, square and not.
    fn small_geometries() -> impl Iterator<Item = Conv2d> {
        const KERNELS: [(usize, usize); 4] = [(1, 1), (2, 3), (3, 2), (3, 3)];
        const STRIDES: [(usize, usize); 4] = [(1, 1), (2, 1), (1, 2), (3, 2)];
        const PADDINGS: [(usize, usize); 4] = [(0, 0), (1, 0), (0, 2), (2, 1)];
        let sizes = (1..=5).flat_map(|h| (1..=5).map(move |w| (h, w)));
        sizes.flat_map(|(h, w)| {
            KERNELS.into_iter().flat_map(move |k| {
                STRIDES.into_iter().flat_map(move |s| {
                    PADDINGS
                        .into_iter()
                        .flat_map(move |p| (1..=2).filter_map(move |c| Conv2d::checked(c, h, w, 1, k, s, p)))
                })
            })
        })
    }

    #[test]
    fn im2col_copies_each_receptive_field_in_both_layouts() {
        for g in small_geometries() {
            let x: Vec<f64> = (1..=g.input_len()).map(|v| v as f64).collect();
            let mut buffer = vec![0.0; g.padded_len()];
            let padded = padded_sample(&g, &x, &mut buffer);
            let mut by_position = vec![f64::NAN; g.patches_len()];
            im2col_positions(&g, padded, &mut by_position);
            let mut by_row = vec![f64::NAN; g.patches_len()];
            im2col_rows(&g, padded, &mut by_row);
            let (kh, kw) = g.kernel();
            let positions = g.out_h() * g.out_w();
            for p in 0..positions {
                let (oy, ox) = (p / g.out_w(), p % g.out_w());
                for c in 0..g.patch_len() {
                    let (i, ky, kx) = (c / (kh * kw), c / kw % kh, c % kw);
                    let iy = (oy * g.stride().0 + ky).checked_sub(g.padding().0);
                    let ix = (ox * g.stride().1 + kx).checked_sub(g.padding().1);
                    let expected = match (iy, ix) {
                        (Some(iy), Some(ix)) if iy < g.in_h() && ix < g.in_w() => {
                            x[(i * g.in_h() + iy) * g.in_w() + ix]
                        }
                        _ => 0.0,
                    };
                    assert_eq!(
                        by_position[p * g.patch_len() + c],
                        expected,
                        "{g:?} position {p} value {c}"
                    );
                    assert_eq!(by_row[c * positions + p], expected, "{g:?} row {c} position {p}");
                }
            }
        }
    }

    #[test]
    fn col2im_is_the_transpose_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for every x and c: check it on unit vectors x.
        for g in small_geometries() {
            let cols: Vec<f64> = (0..g.patches_len()).map(|v| (v * 7 % 13) as f64).collect();
            let mut dx = vec![f64::NAN; g.input_len()];
            let mut buffer = vec![f64::NAN; g.padded_len()];
            col2im(&g, &cols, &mut buffer, &mut dx);
            let mut patches = vec![0.0; g.patches_len()];
            for j in 0..g.input_len() {
                let mut x = vec![0.0; g.input_len()];
                x[j] = 1.0;
                let mut buffer = vec![0.0; g.padded_len()];
                im2col_rows(&g, padded_sample(&g, &x, &mut buffer), &mut patches);
                let inner: f64 = patches.iter().zip(&cols).map(|(a, b)| a * b).sum();
                assert_eq!(dx[j], inner, "{g:?} input {j}");
            }
        }
    }

    #[test]
    fn transpose_matches_the_definition_on_every_small_shape() {
        for rows in 1..=9 {
            for cols in 1..=9 {
                let from: Vec<f64> = (0..rows * cols).map(|v| v as f64).collect();
                let mut to = vec![f64::NAN; rows * cols + 1];
                transpose(&from, &mut to, rows, cols);
                for r in 0..rows {
                    for c in 0..cols {
                        assert_eq!(to[r * cols + c], from[r + c * rows], "{rows} x {cols}: ({r}, {c})");
                    }
                }
                assert!(to[rows * cols].is_nan(), "past the matrix is untouched");
            }
        }
    }

    #[test]
    fn transpose_swaps_the_layouts() {
        // 2 x 3 column-major to its row-major copy, and back.
        let from = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        let mut to = [0.0; 6];
        transpose(&from, &mut to, 2, 3);
        assert_eq!(to, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let mut back = [0.0; 6];
        transpose(&to, &mut back, 3, 2);
        assert_eq!(back, from);
    }

    #[test]
    fn both_weight_gradient_orders_give_the_same_bits() {
        let value = |k: usize| ((k * 37 + 11) % 97) as f64 / 48.5 - 1.0;
        for g in [
            Conv2d::new(2, 6, 5, 3, (3, 2), (2, 1), (1, 1)),
            Conv2d::new(1, 5, 5, 12, (2, 2), (1, 1), (0, 0)),
        ] {
            let n = 3;
            let x: Vec<f64> = (0..g.input_len() * n).map(value).collect();
            let delta: Vec<f64> = (0..g.output_len() * n).map(|k| value(k + 7)).collect();
            let mut scratch = vec![f64::NAN; g.scratch_len()];
            for path in KernelPath::ALL {
                let [direct, transposed] = [false, true].map(|transposed| {
                    let (mut dw, mut db) = (vec![f64::NAN; g.weight_len()], vec![f64::NAN; g.bias_len()]);
                    parameter_gradients(path, &g, &x, &delta, &mut scratch, &mut dw, &mut db, n, transposed);
                    (dw, db)
                });
                assert!(direct.0.iter().all(|v| v.is_finite()));
                assert_eq!(direct, transposed, "{g:?}, {}", path.name());
            }
        }
    }

    /// Stride-1 geometries the stride-1 kernels take: one to many channels, square and
    /// rectangular kernels, with and without padding, and channel and tap counts that leave
    /// partial register tiles.
    fn stride_one_geometries() -> Vec<Conv2d> {
        let all = [
            Conv2d::new(1, 28, 28, 6, (5, 5), (1, 1), (2, 2)),
            Conv2d::new(6, 14, 14, 16, (5, 5), (1, 1), (0, 0)),
            Conv2d::new(3, 12, 11, 5, (3, 3), (1, 1), (1, 1)),
            Conv2d::new(2, 9, 7, 3, (2, 3), (1, 1), (1, 0)),
            Conv2d::new(4, 6, 5, 7, (3, 1), (1, 1), (0, 2)),
            Conv2d::new(5, 8, 8, 2, (1, 1), (1, 1), (0, 0)),
            Conv2d::new(2, 5, 30, 7, (2, 2), (1, 1), (0, 0)),
            Conv2d::new(1, 3, 3, 1, (3, 3), (1, 1), (0, 0)),
            // Channels along the vector lanes in the weight gradient: tiles of 16, 4 and 1
            // channels, and of 8 and 1 weight columns; 16 and 8 channels.
            Conv2d::new(3, 9, 10, 21, (3, 3), (1, 1), (1, 1)),
            Conv2d::new(5, 7, 6, 24, (3, 2), (1, 1), (0, 1)),
        ];
        for g in &all {
            assert!(g.shifted(), "{g:?} runs the stride-1 kernels");
        }
        all.to_vec()
    }

    /// The forward pass, the input gradient and the parameter gradients of `n` samples of
    /// `geom` on `path`, with the stride-1 kernels or with patch matrices.
    fn passes<T: Real>(geom: &Conv2d, path: KernelPath, shifted: bool, n: usize) -> [Vec<T>; 4] {
        let value = |k: usize| T::cast(((k * 37 + 11) % 97) as f64 / 48.5 - 1.0);
        let x: Vec<T> = (0..geom.input_len() * n).map(value).collect();
        let delta: Vec<T> = (0..geom.output_len() * n).map(|k| value(k * 3 + 7)).collect();
        let weight: Vec<T> = (0..geom.weight_len()).map(|k| value(k * 5 + 1)).collect();
        let bias: Vec<T> = (0..geom.bias_len()).map(|k| value(k + 3)).collect();
        let mut scratch = vec![T::cast(f64::NAN); geom.scratch_len()];
        let mut out = vec![T::cast(f64::NAN); geom.output_len() * n];
        let mut dx = vec![T::cast(f64::NAN); geom.input_len() * n];
        let mut dw = vec![T::cast(f64::NAN); geom.weight_len()];
        let mut db = vec![T::cast(f64::NAN); geom.bias_len()];
        if shifted {
            forward_shifted(path, geom, &weight, &bias, &x, &mut scratch, &mut out, n);
            input_gradient_shifted(path, geom, &weight, &delta, &mut scratch, &mut dx, n);
            parameter_gradients_shifted(path, geom, &x, &delta, &mut scratch, &mut dw, &mut db, n);
        } else {
            forward_im2col(path, geom, &weight, &bias, &x, &mut scratch, &mut out, n);
            input_gradient_im2col(path, geom, &weight, &delta, &mut scratch, &mut dx, n);
            parameter_gradients(path, geom, &x, &delta, &mut scratch, &mut dw, &mut db, n, true);
        }
        [out, dx, dw, db]
    }

    /// Whether `a` and `b` agree to `tolerance` relative to the largest magnitude of `b`.
    fn close<T: Real>(a: &[T], b: &[T], tolerance: f64) -> bool {
        let scale = b.iter().fold(1.0f64, |m, v| m.max(v.to_f64().abs()));
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x.to_f64() - y.to_f64()).abs() <= tolerance * scale)
    }

    #[test]
    fn the_stride_one_kernels_match_the_patch_matrices() {
        // The forward pass and the bias gradient are the same operations in the same order:
        // the same bits. The input gradient adds the same products in another order, and the
        // weight gradient of fewer than 16 channels sums each dot product in partial sums: the
        // same values to rounding.
        for g in stride_one_geometries() {
            for path in KernelPath::ALL {
                let name = path.name();
                let [out, dx, dw, db] = passes::<f64>(&g, path, true, 3);
                let [out_ref, dx_ref, dw_ref, db_ref] = passes::<f64>(&g, path, false, 3);
                assert!(out.iter().chain(&dx).chain(&dw).all(|v| v.is_finite()), "{g:?}");
                assert!(out == out_ref, "{g:?} forward, {name}");
                assert!(db == db_ref, "{g:?} bias gradient, {name}");
                assert!(close(&dx, &dx_ref, 1e-13), "{g:?} input gradient, {name}");
                assert!(close(&dw, &dw_ref, 1e-13), "{g:?} weight gradient, {name}");
                // With the channels along the lanes, the weight gradient's sums run in the
                // patch-matrix product's order (compared with `==`: a sum of -0 products
                // is +0 here and -0 there).
                let lanes = g.out_channels >= CHANNELS_IN_LANES;
                assert!(!lanes || dw == dw_ref, "{g:?} weight gradient bits, {name}");
                let [out, dx, dw, _] = passes::<f32>(&g, path, true, 3);
                let [out_ref, dx_ref, dw_ref, _] = passes::<f32>(&g, path, false, 3);
                assert!(out == out_ref, "{g:?} f32 forward, {name}");
                assert!(close(&dx, &dx_ref, 1e-5), "{g:?} f32 input gradient, {name}");
                assert!(close(&dw, &dw_ref, 1e-5), "{g:?} f32 weight gradient, {name}");
                assert!(!lanes || dw == dw_ref, "{g:?} f32 weight gradient bits, {name}");
            }
        }
    }

    #[test]
    fn a_sample_gets_the_same_bits_in_any_batch() {
        // The first sample of a batch of 3, and alone: the same output and input gradient.
        for g in stride_one_geometries() {
            let [out3, dx3, ..] = passes::<f32>(&g, kernel_path(), true, 3);
            let [out1, dx1, ..] = passes::<f32>(&g, kernel_path(), true, 1);
            assert!(out3[..g.output_len()] == out1[..], "{g:?} forward");
            assert!(dx3[..g.input_len()] == dx1[..], "{g:?} input gradient");
        }
    }

    #[test]
    fn the_stride_one_kernels_are_not_taken_where_they_would_cost_more() {
        // A 1x1 convolution to more channels than it reads: the output at the wide positions
        // would not fit where the patch matrix goes.
        assert!(!Conv2d::new(2, 4, 4, 8, (1, 1), (1, 1), (0, 0)).shifted());
        // A stride of 2.
        assert!(!Conv2d::new(1, 8, 8, 1, (3, 3), (2, 2), (0, 0)).shifted());
        // A 7-wide kernel on an 8-wide input: 2 output columns for 8 computed.
        assert!(!Conv2d::new(1, 8, 8, 1, (7, 7), (1, 1), (0, 0)).shifted());
    }

    #[test]
    fn the_scratch_length_is_checked_for_overflow() {
        // patches_len and output_len fit, their sum does not.
        let half = usize::MAX / 2 + 1;
        assert!(Conv2d::checked(1, half, 1, 1, (1, 1), (1, 1), (0, 0)).is_none());
        assert!(Conv2d::checked(1, half / 2, 1, 1, (1, 1), (1, 1), (0, 0)).is_some());
    }
}
