//! The traits every generated network implements.

use crate::error::{ShapeError, TrainError};
use crate::nn::context::Context;
use crate::nn::loss::{Loss, Output};
use crate::nn::small::{MulAdd, Separate};
use crate::nn::sparse::SparseGradient;
use crate::real::Real;
use crate::sparse::SparseBatch;

/// A value aligned to a 64-byte cache line, as generated networks store each weight matrix
/// and bias vector: `Box<CacheAligned<SMatrix<T, O, I>>>`.
///
/// The allocator aligns large blocks to 16 bytes only; with a 16- or 48-byte offset, many
/// vector loads of a weight column straddle two cache lines, and the one-sample training
/// step of a 784-128-10 network runs about 20% slower on Zen 4 (measured: 94k against 113k
/// steps per second). It dereferences to the value, so indexing, methods and `&net.weight`
/// where a `&SMatrix` is expected work as on the matrix itself; assigning a whole matrix
/// goes through the dereference (`**net.hidden_weight = m`) or the field (`.0`).
///
/// ```
/// use retroprop_runtime::network::CacheAligned;
///
/// let v = Box::new(CacheAligned([1.0f32, 2.0, 3.0]));
/// assert_eq!(&*v as *const _ as usize % 64, 0);
/// assert_eq!(v[1], 2.0);
/// assert_eq!(v.len(), 3);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C, align(64))]
pub struct CacheAligned<T>(pub T);

impl<T> std::ops::Deref for CacheAligned<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for CacheAligned<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for CacheAligned<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

// SAFETY: `CacheAligned<T>` is `repr(C)` with one field of type `T` (the alignment only adds
// trailing padding, which holds no value), so the all-zero bit pattern is a valid
// `CacheAligned<T>` whenever it is a valid `T`, which `T: Zeroable` promises. Exercised by
// every generated network (`zeroed_box` builds their parameters) and by
// `tests/api.rs` (`parameters_are_aligned_to_cache_lines`).
#[allow(unsafe_code)]
unsafe impl<T: bytemuck::Zeroable> bytemuck::Zeroable for CacheAligned<T> {}

/// What kind of parameter a tensor holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TensorKind {
    /// A dense layer's weight matrix (penalized by L1/L2 regularization).
    Weight,
    /// A dense layer's bias vector.
    Bias,
}

/// Name and shape of one parameter tensor.
///
/// A tensor of any rank is stored flat, as a `rows x cols` column-major matrix with
/// `rows = shape[0]` and `cols` the product of the other dimensions (1 for a vector); the
/// columns enumerate the other dimensions in row-major order. So a dense weight `[out, in]` is
/// an `out x in` matrix, and a convolution weight `[out, in, kh, kw]` (PyTorch's layout) an
/// `out x (in * kh * kw)` one, and both are saved, loaded and checked the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TensorSpec {
    /// `layer.weight` or `layer.bias`.
    pub name: &'static str,
    /// The layer the tensor belongs to.
    pub layer: &'static str,
    /// The tensor's shape as PyTorch has it: `[out, in]` for a dense weight, `[out]` for a
    /// bias.
    pub shape: &'static [usize],
    /// Rows: `shape[0]` (the layer's outputs).
    pub rows: usize,
    /// Columns: the product of the other dimensions (the layer's inputs for a dense weight,
    /// 1 for a bias).
    pub cols: usize,
    /// Weight or bias.
    pub kind: TensorKind,
}

impl TensorSpec {
    /// Number of values in the tensor.
    pub const fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Whether the tensor holds no values (never true for a generated network).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A set of named parameter tensors: a network, or its gradients (which have the same fields).
///
/// Each tensor is exposed as a flat slice in nalgebra's column-major order: for a weight of
/// shape `rows x cols`, value `(r, c)` is at index `r + c * rows`. Tensors are listed layer by
/// layer, weight before bias, in the order of the definition. Optimizers, gradient checks
/// and weight files are written once against this trait.
pub trait Parameters {
    /// The scalar type, `f32` or `f64`.
    type Scalar: Real;

    /// Name and shape of every tensor, in order.
    const TENSORS: &'static [TensorSpec];

