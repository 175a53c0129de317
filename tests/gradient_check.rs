//! Finite-difference gradient checks in f64 for every activation, every loss and depths 1-4
//! (relative error below 1e-6, relative to `max(|analytic|, |numeric|, 1e-3)`), and f32 networks against the same networks in f64.

mod common;

use common::values;
use retroprop::prelude::*;
use retroprop::train::evaluate_loss;

retroprop::network! {
    // Each element-wise activation in a hidden layer.
    #[network(scalar = f64)] struct HiddenIdentity { input: 3, h: dense(4) -> identity, out: dense(2) }
    #[network(scalar = f64)] struct HiddenRelu { input: 3, h: dense(4) -> relu, out: dense(2) }
    #[network(scalar = f64)] struct HiddenLeaky { input: 3, h: dense(4) -> leaky_relu, out: dense(2) }
    #[network(scalar = f64)] struct HiddenLeakyParam { input: 3, h: dense(4) -> leaky_relu(0.3), out: dense(2) }
    #[network(scalar = f64)] struct HiddenElu { input: 3, h: dense(4) -> elu, out: dense(2) }
    #[network(scalar = f64)] struct HiddenEluParam { input: 3, h: dense(4) -> elu(0.7), out: dense(2) }
    #[network(scalar = f64)] struct HiddenSigmoid { input: 3, h: dense(4) -> sigmoid, out: dense(2) }
    #[network(scalar = f64)] struct HiddenTanh { input: 3, h: dense(4) -> tanh, out: dense(2) }
    #[network(scalar = f64)] struct HiddenSoftplus { input: 3, h: dense(4) -> softplus, out: dense(2) }
    #[network(scalar = f64)] struct HiddenGelu { input: 3, h: dense(4) -> gelu, out: dense(2) }
    #[network(scalar = f64)] struct HiddenSilu { input: 3, h: dense(4) -> silu, out: dense(2) }

    // Each activation on the output layer (the general chain rule, softmax's Jacobian).
    #[network(scalar = f64)] struct OutRelu { input: 3, h: dense(4) -> tanh, out: dense(3) -> relu }
    #[network(scalar = f64)] struct OutLeaky { input: 3, h: dense(4) -> tanh, out: dense(3) -> leaky_relu(0.1) }
    #[network(scalar = f64)] struct OutElu { input: 3, h: dense(4) -> tanh, out: dense(3) -> elu }
    #[network(scalar = f64)] struct OutSigmoid { input: 3, h: dense(4) -> tanh, out: dense(3) -> sigmoid }
    #[network(scalar = f64)] struct OutTanh { input: 3, h: dense(4) -> tanh, out: dense(3) -> tanh }
    #[network(scalar = f64)] struct OutSoftplus { input: 3, h: dense(4) -> tanh, out: dense(3) -> softplus }
    #[network(scalar = f64)] struct OutGelu { input: 3, h: dense(4) -> tanh, out: dense(3) -> gelu }
    #[network(scalar = f64)] struct OutSilu { input: 3, h: dense(4) -> tanh, out: dense(3) -> silu }
    #[network(scalar = f64)] struct OutSoftmax { input: 3, h: dense(4) -> tanh, out: dense(3) -> softmax }
    #[network(scalar = f64)] struct OutIdentity { input: 3, h: dense(4) -> tanh, out: dense(3) }

    // Depths 1 to 4.
    #[network(scalar = f64)] struct Depth1 { input: 5, out: dense(3) -> softmax }
    #[network(scalar = f64)] struct Depth2 { input: 5, a: dense(7) -> relu, out: dense(3) -> softmax }
    #[network(scalar = f64)] struct Depth3 { input: 5, a: dense(7) -> gelu, b: dense(6) -> tanh, out: dense(2) -> sigmoid }
    #[network(scalar = f64)] struct Depth4 {
        input: 5,
        a: dense(8) -> silu,
        b: dense(3) -> elu,
        c: dense(6) -> softplus,
        out: dense(4),
    }
}

