//! Text features: a tokenizer and a hashing vectorizer into a compile-time number of
//! features, so that a sentence becomes an `SVector<f32, N>` a generated network takes, or a
//! sparse row ([`SparseRows`]) when `N` is large.

use crate::data::sparse::SparseRows;
use crate::data::DataError;
use nalgebra::SVector;

/// Splits text into lowercase tokens: runs of letters, digits and apostrophes, and each other
/// non-space character (punctuation) on its own.
///
/// ```
/// use retroprop_runtime::data::text::tokenize;
/// assert_eq!(tokenize("Great food, didn't LOVE it!"), ["great", "food", ",", "didn't", "love", "it", "!"]);
/// ```
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            word.extend(c.to_lowercase());
        } else {
            if !word.is_empty() {
                tokens.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                tokens.push(c.to_lowercase().collect());
            }
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    tokens
}

/// Words that start a negation's scope in [`mark_negation`] (and every token ending in `n't`).
pub const NEGATION_TRIGGERS: &[&str] = &[
    "not", "no", "never", "nothing", "nowhere", "noone", "none", "nobody", "neither", "nor", "cannot", "dont", "didnt",
    "doesnt", "isnt", "wasnt", "arent", "werent", "wont", "wouldnt", "couldnt", "shouldnt", "hasnt", "havent", "hadnt",
    "aint",
];

/// Marks negated tokens as sentiment classifiers since Das and Chen (2001) do: every token
/// after a negation word ([`NEGATION_TRIGGERS`], or any token ending in `n't`) gets the prefix
/// `NOT_`, up to the next `.`, `,`, `!`, `?`, `;` or `:` token, which ends the scope and stays
/// as it is. Takes the tokens of [`tokenize`].
///
/// ```
/// use retroprop_runtime::data::text::{mark_negation, tokenize};
/// let marked = mark_negation(&tokenize("It's not good at all, but cheap."));
/// assert_eq!(marked, ["it's", "not", "NOT_good", "NOT_at", "NOT_all", ",", "but", "cheap", "."]);
/// assert_eq!(mark_negation(&tokenize("didn't like it")), ["didn't", "NOT_like", "NOT_it"]);
/// ```
pub fn mark_negation(tokens: &[String]) -> Vec<String> {
    let mut negated = false;
    tokens
        .iter()
        .map(|token| {
            if matches!(token.as_str(), "." | "," | "!" | "?" | ";" | ":") {
                negated = false;
                return token.clone();
            }
            let marked = if negated { format!("NOT_{token}") } else { token.clone() };
            if token.ends_with("n't") || NEGATION_TRIGGERS.contains(&token.as_str()) {
                negated = true;
            }
            marked
        })
        .collect()
}

/// 64-bit FNV-1a: a small, portable hash whose values never change between runs, platforms
/// or releases.
///
/// ```
/// use retroprop_runtime::data::text::fnv1a;
/// assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
/// assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
/// ```
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// How term counts are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Weighting {
    /// Raw term counts.
    Tf,
    /// Term counts times the inverse document frequency fitted on training texts:
    /// `idf = ln((1 + n) / (1 + df)) + 1` (scikit-learn's smooth idf).
    TfIdf,
}

