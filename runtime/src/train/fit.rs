//! The training loop: [`Trainer`] configures it, [`Trainer::fit`] runs it and returns a
//! [`History`].

use crate::data::sparse::SparseDataset;
use crate::data::{shuffle_order, Dataset};
use crate::error::{ShapeError, TrainError};
use crate::network::{Network, Parameters};
use crate::nn::context::Context;
use crate::nn::init::{seeded_rng, SeededRng};
use crate::nn::loss::Loss;
use crate::optim::schedule::{ReduceOnPlateau, Schedule};
use crate::optim::Optimizer;
use crate::real::Real;
use crate::train::checkpoint::{self, Checkpoint, FitState};
use crate::train::evaluation::evaluate;
use crate::train::history::{EpochRecord, History};
use crate::train::metrics::{ConfusionMatrix, Metric};
use crate::train::progress::{summary, Progress, ProgressBar};
use crate::train::regularization::Regularization;
use crate::train::session::{copy_parameters, Session};
use crate::train::stopping::{Control, EarlyStopping};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

type Callback<'a> = Box<dyn FnMut(&EpochRecord) -> Control + 'a>;
type Augment<'a, T> = Box<dyn Fn(&mut [T], &mut dyn rand::RngCore) + 'a>;

mod sparse;

/// A validation set for [`Trainer::validation`]: dense for [`Trainer::fit`], sparse for
/// [`Trainer::fit_sparse`]. Both convert from a reference with `into()`.
#[derive(Debug, Clone, Copy)]
pub enum Validation<'a, T> {
    /// Samples of a network with a dense input.
    Dense(&'a Dataset<T>),
    /// Samples of a network with a sparse input.
    Sparse(&'a SparseDataset<T>),
}

impl<'a, T> From<&'a Dataset<T>> for Validation<'a, T> {
    fn from(data: &'a Dataset<T>) -> Self {
        Validation::Dense(data)
    }
}

impl<'a, T> From<&'a SparseDataset<T>> for Validation<'a, T> {
    fn from(data: &'a SparseDataset<T>) -> Self {
        Validation::Sparse(data)
    }
}

/// Samples per run when `fit` trains one sample per step with plain SGD (gathered at once,
/// then `Session::step_each`).
const RUN: usize = 256;

/// Configures and runs training: epochs, batch size, shuffling with a seed, a validation set,
/// a learning-rate schedule, early stopping, metrics, penalties and clipping, progress and
/// callbacks.
///
/// The same seed, data, configuration and thread count give bit-identical weights and
/// history (elapsed times aside) on the same kernel path ([`crate::nn::kernels::kernel_path`]).
pub struct Trainer<'a, T: Real> {
    epochs: usize,
    batch_size: usize,
    seed: u64,
    shuffle: bool,
    validation: Option<Validation<'a, T>>,
    schedule: Option<Schedule>,
    plateau: Option<ReduceOnPlateau>,
    early_stopping: Option<EarlyStopping>,
    metrics: Vec<Metric>,
    regularization: Regularization<T>,
    progress: Progress,
    callbacks: Vec<Callback<'a>>,
    augment: Option<Augment<'a, T>>,
    checkpoint: Option<PathBuf>,
    resume: Option<PathBuf>,
    threads: usize,
}

impl<'a, T: Real> Default for Trainer<'a, T> {
    fn default() -> Self {
        Trainer {
            epochs: 10,
            batch_size: 32,
            seed: 0,
            shuffle: true,
            validation: None,
            schedule: None,
            plateau: None,
            early_stopping: None,
            metrics: Vec::new(),
            regularization: Regularization::default(),
            progress: Progress::Auto,
            callbacks: Vec::new(),
            augment: None,
            checkpoint: None,
            resume: None,
            threads: 1,
        }
    }
}

