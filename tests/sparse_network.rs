//! Networks with a sparse input (`input: sparse(n)`): the generated passes against the same
//! layers on densified inputs, finite differences, and the training steps of a
//! `SparseSession` with each optimizer.

use retroprop::data::sparse::SparseRows;
use retroprop::loss::CrossEntropy;
use retroprop::nn::sparse::SparseAdam;
use retroprop::nn::Context;
use retroprop::optim::{Adagrad, Adam, AdamW, Optimizer, RmsProp, Sgd};
use retroprop::train::{Regularization, Session, SparseSession};
use retroprop::{
    DenseTensors, Network, OptimError, Parameters, ShapeError, SparseGradients, SparseNetwork, TrainError,
};

retroprop::network! {
    /// A sparse bag of features into a small classifier.
    #[network(scalar = f64)]
    pub struct SparseNet {
        input: sparse(40),
        hidden: dense(6) -> tanh,
        drop: dropout(0.0),
        output: dense(3) -> softmax,
    }
}

retroprop::network! {
    /// The same layers on a dense input.
    #[network(scalar = f64)]
    pub struct DenseNet {
        input: 40,
        hidden: dense(6) -> tanh,
        drop: dropout(0.0),
        output: dense(3) -> softmax,
    }
}

retroprop::network! {
    /// One sparse layer straight to the outputs, in f32 (a linear model on hashed features).
    pub struct Linear {
        input: sparse(1000),
        output: dense(2) -> softmax,
    }
}

const FEATURES: usize = 40;

fn rows() -> SparseRows<f64> {
    SparseRows::from_pairs(
        FEATURES,
        [
            vec![(0, 1.0), (7, -0.5), (39, 2.0)],
            vec![],
            vec![(7, 0.25), (8, 1.5)],
            vec![(3, 1.0), (7, 1.0), (12, -1.0), (30, 0.5)],
        ],
    )
    .unwrap()
}

/// One-hot targets of the four samples of [`rows`].
const TARGET: [f64; 12] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];

/// The features present in [`rows`].
const PRESENT: [u32; 7] = [0, 3, 7, 8, 12, 30, 39];

fn densify(rows: &SparseRows<f64>) -> Vec<f64> {
    let mut x = vec![0.0; rows.len() * rows.features()];
    for (j, (indices, values)) in rows.iter().enumerate() {
        for (&k, &v) in indices.iter().zip(values) {
            x[j * rows.features() + k as usize] = v;
        }
    }
    x
}

/// The dense twin of a sparse network: the same tensors.
fn twin(sparse: &SparseNet) -> DenseNet {
    let mut dense = DenseNet::zeroed();
    for i in 0..<DenseNet as Parameters>::TENSORS.len() {
        dense.tensor_mut(i).copy_from_slice(sparse.tensor(i));
    }
    dense
}

fn assert_close(a: &[f64], b: &[f64], tolerance: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tolerance, "{what}[{i}]: {x} vs {y}");
    }
}

/// Whether column `k` of the sparse weight is the same bits in both networks.
fn column_eq(a: &SparseNet, b: &SparseNet, k: usize) -> bool {
    let width = SparseNet::WIDTH;
    a.tensor(0)[k * width..(k + 1) * width] == b.tensor(0)[k * width..(k + 1) * width]
}

#[test]
fn constants_and_tensors() {
    assert_eq!((SparseNet::FEATURES, SparseNet::WIDTH, SparseNet::OUTPUT), (40, 6, 3));
    assert_eq!(SparseNet::INPUT, 40);
    assert_eq!(<SparseNet as SparseNetwork>::PARAMETERS, 6 * 40 + 6 + 3 * 6 + 3);
    assert_eq!(
        SparseNet::DEFINITION,
        "input: sparse(40), hidden: dense(6) -> tanh, drop: dropout(0.0), output: dense(3) -> softmax"
    );
    let names: Vec<_> = SparseNet::TENSORS.iter().map(|t| t.name).collect();
    assert_eq!(names, ["hidden.weight", "hidden.bias", "output.weight", "output.bias"]);
    assert_eq!(SparseNet::TENSORS[0].shape, &[6, 40]);
    let dense: Vec<_> = SparseNet::DENSE_TENSORS.iter().map(|t| t.name).collect();
    assert_eq!(dense, ["hidden.bias", "output.weight", "output.bias"]);
    assert!(SparseNet::summary().to_string().contains("hidden"));
}

#[test]
fn forward_matches_the_dense_network() {
    let sparse = SparseNet::seeded(3);
    let dense = twin(&sparse);
    let rows = rows();
    let out = sparse.forward_sparse(&rows.as_batch()).unwrap();
    let mut ws = DenseNet::workspace(4);
    let expected = dense.forward_into(&densify(&rows), &mut ws).unwrap().act.to_vec();
    assert_close(out.as_slice(), &expected, 1e-14, "outputs");
    // The empty sample's output comes from the biases only.
    let mut bias_only = SparseNet::seeded(3);
    bias_only.hidden_bias.fill(0.25);
    let empty = SparseRows::<f64>::from_pairs(FEATURES, [Vec::<(u32, f64)>::new()]).unwrap();
    let a = bias_only.forward_sparse(&empty.as_batch()).unwrap();
    let hidden = retroprop::nalgebra::SVector::<f64, 6>::repeat(0.25_f64.tanh());
    let logits = bias_only.output_weight.0 * hidden + bias_only.output_bias.0;
    let softmax: Vec<f64> = logits
        .iter()
        .map(|z| z.exp() / logits.iter().map(|z| z.exp()).sum::<f64>())
        .collect();
    assert_close(a.as_slice(), &softmax, 1e-14, "empty sample");
}

