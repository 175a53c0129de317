//! When `fit` stops: early stopping on the monitored loss, and what a callback tells the loop.

/// What a callback tells the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop after this epoch.
    Stop,
}

/// Stop when the monitored loss (validation loss if there is a validation set, training loss
/// otherwise) has not improved by more than `min_delta` for `patience` epochs, and restore
/// the weights of the best epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// Improvement smaller than this does not count.
    pub min_delta: f64,
}

impl EarlyStopping {
    /// Early stopping with `patience` and no minimum improvement.
    pub fn new(patience: usize) -> Self {
        EarlyStopping {
            patience,
            min_delta: 0.0,
        }
    }
}