impl<'a, T: Real> Trainer<'a, T> {
    /// 10 epochs of batches of 32, shuffled with seed 0, no validation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of epochs.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Samples per batch (the last batch of an epoch may be smaller).
    ///
    /// With 1 and plain SGD (no momentum, weight decay, penalties or clipping), epochs run in
    /// runs of one-sample steps ([`Session::step_each`](crate::train::Session::step_each)):
    /// the same weights as a step per batch of one, with less memory traffic.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Splits each batch across `threads` threads of rayon's pool (default 1: no split); see
    /// [`Session::with_threads`] for what changes. Worth it for batches of a few hundred
    /// samples on networks with tens of thousands of weights or more. Without
    /// [`augment`](Self::augment), each thread copies its own share of a batch's samples from
    /// the data set, just before it computes on them.
    ///
    /// ```
    /// use retroprop_runtime::train::Trainer;
    /// let trainer = Trainer::<f32>::new().batch_size(256).threads(2);
    /// # let _ = trainer;
    /// ```
    #[cfg(feature = "parallel")]
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Data augmentation: `transform` changes each training sample's input (its `INPUT`
    /// values, in place) after the sample is gathered into its batch and before the step,
    /// drawing whatever it needs from the generator it is given, as torchvision's random
    /// transforms do. Every epoch sees freshly transformed samples; the data set itself is
    /// never changed, and validation samples are not transformed.
    ///
    /// The generator is seeded from [`seed`](Self::seed) and the epoch number, so the same
    /// seed gives the same transformed samples, also after [`resume_from`](Self::resume_from).
    /// Targets are left alone. Not available with [`fit_sparse`](Self::fit_sparse) (a
    /// [`TrainError::Config`] there).
    ///
    /// ```
    /// use rand::Rng;
    /// use retroprop_runtime::train::Trainer;
    /// // Noise on every input value, fresh in every epoch.
    /// let trainer = Trainer::<f32>::new().augment(|input, rng| {
    ///     for x in input.iter_mut() {
    ///         *x += rng.random_range(-0.01..0.01);
    ///     }
    /// });
    /// # let _ = trainer;
    /// ```
    pub fn augment(mut self, transform: impl Fn(&mut [T], &mut dyn rand::RngCore) + 'a) -> Self {
        self.augment = Some(Box::new(transform));
        self
    }

    /// With [`augment`](Self::augment): transforms each sample of the gathered batch
    /// `features` (`inputs` values per sample), drawing from `rng`.
    fn augment_batch(&self, features: &mut [T], inputs: usize, rng: &mut SeededRng) {
        if let Some(transform) = &self.augment {
            for sample in features.chunks_exact_mut(inputs) {
                transform(sample, rng);
            }
        }
    }

    /// Copies the samples at `indices` into the batch buffers: on the configured threads,
    /// since with several threads this copy would otherwise be a large serial share of a step.
    fn gather(&self, train: &Dataset<T>, indices: &[usize], features: &mut Vec<T>, targets: &mut Vec<T>) {
        #[cfg(feature = "parallel")]
        if self.threads > 1 {
            use rayon::prelude::*;
            features.resize(indices.len() * train.inputs(), T::cast(0.0));
            targets.resize(indices.len() * train.outputs(), T::cast(0.0));
            features
                .par_chunks_mut(train.inputs())
                .zip(targets.par_chunks_mut(train.outputs()))
                .zip(indices.par_iter())
                .with_min_len(16)
                .for_each(|((f, t), &i)| {
                    f.copy_from_slice(train.feature(i));
                    t.copy_from_slice(train.target(i));
                });
            return;
        }
        train.gather_into(indices, features, targets);
    }

    /// The session with batches split across the configured threads.
    fn split_batches<N: Network<Scalar = T>>(&self, session: Session<N>) -> Session<N> {
        #[cfg(feature = "parallel")]
        return session.with_threads(self.threads);
        #[cfg(not(feature = "parallel"))]
        {
            debug_assert_eq!(
                self.threads, 1,
                "only `threads` changes it, with the `parallel` feature"
            );
            session
        }
    }

    /// Seed of the shuffling and of the training context (dropout masks).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether to shuffle the training set every epoch (default true).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// A validation set, evaluated after every epoch in inference mode: a [`Dataset`] for
    /// [`fit`](Self::fit), a [`SparseDataset`] for [`fit_sparse`](Self::fit_sparse).
    pub fn validation(mut self, data: impl Into<Validation<'a, T>>) -> Self {
        self.validation = Some(data.into());
        self
    }