#[test]
fn gradients_match_the_dense_network() {
    let sparse = SparseNet::seeded(5);
    let dense = twin(&sparse);
    let rows = rows();
    let mut ws = SparseNet::workspace(4);
    let mut grads = SparseNet::zeroed_gradients();
    let loss = sparse
        .gradients_sparse_into(
            &rows.as_batch(),
            &TARGET,
            &CrossEntropy,
            &mut Context::training(0),
            &mut ws,
            &mut grads,
        )
        .unwrap();
    let mut dense_ws = DenseNet::workspace(4);
    let mut dense_grads = DenseNet::zeroed_gradients();
    let dense_loss = dense
        .gradients_into(
            &densify(&rows),
            &TARGET,
            &CrossEntropy,
            &mut Context::training(0),
            &mut dense_ws,
            &mut dense_grads,
        )
        .unwrap();
    assert!((loss - dense_loss).abs() < 1e-14);
    assert_eq!(grads.sparse().columns(), &PRESENT);
    let width = SparseNet::WIDTH;
    let dense_weight = dense_grads.tensor(0);
    for k in 0..FEATURES {
        let column = &dense_weight[k * width..(k + 1) * width];
        match grads.sparse().column(k as u32) {
            Some(values) => assert_close(values, column, 1e-14, "weight gradient column"),
            None => assert!(column.iter().all(|&g| g == 0.0), "absent column {k} has a gradient"),
        }
    }
    for i in 0..SparseNet::DENSE_TENSORS.len() {
        assert_close(
            grads.tensor(i),
            dense_grads.tensor(i + 1),
            1e-14,
            SparseNet::DENSE_TENSORS[i].name,
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    let net = SparseNet::seeded(11);
    let rows = rows();
    let batch = rows.as_batch();
    let loss_of = |net: &SparseNet| {
        let mut ws = SparseNet::workspace(4);
        let out = net.forward_sparse_into(&batch, &mut ws).unwrap();
        let act = out.act;
        -(0..4)
            .map(|j| (0..3).map(|c| TARGET[j * 3 + c] * act[j * 3 + c].ln()).sum::<f64>())
            .sum::<f64>()
            / 4.0
    };
    let mut ws = SparseNet::workspace(4);
    let mut grads = SparseNet::zeroed_gradients();
    net.gradients_sparse_into(
        &batch,
        &TARGET,
        &CrossEntropy,
        &mut Context::training(0),
        &mut ws,
        &mut grads,
    )
    .unwrap();
    let h = 1e-6;
    let numeric = |tensor: usize, i: usize| {
        let (mut up, mut down) = (net.clone(), net.clone());
        up.tensor_mut(tensor)[i] += h;
        down.tensor_mut(tensor)[i] -= h;
        (loss_of(&up) - loss_of(&down)) / (2.0 * h)
    };
    let width = SparseNet::WIDTH;
    for k in 0..FEATURES {
        for r in 0..width {
            let analytic = grads.sparse().column(k as u32).map_or(0.0, |c| c[r]);
            let fd = numeric(0, k * width + r);
            assert!(
                (analytic - fd).abs() < 1e-8,
                "hidden.weight[{r}, {k}]: {analytic} vs {fd}"
            );
        }
    }
    for tensor in 1..SparseNet::TENSORS.len() {
        for i in 0..net.tensor(tensor).len() {
            let (analytic, fd) = (grads.tensor(tensor - 1)[i], numeric(tensor, i));
            assert!(
                (analytic - fd).abs() < 1e-8,
                "{}[{i}]: {analytic} vs {fd}",
                SparseNet::TENSORS[tensor].name
            );
        }
    }
}

#[test]
fn shape_errors() {
    let net = SparseNet::seeded(0);
    let wrong = SparseRows::<f64>::from_pairs(41, [vec![(40, 1.0)]]).unwrap();
    let mut ws = SparseNet::workspace(2);
    assert!(matches!(
        net.forward_sparse_into(&wrong.as_batch(), &mut ws),
        Err(ShapeError::Width {
            what: "features",
            expected: 40,
            actual: 41
        })
    ));
    let rows = rows();
    assert!(matches!(
        net.forward_sparse_into(&rows.as_batch(), &mut ws),
        Err(ShapeError::BatchTooLarge { len: 4, capacity: 2 })
    ));
    assert!(matches!(
        net.forward_sparse_into(&rows.view(0..0), &mut ws),
        Err(ShapeError::EmptyBatch)
    ));
    let mut session = SparseSession::<SparseNet>::new(4, 0);
    let mut net = net;
    let error = session
        .step(
            &mut net,
            &rows.as_batch(),
            &TARGET[..9],
            &CrossEntropy,
            &mut Sgd::new(0.1),
        )
        .unwrap_err();
    assert!(matches!(
        error,
        TrainError::Shape(ShapeError::SampleCountMismatch { inputs: 4, targets: 3 })
    ));
}

#[test]
fn inference_from_several_threads() {
    let net = SparseNet::seeded(2);
    let rows = rows();
    let expected = net.forward_sparse(&rows.as_batch()).unwrap();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut ws = SparseNet::workspace(4);
                    net.forward_sparse_with(&rows.as_batch(), &mut ws).unwrap().into_owned()
                })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), expected);
        }
    });
}

/// `steps` steps of a sparse session and of a dense session (on the densified batch), with
/// the optimizers `make` gives.
fn train_both<O: Optimizer<f64>>(
    make: impl Fn() -> O,
    regularization: Regularization<f64>,
    steps: usize,
) -> (SparseNet, SparseNet, DenseNet, SparseSession<SparseNet>) {
    let start = SparseNet::seeded(7);
    let mut sparse = start.clone();
    let mut dense = twin(&start);
    let rows = rows();
    let x = densify(&rows);
    let (mut sparse_opt, mut dense_opt) = (make(), make());
    let mut session = SparseSession::<SparseNet>::new(4, 0).with_regularization(regularization);
    let mut dense_session = Session::<DenseNet>::new(4, 0).with_regularization(regularization);
    for step in 0..steps {
        // Alternate the whole batch and its first two samples, so that columns 3, 12 and 30
        // miss steps.
        let n = if step % 2 == 0 { 4 } else { 2 };
        session
            .step(
                &mut sparse,
                &rows.view(0..n),
                &TARGET[..3 * n],
                &CrossEntropy,
                &mut sparse_opt,
            )
            .unwrap();
        dense_session
            .step(
                &mut dense,
                &x[..FEATURES * n],
                &TARGET[..3 * n],
                &CrossEntropy,
                &mut dense_opt,
            )
            .unwrap();
    }
    (start, sparse, dense, session)
}

