//! Convolutional networks through the whole API: the LeNet-5 (parameter count,
//! tensor names and shapes, summary, initialization fans), one-sample and batch passes that
//! agree bit for bit, weight files, `Session::step`, `train_step` and `fit` (batches, one
//! sample at a time, validation, checkpoints and resume) on a small image task.

mod common;

use common::values;
use retroprop::prelude::*;

retroprop::network! {
    /// LeNet-5 for 28x28 grey images.
    pub struct LeNet {
        input: [1, 28, 28],
        conv1: conv2d(6, kernel = 5, padding = 2) -> relu,
        pool1: max_pool(2),
        conv2: conv2d(16, kernel = 5) -> relu,
        pool2: max_pool(2),
        flat: flatten,
        fc1: dense(120) -> relu,
        drop: dropout(0.3),
        fc2: dense(84) -> relu,
        output: dense(10) -> softmax,
    }

    /// Horizontal or vertical bars in 6x6 images.
    #[network(scalar = f64)]
    struct Bars {
        input: [1, 6, 6],
        conv: conv2d(4, kernel = 3, padding = 1) -> tanh,
        pool: max_pool(2),
        flat: flatten,
        out: dense(2) -> softmax,
    }
}

#[test]
fn lenet_has_pytorchs_parameters_and_shapes() {
    assert_eq!(LeNet::INPUT, 784);
    assert_eq!(LeNet::OUTPUT, 10);
    assert_eq!(LeNet::PARAMETERS, 61_706);
    let tensors: Vec<(&str, Vec<usize>)> = LeNet::TENSORS.iter().map(|t| (t.name, t.shape.to_vec())).collect();
    assert_eq!(
        tensors,
        [
            ("conv1.weight", vec![6, 1, 5, 5]),
            ("conv1.bias", vec![6]),
            ("conv2.weight", vec![16, 6, 5, 5]),
            ("conv2.bias", vec![16]),
            ("fc1.weight", vec![120, 400]),
            ("fc1.bias", vec![120]),
            ("fc2.weight", vec![84, 120]),
            ("fc2.bias", vec![84]),
            ("output.weight", vec![10, 84]),
            ("output.bias", vec![10]),
        ]
    );
    let rows: Vec<(&str, &[usize], usize)> = LeNet::SUMMARY
        .iter()
        .map(|l| (l.name, l.output, l.parameters))
        .collect();
    assert_eq!(
        rows,
        [
            ("conv1", &[6, 28, 28][..], 156),
            ("pool1", &[6, 14, 14][..], 0),
            ("conv2", &[16, 10, 10][..], 2416),
            ("pool2", &[16, 5, 5][..], 0),
            ("flat", &[400][..], 0),
            ("fc1", &[120][..], 48_120),
            ("drop", &[120][..], 0),
            ("fc2", &[84][..], 10_164),
            ("output", &[10][..], 850),
        ]
    );
    assert_eq!(LeNet::SUMMARY[0].kind, "conv2d(6, kernel = 5, padding = 2) -> relu");
    // A CNN has no fused one-sample step.
    const { assert!(!LeNet::FUSED_SGD) };
    let summary = LeNet::summary().to_string();
    assert!(summary.contains("conv2d(16, kernel = 5) -> relu"), "{summary}");
    assert!(summary.contains("Total parameters: 61,706"), "{summary}");
}

