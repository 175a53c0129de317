//! # retroprop
//!
//! Declarative neural networks compiled to straight-line, monomorphized training code.
//!
//! ```
//! retroprop::network! {
//!     /// Learns XOR.
//!     pub struct Xor {
//!         input: 2,
//!         hidden: dense(8) -> tanh,
//!         output: dense(1) -> sigmoid,
//!     }
//! }
//!
//! use retroprop::prelude::*;
//! use retroprop::{matrix, vector};
//!
//! # fn main() -> Result<(), TrainError> {
//! let mut net = Xor::seeded(42);
//! let mut session = Session::<Xor>::new(4, 0); // buffers for batches of up to 4 samples
//! let mut sgd = Sgd::new(0.5).with_momentum(0.9);
//! let x = matrix![0.0, 0.0, 1.0, 1.0;
//!                 0.0, 1.0, 0.0, 1.0]; // one sample per column
//! let y = matrix![0.0, 1.0, 1.0, 0.0];
//! let first = net.train_batch(&x, &y, &BinaryCrossEntropy, &mut sgd, &mut session)?;
//! for _ in 0..300 {
//!     net.train_batch(&x, &y, &BinaryCrossEntropy, &mut sgd, &mut session)?;
//! }
//! let last = net.train_batch(&x, &y, &BinaryCrossEntropy, &mut sgd, &mut session)?;
//! assert!(last < first);
//! let p = net.forward(&vector![1.0, 0.0]);
//! assert!(p[0] > 0.5);
//! # Ok(())
//! # }
//! ```
//!
//! ## Training one sample at a time
//!
//! `Session::step_each` takes a step per sample of a slice of samples ("online" SGD). With
//! plain SGD it applies each sample's update of the first layer while the next sample's
//! forward pass reads the weights: the same weights, bit for bit, as a `step` per sample,
//! with one pass less over the first layer's weights per sample. `Trainer::batch_size(1)`
//! uses it with plain SGD and no penalties or clipping.
//!
//! ```
//! # retroprop::network! {
//! #     pub struct Xor { input: 2, hidden: dense(8) -> tanh, output: dense(1) -> sigmoid }
//! # }
//! use retroprop::prelude::*;
//!
//! # fn main() -> Result<(), TrainError> {
//! let x = [0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]; // four samples of two features
//! let y = [0.0f32, 1.0, 1.0, 0.0];
//! let mut net = Xor::seeded(7);
//! let mut sgd = Sgd::new(0.5);
//! let mut session = Session::<Xor>::new(1, 7); // room for one sample is enough
//! let first = session.step_each(&mut net, &x, &y, &BinaryCrossEntropy, &mut sgd)?;
//! let mut last = first;
//! for _ in 0..2000 {
//!     last = session.step_each(&mut net, &x, &y, &BinaryCrossEntropy, &mut sgd)?;
//! }
//! assert!(last < first / 4.0, "{first} -> {last}");
//! # Ok(())
//! # }
//! ```
//!
//! See the README for the definition language, the generated code and the runtime.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use retroprop_macros::network;

pub use nalgebra;
pub use retroprop_runtime::{
    data, error, io, network, nn, optim, real, shape, train, CacheAligned, DenseTensors, FusedStep, FusedSteps,
    LayerSummary, Network, OptimError, Parameters, Real, ShapeError, SparseGradients, SparseNetwork, Summary,
    TensorKind, TensorSpec, TrainError, Workspace,
};
// The modules' paths before the runtime was grouped by concern, kept for this release.
#[doc(hidden)]
pub use retroprop_runtime::{
    activation, checkpoint, datasets, dropout, fit, init, kernels, loss, metrics, schedule, weights,
};

/// A static column vector (`SVector`) from its elements, as nalgebra's `vector!`, but usable
/// without a direct dependency on nalgebra.
///
/// ```
/// let v = retroprop::vector![1.0, 2.0, 3.0];
/// assert_eq!(v, retroprop::nalgebra::Vector3::new(1.0, 2.0, 3.0));
/// ```
#[macro_export]
macro_rules! vector {
    ($($x:expr),* $(,)?) => {
        $crate::__private::vector_from_array([$($x),*])
    };
}

/// A static matrix (`SMatrix`) written row by row, rows separated by `;`, as nalgebra's
/// `matrix!`, but usable without a direct dependency on nalgebra. For a batch, each column
/// is one sample.
///
/// ```
/// let m = retroprop::matrix![1.0, 2.0, 3.0;
///                            4.0, 5.0, 6.0];
/// assert_eq!(m.shape(), (2, 3));
/// assert_eq!(m[(1, 0)], 4.0);
/// ```
#[macro_export]
macro_rules! matrix {
    ($($($x:expr),+ $(,)?);+ $(;)?) => {
        $crate::__private::matrix_from_rows([$([$($x),+]),+])
    };
}

/// What a typical training program needs: `use retroprop::prelude::*;`.
pub mod prelude {
    pub use crate::data::{argmax_columns, one_hot, Batch, DataError, Dataset};
    pub use crate::network;
    pub use crate::nn::loss::{
        BinaryCrossEntropy, CrossEntropy, Huber, Loss, MeanAbsoluteError, MeanSquaredError, WeightedBinaryCrossEntropy,
        WeightedCrossEntropy,
    };
    pub use crate::nn::Context;
    pub use crate::optim::{Adagrad, Adam, AdamW, Optimizer, ReduceOnPlateau, RmsProp, Schedule, Sgd};
    pub use crate::train::{
        ConfusionMatrix, Control, EarlyStopping, EpochRecord, History, Metric, Progress, Regularization, Session,
        Trainer,
    };
    pub use crate::{Network, Parameters, Real, ShapeError, TrainError};
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[doc(hidden)]
pub mod __private {
    pub use retroprop_runtime::__private::*;

    /// Backs [`vector!`](crate::vector).
    pub fn vector_from_array<T: nalgebra::Scalar, const N: usize>(values: [T; N]) -> nalgebra::SVector<T, N> {
        nalgebra::SVector::from(values)
    }

    /// Backs [`matrix!`](crate::matrix): rows in, a column-major static matrix out.
    pub fn matrix_from_rows<T: nalgebra::Scalar, const R: usize, const C: usize>(
        rows: [[T; C]; R],
    ) -> nalgebra::SMatrix<T, R, C> {
        nalgebra::SMatrix::from_fn(|r, c| rows[r][c].clone())
    }
}
