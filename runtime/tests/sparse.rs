//! Sparse samples (`data::sparse`) and the hashing vectorizer's sparse output: every
//! validation error, the merging constructor, zero-copy views and reused gather buffers, the
//! sparse data set against the dense one, and sparse features against the nonzeros of the
//! dense ones, bit for bit.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retroprop_runtime::data::datasets::sentiment;
use retroprop_runtime::data::preprocess::stratified_split;
use retroprop_runtime::data::sparse::{SparseBatch, SparseDataset, SparseError, SparseRows};
use retroprop_runtime::data::text::{HashingVectorizer, Weighting};
use retroprop_runtime::data::{DataError, Dataset};
use retroprop_runtime::nn::init::seeded_rng;

type Row = (Vec<u32>, Vec<f32>);

/// `n` random valid rows of `features` features: 0 to 6 distinct sorted indices each, about
/// one row in five empty.
fn random_rows(n: usize, features: u32, seed: u64) -> Vec<Row> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut indices: Vec<u32> = (0..rng.random_range(0..=6))
                .map(|_| rng.random_range(0..features))
                .collect();
            if rng.random_range(0..5) == 0 {
                indices.clear();
            }
            indices.sort_unstable();
            indices.dedup();
            let values = indices.iter().map(|_| rng.random_range(-2.0..2.0)).collect();
            (indices, values)
        })
        .collect()
}

fn build(features: usize, rows: &[Row]) -> SparseRows<f32> {
    let mut out = SparseRows::empty(features).unwrap();
    for (indices, values) in rows {
        out.push_row(indices, values).unwrap();
    }
    out
}

fn owned(row: (&[u32], &[f32])) -> Row {
    (row.0.to_vec(), row.1.to_vec())
}

