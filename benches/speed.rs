//! Training and inference speed on the four workloads of the speed issues, through the public
//! API (networks defined with `network!`, trained with `train_step` / `Session::step`), with
//! the machine's sgemm rate measured in the same run as a reference peak.
//!
//! ```sh
//! cargo bench --bench speed            # all workloads, median of 3 passes each
//! cargo bench --bench speed -- --passes 9   # median of 9 passes (steadier on a noisy machine)
//! valgrind --tool=callgrind target/release/deps/speed-* --calls 20000 --passes 1 W1   # profile
//! cargo bench --bench speed -- W3      # only workloads whose name contains "W3"
//! cargo bench --bench speed -- 'W3 784-128-10 train, batch 1$'   # one row (`$`: name ends so)
//! cargo bench --bench speed -- --rows  # also ROW<TAB>retroprop<TAB>row<TAB>samples/s lines
//! ```
//!
//! - W1 = 2-8-1, tanh hidden, sigmoid output, MSE, SGD lr 0.1, batch 1 (steps per second)
//! - W2 = 64-32-10, relu hidden, softmax output, cross-entropy, SGD lr 0.05
//! - W3 = 784-128-10, relu, softmax, cross-entropy, SGD
//! - W4 = LeNet-5 without dropout on 1x28x28 images (conv2d 6 k5 p2, max_pool 2, conv2d 16 k5,
//!   max_pool 2, flatten, 120-84-10), relu, softmax, cross-entropy, SGD lr 0.01; training at
//!   batch 1, 32 and 128 and inference at batch 1 and 128 (no `step_each` row: a CNN has no
//!   fused one-sample step, `W4::FUSED_SGD` is false)
//!
//! - W6 = `sparse(65536)` -> 64 -> 2 (no activation on the hidden layer, softmax output),
//!   24 present features per sample (indices uniform, values 1/24: an `EmbeddingBag` in
//!   `mode="mean"` followed by `Linear`), cross-entropy, SGD lr 0.05, through a
//!   `SparseSession`; training at batch 1 and 32, the same through `fit_sparse` (one epoch
//!   of the pool per call, shuffled, the finiteness guard on), and inference at batch 32
//!
//! - `fit` on W3, batches of 256 split across 1 or 2 threads (the `parallel` feature)
//!
//! FLOPs per training sample: 2 x multiply-adds forward, 2 x multiply-adds for the weight
//! gradients, and 2 x multiply-adds of the layers above the first for the input gradients
//! (W3: 409,088; W4: 2,263,920). A dense layer makes one multiply-add per weight, a convolution
//! one per weight and output position (W4's conv1: 150 weights x 28 x 28 positions).

use retroprop::prelude::*;
use std::hint::black_box;
use std::time::{Duration, Instant};

retroprop::network! {
    struct W1 { input: 2, hidden: dense(8) -> tanh, output: dense(1) -> sigmoid }
    struct W2 { input: 64, hidden: dense(32) -> relu, output: dense(10) -> softmax }
    struct W3 { input: 784, hidden: dense(128) -> relu, output: dense(10) -> softmax }
    struct W4 {
        input: [1, 28, 28],
        conv1: conv2d(6, kernel = 5, padding = 2) -> relu,
        pool1: max_pool(2),
        conv2: conv2d(16, kernel = 5) -> relu,
        pool2: max_pool(2),
        flat: flatten,
        fc1: dense(120) -> relu,
        fc2: dense(84) -> relu,
        output: dense(10) -> softmax,
    }
    struct W6 { input: sparse(65536), hidden: dense(64), output: dense(2) -> softmax }
}

/// Present features per W6 sample.
const W6_PRESENT: usize = 24;

/// FLOPs of a W6 training sample: 2 x (the forward multiply-adds, 24 x 64 + 64 x 2, the
/// weight gradients, as many, and the hidden layer's input gradient, 64 x 2).
const W6_TRAIN_FLOPS: f64 = 2.0 * (2.0 * (24.0 * 64.0 + 128.0) + 128.0);

