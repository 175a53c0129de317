//! Weight files and checkpoints: round trips, mismatch reports, atomic writes, files written
//! by PyTorch (a 5-7-3 network and LeNet-5), and training resumed from a checkpoint.

#[macro_use]
mod common;

use common::values;
use retroprop::io::weights::{self, TensorProblem, WeightsError};
use retroprop::io::write_atomic;
use retroprop::prelude::*;
use retroprop::train::Checkpoint;
use std::io::Write;
use std::path::Path;

retroprop::network! {
    struct Small32 { input: 5, hidden: dense(7) -> tanh, output: dense(3) -> softmax }

    #[network(scalar = f64)]
    struct Small64 { input: 5, hidden: dense(7) -> tanh, output: dense(3) -> softmax }

    struct Other { input: 5, hidden: dense(8) -> tanh, extra: dense(4), output: dense(3) -> softmax }

    #[network(scalar = f64)]
    struct Trained { input: 3, hidden: dense(6) -> relu, drop: dropout(0.2), out: dense(3) -> softmax }
}

#[test]
fn round_trips_are_bit_identical_in_f32_and_f64() {
    let dir = tempfile::tempdir().expect("dir");
    let a = Small32::seeded(1);
    a.save(dir.path().join("a.safetensors")).expect("save");
    let back = Small32::load(dir.path().join("a.safetensors")).expect("load");
    assert!(back == a);
    let b = Small64::seeded(2);
    b.save(dir.path().join("b.safetensors")).expect("save");
    assert!(Small64::load(dir.path().join("b.safetensors")).expect("load") == b);

    // The metadata records the network, its definition, the scalar type and the version.
    let meta = weights::read_metadata(&dir.path().join("b.safetensors")).expect("metadata");
    assert_eq!(meta["retroprop.network"], "Small64");
    assert_eq!(meta["retroprop.definition"], Small64::DEFINITION);
    assert_eq!(meta["retroprop.scalar"], "f64");
    assert_eq!(meta["retroprop.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(meta["format"], "pt");
}

#[test]
fn tensors_are_stored_row_major_as_pytorch_does() {
    let mut net = Small64::zeroed();
    net.hidden_weight[(0, 1)] = 3.5; // row 0 (output 0), column 1 (input 1)
    let bytes = weights::to_bytes(&net).expect("bytes");
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("valid");
    let view = file.tensor("hidden.weight").expect("tensor");
    assert_eq!(view.shape(), [7, 5]);
    let values: Vec<f64> = view
        .data()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    assert_eq!(values[1], 3.5); // [0][1] in row-major order
    assert_eq!(file.tensor("output.bias").expect("bias").shape(), [3]);
}

#[test]
fn tensor_metadata_carries_the_pytorch_shape_and_the_scalar_its_dtype() {
    let specs = <Small64 as Parameters>::TENSORS;
    let shapes: Vec<&[usize]> = specs.iter().map(|t| t.shape).collect();
    assert_eq!(shapes, [&[7, 5][..], &[7], &[3, 7], &[3]]);
    for spec in specs {
        assert_eq!(spec.rows, spec.shape[0], "{}", spec.name);
        assert_eq!(spec.cols, spec.shape[1..].iter().product::<usize>(), "{}", spec.name);
    }
    assert_eq!(<f32 as Real>::DTYPE, safetensors::Dtype::F32);
    assert_eq!(<f64 as Real>::DTYPE, safetensors::Dtype::F64);
    let bytes = weights::to_bytes(&Small32::seeded(0)).expect("bytes");
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("valid");
    assert_eq!(
        file.tensor("hidden.weight").expect("tensor").dtype(),
        safetensors::Dtype::F32
    );
}

#[test]
fn f32_and_f64_files_load_into_either_scalar_type() {
    let dir = tempfile::tempdir().expect("dir");
    let single = Small32::seeded(3);
    single.save(dir.path().join("s.safetensors")).expect("save");
    let widened = Small64::load(dir.path().join("s.safetensors")).expect("f32 into f64");
    for i in 0..Small32::TENSORS.len() {
        for (a, b) in single.tensor(i).iter().zip(widened.tensor(i)) {
            assert_eq!(f64::from(*a), *b);
        }
    }
    widened.save(dir.path().join("d.safetensors")).expect("save");
    assert!(Small32::load(dir.path().join("d.safetensors")).expect("f64 into f32") == single);
}

#[test]
fn every_mismatch_is_reported_in_one_error() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("other.safetensors");
    Other::seeded(1).save(&path).expect("save");
    let err = Small32::load(&path).unwrap_err();
    let WeightsError::Mismatch { problems, network, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*network, "Small32");
    assert!(problems.contains(&TensorProblem::Shape {
        name: "hidden.weight".into(),
        expected: vec![7, 5],
        found: vec![8, 5]
    }));
    assert!(problems.contains(&TensorProblem::Shape {
        name: "hidden.bias".into(),
        expected: vec![7],
        found: vec![8]
    }));
    assert!(problems.contains(&TensorProblem::Shape {
        name: "output.weight".into(),
        expected: vec![3, 7],
        found: vec![3, 4]
    }));
    assert!(problems.contains(&TensorProblem::Unexpected {
        name: "extra.weight".into(),
        found: vec![4, 8]
    }));
    assert!(problems.contains(&TensorProblem::Unexpected {
        name: "extra.bias".into(),
        found: vec![4]
    }));
    assert_eq!(problems.len(), 5, "{problems:#?}");
    let message = err.to_string();
    assert!(
        message.contains("other.safetensors") && message.contains("has shape [8, 5], expected [7, 5]"),
        "{message}"
    );

    // A missing tensor and a wrong dtype.
    let w = vec![0u8; 7 * 5 * 4];
    let b = vec![0u8; 7 * 4];
    let ints = vec![0u8; 3 * 7 * 4];
    let tensors = [
        (
            "hidden.weight",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![7, 5], &w).expect("view"),
        ),
        (
            "hidden.bias",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![7], &b).expect("view"),
        ),
        (
            "output.weight",
            safetensors::tensor::TensorView::new(safetensors::Dtype::I32, vec![3, 7], &ints).expect("view"),
        ),
    ];
    let bytes = safetensors::tensor::serialize(tensors.iter().map(|(n, v)| (*n, v)), None).expect("serialize");
    let path = dir.path().join("partial.safetensors");
    std::fs::write(&path, bytes).expect("write");
    let err = Small32::load(&path).unwrap_err();
    let WeightsError::Mismatch { problems, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        problems,
        &[
            TensorProblem::Dtype {
                name: "output.weight".into(),
                found: "I32".into()
            },
            TensorProblem::Missing {
                name: "output.bias".into(),
                expected: vec![3]
            },
        ]
    );
}

