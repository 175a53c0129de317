//! Serves predictions from a saved model to several threads at once.
//!
//! Loads the weights written by the digits example (run `cargo run --release --example
//! digits` first, or pass another file written for `DigitNet`), then answers requests for
//! `&[f32]` inputs from four threads sharing one network through `Arc` — inference takes
//! `&self`, so no lock is needed. Bad requests get typed errors, not panics.
//!
//! ```sh
//! cargo run --release --example serve -- [digits-out/digits.safetensors]
//! ```

pub mod common;

use common::Cli;
use retroprop::ShapeError;
use std::path::PathBuf;
use std::sync::Arc;

#[path = "common/digit_net.rs"]
mod digit_net;

pub use digit_net::DigitNet;

/// A prediction: the most likely digit and its probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The digit.
    pub digit: usize,
    /// Its probability.
    pub probability: f32,
}

/// Answers one request: 64 pixel values in [0, 1].
pub fn predict(net: &DigitNet, pixels: &[f32]) -> Result<Prediction, ShapeError> {
    let p = net.forward_slice(pixels)?;
    let digit = p.imax();
    Ok(Prediction {
        digit,
        probability: p[digit],
    })
}

/// The command line's usage.
pub const USAGE: &str = "usage: serve [WEIGHTS.safetensors]";

/// Parses the arguments (without the program name): the weight file (default
/// `digits-out/digits.safetensors`).
pub fn parse_args<I>(args: I) -> Result<Cli<PathBuf>, lexopt::Error>
where
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString>,
{
    use lexopt::Arg::{Long, Short, Value};
    let mut path = None;
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Value(value) if path.is_none() => path = Some(PathBuf::from(value)),
            Long("help") | Short('h') => return Ok(Cli::Help),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(Cli::Run(
        path.unwrap_or_else(|| PathBuf::from("digits-out/digits.safetensors")),
    ))
}

fn main() {
    let path = common::settings_or_exit(parse_args(std::env::args_os().skip(1)), USAGE);
    let net = match DigitNet::load(&path) {
        Ok(net) => Arc::new(net),
        Err(e) => common::exit_with(
            &format!("cannot load the model: {e}\n(run `cargo run --release --example digits` to write one)"),
            1,
        ),
    };
    let mut digits =
        retroprop::data::datasets::digits::<f32>().unwrap_or_else(|e| common::exit_with(&e.to_string(), 1));
    digits.features.iter_mut().for_each(|p| *p /= 16.0);
    let digits = Arc::new(digits);

    let start = std::time::Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let (net, digits) = (Arc::clone(&net), Arc::clone(&digits));
            std::thread::spawn(move || {
                let (mut correct, mut answered) = (0usize, 0usize);
                for i in (worker..digits.len()).step_by(4) {
                    let pixels = &digits.features[i * 64..(i + 1) * 64];
                    if let Ok(prediction) = predict(&net, pixels) {
                        answered += 1;
                        correct += usize::from(prediction.digit == digits.labels[i]);
                    }
                }
                (answered, correct)
            })
        })
        .collect();
    let (mut answered, mut correct) = (0, 0);
    for worker in workers {
        let (a, c) = worker.join().unwrap_or((0, 0));
        answered += a;
        correct += c;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "answered {answered} requests from 4 threads in {:.1} ms ({:.0} requests/s); {:.2}% correct \
         (all 1797 images, training images included)",
        elapsed * 1e3,
        answered as f64 / elapsed,
        100.0 * correct as f64 / answered.max(1) as f64
    );
    // Bad requests are typed errors.
    for bad in [&[0.5f32; 10][..], &[0.1f32; 100][..]] {
        match predict(&net, bad) {
            Ok(p) => println!("unexpected answer {p:?}"),
            Err(e) => println!("request of {} values rejected: {e}", bad.len()),
        }
    }
}
