//! The pooling kernels (`nn::pool`): finite differences, the first-maximum rule on ties,
//! accumulation over overlapping windows, and closed-form cases.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retroprop_runtime::nn::pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, Pool2d};

/// Geometries with a name for failure messages: non-overlapping windows on a size that rounds
/// down, overlapping windows, rectangular windows and strides, one window over everything.
fn geometries() -> Vec<(&'static str, Pool2d)> {
    vec![
        ("2x2 stride 2, H=7 rounds down", Pool2d::new(2, 7, 7, (2, 2), (2, 2))),
        ("3x3 stride 2, overlapping", Pool2d::new(2, 7, 6, (3, 3), (2, 2))),
        ("rectangular 2x3 stride (1, 2)", Pool2d::new(3, 5, 7, (2, 3), (1, 2))),
        ("one window", Pool2d::new(1, 3, 4, (3, 4), (1, 1))),
    ]
}

/// Distinct values, at least 0.01 apart, in random order: no ties, and a perturbation of
/// 1e-6 never changes which value of a window is the largest.
fn distinct(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut v: Vec<f64> = (0..len)
        .map(|i| i as f64 * 0.01 - 1.0 + rng.random_range(0.0..0.001))
        .collect();
    v.shuffle(&mut rng);
    v
}

fn random(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn max_forward(g: &Pool2d, x: &[f64], n: usize) -> (Vec<f64>, Vec<u32>) {
    let mut out = vec![0.0; g.output_len() * n];
    let mut argmax = vec![0; g.output_len() * n];
    max_pool_forward(g, x, &mut out, &mut argmax, n);
    (out, argmax)
}

fn avg_forward(g: &Pool2d, x: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; g.output_len() * n];
    avg_pool_forward(g, x, &mut out, n);
    out
}

/// Checks `analytic` against central differences of `loss` with respect to each value of `x`.
fn check_finite_differences(name: &str, x: &[f64], analytic: &[f64], loss: impl Fn(&[f64]) -> f64) {
    const H: f64 = 1e-6;
    assert_eq!(x.len(), analytic.len(), "{name}");
    let mut x = x.to_vec();
    for j in 0..x.len() {
        let original = x[j];
        x[j] = original + H;
        let plus = loss(&x);
        x[j] = original - H;
        let minus = loss(&x);
        x[j] = original;
        let numeric = (plus - minus) / (2.0 * H);
        let tolerance = 1e-6 * analytic[j].abs().max(1.0);
        assert!(
            (numeric - analytic[j]).abs() <= tolerance,
            "{name}: [{j}]: analytic {} numeric {numeric}",
            analytic[j]
        );
    }
    assert!(
        analytic.iter().any(|v| v.abs() > 0.05),
        "{name}: the gradient is not all zero"
    );
}

#[test]
fn output_sizes_round_down_as_pytorch() {
    let sizes: Vec<_> = geometries().iter().map(|(_, g)| (g.out_h(), g.out_w())).collect();
    assert_eq!(sizes, [(3, 3), (3, 2), (4, 3), (1, 1)]);
    for (name, g) in geometries() {
        assert_eq!(g.input_len(), g.channels() * g.in_h() * g.in_w(), "{name}");
        assert_eq!(g.output_len(), g.channels() * g.out_h() * g.out_w(), "{name}");
    }
    assert!(Pool2d::checked(1, 4, 4, (5, 1), (1, 1)).is_none());
    assert!(Pool2d::checked(1, 4, 4, (0, 1), (1, 1)).is_none());
    assert!(Pool2d::checked(1, 4, 4, (2, 2), (0, 1)).is_none());
    assert!(Pool2d::checked(0, 4, 4, (2, 2), (1, 1)).is_none());
    assert!(Pool2d::checked(1, 1 << 16, (1 << 16) + 1, (1, 1), (1, 1)).is_none());
    assert!(Pool2d::checked(1, 1 << 16, 1 << 16, (1, 1), (1, 1)).is_some());
}

