//! The `fit` loop: convergence, early stopping, divergence, determinism, schedules,
//! callbacks, the history and its files.

mod common;

use common::values;
use retroprop::prelude::*;
use retroprop::train::HistoryError;

retroprop::network! {
    #[network(scalar = f64)]
    struct Linear { input: 3, out: dense(1) }

    #[network(scalar = f64)]
    struct Classifier { input: 3, hidden: dense(8) -> relu, drop: dropout(0.1), out: dense(3) -> softmax }

    /// A first layer of 18432 weights: a batch split across two threads combines, checks and
    /// updates it in two pieces (tensors of 16384 values or more are split).
    struct Wide { input: 256, hidden: dense(72) -> relu, out: dense(3) -> softmax }
}

/// `y = x . w + b` exactly, for `n` samples.
fn linear_data(n: usize, seed: u64) -> Dataset<f64> {
    let x = values(seed, 3 * n, 1.0);
    let y: Vec<f64> = x
        .chunks(3)
        .map(|c| 2.0 * c[0] - 1.0 * c[1] + 0.5 * c[2] + 0.25)
        .collect();
    Dataset::new(x, 3, y, 1).expect("valid")
}

/// Three classes separated by which coordinate is largest.
fn class_data(n: usize, seed: u64) -> Dataset<f64> {
    let x = values(seed, 3 * n, 1.0);
    let labels: Vec<usize> = x.chunks(3).map(|c| argmax_columns(c, 3)[0]).collect();
    Dataset::from_labels(x, 3, &labels, 3).expect("valid")
}

fn quiet<'a>() -> Trainer<'a, f64> {
    Trainer::new().progress(Progress::Quiet)
}

#[test]
fn converges_on_a_convex_problem() {
    let data = linear_data(64, 1);
    let mut net = Linear::seeded(1);
    let mut adam = Adam::new(0.05);
    let history = quiet()
        .epochs(300)
        .batch_size(16)
        .fit(&mut net, &data, &MeanSquaredError, &mut adam)
        .expect("fit");
    assert_eq!(history.epochs.len(), 300);
    let last = history.epochs.last().expect("epochs");
    assert!(last.train_loss < 1e-8, "{}", last.train_loss);
    let w = net.out_weight;
    assert!((w[(0, 0)] - 2.0).abs() < 1e-3 && (w[(0, 1)] + 1.0).abs() < 1e-3 && (w[(0, 2)] - 0.5).abs() < 1e-3);
    assert!((net.out_bias[0] - 0.25).abs() < 1e-3);
}

#[test]
fn classifier_learns_and_tracks_validation_metrics() {
    let train = class_data(300, 2);
    let val = class_data(100, 3);
    let mut net = Classifier::seeded(2);
    let mut opt = Adam::new(0.01);
    let history = quiet()
        .epochs(40)
        .batch_size(20)
        .seed(4)
        .validation(&val)
        .metric(Metric::Accuracy)
        .metric(Metric::MacroF1)
        .fit(&mut net, &train, &CrossEntropy, &mut opt)
        .expect("fit");
    let last = history.epochs.last().expect("epochs");
    assert!(last.metrics["accuracy"] > 0.9, "{last:?}");
    assert!(last.metrics["macro_f1"] > 0.85, "{last:?}");
    assert!(last.val_loss.expect("validation") < history.epochs[0].val_loss.expect("validation"));
    assert!(history.epochs.iter().all(|e| e.elapsed_secs >= 0.0 && e.lr == 0.01));
}

#[test]
fn train_loss_is_the_sample_weighted_mean_including_the_partial_batch() {
    // With a learning rate of zero the weights never change, so the epoch's training loss
    // must equal the loss over the whole set, although the batches are 3 + 3 + 1 samples.
    let data = linear_data(7, 6);
    let mut net = Linear::seeded(6);
    let history = quiet()
        .epochs(1)
        .batch_size(3)
        .shuffle(false)
        .fit(&mut net, &data, &MeanSquaredError, &mut Sgd::new(0.0))
        .expect("fit");
    let mut ws = Linear::workspace(7);
    let whole = retroprop::train::evaluate_loss(&net, data.features(), data.targets(), &MeanSquaredError, &mut ws)
        .expect("fits");
    assert!(
        (history.epochs[0].train_loss - whole).abs() < 1e-14,
        "{} vs {whole}",
        history.epochs[0].train_loss
    );
}

