//! Checkpoints: weights plus optimizer state, epoch, history and the training loop's state
//! (generators, data order, early stopping, plateau), in one safetensors file.
//!
//! The weights are stored exactly as in a weight file, so a checkpoint also loads as one
//! (here with [`crate::io::weights::load`], or in PyTorch). Optimizer buffers are stored as
//! tensors `optimizer.<buffer>.<tensor>` and the best weights kept for early stopping as
//! `best.<tensor>`; everything else is JSON in the metadata key `retroprop.checkpoint`.

use crate::io::weights::{
    metadata, metadata_of, read_bytes, read_tensors, serialize, tensor_bytes, write_bytes, WeightsError,
};
use crate::network::{Network, Parameters, SparseNetwork, TensorSpec};
use crate::nn::context::Context;
use crate::nn::init::SeededRng;
use crate::nn::sparse::CaughtUpState;
use crate::optim::schedule::ReduceOnPlateau;
use crate::optim::OptimizerState;
use crate::train::history::History;
use safetensors::tensor::SafeTensors;
use serde::{Deserialize, Serialize};
use std::path::Path;

const META_KEY: &str = "retroprop.checkpoint";

/// Optimizer buffers by name, one vector per tensor, as in [`OptimizerState::buffers`].
type Buffers<T> = Vec<(String, Vec<Vec<T>>)>;

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
    /// The sparse layer's update state (networks with a sparse input only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sparse_layer: Option<SparseLayerMeta>,
}

/// The sparse layer's update state, besides its buffers (tensors
/// `optimizer.sparse.<buffer>.<weight>`).
#[derive(Serialize, Deserialize)]
struct SparseLayerMeta {
    rule: String,
    steps: u64,
    decayed: f64,
    buffers: Vec<String>,
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
        let (bytes, meta) = read_checkpoint(path)?;
        let file = SafeTensors::deserialize(&bytes).map_err(|e| format_error(path, e.to_string()))?;
        let mut network = N::zeroed();
        read_weights(&file, &mut network, path, N::NAME)?;
        let buffers = read_buffers(&file, &meta.buffers, N::zeroed_gradients, path, N::NAME)?;
        let best = read_best(&file, N::zeroed, path, N::NAME)?;
        Ok(Checkpoint {
            network,
            optimizer: meta.optimizer_state(buffers),
            epoch: meta.epoch,
            history: meta.history,
            best,
            fit: meta.fit,
        })
    }
}

fn format_error(path: &Path, message: String) -> WeightsError {
    WeightsError::Format {
        path: path.to_path_buf(),
        message,
    }
}

/// The bytes of the checkpoint at `path` and its metadata.
fn read_checkpoint(path: &Path) -> Result<(Vec<u8>, Meta), WeightsError> {
    let bytes = read_bytes(path)?;
    crate::io::weights::check_header(&bytes, path)?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| format_error(path, e.to_string()))?;
    let text = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| {
            format_error(
                path,
                format!("no `{META_KEY}` metadata: a weight file, not a checkpoint"),
            )
        })?;
    let meta: Meta =
        serde_json::from_str(text).map_err(|e| format_error(path, format!("bad checkpoint metadata: {e}")))?;
    Ok((bytes, meta))
}

/// Reads the network's own tensors (not the optimizer's or the best weights).
fn read_weights<P: Parameters>(
    file: &SafeTensors<'_>,
    network: &mut P,
    path: &Path,
    name: &'static str,
) -> Result<(), WeightsError> {
    read_tensors(file, network, "", path, name, |tensor| {
        !crate::io::weights::CHECKPOINT_PREFIXES
            .iter()
            .any(|p| tensor.starts_with(p))
    })
}