    /// A learning-rate schedule, from the optimizer's rate at the start of `fit`. Cannot be
    /// combined with [`reduce_on_plateau`](Self::reduce_on_plateau) (`fit` returns
    /// [`TrainError::Conflict`]).
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// Reduce the rate on a plateau of the monitored loss (validation loss if there is a
    /// validation set, training loss otherwise), as PyTorch's `ReduceLROnPlateau` wrapping the
    /// optimizer: the first epoch trains at the optimizer's learning rate, and the plateau
    /// lowers it from there. When resuming, the rate and the plateau's state come from the
    /// checkpoint. Cannot be combined with [`schedule`](Self::schedule) (`fit` returns
    /// [`TrainError::Conflict`]).
    ///
    /// ```
    /// use retroprop_runtime::train::Trainer;
    /// use retroprop_runtime::optim::ReduceOnPlateau;
    /// let trainer = Trainer::<f32>::new().reduce_on_plateau(ReduceOnPlateau::new().with_patience(3));
    /// # let _ = trainer;
    /// ```
    pub fn reduce_on_plateau(mut self, plateau: ReduceOnPlateau) -> Self {
        self.plateau = Some(plateau);
        self
    }

    /// Early stopping, restoring the best weights.
    pub fn early_stopping(mut self, early_stopping: EarlyStopping) -> Self {
        self.early_stopping = Some(early_stopping);
        self
    }

    /// A metric to compute on the validation set each epoch.
    pub fn metric(mut self, metric: Metric) -> Self {
        if !self.metrics.contains(&metric) {
            self.metrics.push(metric);
        }
        self
    }

    /// Penalties and clipping.
    pub fn regularization(mut self, regularization: Regularization<T>) -> Self {
        self.regularization = regularization;
        self
    }

