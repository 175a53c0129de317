//! The examples' own code, run with fast settings: the digits main job reaches at least 95%
//! test accuracy, iris at least 95% mean test accuracy over 10 seeds, the server answers
//! and rejects requests, `mnist_cnn` learns from a small IDX directory written here, and the
//! examples parse their command lines.

// Each example declares `mod common;` for its shared helpers; included together here, the
// helper file is compiled once per example, which is what we want.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/digits.rs"]
mod digits;

#[allow(dead_code)]
#[path = "../examples/iris.rs"]
mod iris;

#[allow(dead_code)]
#[path = "../examples/serve.rs"]
mod serve;

#[allow(dead_code)]
#[path = "../examples/mnist_cnn.rs"]
mod mnist_cnn;

#[allow(dead_code)]
#[path = "../examples/text_classify.rs"]
mod text_classify;

use retroprop::prelude::*;

#[test]
fn digits_reaches_95_percent_and_writes_its_outputs() {
    let dir = tempfile::tempdir().expect("dir");
    let config = digits::Config {
        seed: 1,
        epochs: 15,
        out: Some(dir.path().to_path_buf()),
        verbose: false,
    };
    let report = digits::run(&config).expect("training");
    assert!(report.test_accuracy >= 0.95, "test accuracy {}", report.test_accuracy);
    assert_eq!(report.confusion.total(), 269);
    for file in ["digits.safetensors", "history.csv", "training.svg"] {
        let path = dir.path().join(file);
        assert!(path.metadata().map(|m| m.len() > 0).unwrap_or(false), "{file} missing");
    }
    let history = History::read_csv(&dir.path().join("history.csv")).expect("history");
    assert_eq!(history.epochs.len(), report.history.epochs.len());
    let svg = std::fs::read_to_string(dir.path().join("training.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("validation accuracy"));
    // The epoch whose weights early stopping kept is marked, with a legend entry.
    let best = report.history.best_epoch.expect("early stopping keeps a best epoch");
    let texts = svg_texts(&svg);
    assert!(
        texts.iter().any(|(_, text)| *text == digits::best_epoch_label(best)),
        "no marker legend for epoch {best}: {texts:?}"
    );
    // The x axes (the lowest tick labels, above the axis titles) count whole epochs.
    let axis_titles = texts.iter().filter(|(_, t)| *t == "epoch").map(|(y, _)| *y);
    let below = axis_titles.fold(f64::INFINITY, f64::min);
    let row = texts.iter().map(|(y, _)| *y).filter(|&y| y < below).fold(0.0, f64::max);
    let ticks: Vec<&str> = texts.iter().filter(|(y, _)| *y == row).map(|(_, t)| *t).collect();
    assert!(ticks.len() >= 6, "x tick labels {ticks:?}");
    for tick in &ticks {
        let epoch: usize = tick
            .parse()
            .unwrap_or_else(|_| panic!("x tick `{tick}` is not a whole number"));
        assert!((1..=report.history.epochs.len()).contains(&epoch), "x tick {epoch}");
    }
    // The saved weights are the trained network, and the server example can load them.
    let loaded = serve::DigitNet::load(dir.path().join("digits.safetensors")).expect("serve loads digits weights");
    let mut images = retroprop::data::datasets::digits::<f32>().expect("digits");
    images.features.iter_mut().for_each(|p| *p /= 16.0);
    let answer = serve::predict(&loaded, &images.features[..64]).expect("64 values");
    assert_eq!(
        answer.digit,
        report.net.forward_slice(&images.features[..64]).expect("64").imax()
    );
    assert_eq!(
        serve::predict(&loaded, &[0.0; 63]).unwrap_err(),
        retroprop::ShapeError::InputLength {
            expected: 64,
            actual: 63
        }
    );
}

#[test]
fn iris_reaches_95_percent_mean_over_ten_seeds() {
    let accuracies: Vec<f64> = (0..10).map(|seed| iris::run(seed).expect("training").0).collect();
    let mean = accuracies.iter().sum::<f64>() / 10.0;
    assert!(mean >= 0.95, "mean accuracy {mean}: {accuracies:?}");
}

/// The text elements of an SVG written by plotters: their `y` and their text.
fn svg_texts(svg: &str) -> Vec<(f64, &str)> {
    svg.split("<text ")
        .skip(1)
        .map(|element| {
            let y = element
                .split_once(" y=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .and_then(|(y, _)| y.parse().ok())
                .expect("a text element with y");
            let text = element
                .split_once('>')
                .and_then(|(_, rest)| rest.split_once("</text>"))
                .map(|(text, _)| text.trim())
                .expect("a closed text element");
            (y, text)
        })
        .collect()
}

fn args(list: &[&str]) -> Vec<std::ffi::OsString> {
    list.iter().map(Into::into).collect()
}

#[test]
fn the_examples_parse_their_command_lines() {
    use digits::common::{settings, Cli};
    // Good flags, in any order and in both `--name value` and `--name=value` forms.
    let Ok(Cli::Run(options)) = digits::parse_args(args(&["--seeds", "3", "--out", "o", "--epochs=7", "--seed", "5"]))
    else {
        panic!("good flags");
    };
    assert_eq!(options.seeds, Some(3));
    assert_eq!(options.config.out.as_deref(), Some(std::path::Path::new("o")));
    assert_eq!((options.config.epochs, options.config.seed), (7, 5));
    // Defaults.
    let Ok(Cli::Run(options)) = digits::parse_args(args(&[])) else {
        panic!("no flags");
    };
    let defaults = digits::Config::default();
    assert_eq!(options.seeds, None);
    assert_eq!(
        (options.config.epochs, options.config.seed),
        (defaults.epochs, defaults.seed)
    );
    assert_eq!(options.config.out, defaults.out);
    // Bad command lines are errors that say what is wrong.
    let error = |list: &[&str]| match digits::parse_args(args(list)) {
        Err(e) => e.to_string(),
        Ok(parsed) => panic!("{list:?} parsed as {parsed:?}"),
    };
    assert_eq!(error(&["--bogus"]), "invalid option '--bogus'");
    assert_eq!(
        error(&["--epochs", "5", "--seed"]),
        "missing argument for option '--seed'"
    );
    assert!(error(&["--epochs", "many"]).starts_with("--epochs `many`: "));
    assert_eq!(error(&["extra"]), "unexpected argument \"extra\"");
    // `--help` asks for the usage (exit status 0); errors print the usage too (status 2).
    assert!(matches!(
        digits::parse_args(args(&["--epochs", "5", "--help"])),
        Ok(Cli::Help)
    ));
    assert!(matches!(digits::parse_args(args(&["-h"])), Ok(Cli::Help)));
    assert_eq!(
        settings(digits::parse_args(args(&["--help"])), digits::USAGE).unwrap_err(),
        (digits::USAGE.to_owned(), 0)
    );
    let (message, status) = settings(digits::parse_args(args(&["--bogus"])), digits::USAGE).unwrap_err();
    assert_eq!(status, 2);
    assert!(
        message.contains("invalid option '--bogus'") && message.ends_with(digits::USAGE),
        "{message}"
    );
    assert_eq!(settings(Ok(Cli::Run(4)), "usage"), Ok(4));

    // The other examples included here (each with its own copy of `common`).
    use iris::common::Cli as IrisCli;
    use serve::common::Cli as ServeCli;
    assert!(matches!(iris::parse_args(args(&[])), Ok(IrisCli::Run(10))));
    assert!(matches!(iris::parse_args(args(&["--seeds", "4"])), Ok(IrisCli::Run(4))));
    assert!(iris::parse_args(args(&["--seeds"])).is_err());
    assert!(iris::parse_args(args(&["--seed", "4"])).is_err());
    let weights = |list: &[&str]| match serve::parse_args(args(list)) {
        Ok(ServeCli::Run(path)) => Ok(path),
        Ok(ServeCli::Help) => Err("help".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    assert_eq!(weights(&[]), Ok("digits-out/digits.safetensors".into()));
    assert_eq!(weights(&["m.safetensors"]), Ok("m.safetensors".into()));
    assert_eq!(weights(&["a", "b"]), Err("unexpected argument \"b\"".into()));
    assert_eq!(weights(&["--out", "a"]), Err("invalid option '--out'".into()));
}

/// Writes an IDX file: the magic number of unsigned bytes with `dims.len()` dimensions, the
/// dimensions, the data.
fn write_idx(path: &std::path::Path, dims: &[u32], data: &[u8]) {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).expect("write idx");
}

/// The embedded 8x8 digits scaled up to 28x28 (each pixel 3x3, a 2-pixel border), as an IDX
/// directory: the first `train` images for training, the next `test` for testing.
fn digits_as_idx(dir: &std::path::Path, train: usize, test: usize) {
    let digits = retroprop::data::datasets::digits::<f32>().expect("digits");
    let image = |s: usize| -> Vec<u8> {
        let mut out = vec![0u8; 28 * 28];
        for row in 0..24 {
            for col in 0..24 {
                let v = digits.features[s * 64 + (row / 3) * 8 + col / 3];
                out[(row + 2) * 28 + col + 2] = (v * 255.0 / 16.0).round() as u8;
            }
        }
        out
    };
    let labels = |range: std::ops::Range<usize>| -> Vec<u8> { range.map(|s| digits.labels[s] as u8).collect() };
    let images = |range: std::ops::Range<usize>| -> Vec<u8> { range.flat_map(image).collect() };
    let n = |k: usize| u32::try_from(k).expect("small");
    write_idx(
        &dir.join("train-images-idx3-ubyte"),
        &[n(train), 28, 28],
        &images(0..train),
    );
    write_idx(&dir.join("train-labels-idx1-ubyte"), &[n(train)], &labels(0..train));
    write_idx(
        &dir.join("t10k-images-idx3-ubyte"),
        &[n(test), 28, 28],
        &images(train..train + test),
    );
    write_idx(
        &dir.join("t10k-labels-idx1-ubyte"),
        &[n(test)],
        &labels(train..train + test),
    );
}

#[test]
fn mnist_cnn_learns_from_an_idx_directory_and_writes_its_outputs() {
    let data = tempfile::tempdir().expect("dir");
    digits_as_idx(data.path(), 480, 200);
    let out = tempfile::tempdir().expect("dir");
    let config = mnist_cnn::Config {
        epochs: 3,
        shifted: 1,
        out: Some(out.path().to_path_buf()),
        verbose: false,
        ..mnist_cnn::Config::new(data.path())
    };
    let report = mnist_cnn::run(&config).expect("training");
    assert_eq!(report.history.epochs.len(), 3);
    // Ten classes, 440 training images and a shifted copy of each, three epochs: far above
    // chance (10%).
    assert!(report.test_accuracy >= 0.6, "test accuracy {}", report.test_accuracy);
    assert_eq!(report.confusion.total(), 200);
    for file in ["mnist_cnn.safetensors", "history.csv", "training.svg"] {
        assert!(out.path().join(file).is_file(), "{file} missing");
    }
    let loaded = mnist_cnn::MnistCnn::load(out.path().join("mnist_cnn.safetensors")).expect("load");
    assert!(loaded == report.net);

    // A directory without the files is an error naming what is missing, not a panic.
    let empty = tempfile::tempdir().expect("dir");
    let error = mnist_cnn::run(&mnist_cnn::Config::new(empty.path()))
        .err()
        .expect("error");
    assert!(error.to_string().contains("train-images-idx3-ubyte"), "{error}");
}

#[test]
fn mnist_cnn_learns_with_fresh_shifts_in_every_epoch() {
    let data = tempfile::tempdir().expect("dir");
    digits_as_idx(data.path(), 480, 200);
    let config = mnist_cnn::Config {
        epochs: 3,
        shifted: 0,
        augment: true,
        out: None,
        verbose: false,
        ..mnist_cnn::Config::new(data.path())
    };
    let report = mnist_cnn::run(&config).expect("training");
    assert!(report.test_accuracy >= 0.5, "test accuracy {}", report.test_accuracy);
    let plain = mnist_cnn::run(&mnist_cnn::Config {
        augment: false,
        ..config
    })
    .expect("training");
    assert!(plain.net != report.net, "the shifts must change training");
}

#[test]
fn mnist_cnn_random_shift_moves_the_whole_image_by_up_to_two_pixels() {
    use rand::SeedableRng;
    let image: Vec<f32> = (1..=784).map(|v| v as f32).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut out = vec![f32::NAN; 784];
    let mut shifts = std::collections::BTreeSet::new();
    for _ in 0..200 {
        mnist_cnn::random_shift(&image, &mut out, &mut rng);
        // Pixel values name their source: find the shift from any moved pixel, then check
        // every pixel against it.
        let (at, &v) = out
            .iter()
            .enumerate()
            .find(|(_, &v)| v != 0.0)
            .expect("some pixel stays");
        let from = v as usize - 1;
        let dy = (at / 28) as i32 - (from / 28) as i32;
        let dx = (at % 28) as i32 - (from % 28) as i32;
        assert!(dy.abs() <= mnist_cnn::MAX_SHIFT && dx.abs() <= mnist_cnn::MAX_SHIFT);
        for (i, &value) in out.iter().enumerate() {
            let (y, x) = ((i / 28) as i32 - dy, (i % 28) as i32 - dx);
            let expected = if (0..28).contains(&y) && (0..28).contains(&x) {
                image[(y * 28 + x) as usize]
            } else {
                0.0
            };
            assert_eq!(value, expected, "pixel {i} with shift ({dy}, {dx})");
        }
        shifts.insert((dy, dx));
    }
    assert_eq!(shifts.len(), 25, "every shift from -2 to 2 in each direction");
}

#[test]
fn mnist_cnn_adds_shifted_copies_of_its_training_images() {
    // Two images with distinct pixels (1 to 784, and their negatives), labels 3 and 7.
    let first: Vec<f32> = (1..=784).map(|v| v as f32).collect();
    let second: Vec<f32> = first.iter().map(|v| -v).collect();
    let features = [first.clone(), second.clone()].concat();
    let train = Dataset::from_labels(features, 784, &[3, 7], 10).expect("dataset");
    let augmented = mnist_cnn::shifted_copies(&train, 2, 5).expect("copies");
    assert_eq!(augmented.len(), 6);
    assert_eq!(
        augmented.features()[..2 * 784],
        train.features()[..],
        "the originals come first"
    );
    let moved = |image: &[f32], dy: isize, dx: isize| -> Vec<f32> {
        (0..28isize)
            .flat_map(|y| (0..28isize).map(move |x| (y - dy, x - dx)))
            .map(|(y, x)| {
                if (0..28).contains(&y) && (0..28).contains(&x) {
                    image[(y * 28 + x) as usize]
                } else {
                    0.0
                }
            })
            .collect()
    };
    let mut shifts = Vec::new();
    for copy in 2..6 {
        let original = if copy % 2 == 0 { &first } else { &second };
        let shift = (-2..=2isize)
            .flat_map(|dy| (-2..=2isize).map(move |dx| (dy, dx)))
            .find(|&(dy, dx)| moved(original, dy, dx) == augmented.feature(copy))
            .unwrap_or_else(|| panic!("copy {copy} is not its image moved by at most 2 pixels"));
        shifts.push(shift);
        assert_eq!(
            augmented.target(copy),
            train.target(copy % 2),
            "copy {copy} keeps its label"
        );
    }
    assert!(shifts.iter().any(|&s| s != (0, 0)), "some copies move: {shifts:?}");
    // The same seed gives the same copies; no copies gives the originals.
    let again = mnist_cnn::shifted_copies(&train, 2, 5).expect("copies");
    assert_eq!(again.features(), augmented.features());
    assert_eq!(
        mnist_cnn::shifted_copies(&train, 0, 5).expect("none").features(),
        train.features()
    );
}

#[test]
fn mnist_cnn_parses_its_command_line() {
    use mnist_cnn::common::Cli;
    let Ok(Cli::Run(options)) = mnist_cnn::parse_args(args(&["data", "--seeds", "3", "--epochs", "4"])) else {
        panic!("parse");
    };
    assert_eq!(options.seeds, Some(3));
    assert_eq!(options.config.epochs, 4);
    assert_eq!(options.config.shifted, 0, "no fixed shifted copies by default");
    assert!(options.config.augment, "fresh shifts in every epoch by default");
    assert_eq!(options.config.dir, std::path::PathBuf::from("data"));
    let Ok(Cli::Run(options)) = mnist_cnn::parse_args(args(&["data", "--shifted", "2", "--no-augment"])) else {
        panic!("parse");
    };
    assert_eq!(options.config.shifted, 2);
    assert!(!options.config.augment);
    assert_eq!(mnist_cnn::Config::new("data").epochs, 30);
    assert!(mnist_cnn::parse_args(args(&[])).is_err(), "DIR is required");
    assert!(matches!(mnist_cnn::parse_args(args(&["-h"])), Ok(Cli::Help)));
}

/// A CSV of three topics, with quoted texts (commas, quotes), for `text_classify`.
fn topics_csv(path: &std::path::Path) {
    let topics = [
        ("sport", ["goal", "match", "team", "striker", "keeper", "league"]),
        ("cooking", ["flour", "butter", "oven", "recipe", "sugar", "bake"]),
        ("music", ["guitar", "chorus", "album", "drums", "melody", "band"]),
    ];
    let mut text = String::from("id,topic,text\n");
    for i in 0..150 {
        let (topic, words) = topics[i % 3];
        let a = words[i % 6];
        let b = words[(i / 3 + 2) % 6];
        text.push_str(&format!("{i},{topic},\"the {a}, a \"\"{b}\"\" and more\"\n"));
    }
    std::fs::write(path, text).expect("write csv");
}

#[test]
fn text_classify_trains_on_a_csv_file_and_writes_a_classifier() {
    use retroprop::data::classifier::TextClassifier;
    use retroprop::data::text::HashingVectorizer;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("topics.csv");
    topics_csv(&file);
    let out = dir.path().join("out");
    let config = text_classify::Config {
        file: Some(file),
        label_column: "topic".into(),
        out: Some(out.clone()),
        classify: vec!["a new album from the band".into()],
        verbose: false,
        ..text_classify::Config::default()
    };
    let data = text_classify::load(&config).expect("load");
    assert_eq!(data.class_names, ["cooking", "music", "sport"]);
    let report = text_classify::run(&config, &data).expect("run");
    assert!(report.test_accuracy >= 0.9, "{report:?}");
    assert_eq!(report.test_samples, 30);
    assert_eq!(report.definition, "input: sparse(262144), output: dense(4) -> softmax");
    assert_eq!(report.classified[0].1, "music");
    // The classifier file reloads with its vectorizer and classes and predicts alike.
    let model = TextClassifier::<text_classify::Linear4, HashingVectorizer<{ text_classify::LINEAR_FEATURES }>>::load(
        &out.join("text_classifier.safetensors"),
    )
    .expect("load classifier");
    assert_eq!(model.classes(), ["cooking", "music", "sport"]);
    assert_eq!(
        model.predict("butter and sugar in the oven").expect("predict"),
        "cooking"
    );
    // The split: 70/10/20 by class, every sample once.
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("split-seed0.json")).expect("split")).expect("json");
    let sizes: Vec<usize> = ["train", "validation", "test"]
        .iter()
        .map(|part| split[part].as_array().expect("indices").len())
        .collect();
    assert_eq!(sizes, [105, 15, 30]);
    assert_eq!(text_classify::peak_memory().is_some(), cfg!(target_os = "linux"));
}

#[test]
fn text_classify_hidden_layer_and_copies_and_bad_input() {
    // The embedded sentences, twice (the copy with shuffled words), through the hidden layer.
    let config = text_classify::Config {
        hidden: true,
        uci_copies: 2,
        epochs: 2,
        verbose: false,
        ..text_classify::Config::default()
    };
    let data = text_classify::load(&config).expect("load");
    assert_eq!(data.len(), 6000);
    let (first, copy) = (&data.texts[7], &data.texts[3007]);
    let mut a: Vec<&str> = first.split_whitespace().collect();
    let mut b: Vec<&str> = copy.split_whitespace().collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b, "a copy has the same words");
    let report = text_classify::run(&config, &data).expect("run");
    assert!(report.definition.contains("hidden: dense(64) -> relu"));
    assert!(report.test_accuracy > 0.7, "{report:?}");
    // A missing column names the file and the columns there are.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("t.tsv");
    std::fs::write(&file, "label\tsentence\n1\tgood\n0\tbad\n").expect("write");
    let config = text_classify::Config {
        file: Some(file),
        verbose: false,
        ..text_classify::Config::default()
    };
    let error = text_classify::load(&config).unwrap_err().to_string();
    assert!(error.contains("t.tsv") && error.contains("label, sentence"), "{error}");
}

#[test]
fn text_classify_parses_its_command_line() {
    use text_classify::common::Cli;
    let parsed = text_classify::parse_args(args(&[
        "data.csv.gz",
        "--label-column",
        "y",
        "--text-column",
        "body",
        "--format",
        "csv",
        "--hidden",
        "--seeds",
        "5",
        "--lr",
        "0.003",
        "--l2",
        "0",
        "--batch-size",
        "64",
        "--char-ngrams",
        "3-6",
        "--classify",
        "hello",
        "--no-naive-bayes",
        "--no-negation",
    ]));
    let Ok(Cli::Run(options)) = parsed else {
        panic!("{parsed:?}");
    };
    let c = &options.config;
    assert_eq!(c.file.as_deref(), Some(std::path::Path::new("data.csv.gz")));
    assert_eq!((c.label_column.as_str(), c.text_column.as_str()), ("y", "body"));
    assert_eq!(c.format, Some(retroprop::data::load::TextFormat::Csv));
    assert!(c.hidden);
    assert_eq!(options.seeds, Some(5));
    assert_eq!(
        (c.lr, c.l2, c.batch_size, c.char_ngrams),
        (Some(0.003), Some(0.0), 64, Some((3, 6)))
    );
    assert!(!c.naive_bayes && !c.negation);
    assert_eq!(c.classify, ["hello"]);
    let error = |list: &[&str]| match text_classify::parse_args(args(list)) {
        Err(e) => e.to_string(),
        Ok(parsed) => panic!("{list:?} parsed as {parsed:?}"),
    };
    assert!(error(&["--format", "json"]).contains("expected `tsv` or `csv`"));
    assert!(error(&["--char-ngrams", "5-2"]).contains("expected MIN-MAX"));
    assert!(error(&["f.tsv", "--uci-copies", "4"]).contains("embedded sentences only"));
    assert!(error(&["--epochs", "0"]).contains("at least 1"));
    assert!(matches!(text_classify::parse_args(args(&["--help"])), Ok(Cli::Help)));
    let Ok(Cli::Run(defaults)) = text_classify::parse_args(args(&[])) else {
        panic!("defaults");
    };
    assert_eq!(defaults.config, text_classify::Config::default());
    let d = &defaults.config;
    assert!(d.naive_bayes && d.negation);
    assert_eq!(
        (d.epochs, d.learning_rate(), d.l2_penalty(2), d.l2_penalty(3)),
        (40, 1e-2, 5e-4, 2e-4)
    );
    assert!(d.uses_naive_bayes(2) && !d.uses_naive_bayes(3));
}

/// The default features of two classes (naive Bayes ratios of binary features, negation
/// marks, separate norms) train and are saved with the classifier: the reloaded model
/// predicts what the trained one did, with the same probabilities.
#[test]
fn text_classify_two_classes_use_naive_bayes_features_saved_with_the_model() {
    use retroprop::data::classifier::TextClassifier;
    use retroprop::data::text::HashingVectorizer;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("reviews.tsv");
    let mut text = String::from("label\ttext\n");
    let (good, bad) = (
        ["great", "lovely", "tasty", "friendly"],
        ["awful", "rude", "cold", "bland"],
    );
    for i in 0..120 {
        let (label, word, other) = if i % 2 == 0 {
            ("pos", good[i % 4], bad[(i / 2) % 4])
        } else {
            ("neg", bad[i % 4], good[(i / 2) % 4])
        };
        // Half of the texts name the other side's word negated: only the marks tell them apart.
        if i % 4 < 2 {
            text.push_str(&format!("{label}\tthe food was {word} here\n"));
        } else {
            text.push_str(&format!("{label}\tthe staff was not {other}, really\n"));
        }
    }
    std::fs::write(&file, text).expect("write");
    let out = dir.path().join("out");
    let config = text_classify::Config {
        file: Some(file),
        out: Some(out.clone()),
        classify: vec!["the service was not rude".into()],
        verbose: false,
        ..text_classify::Config::default()
    };
    let data = text_classify::load(&config).expect("load");
    let report = text_classify::run(&config, &data).expect("run");
    assert!(report.test_accuracy >= 0.95, "{report:?}");
    assert_eq!(report.classified[0].1, "pos", "{report:?}");
    let model = TextClassifier::<text_classify::Linear2, HashingVectorizer<{ text_classify::LINEAR_FEATURES }>>::load(
        &out.join("text_classifier.safetensors"),
    )
    .expect("load classifier");
    let features = model.vectorizer();
    assert!(features.negation && features.binary && features.separate_norms);
    let p = model.predict_proba("the service was not rude").expect("predict");
    let positive = model.classes().iter().position(|c| c == "pos").expect("class");
    assert!((p[positive] - report.classified[0].2).abs() < 1e-6, "{p:?} {report:?}");
}