#[test]
fn every_error_names_the_sample() {
    let new = |features, offsets: &[usize], indices: &[u32], values: &[f32]| {
        SparseRows::new(features, offsets.to_vec(), indices.to_vec(), values.to_vec())
    };
    type Case = (Result<SparseRows<f32>, SparseError>, SparseError, &'static str);
    let cases: Vec<Case> = vec![
        (
            new(0, &[0], &[], &[]),
            SparseError::ZeroFeatures,
            "the feature count must be at least 1",
        ),
        (
            new(5, &[0, 1, 3], &[0, 2, 5], &[1.0, 1.0, 1.0]),
            SparseError::IndexOutOfRange {
                row: 1,
                index: 5,
                features: 5,
            },
            "index 5 of sample 1 is out of range for 5 features",
        ),
        (
            new(5, &[0, 0, 1, 3], &[4, 2, 2], &[1.0, 1.0, 1.0]),
            SparseError::DuplicateIndex { row: 2, index: 2 },
            "index 2 occurs more than once in sample 2",
        ),
        (
            new(5, &[0, 2], &[3, 1], &[1.0, 1.0]),
            SparseError::Unsorted {
                row: 0,
                index: 1,
                previous: 3,
            },
            "the indices of sample 0 are not increasing: 1 comes after 3",
        ),
        (
            new(5, &[0, 1, 2], &[0, 4], &[1.0, f32::INFINITY]),
            SparseError::NonFinite {
                row: 1,
                index: 4,
                value: f64::INFINITY,
            },
            "the value at index 4 of sample 1 is not finite (inf)",
        ),
        (
            new(5, &[0, 2], &[0, 1], &[1.0]),
            SparseError::LengthMismatch { indices: 2, values: 1 },
            "2 indices but 1 values",
        ),
        (
            new(5, &[], &[], &[]),
            SparseError::NoOffsets,
            "the offsets are empty; they need one entry more than there are samples",
        ),
        (
            new(5, &[1, 1], &[0], &[1.0]),
            SparseError::OffsetsStart { first: 1 },
            "the offsets start at 1, not at 0",
        ),
        (
            new(5, &[0, 2, 1, 2], &[0, 1], &[1.0, 1.0]),
            SparseError::OffsetsDecrease {
                row: 1,
                start: 2,
                end: 1,
            },
            "sample 1 ends at offset 1, before it starts (2)",
        ),
        (
            new(5, &[0, 1, 3], &[0, 1], &[1.0, 1.0]),
            SparseError::OffsetsEnd { last: 3, nnz: 2 },
            "the last offset is 3, but there are 2 indices",
        ),
        (
            new(5, &[0, 1, 1], &[0, 1], &[1.0, 1.0]),
            SparseError::OffsetsEnd { last: 1, nnz: 2 },
            "the last offset is 1, but there are 2 indices",
        ),
    ];
    for (result, expected, message) in cases {
        let err = result.unwrap_err();
        assert_eq!(err, expected);
        assert_eq!(err.to_string(), message);
    }

    // NaN is reported too.
    let err = new(5, &[0, 1], &[2], &[f32::NAN]).unwrap_err();
    assert!(matches!(err, SparseError::NonFinite { row: 0, index: 2, value } if value.is_nan()));

    // A pushed row is numbered by its position, and a rejected one leaves the rows unchanged.
    let mut rows = build(4, &[(vec![0], vec![1.0]), (vec![], vec![])]);
    let before = rows.clone();
    let err = rows.push_row(&[1, 2], &[1.0]).unwrap_err();
    assert_eq!(
        err,
        SparseError::RowLength {
            row: 2,
            indices: 2,
            values: 1
        }
    );
    assert_eq!(err.to_string(), "sample 2 has 2 indices but 1 values");
    assert_eq!(
        rows.push_row(&[4], &[1.0]).unwrap_err().to_string(),
        "index 4 of sample 2 is out of range for 4 features"
    );
    assert_eq!(
        rows.push_row(&[1, 1], &[1.0, 1.0]).unwrap_err(),
        SparseError::DuplicateIndex { row: 2, index: 1 }
    );
    assert_eq!(
        rows.push_row(&[2, 1], &[1.0, 1.0]).unwrap_err(),
        SparseError::Unsorted {
            row: 2,
            index: 1,
            previous: 2
        }
    );
    assert!(matches!(
        rows.push_row(&[3], &[f32::NEG_INFINITY]),
        Err(SparseError::NonFinite { row: 2, index: 3, .. })
    ));
    assert!(matches!(
        rows.push_pairs([(0, 1.0), (9, 1.0)]),
        Err(SparseError::IndexOutOfRange {
            row: 2,
            index: 9,
            features: 4
        })
    ));
    assert_eq!(rows, before);

    // The merging constructor checks indices, values, and sums that overflow.
    assert_eq!(
        SparseRows::<f32>::from_pairs(0, [Vec::new()]).unwrap_err(),
        SparseError::ZeroFeatures
    );
    assert_eq!(SparseRows::<f32>::empty(0).unwrap_err(), SparseError::ZeroFeatures);
    assert_eq!(
        SparseRows::from_pairs(3, [vec![(0, 1.0_f32)], vec![(1, 1.0), (3, 1.0)]]).unwrap_err(),
        SparseError::IndexOutOfRange {
            row: 1,
            index: 3,
            features: 3
        }
    );
    assert!(matches!(
        SparseRows::from_pairs(3, [vec![], vec![], vec![(2, f32::NAN)]]),
        Err(SparseError::NonFinite { row: 2, index: 2, .. })
    ));
    assert_eq!(
        SparseRows::from_pairs(3, [vec![(1, f32::MAX), (0, 1.0), (1, f32::MAX)]]).unwrap_err(),
        SparseError::NonFinite {
            row: 0,
            index: 1,
            value: f64::INFINITY
        }
    );

    // A batch passed from elsewhere is checked the same way, rows numbered within it.
    let err = SparseBatch::new(4, &[0, 1, 3], &[0, 2, 2], &[1.0_f32, 1.0, 1.0]).unwrap_err();
    assert_eq!(err, SparseError::DuplicateIndex { row: 1, index: 2 });
    assert_eq!(
        SparseBatch::new(4, &[0, 1], &[0], &[1.0_f32]).unwrap().row(0),
        (&[0_u32][..], &[1.0_f32][..])
    );
}

#[test]
fn empty_samples_are_valid() {
    let rows = SparseRows::<f32>::new(3, vec![0, 0, 0], vec![], vec![]).unwrap();
    assert_eq!((rows.len(), rows.nnz()), (2, 0));
    assert_eq!(rows.row(1), (&[][..], &[][..]));
    let none = SparseRows::<f64>::new(3, vec![0], vec![], vec![]).unwrap();
    assert!(none.is_empty());
    let mixed = SparseRows::from_pairs(3, [vec![], vec![(2, 1.0_f32)], vec![]]).unwrap();
    assert_eq!(mixed.offsets(), &[0, 0, 1, 1]);
    let mut pushed = SparseRows::<f32>::empty(3).unwrap();
    pushed.push_row(&[], &[]).unwrap();
    pushed.push_pairs([]).unwrap();
    assert_eq!(pushed.len(), 2);
    let data = SparseDataset::from_labels(pushed, &[0, 1], 2).unwrap();
    assert_eq!(data.row(0).0.len(), 0);
}

#[test]
fn merging_sorts_and_sums_duplicates() {
    let rows = SparseRows::from_pairs(
        10,
        [
            vec![(5, 1.0_f32), (2, 0.5), (5, 2.0), (9, -1.0), (2, 0.25), (5, 0.5)],
            vec![(7, 1.0), (7, -1.0)],
            vec![(3, 4.0)],
        ],
    )
    .unwrap();
    assert_eq!(rows.row(0), (&[2_u32, 5, 9][..], &[0.75_f32, 3.5, -1.0][..]));
    // A sum of zero is kept as an explicit zero.
    assert_eq!(rows.row(1), (&[7_u32][..], &[0.0_f32][..]));
    assert_eq!(rows.row(2), (&[3_u32][..], &[4.0_f32][..]));
    assert_eq!(rows.offsets(), &[0, 3, 4, 5]);
    // The result is valid for the checking constructor.
    let (features, offsets, indices, values) = rows.clone().into_parts();
    assert_eq!(SparseRows::new(features, offsets, indices, values).unwrap(), rows);
    // Duplicates are summed in the order given: ((0.1 + 0.2) + 0.3), not another order.
    let order = SparseRows::from_pairs(2, [vec![(1, 0.1_f32), (0, 9.0), (1, 0.2), (1, 0.3)]]).unwrap();
    assert_eq!(order.row(0).1[1].to_bits(), ((0.1_f32 + 0.2) + 0.3).to_bits());
}

#[test]
fn views_are_the_owned_rows() {
    let source = random_rows(23, 50, 1);
    let rows = build(50, &source);
    assert_eq!(rows.iter().map(owned).collect::<Vec<_>>(), source);
    assert_eq!(rows.iter().len(), 23);
    for start in 0..=23 {
        for end in start..=23 {
            let view = rows.view(start..end);
            assert_eq!(view.len(), end - start);
            assert_eq!(view.features(), 50);
            let expected: usize = source[start..end].iter().map(|r| r.0.len()).sum();
            assert_eq!(view.nnz(), expected);
            for i in 0..view.len() {
                assert_eq!(owned(view.row(i)), source[start + i], "view {start}..{end}, row {i}");
            }
            assert_eq!(view.iter().map(owned).collect::<Vec<_>>(), &source[start..end]);
            // Past the end of the view, a row is empty.
            assert_eq!(view.row(view.len()), (&[][..], &[][..]));
            // A view equals the same rows copied, whatever its offsets start at.
            let copied = build(50, &source[start..end]);
            assert_eq!(view, copied.as_batch());
            assert_eq!(view.to_rows(), copied);
            assert_eq!(view.offsets()[0], rows.offsets()[start]);
        }
    }
    // Ranges are clamped.
    assert_eq!(rows.view(20..100).len(), 3);
    assert_eq!(rows.view(30..40).len(), 0);
    assert_ne!(rows.view(0..2), rows.view(1..3));
}

#[test]
fn gathering_reuses_the_buffer() {
    let source = random_rows(40, 1000, 2);
    let rows = build(1000, &source);
    let picks: Vec<usize> = (0..40).rev().step_by(3).collect();
    let mut buf = SparseRows::empty(1).unwrap();
    rows.gather_into(&picks, &mut buf);
    assert_eq!(buf.features(), 1000);
    assert_eq!(buf.len(), picks.len());
    for (k, &p) in picks.iter().enumerate() {
        assert_eq!(owned(buf.row(k)), source[p]);
    }
    assert_eq!(buf, rows.subset(&picks));
    // The same rows in another order: the same sizes, so no growth (the buffers are moved
    // out and back in to read their capacities).
    let (f, o, i, v) = buf.into_parts();
    let caps = (o.capacity(), i.capacity(), v.capacity());
    let mut buf = SparseRows::new(f, o, i, v).unwrap();
    let mut reordered = picks.clone();
    reordered.reverse();
    rows.gather_into(&reordered, &mut buf);
    for (k, &p) in reordered.iter().enumerate() {
        assert_eq!(owned(buf.row(k)), source[p]);
    }
    let (_, o, i, v) = buf.into_parts();
    assert_eq!((o.capacity(), i.capacity(), v.capacity()), caps);
    // Rows past the end are skipped, as the dense gather does.
    let mut buf = SparseRows::empty(1).unwrap();
    rows.gather_into(&[3, 40, 99, 0], &mut buf);
    assert_eq!(
        buf.iter().map(owned).collect::<Vec<_>>(),
        [source[3].clone(), source[0].clone()]
    );
}

/// A sparse data set whose target is each sample's original number, and the dense data set
/// with the same targets.
fn numbered(n: usize, seed: u64) -> (Vec<Row>, SparseDataset<f32>, Dataset<f32>) {
    let source = random_rows(n, 300, seed);
    let ids: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let sparse = SparseDataset::new(build(300, &source), ids.clone(), 1).unwrap();
    let dense = Dataset::new(ids.clone(), 1, ids, 1).unwrap();
    (source, sparse, dense)
}

#[test]
fn dataset_construction_and_batches() {
    let source = random_rows(10, 20, 3);
    let labels = [0, 2, 1, 1, 0, 2, 2, 0, 1, 0];
    let data = SparseDataset::from_labels(build(20, &source), &labels, 3).unwrap();
    assert_eq!((data.len(), data.features(), data.outputs()), (10, 20, 3));
    assert!(!data.is_empty());
    for (i, &label) in labels.iter().enumerate() {
        let mut one_hot = [0.0_f32; 3];
        one_hot[label] = 1.0;
        assert_eq!(data.target(i), one_hot);
        assert_eq!(owned(data.row(i)), source[i]);
    }
    assert_eq!(data.target(10), &[] as &[f32]);
    for batch_size in 1..=11 {
        let mut seen_rows = Vec::new();
        let mut seen_targets = Vec::new();
        let batches: Vec<_> = data.batches(batch_size).unwrap().collect();
        assert_eq!(batches.len(), 10_usize.div_ceil(batch_size));
        for (features, targets) in batches {
            assert!(!features.is_empty() && features.len() <= batch_size);
            assert_eq!(targets.len(), features.len() * 3);
            seen_rows.extend(features.iter().map(owned));
            seen_targets.extend_from_slice(targets);
        }
        assert_eq!(seen_rows, source);
        assert_eq!(seen_targets, data.targets());
    }
    assert_eq!(data.batches(0).unwrap_err(), DataError::ZeroBatchSize);

    let rows = || build(20, &source);
    assert_eq!(
        SparseDataset::from_labels(rows(), &[0; 9], 3).unwrap_err(),
        DataError::SampleCountMismatch {
            features: 10,
            targets: 9
        }
    );
    assert_eq!(
        SparseDataset::from_labels(rows(), &[0, 0, 0, 3, 0, 0, 0, 0, 0, 0], 3).unwrap_err(),
        DataError::LabelOutOfRange {
            index: 3,
            label: 3,
            classes: 3
        }
    );
    assert_eq!(
        SparseDataset::new(rows(), vec![0.0; 21], 2).unwrap_err(),
        DataError::Ragged {
            what: "target",
            len: 21,
            width: 2
        }
    );
    assert_eq!(
        SparseDataset::new(rows(), vec![], 0).unwrap_err(),
        DataError::ZeroWidth { what: "target" }
    );
}

#[test]
fn shuffling_matches_the_dense_permutation_and_keeps_targets() {
    for seed in 0..5 {
        let (source, mut sparse, mut dense) = numbered(37, seed);
        let mut sparse_order: Vec<usize> = (100..137).collect();
        let mut dense_order = sparse_order.clone();
        let mut rng_s = seeded_rng(seed);
        let mut rng_d = seeded_rng(seed);
        sparse.shuffle_tracking(&mut rng_s, &mut sparse_order);
        dense.shuffle_tracking(&mut rng_d, &mut dense_order);
        assert_eq!(sparse.targets(), dense.targets(), "seed {seed}");
        assert_eq!(sparse_order, dense_order);
        // Both generators were left in the same state.
        assert_eq!(rng_s.random::<u64>(), rng_d.random::<u64>());
        // Every row kept its target, and nothing was lost or duplicated.
        let mut ids: Vec<usize> = sparse.targets().iter().map(|&t| t as usize).collect();
        for (k, &id) in ids.iter().enumerate() {
            assert_eq!(owned(sparse.row(k)), source[id]);
            assert_eq!(sparse_order[k], 100 + id);
        }
        ids.sort_unstable();
        assert_eq!(ids, (0..37).collect::<Vec<_>>());
        assert_ne!(
            sparse.targets(),
            numbered(37, seed).1.targets(),
            "seed {seed} left the order unchanged"
        );
        // Plain shuffle draws the same.
        let (_, mut again, _) = numbered(37, seed);
        again.shuffle(&mut seeded_rng(seed));
        assert_eq!(again, sparse);
    }
}

#[test]
fn gathering_a_dataset_batch() {
    let (source, data, dense) = numbered(15, 9);
    let picks = [14, 0, 7, 7, 3, 20];
    let mut rows = SparseRows::empty(1).unwrap();
    let mut targets = Vec::new();
    data.gather_into(&picks, &mut rows, &mut targets);
    let (mut dense_features, mut dense_targets) = (Vec::new(), Vec::new());
    dense.gather_into(&picks, &mut dense_features, &mut dense_targets);
    assert_eq!(targets, dense_targets);
    assert_eq!(targets, [14.0, 0.0, 7.0, 7.0, 3.0]);
    for (k, &p) in picks[..5].iter().enumerate() {
        assert_eq!(owned(rows.row(k)), source[p]);
    }
}

#[test]
fn subsets_and_splits() {
    let (source, data, _) = numbered(20, 4);
    let picks = [5, 19, 0, 5, 25];
    let subset = data.subset(&picks);
    assert_eq!(subset.len(), 4);
    assert_eq!(subset.targets(), [5.0, 19.0, 0.0, 5.0]);
    for (k, &p) in picks[..4].iter().enumerate() {
        assert_eq!(owned(subset.row(k)), source[p]);
    }
    for at in [0, 1, 7, 19, 20, 30] {
        let (a, b) = data.split_at(at);
        let at = at.min(20);
        assert_eq!((a.len(), b.len()), (at, 20 - at));
        assert_eq!(
            a.rows().iter().chain(b.rows().iter()).map(owned).collect::<Vec<_>>(),
            source
        );
        assert_eq!([a.targets(), b.targets()].concat(), data.targets());
        assert_eq!(a.features(), 300);
        assert_eq!(b.outputs(), 1);
    }

    // The stratified split is a function of the labels, so both kinds of data set get the
    // same samples.
    let labels: Vec<usize> = (0..20).map(|i| [0, 0, 1, 2][i % 4]).collect();
    let split = stratified_split(&labels, 0.25, 0.25, 11);
    let (train, validation, test) = data.split(&split);
    for (part, indices) in [
        (&train, &split.train),
        (&validation, &split.validation),
        (&test, &split.test),
    ] {
        assert_eq!(part.len(), indices.len());
        for (k, &i) in indices.iter().enumerate() {
            assert_eq!(part.target(k), [i as f32]);
            assert_eq!(owned(part.row(k)), source[i]);
        }
    }
    let mut all: Vec<usize> = [&split.train[..], &split.validation, &split.test].concat();
    all.sort_unstable();
    assert_eq!(all, (0..20).collect::<Vec<_>>());
    let dense = Dataset::new((0..20).map(|i| i as f32).collect(), 1, vec![0.0; 20], 1).unwrap();
    assert_eq!(
        dense.subset(&split.test).features(),
        test.targets(),
        "the dense and sparse test sets hold the same samples"
    );
}

/// The nonzeros of a dense vector, as sparse.
fn nonzeros(dense: &[f32]) -> (Vec<u32>, Vec<u32>) {
    dense
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(i, v)| (i as u32, v.to_bits()))
        .unzip()
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// The sparse features of every text are the nonzeros of the dense ones, bit for bit, and
/// `transform_all_sparse` agrees with both.
fn assert_sparse_matches_dense<const N: usize>(v: &HashingVectorizer<N>, texts: &[&str], what: &str) {
    let mut indices = Vec::new();
    let mut values = Vec::new();
    let all = v.transform_all_sparse(texts.iter().copied());
    let dense_all = v.transform_all(texts.iter().copied());
    assert_eq!((all.len(), all.features()), (texts.len(), N));
    for (t, text) in texts.iter().enumerate() {
        let dense = v.transform(text);
        let expected = nonzeros(dense.as_slice());
        let (i, x) = v.transform_sparse(text);
        assert_eq!((i.clone(), bits(&x)), expected, "{what}: text {t} {text:?}");
        v.transform_sparse_into(text, &mut indices, &mut values);
        assert_eq!((indices.clone(), bits(&values)), expected);
        assert_eq!(all.row(t), (&i[..], &x[..]));
        assert_eq!(nonzeros(&dense_all[t * N..(t + 1) * N]), expected);
    }
}

fn configurations<const N: usize>(fit_on: &[&str]) -> Vec<(&'static str, HashingVectorizer<N>)> {
    let fitted = |v: HashingVectorizer<N>| {
        let mut v = v;
        v.fit(fit_on.iter().copied());
        v
    };
    vec![
        ("tf", HashingVectorizer::new()),
        ("tf, bigrams", HashingVectorizer::new().with_bigrams(true)),
        (
            "tf, bigrams, char 2-4",
            HashingVectorizer::new().with_bigrams(true).with_char_ngrams(2, 4),
        ),
        (
            "tf-idf unfitted, char 1-3",
            HashingVectorizer::new()
                .with_char_ngrams(1, 3)
                .with_weighting(Weighting::TfIdf),
        ),
        (
            "tf-idf, bigrams",
            fitted(
                HashingVectorizer::new()
                    .with_bigrams(true)
                    .with_weighting(Weighting::TfIdf),
            ),
        ),
        (
            "tf-idf, bigrams, char 2-5",
            fitted(
                HashingVectorizer::new()
                    .with_bigrams(true)
                    .with_char_ngrams(2, 5)
                    .with_weighting(Weighting::TfIdf),
            ),
        ),
    ]
}

#[test]
fn sparse_features_are_the_dense_nonzeros_on_the_sentiment_sentences() {
    let data = sentiment().unwrap();
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).step_by(3).collect();
    let (fit_on, rest) = texts.split_at(texts.len() / 2);
    let mut probe: Vec<&str> = rest.to_vec();
    probe.extend(["", "   ", "!!!", "good good good", "Wasn't it GREAT?!"]);
    // 64 buckets: many collisions, so signs cancel and buckets go back to zero.
    for (what, v) in configurations::<64>(fit_on) {
        assert_sparse_matches_dense(&v, &probe, what);
    }
    for (what, v) in configurations::<4096>(fit_on) {
        assert_sparse_matches_dense(&v, &probe, what);
    }
}