/// A hashing vectorizer: each feature (a word, a pair of adjacent words, or a character
/// n-gram of a word) is hashed with [`fnv1a`] into one of `N` buckets, with a sign taken from
/// the hash so that collisions tend to cancel (as scikit-learn's `alternate_sign`). Counts
/// are weighted (TF or TF-IDF) and each vector is L2-normalized.
///
/// The dense methods ([`transform`](Self::transform), [`transform_all`](Self::transform_all))
/// write all `N` values; the sparse ones ([`transform_sparse`](Self::transform_sparse),
/// [`transform_all_sparse`](Self::transform_all_sparse)) give the same nonzero values, bit for
/// bit, in time proportional to the text, so `N` can be `1 << 20` or more.
///
/// ```
/// use retroprop_runtime::data::text::{HashingVectorizer, Weighting};
/// let mut vectorizer = HashingVectorizer::<256>::new().with_bigrams(true).with_weighting(Weighting::TfIdf);
/// vectorizer.fit(["good food", "bad food", "good service"]);
/// let v = vectorizer.transform("Good food!");
/// assert!((v.norm() - 1.0).abs() < 1e-6);
/// ```
///
/// It is `serde`-serializable (settings and idf); restoring checks that the idf has `N`
/// finite values.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "SavedHashing", into = "SavedHashing")]
pub struct HashingVectorizer<const N: usize> {
    /// Word bigrams as well as unigrams.
    pub bigrams: bool,
    /// Character n-grams of each word (padded with spaces), lengths in this inclusive range.
    pub char_ngrams: Option<(usize, usize)>,
    /// TF or TF-IDF.
    pub weighting: Weighting,
    /// Presence instead of counts: every feature of a text is 1 before weighting (without the
    /// hash's sign), as scikit-learn's `binary=True`.
    pub binary: bool,
    /// Word features of negated tokens are marked ([`mark_negation`]); character n-grams are
    /// taken from the unmarked words.
    pub negation: bool,
    /// The word features (unigrams, bigrams) and the character n-grams are L2-normalized each
    /// on their own (a text's vector then has norm `sqrt(2)` when it has both), instead of
    /// together.
    pub separate_norms: bool,
    idf: Option<Vec<f32>>,
    ratio: Option<Vec<f32>>,
}

/// The serialized form of a [`HashingVectorizer`]: its settings, its bucket count and its idf.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedHashing {
    features: usize,
    bigrams: bool,
    char_ngrams: Option<(usize, usize)>,
    weighting: Weighting,
    #[serde(default)]
    binary: bool,
    #[serde(default)]
    negation: bool,
    #[serde(default)]
    separate_norms: bool,
    idf: Option<Vec<f32>>,
    #[serde(default)]
    naive_bayes_ratio: Option<Vec<f32>>,
}

impl<const N: usize> From<HashingVectorizer<N>> for SavedHashing {
    fn from(v: HashingVectorizer<N>) -> Self {
        SavedHashing {
            features: N,
            bigrams: v.bigrams,
            char_ngrams: v.char_ngrams,
            weighting: v.weighting,
            binary: v.binary,
            negation: v.negation,
            separate_norms: v.separate_norms,
            idf: v.idf,
            naive_bayes_ratio: v.ratio,
        }
    }
}

impl<const N: usize> TryFrom<SavedHashing> for HashingVectorizer<N> {
    type Error = String;

    fn try_from(s: SavedHashing) -> Result<Self, String> {
        if s.features != N {
            return Err(format!("a hashing vectorizer of {} features, not {N}", s.features));
        }
        if let Some((min, max)) = s.char_ngrams {
            if min == 0 || min > max {
                return Err(format!("invalid character n-gram range ({min}, {max})"));
            }
        }
        for (what, weights) in [("idf", &s.idf), ("naive Bayes ratio", &s.naive_bayes_ratio)] {
            match weights {
                Some(w) if w.len() != N => return Err(format!("{} {what} values for {N} features", w.len())),
                Some(w) if !w.iter().all(|w| w.is_finite()) => return Err(format!("a {what} value is not finite")),
                _ => {}
            }
        }
        Ok(HashingVectorizer {
            bigrams: s.bigrams,
            char_ngrams: s.char_ngrams,
            weighting: s.weighting,
            binary: s.binary,
            negation: s.negation,
            separate_norms: s.separate_norms,
            idf: s.idf,
            ratio: s.naive_bayes_ratio,
        })
    }
}

impl<const N: usize> Default for HashingVectorizer<N> {
    fn default() -> Self {
        HashingVectorizer {
            bigrams: false,
            char_ngrams: None,
            weighting: Weighting::Tf,
            binary: false,
            negation: false,
            separate_norms: false,
            idf: None,
            ratio: None,
        }
    }
}