fn assert_twins(sparse: &SparseNet, dense: &DenseNet, tolerance: f64) {
    for (i, spec) in SparseNet::TENSORS.iter().enumerate() {
        assert_close(sparse.tensor(i), dense.tensor(i), tolerance, spec.name);
    }
}

#[test]
fn sgd_is_exact_and_leaves_absent_columns_alone() {
    let (start, sparse, dense, _) = train_both(|| Sgd::new(0.3), Regularization::default(), 6);
    assert_twins(&sparse, &dense, 1e-13);
    for k in (0..FEATURES).filter(|k| !PRESENT.contains(&(*k as u32))) {
        assert!(column_eq(&start, &sparse, k), "column {k} moved");
    }
    assert!(!column_eq(&start, &sparse, 7));
}

#[test]
fn momentum_catches_up_to_dense_momentum() {
    let make = || Sgd::new(0.2).with_momentum(0.9);
    let (_, mut sparse, dense, mut session) = train_both(make, Regularization::default(), 6);
    // Columns 3, 12 and 30 missed the last step: they lag until caught up.
    let width = SparseNet::WIDTH;
    let lagging = |net: &SparseNet| net.tensor(0)[3 * width] != dense.tensor(0)[3 * width];
    assert!(lagging(&sparse));
    session.catch_up(&mut sparse);
    assert_twins(&sparse, &dense, 1e-12);
    let nesterov = || Sgd::new(0.2).with_momentum(0.8).with_nesterov(true);
    let (_, mut sparse, dense, mut session) = train_both(nesterov, Regularization::default(), 6);
    session.catch_up(&mut sparse);
    assert_twins(&sparse, &dense, 1e-12);
}

#[test]
fn adagrad_is_exact() {
    let (start, sparse, dense, _) = train_both(|| Adagrad::new(0.1), Regularization::default(), 6);
    assert_twins(&sparse, &dense, 1e-13);
    assert!(column_eq(&start, &sparse, 1));
}

#[test]
fn adam_is_sparse_adam_on_the_sparse_layer_and_adam_elsewhere() {
    let (start, sparse, dense, _) = train_both(|| Adam::new(0.01), Regularization::default(), 1);
    // One step from zero moments: every entry moves as dense Adam's does (absent entries by
    // 0), up to where SparseAdam adds epsilon (to `sqrt(v)`, not to `sqrt(v / (1 - beta2^t))`).
    assert_twins(&sparse, &dense, 1e-5);
    let (start2, sparse, dense, _) = train_both(|| Adam::new(0.01), Regularization::default(), 6);
    assert_eq!(start.tensor(0), start2.tensor(0));
    // The session is SparseAdam on the sparse weight and Adam on the other tensors, step by
    // step (the same bits as composing the two by hand).
    let mut reference = start.clone();
    let mut sparse_adam = SparseAdam::new(SparseNet::WIDTH, FEATURES).with_lr(0.01);
    let mut adam = Adam::new(0.01);
    let (rows, mut ws, mut grads) = (rows(), SparseNet::workspace(4), SparseNet::zeroed_gradients());
    for step in 0..6 {
        let n = if step % 2 == 0 { 4 } else { 2 };
        reference
            .gradients_sparse_into(
                &rows.view(0..n),
                &TARGET[..3 * n],
                &CrossEntropy,
                &mut Context::training(0),
                &mut ws,
                &mut grads,
            )
            .unwrap();
        adam.step(&mut DenseTensors(&mut reference), &grads).unwrap();
        sparse_adam.step(reference.tensor_mut(0), grads.sparse());
    }
    assert!(reference == sparse);
    // Absent columns stay, and columns that missed steps differ from dense Adam, whose
    // moments moved them meanwhile (SparseAdam's documented semantics).
    for k in (0..FEATURES).filter(|k| !PRESENT.contains(&(*k as u32))) {
        assert!(column_eq(&start, &sparse, k));
    }
    let width = SparseNet::WIDTH;
    assert!((sparse.tensor(0)[3 * width] - dense.tensor(0)[3 * width]).abs() > 1e-9);
}

#[test]
fn adamw_is_eager_decay_and_sparse_adam_after_catch_up() {
    let (lr, wd) = (0.02, 0.1);
    let make = || AdamW::new(lr).with_weight_decay(wd);
    let (start, sparse, _, mut session) = train_both(make, Regularization::default(), 6);
    let mut sparse = sparse;
    // Absent columns lag: they have not taken their decay yet.
    assert!(column_eq(&start, &sparse, 1));
    session.catch_up(&mut sparse);
    assert!(!column_eq(&start, &sparse, 1));
    // The eager form: every column of the sparse weight decays at every step, before its
    // forward pass; SparseAdam updates the present columns; AdamW steps the other tensors.
    let mut reference = start.clone();
    let mut sparse_adam = SparseAdam::new(SparseNet::WIDTH, FEATURES).with_lr(lr);
    let mut adamw = AdamW::new(lr).with_weight_decay(wd);
    let (rows, mut ws, mut grads) = (rows(), SparseNet::workspace(4), SparseNet::zeroed_gradients());
    for step in 0..6 {
        let n = if step % 2 == 0 { 4 } else { 2 };
        reference
            .gradients_sparse_into(
                &rows.view(0..n),
                &TARGET[..3 * n],
                &CrossEntropy,
                &mut Context::training(0),
                &mut ws,
                &mut grads,
            )
            .unwrap();
        for w in reference.tensor_mut(0) {
            *w *= 1.0 - lr * wd;
        }
        sparse_adam.step(reference.tensor_mut(0), grads.sparse());
        adamw.step(&mut DenseTensors(&mut reference), &grads).unwrap();
    }
    for (i, spec) in SparseNet::TENSORS.iter().enumerate() {
        assert_close(sparse.tensor(i), reference.tensor(i), 1e-12, spec.name);
    }
}

