//! [`Trainer::fit_sparse`]: the training loop for a network with a sparse input.

use super::{check_widths, diverged, epoch_record, Epoch, EpochBook, Trainer, Validation};
use crate::data::shuffle_order;
use crate::data::sparse::{SparseDataset, SparseRows};
use crate::error::TrainError;
use crate::network::SparseNetwork;
use crate::nn::init::seeded_rng;
use crate::nn::loss::Loss;
use crate::optim::Optimizer;
use crate::real::Real;
use crate::train::evaluation::evaluate_sparse;
use crate::train::history::History;
use crate::train::progress::ProgressBar;
use crate::train::sparse_session::SparseSession;
use std::time::Instant;

impl<'a, T: Real> Trainer<'a, T> {
    /// Trains a network with a sparse input (`input: sparse(n)`) on `train` and returns the
    /// history: the loop of [`fit`](Self::fit), with a [`SparseSession`] step per batch, so
    /// that every step costs what the batch holds (see [`SparseSession`] for how each
    /// optimizer treats the sparse layer). Epochs, batch size, shuffling and its seed, a
    /// sparse validation set ([`validation`](Self::validation)), schedules, the plateau
    /// scheduler, early stopping with the best weights, metrics, penalties and clipping,
    /// progress and callbacks work as in `fit`; the same seed gives the same shuffles as
    /// `fit` on a data set of the same length. With SGD momentum, lagging columns are
    /// caught up before each validation and at the end.
    ///
    /// Steps run on the calling thread (`threads`, of the `parallel` feature, does not apply), and the
    /// finiteness guard is on, as in `fit`.
    ///
    /// # Errors
    /// [`TrainError`] for data of another feature count or output width, an empty data set,
    /// a dense validation set, a zero batch size, conflicting settings, an optimizer without
    /// a sparse rule ([`OptimError::NoSparseRule`](crate::OptimError::NoSparseRule)), or
    /// divergence ([`TrainError::Diverged`]). [`TrainError::Config`] with
    /// [`checkpoint`](Self::checkpoint) or [`resume_from`](Self::resume_from): checkpoints
    /// of sparse networks (whose optimizer state includes the sparse rule's) are not
    /// supported yet; save the weights after training instead.
    pub fn fit_sparse<N, L, O>(
        &mut self,
        net: &mut N,
        train: &SparseDataset<T>,
        loss: &L,
        optimizer: &mut O,
    ) -> Result<History, TrainError>
    where
        N: SparseNetwork<Scalar = T>,
        L: Loss<T> + ?Sized,
        O: Optimizer<T> + ?Sized,
    {
        let validation = self.sparse_validation()?;
        check_sparse_data::<N, T>(train, "training")?;
        if let Some(val) = validation {
            check_sparse_data::<N, T>(val, "validation")?;
        }
        self.check_settings()?;
        if self.checkpoint.is_some() || self.resume.is_some() {
            return Err(TrainError::Config(
                "checkpoints of networks with a sparse input are not supported yet; save the weights after \
                 `fit_sparse` instead"
                    .into(),
            ));
        }
        optimizer.sparse_rule()?;
        let max_batch = self.batch_size.min(train.len());
        let mut session = SparseSession::<N>::new(max_batch, self.seed ^ 0x5eed_d20b_0a7e_u64)
            .with_regularization(self.regularization)
            .with_last_good_guard(true);
        let mut book = EpochBook::<N>::new(optimizer.learning_rate().to_f64(), self.plateau.clone());
        let mut rng = seeded_rng(self.seed);
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut rows = SparseRows::empty(N::FEATURES).map_err(|e| TrainError::Config(e.to_string()))?;
        let mut targets = Vec::new();
        let mut eval_ws = N::workspace(validation.map_or(1, |v| v.len().min(1024)));
        let show_bar = self.show_bar();
        let batches = train.len().div_ceil(self.batch_size);

        for number in book.start_epoch..=self.epochs {
            let start = Instant::now();
            let lr = self.epoch_lr(&book, optimizer, number);
            // Momentum's missed steps are taken at the rate they were missed at.
            session.catch_up(net);
            optimizer.set_learning_rate(T::cast(lr));
            if self.shuffle {
                shuffle_order(&mut order, &mut rng);
            }
            let epoch = Epoch {
                number,
                start,
                bar: ProgressBar::new(show_bar, batches as u64, number, self.epochs),
            };
            let (mut loss_sum, mut penalty_sum, mut seen) = (0.0, 0.0, 0usize);
            for (index, indices) in order.chunks(self.batch_size).enumerate() {
                train.gather_into(indices, &mut rows, &mut targets);
                let value = session
                    .step(net, &rows.as_batch(), &targets, loss, optimizer)
                    .map_err(|error| diverged(error, number, index + 1))?;
                let n = indices.len();
                loss_sum += value.to_f64() * n as f64;
                penalty_sum += session.last_penalty() * n as f64;
                seen += n;
                epoch
                    .bar
                    .update(index as u64 + 1, loss_sum / seen as f64, seen, epoch.start);
            }
            epoch.bar.finish();
            session.catch_up(net);
            let mut record = epoch_record(number, loss_sum, penalty_sum, seen, lr);
            if let Some(val) = validation {
                let (val_loss, cm) = evaluate_sparse(net, val, loss, &mut eval_ws, !self.metrics.is_empty())?;
                self.record_validation(&mut record, val_loss, cm);
            }
            if self.close_epoch(&mut book, record, start, seen, net) {
                book.history.stopped_early = number < self.epochs;
                break;
            }
        }
        Ok(book.finish(net))
    }

    /// The validation set of a sparse network.
    fn sparse_validation(&self) -> Result<Option<&'a SparseDataset<T>>, TrainError> {
        match self.validation {
            None => Ok(None),
            Some(Validation::Sparse(data)) => Ok(Some(data)),
            Some(Validation::Dense(_)) => Err(TrainError::Config(
                "the validation set is dense, but `fit_sparse` trains a network with a sparse input; build it as \
                 a `SparseDataset`"
                    .into(),
            )),
        }
    }
}

fn check_sparse_data<N: SparseNetwork, T: Real>(data: &SparseDataset<T>, what: &'static str) -> Result<(), TrainError> {
    check_widths(
        ("features", data.features(), N::FEATURES),
        data.outputs(),
        N::OUTPUT,
        data.is_empty(),
        what,
    )
}
