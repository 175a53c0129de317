//! Hostile input and careless use: corrupted files of every format (property tests), writes
//! interrupted at every step, readers racing writers, and training on bad data.

mod common;

use proptest::prelude::*;
use retroprop::data::load::{self, CsvOptions, LoadError};
use retroprop::io::weights::{self, WeightsError};
use retroprop::io::{write_atomic_failing_at, WriteStep};
use retroprop::prelude::*;
use std::io::{Cursor, Write};
use std::path::Path;

retroprop::network! {
    struct Small { input: 4, hidden: dense(6) -> relu, out: dense(3) -> softmax }
}

fn idx_bytes() -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3];
    out.extend((0..18).map(|i| i as u8));
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

const CSV: &str = "f1,f2,label\n1.5,2,0\n3,4.25,1\n-1,0,2\n";
const TSV: &str = "label\ttext\tsource\n1\tGood case.\tamazon\n0\tBad.\tyelp\n";

/// A corruption of a valid file: truncation, bit flips, or bytes spliced in.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(prop::sample::Index),
    Flip(Vec<(prop::sample::Index, u8)>),
    Splice(prop::sample::Index, Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Damage::Truncate),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..8).prop_map(Damage::Flip),
        (any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Damage::Splice(at, bytes)),
    ]
}

fn apply(bytes: &[u8], damage: &Damage) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match damage {
        Damage::Truncate(at) => out.truncate(at.index(bytes.len())),
        Damage::Flip(flips) => {
            for (at, bit) in flips {
                let i = at.index(out.len());
                out[i] ^= 1 << bit;
            }
        }
        Damage::Splice(at, extra) => {
            let i = at.index(out.len());
            out.splice(i..i, extra.iter().copied());
        }
    }
    out
}

fn named(error: &dyn std::error::Error, name: &str) -> bool {
    let message = error.to_string();
    message.contains(name) && message.len() > name.len() + 5
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn damaged_idx_files_give_errors_not_panics(damage in damage(), zipped in any::<bool>()) {
        let valid = idx_bytes();
        let bytes = apply(&if zipped { gzip(&valid) } else { valid }, &damage);
        let name = Path::new("damaged.idx");
        let result = load::reader(Cursor::new(bytes), name, 1 << 20)
            .and_then(|r| load::read_idx_from(r, name, 1 << 16));
        match result {
            Ok(array) => prop_assert_eq!(array.data.len(), array.dims.iter().product::<usize>()),
            Err(e) => prop_assert!(named(&e, "damaged.idx"), "{}", e),
        }
    }

    #[test]
    fn damaged_csv_files_give_errors_not_panics(damage in damage(), zipped in any::<bool>()) {
        let bytes = apply(&if zipped { gzip(CSV.as_bytes()) } else { CSV.as_bytes().to_vec() }, &damage);
        let name = Path::new("damaged.csv");
        let options = CsvOptions { header: true, ..CsvOptions::default() };
        let result = load::reader(Cursor::new(bytes), name, 1 << 20)
            .and_then(|r| load::read_csv_from::<f32>(r, name, &options));
        match result {
            Ok(data) => prop_assert_eq!(data.features.len(), data.len() * data.inputs),
            Err(e) => prop_assert!(named(&e, "damaged.csv"), "{}", e),
        }
    }

    #[test]
    fn damaged_tsv_files_give_errors_not_panics(damage in damage()) {
        let bytes = apply(TSV.as_bytes(), &damage);
        let name = Path::new("damaged.tsv");
        match load::read_labeled_text_from(Cursor::new(bytes), name, "label", "text") {
            Ok(data) => prop_assert_eq!(data.texts.len(), data.labels.len()),
            Err(e) => prop_assert!(named(&e, "damaged.tsv"), "{}", e),
        }
    }

    #[test]
    fn damaged_weight_files_give_errors_not_panics(damage in damage()) {
        let valid = weights::to_bytes(&Small::seeded(1)).expect("bytes");
        let bytes = apply(&valid, &damage);
        let name = Path::new("damaged.safetensors");
        match weights::from_bytes::<Small>(&bytes, name) {
            Ok(net) => prop_assert!(net.is_finite()),
            Err(e) => prop_assert!(named(&e, "damaged.safetensors"), "{}", e),
        }
    }
}

