//! A vocabulary vectorizer: word n-grams counted against a vocabulary fitted on training texts,
//! weighted (TF or TF-IDF) and L2-normalized as scikit-learn's `TfidfVectorizer` does, into
//! sparse rows ([`SparseRows`]) — never a dense vocabulary-sized vector per text.
//!
//! Tokens come from the crate's [`tokenize`], which differs from scikit-learn's default
//! `token_pattern` (punctuation is kept as tokens, apostrophes stay inside words, one-letter
//! words are kept): given the same tokens (scikit-learn's `tokenizer=` with
//! `token_pattern=None, lowercase=False`), the vocabulary, idf and rows are scikit-learn's.

use crate::data::sparse::SparseRows;
use crate::data::text::{tokenize, Weighting};
use std::collections::HashMap;

/// Why a vocabulary vectorizer could not be fitted, used or restored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum VocabularyError {
    /// A transform before [`VocabularyVectorizer::fit`].
    #[error("the vocabulary vectorizer is not fitted; call `fit` first")]
    NotFitted,
    /// [`VocabularyVectorizer::fit`] on no texts.
    #[error("cannot fit a vocabulary on no texts")]
    NoTexts,
    /// No term was left after `min_df`, `max_df` and `max_features` (or the texts had no
    /// tokens): a vocabulary of no features cannot make sparse rows.
    #[error("no terms remain in the vocabulary after pruning ({terms} terms before pruning)")]
    EmptyVocabulary {
        /// Distinct terms in the training texts.
        terms: usize,
    },
    /// An n-gram range with `min_n == 0` or `min_n > max_n`.
    #[error("invalid n-gram range ({min_n}, {max_n}): need 1 <= min_n <= max_n")]
    NgramRange {
        /// Shortest n-gram.
        min_n: usize,
        /// Longest n-gram.
        max_n: usize,
    },
    /// A document-frequency bound that is a fraction outside `[0, 1]` (or NaN).
    #[error("{what} fraction {value} is not in [0, 1]")]
    Fraction {
        /// `"min_df"` or `"max_df"`.
        what: &'static str,
        /// The fraction.
        value: f64,
    },
    /// `max_df` resolving to fewer documents than `min_df`.
    #[error("max_df ({max} documents) is below min_df ({min} documents)")]
    DfBounds {
        /// `min_df` in documents.
        min: f64,
        /// `max_df` in documents.
        max: f64,
    },
    /// A saved vectorizer whose parts disagree (restoring from serde).
    #[error("invalid saved vocabulary: {0}")]
    Saved(String),
}

/// A document-frequency bound: a number of documents, or a fraction of the training
/// documents (scikit-learn's `int` and `float` forms; a fraction `f` of `n` documents means
/// `f * n`, not rounded, as scikit-learn compares it).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum DocFrequency {
    /// An absolute number of documents.
    Count(usize),
    /// A fraction of the documents, in `[0, 1]`.
    Fraction(f64),
}

impl DocFrequency {
    fn documents(self, what: &'static str, n: usize) -> Result<f64, VocabularyError> {
        match self {
            DocFrequency::Count(c) => Ok(c as f64),
            DocFrequency::Fraction(f) if (0.0..=1.0).contains(&f) => Ok(f * n as f64),
            DocFrequency::Fraction(value) => Err(VocabularyError::Fraction { what, value }),
        }
    }
}

/// Configuration and fitted state of a [`VocabularyVectorizer`], as saved.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Saved {
    ngram_range: (usize, usize),
    min_df: DocFrequency,
    max_df: Option<DocFrequency>,
    max_features: Option<usize>,
    weighting: Weighting,
    sublinear_tf: bool,
    normalize: bool,
    vocabulary: Vec<String>,
    idf: Option<Vec<f32>>,
}

