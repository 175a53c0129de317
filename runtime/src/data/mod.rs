//! Data sets held in memory, mini-batches, loaders for files ([`load`]), preprocessing
//! ([`preprocess`]), sparse samples ([`sparse`]), text features ([`text`], [`vocabulary`]) and small real data
//! sets compiled into the crate ([`datasets`]).

pub mod classifier;
pub mod datasets;
pub mod load;
pub mod preprocess;
pub mod sparse;
pub mod text;
pub mod vocabulary;

use crate::nn::init::SeededRng;
use crate::real::Real;
use nalgebra::{Const, Dyn, MatrixView};
use rand::Rng;

/// Why a data set could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A width of zero.
    #[error("{what} width must be at least 1")]
    ZeroWidth {
        /// `"feature"` or `"target"`.
        what: &'static str,
    },
    /// A buffer that is not a whole number of samples.
    #[error("{what} buffer has {len} values, which is not a whole number of samples of width {width}")]
    Ragged {
        /// `"feature"` or `"target"`.
        what: &'static str,
        /// Buffer length.
        len: usize,
        /// Width of one sample.
        width: usize,
    },
    /// Features and targets for different numbers of samples.
    #[error("{features} samples of features but {targets} samples of targets")]
    SampleCountMismatch {
        /// Samples of features.
        features: usize,
        /// Samples of targets.
        targets: usize,
    },
    /// A setting outside its range.
    #[error("`{name}` must be {expected}, not {value}")]
    Parameter {
        /// The setting's name.
        name: &'static str,
        /// The value given, as written by `Display`.
        value: String,
        /// What the value must be.
        expected: &'static str,
    },
    /// A class label not below the number of classes.
    #[error("label {label} of sample {index} is out of range for {classes} classes")]
    LabelOutOfRange {
        /// Sample index.
        index: usize,
        /// The label.
        label: usize,
        /// Number of classes.
        classes: usize,
    },
    /// A width requested by a typed view that is not the data set's width.
    #[error("the data set has {actual} {what} per sample, not {expected}")]
    Width {
        /// `"features"` or `"targets"`.
        what: &'static str,
        /// Width asked for.
        expected: usize,
        /// Width held.
        actual: usize,
    },
    /// A batch size of zero.
    #[error("batch size must be at least 1")]
    ZeroBatchSize,
}

/// Samples in memory: features as an `inputs x len` column-major matrix (one sample per
/// column, contiguous), targets as an `outputs x len` matrix (one-hot or soft for
/// classification, values for regression).
///
/// ```
/// use retroprop_runtime::data::Dataset;
/// let xs = vec![0.0_f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
/// let data = Dataset::from_labels(xs, 2, &[0, 1, 1, 0], 2).unwrap();
/// assert_eq!(data.len(), 4);
/// assert_eq!(data.target(1), &[0.0, 1.0]);
/// let batches: Vec<_> = data.batches(3).unwrap().collect();
/// assert_eq!(batches.len(), 2);
/// assert_eq!(batches[1].len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset<T> {
    features: Vec<T>,
    targets: Vec<T>,
    inputs: usize,
    outputs: usize,
}

impl<T: Real> Dataset<T> {
    /// A data set from column-major features (`inputs` values per sample) and targets
    /// (`outputs` values per sample).
    ///
    /// # Errors
    /// [`DataError`] if a width is zero or the buffers do not hold the same whole number of
    /// samples.
    pub fn new(features: Vec<T>, inputs: usize, targets: Vec<T>, outputs: usize) -> Result<Self, DataError> {
        let n = samples_in("feature", features.len(), inputs)?;
        let m = samples_in("target", targets.len(), outputs)?;
        if n != m {
            return Err(DataError::SampleCountMismatch {
                features: n,
                targets: m,
            });
        }
        Ok(Dataset {
            features,
            targets,
            inputs,
            outputs,
        })
    }

    /// A classification data set: targets are one-hot columns built from class indices.
    ///
    /// # Errors
    /// [`DataError`] as for [`new`](Self::new), or a label `>= classes`.
    pub fn from_labels(features: Vec<T>, inputs: usize, labels: &[usize], classes: usize) -> Result<Self, DataError> {
        let targets = one_hot(labels, classes)?;
        Self::new(features, inputs, targets, classes)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.features.len() / self.inputs
    }