#[test]
fn filters_are_initialized_with_fans_over_the_kernel() {
    // conv1 (relu): He uniform, fan-in 1 x 5 x 5; Bars' conv (tanh): Xavier uniform, fan-in
    // 1 x 3 x 3 and fan-out 4 x 3 x 3.
    let cases: [(Vec<f64>, f64); 3] = [
        (
            LeNet::seeded(3).conv1_weight.iter().map(|&w| f64::from(w)).collect(),
            (6.0f64 / 25.0).sqrt(),
        ),
        (
            LeNet::seeded(3).conv2_weight.iter().map(|&w| f64::from(w)).collect(),
            (6.0f64 / 150.0).sqrt(),
        ),
        (
            Bars::seeded(3).conv_weight.iter().copied().collect(),
            (6.0f64 / (9.0 + 36.0)).sqrt(),
        ),
    ];
    for (weights, bound) in cases {
        let largest = weights.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        // Uniform in (-bound, bound): the largest of 36+ draws is close to the bound.
        assert!(largest <= bound && largest > 0.8 * bound, "{largest} vs {bound}");
    }
    assert!(LeNet::seeded(3).conv1_bias.iter().all(|&b| b == 0.0));
}

/// A 6x6 image with a bar: horizontal (class 0) or vertical (class 1), at a random place,
/// with noise.
fn bars(n: usize, seed: u64) -> (Vec<f64>, Vec<usize>) {
    let noise = values(seed, 36 * n, 0.1);
    let mut x = Vec::with_capacity(36 * n);
    let mut labels = Vec::with_capacity(n);
    for s in 0..n {
        let (class, at) = (s % 2, (s / 2) % 6);
        for row in 0..6 {
            for col in 0..6 {
                let on = if class == 0 { row == at } else { col == at };
                x.push(if on { 1.0 } else { 0.0 } + noise[s * 36 + row * 6 + col]);
            }
        }
        labels.push(class);
    }
    (x, labels)
}

fn bars_data(n: usize, seed: u64) -> Dataset<f64> {
    let (x, labels) = bars(n, seed);
    Dataset::new(x, 36, one_hot::<f64>(&labels, 2).expect("labels"), 2).expect("valid")
}

fn accuracy(net: &Bars, n: usize, seed: u64) -> f64 {
    let (x, labels) = bars(n, seed);
    let mut ws = Bars::workspace(n);
    let out = net.forward_into(&x, &mut ws).expect("forward");
    let predicted = argmax_columns(out.act, 2);
    predicted.iter().zip(&labels).filter(|(p, l)| p == l).count() as f64 / n as f64
}

#[test]
fn one_sample_and_batch_passes_agree_bit_for_bit() {
    let net = LeNet::seeded(7);
    let n = 3;
    let x: Vec<f32> = values(1, 784 * n, 1.0).iter().map(|&v| v as f32).collect();
    let mut ws = LeNet::workspace(n);
    let batch = net.forward_into(&x, &mut ws).expect("forward").act.to_vec();
    let matrix = retroprop::nalgebra::OMatrix::<f32, retroprop::nalgebra::Const<784>, retroprop::nalgebra::Dyn>::from_column_slice(&x);
    let through_matrix = net.forward_batch(&matrix);
    for s in 0..n {
        let sample = &x[784 * s..784 * (s + 1)];
        let one = net.forward_slice(sample).expect("one sample");
        assert_eq!(one.as_slice(), &batch[10 * s..10 * (s + 1)], "sample {s}");
        assert_eq!(through_matrix.column(s).as_slice(), one.as_slice());
        assert!((one.sum() - 1.0).abs() < 1e-5);
    }
    assert!(net.forward_slice(&x[..783]).is_err(), "a short image is a ShapeError");
}

#[test]
fn weight_files_round_trip() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("lenet.safetensors");
    let net = LeNet::seeded(11);
    net.save(&path).expect("save");
    let loaded = LeNet::load(&path).expect("load");
    assert!(loaded == net);
    // A file of another network is refused with a typed error, not a panic.
    assert!(Bars::load(&path).is_err());
}

