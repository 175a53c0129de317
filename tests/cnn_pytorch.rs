//! Whole convolutional networks (conv2d, max/avg pooling, flatten, dense) against PyTorch
//! autograd in float64: outputs, losses and every parameter gradient, from the committed
//! `tests/reference/cnn.json` made by `tests/reference/make_cnn_reference.py`.
//!
//! The conventions are those of `pytorch_reference.rs`: parameters by tensor name in PyTorch's
//! row-major layout (a convolution weight `[out, in, kh, kw]`), `x` one sample per row with
//! each image flattened in channel, row, column order, losses reduced by PyTorch's default
//! mean (cross-entropy over the samples, MSE and binary cross-entropy over all values).

mod common;

use common::{assert_close, get_tensor, row_major, set_tensor};
use retroprop::prelude::*;
use serde_json::Value;

retroprop::network! {
    #[network(scalar = f64)]
    struct SmallLeNet {
        input: [1, 8, 8],
        conv1: conv2d(3, kernel = 3, padding = 1) -> relu,
        pool1: max_pool(2),
        conv2: conv2d(4, kernel = 3) -> tanh,
        flat: flatten,
        out: dense(3) -> softmax,
    }

    #[network(scalar = f64)]
    struct StridedRect {
        input: [2, 9, 7],
        conv1: conv2d(3, kernel = (3, 2), stride = (2, 1), padding = (1, 0)) -> elu(0.5),
        pool1: avg_pool(2, stride = 1),
        flat: flatten,
        out: dense(4) -> softmax,
    }

    #[network(scalar = f64)]
    struct TwoConvs {
        input: [3, 7, 7],
        conv1: conv2d(4, kernel = 3, stride = 2, padding = 1) -> leaky_relu(0.1),
        conv2: conv2d(2, kernel = 2) -> silu,
        pool: max_pool((2, 1)),
        flat: flatten,
        h: dense(5) -> gelu,
        out: dense(2) -> sigmoid,
    }
}

const TOLERANCE: f64 = 1e-10;
const GRADIENT_TOLERANCE: f64 = 1e-9;

fn reference() -> Value {
    let text = include_str!("reference/cnn.json");
    serde_json::from_str(text).expect("cnn.json parses")
}

fn case<'a>(reference: &'a Value, name: &str) -> &'a Value {
    reference["cases"]
        .as_array()
        .and_then(|cases| cases.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no case {name}"))
}

/// The dimensions of a nested JSON array (`[[1, 2, 3], [4, 5, 6]]` is `[2, 3]`).
fn json_shape(value: &Value) -> Vec<usize> {
    match value {
        Value::Array(items) => {
            let mut shape = vec![items.len()];
            if let Some(first) = items.first() {
                shape.extend(json_shape(first));
            }
            shape
        }
        _ => Vec::new(),
    }
}

/// A network holding the case's parameters, after checking that its input size, output size,
/// parameter count and tensor shapes are those of the PyTorch network.
fn load<N: Network<Scalar = f64>>(case: &Value) -> N {
    let name = case["name"].as_str().expect("name");
    assert_eq!(
        N::INPUT as u64,
        case["inputs"].as_u64().expect("inputs"),
        "{name} inputs"
    );
    assert_eq!(N::OUTPUT, json_shape(&case["output"])[1], "{name} outputs");
    assert_eq!(
        N::PARAMETERS as u64,
        case["parameters"].as_u64().expect("parameters"),
        "{name} parameter count"
    );
    let params = case["params"].as_object().expect("params");
    assert_eq!(N::TENSORS.len(), params.len(), "{name} tensor count");
    let mut net = N::zeroed();
    for (tensor, value) in params {
        let index = N::tensor_index(tensor).unwrap_or_else(|| panic!("{name}: no tensor {tensor}"));
        assert_eq!(
            N::TENSORS[index].shape.to_vec(),
            json_shape(value),
            "{name} {tensor} shape"
        );
        set_tensor(&mut net, tensor, value);
    }
    net
}

fn loss_named(kind: &str) -> Box<dyn Loss<f64>> {
    match kind {
        "mse" => Box::new(MeanSquaredError),
        "bce" => Box::new(BinaryCrossEntropy),
        "ce" => Box::new(CrossEntropy),
        other => panic!("unknown loss {other}"),
    }
}

