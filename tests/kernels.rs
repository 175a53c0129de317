//! The kernels' compiled paths (portable, AVX2, the two AVX-512 ones) against each other and against a
//! naive reference, and the fused one-sample SGD step against the two-pass path it replaces.
//! On an AVX-512 CPU all four paths run.

mod common;

use common::values;
use retroprop::nalgebra::{SMatrix, SVector};
use retroprop::nn::kernels::{self, KernelPath};
use retroprop::nn::Context;
use retroprop::prelude::*;

/// `f32` copies of deterministic values.
fn values_f32(seed: u64, len: usize, scale: f64) -> Vec<f32> {
    values(seed, len, scale).into_iter().map(|v| v as f32).collect()
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// Runs every kernel on every path for an `O x I` layer and `n` samples; asserts that each
/// agrees with a naive `f64` computation, that the paths agree bit for bit (the matrix
/// products among the paths with fused multiply-add), and that a sample's results do not
/// depend on its place in the batch.
fn check_shape<const O: usize, const I: usize>(n: usize) {
    let seed = (O * 1000 + I * 10 + n) as u64;
    let weight = SMatrix::<f32, O, I>::from_column_slice(&values_f32(seed, O * I, 1.0));
    let bias = SVector::<f32, O>::from_column_slice(&values_f32(seed + 1, O, 1.0));
    let x = values_f32(seed + 2, I * n, 1.0);
    let delta = values_f32(seed + 3, O * n, 1.0);
    let what = format!("{O}x{I}, {n} samples");

    // Naive references in f64.
    let w = |r: usize, k: usize| f64::from(weight[(r, k)]);
    let forward_ref: Vec<f64> = (0..n)
        .flat_map(|j| {
            let x = &x;
            (0..O).map(move |r| f64::from(bias[r]) + (0..I).map(|k| w(r, k) * f64::from(x[j * I + k])).sum::<f64>())
        })
        .collect();
    let grad_ref: Vec<f64> = (0..I)
        .flat_map(|k| {
            let (x, delta) = (&x, &delta);
            (0..O).map(move |r| {
                (0..n)
                    .map(|j| f64::from(delta[j * O + r]) * f64::from(x[j * I + k]))
                    .sum::<f64>()
            })
        })
        .collect();
    let input_ref: Vec<f64> = (0..n)
        .flat_map(|j| {
            let delta = &delta;
            (0..I).map(move |k| (0..O).map(|r| w(r, k) * f64::from(delta[j * O + r])).sum::<f64>())
        })
        .collect();
    let close = |actual: &[f32], expected: &[f64], terms: usize, name: &str| {
        assert_eq!(actual.len(), expected.len(), "{name} {what}");
        // Sums of `terms` products of values in [-1, 1): f32 rounding stays within this.
        let tol = 1e-6 * (terms as f64 + 1.0) * 4.0;
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!((f64::from(*a) - e).abs() <= tol, "{name} {what} [{i}]: {a} vs {e}");
        }
    };

    let mut reference: Option<[Vec<u32>; 3]> = None;
    let mut fma_reference: Option<[Vec<u32>; 2]> = None;
    for path in KernelPath::ALL {
        let mut out = vec![f32::NAN; O * n + 3];
        let forward = kernels::dense_forward_on(path, &weight, &bias, &x, &mut out, n).to_vec();
        assert!(
            out[O * n..].iter().all(|v| v.is_nan()),
            "forward wrote past its samples"
        );
        close(&forward, &forward_ref, I, "forward");

        let mut grad = SMatrix::<f32, O, I>::from_element(f32::NAN);
        kernels::weight_gradient_on(path, &mut grad, &delta, &x, n);
        close(grad.as_slice(), &grad_ref, n, "weight gradient");

        let mut input = vec![f32::NAN; I * n];
        let input = kernels::input_gradient_on(path, &weight, &delta, &mut input, n).to_vec();
        close(&input, &input_ref, O, "input gradient");
        // A sample's values do not depend on where it sits in the batch.
        for j in 0..n {
            let mut alone = vec![0.0; I];
            let alone = kernels::input_gradient_on(path, &weight, &delta[j * O..(j + 1) * O], &mut alone, 1);
            assert_eq!(
                bits(alone),
                bits(&input[j * I..(j + 1) * I]),
                "input gradient of sample {j}, {what}"
            );
            let mut alone = vec![0.0; O];
            let alone = kernels::dense_forward_on(path, &weight, &bias, &x[j * I..(j + 1) * I], &mut alone, 1);
            assert_eq!(
                bits(alone),
                bits(&forward[j * O..(j + 1) * O]),
                "forward of sample {j}, {what}"
            );
        }

        // The fused update on the first sample against the two-pass path.
        let (mut fused_w, mut fused_b) = (weight, bias);
        kernels::sgd_dense_update_on(path, &mut fused_w, &mut fused_b, 0.125, &delta, &x);
        let mut two_pass_grad = SMatrix::<f32, O, I>::zeros();
        kernels::weight_gradient_on(path, &mut two_pass_grad, &delta, &x, n.min(1));
        if n >= 1 {
            let expected_w = weight - two_pass_grad * 0.125;
            assert_eq!(
                bits(fused_w.as_slice()),
                bits(expected_w.as_slice()),
                "fused update {what}"
            );
            let expected_b: Vec<f32> = bias.iter().zip(&delta).map(|(b, d)| b - 0.125 * d).collect();
            assert_eq!(bits(fused_b.as_slice()), bits(&expected_b), "fused bias {what}");
        }

        // The update of the first sample applied during the next sample's forward pass, against
        // the update and then the forward pass, on the same path.
        if n >= 2 {
            let (mut one_pass_w, mut one_pass_b) = (weight, bias);
            let mut one_pass = vec![f32::NAN; O + 1];
            let one_pass = kernels::sgd_update_and_forward_on(
                path,
                &mut one_pass_w,
                &mut one_pass_b,
                0.125,
                &delta,
                &x,
                &x[I..],
                &mut one_pass,
            )
            .to_vec();
            assert_eq!(one_pass.len(), O);
            let mut two_pass = vec![0.0; O];
            let two_pass = kernels::dense_forward_on(path, &fused_w, &fused_b, &x[I..], &mut two_pass, 1);
            assert_eq!(bits(&one_pass), bits(two_pass), "update and forward {what}");
            assert_eq!(
                bits(one_pass_w.as_slice()),
                bits(fused_w.as_slice()),
                "weights of update and forward {what}"
            );
            assert_eq!(
                bits(one_pass_b.as_slice()),
                bits(fused_b.as_slice()),
                "bias of update and forward {what}"
            );
        }

        let squares = kernels::sum_of_squares_on(path, weight.as_slice());
        let squares_ref: f64 = weight.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        assert!(
            (squares - squares_ref).abs() <= 1e-12 * squares_ref,
            "sum of squares {what}"
        );
        // The matrix products use fused multiply-adds on the vector paths: those agree with
        // each other bit for bit (and with the portable path to rounding, checked above).
        let products = [bits(&forward), bits(grad.as_slice())];
        if path.or_supported() != KernelPath::Portable {
            match &fma_reference {
                None => fma_reference = Some(products),
                Some(first) => assert_eq!(first, &products, "{} differs from avx2 for {what}", path.name()),
            }
        }
        // Every other kernel gives the same bits on every path.
        let results = [
            bits(&input),
            bits(fused_w.as_slice()),
            vec![(squares.to_bits() >> 32) as u32, squares.to_bits() as u32],
        ];
        match &reference {
            None => reference = Some(results),
            Some(first) => assert_eq!(first, &results, "{} differs from portable for {what}", path.name()),
        }
    }
}

