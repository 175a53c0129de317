//! Classification metrics: accuracy, per-class precision, recall and F1, their macro
//! averages, and the confusion matrix.

use crate::data::argmax_columns;
use crate::real::Real;
use std::fmt;

/// Why metrics could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// Predictions and targets for different numbers of samples.
    #[error("{predictions} predictions but {targets} targets")]
    LengthMismatch {
        /// Number of predictions.
        predictions: usize,
        /// Number of targets.
        targets: usize,
    },
    /// A class index not below the number of classes.
    #[error("class {class} at sample {index} is out of range for {classes} classes")]
    ClassOutOfRange {
        /// Sample index.
        index: usize,
        /// The class.
        class: usize,
        /// Number of classes.
        classes: usize,
    },
    /// No classes.
    #[error("a confusion matrix needs at least one class")]
    NoClasses,
}

/// A confusion matrix: `count(actual, predicted)`.
///
/// Precision, recall and F1 of a class that was never predicted (or never present) are 0,
/// as scikit-learn's `zero_division=0`.
///
/// ```
/// use retroprop_runtime::train::metrics::ConfusionMatrix;
/// let cm = ConfusionMatrix::from_classes(&[0, 1, 1, 2], &[0, 1, 2, 2], 3).unwrap();
/// assert_eq!(cm.accuracy(), 0.75);
/// assert_eq!(cm.count(2, 1), 1); // one sample of class 2 predicted as 1
/// assert_eq!(cm.precision(1), 0.5);
/// assert_eq!(cm.recall(2), 0.5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<usize>,
}

impl ConfusionMatrix {
    /// An empty matrix for `classes` classes.
    ///
    /// # Errors
    /// [`MetricsError::NoClasses`] for zero classes.
    pub fn new(classes: usize) -> Result<Self, MetricsError> {
        if classes == 0 {
            return Err(MetricsError::NoClasses);
        }
        Ok(ConfusionMatrix {
            classes,
            counts: vec![0; classes * classes],
        })
    }

    /// From predicted and actual class indices.
    ///
    /// # Errors
    /// [`MetricsError`] for different lengths or a class out of range.
    pub fn from_classes(predicted: &[usize], actual: &[usize], classes: usize) -> Result<Self, MetricsError> {
        if predicted.len() != actual.len() {
            return Err(MetricsError::LengthMismatch {
                predictions: predicted.len(),
                targets: actual.len(),
            });
        }
        let mut cm = Self::new(classes)?;
        for (index, (&p, &a)) in predicted.iter().zip(actual).enumerate() {
            for class in [p, a] {
                if class >= classes {
                    return Err(MetricsError::ClassOutOfRange { index, class, classes });
                }
            }
            cm.counts[a * classes + p] += 1;
        }
        Ok(cm)
    }

    /// From network outputs and one-hot (or soft) targets, `classes` values per sample,
    /// column-major; the class of each is its largest value.
    ///
    /// # Errors
    /// [`MetricsError`] for different sample counts.
    pub fn from_outputs<T: Real>(outputs: &[T], targets: &[T], classes: usize) -> Result<Self, MetricsError> {
        if classes == 0 {
            return Err(MetricsError::NoClasses);
        }
        Self::from_classes(
            &argmax_columns(outputs, classes),
            &argmax_columns(targets, classes),
            classes,
        )
    }

    /// From network outputs (`classes` values per sample) and class-index targets.
    ///
    /// # Errors
    /// [`MetricsError`] for different sample counts or a label out of range.
    pub fn from_outputs_and_labels<T: Real>(
        outputs: &[T],
        labels: &[usize],
        classes: usize,
    ) -> Result<Self, MetricsError> {
        if classes == 0 {
            return Err(MetricsError::NoClasses);
        }
        Self::from_classes(&argmax_columns(outputs, classes), labels, classes)
    }

    /// Adds the counts of `other` (same number of classes; otherwise nothing is added).
    pub fn merge(&mut self, other: &ConfusionMatrix) {
        if other.classes == self.classes {
            for (a, b) in self.counts.iter_mut().zip(&other.counts) {
                *a += b;
            }
        }
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Samples of class `actual` predicted as `predicted` (0 out of range).
    pub fn count(&self, actual: usize, predicted: usize) -> usize {
        if actual < self.classes && predicted < self.classes {
            self.counts[actual * self.classes + predicted]
        } else {
            0
        }
    }

    /// Total number of samples.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// Fraction of samples predicted correctly (0 for no samples).
    pub fn accuracy(&self) -> f64 {
        let correct: usize = (0..self.classes).map(|c| self.count(c, c)).sum();
        ratio(correct, self.total())
    }

    /// Of the samples predicted as `class`, the fraction that are.
    pub fn precision(&self, class: usize) -> f64 {
        let predicted: usize = (0..self.classes).map(|a| self.count(a, class)).sum();
        ratio(self.count(class, class), predicted)
    }

    /// Of the samples of `class`, the fraction predicted as such.
    pub fn recall(&self, class: usize) -> f64 {
        let actual: usize = (0..self.classes).map(|p| self.count(class, p)).sum();
        ratio(self.count(class, class), actual)
    }

    /// Harmonic mean of precision and recall of `class`.
    pub fn f1(&self, class: usize) -> f64 {
        let (p, r) = (self.precision(class), self.recall(class));
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Unweighted mean of the per-class precisions.
    pub fn macro_precision(&self) -> f64 {
        self.mean_over_classes(Self::precision)
    }

    /// Unweighted mean of the per-class recalls.
    pub fn macro_recall(&self) -> f64 {
        self.mean_over_classes(Self::recall)
    }

    /// Unweighted mean of the per-class F1 scores.
    pub fn macro_f1(&self) -> f64 {
        self.mean_over_classes(Self::f1)
    }

    fn mean_over_classes(&self, f: fn(&Self, usize) -> f64) -> f64 {
        (0..self.classes).map(|c| f(self, c)).sum::<f64>() / self.classes as f64
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl fmt::Display for ConfusionMatrix {
    /// A table: one row per actual class, one column per predicted class.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .counts
            .iter()
            .max()
            .map_or(1, |m| m.to_string().len())
            .max(self.classes.to_string().len());
        write!(f, "{:>w$} |", "a\\p", w = width.max(3))?;
        for p in 0..self.classes {
            write!(f, " {p:>width$}")?;
        }
        writeln!(f)?;
        for a in 0..self.classes {
            write!(f, "{a:>w$} |", w = width.max(3))?;
            for p in 0..self.classes {
                write!(f, " {:>width$}", self.count(a, p))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// A metric `fit` can track on the validation set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Fraction classified correctly.
    Accuracy,
    /// Macro-averaged precision.
    MacroPrecision,
    /// Macro-averaged recall.
    MacroRecall,
    /// Macro-averaged F1.
    MacroF1,
}

impl Metric {
    /// The metric's name as a column in the history (`"accuracy"`, `"macro_f1"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::MacroPrecision => "macro_precision",
            Metric::MacroRecall => "macro_recall",
            Metric::MacroF1 => "macro_f1",
        }
    }

    /// The metric's value for a confusion matrix.
    pub fn value(self, cm: &ConfusionMatrix) -> f64 {
        match self {
            Metric::Accuracy => cm.accuracy(),
            Metric::MacroPrecision => cm.macro_precision(),
            Metric::MacroRecall => cm.macro_recall(),
            Metric::MacroF1 => cm.macro_f1(),
        }
    }
}
