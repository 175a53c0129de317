//! A data set of sparse samples with dense targets ([`SparseDataset`]), and the sparse rows
//! and batches it holds ([`SparseRows`], [`SparseBatch`], defined in
//! [`crate::sparse`] and re-exported here).

use super::{one_hot, shuffle_order, DataError};
use crate::data::preprocess::Split;
use crate::nn::init::SeededRng;
use crate::real::Real;
pub use crate::sparse::{RowIter, SparseBatch, SparseError, SparseRows};

/// Sparse samples in memory with dense targets: the sparse counterpart of
/// [`Dataset`](super::Dataset). Features are [`SparseRows`] (one row per sample); targets
/// are `outputs` values per sample, one sample after another (one-hot or soft for
/// classification, values for regression).
///
/// Shuffling draws the same permutation as [`Dataset::shuffle`](super::Dataset::shuffle)
/// for the same generator state, and [`stratified_split`](super::preprocess::stratified_split)
/// (a function of the labels only) splits both kinds alike, through [`split`](Self::split).
///
/// ```
/// use retroprop_runtime::data::sparse::{SparseDataset, SparseRows};
/// use retroprop_runtime::nn::init::seeded_rng;
/// let rows = SparseRows::from_pairs(
///     1000,
///     [vec![(3, 1.0_f32)], vec![(999, 2.0)], vec![], vec![(3, 1.0), (10, 1.0)]],
/// )
/// .unwrap();
/// let mut data = SparseDataset::from_labels(rows, &[0, 1, 1, 0], 2).unwrap();
/// assert_eq!((data.len(), data.features(), data.outputs()), (4, 1000, 2));
/// assert_eq!(data.target(1), &[0.0, 1.0]);
/// let batches: Vec<_> = data.batches(3).unwrap().collect();
/// assert_eq!(batches.len(), 2);
/// let (features, targets) = batches[1];
/// assert_eq!(features.row(0), (&[3_u32, 10][..], &[1.0_f32, 1.0][..]));
/// assert_eq!(targets, &[1.0, 0.0]);
/// data.shuffle(&mut seeded_rng(7));
/// assert_eq!(data.len(), 4);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SparseDataset<T> {
    rows: SparseRows<T>,
    targets: Vec<T>,
    outputs: usize,
}

impl<T: Real> SparseDataset<T> {
    /// A data set from sparse features and targets (`outputs` values per sample).
    ///
    /// # Errors
    /// [`DataError`] if `outputs` is zero or the targets are not one sample per row.
    pub fn new(rows: SparseRows<T>, targets: Vec<T>, outputs: usize) -> Result<Self, DataError> {
        if outputs == 0 {
            return Err(DataError::ZeroWidth { what: "target" });
        }
        if !targets.len().is_multiple_of(outputs) {
            return Err(DataError::Ragged {
                what: "target",
                len: targets.len(),
                width: outputs,
            });
        }
        if targets.len() / outputs != rows.len() {
            return Err(DataError::SampleCountMismatch {
                features: rows.len(),
                targets: targets.len() / outputs,
            });
        }
        Ok(SparseDataset { rows, targets, outputs })
    }

    /// A classification data set: targets are one-hot, built from class indices (as
    /// [`Dataset::from_labels`](super::Dataset::from_labels)).
    ///
    /// # Errors
    /// [`DataError`] as for [`new`](Self::new), or a label `>= classes`.
    pub fn from_labels(rows: SparseRows<T>, labels: &[usize], classes: usize) -> Result<Self, DataError> {
        let targets = one_hot(labels, classes)?;
        Self::new(rows, targets, classes)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the data set holds no samples.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Features per sample.
    pub fn features(&self) -> usize {
        self.rows.features()
    }

    /// Target values per sample.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// The features of all samples.
    pub fn rows(&self) -> &SparseRows<T> {
        &self.rows
    }

    /// All targets, one sample after another.
    pub fn targets(&self) -> &[T] {
        &self.targets
    }

    /// The features of sample `index`, as `(indices, values)` (empty past the end).
    pub fn row(&self, index: usize) -> (&[u32], &[T]) {
        self.rows.row(index)
    }

    /// The target of sample `index` (empty past the end).
    pub fn target(&self, index: usize) -> &[T] {
        self.targets.chunks_exact(self.outputs).nth(index).unwrap_or(&[])
    }

    /// Mini-batches of `batch_size` consecutive samples (the last one may be smaller), as
    /// `(features, targets)` views without copying.
    ///
    /// # Errors
    /// [`DataError::ZeroBatchSize`].
    pub fn batches(&self, batch_size: usize) -> Result<SparseBatches<'_, T>, DataError> {
        if batch_size == 0 {
            return Err(DataError::ZeroBatchSize);
        }
        Ok(SparseBatches {
            data: self,
            batch_size,
            next: 0,
        })
    }

