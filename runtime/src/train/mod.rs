//! Training: a [`Session`] holding the buffers a step writes into, the `fit` loop with its
//! history, checkpoints and metrics.

pub mod checkpoint;
pub mod fit;
pub mod history;
pub mod metrics;
pub mod session;

pub use session::*;

// The old paths of items that moved out of `train`, kept for this release.
#[doc(hidden)]
pub use crate::nn::context::Context;
#[doc(hidden)]
pub use crate::nn::loss::loss_and_delta;
#[doc(hidden)]
pub use crate::shape::{batch_len, input_len, run_len, single_sample_len};