/// A pool of `samples` W6 samples: 24 distinct uniform features with value 1/24 each, and
/// one-hot targets.
fn w6_data(samples: usize, seed: u64) -> retroprop::data::sparse::SparseDataset<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let rows = (0..samples).map(|_| {
        let mut indices: Vec<u32> = Vec::with_capacity(W6_PRESENT);
        while indices.len() < W6_PRESENT {
            let k = rng.random_range(0..65536u32);
            if !indices.contains(&k) {
                indices.push(k);
            }
        }
        indices
            .into_iter()
            .map(|k| (k, 1.0 / W6_PRESENT as f32))
            .collect::<Vec<_>>()
    });
    let rows = retroprop::data::sparse::SparseRows::from_pairs(65536, rows).expect("rows");
    let labels: Vec<usize> = (0..samples).map(|_| rng.random_range(0..2)).collect();
    retroprop::data::sparse::SparseDataset::from_labels(rows, &labels, 2).expect("dataset")
}

/// W6 training through `SparseSession::step`, batches taken in order from the pool.
fn w6_train(name: &str, batch: usize, pass: Duration) -> Row {
    let data = w6_data(4096, 6);
    let mut net = W6::seeded(6);
    let mut sgd = Sgd::new(0.05);
    let mut session = retroprop::train::SparseSession::<W6>::new(batch, 6);
    let batches = 4096 / batch;
    let samples_per_second = median(|| {
        rate(batch, pass, |i| {
            let b = i % batches;
            let x = data.rows().view(b * batch..(b + 1) * batch);
            let y = &data.targets()[b * batch * 2..(b + 1) * batch * 2];
            black_box(session.step(&mut net, &x, y, &CrossEntropy, &mut sgd).expect("step"));
        })
    });
    Row {
        name: format!("{name} train, batch {batch}"),
        samples_per_second,
        gflops: samples_per_second * W6_TRAIN_FLOPS / 1e9,
    }
}

/// W6 training through `fit_sparse`: one epoch of the 4096-sample pool per call.
fn w6_fit(name: &str, batch: usize, pass: Duration) -> Row {
    let data = w6_data(4096, 7);
    let mut net = W6::seeded(7);
    let mut sgd = Sgd::new(0.05);
    let mut trainer = Trainer::new().epochs(1).batch_size(batch).progress(Progress::Quiet);
    let samples_per_second = median(|| {
        rate(data.len(), pass, |_| {
            black_box(
                trainer
                    .fit_sparse(&mut net, &data, &CrossEntropy, &mut sgd)
                    .expect("fit"),
            );
        })
    });
    Row {
        name: format!("{name} fit_sparse, batch {batch}"),
        samples_per_second,
        gflops: samples_per_second * W6_TRAIN_FLOPS / 1e9,
    }
}

/// W6 inference through `forward_sparse_into`.
fn w6_infer(name: &str, batch: usize, pass: Duration) -> Row {
    use retroprop::SparseNetwork;
    let data = w6_data(4096, 8);
    let net = W6::seeded(8);
    let mut ws = W6::workspace(batch);
    let batches = 4096 / batch;
    let samples_per_second = median(|| {
        rate(batch, pass, |i| {
            let b = i % batches;
            let out = net
                .forward_sparse_into(&data.rows().view(b * batch..(b + 1) * batch), &mut ws)
                .expect("fits");
            black_box(out.act[0]);
        })
    });
    Row {
        name: format!("{name} inference, batch {batch}"),
        samples_per_second,
        gflops: samples_per_second * (W6_TRAIN_FLOPS / 3.0) / 1e9,
    }
}

/// A network's layer table (`SUMMARY`, an inherent constant of each generated network), for
/// the output positions of its convolutions.
trait Layers {
    const LAYERS: &'static [retroprop::LayerSummary];
}

macro_rules! layers {
    ($($net:ident),*) => {
        $(impl Layers for $net {
            const LAYERS: &'static [retroprop::LayerSummary] = $net::SUMMARY;
        })*
    };
}
layers!(W1, W2, W3, W4);

/// Multiply-adds per sample of each weighted layer, in order: its weights times the positions
/// of its output (one for a dense layer, height x width for a convolution).
fn multiply_adds<N: Network + Layers>() -> Vec<usize> {
    N::TENSORS
        .iter()
        .filter(|t| t.kind == retroprop::TensorKind::Weight)
        .map(|t| {
            let layer = N::LAYERS
                .iter()
                .find(|l| l.name == t.layer)
                .expect("the weight's layer");
            let positions = layer.output.iter().product::<usize>() / t.rows;
            t.len() * positions
        })
        .collect()
}