#[test]
fn l2_and_clipping_see_only_present_columns() {
    let regularization = Regularization {
        l2: 0.05,
        l1: 0.01,
        clip_norm: Some(0.05),
        ..Regularization::default()
    };
    let start = SparseNet::seeded(7);
    let mut net = start.clone();
    let rows = rows();
    let mut session = SparseSession::<SparseNet>::new(4, 0).with_regularization(regularization);
    let mut sgd = Sgd::new(0.1);
    for _ in 0..3 {
        session
            .step(&mut net, &rows.as_batch(), &TARGET, &CrossEntropy, &mut sgd)
            .unwrap();
    }
    for k in (0..FEATURES).filter(|k| !PRESENT.contains(&(*k as u32))) {
        assert!(column_eq(&start, &net, k), "absent column {k} was decayed");
    }
    // The penalty of the present columns and the dense weights, as computed by hand.
    let width = SparseNet::WIDTH;
    let mut expected = 0.0;
    for &k in &PRESENT {
        for &w in &net.tensor(0)[k as usize * width..(k as usize + 1) * width] {
            expected += 0.01 * w.abs() + 0.05 * w * w;
        }
    }
    for &w in net.tensor(2) {
        expected += 0.01 * w.abs() + 0.05 * w * w;
    }
    let before = net.clone();
    session
        .step(&mut net, &rows.as_batch(), &TARGET, &CrossEntropy, &mut sgd)
        .unwrap();
    assert!(
        (session.last_penalty() - expected).abs() < 1e-12,
        "{} vs {expected}",
        session.last_penalty()
    );
    // Clipping: the applied gradient's norm is at most 0.05.
    let dense: f64 = (0..SparseNet::DENSE_TENSORS.len())
        .flat_map(|i| session.gradients.tensor(i).to_vec())
        .map(|g| g * g)
        .sum();
    let sparse: f64 = session.gradients.sparse().values().iter().map(|g| g * g).sum();
    assert!((dense + sparse).sqrt() <= 0.05 + 1e-9);
    assert!(session.last_grad_norm() > 0.05, "the test should clip");
    assert!(net != before);
}

/// One step of a session on a network, with some optimizer.
type StepFn<'a> = dyn FnMut(&mut SparseNet, &mut SparseSession<SparseNet>) -> Result<f64, TrainError> + 'a;

#[test]
fn optimizers_without_a_sparse_rule_are_refused() {
    let rows = rows();
    let refused: [(&mut StepFn, &str); 4] = [
        (
            &mut |net, s| s.step(net, &rows.as_batch(), &TARGET, &CrossEntropy, &mut RmsProp::new(0.01)),
            "`RmsProp`",
        ),
        (
            &mut |net, s| {
                s.step(
                    net,
                    &rows.as_batch(),
                    &TARGET,
                    &CrossEntropy,
                    &mut AdamW::new(0.01).with_amsgrad(true),
                )
            },
            "`AdamW` with AMSGrad",
        ),
        (
            &mut |net, s| {
                s.step(
                    net,
                    &rows.as_batch(),
                    &TARGET,
                    &CrossEntropy,
                    &mut Adam::new(0.01).with_weight_decay(0.1),
                )
            },
            "`Adam` with weight decay or AMSGrad",
        ),
        (
            &mut |net, s| {
                s.step(
                    net,
                    &rows.as_batch(),
                    &TARGET,
                    &CrossEntropy,
                    &mut Sgd::new(0.1).with_momentum(0.9).with_dampening(0.1),
                )
            },
            "`Sgd` with momentum and dampening or weight decay",
        ),
    ];
    for (step, name) in refused {
        let mut net = SparseNet::seeded(1);
        let before = net.clone();
        let mut session = SparseSession::<SparseNet>::new(4, 0);
        match step(&mut net, &mut session) {
            Err(TrainError::Optim(OptimError::NoSparseRule { optimizer, .. })) => assert_eq!(optimizer, name),
            other => panic!("{name}: {other:?}"),
        }
        assert!(net == before, "{name} changed the network");
    }
}

#[test]
fn the_gradient_norm_without_clipping_is_that_of_the_stored_gradient() {
    let mut net = SparseNet::seeded(5);
    let rows = rows();
    let mut session = SparseSession::<SparseNet>::new(4, 0);
    assert_eq!(session.last_grad_norm(), 0.0, "before the first step");
    let mut sgd = Sgd::new(0.1);
    session
        .step(&mut net, &rows.as_batch(), &TARGET, &CrossEntropy, &mut sgd)
        .unwrap();
    let dense: f64 = (0..SparseNet::DENSE_TENSORS.len())
        .flat_map(|i| session.gradients.tensor(i).to_vec())
        .map(|g| g * g)
        .sum();
    let sparse: f64 = session.gradients.sparse().values().iter().map(|g| g * g).sum();
    let expected = (dense + sparse).sqrt();
    assert!(expected > 0.0);
    assert!(
        (session.last_grad_norm() - expected).abs() <= 1e-12 * expected,
        "{} vs {expected}",
        session.last_grad_norm()
    );
    // With clipping the norm is the one before clipping, kept from the step.
    let mut clipped = SparseSession::<SparseNet>::new(4, 0).with_regularization(Regularization {
        clip_norm: Some(expected / 4.0),
        ..Regularization::default()
    });
    let mut net = SparseNet::seeded(5);
    clipped
        .step(&mut net, &rows.as_batch(), &TARGET, &CrossEntropy, &mut Sgd::new(0.1))
        .unwrap();
    assert!((clipped.last_grad_norm() - expected).abs() <= 1e-12 * expected);
}

#[test]
fn the_f32_gradient_norm_is_computed_when_asked() {
    let rows =
        SparseRows::<f32>::from_pairs(1000, (0..8).map(|i| vec![(3 * i as u32, 1.0), (500 + i as u32, 0.5)])).unwrap();
    let labels: Vec<usize> = (0..8).map(|i| i % 2).collect();
    let target = retroprop::data::one_hot::<f32>(&labels, 2).unwrap();
    let mut net = Linear::seeded(3);
    let mut session = SparseSession::<Linear>::new(8, 0);
    session
        .step(&mut net, &rows.as_batch(), &target, &CrossEntropy, &mut Sgd::new(0.1))
        .unwrap();
    let dense: f64 = (0..Linear::DENSE_TENSORS.len())
        .flat_map(|i| session.gradients.tensor(i).to_vec())
        .map(|g| f64::from(g) * f64::from(g))
        .sum();
    let sparse: f64 = session
        .gradients
        .sparse()
        .values()
        .iter()
        .map(|&g| f64::from(g) * f64::from(g))
        .sum();
    let expected = (dense + sparse).sqrt();
    assert!(expected > 0.0);
    assert!(
        (session.last_grad_norm() - expected).abs() <= 1e-12 * expected,
        "{} vs {expected}",
        session.last_grad_norm()
    );
}