/// A vocabulary vectorizer, as scikit-learn's `TfidfVectorizer` on the crate's [`tokenize`]:
/// the terms (word n-grams, space-joined tokens) of the training texts form a vocabulary, in
/// alphabetical order (by Unicode code point, as Python sorts strings); a text becomes the
/// counts of its terms, optionally `1 + ln(count)` (`sublinear_tf`), times the smooth idf
/// `ln((1 + n) / (1 + df)) + 1` under [`Weighting::TfIdf`], L2-normalized.
///
/// Defaults (scikit-learn's where it has one): n-grams `(1, 1)`, `min_df` 1 document,
/// no `max_df` (scikit-learn's `1.0`), no `max_features`, [`Weighting::TfIdf`]
/// (`use_idf=True`), no sublinear tf, L2 normalization on (`norm='l2'`).
///
/// `max_features` keeps the terms of highest corpus frequency (total count over the training
/// texts), ties broken alphabetically: a stable sort by decreasing frequency over the
/// alphabetical vocabulary. (scikit-learn sorts with numpy's default, unstable `argsort`, so
/// its choice among terms tied at the cut is not specified; it agrees on the reference
/// corpus of `tests/reference/make_vocabulary_reference.py`.)
///
/// A transform costs time in proportion to the text (one hash look-up per n-gram), never to
/// the vocabulary. The vectorizer is `serde`-serializable (configuration, vocabulary and idf),
/// so it can be saved beside a model, e.g. as a JSON string in a metadata map.
///
/// ```
/// use retroprop_runtime::data::vocabulary::{DocFrequency, VocabularyVectorizer};
/// let texts = ["good food", "bad food", "good service, good food"];
/// let mut vectorizer = VocabularyVectorizer::new().with_ngram_range(1, 2).with_min_df(DocFrequency::Count(2));
/// let rows = vectorizer.fit_transform(texts).unwrap();
/// assert_eq!(vectorizer.vocabulary(), ["food", "good", "good food"]);
/// assert_eq!((rows.len(), rows.features()), (3, 3));
/// let (indices, values) = vectorizer.transform("Good food, unknown words").unwrap();
/// assert_eq!(indices, [0, 1, 2]);
/// assert!((values.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-6);
/// assert!(vectorizer.transform("nothing known").unwrap().0.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Saved", into = "Saved")]
pub struct VocabularyVectorizer {
    ngram_range: (usize, usize),
    min_df: DocFrequency,
    max_df: Option<DocFrequency>,
    max_features: Option<usize>,
    weighting: Weighting,
    sublinear_tf: bool,
    normalize: bool,
    vocabulary: Vec<String>,
    index: HashMap<String, u32>,
    idf: Option<Vec<f32>>,
}

impl Default for VocabularyVectorizer {
    fn default() -> Self {
        VocabularyVectorizer {
            ngram_range: (1, 1),
            min_df: DocFrequency::Count(1),
            max_df: None,
            max_features: None,
            weighting: Weighting::TfIdf,
            sublinear_tf: false,
            normalize: true,
            vocabulary: Vec::new(),
            index: HashMap::new(),
            idf: None,
        }
    }
}

/// Calls `f` on every n-gram (space-joined tokens) of lengths `min_n..=max_n`, reusing `buf`.
fn for_each_ngram(tokens: &[String], (min_n, max_n): (usize, usize), buf: &mut String, mut f: impl FnMut(&str)) {
    for n in min_n..=max_n {
        for window in tokens.windows(n) {
            buf.clear();
            for (k, token) in window.iter().enumerate() {
                if k > 0 {
                    buf.push(' ');
                }
                buf.push_str(token);
            }
            f(buf);
        }
    }
}

impl VocabularyVectorizer {
    /// Unigrams, TF-IDF, L2-normalized, no pruning (see the type's defaults).
    pub fn new() -> Self {
        Self::default()
    }

    /// Word n-grams of `min_n..=max_n` tokens (scikit-learn's `ngram_range`; default (1, 1)).
    /// Checked by [`fit`](Self::fit).
    pub fn with_ngram_range(mut self, min_n: usize, max_n: usize) -> Self {
        self.ngram_range = (min_n, max_n);
        self
    }

