//! The kernels of a dense layer on sparse inputs (`nn::sparse`): the forward pass and the
//! weight and bias gradients against dense computations on the densified samples (bit for
//! bit: the dense sums run in the documented order, and the absent entries add zeros), the
//! updates leaving untouched columns bit-identical, lazy momentum catch-up against dense
//! momentum SGD (1e-12, f64), SparseAdam, sparse Adagrad and dense momentum SGD against
//! PyTorch (the committed `tests/reference/sparse_optim.json`, made by
//! `tests/reference/make_sparse_reference.py`; 1e-12), and no allocation per step once warm
//! (a counting allocator, per thread).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retroprop_runtime::data::sparse::{SparseBatch, SparseRows};
use retroprop_runtime::nn::kernels::kernel_path;
use retroprop_runtime::nn::sparse::{
    sparse_bias_gradient, sparse_dense_forward, SparseAdagrad, SparseAdam, SparseGradient, SparseMomentumSgd, SparseSgd,
};
use retroprop_runtime::Real;
use serde_json::Value;

#[allow(dead_code)]
#[path = "../../tests/support/counting_allocator.rs"]
mod counting_allocator;

/// `n` random samples of `features` features drawn from `allowed` (0 to `max` distinct
/// entries each, about one sample in four empty).
fn random_rows<T: Real>(rng: &mut ChaCha8Rng, n: usize, features: usize, allowed: &[u32], max: usize) -> SparseRows<T> {
    let mut rows = SparseRows::empty(features).unwrap();
    for _ in 0..n {
        let mut indices: Vec<u32> = (0..rng.random_range(0..=max))
            .map(|_| allowed[rng.random_range(0..allowed.len())])
            .collect();
        if rng.random_range(0..4) == 0 {
            indices.clear();
        }
        indices.sort_unstable();
        indices.dedup();
        let values: Vec<T> = indices.iter().map(|_| T::cast(rng.random_range(-2.0..2.0))).collect();
        rows.push_row(&indices, &values).unwrap();
    }
    rows
}

fn random_vec<T: Real>(rng: &mut ChaCha8Rng, len: usize) -> Vec<T> {
    (0..len).map(|_| T::cast(rng.random_range(-1.0..1.0))).collect()
}

/// The samples as a dense column-major `features x n` matrix.
fn densify<T: Real>(batch: &SparseBatch<'_, T>) -> Vec<T> {
    let f = batch.features();
    let mut x = vec![T::zero(); f * batch.len()];
    for (j, (indices, values)) in batch.iter().enumerate() {
        for (&k, &v) in indices.iter().zip(values) {
            x[j * f + k as usize] = v;
        }
    }
    x
}

fn bits<T: Real>(values: &[T]) -> Vec<f64> {
    values.iter().map(|v| v.to_f64()).collect()
}

fn forward_matches_dense<T: Real>() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let features = 40;
    let allowed: Vec<u32> = (0..features as u32).collect();
    for width in [1, 7, 64, 130] {
        for n in [1, 2, 5, 9] {
            let rows = random_rows::<T>(&mut rng, n, features, &allowed, 8);
            let batch = rows.view(0..n);
            let w = random_vec::<T>(&mut rng, width * features);
            let b = random_vec::<T>(&mut rng, width);
            let mut out = vec![T::cast(9.0); width * n + 3];
            sparse_dense_forward(&w, &b, &batch, &mut out, width);
            assert!(
                out[width * n..].iter().all(|&v| v == T::cast(9.0)),
                "past the batch: untouched"
            );
            // Dense: out[r, j] = b[r] + sum_k W[r, k] x[k, j], k ascending.
            let x = densify(&batch);
            for j in 0..n {
                for r in 0..width {
                    let mut acc = b[r];
                    for k in 0..features {
                        acc += x[j * features + k] * w[k * width + r];
                    }
                    assert_eq!(
                        out[j * width + r],
                        acc,
                        "{} width {width} n {n}: out[{r}, {j}]",
                        T::NAME
                    );
                }
                if batch.row(j).0.is_empty() {
                    assert_eq!(
                        &out[j * width..(j + 1) * width],
                        &b[..],
                        "an empty sample gives the bias"
                    );
                }
            }
        }
    }
}

