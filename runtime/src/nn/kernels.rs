//! The small dense-layer kernels generated code calls.
//!
//! Batches are column-major slices holding one sample per column. A weight matrix
//! `SMatrix<T, O, I>` is column-major too, so column `k` of the weights (the fan-out of input
//! `k`) is contiguous. Every kernel works in place in caller-owned buffers and allocates
//! nothing.
//!
//! The convolutions ([`crate::nn::conv`]) run the forward and weight-gradient kernels too, with
//! dimensions known only at run time (crate-internal wrappers), on the same path.
//!
//! # Register tiles and run-time dispatch
//! The matrix products are written as register tiles: a block of output rows for a few samples
//! is accumulated in local arrays while the loop runs over the shared dimension, then stored
//! once. The tiles are plain generic Rust that the compiler turns into vector code; the same
//! source is compiled four times, for the baseline target (SSE2 on x86-64), for AVX2 and twice
//! for AVX-512 (tiles for Zen 4's 256-bit units, and taller ones for two full-width FMA
//! units), and [`kernel_path`] picks the one for the CPU when the program starts, so builds
//! never need `-C target-cpu=native`.
//!
//! Results are deterministic for a given path: the sums run in a fixed order that does not
//! depend on the batch size or a sample's place in it. The AVX2 and AVX-512 paths compute the
//! two matrix products ([`dense_forward`], [`weight_gradient`], and the forward half of
//! [`sgd_update_and_forward`], which must match `dense_forward`) with fused multiply-adds
//! (one rounding per term instead of two; 20-25% faster on Zen 4), so they agree with the
//! portable path to rounding, not bit for bit; AVX2 and AVX-512 give the same bits, and every
//! other result (the updates included) has the same bits on every path. The environment variable `RETROPROP_KERNELS`
//! (`portable`, `avx2`, `avx512` or `avx512-wide`) caps the choice: `portable` reproduces the results of a
//! CPU without AVX2 anywhere.
//!
//! # Panics
//! Like slice indexing, each kernel panics if a buffer holds fewer than `n` samples; the
//! generated code checks batch sizes (returning a `ShapeError`) before calling them.

use crate::nn::pool::Pool2d;
use crate::real::Real;
use nalgebra::{SMatrix, SVector};
#[doc(hidden)]
pub use shifted::Taps;
use std::sync::OnceLock;

/// A compiled variant of the kernels, chosen by [`kernel_path`] from the CPU's features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelPath {
    /// The baseline target's instructions (SSE2 on x86-64); every CPU runs it.
    Portable,
    /// 256-bit vectors and fused multiply-add (x86-64 with AVX2 and FMA).
    Avx2,
    /// 512-bit vectors and fused multiply-add (x86-64 with AVX-512F and FMA), with register
    /// tiles for CPUs that run 512-bit operations on 256-bit units (AMD Zen 4).
    Avx512,
    /// The instructions of [`Avx512`](Self::Avx512) with a taller tile for the batched
    /// forward pass (six samples at a time instead of four), for CPUs with two full-width
    /// 512-bit FMA units (AMD Zen 5, Intel Xeon). The same results, bit for bit.
    Avx512Wide,
}

impl KernelPath {
    /// Every path, narrowest first.
    pub const ALL: [KernelPath; 4] = [
        KernelPath::Portable,
        KernelPath::Avx2,
        KernelPath::Avx512,
        KernelPath::Avx512Wide,
    ];

    /// The name used by `RETROPROP_KERNELS` and in reports (`"portable"`, `"avx2"`, `"avx512"`,
    /// `"avx512-wide"`).
    pub fn name(self) -> &'static str {
        match self {
            KernelPath::Portable => "portable",
            KernelPath::Avx2 => "avx2",
            KernelPath::Avx512 => "avx512",
            KernelPath::Avx512Wide => "avx512-wide",
        }
    }

    /// The path named `name` (as [`name`](Self::name) spells it), if any.
    ///
    /// ```
    /// use retroprop_runtime::nn::kernels::KernelPath;
    /// assert_eq!(KernelPath::from_name("avx2"), Some(KernelPath::Avx2));
    /// assert_eq!(KernelPath::from_name("neon"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<KernelPath> {
        KernelPath::ALL.into_iter().find(|path| path.name() == name)
    }

    /// The path capped by the value of `RETROPROP_KERNELS` (`None` when it is not set): the
    /// widest supported path not wider than the one it names, or than
    /// [`preferred`](Self::preferred) when it names none.
    pub fn capped_by(value: Option<&str>) -> KernelPath {
        value
            .and_then(KernelPath::from_name)
            .unwrap_or_else(KernelPath::preferred)
            .or_supported()
    }

    /// The path this CPU runs best, before [`or_supported`](Self::or_supported): `Avx512` on
    /// an AMD CPU of family 25 (Zen 4, whose 512-bit operations run on 256-bit units: the
    /// tiles were tuned there), else `Avx512Wide`. Decided once per process.
    pub fn preferred() -> KernelPath {
        static PREFERRED: OnceLock<KernelPath> = OnceLock::new();
        *PREFERRED.get_or_init(|| {
            if cpu_family() == Some(("AuthenticAMD", 25)) {
                KernelPath::Avx512
            } else {
                KernelPath::Avx512Wide
            }
        })
    }

    /// Whether this CPU can run the path (detected once per process).
    pub fn is_supported(self) -> bool {
        static SUPPORT: OnceLock<[bool; 4]> = OnceLock::new();
        SUPPORT.get_or_init(|| KernelPath::ALL.map(KernelPath::detect))[self as usize]
    }

    fn detect(self) -> bool {
        match self {
            KernelPath::Portable => true,
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx512 | KernelPath::Avx512Wide => {
                std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The widest supported path that is not wider than `self` (at worst `Portable`).
    #[inline]
    pub fn or_supported(self) -> KernelPath {
        let mut path = self;
        while !path.is_supported() {
            path = match path {
                KernelPath::Avx512Wide => KernelPath::Avx512,
                KernelPath::Avx512 => KernelPath::Avx2,
                _ => KernelPath::Portable,
            };
        }
        path
    }
}

/// The vendor and the family of the CPU (`cpuid` leaves 0 and 1), where it tells them.
fn cpu_family() -> Option<(&'static str, u32)> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid;
        let vendor = __cpuid(0);
        let bytes: Vec<u8> = [vendor.ebx, vendor.edx, vendor.ecx]
            .iter()
            .flat_map(|r| r.to_le_bytes())
            .collect();
        let vendor = match bytes.as_slice() {
            b"AuthenticAMD" => "AuthenticAMD",
            b"GenuineIntel" => "GenuineIntel",
            _ => "other",
        };
        let eax = __cpuid(1).eax;
        let base = (eax >> 8) & 0xf;
        let family = if base == 0xf { base + ((eax >> 20) & 0xff) } else { base };
        Some((vendor, family))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// The kernel path this process uses: [`KernelPath::preferred`] where the CPU supports it
/// (else the widest it does), capped by the environment variable `RETROPROP_KERNELS` if it
/// names a path. Decided once, on first use.
///
/// ```
/// use retroprop_runtime::nn::kernels::{kernel_path, KernelPath};
/// assert!(kernel_path().is_supported());
/// # let _ = KernelPath::Portable;
/// ```
pub fn kernel_path() -> KernelPath {
    static PATH: OnceLock<KernelPath> = OnceLock::new();
    *PATH.get_or_init(|| KernelPath::capped_by(std::env::var("RETROPROP_KERNELS").ok().as_deref()))
}

/// Calls kernel `$name` compiled for `$path`'s instruction set.
macro_rules! dispatch {
    ($path:expr, $name:ident::<$($generic:ty),*>($($arg:expr),* $(,)?)) => {
        match $path.or_supported() {
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx512Wide => {
                // SAFETY: `or_supported` returns `Avx512Wide` only when
                // `is_x86_feature_detected!` found AVX-512F and FMA on this CPU, the target
                // features `x86::avx512_wide` enables.
                #[allow(unsafe_code)]
                unsafe {
                    x86::avx512_wide::$name::<$($generic),*>($($arg),*)
                }
            }
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx512 => {
                // SAFETY: `or_supported` returns `Avx512` only when `is_x86_feature_detected!`
                // found AVX-512F and FMA on this CPU, the target features `x86::avx512` enables.
                #[allow(unsafe_code)]
                unsafe {
                    x86::avx512::$name::<$($generic),*>($($arg),*)
                }
            }
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx2 => {
                // SAFETY: `or_supported` returns `Avx2` only when `is_x86_feature_detected!`
                // found AVX2 and FMA on this CPU, the target features `x86::avx2` enables.
                #[allow(unsafe_code)]
                unsafe {
                    x86::avx2::$name::<$($generic),*>($($arg),*)
                }
            }
            _ => baseline::$name::<$($generic),*>($($arg),*),
        }
    };
}

/// The kernels of one scalar type, on a given path: implemented for `f32` and `f64` here, so
/// that they are compiled (and optimized) once, in the runtime, rather than instantiated in
/// every crate that calls the generic functions of this module. A network's crate, in a debug
/// build too, calls the runtime's optimized kernels, and compiles none of their code.
///
/// A supertrait of [`Real`]; not meant to be called directly (use the functions of this
/// module).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub trait Kernels: Sized {
    fn dense_forward(
        path: KernelPath,
        w: &[Self],
        b: &[Self],
        x: &[Self],
        out: &mut [Self],
        o: usize,
        i: usize,
        n: usize,
    );
    fn weight_gradient(path: KernelPath, g: &mut [Self], d: &[Self], a: &[Self], o: usize, i: usize, n: usize);
    fn add_weight_gradient(path: KernelPath, g: &mut [Self], d: &[Self], a: &[Self], o: usize, i: usize, n: usize);
    fn sgd_outer_update(path: KernelPath, w: &mut [Self], lr: Self, d: &[Self], a: &[Self], o: usize, i: usize);
    fn sgd_update_and_forward(
        path: KernelPath,
        w: &mut [Self],
        b: &mut [Self],
        lr: Self,
        d: &[Self],
        a: &[Self],
        x: &[Self],
        out: &mut [Self],
        o: usize,
        i: usize,
    );
    fn input_gradient(path: KernelPath, w: &[Self], d: &[Self], out: &mut [Self], o: usize, i: usize, n: usize);
    fn sum_of_squares(path: KernelPath, v: &[Self]) -> f64;
    fn all_finite(path: KernelPath, v: &[Self]) -> bool;
    fn sgd_update_finite(path: KernelPath, p: &[Self], g: &[Self], lr: Self) -> bool;
    fn tanh_into(path: KernelPath, z: &[Self], a: &mut [Self]);
    fn sigmoid_into(path: KernelPath, z: &[Self], a: &mut [Self]);
    fn softmax_columns(path: KernelPath, pre: &[Self], act: &mut [Self], rows: usize);
    fn log_sum_exp_columns(path: KernelPath, pre: &[Self], rows: usize, out: &mut [Self]);
    fn shifted_forward(path: KernelPath, x: &[Self], w: &[Self], out: &mut [Self], taps: Taps, wide: usize, o: usize);
    fn shifted_input_gradient(
        path: KernelPath,
        w: &[Self],
        d: &[Self],
        dx: &mut [Self],
        taps: Taps,
        wide: usize,
        o: usize,
    );
    fn shifted_weight_gradient(
        path: KernelPath,
        x: &[Self],
        d: &[Self],
        g: &mut [Self],
        taps: Taps,
        wide: usize,
        o: usize,
    );
    fn shifted_weight_gradient_by_position(
        path: KernelPath,
        x: &[Self],
        d_t: &[Self],
        g: &mut [Self],
        taps: Taps,
        out_h: usize,
        out_w: usize,
        o: usize,
    );
    fn shifted_forward_by_position(
        path: KernelPath,
        x: &[Self],
        w: &[Self],
        out_t: &mut [Self],
        taps: Taps,
        out_h: usize,
        out_w: usize,
        o: usize,
    );
    fn max_pool_forward(path: KernelPath, geom: &Pool2d, x: &[Self], out: &mut [Self], argmax: &mut [u32], n: usize);
}

/// [`Kernels`] for one scalar type: each method dispatches to the path's compiled kernels.
macro_rules! kernels_for {
    ($t:ty) => {
        #[allow(clippy::too_many_arguments)]
        impl Kernels for $t {
            fn dense_forward(
                path: KernelPath,
                w: &[$t],
                b: &[$t],
                x: &[$t],
                out: &mut [$t],
                o: usize,
                i: usize,
                n: usize,
            ) {
                dispatch!(path, dense_forward::<$t>(w, b, x, out, o, i, n));
            }
            fn weight_gradient(path: KernelPath, g: &mut [$t], d: &[$t], a: &[$t], o: usize, i: usize, n: usize) {
                dispatch!(path, weight_gradient::<$t>(g, d, a, o, i, n));
            }
            fn add_weight_gradient(path: KernelPath, g: &mut [$t], d: &[$t], a: &[$t], o: usize, i: usize, n: usize) {
                dispatch!(path, add_weight_gradient::<$t>(g, d, a, o, i, n));
            }
            fn sgd_outer_update(path: KernelPath, w: &mut [$t], lr: $t, d: &[$t], a: &[$t], o: usize, i: usize) {
                dispatch!(path, sgd_outer_update::<$t>(w, lr, d, a, o, i));
            }
            fn sgd_update_and_forward(
                path: KernelPath,
                w: &mut [$t],
                b: &mut [$t],
                lr: $t,
                d: &[$t],
                a: &[$t],
                x: &[$t],
                out: &mut [$t],
                o: usize,
                i: usize,
            ) {
                dispatch!(path, sgd_update_and_forward::<$t>(w, b, lr, d, a, x, out, o, i));
            }
            fn input_gradient(path: KernelPath, w: &[$t], d: &[$t], out: &mut [$t], o: usize, i: usize, n: usize) {
                dispatch!(path, input_gradient::<$t>(w, d, out, o, i, n));
            }
            fn sum_of_squares(path: KernelPath, v: &[$t]) -> f64 {
                dispatch!(path, sum_of_squares::<$t>(v))
            }
            fn all_finite(path: KernelPath, v: &[$t]) -> bool {
                dispatch!(path, all_finite::<$t>(v))
            }
            fn sgd_update_finite(path: KernelPath, p: &[$t], g: &[$t], lr: $t) -> bool {
                dispatch!(path, sgd_update_finite::<$t>(p, g, lr))
            }
            fn tanh_into(path: KernelPath, z: &[$t], a: &mut [$t]) {
                dispatch!(path, tanh::<$t>(z, a));
            }
            fn sigmoid_into(path: KernelPath, z: &[$t], a: &mut [$t]) {
                dispatch!(path, sigmoid::<$t>(z, a));
            }
            fn softmax_columns(path: KernelPath, pre: &[$t], act: &mut [$t], rows: usize) {
                dispatch!(path, softmax_columns::<$t>(pre, act, rows));
            }
            fn log_sum_exp_columns(path: KernelPath, pre: &[$t], rows: usize, out: &mut [$t]) {
                dispatch!(path, log_sum_exp_columns::<$t>(pre, rows, out));
            }
            fn shifted_forward(
                path: KernelPath,
                x: &[$t],
                w: &[$t],
                out: &mut [$t],
                taps: Taps,
                wide: usize,
                o: usize,
            ) {
                dispatch!(path, shifted_forward::<$t>(x, w, out, taps, wide, o));
            }
            fn shifted_input_gradient(
                path: KernelPath,
                w: &[$t],
                d: &[$t],
                dx: &mut [$t],
                taps: Taps,
                wide: usize,
                o: usize,
            ) {
                dispatch!(path, shifted_input_gradient::<$t>(w, d, dx, taps, wide, o));
            }
            fn shifted_weight_gradient(
                path: KernelPath,
                x: &[$t],
                d: &[$t],
                g: &mut [$t],
                taps: Taps,
                wide: usize,
                o: usize,
            ) {
                dispatch!(path, shifted_weight_gradient::<$t>(x, d, g, taps, wide, o));
            }
            fn shifted_weight_gradient_by_position(
                path: KernelPath,
                x: &[$t],
                d_t: &[$t],
                g: &mut [$t],
                taps: Taps,
                out_h: usize,
                out_w: usize,
                o: usize,
            ) {
                dispatch!(
                    path,
                    shifted_weight_gradient_by_position::<$t>(x, d_t, g, taps, out_h, out_w, o)
                );
            }
            fn shifted_forward_by_position(
                path: KernelPath,
                x: &[$t],
                w: &[$t],
                out_t: &mut [$t],
                taps: Taps,
                out_h: usize,
                out_w: usize,
                o: usize,
            ) {
                dispatch!(
                    path,
                    shifted_forward_by_position::<$t>(x, w, out_t, taps, out_h, out_w, o)
                );
            }
            fn max_pool_forward(
                path: KernelPath,
                geom: &Pool2d,
                x: &[$t],
                out: &mut [$t],
                argmax: &mut [u32],
                n: usize,
            ) {
                dispatch!(path, max_pool_forward::<$t>(geom, x, out, argmax, n));
            }
        }
    };
}

kernels_for!(f32);
kernels_for!(f64);

/// `out[:, j] = W x[:, j] + b` for the `n` samples of `x`; returns the written prefix of `out`.
#[inline]
pub fn dense_forward<'a, T: Real, const O: usize, const I: usize>(
    weight: &SMatrix<T, O, I>,
    bias: &SVector<T, O>,
    x: &[T],
    out: &'a mut [T],
    n: usize,
) -> &'a [T] {
    dense_forward_on(kernel_path(), weight, bias, x, out, n)
}