    /// Whether the data set holds no samples.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Features per sample.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Target values per sample.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// All features, column-major.
    pub fn features(&self) -> &[T] {
        &self.features
    }

    /// All targets, column-major.
    pub fn targets(&self) -> &[T] {
        &self.targets
    }

    /// The features of sample `index` (empty past the end).
    pub fn feature(&self, index: usize) -> &[T] {
        self.features.chunks_exact(self.inputs).nth(index).unwrap_or(&[])
    }

    /// The target of sample `index` (empty past the end).
    pub fn target(&self, index: usize) -> &[T] {
        self.targets.chunks_exact(self.outputs).nth(index).unwrap_or(&[])
    }

    /// The features as a static-row matrix view, `I x len`.
    ///
    /// # Errors
    /// [`DataError::Width`] if `I` is not the feature width.
    pub fn features_view<const I: usize>(&self) -> Result<MatrixView<'_, T, Const<I>, Dyn>, DataError> {
        view(&self.features, "features", I, self.inputs)
    }

    /// The targets as a static-row matrix view, `O x len`.
    ///
    /// # Errors
    /// [`DataError::Width`] if `O` is not the target width.
    pub fn targets_view<const O: usize>(&self) -> Result<MatrixView<'_, T, Const<O>, Dyn>, DataError> {
        view(&self.targets, "targets", O, self.outputs)
    }

    /// Mini-batches of `batch_size` consecutive samples (the last one may be smaller), as
    /// views without copying.
    ///
    /// # Errors
    /// [`DataError::ZeroBatchSize`].
    pub fn batches(&self, batch_size: usize) -> Result<Batches<'_, T>, DataError> {
        if batch_size == 0 {
            return Err(DataError::ZeroBatchSize);
        }
        Ok(Batches {
            data: self,
            batch_size,
            next: 0,
        })
    }

    /// Shuffles the samples in place (Fisher-Yates over columns), so that the views from
    /// [`batches`](Self::batches) come in a random order. Allocates nothing.
    pub fn shuffle(&mut self, rng: &mut SeededRng) {
        self.shuffle_tracking(rng, &mut []);
    }

    /// Like [`shuffle`](Self::shuffle), and applies the same swaps to `order` (if it has one
    /// entry per sample), so that `order` keeps saying where each sample came from.
    ///
    /// [`shuffle_order`] draws the same swaps, so the two stay interchangeable.
    pub fn shuffle_tracking(&mut self, rng: &mut SeededRng, order: &mut [usize]) {
        let n = self.len();
        let track = order.len() == n;
        for i in (1..n).rev() {
            let j = rng.random_range(0..=i);
            swap_columns(&mut self.features, self.inputs, i, j);
            swap_columns(&mut self.targets, self.outputs, i, j);
            if track {
                order.swap(i, j);
            }
        }
    }

    /// Overwrites `features` and `targets` with the samples at `indices`, in that order
    /// (indices past the end are skipped): a shuffled batch without moving the data set.
    /// Allocates only when the buffers must grow.
    pub fn gather_into(&self, indices: &[usize], features: &mut Vec<T>, targets: &mut Vec<T>) {
        features.clear();
        targets.clear();
        for &i in indices.iter().filter(|&&i| i < self.len()) {
            features.extend_from_slice(self.feature(i));
            targets.extend_from_slice(self.target(i));
        }
    }

    /// The samples at `indices`, in that order (indices past the end are skipped).
    pub fn subset(&self, indices: &[usize]) -> Dataset<T> {
        let mut features = Vec::with_capacity(indices.len() * self.inputs);
        let mut targets = Vec::with_capacity(indices.len() * self.outputs);
        for &i in indices.iter().filter(|&&i| i < self.len()) {
            features.extend_from_slice(self.feature(i));
            targets.extend_from_slice(self.target(i));
        }
        Dataset {
            features,
            targets,
            inputs: self.inputs,
            outputs: self.outputs,
        }
    }

    /// Splits off the samples from `at` on into a second data set (`at` is clamped to the
    /// length).
    pub fn split_at(&self, at: usize) -> (Dataset<T>, Dataset<T>) {
        let at = at.min(self.len());
        let (fa, fb) = self.features.split_at(at * self.inputs);
        let (ta, tb) = self.targets.split_at(at * self.outputs);
        (
            Dataset {
                features: fa.to_vec(),
                targets: ta.to_vec(),
                inputs: self.inputs,
                outputs: self.outputs,
            },
            Dataset {
                features: fb.to_vec(),
                targets: tb.to_vec(),
                inputs: self.inputs,
                outputs: self.outputs,
            },
        )
    }
}