// Image inputs: `flatten` first, and after a dropout on the image.
retroprop::network! {
    #[network(scalar = f64)] struct ImageFlatten { input: [2, 3, 3], flat: flatten, h: dense(4) -> tanh, out: dense(2) }
    #[network(scalar = f64)] struct ImageMaxPool { input: [2, 5, 5], pool: max_pool(2), flat: flatten, h: dense(4) -> tanh, out: dense(2) }
    #[network(scalar = f64)] struct ImageAvgPool {
        input: [3, 7, 5],
        pool: avg_pool((2, 3), stride = (2, 1)),
        flat: flatten,
        out: dense(3) -> softmax,
    }
    #[network(scalar = f64)] struct ImageDeep {
        input: [3, 2, 4],
        flat: flatten,
        a: dense(5) -> relu,
        b: dense(4) -> gelu,
        out: dense(3) -> softmax,
    }
}

// Convolutions: stride 2, rectangular kernels, strides and padding, several input channels,
// sizes that round down, both pools after a convolution, dropout after a convolution, and a
// convolution straight after another without an activation.
retroprop::network! {
    #[network(scalar = f64)] struct ConvStride2 {
        input: [2, 7, 6],
        conv: conv2d(3, kernel = 3, stride = 2) -> tanh,
        flat: flatten,
        out: dense(2),
    }
    #[network(scalar = f64)] struct ConvRectangular {
        input: [3, 8, 7],
        conv: conv2d(2, kernel = (3, 2), stride = (2, 1), padding = (1, 2)) -> silu,
        flat: flatten,
        out: dense(3) -> softmax,
    }
    #[network(scalar = f64)] struct ConvRoundsDown {
        input: [1, 9, 10],
        conv: conv2d(4, kernel = 4, stride = 3, padding = 1) -> elu,
        flat: flatten,
        out: dense(2) -> sigmoid,
    }
    #[network(scalar = f64)] struct ConvPoolConv {
        input: [2, 8, 8],
        conv1: conv2d(3, kernel = 3, padding = 1) -> tanh,
        pool1: max_pool(2),
        conv2: conv2d(4, kernel = 3) -> gelu,
        pool2: avg_pool(2),
        flat: flatten,
        out: dense(3) -> softmax,
    }
    #[network(scalar = f64)] struct ConvDropout {
        input: [2, 6, 6],
        conv1: conv2d(3, kernel = 3) -> tanh,
        drop: dropout(0.4),
        conv2: conv2d(2, kernel = 2) -> sigmoid,
        flat: flatten,
        out: dense(2),
    }
    #[network(scalar = f64)] struct ConvLinearStack {
        input: [2, 6, 5],
        conv1: conv2d(3, kernel = (2, 3), padding = (1, 0)),
        conv2: conv2d(2, kernel = 3, stride = (1, 2)) -> softplus,
        pool: max_pool((2, 1), stride = 1),
        flat: flatten,
        h: dense(4) -> tanh,
        out: dense(2),
    }
    struct ConvPoolConvF32 {
        input: [2, 8, 8],
        conv1: conv2d(3, kernel = 3, padding = 1) -> tanh,
        pool1: max_pool(2),
        conv2: conv2d(4, kernel = 3) -> gelu,
        pool2: avg_pool(2),
        flat: flatten,
        out: dense(3) -> softmax,
    }
}

// The depth 1-4 networks again, in f32.
retroprop::network! {
    struct Depth1F32 { input: 5, out: dense(3) -> softmax }
    struct Depth2F32 { input: 5, a: dense(7) -> relu, out: dense(3) -> softmax }
    struct Depth3F32 { input: 5, a: dense(7) -> gelu, b: dense(6) -> tanh, out: dense(2) -> sigmoid }
    struct Depth4F32 {
        input: 5,
        a: dense(8) -> silu,
        b: dense(3) -> elu,
        c: dense(6) -> softplus,
        out: dense(4),
    }
}

const SAMPLES: usize = 5;
const STEP: f64 = 1e-6;

/// Targets suited to a loss: one-hot or soft distributions for cross-entropy, values in
/// (0, 1) for binary cross-entropy, anything for regression losses.
fn targets(outputs: usize, seed: u64, kind: Target) -> Vec<f64> {
    let raw = values(seed, outputs * SAMPLES, 1.0);
    match kind {
        Target::Regression => raw,
        Target::Probabilities => raw.iter().map(|v| 0.5 + 0.45 * v).collect(),
        Target::Distribution => raw
            .chunks(outputs)
            .flat_map(|col| {
                let e: Vec<f64> = col.iter().map(|v| v.exp()).collect();
                let s: f64 = e.iter().sum();
                e.into_iter().map(move |v| v / s)
            })
            .collect(),
    }
}

#[derive(Clone, Copy)]
enum Target {
    Regression,
    Probabilities,
    Distribution,
}

