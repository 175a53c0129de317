//! The XOR example reaches 100% accuracy from its fixed seed.

#[allow(dead_code)]
#[path = "../examples/xor.rs"]
mod xor;

#[test]
fn xor_example_reaches_full_accuracy() {
    let (net, losses) = xor::train(7, 500).expect("training");
    assert_eq!(xor::accuracy(&net), 1.0);
    assert!(losses.last() < losses.first(), "{losses:?}");
    assert!(*losses.last().expect("losses") < 0.01);
}

#[test]
fn xor_training_is_deterministic() {
    let (a, la) = xor::train(3, 200).expect("training");
    let (b, lb) = xor::train(3, 200).expect("training");
    assert!(a == b);
    assert_eq!(la, lb);
}
