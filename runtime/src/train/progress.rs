//! What `fit` shows while it runs: a progress bar per epoch (indicatif, feature `progress`) and
//! a summary line after each.

use crate::train::history::EpochRecord;
use std::time::Instant;

/// When to show progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A bar per epoch and a summary line when standard error is a terminal and `CI` is not
    /// set; summary lines only otherwise.
    Auto,
    /// Summary lines only.
    Summary,
    /// Nothing at all.
    Quiet,
}

/// The line printed after an epoch.
pub(crate) fn summary(record: &EpochRecord, epochs: usize, samples: usize) -> String {
    let mut line = format!(
        "epoch {:>w$}/{epochs}  loss {:.6}",
        record.epoch,
        record.train_loss,
        w = epochs.to_string().len()
    );
    if record.penalty > 0.0 {
        line.push_str(&format!("  penalty {:.6}", record.penalty));
    }
    if let Some(v) = record.val_loss {
        line.push_str(&format!("  val_loss {v:.6}"));
    }
    for (name, value) in &record.metrics {
        line.push_str(&format!("  val_{name} {value:.4}"));
    }
    let rate = samples as f64 / record.elapsed_secs.max(1e-9);
    line.push_str(&format!(
        "  lr {:.3e}  {:.2}s  {:.0} samples/s",
        record.lr, record.elapsed_secs, rate
    ));
    line
}

/// An indicatif bar when enabled (and compiled in), nothing otherwise.
pub(crate) struct ProgressBar {
    #[cfg(feature = "progress")]
    bar: Option<indicatif::ProgressBar>,
}

impl ProgressBar {
    #[allow(unused_variables)]
    pub(crate) fn new(show: bool, batches: u64, epoch: usize, epochs: usize) -> Self {
        #[cfg(feature = "progress")]
        {
            let bar = show.then(|| {
                let bar = indicatif::ProgressBar::new(batches);
                if let Ok(style) =
                    indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches  {msg}")
                {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_prefix(format!("epoch {epoch}/{epochs}"));
                bar
            });
            ProgressBar { bar }
        }
        #[cfg(not(feature = "progress"))]
        ProgressBar {}
    }

    #[allow(unused_variables)]
    pub(crate) fn update(&self, position: u64, loss: f64, samples: usize, start: Instant) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.set_position(position);
            let rate = samples as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("loss {loss:.5}  {rate:.0} samples/s"));
        }
    }

    pub(crate) fn finish(&self) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