#[test]
#[should_panic(expected = "the stride must be positive")]
fn new_panics_on_an_invalid_geometry() {
    let _ = Pool2d::new(1, 4, 4, (2, 2), (2, 0));
}

#[test]
fn max_pool_gradients_match_finite_differences() {
    for (seed, (name, g)) in geometries().into_iter().enumerate() {
        let n = 3;
        let x = distinct(g.input_len() * n, seed as u64);
        let r = random(g.output_len() * n, 100 + seed as u64);
        let (_, argmax) = max_forward(&g, &x, n);
        let mut grad = vec![f64::NAN; g.input_len() * n];
        max_pool_backward(&g, &argmax, &r, &mut grad, n);
        check_finite_differences(name, &x, &grad, |x| {
            max_forward(&g, x, n).0.iter().zip(&r).map(|(o, r)| o * r).sum()
        });
    }
}

#[test]
fn avg_pool_gradients_match_finite_differences() {
    for (seed, (name, g)) in geometries().into_iter().enumerate() {
        let n = 3;
        let x = random(g.input_len() * n, seed as u64);
        let r = random(g.output_len() * n, 100 + seed as u64);
        let mut grad = vec![f64::NAN; g.input_len() * n];
        avg_pool_backward(&g, &r, &mut grad, n);
        check_finite_differences(name, &x, &grad, |x| {
            avg_forward(&g, x, n).iter().zip(&r).map(|(o, r)| o * r).sum()
        });
    }
}

#[test]
fn max_pool_takes_the_first_maximum_on_ties() {
    // Two 2x2 windows per row of windows; indices are within the channel, row * 4 + column.
    let g = Pool2d::new(1, 4, 4, (2, 2), (2, 2));
    #[rustfmt::skip]
    let x = [
        1.0, 3.0,   7.0, 7.0,
        3.0, 2.0,   7.0, 7.0,

        0.0, 0.0,   -1.0, -2.0,
        0.0, 1.0,   -2.0, -1.0,
    ];
    let (out, argmax) = max_forward(&g, &x, 1);
    assert_eq!(out, [3.0, 7.0, 1.0, -1.0]);
    // The first 3 (row 0) over the one in row 1; the top-left 7 of four; the only 1; the first
    // -1 of two.
    assert_eq!(argmax, [1, 2, 13, 10]);
    let mut grad = vec![f64::NAN; 16];
    max_pool_backward(&g, &argmax, &[1.0, 2.0, 3.0, 4.0], &mut grad, 1);
    #[rustfmt::skip]
    let expected = [
        0.0, 1.0, 2.0, 0.0,
        0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 4.0, 0.0,
        0.0, 3.0, 0.0, 0.0,
    ];
    assert_eq!(grad, expected);

    // A window of equal values, in the second channel of the second sample: the index is
    // within the channel (0, its top-left value).
    let g = Pool2d::new(2, 2, 2, (2, 2), (1, 1));
    let x = [
        0.0, 1.0, 2.0, 3.0, 9.0, 4.0, 4.0, 0.0, -1.0, -2.0, -3.0, -4.0, 5.0, 5.0, 5.0, 5.0,
    ];
    let (out, argmax) = max_forward(&g, &x, 2);
    assert_eq!(out, [3.0, 9.0, -1.0, 5.0]);
    assert_eq!(argmax, [3, 0, 0, 0]);
}

#[test]
fn max_pool_gradients_accumulate_over_overlapping_windows() {
    // 1x4 input, 1x2 windows with stride 1: the 5 is the maximum of the first two windows.
    let g = Pool2d::new(1, 1, 4, (1, 2), (1, 1));
    let (out, argmax) = max_forward(&g, &[0.0, 5.0, 1.0, 2.0], 1);
    assert_eq!(out, [5.0, 5.0, 2.0]);
    assert_eq!(argmax, [1, 1, 3]);
    let mut grad = vec![f64::NAN; 4];
    max_pool_backward(&g, &argmax, &[1.0, 2.0, 4.0], &mut grad, 1);
    assert_eq!(grad, [0.0, 3.0, 0.0, 4.0]);
}

