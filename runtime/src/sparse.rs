//! Sparse samples: compressed rows ([`SparseRows`], one row per sample) and borrowed batches
//! of them ([`SparseBatch`]), as the sparse layer's kernels ([`nn::sparse`](crate::nn::sparse))
//! and the passes of a [`SparseNetwork`](crate::network::SparseNetwork) take them; the data
//! set with dense targets is [`data::sparse::SparseDataset`](crate::data::sparse::SparseDataset),
//! which also re-exports these types.
//!
//! The layout is CSR (compressed sparse rows): `offsets` has one entry more than there are
//! rows, starts at 0 and never decreases; row `i` is `indices[offsets[i]..offsets[i + 1]]`
//! with the matching `values`. Within a row the indices (`u32` feature numbers, below the
//! feature count) are strictly increasing and every value is finite. An empty row is valid.
//!
//! Nothing here ever allocates a buffer of the feature count per sample: memory is
//! proportional to the number of stored values.

use crate::real::Real;
use std::ops::Range;

/// Why sparse samples were rejected. Samples (rows) are numbered from 0, within the rows
/// being built or the batch being checked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SparseError {
    /// A feature count of zero.
    #[error("the feature count must be at least 1")]
    ZeroFeatures,
    /// A feature index not below the feature count.
    #[error("index {index} of sample {row} is out of range for {features} features")]
    IndexOutOfRange {
        /// The sample.
        row: usize,
        /// The index.
        index: u32,
        /// The feature count.
        features: usize,
    },
    /// The same index twice in one sample (validated constructors; the merging ones sum
    /// duplicates instead).
    #[error("index {index} occurs more than once in sample {row}")]
    DuplicateIndex {
        /// The sample.
        row: usize,
        /// The repeated index.
        index: u32,
    },
    /// Indices of a sample that are not increasing.
    #[error("the indices of sample {row} are not increasing: {index} comes after {previous}")]
    Unsorted {
        /// The sample.
        row: usize,
        /// The index out of order.
        index: u32,
        /// The index before it.
        previous: u32,
    },
    /// A NaN or infinite value (for the merging constructors, also a sum that overflowed).
    #[error("the value at index {index} of sample {row} is not finite ({value})")]
    NonFinite {
        /// The sample.
        row: usize,
        /// The index of the value.
        index: u32,
        /// The value.
        value: f64,
    },
    /// A sample with different numbers of indices and values.
    #[error("sample {row} has {indices} indices but {values} values")]
    RowLength {
        /// The sample.
        row: usize,
        /// Its indices.
        indices: usize,
        /// Its values.
        values: usize,
    },
    /// Index and value buffers of different lengths.
    #[error("{indices} indices but {values} values")]
    LengthMismatch {
        /// Length of the index buffer.
        indices: usize,
        /// Length of the value buffer.
        values: usize,
    },
    /// An empty offset buffer (it needs one entry more than there are samples).
    #[error("the offsets are empty; they need one entry more than there are samples")]
    NoOffsets,
    /// Offsets that do not start at 0.
    #[error("the offsets start at {first}, not at 0")]
    OffsetsStart {
        /// The first offset.
        first: usize,
    },
    /// Offsets that decrease.
    #[error("sample {row} ends at offset {end}, before it starts ({start})")]
    OffsetsDecrease {
        /// The sample.
        row: usize,
        /// Its start offset.
        start: usize,
        /// Its end offset.
        end: usize,
    },
    /// A last offset that is not the number of stored values.
    #[error("the last offset is {last}, but there are {nnz} indices")]
    OffsetsEnd {
        /// The last offset.
        last: usize,
        /// The number of indices.
        nnz: usize,
    },
}

/// Checks one row: as many values as indices, every index below `features`, strictly
/// increasing, every value finite.
fn check_row<T: Real>(row: usize, features: usize, indices: &[u32], values: &[T]) -> Result<(), SparseError> {
    if indices.len() != values.len() {
        return Err(SparseError::RowLength {
            row,
            indices: indices.len(),
            values: values.len(),
        });
    }
    let mut previous: Option<u32> = None;
    for (&index, &value) in indices.iter().zip(values) {
        if index as usize >= features {
            return Err(SparseError::IndexOutOfRange { row, index, features });
        }
        if let Some(previous) = previous {
            if index == previous {
                return Err(SparseError::DuplicateIndex { row, index });
            }
            if index < previous {
                return Err(SparseError::Unsorted { row, index, previous });
            }
        }
        if !value.finite() {
            return Err(SparseError::NonFinite {
                row,
                index,
                value: value.to_f64(),
            });
        }
        previous = Some(index);
    }
    Ok(())
}

