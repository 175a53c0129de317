//! Preprocessing fitted on the training split only: standardization, min-max scaling, and
//! a stratified split.

use crate::nn::init::seeded_rng;
use crate::real::Real;
use rand::seq::SliceRandom;

/// Per-feature standardization, `(x - mean) / std`, fitted on training features.
///
/// A constant feature (standard deviation 0) is only centred, so it becomes 0 rather than NaN.
///
/// ```
/// use retroprop_runtime::data::preprocess::Standardizer;
/// let train = [1.0_f32, 10.0, 3.0, 10.0]; // two samples of two features
/// let scaler = Standardizer::fit(&train, 2);
/// let mut x = [2.0_f32, 10.0];
/// scaler.transform(&mut x);
/// assert_eq!(x, [0.0, 0.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer<T> {
    /// Mean of each feature.
    pub mean: Vec<T>,
    /// Standard deviation of each feature (population, as scikit-learn's `StandardScaler`),
    /// 1 where it was 0.
    pub std: Vec<T>,
}

impl<T: Real> Standardizer<T> {
    /// Fits on column-major features with `inputs` values per sample.
    pub fn fit(features: &[T], inputs: usize) -> Self {
        let inputs = inputs.max(1);
        let n = (features.len() / inputs).max(1) as f64;
        let mut mean = vec![0.0f64; inputs];
        for sample in features.chunks_exact(inputs) {
            for (m, &x) in mean.iter_mut().zip(sample) {
                *m += x.to_f64();
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; inputs];
        for sample in features.chunks_exact(inputs) {
            for ((v, &x), m) in var.iter_mut().zip(sample).zip(&mean) {
                *v += (x.to_f64() - m).powi(2);
            }
        }
        Standardizer {
            mean: mean.iter().map(|&m| T::cast(m)).collect(),
            std: var
                .iter()
                .map(|&v| {
                    let s = (v / n).sqrt();
                    T::cast(if s > 0.0 { s } else { 1.0 })
                })
                .collect(),
        }
    }

    /// Standardizes column-major features in place.
    pub fn transform(&self, features: &mut [T]) {
        for sample in features.chunks_exact_mut(self.mean.len().max(1)) {
            for ((x, &m), &s) in sample.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = (*x - m) / s;
            }
        }
    }
}

/// Per-feature scaling to `[0, 1]` from the training minimum and maximum.
///
/// A constant feature is mapped to 0. Values outside the training range map outside `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MinMaxScaler<T> {
    /// Minimum of each feature.
    pub min: Vec<T>,
    /// `max - min` of each feature, 1 where it was 0.
    pub range: Vec<T>,
}

impl<T: Real> MinMaxScaler<T> {
    /// Fits on column-major features with `inputs` values per sample.
    pub fn fit(features: &[T], inputs: usize) -> Self {
        let inputs = inputs.max(1);
        let mut min = vec![f64::INFINITY; inputs];
        let mut max = vec![f64::NEG_INFINITY; inputs];
        for sample in features.chunks_exact(inputs) {
            for ((lo, hi), &x) in min.iter_mut().zip(max.iter_mut()).zip(sample) {
                *lo = lo.min(x.to_f64());
                *hi = hi.max(x.to_f64());
            }
        }
        let range = min
            .iter()
            .zip(&max)
            .map(|(lo, hi)| T::cast(if hi > lo { hi - lo } else { 1.0 }))
            .collect();
        MinMaxScaler {
            min: min
                .iter()
                .map(|&m| T::cast(if m.is_finite() { m } else { 0.0 }))
                .collect(),
            range,
        }
    }

    /// Scales column-major features in place.
    pub fn transform(&self, features: &mut [T]) {
        for sample in features.chunks_exact_mut(self.min.len().max(1)) {
            for ((x, &lo), &r) in sample.iter_mut().zip(&self.min).zip(&self.range) {
                *x = (*x - lo) / r;
            }
        }
    }
}

/// Sample indices of a train / validation / test split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Training samples.
    pub train: Vec<usize>,
    /// Validation samples.
    pub validation: Vec<usize>,
    /// Test samples.
    pub test: Vec<usize>,
}

/// A stratified split: each class is shuffled with the seed and divided in the given
/// fractions (rounded per class), so every part has the class proportions of the whole.
/// Within each part, samples are shuffled too.
///
/// ```
/// use retroprop_runtime::data::preprocess::stratified_split;
/// let labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
/// let split = stratified_split(&labels, 0.2, 0.2, 7);
/// assert_eq!((split.train.len(), split.validation.len(), split.test.len()), (6, 2, 2));
/// ```
pub fn stratified_split(labels: &[usize], validation: f64, test: f64, seed: u64) -> Split {
    let mut rng = seeded_rng(seed);
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut split = Split {
        train: Vec::new(),
        validation: Vec::new(),
        test: Vec::new(),
    };
    for class in 0..classes {
        let mut members: Vec<usize> = labels
            .iter()
            .enumerate()
            .filter(|(_, &l)| l == class)
            .map(|(i, _)| i)
            .collect();
        members.shuffle(&mut rng);
        let n = members.len() as f64;
        let n_test = ((n * test.clamp(0.0, 1.0)).round() as usize).min(members.len());
        let n_val = ((n * validation.clamp(0.0, 1.0)).round() as usize).min(members.len() - n_test);
        split.test.extend_from_slice(&members[..n_test]);
        split.validation.extend_from_slice(&members[n_test..n_test + n_val]);
        split.train.extend_from_slice(&members[n_test + n_val..]);
    }
    split.train.shuffle(&mut rng);
    split.validation.shuffle(&mut rng);
    split.test.shuffle(&mut rng);
    split
}