#[test]
fn corrupt_and_missing_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("garbage.safetensors");
    std::fs::write(&path, b"definitely not safetensors").expect("write");
    let err = Small32::load(&path).unwrap_err();
    assert!(
        matches!(err, WeightsError::Format { .. }) && err.to_string().contains("garbage.safetensors"),
        "{err}"
    );
    let err = Small32::load(dir.path().join("absent.safetensors")).unwrap_err();
    assert!(
        matches!(err, WeightsError::Io { .. }) && err.to_string().contains("absent.safetensors"),
        "{err}"
    );
    // A NaN weight is refused.
    let mut net = Small32::seeded(1);
    net.output_bias[1] = f32::NAN;
    let path = dir.path().join("nan.safetensors");
    net.save(&path).expect("save");
    let err = Small32::load(&path).unwrap_err();
    assert!(
        matches!(&err, WeightsError::NonFinite { name, .. } if name == "output.bias"),
        "{err:?}"
    );
}

#[test]
fn an_interrupted_write_leaves_the_previous_file_intact() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("model.safetensors");
    let old = Small32::seeded(1);
    old.save(&path).expect("save");
    let before = std::fs::read(&path).expect("read");
    // The writer fails halfway through (a crash, a full disk).
    let result = write_atomic(&path, |file| {
        file.write_all(&before[..before.len() / 2])?;
        Err(std::io::Error::other("disk full"))
    });
    assert!(result.is_err());
    assert_eq!(std::fs::read(&path).expect("read"), before);
    assert!(Small32::load(&path).expect("still loads") == old);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
    assert_eq!(leftovers.len(), 1, "the temporary file was not removed");
    // Saving into a directory that does not exist fails cleanly.
    let err = old.save(dir.path().join("missing").join("m.safetensors")).unwrap_err();
    assert!(matches!(err, WeightsError::Io { .. }));
    // A successful save replaces the file.
    Small32::seeded(2).save(&path).expect("save");
    assert!(Small32::load(&path).expect("load") == Small32::seeded(2));
}

