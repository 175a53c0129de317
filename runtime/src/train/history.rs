//! What `fit` did, epoch by epoch: a [`History`] of [`EpochRecord`]s, written and read as CSV
//! or JSON.

use crate::io::write_atomic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One epoch of a [`History`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Sample-weighted mean data loss over the epoch (penalties excluded).
    pub train_loss: f64,
    /// Sample-weighted mean regularization penalty over the epoch (0 without penalties).
    pub penalty: f64,
    /// Loss on the whole validation set, in inference mode.
    pub val_loss: Option<f64>,
    /// Validation metrics by name (`accuracy`, `macro_f1`, ...).
    pub metrics: BTreeMap<String, f64>,
    /// Learning rate used in the epoch.
    pub lr: f64,
    /// Wall time of the epoch in seconds (training and validation).
    pub elapsed_secs: f64,
}

/// What `fit` did, epoch by epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per epoch run.
    pub epochs: Vec<EpochRecord>,
    /// The epoch (from 1) whose weights the network holds when early stopping restored them.
    pub best_epoch: Option<usize>,
    /// Whether early stopping or a callback ended training before the last epoch.
    pub stopped_early: bool,
}

/// Why a history could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a history.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

const FIXED_COLUMNS: [&str; 6] = ["epoch", "train_loss", "penalty", "val_loss", "lr", "elapsed_secs"];

impl History {
    /// The names of the metric columns, sorted.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.epochs.iter().flat_map(|e| e.metrics.keys().cloned()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// The history as CSV: `epoch,train_loss,penalty,val_loss,lr,elapsed_secs` and one
    /// column per metric; an empty cell where there is no value, and numbers in Rust's
    /// shortest form that reads back to the same value. Lines end in `\n`; a metric name with
    /// a comma or a quote is quoted. `best_epoch` and `stopped_early` are not part of the CSV.
    pub fn to_csv(&self) -> String {
        let mut out = Vec::new();
        // Only I/O fails in the csv crate, and writing to memory does not; every cell is UTF-8.
        match self.write_csv_to(&mut out) {
            Ok(()) => String::from_utf8(out).unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Writes [`to_csv`](Self::to_csv) to `writer`.
    fn write_csv_to<W: Write>(&self, writer: W) -> csv::Result<()> {
        let metrics = self.metric_names();
        let mut csv = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(writer);
        csv.write_record(FIXED_COLUMNS.iter().copied().chain(metrics.iter().map(String::as_str)))?;
        let cell = |value: Option<f64>| value.map(|v| v.to_string()).unwrap_or_default();
        for e in &self.epochs {
            let fixed = [
                e.epoch.to_string(),
                e.train_loss.to_string(),
                e.penalty.to_string(),
                cell(e.val_loss),
                e.lr.to_string(),
                e.elapsed_secs.to_string(),
            ];
            let metric_cells = metrics.iter().map(|name| cell(e.metrics.get(name).copied()));
            csv.write_record(fixed.into_iter().chain(metric_cells))?;
        }
        csv.flush()?;
        Ok(())
    }

    /// Parses the CSV written by [`to_csv`](Self::to_csv).
    ///
    /// # Errors
    /// [`HistoryError::Format`] naming the line and column that is wrong (`path` is the
    /// name used in messages).
    pub fn from_csv(text: &str, path: &Path) -> Result<Self, HistoryError> {
        let format = |message: String| HistoryError::Format {
            path: path.to_path_buf(),
            message,
        };
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| format(e.to_string()))?.clone();
        let columns: Vec<&str> = headers.iter().collect();
        if columns.len() < FIXED_COLUMNS.len() || columns[..FIXED_COLUMNS.len()] != FIXED_COLUMNS {
            return Err(format(format!(
                "the header must start with {}",
                FIXED_COLUMNS.join(",")
            )));
        }
        let mut epochs = Vec::new();
        for (row, record) in reader.records().enumerate() {
            let line = row + 2;
            let record = record.map_err(|e| format(format!("line {line}: {e}")))?;
            let number = |column: usize| -> Result<Option<f64>, HistoryError> {
                let cell = record.get(column).unwrap_or("");
                if cell.is_empty() {
                    return Ok(None);
                }
                cell.parse::<f64>().map(Some).map_err(|_| {
                    format(format!(
                        "line {line}, column {} (`{}`): `{cell}` is not a number",
                        column + 1,
                        columns[column]
                    ))
                })
            };
            let required = |column: usize| -> Result<f64, HistoryError> {
                number(column)?.ok_or_else(|| format(format!("line {line}: `{}` is empty", columns[column])))
            };
            let epoch = record.get(0).unwrap_or("");
            let epoch = epoch.parse::<usize>().map_err(|_| {
                format(format!(
                    "line {line}, column 1 (`epoch`): `{epoch}` is not an epoch number"
                ))
            })?;
            let mut metrics = BTreeMap::new();
            for (column, name) in columns.iter().enumerate().skip(FIXED_COLUMNS.len()) {
                if let Some(v) = number(column)? {
                    metrics.insert((*name).to_owned(), v);
                }
            }
            epochs.push(EpochRecord {
                epoch,
                train_loss: required(1)?,
                penalty: required(2)?,
                val_loss: number(3)?,
                metrics,
                lr: required(4)?,
                elapsed_secs: required(5)?,
            });
        }
        Ok(History {
            epochs,
            best_epoch: None,
            stopped_early: false,
        })
    }

    /// The history as JSON (every field, `best_epoch` and `stopped_early` included).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses the JSON written by [`to_json`](Self::to_json).
    ///
    /// # Errors
    /// [`HistoryError::Format`] with serde_json's line and column.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, HistoryError> {
        serde_json::from_str(text).map_err(|e| HistoryError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Writes [`to_csv`](Self::to_csv) to `path`, atomically.
    ///
    /// # Errors
    /// [`HistoryError::Io`] naming the file.
    pub fn write_csv(&self, path: &Path) -> Result<(), HistoryError> {
        write_atomic(path, |f| self.write_csv_to(f).map_err(std::io::Error::from)).map_err(|source| HistoryError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes [`to_json`](Self::to_json) to `path`, atomically.
    ///
    /// # Errors
    /// [`HistoryError::Io`] naming the file.
    pub fn write_json(&self, path: &Path) -> Result<(), HistoryError> {
        write_file(path, self.to_json().as_bytes())
    }

    /// Reads a CSV history.
    ///
    /// # Errors
    /// [`HistoryError`] naming the file and what is wrong.
    pub fn read_csv(path: &Path) -> Result<Self, HistoryError> {
        Self::from_csv(&read_file(path)?, path)
    }

    /// Reads a JSON history.
    ///
    /// # Errors
    /// [`HistoryError`] naming the file and what is wrong.
    pub fn read_json(path: &Path) -> Result<Self, HistoryError> {
        Self::from_json(&read_file(path)?, path)
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), HistoryError> {
    write_atomic(path, |f| f.write_all(bytes)).map_err(|source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_file(path: &Path) -> Result<String, HistoryError> {
    std::fs::read_to_string(path).map_err(|source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    })
}