/// Whether `error` is the guard's refusal of a non-finite update.
fn refused_update(error: &TrainError) -> bool {
    matches!(
        error,
        TrainError::NonFinite {
            what: "updated weights",
            ..
        }
    )
}

#[test]
fn the_guard_restores_an_overflowing_update() {
    let mut net = SparseNet::seeded(4);
    let before = net.clone();
    let rows = rows();
    let mut session = SparseSession::<SparseNet>::new(4, 0).with_last_good_guard(true);
    let error = session
        .step(
            &mut net,
            &rows.as_batch(),
            &TARGET,
            &CrossEntropy,
            &mut Sgd::new(f64::INFINITY),
        )
        .unwrap_err();
    assert!(refused_update(&error), "{error:?}");
    assert!(net == before);
}

/// One step of [`Linear`] with plain SGD and weight decay, from weights whose column 5 holds
/// `big` in row 0, with the guard on or off.
fn linear_step(big: f32, lr: f32, weight_decay: f32, guard: bool) -> (Linear, Result<f32, TrainError>) {
    // Feature 5's tiny value keeps the logits finite however large its weights are.
    let rows = SparseRows::<f32>::from_pairs(1000, [vec![(5, 1e-38), (9, 0.5)], vec![(9, -1.0), (400, 2.0)]]).unwrap();
    let target = [1.0f32, 0.0, 0.0, 1.0];
    let mut net = Linear::seeded(3);
    net.tensor_mut(0)[5 * 2] = big;
    let mut session = SparseSession::<Linear>::new(2, 0).with_last_good_guard(guard);
    let mut sgd = Sgd::new(lr).with_weight_decay(weight_decay);
    let result = session.step(&mut net, &rows.as_batch(), &target, &CrossEntropy, &mut sgd);
    (net, result)
}

#[test]
fn the_guard_of_plain_sgd_changes_nothing_or_undoes_the_whole_step() {
    // Ordinary weights, and a weight of 1e38 whose update (`lr * weight_decay = 1.5`) gives
    // -0.5e38: the guarded step is the unguarded one, bit for bit.
    for (big, lr, decay) in [(0.5, 0.1, 0.01), (1e38, 1.0, 1.5)] {
        let (guarded, result) = linear_step(big, lr, decay, true);
        result.unwrap();
        let (plain, result) = linear_step(big, lr, decay, false);
        result.unwrap();
        assert!(guarded == plain, "{big}");
        assert!(guarded.tensor(0).iter().chain(guarded.tensor(1)).all(|w| w.is_finite()));
    }
    let (moved, _) = linear_step(1e38, 1.0, 1.5, true);
    assert!(moved.tensor(0)[5 * 2] < -4.9e37 && moved.tensor(0)[5 * 2] > -5.1e37);
    // 2e38 with `lr * weight_decay = 3`: `weight_decay * w` overflows and the update leaves
    // an infinity in the sparse layer only (the unguarded step keeps it); the guard refuses
    // the step with the network as before it, the dense bias (updated first) included.
    let (unguarded, result) = linear_step(2e38, 1.0, 3.0, false);
    result.unwrap();
    assert!(unguarded.tensor(0)[5 * 2].is_infinite());
    assert!(unguarded.tensor(1).iter().all(|b| b.is_finite()));
    let (guarded, result) = linear_step(2e38, 1.0, 3.0, true);
    let error = result.unwrap_err();
    assert!(refused_update(&error), "{error:?}");
    let mut before = Linear::seeded(3);
    before.tensor_mut(0)[5 * 2] = 2e38;
    assert!(guarded == before);
    assert!(guarded.tensor(1) != unguarded.tensor(1));
}

#[test]
fn the_guard_undoes_a_step_that_overflows_only_the_sparse_layer_with_each_rule_kind() {
    // Feature 9's two weights of 3.2e38 tie the logits of sample 0 (p = 1/2, finite loss),
    // and the step at lr 3e38 moves row 0 by +3.75e37, past f32::MAX; the bias and the other
    // columns stay finite. Plain SGD checks in its update, SGD with momentum after it.
    let rows = SparseRows::<f32>::from_pairs(1000, [vec![(9, 0.5)], vec![(400, 2.0)]]).unwrap();
    let target = [1.0f32, 0.0, 0.0, 1.0];
    let mut start = Linear::seeded(5);
    start.tensor_mut(0)[9 * 2..9 * 2 + 2].copy_from_slice(&[3.2e38, 3.2e38]);
    for momentum in [0.0, 0.9] {
        let step = |guard: bool| {
            let mut net = start.clone();
            let mut session = SparseSession::<Linear>::new(2, 0).with_last_good_guard(guard);
            let mut sgd = Sgd::new(3e38f32).with_momentum(momentum);
            let result = session.step(&mut net, &rows.as_batch(), &target, &CrossEntropy, &mut sgd);
            (net, result)
        };
        let (unguarded, result) = step(false);
        result.unwrap();
        assert!(unguarded.tensor(0)[9 * 2].is_infinite(), "momentum {momentum}");
        let others = unguarded.tensor(0).iter().enumerate().filter(|&(i, _)| i != 9 * 2);
        assert!(others
            .chain(unguarded.tensor(1).iter().enumerate())
            .all(|(_, w)| w.is_finite()));
        let (guarded, result) = step(true);
        assert!(
            result.as_ref().is_err_and(refused_update),
            "momentum {momentum}: {result:?}"
        );
        assert!(guarded == start, "momentum {momentum}");
    }
}