    /// Tensor `index` (see [`TENSORS`](Self::TENSORS)); an empty slice past the end.
    fn tensor(&self, index: usize) -> &[Self::Scalar];

    /// Tensor `index`, mutably; an empty slice past the end.
    fn tensor_mut(&mut self, index: usize) -> &mut [Self::Scalar];

    /// Total number of parameters.
    fn parameter_count(&self) -> usize {
        Self::TENSORS.iter().map(TensorSpec::len).sum()
    }

    /// The index of the tensor with this name (`"hidden.weight"`).
    fn tensor_index(name: &str) -> Option<usize> {
        Self::TENSORS.iter().position(|t| t.name == name)
    }

    /// Sets every parameter to zero.
    fn fill_zero(&mut self) {
        for i in 0..Self::TENSORS.len() {
            self.tensor_mut(i).fill(<Self::Scalar as Real>::cast(0.0));
        }
    }

    /// Whether every parameter is finite (no NaN or infinity).
    fn is_finite(&self) -> bool {
        // One vectorized pass per tensor instead of a branch per value.
        (0..Self::TENSORS.len()).all(|i| crate::nn::kernels::all_finite(self.tensor(i)))
    }

    /// The Euclidean norm of all parameters together, computed in `f64`.
    fn global_norm(&self) -> f64 {
        (0..Self::TENSORS.len())
            .map(|i| sum_of_squares(self.tensor(i)))
            .sum::<f64>()
            .sqrt()
    }
}

/// `sum(v^2)` in `f64`, with eight independent partial sums so that the loop vectorizes
/// (a single running sum is bound by the latency of one addition per value). The order of the
/// additions is fixed, so the result is deterministic; it runs on the kernel path
/// ([`kernels::sum_of_squares`](crate::nn::kernels::sum_of_squares)).
pub fn sum_of_squares<T: Real>(values: &[T]) -> f64 {
    crate::nn::kernels::sum_of_squares(values)
}

/// Buffers a network's batched passes work in, sized for a maximum batch.
pub trait Workspace {
    /// The largest batch the workspace holds.
    fn capacity(&self) -> usize;
}

/// A network generated by `network!`.
///
/// The generated type also has inherent methods with nalgebra types (`forward`,
/// `forward_batch`, `train_step`, ...); this trait is the slice-based interface that generic
/// runtime code (training loops, gradient checks, weight files) is written against.
/// Batches are column-major slices with one sample per column.
pub trait Network: Parameters + Clone + Send + Sync + Sized + 'static {
    /// The generated gradient struct: the same tensors as the network.
    type Gradients: Parameters<Scalar = Self::Scalar> + Clone + Send + Sync;
    /// The generated workspace: per-layer buffers for a maximum batch size.
    type Workspace: Workspace + Send;

    /// The struct's name.
    const NAME: &'static str;
    /// The definition in normalized `network!` syntax, e.g. `input: 2, hidden: dense(8) -> tanh, ...`.
    const DEFINITION: &'static str;
    /// Input features per sample.
    const INPUT: usize;
    /// Outputs per sample.
    const OUTPUT: usize;
    /// Total number of parameters.
    const PARAMETERS: usize;
    /// Whether the network has the fused one-sample SGD path
    /// ([`sgd_steps_into`](Self::sgd_steps_into)): true when every layer supports the
    /// rank-one update. [`Session`](crate::train::Session) and `fit` take that path only
    /// then; otherwise `sgd_steps_into` is never called by the runtime.
    const FUSED_SGD: bool = false;

    /// A network with every parameter zero, allocated on the heap without touching the stack.
    fn zeroed() -> Self;

    /// A network initialized from `seed`: He uniform for the relu family, Xavier (Glorot)
    /// uniform otherwise, zero biases. The same seed gives bit-identical weights.
    fn seeded(seed: u64) -> Self;

    /// A gradient struct with every value zero.
    fn zeroed_gradients() -> Self::Gradients;

    /// A workspace for batches of up to `max_batch` samples.
    fn workspace(max_batch: usize) -> Self::Workspace;