fn samples_in(what: &'static str, len: usize, width: usize) -> Result<usize, DataError> {
    if width == 0 {
        return Err(DataError::ZeroWidth { what });
    }
    if !len.is_multiple_of(width) {
        return Err(DataError::Ragged { what, len, width });
    }
    Ok(len / width)
}

fn view<'a, T: Real, const R: usize>(
    values: &'a [T],
    what: &'static str,
    expected: usize,
    actual: usize,
) -> Result<MatrixView<'a, T, Const<R>, Dyn>, DataError> {
    if expected != actual {
        return Err(DataError::Width { what, expected, actual });
    }
    Ok(MatrixView::from_slice_generic(
        values,
        Const::<R>,
        Dyn(values.len() / R),
    ))
}

/// Shuffles `order` in place with the swaps [`Dataset::shuffle_tracking`] would make on a
/// data set of `order.len()` samples (Fisher-Yates, the same draws from `rng`): shuffling
/// indices and then gathering batches ([`Dataset::gather_into`]) gives the same batches as
/// shuffling the data, without moving it.
pub fn shuffle_order(order: &mut [usize], rng: &mut SeededRng) {
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
}

fn swap_columns<T>(values: &mut [T], width: usize, i: usize, j: usize) {
    if i == j {
        return;
    }
    let (lo, hi) = (i.min(j), i.max(j));
    let (head, tail) = values.split_at_mut(hi * width);
    head[lo * width..(lo + 1) * width].swap_with_slice(&mut tail[..width]);
}

/// One-hot columns (`classes` values per sample) for class indices.
///
/// # Errors
/// [`DataError::LabelOutOfRange`] for a label `>= classes`; [`DataError::ZeroWidth`] for no
/// classes.
pub fn one_hot<T: Real>(labels: &[usize], classes: usize) -> Result<Vec<T>, DataError> {
    if classes == 0 {
        return Err(DataError::ZeroWidth { what: "target" });
    }
    let mut out = vec![T::cast(0.0); labels.len() * classes];
    for (index, (&label, col)) in labels.iter().zip(out.chunks_exact_mut(classes)).enumerate() {
        let slot = col
            .get_mut(label)
            .ok_or(DataError::LabelOutOfRange { index, label, classes })?;
        *slot = T::cast(1.0);
    }
    Ok(out)
}

/// The index of the largest value of each column of `values` (`rows` per column): the
/// predicted class of each sample.
pub fn argmax_columns<T: Real>(values: &[T], rows: usize) -> Vec<usize> {
    values
        .chunks(rows.max(1))
        .map(|col| {
            col.iter()
                .enumerate()
                .fold(
                    (0, T::NEG_INFINITY),
                    |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) },
                )
                .0
        })
        .collect()
}

/// A mini-batch: views into a [`Dataset`].
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a, T> {
    /// Features, column-major.
    pub features: &'a [T],
    /// Targets, column-major.
    pub targets: &'a [T],
    inputs: usize,
}

impl<T> Batch<'_, T> {
    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.features.len() / self.inputs.max(1)
    }

    /// Whether the batch is empty (never, for batches from [`Dataset::batches`]).
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }
}

/// Iterator over the mini-batches of a [`Dataset`].
#[derive(Debug, Clone)]
pub struct Batches<'a, T> {
    data: &'a Dataset<T>,
    batch_size: usize,
    next: usize,
}

impl<'a, T: Real> Iterator for Batches<'a, T> {
    type Item = Batch<'a, T>;

    fn next(&mut self) -> Option<Self::Item> {
        let len = self.data.len();
        if self.next >= len {
            return None;
        }
        let end = (self.next + self.batch_size).min(len);
        let d = self.data;
        let batch = Batch {
            features: &d.features[self.next * d.inputs..end * d.inputs],
            targets: &d.targets[self.next * d.outputs..end * d.outputs],
            inputs: d.inputs,
        };
        self.next = end;
        Some(batch)
    }
}