#[test]
fn forward_matches_the_dense_product_f32() {
    forward_matches_dense::<f32>();
}

#[test]
fn forward_matches_the_dense_product_f64() {
    forward_matches_dense::<f64>();
}

fn gradient_matches_dense<T: Real>() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let features = 50;
    let allowed: Vec<u32> = (0..30).collect(); // features 30.. are never present
    for width in [1, 7, 64, 130] {
        let mut grad = SparseGradient::<T>::new(width, features);
        for n in [1, 3, 8, 16] {
            let rows = random_rows::<T>(&mut rng, n, features, &allowed, 6);
            let batch = rows.view(0..n);
            let delta = random_vec::<T>(&mut rng, width * n);
            grad.compute(&batch, &delta);
            // Dense outer products, in sample order.
            let x = densify(&batch);
            let mut dense = vec![T::zero(); width * features];
            for j in 0..n {
                for k in 0..features {
                    for r in 0..width {
                        dense[k * width + r] += delta[j * width + r] * x[j * features + k];
                    }
                }
            }
            let mut present: Vec<u32> = batch.indices().to_vec();
            present.sort_unstable();
            present.dedup();
            assert_eq!(grad.columns(), &present[..], "sorted distinct touched columns");
            assert_eq!(grad.values().len(), present.len() * width);
            let mut from_sparse = vec![T::zero(); width * features];
            grad.add_to_dense(&mut from_sparse);
            assert_eq!(bits(&from_sparse), bits(&dense), "{} width {width} n {n}", T::NAME);
            for k in 0..features as u32 {
                if present.binary_search(&k).is_err() {
                    assert!(grad.column(k).is_none(), "untouched column {k} stored");
                }
            }
            let mut bias = vec![T::cast(5.0); width];
            sparse_bias_gradient(&mut bias, &delta, width, n);
            for r in 0..width {
                let mut acc = T::zero();
                for j in 0..n {
                    acc += delta[j * width + r];
                }
                assert_eq!(bias[r], acc);
            }
        }
        grad.clear();
        assert!(grad.is_empty() && (0..features as u32).all(|k| grad.column(k).is_none()));
    }
}

#[test]
fn weight_gradient_matches_the_dense_outer_products_f32() {
    gradient_matches_dense::<f32>();
}

#[test]
fn weight_gradient_matches_the_dense_outer_products_f64() {
    gradient_matches_dense::<f64>();
}

