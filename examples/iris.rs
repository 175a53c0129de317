//! Fisher's Iris (embedded): a 4-16-3 network over 10 seeds of split and initialization.
//!
//! Standardizes the features on the training split only, trains with Adam and early
//! stopping on a validation split, and reports the test accuracy of each seed and their mean.
//!
//! ```sh
//! cargo run --release --example iris -- [--seeds N]
//! ```

pub mod common;

use common::Cli;
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
    let iris = retroprop::data::datasets::iris::<f32>()?;
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

/// The command line's usage.
pub const USAGE: &str = "usage: iris [--seeds N]";

/// Parses the arguments (without the program name): the number of seeds (default 10).
pub fn parse_args<I>(args: I) -> Result<Cli<u64>, lexopt::Error>
where
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString>,
{
    use lexopt::Arg::{Long, Short};
    let mut seeds = 10;
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("seeds") => seeds = common::number(&mut parser, "--seeds")?,
            Long("help") | Short('h') => return Ok(Cli::Help),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(Cli::Run(seeds))
}

fn main() {
    let seeds = common::settings_or_exit(parse_args(std::env::args_os().skip(1)), USAGE);
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