/// [`dense_forward`] on a given path (the widest supported one not wider than `path`).
#[inline]
pub fn dense_forward_on<'a, T: Real, const O: usize, const I: usize>(
    path: KernelPath,
    weight: &SMatrix<T, O, I>,
    bias: &SVector<T, O>,
    x: &[T],
    out: &'a mut [T],
    n: usize,
) -> &'a [T] {
    let out = &mut out[..O * n];
    let (w, b, x) = (weight.as_slice(), bias.as_slice(), &x[..I * n]);
    <T as Kernels>::dense_forward(path, w, b, x, &mut *out, O, I, n);
    out
}

/// `W x + b` for one sample.
#[inline]
pub fn dense_vector<T: Real, const O: usize, const I: usize>(
    weight: &SMatrix<T, O, I>,
    bias: &SVector<T, O>,
    x: &SVector<T, I>,
) -> SVector<T, O> {
    let mut out = SVector::<T, O>::zeros();
    dense_forward(weight, bias, x.as_slice(), out.as_mut_slice(), 1);
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
    weight_gradient_on(kernel_path(), grad, delta, a_prev, n);
}

/// [`weight_gradient`] on a given path (the widest supported one not wider than `path`).
#[inline]
pub fn weight_gradient_on<T: Real, const O: usize, const I: usize>(
    path: KernelPath,
    grad: &mut SMatrix<T, O, I>,
    delta: &[T],
    a_prev: &[T],
    n: usize,
) {
    let (g, d, a) = (grad.as_mut_slice(), &delta[..O * n], &a_prev[..I * n]);
    <T as Kernels>::weight_gradient(path, g, d, a, O, I, n);
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
    input_gradient_on(kernel_path(), weight, delta, out, n)
}

/// [`input_gradient`] on a given path (the widest supported one not wider than `path`).
#[inline]
pub fn input_gradient_on<'a, T: Real, const O: usize, const I: usize>(
    path: KernelPath,
    weight: &SMatrix<T, O, I>,
    delta: &[T],
    out: &'a mut [T],
    n: usize,
) -> &'a mut [T] {
    let out = &mut out[..I * n];
    let (w, d) = (weight.as_slice(), &delta[..O * n]);
    <T as Kernels>::input_gradient(path, w, d, &mut *out, O, I, n);
    out
}

/// [`dense_forward`] with run-time dimensions on `path` (the widest supported one not wider):
/// `out[:, j] = W x[:, j] + b` for `W` `o x i` column-major (`o * i` values), `b` `o` values,
/// and the `n` samples of `x` (`i` values each), written into the first `o * n` values of
/// `out`, which it returns. For kernels whose shapes are known only at run time (convolutions).
///
/// # Panics
/// Like slice indexing, if a buffer is shorter than stated.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn dense_forward_dyn<'a, T: Real>(
    path: KernelPath,
    w: &[T],
    b: &[T],
    x: &[T],
    out: &'a mut [T],
    o: usize,
    i: usize,
    n: usize,
) -> &'a mut [T] {
    let out = &mut out[..o * n];
    let (w, b, x) = (&w[..o * i], &b[..o], &x[..i * n]);
    <T as Kernels>::dense_forward(path, w, b, x, &mut *out, o, i, n);
    out
}

