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
//! let net = Xor::seeded(42);
//! let y = net.forward(&retroprop::nalgebra::vector![1.0, 0.0]);
//! assert!(y[0] > 0.0 && y[0] < 1.0);
//! ```
//!
//! See the README for the definition language, the generated code and the runtime.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use retroprop_macros::network;

pub use nalgebra;
pub use retroprop_runtime::{
    activation, data, error, init, kernels, loss, network, optim, real, train, Network, OptimError, Parameters, Real,
    ShapeError, TensorKind, TensorSpec, TrainError, Workspace,
};

/// What a typical training program needs: `use retroprop::prelude::*;`.
pub mod prelude {
    pub use crate::data::{argmax_columns, one_hot, Batch, DataError, Dataset};
    pub use crate::loss::{BinaryCrossEntropy, CrossEntropy, Huber, Loss, MeanAbsoluteError, MeanSquaredError};
    pub use crate::network;
    pub use crate::optim::{Optimizer, Sgd};
    pub use crate::train::{Context, Session};
    pub use crate::{Network, Parameters, Real, ShapeError, TrainError};
}

#[doc(hidden)]
pub mod __private {
    pub use retroprop_runtime::__private::*;
}