/// Batches over the features below `features / 2` only: the others are never touched.
fn untouched_columns_do_not_move<T: Real>() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (width, features, n) = (7, 40, 4);
    let allowed: Vec<u32> = (0..20).collect();
    let w0 = random_vec::<T>(&mut rng, width * features);
    let mut w = [w0.clone(), w0.clone(), w0.clone(), w0.clone(), w0.clone()];
    let mut sgd = SparseSgd::new(width, features, T::cast(0.1)).with_weight_decay(T::cast(0.01));
    let mut momentum = SparseMomentumSgd::new(width, features, T::cast(0.1), T::cast(0.9));
    let mut nesterov = SparseMomentumSgd::new(width, features, T::cast(0.1), T::cast(0.9)).with_nesterov(true);
    let mut adagrad = SparseAdagrad::new(width, features).with_lr(T::cast(0.1));
    let mut adam = SparseAdam::new(width, features).with_lr(T::cast(0.01));
    let mut grad = SparseGradient::new(width, features);
    let mut touched = vec![false; features];
    for _ in 0..10 {
        let rows = random_rows::<T>(&mut rng, n, features, &allowed, 4);
        let delta = random_vec::<T>(&mut rng, width * n);
        grad.compute(&rows.view(0..n), &delta);
        for &k in grad.columns() {
            touched[k as usize] = true;
        }
        sgd.step(&mut w[0], &grad);
        momentum.step(&mut w[1], &grad);
        nesterov.step(&mut w[2], &grad);
        adagrad.step(&mut w[3], &grad);
        adam.step(&mut w[4], &grad);
    }
    momentum.catch_up_all(&mut w[1]);
    nesterov.catch_up_all(&mut w[2]);
    assert!(touched.iter().any(|&t| t) && !touched[20..].iter().any(|&t| t));
    for (which, w) in ["sgd", "momentum", "nesterov", "adagrad", "adam"].iter().zip(&w) {
        let mut moved = false;
        for k in 0..features {
            let (before, after) = (&w0[k * width..(k + 1) * width], &w[k * width..(k + 1) * width]);
            if touched[k] {
                moved |= before != after;
            } else {
                let same = before
                    .iter()
                    .zip(after)
                    .all(|(a, b)| a.to_f64().to_bits() == b.to_f64().to_bits());
                assert!(same, "{which}: untouched column {k} moved");
            }
        }
        assert!(moved, "{which}: touched columns moved");
    }
}

#[test]
fn untouched_columns_stay_bit_identical_f32() {
    untouched_columns_do_not_move::<f32>();
}

#[test]
fn untouched_columns_stay_bit_identical_f64() {
    untouched_columns_do_not_move::<f64>();
}

fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= tolerance * e.abs().max(1.0), "{what}[{i}]: {a} vs {e}");
    }
}

/// Lazy momentum against dense momentum SGD (`buf = mu buf + g`, `w -= lr buf`, or
/// Nesterov's `w -= lr (g + mu buf)`) over steps touching columns irregularly: the touched
/// columns after every step, and every column after `catch_up_all`, here and there and at
/// the end.
#[test]
fn lazy_momentum_matches_dense_momentum_sgd() {
    for nesterov in [false, true] {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let (width, features, lr, mu) = (5, 30, 0.05, 0.9);
        let w0 = random_vec::<f64>(&mut rng, width * features);
        let (mut lazy, mut dense) = (w0.clone(), w0.clone());
        let mut buf = vec![0.0; width * features];
        let mut opt = SparseMomentumSgd::new(width, features, lr, mu).with_nesterov(nesterov);
        let mut grad = SparseGradient::new(width, features);
        for step in 0..40 {
            // Few features at a time, from a pool that moves: long gaps between touches.
            let allowed: Vec<u32> = (0..6).map(|i| ((step / 5) * 3 + i * 4) % 28).collect();
            let n = rng.random_range(1..4);
            let rows = random_rows::<f64>(&mut rng, n, features, &allowed, 3);
            let delta = random_vec::<f64>(&mut rng, width * n);
            grad.compute(&rows.view(0..n), &delta);
            opt.step(&mut lazy, &grad);
            let mut g = vec![0.0; width * features];
            grad.add_to_dense(&mut g);
            for ((w, b), &g) in dense.iter_mut().zip(buf.iter_mut()).zip(&g) {
                *b = mu * *b + g;
                *w -= lr * if nesterov { g + mu * *b } else { *b };
            }
            for &k in grad.columns() {
                let k = k as usize;
                let span = k * width..(k + 1) * width;
                assert_close(
                    &lazy[span.clone()],
                    &dense[span],
                    1e-12,
                    &format!("step {step} column {k}"),
                );
            }
            if step % 13 == 7 || step == 39 {
                opt.catch_up_all(&mut lazy);
                assert_close(
                    &lazy,
                    &dense,
                    1e-12,
                    &format!("nesterov {nesterov}: all columns at step {step}"),
                );
                assert_close(opt.momentum_buffer(), &buf, 1e-12, "momentum buffer");
            }
        }
        assert_eq!(opt.steps(), 40);
        assert!(
            lazy[28 * width..] == w0[28 * width..],
            "features 28 and 29 are never touched"
        );
    }
}

fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

fn integers(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_u64().expect("an integer"))
        .collect()
}

fn hyper(reference: &Value, optimizer: &str, key: &str) -> f64 {
    reference["hyper"][optimizer][key]
        .as_f64()
        .unwrap_or_else(|| panic!("no {optimizer}.{key}"))
}

/// The PyTorch runs replayed: the gradient from the recorded batch and deltas, then each
/// optimizer's weights after every step (momentum SGD after `catch_up_all`, and a second,
/// lazy run caught up only at the end), to 1e-12.
#[test]
fn sparse_optimizers_match_pytorch() {
    const TOLERANCE: f64 = 1e-12;
    let reference: Value =
        serde_json::from_str(include_str!("reference/sparse_optim.json")).expect("sparse_optim.json parses");
    let features = reference["features"].as_u64().unwrap() as usize;
    let width = reference["width"].as_u64().unwrap() as usize;
    let init = numbers(&reference["init"]);
    let steps = reference["steps"].as_array().expect("steps");
    assert!(steps.len() >= 4);

    let mut adam = SparseAdam::new(width, features)
        .with_lr(hyper(&reference, "sparse_adam", "lr"))
        .with_eps(hyper(&reference, "sparse_adam", "eps"));
    let betas = numbers(&reference["hyper"]["sparse_adam"]["betas"]);
    adam = adam.with_betas(betas[0], betas[1]);
    let mut adagrad = SparseAdagrad::new(width, features)
        .with_lr(hyper(&reference, "adagrad", "lr"))
        .with_lr_decay(hyper(&reference, "adagrad", "lr_decay"))
        .with_initial_accumulator_value(hyper(&reference, "adagrad", "initial_accumulator_value"))
        .with_eps(hyper(&reference, "adagrad", "eps"));
    let momentum_sgd = |name: &str| {
        let nesterov = reference["hyper"][name]["nesterov"].as_bool().unwrap();
        SparseMomentumSgd::new(
            width,
            features,
            hyper(&reference, name, "lr"),
            hyper(&reference, name, "momentum"),
        )
        .with_nesterov(nesterov)
    };
    let names = ["sgd_momentum", "sgd_nesterov"];
    let mut eager = names.map(momentum_sgd);
    let mut lazy = names.map(momentum_sgd);
    let (mut w_adam, mut w_adagrad) = (init.clone(), init.clone());
    let mut w_eager = [init.clone(), init.clone()];
    let mut w_lazy = [init.clone(), init.clone()];
    let mut grad = SparseGradient::new(width, features);
    let mut untouched = vec![true; features];
    for (t, step) in steps.iter().enumerate() {
        let offsets: Vec<usize> = integers(&step["offsets"]).into_iter().map(|o| o as usize).collect();
        let indices: Vec<u32> = integers(&step["indices"]).into_iter().map(|i| i as u32).collect();
        let values = numbers(&step["values"]);
        let batch = SparseBatch::new(features, &offsets, &indices, &values).expect("a valid batch");
        grad.compute(&batch, &numbers(&step["delta"]));
        for &k in grad.columns() {
            untouched[k as usize] = false;
        }
        let mut dense = vec![0.0; width * features];
        grad.add_to_dense(&mut dense);
        assert_close(
            &dense,
            &numbers(&step["grad"]),
            TOLERANCE,
            &format!("gradient at step {t}"),
        );

        adam.step(&mut w_adam, &grad);
        assert_close(
            &w_adam,
            &numbers(&step["sparse_adam"]),
            TOLERANCE,
            &format!("SparseAdam step {t}"),
        );
        adagrad.step(&mut w_adagrad, &grad);
        assert_close(
            &w_adagrad,
            &numbers(&step["adagrad"]),
            TOLERANCE,
            &format!("Adagrad step {t}"),
        );
        for (i, name) in names.iter().enumerate() {
            eager[i].step(&mut w_eager[i], &grad);
            eager[i].catch_up_all(&mut w_eager[i]);
            assert_close(
                &w_eager[i],
                &numbers(&step[name]),
                TOLERANCE,
                &format!("{name} step {t}"),
            );
            lazy[i].step(&mut w_lazy[i], &grad);
        }
    }
    let last = &steps[steps.len() - 1];
    for (i, name) in names.iter().enumerate() {
        lazy[i].catch_up_all(&mut w_lazy[i]);
        assert_close(
            &w_lazy[i],
            &numbers(&last[*name]),
            TOLERANCE,
            &format!("{name}, lazy, at the end"),
        );
    }
    assert!(
        untouched.iter().any(|&u| u),
        "the reference leaves some features untouched"
    );
    for k in (0..features).filter(|&k| untouched[k]) {
        let span = k * width..(k + 1) * width;
        assert_eq!(w_adam[span.clone()], init[span.clone()]);
        assert_eq!(w_adagrad[span.clone()], init[span]);
    }
}

