//! Image inputs (`input: [channels, height, width]`), `flatten` and dropout on images: shapes,
//! the summary, and passes that agree with the same network on a flat input.

use retroprop::prelude::*;
use retroprop::LayerSummary;

retroprop::network! {
    /// An image network without convolutions: dropout on the image, then flatten.
    #[network(scalar = f64)]
    struct Image {
        input: [2, 3, 3],
        drop: dropout(0.3),
        flat: flatten,
        hidden: dense(5) -> tanh,
        out: dense(3) -> softmax,
    }

    /// Pooling, then a dense layer.
    #[network(scalar = f64)]
    struct Pooled {
        input: [2, 5, 4],
        pool: max_pool(2),
        flat: flatten,
        out: dense(3) -> softmax,
    }

    /// The dense layer of `Pooled` alone, on the pooled values.
    #[network(scalar = f64)]
    struct AfterPool { input: 8, out: dense(3) -> softmax }

    /// Rectangular windows, strides that differ from the window, sizes that round down.
    struct Shapes {
        input: [3, 7, 5],
        a: avg_pool((2, 3), stride = (2, 1)),
        b: max_pool(2, stride = 1),
        flat: flatten,
        out: dense(2),
    }

    /// The same network on the flattened input.
    #[network(scalar = f64)]
    struct Flat {
        input: 18,
        drop: dropout(0.3),
        hidden: dense(5) -> tanh,
        out: dense(3) -> softmax,
    }
}

fn pair(seed: u64) -> (Image, Flat) {
    let image = Image::seeded(seed);
    let mut flat = Flat::zeroed();
    for i in 0..<Image as Parameters>::TENSORS.len() {
        flat.tensor_mut(i).copy_from_slice(image.tensor(i));
    }
    (image, flat)
}

fn batch(n: usize) -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..18 * n).map(|i| ((i * 37) % 23) as f64 / 23.0 - 0.5).collect();
    let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
    (x, one_hot::<f64>(&labels, 3).expect("labels"))
}

#[test]
fn an_image_input_is_passed_flat_in_channel_row_column_order() {
    assert_eq!(Image::INPUT, 18);
    assert_eq!(Image::OUTPUT, 3);
    assert_eq!(Image::PARAMETERS, 18 * 5 + 5 + 5 * 3 + 3);
    assert_eq!(
        Image::DEFINITION,
        "input: [2, 3, 3], drop: dropout(0.3), flat: flatten, hidden: dense(5) -> tanh, out: dense(3) -> softmax"
    );
    let shapes: Vec<&[usize]> = <Image as Parameters>::TENSORS.iter().map(|t| t.shape).collect();
    assert_eq!(shapes, [&[5, 18][..], &[5], &[3, 5], &[3]]);
}

#[test]
fn flatten_and_dropout_on_an_image_match_the_flat_network_bit_for_bit() {
    let (image, flat) = pair(4);
    let (x, y) = batch(6);
    // Inference, one sample and batches.
    let sample = retroprop::nalgebra::SVector::<f64, 18>::from_column_slice(&x[..18]);
    assert_eq!(image.forward(&sample), flat.forward(&sample));
    let mut ws_image = Image::workspace(6);
    let mut ws_flat = Flat::workspace(6);
    let a = image.forward_into(&x, &mut ws_image).expect("forward").act.to_vec();
    let b = flat.forward_into(&x, &mut ws_flat).expect("forward").act.to_vec();
    assert_eq!(a, b);
    // Training: the same dropout masks from the same seed, the same gradients.
    let mut g_image = Image::zeroed_gradients();
    let mut g_flat = Flat::zeroed_gradients();
    let la = image
        .gradients_into(
            &x,
            &y,
            &CrossEntropy,
            &mut Context::training(9),
            &mut ws_image,
            &mut g_image,
        )
        .expect("gradients");
    let lb = flat
        .gradients_into(
            &x,
            &y,
            &CrossEntropy,
            &mut Context::training(9),
            &mut ws_flat,
            &mut g_flat,
        )
        .expect("gradients");
    assert_eq!(la, lb);
    for i in 0..<Image as Parameters>::TENSORS.len() {
        assert_eq!(g_image.tensor(i), g_flat.tensor(i), "tensor {i}");
        assert!(g_image.tensor(i).iter().any(|&g| g != 0.0), "tensor {i} has a gradient");
    }
}

#[test]
fn fused_one_sample_steps_on_an_image_network_match_the_flat_network() {
    const { assert!(<Image as Network>::FUSED_SGD) };
    let (mut image, mut flat) = pair(2);
    let (x, y) = batch(8);
    let mut s_image = Session::<Image>::new(1, 3);
    let mut s_flat = Session::<Flat>::new(1, 3);
    let la = s_image
        .step_each(&mut image, &x, &y, &CrossEntropy, &mut Sgd::new(0.2))
        .expect("run");
    let lb = s_flat
        .step_each(&mut flat, &x, &y, &CrossEntropy, &mut Sgd::new(0.2))
        .expect("run");
    assert_eq!(la, lb);
    for i in 0..<Image as Parameters>::TENSORS.len() {
        assert_eq!(image.tensor(i), flat.tensor(i), "tensor {i}");
    }
}