    /// Forward pass in inference mode over a batch `x` (`INPUT * n` values). Returns the
    /// output layer, which lives in the workspace.
    fn forward_into<'w>(
        &self,
        x: &[Self::Scalar],
        ws: &'w mut Self::Workspace,
    ) -> Result<Output<'w, Self::Scalar>, ShapeError>;

    /// Forward and backward pass over a batch: overwrites `grads` with the gradient of the
    /// mean loss and returns the mean loss. `ctx` says whether the pass is in training mode
    /// and supplies randomness to layers that need it.
    fn gradients_into<L: Loss<Self::Scalar> + ?Sized>(
        &self,
        x: &[Self::Scalar],
        target: &[Self::Scalar],
        loss: &L,
        ctx: &mut Context,
        ws: &mut Self::Workspace,
        grads: &mut Self::Gradients,
    ) -> Result<Self::Scalar, TrainError>;

    /// One step of plain gradient descent (`p -= lr * grad`) on **one sample**, fused into the
    /// backward pass: the gradient is never stored, each weight matrix is read and written
    /// once ([`sgd_dense_update`](crate::nn::kernels::sgd_dense_update)). The updated weights are
    /// bit-identical to [`gradients_into`](Self::gradients_into) followed by
    /// [`Sgd`](crate::optim::Sgd) without momentum or weight decay; [`Session::step`]
    /// takes this path on its own when it applies. A run of one sample of
    /// [`sgd_steps_into`](Self::sgd_steps_into).
    ///
    /// # Errors
    /// [`TrainError::Shape`] unless `x` and `target` hold exactly one sample;
    /// [`TrainError::NonFinite`] if the loss or the gradient norm is not finite, and then
    /// nothing is changed.
    ///
    /// [`Session::step`]: crate::train::Session::step
    fn sgd_step_into<L: Loss<Self::Scalar> + ?Sized>(
        &mut self,
        x: &[Self::Scalar],
        target: &[Self::Scalar],
        loss: &L,
        ctx: &mut Context,
        ws: &mut Self::Workspace,
        lr: Self::Scalar,
    ) -> Result<FusedStep<Self::Scalar>, TrainError> {
        crate::shape::single_sample_len(x.len(), target.len(), Self::INPUT, Self::OUTPUT, ws.capacity())?;
        match self.sgd_steps_into(x, target, loss, ctx, ws, lr) {
            Ok(run) => Ok(run.last),
            Err(TrainError::InRun { source, .. }) => Err(*source),
            Err(error) => Err(error),
        }
    }

    /// Plain gradient descent on each sample of `x` in turn ("online" SGD, a batch of one per
    /// step): the same updates, bit for bit, as calling [`sgd_step_into`](Self::sgd_step_into)
    /// on every sample in order, with less memory traffic. The first layer's update from one
    /// sample is applied while the next sample's forward pass reads the weights
    /// ([`sgd_update_and_forward`](crate::nn::kernels::sgd_update_and_forward)): one read and one
    /// write of its weight matrix per sample instead of two reads and a write. The network is
    /// borrowed for the whole run and holds every update when the call returns, so the
    /// deferral cannot be observed. `ws` needs room for one sample.
    ///
    /// # Errors
    /// [`TrainError::Shape`] if `x` and `target` are not whole samples of the same count (at
    /// least one), or `ws` has no room; nothing is changed then. [`TrainError::InRun`] if
    /// the loss or gradient norm of a sample is not finite: the samples before it were
    /// trained on, it and the ones after were not. [`TrainError::Config`] if the network has
    /// no fused path ([`FUSED_SGD`](Self::FUSED_SGD) is false: the provided method), and
    /// nothing is changed then.
    fn sgd_steps_into<L: Loss<Self::Scalar> + ?Sized>(
        &mut self,
        x: &[Self::Scalar],
        target: &[Self::Scalar],
        loss: &L,
        ctx: &mut Context,
        ws: &mut Self::Workspace,
        lr: Self::Scalar,
    ) -> Result<FusedSteps<Self::Scalar>, TrainError> {
        let _ = (x, target, loss, ctx, ws, lr);
        Err(TrainError::Config(format!(
            "network `{}` has no fused one-sample SGD path; train it with `Session::step`",
            Self::NAME
        )))
    }
}

