//! Helpers shared by the integration tests.
#![allow(dead_code)]

use retroprop::prelude::*;

/// Sets tensor `name` of `net` from a row-major `[out][in]` (or `[out]`) JSON array, as
/// PyTorch stores it.
pub fn set_tensor<P: Parameters<Scalar = f64>>(net: &mut P, name: &str, value: &serde_json::Value) {
    let index = P::tensor_index(name).unwrap_or_else(|| panic!("no tensor {name}"));
    let spec = P::TENSORS[index];
    let rows = row_major(value);
    let tensor = net.tensor_mut(index);
    assert_eq!(rows.len(), spec.rows * spec.cols, "size of {name}");
    for r in 0..spec.rows {
        for c in 0..spec.cols {
            tensor[r + c * spec.rows] = rows[r * spec.cols + c];
        }
    }
}

/// Tensor `name` of `p` in row-major order.
pub fn get_tensor<P: Parameters<Scalar = f64>>(p: &P, name: &str) -> Vec<f64> {
    let index = P::tensor_index(name).unwrap_or_else(|| panic!("no tensor {name}"));
    let spec = P::TENSORS[index];
    let tensor = p.tensor(index);
    let mut out = Vec::with_capacity(tensor.len());
    for r in 0..spec.rows {
        for c in 0..spec.cols {
            out.push(tensor[r + c * spec.rows]);
        }
    }
    out
}

/// A JSON array of numbers or of arrays of numbers, flattened row by row.
pub fn row_major(value: &serde_json::Value) -> Vec<f64> {
    match value {
        serde_json::Value::Array(items) => items.iter().flat_map(row_major).collect(),
        serde_json::Value::Number(n) => vec![n.as_f64().expect("number")],
        other => panic!("not a number array: {other}"),
    }
}

/// Relative difference, guarded near zero.
pub fn rel_diff(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-8)
}

/// Asserts that two sequences agree to a relative tolerance.
pub fn assert_close(actual: &[f64], expected: &[f64], tol: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            rel_diff(*a, *e) <= tol,
            "{what}[{i}]: {a} vs {e} (relative difference {})",
            rel_diff(*a, *e)
        );
    }
}

/// Deterministic pseudo-random values in [-scale, scale) from a seed (splitmix64).
pub fn values(seed: u64, len: usize, scale: f64) -> Vec<f64> {
    let mut state = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            scale * (2.0 * (z >> 11) as f64 / (1u64 << 53) as f64 - 1.0)
        })
        .collect()
}

/// Defines `$wrapper`, a network that delegates every pass to the generated network `$inner`
/// but declares its own `NAME`, tensor list (`$tensors`, with the same storage as the
/// inner one's) and `FUSED_SGD` (the trait's default unless given): for testing what the
/// runtime does with networks the macro does not generate yet.
#[macro_export]
macro_rules! wrap_network {
    ($wrapper:ident($inner:ty), $name:literal, $tensors:expr $(, fused = $fused:expr)?) => {
        #[derive(Clone, PartialEq, Debug)]
        struct $wrapper($inner);

        impl retroprop::Parameters for $wrapper {
            type Scalar = <$inner as retroprop::Parameters>::Scalar;
            const TENSORS: &'static [retroprop::TensorSpec] = $tensors;
            fn tensor(&self, index: usize) -> &[Self::Scalar] {
                self.0.tensor(index)
            }
            fn tensor_mut(&mut self, index: usize) -> &mut [Self::Scalar] {
                self.0.tensor_mut(index)
            }
        }

        impl retroprop::Network for $wrapper {
            type Gradients = <$inner as retroprop::Network>::Gradients;
            type Workspace = <$inner as retroprop::Network>::Workspace;
            const NAME: &'static str = $name;
            const DEFINITION: &'static str = <$inner as retroprop::Network>::DEFINITION;
            const INPUT: usize = <$inner as retroprop::Network>::INPUT;
            const OUTPUT: usize = <$inner as retroprop::Network>::OUTPUT;
            const PARAMETERS: usize = <$inner as retroprop::Network>::PARAMETERS;
            $(const FUSED_SGD: bool = $fused;)?

            fn zeroed() -> Self {
                $wrapper(<$inner as retroprop::Network>::zeroed())
            }
            fn seeded(seed: u64) -> Self {
                $wrapper(<$inner as retroprop::Network>::seeded(seed))
            }
            fn zeroed_gradients() -> Self::Gradients {
                <$inner as retroprop::Network>::zeroed_gradients()
            }
            fn workspace(max_batch: usize) -> Self::Workspace {
                <$inner as retroprop::Network>::workspace(max_batch)
            }
            fn forward_into<'w>(
                &self,
                x: &[Self::Scalar],
                ws: &'w mut Self::Workspace,
            ) -> Result<retroprop::nn::loss::Output<'w, Self::Scalar>, retroprop::ShapeError> {
                self.0.forward_into(x, ws)
            }
            fn gradients_into<L: retroprop::nn::loss::Loss<Self::Scalar> + ?Sized>(
                &self,
                x: &[Self::Scalar],
                target: &[Self::Scalar],
                loss: &L,
                ctx: &mut retroprop::nn::Context,
                ws: &mut Self::Workspace,
                grads: &mut Self::Gradients,
            ) -> Result<Self::Scalar, retroprop::TrainError> {
                self.0.gradients_into(x, target, loss, ctx, ws, grads)
            }
        }
    };
}