/// Checks whole CSR buffers whose offsets start at 0.
fn check_csr<T: Real>(features: usize, offsets: &[usize], indices: &[u32], values: &[T]) -> Result<(), SparseError> {
    if features == 0 {
        return Err(SparseError::ZeroFeatures);
    }
    if indices.len() != values.len() {
        return Err(SparseError::LengthMismatch {
            indices: indices.len(),
            values: values.len(),
        });
    }
    let first = *offsets.first().ok_or(SparseError::NoOffsets)?;
    if first != 0 {
        return Err(SparseError::OffsetsStart { first });
    }
    for (row, pair) in offsets.windows(2).enumerate() {
        let (start, end) = (pair[0], pair[1]);
        if end < start {
            return Err(SparseError::OffsetsDecrease { row, start, end });
        }
    }
    let last = offsets[offsets.len() - 1];
    if last != indices.len() {
        return Err(SparseError::OffsetsEnd {
            last,
            nnz: indices.len(),
        });
    }
    for (row, pair) in offsets.windows(2).enumerate() {
        let span = pair[0]..pair[1];
        check_row(row, features, &indices[span.clone()], &values[span])?;
    }
    Ok(())
}

/// Sorts `pairs` by index (stably, so equal indices keep their order) and sums equal indices
/// in place, in the order given. Checks every index and every value, given and summed.
fn merge_pairs<T: Real>(row: usize, features: usize, pairs: &mut Vec<(u32, T)>) -> Result<(), SparseError> {
    for &(index, value) in pairs.iter() {
        if index as usize >= features {
            return Err(SparseError::IndexOutOfRange { row, index, features });
        }
        if !value.finite() {
            return Err(SparseError::NonFinite {
                row,
                index,
                value: value.to_f64(),
            });
        }
    }
    pairs.sort_by_key(|&(index, _)| index);
    let mut kept = 0;
    for i in 0..pairs.len() {
        let (index, value) = pairs[i];
        if kept > 0 && pairs[kept - 1].0 == index {
            pairs[kept - 1].1 += value;
        } else {
            pairs[kept] = (index, value);
            kept += 1;
        }
    }
    pairs.truncate(kept);
    for &(index, value) in pairs.iter() {
        if !value.finite() {
            return Err(SparseError::NonFinite {
                row,
                index,
                value: value.to_f64(),
            });
        }
    }
    Ok(())
}

/// Owned sparse samples in compressed rows (CSR): `offsets` (one more than there are rows,
/// from 0), `u32` feature `indices` (strictly increasing within a row, below
/// [`features`](Self::features)) and their finite `values`. Every constructor validates, so a
/// `SparseRows` always satisfies these rules.
///
/// ```
/// use retroprop_runtime::data::sparse::SparseRows;
/// // Two samples of 5 features: {1: 0.5, 3: 2.0} and {} (an empty sample is valid).
/// let rows = SparseRows::new(5, vec![0, 2, 2], vec![1, 3], vec![0.5_f32, 2.0]).unwrap();
/// assert_eq!((rows.len(), rows.nnz()), (2, 2));
/// assert_eq!(rows.row(0), (&[1_u32, 3][..], &[0.5_f32, 2.0][..]));
///
/// // Unsorted pairs with a duplicate index are sorted and summed.
/// let merged = SparseRows::from_pairs(5, [vec![(3, 1.0_f32), (1, 0.5), (3, 1.0)]]).unwrap();
/// assert_eq!(merged.row(0), (&[1_u32, 3][..], &[0.5_f32, 2.0][..]));
///
/// // Bad samples are named in the error.
/// let err = SparseRows::new(5, vec![0, 1], vec![7], vec![1.0_f32]).unwrap_err();
/// assert_eq!(err.to_string(), "index 7 of sample 0 is out of range for 5 features");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SparseRows<T> {
    offsets: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<T>,
    features: usize,
}

