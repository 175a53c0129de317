//! Fisher's Iris (embedded): a 4-16-3 network over 10 seeds of split and initialization.
//!
//! Standardizes the features on the training split only, trains with Adam and early
//! stopping on a validation split, and reports the test accuracy of each seed and their mean.
//!
//! ```sh
//! cargo run --release --example iris -- [--seeds N]
//! ```

mod common;

use retroprop::data::preprocess::{stratified_split, Standardizer};
use retroprop::prelude::*;
use std::error::Error;

retroprop::network! {
    /// Four measurements to three species.
    pub struct IrisNet {
        input: 4,
        hidden: dense(16) -> tanh,
        output: dense(3) -> softmax,
    }
}

/// Trains with `seed` and returns the test accuracy and the epochs run.
pub fn run(seed: u64) -> Result<(f64, usize, ConfusionMatrix), Box<dyn Error>> {
    let iris = retroprop::datasets::iris::<f32>()?;
    let split = stratified_split(&iris.labels, 0.2, 0.2, seed);
    let (mut train, mut val, mut test) = (
        iris.subset(&split.train),
        iris.subset(&split.validation),
        iris.subset(&split.test),
    );
    let scaler = Standardizer::fit(&train.features, 4);
    for part in [&mut train, &mut val, &mut test] {
        scaler.transform(&mut part.features);
    }
    let (train_set, val_set) = (train.to_dataset()?, val.to_dataset()?);
    let mut net = IrisNet::seeded(seed);
    let history = Trainer::new()
        .epochs(300)
        .batch_size(16)
        .seed(seed)
        .validation(&val_set)
        .early_stopping(EarlyStopping::new(30))
        .progress(Progress::Quiet)
        .fit(&mut net, &train_set, &CrossEntropy, &mut Adam::new(0.01))?;
    let mut ws = IrisNet::workspace(test.len());
    let out = net.forward_into(&test.features, &mut ws)?;
    let cm = ConfusionMatrix::from_outputs_and_labels(out.act, &test.labels, 3)?;
    Ok((cm.accuracy(), history.epochs.len(), cm))
}

fn main() {
    let mut args = common::Args::from_env();
    if args.flag("--help") {
        common::exit_with("usage: iris [--seeds N]", 0);
    }
    let seeds: u64 = args
        .parsed("--seeds")
        .unwrap_or_else(|e| common::exit_with(&e, 2))
        .unwrap_or(10);
    if let Err(e) = args.rest() {
        common::exit_with(&e, 2);
    }
    let start = std::time::Instant::now();
    let mut accuracies = Vec::new();
    for seed in 0..seeds {
        match run(seed) {
            Ok((accuracy, epochs, cm)) => {
                println!(
                    "seed {seed}: test accuracy {:.2}% after {epochs} epochs",
                    100.0 * accuracy
                );
                if seed == 0 {
                    println!("confusion matrix of seed 0 (0 setosa, 1 versicolor, 2 virginica):\n{cm}");
                }
                accuracies.push(100.0 * accuracy);
            }
            Err(e) => common::exit_with(&format!("error: {e}"), 1),
        }
    }
    let (mean, std) = common::mean_std(&accuracies);
    println!(
        "iris, {seeds} seeds: mean test accuracy {mean:.2} ± {std:.2}% ({:.2} s in all)",
        start.elapsed().as_secs_f64()
    );
}