#[test]
fn every_kernel_path_gives_the_right_values_and_paths_agree() {
    for n in [1, 2, 3, 4, 5, 8, 9] {
        check_shape::<1, 2>(n);
        check_shape::<8, 2>(n);
        check_shape::<10, 128>(n);
        check_shape::<37, 19>(n);
        check_shape::<64, 5>(n);
        check_shape::<133, 70>(n);
    }
    // Batches longer than the kernels' sample and input blocks.
    check_shape::<37, 19>(70);
    check_shape::<10, 128>(67);
}

#[test]
fn a_batch_of_zero_samples_zeroes_the_weight_gradient() {
    let mut grad = SMatrix::<f32, 3, 2>::from_element(7.0);
    kernels::weight_gradient(&mut grad, &[], &[], 0);
    assert_eq!(grad, SMatrix::<f32, 3, 2>::zeros());
}

/// The check of plain SGD's update on every path: true for finite results, false for one
/// that overflows or a NaN, in the vectorized part or the remainder, in `f32` and `f64`.
#[test]
fn every_path_checks_the_sgd_update_alike() {
    for len in [0, 1, 31, 32, 33, 64, 100, 129] {
        let p = values_f32(len as u64 + 5, len, 2.0);
        let g = values_f32(len as u64 + 9, len, 1.0);
        for path in KernelPath::ALL {
            assert!(
                kernels::sgd_update_finite_on(path, &p, &g, 0.1),
                "len {len}, {}",
                path.name()
            );
            let (p64, g64): (Vec<f64>, Vec<f64>) = (
                p.iter().map(|&v| f64::from(v)).collect(),
                g.iter().map(|&v| f64::from(v)).collect(),
            );
            assert!(kernels::sgd_update_finite_on(path, &p64, &g64, 0.1), "f64, len {len}");
            for at in [0, len / 2, len.saturating_sub(1)].into_iter().filter(|&at| at < len) {
                // -f32::MAX - 0.1 * 1e38 overflows; a NaN weight stays one.
                let (mut big_p, mut big_g) = (p.clone(), g.clone());
                (big_p[at], big_g[at]) = (-f32::MAX, 1e38);
                assert!(
                    !kernels::sgd_update_finite_on(path, &big_p, &big_g, 0.1),
                    "at {at} of {len}"
                );
                // The same values with the gradient's sign turned: finite.
                big_g[at] = -1e38;
                assert!(
                    kernels::sgd_update_finite_on(path, &big_p, &big_g, 0.1),
                    "at {at} of {len}"
                );
                let mut nan = p64.clone();
                nan[at] = f64::NAN;
                assert!(
                    !kernels::sgd_update_finite_on(path, &nan, &g64, 0.1),
                    "f64 NaN at {at} of {len}"
                );
            }
        }
    }
}