/// [`weight_gradient`] with run-time dimensions on `path`: overwrites the `o * i` values of
/// `g` (`o x i`, column-major) with `sum_j d[:, j] a[:, j]^T` for the `n` columns of `d`
/// (`o` values each) and `a` (`i` values each). Zeros for `n = 0`.
///
/// # Panics
/// Like slice indexing, if a buffer is shorter than stated.
#[inline]
pub(crate) fn weight_gradient_dyn<T: Real>(
    path: KernelPath,
    g: &mut [T],
    d: &[T],
    a: &[T],
    o: usize,
    i: usize,
    n: usize,
) {
    let (g, d, a) = (&mut g[..o * i], &d[..o * n], &a[..i * n]);
    <T as Kernels>::weight_gradient(path, g, d, a, o, i, n);
}

/// [`weight_gradient_dyn`] added to `g` instead of overwriting it: each sum continues from
/// `g`'s value, in the same order (so a product of `n1 + n2` columns in one call and its two
/// halves in two calls, the first overwriting, give the same bits). Leaves `g` as it is for
/// `n = 0`.
///
/// # Panics
/// Like slice indexing, if a buffer is shorter than stated.
#[inline]
pub(crate) fn add_weight_gradient_dyn<T: Real>(
    path: KernelPath,
    g: &mut [T],
    d: &[T],
    a: &[T],
    o: usize,
    i: usize,
    n: usize,
) {
    let (g, d, a) = (&mut g[..o * i], &d[..o * n], &a[..i * n]);
    <T as Kernels>::add_weight_gradient(path, g, d, a, o, i, n);
}

/// Plain gradient descent on one layer for one sample, without materializing the gradient:
/// `W -= lr * (delta a_prev^T)` and `b -= lr * delta`, in one pass over the weights.
///
/// Each weight gets exactly the operations of [`weight_gradient`] followed by an
/// [`Sgd`](crate::optim::Sgd) step without momentum or weight decay (`g = d * a`, then
/// `w - lr * g`), so the result is bit-identical to that two-pass path.
#[inline]
pub fn sgd_dense_update<T: Real, const O: usize, const I: usize>(
    weight: &mut SMatrix<T, O, I>,
    bias: &mut SVector<T, O>,
    lr: T,
    delta: &[T],
    a_prev: &[T],
) {
    sgd_dense_update_on(kernel_path(), weight, bias, lr, delta, a_prev);
}

/// [`sgd_dense_update`] on a given path (the widest supported one not wider than `path`).
#[inline]
pub fn sgd_dense_update_on<T: Real, const O: usize, const I: usize>(
    path: KernelPath,
    weight: &mut SMatrix<T, O, I>,
    bias: &mut SVector<T, O>,
    lr: T,
    delta: &[T],
    a_prev: &[T],
) {
    let (w, d, a) = (weight.as_mut_slice(), &delta[..O], &a_prev[..I]);
    <T as Kernels>::sgd_outer_update(path, w, lr, d, a, O, I);
    for (b, &d) in bias.iter_mut().zip(d) {
        *b -= lr * d;
    }
}

/// One sample's SGD update of a dense layer, `W -= lr * (delta a_prev^T)` and
/// `b -= lr * delta` (the update [`sgd_dense_update`] makes), then the next sample's forward
/// pass `out = W x + b` with the updated parameters, in **one pass over `W`**: each weight is
/// read, updated, stored and multiplied by its input while it is in a register. The results are
/// bit-identical to the two calls [`sgd_dense_update`] and [`dense_forward`] for one sample,
/// which read the matrix twice and write it once; for a layer whose weights do not fit in the
/// L1 cache that saves a third of the memory traffic of a training step on one sample.
/// Returns `out`'s first `O` values.
///
/// `delta` holds the previous sample's `O` deltas, `a_prev` its `I` inputs, `x` the next
/// sample's `I` inputs.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn sgd_update_and_forward<'a, T: Real, const O: usize, const I: usize>(
    weight: &mut SMatrix<T, O, I>,
    bias: &mut SVector<T, O>,
    lr: T,
    delta: &[T],
    a_prev: &[T],
    x: &[T],
    out: &'a mut [T],
) -> &'a [T] {
    sgd_update_and_forward_on(kernel_path(), weight, bias, lr, delta, a_prev, x, out)
}

/// [`sgd_update_and_forward`] on a given path (the widest supported one not wider than `path`).
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn sgd_update_and_forward_on<'a, T: Real, const O: usize, const I: usize>(
    path: KernelPath,
    weight: &mut SMatrix<T, O, I>,
    bias: &mut SVector<T, O>,
    lr: T,
    delta: &[T],
    a_prev: &[T],
    x: &[T],
    out: &'a mut [T],
) -> &'a [T] {
    let out = &mut out[..O];
    let (w, b) = (weight.as_mut_slice(), bias.as_mut_slice());
    let (d, a, x) = (&delta[..O], &a_prev[..I], &x[..I]);
    <T as Kernels>::sgd_update_and_forward(path, w, b, lr, d, a, x, &mut *out, O, I);
    out
}

/// `sum(v^2)` in `f64` with 32 partial sums added in a fixed order (the same on every path).
#[inline]
pub fn sum_of_squares<T: Real>(values: &[T]) -> f64 {
    sum_of_squares_on(kernel_path(), values)
}

/// [`sum_of_squares`] on a given path (the widest supported one not wider than `path`).
#[inline]
pub fn sum_of_squares_on<T: Real>(path: KernelPath, values: &[T]) -> f64 {
    <T as Kernels>::sum_of_squares(path, values)
}

/// Whether every value is finite (no NaN or infinity), on the kernel path.
///
/// ```
/// use retroprop_runtime::nn::kernels::all_finite;
/// assert!(all_finite(&[1.0f32, -2.5, 0.0]));
/// assert!(!all_finite(&[1.0f32, f32::INFINITY]));
/// assert!(!all_finite(&[f64::NAN]));
/// ```
#[inline]
pub fn all_finite<T: Real>(values: &[T]) -> bool {
    all_finite_on(kernel_path(), values)
}

/// [`all_finite`] on a given path (the widest supported one not wider than `path`).
#[inline]
pub fn all_finite_on<T: Real>(path: KernelPath, values: &[T]) -> bool {
    <T as Kernels>::all_finite(path, values)
}

/// Whether plain SGD's update `p - lr * g` (a multiply, then a subtraction, as
/// [`Sgd`](crate::optim::Sgd) computes it) is finite for every pair of `p` and `g`, without
/// writing it: the check a training step's guard makes before the update instead of copying
/// the weights (pairs past the shorter slice are not looked at).
///
/// ```
/// use retroprop_runtime::nn::kernels::sgd_update_finite;
/// assert!(sgd_update_finite(&[1.0f32, -2.0], &[0.5, 0.25], 0.1));
/// // -2 - 1e38 * 4 overflows.
/// assert!(!sgd_update_finite(&[1.0f32, -2.0], &[0.5, 4.0], 1e38));
/// ```
pub fn sgd_update_finite<T: Real>(p: &[T], g: &[T], lr: T) -> bool {
    sgd_update_finite_on(kernel_path(), p, g, lr)
}

/// [`sgd_update_finite`] on a given path (the widest supported one not wider than `path`).
#[inline]
pub fn sgd_update_finite_on<T: Real>(path: KernelPath, p: &[T], g: &[T], lr: T) -> bool {
    let n = p.len().min(g.len());
    <T as Kernels>::sgd_update_finite(path, &p[..n], &g[..n], lr)
}

/// `a = tanh(z)` element by element ([`Real::tanh_activation`]), on the kernel path.
#[inline]
pub fn tanh_into<T: Real>(z: &[T], a: &mut [T]) {
    <T as Kernels>::tanh_into(kernel_path(), z, a);
}

/// `a = sigmoid(z)` element by element ([`Real::sigmoid_activation`]), on the kernel path.
#[inline]
pub fn sigmoid_into<T: Real>(z: &[T], a: &mut [T]) {
    <T as Kernels>::sigmoid_into(kernel_path(), z, a);
}

/// The number of samples [`log_sum_exp_columns`] computes at once (in the vector lanes):
/// callers with a buffer of this many values on the stack pass the batch a group at a time.
pub const COLUMN_GROUP: usize = columns::LANES;

/// The fewest columns [`softmax_columns`] and [`log_sum_exp_columns`] compute at once; for
/// fewer, callers may as well call the one-sample functions (as the kernels then do).
pub const FEWEST_COLUMNS: usize = columns::FEWEST;

/// `act = softmax(pre)` for each column (sample) of `rows` values, on the kernel path: the
/// same bits as [`softmax_into`](crate::nn::activation::softmax_into) on each column,
/// computed for several samples at once. Whole columns only: `pre.len()` values, or as many
/// as `act` holds, rounded down to a multiple of `rows`.
///
/// ```
/// use retroprop_runtime::nn::activation::softmax_into;
/// use retroprop_runtime::nn::kernels::softmax_columns;
/// let pre = [1.0_f32, 2.0, 3.0, -1.0, 0.0, 1.0e3];
/// let mut act = [0.0_f32; 6];
/// softmax_columns(&pre, &mut act, 3);
/// let mut one = [0.0_f32; 3];
/// softmax_into(&pre[3..], &mut one);
/// assert_eq!(act[3..], one);
/// ```
#[inline]
pub fn softmax_columns<T: Real>(pre: &[T], act: &mut [T], rows: usize) {
    softmax_columns_on(kernel_path(), pre, act, rows);
}

/// [`softmax_columns`] on a given path (the widest supported one not wider than `path`).
#[inline]
pub fn softmax_columns_on<T: Real>(path: KernelPath, pre: &[T], act: &mut [T], rows: usize) {
    let len = pre.len().min(act.len());
    let len = len - len.checked_rem(rows).unwrap_or(len);
    <T as Kernels>::softmax_columns(path, &pre[..len], &mut act[..len], rows);
}

/// `out[j] = ln(sum(exp(z)))` of column `j` of `pre` (`rows` values per column), for the
/// `out.len()` columns `pre` holds whole, on the kernel path: the same bits as
/// [`log_sum_exp`](crate::nn::activation::log_sum_exp) on each column.
///
/// ```
/// use retroprop_runtime::nn::activation::log_sum_exp;
/// use retroprop_runtime::nn::kernels::log_sum_exp_columns;
/// let pre = [0.5_f64, -2.0, f64::INFINITY, 1.0];
/// let mut out = [0.0; 2];
/// log_sum_exp_columns(&pre, 2, &mut out);
/// assert_eq!(out, [log_sum_exp(&pre[..2]), f64::INFINITY]);
/// ```
#[inline]
pub fn log_sum_exp_columns<T: Real>(pre: &[T], rows: usize, out: &mut [T]) {
    log_sum_exp_columns_on(kernel_path(), pre, rows, out);
}