#[test]
fn sparse_features_are_the_dense_nonzeros_on_random_strings() {
    const ALPHABET: &[char] = &[
        'a', 'b', 'c', 'A', 'B', 'z', '0', '7', '\'', ' ', ' ', ' ', '\t', '\n', ',', '.', '!', '?', '-', 'é', 'É',
        'ß', 'İ', 'ﬁ', '日', '😀',
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let texts: Vec<String> = (0..400)
        .map(|_| {
            let len = rng.random_range(0..40);
            (0..len)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                .collect()
        })
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (fit_on, probe) = texts.split_at(100);
    for (what, v) in configurations::<16>(fit_on) {
        assert_sparse_matches_dense(&v, probe, what);
    }
    for (what, v) in configurations::<1000>(fit_on) {
        assert_sparse_matches_dense(&v, probe, what);
    }
}

/// Document frequencies counted the way `fit` did before it was made proportional to the
/// text (a fresh `N`-long "seen" array per text), turned into the dense TF-IDF vector of
/// `text` the way `transform_into` documents it.
fn reference_tfidf<const N: usize>(v: &HashingVectorizer<N>, fit_on: &[&str], text: &str) -> Vec<f32> {
    let mut df = vec![0usize; N];
    for t in fit_on {
        let mut seen = vec![false; N];
        for (bucket, _) in v.hashed_features(t) {
            if !seen[bucket] {
                seen[bucket] = true;
                df[bucket] += 1;
            }
        }
    }
    let n = fit_on.len() as f64;
    let idf: Vec<f32> = df
        .iter()
        .map(|&d| (((1.0 + n) / (1.0 + d as f64)).ln() + 1.0) as f32)
        .collect();
    let mut out = vec![0.0f32; N];
    for (bucket, sign) in v.hashed_features(text) {
        out[bucket] += sign;
    }
    for (x, w) in out.iter_mut().zip(&idf) {
        *x *= w;
    }
    let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        out.iter_mut().for_each(|x| *x /= norm);
    }
    out
}