#[test]
fn a_file_written_by_pytorch_reproduces_its_outputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let net = Small32::load(root.join("torch_5_7_3.safetensors")).expect("PyTorch file");
    let reference: serde_json::Value = serde_json::from_str(include_str!("fixtures/torch_5_7_3.json")).expect("json");
    let xs = common::row_major(&reference["x"]);
    let ys = common::row_major(&reference["y"]);
    for (x, y) in xs.chunks(5).zip(ys.chunks(3)) {
        let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let out = net.forward_slice(&x).expect("5 inputs");
        for (a, b) in out.iter().zip(y) {
            assert!((f64::from(*a) - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}

retroprop::network! {
    /// LeNet-5 as `tests/reference/make_torch_lenet.py` builds it in PyTorch (float32).
    pub struct LeNet {
        input: [1, 28, 28],
        conv1: conv2d(6, kernel = 5, padding = 2) -> relu,
        pool1: max_pool(2),
        conv2: conv2d(16, kernel = 5) -> relu,
        pool2: max_pool(2),
        flat: flatten,
        fc1: dense(120) -> relu,
        fc2: dense(84) -> relu,
        output: dense(10) -> softmax,
    }
}

/// `torch_lenet.safetensors` was written by `safetensors.torch.save_file(model.state_dict())`.
/// Set `RETROPROP_LENET_OUT` to a path to also save the loaded network there, for the manual
/// check `python3 tests/reference/make_torch_lenet.py --check PATH` (PyTorch's
/// `load_state_dict(strict=True)` on the file retroprop wrote).
#[test]
fn a_lenet_written_by_pytorch_loads_reproduces_its_outputs_and_saves_in_its_layout() {
    assert_eq!(LeNet::PARAMETERS, 61_706);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let net = LeNet::load(root.join("torch_lenet.safetensors")).expect("PyTorch file");
    let reference: serde_json::Value = serde_json::from_str(include_str!("fixtures/torch_lenet.json")).expect("json");
    assert_eq!(reference["parameters"], 61_706);

    // The outputs after the softmax, one sample at a time.
    let xs = common::row_major(&reference["x"]);
    let ys = common::row_major(&reference["y"]);
    assert_eq!((xs.len(), ys.len()), (2 * 784, 2 * 10));
    for (x, y) in xs.chunks(784).zip(ys.chunks(10)) {
        let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let out = net.forward_slice(&x).expect("784 inputs");
        for (a, b) in out.iter().zip(y) {
            assert!((f64::from(*a) - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    // PyTorch's state-dict keys and shapes, in its order, are the network's tensors.
    let expected: Vec<(String, Vec<usize>)> = reference["tensors"]
        .as_array()
        .expect("tensors")
        .iter()
        .map(|t| {
            let shape = t["shape"].as_array().expect("shape");
            let shape = shape.iter().map(|d| d.as_u64().expect("dimension") as usize).collect();
            (t["name"].as_str().expect("name").to_owned(), shape)
        })
        .collect();
    let specs: Vec<(String, Vec<usize>)> = LeNet::TENSORS
        .iter()
        .map(|t| (t.name.to_owned(), t.shape.to_vec()))
        .collect();
    assert_eq!(specs, expected);

    // Saved by retroprop and read back with the safetensors crate: the same names, shapes and
    // dtype, and the same bytes as PyTorch's file.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("lenet.safetensors");
    net.save(&path).expect("save");
    let bytes = std::fs::read(&path).expect("read");
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("valid");
    let torch_bytes = std::fs::read(root.join("torch_lenet.safetensors")).expect("read");
    let torch_file = safetensors::SafeTensors::deserialize(&torch_bytes).expect("valid");
    let mut names = file.names();
    names.sort_unstable();
    let mut expected_names: Vec<&str> = expected.iter().map(|(name, _)| name.as_str()).collect();
    expected_names.sort_unstable();
    assert_eq!(names, expected_names);
    for (name, shape) in &expected {
        let view = file.tensor(name).expect("tensor");
        assert_eq!(view.shape(), &shape[..], "{name}");
        assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
        assert!(
            view.data() == torch_file.tensor(name).expect("tensor").data(),
            "{name}: retroprop's bytes differ from PyTorch's"
        );
    }
    assert_eq!(file.tensor("conv1.weight").expect("conv1").shape(), [6, 1, 5, 5]);
    assert_eq!(file.tensor("conv2.weight").expect("conv2").shape(), [16, 6, 5, 5]);
    assert_eq!(file.tensor("fc1.weight").expect("fc1").shape(), [120, 400]);
    assert!(LeNet::load(&path).expect("its own file") == net);

    if let Some(out) = std::env::var_os("RETROPROP_LENET_OUT") {
        net.save(&out).expect("save to RETROPROP_LENET_OUT");
        eprintln!("saved LeNet to {}", Path::new(&out).display());
    }
}

fn data(seed: u64) -> Dataset<f64> {
    let x = values(seed, 3 * 60, 1.0);
    let labels: Vec<usize> = x.chunks(3).map(|c| argmax_columns(c, 3)[0]).collect();
    Dataset::from_labels(x, 3, &labels, 3).expect("valid")
}

#[test]
fn training_resumed_from_a_checkpoint_matches_training_that_never_stopped() {
    let dir = tempfile::tempdir().expect("dir");
    let (train, val) = (data(1), data(2));
    let trainer = |epochs: usize| {
        Trainer::new()
            .epochs(epochs)
            .batch_size(8)
            .seed(5)
            .validation(&val)
            .metric(Metric::Accuracy)
            .early_stopping(EarlyStopping::new(20))
            .reduce_on_plateau(ReduceOnPlateau::new().with_patience(1))
            .progress(Progress::Quiet)
    };
    // Uninterrupted.
    let mut straight = Trained::seeded(3);
    let full = trainer(6)
        .fit(&mut straight, &train, &CrossEntropy, &mut Adam::new(0.01))
        .expect("fit");
    // Three epochs, a checkpoint, then a fresh network and optimizer resume.
    let path = dir.path().join("ckpt.safetensors");
    let mut first = Trained::seeded(3);
    trainer(3)
        .checkpoint(&path)
        .fit(&mut first, &train, &CrossEntropy, &mut Adam::new(0.01))
        .expect("fit");
    let mut resumed = Trained::seeded(99);
    let rest = trainer(6)
        .resume_from(&path)
        .fit(&mut resumed, &train, &CrossEntropy, &mut Adam::new(0.5))
        .expect("resume");
    assert!(
        resumed == straight,
        "resumed training diverged from uninterrupted training"
    );
    let strip = |h: &History| {
        h.epochs
            .iter()
            .map(|e| (e.epoch, e.train_loss, e.val_loss, e.lr))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&rest), strip(&full));
    // The checkpoint also loads as a plain weight file.
    let weights = Trained::load(&path).expect("weights from a checkpoint");
    let checkpoint = Checkpoint::<Trained>::load(&path).expect("checkpoint");
    assert!(weights == checkpoint.network);
    assert_eq!(checkpoint.epoch, 3);
    assert_eq!(checkpoint.optimizer.kind, "adam");
    assert_eq!(checkpoint.optimizer.steps, 3 * 8);
    // A checkpoint for another training set is refused.
    let err = trainer(6)
        .resume_from(&path)
        .fit(&mut resumed, &val.split_at(30).0, &CrossEntropy, &mut Adam::new(0.01));
    assert!(matches!(err, Err(TrainError::Checkpoint { .. })), "{err:?}");
}

#[test]
fn optimizer_states_round_trip_through_checkpoints() {
    let dir = tempfile::tempdir().expect("dir");
    let (x, y) = (values(7, 3 * 4, 1.0), one_hot::<f64>(&[0, 1, 2, 0], 3).expect("labels"));
    let states: Vec<retroprop::optim::OptimizerState<f64>> = {
        let mut out = Vec::new();
        let run = |opt: &mut dyn FnMut(&mut Trained, &mut Session<Trained>)| {
            let mut net = Trained::seeded(1);
            let mut session = Session::<Trained>::new(4, 0);
            opt(&mut net, &mut session);
            opt(&mut net, &mut session);
            net
        };
        let mut sgd = Sgd::new(0.1).with_momentum(0.9);
        run(&mut |n, s| {
            s.step(n, &x, &y, &CrossEntropy, &mut sgd).expect("step");
        });
        out.push(sgd.state());
        let mut rms = RmsProp::new(0.01).with_centered(true).with_momentum(0.5);
        run(&mut |n, s| {
            s.step(n, &x, &y, &CrossEntropy, &mut rms).expect("step");
        });
        out.push(rms.state());
        let mut ada = Adagrad::new(0.1);
        run(&mut |n, s| {
            s.step(n, &x, &y, &CrossEntropy, &mut ada).expect("step");
        });
        out.push(ada.state());
        let mut adamw = AdamW::new(0.01).with_amsgrad(true);
        run(&mut |n, s| {
            s.step(n, &x, &y, &CrossEntropy, &mut adamw).expect("step");
        });
        out.push(adamw.state());
        out
    };
    for state in states {
        let path = dir.path().join(format!("{}.safetensors", state.kind));
        Checkpoint::new(
            Trained::seeded(1),
            state.clone(),
            1,
            History {
                epochs: vec![],
                best_epoch: None,
                stopped_early: false,
            },
        )
        .save(&path)
        .expect("save");
        let back = Checkpoint::<Trained>::load(&path).expect("load");
        assert_eq!(back.optimizer, state, "{}", state.kind);
        assert!(!state.buffers.is_empty());
    }
    // A state restores only into the same kind of optimizer.
    let err = Adam::<f64>::new(0.1).set_state(Sgd::new(0.1).state()).unwrap_err();
    assert_eq!(
        err,
        retroprop::OptimError::State {
            expected: "adam",
            found: "sgd".into()
        }
    );
}

retroprop::network! {
    #[network(scalar = f64)]
    struct Flat12 { input: 12, out: dense(2) }
}

// The same storage declared as a convolution's weight `[out, in, kh, kw] = [2, 3, 2, 2]`.
wrap_network!(
    Conv2x3x2x2(Flat12),
    "Conv2x3x2x2",
    &[
        retroprop::TensorSpec {
            name: "out.weight",
            layer: "out",
            shape: &[2, 3, 2, 2],
            rows: 2,
            cols: 12,
            kind: retroprop::TensorKind::Weight,
        },
        retroprop::TensorSpec {
            name: "out.bias",
            layer: "out",
            shape: &[2],
            rows: 2,
            cols: 1,
            kind: retroprop::TensorKind::Bias,
        },
    ]
);

#[test]
fn tensors_of_any_rank_are_saved_in_pytorch_layout_and_checked_on_load() {
    let mut net = Conv2x3x2x2(Flat12::zeroed());
    // Weight [o, i, y, x] is column `(i * 2 + y) * 2 + x` of row `o`.
    for o in 0..2 {
        for c in 0..12 {
            net.0.out_weight[(o, c)] = (100 * o + c) as f64;
        }
    }
    let bytes = weights::to_bytes(&net).expect("bytes");
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("valid");
    let view = file.tensor("out.weight").expect("tensor");
    assert_eq!(view.shape(), [2, 3, 2, 2]);
    let values: Vec<f64> = view
        .data()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    // Row-major [2, 3, 2, 2]: element [1][2][0][1] is at ((1 * 3 + 2) * 2 + 0) * 2 + 1 = 21.
    assert_eq!(values[21], (100 + (2 * 2) * 2 + 1) as f64);
    assert_eq!(
        values,
        (0..24).map(|k| (100 * (k / 12) + k % 12) as f64).collect::<Vec<_>>()
    );

    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("conv.safetensors");
    net.0.out_bias[1] = 0.5;
    weights::save(&net, &path).expect("save");
    let back: Conv2x3x2x2 = weights::load(&path).expect("load");
    assert_eq!(back, net);
    // A file whose tensor has the dense shape [2, 12] does not load as [2, 3, 2, 2].
    let flat = dir.path().join("flat.safetensors");
    net.0.save(&flat).expect("save");
    let error = weights::load::<Conv2x3x2x2>(&flat).expect_err("shape mismatch");
    let message = error.to_string();
    assert!(
        message.contains("out.weight") && message.contains("[2, 3, 2, 2]"),
        "{message}"
    );
}
