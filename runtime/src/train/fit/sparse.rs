//! [`Trainer::fit_sparse`]: the training loop for a network with a sparse input.

use super::{check_widths, diverged, epoch_record, restore_loop, saved_loop, Epoch, EpochBook, Trainer, Validation};
use crate::data::shuffle_order;
use crate::data::sparse::{SparseDataset, SparseRows};
use crate::error::TrainError;
use crate::network::SparseNetwork;
use crate::nn::init::seeded_rng;
use crate::nn::loss::Loss;
use crate::optim::Optimizer;
use crate::real::Real;
use crate::train::checkpoint::{self, SparseParts};
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
    /// progress, callbacks, [`checkpoint`](Self::checkpoint) and
    /// [`resume_from`](Self::resume_from) work as in `fit`; the same seed gives the same
    /// shuffles as `fit` on a data set of the same length. With SGD momentum or AdamW,
    /// lagging columns are caught up before each validation, each checkpoint and at the end.
    ///
    /// A checkpoint holds the weights (it loads as a weight file, also in PyTorch), the
    /// optimizer's state for the dense tensors, the sparse rule's state
    /// (`optimizer.sparse.<buffer>.<weight>`, e.g. `optimizer.sparse.exp_avg.hidden.weight`,
    /// each as large as the sparse weight) and the loop's state; resuming continues bit for
    /// bit as if training had not stopped.
    ///
    /// Steps run on the calling thread (`threads`, of the `parallel` feature, does not apply), and the
    /// finiteness guard is on, as in `fit`.
    ///
    /// # Errors
    /// [`TrainError`] for data of another feature count or output width, an empty data set,
    /// a dense validation set, a zero batch size, conflicting settings, an optimizer without
    /// a sparse rule ([`OptimError::NoSparseRule`](crate::OptimError::NoSparseRule)), or
    /// divergence ([`TrainError::Diverged`]), a checkpoint that cannot be resumed
    /// ([`TrainError::Checkpoint`]: another training set or plateau setting, another
    /// optimizer or sparse rule, or a file that is not a checkpoint of `fit_sparse`).
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
        if self.augment.is_some() {
            return Err(TrainError::Config(
                "`augment` transforms dense inputs; it is not available with `fit_sparse`".into(),
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
        if let Some(path) = &self.resume {
            let checkpoint_error = |message: String| TrainError::Checkpoint {
                path: path.clone(),
                message,
            };
            let saved = checkpoint::read_sparse::<N>(path).map_err(|e| checkpoint_error(e.to_string()))?;
            self.check_saved(path, &saved.fit, train.len())?;
            let (kind, state) = saved
                .layer
                .ok_or_else(|| checkpoint_error("it holds no state of the sparse layer's update".into()))?;
            optimizer.set_state(saved.optimizer)?;
            session
                .restore_layer_state(optimizer, &kind, state)
                .map_err(|e| checkpoint_error(e.to_string()))?;
            *net = saved.network;
            session.context = saved.fit.context.clone();
            restore_loop(
                &mut book,
                &mut rng,
                &mut order,
                saved.fit,
                (saved.epoch, saved.history, saved.best),
                optimizer.learning_rate().to_f64(),
            );
        }
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
            let stop = self.close_epoch(&mut book, record, start, seen, net);
            if let Some(path) = &self.checkpoint {
                let fit = saved_loop(&book, &rng, &order, &session.context);
                let parts = SparseParts {
                    layer: session.layer_state(net),
                    network: net,
                    optimizer: &optimizer.state(),
                    epoch: number,
                    history: &book.history,
                    best: book.best.as_ref().map(|(_, _, weights)| weights),
                    fit: &fit,
                };
                checkpoint::write_sparse(path, parts).map_err(|e| TrainError::Checkpoint {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            }
            if stop {
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