/// The finiteness check on every path: true for finite values (zeros of both signs, the
/// largest and smallest), false for one NaN or infinity anywhere, in the vectorized part or the
/// remainder; and the sum of squares for lengths around its 32 lanes, the same bits on every
/// path.
#[test]
fn every_path_finds_each_non_finite_value_and_sums_squares_alike() {
    for len in [0, 1, 31, 32, 33, 64, 100, 129] {
        let mut v = values_f32(len as u64 + 3, len, 2.0);
        if len > 3 {
            (v[0], v[1], v[2]) = (-0.0, f32::MAX, f32::MIN_POSITIVE);
        }
        let mut sums = Vec::new();
        for path in KernelPath::ALL {
            assert!(kernels::all_finite_on(path, &v), "len {len}, {}", path.name());
            let wide: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
            assert!(kernels::all_finite_on(path, &wide), "f64, len {len}, {}", path.name());
            for at in [0, len / 2, len.saturating_sub(1)].into_iter().filter(|&at| at < len) {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let mut spoiled = v.clone();
                    spoiled[at] = bad;
                    assert!(
                        !kernels::all_finite_on(path, &spoiled),
                        "{bad} at {at} of {len}, {}",
                        path.name()
                    );
                }
            }
            let finite: Vec<f32> = v.iter().map(|&x| if x == f32::MAX { 1.5 } else { x }).collect();
            let squares = kernels::sum_of_squares_on(path, &finite);
            let reference: f64 = finite.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            assert!(
                (squares - reference).abs() <= 1e-12 * reference,
                "len {len}, {}",
                path.name()
            );
            sums.push(squares.to_bits());
        }
        assert!(sums.windows(2).all(|pair| pair[0] == pair[1]), "len {len}: {sums:?}");
    }
}

