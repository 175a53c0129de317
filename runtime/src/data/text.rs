//! Text features: a tokenizer and a hashing vectorizer into a compile-time number of
//! features, so that a sentence becomes an `SVector<f32, N>` a generated network takes, or a
//! sparse row ([`SparseRows`]) when `N` is large.

use crate::data::sparse::SparseRows;
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
    idf: Option<Vec<f32>>,
}

/// The serialized form of a [`HashingVectorizer`]: its settings, its bucket count and its idf.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedHashing {
    features: usize,
    bigrams: bool,
    char_ngrams: Option<(usize, usize)>,
    weighting: Weighting,
    idf: Option<Vec<f32>>,
}

impl<const N: usize> From<HashingVectorizer<N>> for SavedHashing {
    fn from(v: HashingVectorizer<N>) -> Self {
        SavedHashing {
            features: N,
            bigrams: v.bigrams,
            char_ngrams: v.char_ngrams,
            weighting: v.weighting,
            idf: v.idf,
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
        match &s.idf {
            Some(idf) if idf.len() != N => return Err(format!("{} idf values for {N} features", idf.len())),
            Some(idf) if !idf.iter().all(|w| w.is_finite()) => return Err("an idf value is not finite".into()),
            _ => {}
        }
        Ok(HashingVectorizer {
            bigrams: s.bigrams,
            char_ngrams: s.char_ngrams,
            weighting: s.weighting,
            idf: s.idf,
        })
    }
}

impl<const N: usize> Default for HashingVectorizer<N> {
    fn default() -> Self {
        HashingVectorizer {
            bigrams: false,
            char_ngrams: None,
            weighting: Weighting::Tf,
            idf: None,
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

    /// The bucket and sign of each feature of `text`, in order.
    pub fn hashed_features(&self, text: &str) -> Vec<(usize, f32)> {
        let tokens = tokenize(text);
        let mut out = Vec::new();
        let mut push = |key: &[u8]| {
            let h = fnv1a(key);
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            out.push(((h % N.max(1) as u64) as usize, sign));
        };
        let (mut key, mut padded, mut starts) = (Vec::new(), Vec::new(), Vec::<usize>::new());
        for (i, token) in tokens.iter().enumerate() {
            key.clear();
            key.extend_from_slice(b"w:");
            key.extend_from_slice(token.as_bytes());
            push(&key);
            if self.bigrams {
                if let Some(next) = tokens.get(i + 1) {
                    key.clear();
                    key.extend_from_slice(b"b:");
                    key.extend_from_slice(token.as_bytes());
                    key.push(b' ');
                    key.extend_from_slice(next.as_bytes());
                    push(&key);
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
                        push(&key);
                    }
                }
            }
        }
        out
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

    /// Whether [`fit`](Self::fit) has run.
    pub fn is_fitted(&self) -> bool {
        self.idf.is_some()
    }

    /// Writes the features of `text` into `out` (`N` values): weighted counts, L2-normalized.
    /// Under TF-IDF before [`fit`](Self::fit), every idf is taken as 1.
    pub fn transform_into(&self, text: &str, out: &mut [f32]) {
        out.fill(0.0);
        for (bucket, sign) in self.hashed_features(text) {
            if let Some(v) = out.get_mut(bucket) {
                *v += sign;
            }
        }
        if self.weighting == Weighting::TfIdf {
            if let Some(idf) = &self.idf {
                for (v, w) in out.iter_mut().zip(idf) {
                    *v *= w;
                }
            }
        }
        let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|v| *v /= norm);
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
        let mut features = self.hashed_features(text);
        features.sort_unstable_by_key(|&(bucket, _)| bucket);
        // Counts are sums of +-1, exact in any order, so they equal the dense sums.
        for (bucket, sign) in features {
            let index = bucket as u32;
            match (indices.last(), values.last_mut()) {
                (Some(&last), Some(v)) if last == index => *v += sign,
                _ => {
                    indices.push(index);
                    values.push(sign);
                }
            }
        }
        // Buckets whose signs cancelled are zeros of the dense vector: drop them.
        let mut kept = 0;
        for i in 0..indices.len() {
            if values[i] != 0.0 {
                indices[kept] = indices[i];
                values[kept] = values[i];
                kept += 1;
            }
        }
        indices.truncate(kept);
        values.truncate(kept);
        if self.weighting == Weighting::TfIdf {
            if let Some(idf) = &self.idf {
                for (v, &i) in values.iter_mut().zip(indices.iter()) {
                    if let Some(w) = idf.get(i as usize) {
                        *v *= w;
                    }
                }
            }
        }
        // The dense norm adds the same squares in the same (index) order, and zeros.
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
}
