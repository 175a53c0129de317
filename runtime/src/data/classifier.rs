//! Text classification with a network whose input is sparse: a [`TextClassifier`] holds the
//! fitted vectorizer, the network and the class names, answers [`predict`] and
//! [`predict_proba`] on raw text, and saves all three in one safetensors file (the vectorizer
//! and the class names in its `__metadata__`, so PyTorch's `load_state_dict` still reads the
//! tensors).
//!
//! [`predict`]: TextClassifier::predict
//! [`predict_proba`]: TextClassifier::predict_proba

use crate::data::sparse::{SparseError, SparseRows};
use crate::data::text::HashingVectorizer;
use crate::data::vocabulary::{VocabularyError, VocabularyVectorizer};
use crate::error::ShapeError;
use crate::io::weights::{load_sparse, read_metadata, save_sparse, WeightsError};
use crate::network::SparseNetwork;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The metadata key of the vectorizer's kind ([`TextFeatures::KIND`]).
pub const VECTORIZER_KIND_KEY: &str = "retroprop.text.vectorizer";
/// The metadata key of the vectorizer's settings and fitted state, as JSON.
pub const VECTORIZER_KEY: &str = "retroprop.text.vectorizer_json";
/// The metadata key of the class names, a JSON array of strings.
pub const CLASSES_KEY: &str = "retroprop.text.classes";

