//! Error types of the runtime core.

/// A batch, sample or buffer whose size does not fit the network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShapeError {
    /// An input slice whose length is not what the network takes.
    #[error("input has {actual} values, but the network takes {expected} features per sample")]
    InputLength {
        /// Values the network expects per sample.
        expected: usize,
        /// Values that were given.
        actual: usize,
    },
    /// A batch whose value count is not a whole number of samples.
    #[error("{what} has {len} values, which is not a whole number of samples of {per_sample} values")]
    Ragged {
        /// Which buffer (`"input"` or `"target"`).
        what: &'static str,
        /// Its length.
        len: usize,
        /// Values per sample.
        per_sample: usize,
    },
    /// Inputs and targets for different numbers of samples.
    #[error("the batch has {inputs} input samples but {targets} target samples")]
    SampleCountMismatch {
        /// Samples in the input.
        inputs: usize,
        /// Samples in the target.
        targets: usize,
    },
    /// A batch with no samples.
    #[error("the batch is empty")]
    EmptyBatch,
    /// A batch larger than the workspace was created for.
    #[error(
        "the batch has {len} samples but the workspace holds at most {capacity}; create it with a larger `max_batch`"
    )]
    BatchTooLarge {
        /// Samples in the batch.
        len: usize,
        /// The workspace's capacity.
        capacity: usize,
    },
    /// Features or targets of a different width than the network's.
    #[error("the data has {actual} {what} per sample, but the network has {expected}")]
    Width {
        /// `"inputs"` or `"outputs"`.
        what: &'static str,
        /// The network's width.
        expected: usize,
        /// The data's width.
        actual: usize,
    },
}

/// Why an optimizer step could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptimError {
    /// Parameters and gradients (or the optimizer's state) describe different tensors.
    #[error("tensor {index} (`{name}`) has {params} parameters but {other} {what}")]
    Mismatch {
        /// Index of the tensor.
        index: usize,
        /// Its name.
        name: &'static str,
        /// Its parameter count.
        params: usize,
        /// The other count.
        other: usize,
        /// What the other count belongs to (`"gradients"` or `"optimizer state values"`).
        what: &'static str,
    },
    /// A saved optimizer state of another kind of optimizer.
    #[error("the saved optimizer state is for `{found}`, not `{expected}`")]
    State {
        /// The optimizer restoring the state.
        expected: &'static str,
        /// The optimizer that saved it.
        found: String,
    },
    /// An optimizer, or a setting of one, that has no update for the weight of a sparse layer
    /// ([`Optimizer::sparse_rule`](crate::optim::Optimizer::sparse_rule)).
    #[error("{optimizer} cannot train a sparse layer: {reason}")]
    NoSparseRule {
        /// The optimizer (`` `RmsProp` ``, `` `Adam` with weight decay ``).
        optimizer: &'static str,
        /// Why, and what to use instead.
        reason: &'static str,
    },
    /// The parameter and gradient structs list different numbers of tensors.
    #[error("the network has {params} tensors but the gradients have {grads}")]
    TensorCount {
        /// Tensors in the network.
        params: usize,
        /// Tensors in the gradients.
        grads: usize,
    },
}

/// Why a training step failed. The network's weights are unchanged when this is returned,
/// except for [`TrainError::InRun`], where the run's samples before the failing one were
/// trained on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The batch did not fit the network or the workspace.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// The optimizer could not step.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// The loss or a gradient was NaN or infinite; the update was not applied.
    #[error("the {what} is not finite ({value}); the update was not applied")]
    NonFinite {
        /// `"loss"`, `"gradient norm"` or `"updated weights"`.
        what: &'static str,
        /// The offending value.
        value: f64,
    },
    /// Training diverged: a step in `fit` found a non-finite loss, gradient or weight. The
    /// network keeps the weights from before that step.
    #[error("training diverged at epoch {epoch}, batch {batch}: the {what} is not finite ({value}); the network keeps its last good weights")]
    Diverged {
        /// Epoch (from 1).
        epoch: usize,
        /// Batch within the epoch (from 1).
        batch: usize,
        /// What was not finite.
        what: &'static str,
        /// The offending value.
        value: f64,
    },
    /// `fit` was given a data set with no samples.
    #[error("the {what} set is empty")]
    EmptyDataset {
        /// `"training"` or `"validation"`.
        what: &'static str,
    },
    /// A checkpoint could not be written or read.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An invalid training configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Two settings of a [`Trainer`](crate::train::fit::Trainer) that cannot be combined, found by
    /// `fit` before the first epoch.
    #[error("invalid configuration: `{first}` and `{second}` cannot be combined: {reason}")]
    Conflict {
        /// The first setting (a `Trainer` method, such as `"schedule"`).
        first: &'static str,
        /// The second setting.
        second: &'static str,
        /// Why not.
        reason: &'static str,
    },
    /// A run of one-sample steps ([`Session::step_each`], [`Network::sgd_steps_into`]) stopped
    /// at sample `index` (from 0): the samples before it were trained on, it and the ones after
    /// it were not. `source` says why.
    ///
    /// [`Session::step_each`]: crate::train::Session::step_each
    /// [`Network::sgd_steps_into`]: crate::network::Network::sgd_steps_into
    #[error("the step on sample {index} of the run was not applied")]
    InRun {
        /// The sample whose step failed (from 0); as many samples were trained on.
        index: usize,
        /// Why it failed.
        #[source]
        source: Box<TrainError>,
    },
}

impl TrainError {
    /// `error` as the failure of the step on sample `index` of a run ([`TrainError::InRun`]).
    pub fn in_run(index: usize, error: TrainError) -> Self {
        TrainError::InRun {
            index,
            source: Box::new(error),
        }
    }
}