/// A safetensors file with a hand-written header.
fn safetensors_with(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn hostile_weight_headers_are_rejected() {
    let name = Path::new("hostile.safetensors");
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "duplicate",
            safetensors_with(
                r#"{"hidden.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"hidden.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                &[0; 4],
            ),
            "twice",
        ),
        (
            "huge header",
            {
                let mut b = (1u64 << 40).to_le_bytes().to_vec();
                b.extend_from_slice(b"{}");
                b
            },
            "header declares",
        ),
        (
            "huge shape",
            safetensors_with(
                r#"{"hidden.bias":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4]}}"#,
                &[0; 4],
            ),
            "hostile.safetensors",
        ),
        (
            "wrong dtype",
            safetensors_with(
                r#"{"hidden.bias":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#,
                &[0; 4],
            ),
            "hostile.safetensors",
        ),
        ("not json", safetensors_with("{not json", &[]), "not valid JSON"),
    ];
    for (what, bytes, expected) in cases {
        let err = weights::from_bytes::<Small>(&bytes, name).unwrap_err();
        assert!(err.to_string().contains(expected), "{what}: {err}");
        assert!(err.to_string().contains("hostile.safetensors"), "{what}: {err}");
    }
    // Missing and unexpected tensors are listed together (see tests/weights.rs for more).
    let bytes = safetensors_with(
        r#"{"other.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        &[0; 4],
    );
    let err = weights::from_bytes::<Small>(&bytes, name).unwrap_err();
    let WeightsError::Mismatch { problems, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(problems.len(), 5, "{problems:?}"); // four missing, one unexpected
}

#[test]
fn a_write_failing_at_any_step_leaves_the_previous_file_loadable() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("model.safetensors");
    let old = Small::seeded(1);
    old.save(&path).expect("save");
    let new_bytes = weights::to_bytes(&Small::seeded(2)).expect("bytes");
    for step in WriteStep::ALL {
        let result = write_atomic_failing_at(&path, |f| f.write_all(&new_bytes), Some(step));
        assert!(result.is_err(), "{step:?}");
        assert!(Small::load(&path).expect("the old file loads") == old, "{step:?}");
        let files = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(files, 1, "a temporary file was left behind after a failure at {step:?}");
    }
    write_atomic_failing_at(&path, |f| f.write_all(&new_bytes), None).expect("write");
    assert!(Small::load(&path).expect("load") == Small::seeded(2));
}

#[test]
fn a_reader_racing_a_writer_sees_the_old_or_the_new_weights() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("shared.safetensors");
    let (a, b) = (Small::seeded(1), Small::seeded(2));
    a.save(&path).expect("save");
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            for i in 0..200 {
                let net = if i % 2 == 0 { Small::seeded(2) } else { Small::seeded(1) };
                net.save(&path).expect("save");
            }
        })
    };
    let mut loads = 0;
    while !writer.is_finished() || loads < 50 {
        let net = Small::load(&path).expect("a reader never sees a partial file");
        assert!(net == a || net == b);
        loads += 1;
    }
    writer.join().expect("writer");
}