impl<T: Real> SparseRows<T> {
    /// Rows from CSR buffers, checked.
    ///
    /// # Errors
    /// [`SparseError`]: a zero feature count, offsets that are empty, do not start at 0,
    /// decrease or do not end at the number of indices, index and value buffers of different
    /// lengths, or a row with an index out of range, an index repeated or out of order, or a
    /// non-finite value (naming the row).
    pub fn new(features: usize, offsets: Vec<usize>, indices: Vec<u32>, values: Vec<T>) -> Result<Self, SparseError> {
        check_csr(features, &offsets, &indices, &values)?;
        Ok(SparseRows {
            offsets,
            indices,
            values,
            features,
        })
    }

    /// No rows yet, for [`push_row`](Self::push_row) or as the buffer of
    /// [`gather_into`](Self::gather_into).
    ///
    /// # Errors
    /// [`SparseError::ZeroFeatures`].
    pub fn empty(features: usize) -> Result<Self, SparseError> {
        Self::with_capacity(features, 0, 0)
    }

    /// No rows yet, with room for `rows` rows holding `nnz` values in all.
    ///
    /// # Errors
    /// [`SparseError::ZeroFeatures`].
    pub fn with_capacity(features: usize, rows: usize, nnz: usize) -> Result<Self, SparseError> {
        if features == 0 {
            return Err(SparseError::ZeroFeatures);
        }
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Ok(SparseRows {
            offsets,
            indices: Vec::with_capacity(nnz),
            values: Vec::with_capacity(nnz),
            features,
        })
    }

    /// Rows from `(index, value)` pairs in any order: each row is sorted and the values of a
    /// repeated index are summed (in the order given), as a vectorizer that counts needs. An
    /// index whose values sum to zero is kept, with the value zero.
    ///
    /// # Errors
    /// [`SparseError::ZeroFeatures`], or for the first bad row, an index out of range or a
    /// non-finite value (given, or a sum that overflowed).
    pub fn from_pairs<R>(features: usize, rows: impl IntoIterator<Item = R>) -> Result<Self, SparseError>
    where
        R: IntoIterator<Item = (u32, T)>,
    {
        let mut out = Self::empty(features)?;
        let mut scratch = Vec::new();
        for row in rows {
            scratch.clear();
            scratch.extend(row);
            out.push_merged(&mut scratch)?;
        }
        Ok(out)
    }

    /// Appends a row of strictly increasing indices and their values, checked. On an error
    /// the rows are unchanged.
    ///
    /// # Errors
    /// [`SparseError`] naming the new row (numbered [`len`](Self::len)): different numbers of
    /// indices and values, an index out of range, repeated or out of order, or a non-finite
    /// value.
    pub fn push_row(&mut self, indices: &[u32], values: &[T]) -> Result<(), SparseError> {
        check_row(self.len(), self.features, indices, values)?;
        self.indices.extend_from_slice(indices);
        self.values.extend_from_slice(values);
        self.offsets.push(self.indices.len());
        Ok(())
    }

    /// Appends a row from `(index, value)` pairs in any order, summing repeated indices as
    /// [`from_pairs`](Self::from_pairs) does. On an error the rows are unchanged.
    ///
    /// # Errors
    /// [`SparseError`] naming the new row: an index out of range or a non-finite value.
    pub fn push_pairs(&mut self, pairs: impl IntoIterator<Item = (u32, T)>) -> Result<(), SparseError> {
        let mut scratch: Vec<(u32, T)> = pairs.into_iter().collect();
        self.push_merged(&mut scratch)
    }

    fn push_merged(&mut self, pairs: &mut Vec<(u32, T)>) -> Result<(), SparseError> {
        merge_pairs(self.len(), self.features, pairs)?;
        self.indices.extend(pairs.iter().map(|&(index, _)| index));
        self.values.extend(pairs.iter().map(|&(_, value)| value));
        self.offsets.push(self.indices.len());
        Ok(())
    }

    /// No rows, for a feature count the caller knows is at least 1.
    pub(crate) fn empty_unchecked(features: usize) -> Self {
        debug_assert!(features >= 1);
        SparseRows {
            offsets: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
            features,
        }
    }