fn step_allocations<T: Real>() -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (width, features, n) = (16, 1000, 8);
    let allowed: Vec<u32> = (0..features as u32).collect();
    let batches: Vec<SparseRows<T>> = (0..6)
        .map(|_| random_rows(&mut rng, n, features, &allowed, 10))
        .collect();
    let w0 = random_vec::<T>(&mut rng, width * features);
    let b = random_vec::<T>(&mut rng, width);
    let delta = random_vec::<T>(&mut rng, width * n);
    let mut out = vec![T::zero(); width * n];
    let mut db = vec![T::zero(); width];
    let mut w = [w0.clone(), w0.clone(), w0.clone(), w0];
    let mut sgd = SparseSgd::new(width, features, T::cast(0.1));
    let mut momentum = SparseMomentumSgd::new(width, features, T::cast(0.1), T::cast(0.9));
    let mut adagrad = SparseAdagrad::new(width, features);
    let mut adam = SparseAdam::new(width, features);
    // Warm: room for as many columns as a batch can touch, and the kernel path decided (its
    // first call reads `RETROPROP_KERNELS`, which allocates once per process; which test
    // thread gets there first is up to the scheduler).
    let mut grad = SparseGradient::with_capacity(width, features, n * 10);
    let _ = kernel_path();
    counting_allocator::allocations_of(|| {
        for rows in &batches {
            let batch = rows.view(0..n);
            sparse_dense_forward(&w[0], &b, &batch, &mut out, width);
            grad.compute(&batch, &delta);
            sparse_bias_gradient(&mut db, &delta, width, n);
            sgd.step(&mut w[0], &grad);
            momentum.step(&mut w[1], &grad);
            adagrad.step(&mut w[2], &grad);
            adam.step(&mut w[3], &grad);
        }
        momentum.catch_up_all(&mut w[1]);
    })
}

#[test]
fn a_step_allocates_nothing_once_warm() {
    assert_eq!(step_allocations::<f32>(), 0);
    assert_eq!(step_allocations::<f64>(), 0);
}

#[test]
fn the_gradient_buffers_warm_up_and_are_reused() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let (width, features, n) = (4, 500, 6);
    let allowed: Vec<u32> = (0..features as u32).collect();
    let batches: Vec<SparseRows<f64>> = (0..5)
        .map(|_| random_rows(&mut rng, n, features, &allowed, 8))
        .collect();
    let delta = random_vec::<f64>(&mut rng, width * n);
    let mut grad = SparseGradient::new(width, features);
    // Warm-up on every batch once, then no allocation on any of them.
    for rows in &batches {
        grad.compute(&rows.view(0..n), &delta);
    }
    let count = counting_allocator::allocations_of(|| {
        for rows in batches.iter().rev() {
            grad.compute(&rows.view(0..n), &delta);
        }
    });
    assert_eq!(count, 0);
}