#[test]
fn max_pool_propagates_nan_and_handles_infinities() {
    let g = Pool2d::new(1, 1, 3, (1, 3), (1, 1));
    let (out, argmax) = max_forward(&g, &[1.0, f64::NAN, 3.0], 1);
    assert!(out[0].is_nan());
    assert_eq!(argmax, [1]);
    let (out, argmax) = max_forward(&g, &[f64::NEG_INFINITY; 3], 1);
    assert_eq!((out, argmax), (vec![f64::NEG_INFINITY], vec![0]));
}

#[test]
fn avg_pool_spreads_gradients_evenly_and_accumulates() {
    // 1x3 input, 1x2 windows with stride 1: the middle value is in both windows.
    let g = Pool2d::new(1, 1, 3, (1, 2), (1, 1));
    assert_eq!(avg_forward(&g, &[1.0, 2.0, 4.0], 1), [1.5, 3.0]);
    let mut grad = vec![f64::NAN; 3];
    avg_pool_backward(&g, &[1.0, 2.0], &mut grad, 1);
    assert_eq!(grad, [0.5, 1.5, 1.0]);

    // 2x3 windows, stride (2, 3), on 5x6: the last row is in no window and gets nothing.
    let g = Pool2d::new(1, 5, 6, (2, 3), (2, 3));
    let mut grad = vec![f64::NAN; 30];
    avg_pool_backward(&g, &[6.0; 4], &mut grad, 1);
    let mut expected = vec![1.0; 24];
    expected.extend([0.0; 6]);
    assert_eq!(grad, expected);
    let x: Vec<f64> = (0..30).map(f64::from).collect();
    assert_eq!(
        avg_forward(&g, &x, 1),
        [
            (0.0 + 1.0 + 2.0 + 6.0 + 7.0 + 8.0) / 6.0,
            4.0 + 3.0,
            13.0 + 3.0,
            16.0 + 3.0
        ]
    );
}

#[test]
fn f32_pooling_matches_f64() {
    let g = Pool2d::new(2, 7, 6, (3, 3), (2, 2));
    let x = distinct(g.input_len() * 2, 9);
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let x64: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
    let (mut out, mut argmax) = (vec![0.0f32; g.output_len() * 2], vec![0; g.output_len() * 2]);
    max_pool_forward(&g, &x32, &mut out, &mut argmax, 2);
    assert_eq!(
        (out.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(), argmax),
        max_forward(&g, &x64, 2)
    );
    let mut avg = vec![0.0f32; g.output_len() * 2];
    avg_pool_forward(&g, &x32, &mut avg, 2);
    for (a, b) in avg.iter().zip(avg_forward(&g, &x64, 2)) {
        assert!((f64::from(*a) - b).abs() <= 1e-6, "{a} vs {b}");
    }
}

#[test]
fn only_the_batch_is_written() {
    let g = Pool2d::new(1, 2, 2, (2, 2), (2, 2));
    let mut out = [f64::NAN; 3];
    let mut argmax = [7; 3];
    assert_eq!(
        max_pool_forward(&g, &[1.0, 2.0, 3.0, 4.0, 8.0, 7.0, 6.0, 5.0], &mut out, &mut argmax, 2),
        [4.0, 8.0]
    );
    assert!(out[2].is_nan());
    assert_eq!(argmax, [3, 0, 7]);
    let mut grad = [f64::NAN; 9];
    assert_eq!(max_pool_backward(&g, &argmax, &[1.0, 2.0], &mut grad, 2).len(), 8);
    assert!(grad[8].is_nan());
}

#[test]
#[should_panic]
fn a_short_output_buffer_panics() {
    let g = Pool2d::new(1, 4, 4, (2, 2), (2, 2));
    let mut out = [0.0; 3];
    avg_pool_forward(&g, &[0.0; 16], &mut out, 1);
}
