//! Numerical extremes in every activation and loss: inputs of magnitude 1e4 in f32, 1e300 in
//! f64, subnormals and infinities. Outputs and gradients are finite wherever the exact result
//! is representable; this file checks each function at each extreme.

use retroprop::nn::activation::{self, Activation};
use retroprop::nn::loss::Output;
use retroprop::prelude::*;

fn activations<T: Real>() -> Vec<Activation<T>> {
    vec![
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu(T::cast(0.01)),
        Activation::Elu(T::cast(1.0)),
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softplus,
        Activation::Gelu,
        Activation::Silu,
    ]
}

/// Whether the exact value of `activation` at `z` is finite.
fn exact_value_is_finite<T: Real>(activation: Activation<T>, z: f64) -> bool {
    if z.is_finite() {
        // Finite inputs whose exact value still overflows: none for these functions at the
        // magnitudes tested (all grow at most linearly).
        return true;
    }
    match activation {
        Activation::Sigmoid | Activation::Tanh => true,
        // Tend to 0 (or -alpha) on the negative side, to +inf on the positive side.
        Activation::Relu | Activation::Elu(_) | Activation::Softplus | Activation::Gelu | Activation::Silu => z < 0.0,
        _ => false,
    }
}

fn check_activations<T: Real>(inputs: &[f64]) {
    for activation in activations::<T>() {
        for &z in inputs {
            let zt = T::cast(z);
            let a = activation.value(zt);
            if exact_value_is_finite(activation, z) {
                assert!(a.finite(), "{}({z:e}) = {a} ({})", activation.name(), T::NAME);
            }
            assert!(
                !a.to_f64().is_nan(),
                "{}({z:e}) is NaN ({})",
                activation.name(),
                T::NAME
            );
            // Every derivative has a finite limit, also at the infinities.
            let d = activation.derivative(zt, a);
            assert!(d.finite(), "{}'({z:e}) = {d} ({})", activation.name(), T::NAME);
        }
    }
}

#[test]
fn activations_at_extremes_in_f32() {
    check_activations::<f32>(&[1e4, -1e4, 1e-40, -1e-40, 0.0, f64::INFINITY, f64::NEG_INFINITY]);
}

#[test]
fn activations_at_extremes_in_f64() {
    check_activations::<f64>(&[1e300, -1e300, 1e-310, -1e-310, 0.0, f64::INFINITY, f64::NEG_INFINITY]);
}

#[test]
fn softmax_handles_infinite_logits() {
    let mut a = [0.0f64; 3];
    Activation::Softmax.forward(&[f64::INFINITY, 0.0, f64::NEG_INFINITY], &mut a, 3);
    assert_eq!(a, [1.0, 0.0, 0.0]);
    Activation::Softmax.forward(&[f64::INFINITY, 1.0, f64::INFINITY], &mut a, 3);
    assert_eq!(a, [0.5, 0.0, 0.5]);
    Activation::Softmax.forward(&[f64::NEG_INFINITY; 3], &mut a, 3);
    assert!(a.iter().all(|&p| (p - 1.0 / 3.0).abs() < 1e-15));
    Activation::Softmax.forward(&[1e300, -1e300, 1e-310], &mut a, 3);
    assert_eq!(a, [1.0, 0.0, 0.0]);
    assert_eq!(
        activation::log_sum_exp(&[f64::NEG_INFINITY, f64::NEG_INFINITY]),
        f64::NEG_INFINITY
    );
    assert_eq!(activation::log_sum_exp(&[1e300, 1e300]), 1e300 + 2f64.ln());
}

fn fused<T: Real>(pre: &[T], activation: Activation<T>, rows: usize) -> Vec<T> {
    let mut act = vec![T::cast(0.0); pre.len()];
    activation.forward(pre, &mut act, rows);
    act
}

fn check_losses<T: Real>(big: f64, tiny: f64) {
    let inf = f64::INFINITY;
    // Binary cross-entropy after sigmoid, per (logit, target) with a finite exact loss.
    for (z, y) in [
        (big, 1.0),
        (-big, 0.0),
        (big, 0.0),
        (-big, 1.0),
        (inf, 1.0),
        (-inf, 0.0),
        (tiny, 0.5),
        (0.0, 1.0),
    ] {
        let pre = [T::cast(z)];
        let act = fused(&pre, Activation::Sigmoid, 1);
        let out = Output {
            pre: &pre,
            act: &act,
            activation: Activation::Sigmoid,
            rows: 1,
        };
        for loss in [
            &BinaryCrossEntropy as &dyn Loss<T>,
            &WeightedBinaryCrossEntropy::new(vec![T::cast(3.0)]),
        ] {
            let mut grad = [T::cast(0.0)];
            let value = loss.loss_and_grad(&out, &[T::cast(y)], &mut grad);
            assert!(value.finite(), "BCE({z:e}, {y}) = {value} ({})", T::NAME);
            assert!(grad[0].finite(), "BCE'({z:e}, {y}) = {} ({})", grad[0], T::NAME);
        }
    }
    // Cross-entropy after softmax with huge and infinite logits, target on a winning class.
    for pre in [[big, -big, 0.0], [inf, 0.0, -inf], [big, big, -inf], [tiny, -tiny, 0.0]] {
        let pre: Vec<T> = pre.iter().map(|&v| T::cast(v)).collect();
        let act = fused(&pre, Activation::Softmax, 3);
        let out = Output {
            pre: &pre,
            act: &act,
            activation: Activation::Softmax,
            rows: 3,
        };
        let target = [T::cast(1.0), T::cast(0.0), T::cast(0.0)];
        for loss in [
            &CrossEntropy as &dyn Loss<T>,
            &WeightedCrossEntropy::new(vec![T::cast(2.0); 3]),
        ] {
            let mut grad = [T::cast(0.0); 3];
            let value = loss.loss_and_grad(&out, &target, &mut grad);
            assert!(value.finite(), "CE({pre:?}) = {value}");
            assert!(grad.iter().all(|g| g.finite()), "CE'({pre:?}) = {grad:?}");
        }
    }
    // Regression losses: MAE and Huber stay finite for huge errors; MSE's gradient too
    // wherever 2 (a - y) is representable.
    for (a, y) in [(big, -big / 4.0), (-big / 2.0, 0.0), (tiny, -tiny), (0.0, 0.0)] {
        let pre = [T::cast(a)];
        let out = Output {
            pre: &pre,
            act: &pre,
            activation: Activation::Identity,
            rows: 1,
        };
        for loss in [&MeanAbsoluteError as &dyn Loss<T>, &Huber::default()] {
            let mut grad = [T::cast(0.0)];
            let value = loss.loss_and_grad(&out, &[T::cast(y)], &mut grad);
            assert!(value.finite() && grad[0].finite(), "({a:e}, {y:e}): {value} {grad:?}");
        }
        let mut grad = [T::cast(0.0)];
        MeanSquaredError.loss_and_grad(&out, &[T::cast(y)], &mut grad);
        assert!(grad[0].finite(), "MSE'({a:e}, {y:e}) = {grad:?}");
    }
}

#[test]
fn losses_at_extremes_in_f32() {
    check_losses::<f32>(1e4, 1e-40);
}

#[test]
fn losses_at_extremes_in_f64() {
    check_losses::<f64>(1e300, 1e-310);
}