/// A network generated by `network!` from a definition with a sparse input,
/// `input: sparse(features)`: the counterpart of [`Network`] whose passes take a
/// [`SparseBatch`] (compressed rows) instead of dense columns. No method takes a dense input,
/// so a sample is never `features` values on the stack or in memory.
///
/// The first layer is `dense` and reads only the present features: its forward pass and its
/// weight gradient cost the batch's stored entries times its width
/// ([`sparse_dense_forward`](crate::nn::sparse::sparse_dense_forward),
/// [`SparseGradient`]). Its weight is tensor 0 (`name.weight`, `[width, features]`, PyTorch's
/// `Linear` layout); the gradient struct holds that tensor's gradient as a [`SparseGradient`]
/// ([`SparseGradients::sparse`]) and exposes every other tensor through [`Parameters`]
/// ([`DENSE_TENSORS`](Self::DENSE_TENSORS)). The network itself exposes all of its tensors,
/// so weight files work as for dense networks. Train it with a
/// [`SparseSession`](crate::train::SparseSession) or
/// [`Trainer::fit_sparse`](crate::train::Trainer::fit_sparse).
pub trait SparseNetwork: Parameters + Clone + Send + Sync + Sized + 'static {
    /// The generated gradient struct: a [`SparseGradient`] for the first layer's weight and
    /// the other tensors through [`Parameters`].
    type Gradients: SparseGradients<Scalar = Self::Scalar> + Clone + Send + Sync;
    /// The generated workspace: per-layer buffers for a maximum batch size.
    type Workspace: Workspace + Send;

    /// The struct's name.
    const NAME: &'static str;
    /// The definition in normalized `network!` syntax, e.g. `input: sparse(65536), ...`.
    const DEFINITION: &'static str;
    /// Features per sample: indices are below this.
    const FEATURES: usize;
    /// Outputs of the first (sparse) layer: its weight has `WIDTH * FEATURES` values.
    const WIDTH: usize;
    /// Outputs per sample.
    const OUTPUT: usize;
    /// Total number of parameters.
    const PARAMETERS: usize;
    /// Every tensor but the first layer's weight, in order: `Self::TENSORS[1..]`, the
    /// tensors of the gradient struct's [`Parameters`].
    const DENSE_TENSORS: &'static [TensorSpec];

    /// A network with every parameter zero, allocated on the heap.
    fn zeroed() -> Self;

    /// A network initialized from `seed`, as [`Network::seeded`]: the first layer's fan-in
    /// is the feature count, as for PyTorch's `Linear(features, width)`.
    fn seeded(seed: u64) -> Self;

    /// A gradient struct with every value zero (an empty [`SparseGradient`]).
    fn zeroed_gradients() -> Self::Gradients;

    /// A workspace for batches of up to `max_batch` samples.
    fn workspace(max_batch: usize) -> Self::Workspace;

    /// Forward pass in inference mode over a sparse batch. Returns the output layer, which
    /// lives in the workspace. Takes `&self`: several threads may run it at once, each
    /// with its own workspace.
    ///
    /// # Errors
    /// [`ShapeError`] for an empty batch, one larger than the workspace, or one of another
    /// feature count.
    fn forward_sparse_into<'w>(
        &self,
        x: &SparseBatch<'_, Self::Scalar>,
        ws: &'w mut Self::Workspace,
    ) -> Result<Output<'w, Self::Scalar>, ShapeError>;

    /// Forward and backward pass over a sparse batch: overwrites `grads` with the gradient
    /// of the mean loss (the first layer's weight gradient as its touched columns) and
    /// returns the mean loss.
    ///
    /// # Errors
    /// [`TrainError::Shape`] if the batch or the targets do not fit.
    fn gradients_sparse_into<L: Loss<Self::Scalar> + ?Sized>(
        &self,
        x: &SparseBatch<'_, Self::Scalar>,
        target: &[Self::Scalar],
        loss: &L,
        ctx: &mut Context,
        ws: &mut Self::Workspace,
        grads: &mut Self::Gradients,
    ) -> Result<Self::Scalar, TrainError>;
}

/// The gradient struct of a [`SparseNetwork`]: [`Parameters`] over every tensor but the first
/// layer's weight ([`SparseNetwork::DENSE_TENSORS`]), whose gradient is a [`SparseGradient`].
pub trait SparseGradients: Parameters {
    /// The first layer's weight gradient: its touched columns.
    fn sparse(&self) -> &SparseGradient<Self::Scalar>;
    /// The first layer's weight gradient, mutable (penalties and clipping scale it).
    fn sparse_mut(&mut self) -> &mut SparseGradient<Self::Scalar>;
}