#[test]
fn the_chosen_path_runs_on_this_cpu() {
    let path = kernels::kernel_path();
    assert!(path.is_supported());
    // The widest supported path is chosen unless RETROPROP_KERNELS caps it; the expectation
    // holds whatever the variable says in this environment.
    let setting = std::env::var("RETROPROP_KERNELS").ok();
    assert_eq!(path, KernelPath::capped_by(setting.as_deref()));
    assert_eq!(KernelPath::Portable.name(), "portable");
}

#[test]
fn the_kernel_setting_caps_the_path() {
    for path in KernelPath::ALL {
        assert_eq!(KernelPath::from_name(path.name()), Some(path));
        assert_eq!(KernelPath::capped_by(Some(path.name())), path.or_supported());
    }
    assert_eq!(KernelPath::from_name("AVX2"), None);
    let preferred = KernelPath::preferred();
    assert!(matches!(preferred, KernelPath::Avx512 | KernelPath::Avx512Wide));
    assert_eq!(KernelPath::capped_by(None), preferred.or_supported());
    assert_eq!(KernelPath::capped_by(Some("sse9")), preferred.or_supported());
    assert_eq!(KernelPath::from_name("avx512-wide"), Some(KernelPath::Avx512Wide));
    assert_eq!(
        KernelPath::Avx512Wide.or_supported() == KernelPath::Avx512Wide,
        KernelPath::Avx512.is_supported()
    );
    assert_eq!(KernelPath::capped_by(Some("portable")), KernelPath::Portable);
}

retroprop::network! {
    /// Several activations and a dropout layer, to exercise every statement of the fused step.
    struct Mixed {
        input: 13,
        a: dense(37) -> tanh,
        drop: dropout(0.25),
        b: dense(20) -> relu,
        out: dense(5) -> softmax,
    }

    #[network(scalar = f64)]
    struct Regressor {
        input: 2,
        hidden: dense(8) -> tanh,
        out: dense(1) -> sigmoid,
    }
}

retroprop::network! {
    /// W1's shape in `f32`: small enough for the static one-sample path (`nn::small`).
    struct TinyTanh {
        input: 2,
        hidden: dense(8) -> tanh,
        out: dense(1) -> sigmoid,
    }

    /// Three small layers: relu, an activation without a loop of its own in `nn::small`
    /// (gelu), and softmax.
    struct SmallDeep {
        input: 8,
        a: dense(16) -> relu,
        b: dense(16) -> gelu,
        out: dense(6) -> softmax,
    }
}

retroprop::network! {
    /// The first layer is dropout: nothing to defer, the run is a loop of fused steps.
    struct InputDropout {
        input: 9,
        drop: dropout(0.2),
        hidden: dense(33) -> relu,
        out: dense(4) -> softmax,
    }

    /// Two dropout layers after the first: its delta ends up in the second one's buffer.
    struct TwoDropouts {
        input: 11,
        a: dense(20) -> relu,
        d1: dropout(0.2),
        d2: dropout(0.3),
        out: dense(3) -> softmax,
    }

    /// One layer: the first layer is also the output layer.
    struct Linear {
        input: 70,
        out: dense(3) -> identity,
    }

    /// 93 rows: on every path a mix of the one-pass update's row tiles (16, 32 or 128 rows, then
    /// 16, 8, 4 and 1).
    struct Wide {
        input: 150,
        hidden: dense(93) -> relu,
        out: dense(10) -> softmax,
    }
}

/// Inputs and targets for `samples` samples of `N` (one-hot labels for several outputs).
fn samples<N: Network>(samples: usize, seed: u64) -> (Vec<N::Scalar>, Vec<N::Scalar>) {
    let x = values(seed, N::INPUT * samples, 1.0)
        .into_iter()
        .map(N::Scalar::cast)
        .collect();
    let targets = if N::OUTPUT <= 3 {
        values(seed + 1, N::OUTPUT * samples, 0.5)
            .into_iter()
            .map(|v| N::Scalar::cast(v + 0.5))
            .collect()
    } else {
        let labels: Vec<usize> = (0..samples).map(|i| (i * 7 + 3) % N::OUTPUT).collect();
        one_hot(&labels, N::OUTPUT).expect("labels")
    };
    (x, targets)
}