/// Training FLOPs per sample, as defined above.
fn training_flops<N: Network + Layers>() -> f64 {
    let macs = multiply_adds::<N>();
    let all: usize = macs.iter().sum();
    let above_first: usize = macs.iter().skip(1).sum();
    (4 * all + 2 * above_first) as f64
}

/// Inference FLOPs per sample: 2 x multiply-adds.
fn inference_flops<N: Network + Layers>() -> f64 {
    2.0 * multiply_adds::<N>().iter().sum::<usize>() as f64
}

/// Synthetic inputs in [0, 1) and one-hot (or regression) targets from a fixed seed.
fn data<N: Network<Scalar = f32>>(samples: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f32> = (0..samples * N::INPUT).map(|_| rng.random::<f32>()).collect();
    let y = if N::OUTPUT == 1 {
        (0..samples).map(|_| rng.random::<f32>()).collect()
    } else {
        let labels: Vec<usize> = (0..samples).map(|_| rng.random_range(0..N::OUTPUT)).collect();
        one_hot::<f32>(&labels, N::OUTPUT).expect("labels")
    };
    (x, y)
}

/// Runs `step` (which processes `per_call` samples) for about `duration`; returns samples/s.
fn rate(per_call: usize, duration: Duration, mut step: impl FnMut(usize)) -> f64 {
    for i in 0..16 {
        step(i);
    }
    let fixed = CALLS.load(std::sync::atomic::Ordering::Relaxed);
    if fixed > 0 {
        // A fixed amount of work, for instruction counts (`--calls N` under callgrind).
        let start = Instant::now();
        for i in 0..fixed {
            step(i);
        }
        return (fixed * per_call) as f64 / start.elapsed().as_secs_f64();
    }
    let start = Instant::now();
    let mut calls = 0usize;
    while start.elapsed() < duration {
        for _ in 0..64 {
            step(calls);
            calls += 1;
        }
    }
    (calls * per_call) as f64 / start.elapsed().as_secs_f64()
}

/// With `--calls N`: every pass makes exactly N calls instead of running for a time, and
/// the sgemm reference is skipped, so that `valgrind --tool=callgrind` counts the same work
/// on every run.
static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Passes per measurement (`--passes N`, default 3); each row reports their median.
static PASSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(3);

/// Median of the passes.
fn median(mut f: impl FnMut() -> f64) -> f64 {
    let passes = PASSES.load(std::sync::atomic::Ordering::Relaxed).max(1);
    let mut v: Vec<f64> = (0..passes).map(|_| f()).collect();
    v.sort_by(f64::total_cmp);
    v[passes / 2]
}

struct Row {
    name: String,
    samples_per_second: f64,
    gflops: f64,
}

fn train<N: Network<Scalar = f32> + Layers, L: Loss<f32>>(
    name: &str,
    batch: usize,
    lr: f32,
    loss: &L,
    pass: Duration,
) -> Row {
    let pool = 4096.max(batch);
    let (x, y) = data::<N>(pool, 1);
    let mut net = N::seeded(1);
    let mut sgd = Sgd::new(lr);
    let mut session = Session::<N>::new(batch, 1);
    let batches = pool / batch;
    let samples_per_second = median(|| {
        rate(batch, pass, |i| {
            let b = i % batches;
            let xs = &x[b * batch * N::INPUT..(b + 1) * batch * N::INPUT];
            let ys = &y[b * batch * N::OUTPUT..(b + 1) * batch * N::OUTPUT];
            black_box(session.step(&mut net, xs, ys, loss, &mut sgd).expect("step"));
        })
    });
    Row {
        name: format!("{name} train, batch {batch}"),
        samples_per_second,
        gflops: samples_per_second * training_flops::<N>() / 1e9,
    }
}

/// Samples per `Session::step_each` call in the `runs` rows.
const RUN: usize = 64;