    /// Appends a row the caller has already made valid (strictly increasing indices below the
    /// feature count, finite values): checked only in debug builds.
    pub(crate) fn push_row_unchecked(&mut self, indices: &[u32], values: &[T]) {
        debug_assert_eq!(check_row(self.len(), self.features, indices, values), Ok(()));
        self.indices.extend_from_slice(indices);
        self.values.extend_from_slice(values);
        self.offsets.push(self.indices.len());
    }

    /// Removes every row, keeping the feature count and the allocations.
    pub fn clear(&mut self) {
        self.offsets.truncate(1);
        self.indices.clear();
        self.values.clear();
    }

    /// Number of rows (samples).
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Features per sample (every index is below it).
    pub fn features(&self) -> usize {
        self.features
    }

    /// Number of stored values, in all rows.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The offsets: row `i` is `offsets()[i]..offsets()[i + 1]` of the indices and values.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// The indices of all rows, one row after another.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// The values of all rows, one row after another.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// The indices and values of row `index` (empty past the end).
    pub fn row(&self, index: usize) -> (&[u32], &[T]) {
        match self.offsets.get(index..index + 2) {
            Some(&[start, end]) => (&self.indices[start..end], &self.values[start..end]),
            _ => (&[], &[]),
        }
    }

    /// The rows in `range` as a batch, without copying (the range is clamped to the rows).
    pub fn view(&self, range: Range<usize>) -> SparseBatch<'_, T> {
        let start = range.start.min(self.len());
        let end = range.end.clamp(start, self.len());
        let offsets = &self.offsets[start..=end];
        let (first, last) = (offsets[0], offsets[offsets.len() - 1]);
        SparseBatch {
            offsets,
            indices: &self.indices[first..last],
            values: &self.values[first..last],
            features: self.features,
        }
    }

    /// All rows as a batch, without copying.
    pub fn as_batch(&self) -> SparseBatch<'_, T> {
        self.view(0..self.len())
    }

    /// The rows in order, as `(indices, values)`.
    pub fn iter(&self) -> RowIter<'_, T> {
        self.as_batch().iter()
    }

    /// Overwrites `out` with the rows at `rows`, in that order (rows past the end are
    /// skipped), and gives it this feature count: a shuffled batch without moving the rows.
    /// Allocates only when `out`'s buffers must grow, so a warm buffer is reused as is.
    pub fn gather_into(&self, rows: &[usize], out: &mut SparseRows<T>) {
        out.clear();
        out.features = self.features;
        for &r in rows.iter().filter(|&&r| r < self.len()) {
            let (indices, values) = self.row(r);
            out.push_row_unchecked(indices, values);
        }
    }

    /// The rows at `rows`, in that order (rows past the end are skipped).
    pub fn subset(&self, rows: &[usize]) -> SparseRows<T> {
        let picked = || rows.iter().copied().filter(|&r| r < self.len());
        let nnz = picked().map(|r| self.offsets[r + 1] - self.offsets[r]).sum();
        let mut out = SparseRows {
            offsets: Vec::with_capacity(picked().count() + 1),
            indices: Vec::with_capacity(nnz),
            values: Vec::with_capacity(nnz),
            features: self.features,
        };
        out.offsets.push(0);
        self.gather_into(rows, &mut out);
        out
    }

    /// Splits off the rows from `at` on into a second set of rows (`at` is clamped to the
    /// length).
    pub fn split_at(&self, at: usize) -> (SparseRows<T>, SparseRows<T>) {
        let at = at.min(self.len());
        (self.view(0..at).to_rows(), self.view(at..self.len()).to_rows())
    }

    /// The buffers: `(features, offsets, indices, values)`.
    pub fn into_parts(self) -> (usize, Vec<usize>, Vec<u32>, Vec<T>) {
        (self.features, self.offsets, self.indices, self.values)
    }
}