#[test]
fn f32_linear_model_learns() {
    // Two classes told apart by which of two feature groups is present.
    let rows = SparseRows::<f32>::from_pairs(
        1000,
        (0..64).map(|i| {
            let base = if i % 2 == 0 { 10 } else { 500 };
            vec![(base + (i % 7) as u32, 1.0), (base + 50 + (i % 3) as u32, 0.5)]
        }),
    )
    .unwrap();
    let labels: Vec<usize> = (0..64).map(|i| i % 2).collect();
    let target = retroprop::data::one_hot::<f32>(&labels, 2).unwrap();
    let mut net = Linear::seeded(0);
    let mut session = SparseSession::<Linear>::new(64, 0);
    let mut adam = Adam::new(0.05);
    let first = session
        .step(&mut net, &rows.as_batch(), &target, &CrossEntropy, &mut adam)
        .unwrap();
    let mut last = first;
    for _ in 0..50 {
        last = session
            .step(&mut net, &rows.as_batch(), &target, &CrossEntropy, &mut adam)
            .unwrap();
    }
    assert!(last < 0.1 * first, "loss {first} -> {last}");
    let out = net.forward_sparse(&rows.as_batch()).unwrap();
    let predicted = retroprop::data::argmax_columns(out.as_slice(), 2);
    assert_eq!(predicted, labels);
}