/// [`log_sum_exp_columns`] on a given path (the widest supported one not wider than `path`).
#[inline]
pub fn log_sum_exp_columns_on<T: Real>(path: KernelPath, pre: &[T], rows: usize, out: &mut [T]) {
    let columns = out.len().min(pre.len().checked_div(rows).unwrap_or(out.len()));
    let out = &mut out[..columns];
    <T as Kernels>::log_sum_exp_columns(path, &pre[..(columns * rows).min(pre.len())], rows, out);
}

/// The squared Frobenius norm of one sample's gradient of a dense layer, weights and bias:
/// `|delta|^2 (|a_prev|^2 + 1)`, since the weight gradient `delta a_prev^T` has rank one.
/// Summed in `f64`: in order for short vectors, else by [`sum_of_squares`] (whose 32
/// partial sums do not wait on each other).
pub fn outer_norm_squared<T: Real>(delta: &[T], a_prev: &[T]) -> f64 {
    let squares = |v: &[T]| {
        if v.len() < 16 {
            v.iter().map(|&x| x.to_f64() * x.to_f64()).sum::<f64>()
        } else {
            sum_of_squares(v)
        }
    };
    squares(delta) * (squares(a_prev) + 1.0)
}

/// Covers the rows `0..$o` with tiles: as many of the first height as fit, then of the
/// next, and so on (the last height is 1); `$tile!(height, first_row)` runs one tile.
/// (`r + m <= o` reads as "a tile of height m fits", also for m = 1.)
macro_rules! row_tiles {
    ($o:expr, [$($m:tt),+], $tile:ident) => {{
        let mut r = 0;
        $(
            #[allow(clippy::int_plus_one)]
            while r + $m <= $o {
                $tile!($m, r);
                r += $m;
            }
        )+
    }};
}

mod columns;
#[cfg(target_arch = "x86_64")]
mod packed;
mod shifted;