    /// Progress output.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Writes a checkpoint to `path` (atomically) after every epoch: weights, optimizer
    /// state, history and the loop's own state, so that [`resume_from`](Self::resume_from)
    /// continues exactly where it stopped.
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }

    /// Resumes from a checkpoint written by [`checkpoint`](Self::checkpoint): the network,
    /// the optimizer and the loop continue from the epoch after it. With the same data and
    /// configuration the result is bit-identical to training that never stopped. `epochs`
    /// is still the total number of epochs.
    pub fn resume_from(mut self, path: impl Into<PathBuf>) -> Self {
        self.resume = Some(path.into());
        self
    }

    /// A function called after every epoch; it may stop training.
    pub fn on_epoch(mut self, callback: impl FnMut(&EpochRecord) -> Control + 'a) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// Trains `net` on `train` and returns the history.
    ///
    /// # Errors
    /// [`TrainError`] for data of the wrong width, an empty data set, a zero batch size,
    /// settings that conflict ([`TrainError::Conflict`]), a checkpoint that cannot be resumed,
    /// an optimizer that does not match, or divergence ([`TrainError::Diverged`], which names
    /// the epoch and batch; the network keeps the weights from before that batch).
    pub fn fit<N, L, O>(
        &mut self,
        net: &mut N,
        train: &Dataset<T>,
        loss: &L,
        optimizer: &mut O,
    ) -> Result<History, TrainError>
    where
        N: Network<Scalar = T>,
        L: Loss<T> + ?Sized,
        O: Optimizer<T> + ?Sized,
    {
        self.check::<N>(train)?;
        let mut state = self.start::<N>(train, optimizer.learning_rate().to_f64());
        let eval_batch = self.dense_validation()?.map_or(1, |v| v.len().min(1024));
        let mut eval_ws = N::workspace(eval_batch);
        self.resume(net, optimizer, &mut state, train.len())?;
        let show_bar = self.show_bar();
        let batches = train.len().div_ceil(self.batch_size);

        for number in state.book.start_epoch..=self.epochs {
            let start = Instant::now();
            let lr = self.epoch_lr(&state.book, optimizer, number);
            optimizer.set_learning_rate(T::cast(lr));
            if self.shuffle {
                shuffle_order(&mut state.order, &mut state.rng);
            }
            state.augment_rng = augment_rng(self.seed, number);
            let epoch = Epoch {
                number,
                start,
                bar: ProgressBar::new(show_bar, batches as u64, number, self.epochs),
            };
            let (loss_sum, penalty_sum, seen) = self.train_epoch(net, train, loss, optimizer, &mut state, &epoch)?;
            epoch.bar.finish();
            let mut record = epoch_record(number, loss_sum, penalty_sum, seen, lr);
            self.validate(net, loss, &mut eval_ws, &mut record)?;
            let stop = self.close_epoch(&mut state.book, record, start, seen, net);
            self.save_checkpoint(net, optimizer, &state, number)?;
            if stop {
                state.book.history.stopped_early = number < self.epochs;
                break;
            }
        }
        Ok(state.book.finish(net))
    }

    /// Checks the data against the network and the settings against each other, before
    /// anything else.
    fn check<N: Network<Scalar = T>>(&self, train: &Dataset<T>) -> Result<(), TrainError> {
        check_data::<N, T>(train, "training")?;
        if let Some(val) = self.dense_validation()? {
            check_data::<N, T>(val, "validation")?;
        }
        self.check_settings()
    }

    /// Checks the settings against each other.
    fn check_settings(&self) -> Result<(), TrainError> {
        if self.batch_size == 0 {
            return Err(TrainError::Config("the batch size must be at least 1".into()));
        }
        if self.schedule.is_some() && self.plateau.is_some() {
            return Err(TrainError::Conflict {
                first: "schedule",
                second: "reduce_on_plateau",
                reason: "both set the learning rate of every epoch; use one of them",
            });
        }
        Ok(())
    }

    /// The loop's state before the first epoch, with `lr` (the optimizer's rate) as the base
    /// of the schedule and the plateau scheduler's first rate.
    fn start<N: Network<Scalar = T>>(&self, train: &Dataset<T>, lr: f64) -> LoopState<N> {
        let max_batch = self.batch_size.min(train.len());
        let session = Session::<N>::new(max_batch, self.seed ^ 0x5eed_d20b_0a7e_u64)
            .with_regularization(self.regularization)
            .with_last_good_guard(true);
        LoopState {
            session: self.split_batches(session),
            rng: seeded_rng(self.seed),
            augment_rng: augment_rng(self.seed, 1),
            order: (0..train.len()).collect(),
            features: Vec::new(),
            targets: Vec::new(),
            book: EpochBook::new(lr, self.plateau.clone()),
        }
    }

    /// With [`resume_from`](Self::resume_from): restores `net`, `optimizer` and the loop's
    /// state from the checkpoint, after checking that it fits this training set and
    /// configuration.
    fn resume<N, O>(
        &self,
        net: &mut N,
        optimizer: &mut O,
        state: &mut LoopState<N>,
        train_len: usize,
    ) -> Result<(), TrainError>
    where
        N: Network<Scalar = T>,
        O: Optimizer<T> + ?Sized,
    {
        let Some(path) = &self.resume else {
            return Ok(());
        };
        let checkpoint_error = |message: String| TrainError::Checkpoint {
            path: path.clone(),
            message,
        };
        let checkpoint = Checkpoint::<N>::load(path).map_err(|e| checkpoint_error(e.to_string()))?;
        let saved = checkpoint
            .fit
            .ok_or_else(|| checkpoint_error("it was not written by `fit`, so the loop's state is missing".into()))?;
        self.check_saved(path, &saved, train_len)?;
        copy_parameters(&checkpoint.network, net);
        optimizer.set_state(checkpoint.optimizer)?;
        state.session.context = saved.context.clone();
        restore_loop(
            &mut state.book,
            &mut state.rng,
            &mut state.order,
            saved,
            (checkpoint.epoch, checkpoint.history, checkpoint.best),
            optimizer.learning_rate().to_f64(),
        );
        Ok(())
    }

    /// Checks the loop state of the checkpoint at `path` against this training set (of
    /// `train_len` samples) and configuration.
    fn check_saved(&self, path: &std::path::Path, saved: &FitState, train_len: usize) -> Result<(), TrainError> {
        let checkpoint_error = |message: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            message,
        };
        let mut sorted = saved.order.clone();
        sorted.sort_unstable();
        if sorted.len() != train_len || sorted.iter().enumerate().any(|(i, &j)| i != j) {
            return Err(checkpoint_error(format!(
                "it was written for a training set of {} samples, not {}",
                saved.order.len(),
                train_len
            )));
        }
        if saved.plateau.is_some() != self.plateau.is_some() {
            let (with, without) = if saved.plateau.is_some() {
                ("with", "has none")
            } else {
                ("without", "has one")
            };
            return Err(checkpoint_error(format!(
                "it was written {with} `reduce_on_plateau`, but this `Trainer` {without}"
            )));
        }
        Ok(())
    }

    /// The learning rate of epoch `number` (from 1): the schedule's, the plateau scheduler's,
    /// or the optimizer's own.
    fn epoch_lr<N, O>(&self, book: &EpochBook<N>, optimizer: &O, number: usize) -> f64
    where
        O: Optimizer<T> + ?Sized,
    {
        match (&self.schedule, &book.plateau) {
            (Some(schedule), _) => schedule.lr_at(book.base_lr, number - 1),
            (None, Some(_)) => book.plateau_lr,
            (None, None) => optimizer.learning_rate().to_f64(),
        }
    }

    /// One pass over the training set in `state.order`; returns the sums over its samples of
    /// the loss and of the penalty, and the number of samples.
    fn train_epoch<N, L, O>(
        &self,
        net: &mut N,
        train: &Dataset<T>,
        loss: &L,
        optimizer: &mut O,
        state: &mut LoopState<N>,
        epoch: &Epoch,
    ) -> Result<(f64, f64, usize), TrainError>
    where
        N: Network<Scalar = T>,
        L: Loss<T> + ?Sized,
        O: Optimizer<T> + ?Sized,
    {
        if self.batch_size == 1 && state.session.runs_fuse(optimizer) {
            self.train_in_runs(net, train, loss, optimizer, state, epoch)
        } else {
            self.train_in_batches(net, train, loss, optimizer, state, epoch)
        }
    }

    /// [`train_epoch`](Self::train_epoch) with one sample per step and plain SGD: runs of
    /// steps, each gathered at once and trained with one-pass updates (`Session::step_each`):
    /// the same weights as a step per sample (the epoch's loss is summed run by run, equal to
    /// rounding).
    fn train_in_runs<N, L, O>(
        &self,
        net: &mut N,
        train: &Dataset<T>,
        loss: &L,
        optimizer: &mut O,
        state: &mut LoopState<N>,
        epoch: &Epoch,
    ) -> Result<(f64, f64, usize), TrainError>
    where
        N: Network<Scalar = T>,
        L: Loss<T> + ?Sized,
        O: Optimizer<T> + ?Sized,
    {
        let (mut loss_sum, mut seen) = (0.0, 0usize);
        for (run, indices) in state.order.chunks(RUN).enumerate() {
            self.gather(train, indices, &mut state.features, &mut state.targets);
            self.augment_batch(&mut state.features, train.inputs(), &mut state.augment_rng);
            loss_sum += state
                .session
                .run(net, &state.features, &state.targets, loss, optimizer)
                .map_err(|error| match error {
                    TrainError::InRun { index, source } => diverged(*source, epoch.number, run * RUN + index + 1),
                    other => other,
                })?;
            seen += indices.len();
            epoch.bar.update(seen as u64, loss_sum / seen as f64, seen, epoch.start);
        }
        Ok((loss_sum, 0.0, seen))
    }

    /// [`train_epoch`](Self::train_epoch) with a [`Session::step`] per batch.
    fn train_in_batches<N, L, O>(
        &self,
        net: &mut N,
        train: &Dataset<T>,
        loss: &L,
        optimizer: &mut O,
        state: &mut LoopState<N>,
        epoch: &Epoch,
    ) -> Result<(f64, f64, usize), TrainError>
    where
        N: Network<Scalar = T>,
        L: Loss<T> + ?Sized,
        O: Optimizer<T> + ?Sized,
    {
        let (mut loss_sum, mut penalty_sum, mut seen) = (0.0, 0.0, 0usize);
        for (index, indices) in state.order.chunks(self.batch_size).enumerate() {
            let step = if self.augment.is_none() {
                // Split across threads, each part copies its own samples.
                let gather = |first: usize, features: &mut [T], targets: &mut [T]| {
                    copy_samples(train, &indices[first..], features, targets);
                };
                let buffers = (&mut state.features, &mut state.targets);
                state
                    .session
                    .step_gathered(net, indices.len(), &gather, buffers, loss, optimizer)
            } else {
                self.gather(train, indices, &mut state.features, &mut state.targets);
                self.augment_batch(&mut state.features, train.inputs(), &mut state.augment_rng);
                state
                    .session
                    .step(net, &state.features, &state.targets, loss, optimizer)
            };
            let value = step.map_err(|error| diverged(error, epoch.number, index + 1))?;
            let n = indices.len();
            loss_sum += value.to_f64() * n as f64;
            penalty_sum += state.session.last_penalty() * n as f64;
            seen += n;
            epoch
                .bar
                .update(index as u64 + 1, loss_sum / seen as f64, seen, epoch.start);
        }
        Ok((loss_sum, penalty_sum, seen))
    }

    /// With a validation set: its loss and the metrics, into `record`.
    fn validate<N, L>(
        &self,
        net: &N,
        loss: &L,
        ws: &mut N::Workspace,
        record: &mut EpochRecord,
    ) -> Result<(), TrainError>
    where
        N: Network<Scalar = T>,
        L: Loss<T> + ?Sized,
    {
        if let Some(val) = self.dense_validation()? {
            let (val_loss, cm) = evaluate(net, val, loss, ws, !self.metrics.is_empty())?;
            self.record_validation(record, val_loss, cm);
        }
        Ok(())
    }

    /// Whether epochs show a progress bar: with `Progress::Auto`, on a terminal, outside CI.
    fn show_bar(&self) -> bool {
        self.progress == Progress::Auto && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
    }

    /// The end of epoch `record.epoch`, after its validation: its time since `start`, the
    /// plateau scheduler and early stopping, its summary line and callbacks, and the history.
    /// Whether training ends after it (early stopping or a callback).
    fn close_epoch<N: Parameters + Clone>(
        &mut self,
        book: &mut EpochBook<N>,
        mut record: EpochRecord,
        start: Instant,
        seen: usize,
        net: &N,
    ) -> bool {
        record.elapsed_secs = start.elapsed().as_secs_f64();
        let monitored = record.val_loss.unwrap_or(record.train_loss);
        let early = book.end_epoch(self.early_stopping, monitored, record.lr, record.epoch, net);
        let asked = self.report(&record, seen);
        book.history.epochs.push(record);
        early || asked
    }

    /// The validation loss and the metrics from its confusion matrix, into `record`.
    fn record_validation(&self, record: &mut EpochRecord, val_loss: f64, cm: Option<ConfusionMatrix>) {
        record.val_loss = Some(val_loss);
        if let Some(cm) = cm {
            for metric in &self.metrics {
                record.metrics.insert(metric.name().to_owned(), metric.value(&cm));
            }
        }
    }

    /// The validation set of a dense network.
    fn dense_validation(&self) -> Result<Option<&'a Dataset<T>>, TrainError> {
        match self.validation {
            None => Ok(None),
            Some(Validation::Dense(data)) => Ok(Some(data)),
            Some(Validation::Sparse(_)) => Err(TrainError::Config(
                "the validation set is sparse, but `fit` trains a network with a dense input; use `fit_sparse` \
                 for a network with `input: sparse(n)`"
                    .into(),
            )),
        }
    }

    /// Prints the epoch's summary line (unless quiet) and calls every callback; whether one
    /// of them asked to stop.
    fn report(&mut self, record: &EpochRecord, seen: usize) -> bool {
        if self.progress != Progress::Quiet {
            eprintln!("{}", summary(record, self.epochs, seen));
        }
        let mut stop = false;
        for callback in &mut self.callbacks {
            if callback(record) == Control::Stop {
                stop = true;
            }
        }
        stop
    }

    /// With [`checkpoint`](Self::checkpoint): writes the network, the optimizer's state and
    /// the loop's state after epoch `number`.
    fn save_checkpoint<N, O>(
        &self,
        net: &N,
        optimizer: &O,
        state: &LoopState<N>,
        number: usize,
    ) -> Result<(), TrainError>
    where
        N: Network<Scalar = T>,
        O: Optimizer<T> + ?Sized,
    {
        let Some(path) = &self.checkpoint else {
            return Ok(());
        };
        let saved = saved_loop(&state.book, &state.rng, &state.order, &state.session.context);
        let best_weights = state.book.best.as_ref().map(|(_, _, weights)| weights);
        checkpoint::write(
            path,
            net,
            &optimizer.state(),
            number,
            &state.book.history,
            best_weights,
            Some(&saved),
        )
        .map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            message: e.to_string(),
        })
    }
}

