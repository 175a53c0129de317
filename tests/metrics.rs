//! Classification metrics against hand-checked confusion matrices.

use retroprop::prelude::*;
use retroprop::train::MetricsError;

/// Three classes, ten samples:
///
/// ```text
/// actual \ predicted   0  1  2
///        0             3  1  0
///        1             0  2  1
///        2             1  0  2
/// ```
fn example() -> ConfusionMatrix {
    let actual = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
    let predicted = [0, 0, 0, 1, 1, 1, 2, 0, 2, 2];
    ConfusionMatrix::from_classes(&predicted, &actual, 3).expect("valid")
}

#[test]
fn counts_accuracy_precision_recall_f1() {
    let cm = example();
    let expected = [[3, 1, 0], [0, 2, 1], [1, 0, 2]];
    for (a, row) in expected.iter().enumerate() {
        for (p, &count) in row.iter().enumerate() {
            assert_eq!(cm.count(a, p), count, "count({a}, {p})");
        }
    }
    assert_eq!(cm.total(), 10);
    assert!((cm.accuracy() - 0.7).abs() < 1e-15);
    // Precision: column-wise. Class 0: 3 / 4; class 1: 2 / 3; class 2: 2 / 3.
    assert!((cm.precision(0) - 0.75).abs() < 1e-15);
    assert!((cm.precision(1) - 2.0 / 3.0).abs() < 1e-15);
    assert!((cm.precision(2) - 2.0 / 3.0).abs() < 1e-15);
    // Recall: row-wise. Class 0: 3 / 4; class 1: 2 / 3; class 2: 2 / 3.
    assert!((cm.recall(0) - 0.75).abs() < 1e-15);
    assert!((cm.recall(1) - 2.0 / 3.0).abs() < 1e-15);
    // F1 of class 0: 2 * 0.75 * 0.75 / 1.5 = 0.75.
    assert!((cm.f1(0) - 0.75).abs() < 1e-15);
    let macro_p = (0.75 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0;
    assert!((cm.macro_precision() - macro_p).abs() < 1e-15);
    assert!((cm.macro_recall() - macro_p).abs() < 1e-15);
    assert!((cm.macro_f1() - macro_p).abs() < 1e-15);
    assert_eq!(Metric::Accuracy.value(&cm), cm.accuracy());
    assert_eq!(Metric::MacroF1.name(), "macro_f1");
}

#[test]
fn an_unpredicted_class_scores_zero_not_nan() {
    // Class 2 never predicted, class 1 never present.
    let cm = ConfusionMatrix::from_classes(&[0, 0, 1], &[0, 2, 2], 3).expect("valid");
    assert_eq!(cm.precision(2), 0.0);
    assert_eq!(cm.recall(1), 0.0);
    assert_eq!(cm.f1(1), 0.0);
    assert!((cm.precision(0) - 0.5).abs() < 1e-15);
    assert!(cm.macro_f1().is_finite());
}

#[test]
fn from_outputs_with_one_hot_or_index_targets() {
    // Outputs (3 classes, 4 samples, column-major) and one-hot targets.
    let outputs = [0.7f32, 0.2, 0.1, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4, 0.5, 0.4, 0.1];
    let targets = one_hot::<f32>(&[0, 1, 1, 2], 3).expect("labels");
    let cm = ConfusionMatrix::from_outputs(&outputs, &targets, 3).expect("valid");
    assert_eq!(cm.accuracy(), 0.5);
    assert_eq!(cm.count(1, 2), 1);
    assert_eq!(cm.count(2, 0), 1);
    let by_labels = ConfusionMatrix::from_outputs_and_labels(&outputs, &[0, 1, 1, 2], 3).expect("valid");
    assert_eq!(cm, by_labels);
}

#[test]
fn bad_inputs_are_errors() {
    assert_eq!(
        ConfusionMatrix::from_classes(&[0, 1], &[0], 2).unwrap_err(),
        MetricsError::LengthMismatch {
            predictions: 2,
            targets: 1
        }
    );
    assert_eq!(
        ConfusionMatrix::from_classes(&[0, 5], &[0, 1], 2).unwrap_err(),
        MetricsError::ClassOutOfRange {
            index: 1,
            class: 5,
            classes: 2
        }
    );
    assert_eq!(ConfusionMatrix::new(0).unwrap_err(), MetricsError::NoClasses);
}

#[test]
fn display_is_a_table_with_actual_rows() {
    let text = example().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[1].ends_with("3 1 0"), "{text}");
    assert!(lines[3].ends_with("1 0 2"), "{text}");
}