#[test]
fn the_summary_lists_every_layer_with_its_output_shape_and_parameters() {
    assert_eq!(
        Image::SUMMARY,
        [
            LayerSummary {
                name: "drop",
                kind: "dropout(0.3)",
                output: &[2, 3, 3],
                parameters: 0
            },
            LayerSummary {
                name: "flat",
                kind: "flatten",
                output: &[18],
                parameters: 0
            },
            LayerSummary {
                name: "hidden",
                kind: "dense(5) -> tanh",
                output: &[5],
                parameters: 95
            },
            LayerSummary {
                name: "out",
                kind: "dense(3) -> softmax",
                output: &[3],
                parameters: 18
            },
        ]
    );
    let summary = Image::summary();
    assert_eq!(summary.input, [2, 3, 3]);
    assert_eq!(summary.parameters(), Image::PARAMETERS);
    let table = summary.to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "Image");
    assert!(
        lines[1].starts_with("Layer") && lines[1].ends_with("Parameters"),
        "{table}"
    );
    assert!(table.contains("input") && table.contains("[2, 3, 3]"), "{table}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("hidden") && l.contains("dense(5) -> tanh") && l.ends_with("95")),
        "{table}"
    );
    assert_eq!(lines.last(), Some(&"Total parameters: 113"));
}

#[test]
fn the_readme_shows_this_summary() {
    let readme = include_str!("../README.md");
    let table = Image::summary().to_string();
    assert!(
        readme.contains(&format!("```text\n{table}\n```")),
        "README's table differs from:\n{table}"
    );
}

#[test]
fn pooling_computes_what_the_kernels_compute_and_rounds_sizes_down() {
    assert_eq!(Shapes::SUMMARY[0].output, [3, 3, 3]); // (7 - 2) / 2 + 1, (5 - 3) / 1 + 1
    assert_eq!(Shapes::SUMMARY[1].output, [3, 2, 2]);
    assert_eq!(Shapes::SUMMARY[0].kind, "avg_pool((2, 3), stride = (2, 1))");
    assert_eq!(Shapes::SUMMARY[1].kind, "max_pool(2, stride = 1)");
    assert_eq!(Shapes::SUMMARY[2].output, [12]);
    assert_eq!(Pooled::SUMMARY[0].output, [2, 2, 2]); // 5 x 4 in 2 x 2 windows: 2 x 2

    let pooled = Pooled::seeded(3);
    let mut dense = AfterPool::zeroed();
    for i in 0..<AfterPool as Parameters>::TENSORS.len() {
        dense.tensor_mut(i).copy_from_slice(pooled.tensor(i));
    }
    let n = 4;
    let x: Vec<f64> = (0..40 * n).map(|i| ((i * 29) % 31) as f64 / 31.0 - 0.4).collect();
    let geometry = retroprop::nn::Pool2d::new(2, 5, 4, (2, 2), (2, 2));
    let (mut after, mut argmax) = (vec![0.0; 8 * n], vec![0u32; 8 * n]);
    retroprop::nn::pool::max_pool_forward(&geometry, &x, &mut after, &mut argmax, n);
    let mut ws = Pooled::workspace(n);
    let mut ws_dense = AfterPool::workspace(n);
    let a = pooled.forward_into(&x, &mut ws).expect("forward").act.to_vec();
    let b = dense.forward_into(&after, &mut ws_dense).expect("forward").act.to_vec();
    assert_eq!(a, b);
    // One sample through static vectors gives the same.
    let sample = retroprop::nalgebra::SVector::<f64, 40>::from_column_slice(&x[40..80]);
    assert_eq!(pooled.forward(&sample).as_slice(), &a[3..6]);
    // The gradients of the dense layer are those of the dense network on the pooled values.
    let y = one_hot::<f64>(&[0, 1, 2, 1], 3).expect("labels");
    let (mut g_pooled, mut g_dense) = (Pooled::zeroed_gradients(), AfterPool::zeroed_gradients());
    let la = pooled
        .gradients_into(&x, &y, &CrossEntropy, &mut Context::training(0), &mut ws, &mut g_pooled)
        .expect("gradients");
    let lb = dense
        .gradients_into(
            &after,
            &y,
            &CrossEntropy,
            &mut Context::training(0),
            &mut ws_dense,
            &mut g_dense,
        )
        .expect("gradients");
    assert_eq!(la, lb);
    assert_eq!(g_pooled.tensor(0), g_dense.tensor(0));
    // A run of fused one-sample steps trains it as a step per sample does.
    const { assert!(<Pooled as Network>::FUSED_SGD) };
    let (mut fused, mut stepped) = (Pooled::seeded(5), Pooled::seeded(5));
    let mut session = Session::<Pooled>::new(1, 0);
    session
        .step_each(&mut fused, &x, &y, &CrossEntropy, &mut Sgd::new(0.1))
        .expect("run");
    let mut ws1 = Pooled::workspace(1);
    let mut grads = Pooled::zeroed_gradients();
    for (xs, ys) in x.chunks(40).zip(y.chunks(3)) {
        stepped
            .gradients_into(xs, ys, &CrossEntropy, &mut Context::training(0), &mut ws1, &mut grads)
            .expect("gradients");
        for i in 0..<Pooled as Parameters>::TENSORS.len() {
            let g = grads.tensor(i).to_vec();
            for (w, g) in stepped.tensor_mut(i).iter_mut().zip(g) {
                *w -= 0.1 * g;
            }
        }
    }
    for i in 0..<Pooled as Parameters>::TENSORS.len() {
        assert_eq!(fused.tensor(i), stepped.tensor(i), "tensor {i}");
    }
}