/// Restores the loop's state from a checkpoint's: the book (from `saved` and the checkpoint's
/// `(epoch, history, best weights)`), the shuffling generator and the order; `optimizer_lr` is
/// the resumed optimizer's rate, the plateau's rate for checkpoints written before it was saved.
fn restore_loop<N>(
    book: &mut EpochBook<N>,
    rng: &mut SeededRng,
    order: &mut Vec<usize>,
    saved: FitState,
    (epoch, history, best): (usize, History, Option<N>),
    optimizer_lr: f64,
) {
    book.history = history;
    book.start_epoch = epoch + 1;
    *rng = saved.shuffle_rng;
    *order = saved.order;
    book.waited = saved.waited;
    book.plateau = saved.plateau;
    book.base_lr = saved.base_lr;
    // Checkpoints written before the plateau's rate was saved: the optimizer's, which is the
    // rate of the checkpoint's last epoch.
    book.plateau_lr = saved.plateau_lr.unwrap_or(optimizer_lr);
    book.best = match (saved.best, best) {
        (Some((value, epoch)), Some(weights)) => Some((value, epoch, weights)),
        _ => None,
    };
}

/// The loop's state to save in a checkpoint: the book's, the shuffling generator's, the
/// order and the training context.
fn saved_loop<N>(book: &EpochBook<N>, rng: &SeededRng, order: &[usize], context: &Context) -> FitState {
    FitState {
        shuffle_rng: rng.clone(),
        context: context.clone(),
        order: order.to_vec(),
        best: book.best.as_ref().map(|(value, at, _)| (*value, *at)),
        waited: book.waited,
        plateau: book.plateau.clone(),
        plateau_lr: book.plateau.is_some().then_some(book.plateau_lr),
        base_lr: book.base_lr,
    }
}