/// Defines, in module `$module`, a copy of every `portable` kernel with the given attributes
/// (the target features to compile it for), its register tiles (`forward = (rows, samples,
/// rows for a single sample)`, `gradient = (rows, weight columns)`, and for the stride-1
/// convolution kernels of [`shifted`] `shifted = (rows, samples, rows for a single sample)`
/// of its forward pass, `scatter = (positions, weight columns,
/// positions for a single column)`, `conv_gradient = (channels, weight columns)`, and with the
/// channels along the vector lanes `position_gradient = (channels, weight columns)` and
/// `position_forward = (channels, positions)`: enough
/// accumulators to hide the latency, few enough to stay in registers) and whether the matrix
/// products use fused multiply-adds.
macro_rules! compile_for {
    (
        $module:ident,
        [$($attr:meta)?],
        forward = ($rows:literal, $cols:literal, $tall:literal),
        short = $short:literal,
        gradient = ($g_rows:literal, $g_cols:literal),
        update = $u_rows:literal,
        shifted = ($f_rows:literal, $f_cols:literal, $f_tall:literal),
        scatter = ($s_rows:literal, $s_cols:literal, $s_tall:literal),
        conv_gradient = ($co:literal, $ck:literal),
        position_gradient = ($pco:literal, $pck:literal),
        position_forward = ($fco:literal, $fp:literal),
        fma = $fma:literal
        $(, packed = $packed:ident)?
    ) => {
        pub(crate) mod $module {
            use crate::nn::kernels::portable;
            use crate::nn::kernels::shifted::{self, Taps};
            use crate::nn::pool::Pool2d;
            use crate::real::Real;

            $(#[$attr])?
            pub(crate) fn dense_forward<T: Real>(w: &[T], b: &[T], x: &[T], out: &mut [T], o: usize, i: usize, n: usize) {
                $(
                    if T::DTYPE == safetensors::Dtype::F32 && crate::nn::kernels::$packed::takes(o, i, n) {
                        use crate::real::{cast, cast_mut};
                        return crate::nn::kernels::$packed::dense_forward(cast(w), cast(b), cast(x), cast_mut(out), o, i, n);
                    }
                )?
                if portable::takes_short(o, i, n, $short) && T::DTYPE == safetensors::Dtype::F32 {
                    return portable::dense_forward_short::<T, $short, $fma>(w, b, x, out, o, i, n);
                }
                portable::dense_forward::<T, $rows, $cols, $tall, $fma>(w, b, x, out, o, i, n)
            }

            $(#[$attr])?
            pub(crate) fn weight_gradient<T: Real>(g: &mut [T], d: &[T], a: &[T], o: usize, i: usize, n: usize) {
                $(
                    if T::DTYPE == safetensors::Dtype::F32 && crate::nn::kernels::$packed::takes(o, i, n) {
                        use crate::real::{cast, cast_mut};
                        return crate::nn::kernels::$packed::weight_gradient(cast_mut(g), cast(d), cast(a), o, i, n, false);
                    }
                )?
                if portable::takes_short_gradient(o, i, n) && T::DTYPE == safetensors::Dtype::F32 {
                    return portable::weight_gradient_short::<T, 4, $fma>(g, d, a, o, i, n);
                }
                portable::weight_gradient::<T, $g_rows, $g_cols, $fma, false>(g, d, a, o, i, n)
            }

            $(#[$attr])?
            pub(crate) fn add_weight_gradient<T: Real>(g: &mut [T], d: &[T], a: &[T], o: usize, i: usize, n: usize) {
                $(
                    if T::DTYPE == safetensors::Dtype::F32 && crate::nn::kernels::$packed::takes(o, i, n) {
                        use crate::real::{cast, cast_mut};
                        return crate::nn::kernels::$packed::weight_gradient(cast_mut(g), cast(d), cast(a), o, i, n, true);
                    }
                )?
                portable::weight_gradient::<T, $g_rows, $g_cols, $fma, true>(g, d, a, o, i, n)
            }

            $(#[$attr])?
            pub(crate) fn sgd_outer_update<T: Real>(w: &mut [T], lr: T, d: &[T], a: &[T], o: usize, i: usize) {
                portable::sgd_outer_update::<T, $u_rows>(w, lr, d, a, o, i)
            }

            $(#[$attr])?
            #[allow(clippy::too_many_arguments)]
            pub(crate) fn sgd_update_and_forward<T: Real>(
                w: &mut [T], b: &mut [T], lr: T, d: &[T], a: &[T], x: &[T], out: &mut [T], o: usize, i: usize,
            ) {
                portable::sgd_update_and_forward::<T, $u_rows, $fma>(w, b, lr, d, a, x, out, o, i)
            }

            $(#[$attr])?
            pub(crate) fn input_gradient<T: Real>(w: &[T], d: &[T], out: &mut [T], o: usize, i: usize, n: usize) {
                portable::input_gradient(w, d, out, o, i, n)
            }

            $(#[$attr])?
            pub(crate) fn sum_of_squares<T: Real>(v: &[T]) -> f64 {
                portable::sum_of_squares(v)
            }

            $(#[$attr])?
            pub(crate) fn all_finite<T: Real>(v: &[T]) -> bool {
                portable::all_finite(v)
            }

            $(#[$attr])?
            pub(crate) fn sgd_update_finite<T: Real>(p: &[T], g: &[T], lr: T) -> bool {
                portable::sgd_update_finite(p, g, lr)
            }

            $(#[$attr])?
            pub(crate) fn tanh<T: Real>(z: &[T], a: &mut [T]) {
                portable::map(z, a, T::tanh_activation)
            }

            $(#[$attr])?
            pub(crate) fn sigmoid<T: Real>(z: &[T], a: &mut [T]) {
                portable::map(z, a, T::sigmoid_activation)
            }

            $(#[$attr])?
            pub(crate) fn softmax_columns<T: Real>(pre: &[T], act: &mut [T], rows: usize) {
                crate::nn::kernels::columns::softmax(pre, act, rows)
            }

            $(#[$attr])?
            pub(crate) fn log_sum_exp_columns<T: Real>(pre: &[T], rows: usize, out: &mut [T]) {
                crate::nn::kernels::columns::log_sum_exp_columns(pre, rows, out)
            }

            $(#[$attr])?
            pub(crate) fn shifted_forward<T: Real>(x: &[T], w: &[T], out: &mut [T], taps: Taps, wide: usize, o: usize) {
                shifted::forward::<T, $f_rows, $f_cols, $f_tall, $fma>(x, w, out, taps, wide, o)
            }

            $(#[$attr])?
            pub(crate) fn shifted_input_gradient<T: Real>(w: &[T], d: &[T], dx: &mut [T], taps: Taps, wide: usize, o: usize) {
                shifted::input_gradient::<T, $s_rows, $s_cols, $s_tall, $fma>(w, d, dx, taps, wide, o)
            }

            $(#[$attr])?
            pub(crate) fn shifted_weight_gradient<T: Real>(x: &[T], d: &[T], g: &mut [T], taps: Taps, wide: usize, o: usize) {
                shifted::weight_gradient::<T, $co, $ck, $fma>(x, d, g, taps, wide, o)
            }

            $(#[$attr])?
            #[allow(clippy::too_many_arguments)]
            pub(crate) fn shifted_weight_gradient_by_position<T: Real>(
                x: &[T], d_t: &[T], g: &mut [T], taps: Taps, out_h: usize, out_w: usize, o: usize,
            ) {
                shifted::weight_gradient_by_position::<T, $pco, $pck, $fma>(x, d_t, g, taps, out_h, out_w, o)
            }

            $(#[$attr])?
            #[allow(clippy::too_many_arguments)]
            pub(crate) fn shifted_forward_by_position<T: Real>(
                x: &[T], w: &[T], out_t: &mut [T], taps: Taps, out_h: usize, out_w: usize, o: usize,
            ) {
                shifted::forward_by_position::<T, $fco, $fp, $fma>(x, w, out_t, taps, out_h, out_w, o)
            }

            // Pooling selects values (no arithmetic), so every path gives the same bits; the
            // wider paths vectorize its comparisons and selects (blends), which the baseline
            // does not do for LeNet's short rows.
            $(#[$attr])?
            pub(crate) fn max_pool_forward<T: Real>(g: &Pool2d, x: &[T], out: &mut [T], argmax: &mut [u32], n: usize) {
                crate::nn::pool::max_forward(g, x, out, argmax, n)
            }
        }
    };
}

compile_for!(
    baseline,
    [],
    forward = (8, 4, 32),
    short = 2,
    gradient = (8, 4),
    update = 16,
    shifted = (8, 4, 32),
    scatter = (32, 1, 32),
    conv_gradient = (2, 4),
    position_gradient = (8, 4),
    position_forward = (8, 4),
    fma = false
);

#[cfg(target_arch = "x86_64")]
mod x86 {
    compile_for!(
        avx2,
        [target_feature(enable = "avx2,fma")],
        forward = (16, 6, 64),
        short = 6,
        gradient = (16, 6),
        update = 32,
        shifted = (24, 4, 64),
        scatter = (64, 1, 64),
        conv_gradient = (2, 4),
        position_gradient = (16, 6),
        position_forward = (16, 6),
        fma = true,
        packed = packed
    );
    // Tuned on Zen 4 (512-bit operations on 256-bit units).
    compile_for!(
        avx512,
        [target_feature(enable = "avx512f,fma")],
        forward = (64, 4, 128),
        short = 8,
        gradient = (64, 4),
        update = 128,
        shifted = (64, 4, 128),
        scatter = (128, 1, 128),
        conv_gradient = (4, 4),
        position_gradient = (16, 8),
        position_forward = (16, 12),
        fma = true
    );
    // Zen 5 (two full-width 512-bit FMA units): six samples per forward tile, 24 of the 32
    // registers (Zen 5, alternating runs: W3 training at batch 128 +3-5%, inference at batch
    // 128 +5%, training at batch 32 +2%; the weight gradient with six columns was no faster).
    compile_for!(
        avx512_wide,
        [target_feature(enable = "avx512f,fma")],
        forward = (64, 6, 128),
        short = 8,
        gradient = (64, 4),
        update = 128,
        shifted = (64, 4, 128),
        scatter = (128, 1, 128),
        conv_gradient = (4, 4),
        position_gradient = (16, 8),
        position_forward = (16, 12),
        fma = true
    );
}

/// The kernels as generic code, inlined into each path's copy.
///
/// Dimensions are run-time arguments here (the const-generic wrappers pass them), which keeps
/// one copy per scalar type and path instead of one per layer shape.
mod portable {
    use crate::real::Real;
    use std::ops::Range;

    /// Inputs per block of a batched forward pass (the weights of a 64-row tile: 16 KiB in f32,
    /// which stay in a 32 KiB L1 cache while every sample of the batch uses them).
    const K_BLOCK: usize = 64;
    /// Samples per block of a weight gradient (128 rows of deltas: 16 KiB in f32).
    const J_BLOCK: usize = 32;

    /// Lanes of the partial sums in a dot product.
    const LANES: usize = 8;

    /// `out[:, j] = W x[:, j] + b` for `W` `o x i` column-major, `x` `i x n`, `out` `o x n`.
    #[inline(always)]
    pub fn dense_forward<T: Real, const R: usize, const NR: usize, const TALL: usize, const FMA: bool>(
        w: &[T],
        b: &[T],
        x: &[T],
        out: &mut [T],
        o: usize,
        i: usize,
        n: usize,
    ) {
        // Batches run over the inputs a block at a time, so that the block of weights stays
        // in the L1 cache while every sample uses it; a lone sample reads the weights once
        // anyway.
        let block = if n >= 2 * NR { K_BLOCK } else { i.max(1) };
        let groups = n / NR;
        let mut k0 = 0;
        loop {
            let ks = k0..(k0 + block).min(i);
            // Row tile by row tile, each over every group of NR samples, so that the tile's
            // block of weights stays in the L1 cache for the whole batch.
            macro_rules! tile {
                ($m:tt, $r:ident) => {
                    for g in 0..groups {
                        let j = g * NR;
                        forward_tile::<T, $m, NR, FMA>(w, b, &x[j * i..], &mut out[j * o..], o, i, ks.clone(), $r)
                    }
                };
            }
            row_tiles!(o, [R, 32, 16, 8, 4, 2, 1], tile);
            let mut j = groups * NR;
            while j < n {
                forward_columns::<T, TALL, R, 1, FMA>(w, b, &x[j * i..], &mut out[j * o..], o, i, ks.clone());
                j += 1;
            }
            k0 = ks.end;
            if k0 >= i {
                break;
            }
        }
    }

    /// The most inputs a short layer may have for [`dense_forward_short`] (its weights,
    /// padded to 16 rows, are copied onto the stack: 16 KiB in `f32`).
    const SHORT_INPUTS: usize = 256;
    /// The smaller buffer of the short kernels, for layers of at most this many inputs (or
    /// batches of at most this many samples).
    const SHORT_SMALL: usize = 64;
    /// The least `inputs * samples` worth the short kernels' copy (Zen 4: a 10-row layer of
    /// 32 inputs at batch 32 is no faster, one of 84 or 128 inputs is, by 10-40%).
    const SHORT_WORK: usize = 2048;

    /// Whether [`dense_forward_short`] takes a layer of `o` rows and `i` inputs for a batch
    /// of `n`: 5 to 15 rows (fewer than a vector of `f32` holds, and not a tile of their own:
    /// an output layer of a classifier), at most [`SHORT_INPUTS`] inputs, two tiles of
    /// `C` samples or more, and at least [`SHORT_WORK`] inputs times samples.
    #[inline(always)]
    pub fn takes_short(o: usize, i: usize, n: usize, c: usize) -> bool {
        (5..16).contains(&o) && o != 8 && (1..=SHORT_INPUTS).contains(&i) && n >= 2 * c && i * n >= SHORT_WORK
    }

    /// [`dense_forward`] for a short layer ([`takes_short`]): its weights padded with zero rows
    /// to `P` = 8 or 16 (each column one vector), `C` samples at a time. The row tiles of
    /// [`dense_forward`] would split 10 rows into tiles of 8 and 2, the second as slow as
    /// the first. Every output is the same chain of multiply-adds over the inputs in order,
    /// from the bias, so the bits are those of [`dense_forward`].
    #[inline(always)]
    pub fn dense_forward_short<T: Real, const C: usize, const FMA: bool>(
        w: &[T],
        b: &[T],
        x: &[T],
        out: &mut [T],
        o: usize,
        i: usize,
        n: usize,
    ) {
        // A buffer no larger than the layer needs: it is zeroed on every call.
        match (o > 8, i <= SHORT_SMALL) {
            (true, true) => forward_padded::<T, 16, SHORT_SMALL, C, FMA>(w, b, x, out, o, i, n),
            (true, false) => forward_padded::<T, 16, SHORT_INPUTS, C, FMA>(w, b, x, out, o, i, n),
            (false, true) => forward_padded::<T, 8, SHORT_SMALL, C, FMA>(w, b, x, out, o, i, n),
            (false, false) => forward_padded::<T, 8, SHORT_INPUTS, C, FMA>(w, b, x, out, o, i, n),
        }
    }

    /// Up to `N` columns padded to `P` rows, each on its own cache line (or two, in `f64`).
    #[repr(align(64))]
    struct Padded<T, const P: usize, const N: usize>([[T; P]; N]);

    impl<T: Real, const P: usize, const N: usize> Padded<T, P, N> {
        /// The `count` columns of `rows` values at the start of `values`, the rows past
        /// `rows` zero.
        #[inline(always)]
        fn new(values: &[T], rows: usize, count: usize) -> Self {
            let mut padded = Padded([[T::zero(); P]; N]);
            for (to, column) in padded.0.iter_mut().zip(values[..rows * count].chunks_exact(rows)) {
                for (t, &v) in to.iter_mut().zip(column) {
                    *t = v;
                }
            }
            padded
        }
    }

    #[inline(always)]
    fn forward_padded<T: Real, const P: usize, const N: usize, const C: usize, const FMA: bool>(
        w: &[T],
        b: &[T],
        x: &[T],
        out: &mut [T],
        o: usize,
        i: usize,
        n: usize,
    ) {
        let padded = Padded::<T, P, N>::new(w, o, i);
        let padded = &padded.0[..i];
        let mut bias = [T::zero(); P];
        bias[..o].copy_from_slice(&b[..o]);
        let groups = n / C;
        for g in 0..groups {
            let j = g * C;
            let xs: [&[T]; C] = core::array::from_fn(|c| &x[(j + c) * i..][..i]);
            let mut acc = [bias; C];
            for (t, w_col) in (0..i).zip(padded) {
                let w_col = *w_col;
                for c in 0..C {
                    let xk = xs[c][t];
                    for m in 0..P {
                        acc[c][m] = multiply_add::<T, FMA>(w_col[m], xk, acc[c][m]);
                    }
                }
            }
            for (c, a) in acc.iter().enumerate() {
                out[(j + c) * o..][..o].copy_from_slice(&a[..o]);
            }
        }
        for j in groups * C..n {
            let x = &x[j * i..][..i];
            let mut acc = bias;
            for (w_col, &xk) in padded.iter().zip(x) {
                for m in 0..P {
                    acc[m] = multiply_add::<T, FMA>(w_col[m], xk, acc[m]);
                }
            }
            out[j * o..][..o].copy_from_slice(&acc[..o]);
        }
    }

    /// The most samples [`weight_gradient_short`] takes (their deltas, padded, are copied onto
    /// the stack: 16 KiB in `f32`).
    const SHORT_SAMPLES: usize = 256;

    /// Whether [`weight_gradient_short`] takes a layer of `o` rows and `i` inputs for a batch
    /// of `n`: the rows of [`takes_short`], 1 to [`SHORT_SAMPLES`] samples, and at least
    /// [`SHORT_WORK`] inputs times samples.
    #[inline(always)]
    pub fn takes_short_gradient(o: usize, i: usize, n: usize) -> bool {
        (5..16).contains(&o) && o != 8 && i > 0 && (1..=SHORT_SAMPLES).contains(&n) && i * n >= SHORT_WORK
    }

    /// [`weight_gradient`] for a short layer ([`takes_short_gradient`]): each sample's deltas
    /// padded with zeros to `P` = 8 or 16 rows (one vector), `C` weight columns at a time. The
    /// same chains of multiply-adds over the samples in order as [`weight_gradient`], from
    /// the first sample's product, so the same bits.
    #[inline(always)]
    pub fn weight_gradient_short<T: Real, const C: usize, const FMA: bool>(
        g: &mut [T],
        d: &[T],
        a: &[T],
        o: usize,
        i: usize,
        n: usize,
    ) {
        match (o > 8, n <= SHORT_SMALL) {
            (true, true) => gradient_padded::<T, 16, SHORT_SMALL, C, FMA>(g, d, a, o, i, n),
            (true, false) => gradient_padded::<T, 16, SHORT_SAMPLES, C, FMA>(g, d, a, o, i, n),
            (false, true) => gradient_padded::<T, 8, SHORT_SMALL, C, FMA>(g, d, a, o, i, n),
            (false, false) => gradient_padded::<T, 8, SHORT_SAMPLES, C, FMA>(g, d, a, o, i, n),
        }
    }

    #[inline(always)]
    fn gradient_padded<T: Real, const P: usize, const N: usize, const C: usize, const FMA: bool>(
        g: &mut [T],
        d: &[T],
        a: &[T],
        o: usize,
        i: usize,
        n: usize,
    ) {
        let padded = Padded::<T, P, N>::new(d, o, n);
        let deltas = &padded.0[..n];
        let a = &a[..n * i];
        let mut k = 0;
        while k + C <= i {
            gradient_padded_tile::<T, P, C, FMA>(g, deltas, a, o, i, k);
            k += C;
        }
        while k < i {
            gradient_padded_tile::<T, P, 1, FMA>(g, deltas, a, o, i, k);
            k += 1;
        }
    }

    /// Weight columns `k..k + C` of [`gradient_padded`]: the first sample's product (no add,
    /// as `gradient_tile`: `0 + (-0)` would be `+0`), then a multiply-add per sample.
    #[inline(always)]
    fn gradient_padded_tile<T: Real, const P: usize, const C: usize, const FMA: bool>(
        g: &mut [T],
        deltas: &[[T; P]],
        a: &[T],
        o: usize,
        i: usize,
        k: usize,
    ) {
        let Some((d0, rest)) = deltas.split_first() else {
            return;
        };
        let a_cols = a.chunks_exact(i);
        let mut acc = [[T::zero(); P]; C];
        let a0 = &a[k..k + C];
        for c in 0..C {
            for m in 0..P {
                acc[c][m] = d0[m] * a0[c];
            }
        }
        for (d_col, a_col) in rest.iter().zip(a_cols.skip(1)) {
            rank_one_add::<T, P, C, FMA>(&mut acc, d_col, &a_col[k..k + C]);
        }
        for (c, acc) in acc.iter().enumerate() {
            g[(k + c) * o..][..o].copy_from_slice(&acc[..o]);
        }
    }

    /// `C` samples of [`dense_forward`], row tile by row tile.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn forward_columns<T: Real, const TALL: usize, const R: usize, const C: usize, const FMA: bool>(
        w: &[T],
        b: &[T],
        x: &[T],
        out: &mut [T],
        o: usize,
        i: usize,
        ks: Range<usize>,
    ) {
        macro_rules! tile {
            ($m:tt, $r:ident) => {
                forward_tile::<T, $m, C, FMA>(w, b, x, out, o, i, ks.clone(), $r)
            };
        }
        row_tiles!(o, [TALL, R, 32, 16, 8, 4, 2, 1], tile);
    }

    /// Rows `r..r + M` of `C` samples for the inputs `ks`: `acc = b` (first block) or the
    /// sums so far, then `acc += W[:, k] x[k]` for every `k` in `ks`, in order.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn forward_tile<T: Real, const M: usize, const C: usize, const FMA: bool>(
        w: &[T],
        b: &[T],
        x: &[T],
        out: &mut [T],
        o: usize,
        i: usize,
        ks: Range<usize>,
        r: usize,
    ) {
        let x = &x[..C * i];
        let mut acc = [[T::zero(); M]; C];
        for (c, a) in acc.iter_mut().enumerate() {
            let from = if ks.start == 0 {
                &b[r..r + M]
            } else {
                &out[c * o + r..c * o + r + M]
            };
            a.copy_from_slice(from);
        }
        // Each sample's inputs `ks`, sliced once to the block's length. (Reading them without
        // the bounds check, or copied into one block, measured slower on Zen 3: the compiler
        // then spills accumulators.)
        let len = ks.len();
        let xs: [&[T]; C] = core::array::from_fn(|c| &x[c * i + ks.start..][..len]);
        let w = &w[ks.start * o..ks.end * o];
        for (t, w_col) in (0..len).zip(w.chunks_exact(o)) {
            // Loaded once into registers and used for every sample.
            let mut w_tile = [T::zero(); M];
            w_tile.copy_from_slice(&w_col[r..r + M]);
            for c in 0..C {
                let xk = xs[c][t];
                for m in 0..M {
                    acc[c][m] = multiply_add::<T, FMA>(w_tile[m], xk, acc[c][m]);
                }
            }
        }
        for (c, a) in acc.iter().enumerate() {
            out[c * o + r..c * o + r + M].copy_from_slice(a);
        }
    }

    /// `g = sum_j d[:, j] a[:, j]^T` for `d` `o x n`, `a` `i x n`, `g` `o x i`; with `ADD`,
    /// `g += ...` instead (the sums continue from `g`'s values, in the same order).
    #[inline(always)]
    pub fn weight_gradient<T: Real, const R: usize, const NR: usize, const FMA: bool, const ADD: bool>(
        g: &mut [T],
        d: &[T],
        a: &[T],
        o: usize,
        i: usize,
        n: usize,
    ) {
        if n == 0 {
            if !ADD {
                g[..o * i].fill(T::zero());
            }
            return;
        }
        // Samples a block at a time, so that the block of `d` stays in the L1 cache while
        // every weight column uses it.
        let mut j0 = 0;
        while j0 < n {
            let js = j0..(j0 + J_BLOCK).min(n);
            let mut k = 0;
            while k + NR <= i {
                gradient_columns::<T, R, NR, FMA, ADD>(g, d, a, o, i, js.clone(), k);
                k += NR;
            }
            while k < i {
                gradient_columns::<T, R, 1, FMA, ADD>(g, d, a, o, i, js.clone(), k);
                k += 1;
            }
            j0 = js.end;
        }
    }

    /// Columns `k..k + C` of [`weight_gradient`], row tile by row tile.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn gradient_columns<T: Real, const R: usize, const C: usize, const FMA: bool, const ADD: bool>(
        g: &mut [T],
        d: &[T],
        a: &[T],
        o: usize,
        i: usize,
        js: Range<usize>,
        k: usize,
    ) {
        macro_rules! tile {
            ($m:tt, $r:ident) => {
                gradient_tile::<T, $m, C, FMA, ADD>(g, d, a, o, i, js.clone(), k, $r)
            };
        }
        row_tiles!(o, [R, 16, 8, 4, 1], tile);
    }

    /// Rows `r..r + M` of columns `k..k + C` for the samples `js`: `acc += d[r.., j] a[k + c, j]`
    /// in order, starting from the first sample's product (first block, unless `ADD`) or the
    /// sums so far.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn gradient_tile<T: Real, const M: usize, const C: usize, const FMA: bool, const ADD: bool>(
        g: &mut [T],
        d: &[T],
        a: &[T],
        o: usize,
        i: usize,
        js: Range<usize>,
        k: usize,
        r: usize,
    ) {
        let mut acc = [[T::zero(); M]; C];
        let mut rest = js.clone();
        if js.start == 0 && !ADD {
            // The first sample initializes the tile (one product, no add).
            let d0 = &d[r..r + M];
            let a0 = &a[k..k + C];
            for c in 0..C {
                for m in 0..M {
                    acc[c][m] = d0[m] * a0[c];
                }
            }
            rest.start = 1;
        } else {
            for (c, t) in acc.iter_mut().enumerate() {
                t.copy_from_slice(&g[(k + c) * o + r..(k + c) * o + r + M]);
            }
        }
        // The samples' columns through iterators: no bounds check per sample but the tile's.
        let d_cols = d[rest.start * o..rest.end * o].chunks_exact(o);
        let a_cols = a[rest.start * i..rest.end * i].chunks_exact(i);
        for (d_col, a_col) in d_cols.zip(a_cols) {
            let mut d_tile = [T::zero(); M];
            d_tile.copy_from_slice(&d_col[r..r + M]);
            rank_one_add::<T, M, C, FMA>(&mut acc, &d_tile, &a_col[k..k + C]);
        }
        for (c, t) in acc.iter().enumerate() {
            g[(k + c) * o + r..(k + c) * o + r + M].copy_from_slice(t);
        }
    }

    /// One sample's term of a weight gradient tile: `acc[c][m] += d[m] * a[c]` (the deltas
    /// in registers, each activation broadcast), for `gradient_tile` and `gradient_padded_tile`.
    #[inline(always)]
    fn rank_one_add<T: Real, const M: usize, const C: usize, const FMA: bool>(
        acc: &mut [[T; M]; C],
        d: &[T; M],
        a: &[T],
    ) {
        let a = &a[..C];
        for c in 0..C {
            let ak = a[c];
            for m in 0..M {
                acc[c][m] = multiply_add::<T, FMA>(d[m], ak, acc[c][m]);
            }
        }
    }

    /// Partial sums of [`sum_of_squares`] and [`all_finite`]: four 512-bit registers of
    /// `f64` (enough independent additions to cover their latency on two ports).
    const SUM_LANES: usize = 32;

    /// `sum(v^2)` in `f64`: element `m` goes to lane `m % 32`, then the lanes are added
    /// pairwise (lane `l` and `l + 16`, then `l` and `l + 8`, and so on).
    #[inline(always)]
    pub fn sum_of_squares<T: Real>(values: &[T]) -> f64 {
        let mut lanes = [0.0f64; SUM_LANES];
        let chunks = values.chunks_exact(SUM_LANES);
        let rest = chunks.remainder();
        for chunk in chunks {
            for (lane, &v) in lanes.iter_mut().zip(chunk) {
                let v = v.to_f64();
                *lane += v * v;
            }
        }
        for (lane, &v) in lanes.iter_mut().zip(rest) {
            let v = v.to_f64();
            *lane += v * v;
        }
        let mut half = SUM_LANES;
        while half > 1 {
            half /= 2;
            for l in 0..half {
                lanes[l] += lanes[l + half];
            }
        }
        lanes[0]
    }

    /// Whether every value is finite: `v * 0` is zero for a finite `v` and NaN for an
    /// infinity or a NaN, so the lanes' sums of it stay zero exactly when all values are
    /// finite (arithmetic the compiler vectorizes, no branch per value).
    ///
    /// The values past the last whole group of lanes are tested one by one (folding them
    /// into the lanes by a run-time count would keep the lanes in memory, not in registers),
    /// and a slice shorter than the lanes (a bias) needs nothing else.
    #[inline(always)]
    pub fn all_finite<T: Real>(values: &[T]) -> bool {
        let zero = T::zero();
        let chunks = values.chunks_exact(SUM_LANES);
        let rest = chunks.remainder().iter().fold(true, |all, &v| all & v.finite());
        if values.len() < SUM_LANES {
            return rest;
        }
        let mut lanes = [zero; SUM_LANES];
        for chunk in chunks {
            for (lane, &v) in lanes.iter_mut().zip(chunk) {
                *lane += v * zero;
            }
        }
        lanes.iter().fold(rest, |all, &lane| all & (lane == zero))
    }

    /// Whether `p - lr * g` is finite for every pair (`p` and `g` of one length): the lanes of
    /// [`all_finite`], over the update's values.
    #[inline(always)]
    pub fn sgd_update_finite<T: Real>(p: &[T], g: &[T], lr: T) -> bool {
        let zero = T::zero();
        let (p_chunks, g_chunks) = (p.chunks_exact(SUM_LANES), g.chunks_exact(SUM_LANES));
        let rest = p_chunks
            .remainder()
            .iter()
            .zip(g_chunks.remainder())
            .fold(true, |all, (&p, &g)| all & (p - lr * g).finite());
        if p.len() < SUM_LANES {
            return rest;
        }
        let mut lanes = [zero; SUM_LANES];
        for (p, g) in p_chunks.zip(g_chunks) {
            for ((lane, &p), &g) in lanes.iter_mut().zip(p).zip(g) {
                *lane += (p - lr * g) * zero;
            }
        }
        lanes.iter().fold(rest, |all, &lane| all & (lane == zero))
    }

    /// `a * b + c`: one fused multiply-add (one rounding) where the path has the instruction,
    /// else a multiply and an add.
    #[inline(always)]
    pub(super) fn multiply_add<T: Real, const FMA: bool>(a: T, b: T, c: T) -> T {
        if FMA {
            a.mul_add(b, c)
        } else {
            c + a * b
        }
    }

    /// `a[i] = f(z[i])`.
    #[inline(always)]
    pub fn map<T: Real>(z: &[T], a: &mut [T], f: impl Fn(T) -> T) {
        for (a, &z) in a.iter_mut().zip(z) {
            *a = f(z);
        }
    }

    /// `W -= lr * (d a^T)` for one sample: `d` has `o` values, `a` has `i`; each weight gets
    /// `g = d * a`, then `w - lr * g` (the rounding of the gradient followed by an SGD step).
    /// Layers of up to `R` rows go row tile by row tile with the tile's deltas in registers;
    /// taller ones column by column (several passes of narrower tiles over a matrix that is
    /// not in the L1 cache would read each cache line shared by two tiles twice).
    #[inline(always)]
    pub fn sgd_outer_update<T: Real, const R: usize>(w: &mut [T], lr: T, d: &[T], a: &[T], o: usize, i: usize) {
        let (w, d, a) = (&mut w[..o * i], &d[..o], &a[..i]);
        if o > R {
            for (w_col, &ak) in w.chunks_exact_mut(o).zip(a) {
                for (w, &dm) in w_col.iter_mut().zip(d) {
                    let g = dm * ak;
                    *w -= lr * g;
                }
            }
            return;
        }
        macro_rules! tile {
            ($m:tt, $r:ident) => {
                update_tile::<T, $m>(&mut *w, lr, d, a, o, $r)
            };
        }
        row_tiles!(o, [R, 32, 16, 8, 4, 2, 1], tile);
    }

    /// Rows `r..r + M` of [`sgd_outer_update`].
    #[inline(always)]
    fn update_tile<T: Real, const M: usize>(w: &mut [T], lr: T, d: &[T], a: &[T], o: usize, r: usize) {
        let mut d_tile = [T::zero(); M];
        d_tile.copy_from_slice(&d[r..r + M]);
        for (w_col, &ak) in w.chunks_exact_mut(o).zip(a) {
            let w_tile = &mut w_col[r..r + M];
            for m in 0..M {
                let g = d_tile[m] * ak;
                w_tile[m] -= lr * g;
            }
        }
    }

    /// `W -= lr * (d a^T)` and `b -= lr * d` (as [`sgd_outer_update`] computes them), then
    /// `out = W x + b` for one sample (as [`dense_forward`] sums it), row tile by row tile in
    /// one pass over `W`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn sgd_update_and_forward<T: Real, const R: usize, const FMA: bool>(
        w: &mut [T],
        b: &mut [T],
        lr: T,
        d: &[T],
        a: &[T],
        x: &[T],
        out: &mut [T],
        o: usize,
        i: usize,
    ) {
        for (b, &dm) in b[..o].iter_mut().zip(&d[..o]) {
            *b -= lr * dm;
        }
        let (w, b) = (&mut w[..o * i], &b[..o]);
        macro_rules! tile {
            ($m:tt, $r:ident) => {
                update_forward_tile::<T, $m, FMA>(&mut *w, b, lr, d, a, x, &mut *out, o, $r)
            };
        }
        row_tiles!(o, [R, 32, 16, 8, 4, 2, 1], tile);
    }

    /// Rows `r..r + M` of [`sgd_update_and_forward`]: the deltas and the sums stay in registers
    /// while the loop runs over the weight columns.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn update_forward_tile<T: Real, const M: usize, const FMA: bool>(
        w: &mut [T],
        b: &[T],
        lr: T,
        d: &[T],
        a: &[T],
        x: &[T],
        out: &mut [T],
        o: usize,
        r: usize,
    ) {
        let mut acc = [T::zero(); M];
        acc.copy_from_slice(&b[r..r + M]);
        let mut d_tile = [T::zero(); M];
        d_tile.copy_from_slice(&d[r..r + M]);
        for ((w_col, &ak), &xk) in w.chunks_exact_mut(o).zip(a).zip(x) {
            let w_tile = &mut w_col[r..r + M];
            for m in 0..M {
                let g = d_tile[m] * ak;
                let updated = w_tile[m] - lr * g;
                w_tile[m] = updated;
                acc[m] = multiply_add::<T, FMA>(updated, xk, acc[m]);
            }
        }
        out[r..r + M].copy_from_slice(&acc);
    }

    /// `out[:, j] = W^T d[:, j]` for `W` `o x i`, `d` `o x n`, `out` `i x n`.
    ///
    /// Each value is a dot product over `o`, summed in [`LANES`] partial sums (element `m`
    /// goes to lane `m % LANES`) that are then added pairwise in a fixed order, so that it
    /// vectorizes without reassociating anything the compiler could order differently.
    ///
    /// Narrow layers (`o <= NARROW`, output layers usually) are done differently: a block of
    /// [`BLOCK`] samples of `d` is transposed into a local array, so that each weight
    /// multiplies a vector of samples; each value is then the sum over `m` in order, as in
    /// the single-sample loop for the samples left over.
    #[inline(always)]
    pub fn input_gradient<T: Real>(w: &[T], d: &[T], out: &mut [T], o: usize, i: usize, n: usize) {
        if o <= NARROW {
            return input_gradient_narrow(w, d, out, o, i, n);
        }
        // Tiles of 2 inputs by 4 samples (each weight column and each delta read once per
        // tile), then the samples left over one at a time: every value is the same dot
        // product, [`dot`]'s, whatever tile it is in.
        let (w, d, out) = (&w[..o * i], &d[..o * n], &mut out[..i * n]);
        let mut j = 0;
        while j + 4 <= n {
            let mut k = 0;
            while k + 2 <= i {
                dot_tile::<T, 2, 4>(w, d, out, o, i, k, j);
                k += 2;
            }
            while k < i {
                dot_tile::<T, 1, 4>(w, d, out, o, i, k, j);
                k += 1;
            }
            j += 4;
        }
        for (out_col, d_col) in out[j * i..].chunks_exact_mut(i).zip(d[j * o..].chunks_exact(o)) {
            for (value, w_col) in out_col.iter_mut().zip(w.chunks_exact(o)) {
                *value = dot(w_col, d_col);
            }
        }
    }

    /// `out[k + a, j + b] = dot(W[:, k + a], d[:, j + b])` for `a < CI`, `b < CJ`, each summed
    /// as [`dot`] sums it.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn dot_tile<T: Real, const CI: usize, const CJ: usize>(
        w: &[T],
        d: &[T],
        out: &mut [T],
        o: usize,
        i: usize,
        k: usize,
        j: usize,
    ) {
        let w_cols: [&[T]; CI] = std::array::from_fn(|a| &w[(k + a) * o..(k + a + 1) * o]);
        let d_cols: [&[T]; CJ] = std::array::from_fn(|b| &d[(j + b) * o..(j + b + 1) * o]);
        let mut lanes = [[[T::zero(); LANES]; CJ]; CI];
        let whole = o - o % LANES;
        // Every column as `whole / LANES` blocks of the same length: no bounds checks in the
        // loop, and the partial sums stay in registers.
        let blocks = whole / LANES;
        let w_blocks: [&[[T; LANES]]; CI] = std::array::from_fn(|a| &w_cols[a].as_chunks::<LANES>().0[..blocks]);
        let d_blocks: [&[[T; LANES]]; CJ] = std::array::from_fn(|b| &d_cols[b].as_chunks::<LANES>().0[..blocks]);
        for m in 0..blocks {
            let wv: [[T; LANES]; CI] = std::array::from_fn(|a| w_blocks[a][m]);
            let dv: [[T; LANES]; CJ] = std::array::from_fn(|b| d_blocks[b][m]);
            for a in 0..CI {
                for b in 0..CJ {
                    for l in 0..LANES {
                        lanes[a][b][l] += wv[a][l] * dv[b][l];
                    }
                }
            }
        }
        for (l, m) in (whole..o).enumerate() {
            for (lane_row, w_col) in lanes.iter_mut().zip(&w_cols) {
                for (lane, d_col) in lane_row.iter_mut().zip(&d_cols) {
                    lane[l] += w_col[m] * d_col[m];
                }
            }
        }
        for (a, lane_row) in lanes.iter_mut().enumerate() {
            for (b, lane) in lane_row.iter_mut().enumerate() {
                out[(j + b) * i + k + a] = reduce_lanes(lane);
            }
        }
    }

    /// Widest layer [`input_gradient`] transposes blocks of.
    const NARROW: usize = 32;
    /// Samples per transposed block.
    const BLOCK: usize = 8;

    #[inline(always)]
    fn input_gradient_narrow<T: Real>(w: &[T], d: &[T], out: &mut [T], o: usize, i: usize, n: usize) {
        let o = o.min(NARROW);
        let mut j = 0;
        while j + BLOCK <= n {
            let mut block = [[T::zero(); BLOCK]; NARROW];
            for (c, d_col) in d[j * o..(j + BLOCK) * o].chunks_exact(o).enumerate() {
                for (m, &v) in d_col.iter().enumerate() {
                    block[m][c] = v;
                }
            }
            for (k, w_col) in w.chunks_exact(o).enumerate().take(i) {
                let mut acc = [T::zero(); BLOCK];
                for (&wv, row) in w_col.iter().zip(&block) {
                    for c in 0..BLOCK {
                        acc[c] += wv * row[c];
                    }
                }
                for (c, &v) in acc.iter().enumerate() {
                    out[(j + c) * i + k] = v;
                }
            }
            j += BLOCK;
        }
        for (out_col, d_col) in out[j * i..]
            .chunks_exact_mut(i)
            .zip(d[j * o..].chunks_exact(o))
            .take(n - j)
        {
            for (value, w_col) in out_col.iter_mut().zip(w.chunks_exact(o)) {
                *value = w_col.iter().zip(d_col).fold(T::zero(), |s, (&w, &d)| s + w * d);
            }
        }
    }

    #[inline(always)]
    fn dot<T: Real>(a: &[T], b: &[T]) -> T {
        let mut lanes = [T::zero(); LANES];
        let mut a_chunks = a.chunks_exact(LANES);
        let mut b_chunks = b.chunks_exact(LANES);
        for (a, b) in (&mut a_chunks).zip(&mut b_chunks) {
            for l in 0..LANES {
                lanes[l] += a[l] * b[l];
            }
        }
        for (l, (&a, &b)) in a_chunks.remainder().iter().zip(b_chunks.remainder()).enumerate() {
            lanes[l] += a * b;
        }
        reduce_lanes(&mut lanes)
    }

    /// The sum of [`dot`]'s partial sums, added pairwise in a fixed order (overwrites them).
    #[inline(always)]
    fn reduce_lanes<T: Real>(lanes: &mut [T; LANES]) -> T {
        let mut width = LANES / 2;
        while width > 0 {
            for l in 0..width {
                lanes[l] += lanes[l + width];
            }
            width /= 2;
        }
        lanes[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsupported_path_falls_back_to_a_supported_one() {
        for path in KernelPath::ALL {
            let chosen = path.or_supported();
            assert!(chosen <= path && chosen.is_supported());
        }
        assert_eq!(KernelPath::Portable.or_supported(), KernelPath::Portable);
    }

    /// Short layers (5 to 15 rows but 8) take their own padded kernels for the forward pass
    /// and the weight gradient: on every path, the bits of the row-tiled kernels (compiled
    /// with the same multiply-adds), for batch sizes around the tile widths and the limits.
    #[test]
    fn short_layers_give_the_bits_of_the_row_tiles() {
        // Zeros among the values, so that some products are -0 (the first sample's product
        // must keep its sign, as the row tiles keep it).
        let value = |k: usize| match k % 11 {
            3 => 0.0,
            _ => ((k * 37 + 11) % 97) as f32 / 48.5 - 1.0,
        };
        for o in [5, 7, 8, 9, 10, 15, 16] {
            for i in [1, 37, 128, 256, 257] {
                for n in [1, 3, 16, 17, 41, 256, 257] {
                    let w: Vec<f32> = (0..o * i).map(|k| value(k + 7)).collect();
                    let b: Vec<f32> = (0..o).map(|k| value(k + 500)).collect();
                    let x: Vec<f32> = (0..i * n).map(|k| value(k + 1000)).collect();
                    let d: Vec<f32> = (0..o * n).map(|k| -value(k + 3000)).collect();
                    for path in KernelPath::ALL {
                        let fma = path.or_supported() != KernelPath::Portable;
                        let mut expected = vec![0.0f32; o * n];
                        let mut expected_g = vec![0.0f32; o * i];
                        if fma {
                            portable::dense_forward::<f32, 64, 4, 128, true>(&w, &b, &x, &mut expected, o, i, n);
                            portable::weight_gradient::<f32, 64, 4, true, false>(&mut expected_g, &d, &x, o, i, n);
                        } else {
                            portable::dense_forward::<f32, 8, 4, 32, false>(&w, &b, &x, &mut expected, o, i, n);
                            portable::weight_gradient::<f32, 8, 4, false, false>(&mut expected_g, &d, &x, o, i, n);
                        }
                        // One value more in each output, which stays as it was.
                        let mut out = vec![f32::NAN; o * n + 1];
                        <f32 as Kernels>::dense_forward(path, &w, &b, &x, &mut out[..o * n], o, i, n);
                        let same = out[..o * n]
                            .iter()
                            .zip(&expected)
                            .all(|(a, e)| a.to_bits() == e.to_bits());
                        assert!(same, "forward, {path:?}, {o}x{i}, {n} samples");
                        assert!(out[o * n].is_nan());
                        let mut g = vec![f32::NAN; o * i + 1];
                        <f32 as Kernels>::weight_gradient(path, &mut g[..o * i], &d, &x, o, i, n);
                        let same = g[..o * i]
                            .iter()
                            .zip(&expected_g)
                            .all(|(a, e)| a.to_bits() == e.to_bits());
                        assert!(same, "weight gradient, {path:?}, {o}x{i}, {n} samples");
                        assert!(g[o * i].is_nan());
                    }
                }
            }
        }
    }

    #[test]
    fn the_run_time_dimension_kernels_match_the_static_ones() {
        // 5 x 37 weights, 41 samples: tails in every direction, and more samples than a
        // block of the weight gradient's (for the accumulating variant's continuation).
        const O: usize = 5;
        const I: usize = 37;
        let n = 41;
        let value = |k: usize| ((k * 37 + 11) % 97) as f64 / 48.5 - 1.0;
        let weight = SMatrix::<f64, O, I>::from_fn(|r, c| value(r + c * O));
        let bias = SVector::<f64, O>::from_fn(|r, _| value(r + 500));
        let x: Vec<f64> = (0..I * n).map(|k| value(k + 1000)).collect();
        let delta: Vec<f64> = (0..O * n).map(|k| value(k + 3000)).collect();
        let (w, b) = (weight.as_slice(), bias.as_slice());
        for path in KernelPath::ALL {
            let mut expected = vec![0.0; O * n];
            dense_forward_on(path, &weight, &bias, &x, &mut expected, n);
            let mut out = vec![f64::NAN; O * n + 1];
            assert_eq!(dense_forward_dyn(path, w, b, &x, &mut out, O, I, n), &expected[..]);

            let mut expected = SMatrix::<f64, O, I>::zeros();
            weight_gradient_on(path, &mut expected, &delta, &x, n);
            let mut g = vec![f64::NAN; O * I];
            weight_gradient_dyn(path, &mut g, &delta, &x, O, I, n);
            assert_eq!(g, expected.as_slice());
            // The same sums in two calls, the second adding: the same bits.
            for split in [0, 1, 7, 32, 40] {
                let mut g = vec![f64::NAN; O * I];
                weight_gradient_dyn(path, &mut g, &delta[..O * split], &x[..I * split], O, I, split);
                add_weight_gradient_dyn(path, &mut g, &delta[O * split..], &x[I * split..], O, I, n - split);
                assert_eq!(g, expected.as_slice(), "{} split at {split}", path.name());
            }
            // Nothing to add leaves the sums as they are.
            add_weight_gradient_dyn(path, &mut g, &[], &[], O, I, 0);
            assert_eq!(g, expected.as_slice());
        }
    }

    /// Every path with fused multiply-adds computes each value of the batched products as one
    /// chain of them, in order: the forward pass from the bias over the inputs, the weight
    /// gradient from the first sample's product (or from the sums so far, when adding) over
    /// the samples. The shapes take the packed AVX2 kernels through partial row tiles, partial
    /// groups of samples and of columns, several input blocks (300 inputs) and several sample
    /// blocks (300 samples), and smaller products through the unpacked tiles.
    #[test]
    fn every_fused_path_sums_each_product_in_order() {
        let value = |k: usize| ((k * 7919 + 13) % 2003) as f32 / 1001.5 - 1.0;
        // Batches below and above the packed AVX2 kernel's 48 samples (from which layers of
        // more than 256 inputs read their weights from panels, in blocks of up to 1024).
        let shapes = [
            (128, 784, 32),
            (128, 784, 50),
            (16, 256, 12),
            (37, 300, 13),
            (37, 300, 60),
            (16, 1100, 48),
            (133, 70, 40),
            (10, 520, 300),
            (64, 64, 17),
            (17, 5, 9),
        ];
        for (o, i, n) in shapes {
            let w: Vec<f32> = (0..o * i).map(value).collect();
            let b: Vec<f32> = (0..o).map(|r| value(r + 11)).collect();
            let x: Vec<f32> = (0..i * n).map(|k| value(k + 101)).collect();
            let d: Vec<f32> = (0..o * n).map(|k| value(k + 307)).collect();
            let forward: Vec<u32> = (0..n)
                .flat_map(|j| (0..o).map(move |r| (j, r)))
                .map(|(j, r)| {
                    (0..i)
                        .fold(b[r], |acc, k| w[k * o + r].mul_add(x[j * i + k], acc))
                        .to_bits()
                })
                .collect();
            let chain = |start: Option<&[f32]>, r: usize, k: usize| {
                let (from, first) = match start {
                    Some(g) => (g[k * o + r], 0),
                    None => (d[r] * x[k], 1),
                };
                (first..n).fold(from, |acc, j| d[j * o + r].mul_add(x[j * i + k], acc))
            };
            let gradient: Vec<f32> = (0..i)
                .flat_map(|k| (0..o).map(move |r| (r, k)))
                .map(|(r, k)| chain(None, r, k))
                .collect();
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            let added: Vec<u32> = (0..i)
                .flat_map(|k| (0..o).map(move |r| (r, k)))
                .map(|(r, k)| chain(Some(&gradient), r, k).to_bits())
                .collect();
            for path in KernelPath::ALL
                .into_iter()
                .filter(|p| p.or_supported() != KernelPath::Portable)
            {
                let what = format!("{} {o}x{i}, {n} samples", path.name());
                // The weights on a cache line, as a network's are (`CacheAligned`), and off
                // one: the bits may not depend on where the matrix is.
                for offset in [0, 1, 4] {
                    let mut placed = vec![0.0f32; o * i + 2 * 16];
                    let start = placed.as_ptr().align_offset(64) + offset;
                    placed[start..start + o * i].copy_from_slice(&w);
                    let w = &placed[start..start + o * i];
                    let mut out = vec![f32::NAN; o * n + 5];
                    <f32 as Kernels>::dense_forward(path, w, &b, &x, &mut out[..o * n], o, i, n);
                    assert_eq!(bits(&out[..o * n]), forward, "forward {what}, weights at {offset}");
                    assert!(
                        out[o * n..].iter().all(|v| v.is_nan()),
                        "forward wrote past its samples, {what}"
                    );
                }
                let mut g = vec![f32::NAN; o * i];
                <f32 as Kernels>::weight_gradient(path, &mut g, &d, &x, o, i, n);
                assert_eq!(bits(&g), bits(&gradient), "weight gradient {what}");
                <f32 as Kernels>::add_weight_gradient(path, &mut g, &d, &x, o, i, n);
                assert_eq!(bits(&g), added, "added weight gradient {what}");
            }
        }
    }
}