/// Trains `N` with runs of one-sample steps (`Session::step_each`, runs of 1 to 9 samples)
/// and with one `Session::step` per sample; asserts bit-identical weights after every run,
/// the same mean losses and the last gradient norm.
fn runs_match_steps<N, L>(loss: &L, lr: N::Scalar)
where
    N: Network + PartialEq + std::fmt::Debug,
    L: Loss<N::Scalar>,
{
    let total = 45;
    let (x, targets) = samples::<N>(total, 21);
    let mut by_runs = N::seeded(4);
    let mut by_steps = N::seeded(4);
    let mut run_session = Session::<N>::new(1, 17);
    let mut step_session = Session::<N>::new(1, 17);
    let mut sgd = Sgd::new(lr);
    let mut start = 0;
    for len in (1..=9).cycle() {
        let end = (start + len).min(total);
        let (xs, ts) = (
            &x[start * N::INPUT..end * N::INPUT],
            &targets[start * N::OUTPUT..end * N::OUTPUT],
        );
        let mean = run_session
            .step_each(&mut by_runs, xs, ts, loss, &mut sgd)
            .expect("run");
        let mut sum = 0.0;
        for j in start..end {
            let value = step_session
                .step(
                    &mut by_steps,
                    &x[j * N::INPUT..(j + 1) * N::INPUT],
                    &targets[j * N::OUTPUT..(j + 1) * N::OUTPUT],
                    loss,
                    &mut sgd,
                )
                .expect("step");
            sum += value.to_f64();
        }
        assert_eq!(by_runs, by_steps, "{}: weights after samples {start}..{end}", N::NAME);
        let expected = N::Scalar::cast(sum / (end - start) as f64);
        assert_eq!(mean, expected, "{}: mean loss of samples {start}..{end}", N::NAME);
        assert_eq!(run_session.last_grad_norm(), step_session.last_grad_norm());
        start = end;
        if start == total {
            break;
        }
    }
    assert_ne!(by_runs, N::seeded(4), "{} did not train", N::NAME);
}

#[test]
fn runs_of_one_sample_steps_equal_a_step_per_sample() {
    runs_match_steps::<Mixed, _>(&CrossEntropy, 0.05);
    runs_match_steps::<Regressor, _>(&MeanSquaredError, 0.1);
    runs_match_steps::<InputDropout, _>(&CrossEntropy, 0.05);
    runs_match_steps::<Linear, _>(&MeanSquaredError, 0.01);
    runs_match_steps::<Wide, _>(&CrossEntropy, 0.05);
    runs_match_steps::<TwoDropouts, _>(&CrossEntropy, 0.05);
}

#[test]
fn a_run_stops_at_the_first_non_finite_step_and_keeps_the_ones_before() {
    let (mut x, targets) = samples::<Wide>(6, 5);
    x[3 * Wide::INPUT + 7] = f32::NAN;
    let mut net = Wide::seeded(2);
    let mut sgd = Sgd::new(0.05);
    let mut session = Session::<Wide>::new(1, 3);
    let error = session
        .step_each(&mut net, &x, &targets, &CrossEntropy, &mut sgd)
        .expect_err("sample 3 is NaN");
    match &error {
        TrainError::InRun { index: 3, source } => {
            assert!(matches!(**source, TrainError::NonFinite { .. }), "{source:?}");
        }
        other => panic!("expected the step on sample 3 to fail, got {other:?}"),
    }
    assert_eq!(error.to_string(), "the step on sample 3 of the run was not applied");
    // The network holds exactly the first three samples' updates, the last one included.
    let mut expected = Wide::seeded(2);
    let mut reference = Session::<Wide>::new(1, 3);
    reference
        .step_each(
            &mut expected,
            &x[..3 * Wide::INPUT],
            &targets[..3 * Wide::OUTPUT],
            &CrossEntropy,
            &mut sgd,
        )
        .expect("three finite samples");
    assert_eq!(net, expected);

    // Shape errors come first and change nothing.
    let before = net.clone();
    let ragged = session.step_each(&mut net, &x[..Wide::INPUT + 1], &targets[..20], &CrossEntropy, &mut sgd);
    assert!(matches!(ragged, Err(TrainError::Shape(_))), "{ragged:?}");
    let empty = session.step_each(&mut net, &[], &[], &CrossEntropy, &mut sgd);
    assert!(matches!(empty, Err(TrainError::Shape(_))), "{empty:?}");
    let mut ctx = Context::training(1);
    let mut no_room = Wide::workspace(0);
    let no_room = net.sgd_steps_into(
        &x[..Wide::INPUT],
        &targets[..10],
        &CrossEntropy,
        &mut ctx,
        &mut no_room,
        0.1,
    );
    assert!(matches!(no_room, Err(TrainError::Shape(_))), "{no_room:?}");
    assert_eq!(net, before);
}

