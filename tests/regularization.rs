//! Penalties, clipping, weight decay, and the guard against non-finite weights.

mod common;

use common::values;
use retroprop::prelude::*;
use retroprop::TensorKind;

retroprop::network! {
    #[network(scalar = f64)]
    struct Net { input: 3, hidden: dense(4) -> tanh, out: dense(2) }
}

fn batch() -> (Vec<f64>, Vec<f64>) {
    (values(1, 3 * 5, 1.0), values(2, 2 * 5, 1.0))
}

/// Gradients after one step with `regularization` (the optimizer's rate is zero, so the
/// weights stay put), and the penalty it reported.
fn regularized(regularization: Regularization<f64>) -> (Net, NetGradients, f64, f64) {
    let mut net = Net::seeded(3);
    let (x, y) = batch();
    let mut session = Session::<Net>::new(5, 0).with_regularization(regularization);
    let loss = session
        .step(&mut net, &x, &y, &MeanSquaredError, &mut Sgd::new(0.0))
        .expect("step");
    let penalty = session.last_penalty();
    (net, session.gradients.clone(), loss, penalty)
}

#[test]
fn l1_and_l2_penalties_on_weights_only() {
    let (net, plain, plain_loss, none) = regularized(Regularization::default());
    assert_eq!(none, 0.0);
    let (l1, l2) = (0.01, 0.03);
    let (_, grads, loss, penalty) = regularized(Regularization {
        l1,
        l2,
        ..Regularization::default()
    });
    assert_eq!(loss, plain_loss, "the returned loss excludes the penalty");
    let mut expected_penalty = 0.0;
    for (i, spec) in Net::TENSORS.iter().enumerate() {
        for ((g, p), w) in grads.tensor(i).iter().zip(plain.tensor(i)).zip(net.tensor(i)) {
            let expected = if spec.kind == TensorKind::Weight {
                expected_penalty += l1 * w.abs() + l2 * w * w;
                p + l1 * w.signum() + 2.0 * l2 * w
            } else {
                *p
            };
            assert!((g - expected).abs() < 1e-15, "{}: {g} vs {expected}", spec.name);
        }
    }
    assert!((penalty - expected_penalty).abs() < 1e-15);
}

#[test]
fn clipping_by_value_and_by_norm() {
    let (_, plain, _, _) = regularized(Regularization::default());
    let largest = (0..Net::TENSORS.len())
        .flat_map(|i| plain.tensor(i).iter().copied())
        .fold(0.0f64, |m, g| m.max(g.abs()));
    let limit = largest / 2.0;
    let (_, clipped, _, _) = regularized(Regularization {
        clip_value: Some(limit),
        ..Regularization::default()
    });
    for i in 0..Net::TENSORS.len() {
        for (c, p) in clipped.tensor(i).iter().zip(plain.tensor(i)) {
            assert_eq!(*c, p.clamp(-limit, limit));
        }
    }
    let norm = plain.global_norm();
    let max_norm = norm / 4.0;
    let (_, scaled, _, _) = regularized(Regularization {
        clip_norm: Some(max_norm),
        ..Regularization::default()
    });
    // PyTorch's coefficient: max_norm / (norm + 1e-6).
    let expected = norm * max_norm / (norm + 1e-6);
    assert!((scaled.global_norm() - expected).abs() < 1e-12 * max_norm);
    let ratio = scaled.tensor(0)[0] / plain.tensor(0)[0];
    for i in 0..Net::TENSORS.len() {
        for (s, p) in scaled.tensor(i).iter().zip(plain.tensor(i)) {
            assert!((s - ratio * p).abs() < 1e-15, "direction kept");
        }
    }
    // A norm already below the limit is left alone.
    let (_, untouched, _, _) = regularized(Regularization {
        clip_norm: Some(norm * 2.0),
        ..Regularization::default()
    });
    assert!(untouched == plain);
}