#[test]
fn early_stopping_restores_the_best_weights() {
    // Validation targets are the negation of the training targets, so the validation loss
    // is best early and then grows.
    let train = linear_data(32, 7);
    let flipped: Vec<f64> = train.targets().iter().map(|y| -y).collect();
    let val = Dataset::new(train.features().to_vec(), 3, flipped, 1).expect("valid");
    let run = |epochs: usize, early: Option<EarlyStopping>| {
        let mut net = Linear::seeded(7);
        let mut trainer = quiet().epochs(epochs).batch_size(8).seed(1).validation(&val);
        if let Some(es) = early {
            trainer = trainer.early_stopping(es);
        }
        let history = trainer
            .fit(&mut net, &train, &MeanSquaredError, &mut Sgd::new(0.05))
            .expect("fit");
        (net, history)
    };
    let (stopped, history) = run(50, Some(EarlyStopping::new(3)));
    let best = history.best_epoch.expect("a best epoch");
    assert!(history.stopped_early);
    assert_eq!(history.epochs.len(), best + 3);
    let best_val = history.epochs[best - 1].val_loss.expect("val");
    assert!(history.epochs.iter().all(|e| e.val_loss.expect("val") >= best_val));
    // The restored weights are exactly those after `best` epochs.
    let (reference, _) = run(best, None);
    assert!(stopped == reference);
    let (last, _) = run(best + 3, None);
    assert!(stopped != last);
}

#[test]
fn divergence_is_reported_and_the_last_good_weights_are_kept() {
    // A NaN feature in sample 5 (batch 6 with batches of one, no shuffling).
    let data = linear_data(10, 8);
    let mut features = data.features().to_vec();
    features[5 * 3 + 1] = f64::NAN;
    let poisoned = Dataset::new(features, 3, data.targets().to_vec(), 1).expect("valid");
    let mut net = Linear::seeded(8);
    let err = quiet()
        .epochs(3)
        .batch_size(1)
        .shuffle(false)
        .fit(&mut net, &poisoned, &MeanSquaredError, &mut Sgd::new(0.1))
        .unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::Diverged {
                epoch: 1,
                batch: 6,
                what: "loss",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("epoch 1, batch 6"), "{err}");
    // The weights are those after the five good samples.
    let mut reference = Linear::seeded(8);
    let (head, _) = data.split_at(5);
    quiet()
        .epochs(1)
        .batch_size(1)
        .shuffle(false)
        .fit(&mut reference, &head, &MeanSquaredError, &mut Sgd::new(0.1))
        .expect("fit");
    assert!(net == reference);

    // An exploding learning rate: the weights overflow, and the update is undone.
    let mut net = Linear::seeded(9);
    let err = quiet()
        .epochs(50)
        .batch_size(4)
        .fit(&mut net, &data, &MeanSquaredError, &mut Sgd::new(1e12))
        .unwrap_err();
    assert!(matches!(err, TrainError::Diverged { .. }), "{err}");
    assert!(net.is_finite(), "non-finite weights were left in the network");
}

#[test]
fn training_is_deterministic() {
    let train = class_data(50, 10);
    let val = class_data(20, 11);
    let run = |seed: u64| {
        let mut net = Classifier::seeded(3);
        let history = quiet()
            .epochs(5)
            .batch_size(8)
            .seed(seed)
            .validation(&val)
            .metric(Metric::Accuracy)
            .fit(&mut net, &train, &CrossEntropy, &mut Adam::new(0.01))
            .expect("fit");
        let losses: Vec<(f64, Option<f64>)> = history.epochs.iter().map(|e| (e.train_loss, e.val_loss)).collect();
        (net, losses)
    };
    let (a, la) = run(1);
    let (b, lb) = run(1);
    let (c, lc) = run(2);
    assert!(a == b);
    assert_eq!(la, lb);
    assert!(a != c && la != lc);
}

#[test]
fn schedules_and_plateaus_set_the_rate_per_epoch() {
    let data = linear_data(16, 12);
    let schedule = Schedule::cosine(4, 0.001).with_warmup(0.5, 2);
    let mut net = Linear::seeded(1);
    let history = quiet()
        .epochs(8)
        .schedule(schedule.clone())
        .fit(&mut net, &data, &MeanSquaredError, &mut Sgd::new(0.1))
        .expect("fit");
    for (i, e) in history.epochs.iter().enumerate() {
        assert!(
            (e.lr - schedule.lr_at(0.1, i)).abs() < 1e-15,
            "epoch {}: {}",
            e.epoch,
            e.lr
        );
    }
    // A rate so small that the loss does not improve by the relative threshold (1e-4): with
    // patience 1 the rate halves after every second epoch without improvement, from the
    // optimizer's rate.
    for rate in [1e-6, 3e-6] {
        let mut net = Linear::seeded(1);
        let history = quiet()
            .epochs(6)
            .reduce_on_plateau(plateau())
            .fit(&mut net, &data, &MeanSquaredError, &mut Sgd::new(rate))
            .expect("fit");
        let lrs: Vec<f64> = history.epochs.iter().map(|e| e.lr).collect();
        assert_eq!(lrs, plateau_rates(rate), "from {rate}");
    }
}

/// Patience 1, factor 0.5.
fn plateau() -> ReduceOnPlateau {
    ReduceOnPlateau::new().with_patience(1).with_factor(0.5)
}

