//! Activations and losses: closed forms, and stability at extreme inputs.

use retroprop::nn::activation::{self, Activation};
use retroprop::nn::loss::Output;
use retroprop::prelude::*;

const ALL: [Activation<f64>; 10] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.01),
    Activation::Elu(1.0),
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Softplus,
    Activation::Gelu,
    Activation::Silu,
    Activation::Softmax,
];

#[test]
fn activations_match_closed_forms() {
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12 * b.abs().max(1.0);
    for z in [-3.0, -0.5, 0.0, 0.25, 2.0] {
        let e: f64 = f64::exp(z);
        assert!(close(activation::sigmoid(z), 1.0 / (1.0 + (-z).exp())));
        assert!(close(activation::softplus(z), (1.0 + e).ln()));
        assert!(close(activation::silu(z), z / (1.0 + (-z).exp())));
        assert!(close(
            activation::elu(z, 0.7),
            if z > 0.0 { z } else { 0.7 * (e - 1.0) }
        ));
        assert!(close(activation::leaky_relu(z, 0.2), if z > 0.0 { z } else { 0.2 * z }));
        let k = (2.0 / std::f64::consts::PI).sqrt();
        assert!(close(
            activation::gelu(z),
            0.5 * z * (1.0 + (k * (z + 0.044715 * z * z * z)).tanh())
        ));
    }
    // PyTorch's conventions at the kinks: relu'(0) = 0, leaky_relu'(0) = slope.
    assert_eq!(Activation::<f64>::Relu.derivative(0.0, 0.0), 0.0);
    assert_eq!(Activation::<f64>::LeakyRelu(0.2).derivative(0.0, 0.0), 0.2);
    // Softmax of a sample sums to one and is shift-invariant.
    let mut a = [0.0; 3];
    Activation::<f64>::Softmax.forward(&[1.0, 2.0, 3.0], &mut a, 3);
    let mut b = [0.0; 3];
    Activation::<f64>::Softmax.forward(&[101.0, 102.0, 103.0], &mut b, 3);
    assert!((a.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-15);
    }
}

#[test]
fn derivatives_match_central_differences() {
    for activation in ALL.into_iter().filter(|a| *a != Activation::Softmax) {
        for z in [-2.5, -0.3, 0.4, 1.7] {
            let h = 1e-6;
            let numeric = (activation.value(z + h) - activation.value(z - h)) / (2.0 * h);
            let analytic = activation.derivative(z, activation.value(z));
            assert!(
                (numeric - analytic).abs() < 1e-8,
                "{}'({z}): {analytic} vs {numeric}",
                activation.name()
            );
        }
    }
}

#[test]
fn activations_are_finite_for_large_inputs() {
    for z in [-1e4f32, -100.0, 100.0, 1e4, f32::MAX, -f32::MAX, 1e-40, -1e-40] {
        for activation in [
            Activation::<f32>::Identity,
            Activation::Relu,
            Activation::LeakyRelu(0.01),
            Activation::Elu(1.0),
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Gelu,
            Activation::Silu,
        ] {
            let a = activation.value(z);
            assert!(a.is_finite(), "{}({z}) = {a}", activation.name());
            let d = activation.derivative(z, a);
            assert!(d.is_finite(), "{}'({z}) = {d}", activation.name());
        }
        if z.abs() < 1e30 {
            assert!(activation::softplus(z).is_finite());
        }
    }
    assert_eq!(activation::sigmoid(-1e4f32), 0.0);
    assert_eq!(activation::sigmoid(1e4f32), 1.0);
    assert_eq!(activation::softplus(1e4f32), 1e4);
}

fn output<'a>(pre: &'a [f32], act: &'a [f32], activation: Activation<f32>, rows: usize) -> Output<'a, f32> {
    Output {
        pre,
        act,
        activation,
        rows,
    }
}

#[test]
fn fused_cross_entropy_is_finite_for_huge_logits_in_f32() {
    let pre = [1e4f32, -1e4, 0.0, -1e4, 1e4, 3.0];
    let mut act = [0.0f32; 6];
    Activation::Softmax.forward(&pre, &mut act, 3);
    let out = output(&pre, &act, Activation::Softmax, 3);
    // Sample 0 predicts class 0 with certainty and is right; sample 1 predicts class 1 but
    // the answer is class 0: its loss is the logit gap, 2e4.
    let target = [1.0f32, 0.0, 0.0, 1.0, 0.0, 0.0];
    let mut grad = [0.0f32; 6];
    let loss = CrossEntropy.loss_and_grad(&out, &target, &mut grad);
    assert!(loss.is_finite());
    assert!((loss - 1e4).abs() / 1e4 < 1e-6, "mean of 0 and 2e4: {loss}");
    assert!(grad.iter().all(|g| g.is_finite()));
    assert_eq!(grad[0], 0.0);
    assert_eq!(grad[3], -0.5);
    assert_eq!(grad[4], 0.5);
}

