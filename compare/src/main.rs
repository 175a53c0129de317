//! Training and inference speed of retroprop against candle and dfdx, on the workloads of the
//! speed benchmark (`benches/speed.rs`), single thread, f32, in one run and one table.
//!
//! ```sh
//! cd compare && cargo run --release           # all workloads
//! cd compare && cargo run --release -- W3     # only workloads whose name contains "W3"
//! cd compare && cargo run --release -- 'b1 (steps/s)$'   # `$`: only names ending so
//! cd compare && cargo run --release -- --rows  # also `ROW<TAB>framework<TAB>row<TAB>rate` lines
//! ```
//!
//! - W1 = 2-8-1, tanh hidden, sigmoid output, MSE, SGD lr 0.1, batch 1 (steps per second)
//! - W2 = 64-32-10, relu hidden, softmax output, cross-entropy, SGD lr 0.05, batch 1 and 32
//! - W3 = 784-128-10, relu, softmax, cross-entropy, SGD lr 0.01, batch 1, 32 and 128, and
//!   inference (forward only, softmax included) at batch 1 and 128
//! - W4 = LeNet-5 without dropout on 1x28x28 images: conv2d 6 (kernel 5, padding 2) -> relu,
//!   max_pool 2, conv2d 16 (kernel 5) -> relu, max_pool 2, flatten, dense 120 -> relu,
//!   dense 84 -> relu, dense 10 -> softmax; cross-entropy, SGD lr 0.01, batch 1, 32 and 128,
//!   and inference at batch 1 and 128. retroprop and candle only: dfdx 0.13 has its `Conv2D`
//!   and `MaxPool2D` modules (and the `conv2d` / `pool2d` tensor ops under them) only with its
//!   `nightly` feature (`generic_const_exprs`), which stable Rust cannot build.
//!
//! Every framework gets the same data, made before timing as in the benchmark: inputs uniform in
//! [0, 1) and one-hot labels (uniform targets for W1) from a ChaCha8 generator, a pool of 4096
//! samples cut into consecutive batches. A training step is forward, loss, backward and a plain
//! SGD update (no momentum, no weight decay):
//!
//! - retroprop: `Session::step` with `Sgd`, exactly as `benches/speed.rs` does; inference is
//!   `forward_into` with a workspace. The `step_each` rows train batch 1 through
//!   `Session::step_each` (runs of 64 samples per call, the same updates as a step per
//!   sample); the peers' columns there are their batch-1 steps, measured again.
//! - candle: a `Linear` stack built from a `VarMap`, `candle_nn::loss::cross_entropy` (log-softmax
//!   and NLL over class indices) or `candle_nn::loss::mse`, and `SGD::backward_step`; for W4,
//!   `candle_nn::conv2d` (with `Conv2dConfig { padding: 2, .. }` for the first),
//!   `Tensor::max_pool2d`, `flatten_from(1)` and `Linear` layers, on (batch, 1, 28, 28) inputs.
//! - dfdx: a `(Linear, activation, Linear, ...)` tuple module with compile-time shapes,
//!   `cross_entropy_with_logits_loss` (on the one-hot targets) or `mse_loss`, `backward`, then
//!   `Sgd::update` and `zero_grads`, as in dfdx's MNIST example.
//!
//! The peers' batches are tensors on their CPU device, one per batch, built before timing (as a
//! user's data loader would hand them over); a step clones one (a reference count) and feeds it.
//!
//! Threads: all three compute on one thread at a time. retroprop never spawns threads. candle's
//! matmul asks `candle_core::utils::get_num_threads()`, which reads `RAYON_NUM_THREADS`, and runs
//! gemm with `Parallelism::None` when that is 1; its other parallel kernels use rayon pools sized
//! from the same variable (or `CANDLE_NUM_THREADS`). dfdx's CPU matmul runs gemm with
//! `Parallelism::Rayon(rayon::current_num_threads())`, which is 1 in a one-thread global pool
//! (gemm then runs inline, and rayon's single worker only takes what the peers hand to rayon
//! itself); its `cpu` feature, the only CPU back end, needs rayon, so it cannot be
//! turned off. `main` therefore sets `RAYON_NUM_THREADS=1` and `CANDLE_NUM_THREADS=1` before
//! anything else, builds rayon's global pool with one thread, and checks both counts.
//!
//! dfdx's `flush_denormals_to_zero` (its MNIST example calls it) is not called: it would change
//! the floating-point mode of the one thread for all three frameworks.
//!
//! Rates are samples per second (steps per second at batch 1), the median of three passes of
//! about 0.4 s each, after a short warm-up.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Versions of the peers, as pinned in `Cargo.toml` (and `Cargo.lock`).
const CANDLE_VERSION: &str = "0.11.1";
const DFDX_VERSION: &str = "0.13.0";