    /// Drops terms in fewer documents than this (default `Count(1)`: none dropped).
    pub fn with_min_df(mut self, min_df: DocFrequency) -> Self {
        self.min_df = min_df;
        self
    }

    /// Drops terms in more documents than this (default `None`, scikit-learn's `1.0`).
    pub fn with_max_df(mut self, max_df: Option<DocFrequency>) -> Self {
        self.max_df = max_df;
        self
    }

    /// Keeps at most this many terms, those of highest corpus frequency, ties broken
    /// alphabetically (default `None`: all).
    pub fn with_max_features(mut self, max_features: Option<usize>) -> Self {
        self.max_features = max_features;
        self
    }

    /// TF (scikit-learn's `use_idf=False`) or TF-IDF (default).
    pub fn with_weighting(mut self, weighting: Weighting) -> Self {
        self.weighting = weighting;
        self
    }

    /// Replaces each count `c` by `1 + ln(c)` (default off).
    pub fn with_sublinear_tf(mut self, on: bool) -> Self {
        self.sublinear_tf = on;
        self
    }

    /// L2-normalizes each row (default on, scikit-learn's `norm='l2'`; off is `norm=None`).
    pub fn with_normalize(mut self, on: bool) -> Self {
        self.normalize = on;
        self
    }

    /// Fits the vocabulary (and the idf, kept under either weighting) on training texts,
    /// replacing any earlier fit (on an error the vectorizer is unchanged).
    ///
    /// # Errors
    /// [`VocabularyError::NoTexts`], an invalid n-gram range or df bound, or
    /// [`VocabularyError::EmptyVocabulary`] if no term survives.
    pub fn fit<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) -> Result<(), VocabularyError> {
        let (min_n, max_n) = self.ngram_range;
        if min_n == 0 || min_n > max_n {
            return Err(VocabularyError::NgramRange { min_n, max_n });
        }
        // term -> (document frequency, total count, last document seen)
        let mut stats: HashMap<String, (usize, usize, usize)> = HashMap::new();
        let mut n = 0usize;
        let mut buf = String::new();
        for text in texts {
            let doc = n;
            n += 1;
            for_each_ngram(&tokenize(text), self.ngram_range, &mut buf, |gram| {
                match stats.get_mut(gram) {
                    Some((df, tf, last)) => {
                        *tf += 1;
                        if *last != doc {
                            *df += 1;
                            *last = doc;
                        }
                    }
                    None => {
                        stats.insert(gram.to_owned(), (1, 1, doc));
                    }
                }
            });
        }
        if n == 0 {
            return Err(VocabularyError::NoTexts);
        }
        let low = self.min_df.documents("min_df", n)?;
        let high = match self.max_df {
            Some(max_df) => max_df.documents("max_df", n)?,
            None => f64::INFINITY,
        };
        if high < low {
            return Err(VocabularyError::DfBounds { min: low, max: high });
        }
        let terms = stats.len();
        let mut kept: Vec<(String, usize, usize)> = stats
            .into_iter()
            .filter(|&(_, (df, _, _))| df as f64 >= low && df as f64 <= high)
            .map(|(term, (df, tf, _))| (term, df, tf))
            .collect();
        kept.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(limit) = self.max_features {
            if kept.len() > limit {
                // Stable: equal frequencies stay in alphabetical order.
                kept.sort_by_key(|t| std::cmp::Reverse(t.2));
                kept.truncate(limit);
                kept.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            }
        }
        if kept.is_empty() {
            return Err(VocabularyError::EmptyVocabulary { terms });
        }
        let nf = n as f64;
        self.idf = Some(
            kept.iter()
                .map(|&(_, df, _)| (((1.0 + nf) / (1.0 + df as f64)).ln() + 1.0) as f32)
                .collect(),
        );
        self.vocabulary = kept.into_iter().map(|(term, _, _)| term).collect();
        self.rebuild_index();
        Ok(())
    }

    fn rebuild_index(&mut self) {
        self.index = self
            .vocabulary
            .iter()
            .enumerate()
            .map(|(i, term)| (term.clone(), i as u32))
            .collect();
    }

    /// Fits on `texts` and transforms them.
    ///
    /// # Errors
    /// As [`fit`](Self::fit).
    pub fn fit_transform<'a>(
        &mut self,
        texts: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<SparseRows<f32>, VocabularyError> {
        self.fit(texts.clone())?;
        self.transform_all(texts)
    }

    /// Whether [`fit`](Self::fit) has run (or a fitted vectorizer was restored).
    pub fn is_fitted(&self) -> bool {
        !self.vocabulary.is_empty()
    }

    /// Number of terms (features) in the vocabulary; 0 before fitting.
    pub fn len(&self) -> usize {
        self.vocabulary.len()
    }

    /// Whether the vocabulary is empty (not fitted).
    pub fn is_empty(&self) -> bool {
        self.vocabulary.is_empty()
    }

    /// The terms in index order (alphabetical), n-grams as space-joined tokens.
    pub fn vocabulary(&self) -> &[String] {
        &self.vocabulary
    }

    /// The feature index of a term, if it is in the vocabulary.
    pub fn term_index(&self, term: &str) -> Option<u32> {
        self.index.get(term).copied()
    }

    /// The idf of each term in index order, once fitted (kept under [`Weighting::Tf`] too,
    /// though not applied).
    pub fn idf(&self) -> Option<&[f32]> {
        self.idf.as_deref()
    }

    /// The weighted row of `text` as strictly increasing term indices and their values
    /// (terms not in the vocabulary ignored; a text with none gives an empty row).
    ///
    /// # Errors
    /// [`VocabularyError::NotFitted`].
    pub fn transform(&self, text: &str) -> Result<(Vec<u32>, Vec<f32>), VocabularyError> {
        let mut indices = Vec::new();
        let mut values = Vec::new();
        self.transform_into(text, &mut indices, &mut values)?;
        Ok((indices, values))
    }

    /// Like [`transform`](Self::transform), into caller-owned buffers (cleared first).
    ///
    /// # Errors
    /// [`VocabularyError::NotFitted`].
    pub fn transform_into(
        &self,
        text: &str,
        indices: &mut Vec<u32>,
        values: &mut Vec<f32>,
    ) -> Result<(), VocabularyError> {
        indices.clear();
        values.clear();
        if !self.is_fitted() {
            return Err(VocabularyError::NotFitted);
        }
        let mut buf = String::new();
        for_each_ngram(&tokenize(text), self.ngram_range, &mut buf, |gram| {
            if let Some(&i) = self.index.get(gram) {
                indices.push(i);
            }
        });
        indices.sort_unstable();
        let mut row: Vec<(u32, f64)> = Vec::with_capacity(indices.len());
        for &i in indices.iter() {
            match row.last_mut() {
                Some((last, count)) if *last == i => *count += 1.0,
                _ => row.push((i, 1.0)),
            }
        }
        let idf = self.idf.as_deref().filter(|_| self.weighting == Weighting::TfIdf);
        for (i, v) in row.iter_mut() {
            if self.sublinear_tf {
                *v = 1.0 + v.ln();
            }
            if let Some(w) = idf.and_then(|idf| idf.get(*i as usize)) {
                *v *= f64::from(*w);
            }
        }
        let norm = if self.normalize {
            row.iter().map(|(_, v)| v * v).sum::<f64>().sqrt()
        } else {
            1.0
        };
        indices.clear();
        for (i, v) in row {
            indices.push(i);
            values.push(if norm > 0.0 { (v / norm) as f32 } else { v as f32 });
        }
        Ok(())
    }

    /// The rows of many texts, one per text, with [`len`](Self::len) features.
    ///
    /// # Errors
    /// [`VocabularyError::NotFitted`].
    pub fn transform_all<'a>(
        &self,
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<SparseRows<f32>, VocabularyError> {
        if !self.is_fitted() {
            return Err(VocabularyError::NotFitted);
        }
        let mut rows = SparseRows::empty_unchecked(self.len());
        let mut indices = Vec::new();
        let mut values = Vec::new();
        for text in texts {
            self.transform_into(text, &mut indices, &mut values)?;
            rows.push_row_unchecked(&indices, &values);
        }
        Ok(rows)
    }
}

