//! The generated API: constants, construction, inference entry points, training entry points
//! and their errors.

use retroprop::nalgebra::{OMatrix, SVector};
use retroprop::prelude::*;
use retroprop::{matrix, vector};

retroprop::network! {
    /// A small classifier.
    #[derive(Default)]
    pub struct Classifier {
        input: 4,
        hidden: dense(6) -> relu,
        output: dense(3) -> softmax,
    }

    #[network(scalar = f64)]
    pub(crate) struct Regressor { input: 2, out: dense(1) }
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn constants_and_tensors_describe_the_definition() {
    assert_eq!(Classifier::INPUT, 4);
    assert_eq!(Classifier::OUTPUT, 3);
    assert_eq!(Classifier::PARAMETERS, 4 * 6 + 6 + 6 * 3 + 3);
    assert_eq!(<Classifier as Network>::NAME, "Classifier");
    assert_eq!(
        Classifier::DEFINITION,
        "input: 4, hidden: dense(6) -> relu, output: dense(3) -> softmax"
    );
    let names: Vec<_> = Classifier::TENSORS.iter().map(|t| t.name).collect();
    assert_eq!(names, ["hidden.weight", "hidden.bias", "output.weight", "output.bias"]);
    assert_eq!((Classifier::TENSORS[2].rows, Classifier::TENSORS[2].cols), (3, 6));
    // Outer attributes are kept on the struct: here `#[derive(Default)]`.
    let net = Classifier::default();
    assert!(net == Classifier::zeroed());
    assert_eq!(net.parameter_count(), Classifier::PARAMETERS);
    assert!(net.tensor(4).is_empty());
    assert_eq!(
        format!("{net:?}"),
        format!("Classifier {{ {} }}", Classifier::DEFINITION)
    );
    assert_send_sync::<Classifier>();
    assert_send_sync::<ClassifierGradients>();
}

#[test]
fn tensors_are_column_major_views_of_the_fields() {
    let mut net = Classifier::zeroed();
    net.hidden_weight[(2, 1)] = 5.0;
    assert_eq!(net.tensor(0)[2 + 6], 5.0);
    net.tensor_mut(3)[1] = 7.0;
    assert_eq!(net.output_bias[1], 7.0);
}

#[test]
fn seeding_is_deterministic_and_follows_the_init_scheme() {
    let a = Classifier::seeded(42);
    let b = Classifier::seeded(42);
    let c = Classifier::seeded(43);
    assert!(a == b);
    assert!(a != c);
    assert_eq!(a.tensor(0), b.tensor(0));
    // He uniform for relu: |w| <= sqrt(6 / fan_in); Xavier for softmax: sqrt(6 / (in + out)).
    let he = (6.0f32 / 4.0).sqrt();
    let xavier = (6.0f32 / 9.0).sqrt();
    assert!(a.hidden_weight.iter().all(|w| w.abs() <= he));
    assert!(a.hidden_weight.iter().any(|w| w.abs() > xavier), "He bound not used");
    assert!(a.output_weight.iter().all(|w| w.abs() <= xavier));
    assert!(a.hidden_bias.iter().all(|&b| b == 0.0));
    // Bit-identical values for a fixed seed on every run and platform.
    let first = Regressor::seeded(1).out_weight;
    let again = Regressor::seeded(1).out_weight;
    assert_eq!(first.as_slice(), again.as_slice());
}

#[test]
fn parameters_are_aligned_to_cache_lines() {
    fn aligned<P: Parameters>(p: &P, what: &str) {
        for (index, spec) in P::TENSORS.iter().enumerate() {
            let address = p.tensor(index).as_ptr() as usize;
            assert_eq!(address % 64, 0, "{what}: {} at {address:#x}", spec.name);
        }
    }
    // Several of each, so that the allocator's 16-byte alignment alone would miss.
    let nets: Vec<Classifier> = (0..8).map(Classifier::seeded).collect();
    for net in &nets {
        aligned(net, "seeded");
        aligned(&net.clone(), "clone");
    }
    aligned(&Classifier::zeroed(), "zeroed");
    aligned(&Classifier::zeroed_gradients(), "gradients");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("net.safetensors");
    nets[3].save(&path).expect("save");
    let loaded = Classifier::load(&path).expect("load");
    aligned(&loaded, "loaded");
    assert!(loaded == nets[3]);
    // The fields dereference to the matrices.
    let mut net = Classifier::seeded(1);
    **net.output_bias = retroprop::nalgebra::SVector::<f32, 3>::new(1.0, 2.0, 3.0);
    assert_eq!(net.output_bias[2], 3.0);
    assert_eq!(net.tensor(3), &[1.0, 2.0, 3.0]);
}

#[test]
fn forward_forward_batch_and_forward_slice_agree() {
    let net = Classifier::seeded(5);
    let batch = OMatrix::<f32, retroprop::nalgebra::Const<4>, retroprop::nalgebra::Dyn>::from_fn(7, |r, c| {
        ((r * 7 + c * 3) % 11) as f32 / 11.0 - 0.4
    });
    let out = net.forward_batch(&batch);
    assert_eq!(out.shape(), (3, 7));
    for (j, column) in batch.column_iter().enumerate() {
        let x: SVector<f32, 4> = column.into_owned();
        let single = net.forward(&x);
        let sliced = net.forward_slice(x.as_slice()).expect("slice");
        for r in 0..3 {
            assert!((single[r] - out[(r, j)]).abs() < 1e-6);
            assert_eq!(single[r], sliced[r]);
        }
        assert!((single.sum() - 1.0).abs() < 1e-6, "softmax sums to one");
    }
    // A view of some columns of a larger matrix, without copying.
    let view = batch.columns(2, 3);
    let part = net.forward_batch(&view);
    assert_eq!(part.column(0), out.column(2));
    // The workspace form allocates nothing and gives the same values.
    let mut ws = Classifier::workspace(16);
    let with = net.forward_batch_with(&batch, &mut ws).expect("fits");
    assert_eq!(with.shape(), (3, 7));
    assert_eq!(with.column(6), out.column(6));
}

#[test]
fn wrong_sizes_are_typed_errors() {
    let net = Classifier::seeded(1);
    assert_eq!(
        net.forward_slice(&[1.0, 2.0, 3.0]),
        Err(ShapeError::InputLength { expected: 4, actual: 3 })
    );
    let message = net.forward_slice(&[0.0; 5]).unwrap_err().to_string();
    assert!(
        message.contains("5 values") && message.contains("4 features"),
        "{message}"
    );

    let mut ws = Classifier::workspace(2);
    let big = OMatrix::<f32, retroprop::nalgebra::Const<4>, retroprop::nalgebra::Dyn>::zeros(3);
    assert_eq!(
        net.forward_batch_with(&big, &mut ws).unwrap_err(),
        ShapeError::BatchTooLarge { len: 3, capacity: 2 }
    );
    assert_eq!(
        net.forward_into(&[0.0; 7], &mut ws).unwrap_err(),
        ShapeError::Ragged {
            what: "input",
            len: 7,
            per_sample: 4
        }
    );
    assert_eq!(net.forward_into(&[], &mut ws).unwrap_err(), ShapeError::EmptyBatch);
    // Empty batches through the allocating form give an empty result.
    let empty = OMatrix::<f32, retroprop::nalgebra::Const<4>, retroprop::nalgebra::Dyn>::zeros(0);
    assert_eq!(net.forward_batch(&empty).ncols(), 0);

    let mut grads = Classifier::zeroed_gradients();
    let mut ctx = Context::training(0);
    let err = net
        .gradients_into(&[0.0; 8], &[0.0; 3], &CrossEntropy, &mut ctx, &mut ws, &mut grads)
        .unwrap_err();
    assert_eq!(
        err,
        TrainError::Shape(ShapeError::SampleCountMismatch { inputs: 2, targets: 1 })
    );
    let err = net
        .gradients_into(&[0.0; 8], &[0.0; 5], &CrossEntropy, &mut ctx, &mut ws, &mut grads)
        .unwrap_err();
    assert!(matches!(
        err,
        TrainError::Shape(ShapeError::Ragged { what: "target", .. })
    ));
}

#[test]
fn gradients_fill_the_gradient_struct() {
    let net = Classifier::seeded(9);
    let x = matrix![0.1f32, 0.5; -0.2, 0.3; 0.7, -0.9; 0.0, 0.4];
    let y = matrix![1.0f32, 0.0; 0.0, 0.0; 0.0, 1.0];
    let mut grads = Classifier::zeroed_gradients();
    let loss = net.gradients(&x, &y, &CrossEntropy, &mut grads).expect("fits");
    assert!(loss > 0.0);
    // The output bias gradient of softmax + cross-entropy is the mean of (p - y).
    let p = net.forward_batch(&x);
    for r in 0..3 {
        let expected = ((p[(r, 0)] - y[(r, 0)]) + (p[(r, 1)] - y[(r, 1)])) / 2.0;
        assert!((grads.output_bias[r] - expected).abs() < 1e-6);
    }
    let copy = grads.clone();
    assert!(copy == grads);
    assert!(format!("{grads:?}").contains("hidden.weight"));
}

#[test]
fn train_step_and_train_batch_lower_the_loss() {
    let mut net = Regressor::seeded(2);
    let mut sgd = Sgd::new(0.1);
    let mut session = Session::<Regressor>::new(4, 0);
    // y = 2 x0 - x1 + 0.5
    let x = matrix![0.0, 1.0, 0.5, 2.0; 1.0, 0.0, 0.5, 1.0];
    let y = matrix![-0.5, 2.5, 1.0, 3.5];
    let first = net
        .train_batch(&x, &y, &MeanSquaredError, &mut sgd, &mut session)
        .expect("step");
    for _ in 0..500 {
        net.train_batch(&x, &y, &MeanSquaredError, &mut sgd, &mut session)
            .expect("step");
    }
    let last = net
        .train_batch(&x, &y, &MeanSquaredError, &mut sgd, &mut session)
        .expect("step");
    assert!(last < 1e-8 && last < first, "{first} -> {last}");
    assert!(
        (net.out_weight[(0, 0)] - 2.0).abs() < 1e-3,
        "{:?} {:?} {last}",
        net.out_weight,
        net.out_bias
    );
    assert!((net.out_weight[(0, 1)] + 1.0).abs() < 1e-3);
    assert!((net.out_bias[0] - 0.5).abs() < 1e-3);
    let before = net.clone();
    let loss = net
        .train_step(
            &vector![1.0, 1.0],
            &vector![10.0],
            &MeanSquaredError,
            &mut sgd,
            &mut session,
        )
        .expect("step");
    assert!(loss > 50.0);
    assert!(net.forward(&vector![1.0, 1.0])[0] > before.forward(&vector![1.0, 1.0])[0]);
}

#[test]
fn a_non_finite_loss_leaves_the_weights_unchanged() {
    let mut net = Regressor::seeded(2);
    let before = net.clone();
    let mut sgd = Sgd::new(0.1);
    let mut session = Session::<Regressor>::new(1, 0);
    let err = net
        .train_step(
            &vector![f64::NAN, 1.0],
            &vector![1.0],
            &MeanSquaredError,
            &mut sgd,
            &mut session,
        )
        .unwrap_err();
    assert!(matches!(err, TrainError::NonFinite { what: "loss", .. }), "{err}");
    assert!(net == before);
    let err = net
        .train_step(
            &vector![1e200, 1.0],
            &vector![1e200],
            &MeanSquaredError,
            &mut sgd,
            &mut session,
        )
        .unwrap_err();
    assert!(matches!(err, TrainError::NonFinite { .. }), "{err}");
    assert!(net == before && net.is_finite());
}

#[test]
fn an_optimizer_reused_on_another_network_is_an_error() {
    retroprop::network! {
        #[network(scalar = f64)]
        struct Other { input: 3, out: dense(1) }
    }
    let mut a = Regressor::seeded(0);
    let mut b = Other::seeded(0);
    let mut sgd = Sgd::new(0.1).with_momentum(0.9);
    let mut sa = Session::<Regressor>::new(1, 0);
    let mut sb = Session::<Other>::new(1, 0);
    a.train_step(&vector![1.0, 1.0], &vector![1.0], &MeanSquaredError, &mut sgd, &mut sa)
        .expect("first");
    let before = b.clone();
    let err = b
        .train_step(
            &vector![1.0, 1.0, 1.0],
            &vector![1.0],
            &MeanSquaredError,
            &mut sgd,
            &mut sb,
        )
        .unwrap_err();
    assert!(matches!(err, TrainError::Optim(OptimError::Mismatch { .. })), "{err}");
    assert!(b == before);
}

use retroprop::OptimError;

/// The module paths from before the runtime was grouped by concern (`retroprop::fit`,
/// `retroprop::loss`, ...) still resolve, as hidden re-exports kept for this release, and name
/// the same items as the new paths.
#[test]
fn old_module_paths_still_resolve() {
    // `fit`: the loop, its history, early stopping, progress and `evaluate`.
    let trainer: retroprop::fit::Trainer<'_, f64> = retroprop::train::Trainer::new()
        .early_stopping(retroprop::fit::EarlyStopping::new(2))
        .progress(retroprop::fit::Progress::Quiet)
        .on_epoch(|_: &retroprop::fit::EpochRecord| retroprop::fit::Control::Continue);
    let _ = trainer;
    let history: retroprop::fit::History = retroprop::train::History::from_csv(
        "epoch,train_loss,penalty,val_loss,lr,elapsed_secs\n",
        std::path::Path::new("h.csv"),
    )
    .expect("csv");
    assert!(history.epochs.is_empty());
    let _: Option<retroprop::fit::HistoryError> = None::<retroprop::train::HistoryError>;
    let data = retroprop::data::Dataset::new(vec![1.0, 2.0], 2, vec![0.5], 1).expect("dataset");
    let net = Regressor::zeroed();
    let mut ws = <Regressor as Network>::workspace(1);
    let (old, _) = retroprop::fit::evaluate(&net, &data, &MeanSquaredError, &mut ws, false).expect("old");
    let (new, _) = retroprop::train::evaluate(&net, &data, &MeanSquaredError, &mut ws, false).expect("new");
    assert_eq!(old, new);

    // `train`: what moved to `nn` and `shape`, and what stayed.
    let _: retroprop::train::Context = retroprop::nn::Context::training(1);
    let _: retroprop::train::Session<Regressor> = Session::<Regressor>::new(1, 0);
    let _: retroprop::train::Regularization<f64> = Regularization::default();
    assert_eq!(
        retroprop::train::batch_len(4, 2, 2, 1, 8),
        retroprop::shape::batch_len(4, 2, 2, 1, 8)
    );
    assert_eq!(
        retroprop::train::input_len(4, 2, 8),
        retroprop::shape::input_len(4, 2, 8)
    );
    assert_eq!(
        retroprop::train::run_len(4, 2, 2, 1, 1),
        retroprop::shape::run_len(4, 2, 2, 1, 1)
    );
    assert_eq!(
        retroprop::train::single_sample_len(2, 1, 2, 1, 1),
        retroprop::shape::single_sample_len(2, 1, 2, 1, 1)
    );
    assert_eq!(retroprop::train::check_fused_step(0.5f32, 4.0), Ok(2.0));
    let _ = retroprop::train::loss_and_delta::<f64, MeanSquaredError>;
    let _ = retroprop::train::evaluate_loss::<Regressor, MeanSquaredError>;
    let _ = retroprop::train::copy_parameters::<Regressor>;

    // The modules that moved whole.
    let _: retroprop::schedule::ReduceOnPlateau = retroprop::optim::schedule::ReduceOnPlateau::new();
    let _: retroprop::schedule::Schedule = retroprop::optim::Schedule::Constant;
    let _ = retroprop::schedule::Mode::Max;
    let _ = retroprop::checkpoint::Checkpoint::<Regressor>::load;
    let _: Option<retroprop::checkpoint::Checkpoint<Regressor>> = None::<retroprop::train::Checkpoint<Regressor>>;
    let _ = retroprop::weights::save::<Regressor>;
    let _ = retroprop::weights::load::<Regressor>;
    let _: Option<retroprop::weights::WeightsError> = None::<retroprop::io::weights::WeightsError>;
    let _: retroprop::loss::MeanSquaredError = retroprop::nn::loss::MeanSquaredError;
    let _: retroprop::activation::Activation<f32> = retroprop::nn::activation::Activation::Relu;
    assert_eq!(retroprop::activation::relu(-1.0f32), 0.0);
    let _ = retroprop::dropout::dropout_forward::<f32>;
    let _ = retroprop::dropout::dropout_backward::<f32>;
    let _: retroprop::init::SeededRng = retroprop::init::seeded_rng(3);
    let _: retroprop::init::Init = retroprop::nn::init::Init::Zeros;
    let path: retroprop::kernels::KernelPath = retroprop::kernels::kernel_path();
    assert_eq!(path, retroprop::nn::kernels::kernel_path());
    assert_eq!(
        retroprop_runtime::math::exp_f32(0.0),
        retroprop_runtime::real::math::exp_f32(0.0)
    );
    let _: retroprop::metrics::ConfusionMatrix = retroprop::train::ConfusionMatrix::new(2).expect("matrix");
    let _: retroprop::metrics::Metric = retroprop::train::Metric::Accuracy;
    let _: Option<retroprop::metrics::MetricsError> = None::<retroprop::train::MetricsError>;
    assert_eq!(retroprop::datasets::iris::<f32>().expect("iris").len(), 150);

    // The groups that kept their names.
    let _: retroprop::optim::OptimizerState<f64> = retroprop::optim::Sgd::new(0.1).state();
    let _ = retroprop::optim::check_matching::<f64, Regressor, Regressor>;
    let _ = retroprop::io::WriteStep::ALL;
    let _ = retroprop::data::load::CsvOptions::default();
    let _ = retroprop::data::text::tokenize("a b");
    let _ = retroprop::data::preprocess::Standardizer::<f32>::fit;
}