/// Samples in each workload's data pool (or the batch, if larger), as in the benchmark.
const POOL: usize = 4096;

/// The benchmark's synthetic data: inputs in [0, 1), and one-hot labels for `outputs > 1` or
/// uniform regression targets for `outputs == 1`, both sample-major (one sample's values
/// contiguous), as `benches/speed.rs` makes them.
fn data(inputs: usize, outputs: usize, samples: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f32> = (0..samples * inputs).map(|_| rng.random::<f32>()).collect();
    let y = if outputs == 1 {
        (0..samples).map(|_| rng.random::<f32>()).collect()
    } else {
        let labels: Vec<usize> = (0..samples).map(|_| rng.random_range(0..outputs)).collect();
        retroprop::prelude::one_hot::<f32>(&labels, outputs).expect("labels")
    };
    (x, y)
}

/// Class indices of one-hot rows of width `classes` (candle's cross-entropy takes indices).
fn class_indices(one_hot: &[f32], classes: usize) -> Vec<u32> {
    one_hot
        .chunks_exact(classes)
        .map(|row| row.iter().position(|&v| v == 1.0).expect("one-hot row") as u32)
        .collect()
}

/// Runs `step` (which processes `per_call` samples) for about `duration`; returns samples/s.
fn rate(per_call: usize, duration: Duration, mut step: impl FnMut(usize)) -> f64 {
    for i in 0..16 {
        step(i);
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

/// Median of three passes.
fn median3(mut f: impl FnMut() -> f64) -> f64 {
    let mut v = [f(), f(), f()];
    v.sort_by(f64::total_cmp);
    v[1]
}

/// The retroprop side: the benchmark's code, through the public API.
mod rp {
    use super::{black_box, data, median3, rate, Duration, POOL};
    use retroprop::prelude::*;

    retroprop::network! {
        pub struct W1 { input: 2, hidden: dense(8) -> tanh, output: dense(1) -> sigmoid }
        pub struct W2 { input: 64, hidden: dense(32) -> relu, output: dense(10) -> softmax }
        pub struct W3 { input: 784, hidden: dense(128) -> relu, output: dense(10) -> softmax }
        pub struct W4 {
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
    }

    pub fn train<N: Network<Scalar = f32>, L: Loss<f32>>(batch: usize, lr: f32, loss: &L, pass: Duration) -> f64 {
        let pool = POOL.max(batch);
        let (x, y) = data(N::INPUT, N::OUTPUT, pool, 1);
        let mut net = N::seeded(1);
        let mut sgd = Sgd::new(lr);
        let mut session = Session::<N>::new(batch, 1);
        let batches = pool / batch;
        median3(|| {
            rate(batch, pass, |i| {
                let b = i % batches;
                let xs = &x[b * batch * N::INPUT..(b + 1) * batch * N::INPUT];
                let ys = &y[b * batch * N::OUTPUT..(b + 1) * batch * N::OUTPUT];
                black_box(session.step(&mut net, xs, ys, loss, &mut sgd).expect("step"));
            })
        })
    }

    /// Batch 1 through `Session::step_each`, runs of 64 samples per call, as the benchmark's
    /// `step_each` rows do: the same updates as a `step` per sample.
    pub fn train_runs<N: Network<Scalar = f32>, L: Loss<f32>>(lr: f32, loss: &L, pass: Duration) -> f64 {
        const RUN: usize = 64;
        let (x, y) = data(N::INPUT, N::OUTPUT, POOL, 1);
        let mut net = N::seeded(1);
        let mut sgd = Sgd::new(lr);
        let mut session = Session::<N>::new(1, 1);
        let runs = POOL / RUN;
        median3(|| {
            rate(RUN, pass, |i| {
                let r = i % runs;
                let xs = &x[r * RUN * N::INPUT..(r + 1) * RUN * N::INPUT];
                let ys = &y[r * RUN * N::OUTPUT..(r + 1) * RUN * N::OUTPUT];
                black_box(session.step_each(&mut net, xs, ys, loss, &mut sgd).expect("run"));
            })
        })
    }

    pub fn infer<N: Network<Scalar = f32>>(batch: usize, pass: Duration) -> f64 {
        let pool = POOL.max(batch);
        let (x, _) = data(N::INPUT, N::OUTPUT, pool, 2);
        let net = N::seeded(2);
        let mut ws = N::workspace(batch);
        let batches = pool / batch;
        median3(|| {
            rate(batch, pass, |i| {
                let b = i % batches;
                let out = net
                    .forward_into(&x[b * batch * N::INPUT..(b + 1) * batch * N::INPUT], &mut ws)
                    .expect("fits");
                black_box(out.act[0]);
            })
        })
    }
}

/// The candle side: a two-layer `Linear` stack, shapes known at run time.
mod cd {
    use super::{black_box, class_indices, data, median3, rate, Duration, POOL};
    use candle_core::{DType, Device, Module, Result, Tensor};
    use candle_nn::{Conv2d, Conv2dConfig, Linear, Optimizer, VarBuilder, VarMap, SGD};

    /// W1's tanh / sigmoid network (MSE), or the relu / softmax classifiers (cross-entropy).
    #[derive(Clone, Copy, PartialEq)]
    pub enum Kind {
        Regression,
        Classifier,
    }

    struct Mlp {
        hidden: Linear,
        output: Linear,
        kind: Kind,
    }

    impl Mlp {
        fn new(sizes: [usize; 3], kind: Kind, vb: VarBuilder) -> Result<Self> {
            Ok(Self {
                hidden: candle_nn::linear(sizes[0], sizes[1], vb.pp("hidden"))?,
                output: candle_nn::linear(sizes[1], sizes[2], vb.pp("output"))?,
                kind,
            })
        }

        /// The output before the final activation (logits for the classifiers).
        fn pre_activation(&self, x: &Tensor) -> Result<Tensor> {
            let h = self.hidden.forward(x)?;
            let h = match self.kind {
                Kind::Regression => h.tanh()?,
                Kind::Classifier => h.relu()?,
            };
            self.output.forward(&h)
        }
    }

    impl Module for Mlp {
        fn forward(&self, x: &Tensor) -> Result<Tensor> {
            let z = self.pre_activation(x)?;
            match self.kind {
                Kind::Regression => candle_nn::ops::sigmoid(&z),
                Kind::Classifier => candle_nn::ops::softmax_last_dim(&z),
            }
        }
    }

    /// W4: LeNet-5 without dropout, the layers of PyTorch's and retroprop's definitions.
    struct LeNet {
        conv1: Conv2d,
        conv2: Conv2d,
        fc1: Linear,
        fc2: Linear,
        output: Linear,
    }

    impl LeNet {
        fn new(vb: VarBuilder) -> Result<Self> {
            let padded = Conv2dConfig {
                padding: 2,
                ..Default::default()
            };
            Ok(Self {
                conv1: candle_nn::conv2d(1, 6, 5, padded, vb.pp("conv1"))?,
                conv2: candle_nn::conv2d(6, 16, 5, Conv2dConfig::default(), vb.pp("conv2"))?,
                fc1: candle_nn::linear(400, 120, vb.pp("fc1"))?,
                fc2: candle_nn::linear(120, 84, vb.pp("fc2"))?,
                output: candle_nn::linear(84, 10, vb.pp("output"))?,
            })
        }

        /// The logits of a (batch, 1, 28, 28) input.
        fn logits(&self, x: &Tensor) -> Result<Tensor> {
            let h = self.conv1.forward(x)?.relu()?.max_pool2d(2)?;
            let h = self.conv2.forward(&h)?.relu()?.max_pool2d(2)?.flatten_from(1)?;
            let h = self.fc1.forward(&h)?.relu()?;
            let h = self.fc2.forward(&h)?.relu()?;
            self.output.forward(&h)
        }
    }

    /// LeNet's input: one (batch, 1, 28, 28) tensor per batch, on `device`.
    fn images(x: &[f32], batch: usize, device: &Device) -> Result<Vec<Tensor>> {
        x.chunks_exact(batch * 784)
            .map(|chunk| Tensor::from_slice(chunk, (batch, 1, 28, 28), device))
            .collect()
    }

    /// W4 training: cross-entropy on the logits, SGD.
    pub fn train_lenet(batch: usize, lr: f64, pass: Duration) -> Result<f64> {
        let device = Device::Cpu;
        let pool = POOL.max(batch);
        let (x, y) = data(784, 10, pool, 1);
        let xs = images(&x, batch, &device)?;
        let ys = class_indices(&y, 10)
            .chunks_exact(batch)
            .map(|chunk| Tensor::from_slice(chunk, batch, &device))
            .collect::<Result<Vec<_>>>()?;
        let varmap = VarMap::new();
        let model = LeNet::new(VarBuilder::from_varmap(&varmap, DType::F32, &device))?;
        let mut sgd = SGD::new(varmap.all_vars(), lr)?;
        let mut step = |b: usize| -> Result<()> {
            let loss = candle_nn::loss::cross_entropy(&model.logits(&xs[b])?, &ys[b])?;
            sgd.backward_step(&loss)?;
            black_box(loss);
            Ok(())
        };
        Ok(median3(|| {
            rate(batch, pass, |i| step(i % xs.len()).expect("candle step"))
        }))
    }

    /// W4 inference, softmax included.
    pub fn infer_lenet(batch: usize, pass: Duration) -> Result<f64> {
        let device = Device::Cpu;
        let pool = POOL.max(batch);
        let (x, _) = data(784, 10, pool, 2);
        let xs = images(&x, batch, &device)?;
        let varmap = VarMap::new();
        let model = LeNet::new(VarBuilder::from_varmap(&varmap, DType::F32, &device))?;
        Ok(median3(|| {
            rate(batch, pass, |i| {
                let logits = model.logits(&xs[i % xs.len()]).expect("candle forward");
                black_box(candle_nn::ops::softmax_last_dim(&logits).expect("candle softmax"));
            })
        }))
    }

    /// One input tensor per batch of `batch` samples, on `device`.
    fn batches(x: &[f32], width: usize, batch: usize, device: &Device) -> Result<Vec<Tensor>> {
        x.chunks_exact(batch * width)
            .map(|chunk| Tensor::from_slice(chunk, (batch, width), device))
            .collect()
    }

    pub fn train(sizes: [usize; 3], kind: Kind, batch: usize, lr: f64, pass: Duration) -> Result<f64> {
        let device = Device::Cpu;
        let pool = POOL.max(batch);
        let (x, y) = data(sizes[0], sizes[2], pool, 1);
        let xs = batches(&x, sizes[0], batch, &device)?;
        let ys = match kind {
            Kind::Regression => batches(&y, 1, batch, &device)?,
            Kind::Classifier => {
                let labels = class_indices(&y, sizes[2]);
                labels
                    .chunks_exact(batch)
                    .map(|chunk| Tensor::from_slice(chunk, batch, &device))
                    .collect::<Result<_>>()?
            }
        };
        let varmap = VarMap::new();
        let model = Mlp::new(sizes, kind, VarBuilder::from_varmap(&varmap, DType::F32, &device))?;
        let mut sgd = SGD::new(varmap.all_vars(), lr)?;
        let mut step = |b: usize| -> Result<()> {
            let loss = match kind {
                Kind::Regression => candle_nn::loss::mse(&model.forward(&xs[b])?, &ys[b])?,
                Kind::Classifier => candle_nn::loss::cross_entropy(&model.pre_activation(&xs[b])?, &ys[b])?,
            };
            sgd.backward_step(&loss)?;
            black_box(loss);
            Ok(())
        };
        Ok(median3(|| {
            rate(batch, pass, |i| step(i % xs.len()).expect("candle step"))
        }))
    }

    pub fn infer(sizes: [usize; 3], batch: usize, pass: Duration) -> Result<f64> {
        let device = Device::Cpu;
        let pool = POOL.max(batch);
        let (x, _) = data(sizes[0], sizes[2], pool, 2);
        let xs = batches(&x, sizes[0], batch, &device)?;
        let varmap = VarMap::new();
        let model = Mlp::new(
            sizes,
            Kind::Classifier,
            VarBuilder::from_varmap(&varmap, DType::F32, &device),
        )?;
        Ok(median3(|| {
            rate(batch, pass, |i| {
                black_box(model.forward(&xs[i % xs.len()]).expect("candle forward"));
            })
        }))
    }
}

/// The dfdx side: tuple modules with compile-time shapes, batch size included (as in its
/// examples), so each batch size is its own instantiation.
mod dx {
    use super::{black_box, data, median3, rate, Duration, POOL};
    use dfdx::optim::Sgd;
    use dfdx::prelude::*;

    type Regression = (Linear<2, 8>, Tanh, Linear<8, 1>, Sigmoid);
    type Classifier<const I: usize, const H: usize, const O: usize> = (Linear<I, H>, ReLU, Linear<H, O>);

    fn sgd_config(lr: f64) -> SgdConfig {
        SgdConfig {
            lr,
            momentum: None,
            weight_decay: None,
        }
    }

    /// One tensor of shape (B, W) per batch.
    fn batches<const B: usize, const W: usize>(dev: &Cpu, v: &[f32]) -> Vec<Tensor<Rank2<B, W>, f32, Cpu>> {
        v.chunks_exact(B * W)
            .map(|chunk| dev.tensor_from_vec(chunk.to_vec(), (Const::<B>, Const::<W>)))
            .collect()
    }

    /// W1: batch 1, MSE.
    pub fn train_regression(lr: f64, pass: Duration) -> f64 {
        let dev = Cpu::seed_from_u64(1);
        let (x, y) = data(2, 1, POOL, 1);
        let xs = batches::<1, 2>(&dev, &x);
        let ys = batches::<1, 1>(&dev, &y);
        let mut model = dev.build_module::<Regression, f32>();
        let mut grads = Some(model.alloc_grads());
        let mut opt = Sgd::new(&model, sgd_config(lr));
        median3(|| {
            rate(1, pass, |i| {
                let b = i % xs.len();
                let out = model.forward_mut(xs[b].clone().traced(grads.take().expect("grads")));
                let loss = mse_loss(out, ys[b].clone());
                let g = loss.backward();
                opt.update(&mut model, &g).expect("dfdx update");
                model.zero_grads(grads.insert(g));
            })
        })
    }

    /// W2 and W3: relu hidden layer, cross-entropy on the logits.
    pub fn train_classifier<const I: usize, const H: usize, const O: usize, const B: usize>(
        lr: f64,
        pass: Duration,
    ) -> f64 {
        let dev = Cpu::seed_from_u64(1);
        let pool = POOL.max(B);
        let (x, y) = data(I, O, pool, 1);
        let xs = batches::<B, I>(&dev, &x);
        let ys = batches::<B, O>(&dev, &y);
        let mut model = dev.build_module::<Classifier<I, H, O>, f32>();
        let mut grads = Some(model.alloc_grads());
        let mut opt = Sgd::new(&model, sgd_config(lr));
        median3(|| {
            rate(B, pass, |i| {
                let b = i % xs.len();
                let logits = model.forward_mut(xs[b].clone().traced(grads.take().expect("grads")));
                let loss = cross_entropy_with_logits_loss(logits, ys[b].clone());
                let g = loss.backward();
                opt.update(&mut model, &g).expect("dfdx update");
                model.zero_grads(grads.insert(g));
            })
        })
    }

    /// Forward only, softmax included.
    pub fn infer_classifier<const I: usize, const H: usize, const O: usize, const B: usize>(pass: Duration) -> f64 {
        let dev = Cpu::seed_from_u64(2);
        let pool = POOL.max(B);
        let (x, _) = data(I, O, pool, 2);
        let xs = batches::<B, I>(&dev, &x);
        let model = dev.build_module::<Classifier<I, H, O>, f32>();
        median3(|| {
            rate(B, pass, |i| {
                let out = model.forward(xs[i % xs.len()].clone()).softmax::<Axis<1>>();
                black_box(out);
            })
        })
    }
}

/// One line of the table: samples per second of each framework (`None`: not measured).
struct Row {
    /// The name in this table (`W3 784-128-10 train b1 (steps/s)`).
    name: String,
    /// The benchmark's name of the same row (`W3 784-128-10 train, batch 1`), for `--rows`.
    bench: String,
    retroprop: f64,
    candle: f64,
    dfdx: Option<f64>,
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

/// Pins every framework to the calling thread; see the module documentation.
fn single_thread() {
    // Before any rayon pool exists and while this is the only thread (edition 2021: safe).
    std::env::set_var("RAYON_NUM_THREADS", "1");
    std::env::set_var("CANDLE_NUM_THREADS", "1");
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .expect("rayon's global pool is not built yet");
    assert_eq!(rayon::current_num_threads(), 1, "dfdx's gemm threads");
    assert_eq!(candle_core::utils::get_num_threads(), 1, "candle's gemm threads");
}

fn main() {
    single_thread();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args.iter().find(|a| !a.starts_with('-'));
    // `--rows`: after the table, one `ROW<TAB>framework<TAB>row<TAB>samples/s` line per figure,
    // with the benchmark's row names, for `compare/run.sh`.
    let machine_rows = args.iter().any(|a| a == "--rows");
    // A filter matches anywhere in a row's name (this table's or the benchmark's); one ending
    // in `$` matches the name's end.
    let wanted = |names: [&str; 2]| {
        filter.is_none_or(|f| {
            names.iter().any(|name| match f.strip_suffix('$') {
                Some(end) => name.ends_with(end),
                None => name.contains(f.as_str()),
            })
        })
    };
    let pass = Duration::from_millis(400);
    let w2 = [64, 32, 10];
    let w3 = [784, 128, 10];
    // (this table's name, the benchmark's name) of each kind of row.
    let train_name = |w: &str, batch: usize| {
        let unit = if batch == 1 { "steps/s" } else { "samples/s" };
        (
            format!("{w} train b{batch} ({unit})"),
            format!("{w} train, batch {batch}"),
        )
    };
    let step_each_name = |w: &str| {
        (
            format!("{w} train b1, step_each (steps/s)"),
            format!("{w} train, batch 1, step_each"),
        )
    };
    let infer_name = |w: &str, batch: usize| {
        (
            format!("{w} infer b{batch} (samples/s)"),
            format!("{w} inference, batch {batch}"),
        )
    };

    println!("{}, threads=1, f32", cpu_model());
    println!("candle {CANDLE_VERSION}, dfdx {DFDX_VERSION}; median of 3 passes of 0.4 s\n");
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "workload", "retroprop", "candle", "dfdx", "vs candle", "vs dfdx"
    );
    let print = |row: &Row| {
        let (dfdx, vs_dfdx) = match row.dfdx {
            Some(rate) => (format!("{rate:.0}"), format!("{:.1}x", row.retroprop / rate)),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<44} {:>10.0} {:>10.0} {:>10} {:>9.1}x {:>8}",
            row.name,
            row.retroprop,
            row.candle,
            dfdx,
            row.retroprop / row.candle,
            vs_dfdx
        );
    };
    let rows = std::cell::RefCell::new(Vec::new());
    let run = |(name, bench): (String, String),
               retroprop: &dyn Fn() -> f64,
               candle: &dyn Fn() -> f64,
               dfdx: Option<&dyn Fn() -> f64>| {
        if wanted([&name, &bench]) {
            let row = Row {
                name,
                bench,
                retroprop: retroprop(),
                candle: candle(),
                dfdx: dfdx.map(|f| f()),
            };
            print(&row);
            rows.borrow_mut().push(row);
        }
    };
    use cd::Kind::{Classifier, Regression};
    use retroprop::prelude::{CrossEntropy, MeanSquaredError};
    let candle = |r: candle_core::Result<f64>| r.expect("candle");

    run(
        train_name("W1 2-8-1", 1),
        &|| rp::train::<rp::W1, _>(1, 0.1, &MeanSquaredError, pass),
        &|| candle(cd::train([2, 8, 1], Regression, 1, 0.1, pass)),
        Some(&|| dx::train_regression(0.1, pass)),
    );
    run(
        step_each_name("W1 2-8-1"),
        &|| rp::train_runs::<rp::W1, _>(0.1, &MeanSquaredError, pass),
        &|| candle(cd::train([2, 8, 1], Regression, 1, 0.1, pass)),
        Some(&|| dx::train_regression(0.1, pass)),
    );
    run(
        train_name("W2 64-32-10", 1),
        &|| rp::train::<rp::W2, _>(1, 0.05, &CrossEntropy, pass),
        &|| candle(cd::train(w2, Classifier, 1, 0.05, pass)),
        Some(&|| dx::train_classifier::<64, 32, 10, 1>(0.05, pass)),
    );
    run(
        step_each_name("W2 64-32-10"),
        &|| rp::train_runs::<rp::W2, _>(0.05, &CrossEntropy, pass),
        &|| candle(cd::train(w2, Classifier, 1, 0.05, pass)),
        Some(&|| dx::train_classifier::<64, 32, 10, 1>(0.05, pass)),
    );
    run(
        train_name("W2 64-32-10", 32),
        &|| rp::train::<rp::W2, _>(32, 0.05, &CrossEntropy, pass),
        &|| candle(cd::train(w2, Classifier, 32, 0.05, pass)),
        Some(&|| dx::train_classifier::<64, 32, 10, 32>(0.05, pass)),
    );
    run(
        train_name("W3 784-128-10", 1),
        &|| rp::train::<rp::W3, _>(1, 0.01, &CrossEntropy, pass),
        &|| candle(cd::train(w3, Classifier, 1, 0.01, pass)),
        Some(&|| dx::train_classifier::<784, 128, 10, 1>(0.01, pass)),
    );
    run(
        step_each_name("W3 784-128-10"),
        &|| rp::train_runs::<rp::W3, _>(0.01, &CrossEntropy, pass),
        &|| candle(cd::train(w3, Classifier, 1, 0.01, pass)),
        Some(&|| dx::train_classifier::<784, 128, 10, 1>(0.01, pass)),
    );
    run(
        train_name("W3 784-128-10", 32),
        &|| rp::train::<rp::W3, _>(32, 0.01, &CrossEntropy, pass),
        &|| candle(cd::train(w3, Classifier, 32, 0.01, pass)),
        Some(&|| dx::train_classifier::<784, 128, 10, 32>(0.01, pass)),
    );
    run(
        train_name("W3 784-128-10", 128),
        &|| rp::train::<rp::W3, _>(128, 0.01, &CrossEntropy, pass),
        &|| candle(cd::train(w3, Classifier, 128, 0.01, pass)),
        Some(&|| dx::train_classifier::<784, 128, 10, 128>(0.01, pass)),
    );
    run(
        infer_name("W3 784-128-10", 1),
        &|| rp::infer::<rp::W3>(1, pass),
        &|| candle(cd::infer(w3, 1, pass)),
        Some(&|| dx::infer_classifier::<784, 128, 10, 1>(pass)),
    );
    run(
        infer_name("W3 784-128-10", 128),
        &|| rp::infer::<rp::W3>(128, pass),
        &|| candle(cd::infer(w3, 128, pass)),
        Some(&|| dx::infer_classifier::<784, 128, 10, 128>(pass)),
    );
    // dfdx: no column (its convolution and pooling need nightly Rust; see the module docs).
    for batch in [1, 32, 128] {
        run(
            train_name("W4 LeNet-5", batch),
            &|| rp::train::<rp::W4, _>(batch, 0.01, &CrossEntropy, pass),
            &|| candle(cd::train_lenet(batch, 0.01, pass)),
            None,
        );
    }
    for batch in [1, 128] {
        run(
            infer_name("W4 LeNet-5", batch),
            &|| rp::infer::<rp::W4>(batch, pass),
            &|| candle(cd::infer_lenet(batch, pass)),
            None,
        );
    }

    if machine_rows {
        println!();
        for row in rows.borrow().iter() {
            println!("ROW\tretroprop (compare)\t{}\t{}", row.bench, row.retroprop);
            println!("ROW\tcandle\t{}\t{}", row.bench, row.candle);
            if let Some(dfdx) = row.dfdx {
                println!("ROW\tdfdx\t{}\t{dfdx}", row.bench);
            }
        }
    }
}