/// The generator of [`Trainer::augment`]'s transforms in epoch `number` (from 1) of a
/// trainer seeded with `seed`: a stream of its own, so augmenting changes neither the shuffles
/// nor dropout's masks, and a function of the epoch, so resuming needs no saved state.
fn augment_rng(seed: u64, number: usize) -> SeededRng {
    let mut rng = seeded_rng(seed ^ 0xa06e_47a7_e5ee_d000);
    rng.set_stream(number as u64);
    rng
}

/// The state of `fit` between epochs, besides the network and the optimizer: what a
/// checkpoint saves and resuming restores.
struct LoopState<N: Network> {
    /// Buffers, gradients and the training context (dropout masks).
    session: Session<N>,
    /// The shuffling generator.
    rng: SeededRng,
    /// The generator of [`Trainer::augment`]'s transforms in this epoch.
    augment_rng: SeededRng,
    /// Epochs visit the training set in this order, shuffled in place; each batch is
    /// gathered into `features` and `targets` (the data set itself is neither copied nor
    /// moved).
    order: Vec<usize>,
    features: Vec<N::Scalar>,
    targets: Vec<N::Scalar>,
    book: EpochBook<N>,
}

/// What the loop keeps from epoch to epoch, whatever the network's input: the learning
/// rates, early stopping's best weights and the history.
struct EpochBook<N> {
    /// The learning rate the schedule starts from.
    base_lr: f64,
    /// The plateau scheduler.
    plateau: Option<ReduceOnPlateau>,
    /// The rate of the next epoch under the plateau scheduler (at first the optimizer's).
    plateau_lr: f64,
    /// The best monitored loss, its epoch and its weights, for early stopping.
    best: Option<(f64, usize, N)>,
    /// Epochs without improvement.
    waited: usize,
    history: History,
    /// The first epoch to run (from 1; later when resuming).
    start_epoch: usize,
}

