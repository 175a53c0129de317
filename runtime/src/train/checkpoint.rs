//! Checkpoints: weights plus optimizer state, epoch, history and the training loop's state
//! (generators, data order, early stopping, plateau), in one safetensors file.
//!
//! The weights are stored exactly as in a weight file, so a checkpoint also loads as one
//! (here with [`crate::io::weights::load`], or in PyTorch). Optimizer buffers are stored as
//! tensors `optimizer.<buffer>.<tensor>` and the best weights kept for early stopping as
//! `best.<tensor>`; everything else is JSON in the metadata key `retroprop.checkpoint`.

use crate::io::weights::{metadata, read_bytes, read_tensors, serialize, tensor_bytes, write_bytes, WeightsError};
use crate::network::{Network, Parameters};
use crate::nn::context::Context;
use crate::nn::init::SeededRng;
use crate::optim::schedule::ReduceOnPlateau;
use crate::optim::OptimizerState;
use crate::train::history::History;
use safetensors::tensor::SafeTensors;
use serde::{Deserialize, Serialize};
use std::path::Path;

const META_KEY: &str = "retroprop.checkpoint";

/// The state of `fit` between two epochs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FitState {
    /// The shuffling generator.
    pub shuffle_rng: SeededRng,
    /// The training context (dropout masks).
    pub context: Context,
    /// Where each sample of the shuffled training set came from.
    pub order: Vec<usize>,
    /// Best monitored value and its epoch, for early stopping.
    pub best: Option<(f64, usize)>,
    /// Epochs without improvement.
    pub waited: usize,
    /// The plateau scheduler.
    pub plateau: Option<ReduceOnPlateau>,
    /// The rate the plateau scheduler set for the next epoch (`None` without one, and in
    /// checkpoints written before it was saved).
    #[serde(default)]
    pub plateau_lr: Option<f64>,
    /// The learning rate the schedule starts from.
    pub base_lr: f64,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    epoch: usize,
    optimizer_kind: String,
    optimizer_steps: u64,
    lr: f64,
    buffers: Vec<String>,
    history: History,
    fit: Option<FitState>,
}

/// A saved training state.
#[derive(Debug, Clone)]
pub struct Checkpoint<N: Network> {
    /// The weights.
    pub network: N,
    /// The optimizer's state.
    pub optimizer: OptimizerState<N::Scalar>,
    /// Epochs completed.
    pub epoch: usize,
    /// The history so far.
    pub history: History,
    pub(crate) best: Option<N>,
    pub(crate) fit: Option<FitState>,
}

impl<N: Network> Checkpoint<N> {
    /// A checkpoint of a network and an optimizer after `epoch` epochs, for training loops
    /// of one's own (`fit` writes richer ones itself).
    pub fn new(network: N, optimizer: OptimizerState<N::Scalar>, epoch: usize, history: History) -> Self {
        Checkpoint {
            network,
            optimizer,
            epoch,
            history,
            best: None,
            fit: None,
        }
    }

    /// Writes the checkpoint atomically.
    ///
    /// # Errors
    /// [`WeightsError`] naming the file.
    pub fn save(&self, path: &Path) -> Result<(), WeightsError> {
        write(
            path,
            &self.network,
            &self.optimizer,
            self.epoch,
            &self.history,
            self.best.as_ref(),
            self.fit.as_ref(),
        )
    }

    /// Reads a checkpoint written by [`save`](Self::save) or by `fit`.
    ///
    /// # Errors
    /// [`WeightsError`]: unreadable, not a checkpoint, or tensors that do not match `N`.
    pub fn load(path: &Path) -> Result<Self, WeightsError> {
        let bytes = read_bytes(path)?;
        crate::io::weights::check_header(&bytes, path)?;
        let format = |message: String| WeightsError::Format {
            path: path.to_path_buf(),
            message,
        };
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| format(e.to_string()))?;
        let text = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .ok_or_else(|| format(format!("no `{META_KEY}` metadata: a weight file, not a checkpoint")))?;
        let meta: Meta = serde_json::from_str(text).map_err(|e| format(format!("bad checkpoint metadata: {e}")))?;
        let file = SafeTensors::deserialize(&bytes).map_err(|e| format(e.to_string()))?;
        let mut network = N::zeroed();
        read_tensors(&file, &mut network, "", path, N::NAME, |name| {
            !crate::io::weights::CHECKPOINT_PREFIXES
                .iter()
                .any(|p| name.starts_with(p))
        })?;
        let mut buffers = Vec::new();
        for name in &meta.buffers {
            let mut slots = N::zeroed_gradients();
            read_tensors(&file, &mut slots, &format!("optimizer.{name}."), path, N::NAME, |_| {
                true
            })?;
            let values = (0..N::TENSORS.len()).map(|i| slots.tensor(i).to_vec()).collect();
            buffers.push((name.clone(), values));
        }
        let best = if file.names().iter().any(|n| n.starts_with("best.")) {
            let mut best = N::zeroed();
            read_tensors(&file, &mut best, "best.", path, N::NAME, |_| true)?;
            Some(best)
        } else {
            None
        };
        Ok(Checkpoint {
            network,
            optimizer: OptimizerState {
                kind: meta.optimizer_kind,
                steps: meta.optimizer_steps,
                lr: meta.lr,
                buffers,
            },
            epoch: meta.epoch,
            history: meta.history,
            best,
            fit: meta.fit,
        })
    }
}

/// Writes a checkpoint without copying the network.
pub(crate) fn write<N: Network>(
    path: &Path,
    network: &N,
    optimizer: &OptimizerState<N::Scalar>,
    epoch: usize,
    history: &History,
    best: Option<&N>,
    fit: Option<&FitState>,
) -> Result<(), WeightsError> {
    let mut tensors = tensor_bytes(network, "");
    let mut slots = N::zeroed_gradients();
    for (name, buffer) in &optimizer.buffers {
        for (i, values) in buffer.iter().enumerate() {
            let target = slots.tensor_mut(i);
            if target.len() != values.len() {
                return Err(WeightsError::Format {
                    path: path.to_path_buf(),
                    message: format!("optimizer buffer `{name}` does not match tensor {i}"),
                });
            }
            target.copy_from_slice(values);
        }
        tensors.extend(tensor_bytes(&slots, &format!("optimizer.{name}.")));
    }
    if let Some(best) = best {
        tensors.extend(tensor_bytes(best, "best."));
    }
    let meta = Meta {
        epoch,
        optimizer_kind: optimizer.kind.clone(),
        optimizer_steps: optimizer.steps,
        lr: optimizer.lr,
        buffers: optimizer.buffers.iter().map(|(n, _)| n.clone()).collect(),
        history: history.clone(),
        fit: fit.cloned(),
    };
    let mut info = metadata::<N>();
    let json = serde_json::to_string(&meta).map_err(|e| WeightsError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    info.insert(META_KEY.to_owned(), json);
    let bytes = serialize::<N::Scalar>(&tensors, info, path)?;
    write_bytes(path, &bytes)
}