/// Why a text classifier could not be built, used, saved or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClassifierError {
    /// The weight file could not be read or written, or its tensors do not match.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// The weight file's metadata has no usable vectorizer or class names.
    #[error("{path}: {message}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        message: String,
    },
    /// A vectorizer of another feature count than the network's input.
    #[error("the vectorizer gives {vectorizer} features, but the network takes {network}")]
    Features {
        /// The vectorizer's feature count.
        vectorizer: usize,
        /// The network's.
        network: usize,
    },
    /// Class names that the network's outputs cannot give.
    #[error(
        "{classes} class names for a network of {outputs} outputs (it needs 1 to {outputs} names, 2 for one output)"
    )]
    Classes {
        /// The names given.
        classes: usize,
        /// The network's outputs.
        outputs: usize,
    },
    /// The vocabulary vectorizer could not transform the text.
    #[error(transparent)]
    Vocabulary(#[from] VocabularyError),
    /// The text's features are not a valid sparse sample.
    #[error(transparent)]
    Sparse(#[from] SparseError),
    /// The sample does not fit the network.
    #[error(transparent)]
    Shape(#[from] ShapeError),
}

/// A fitted vectorizer that turns a text into a sparse row, as a [`TextClassifier`] needs it.
pub trait TextFeatures: Serialize + DeserializeOwned {
    /// The kind, as stored in a weight file's metadata (`"hashing"`, `"vocabulary"`).
    const KIND: &'static str;

    /// The number of features (the sparse rows' width).
    fn feature_count(&self) -> usize;

    /// The features of `text` into `indices` (increasing) and `values` (cleared first).
    ///
    /// # Errors
    /// [`ClassifierError::Vocabulary`] for a vocabulary vectorizer that is not fitted.
    fn features_into(&self, text: &str, indices: &mut Vec<u32>, values: &mut Vec<f32>) -> Result<(), ClassifierError>;
}

impl<const N: usize> TextFeatures for HashingVectorizer<N> {
    const KIND: &'static str = "hashing";

    fn feature_count(&self) -> usize {
        N
    }

    fn features_into(&self, text: &str, indices: &mut Vec<u32>, values: &mut Vec<f32>) -> Result<(), ClassifierError> {
        self.transform_sparse_into(text, indices, values);
        Ok(())
    }
}

impl TextFeatures for VocabularyVectorizer {
    const KIND: &'static str = "vocabulary";

    fn feature_count(&self) -> usize {
        self.len()
    }

    fn features_into(&self, text: &str, indices: &mut Vec<u32>, values: &mut Vec<f32>) -> Result<(), ClassifierError> {
        Ok(self.transform_into(text, indices, values)?)
    }
}

/// A text classifier: a fitted vectorizer, a network with a sparse input (`input:
/// sparse(n)`, whose outputs are probabilities: softmax, or sigmoid for one output) and the
/// names of its classes.
///
/// A network may have more outputs than there are classes (so that one network type serves
/// data sets of up to that many classes); the extra outputs are never a target, and
/// [`predict_proba`](Self::predict_proba) gives the probabilities of the named classes,
/// renormalized over them (the softmax of their logits alone).
///
/// ```
/// use retroprop_runtime::data::classifier::TextClassifier;
/// use retroprop_runtime::data::text::HashingVectorizer;
/// # use retroprop_runtime::network::SparseNetwork;
/// fn classify<N: SparseNetwork<Scalar = f32>>(net: N) {
///     let vectorizer = HashingVectorizer::<65536>::new();
///     let model = TextClassifier::new(net, vectorizer, vec!["negative".into(), "positive".into()]).unwrap();
///     let label = model.predict("a fine film").unwrap();
///     assert!(label == "negative" || label == "positive");
/// }
/// ```
#[derive(Debug, Clone)]
pub struct TextClassifier<N, V> {
    /// The network.
    pub net: N,
    /// The fitted vectorizer.
    pub vectorizer: V,
    classes: Vec<String>,
}

impl<N: SparseNetwork<Scalar = f32>, V: TextFeatures> TextClassifier<N, V> {
    /// A classifier from its parts.
    ///
    /// # Errors
    /// [`ClassifierError::Features`] if the vectorizer's feature count is not the network's,
    /// [`ClassifierError::Classes`] if the network's outputs cannot give the classes.
    pub fn new(net: N, vectorizer: V, classes: Vec<String>) -> Result<Self, ClassifierError> {
        if vectorizer.feature_count() != N::FEATURES {
            return Err(ClassifierError::Features {
                vectorizer: vectorizer.feature_count(),
                network: N::FEATURES,
            });
        }
        let fits = if N::OUTPUT == 1 {
            classes.len() == 2
        } else {
            (1..=N::OUTPUT).contains(&classes.len())
        };
        if !fits {
            return Err(ClassifierError::Classes {
                classes: classes.len(),
                outputs: N::OUTPUT,
            });
        }
        Ok(TextClassifier {
            net,
            vectorizer,
            classes,
        })
    }

    /// The class names, by index.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The vectorizer that turns texts into the network's features.
    pub fn vectorizer(&self) -> &V {
        &self.vectorizer
    }

    /// The network.
    pub fn network(&self) -> &N {
        &self.net
    }

    /// The probability of each class for `text`, in the order of [`classes`](Self::classes).
    /// An empty text, or one of unknown words only, is valid: its probabilities come from
    /// the biases.
    ///
    /// # Errors
    /// [`ClassifierError`] if the vectorizer cannot transform the text.
    pub fn predict_proba(&self, text: &str) -> Result<Vec<f32>, ClassifierError> {
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        self.vectorizer.features_into(text, &mut indices, &mut values)?;
        let row = SparseRows::new(N::FEATURES, vec![0, indices.len()], indices, values)?;
        let mut ws = N::workspace(1);
        let out = self.net.forward_sparse_into(&row.as_batch(), &mut ws)?;
        if N::OUTPUT == 1 {
            let p = out.act[0];
            return Ok(vec![1.0 - p, p]);
        }
        let named = &out.act[..self.classes.len()];
        let total: f32 = named.iter().sum();
        Ok(named
            .iter()
            .map(|&p| {
                if total > 0.0 {
                    p / total
                } else {
                    1.0 / named.len() as f32
                }
            })
            .collect())
    }

    /// The most probable class of `text` (the first on ties).
    ///
    /// # Errors
    /// As [`predict_proba`](Self::predict_proba).
    pub fn predict(&self, text: &str) -> Result<&str, ClassifierError> {
        let proba = self.predict_proba(text)?;
        let best = proba
            .iter()
            .enumerate()
            .fold(0, |best, (i, &p)| if p > proba[best] { i } else { best });
        Ok(&self.classes[best])
    }

    /// Writes the network's weights to `path` (atomically, as [`save_sparse`]), with the
    /// vectorizer (its kind and its JSON) and the class names in the file's metadata.
    ///
    /// # Errors
    /// [`ClassifierError::Weights`] naming the file if it cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), ClassifierError> {
        let metadata_error = |e: serde_json::Error| ClassifierError::Metadata {
            path: path.to_path_buf(),
            message: format!("cannot serialize the vectorizer: {e}"),
        };
        let vectorizer = serde_json::to_string(&self.vectorizer).map_err(metadata_error)?;
        let classes = serde_json::to_string(&self.classes).map_err(metadata_error)?;
        save_sparse(
            &self.net,
            path,
            [
                (VECTORIZER_KIND_KEY.to_owned(), V::KIND.to_owned()),
                (VECTORIZER_KEY.to_owned(), vectorizer),
                (CLASSES_KEY.to_owned(), classes),
            ],
        )?;
        Ok(())
    }

    /// Reads a classifier written by [`save`](Self::save).
    ///
    /// # Errors
    /// [`ClassifierError`] naming the file: it cannot be read, its tensors do not match the
    /// network, or its metadata has no vectorizer of this kind or no class names.
    pub fn load(path: &Path) -> Result<Self, ClassifierError> {
        let net = load_sparse::<N>(path)?;
        let metadata = read_metadata(path)?;
        let error = |message: String| ClassifierError::Metadata {
            path: path.to_path_buf(),
            message,
        };
        let get = |key: &str| {
            metadata.get(key).ok_or_else(|| {
                error(format!(
                    "the metadata has no `{key}`; was it saved by `TextClassifier::save`?"
                ))
            })
        };
        let kind = get(VECTORIZER_KIND_KEY)?;
        if kind != V::KIND {
            return Err(error(format!("the vectorizer is `{kind}`, not `{}`", V::KIND)));
        }
        let vectorizer: V = serde_json::from_str(get(VECTORIZER_KEY)?)
            .map_err(|e| error(format!("the vectorizer in `{VECTORIZER_KEY}` is not valid: {e}")))?;
        let classes: Vec<String> = serde_json::from_str(get(CLASSES_KEY)?).map_err(|e| {
            error(format!(
                "the class names in `{CLASSES_KEY}` are not a list of strings: {e}"
            ))
        })?;
        TextClassifier::new(net, vectorizer, classes).map_err(|e| error(e.to_string()))
    }
}
