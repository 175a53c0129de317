//! The `dropout(p)` layer: inactive in inference, seeded masks in training, expectation
//! preserved, and a correct gradient for a fixed mask.

mod common;

use common::values;
use retroprop::nn::dropout::{dropout_backward, dropout_forward};
use retroprop::prelude::*;

retroprop::network! {
    #[network(scalar = f64)]
    struct WithDropout {
        input: 4,
        drop_in: dropout(0.2),
        hidden: dense(6) -> tanh,
        drop: dropout(0.5),
        out: dense(3) -> softmax,
    }

    #[network(scalar = f64)]
    struct WithoutDropout {
        input: 4,
        hidden: dense(6) -> tanh,
        out: dense(3) -> softmax,
    }
}

fn twins(seed: u64) -> (WithDropout, WithoutDropout) {
    let with = WithDropout::seeded(seed);
    let mut without = WithoutDropout::zeroed();
    assert_eq!(
        WithDropout::TENSORS,
        WithoutDropout::TENSORS,
        "dropout has no parameters"
    );
    for i in 0..WithDropout::TENSORS.len() {
        without.tensor_mut(i).copy_from_slice(with.tensor(i));
    }
    (with, without)
}

const N: usize = 6;

fn batch(seed: u64) -> (Vec<f64>, Vec<f64>) {
    let x = values(seed, 4 * N, 1.0);
    let y = one_hot::<f64>(&[0, 1, 2, 0, 1, 2], 3).expect("labels");
    (x, y)
}

#[test]
fn inference_is_deterministic_and_unscaled() {
    let (with, without) = twins(1);
    let (x, _) = batch(2);
    let mut ws = WithDropout::workspace(N);
    let a = with.forward_into(&x, &mut ws).expect("fits").act.to_vec();
    let b = with.forward_into(&x, &mut ws).expect("fits").act.to_vec();
    assert_eq!(a, b);
    let mut ws2 = WithoutDropout::workspace(N);
    assert_eq!(a, without.forward_into(&x, &mut ws2).expect("fits").act);
    let sample = retroprop::nalgebra::SVector::<f64, 4>::from_column_slice(&x[..4]);
    assert_eq!(with.forward(&sample), without.forward(&sample));
    assert_eq!(
        WithDropout::DEFINITION,
        "input: 4, drop_in: dropout(0.2), hidden: dense(6) -> tanh, drop: dropout(0.5), out: dense(3) -> softmax"
    );
}

fn grads(net: &WithDropout, ctx: &mut Context) -> (f64, WithDropoutGradients) {
    let (x, y) = batch(3);
    let mut ws = WithDropout::workspace(N);
    let mut g = WithDropout::zeroed_gradients();
    let loss = net
        .gradients_into(&x, &y, &CrossEntropy, ctx, &mut ws, &mut g)
        .expect("fits");
    (loss, g)
}

#[test]
fn masks_follow_the_seed() {
    let (net, without) = twins(4);
    let (la, ga) = grads(&net, &mut Context::training(7));
    let (lb, gb) = grads(&net, &mut Context::training(7));
    let (lc, gc) = grads(&net, &mut Context::training(8));
    assert_eq!(la, lb);
    assert!(ga == gb);
    assert!(la != lc && ga != gc, "a different seed gave the same mask");
    // In an inference context the dropout layers pass values through unchanged.
    let (li, gi) = grads(&net, &mut Context::inference());
    let (x, y) = batch(3);
    let mut g = WithoutDropout::zeroed_gradients();
    let mut ws = WithoutDropout::workspace(N);
    let lw = without
        .gradients_into(&x, &y, &CrossEntropy, &mut Context::inference(), &mut ws, &mut g)
        .expect("fits");
    assert_eq!(li, lw);
    for i in 0..WithDropout::TENSORS.len() {
        assert_eq!(gi.tensor(i), g.tensor(i));
    }
}

#[test]
fn expected_activation_is_preserved() {
    let input = vec![1.0f64; 200_000];
    let mut mask = vec![0.0; input.len()];
    let mut out = vec![0.0; input.len()];
    let mut ctx = Context::training(11);
    let result = dropout_forward(0.3, &input, &mut mask, &mut out, &mut ctx);
    let mean = result.iter().sum::<f64>() / input.len() as f64;
    let dropped = result.iter().filter(|&&v| v == 0.0).count() as f64 / input.len() as f64;
    assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
    assert!((dropped - 0.3).abs() < 0.01, "dropped {dropped}");
    assert!(result.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-12));
    let mut grad = vec![2.0; input.len()];
    let back = dropout_backward(&mask, &mut grad);
    assert!(back.iter().zip(&mask).all(|(g, m)| *g == 2.0 * m));
    // p = 0 and inference mode pass everything through.
    let mut ctx = Context::inference();
    assert_eq!(
        dropout_forward(0.5, &input[..10], &mut mask, &mut out, &mut ctx),
        &input[..10]
    );
}

#[test]
fn gradient_check_with_a_fixed_mask() {
    let mut net = WithDropout::seeded(5);
    let (analytic_loss, analytic) = grads(&net, &mut Context::training(9));
    assert!(analytic_loss.is_finite());
    let h = 1e-6;
    for t in 0..WithDropout::TENSORS.len() {
        for k in 0..net.tensor(t).len() {
            let original = net.tensor(t)[k];
            net.tensor_mut(t)[k] = original + h;
            let (plus, _) = grads(&net, &mut Context::training(9));
            net.tensor_mut(t)[k] = original - h;
            let (minus, _) = grads(&net, &mut Context::training(9));
            net.tensor_mut(t)[k] = original;
            let numeric = (plus - minus) / (2.0 * h);
            let a = analytic.tensor(t)[k];
            let error = (numeric - a).abs() / numeric.abs().max(a.abs()).max(1e-3);
            assert!(error < 1e-6, "{}[{k}]: {a} vs {numeric}", WithDropout::TENSORS[t].name);
        }
    }
}
