//! Embedded data sets, preprocessing and the text vectorizer.

use retroprop::data::datasets;
use retroprop::data::preprocess::{stratified_split, MinMaxScaler, Standardizer};
use retroprop::data::text::{fnv1a, tokenize, HashingVectorizer, Weighting};

fn class_counts(labels: &[usize], classes: usize) -> Vec<usize> {
    let mut counts = vec![0; classes];
    for &l in labels {
        counts[l] += 1;
    }
    counts
}

#[test]
fn embedded_iris() {
    let iris = datasets::iris::<f64>().expect("embedded");
    assert_eq!((iris.len(), iris.inputs), (150, 4));
    assert_eq!(class_counts(&iris.labels, 3), [50, 50, 50]);
    assert_eq!(&iris.features[..4], [5.1, 3.5, 1.4, 0.2]);
    // Column sums, as scikit-learn's load_iris gives them.
    let sums: Vec<f64> = (0..4).map(|j| iris.features.iter().skip(j).step_by(4).sum()).collect();
    for (s, e) in sums.iter().zip([876.5, 458.6, 563.7, 179.9]) {
        assert!((s - e).abs() < 1e-9, "{s} vs {e}");
    }
}

#[test]
fn embedded_digits() {
    let digits = datasets::digits::<f32>().expect("embedded");
    assert_eq!((digits.len(), digits.inputs, digits.classes()), (1797, 64, 10));
    assert_eq!(
        class_counts(&digits.labels, 10),
        [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    assert!(digits
        .features
        .iter()
        .all(|&p| (0.0..=16.0).contains(&p) && p.fract() == 0.0));
    assert_eq!(digits.labels[..5], [0, 1, 2, 3, 4]);
}

#[test]
fn embedded_sentiment() {
    let data = datasets::sentiment().expect("embedded");
    assert_eq!(data.len(), 3000);
    assert_eq!(class_counts(&data.labels, 2), [1500, 1500]);
    assert_eq!(data.class_names, ["negative", "positive"]);
    assert_eq!(data.texts[1], "Good case, Excellent value.");
    assert_eq!(data.labels[1], 1);
}

#[test]
fn standardization_and_min_max_are_fitted_on_training_data_only() {
    let train = [1.0f64, 100.0, 7.0, 3.0, 100.0, 7.0, 5.0, 100.0, 7.0];
    let scaler = Standardizer::fit(&train, 3);
    assert_eq!(scaler.mean, [3.0, 100.0, 7.0]);
    assert!((scaler.std[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
    assert_eq!(scaler.std[1], 1.0, "a constant feature is only centred");
    let mut test = [3.0, 100.0, 8.0];
    scaler.transform(&mut test);
    assert_eq!(test, [0.0, 0.0, 1.0]);

    let minmax = MinMaxScaler::fit(&train, 3);
    let mut x = train;
    minmax.transform(&mut x);
    assert_eq!(&x[..3], [0.0, 0.0, 0.0]);
    assert_eq!(&x[6..], [1.0, 0.0, 0.0]);
    let mut outside = [9.0, 100.0, 7.0];
    minmax.transform(&mut outside);
    assert_eq!(outside[0], 2.0);
}

#[test]
fn stratified_split_keeps_class_proportions_and_follows_the_seed() {
    let iris = datasets::iris::<f32>().expect("embedded");
    let split = stratified_split(&iris.labels, 0.2, 0.2, 1);
    assert_eq!(
        (split.train.len(), split.validation.len(), split.test.len()),
        (90, 30, 30)
    );
    for part in [&split.train, &split.validation, &split.test] {
        let labels: Vec<usize> = part.iter().map(|&i| iris.labels[i]).collect();
        let counts = class_counts(&labels, 3);
        assert!(counts.iter().all(|&c| c == counts[0]), "{counts:?}");
    }
    let mut all: Vec<usize> = [split.train.clone(), split.validation.clone(), split.test.clone()].concat();
    all.sort_unstable();
    assert_eq!(all, (0..150).collect::<Vec<_>>());
    assert_eq!(split, stratified_split(&iris.labels, 0.2, 0.2, 1));
    assert_ne!(split, stratified_split(&iris.labels, 0.2, 0.2, 2));
    let subset = iris.subset(&split.test);
    assert_eq!(subset.len(), 30);
    assert_eq!(subset.labels[0], iris.labels[split.test[0]]);
}

#[test]
fn tokenizer_and_known_hashes() {
    assert_eq!(tokenize("  Wasn't it GREAT?!  "), ["wasn't", "it", "great", "?", "!"]);
    assert_eq!(tokenize(""), Vec::<String>::new());
    // FNV-1a test vectors (offset basis, "a", "foobar").
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    // The bucket of a word is its prefixed hash modulo the number of features.
    let v = HashingVectorizer::<1024>::new();
    let features = v.hashed_features("good");
    let h = fnv1a(b"w:good");
    assert_eq!(features, [((h % 1024) as usize, if h >> 63 == 0 { 1.0 } else { -1.0 })]);
}

#[test]
fn vectorizer_is_deterministic_and_normalized() {
    let texts = ["the food was good", "the service was bad", "good food, good service"];
    let mut v = HashingVectorizer::<512>::new()
        .with_bigrams(true)
        .with_char_ngrams(2, 4)
        .with_weighting(Weighting::TfIdf);
    assert!(!v.is_fitted());
    v.fit(texts);
    assert!(v.is_fitted());
    let a = v.transform("Good food!");
    let b = v.transform("Good food!");
    assert_eq!(a, b);
    assert!((a.norm() - 1.0).abs() < 1e-6);
    assert_eq!(v.transform(""), retroprop::nalgebra::SVector::<f32, 512>::zeros());
    // Bigrams add features that unigrams alone do not have.
    let uni = HashingVectorizer::<512>::new();
    assert!(
        uni.hashed_features("good food").len()
            < HashingVectorizer::<512>::new()
                .with_bigrams(true)
                .hashed_features("good food")
                .len()
    );
    // TF-IDF weighs a word that occurs in every text less than a rare one.
    let mut tfidf = HashingVectorizer::<4096>::new().with_weighting(Weighting::TfIdf);
    tfidf.fit(texts);
    let x = tfidf.transform("the delicious");
    let the = tfidf.hashed_features("the")[0].0;
    let delicious = tfidf.hashed_features("delicious")[0].0;
    assert!(x[delicious].abs() > x[the].abs());
    let all = tfidf.transform_all(texts);
    assert_eq!(all.len(), 3 * 4096);
}