/// A batch's softmax and cross-entropy are computed several samples at a time: the same
/// bits as one sample at a time, for any number of samples (a few, whole groups and a
/// remainder), a trailing partial sample, and samples with infinite logits among the others.
#[test]
fn softmax_and_cross_entropy_of_a_batch_are_those_of_each_sample() {
    use retroprop::nn::loss::WeightedCrossEntropy;
    let rows = 10;
    for samples in [1, 3, 4, 16, 37] {
        let mut pre: Vec<f32> = (0..rows * samples)
            .map(|k| ((k * 7919 + 5) % 101) as f32 / 9.0 - 5.0)
            .collect();
        if samples > 5 {
            // At sample 5's class: a lone `+inf` logit at the answer, a loss of 0.
            pre[5 * rows + 5] = f32::INFINITY;
        }
        let target: Vec<f32> = (0..rows * samples)
            .map(|k| if k % rows == (k / rows) % rows { 1.0 } else { 0.0 })
            .collect();
        // One value of a partial sample at the end of the activation's input.
        let mut partial = pre.clone();
        partial.push(0.5);
        let mut act = vec![0.0f32; partial.len()];
        Activation::Softmax.forward(&partial, &mut act, rows);
        let weighted = WeightedCrossEntropy::new((1..=rows).map(|c| c as f32).collect());
        let (mut plain, mut heavy) = (0.0f32, 0.0f32);
        for (j, (z, a)) in pre.chunks(rows).zip(act.chunks(rows)).enumerate() {
            let mut one = vec![0.0f32; rows];
            activation::softmax_into(z, &mut one);
            let same = one.iter().zip(a).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{samples} samples, sample {j}: {a:?} vs {one:?}");
            let y = &target[j * rows..(j + 1) * rows];
            plain += CrossEntropy.loss(&output(z, &one, Activation::Softmax, rows), y);
            heavy += weighted.loss(&output(z, &one, Activation::Softmax, rows), y) * weighted.weights[j % rows];
        }
        assert_eq!(act[rows * samples], 1.0, "the partial sample on its own");
        let out = output(&pre, &act[..pre.len()], Activation::Softmax, rows);
        let mean = plain / samples as f32;
        assert_eq!(
            CrossEntropy.loss(&out, &target).to_bits(),
            mean.to_bits(),
            "{samples} samples"
        );
        let total: f32 = (0..samples).map(|j| weighted.weights[j % rows]).sum();
        let weighted_mean = weighted.loss(&out, &target);
        assert!(
            (weighted_mean - heavy / total).abs() <= 1e-6 * weighted_mean.abs(),
            "{samples} samples"
        );
    }
}

#[test]
fn fused_binary_cross_entropy_is_finite_for_huge_logits_in_f32() {
    let pre = [1e4f32, -1e4, 1e4, -1e4];
    let act: Vec<f32> = pre.iter().map(|&z| activation::sigmoid(z)).collect();
    let out = output(&pre, &act, Activation::Sigmoid, 1);
    let target = [1.0f32, 0.0, 0.0, 1.0];
    let mut grad = [0.0f32; 4];
    let loss = BinaryCrossEntropy.loss_and_grad(&out, &target, &mut grad);
    assert!(loss.is_finite());
    assert!((loss - 5e3).abs() / 5e3 < 1e-6, "{loss}");
    assert_eq!(grad, [0.0, 0.0, 0.25, -0.25]);
}

#[test]
fn losses_match_closed_forms() {
    let pre = [0.5f64, -1.0, 2.0, 4.0];
    let out = Output {
        pre: &pre,
        act: &pre,
        activation: Activation::Identity,
        rows: 2,
    };
    let y = [0.0, 0.0, 1.0, 1.0];
    assert!((MeanSquaredError.loss(&out, &y) - (0.25 + 1.0 + 1.0 + 9.0) / 4.0).abs() < 1e-15);
    assert!((MeanAbsoluteError.loss(&out, &y) - (0.5 + 1.0 + 1.0 + 3.0) / 4.0).abs() < 1e-15);
    // Huber, delta 1: 0.5 d^2 inside, |d| - 0.5 outside.
    let expected = (0.125 + 0.5 + 0.5 + 2.5) / 4.0;
    assert!((Huber::default().loss(&out, &y) - expected).abs() < 1e-15);
    let mut grad = [0.0; 4];
    Huber { delta: 2.0 }.loss_and_grad(&out, &y, &mut grad);
    assert_eq!(grad, [0.5 / 4.0, -1.0 / 4.0, 1.0 / 4.0, 2.0 / 4.0]);
    // Cross-entropy averages over samples (2), not elements (4).
    let mut act = [0.0; 4];
    Activation::Softmax.forward(&pre, &mut act, 2);
    let out = Output {
        pre: &pre,
        act: &act,
        activation: Activation::Softmax,
        rows: 2,
    };
    let ce = CrossEntropy.loss(&out, &[1.0, 0.0, 0.0, 1.0]);
    let expected = (-act[0].ln() - act[3].ln()) / 2.0;
    assert!((ce - expected).abs() < 1e-12);
}