/// The tensors of a [`SparseNetwork`] other than the first layer's weight (tensor 0), as
/// [`Parameters`]: what a dense optimizer steps in a sparse network, beside the sparse rule of
/// the first layer's weight.
pub struct DenseTensors<'a, N>(pub &'a mut N);

impl<N: SparseNetwork> Parameters for DenseTensors<'_, N> {
    type Scalar = N::Scalar;
    const TENSORS: &'static [TensorSpec] = N::DENSE_TENSORS;

    fn tensor(&self, index: usize) -> &[Self::Scalar] {
        self.0.tensor(index + 1)
    }

    fn tensor_mut(&mut self, index: usize) -> &mut [Self::Scalar] {
        self.0.tensor_mut(index + 1)
    }
}

/// A network whose run of one-sample SGD steps is generated as straight-line code over its
/// layers' compile-time shapes ([`nn::small`](crate::nn::small)): `network!` implements it for
/// networks of dense layers of at most [`SMALL_WEIGHTS`](crate::nn::small::SMALL_WEIGHTS)
/// weights each (and at most [`SMALL_WIDTH`](crate::nn::small::SMALL_WIDTH) outputs above the
/// first), and their [`Network::sgd_steps_into`] calls [`small_sgd_steps`]. The same weights,
/// bit for bit, as the run-time kernels' path.
pub trait SmallSteps: Network {
    /// [`Network::sgd_steps_into`], adding the forward pass's products as `M` does.
    fn small_sgd_steps<M: MulAdd, L: Loss<Self::Scalar> + ?Sized>(
        &mut self,
        x: &[Self::Scalar],
        target: &[Self::Scalar],
        loss: &L,
        ws: &mut Self::Workspace,
        lr: Self::Scalar,
    ) -> Result<FusedSteps<Self::Scalar>, TrainError>;
}

/// Runs [`SmallSteps::small_sgd_steps`] compiled for the kernel path: with fused multiply-adds
/// on the x86-64 paths that have them, as the run-time kernels add, and with separate ones on
/// the portable path. One dispatch per run (per call).
///
/// # Errors
/// Those of [`Network::sgd_steps_into`].
#[inline]
pub fn small_sgd_steps<N: SmallSteps, L: Loss<N::Scalar> + ?Sized>(
    net: &mut N,
    x: &[N::Scalar],
    target: &[N::Scalar],
    loss: &L,
    ws: &mut N::Workspace,
    lr: N::Scalar,
) -> Result<FusedSteps<N::Scalar>, TrainError> {
    #[cfg(target_arch = "x86_64")]
    if crate::nn::kernels::kernel_path().or_supported() != crate::nn::kernels::KernelPath::Portable {
        // SAFETY: `or_supported` returns a path other than `Portable` (`Avx2`, `Avx512` or
        // `Avx512Wide`) only when `is_x86_feature_detected!` found FMA on this CPU (with AVX2
        // or AVX-512F), the one target feature `fused_steps` enables (with AVX, which FMA
        // implies).
        #[allow(unsafe_code)]
        return unsafe { fused_steps(net, x, target, loss, ws, lr) };
    }
    net.small_sgd_steps::<Separate, L>(x, target, loss, ws, lr)
}

/// [`SmallSteps::small_sgd_steps`] with fused multiply-adds, compiled for FMA (and AVX).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
fn fused_steps<N: SmallSteps, L: Loss<N::Scalar> + ?Sized>(
    net: &mut N,
    x: &[N::Scalar],
    target: &[N::Scalar],
    loss: &L,
    ws: &mut N::Workspace,
    lr: N::Scalar,
) -> Result<FusedSteps<N::Scalar>, TrainError> {
    net.small_sgd_steps::<crate::nn::small::Fused, L>(x, target, loss, ws, lr)
}

