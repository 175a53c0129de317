//! MNIST with a 784-800-10 network (Simard et al. 2003 report 98.4% for this size with
//! cross-entropy).
//!
//! MNIST is not embedded (it is 11 MB): download the four IDX files (the gzip files are fine
//! as they are) from the MNIST page of Yann LeCun, or from a mirror such as the one used by
//! torchvision, into a directory, and pass it:
//!
//! ```sh
//! cargo run --release --example mnist -- DIR [--epochs N] [--seed N | --seeds N] [--out DIR]
//! ```
//!
//! The network has dropout (0.3) after the hidden layer and trains for 20 epochs with Adam
//! (1e-3, cosine annealing to 1e-6, batches of 128); the final weights are tested. The last
//! 5,000 training images are held out for validation (watched, not used for stopping); the
//! 10,000 test images are used once, at the end. `--seeds N` repeats it with N seeds. Prints the time per epoch and the
//! training throughput of `fit` with Adam.

mod common;

use common::Cli;
use retroprop::prelude::*;
use std::path::PathBuf;

retroprop::network! {
    /// 28x28 images to 10 digits.
    pub struct MnistNet {
        input: 784,
        hidden: dense(800) -> relu,
        drop: dropout(0.3),
        output: dense(10) -> softmax,
    }
}

const USAGE: &str = "usage: mnist DIR [--epochs N] [--seed N | --seeds N] [--out DIR]\n\
    DIR holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and\n\
    t10k-labels-idx1-ubyte (plain or .gz), from the MNIST page of Yann LeCun or a mirror.";

/// One training run; returns the test accuracy, epochs run, seconds per epoch and the
/// training throughput (samples/s).
fn run(
    data: &(Dataset<f32>, Dataset<f32>, retroprop::data::load::Labeled<f32>),
    seed: u64,
    epochs: usize,
    out: Option<&PathBuf>,
) -> Result<(f64, usize, f64, f64), Box<dyn std::error::Error>> {
    let (train, val, test) = data;
    let mut net = MnistNet::seeded(seed);
    let history = Trainer::new()
        .epochs(epochs)
        .batch_size(128)
        .seed(seed)
        .validation(val)
        .metric(Metric::Accuracy)
        .schedule(Schedule::cosine(epochs, 1e-6))
        .fit(&mut net, train, &CrossEntropy, &mut Adam::new(1e-3))?;
    let mut ws = MnistNet::workspace(1000);
    let mut predicted = Vec::new();
    for chunk in test.features.chunks(784 * 1000) {
        let out = net.forward_into(chunk, &mut ws)?;
        predicted.extend(argmax_columns(out.act, 10));
    }
    let cm = ConfusionMatrix::from_classes(&predicted, &test.labels, 10)?;
    let epochs_run = history.epochs.len();
    let seconds: f64 = history.epochs.iter().map(|e| e.elapsed_secs).sum();
    println!("seed {seed}: test accuracy {:.2}%\n{cm}", 100.0 * cm.accuracy());
    if let Some(out) = out {
        std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
        net.save(out.join("mnist.safetensors"))?;
        history.write_csv(&out.join("history.csv"))?;
        println!("wrote {0}/mnist.safetensors and {0}/history.csv", out.display());
    }
    Ok((
        cm.accuracy(),
        epochs_run,
        seconds / epochs_run.max(1) as f64,
        (train.len() * epochs_run) as f64 / seconds.max(1e-9),
    ))
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The directory of the MNIST files.
    pub dir: PathBuf,
    /// Epochs (default 20).
    pub epochs: usize,
    /// Seed of a single run (default 0).
    pub seed: u64,
    /// With `--seeds N`: N runs, seeds 0 to N-1.
    pub seeds: Option<u64>,
    /// Where to write the weights and history of a single run.
    pub out: Option<PathBuf>,
}

/// Parses the arguments (without the program name).
pub fn parse_args<I>(args: I) -> Result<Cli<Options>, lexopt::Error>
where
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString>,
{
    use lexopt::Arg::{Long, Short, Value};
    let (mut dir, mut epochs, mut seed, mut seeds, mut out) = (None, 20, 0, None, None);
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("epochs") => epochs = common::number(&mut parser, "--epochs")?,
            Long("seed") => seed = common::number(&mut parser, "--seed")?,
            Long("seeds") => seeds = Some(common::number(&mut parser, "--seeds")?),
            Long("out") => out = Some(PathBuf::from(parser.value()?)),
            Value(value) if dir.is_none() => dir = Some(PathBuf::from(value)),
            Long("help") | Short('h') => return Ok(Cli::Help),
            _ => return Err(arg.unexpected()),
        }
    }
    let dir = dir.ok_or("missing DIR, the directory of the MNIST files")?;
    Ok(Cli::Run(Options {
        dir,
        epochs,
        seed,
        seeds,
        out,
    }))
}

fn main() {
    let Options {
        dir,
        epochs,
        seed,
        seeds,
        out,
    } = common::settings_or_exit(parse_args(std::env::args_os().skip(1)), USAGE);
    let mnist = retroprop::data::load::read_mnist::<f32>(&dir)
        .unwrap_or_else(|e| common::exit_with(&format!("cannot read MNIST: {e}\n\n{USAGE}"), 1));
    let train_all = mnist
        .train
        .to_dataset()
        .unwrap_or_else(|e| common::exit_with(&e.to_string(), 1));
    let (train, val) = train_all.split_at(55_000);
    println!(
        "MNIST: {} training, {} validation, {} test images",
        train.len(),
        val.len(),
        mnist.test.len()
    );
    let data = (train, val, mnist.test);
    let runs: Vec<u64> = match seeds {
        Some(n) => (0..n).collect(),
        None => vec![seed],
    };
    let mut accuracies = Vec::new();
    for &seed in &runs {
        let out = if runs.len() == 1 { out.as_ref() } else { None };
        match run(&data, seed, epochs, out) {
            Ok((accuracy, epochs_run, per_epoch, throughput)) => {
                println!(
                    "seed {seed}: {epochs_run} epochs, {per_epoch:.1} s per epoch; fit throughput with Adam \
                     {throughput:.0} samples/s (validation included)"
                );
                accuracies.push(100.0 * accuracy);
            }
            Err(e) => common::exit_with(&format!("training failed: {e}"), 1),
        }
    }
    let (mean, std) = common::mean_std(&accuracies);
    println!("mnist, {} seed(s): test accuracy {mean:.2} ± {std:.2}%", runs.len());
}