#[test]
fn runs_with_other_optimizers_are_a_step_per_sample() {
    let (x, targets) = samples::<Mixed>(12, 8);
    let (mut by_run, mut by_steps) = (Mixed::seeded(6), Mixed::seeded(6));
    let (mut adam_run, mut adam_steps) = (Adam::new(0.01), Adam::new(0.01));
    let mut run_session = Session::<Mixed>::new(1, 2);
    let mut step_session = Session::<Mixed>::new(1, 2);
    let mean = run_session
        .step_each(&mut by_run, &x, &targets, &CrossEntropy, &mut adam_run)
        .expect("run");
    let mut sum = 0.0;
    for j in 0..12 {
        sum += step_session
            .step(
                &mut by_steps,
                &x[j * Mixed::INPUT..(j + 1) * Mixed::INPUT],
                &targets[j * Mixed::OUTPUT..(j + 1) * Mixed::OUTPUT],
                &CrossEntropy,
                &mut adam_steps,
            )
            .expect("step")
            .to_f64();
    }
    assert_eq!(by_run, by_steps);
    assert_eq!(mean, (sum / 12.0) as f32);
}

/// Trains `N` on one sample at a time, once through `Session::step` with plain SGD (the fused
/// path) and once through `gradients_into` and `Sgd::step` (two passes), with the same
/// dropout seed; asserts the networks stay bit-identical and the reported norms agree.
fn fused_matches_two_pass<N, L>(loss: &L, lr: N::Scalar, steps: usize)
where
    N: Network + PartialEq + std::fmt::Debug,
    L: Loss<N::Scalar>,
{
    let mut fused = N::seeded(3);
    let mut two_pass = N::seeded(3);
    let mut session = Session::<N>::new(1, 11);
    let mut sgd = Sgd::new(lr);
    let mut ctx = Context::training(11);
    let mut ws = N::workspace(1);
    let mut grads = N::zeroed_gradients();
    let x: Vec<N::Scalar> = values(5, N::INPUT * steps, 1.0)
        .into_iter()
        .map(N::Scalar::cast)
        .collect();
    let targets: Vec<N::Scalar> = if N::OUTPUT == 1 {
        values(6, steps, 0.5)
            .into_iter()
            .map(|v| N::Scalar::cast(v + 0.5))
            .collect()
    } else {
        let labels: Vec<usize> = (0..steps).map(|i| (i * 7) % N::OUTPUT).collect();
        one_hot(&labels, N::OUTPUT).expect("labels")
    };
    for step in 0..steps {
        let xs = &x[step * N::INPUT..(step + 1) * N::INPUT];
        let ys = &targets[step * N::OUTPUT..(step + 1) * N::OUTPUT];
        let fused_loss = session.step(&mut fused, xs, ys, loss, &mut sgd).expect("fused step");
        let loss_value = two_pass
            .gradients_into(xs, ys, loss, &mut ctx, &mut ws, &mut grads)
            .expect("gradients");
        sgd.step(&mut two_pass, &grads).expect("sgd step");
        assert_eq!(fused_loss, loss_value, "loss at step {step}");
        assert_eq!(fused, two_pass, "weights after step {step}");
        let norm = grads.global_norm();
        let relative = (session.last_grad_norm() - norm).abs() / norm.max(1e-12);
        assert!(
            relative < 1e-5,
            "step {step}: norm {} vs {norm}",
            session.last_grad_norm()
        );
    }
}