#[test]
fn sgd_weight_decay_equals_an_l2_penalty_of_half_the_rate_on_weights() {
    let (x, y) = batch();
    let mut a = Net::seeded(4);
    let mut b = Net::seeded(4);
    let mut sa = Session::<Net>::new(5, 0);
    let mut sb = Session::<Net>::new(5, 0).with_regularization(Regularization {
        l2: 0.05,
        ..Regularization::default()
    });
    sa.step(
        &mut a,
        &x,
        &y,
        &MeanSquaredError,
        &mut Sgd::new(0.1).with_weight_decay(0.1),
    )
    .expect("step");
    sb.step(&mut b, &x, &y, &MeanSquaredError, &mut Sgd::new(0.1))
        .expect("step");
    for (i, spec) in Net::TENSORS.iter().enumerate() {
        if spec.kind == TensorKind::Weight {
            for (p, q) in a.tensor(i).iter().zip(b.tensor(i)) {
                assert!((p - q).abs() < 1e-15);
            }
        }
    }
    // Decoupled decay shrinks weights even where the gradient is zero.
    let mut c = Net::seeded(4);
    let before = c.global_norm();
    let mut adamw = AdamW::new(0.1).with_weight_decay(0.5);
    let mut sc = Session::<Net>::new(5, 0);
    let zero_target: Vec<f64> = {
        let mut ws = Net::workspace(5);
        c.forward_into(&x, &mut ws).expect("fits").act.to_vec()
    };
    sc.step(&mut c, &x, &zero_target, &MeanSquaredError, &mut adamw)
        .expect("step");
    assert!(c.global_norm() < before * (1.0 - 0.1 * 0.5) + 1e-12);
}

#[test]
fn an_update_that_overflows_is_undone_by_the_guard() {
    let (x, y) = batch();
    // Large targets give gradients far above 1, so that `lr * g` overflows. Plain SGD is
    // checked before its update, SGD with momentum after it (from a copy).
    let y: Vec<f64> = y.iter().map(|v| v * 1e3).collect();
    for momentum in [0.0, 0.5] {
        let sgd = |lr: f64| Sgd::new(lr).with_momentum(momentum);
        let mut net = Net::seeded(5);
        let before = net.clone();
        let mut session = Session::<Net>::new(5, 0).with_last_good_guard(true);
        let err = session
            .step(&mut net, &x, &y, &MeanSquaredError, &mut sgd(f64::MAX))
            .unwrap_err();
        assert!(
            matches!(
                err,
                TrainError::NonFinite {
                    what: "updated weights",
                    ..
                }
            ),
            "momentum {momentum}: {err}"
        );
        assert!(net == before, "momentum {momentum}");
        // Without the guard the same step leaves infinities behind: the guard is what helps.
        let mut unguarded = Net::seeded(5);
        let mut session = Session::<Net>::new(5, 0);
        session
            .step(&mut unguarded, &x, &y, &MeanSquaredError, &mut sgd(f64::MAX))
            .expect("no check");
        assert!(!unguarded.is_finite(), "momentum {momentum}");
        // An ordinary step: the guarded one is the unguarded one, bit for bit.
        let (mut guarded, mut plain) = (Net::seeded(6), Net::seeded(6));
        for (net, guard) in [(&mut guarded, true), (&mut plain, false)] {
            let mut session = Session::<Net>::new(5, 0).with_last_good_guard(guard);
            session
                .step(net, &x, &y, &MeanSquaredError, &mut sgd(1e-4))
                .expect("finite");
        }
        assert!(guarded == plain && guarded != Net::seeded(6), "momentum {momentum}");
    }
}

retroprop::network! {
    struct Small32 { input: 3, hidden: dense(4) -> tanh, out: dense(2) }
}

retroprop::network! {
    struct Line32 { input: 1, out: dense(1) }
}