impl<N> EpochBook<N> {
    /// The book before the first epoch, with `lr` (the optimizer's rate) as the base of the
    /// schedule and the plateau scheduler's first rate.
    fn new(lr: f64, plateau: Option<ReduceOnPlateau>) -> Self {
        EpochBook {
            base_lr: lr,
            plateau,
            plateau_lr: lr,
            best: None,
            waited: 0,
            history: History {
                epochs: Vec::new(),
                best_epoch: None,
                stopped_early: false,
            },
            start_epoch: 1,
        }
    }
}

impl<N: Parameters + Clone> EpochBook<N> {
    /// The bookkeeping after epoch `number`, which ran at rate `lr` and whose monitored loss
    /// was `monitored`: the plateau scheduler's step, and early stopping's best weights and
    /// patience. Whether early stopping ends training.
    fn end_epoch(
        &mut self,
        early_stopping: Option<EarlyStopping>,
        monitored: f64,
        lr: f64,
        number: usize,
        net: &N,
    ) -> bool {
        if let Some(p) = &mut self.plateau {
            self.plateau_lr = p.step(monitored, lr);
        }
        let Some(es) = early_stopping else {
            return false;
        };
        let improved = self.best.as_ref().is_none_or(|(b, _, _)| monitored < b - es.min_delta);
        if improved {
            self.waited = 0;
            match &mut self.best {
                Some((value, at, copy)) => {
                    *value = monitored;
                    *at = number;
                    copy_parameters(net, copy);
                }
                None => self.best = Some((monitored, number, net.clone())),
            }
            false
        } else {
            self.waited += 1;
            self.waited >= es.patience
        }
    }