/// Checks every parameter's analytic gradient against a central difference; returns the
/// largest relative error found.
fn gradient_check<N: Network<Scalar = f64>>(loss: &dyn Loss<f64>, kind: Target, seed: u64) -> f64 {
    check_against_differences::<N>(loss, kind, seed, false)
}

/// [`gradient_check`] (`training: false`: the differences of the inference loss) and
/// [`gradient_check_training`] (`true`: of the training loss with a fixed context).
fn check_against_differences<N: Network<Scalar = f64>>(
    loss: &dyn Loss<f64>,
    kind: Target,
    seed: u64,
    training: bool,
) -> f64 {
    let mut net = N::seeded(seed);
    // Non-zero biases so that every term of the chain rule is exercised.
    for i in 0..N::TENSORS.len() {
        if N::TENSORS[i].kind == retroprop::TensorKind::Bias {
            let len = net.tensor(i).len();
            net.tensor_mut(i)
                .copy_from_slice(&values(seed + 100 + i as u64, len, 0.3));
        }
    }
    let x = values(seed + 1, N::INPUT * SAMPLES, 1.5);
    let y = targets(N::OUTPUT, seed + 2, kind);
    let mut ws = N::workspace(SAMPLES);
    let mut grads = N::zeroed_gradients();
    let mut ctx = Context::training(seed);
    net.gradients_into(&x, &y, loss, &mut ctx, &mut ws, &mut grads)
        .expect("gradients");
    let mut scratch = N::zeroed_gradients();
    let loss_at = |net: &N, ws: &mut N::Workspace, scratch: &mut N::Gradients| {
        if training {
            net.gradients_into(&x, &y, loss, &mut Context::training(seed), ws, scratch)
                .expect("training loss")
        } else {
            evaluate_loss(net, &x, &y, loss, ws).expect("loss")
        }
    };
    let mut worst: f64 = 0.0;
    for t in 0..N::TENSORS.len() {
        for k in 0..net.tensor(t).len() {
            let original = net.tensor(t)[k];
            net.tensor_mut(t)[k] = original + STEP;
            let plus = loss_at(&net, &mut ws, &mut scratch);
            net.tensor_mut(t)[k] = original - STEP;
            let minus = loss_at(&net, &mut ws, &mut scratch);
            net.tensor_mut(t)[k] = original;
            let numeric = (plus - minus) / (2.0 * STEP);
            let analytic = grads.tensor(t)[k];
            // Relative error, with a floor of 1e-3: below it the central difference's
            // round-off (about 1e-10 for losses of order one) dominates.
            let error = (numeric - analytic).abs() / numeric.abs().max(analytic.abs()).max(1e-3);
            assert!(
                error < 1e-6,
                "{}: d/d{}[{k}] analytic {analytic} numeric {numeric} (relative error {error})",
                N::NAME,
                N::TENSORS[t].name
            );
            worst = worst.max(error);
        }
    }
    worst
}

fn mse() -> MeanSquaredError {
    MeanSquaredError
}

#[test]
fn every_hidden_activation() {
    for seed in [1, 2, 3] {
        gradient_check::<HiddenIdentity>(&mse(), Target::Regression, seed);
        gradient_check::<HiddenRelu>(&mse(), Target::Regression, seed);
        gradient_check::<HiddenLeaky>(&mse(), Target::Regression, seed);
        gradient_check::<HiddenLeakyParam>(&mse(), Target::Regression, seed);
        gradient_check::<HiddenElu>(&mse(), Target::Regression, seed);
        gradient_check::<HiddenEluParam>(&mse(), Target::Regression, seed);
        gradient_check::<HiddenSigmoid>(&mse(), Target::Regression, seed);
        gradient_check::<HiddenTanh>(&mse(), Target::Regression, seed);
        gradient_check::<HiddenSoftplus>(&mse(), Target::Regression, seed);
        gradient_check::<HiddenGelu>(&mse(), Target::Regression, seed);
        gradient_check::<HiddenSilu>(&mse(), Target::Regression, seed);
    }
}