/// The Euclidean norm of every gradient together, by hand.
fn norm_by_hand(g: &Small32Gradients) -> f64 {
    (0..<Small32 as Parameters>::TENSORS.len())
        .flat_map(|i| g.tensor(i).to_vec())
        .map(|v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt()
}

#[test]
fn the_f32_gradient_norm_is_the_stored_gradients_and_still_refuses_overflow() {
    let x: Vec<f32> = values(1, 3 * 5, 1.0).iter().map(|&v| v as f32).collect();
    let y: Vec<f32> = values(2, 2 * 5, 1.0).iter().map(|&v| v as f32).collect();
    let mut net = Small32::seeded(3);
    let mut session = Session::<Small32>::new(5, 0);
    assert_eq!(session.last_grad_norm(), 0.0, "before the first step");
    session
        .step(&mut net, &x, &y, &MeanSquaredError, &mut Sgd::new(0.1))
        .expect("step");
    let expected = norm_by_hand(&session.gradients);
    assert!(expected > 0.0);
    assert!((session.last_grad_norm() - expected).abs() <= 1e-12 * expected);
    // With clipping, the norm before clipping, kept from the step.
    let mut clipped = Session::<Small32>::new(5, 0).with_regularization(Regularization {
        clip_norm: Some(expected as f32 / 4.0),
        ..Regularization::default()
    });
    let mut net = Small32::seeded(3);
    clipped
        .step(&mut net, &x, &y, &MeanSquaredError, &mut Sgd::new(0.1))
        .expect("step");
    assert!((clipped.last_grad_norm() - expected).abs() <= 1e-6 * expected);
    assert!(norm_by_hand(&clipped.gradients) < expected / 3.0, "clipped");

    // A finite loss whose weight gradient overflows f32: out = 0.5 x = 1.1e19, the squared
    // errors of the two samples about 2.4e38 together, the weight's gradient x^2 = 4.8e38.
    let mut line = Line32::zeroed();
    line.tensor_mut(0)[0] = 0.5;
    let before = line.clone();
    let mut session = Session::<Line32>::new(2, 0);
    let result = session.step(
        &mut line,
        &[2.2e19, 2.2e19],
        &[0.0, 0.0],
        &MeanSquaredError,
        &mut Sgd::new(0.1),
    );
    match result {
        Err(TrainError::NonFinite { what, value }) => {
            assert_eq!(what, "gradient norm");
            assert!(value.is_infinite());
            assert!(session.last_grad_norm().is_infinite());
        }
        other => panic!("{other:?}"),
    }
    assert!(line == before, "the refused step changed the network");
}

#[test]
fn a_step_refused_for_its_loss_reports_its_own_gradient_norm_whatever_the_step_before() {
    let x: Vec<f32> = values(1, 3 * 5, 1.0).iter().map(|&v| v as f32).collect();
    let y: Vec<f32> = values(2, 2 * 5, 1.0).iter().map(|&v| v as f32).collect();
    let mut bad_y = y.clone();
    bad_y[3] = f32::NAN;
    // Lazy (no clipping) and eager (clipping that never bites) steps before the refused one.
    for clip_norm in [None, Some(1e30)] {
        let mut net = Small32::seeded(3);
        let mut session = Session::<Small32>::new(5, 0).with_regularization(Regularization {
            clip_norm,
            ..Regularization::default()
        });
        session
            .step(&mut net, &x, &y, &MeanSquaredError, &mut Sgd::new(0.1))
            .expect("step");
        let before = net.clone();
        match session.step(&mut net, &x, &bad_y, &MeanSquaredError, &mut Sgd::new(0.1)) {
            Err(TrainError::NonFinite { what: "loss", .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(net == before, "the refused step changed the network");
        let refused = norm_by_hand(&session.gradients);
        let reported = session.last_grad_norm();
        assert!(
            reported.to_bits() == refused.to_bits() || (reported.is_nan() && refused.is_nan()),
            "{clip_norm:?}: {reported} vs {refused}"
        );
    }
}
