//! The convolution kernels (`nn::conv`): against a direct-loop reference (on every kernel
//! path the CPU supports), against finite differences, in `f32` against `f64`, and on
//! closed-form cases.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retroprop_runtime::nn::conv::{
    conv2d_backward, conv2d_forward, conv2d_forward_on, conv2d_input_gradient, conv2d_input_gradient_on,
    conv2d_parameter_gradients, conv2d_parameter_gradients_on, Conv2d,
};
use retroprop_runtime::nn::kernels::KernelPath;
use retroprop_runtime::Real;

/// Uniform values in `[-1, 1)`.
fn random(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// The geometries the tests run on, with a name for failure messages: stride 2, rectangular
/// kernels and strides, padding, several input channels, sizes that round down, padding
/// wider than the kernel (whole output rows that see only zeros) and a 1x1 kernel.
fn geometries() -> Vec<(&'static str, Conv2d)> {
    vec![
        ("stride 2", Conv2d::new(2, 6, 6, 3, (3, 3), (2, 2), (0, 0))),
        (
            "rectangular kernel and stride",
            Conv2d::new(3, 7, 6, 4, (3, 2), (2, 1), (1, 0)),
        ),
        ("padding", Conv2d::new(2, 5, 4, 3, (3, 3), (1, 1), (2, 1))),
        (
            "rounds down (H=7, k=2, s=2)",
            Conv2d::new(1, 7, 6, 2, (2, 3), (2, 2), (0, 0)),
        ),
        (
            "padding wider than the kernel",
            Conv2d::new(2, 3, 3, 2, (1, 2), (2, 3), (2, 2)),
        ),
        ("1x1 kernel", Conv2d::new(4, 3, 5, 2, (1, 1), (1, 1), (0, 0))),
    ]
}

/// Weight element `(o, (i * kh + y) * kw + x)` of the column-major `out x patch_len` matrix.
fn w_at(g: &Conv2d, w: &[f64], o: usize, i: usize, y: usize, x: usize) -> f64 {
    let (kh, kw) = g.kernel();
    w[o + ((i * kh + y) * kw + x) * g.out_channels()]
}

/// The input position `(iy, ix)` that kernel offset `(ky, kx)` of output `(oy, ox)` reads,
/// or `None` in the padding.
fn source(g: &Conv2d, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
    let iy = (oy * g.stride().0 + ky).checked_sub(g.padding().0)?;
    let ix = (ox * g.stride().1 + kx).checked_sub(g.padding().1)?;
    (iy < g.in_h() && ix < g.in_w()).then_some((iy, ix))
}

/// Every `(sample, o, oy, ox, i, ky, kx, iy, ix)` term of the convolution, for the reference.
fn for_each_term(g: &Conv2d, n: usize, mut f: impl FnMut([usize; 9])) {
    let (kh, kw) = g.kernel();
    for s in 0..n {
        for o in 0..g.out_channels() {
            for oy in 0..g.out_h() {
                for ox in 0..g.out_w() {
                    for i in 0..g.in_channels() {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                if let Some((iy, ix)) = source(g, oy, ox, ky, kx) {
                                    f([s, o, oy, ox, i, ky, kx, iy, ix]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn out_index(g: &Conv2d, s: usize, o: usize, oy: usize, ox: usize) -> usize {
    s * g.output_len() + (o * g.out_h() + oy) * g.out_w() + ox
}

fn in_index(g: &Conv2d, s: usize, i: usize, iy: usize, ix: usize) -> usize {
    s * g.input_len() + (i * g.in_h() + iy) * g.in_w() + ix
}

/// The convolution written directly: `out[s, o, oy, ox] = b[o] + sum w[o, i, ky, kx] x[s, i, iy, ix]`.
fn direct_forward(g: &Conv2d, w: &[f64], b: &[f64], x: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; g.output_len() * n];
    for s in 0..n {
        for o in 0..g.out_channels() {
            for p in 0..g.out_h() * g.out_w() {
                out[s * g.output_len() + o * g.out_h() * g.out_w() + p] = b[o];
            }
        }
    }
    for_each_term(g, n, |[s, o, oy, ox, i, ky, kx, iy, ix]| {
        out[out_index(g, s, o, oy, ox)] += w_at(g, w, o, i, ky, kx) * x[in_index(g, s, i, iy, ix)];
    });
    out
}

/// The gradients written directly, for `delta` the gradient of the output: `(dW, db, dX)`.
fn direct_backward(g: &Conv2d, w: &[f64], x: &[f64], delta: &[f64], n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (kh, kw) = g.kernel();
    let mut dw = vec![0.0; g.weight_len()];
    let mut db = vec![0.0; g.bias_len()];
    let mut dx = vec![0.0; g.input_len() * n];
    for s in 0..n {
        for o in 0..g.out_channels() {
            for p in 0..g.out_h() * g.out_w() {
                db[o] += delta[s * g.output_len() + o * g.out_h() * g.out_w() + p];
            }
        }
    }
    for_each_term(g, n, |[s, o, oy, ox, i, ky, kx, iy, ix]| {
        let d = delta[out_index(g, s, o, oy, ox)];
        dw[o + ((i * kh + ky) * kw + kx) * g.out_channels()] += d * x[in_index(g, s, i, iy, ix)];
        dx[in_index(g, s, i, iy, ix)] += d * w_at(g, w, o, i, ky, kx);
    });
    (dw, db, dx)
}

/// The im2col path's output, with fresh buffers.
fn forward<T: retroprop_runtime::Real>(g: &Conv2d, w: &[T], b: &[T], x: &[T], n: usize) -> Vec<T> {
    let mut scratch = vec![T::default(); g.scratch_len()];
    let mut out = vec![T::default(); g.output_len() * n];
    conv2d_forward(g, w, b, x, &mut scratch, &mut out, n);
    out
}

/// The im2col path's gradients `(dW, db, dX)`, with fresh buffers.
fn backward<T: retroprop_runtime::Real>(
    g: &Conv2d,
    w: &[T],
    x: &[T],
    delta: &[T],
    n: usize,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let mut scratch = vec![T::default(); g.scratch_len()];
    let mut dw = vec![T::default(); g.weight_len()];
    let mut db = vec![T::default(); g.bias_len()];
    let mut dx = vec![T::default(); g.input_len() * n];
    conv2d_backward(g, w, x, delta, &mut scratch, &mut dw, &mut db, Some(&mut dx), n);
    (dw, db, dx)
}

/// `max |a - b| / max(1, |b|)` over the pairs, after checking the lengths.
fn worst_relative(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0, f64::max)
}

struct Case {
    g: Conv2d,
    n: usize,
    w: Vec<f64>,
    b: Vec<f64>,
    x: Vec<f64>,
    r: Vec<f64>,
}

fn case(g: Conv2d, n: usize, seed: u64) -> Case {
    Case {
        g,
        n,
        w: random(g.weight_len(), seed),
        b: random(g.bias_len(), seed + 1),
        x: random(g.input_len() * n, seed + 2),
        r: random(g.output_len() * n, seed + 3),
    }
}

#[test]
fn output_sizes_round_down_as_pytorch() {
    for (name, g) in geometries() {
        let (kh, kw) = g.kernel();
        let expected_h = ((g.in_h() + 2 * g.padding().0 - kh) as f64 / g.stride().0 as f64).floor() as usize + 1;
        let expected_w = ((g.in_w() + 2 * g.padding().1 - kw) as f64 / g.stride().1 as f64).floor() as usize + 1;
        assert_eq!((g.out_h(), g.out_w()), (expected_h, expected_w), "{name}");
        assert_eq!(g.patch_len(), g.in_channels() * kh * kw, "{name}");
        assert_eq!(g.input_len(), g.in_channels() * g.in_h() * g.in_w(), "{name}");
        assert_eq!(g.output_len(), g.out_channels() * g.out_h() * g.out_w(), "{name}");
        assert_eq!(g.weight_len(), g.out_channels() * g.patch_len(), "{name}");
        assert_eq!(g.patches_len(), g.patch_len() * g.out_h() * g.out_w(), "{name}");
        let (ph, pw) = g.padding();
        let padded = if (ph, pw) == (0, 0) {
            0
        } else {
            g.in_channels() * (g.in_h() + 2 * ph) * (g.in_w() + 2 * pw)
        };
        let scratch = g.patches_len() + g.output_len() + g.weight_len() + padded;
        assert_eq!(g.scratch_len(), scratch, "{name}");
        assert_eq!(g.multiply_adds(), g.weight_len() * g.out_h() * g.out_w(), "{name}");
    }
    // Spelled out: 7 = 3 * 2 + 1, the last row is never used.
    let g = Conv2d::new(1, 7, 7, 1, (2, 2), (2, 2), (0, 0));
    assert_eq!((g.out_h(), g.out_w()), (3, 3));
    let g = Conv2d::new(1, 7, 6, 1, (3, 2), (2, 3), (1, 2));
    assert_eq!((g.out_h(), g.out_w()), (4, 3));
}

#[test]
fn invalid_geometries_are_rejected() {
    assert!(Conv2d::checked(0, 4, 4, 1, (3, 3), (1, 1), (0, 0)).is_none());
    assert!(Conv2d::checked(1, 4, 4, 0, (3, 3), (1, 1), (0, 0)).is_none());
    assert!(Conv2d::checked(1, 0, 4, 1, (1, 1), (1, 1), (1, 1)).is_none());
    assert!(Conv2d::checked(1, 4, 4, 1, (0, 3), (1, 1), (0, 0)).is_none());
    assert!(Conv2d::checked(1, 4, 4, 1, (3, 3), (1, 0), (0, 0)).is_none());
    assert!(Conv2d::checked(1, 4, 4, 1, (5, 3), (1, 1), (0, 0)).is_none());
    assert!(Conv2d::checked(1, 4, 4, 1, (3, 7), (1, 1), (1, 1)).is_none());
    assert!(Conv2d::checked(1 << 32, 1 << 16, 1 << 16, 1, (1, 1), (1, 1), (0, 0)).is_none());
    assert!(Conv2d::checked(1, 4, 4, 1, (1, 1), (1, 1), (usize::MAX / 2, 0)).is_none());
    // The kernel may be as large as the padded input.
    let g = Conv2d::checked(1, 4, 4, 1, (6, 6), (1, 1), (1, 1)).expect("valid");
    assert_eq!((g.out_h(), g.out_w()), (1, 1));
}

#[test]
#[should_panic(expected = "the kernel is larger than the padded input")]
fn new_panics_on_an_invalid_geometry() {
    let _ = Conv2d::new(1, 4, 4, 1, (5, 5), (1, 1), (0, 0));
}

#[test]
fn im2col_agrees_with_the_direct_convolution() {
    let mut all = geometries();
    // Also LeNet-5's second convolution, 6 -> 16 channels, 5x5 on 14x14.
    all.push(("LeNet-5 conv2", Conv2d::new(6, 14, 14, 16, (5, 5), (1, 1), (0, 0))));
    for (seed, (name, g)) in all.into_iter().enumerate() {
        let c = case(g, 3, 10 * seed as u64);
        let out = forward(&g, &c.w, &c.b, &c.x, c.n);
        let reference = direct_forward(&g, &c.w, &c.b, &c.x, c.n);
        let error = worst_relative(&out, &reference);
        assert!(error <= 1e-12, "{name}: forward differs by {error:e}");

        let (dw, db, dx) = backward(&g, &c.w, &c.x, &c.r, c.n);
        let (rdw, rdb, rdx) = direct_backward(&g, &c.w, &c.x, &c.r, c.n);
        for (what, got, want) in [("dW", &dw, &rdw), ("db", &db, &rdb), ("dX", &dx, &rdx)] {
            let error = worst_relative(got, want);
            assert!(error <= 1e-12, "{name}: {what} differs by {error:e}");
        }
    }
}

/// `sum(out * r)`.
fn loss(c: &Case, w: &[f64], b: &[f64], x: &[f64]) -> f64 {
    forward(&c.g, w, b, x, c.n).iter().zip(&c.r).map(|(o, r)| o * r).sum()
}

/// Checks `analytic` against central differences of the loss with respect to each value of
/// the parameter `which` selects (0: weight, 1: bias, 2: input).
fn check_finite_differences(name: &str, c: &Case, which: usize, analytic: &[f64]) {
    const H: f64 = 1e-6;
    let mut params = [c.w.clone(), c.b.clone(), c.x.clone()];
    assert_eq!(params[which].len(), analytic.len(), "{name}");
    for j in 0..analytic.len() {
        let original = params[which][j];
        params[which][j] = original + H;
        let plus = loss(c, &params[0], &params[1], &params[2]);
        params[which][j] = original - H;
        let minus = loss(c, &params[0], &params[1], &params[2]);
        params[which][j] = original;
        let numeric = (plus - minus) / (2.0 * H);
        let tolerance = 1e-6 * analytic[j].abs().max(1.0);
        assert!(
            (numeric - analytic[j]).abs() <= tolerance,
            "{name}: gradient {which} [{j}]: analytic {} numeric {numeric}",
            analytic[j]
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    for (seed, (name, g)) in geometries().into_iter().enumerate() {
        let c = case(g, 3, 100 + 10 * seed as u64);
        let (dw, db, dx) = backward(&g, &c.w, &c.x, &c.r, c.n);
        check_finite_differences(name, &c, 0, &dw);
        check_finite_differences(name, &c, 1, &db);
        check_finite_differences(name, &c, 2, &dx);
        // The check is not vacuous: the gradients are not all (nearly) zero.
        assert!(
            dw.iter().any(|v| v.abs() > 0.1) && dx.iter().any(|v| v.abs() > 0.1),
            "{name}"
        );
    }
}

#[test]
fn input_positions_no_window_covers_get_no_gradient() {
    // H = 7, k = 2, s = 2: row 6 is never read, so its gradient is exactly zero.
    let g = Conv2d::new(1, 7, 7, 2, (2, 2), (2, 2), (0, 0));
    let c = case(g, 3, 7);
    let (_, _, dx) = backward(&g, &c.w, &c.x, &c.r, c.n);
    for s in 0..3 {
        for col in 0..7 {
            assert_eq!(dx[in_index(&g, s, 0, 6, col)], 0.0);
            assert_eq!(dx[in_index(&g, s, 0, col, 6)], 0.0);
            assert_ne!(dx[in_index(&g, s, 0, 5, col.min(5))], 0.0);
        }
    }
}

#[test]
fn f32_agrees_with_f64() {
    let mut all = geometries();
    all.push(("LeNet-5 conv2", Conv2d::new(6, 14, 14, 16, (5, 5), (1, 1), (0, 0))));
    for (seed, (name, g)) in all.into_iter().enumerate() {
        let c = case(g, 3, 1000 + 10 * seed as u64);
        let narrow = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let widen = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
        let (w, b, x, r) = (narrow(&c.w), narrow(&c.b), narrow(&c.x), narrow(&c.r));
        // The f64 reference on the same (rounded) values.
        let (w64, b64, x64, r64) = (widen(&w), widen(&b), widen(&x), widen(&r));
        let out = widen(&forward(&g, &w, &b, &x, c.n));
        let error = worst_relative(&out, &forward(&g, &w64, &b64, &x64, c.n));
        assert!(error <= 1e-5, "{name}: f32 forward differs by {error:e}");
        let (dw, db, dx) = backward(&g, &w, &x, &r, c.n);
        let (rdw, rdb, rdx) = backward(&g, &w64, &x64, &r64, c.n);
        for (what, got, want) in [
            ("dW", widen(&dw), rdw),
            ("db", widen(&db), rdb),
            ("dX", widen(&dx), rdx),
        ] {
            let error = worst_relative(&got, &want);
            assert!(error <= 1e-5, "{name}: f32 {what} differs by {error:e}");
        }
    }
}

#[test]
fn zero_padding_in_closed_form() {
    // All-ones 4x4 input and 3x3 kernel, padding 1, stride 2, bias 0.5: each output is the
    // number of its window's values inside the image, plus the bias. Output row 0 sees rows
    // -1..=1 (2 inside), row 1 rows 1..=3 (3 inside); columns alike.
    let g = Conv2d::new(1, 4, 4, 1, (3, 3), (2, 2), (1, 1));
    let (w, b, x) = (vec![1.0; 9], vec![0.5], vec![1.0; 16]);
    assert_eq!(forward(&g, &w, &b, &x, 1), [4.5, 6.5, 6.5, 9.5]);

    // 3x3 input, 3x3 kernel, padding 1, stride 1: corners see 4 values, edges 6, the centre 9.
    let g = Conv2d::new(1, 3, 3, 1, (3, 3), (1, 1), (1, 1));
    let (w, b, x) = (vec![1.0; 9], vec![0.0], vec![1.0; 9]);
    let counts = [4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0];
    assert_eq!(forward(&g, &w, &b, &x, 1), counts);
    // With delta = 1: dX counts the windows covering each input, dW the outputs whose
    // offset lands inside, and db the outputs; by symmetry all are the same counts.
    let (dw, db, dx) = backward(&g, &w, &x, &[1.0; 9], 1);
    assert_eq!(dw, counts);
    assert_eq!(db, [9.0]);
    assert_eq!(dx, counts);

    // Two channels, padding only: a 1x1 input, a 3x3 kernel and padding 1 give one output,
    // the centre weights times the input.
    let g = Conv2d::new(2, 1, 1, 1, (3, 3), (1, 1), (1, 1));
    let w: Vec<f64> = (0..18).map(f64::from).collect();
    assert_eq!(forward(&g, &w, &[1.0], &[2.0, 3.0], 1), [1.0 + 2.0 * 4.0 + 3.0 * 13.0]);
}

#[test]
fn the_weight_layout_is_out_by_patch_column_major() {
    // Two output channels, one input channel, a 1x2 kernel on a 1x2 input: out[o] =
    // w(o, 0) x0 + w(o, 1) x1 with w(o, c) at o + 2 c.
    let g = Conv2d::new(1, 1, 2, 2, (1, 2), (1, 1), (0, 0));
    let w = [1.0, 10.0, 2.0, 20.0]; // w(0,0), w(1,0), w(0,1), w(1,1)
    assert_eq!(forward(&g, &w, &[0.0, 0.0], &[3.0, 4.0], 1), [11.0, 110.0]);
}

#[test]
fn previous_buffer_contents_do_not_matter_and_samples_are_independent() {
    let (_, g) = geometries().swap_remove(2);
    let c = case(g, 3, 55);
    let fresh = forward(&g, &c.w, &c.b, &c.x, c.n);
    let (dw, db, dx) = backward(&g, &c.w, &c.x, &c.r, c.n);

    let mut scratch = vec![f64::NAN; g.scratch_len() + 3];
    let mut out = vec![f64::NAN; g.output_len() * c.n + 5];
    let written = conv2d_forward(&g, &c.w, &c.b, &c.x, &mut scratch, &mut out, c.n);
    assert_eq!(written, &fresh[..]);
    assert!(
        out[g.output_len() * c.n..].iter().all(|v| v.is_nan()),
        "past the batch is untouched"
    );

    let (mut gw, mut gb) = (vec![f64::NAN; g.weight_len()], vec![f64::NAN; g.bias_len()]);
    let mut gx = vec![f64::NAN; g.input_len() * c.n];
    conv2d_backward(&g, &c.w, &c.x, &c.r, &mut scratch, &mut gw, &mut gb, Some(&mut gx), c.n);
    assert_eq!((&gw, &gb, &gx), (&dw, &db, &dx));
    // Without the input gradient, the same parameter gradients.
    gw.fill(f64::NAN);
    gb.fill(f64::NAN);
    conv2d_backward(&g, &c.w, &c.x, &c.r, &mut scratch, &mut gw, &mut gb, None, c.n);
    assert_eq!((&gw, &gb), (&dw, &db));

    // Each sample's output is what it would be alone, bit for bit.
    for s in 0..c.n {
        let x_s = &c.x[s * g.input_len()..(s + 1) * g.input_len()];
        let alone = forward(&g, &c.w, &c.b, x_s, 1);
        assert_eq!(alone, &fresh[s * g.output_len()..(s + 1) * g.output_len()]);
    }
    // The parameter gradients are the sums of the samples'.
    let mut sum_w = vec![0.0; g.weight_len()];
    for s in 0..c.n {
        let x_s = &c.x[s * g.input_len()..(s + 1) * g.input_len()];
        let r_s = &c.r[s * g.output_len()..(s + 1) * g.output_len()];
        for (acc, v) in sum_w.iter_mut().zip(backward(&g, &c.w, x_s, r_s, 1).0) {
            *acc += v;
        }
    }
    assert!(worst_relative(&sum_w, &dw) <= 1e-12);
}

#[test]
fn an_empty_batch_zeroes_the_gradients() {
    let (_, g) = geometries().swap_remove(0);
    let (mut dw, mut db) = (vec![f64::NAN; g.weight_len()], vec![f64::NAN; g.bias_len()]);
    let mut scratch = vec![0.0; g.scratch_len()];
    let w = random(g.weight_len(), 1);
    conv2d_backward(&g, &w, &[], &[], &mut scratch, &mut dw, &mut db, Some(&mut []), 0);
    assert!(dw.iter().chain(&db).all(|&v| v == 0.0));
    let mut out = [0.0; 0];
    assert!(conv2d_forward(&g, &w, &[0.0; 3], &[], &mut scratch, &mut out, 0).is_empty());
}

#[test]
#[should_panic]
fn a_short_scratch_buffer_panics() {
    let g = Conv2d::new(1, 4, 4, 1, (3, 3), (1, 1), (0, 0));
    let mut scratch = vec![0.0; g.scratch_len() - 1];
    let mut out = vec![0.0; g.output_len()];
    conv2d_forward(&g, &[1.0; 9], &[0.0], &[1.0; 16], &mut scratch, &mut out, 1);
}

#[test]
#[should_panic]
fn a_short_input_panics() {
    let g = Conv2d::new(1, 4, 4, 1, (3, 3), (1, 1), (0, 0));
    let mut scratch = vec![0.0; g.scratch_len()];
    let mut out = vec![0.0; g.output_len() * 2];
    conv2d_forward(&g, &[1.0; 9], &[0.0], &[1.0; 16], &mut scratch, &mut out, 2);
}

/// The supported kernel paths (the portable one always, AVX2 and AVX-512 where the CPU has
/// them).
fn supported_paths() -> Vec<KernelPath> {
    KernelPath::ALL.into_iter().filter(|path| path.is_supported()).collect()
}

/// `(out, dW, db, dX)` on `path`, each function with fresh buffers.
fn everything_on<T: Real>(
    path: KernelPath,
    g: &Conv2d,
    w: &[T],
    b: &[T],
    x: &[T],
    delta: &[T],
    n: usize,
) -> [Vec<T>; 4] {
    let mut scratch = vec![T::default(); g.scratch_len()];
    let mut out = vec![T::default(); g.output_len() * n];
    conv2d_forward_on(path, g, w, b, x, &mut scratch, &mut out, n);
    let (mut dw, mut db) = (vec![T::default(); g.weight_len()], vec![T::default(); g.bias_len()]);
    conv2d_parameter_gradients_on(path, g, x, delta, &mut scratch, &mut dw, &mut db, n);
    let mut dx = vec![T::default(); g.input_len() * n];
    conv2d_input_gradient_on(path, g, w, delta, &mut scratch, &mut dx, n);
    [out, dw, db, dx]
}

/// The geometries of [`geometries`], and shapes that take the dense kernels' other branches:
/// LeNet-5's convolutions (patches longer than a block of the forward kernel; 784 positions),
/// more output channels than the input-gradient kernel's narrow case (40), a single output
/// position, a kernel wider than the copies compiled for fixed widths.
fn path_geometries() -> Vec<(&'static str, Conv2d)> {
    let mut all = geometries();
    all.extend([
        ("LeNet-5 conv1", Conv2d::new(1, 28, 28, 6, (5, 5), (1, 1), (2, 2))),
        ("LeNet-5 conv2", Conv2d::new(6, 14, 14, 16, (5, 5), (1, 1), (0, 0))),
        ("40 output channels", Conv2d::new(3, 6, 5, 40, (3, 3), (2, 1), (1, 1))),
        ("one output position", Conv2d::new(2, 3, 4, 3, (3, 4), (1, 1), (0, 0))),
        ("kernel wider than 7", Conv2d::new(2, 4, 13, 3, (2, 9), (1, 2), (1, 1))),
    ]);
    all
}

#[test]
fn every_kernel_path_agrees_with_the_direct_convolution() {
    let paths = supported_paths();
    assert_eq!(paths[0], KernelPath::Portable);
    for (seed, (name, g)) in path_geometries().into_iter().enumerate() {
        let c = case(g, 3, 5000 + 10 * seed as u64);
        let reference = direct_forward(&g, &c.w, &c.b, &c.x, c.n);
        let (rdw, rdb, rdx) = direct_backward(&g, &c.w, &c.x, &c.r, c.n);
        let mut fused_results: Option<[Vec<f64>; 4]> = None;
        for &path in &paths {
            let results = everything_on(path, &g, &c.w, &c.b, &c.x, &c.r, c.n);
            for (what, got, want) in [
                ("output", &results[0], &reference),
                ("dW", &results[1], &rdw),
                ("db", &results[2], &rdb),
                ("dX", &results[3], &rdx),
            ] {
                let error = worst_relative(got, want);
                assert!(error <= 1e-12, "{name}, {}: {what} differs by {error:e}", path.name());
            }
            // The paths with fused multiply-adds sum in the same order: the same bits.
            if path != KernelPath::Portable {
                match &fused_results {
                    Some(first) => assert_eq!(first, &results, "{name}: {} differs from AVX2", path.name()),
                    None => fused_results = Some(results),
                }
            }
        }
    }
}

#[test]
fn every_kernel_path_agrees_in_f32_with_f64() {
    let narrow = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
    let widen = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
    for path in supported_paths() {
        for (seed, (name, g)) in path_geometries().into_iter().enumerate() {
            let c = case(g, 2, 6000 + 10 * seed as u64);
            let (w, b, x, r) = (narrow(&c.w), narrow(&c.b), narrow(&c.x), narrow(&c.r));
            let single = everything_on(path, &g, &w, &b, &x, &r, c.n);
            // The f64 reference on the same (rounded) values.
            let (w, b, x, r) = (widen(&w), widen(&b), widen(&x), widen(&r));
            let double = everything_on(path, &g, &w, &b, &x, &r, c.n);
            for ((what, got), want) in ["output", "dW", "db", "dX"].into_iter().zip(&single).zip(&double) {
                let error = worst_relative(&widen(got), want);
                assert!(
                    error <= 1e-5,
                    "{name}, {}: f32 {what} differs by {error:e}",
                    path.name()
                );
            }
        }
    }
}

#[test]
fn the_default_path_functions_agree_with_the_backward_pass() {
    // conv2d_backward is the two halves; each half alone gives the same bits.
    let (_, g) = geometries().swap_remove(1);
    let c = case(g, 3, 77);
    let (dw, db, dx) = backward(&g, &c.w, &c.x, &c.r, c.n);
    let mut scratch = vec![f64::NAN; g.scratch_len()];
    let (mut gw, mut gb) = (vec![f64::NAN; g.weight_len()], vec![f64::NAN; g.bias_len()]);
    conv2d_parameter_gradients(&g, &c.x, &c.r, &mut scratch, &mut gw, &mut gb, c.n);
    assert_eq!((&gw, &gb), (&dw, &db));
    let mut gx = vec![f64::NAN; g.input_len() * c.n + 2];
    let written = conv2d_input_gradient(&g, &c.w, &c.r, &mut scratch, &mut gx, c.n);
    assert_eq!(written, &dx[..]);
    assert!(
        gx[g.input_len() * c.n..].iter().all(|v| v.is_nan()),
        "past the batch is untouched"
    );
}