impl<const N: usize> HashingVectorizer<N> {
    /// Word unigrams, TF weighting.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds word bigrams.
    pub fn with_bigrams(mut self, on: bool) -> Self {
        self.bigrams = on;
        self
    }

    /// Adds character n-grams of lengths `min..=max` within each word.
    pub fn with_char_ngrams(mut self, min: usize, max: usize) -> Self {
        self.char_ngrams = Some((min.max(1), max.max(min.max(1))));
        self
    }

    /// Sets the weighting.
    pub fn with_weighting(mut self, weighting: Weighting) -> Self {
        self.weighting = weighting;
        self
    }

    /// Presence instead of counts ([`binary`](Self::binary)).
    pub fn with_binary(mut self, on: bool) -> Self {
        self.binary = on;
        self
    }

    /// Marks negated words ([`negation`](Self::negation)).
    pub fn with_negation(mut self, on: bool) -> Self {
        self.negation = on;
        self
    }

    /// Normalizes word and character features separately
    /// ([`separate_norms`](Self::separate_norms)).
    pub fn with_separate_norms(mut self, on: bool) -> Self {
        self.separate_norms = on;
        self
    }

    /// The bucket and sign of each feature of `text`, in order.
    pub fn hashed_features(&self, text: &str) -> Vec<(usize, f32)> {
        let mut out = Vec::new();
        self.each_feature(text, |bucket, sign, _| out.push((bucket, sign)));
        out
    }

    /// Calls `f(bucket, sign, is_char_ngram)` for each feature of `text`, in order.
    fn each_feature(&self, text: &str, mut f: impl FnMut(usize, f32, bool)) {
        let tokens = tokenize(text);
        let marked = if self.negation {
            mark_negation(&tokens)
        } else {
            Vec::new()
        };
        let words = if self.negation { &marked } else { &tokens };
        let mut push = |key: &[u8], is_char: bool| {
            let h = fnv1a(key);
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            f((h % N.max(1) as u64) as usize, sign, is_char);
        };
        let (mut key, mut padded, mut starts) = (Vec::new(), Vec::new(), Vec::<usize>::new());
        for (i, (token, word)) in tokens.iter().zip(words).enumerate() {
            key.clear();
            key.extend_from_slice(b"w:");
            key.extend_from_slice(word.as_bytes());
            push(&key, false);
            if self.bigrams {
                if let Some(next) = words.get(i + 1) {
                    key.clear();
                    key.extend_from_slice(b"b:");
                    key.extend_from_slice(word.as_bytes());
                    key.push(b' ');
                    key.extend_from_slice(next.as_bytes());
                    push(&key, false);
                }
            }
            if let Some((min, max)) = self.char_ngrams {
                // The padded word's bytes, and where each of its characters starts (and the
                // end): an n-gram of characters is the bytes between two of these.
                padded.clear();
                padded.push(b' ');
                padded.extend_from_slice(token.as_bytes());
                padded.push(b' ');
                starts.clear();
                starts.extend(
                    (0..padded.len())
                        .filter(|&i| (padded[i] & 0xc0) != 0x80)
                        .chain(std::iter::once(padded.len())),
                );
                let chars = starts.len() - 1;
                for n in min..=max {
                    for first in 0..=chars.saturating_sub(n) {
                        if first + n > chars {
                            break;
                        }
                        key.clear();
                        key.extend_from_slice(b"c:");
                        key.extend_from_slice(&padded[starts[first]..starts[first + n]]);
                        push(&key, true);
                    }
                }
            }
        }
    }

