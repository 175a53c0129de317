//! Training: a [`Session`] holding the buffers a step writes into, the `fit` loop with its
//! history, checkpoints and metrics.

pub mod checkpoint;
pub mod fit;
pub mod metrics;
pub mod session;

pub use session::*;