/// The rates of six epochs of [`plateau`] on a loss that does not improve, from `rate`.
fn plateau_rates(rate: f64) -> [f64; 6] {
    [rate, rate, rate, rate * 0.5, rate * 0.5, rate * 0.25]
}

#[test]
fn the_plateau_starts_from_the_optimizers_rate() {
    let data = linear_data(16, 12);
    let mut net = Linear::seeded(1);
    let mut sgd = Sgd::new(0.1);
    let history = quiet()
        .epochs(4)
        .reduce_on_plateau(ReduceOnPlateau::new())
        .fit(&mut net, &data, &MeanSquaredError, &mut sgd)
        .expect("fit");
    // Default patience 10: no reduction in four epochs, so every epoch trains at 0.1.
    assert!(history.epochs.iter().all(|e| e.lr == 0.1), "{:?}", history.epochs);
    assert_eq!(sgd.lr, 0.1);
    // The same weights as training without the plateau.
    let mut plain = Linear::seeded(1);
    quiet()
        .epochs(4)
        .fit(&mut plain, &data, &MeanSquaredError, &mut Sgd::new(0.1))
        .expect("fit");
    assert!(net == plain);
}

#[test]
fn a_schedule_and_a_plateau_together_are_a_conflict() {
    let data = linear_data(16, 12);
    let mut net = Linear::seeded(1);
    let mut epochs_run = 0;
    let err = quiet()
        .epochs(3)
        .schedule(Schedule::step(1, 0.5))
        .reduce_on_plateau(ReduceOnPlateau::new())
        .on_epoch(|_| {
            epochs_run += 1;
            Control::Continue
        })
        .fit(&mut net, &data, &MeanSquaredError, &mut Sgd::new(0.1))
        .unwrap_err();
    assert_eq!(
        err,
        TrainError::Conflict {
            first: "schedule",
            second: "reduce_on_plateau",
            reason: "both set the learning rate of every epoch; use one of them",
        }
    );
    assert!(err.to_string().contains("`schedule` and `reduce_on_plateau`"), "{err}");
    // Returned before the first epoch: nothing trained.
    assert_eq!(epochs_run, 0);
    assert!(net == Linear::seeded(1));
}

#[test]
fn resuming_continues_the_plateau_from_the_checkpoint() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("plateau.safetensors");
    let data = linear_data(16, 12);
    let mut straight = Linear::seeded(1);
    let full = quiet()
        .epochs(6)
        .reduce_on_plateau(plateau())
        .fit(&mut straight, &data, &MeanSquaredError, &mut Sgd::new(1e-6))
        .expect("fit");
    let mut first = Linear::seeded(1);
    quiet()
        .epochs(3)
        .reduce_on_plateau(plateau())
        .checkpoint(&path)
        .fit(&mut first, &data, &MeanSquaredError, &mut Sgd::new(1e-6))
        .expect("fit");
    // The plateau reduced the rate after epoch 3, which trained at 1e-6: epoch 4 must train
    // at 5e-7, the checkpoint's rate, neither the resumed optimizer's (0.5) nor epoch 3's.
    let mut resumed = Linear::seeded(2);
    let rest = quiet()
        .epochs(6)
        .reduce_on_plateau(plateau())
        .resume_from(&path)
        .fit(&mut resumed, &data, &MeanSquaredError, &mut Sgd::new(0.5))
        .expect("resume");
    let lrs = |h: &History| h.epochs.iter().map(|e| e.lr).collect::<Vec<_>>();
    assert_eq!(lrs(&full), plateau_rates(1e-6));
    assert_eq!(lrs(&rest), lrs(&full));
    assert!(resumed == straight);

    // A checkpoint with a plateau resumed without one, and the other way round, are errors.
    let err = quiet()
        .epochs(6)
        .resume_from(&path)
        .fit(&mut Linear::seeded(1), &data, &MeanSquaredError, &mut Sgd::new(1e-6))
        .unwrap_err();
    assert!(
        matches!(&err, TrainError::Checkpoint { message, .. } if message.contains("written with `reduce_on_plateau`")),
        "{err}"
    );
    let plain = dir.path().join("plain.safetensors");
    quiet()
        .epochs(2)
        .checkpoint(&plain)
        .fit(&mut Linear::seeded(1), &data, &MeanSquaredError, &mut Sgd::new(1e-6))
        .expect("fit");
    let err = quiet()
        .epochs(4)
        .reduce_on_plateau(plateau())
        .resume_from(&plain)
        .fit(&mut Linear::seeded(1), &data, &MeanSquaredError, &mut Sgd::new(1e-6))
        .unwrap_err();
    assert!(
        matches!(&err, TrainError::Checkpoint { message, .. } if message.contains("written without `reduce_on_plateau`")),
        "{err}"
    );

    // A checkpoint from before the plateau's rate was saved (no `plateau_lr`) resumes from
    // the optimizer's saved rate, that of its last epoch.
    let old = dir.path().join("old.safetensors");
    std::fs::write(&old, without_plateau_lr(&std::fs::read(&path).expect("read"))).expect("write");
    let rest = quiet()
        .epochs(6)
        .reduce_on_plateau(plateau())
        .resume_from(&old)
        .fit(&mut Linear::seeded(1), &data, &MeanSquaredError, &mut Sgd::new(0.5))
        .expect("resume an old checkpoint");
    assert_eq!(lrs(&rest)[3], 1e-6);
}