#[test]
fn every_output_activation() {
    for seed in [4, 5] {
        gradient_check::<OutRelu>(&mse(), Target::Regression, seed);
        gradient_check::<OutLeaky>(&mse(), Target::Regression, seed);
        gradient_check::<OutElu>(&mse(), Target::Regression, seed);
        gradient_check::<OutSigmoid>(&mse(), Target::Regression, seed);
        gradient_check::<OutTanh>(&mse(), Target::Regression, seed);
        gradient_check::<OutSoftplus>(&mse(), Target::Regression, seed);
        gradient_check::<OutGelu>(&mse(), Target::Regression, seed);
        gradient_check::<OutSilu>(&mse(), Target::Regression, seed);
        gradient_check::<OutSoftmax>(&mse(), Target::Regression, seed);
        gradient_check::<OutIdentity>(&mse(), Target::Regression, seed);
    }
}

#[test]
fn every_loss() {
    for seed in [6, 7] {
        gradient_check::<OutIdentity>(&MeanSquaredError, Target::Regression, seed);
        gradient_check::<OutIdentity>(&MeanAbsoluteError, Target::Regression, seed);
        gradient_check::<OutIdentity>(&Huber { delta: 0.3 }, Target::Regression, seed);
        gradient_check::<OutIdentity>(&Huber::default(), Target::Regression, seed);
        // Fused forms.
        gradient_check::<OutSigmoid>(&BinaryCrossEntropy, Target::Probabilities, seed);
        gradient_check::<OutSoftmax>(&CrossEntropy, Target::Distribution, seed);
        // General forms: the activation's chain rule.
        gradient_check::<OutSoftmax>(&BinaryCrossEntropy, Target::Probabilities, seed);
        gradient_check::<OutSigmoid>(&CrossEntropy, Target::Distribution, seed);
        gradient_check::<OutSoftmax>(&MeanAbsoluteError, Target::Regression, seed);
    }
}

#[test]
fn depths_one_to_four() {
    for seed in [8, 9] {
        gradient_check::<Depth1>(&CrossEntropy, Target::Distribution, seed);
        gradient_check::<Depth2>(&CrossEntropy, Target::Distribution, seed);
        gradient_check::<Depth3>(&BinaryCrossEntropy, Target::Probabilities, seed);
        gradient_check::<Depth4>(&Huber::default(), Target::Regression, seed);
        gradient_check::<Depth4>(&MeanSquaredError, Target::Regression, seed);
    }
}

#[test]
fn a_wrong_gradient_is_caught() {
    // The check itself must be able to fail: a loss whose gradient is off by 1% in one place.
    struct Skewed;
    impl Loss<f64> for Skewed {
        fn loss(&self, output: &retroprop::nn::loss::Output<'_, f64>, target: &[f64]) -> f64 {
            MeanSquaredError.loss(output, target)
        }
        fn loss_and_grad(
            &self,
            output: &retroprop::nn::loss::Output<'_, f64>,
            target: &[f64],
            grad: &mut [f64],
        ) -> f64 {
            let value = MeanSquaredError.loss_and_grad(output, target, grad);
            grad[0] *= 1.01;
            value
        }
    }
    let result = std::panic::catch_unwind(|| gradient_check::<OutIdentity>(&Skewed, Target::Regression, 1));
    assert!(result.is_err(), "a 1% gradient error went unnoticed");
}

/// Builds the f32 twin of an f64 network with the same (rounded) weights and checks that
/// loss and gradients agree to single precision.
fn f32_agrees_with_f64<N64, N32>(loss: &dyn Loss<f64>, loss32: &dyn Loss<f32>, kind: Target, seed: u64)
where
    N64: Network<Scalar = f64>,
    N32: Network<Scalar = f32>,
{
    assert_eq!(N64::TENSORS, N32::TENSORS);
    let net64 = N64::seeded(seed);
    let mut net32 = N32::zeroed();
    for i in 0..N64::TENSORS.len() {
        for (d, s) in net32.tensor_mut(i).iter_mut().zip(net64.tensor(i)) {
            *d = *s as f32;
        }
    }
    // Evaluate the f64 network on exactly the f32 weights and inputs.
    let mut net64 = N64::zeroed();
    for i in 0..N64::TENSORS.len() {
        for (d, s) in net64.tensor_mut(i).iter_mut().zip(net32.tensor(i)) {
            *d = f64::from(*s);
        }
    }
    let x32: Vec<f32> = values(seed, N64::INPUT * SAMPLES, 1.0)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let y32: Vec<f32> = targets(N64::OUTPUT, seed + 1, kind).iter().map(|&v| v as f32).collect();
    let x64: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
    let y64: Vec<f64> = y32.iter().map(|&v| f64::from(v)).collect();
    let (mut g64, mut g32) = (N64::zeroed_gradients(), N32::zeroed_gradients());
    let (mut w64, mut w32) = (N64::workspace(SAMPLES), N32::workspace(SAMPLES));
    let mut ctx = Context::training(0);
    let l64 = net64
        .gradients_into(&x64, &y64, loss, &mut ctx, &mut w64, &mut g64)
        .expect("f64");
    let l32 = net32
        .gradients_into(&x32, &y32, loss32, &mut ctx, &mut w32, &mut g32)
        .expect("f32");
    assert!(
        (f64::from(l32) - l64).abs() < 1e-5 * l64.abs().max(1.0),
        "{}: loss {l32} vs {l64}",
        N64::NAME
    );
    let scale = g64.global_norm().max(1e-3);
    for i in 0..N64::TENSORS.len() {
        for (a, b) in g32.tensor(i).iter().zip(g64.tensor(i)) {
            assert!(
                (f64::from(*a) - b).abs() < 1e-5 * scale,
                "{}: {}: {a} vs {b}",
                N64::NAME,
                N64::TENSORS[i].name
            );
        }
    }
}