#[test]
fn weight_files_round_trip_with_metadata() {
    let dir = std::env::temp_dir().join(format!("retroprop-sparse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sparse.safetensors");
    let net = SparseNet::seeded(9);
    net.save(&path, [("classes".to_owned(), "[\"a\",\"b\",\"c\"]".to_owned())])
        .unwrap();
    let loaded = SparseNet::load(&path).unwrap();
    assert!(loaded == net);
    let metadata = retroprop::io::weights::read_metadata(&path).unwrap();
    assert_eq!(metadata["classes"], "[\"a\",\"b\",\"c\"]");
    assert_eq!(metadata["retroprop.network"], "SparseNet");
    std::fs::remove_dir_all(&dir).unwrap();
}

mod fit {
    use super::*;
    use retroprop::data::sparse::SparseDataset;
    use retroprop::data::Dataset;
    use retroprop::train::{EarlyStopping, History, Metric, Progress, Trainer};

    retroprop::network! {
        /// A text-like classifier: 500 hashed features.
        #[network(scalar = f64)]
        pub struct Bag {
            input: sparse(500),
            hidden: dense(8) -> relu,
            output: dense(2) -> softmax,
        }
    }

    /// Two classes told apart by which feature group a sample draws from; features
    /// 400..500 never occur.
    fn data(samples: usize, offset: usize) -> SparseDataset<f64> {
        let rows = SparseRows::from_pairs(
            500,
            (offset..offset + samples).map(|i| {
                let base = if i % 2 == 0 { 0 } else { 200 };
                (0..4)
                    .map(|j| ((base + (i * 31 + j * 17) % 150) as u32, 0.5))
                    .collect::<Vec<_>>()
            }),
        )
        .unwrap();
        let labels: Vec<usize> = (offset..offset + samples).map(|i| i % 2).collect();
        SparseDataset::from_labels(rows, &labels, 2).unwrap()
    }

    fn trainer<'a>(val: &'a SparseDataset<f64>) -> Trainer<'a, f64> {
        Trainer::new()
            .epochs(8)
            .batch_size(16)
            .seed(3)
            .validation(val)
            .metric(Metric::Accuracy)
            .early_stopping(EarlyStopping::new(3))
            .regularization(Regularization {
                l2: 1e-3,
                ..Regularization::default()
            })
            .progress(Progress::Quiet)
    }

    #[test]
    fn fit_sparse_learns_with_validation_and_is_deterministic() {
        let (train, val) = (data(200, 0), data(60, 1000));
        let start = Bag::seeded(1);
        let mut net = start.clone();
        let history = trainer(&val)
            .fit_sparse(&mut net, &train, &CrossEntropy, &mut Adam::new(0.02))
            .unwrap();
        let last = history.epochs.last().unwrap();
        assert!(last.metrics["accuracy"] >= 0.95, "{history:?}");
        assert!(last.val_loss.unwrap() < history.epochs[0].val_loss.unwrap());
        // Features that never occur keep their weights, whatever the L2 penalty.
        for k in 400..500 {
            assert!(
                net.tensor(0)[k * 8..(k + 1) * 8] == start.tensor(0)[k * 8..(k + 1) * 8],
                "column {k} moved"
            );
        }
        let mut again = start.clone();
        let history_again = trainer(&val)
            .fit_sparse(&mut again, &train, &CrossEntropy, &mut Adam::new(0.02))
            .unwrap();
        assert!(again == net);
        assert_eq!(history_again.epochs.len(), history.epochs.len());
    }

    #[test]
    fn fit_sparse_with_each_optimizer_leaves_absent_columns_alone() {
        let (train, val) = (data(64, 0), data(16, 500));
        let start = Bag::seeded(2);
        let check = |net: &Bag, name: &str| {
            for k in 400..500 {
                assert!(
                    net.tensor(0)[k * 8..(k + 1) * 8] == start.tensor(0)[k * 8..(k + 1) * 8],
                    "{name}: column {k}"
                );
            }
            assert!(net != &start, "{name} did not train");
        };
        let mut net = start.clone();
        trainer(&val)
            .epochs(2)
            .fit_sparse(
                &mut net,
                &train,
                &CrossEntropy,
                &mut Sgd::new(0.1).with_weight_decay(0.01),
            )
            .unwrap();
        check(&net, "sgd");
        let mut net = start.clone();
        trainer(&val)
            .epochs(2)
            .fit_sparse(&mut net, &train, &CrossEntropy, &mut Sgd::new(0.1).with_momentum(0.9))
            .unwrap();
        check(&net, "momentum");
        let mut net = start.clone();
        trainer(&val)
            .epochs(2)
            .fit_sparse(&mut net, &train, &CrossEntropy, &mut Adagrad::new(0.1))
            .unwrap();
        check(&net, "adagrad");
        // AdamW decays absent columns too (its documented semantics): by (1 - lr wd) per step,
        // caught up at the end of `fit_sparse`.
        let mut net = start.clone();
        let (lr, wd) = (0.01, 0.05);
        trainer(&val)
            .epochs(2)
            .regularization(Regularization::default())
            .fit_sparse(
                &mut net,
                &train,
                &CrossEntropy,
                &mut AdamW::new(lr).with_weight_decay(wd),
            )
            .unwrap();
        let steps = 2 * 64 / 16;
        let factor = (steps as f64 * (1.0 - lr * wd).ln()).exp();
        for k in 400..500 {
            for r in 0..8 {
                let (w, w0) = (net.tensor(0)[k * 8 + r], start.tensor(0)[k * 8 + r]);
                assert!(
                    (w - w0 * factor).abs() <= 1e-15 + 1e-12 * w0.abs(),
                    "adamw: column {k}: {w} vs {}",
                    w0 * factor
                );
            }
        }
    }

    /// Trains 6 epochs straight, and 3 with a checkpoint then 3 resumed from it, with the
    /// optimizers `make` makes: the same weights and history.
    fn check_resume<O: Optimizer<f64>>(name: &str, make: impl Fn() -> O) {
        let (train, val) = (data(64, 0), data(16, 500));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{name}.safetensors"));
        let sparse_trainer = || trainer(&val).epochs(6).early_stopping(EarlyStopping::new(6));
        let mut straight = Bag::seeded(4);
        let full = sparse_trainer()
            .fit_sparse(&mut straight, &train, &CrossEntropy, &mut make())
            .unwrap();
        let mut first = Bag::seeded(4);
        sparse_trainer()
            .epochs(3)
            .checkpoint(&path)
            .fit_sparse(&mut first, &train, &CrossEntropy, &mut make())
            .unwrap();
        // The checkpoint is also a weight file.
        assert!(Bag::load(&path).unwrap() == first, "{name}: the checkpoint's weights");
        let mut resumed = Bag::seeded(9);
        let rest = sparse_trainer()
            .resume_from(&path)
            .fit_sparse(&mut resumed, &train, &CrossEntropy, &mut make())
            .unwrap();
        assert!(
            resumed == straight,
            "{name}: resumed weights differ from a straight run"
        );
        let losses = |h: &History| {
            h.epochs
                .iter()
                .map(|e| (e.epoch, e.train_loss, e.val_loss, e.lr))
                .collect::<Vec<_>>()
        };
        assert_eq!(losses(&rest), losses(&full), "{name}");
        assert_eq!(rest.best_epoch, full.best_epoch, "{name}");
    }

    #[test]
    fn fit_sparse_resumes_from_a_checkpoint_bit_for_bit() {
        check_resume("sgd", || Sgd::new(0.1).with_weight_decay(0.01));
        check_resume("momentum", || Sgd::new(0.05).with_momentum(0.9));
        check_resume("nesterov", || Sgd::new(0.05).with_momentum(0.9).with_nesterov(true));
        check_resume("adagrad", || Adagrad::new(0.1));
        check_resume("adam", || Adam::new(0.02));
        check_resume("adamw", || AdamW::new(0.02).with_weight_decay(0.05));
    }

    #[test]
    fn fit_sparse_refuses_checkpoints_it_cannot_resume() {
        let (train, val) = (data(32, 0), data(8, 100));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("momentum.safetensors");
        let mut net = Bag::seeded(0);
        trainer(&val)
            .epochs(1)
            .checkpoint(&path)
            .fit_sparse(&mut net, &train, &CrossEntropy, &mut Sgd::new(0.05).with_momentum(0.9))
            .unwrap();
        let before = net.clone();
        fn resume<O: Optimizer<f64>>(
            net: &mut Bag,
            mut optimizer: O,
            path: &std::path::Path,
            train: &SparseDataset<f64>,
            val: &SparseDataset<f64>,
        ) -> TrainError {
            trainer(val)
                .epochs(2)
                .resume_from(path)
                .fit_sparse(net, train, &CrossEntropy, &mut optimizer)
                .unwrap_err()
        }
        // Another sparse rule of the same dense optimizer.
        let error = resume(&mut net, Sgd::new(0.05), &path, &train, &val);
        assert!(
            matches!(error, TrainError::Checkpoint { ref message, .. } if message.contains("sgd_momentum")),
            "{error:?}"
        );
        // Another optimizer.
        let error = resume(&mut net, Adam::new(0.01), &path, &train, &val);
        assert!(matches!(error, TrainError::Optim(_)), "{error:?}");
        // Another training set.
        let error = resume(&mut net, Sgd::new(0.05).with_momentum(0.9), &path, &data(40, 0), &val);
        assert!(
            matches!(error, TrainError::Checkpoint { ref message, .. } if message.contains("32 samples")),
            "{error:?}"
        );
        // A weight file is not a checkpoint.
        let weights = dir.path().join("weights.safetensors");
        net.save(&weights, []).unwrap();
        let error = resume(&mut net, Sgd::new(0.05).with_momentum(0.9), &weights, &train, &val);
        assert!(
            matches!(error, TrainError::Checkpoint { ref message, .. } if message.contains("not a checkpoint")),
            "{error:?}"
        );
        assert!(net == before, "a refused resume changed the network");
    }

    #[test]
    fn fit_sparse_refuses_what_it_cannot_do() {
        let (train, val) = (data(32, 0), data(8, 100));
        let mut net = Bag::seeded(0);
        let before = net.clone();
        let error = trainer(&val)
            .fit_sparse(&mut net, &train, &CrossEntropy, &mut RmsProp::new(0.01))
            .unwrap_err();
        assert!(
            matches!(
                error,
                TrainError::Optim(OptimError::NoSparseRule {
                    optimizer: "`RmsProp`",
                    ..
                })
            ),
            "{error:?}"
        );
        let error = trainer(&val)
            .augment(|_: &mut [f64], _| {})
            .fit_sparse(&mut net, &train, &CrossEntropy, &mut Adam::new(0.01))
            .unwrap_err();
        assert!(
            matches!(error, TrainError::Config(ref m) if m.contains("augment")),
            "{error:?}"
        );
        let dense_val = Dataset::<f64>::new(vec![0.0; 500], 500, vec![1.0, 0.0], 2).unwrap();
        let error = Trainer::new()
            .validation(&dense_val)
            .fit_sparse(&mut net, &train, &CrossEntropy, &mut Adam::new(0.01))
            .unwrap_err();
        assert!(
            matches!(error, TrainError::Config(ref m) if m.contains("dense")),
            "{error:?}"
        );
        let other =
            SparseDataset::from_labels(SparseRows::<f64>::from_pairs(40, [vec![(1, 1.0)]]).unwrap(), &[0], 2).unwrap();
        let error = Trainer::new()
            .fit_sparse(&mut net, &other, &CrossEntropy, &mut Adam::new(0.01))
            .unwrap_err();
        assert!(
            matches!(
                error,
                TrainError::Shape(ShapeError::Width {
                    what: "features",
                    expected: 500,
                    actual: 40
                })
            ),
            "{error:?}"
        );
        assert!(net == before);
        // A dense network's `fit` refuses a sparse validation set.
        let mut dense_net = DenseNet::seeded(0);
        let dense_train = Dataset::<f64>::new(vec![0.0; 40], 40, vec![1.0, 0.0, 0.0], 3).unwrap();
        let sparse_val =
            SparseDataset::from_labels(SparseRows::<f64>::from_pairs(40, [vec![(1, 1.0)]]).unwrap(), &[0], 3).unwrap();
        let error = Trainer::new()
            .validation(&sparse_val)
            .fit(&mut dense_net, &dense_train, &CrossEntropy, &mut Adam::new(0.01))
            .unwrap_err();
        assert!(
            matches!(error, TrainError::Config(ref m) if m.contains("sparse")),
            "{error:?}"
        );
    }
}