/// A checkpoint file with `plateau_lr` taken out of the loop's state, as written before it
/// was saved.
fn without_plateau_lr(bytes: &[u8]) -> Vec<u8> {
    let (len, rest) = bytes.split_at(8);
    let len = usize::try_from(u64::from_le_bytes(len.try_into().expect("8 bytes"))).expect("length");
    let (header, data) = rest.split_at(len);
    let mut header: serde_json::Value = serde_json::from_slice(header).expect("header");
    let meta = &mut header["__metadata__"]["retroprop.checkpoint"];
    let mut checkpoint: serde_json::Value = serde_json::from_str(meta.as_str().expect("string")).expect("meta");
    let state = checkpoint["fit"].as_object_mut().expect("fit state");
    assert!(
        state.remove("plateau_lr").is_some(),
        "the checkpoint saves the plateau's rate"
    );
    *meta = serde_json::Value::String(checkpoint.to_string());
    let mut header = serde_json::to_vec(&header).expect("json");
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header);
    out.extend(data);
    out
}

#[test]
fn callbacks_see_every_epoch_and_can_stop() {
    let data = linear_data(16, 13);
    let mut seen = Vec::new();
    let mut net = Linear::seeded(1);
    let history = quiet()
        .epochs(10)
        .on_epoch(|record| {
            seen.push(record.epoch);
            if record.epoch == 3 {
                Control::Stop
            } else {
                Control::Continue
            }
        })
        .fit(&mut net, &data, &MeanSquaredError, &mut Sgd::new(0.1))
        .expect("fit");
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(history.epochs.len(), 3);
    assert!(history.stopped_early);
}

#[test]
fn bad_configurations_are_errors() {
    let mut net = Linear::seeded(1);
    let wide = Dataset::new(vec![0.0; 8], 4, vec![0.0; 2], 1).expect("valid");
    let err = quiet()
        .fit(&mut net, &wide, &MeanSquaredError, &mut Sgd::new(0.1))
        .unwrap_err();
    assert_eq!(
        err,
        TrainError::Shape(ShapeError::Width {
            what: "inputs",
            expected: 3,
            actual: 4
        })
    );
    let empty = Dataset::new(vec![], 3, vec![], 1).expect("valid");
    let err = quiet()
        .fit(&mut net, &empty, &MeanSquaredError, &mut Sgd::new(0.1))
        .unwrap_err();
    assert_eq!(err, TrainError::EmptyDataset { what: "training" });
    let data = linear_data(4, 1);
    let err = quiet()
        .batch_size(0)
        .fit(&mut net, &data, &MeanSquaredError, &mut Sgd::new(0.1))
        .unwrap_err();
    assert!(matches!(err, TrainError::Config(_)), "{err}");
    // A batch larger than the data set is fine: one batch per epoch.
    let history = quiet()
        .epochs(2)
        .batch_size(100)
        .fit(&mut net, &data, &MeanSquaredError, &mut Sgd::new(0.1));
    assert_eq!(history.expect("fit").epochs.len(), 2);
}

#[test]
fn history_round_trips_through_csv_and_json() {
    let train = class_data(40, 14);
    let val = class_data(20, 15);
    let mut net = Classifier::seeded(1);
    let history = quiet()
        .epochs(4)
        .batch_size(16)
        .validation(&val)
        .metric(Metric::Accuracy)
        .metric(Metric::MacroRecall)
        .regularization(Regularization {
            l2: 1e-3,
            ..Regularization::default()
        })
        .early_stopping(EarlyStopping::new(10))
        .fit(&mut net, &train, &CrossEntropy, &mut Adam::new(0.01))
        .expect("fit");
    let dir = tempfile::tempdir().expect("temp dir");
    let csv_path = dir.path().join("history.csv");
    let json_path = dir.path().join("history.json");
    history.write_csv(&csv_path).expect("csv");
    history.write_json(&json_path).expect("json");
    let from_json = History::read_json(&json_path).expect("json back");
    assert_eq!(from_json, history);
    let from_csv = History::read_csv(&csv_path).expect("csv back");
    assert_eq!(from_csv.epochs, history.epochs);
    let text = std::fs::read_to_string(&csv_path).expect("read");
    assert!(
        text.starts_with("epoch,train_loss,penalty,val_loss,lr,elapsed_secs,accuracy,macro_recall\n"),
        "{text}"
    );
    assert!(history.epochs.iter().all(|e| e.penalty > 0.0));

    // Malformed files name the file, the line and the column.
    let bad = text.replacen("\n1,", "\n1,oops", 1);
    std::fs::write(&csv_path, bad).expect("write");
    let err = History::read_csv(&csv_path).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, HistoryError::Format { .. }));
    assert!(
        message.contains("history.csv") && message.contains("line 2") && message.contains("train_loss"),
        "{message}"
    );
    let err = History::read_json(&dir.path().join("missing.json")).unwrap_err();
    assert!(
        matches!(err, HistoryError::Io { .. }) && err.to_string().contains("missing.json"),
        "{err}"
    );
}

