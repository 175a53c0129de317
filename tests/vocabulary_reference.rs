//! `VocabularyVectorizer` against scikit-learn's `TfidfVectorizer` on the same tokens
//! (tests/reference/vocabulary.json, made by tests/reference/make_vocabulary_reference.py):
//! vocabularies exactly, idf and row values to 1e-6 (f32 against float64).

use retroprop::data::text::{tokenize, Weighting};
use retroprop::data::vocabulary::{DocFrequency, VocabularyVectorizer};
use serde_json::Value;

const TOLERANCE: f64 = 1e-6;

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/vocabulary.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn texts(v: &Value) -> Vec<String> {
    strings(v)
}

/// A scikit-learn `min_df`/`max_df`: an integer is a count, a float a fraction.
fn df(v: &Value) -> DocFrequency {
    match v.as_u64() {
        Some(c) => DocFrequency::Count(c as usize),
        None => DocFrequency::Fraction(v.as_f64().unwrap()),
    }
}

fn vectorizer(case: &Value) -> VocabularyVectorizer {
    let range = case["ngram_range"].as_array().unwrap();
    let mut v = VocabularyVectorizer::new()
        .with_ngram_range(range[0].as_u64().unwrap() as usize, range[1].as_u64().unwrap() as usize)
        .with_min_df(df(&case["min_df"]))
        .with_max_df((!case["max_df"].is_null()).then(|| df(&case["max_df"])))
        .with_max_features(case["max_features"].as_u64().map(|m| m as usize))
        .with_sublinear_tf(case["sublinear_tf"].as_bool().unwrap())
        .with_normalize(case["norm"].as_str() == Some("l2"));
    if !case["use_idf"].as_bool().unwrap() {
        v = v.with_weighting(Weighting::Tf);
    }
    v
}

#[test]
fn tokens_fed_to_scikit_learn_are_tokenize() {
    let data = reference();
    for (texts_key, tokens_key) in [("corpus", "corpus_tokens"), ("probes", "probe_tokens")] {
        let texts = texts(&data[texts_key]);
        let tokens = data[tokens_key].as_array().unwrap();
        assert_eq!(texts.len(), tokens.len());
        for (text, expected) in texts.iter().zip(tokens) {
            assert_eq!(tokenize(text), strings(expected), "tokens of {text:?}");
        }
    }
}

#[test]
fn matches_scikit_learn_tfidf_vectorizer() {
    let data = reference();
    let corpus = texts(&data["corpus"]);
    let probes = texts(&data["probes"]);
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut v = vectorizer(case);
        let train = v.fit_transform(corpus.iter().map(String::as_str)).unwrap();
        assert_eq!(v.vocabulary(), strings(&case["vocabulary"]), "{name}: vocabulary");
        assert_eq!(train.nnz() as u64, case["train_nnz"].as_u64().unwrap(), "{name}: nnz");
        for (i, term) in v.vocabulary().iter().enumerate() {
            assert_eq!(v.term_index(term), Some(i as u32));
        }
        // scikit-learn's own choice among terms tied at the max_features cut, where it differs
        // from ours: the same number of terms, and the same terms above the tie.
        if let Some(theirs) = case["sklearn_vocabulary"].as_array() {
            assert_eq!(theirs.len(), v.len(), "{name}");
            let theirs = strings(&case["sklearn_vocabulary"]);
            let shared = theirs.iter().filter(|t| v.term_index(t).is_some()).count();
            assert!(shared < v.len() && shared > 0, "{name}: {shared} shared terms");
        }
        let idf = v.idf().unwrap();
        if let Some(expected) = case["idf"].as_array() {
            assert_eq!(idf.len(), expected.len());
            for (term, (&got, want)) in v.vocabulary().iter().zip(idf.iter().zip(expected)) {
                let want = want.as_f64().unwrap();
                assert!(
                    (f64::from(got) - want).abs() <= TOLERANCE * want.abs().max(1.0),
                    "{name}: idf of {term:?}: {got} vs {want}"
                );
            }
        }
        let rows = case["rows"].as_array().unwrap();
        let all = v.transform_all(probes.iter().map(String::as_str)).unwrap();
        assert_eq!((all.len(), all.features()), (probes.len(), v.len()));
        for (p, (probe, row)) in probes.iter().zip(rows).enumerate() {
            let (indices, values) = v.transform(probe).unwrap();
            assert_eq!(all.row(p), (&indices[..], &values[..]));
            let want_indices: Vec<u32> = row["indices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(indices, want_indices, "{name}: indices of {probe:?}");
            for (&got, want) in values.iter().zip(row["values"].as_array().unwrap()) {
                let want = want.as_f64().unwrap();
                assert!(
                    (f64::from(got) - want).abs() <= TOLERANCE * want.abs().max(1.0),
                    "{name}: {probe:?}: {got} vs {want}"
                );
            }
        }
        // The unknown-word and empty probes give empty rows.
        assert!(all.row(1).0.is_empty() && all.row(2).0.is_empty(), "{name}");
        // The saved form gives the same rows.
        let back: VocabularyVectorizer = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(
            back.transform_all(probes.iter().map(String::as_str)).unwrap(),
            all,
            "{name}"
        );
    }
}