/// What [`Network::sgd_steps_into`] reports about a run of one-sample steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusedSteps<T> {
    /// Samples trained on.
    pub steps: usize,
    /// The sum of their losses (each before its own update), in `f64`.
    pub loss_sum: f64,
    /// The last step.
    pub last: FusedStep<T>,
}

impl<T: Real> FusedSteps<T> {
    /// An empty run.
    pub fn new() -> Self {
        FusedSteps {
            steps: 0,
            loss_sum: 0.0,
            last: FusedStep {
                loss: T::zero(),
                grad_norm: 0.0,
            },
        }
    }

    /// Records one more step with its loss and gradient norm.
    pub fn push(&mut self, loss: T, grad_norm: f64) {
        self.steps += 1;
        self.loss_sum += loss.to_f64();
        self.last = FusedStep { loss, grad_norm };
    }

    /// The mean loss over the run (0 for an empty run).
    pub fn mean_loss(&self) -> f64 {
        if self.steps == 0 {
            0.0
        } else {
            self.loss_sum / self.steps as f64
        }
    }
}

impl<T: Real> Default for FusedSteps<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`Network::sgd_step_into`] reports about the step it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusedStep<T> {
    /// The loss before the update.
    pub loss: T,
    /// The global norm of the gradient (weights and biases) that was applied.
    pub grad_norm: f64,
}

/// One layer of a network's [`Summary`]: what `model.summary()` shows in Keras, or torchinfo
/// in PyTorch. Generated networks list theirs in `Net::SUMMARY`, known at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LayerSummary {
    /// The layer's name.
    pub name: &'static str,
    /// The layer as written in a normalized definition, activation included
    /// (`dense(32) -> relu`).
    pub kind: &'static str,
    /// The shape of one sample after the layer (`[32]`, `[6, 28, 28]`).
    pub output: &'static [usize],
    /// The layer's parameters (weights and biases).
    pub parameters: usize,
}

/// A network's layers with their output shapes and parameter counts; its
/// [`Display`](core::fmt::Display) is a table.
///
/// ```
/// use retroprop_runtime::network::{LayerSummary, Summary};
/// let summary = Summary {
///     network: "Net",
///     input: &[4],
///     layers: &[LayerSummary { name: "out", kind: "dense(2)", output: &[2], parameters: 10 }],
/// };
/// assert_eq!(summary.parameters(), 10);
/// let table = summary.to_string();
/// assert!(table.contains("out") && table.contains("Total parameters: 10"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Summary {
    /// The network's name.
    pub network: &'static str,
    /// The shape of one input sample.
    pub input: &'static [usize],
    /// The layers, in order.
    pub layers: &'static [LayerSummary],
}

impl Summary {
    /// Total number of parameters.
    pub fn parameters(&self) -> usize {
        self.layers.iter().map(|l| l.parameters).sum()
    }
}

/// `[1, 28, 28]`.
fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    format!("[{}]", dims.join(", "))
}

/// `61706` as `61,706`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl core::fmt::Display for Summary {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let rows: Vec<[String; 4]> =
            std::iter::once(["input".to_owned(), String::new(), shape_text(self.input), String::new()])
                .chain(self.layers.iter().map(|l| {
                    [
                        l.name.to_owned(),
                        l.kind.to_owned(),
                        shape_text(l.output),
                        thousands(l.parameters),
                    ]
                }))
                .collect();
        let header = ["Layer", "Kind", "Output shape", "Parameters"];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let line = "-".repeat(widths.iter().sum::<usize>() + 3 * 2);
        writeln!(f, "{}", self.network)?;
        writeln!(
            f,
            "{:<a$}  {:<b$}  {:<c$}  {:>d$}",
            header[0],
            header[1],
            header[2],
            header[3],
            a = widths[0],
            b = widths[1],
            c = widths[2],
            d = widths[3]
        )?;
        writeln!(f, "{line}")?;
        for row in &rows {
            let line = format!(
                "{:<a$}  {:<b$}  {:<c$}  {:>d$}",
                row[0],
                row[1],
                row[2],
                row[3],
                a = widths[0],
                b = widths[1],
                c = widths[2],
                d = widths[3]
            );
            writeln!(f, "{}", line.trim_end())?;
        }
        writeln!(f, "{line}")?;
        write!(f, "Total parameters: {}", thousands(self.parameters()))
    }
}