impl From<VocabularyVectorizer> for Saved {
    fn from(v: VocabularyVectorizer) -> Self {
        Saved {
            ngram_range: v.ngram_range,
            min_df: v.min_df,
            max_df: v.max_df,
            max_features: v.max_features,
            weighting: v.weighting,
            sublinear_tf: v.sublinear_tf,
            normalize: v.normalize,
            vocabulary: v.vocabulary,
            idf: v.idf,
        }
    }
}

impl TryFrom<Saved> for VocabularyVectorizer {
    type Error = VocabularyError;

    fn try_from(s: Saved) -> Result<Self, Self::Error> {
        let (min_n, max_n) = s.ngram_range;
        if min_n == 0 || min_n > max_n {
            return Err(VocabularyError::NgramRange { min_n, max_n });
        }
        if s.vocabulary.len() > u32::MAX as usize {
            return Err(VocabularyError::Saved("more terms than u32 indices".into()));
        }
        if !s.vocabulary.windows(2).all(|w| w[0] < w[1]) {
            return Err(VocabularyError::Saved(
                "the terms are not strictly increasing (sorted, distinct)".into(),
            ));
        }
        match &s.idf {
            Some(idf) if idf.len() != s.vocabulary.len() => {
                return Err(VocabularyError::Saved(format!(
                    "{} idf values for {} terms",
                    idf.len(),
                    s.vocabulary.len()
                )))
            }
            Some(idf) if !idf.iter().all(|w| w.is_finite()) => {
                return Err(VocabularyError::Saved("an idf value is not finite".into()))
            }
            None if !s.vocabulary.is_empty() => return Err(VocabularyError::Saved("terms without idf".into())),
            _ => {}
        }
        let mut v = VocabularyVectorizer {
            ngram_range: s.ngram_range,
            min_df: s.min_df,
            max_df: s.max_df,
            max_features: s.max_features,
            weighting: s.weighting,
            sublinear_tf: s.sublinear_tf,
            normalize: s.normalize,
            vocabulary: s.vocabulary,
            index: HashMap::new(),
            idf: s.idf,
        };
        v.rebuild_index();
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXTS: [&str; 4] = ["a b c", "a b", "a a d", "e"];

    #[test]
    fn counts_dfs_and_order() {
        let mut v = VocabularyVectorizer::new()
            .with_weighting(Weighting::Tf)
            .with_normalize(false);
        v.fit(TEXTS).unwrap();
        assert_eq!(v.vocabulary(), ["a", "b", "c", "d", "e"]);
        assert_eq!(v.transform("a a b z").unwrap(), (vec![0, 1], vec![2.0, 1.0]));
        assert_eq!(v.term_index("d"), Some(3));
        assert_eq!(v.term_index("z"), None);
        let idf = v.idf().unwrap();
        assert!((idf[0] - ((5.0f32 / 4.0).ln() + 1.0)).abs() < 1e-6);
    }

    #[test]
    fn min_df_max_df_and_max_features() {
        let fit = |v: VocabularyVectorizer| {
            let mut v = v;
            v.fit(TEXTS).map(|_| v.vocabulary().to_vec())
        };
        let base = VocabularyVectorizer::new;
        assert_eq!(fit(base().with_min_df(DocFrequency::Count(2))).unwrap(), ["a", "b"]);
        assert_eq!(
            fit(base().with_min_df(DocFrequency::Fraction(0.5))).unwrap(),
            ["a", "b"]
        );
        assert_eq!(
            fit(base().with_max_df(Some(DocFrequency::Count(2)))).unwrap(),
            ["b", "c", "d", "e"]
        );
        // a: 4, b: 2, then c, d, e tied at 1: alphabetical.
        assert_eq!(fit(base().with_max_features(Some(3))).unwrap(), ["a", "b", "c"]);
        assert_eq!(fit(base().with_max_features(Some(5))).unwrap().len(), 5);
        assert_eq!(fit(base().with_max_features(Some(50))).unwrap().len(), 5);
        assert_eq!(
            fit(base().with_max_features(Some(0))),
            Err(VocabularyError::EmptyVocabulary { terms: 5 })
        );
        assert_eq!(
            fit(base().with_min_df(DocFrequency::Count(5))),
            Err(VocabularyError::EmptyVocabulary { terms: 5 })
        );
        assert!(matches!(
            fit(base()
                .with_min_df(DocFrequency::Count(3))
                .with_max_df(Some(DocFrequency::Count(2)))),
            Err(VocabularyError::DfBounds { .. })
        ));
        assert!(matches!(
            fit(base().with_min_df(DocFrequency::Fraction(1.5))),
            Err(VocabularyError::Fraction { .. })
        ));
        assert!(matches!(
            fit(base().with_ngram_range(2, 1)),
            Err(VocabularyError::NgramRange { .. })
        ));
        assert_eq!(
            fit(base().with_ngram_range(2, 2)).unwrap(),
            ["a a", "a b", "a d", "b c"]
        );
    }

    #[test]
    fn errors_and_empty_rows() {
        let v = VocabularyVectorizer::new();
        assert!(!v.is_fitted());
        assert_eq!(v.transform("a"), Err(VocabularyError::NotFitted));
        assert_eq!(v.transform_all(["a"]).unwrap_err(), VocabularyError::NotFitted);
        let mut v = VocabularyVectorizer::new();
        assert_eq!(v.fit(std::iter::empty()), Err(VocabularyError::NoTexts));
        assert_eq!(v.fit(["", " ,"]).map(|_| v.vocabulary().to_vec()).unwrap(), [","]);
        assert_eq!(v.fit(["", "  "]), Err(VocabularyError::EmptyVocabulary { terms: 0 }));
        let mut v = VocabularyVectorizer::new();
        let rows = v.fit_transform(TEXTS).unwrap();
        assert_eq!((rows.len(), rows.features()), (4, 5));
        let rows = v.transform_all(["", "zzz unknown", "e"]).unwrap();
        assert_eq!(rows.row(0).0.len(), 0);
        assert_eq!(rows.row(1).0.len(), 0);
        assert_eq!(rows.row(2), (&[4u32][..], &[1.0f32][..]));
    }

    #[test]
    fn sublinear_tf() {
        let mut v = VocabularyVectorizer::new()
            .with_weighting(Weighting::Tf)
            .with_sublinear_tf(true)
            .with_normalize(false);
        v.fit(TEXTS).unwrap();
        let (_, values) = v.transform("a a a b").unwrap();
        assert!((values[0] - (1.0 + 3.0f32.ln())).abs() < 1e-6);
        assert_eq!(values[1], 1.0);
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let mut v = VocabularyVectorizer::new()
            .with_ngram_range(1, 2)
            .with_max_df(Some(DocFrequency::Fraction(0.9)))
            .with_sublinear_tf(true);
        v.fit(TEXTS).unwrap();
        let json = serde_json::to_string(&v).unwrap();
        let back: VocabularyVectorizer = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.term_index("a b"), v.term_index("a b"));
        assert_eq!(back.transform("a b c a").unwrap(), v.transform("a b c a").unwrap());
        let unfitted: VocabularyVectorizer =
            serde_json::from_str(&serde_json::to_string(&VocabularyVectorizer::new()).unwrap()).unwrap();
        assert!(!unfitted.is_fitted());
        let bad = json.replace("\"a\",\"a a\"", "\"a a\",\"a\"");
        assert_ne!(bad, json);
        assert!(serde_json::from_str::<VocabularyVectorizer>(&bad).is_err());
    }
}