    /// Shuffles the samples, each row with its target, with the permutation
    /// [`Dataset::shuffle`](super::Dataset::shuffle) makes from the same generator state (the
    /// same Fisher-Yates draws). Unlike the dense shuffle, it copies the data once.
    pub fn shuffle(&mut self, rng: &mut SeededRng) {
        self.shuffle_tracking(rng, &mut []);
    }

    /// Like [`shuffle`](Self::shuffle), and applies the same permutation to `order` (if it
    /// has one entry per sample), as
    /// [`Dataset::shuffle_tracking`](super::Dataset::shuffle_tracking) does.
    pub fn shuffle_tracking(&mut self, rng: &mut SeededRng, order: &mut [usize]) {
        let mut permutation: Vec<usize> = (0..self.len()).collect();
        shuffle_order(&mut permutation, rng);
        if order.len() == self.len() {
            let before = order.to_vec();
            for (slot, &from) in order.iter_mut().zip(&permutation) {
                *slot = before[from];
            }
        }
        *self = self.subset(&permutation);
    }

    /// Overwrites `rows` and `targets` with the samples at `indices`, in that order (indices
    /// past the end are skipped): a shuffled batch without moving the data set. Allocates
    /// only when the buffers must grow.
    pub fn gather_into(&self, indices: &[usize], rows: &mut SparseRows<T>, targets: &mut Vec<T>) {
        self.rows.gather_into(indices, rows);
        targets.clear();
        for &i in indices.iter().filter(|&&i| i < self.len()) {
            targets.extend_from_slice(self.target(i));
        }
    }

    /// The samples at `indices`, in that order (indices past the end are skipped).
    pub fn subset(&self, indices: &[usize]) -> SparseDataset<T> {
        let rows = self.rows.subset(indices);
        let mut targets = Vec::with_capacity(rows.len() * self.outputs);
        for &i in indices.iter().filter(|&&i| i < self.len()) {
            targets.extend_from_slice(self.target(i));
        }
        SparseDataset {
            rows,
            targets,
            outputs: self.outputs,
        }
    }

    /// Splits off the samples from `at` on into a second data set (`at` is clamped to the
    /// length).
    pub fn split_at(&self, at: usize) -> (SparseDataset<T>, SparseDataset<T>) {
        let at = at.min(self.len());
        let (ra, rb) = self.rows.split_at(at);
        let (ta, tb) = self.targets.split_at(at * self.outputs);
        (
            SparseDataset {
                rows: ra,
                targets: ta.to_vec(),
                outputs: self.outputs,
            },
            SparseDataset {
                rows: rb,
                targets: tb.to_vec(),
                outputs: self.outputs,
            },
        )
    }

    /// The training, validation and test parts of a [`Split`] (as from
    /// [`stratified_split`](super::preprocess::stratified_split) on this data set's labels):
    /// the [`subset`](Self::subset)s of its three index lists.
    ///
    /// ```
    /// use retroprop_runtime::data::preprocess::stratified_split;
    /// use retroprop_runtime::data::sparse::{SparseDataset, SparseRows};
    /// let labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
    /// let rows = SparseRows::from_pairs(10, labels.iter().enumerate().map(|(i, _)| [(i as u32, 1.0_f32)])).unwrap();
    /// let data = SparseDataset::from_labels(rows, &labels, 2).unwrap();
    /// let (train, validation, test) = data.split(&stratified_split(&labels, 0.2, 0.2, 7));
    /// assert_eq!((train.len(), validation.len(), test.len()), (6, 2, 2));
    /// ```
    pub fn split(&self, split: &Split) -> (SparseDataset<T>, SparseDataset<T>, SparseDataset<T>) {
        (
            self.subset(&split.train),
            self.subset(&split.validation),
            self.subset(&split.test),
        )
    }
}

/// Iterator over the mini-batches of a [`SparseDataset`]: `(features, targets)`.
#[derive(Debug, Clone)]
pub struct SparseBatches<'a, T> {
    data: &'a SparseDataset<T>,
    batch_size: usize,
    next: usize,
}

impl<'a, T: Real> Iterator for SparseBatches<'a, T> {
    type Item = (SparseBatch<'a, T>, &'a [T]);

    fn next(&mut self) -> Option<Self::Item> {
        let len = self.data.len();
        if self.next >= len {
            return None;
        }
        let end = (self.next + self.batch_size).min(len);
        let d = self.data;
        let batch = (
            d.rows.view(self.next..end),
            &d.targets[self.next * d.outputs..end * d.outputs],
        );
        self.next = end;
        Some(batch)
    }
}