    /// The history, after putting the best weights back into `net` if early stopping kept
    /// some.
    fn finish(self, net: &mut N) -> History {
        let mut history = self.history;
        if let Some((_, at, copy)) = &self.best {
            copy_parameters(copy, net);
            history.best_epoch = Some(*at);
        }
        history
    }
}

/// The epoch being run: its number (from 1), when it started and its progress bar.
struct Epoch {
    number: usize,
    start: Instant,
    bar: ProgressBar,
}

fn check_data<N: Network, T: Real>(data: &Dataset<T>, what: &'static str) -> Result<(), TrainError> {
    check_widths(
        ("inputs", data.inputs(), N::INPUT),
        data.outputs(),
        N::OUTPUT,
        data.is_empty(),
        what,
    )
}

/// Checks a data set's input width (`(what, has, expected)`) and output width against the
/// network's, and that it has samples.
fn check_widths(
    (inputs, has_inputs, expected_inputs): (&'static str, usize, usize),
    outputs: usize,
    expected_outputs: usize,
    empty: bool,
    what: &'static str,
) -> Result<(), TrainError> {
    if has_inputs != expected_inputs {
        return Err(ShapeError::Width {
            what: inputs,
            expected: expected_inputs,
            actual: has_inputs,
        }
        .into());
    }
    if outputs != expected_outputs {
        return Err(ShapeError::Width {
            what: "outputs",
            expected: expected_outputs,
            actual: outputs,
        }
        .into());
    }
    if empty {
        return Err(TrainError::EmptyDataset { what });
    }
    Ok(())
}

/// The record of epoch `number` (trained at rate `lr`) before validation, from the sums of
/// its samples' losses and penalties.
fn epoch_record(number: usize, loss_sum: f64, penalty_sum: f64, seen: usize, lr: f64) -> EpochRecord {
    EpochRecord {
        epoch: number,
        train_loss: loss_sum / seen.max(1) as f64,
        penalty: penalty_sum / seen.max(1) as f64,
        val_loss: None,
        metrics: BTreeMap::new(),
        lr,
        elapsed_secs: 0.0,
    }
}

/// A step's error as the loop reports it: a non-finite value becomes divergence at batch
/// `batch` (from 1) of epoch `epoch`.
fn diverged(error: TrainError, epoch: usize, batch: usize) -> TrainError {
    match error {
        TrainError::NonFinite { what, value } => TrainError::Diverged {
            epoch,
            batch,
            what,
            value,
        },
        other => other,
    }
}

/// Copies the samples at `indices` of `train` into `features` and `targets`, as many as they
/// hold (the indices are the shuffled order's: all in range).
fn copy_samples<T: Real>(train: &Dataset<T>, indices: &[usize], features: &mut [T], targets: &mut [T]) {
    let samples = features
        .chunks_exact_mut(train.inputs())
        .zip(targets.chunks_exact_mut(train.outputs()));
    for ((features, targets), &i) in samples.zip(indices) {
        features.copy_from_slice(train.feature(i));
        targets.copy_from_slice(train.target(i));
    }
}
