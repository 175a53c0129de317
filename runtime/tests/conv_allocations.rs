//! What the convolution and pooling kernels allocate, with a counting global allocator (this
//! test binary only; `tests/support/counting_allocator.rs`, counting per thread).
//!
//! The pooling kernels allocate nothing. The convolution kernels allocate nothing themselves,
//! but `matrixmultiply` allocates one packing buffer per matrix product; this pins that
//! count (one per sample forward, two per sample backward with the input gradient, one
//! without), so that a change in either shows here.

use retroprop_runtime::nn::conv::{conv2d_backward, conv2d_forward, Conv2d};
use retroprop_runtime::nn::pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, Pool2d};
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
    let count = allocations_of(|| {
        max_pool_forward(&g, &x, &mut out, &mut argmax, n);
        max_pool_backward(&g, &argmax, &grad_out, &mut grad, n);
        avg_pool_forward(&g, &x, &mut out, n);
        avg_pool_backward(&g, &grad_out, &mut grad, n);
    });
    assert_eq!(count, 0);
}

#[test]
fn convolutions_allocate_only_matrixmultiplys_packing_buffers() {
    let g = Conv2d::new(6, 14, 14, 16, (5, 5), (1, 1), (0, 0));
    let n = 3;
    let w: Vec<f64> = (0..g.weight_len()).map(|i| (i % 7) as f64 * 0.1).collect();
    let b = vec![0.5; g.bias_len()];
    let x: Vec<f64> = (0..g.input_len() * n).map(|i| (i % 11) as f64 * 0.1).collect();
    let delta = vec![1.0; g.output_len() * n];
    let mut patches = vec![0.0; g.patches_len()];
    let mut out = vec![0.0; g.output_len() * n];
    let (mut dw, mut db) = (vec![0.0; g.weight_len()], vec![0.0; g.bias_len()]);
    let mut dx = vec![0.0; g.input_len() * n];

    let forward = allocations_of(|| {
        conv2d_forward(&g, &w, &b, &x, &mut patches, &mut out, n);
    });
    let backward = allocations_of(|| {
        conv2d_backward(&g, &w, &x, &delta, &mut patches, &mut dw, &mut db, Some(&mut dx), n);
    });
    let first_layer = allocations_of(|| {
        conv2d_backward(&g, &w, &x, &delta, &mut patches, &mut dw, &mut db, None, n);
    });
    assert_eq!((forward, backward, first_layer), (n, 2 * n, n));
}
