//! Training: a [`Session`] holding the buffers a step writes into, and the [`Trainer`] loop
//! (`fit`) with its [`History`], early stopping, progress output, checkpoints, evaluation and
//! metrics.

pub mod checkpoint;
pub mod evaluation;
pub mod fit;
pub mod history;
pub mod metrics;
pub mod progress;
pub mod regularization;
pub mod session;
pub mod sparse_session;
pub mod stopping;

pub use checkpoint::Checkpoint;
pub use evaluation::{evaluate, evaluate_loss, evaluate_sparse};
pub use fit::{Trainer, Validation};
pub use history::{EpochRecord, History, HistoryError};
pub use metrics::{ConfusionMatrix, Metric, MetricsError};
pub use progress::Progress;
pub use regularization::Regularization;
pub use session::{check_fused_step, copy_parameters, Session};
pub use sparse_session::SparseSession;
pub use stopping::{Control, EarlyStopping};

// The old paths of items that moved out of `train`, kept for this release.
#[doc(hidden)]
pub use crate::nn::context::Context;
#[doc(hidden)]
pub use crate::nn::loss::loss_and_delta;
#[doc(hidden)]
pub use crate::shape::{batch_len, input_len, run_len, single_sample_len};