/// Compares the batch's outputs, every loss and every gradient of one case with PyTorch's.
fn check_case<N: Network<Scalar = f64>>(name: &str) {
    let reference = reference();
    let case = case(&reference, name);
    let net: N = load(case);
    let x = row_major(&case["x"]);
    let y = row_major(&case["y"]);
    let n = x.len() / N::INPUT;
    assert_eq!(n, 3, "{name}: a batch of three samples");
    let mut ws = N::workspace(n);
    let output = net.forward_into(&x, &mut ws).expect("forward");
    assert_close(
        output.act,
        &row_major(&case["output"]),
        TOLERANCE,
        &format!("{name} output"),
    );
    let losses = case["losses"].as_object().expect("losses");
    assert!(!losses.is_empty());
    for (kind, expected) in losses {
        let loss = loss_named(kind);
        let mut grads = N::zeroed_gradients();
        let mut ctx = Context::training(0);
        let value = net
            .gradients_into(&x, &y, loss.as_ref(), &mut ctx, &mut ws, &mut grads)
            .expect("gradients");
        let what = format!("{name} {kind}");
        assert_close(
            &[value],
            &[expected["loss"].as_f64().expect("loss")],
            TOLERANCE,
            &format!("{what} loss"),
        );
        let gradients = expected["gradients"].as_object().expect("gradients");
        assert_eq!(gradients.len(), N::TENSORS.len(), "{what}: a gradient for every tensor");
        for (tensor, g) in gradients {
            assert_close(
                &get_tensor(&grads, tensor),
                &row_major(g),
                GRADIENT_TOLERANCE,
                &format!("{what} d/d{tensor}"),
            );
        }
    }
}

#[test]
fn small_lenet_conv_relu_max_pool_conv_tanh_cross_entropy() {
    check_case::<SmallLeNet>("small_lenet");
}

#[test]
fn rectangular_kernel_stride_and_padding_elu_avg_pool_cross_entropy_and_mse() {
    check_case::<StridedRect>("strided_rect");
}

#[test]
fn two_convolutions_leaky_relu_silu_rectangular_max_pool_gelu_sigmoid_bce_and_mse() {
    check_case::<TwoConvs>("two_convs");
}

/// Runs each sample of a case alone through `forward_slice` (given as a closure, since it is
/// an inherent method of each generated network) and compares it with the batch's output row
/// and with PyTorch's.
fn check_one_sample_at_a_time<N, F>(name: &str, forward_slice: F)
where
    N: Network<Scalar = f64>,
    F: Fn(&N, &[f64]) -> Vec<f64>,
{
    let reference = reference();
    let case = case(&reference, name);
    let net: N = load(case);
    let x = row_major(&case["x"]);
    let expected = row_major(&case["output"]);
    let n = x.len() / N::INPUT;
    let mut ws = N::workspace(n);
    let batch = net.forward_into(&x, &mut ws).expect("forward").act.to_vec();
    assert_eq!(batch.len(), n * N::OUTPUT);
    for (s, sample) in x.chunks_exact(N::INPUT).enumerate() {
        let single = forward_slice(&net, sample);
        let rows = s * N::OUTPUT..(s + 1) * N::OUTPUT;
        assert_close(
            &single,
            &batch[rows.clone()],
            TOLERANCE,
            &format!("{name} sample {s}: forward_slice against the batch"),
        );
        assert_close(
            &single,
            &expected[rows],
            TOLERANCE,
            &format!("{name} sample {s}: forward_slice against PyTorch"),
        );
    }
}

#[test]
fn one_sample_at_a_time_matches_the_batch() {
    check_one_sample_at_a_time::<SmallLeNet, _>("small_lenet", |net, x| {
        net.forward_slice(x).expect("one sample").iter().copied().collect()
    });
    check_one_sample_at_a_time::<StridedRect, _>("strided_rect", |net, x| {
        net.forward_slice(x).expect("one sample").iter().copied().collect()
    });
    check_one_sample_at_a_time::<TwoConvs, _>("two_convs", |net, x| {
        net.forward_slice(x).expect("one sample").iter().copied().collect()
    });
}