/// Batch 1 through `Session::step_each`: runs of [`RUN`] one-sample steps per call.
fn train_runs<N: Network<Scalar = f32> + Layers, L: Loss<f32>>(name: &str, lr: f32, loss: &L, pass: Duration) -> Row {
    let pool = 4096;
    let (x, y) = data::<N>(pool, 1);
    let mut net = N::seeded(1);
    let mut sgd = Sgd::new(lr);
    let mut session = Session::<N>::new(1, 1);
    let runs = pool / RUN;
    let samples_per_second = median(|| {
        rate(RUN, pass, |i| {
            let r = i % runs;
            let xs = &x[r * RUN * N::INPUT..(r + 1) * RUN * N::INPUT];
            let ys = &y[r * RUN * N::OUTPUT..(r + 1) * RUN * N::OUTPUT];
            black_box(session.step_each(&mut net, xs, ys, loss, &mut sgd).expect("run"));
        })
    });
    Row {
        name: format!("{name} train, batch 1, step_each"),
        samples_per_second,
        gflops: samples_per_second * training_flops::<N>() / 1e9,
    }
}

fn infer<N: Network<Scalar = f32> + Layers>(name: &str, batch: usize, pass: Duration) -> Row {
    let pool = 4096.max(batch);
    let (x, _) = data::<N>(pool, 2);
    let net = N::seeded(2);
    let mut ws = N::workspace(batch);
    let batches = pool / batch;
    let samples_per_second = median(|| {
        rate(batch, pass, |i| {
            let b = i % batches;
            let out = net
                .forward_into(&x[b * batch * N::INPUT..(b + 1) * batch * N::INPUT], &mut ws)
                .expect("fits");
            black_box(out.act[0]);
        })
    });
    Row {
        name: format!("{name} inference, batch {batch}"),
        samples_per_second,
        gflops: samples_per_second * inference_flops::<N>() / 1e9,
    }
}

/// `fit` (one epoch per call, SGD, shuffled) with each batch split across `threads`.
fn fit_rows<N: Network<Scalar = f32> + Layers>(name: &str, batch: usize, threads: usize, pass: Duration) -> Row {
    let samples = 32 * batch;
    let (x, y) = data::<N>(samples, 3);
    let train = Dataset::new(x, N::INPUT, y, N::OUTPUT).expect("dataset");
    let mut net = N::seeded(3);
    let mut sgd = Sgd::new(0.01);
    let mut trainer = Trainer::new()
        .epochs(1)
        .batch_size(batch)
        .threads(threads)
        .progress(Progress::Quiet);
    let samples_per_second = median(|| {
        rate(samples, pass, |_| {
            black_box(trainer.fit(&mut net, &train, &CrossEntropy, &mut sgd).expect("fit"));
        })
    });
    Row {
        name: format!(
            "{name} fit, batch {batch}, {threads} thread{}",
            if threads == 1 { "" } else { "s" }
        ),
        samples_per_second,
        gflops: samples_per_second * training_flops::<N>() / 1e9,
    }
}