#[test]
fn history_csv_is_exact_and_round_trips_awkward_values() {
    let record = |epoch: usize, val_loss: Option<f64>, metrics: &[(&str, f64)]| EpochRecord {
        epoch,
        train_loss: 0.1 + 0.2,
        penalty: 0.0,
        val_loss,
        metrics: metrics.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        lr: 1e-300,
        elapsed_secs: f64::MAX,
    };
    let history = History {
        epochs: vec![
            record(1, Some(2.5), &[("accuracy", 0.75), ("top,\"5\"", 1.0)]),
            record(2, None, &[("accuracy", -0.0)]),
        ],
        best_epoch: None,
        stopped_early: false,
    };
    let text = history.to_csv();
    let max = f64::MAX.to_string();
    assert_eq!(
        text,
        format!(
            "epoch,train_loss,penalty,val_loss,lr,elapsed_secs,accuracy,\"top,\"\"5\"\"\"\n\
             1,0.30000000000000004,0,2.5,0.000{zeros}1,{max},0.75,1\n\
             2,0.30000000000000004,0,,0.000{zeros}1,{max},-0,\n",
            zeros = "0".repeat(296)
        )
    );
    let back = History::from_csv(&text, std::path::Path::new("h.csv")).expect("parse");
    assert_eq!(back, history);
    assert_eq!(back.metric_names(), ["accuracy", "top,\"5\""]);
    // The file goes through the same writer.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("h.csv");
    history.write_csv(&path).expect("write");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
    assert_eq!(History::read_csv(&path).expect("read back"), history);
    // An epoch that is not a whole number is refused, not truncated.
    let bad = text.replacen("\n2,", "\n2.5,", 1);
    let err = History::from_csv(&bad, &path).unwrap_err();
    assert!(err.to_string().contains("line 3, column 1 (`epoch`)"), "{err}");
}

/// The mean-loss gradient of a batch, from a session split into `threads` parts.
fn split_gradient(threads: usize, n: usize) -> (f64, Vec<Vec<f64>>) {
    let data = class_data(n, 5);
    let net = Classifier::seeded(4);
    let mut session = retroprop::train::Session::<Classifier>::new(n, 9).with_threads(threads);
    assert_eq!(session.threads(), threads.max(1));
    // Inference-mode contexts keep dropout out, so every split must give the same gradient.
    session.context.set_training(false);
    let mut copy = net.clone();
    let mut no_step = Sgd::new(0.0);
    let loss = session
        .step(&mut copy, data.features(), data.targets(), &CrossEntropy, &mut no_step)
        .expect("step");
    let grads = (0..Classifier::TENSORS.len())
        .map(|t| session.gradients.tensor(t).to_vec())
        .collect();
    (loss, grads)
}

#[test]
fn a_batch_split_across_threads_gives_the_same_gradient() {
    for n in [7, 64] {
        let (loss, grads) = split_gradient(1, n);
        for threads in [2, 3] {
            let (split_loss, split_grads) = split_gradient(threads, n);
            assert!(
                (split_loss - loss).abs() <= 1e-12 * loss.abs(),
                "{threads} threads, {n} samples"
            );
            for (split, whole) in split_grads.iter().zip(&grads) {
                common::assert_close(split, whole, 1e-10, "gradient");
            }
            // The same split twice gives the same bits.
            assert_eq!(split_gradient(threads, n), (split_loss, split_grads));
        }
    }
    // Too small a batch to split: the single-thread path, bit for bit.
    assert_eq!(split_gradient(4, 7), split_gradient(1, 7));
}

#[test]
fn fit_with_threads_learns_deterministically() {
    let train = class_data(600, 1);
    let run = || {
        let mut net = Classifier::seeded(2);
        let history = quiet()
            .epochs(20)
            .batch_size(64)
            .seed(3)
            .threads(2)
            .fit(&mut net, &train, &CrossEntropy, &mut Adam::new(0.02))
            .expect("fit");
        (net, history.epochs.last().expect("epochs").train_loss)
    };
    let (first, first_loss) = run();
    let (second, second_loss) = run();
    assert_eq!(first, second, "two runs with the same seed and threads");
    assert_eq!(first_loss, second_loss);
    assert!(first_loss < 0.3, "final training loss {first_loss}");
}

