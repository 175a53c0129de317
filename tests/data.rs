//! The in-memory data set: construction, errors, batches and shuffling.

use retroprop::nn::init::seeded_rng;
use retroprop::prelude::*;

fn numbered(n: usize) -> Dataset<f32> {
    // Sample i has features [i, -i] and target [i].
    let features: Vec<f32> = (0..n).flat_map(|i| [i as f32, -(i as f32)]).collect();
    let targets: Vec<f32> = (0..n).map(|i| i as f32).collect();
    Dataset::new(features, 2, targets, 1).expect("valid")
}

#[test]
fn batches_are_views_covering_every_sample_once() {
    let data = numbered(10);
    let batches: Vec<_> = data.batches(4).expect("size").collect();
    assert_eq!(batches.iter().map(|b| b.len()).collect::<Vec<_>>(), [4, 4, 2]);
    assert_eq!(batches[2].features, &[8.0, -8.0, 9.0, -9.0]);
    assert_eq!(batches[2].targets, &[8.0, 9.0]);
    assert!(std::ptr::eq(batches[0].features.as_ptr(), data.features().as_ptr()));
    assert_eq!(data.batches(0).unwrap_err(), DataError::ZeroBatchSize);
}

#[test]
fn shuffling_is_a_seeded_permutation_that_keeps_pairs_together() {
    let mut a = numbered(50);
    let mut b = numbered(50);
    a.shuffle(&mut seeded_rng(7));
    b.shuffle(&mut seeded_rng(7));
    assert_eq!(a, b);
    let mut c = numbered(50);
    c.shuffle(&mut seeded_rng(8));
    assert_ne!(a, c);
    assert_ne!(a, numbered(50));
    let mut seen: Vec<f32> = a.targets().to_vec();
    for i in 0..a.len() {
        let t = a.target(i)[0];
        assert_eq!(a.feature(i), &[t, -t]);
    }
    seen.sort_by(f32::total_cmp);
    assert_eq!(seen, (0..50).map(|i| i as f32).collect::<Vec<_>>());
}

#[test]
fn labels_become_one_hot_targets() {
    let data = Dataset::<f64>::from_labels(vec![0.0; 6], 2, &[2, 0, 1], 3).expect("valid");
    assert_eq!(data.targets(), &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    assert_eq!(data.outputs(), 3);
    assert_eq!(
        Dataset::<f64>::from_labels(vec![0.0; 4], 2, &[0, 3], 3).unwrap_err(),
        DataError::LabelOutOfRange {
            index: 1,
            label: 3,
            classes: 3
        }
    );
    assert_eq!(argmax_columns(data.targets(), 3), [2, 0, 1]);
}

#[test]
fn malformed_data_sets_are_errors() {
    assert_eq!(
        Dataset::<f32>::new(vec![0.0; 5], 2, vec![0.0; 2], 1).unwrap_err(),
        DataError::Ragged {
            what: "feature",
            len: 5,
            width: 2
        }
    );
    assert_eq!(
        Dataset::<f32>::new(vec![0.0; 4], 2, vec![0.0; 3], 1).unwrap_err(),
        DataError::SampleCountMismatch {
            features: 2,
            targets: 3
        }
    );
    assert_eq!(
        Dataset::<f32>::new(vec![], 0, vec![], 1).unwrap_err(),
        DataError::ZeroWidth { what: "feature" }
    );
    let data = numbered(3);
    assert!(data.features_view::<2>().is_ok());
    assert_eq!(
        data.features_view::<3>().unwrap_err(),
        DataError::Width {
            what: "features",
            expected: 3,
            actual: 2
        }
    );
    assert!(data.feature(3).is_empty());
}

#[test]
fn split_keeps_order_and_clamps() {
    let (train, test) = numbered(10).split_at(7);
    assert_eq!((train.len(), test.len()), (7, 3));
    assert_eq!(test.target(0), &[7.0]);
    let (all, none) = numbered(4).split_at(99);
    assert_eq!((all.len(), none.len()), (4, 0));
    assert!(none.is_empty());
}

#[test]
fn shuffling_indices_and_gathering_equals_shuffling_the_data() {
    use retroprop::data::shuffle_order;
    let features: Vec<f32> = (0..40).map(|v| v as f32).collect();
    let targets: Vec<f32> = (0..20).map(|v| -(v as f32)).collect();
    let data = Dataset::new(features, 2, targets, 1).expect("valid");
    let mut shuffled = data.clone();
    let mut tracked: Vec<usize> = (0..data.len()).collect();
    let mut order: Vec<usize> = (0..data.len()).collect();
    let (mut rng_a, mut rng_b) = (seeded_rng(7), seeded_rng(7));
    for _ in 0..3 {
        shuffled.shuffle_tracking(&mut rng_a, &mut tracked);
        shuffle_order(&mut order, &mut rng_b);
    }
    assert_eq!(order, tracked);
    assert_ne!(
        order,
        (0..data.len()).collect::<Vec<_>>(),
        "three shuffles left the identity"
    );
    let (mut x, mut y) = (vec![9.0; 3], Vec::new());
    data.gather_into(&order, &mut x, &mut y);
    assert_eq!(x, shuffled.features());
    assert_eq!(y, shuffled.targets());
    // Indices past the end are skipped.
    data.gather_into(&[1, 99, 0], &mut x, &mut y);
    assert_eq!((x, y), (vec![2.0, 3.0, 0.0, 1.0], vec![-1.0, 0.0]));
}
