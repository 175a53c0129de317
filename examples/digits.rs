//! The main job: classify the embedded 8x8 handwritten digits (1797 images, UCI / scikit-learn).
//!
//! Trains a 64-128-10 network with Adam on a stratified 70/15/15 split (early stopping on the
//! validation loss), prints per-epoch progress, the test accuracy and the confusion matrix,
//! and writes the weights, the training history (CSV) and a plot of the training curves
//! (SVG) into `--out` (default `./digits-out/`).
//!
//! ```sh
//! cargo run --release --example digits -- [--out DIR] [--seed N] [--epochs N] [--seeds N]
//! ```
//!
//! With `--seeds N` it trains N times (seeds 0 to N-1 for the split and initialization) and
//! prints the mean and standard deviation of the test accuracy, writing nothing.

pub mod common;

use common::Cli;
use retroprop::data::preprocess::stratified_split;
use retroprop::prelude::*;
use std::error::Error;
use std::path::{Path, PathBuf};

#[path = "common/digit_net.rs"]
mod digit_net;

pub use digit_net::DigitNet;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seed of the split, the initialization, shuffling and dropout.
    pub seed: u64,
    /// Maximum epochs (early stopping usually ends sooner).
    pub epochs: usize,
    /// Where to write outputs (`None`: write nothing).
    pub out: Option<PathBuf>,
    /// Print progress.
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 0,
            epochs: 100,
            out: Some(PathBuf::from("digits-out")),
            verbose: true,
        }
    }
}

/// What a run produced.
pub struct Report {
    /// The trained network (best validation loss).
    pub net: DigitNet,
    /// Accuracy on the held-out test split.
    pub test_accuracy: f64,
    /// Confusion matrix on the test split.
    pub confusion: ConfusionMatrix,
    /// The training history.
    pub history: History,
    /// Wall time of training, in seconds.
    pub seconds: f64,
}

/// Loads the data, trains, evaluates and (if asked) writes the outputs.
pub fn run(config: &Config) -> Result<Report, Box<dyn Error>> {
    let mut digits = retroprop::data::datasets::digits::<f32>()?;
    digits.features.iter_mut().for_each(|p| *p /= 16.0);
    let split = stratified_split(&digits.labels, 0.15, 0.15, config.seed);
    let train = digits.subset(&split.train).to_dataset()?;
    let val = digits.subset(&split.validation).to_dataset()?;
    let test = digits.subset(&split.test);

    let mut net = DigitNet::seeded(config.seed);
    let start = std::time::Instant::now();
    let history = Trainer::new()
        .epochs(config.epochs)
        .batch_size(32)
        .seed(config.seed)
        .validation(&val)
        .metric(Metric::Accuracy)
        .early_stopping(EarlyStopping::new(10))
        .progress(if config.verbose {
            Progress::Auto
        } else {
            Progress::Quiet
        })
        .fit(&mut net, &train, &CrossEntropy, &mut Adam::new(1e-3))?;
    let seconds = start.elapsed().as_secs_f64();

    let mut ws = DigitNet::workspace(test.len());
    let outputs = net.forward_into(&test.features, &mut ws)?;
    let confusion = ConfusionMatrix::from_outputs_and_labels(outputs.act, &test.labels, 10)?;
    let report = Report {
        test_accuracy: confusion.accuracy(),
        confusion,
        history,
        net,
        seconds,
    };
    if let Some(out) = &config.out {
        write_outputs(&report, out)?;
    }
    Ok(report)
}

fn write_outputs(report: &Report, out: &Path) -> Result<(), Box<dyn Error>> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    report.net.save(out.join("digits.safetensors"))?;
    report.history.write_csv(&out.join("history.csv"))?;
    common::plot::training_curves(&report.history, 0.8, &out.join("training.svg"))?;
    Ok(())
}

pub use common::plot::best_epoch_label;

/// The command line's usage.
pub const USAGE: &str = "usage: digits [--out DIR] [--seed N] [--epochs N] [--seeds N]";

/// What the command line asks for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The run (`--out`, `--seed`, `--epochs`).
    pub config: Config,
    /// With `--seeds N`: train N times and report mean and standard deviation.
    pub seeds: Option<u64>,
}

/// Parses the arguments (without the program name).
pub fn parse_args<I>(args: I) -> Result<Cli<Options>, lexopt::Error>
where
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString>,
{
    use lexopt::Arg::{Long, Short};
    let mut options = Options {
        config: Config::default(),
        seeds: None,
    };
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("out") => options.config.out = Some(PathBuf::from(parser.value()?)),
            Long("seed") => options.config.seed = common::number(&mut parser, "--seed")?,
            Long("epochs") => options.config.epochs = common::number(&mut parser, "--epochs")?,
            Long("seeds") => options.seeds = Some(common::number(&mut parser, "--seeds")?),
            Long("help") | Short('h') => return Ok(Cli::Help),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(Cli::Run(options))
}

fn main() {
    let Options { config, seeds } = common::settings_or_exit(parse_args(std::env::args_os().skip(1)), USAGE);
    if let Some(seeds) = seeds {
        repeat(&config, seeds);
        return;
    }
    single(&config);
}

/// Trains with `seeds` seeds and prints the mean and standard deviation.
fn repeat(config: &Config, seeds: u64) {
    let mut accuracies = Vec::new();
    let mut times = Vec::new();
    let mut epochs = Vec::new();
    for seed in 0..seeds {
        let run_config = Config {
            seed,
            out: None,
            verbose: false,
            ..config.clone()
        };
        let report = run(&run_config).unwrap_or_else(|e| common::exit_with(&format!("error: {e}"), 1));
        println!(
            "seed {seed}: test accuracy {:.2}%, {} epochs, {:.2} s",
            100.0 * report.test_accuracy,
            report.history.epochs.len(),
            report.seconds
        );
        accuracies.push(100.0 * report.test_accuracy);
        times.push(report.seconds);
        epochs.push(report.history.epochs.len() as f64);
    }
    let (mean, std) = common::mean_std(&accuracies);
    let (time, _) = common::mean_std(&times);
    let (epoch_mean, _) = common::mean_std(&epochs);
    println!("digits, {seeds} seeds: test accuracy {mean:.2} ± {std:.2}%, {epoch_mean:.0} epochs, {time:.2} s per run");
}

fn single(config: &Config) {
    match run(config) {
        Ok(report) => {
            let best = report.history.best_epoch.unwrap_or(report.history.epochs.len());
            println!(
                "\ntrained {} epochs in {:.2} s (best validation loss at epoch {best})",
                report.history.epochs.len(),
                report.seconds
            );
            println!(
                "test accuracy: {:.2}% ({} images)\n",
                100.0 * report.test_accuracy,
                report.confusion.total()
            );
            println!(
                "confusion matrix (rows: actual digit, columns: predicted):\n{}",
                report.confusion
            );
            if let Some(out) = &config.out {
                println!(
                    "wrote {0}/digits.safetensors, {0}/history.csv and {0}/training.svg",
                    out.display()
                );
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
}