/// Plain SGD that does not say so (`plain_sgd_rate` is `None`), so that `fit` takes a
/// `Session::step` per sample and a session calls `Sgd::step` for the update: the reference
/// for the runs `fit` makes with batches of one and for the updates of split batches.
struct OpaqueSgd<T: Real>(Sgd<T>);

impl<T: Real> Optimizer<T> for OpaqueSgd<T> {
    fn step<P, G>(&mut self, params: &mut P, grads: &G) -> Result<(), retroprop::OptimError>
    where
        P: retroprop::Parameters<Scalar = T> + ?Sized,
        G: retroprop::Parameters<Scalar = T> + ?Sized,
    {
        self.0.step(params, grads)
    }
    fn learning_rate(&self) -> T {
        self.0.learning_rate()
    }
    fn set_learning_rate(&mut self, lr: T) {
        self.0.set_learning_rate(lr);
    }
    fn state(&self) -> retroprop::optim::OptimizerState<T> {
        self.0.state()
    }
    fn set_state(&mut self, state: retroprop::optim::OptimizerState<T>) -> Result<(), retroprop::OptimError> {
        self.0.set_state(state)
    }
}

/// `n` samples for `Wide` (features in [-1, 1]) and one-hot targets.
fn wide_batch(n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let x: Vec<f32> = values(seed, 256 * n, 1.0).iter().map(|&v| v as f32).collect();
    let mut t = vec![0.0f32; 3 * n];
    for (j, sample) in x.chunks_exact(256).enumerate() {
        t[3 * j + usize::from(sample[0] > 0.0) + usize::from(sample[1] > 0.0)] = 1.0;
    }
    (x, t)
}

#[test]
fn split_batches_update_with_plain_sgd_as_sgd_step_does() {
    let (x, t) = wide_batch(64, 21);
    for guard in [false, true] {
        let session = || {
            retroprop::train::Session::<Wide>::new(64, 4)
                .with_threads(2)
                .with_last_good_guard(guard)
        };
        // Plain SGD updates over pieces in parallel; `OpaqueSgd` through `Sgd::step`.
        let (mut split, mut reference) = (session(), session());
        let (mut by_pieces, mut by_step) = (Wide::seeded(5), Wide::seeded(5));
        for _ in 0..3 {
            let loss = split
                .step(&mut by_pieces, &x, &t, &CrossEntropy, &mut Sgd::new(0.1))
                .expect("step");
            let reference_loss = reference
                .step(&mut by_step, &x, &t, &CrossEntropy, &mut OpaqueSgd(Sgd::new(0.1)))
                .expect("reference step");
            assert_eq!(loss.to_bits(), reference_loss.to_bits());
        }
        assert!(by_pieces != Wide::seeded(5), "the steps moved the weights");
        for tensor in 0..Wide::TENSORS.len() {
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(by_pieces.tensor(tensor)),
                bits(by_step.tensor(tensor)),
                "tensor {tensor}"
            );
            assert_eq!(
                bits(split.gradients.tensor(tensor)),
                bits(reference.gradients.tensor(tensor)),
                "gradient {tensor}"
            );
        }
    }
}

#[test]
fn split_batches_whose_parts_copy_their_own_samples_train_as_a_copied_batch_does() {
    // Without augmentation, `fit` lets each part of a split batch copy its own samples; an
    // augmentation that changes nothing makes it copy the whole batch first, as before.
    let (x, t) = wide_batch(193, 23);
    let data = Dataset::new(x, 256, t, 3).expect("data");
    let run = |copied_first: bool, adam: bool| {
        let trainer = Trainer::<f32>::new()
            .progress(Progress::Quiet)
            .epochs(2)
            .batch_size(64)
            .seed(7)
            .threads(2);
        let mut trainer = if copied_first {
            trainer.augment(|_: &mut [f32], _: &mut dyn rand::RngCore| {})
        } else {
            trainer
        };
        let mut net = Wide::seeded(8);
        // Batches of 64, 64, 64 and 1 (too small to split) in each epoch.
        let history = if adam {
            trainer.fit(&mut net, &data, &CrossEntropy, &mut Adam::new(0.01))
        } else {
            trainer.fit(&mut net, &data, &CrossEntropy, &mut Sgd::new(0.1))
        };
        (net, history.expect("fit").epochs.last().expect("epochs").train_loss)
    };
    for adam in [false, true] {
        let (by_parts, loss) = run(false, adam);
        let (copied, copied_loss) = run(true, adam);
        assert!(by_parts != Wide::seeded(8), "training moved the weights");
        assert!(by_parts == copied, "adam: {adam}");
        assert_eq!(loss.to_bits(), copied_loss.to_bits(), "adam: {adam}");
    }
}

