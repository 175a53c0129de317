//! `Network::FUSED_SGD`: the runtime takes the fused one-sample SGD path only for networks
//! that have it. A network without it (here a generated one wrapped with the flag off) trains
//! through `Session::step` and `step_each` with the same results, and its provided
//! `sgd_steps_into` is a typed error that changes nothing.

#[macro_use]
mod common;

use retroprop::prelude::*;
use retroprop::Workspace;

retroprop::network! {
    #[network(scalar = f64)]
    struct Net { input: 3, hidden: dense(5) -> tanh, drop: dropout(0.2), out: dense(2) -> softmax }
}

// `Net` without the fused path: every method delegates, `FUSED_SGD` keeps its default.
wrap_network!(Unfused(Net), "Unfused", <Net as Parameters>::TENSORS);

fn data() -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..3 * 6).map(|i| ((i * 7) % 11) as f64 / 11.0 - 0.4).collect();
    let y = one_hot::<f64>(&[0, 1, 1, 0, 1, 0], 2).expect("labels");
    (x, y)
}

#[test]
fn generated_networks_have_the_fused_path() {
    const { assert!(<Net as Network>::FUSED_SGD) };
    const { assert!(!<Unfused as Network>::FUSED_SGD) };
}

#[test]
fn a_network_without_the_fused_path_trains_by_steps_to_the_same_weights() {
    let (x, y) = data();
    let mut fused = Net::seeded(3);
    let mut unfused = Unfused(Net::seeded(3));
    let mut fused_session = Session::<Net>::new(1, 7);
    let mut unfused_session = Session::<Unfused>::new(1, 7);
    let mut sgd = Sgd::new(0.3);
    // One step per call, then runs of steps: the fused path and the plain one agree.
    for (xs, ys) in x.chunks(3).zip(y.chunks(2)) {
        let a = fused_session
            .step(&mut fused, xs, ys, &CrossEntropy, &mut sgd)
            .expect("fused step");
        let b = unfused_session
            .step(&mut unfused, xs, ys, &CrossEntropy, &mut sgd)
            .expect("plain step");
        assert!((a - b).abs() <= 1e-15 * a.abs().max(1.0), "{a} vs {b}");
    }
    let a = fused_session
        .step_each(&mut fused, &x, &y, &CrossEntropy, &mut sgd)
        .expect("run");
    let b = unfused_session
        .step_each(&mut unfused, &x, &y, &CrossEntropy, &mut sgd)
        .expect("steps");
    assert!((a - b).abs() <= 1e-12, "{a} vs {b}");
    for i in 0..<Net as Parameters>::TENSORS.len() {
        for (p, q) in fused.tensor(i).iter().zip(unfused.tensor(i)) {
            assert!((p - q).abs() <= 1e-12, "tensor {i}: {p} vs {q}");
        }
    }
    assert_ne!(unfused.0, Net::seeded(3), "the steps trained the network");
}

#[test]
fn the_provided_fused_run_is_a_typed_error_that_changes_nothing() {
    let (x, y) = data();
    let mut net = Unfused(Net::seeded(1));
    let before = net.clone();
    let mut ws = Unfused::workspace(1);
    let mut ctx = Context::training(0);
    let error = net
        .sgd_steps_into(&x, &y, &CrossEntropy, &mut ctx, &mut ws, 0.1)
        .expect_err("no fused path");
    assert!(
        matches!(error, TrainError::Config(ref m) if m.contains("`Unfused`")),
        "{error}"
    );
    assert_eq!(net, before);
    assert_eq!(ws.capacity(), 1);
}

#[test]
fn fit_trains_a_network_without_the_fused_path_one_sample_at_a_time() {
    let (x, y) = data();
    let train = Dataset::new(x, 3, y, 2).expect("dataset");
    let trainer = || Trainer::new().epochs(3).batch_size(1).seed(5).progress(Progress::Quiet);
    let mut fused = Net::seeded(2);
    let mut unfused = Unfused(Net::seeded(2));
    let h1 = trainer()
        .fit(&mut fused, &train, &CrossEntropy, &mut Sgd::new(0.2))
        .expect("fit");
    let h2 = trainer()
        .fit(&mut unfused, &train, &CrossEntropy, &mut Sgd::new(0.2))
        .expect("fit");
    assert_eq!(h1.epochs.len(), 3);
    for (a, b) in h1.epochs.iter().zip(&h2.epochs) {
        assert!((a.train_loss - b.train_loss).abs() <= 1e-12, "{a:?} vs {b:?}");
    }
    for i in 0..<Net as Parameters>::TENSORS.len() {
        for (p, q) in fused.tensor(i).iter().zip(unfused.tensor(i)) {
            assert!((p - q).abs() <= 1e-12, "tensor {i}: {p} vs {q}");
        }
    }
}
