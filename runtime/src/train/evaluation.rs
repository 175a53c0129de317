//! Evaluation in inference mode: the mean loss of a batch, and the loss and confusion matrix
//! over a whole data set.

use crate::data::sparse::SparseDataset;
use crate::data::{argmax_columns, Dataset};
use crate::error::{ShapeError, TrainError};
use crate::network::{Network, SparseNetwork, Workspace};
use crate::nn::loss::{Loss, Output};
use crate::real::Real;
use crate::shape::batch_len;
use crate::train::metrics::ConfusionMatrix;

/// The mean loss of `net` on a batch, in inference mode.
///
/// # Errors
/// [`ShapeError`] if the batch does not fit the network or the workspace.
pub fn evaluate_loss<N, L>(
    net: &N,
    x: &[N::Scalar],
    target: &[N::Scalar],
    loss: &L,
    ws: &mut N::Workspace,
) -> Result<N::Scalar, ShapeError>
where
    N: Network,
    L: Loss<N::Scalar> + ?Sized,
{
    batch_len(x.len(), target.len(), N::INPUT, N::OUTPUT, ws.capacity())?;
    let output = net.forward_into(x, ws)?;
    Ok(loss.loss(&output, target))
}

/// Mean loss over a whole data set in inference mode and, if asked, its confusion matrix
/// (argmax classes; for a single output, the threshold 0.5).
///
/// # Errors
/// [`TrainError`] if the data does not fit the network.
pub fn evaluate<N, L>(
    net: &N,
    data: &Dataset<N::Scalar>,
    loss: &L,
    ws: &mut N::Workspace,
    confusion: bool,
) -> Result<(f64, Option<ConfusionMatrix>), TrainError>
where
    N: Network,
    L: Loss<N::Scalar> + ?Sized,
{
    let chunk = ws.capacity().max(1);
    let mut tally = Tally::new(N::OUTPUT, confusion)?;
    for batch in data.batches(chunk).map_err(|e| TrainError::Config(e.to_string()))? {
        let output = net.forward_into(batch.features, ws)?;
        tally.add(loss, &output, batch.targets)?;
    }
    Ok(tally.finish())
}

/// [`evaluate`] for a network with a sparse input, over a [`SparseDataset`].
///
/// # Errors
/// [`TrainError`] if the data does not fit the network.
pub fn evaluate_sparse<N, L>(
    net: &N,
    data: &SparseDataset<N::Scalar>,
    loss: &L,
    ws: &mut N::Workspace,
    confusion: bool,
) -> Result<(f64, Option<ConfusionMatrix>), TrainError>
where
    N: SparseNetwork,
    L: Loss<N::Scalar> + ?Sized,
{
    let chunk = ws.capacity().max(1);
    let mut tally = Tally::new(N::OUTPUT, confusion)?;
    for (features, targets) in data.batches(chunk).map_err(|e| TrainError::Config(e.to_string()))? {
        let output = net.forward_sparse_into(&features, ws)?;
        tally.add(loss, &output, targets)?;
    }
    Ok(tally.finish())
}

/// The sums of an evaluation: the loss and, if asked, the confusion matrix (argmax classes;
/// for a single output, the threshold 0.5).
struct Tally {
    outputs: usize,
    classes: usize,
    cm: Option<ConfusionMatrix>,
    sum: f64,
    seen: usize,
    predicted: Vec<usize>,
    actual: Vec<usize>,
}

impl Tally {
    fn new(outputs: usize, confusion: bool) -> Result<Self, TrainError> {
        let classes = if outputs == 1 { 2 } else { outputs };
        let cm = if confusion {
            Some(ConfusionMatrix::new(classes).map_err(|e| TrainError::Config(e.to_string()))?)
        } else {
            None
        };
        Ok(Tally {
            outputs,
            classes,
            cm,
            sum: 0.0,
            seen: 0,
            predicted: Vec::new(),
            actual: Vec::new(),
        })
    }

    fn add<T: Real, L: Loss<T> + ?Sized>(
        &mut self,
        loss: &L,
        output: &Output<'_, T>,
        targets: &[T],
    ) -> Result<(), TrainError> {
        let n = targets.len() / self.outputs;
        self.sum += loss.loss(output, targets).to_f64() * n as f64;
        self.seen += n;
        if let Some(cm) = &mut self.cm {
            self.predicted.clear();
            self.actual.clear();
            if self.outputs == 1 {
                let half = T::cast(0.5);
                self.predicted
                    .extend(output.act.iter().map(|&p| usize::from(p >= half)));
                self.actual.extend(targets.iter().map(|&y| usize::from(y >= half)));
            } else {
                self.predicted.extend(argmax_columns(output.act, self.outputs));
                self.actual.extend(argmax_columns(targets, self.outputs));
            }
            let part = ConfusionMatrix::from_classes(&self.predicted, &self.actual, self.classes)
                .map_err(|e| TrainError::Config(e.to_string()))?;
            cm.merge(&part);
        }
        Ok(())
    }

    fn finish(self) -> (f64, Option<ConfusionMatrix>) {
        (self.sum / self.seen.max(1) as f64, self.cm)
    }
}