#[test]
fn f32_networks_agree_with_f64() {
    for seed in [10, 11, 12] {
        f32_agrees_with_f64::<Depth1, Depth1F32>(&CrossEntropy, &CrossEntropy, Target::Distribution, seed);
        f32_agrees_with_f64::<Depth2, Depth2F32>(&CrossEntropy, &CrossEntropy, Target::Distribution, seed);
        f32_agrees_with_f64::<Depth3, Depth3F32>(&BinaryCrossEntropy, &BinaryCrossEntropy, Target::Probabilities, seed);
        f32_agrees_with_f64::<Depth4, Depth4F32>(&Huber::default(), &Huber::default(), Target::Regression, seed);
    }
}

#[test]
fn image_inputs_through_pooling_and_flatten() {
    for seed in 0..3 {
        gradient_check::<ImageFlatten>(&mse(), Target::Regression, seed);
        gradient_check::<ImageDeep>(&CrossEntropy, Target::Distribution, seed);
        gradient_check::<ImageMaxPool>(&mse(), Target::Regression, seed);
        gradient_check::<ImageAvgPool>(&CrossEntropy, Target::Distribution, seed);
    }
}

/// Like [`gradient_check`], with the loss of a training pass (`gradients_into`, whose dropout
/// masks follow the context's seed) on both sides of the central differences, so that layers
/// with dropout are checked with a fixed mask.
fn gradient_check_training<N: Network<Scalar = f64>>(loss: &dyn Loss<f64>, kind: Target, seed: u64) -> f64 {
    check_against_differences::<N>(loss, kind, seed, true)
}

#[test]
fn convolutions_with_strides_padding_and_rectangular_kernels() {
    for seed in 0..2 {
        gradient_check::<ConvStride2>(&mse(), Target::Regression, seed);
        gradient_check::<ConvRectangular>(&CrossEntropy, Target::Distribution, seed);
        gradient_check::<ConvRoundsDown>(&BinaryCrossEntropy, Target::Probabilities, seed);
        gradient_check::<ConvPoolConv>(&CrossEntropy, Target::Distribution, seed);
        gradient_check::<ConvLinearStack>(&Huber::default(), Target::Regression, seed);
    }
}

#[test]
fn dropout_after_a_convolution_with_a_fixed_mask() {
    for seed in 0..3 {
        gradient_check_training::<ConvDropout>(&mse(), Target::Regression, seed);
    }
    // The masks do act: the training loss differs from the inference loss.
    let net = ConvDropout::seeded(1);
    let x = values(2, ConvDropout::INPUT * SAMPLES, 1.5);
    let y = targets(ConvDropout::OUTPUT, 3, Target::Regression);
    let mut ws = ConvDropout::workspace(SAMPLES);
    let mut grads = ConvDropout::zeroed_gradients();
    let training = net
        .gradients_into(&x, &y, &mse(), &mut Context::training(8), &mut ws, &mut grads)
        .expect("gradients");
    let inference = evaluate_loss(&net, &x, &y, &mse(), &mut ws).expect("loss");
    assert!((training - inference).abs() > 1e-6, "{training} vs {inference}");
}

#[test]
fn f32_convolutions_agree_with_f64() {
    for seed in [20, 21] {
        f32_agrees_with_f64::<ConvPoolConv, ConvPoolConvF32>(&CrossEntropy, &CrossEntropy, Target::Distribution, seed);
    }
}