/// A split `Wide` step whose first-layer gradient is large only in input column 200 (its
/// weights, 14400..14472, lie in the second of the two pieces): that column's weights are
/// zero, so the outputs and the loss do not depend on the feature, which is `feature` in every
/// sample. The output layer's weights are scaled by `scale` (which scales the hidden deltas).
/// Returns the step's result and the network after and before it.
fn wide_step_with_feature(feature: f32, scale: f32, lr: f32, guard: bool) -> (Result<f32, TrainError>, Wide, Wide) {
    let (mut x, t) = wide_batch(64, 22);
    for sample in x.chunks_exact_mut(256) {
        sample[200] = feature;
    }
    let mut net = Wide::seeded(6);
    net.tensor_mut(0)[200 * 72..201 * 72].fill(0.0);
    let out_weight = Wide::tensor_index("out.weight").expect("tensor");
    net.tensor_mut(out_weight).iter_mut().for_each(|w| *w *= scale);
    let before = net.clone();
    let mut session = retroprop::train::Session::<Wide>::new(64, 4)
        .with_threads(2)
        .with_last_good_guard(guard);
    let result = session.step(&mut net, &x, &t, &CrossEntropy, &mut Sgd::new(lr));
    (result, net, before)
}

#[test]
fn split_batches_refuse_an_overflow_in_a_later_piece() {
    // Gradients of about 1e29 in column 200: finite, but 1e10 times them overflows.
    let (unguarded, overflowed, _) = wide_step_with_feature(1e30, 1.0, 1e10, false);
    unguarded.expect("without the guard the update is written");
    let non_finite: Vec<usize> = (0..overflowed.tensor(0).len())
        .filter(|&i| !overflowed.tensor(0)[i].is_finite())
        .collect();
    assert!(!non_finite.is_empty(), "the update overflows");
    assert!(
        non_finite.iter().all(|i| (200 * 72..201 * 72).contains(i)),
        "{non_finite:?}"
    );
    for tensor in 1..Wide::TENSORS.len() {
        assert!(
            overflowed.tensor(tensor).iter().all(|v| v.is_finite()),
            "tensor {tensor}"
        );
    }
    // The guard checks the update while combining the parts' gradients: nothing is written.
    let (guarded, net, before) = wide_step_with_feature(1e30, 1.0, 1e10, true);
    let error = guarded.unwrap_err();
    assert!(
        matches!(
            error,
            TrainError::NonFinite {
                what: "updated weights",
                ..
            }
        ),
        "{error}"
    );
    assert!(net == before, "a refused update left the weights changed");

    // Gradients that overflow to infinity there (hidden deltas of about 1e3 times the largest
    // `f32`) are refused with or without the guard.
    for guard in [false, true] {
        let (result, net, before) = wide_step_with_feature(f32::MAX, 1e4, 1e-3, guard);
        let error = result.unwrap_err();
        assert!(
            matches!(
                error,
                TrainError::NonFinite {
                    what: "gradient norm",
                    ..
                }
            ),
            "{error}"
        );
        assert!(net == before, "a refused step left the weights changed");
    }
}

#[test]
fn batches_of_one_with_plain_sgd_train_in_runs_with_the_same_results() {
    // 600 samples: runs of 256, 256 and 88, shuffled, with dropout and a schedule.
    let data = class_data(600, 31);
    let trainer = || quiet().epochs(3).batch_size(1).seed(5).schedule(Schedule::step(1, 0.5));
    let (mut by_runs, mut by_steps) = (Classifier::seeded(12), Classifier::seeded(12));
    let runs = trainer()
        .fit(&mut by_runs, &data, &CrossEntropy, &mut Sgd::new(0.05))
        .expect("runs");
    let steps = trainer()
        .fit(&mut by_steps, &data, &CrossEntropy, &mut OpaqueSgd(Sgd::new(0.05)))
        .expect("steps");
    assert!(by_runs == by_steps, "the weights differ");
    for (a, b) in runs.epochs.iter().zip(&steps.epochs) {
        // The losses are summed run by run: equal up to the order of the additions.
        assert!(
            (a.train_loss - b.train_loss).abs() <= 1e-12 * b.train_loss,
            "{a:?} vs {b:?}"
        );
        assert_eq!(a.lr, b.lr);
    }
    assert!(runs.epochs[2].train_loss < runs.epochs[0].train_loss);

    // An exploding rate overflows a weight inside a run: the guard finds the step, reports
    // it as the step-by-step loop does and leaves the weights from before it.
    let data = linear_data(300, 4);
    let (mut by_runs, mut by_steps) = (Linear::seeded(3), Linear::seeded(3));
    let runs = quiet()
        .epochs(5)
        .batch_size(1)
        .fit(&mut by_runs, &data, &MeanSquaredError, &mut Sgd::new(f64::MAX))
        .unwrap_err();
    let steps = quiet()
        .epochs(5)
        .batch_size(1)
        .fit(
            &mut by_steps,
            &data,
            &MeanSquaredError,
            &mut OpaqueSgd(Sgd::new(f64::MAX)),
        )
        .unwrap_err();
    assert!(
        matches!(
            runs,
            TrainError::Diverged {
                what: "updated weights",
                ..
            }
        ),
        "{runs}"
    );
    assert_eq!(runs, steps);
    assert!(by_runs.is_finite(), "non-finite weights were left in the network");
    assert!(by_runs == by_steps);
}