    /// Fits the inverse document frequencies on training texts (needed for TF-IDF; harmless
    /// for TF). Each text costs time in proportion to its features, not to `N`: the only
    /// `N`-long buffers (the counts and the idf) are allocated once per call.
    pub fn fit<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) {
        let mut df = vec![0usize; N];
        let mut buckets = Vec::new();
        let mut n = 0usize;
        for text in texts {
            n += 1;
            buckets.clear();
            buckets.extend(self.hashed_features(text).into_iter().map(|(bucket, _)| bucket));
            buckets.sort_unstable();
            buckets.dedup();
            for &bucket in &buckets {
                if let Some(d) = df.get_mut(bucket) {
                    *d += 1;
                }
            }
        }
        let n = n as f64;
        self.idf = Some(
            df.iter()
                .map(|&d| (((1.0 + n) / (1.0 + d as f64)).ln() + 1.0) as f32)
                .collect(),
        );
    }

    /// Fits the idf as [`fit`](Self::fit) does and the naive Bayes log-count ratio of each
    /// feature (Wang and Manning 2012, "Baselines and Bigrams": NBSVM) on labelled training
    /// texts of two classes, 0 and 1: with `p` the smoothed count of class-1 texts that
    /// contain a feature, `alpha + #{1-texts with it}`, and `q` the same for class 0,
    /// `r = ln((p / |p|_1) / (q / |q|_1))`, the norms summing over all `N` features. Every
    /// later transform multiplies each feature's value by its `r` before normalizing, so words
    /// that tell the classes apart weigh more (a feature seen in no training text gets the
    /// constant `ln(|q|_1 / |p|_1)`).
    ///
    /// ```
    /// use retroprop_runtime::data::text::HashingVectorizer;
    /// let mut v = HashingVectorizer::<1024>::new().with_binary(true);
    /// v.fit_naive_bayes(["good food", "good service", "bad food"], &[1, 1, 0], 0.5).unwrap();
    /// let (good, bad) = (v.transform_sparse("good"), v.transform_sparse("bad"));
    /// assert!(good.1[0] > 0.0 && bad.1[0] < 0.0);
    /// ```
    ///
    /// # Errors
    /// [`DataError::SampleCountMismatch`] if `labels` is not one per text,
    /// [`DataError::LabelOutOfRange`] for a label other than 0 or 1, and
    /// [`DataError::Parameter`] for an `alpha` that is not positive and finite; the
    /// vectorizer is unchanged then.
    pub fn fit_naive_bayes<'a>(
        &mut self,
        texts: impl IntoIterator<Item = &'a str>,
        labels: &[usize],
        alpha: f32,
    ) -> Result<(), DataError> {
        if !(alpha > 0.0 && alpha.is_finite()) {
            return Err(DataError::Parameter {
                name: "alpha",
                value: alpha.to_string(),
                expected: "positive and finite",
            });
        }
        if let Some(index) = labels.iter().position(|&label| label > 1) {
            return Err(DataError::LabelOutOfRange {
                index,
                label: labels[index],
                classes: 2,
            });
        }
        let texts: Vec<&str> = texts.into_iter().collect();
        if texts.len() != labels.len() {
            return Err(DataError::SampleCountMismatch {
                features: texts.len(),
                targets: labels.len(),
            });
        }
        let mut counts = [vec![0u32; N], vec![0u32; N]];
        let mut buckets = Vec::new();
        for (text, &label) in texts.iter().zip(labels) {
            buckets.clear();
            self.each_feature(text, |bucket, _, _| buckets.push(bucket));
            buckets.sort_unstable();
            buckets.dedup();
            for &bucket in &buckets {
                if let Some(count) = counts[label].get_mut(bucket) {
                    *count += 1;
                }
            }
        }
        let alpha = f64::from(alpha);
        let total = |c: &[u32]| c.iter().map(|&c| f64::from(c) + alpha).sum::<f64>();
        let (negative, positive) = (total(&counts[0]), total(&counts[1]));
        self.fit(texts.iter().copied());
        self.ratio = Some(
            counts[1]
                .iter()
                .zip(&counts[0])
                .map(|(&p, &q)| (((f64::from(p) + alpha) / positive) / ((f64::from(q) + alpha) / negative)).ln() as f32)
                .collect(),
        );
        Ok(())
    }

    /// Whether [`fit`](Self::fit) has run.
    pub fn is_fitted(&self) -> bool {
        self.idf.is_some()
    }

    /// Writes the features of `text` into `out` (`N` values): weighted counts, L2-normalized
    /// (the values of [`transform_sparse`](Self::transform_sparse), zeros elsewhere). Under
    /// TF-IDF before [`fit`](Self::fit), every idf is taken as 1.
    pub fn transform_into(&self, text: &str, out: &mut [f32]) {
        out.fill(0.0);
        let (indices, values) = self.transform_sparse(text);
        for (&i, &v) in indices.iter().zip(&values) {
            if let Some(slot) = out.get_mut(i as usize) {
                *slot = v;
            }
        }
    }

    /// The features of `text` as a static vector.
    pub fn transform(&self, text: &str) -> SVector<f32, N> {
        let mut v = SVector::<f32, N>::zeros();
        self.transform_into(text, v.as_mut_slice());
        v
    }

    /// The features of many texts, column-major (`N` values per text).
    pub fn transform_all<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Vec<f32> {
        let mut out = Vec::new();
        let mut column = vec![0.0f32; N];
        for text in texts {
            self.transform_into(text, &mut column);
            out.extend_from_slice(&column);
        }
        out
    }

    /// The nonzero features of `text` (as [`transform`](Self::transform) gives them, bit for
    /// bit) as strictly increasing bucket indices and their values. Time and memory are in
    /// proportion to the text's features, never to `N`.
    ///
    /// For an `N` of 0 or above `2^32` (indices are `u32`), a compile-time assertion fails
    /// when the method is instantiated.
    ///
    /// ```
    /// use retroprop_runtime::data::text::HashingVectorizer;
    /// let vectorizer = HashingVectorizer::<{ 1 << 20 }>::new().with_bigrams(true);
    /// let (indices, values) = vectorizer.transform_sparse("good food, good service");
    /// assert!(indices.windows(2).all(|w| w[0] < w[1]));
    /// let norm: f32 = values.iter().map(|v| v * v).sum::<f32>().sqrt();
    /// assert!((norm - 1.0).abs() < 1e-6);
    /// ```
    pub fn transform_sparse(&self, text: &str) -> (Vec<u32>, Vec<f32>) {
        let mut indices = Vec::new();
        let mut values = Vec::new();
        self.transform_sparse_into(text, &mut indices, &mut values);
        (indices, values)
    }

    /// Like [`transform_sparse`](Self::transform_sparse), into caller-owned buffers (cleared
    /// first; they grow only when a text has more features than any before).
    pub fn transform_sparse_into(&self, text: &str, indices: &mut Vec<u32>, values: &mut Vec<f32>) {
        const {
            assert!(
                N >= 1 && N - 1 <= u32::MAX as usize,
                "sparse features need 1 <= N <= 2^32"
            )
        };
        indices.clear();
        values.clear();
        // (group, bucket, sign): the character n-grams are a group of their own when they
        // are normalized on their own.
        let mut features = Vec::new();
        self.each_feature(text, |bucket, sign, is_char| {
            features.push((is_char && self.separate_norms, bucket as u32, sign));
        });
        features.sort_unstable_by_key(|&(group, bucket, _)| (group, bucket));
        let split = features.partition_point(|&(group, _, _)| !group);
        let (words, chars) = features.split_at(split);
        self.weigh_group(words, indices, values);
        if !chars.is_empty() {
            let (mut char_indices, mut char_values) = (Vec::new(), Vec::new());
            self.weigh_group(chars, &mut char_indices, &mut char_values);
            merge_sorted(indices, values, &char_indices, &char_values);
        }
    }

    /// One group's features (sorted by bucket) as increasing indices and values: counts (sums
    /// of the signs, or 1 with [`binary`](Self::binary)), weighted, L2-normalized; appended to
    /// empty `indices` and `values`.
    fn weigh_group(&self, features: &[(bool, u32, f32)], indices: &mut Vec<u32>, values: &mut Vec<f32>) {
        // Counts are sums of +-1, exact in any order, so they equal the dense sums.
        for &(_, index, sign) in features {
            match (indices.last(), values.last_mut()) {
                (Some(&last), Some(v)) if last == index => *v += sign,
                _ => {
                    indices.push(index);
                    values.push(sign);
                }
            }
        }
        let idf = self.idf.as_deref().filter(|_| self.weighting == Weighting::TfIdf);
        // Buckets whose signs cancelled (and weights of exactly 0) are zeros of the dense
        // vector: drop them.
        let mut kept = 0;
        for i in 0..indices.len() {
            let index = indices[i] as usize;
            let mut v = if self.binary && values[i] != 0.0 {
                1.0
            } else {
                values[i]
            };
            if let Some(w) = idf.and_then(|idf| idf.get(index)) {
                v *= w;
            }
            if let Some(r) = self.ratio.as_deref().and_then(|r| r.get(index)) {
                v *= r;
            }
            if v != 0.0 {
                indices[kept] = indices[i];
                values[kept] = v;
                kept += 1;
            }
        }
        indices.truncate(kept);
        values.truncate(kept);
        // The same squares in the same (index) order as a dense norm, which adds zeros.
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            values.iter_mut().for_each(|v| *v /= norm);
        }
    }

    /// The features of many texts as sparse rows (`N` features, one row per text), in time
    /// and memory proportional to the texts, never to `N`.
    ///
    /// For an `N` of 0 or above `2^32`, a compile-time assertion fails, as for
    /// [`transform_sparse`](Self::transform_sparse).
    ///
    /// ```
    /// use retroprop_runtime::data::text::HashingVectorizer;
    /// let vectorizer = HashingVectorizer::<{ 1 << 18 }>::new();
    /// let rows = vectorizer.transform_all_sparse(["good food", "", "bad, bad service"]);
    /// assert_eq!((rows.len(), rows.features()), (3, 1 << 18));
    /// assert_eq!(rows.row(1).0.len(), 0);
    /// ```
    pub fn transform_all_sparse<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> SparseRows<f32> {
        let mut rows = SparseRows::empty_unchecked(N);
        let mut indices = Vec::new();
        let mut values = Vec::new();
        for text in texts {
            self.transform_sparse_into(text, &mut indices, &mut values);
            rows.push_row_unchecked(&indices, &values);
        }
        rows
    }
}