#[test]
fn fit_counts_each_bucket_once_per_text() {
    let data = sentiment().unwrap();
    let fit_on: Vec<&str> = data.texts.iter().map(String::as_str).take(300).collect();
    let mut v = HashingVectorizer::<256>::new()
        .with_bigrams(true)
        .with_char_ngrams(2, 3)
        .with_weighting(Weighting::TfIdf);
    v.fit(fit_on.iter().copied());
    for text in data
        .texts
        .iter()
        .skip(1500)
        .take(100)
        .map(String::as_str)
        .chain(["good good good good"])
    {
        let expected = reference_tfidf(&v, &fit_on, text);
        assert_eq!(bits(v.transform(text).as_slice()), bits(&expected), "{text:?}");
    }
}

#[test]
fn sparse_features_with_a_million_buckets() {
    // No dense vector of 2^20 values is built: this is the use the sparse path exists for.
    let data = sentiment().unwrap();
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).take(200).collect();
    let mut v = HashingVectorizer::<{ 1 << 20 }>::new()
        .with_bigrams(true)
        .with_weighting(Weighting::TfIdf);
    v.fit(texts.iter().copied());
    let rows = v.transform_all_sparse(texts.iter().copied());
    assert_eq!((rows.len(), rows.features()), (200, 1 << 20));
    for (indices, values) in &rows {
        assert!(indices.windows(2).all(|w| w[0] < w[1]));
        assert!(indices.iter().all(|&i| i < 1 << 20));
        let norm = values.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(values.is_empty() || (norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
    // The rows are valid for the checking constructor.
    let (features, offsets, indices, values) = rows.clone().into_parts();
    assert_eq!(SparseRows::new(features, offsets, indices, values).unwrap(), rows);
}