/// A transform for the augmentation tests: noise on every input value.
fn jitter(input: &mut [f64], rng: &mut dyn rand::RngCore) {
    use rand::Rng;
    for x in input {
        *x += rng.random_range(-0.05..0.05);
    }
}

#[test]
fn augment_transforms_each_training_sample_freshly_in_every_epoch() {
    use std::cell::RefCell;
    let train = class_data(40, 20);
    let val = class_data(10, 21);
    // Every call records the sample it got and the first value it drew.
    let seen = RefCell::new(Vec::<(Vec<f64>, u32)>::new());
    let mut net = Classifier::seeded(4);
    quiet()
        .epochs(3)
        .batch_size(7)
        .validation(&val)
        .augment(|input: &mut [f64], rng| {
            seen.borrow_mut().push((input.to_vec(), rng.next_u32()));
            jitter(input, rng);
        })
        .fit(&mut net, &train, &CrossEntropy, &mut Adam::new(0.01))
        .expect("fit");
    let seen = seen.into_inner();
    // Each training sample once per epoch, untransformed when it arrives; no validation sample.
    assert_eq!(seen.len(), 3 * train.len());
    for epoch in seen.chunks(train.len()) {
        let mut inputs: Vec<Vec<f64>> = epoch.iter().map(|(x, _)| x.clone()).collect();
        let mut expected: Vec<Vec<f64>> = (0..train.len()).map(|i| train.feature(i).to_vec()).collect();
        inputs.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        expected.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        assert_eq!(inputs, expected);
    }
    // Fresh draws in every epoch: the epochs' draws differ.
    let draws: Vec<Vec<u32>> = seen
        .chunks(train.len())
        .map(|e| e.iter().map(|&(_, d)| d).collect())
        .collect();
    assert!(draws[0] != draws[1] && draws[1] != draws[2]);
}

#[test]
fn augmented_training_is_deterministic_and_resumes_exactly() {
    let train = class_data(48, 22);
    let run = |seed: u64, augment: bool| {
        let mut net = Classifier::seeded(5);
        let trainer = quiet().epochs(4).batch_size(8).seed(seed);
        let trainer = if augment { trainer.augment(jitter) } else { trainer };
        let mut trainer = trainer;
        trainer
            .fit(&mut net, &train, &CrossEntropy, &mut Adam::new(0.01))
            .expect("fit");
        net
    };
    let (a, b) = (run(1, true), run(1, true));
    assert!(a == b, "the same seed must give the same weights");
    assert!(a != run(1, false), "the transform must change training");
    assert!(a != run(2, true));

    // Checkpoint after 2 epochs, resume to 4: the same weights as 4 epochs straight, so the
    // resumed epochs draw the same transforms.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("augment.safetensors");
    let mut first = Classifier::seeded(5);
    quiet()
        .epochs(2)
        .batch_size(8)
        .seed(1)
        .augment(jitter)
        .checkpoint(&path)
        .fit(&mut first, &train, &CrossEntropy, &mut Adam::new(0.01))
        .expect("fit");
    let mut resumed = Classifier::seeded(6);
    let mut optimizer = Adam::new(0.01);
    quiet()
        .epochs(4)
        .batch_size(8)
        .seed(1)
        .augment(jitter)
        .resume_from(&path)
        .fit(&mut resumed, &train, &CrossEntropy, &mut optimizer)
        .expect("resume");
    assert!(resumed == a, "resumed weights differ from a straight run");
}

#[test]
fn augment_applies_to_batches_of_one_trained_in_runs() {
    // Batches of one with plain SGD train in runs of steps: the transform still sees each
    // sample, and changes the result.
    let train = linear_data(30, 23);
    let calls = std::cell::Cell::new(0usize);
    let fit = |augment: bool| {
        let mut net = Linear::seeded(7);
        let trainer = quiet().epochs(2).batch_size(1);
        let mut trainer = if augment {
            trainer.augment(|x: &mut [f64], rng| {
                calls.set(calls.get() + 1);
                jitter(x, rng);
            })
        } else {
            trainer
        };
        trainer
            .fit(&mut net, &train, &MeanSquaredError, &mut Sgd::new(0.05))
            .expect("fit");
        net
    };
    let plain = fit(false);
    let augmented = fit(true);
    assert_eq!(calls.get(), 2 * train.len());
    assert!(plain != augmented);
}
