//! Learning-rate schedules, stepped once per epoch as PyTorch's `lr_scheduler`s are.
//!
//! A [`Schedule`] is a pure function of the epoch ([`Schedule::lr_at`]); [`ReduceOnPlateau`]
//! depends on the validation loss and has its own stateful type.

use std::f64::consts::PI;

/// A learning-rate schedule: the rate for each epoch, from the optimizer's base rate.
///
/// ```
/// use retroprop_runtime::optim::schedule::Schedule;
/// let schedule = Schedule::step(10, 0.5).with_warmup(0.1, 5);
/// assert!((schedule.lr_at(0.1, 0) - 0.01).abs() < 1e-12); // warm-up starts at 10%
/// assert!((schedule.lr_at(0.1, 5) - 0.1).abs() < 1e-12);  // then the step schedule
/// assert!((schedule.lr_at(0.1, 15) - 0.05).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// Multiply by `gamma` every `step_size` epochs (`StepLR`).
    Step {
        /// Epochs between decays.
        step_size: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// Multiply by `gamma` every epoch (`ExponentialLR`).
    Exponential {
        /// Decay factor.
        gamma: f64,
    },
    /// Cosine annealing from the base rate to `eta_min` over `t_max` epochs
    /// (`CosineAnnealingLR`, closed form; past `t_max` the cosine continues, as PyTorch's).
    Cosine {
        /// Epochs of one half period.
        t_max: usize,
        /// The minimum rate.
        eta_min: f64,
    },
    /// Linear warm-up from `start_factor` times the base rate to the base rate over
    /// `total_iters` epochs (`LinearLR`), then `then`, started afresh (`SequentialLR`).
    Warmup {
        /// Factor of the base rate at epoch 0.
        start_factor: f64,
        /// Epochs of warm-up.
        total_iters: usize,
        /// The schedule after warm-up.
        then: Box<Schedule>,
    },
}

impl Schedule {
    /// `StepLR(step_size, gamma)`.
    pub fn step(step_size: usize, gamma: f64) -> Self {
        Schedule::Step { step_size, gamma }
    }

    /// `ExponentialLR(gamma)`.
    pub fn exponential(gamma: f64) -> Self {
        Schedule::Exponential { gamma }
    }

    /// `CosineAnnealingLR(t_max, eta_min)`.
    pub fn cosine(t_max: usize, eta_min: f64) -> Self {
        Schedule::Cosine { t_max, eta_min }
    }

    /// This schedule with a linear warm-up in front.
    pub fn with_warmup(self, start_factor: f64, total_iters: usize) -> Self {
        Schedule::Warmup {
            start_factor,
            total_iters,
            then: Box::new(self),
        }
    }

    /// The learning rate for `epoch` (counted from 0) given the base rate.
    pub fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        match self {
            Schedule::Constant => base_lr,
            Schedule::Step { step_size, gamma } => {
                base_lr * gamma.powi(i32::try_from(epoch / (*step_size).max(1)).unwrap_or(i32::MAX))
            }
            Schedule::Exponential { gamma } => base_lr * gamma.powi(i32::try_from(epoch).unwrap_or(i32::MAX)),
            Schedule::Cosine { t_max, eta_min } => {
                let t_max = (*t_max).max(1) as f64;
                eta_min + (base_lr - eta_min) * (1.0 + (PI * epoch as f64 / t_max).cos()) / 2.0
            }
            Schedule::Warmup {
                start_factor,
                total_iters,
                then,
            } => {
                if epoch < *total_iters {
                    let progress = epoch as f64 / *total_iters as f64;
                    base_lr * (start_factor + (1.0 - start_factor) * progress)
                } else {
                    then.lr_at(base_lr, epoch - total_iters)
                }
            }
        }
    }
}

/// Whether a smaller or a larger monitored value is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// Smaller is better (a loss).
    Min,
    /// Larger is better (an accuracy).
    Max,
}

/// Reduce the learning rate when a monitored value stops improving, as PyTorch's
/// `ReduceLROnPlateau` with `threshold_mode='rel'`. Defaults: mode min, factor 0.1, patience
/// 10, threshold 1e-4, cooldown 0, min_lr 0, eps 1e-8.
///
/// Like PyTorch's, it holds no rate of its own: [`step`](Self::step) takes the rate in use and
/// returns the rate for the next epoch (PyTorch reads and rewrites the optimizer's). Given to
/// [`Trainer::reduce_on_plateau`](crate::train::fit::Trainer::reduce_on_plateau), it starts from the
/// optimizer's learning rate, or from the checkpoint's rate when resuming.
///
/// ```
/// use retroprop_runtime::optim::schedule::ReduceOnPlateau;
/// let mut plateau = ReduceOnPlateau::new().with_patience(1);
/// let mut lr = 1.0;
/// lr = plateau.step(0.5, lr);
/// assert_eq!(lr, 1.0);
/// lr = plateau.step(0.5, lr);
/// assert_eq!(lr, 1.0); // one bad epoch: within patience
/// lr = plateau.step(0.5, lr);
/// assert!((lr - 0.1).abs() < 1e-12); // two: reduced
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReduceOnPlateau {
    /// Min or max.
    pub mode: Mode,
    /// Factor the rate is multiplied by (default 0.1).
    pub factor: f64,
    /// Bad epochs tolerated before reducing (default 10).
    pub patience: usize,
    /// Relative improvement that counts (default 1e-4).
    pub threshold: f64,
    /// Epochs to wait after a reduction (default 0).
    pub cooldown: usize,
    /// Lower bound of the rate (default 0).
    pub min_lr: f64,
    /// Reductions smaller than this are skipped (default 1e-8).
    pub eps: f64,
    best: f64,
    bad_epochs: usize,
    cooldown_counter: usize,
}

impl Default for ReduceOnPlateau {
    fn default() -> Self {
        Self::new()
    }
}

impl ReduceOnPlateau {
    /// A scheduler with PyTorch's defaults.
    pub fn new() -> Self {
        ReduceOnPlateau {
            mode: Mode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            best: f64::INFINITY,
            bad_epochs: 0,
            cooldown_counter: 0,
        }
    }

    /// Sets the mode (and resets the best value accordingly).
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self.best = match mode {
            Mode::Min => f64::INFINITY,
            Mode::Max => f64::NEG_INFINITY,
        };
        self
    }

    /// Sets the factor.
    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Sets the patience.
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Sets the relative threshold.
    pub fn with_threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }

    /// Sets the cooldown.
    pub fn with_cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Sets the minimum rate.
    pub fn with_min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }

    /// Takes the epoch's monitored value and the rate the epoch used; returns the rate for the
    /// next epoch: `lr` itself, or `max(lr * factor, min_lr)` when the value has not improved
    /// for more than `patience` epochs (and that lowers it by more than `eps`).
    pub fn step(&mut self, value: f64, lr: f64) -> f64 {
        let better = match self.mode {
            Mode::Min => value < self.best * (1.0 - self.threshold),
            Mode::Max => value > self.best * (1.0 + self.threshold),
        };
        if better {
            self.best = value;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.bad_epochs = 0;
        }
        let mut next = lr;
        if self.bad_epochs > self.patience {
            let reduced = (lr * self.factor).max(self.min_lr);
            if lr - reduced > self.eps {
                next = reduced;
            }
            self.cooldown_counter = self.cooldown;
            self.bad_epochs = 0;
        }
        next
    }
}