impl<'a, T: Real> IntoIterator for &'a SparseRows<T> {
    type Item = (&'a [u32], &'a [T]);
    type IntoIter = RowIter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A borrowed batch of sparse samples: a view of consecutive rows of a [`SparseRows`]
/// ([`SparseRows::view`]), or of buffers checked by [`SparseBatch::new`].
///
/// To stay zero-copy, a view keeps the *absolute* offsets of its rows: [`offsets`](Self::offsets)
/// has one entry more than the batch has rows but may start above 0, while
/// [`indices`](Self::indices) and [`values`](Self::values) hold exactly the batch's entries.
/// Row `i` is therefore `offsets()[i] - offsets()[0] .. offsets()[i + 1] - offsets()[0]` of
/// them; [`row`](Self::row) and [`iter`](Self::iter) do that arithmetic.
///
/// Two batches are equal when they have the same feature count and the same rows, wherever
/// their offsets start.
///
/// ```
/// use retroprop_runtime::data::sparse::SparseRows;
/// let rows = SparseRows::from_pairs(4, [vec![(0, 1.0_f32)], vec![], vec![(2, 3.0), (3, 4.0)]]).unwrap();
/// let batch = rows.view(1..3);
/// assert_eq!((batch.len(), batch.nnz()), (2, 2));
/// assert_eq!(batch.offsets(), &[1, 1, 3]);
/// assert_eq!(batch.row(1), (&[2_u32, 3][..], &[3.0_f32, 4.0][..]));
/// assert_eq!(batch.iter().map(|(indices, _)| indices.len()).collect::<Vec<_>>(), [0, 2]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SparseBatch<'a, T> {
    offsets: &'a [usize],
    indices: &'a [u32],
    values: &'a [T],
    features: usize,
}

impl<'a, T: Real> SparseBatch<'a, T> {
    /// A batch from CSR buffers (offsets from 0), checked as [`SparseRows::new`] checks them:
    /// the way to pass sparse samples built elsewhere.
    ///
    /// # Errors
    /// [`SparseError`], naming the row (within the batch) for a bad sample.
    pub fn new(
        features: usize,
        offsets: &'a [usize],
        indices: &'a [u32],
        values: &'a [T],
    ) -> Result<Self, SparseError> {
        check_csr(features, offsets, indices, values)?;
        Ok(SparseBatch {
            offsets,
            indices,
            values,
            features,
        })
    }

    /// Number of rows (samples).
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether the batch has no rows (never, for batches from [`SparseDataset::batches`](crate::data::sparse::SparseDataset::batches)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Features per sample.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Number of stored values in the batch.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The absolute offsets of the rows (see the type's documentation: subtract
    /// `offsets()[0]` to index [`indices`](Self::indices) and [`values`](Self::values)).
    pub fn offsets(&self) -> &'a [usize] {
        self.offsets
    }

    /// The indices of the batch's rows, one row after another.
    pub fn indices(&self) -> &'a [u32] {
        self.indices
    }

    /// The values of the batch's rows, one row after another.
    pub fn values(&self) -> &'a [T] {
        self.values
    }

    /// The indices and values of row `index` of the batch (empty past the end).
    pub fn row(&self, index: usize) -> (&'a [u32], &'a [T]) {
        match self.offsets.get(index..index + 2) {
            Some(&[start, end]) => {
                let base = self.offsets[0];
                let span = start - base..end - base;
                (&self.indices[span.clone()], &self.values[span])
            }
            _ => (&[], &[]),
        }
    }

    /// The rows in order, as `(indices, values)`.
    pub fn iter(&self) -> RowIter<'a, T> {
        RowIter { batch: *self, next: 0 }
    }

    /// A copy of the batch as owned rows.
    pub fn to_rows(&self) -> SparseRows<T> {
        let base = self.offsets[0];
        SparseRows {
            offsets: self.offsets.iter().map(|&o| o - base).collect(),
            indices: self.indices.to_vec(),
            values: self.values.to_vec(),
            features: self.features,
        }
    }
}

impl<T: Real> PartialEq for SparseBatch<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.features == other.features && self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<'a, T: Real> IntoIterator for SparseBatch<'a, T> {
    type Item = (&'a [u32], &'a [T]);
    type IntoIter = RowIter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the rows of a [`SparseBatch`] or [`SparseRows`], as `(indices, values)`.
#[derive(Debug, Clone)]
pub struct RowIter<'a, T> {
    batch: SparseBatch<'a, T>,
    next: usize,
}

impl<'a, T: Real> Iterator for RowIter<'a, T> {
    type Item = (&'a [u32], &'a [T]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.batch.len() {
            return None;
        }
        let row = self.batch.row(self.next);
        self.next += 1;
        Some(row)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.batch.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl<T: Real> ExactSizeIterator for RowIter<'_, T> {}