/// The best weights kept for early stopping (`best.<tensor>`), if the checkpoint has them.
fn read_best<P: Parameters>(
    file: &SafeTensors<'_>,
    zeroed: impl Fn() -> P,
    path: &Path,
    network: &'static str,
) -> Result<Option<P>, WeightsError> {
    if !file.names().iter().any(|n| n.starts_with("best.")) {
        return Ok(None);
    }
    let mut best = zeroed();
    read_tensors(file, &mut best, "best.", path, network, |_| true)?;
    Ok(Some(best))
}

impl Meta {
    /// The optimizer's state: this metadata's and the `buffers` read from the tensors.
    fn optimizer_state<T>(&self, buffers: Buffers<T>) -> OptimizerState<T> {
        OptimizerState {
            kind: self.optimizer_kind.clone(),
            steps: self.optimizer_steps,
            lr: self.lr,
            buffers,
        }
    }
}

/// Reads the optimizer buffers `names`, each into slots made by `slots`.
fn read_buffers<G: Parameters>(
    file: &SafeTensors<'_>,
    names: &[String],
    slots: impl Fn() -> G,
    path: &Path,
    network: &'static str,
) -> Result<Buffers<G::Scalar>, WeightsError> {
    let mut buffers = Vec::new();
    for name in names {
        let mut buffer = slots();
        read_tensors(file, &mut buffer, &format!("optimizer.{name}."), path, network, |_| {
            true
        })?;
        let values = (0..G::TENSORS.len()).map(|i| buffer.tensor(i).to_vec()).collect();
        buffers.push((name.clone(), values));
    }
    Ok(buffers)
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
        sparse_layer: None,
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

/// A buffer of the size of a sparse network's first weight, written and read as that tensor.
struct LayerBuffer<'a, N: SparseNetwork> {
    values: &'a mut [N::Scalar],
}

impl<N: SparseNetwork> Parameters for LayerBuffer<'_, N> {
    type Scalar = N::Scalar;
    const TENSORS: &'static [TensorSpec] = N::TENSORS.split_at(1).0;

    fn tensor(&self, _index: usize) -> &[Self::Scalar] {
        self.values
    }

    fn tensor_mut(&mut self, _index: usize) -> &mut [Self::Scalar] {
        self.values
    }
}

/// What `fit_sparse` saves of a network with a sparse input: a checkpoint with the sparse
/// layer's update state.
pub(crate) struct SparseCheckpoint<N: SparseNetwork> {
    pub network: N,
    /// The dense optimizer's state (the tensors after the first).
    pub optimizer: OptimizerState<N::Scalar>,
    /// The sparse rule's name and its caught-up state.
    pub layer: Option<(String, CaughtUpState<N::Scalar>)>,
    pub epoch: usize,
    pub history: History,
    pub best: Option<N>,
    pub fit: FitState,
}

/// The parts of a [`SparseCheckpoint`] to write, borrowed.
pub(crate) struct SparseParts<'a, N: SparseNetwork> {
    pub network: &'a N,
    pub optimizer: &'a OptimizerState<N::Scalar>,
    pub layer: Option<(&'static str, CaughtUpState<N::Scalar>)>,
    pub epoch: usize,
    pub history: &'a History,
    pub best: Option<&'a N>,
    pub fit: &'a FitState,
}

