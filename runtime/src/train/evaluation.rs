//! Evaluation in inference mode: the mean loss of a batch, and the loss and confusion matrix
//! over a whole data set.

use crate::data::{argmax_columns, Dataset};
use crate::error::{ShapeError, TrainError};
use crate::network::{Network, Workspace};
use crate::nn::loss::Loss;
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
    let classes = if N::OUTPUT == 1 { 2 } else { N::OUTPUT };
    let mut cm = if confusion {
        Some(ConfusionMatrix::new(classes).map_err(|e| TrainError::Config(e.to_string()))?)
    } else {
        None
    };
    let (mut sum, mut seen) = (0.0, 0usize);
    let mut predicted = Vec::new();
    let mut actual = Vec::new();
    for batch in data.batches(chunk).map_err(|e| TrainError::Config(e.to_string()))? {
        let output = net.forward_into(batch.features, ws)?;
        sum += loss.loss(&output, batch.targets).to_f64() * batch.len() as f64;
        seen += batch.len();
        if let Some(cm) = &mut cm {
            predicted.clear();
            actual.clear();
            if N::OUTPUT == 1 {
                let half = N::Scalar::cast(0.5);
                predicted.extend(output.act.iter().map(|&p| usize::from(p >= half)));
                actual.extend(batch.targets.iter().map(|&y| usize::from(y >= half)));
            } else {
                predicted.extend(argmax_columns(output.act, N::OUTPUT));
                actual.extend(argmax_columns(batch.targets, N::OUTPUT));
            }
            let part = ConfusionMatrix::from_classes(&predicted, &actual, classes)
                .map_err(|e| TrainError::Config(e.to_string()))?;
            cm.merge(&part);
        }
    }
    Ok((sum / seen.max(1) as f64, cm))
}