#[test]
fn the_fused_sgd_step_equals_gradients_then_sgd() {
    fused_matches_two_pass::<Mixed, _>(&CrossEntropy, 0.05, 60);
    fused_matches_two_pass::<Regressor, _>(&MeanSquaredError, 0.1, 60);
}

/// Whether `N`'s runs of one-sample steps take the static path.
fn takes_the_static_path<N: retroprop::network::SmallSteps>() {}

#[test]
fn small_networks_train_on_the_static_path_with_the_bits_of_the_two_pass_path() {
    takes_the_static_path::<TinyTanh>();
    takes_the_static_path::<SmallDeep>();
    takes_the_static_path::<Regressor>();
    takes_the_static_path::<Linear>();
    fused_matches_two_pass::<TinyTanh, _>(&MeanSquaredError, 0.1, 60);
    fused_matches_two_pass::<SmallDeep, _>(&CrossEntropy, 0.05, 60);
    fused_matches_two_pass::<Linear, _>(&MeanSquaredError, 0.05, 20);
    // A run of them: the same weights as a step per sample.
    let (x, targets) = samples::<SmallDeep>(40, 3);
    let (mut by_run, mut by_steps) = (SmallDeep::seeded(2), SmallDeep::seeded(2));
    let mut sgd = Sgd::new(0.05);
    let mut session = Session::<SmallDeep>::new(1, 2);
    session
        .step_each(&mut by_run, &x, &targets, &CrossEntropy, &mut sgd)
        .expect("run");
    for j in 0..40 {
        let (xs, ys) = (
            &x[j * SmallDeep::INPUT..(j + 1) * SmallDeep::INPUT],
            &targets[j * SmallDeep::OUTPUT..(j + 1) * SmallDeep::OUTPUT],
        );
        session
            .step(&mut by_steps, xs, ys, &CrossEntropy, &mut sgd)
            .expect("step");
    }
    assert_eq!(by_run, by_steps);
    assert_ne!(by_run, SmallDeep::seeded(2));
}

#[test]
fn the_fused_step_takes_one_sample_and_leaves_the_weights_alone_on_non_finite_values() {
    let mut net = Regressor::seeded(1);
    let before = net.clone();
    let mut ctx = Context::training(1);
    let mut ws = Regressor::workspace(4);
    let two = net.sgd_step_into(
        &[0.1, 0.2, 0.3, 0.4],
        &[0.5, 0.5],
        &MeanSquaredError,
        &mut ctx,
        &mut ws,
        0.1,
    );
    assert!(matches!(two, Err(TrainError::Shape(_))), "{two:?}");
    let huge = net.sgd_step_into(&[f64::MAX, f64::MAX], &[0.5], &MeanSquaredError, &mut ctx, &mut ws, 0.1);
    let nan = net.sgd_step_into(&[f64::NAN, 0.0], &[0.5], &MeanSquaredError, &mut ctx, &mut ws, 0.1);
    for result in [huge, nan] {
        assert!(matches!(result, Err(TrainError::NonFinite { .. })), "{result:?}");
    }
    assert_eq!(net, before, "a refused step changed the weights");
    let step = net
        .sgd_step_into(&[0.3, -0.2], &[0.9], &MeanSquaredError, &mut ctx, &mut ws, 0.1)
        .expect("a finite step");
    assert!(step.grad_norm > 0.0 && step.loss > 0.0);
    assert_ne!(net, before);
}

#[test]
fn only_plain_sgd_offers_the_fused_update() {
    assert_eq!(Sgd::new(0.1f32).plain_sgd_rate(), Some(0.1));
    assert_eq!(Sgd::new(0.1f32).with_momentum(0.9).plain_sgd_rate(), None);
    assert_eq!(Sgd::new(0.1f32).with_weight_decay(0.01).plain_sgd_rate(), None);
    assert_eq!(Adam::<f32>::new(0.1).plain_sgd_rate(), None);
}