#[test]
fn training_on_bad_data_gives_clear_errors_or_documented_behaviour() {
    let quiet = || Trainer::<f32>::new().epochs(3).batch_size(4).progress(Progress::Quiet);
    let good_x = common::values(1, 4 * 12, 1.0)
        .iter()
        .map(|&v| v as f32)
        .collect::<Vec<_>>();
    let labels: Vec<usize> = (0..12).map(|i| i % 3).collect();
    let good = Dataset::from_labels(good_x.clone(), 4, &labels, 3).expect("valid");

    // An exploding learning rate: a Diverged error, finite weights.
    let mut net = Small::seeded(1);
    let err = Trainer::new()
        .epochs(50)
        .progress(Progress::Quiet)
        .fit(&mut net, &good, &CrossEntropy, &mut Sgd::new(1e30f32))
        .unwrap_err();
    assert!(matches!(err, TrainError::Diverged { .. }), "{err}");
    assert!(net.is_finite());

    // NaN and infinite inputs: Diverged at the first bad batch, weights untouched.
    for bad in [f32::NAN, f32::INFINITY] {
        let mut x = good_x.clone();
        x[0] = bad;
        let data = Dataset::from_labels(x, 4, &labels, 3).expect("valid");
        let mut net = Small::seeded(1);
        let err = quiet()
            .shuffle(false)
            .fit(&mut net, &data, &CrossEntropy, &mut Sgd::new(0.1))
            .unwrap_err();
        assert!(matches!(err, TrainError::Diverged { epoch: 1, batch: 1, .. }), "{err}");
        assert!(net == Small::seeded(1));
    }

    // All-constant features: training runs (the gradients of the first layer's weights
    // are as for any input) and standardization maps the feature to zero, not NaN.
    let constant = Dataset::from_labels(vec![3.0; 4 * 12], 4, &labels, 3).expect("valid");
    let mut net = Small::seeded(1);
    assert!(quiet()
        .fit(&mut net, &constant, &CrossEntropy, &mut Sgd::new(0.1))
        .is_ok());
    let scaler = retroprop::data::preprocess::Standardizer::fit(constant.features(), 4);
    let mut x = constant.features().to_vec();
    scaler.transform(&mut x);
    assert!(x.iter().all(|&v| v == 0.0));

    // A batch larger than the data set: one batch per epoch.
    let history = quiet()
        .batch_size(1000)
        .fit(&mut net, &good, &CrossEntropy, &mut Sgd::new(0.1))
        .expect("fit");
    assert_eq!(history.epochs.len(), 3);

    // An empty data set.
    let empty = Dataset::<f32>::new(vec![], 4, vec![], 3).expect("valid");
    assert_eq!(
        quiet()
            .fit(&mut net, &empty, &CrossEntropy, &mut Sgd::new(0.1))
            .unwrap_err(),
        TrainError::EmptyDataset { what: "training" }
    );

    // A single class: trains, and the confusion matrix of a one-class validation set works.
    let single = Dataset::from_labels(good_x.clone(), 4, &[0; 12], 3).expect("valid");
    let history = quiet()
        .validation(&single)
        .metric(Metric::MacroF1)
        .fit(&mut net, &single, &CrossEntropy, &mut Sgd::new(0.1))
        .expect("fit");
    assert!(history.epochs.iter().all(|e| e.metrics["macro_f1"].is_finite()));

    // Labels out of range are refused when the data set is built.
    assert!(matches!(
        Dataset::<f32>::from_labels(good_x, 4, &[5; 12], 3),
        Err(DataError::LabelOutOfRange { label: 5, .. })
    ));
}

#[test]
fn loader_errors_for_a_declared_size_beyond_the_cap() {
    // 2^40 items declared in a 1 KB file: rejected before allocating.
    let mut bytes = vec![0, 0, 0x08, 2];
    bytes.extend_from_slice(&(1u32 << 20).to_be_bytes());
    bytes.extend_from_slice(&(1u32 << 20).to_be_bytes());
    bytes.resize(1024, 7);
    let err = load::read_idx_from(Cursor::new(bytes), Path::new("liar.idx"), load::DEFAULT_MAX_BYTES).unwrap_err();
    assert!(
        matches!(err, LoadError::TooLarge { declared, .. } if declared == 1 << 40),
        "{err:?}"
    );
}