/// matrixmultiply's sgemm on 1024 x 1024 x 1024, single thread: the reference peak.
fn sgemm_gflops() -> f64 {
    let n = 1024;
    let a = vec![1.0f32 / 3.0; n * n];
    let b = vec![0.5f32; n * n];
    let mut c = vec![0.0f32; n * n];
    let run = |c: &mut [f32]| {
        // SAFETY: a, b and c are n x n row-major buffers (row stride n, column stride 1) that
        // outlive the call, and c does not alias a or b.
        unsafe {
            matrixmultiply::sgemm(
                n,
                n,
                n,
                1.0,
                a.as_ptr(),
                n as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            );
        }
    };
    run(&mut c);
    median(|| {
        let start = Instant::now();
        let mut calls = 0;
        while start.elapsed() < Duration::from_millis(500) {
            run(&mut c);
            calls += 1;
        }
        black_box(c[0]);
        2.0 * (n * n * n) as f64 * calls as f64 / start.elapsed().as_secs_f64() / 1e9
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut filter = None;
    // `--rows`: after the table, one machine-readable line per row, for `compare/run.sh`.
    let mut machine_rows = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--calls" => {
                let calls = iter
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--calls takes a number");
                CALLS.store(calls, std::sync::atomic::Ordering::Relaxed);
            }
            "--passes" => {
                let passes = iter
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--passes takes a number");
                PASSES.store(passes, std::sync::atomic::Ordering::Relaxed);
            }
            "--rows" => machine_rows = true,
            // `cargo bench` passes `--bench` to harness-less benches.
            a if a.starts_with('-') => {}
            a => filter = Some(a.to_owned()),
        }
    }
    let pass = Duration::from_millis(400);
    let peak = if CALLS.load(std::sync::atomic::Ordering::Relaxed) > 0 {
        f64::NAN
    } else {
        sgemm_gflops()
    };
    println!(
        "sgemm 1024^3 (matrixmultiply, 1 thread): {peak:.1} GFLOP/s; kernels: {}; median of {} passes\n",
        retroprop::nn::kernels::kernel_path().name(),
        PASSES.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "{:<40} {:>14} {:>10} {:>10}",
        "workload", "samples/s", "GFLOP/s", "of sgemm"
    );
    let mut rows = Vec::new();
    // A filter matches anywhere in a row's name; one ending in `$` matches the name's end.
    let wanted = |name: String| {
        filter.as_ref().is_none_or(|f| match f.strip_suffix('$') {
            Some(end) => name.ends_with(end),
            None => name.contains(f.as_str()),
        })
    };
    let (w1, w2, w3) = ("W1 2-8-1", "W2 64-32-10", "W3 784-128-10");
    if wanted(format!("{w1} train, batch 1")) {
        rows.push(train::<W1, _>(w1, 1, 0.1, &MeanSquaredError, pass));
    }
    if wanted(format!("{w1} train, batch 1, step_each")) {
        rows.push(train_runs::<W1, _>(w1, 0.1, &MeanSquaredError, pass));
    }
    for batch in [1, 32] {
        if wanted(format!("{w2} train, batch {batch}")) {
            rows.push(train::<W2, _>(w2, batch, 0.05, &CrossEntropy, pass));
        }
        if batch == 1 && wanted(format!("{w2} train, batch 1, step_each")) {
            rows.push(train_runs::<W2, _>(w2, 0.05, &CrossEntropy, pass));
        }
    }
    for batch in [1, 32, 128] {
        if wanted(format!("{w3} train, batch {batch}")) {
            rows.push(train::<W3, _>(w3, batch, 0.01, &CrossEntropy, pass));
        }
        if batch == 1 && wanted(format!("{w3} train, batch 1, step_each")) {
            rows.push(train_runs::<W3, _>(w3, 0.01, &CrossEntropy, pass));
        }
    }
    for batch in [1, 128] {
        if wanted(format!("{w3} inference, batch {batch}")) {
            rows.push(infer::<W3>(w3, batch, pass));
        }
    }
    let w4 = "W4 LeNet-5";
    for batch in [1, 32, 128] {
        if wanted(format!("{w4} train, batch {batch}")) {
            rows.push(train::<W4, _>(w4, batch, 0.01, &CrossEntropy, pass));
        }
    }
    for batch in [1, 128] {
        if wanted(format!("{w4} inference, batch {batch}")) {
            rows.push(infer::<W4>(w4, batch, pass));
        }
    }
    let w6 = "W6 sparse 65536-64-2";
    for batch in [1, 32] {
        if wanted(format!("{w6} train, batch {batch}")) {
            rows.push(w6_train(w6, batch, pass));
        }
    }
    for batch in [1, 32] {
        if wanted(format!("{w6} fit_sparse, batch {batch}")) {
            rows.push(w6_fit(w6, batch, pass));
        }
    }
    if wanted(format!("{w6} inference, batch 32")) {
        rows.push(w6_infer(w6, 32, pass));
    }
    for threads in [1, 2] {
        let suffix = if threads == 1 { "" } else { "s" };
        if wanted(format!("{w3} fit, batch 256, {threads} thread{suffix}")) {
            rows.push(fit_rows::<W3>(w3, 256, threads, pass));
        }
    }
    let fit_rate = |threads: &str| {
        rows.iter()
            .find(|row| row.name.ends_with(&format!("batch 256, {threads}")))
            .map(|row| row.samples_per_second)
    };
    let split = fit_rate("1 thread").zip(fit_rate("2 threads"));
    for row in rows.iter() {
        println!(
            "{:<40} {:>14.0} {:>10.2} {:>9.1}%",
            row.name,
            row.samples_per_second,
            row.gflops,
            100.0 * row.gflops / peak
        );
    }
    if let Some((one, two)) = split {
        println!("\nfit, batch 256: 2 threads / 1 thread = {:.2}x", two / one);
    }
    if machine_rows {
        println!();
        for row in rows.iter() {
            println!("ROW\tretroprop\t{}\t{}", row.name, row.samples_per_second);
        }
    }
}
