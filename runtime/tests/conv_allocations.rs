//! What the convolution and pooling kernels allocate, with a counting global allocator (this
//! test binary only; `tests/support/counting_allocator.rs`, counting per thread).
//!
//! The pooling and convolution kernels allocate nothing: forward, input gradient, parameter
//! gradients and the whole backward pass (with and without the input gradient), in `f32`
//! and `f64`, so that a training step with convolutions allocates nothing either.

use retroprop_runtime::nn::conv::{
    conv2d_backward, conv2d_forward, conv2d_input_gradient, conv2d_parameter_gradients, Conv2d,
};
use retroprop_runtime::nn::kernels::kernel_path;
use retroprop_runtime::nn::pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, Pool2d};
use retroprop_runtime::Real;
#[allow(dead_code)]
#[path = "../../tests/support/counting_allocator.rs"]
mod counting_allocator;

use counting_allocator::allocations_of;

#[test]
fn pooling_allocates_nothing() {
    let g = Pool2d::new(6, 28, 28, (2, 2), (2, 2));
    let n = 4;
    let x: Vec<f32> = (0..g.input_len() * n).map(|i| (i % 17) as f32).collect();
    let mut out = vec![0.0; g.output_len() * n];
    let mut argmax = vec![0; g.output_len() * n];
    let mut grad = vec![0.0; g.input_len() * n];
    let grad_out = vec![1.0; g.output_len() * n];
    // The first `kernel_path` call of the process reads `RETROPROP_KERNELS`, which allocates;
    // decide the path before counting, whichever test of this binary gets there first.
    kernel_path();
    let count = allocations_of(|| {
        max_pool_forward(&g, &x, &mut out, &mut argmax, n);
        max_pool_backward(&g, &argmax, &grad_out, &mut grad, n);
        avg_pool_forward(&g, &x, &mut out, n);
        avg_pool_backward(&g, &grad_out, &mut grad, n);
    });
    assert_eq!(count, 0);
    // The kernels did run.
    assert!(out.iter().any(|&v| v != 0.0) && grad.iter().any(|&v| v != 0.0));
}

/// Allocations of each convolution kernel on `g` for `n` samples of `T`, after the kernel
/// path is decided (the first [`kernel_path`] call reads `RETROPROP_KERNELS`, which
/// allocates; once per process).
fn convolution_allocations<T: Real>(g: &Conv2d, n: usize) -> [usize; 5] {
    let w: Vec<T> = (0..g.weight_len()).map(|i| T::cast((i % 7) as f64 * 0.1)).collect();
    let b = vec![T::cast(0.5); g.bias_len()];
    let x: Vec<T> = (0..g.input_len() * n).map(|i| T::cast((i % 11) as f64 * 0.1)).collect();
    let delta = vec![T::cast(1.0); g.output_len() * n];
    let mut scratch = vec![T::cast(0.0); g.scratch_len()];
    let mut out = vec![T::cast(0.0); g.output_len() * n];
    let (mut dw, mut db) = (vec![T::cast(0.0); g.weight_len()], vec![T::cast(0.0); g.bias_len()]);
    let mut dx = vec![T::cast(0.0); g.input_len() * n];
    kernel_path();

    let forward = allocations_of(|| {
        conv2d_forward(g, &w, &b, &x, &mut scratch, &mut out, n);
    });
    let input_gradient = allocations_of(|| {
        conv2d_input_gradient(g, &w, &delta, &mut scratch, &mut dx, n);
    });
    let parameter_gradients = allocations_of(|| {
        conv2d_parameter_gradients(g, &x, &delta, &mut scratch, &mut dw, &mut db, n);
    });
    let backward = allocations_of(|| {
        conv2d_backward(g, &w, &x, &delta, &mut scratch, &mut dw, &mut db, Some(&mut dx), n);
    });
    let first_layer = allocations_of(|| {
        conv2d_backward(g, &w, &x, &delta, &mut scratch, &mut dw, &mut db, None, n);
    });
    // The kernels did run.
    assert!(out.iter().chain(&dw).chain(&dx).any(|&v| v != T::cast(0.0)));
    [forward, input_gradient, parameter_gradients, backward, first_layer]
}

#[test]
fn convolutions_allocate_nothing() {
    // LeNet-5's two convolutions (padding on the first) and one with strides and a
    // rectangular kernel.
    let geometries = [
        Conv2d::new(1, 28, 28, 6, (5, 5), (1, 1), (2, 2)),
        Conv2d::new(6, 14, 14, 16, (5, 5), (1, 1), (0, 0)),
        Conv2d::new(3, 9, 8, 5, (3, 2), (2, 1), (1, 0)),
    ];
    for g in &geometries {
        for n in [1, 3] {
            assert_eq!(convolution_allocations::<f32>(g, n), [0; 5], "f32, {n} samples, {g:?}");
            assert_eq!(convolution_allocations::<f64>(g, n), [0; 5], "f64, {n} samples, {g:?}");
        }
    }
}
