//! Sentiment of review sentences (the embedded UCI Sentiment Labelled Sentences: Amazon,
//! IMDb, Yelp; 3000 sentences). A hashing vectorizer turns each sentence into sparse TF-IDF
//! features over 2^16 buckets (word unigrams and bigrams and character 2- to 5-grams,
//! L2-normalized; only the features present are stored), and a softmax layer with an L2
//! penalty (multinomial logistic regression) reads them through `input: sparse(65536)`; a
//! hidden layer did not help on validation. `text_classify` does the same for any file.
//!
//! ```sh
//! cargo run --release --example sentiment -- [--seeds N] ["a sentence to classify" ...]
//! ```
//!
//! Prints the test accuracy (of each seed, and their mean with `--seeds`), then classifies
//! the sentences given on the command line.

mod common;

use common::Cli;
use retroprop::data::classifier::TextClassifier;
use retroprop::data::preprocess::stratified_split;
use retroprop::data::sparse::SparseDataset;
use retroprop::data::text::{HashingVectorizer, Weighting};
use retroprop::prelude::*;
use retroprop::train::evaluate_sparse;
use std::error::Error;

/// Number of hashed features.
const FEATURES: usize = 1 << 16;

retroprop::network! {
    /// Hashed text features to negative / positive.
    pub struct SentimentNet {
        input: sparse(65536),
        output: dense(2) -> softmax,
    }
}

/// The vectorizer configuration the example uses.
pub fn vectorizer() -> HashingVectorizer<FEATURES> {
    HashingVectorizer::new()
        .with_bigrams(true)
        .with_char_ngrams(2, 5)
        .with_weighting(Weighting::TfIdf)
}

/// A trained model: the vectorizer fitted on the training texts, the network and the class
/// names.
pub type Model = TextClassifier<SentimentNet, HashingVectorizer<FEATURES>>;

/// Probability that `text` is positive.
pub fn positive(model: &Model, text: &str) -> f32 {
    model.predict_proba(text).map_or(0.5, |p| p[1])
}

/// Trains with `seed` (split, initialization, shuffling); returns the model and its test accuracy.
pub fn run(seed: u64, verbose: bool) -> Result<(Model, f64), Box<dyn Error>> {
    let data = retroprop::data::datasets::sentiment()?;
    let split = stratified_split(&data.labels, 0.1, 0.2, seed);
    let (train, val, test) = (
        data.subset(&split.train),
        data.subset(&split.validation),
        data.subset(&split.test),
    );
    let mut vectorizer = vectorizer();
    vectorizer.fit(train.texts.iter().map(String::as_str));
    let encode = |part: &retroprop::data::load::LabeledText| {
        SparseDataset::from_labels(
            vectorizer.transform_all_sparse(part.texts.iter().map(String::as_str)),
            &part.labels,
            2,
        )
    };
    let (train_set, val_set, test_set) = (encode(&train)?, encode(&val)?, encode(&test)?);
    let mut net = SentimentNet::seeded(seed);
    Trainer::new()
        .epochs(60)
        .batch_size(32)
        .seed(seed)
        .validation(&val_set)
        .metric(Metric::Accuracy)
        .early_stopping(EarlyStopping::new(8))
        .regularization(Regularization {
            l2: 2e-4,
            ..Regularization::default()
        })
        .progress(if verbose { Progress::Auto } else { Progress::Quiet })
        .fit_sparse(&mut net, &train_set, &CrossEntropy, &mut Adam::new(1e-2))?;
    let mut ws = SentimentNet::workspace(test_set.len());
    let (_, cm) = evaluate_sparse(&net, &test_set, &CrossEntropy, &mut ws, true)?;
    let accuracy = cm.map_or(0.0, |cm| cm.accuracy());
    Ok((
        TextClassifier::new(net, vectorizer, data.class_names.clone())?,
        accuracy,
    ))
}

/// The command line's usage.
pub const USAGE: &str = "usage: sentiment [--seeds N] [\"sentence\" ...]\n\
    (put `--` before sentences that start with `-`)";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// With `--seeds N`: train N times and report the mean accuracy.
    pub seeds: Option<u64>,
    /// Sentences to classify.
    pub sentences: Vec<String>,
}

/// Parses the arguments (without the program name).
pub fn parse_args<I>(args: I) -> Result<Cli<Options>, lexopt::Error>
where
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString>,
{
    use lexopt::Arg::{Long, Short, Value};
    use lexopt::ValueExt;
    let mut options = Options {
        seeds: None,
        sentences: Vec::new(),
    };
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("seeds") => options.seeds = Some(common::number(&mut parser, "--seeds")?),
            Value(sentence) => options.sentences.push(sentence.string()?),
            Long("help") | Short('h') => return Ok(Cli::Help),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(Cli::Run(options))
}

fn main() {
    let Options { seeds, sentences } = common::settings_or_exit(parse_args(std::env::args_os().skip(1)), USAGE);
    let start = std::time::Instant::now();
    let mut accuracies = Vec::new();
    let mut model = None;
    for seed in 0..seeds.unwrap_or(1) {
        let (m, accuracy) = run(seed, seeds.is_none()).unwrap_or_else(|e| common::exit_with(&format!("error: {e}"), 1));
        println!("seed {seed}: test accuracy {:.2}% (600 sentences)", 100.0 * accuracy);
        accuracies.push(100.0 * accuracy);
        model.get_or_insert(m);
    }
    if let Some(n) = seeds {
        let (mean, std) = common::mean_std(&accuracies);
        println!(
            "sentiment, {n} seeds: test accuracy {mean:.2} ± {std:.2}% ({:.1} s per run)",
            start.elapsed().as_secs_f64() / n as f64
        );
    }
    if let Some(model) = model {
        for sentence in &sentences {
            let p = positive(&model, sentence);
            let label = if p >= 0.5 { "positive" } else { "negative" };
            println!("{label} ({:.0}% positive): {sentence}", 100.0 * p);
        }
    }
}