/// Writes a checkpoint of a network with a sparse input, atomically. The weights are stored
/// as in its weight file (so it loads as one), the dense optimizer's buffers as
/// `optimizer.<buffer>.<tensor>`, the sparse layer's as `optimizer.sparse.<buffer>.<weight>`.
pub(crate) fn write_sparse<N: SparseNetwork>(path: &Path, parts: SparseParts<'_, N>) -> Result<(), WeightsError> {
    let format = |message: String| WeightsError::Format {
        path: path.to_path_buf(),
        message,
    };
    let mut tensors = tensor_bytes(parts.network, "");
    let mut slots = N::zeroed_gradients();
    for (name, buffer) in &parts.optimizer.buffers {
        if buffer.len() != N::DENSE_TENSORS.len() {
            return Err(format(format!("optimizer buffer `{name}` does not match the network")));
        }
        for (i, values) in buffer.iter().enumerate() {
            let target = slots.tensor_mut(i);
            if target.len() != values.len() {
                return Err(format(format!(
                    "optimizer buffer `{name}` does not match tensor {}",
                    i + 1
                )));
            }
            target.copy_from_slice(values);
        }
        tensors.extend(tensor_bytes(&slots, &format!("optimizer.{name}.")));
    }
    let mut sparse_layer = None;
    if let Some((rule, mut state)) = parts.layer {
        let mut names = Vec::new();
        for (name, values) in &mut state.buffers {
            if values.len() != N::WIDTH * N::FEATURES {
                return Err(format(format!(
                    "the sparse layer's buffer `{name}` does not match its weight"
                )));
            }
            let buffer = LayerBuffer::<N> { values };
            tensors.extend(tensor_bytes(&buffer, &format!("optimizer.sparse.{name}.")));
            names.push(name.clone());
        }
        sparse_layer = Some(SparseLayerMeta {
            rule: rule.to_owned(),
            steps: state.steps,
            decayed: state.decayed,
            buffers: names,
        });
    }
    if let Some(best) = parts.best {
        tensors.extend(tensor_bytes(best, "best."));
    }
    let meta = Meta {
        epoch: parts.epoch,
        optimizer_kind: parts.optimizer.kind.clone(),
        optimizer_steps: parts.optimizer.steps,
        lr: parts.optimizer.lr,
        buffers: parts.optimizer.buffers.iter().map(|(n, _)| n.clone()).collect(),
        history: parts.history.clone(),
        fit: Some(parts.fit.clone()),
        sparse_layer,
    };
    let mut info = metadata_of::<N::Scalar>(N::NAME, N::DEFINITION);
    let json = serde_json::to_string(&meta).map_err(|e| format(e.to_string()))?;
    info.insert(META_KEY.to_owned(), json);
    let bytes = serialize::<N::Scalar>(&tensors, info, path)?;
    write_bytes(path, &bytes)
}

/// Reads a checkpoint written by [`write_sparse`].
///
/// # Errors
/// [`WeightsError`]: unreadable, not a checkpoint of `fit_sparse`, or tensors that do not
/// match `N`.
pub(crate) fn read_sparse<N: SparseNetwork>(path: &Path) -> Result<SparseCheckpoint<N>, WeightsError> {
    let (bytes, meta) = read_checkpoint(path)?;
    let fit = meta.fit.clone().ok_or_else(|| {
        format_error(
            path,
            "it was not written by `fit_sparse`, so the loop's state is missing".into(),
        )
    })?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| format_error(path, e.to_string()))?;
    let mut network = N::zeroed();
    read_weights(&file, &mut network, path, N::NAME)?;
    let buffers = read_buffers(&file, &meta.buffers, N::zeroed_gradients, path, N::NAME)?;
    let optimizer = meta.optimizer_state(buffers);
    let layer = match meta.sparse_layer {
        None => None,
        Some(layer) => {
            let mut state = CaughtUpState {
                steps: layer.steps,
                decayed: layer.decayed,
                buffers: Vec::new(),
            };
            for name in layer.buffers {
                let mut values = vec![<N::Scalar as crate::real::Real>::cast(0.0); N::WIDTH * N::FEATURES];
                let mut buffer = LayerBuffer::<N> { values: &mut values };
                read_tensors(
                    &file,
                    &mut buffer,
                    &format!("optimizer.sparse.{name}."),
                    path,
                    N::NAME,
                    |_| true,
                )?;
                state.buffers.push((name, values));
            }
            Some((layer.rule, state))
        }
    };
    let best = read_best(&file, N::zeroed, path, N::NAME)?;
    Ok(SparseCheckpoint {
        network,
        optimizer,
        layer,
        epoch: meta.epoch,
        history: meta.history,
        best,
        fit,
    })
}