#[test]
fn session_steps_and_single_sample_steps_learn_bars() {
    let data = bars_data(48, 1);
    let mut net = Bars::seeded(2);
    let before = accuracy(&net, 60, 9);
    let mut session = Session::<Bars>::new(16, 0);
    let mut adam = Adam::new(0.02);
    let first = session
        .step(
            &mut net,
            &data.features()[..36 * 16],
            &data.targets()[..2 * 16],
            &CrossEntropy,
            &mut adam,
        )
        .expect("step");
    let mut last = first;
    for _ in 0..30 {
        for b in 0..3 {
            last = session
                .step(
                    &mut net,
                    &data.features()[36 * 16 * b..36 * 16 * (b + 1)],
                    &data.targets()[2 * 16 * b..2 * 16 * (b + 1)],
                    &CrossEntropy,
                    &mut adam,
                )
                .expect("step");
        }
    }
    assert!(last < 0.2 * first, "loss {first} -> {last}");
    assert!(
        accuracy(&net, 60, 9) >= 0.95,
        "accuracy {before} -> {}",
        accuracy(&net, 60, 9)
    );

    // One sample at a time through `train_step`.
    let mut net = Bars::seeded(2);
    let mut sgd = Sgd::new(0.05);
    let mut one = Session::<Bars>::new(1, 0);
    for _ in 0..15 {
        for s in 0..48 {
            let x = retroprop::nalgebra::SVector::<f64, 36>::from_column_slice(&data.features()[36 * s..36 * (s + 1)]);
            let y = retroprop::nalgebra::SVector::<f64, 2>::from_column_slice(&data.targets()[2 * s..2 * (s + 1)]);
            net.train_step(&x, &y, &CrossEntropy, &mut sgd, &mut one).expect("step");
        }
    }
    assert!(
        accuracy(&net, 60, 9) >= 0.95,
        "one-sample steps: {}",
        accuracy(&net, 60, 9)
    );
}

fn quiet<'a>() -> Trainer<'a, f64> {
    Trainer::new().progress(Progress::Quiet)
}

#[test]
fn fit_trains_a_cnn_with_validation_batch_one_and_resume() {
    let (train, val) = (bars_data(64, 3), bars_data(32, 4));
    // Batches with validation and early stopping's bookkeeping.
    let mut net = Bars::seeded(5);
    let history = quiet()
        .epochs(12)
        .batch_size(8)
        .validation(&val)
        .metric(Metric::Accuracy)
        .fit(&mut net, &train, &CrossEntropy, &mut Adam::new(0.01))
        .expect("fit");
    assert_eq!(history.epochs.len(), 12);
    let last = history.epochs.last().expect("epochs");
    assert!(last.metrics["accuracy"] >= 0.95, "{:?}", last.metrics);

    // Batch size 1 with plain SGD: a CNN has no fused step, so `fit` takes the usual one.
    let mut one = Bars::seeded(5);
    let history = quiet()
        .epochs(4)
        .batch_size(1)
        .fit(&mut one, &train, &CrossEntropy, &mut Sgd::new(0.02))
        .expect("fit at batch size 1");
    let losses: Vec<f64> = history.epochs.iter().map(|e| e.train_loss).collect();
    assert!(losses[3] < losses[0], "{losses:?}");

    // Checkpoint after 3 epochs, resume to 6: the same weights as 6 epochs straight.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bars.safetensors");
    let mut straight = Bars::seeded(6);
    quiet()
        .epochs(6)
        .batch_size(8)
        .fit(&mut straight, &train, &CrossEntropy, &mut Adam::new(0.01))
        .expect("fit");
    let mut first = Bars::seeded(6);
    quiet()
        .epochs(3)
        .batch_size(8)
        .checkpoint(&path)
        .fit(&mut first, &train, &CrossEntropy, &mut Adam::new(0.01))
        .expect("fit");
    let mut resumed = Bars::seeded(0);
    let rest = quiet()
        .epochs(6)
        .batch_size(8)
        .resume_from(&path)
        .fit(&mut resumed, &train, &CrossEntropy, &mut Adam::new(0.01))
        .expect("resume");
    // The history holds the checkpoint's three epochs and the three trained after it.
    assert_eq!(
        rest.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert!(resumed == straight, "resumed weights differ from a straight run");
}