mod classifier {
    use super::*;
    use retroprop::data::classifier::{ClassifierError, TextClassifier};
    use retroprop::data::sparse::SparseDataset;
    use retroprop::data::text::{HashingVectorizer, Weighting};
    use retroprop::data::vocabulary::VocabularyVectorizer;
    use retroprop::train::{Progress, Trainer};

    retroprop::network! {
        /// Hashed words to three topics (one output more than the two classes used below).
        pub struct Topics {
            input: sparse(4096),
            output: dense(3) -> softmax,
        }
    }

    const TEXTS: [(&str, usize); 8] = [
        ("the striker scored a goal", 0),
        ("a late goal won the match", 0),
        ("the keeper saved the penalty", 0),
        ("fans cheered the winning team", 0),
        ("the recipe needs butter and flour", 1),
        ("bake the cake for an hour", 1),
        ("whisk the eggs with sugar", 1),
        ("the bread needs more flour", 1),
    ];

    fn trained() -> TextClassifier<Topics, HashingVectorizer<4096>> {
        let mut vectorizer = HashingVectorizer::<4096>::new().with_weighting(Weighting::TfIdf);
        vectorizer.fit(TEXTS.iter().map(|(t, _)| *t));
        let rows = vectorizer.transform_all_sparse(TEXTS.iter().map(|(t, _)| *t));
        let labels: Vec<usize> = TEXTS.iter().map(|(_, l)| *l).collect();
        let data = SparseDataset::from_labels(rows, &labels, 3).unwrap();
        let mut net = Topics::seeded(0);
        Trainer::new()
            .epochs(60)
            .batch_size(4)
            .progress(Progress::Quiet)
            .fit_sparse(&mut net, &data, &CrossEntropy, &mut Adam::new(0.05))
            .unwrap();
        TextClassifier::new(net, vectorizer, vec!["sport".into(), "cooking".into()]).unwrap()
    }

    #[test]
    fn predicts_saves_and_loads() {
        let model = trained();
        assert_eq!(model.predict("a goal in the last minute").unwrap(), "sport");
        assert_eq!(model.predict("flour butter and eggs").unwrap(), "cooking");
        let proba = model.predict_proba("the team and the keeper").unwrap();
        assert_eq!(proba.len(), 2);
        assert!((proba.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // Unknown words only: the biases decide, and the probabilities are still valid.
        let unknown = model.predict_proba("zzz qqq").unwrap();
        assert!((unknown.iter().sum::<f32>() - 1.0).abs() < 1e-6);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("topics.safetensors");
        model.save(&path).unwrap();
        let loaded = TextClassifier::<Topics, HashingVectorizer<4096>>::load(&path).unwrap();
        assert_eq!(loaded.classes(), model.classes());
        assert!(loaded.net == model.net);
        assert_eq!(loaded.vectorizer, model.vectorizer);
        for (text, _) in TEXTS {
            assert_eq!(loaded.predict_proba(text).unwrap(), model.predict_proba(text).unwrap());
        }
        // PyTorch's view of the file: the tensors, with the Linear layout [width, features].
        let bytes = std::fs::read(&path).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(file.tensor("output.weight").unwrap().shape(), &[3, 4096]);

        // A file without the classifier's metadata, or with another vectorizer kind.
        let plain = dir.path().join("plain.safetensors");
        model.net.save(&plain, []).unwrap();
        match TextClassifier::<Topics, HashingVectorizer<4096>>::load(&plain) {
            Err(ClassifierError::Metadata { path, message }) => {
                assert_eq!(path, plain);
                assert!(message.contains("retroprop.text.vectorizer"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let error = TextClassifier::<Topics, VocabularyVectorizer>::load(&path).unwrap_err();
        assert!(error.to_string().contains("`hashing`, not `vocabulary`"), "{error}");
    }

    #[test]
    fn parts_that_do_not_fit_are_refused() {
        let error =
            TextClassifier::new(Topics::zeroed(), HashingVectorizer::<1024>::new(), vec!["a".into()]).unwrap_err();
        assert!(matches!(
            error,
            ClassifierError::Features {
                vectorizer: 1024,
                network: 4096
            }
        ));
        let names = (0..4).map(|i| i.to_string()).collect();
        let error = TextClassifier::new(Topics::zeroed(), HashingVectorizer::<4096>::new(), names).unwrap_err();
        assert!(matches!(error, ClassifierError::Classes { classes: 4, outputs: 3 }));
    }
}
