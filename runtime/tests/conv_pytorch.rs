//! The convolution and pooling kernels against PyTorch (float64), from the committed
//! `tests/reference/conv.json` made by `tests/reference/make_conv_reference.py` (at the
//! repository root). Every output and gradient value must agree to 1e-10 (relative, or
//! absolute below 1), and the maxima's indices exactly, including on ties.

use retroprop_runtime::nn::conv::{conv2d_backward, conv2d_forward, Conv2d};
use retroprop_runtime::nn::pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, Pool2d};
use serde_json::Value;

const TOLERANCE: f64 = 1e-10;

fn reference() -> Value {
    serde_json::from_str(include_str!("../../tests/reference/conv.json")).expect("conv.json parses")
}

/// A nested JSON array of numbers, flattened in row-major order (PyTorch's memory order).
fn flat(value: &Value) -> Vec<f64> {
    match value {
        Value::Array(items) => items.iter().flat_map(flat).collect(),
        Value::Number(x) => vec![x.as_f64().expect("a number")],
        other => panic!("not a number array: {other}"),
    }
}

fn size(case: &Value, key: &str) -> usize {
    case[key].as_u64().unwrap_or_else(|| panic!("no {key}")) as usize
}

fn pair(case: &Value, key: &str) -> (usize, usize) {
    let v = case[key].as_array().unwrap_or_else(|| panic!("no {key}"));
    (
        v[0].as_u64().expect("size") as usize,
        v[1].as_u64().expect("size") as usize,
    )
}

fn cases<'a>(reference: &'a Value, kind: &str) -> &'a [Value] {
    let cases = reference[kind].as_array().unwrap_or_else(|| panic!("no {kind} cases"));
    assert!(cases.len() >= 3, "{kind}: at least three cases");
    cases
}

fn assert_close(actual: &[f64], expected: &[f64], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= TOLERANCE * e.abs().max(1.0),
            "{what}[{i}]: {a} vs PyTorch {e}"
        );
    }
}

/// PyTorch's row-major `[out, in * kh * kw]` weight as the column-major matrix the kernels
/// take (element `(o, c)` at `o + c * out`), and back.
fn to_column_major(row_major: &[f64], rows: usize) -> Vec<f64> {
    let cols = row_major.len() / rows;
    (0..rows * cols)
        .map(|i| row_major[(i % rows) * cols + i / rows])
        .collect()
}

fn to_row_major(column_major: &[f64], rows: usize) -> Vec<f64> {
    let cols = column_major.len() / rows;
    (0..rows * cols)
        .map(|i| column_major[(i / cols) + (i % cols) * rows])
        .collect()
}

#[test]
fn convolutions_match_pytorch() {
    let reference = reference();
    for case in cases(&reference, "conv") {
        let name = case["name"].as_str().expect("name");
        let g = Conv2d::new(
            size(case, "in_channels"),
            size(case, "in_h"),
            size(case, "in_w"),
            size(case, "out_channels"),
            pair(case, "kernel"),
            pair(case, "stride"),
            pair(case, "padding"),
        );
        let n = size(case, "n");
        let o = g.out_channels();
        let weight = to_column_major(&flat(&case["weight"]), o);
        let (bias, x, r) = (flat(&case["bias"]), flat(&case["x"]), flat(&case["r"]));
        assert_eq!(weight.len(), g.weight_len(), "{name}");
        assert_eq!(x.len(), g.input_len() * n, "{name}");

        let mut scratch = vec![0.0; g.scratch_len()];
        let mut out = vec![0.0; g.output_len() * n];
        let out = conv2d_forward(&g, &weight, &bias, &x, &mut scratch, &mut out, n);
        assert_close(out, &flat(&case["output"]), &format!("{name} output"));

        let (mut dw, mut db) = (vec![0.0; g.weight_len()], vec![0.0; g.bias_len()]);
        let mut dx = vec![0.0; g.input_len() * n];
        conv2d_backward(&g, &weight, &x, &r, &mut scratch, &mut dw, &mut db, Some(&mut dx), n);
        assert_close(
            &to_row_major(&dw, o),
            &flat(&case["grad_weight"]),
            &format!("{name} weight gradient"),
        );
        assert_close(&db, &flat(&case["grad_bias"]), &format!("{name} bias gradient"));
        assert_close(&dx, &flat(&case["grad_input"]), &format!("{name} input gradient"));
    }
}

fn pool_geometry(case: &Value) -> (Pool2d, usize) {
    let g = Pool2d::new(
        size(case, "channels"),
        size(case, "in_h"),
        size(case, "in_w"),
        pair(case, "window"),
        pair(case, "stride"),
    );
    (g, size(case, "n"))
}

#[test]
fn max_pooling_matches_pytorch_ties_included() {
    let reference = reference();
    let mut tie_cases = 0;
    for case in cases(&reference, "max_pool") {
        let name = case["name"].as_str().expect("name");
        tie_cases += usize::from(name.starts_with("ties"));
        let (g, n) = pool_geometry(case);
        let (x, r) = (flat(&case["x"]), flat(&case["r"]));
        let mut out = vec![0.0; g.output_len() * n];
        let mut argmax = vec![0; g.output_len() * n];
        let out = max_pool_forward(&g, &x, &mut out, &mut argmax, n);
        assert_close(out, &flat(&case["output"]), &format!("{name} output"));
        let indices: Vec<u32> = flat(&case["indices"]).iter().map(|&i| i as u32).collect();
        assert_eq!(argmax, indices, "{name}: indices of the maxima");

        let mut grad = vec![0.0; g.input_len() * n];
        max_pool_backward(&g, &argmax, &r, &mut grad, n);
        assert_close(&grad, &flat(&case["grad_input"]), &format!("{name} input gradient"));
    }
    assert!(tie_cases >= 1, "a case with ties pins the first-maximum rule");
}

#[test]
fn average_pooling_matches_pytorch() {
    let reference = reference();
    for case in cases(&reference, "avg_pool") {
        let name = case["name"].as_str().expect("name");
        let (g, n) = pool_geometry(case);
        let (x, r) = (flat(&case["x"]), flat(&case["r"]));
        let mut out = vec![0.0; g.output_len() * n];
        let out = avg_pool_forward(&g, &x, &mut out, n);
        assert_close(out, &flat(&case["output"]), &format!("{name} output"));
        let mut grad = vec![0.0; g.input_len() * n];
        avg_pool_backward(&g, &r, &mut grad, n);
        assert_close(&grad, &flat(&case["grad_input"]), &format!("{name} input gradient"));
    }
}

#[test]
fn the_weight_transposition_round_trips() {
    let row_major: Vec<f64> = (0..12).map(f64::from).collect();
    let column_major = to_column_major(&row_major, 3);
    assert_eq!(column_major[1], 4.0); // (1, 0): row 1 of the row-major [3, 4]
    assert_eq!(column_major[3], 1.0); // (0, 1)
    assert_eq!(to_row_major(&column_major, 3), row_major);
}