/// Adds the sorted features `(other_indices, other_values)` into the sorted `indices` and
/// `values` (a sum where both have an index; sums of exactly 0 are dropped).
fn merge_sorted(indices: &mut Vec<u32>, values: &mut Vec<f32>, other_indices: &[u32], other_values: &[f32]) {
    let (mine, theirs) = (std::mem::take(indices), std::mem::take(values));
    let (mut a, mut b) = (0, 0);
    while a < mine.len() || b < other_indices.len() {
        let (index, value) = match (mine.get(a), other_indices.get(b)) {
            (Some(&i), Some(&j)) if i == j => {
                (a, b) = (a + 1, b + 1);
                (i, theirs[a - 1] + other_values[b - 1])
            }
            (Some(&i), Some(&j)) if i < j => {
                a += 1;
                (i, theirs[a - 1])
            }
            (Some(&i), None) => {
                a += 1;
                (i, theirs[a - 1])
            }
            (_, Some(&j)) => {
                b += 1;
                (j, other_values[b - 1])
            }
            (None, None) => break,
        };
        if value != 0.0 {
            indices.push(index);
            values.push(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The character n-grams of a word as the vectorizer first computed them (a `String` per
    /// n-gram), to check that the byte-slice form hashes the same keys.
    fn char_keys_by_strings(token: &str, min: usize, max: usize) -> Vec<Vec<u8>> {
        let padded: Vec<char> = format!(" {token} ").chars().collect();
        let mut keys = Vec::new();
        for n in min..=max {
            for gram in padded.windows(n) {
                let mut key = b"c:".to_vec();
                key.extend_from_slice(gram.iter().collect::<String>().as_bytes());
                keys.push(key);
            }
        }
        keys
    }

    #[test]
    fn char_ngrams_hash_the_same_keys_as_strings_of_chars() {
        for text in ["good food", "a", "naïve café façade", "日本語 text 🎉ok", "x y z", ""] {
            for (min, max) in [(1, 1), (2, 5), (3, 8), (1, 12)] {
                let mut expected = Vec::new();
                for token in tokenize(text) {
                    let h = |key: &[u8]| {
                        let h = fnv1a(key);
                        ((h % 4096) as usize, if h >> 63 == 0 { 1.0 } else { -1.0 })
                    };
                    expected.push(h(format!("w:{token}").as_bytes()));
                    expected.extend(char_keys_by_strings(&token, min, max).iter().map(|k| h(k)));
                }
                let got = HashingVectorizer::<4096>::new()
                    .with_char_ngrams(min, max)
                    .hashed_features(text);
                assert_eq!(got, expected, "{text:?} ({min}, {max})");
            }
        }
    }

    /// The bucket of a key, as the vectorizer hashes it into 4096 buckets.
    fn bucket(key: &str) -> u32 {
        (fnv1a(key.as_bytes()) % 4096) as u32
    }

    #[test]
    fn negation_marks_the_word_features_and_leaves_the_character_ngrams() {
        let plain = HashingVectorizer::<4096>::new()
            .with_bigrams(true)
            .with_char_ngrams(2, 3);
        let marked = plain.clone().with_negation(true);
        let text = "Not good, fine";
        let keys: Vec<u32> = marked.hashed_features(text).iter().map(|&(b, _)| b as u32).collect();
        for key in [
            "w:not",
            "w:NOT_good",
            "b:not NOT_good",
            "b:NOT_good ,",
            "w:,",
            "w:fine",
            "c: g",
            "c:goo",
        ] {
            assert!(keys.contains(&bucket(key)), "{key}");
        }
        assert!(!keys.contains(&bucket("w:good")) && !keys.contains(&bucket("c:NO")));
        // The character n-grams are the plain vectorizer's.
        let chars = |v: &HashingVectorizer<4096>| {
            let mut out = Vec::new();
            v.each_feature(text, |b, sign, is_char| {
                if is_char {
                    out.push((b, sign));
                }
            });
            out
        };
        assert_eq!(chars(&marked), chars(&plain));
    }

    #[test]
    fn binary_features_with_separate_norms_are_presence_normalized_per_kind() {
        let v = HashingVectorizer::<{ 1 << 20 }>::new()
            .with_char_ngrams(3, 3)
            .with_binary(true)
            .with_separate_norms(true);
        // Two words (one twice) and the character trigrams " ab", "ab ", " cd", "cd ".
        let (indices, values) = v.transform_sparse("ab ab cd");
        assert!(indices.windows(2).all(|w| w[0] < w[1]));
        let word_buckets = [bucket_of::<{ 1 << 20 }>("w:ab"), bucket_of::<{ 1 << 20 }>("w:cd")];
        let (mut words, mut chars) = (0.0f32, 0.0f32);
        for (&i, &x) in indices.iter().zip(&values) {
            if word_buckets.contains(&i) {
                assert!((x - 0.5f32.sqrt()).abs() < 1e-6, "a repeated word counts once");
                words += x * x;
            } else {
                assert!((x - 0.5).abs() < 1e-6, "four trigrams, each 1/2");
                chars += x * x;
            }
        }
        assert_eq!(indices.len(), 6);
        assert!((words - 1.0).abs() < 1e-6 && (chars - 1.0).abs() < 1e-6);
        // The dense form has the same values.
        let mut dense = vec![0.0; 1 << 20];
        v.transform_into("ab ab cd", &mut dense);
        for (&i, &x) in indices.iter().zip(&values) {
            assert_eq!(dense[i as usize], x);
        }
        assert_eq!(dense.iter().filter(|&&x| x != 0.0).count(), indices.len());
    }

    fn bucket_of<const N: usize>(key: &str) -> u32 {
        (fnv1a(key.as_bytes()) % N as u64) as u32
    }

    #[test]
    fn naive_bayes_ratios_follow_the_formula() {
        let texts = ["good good food", "good service", "bad food", "cold food"];
        let labels = [1, 1, 0, 0];
        let alpha = 0.5;
        let mut v = HashingVectorizer::<4096>::new().with_binary(true);
        v.fit_naive_bayes(texts, &labels, alpha).unwrap();
        let ratio = v.ratio.as_ref().unwrap();
        // Presence counts per class (a word twice in a text counts once): good 2, food 1,
        // service 1 in class 1; bad 1, food 2, cold 1 in class 0; 4 in each, plus alpha for
        // each of the 4096 buckets.
        let (p_total, q_total) = (4096.0 * 0.5 + 4.0, 4096.0 * 0.5 + 4.0);
        let r = |p: f64, q: f64| (((p + 0.5) / p_total) / ((q + 0.5) / q_total)).ln() as f32;
        for (word, p, q) in [
            ("good", 2.0, 0.0),
            ("food", 1.0, 2.0),
            ("service", 1.0, 0.0),
            ("bad", 0.0, 1.0),
            ("x", 0.0, 0.0),
        ] {
            let got = ratio[bucket(&format!("w:{word}")) as usize];
            assert!((got - r(p, q)).abs() < 1e-6, "{word}: {got} against {}", r(p, q));
        }
        // A transform multiplies by the ratio before normalizing: "good food" is the unit
        // vector along (r_good, r_food).
        let (indices, values) = v.transform_sparse("good food");
        let (g, f) = (r(2.0, 0.0), r(1.0, 2.0));
        let norm = (g * g + f * f).sqrt();
        for (&i, &x) in indices.iter().zip(&values) {
            let expected = if i == bucket("w:good") { g / norm } else { f / norm };
            assert!((x - expected).abs() < 1e-6);
        }
        // Saved and restored with the ratios; an old file without the new settings loads.
        let json = serde_json::to_string(&v).unwrap();
        let back: HashingVectorizer<4096> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v);
        let old = r#"{"features":16,"bigrams":true,"char_ngrams":null,"weighting":"Tf","idf":null}"#;
        let old: HashingVectorizer<16> = serde_json::from_str(old).unwrap();
        assert!(!old.binary && !old.negation && !old.separate_norms && old.ratio.is_none());
        let bad = json.replace("\"naive_bayes_ratio\":[", "\"naive_bayes_ratio\":[1.0,");
        assert!(serde_json::from_str::<HashingVectorizer<4096>>(&bad)
            .unwrap_err()
            .to_string()
            .contains("4097"));
    }

    #[test]
    fn naive_bayes_fitting_refuses_bad_labels_and_smoothing() {
        let mut v = HashingVectorizer::<64>::new();
        let before = v.clone();
        let texts = ["a", "b"];
        assert!(matches!(
            v.fit_naive_bayes(texts, &[0], 0.5),
            Err(DataError::SampleCountMismatch {
                features: 2,
                targets: 1
            })
        ));
        assert!(matches!(
            v.fit_naive_bayes(texts, &[0, 2], 0.5),
            Err(DataError::LabelOutOfRange {
                index: 1,
                label: 2,
                classes: 2
            })
        ));
        for alpha in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            let error = v.fit_naive_bayes(texts, &[0, 1], alpha).unwrap_err();
            assert!(
                error.to_string().contains("`alpha` must be positive and finite"),
                "{error}"
            );
        }
        assert_eq!(v, before);
        // No features at all: nothing to count, and no panic.
        let mut empty = HashingVectorizer::<0>::new();
        empty.fit_naive_bayes(["a b"], &[1], 0.5).unwrap();
        assert_eq!(empty.ratio.as_deref(), Some(&[][..]));
    }
}
