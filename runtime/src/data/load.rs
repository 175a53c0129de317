//! Loaders for files from outside: IDX (the MNIST format), CSV with a label column, and
//! labelled text in TSV. Each reads plain or gzip files (detected by their magic bytes) and
//! answers a malformed file with a [`LoadError`] that names the file and what is wrong.
//!
//! Buffers grow as data actually arrives, and every size a file declares is checked against
//! a cap before anything is allocated for it: a header that declares more data than the file
//! delivers is an error, not a huge allocation.

use crate::data::{DataError, Dataset};
use crate::real::Real;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The default cap on the bytes one file may declare or decompress to: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// Why a file could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be opened or read (for gzip files, also a corrupt stream).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file does not start with the expected magic number.
    #[error("{path}: bad magic number {found:#010x}; expected {expected}")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first four bytes, big-endian.
        found: u32,
        /// What was expected.
        expected: &'static str,
    },
    /// An IDX element type other than unsigned bytes.
    #[error("{path}: unsupported IDX element type {code:#04x}; only unsigned bytes (0x08) are supported")]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The type code.
        code: u8,
    },
    /// The file ends before the data its header declares.
    #[error("{path}: truncated: the header declares {expected} bytes of data but the file holds {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes declared.
        expected: u64,
        /// Bytes found.
        found: u64,
    },
    /// The file holds more bytes than its header declares.
    #[error("{path}: {extra} unexpected bytes after the {expected} bytes of data the header declares")]
    TrailingData {
        /// The file.
        path: PathBuf,
        /// Bytes declared.
        expected: u64,
        /// Bytes beyond them (at least).
        extra: u64,
    },
    /// A declared or decompressed size above the cap.
    #[error("{path}: the file declares or decompresses to more than {cap} bytes ({declared}); refusing to load it")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The size declared (or reached).
        declared: u64,
        /// The cap.
        cap: u64,
    },
    /// Shapes that do not fit (for example, image and label counts that differ).
    #[error("{path}: {message}")]
    Dimensions {
        /// The file.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
    /// A malformed cell or row of a CSV or TSV file.
    #[error("{path}: line {line}, column {column}: {message}")]
    Cell {
        /// The file.
        path: PathBuf,
        /// Line, from 1.
        line: u64,
        /// Column, from 1.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A malformed line of a CSV or TSV file (wrong number of fields, invalid UTF-8, ...).
    #[error("{path}: line {line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// Line, from 1.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A named column that the header does not have.
    #[error("{path}: no column named `{column}` in the header (columns: {available})")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column asked for.
        column: String,
        /// The header's columns.
        available: String,
    },
    /// A file with no samples.
    #[error("{path}: no samples")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The samples do not make a valid data set.
    #[error("{path}: {source}")]
    Data {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: DataError,
    },
}

/// Opens a file for reading, transparently decompressing gzip (detected by its magic bytes),
/// and caps the bytes that can be read from it at `max_bytes` (reading more is an
/// [`io::ErrorKind::FileTooLarge`]-style error, reported as [`LoadError::TooLarge`]).
///
/// # Errors
/// [`LoadError::Io`] naming the file.
pub fn open(path: &Path, max_bytes: u64) -> Result<Capped<Box<dyn Read>>, LoadError> {
    let file = File::open(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    reader(BufReader::new(file), path, max_bytes)
}

/// Like [`open`], for bytes already in memory (plain or gzip).
///
/// # Errors
/// [`LoadError::Io`] naming `name`.
pub fn reader<R: BufRead + 'static>(
    mut input: R,
    name: &Path,
    max_bytes: u64,
) -> Result<Capped<Box<dyn Read>>, LoadError> {
    let head = input.fill_buf().map_err(|source| LoadError::Io {
        path: name.to_path_buf(),
        source,
    })?;
    let inner: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    Ok(Capped {
        inner,
        remaining: max_bytes,
        cap: max_bytes,
    })
}

/// A reader that refuses to deliver more than a cap (a defence against gzip bombs).
pub struct Capped<R> {
    inner: R,
    remaining: u64,
    cap: u64,
}

impl<R> Capped<R> {
    /// Whether the cap was reached.
    pub fn exhausted(&self) -> bool {
        self.remaining == 0
    }

    /// The cap.
    pub fn cap(&self) -> u64 {
        self.cap
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            // Distinguish "ends exactly at the cap" from "goes on past it".
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(io::ErrorKind::InvalidData, CapExceeded)),
            };
        }
        let limit = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..limit])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// The error payload of a [`Capped`] reader that hit its cap.
#[derive(Debug)]
struct CapExceeded;

impl std::fmt::Display for CapExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the cap on the data's size was reached")
    }
}

impl std::error::Error for CapExceeded {}

/// Turns an I/O error into a [`LoadError`], recognizing the cap.
fn io_error(path: &Path, source: io::Error, cap: u64) -> LoadError {
    let capped = source.get_ref().is_some_and(|inner| inner.is::<CapExceeded>());
    if capped {
        LoadError::TooLarge {
            path: path.to_path_buf(),
            declared: cap + 1,
            cap,
        }
    } else {
        LoadError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// An array read from an IDX file: its dimensions and its bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions, outermost first (for MNIST images: count, rows, columns).
    pub dims: Vec<usize>,
    /// The elements, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes (plain or gzip).
///
/// # Errors
/// [`LoadError`] for a bad magic number, an element type other than `u8`, a declared size
/// above [`DEFAULT_MAX_BYTES`], or data shorter or longer than declared.
pub fn read_idx(path: &Path) -> Result<IdxArray, LoadError> {
    read_idx_from(open(path, DEFAULT_MAX_BYTES + 1024)?, path, DEFAULT_MAX_BYTES)
}

/// Reads an IDX array from `input`; `name` is used in errors, `max_bytes` caps the declared
/// data size.
///
/// # Errors
/// As [`read_idx`].
pub fn read_idx_from(mut input: impl Read, name: &Path, max_bytes: u64) -> Result<IdxArray, LoadError> {
    let path = || name.to_path_buf();
    let mut magic = [0u8; 4];
    read_exact_or_truncated(&mut input, &mut magic, name, 4)?;
    let found = u32::from_be_bytes(magic);
    if magic[0] != 0 || magic[1] != 0 || magic[3] == 0 {
        return Err(LoadError::BadMagic {
            path: path(),
            found,
            expected: "0x0000TTDD (T: element type, D: number of dimensions), such as 0x00000803 for images",
        });
    }
    if magic[2] != 0x08 {
        return Err(LoadError::UnsupportedType {
            path: path(),
            code: magic[2],
        });
    }
    let rank = usize::from(magic[3]);
    let mut dims = Vec::with_capacity(rank);
    // The running product must fit at every step (not only in the end: a zero dimension
    // after two huge ones would otherwise hide an overflow from anyone multiplying `dims`).
    let mut declared: Option<u64> = Some(1);
    for _ in 0..rank {
        let mut word = [0u8; 4];
        read_exact_or_truncated(&mut input, &mut word, name, 4 * rank as u64)?;
        let dim = u32::from_be_bytes(word);
        declared = declared
            .and_then(|d| d.checked_mul(u64::from(dim)))
            .filter(|&d| d <= max_bytes);
        dims.push(dim as usize);
    }
    let Some(declared) = declared else {
        return Err(LoadError::TooLarge {
            path: path(),
            declared: dims.iter().fold(1u64, |d, &x| d.saturating_mul(x as u64)),
            cap: max_bytes,
        });
    };
    if declared > max_bytes {
        return Err(LoadError::TooLarge {
            path: path(),
            declared,
            cap: max_bytes,
        });
    }
    let mut data = Vec::new();
    let found = (&mut input)
        .take(declared)
        .read_to_end(&mut data)
        .map_err(|e| io_error(name, e, max_bytes))? as u64;
    if found < declared {
        return Err(LoadError::Truncated {
            path: path(),
            expected: declared,
            found,
        });
    }
    let mut rest = [0u8; 64];
    let extra = input.read(&mut rest).map_err(|e| io_error(name, e, max_bytes))? as u64;
    if extra > 0 {
        return Err(LoadError::TrailingData {
            path: path(),
            expected: declared,
            extra,
        });
    }
    Ok(IdxArray { dims, data })
}

fn read_exact_or_truncated(input: &mut impl Read, buf: &mut [u8], name: &Path, header: u64) -> Result<(), LoadError> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(LoadError::Truncated {
                    path: name.to_path_buf(),
                    expected: header,
                    found: filled as u64,
                })
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(name, e, 0)),
        }
    }
    Ok(())
}

/// Samples with integer class labels, features column-major (one sample per column).
#[derive(Debug, Clone, PartialEq)]
pub struct Labeled<T> {
    /// Features, `inputs` per sample, column-major.
    pub features: Vec<T>,
    /// Features per sample.
    pub inputs: usize,
    /// Class of each sample.
    pub labels: Vec<usize>,
    /// Names of the classes, by index (numbers as text when the file has only numbers).
    pub class_names: Vec<String>,
}

impl<T: Real> Labeled<T> {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.class_names
            .len()
            .max(self.labels.iter().max().map_or(0, |m| m + 1))
    }

    /// The samples at `indices`, in that order (indices past the end are skipped).
    pub fn subset(&self, indices: &[usize]) -> Labeled<T> {
        let mut features = Vec::with_capacity(indices.len() * self.inputs);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let sample = self.features.get(i * self.inputs..(i + 1) * self.inputs);
            if let (Some(&label), Some(sample)) = (self.labels.get(i), sample) {
                features.extend_from_slice(sample);
                labels.push(label);
            }
        }
        Labeled {
            features,
            inputs: self.inputs,
            labels,
            class_names: self.class_names.clone(),
        }
    }

    /// A [`Dataset`] with one-hot targets over all classes.
    ///
    /// # Errors
    /// [`DataError`] if the features are not a whole number of samples.
    pub fn to_dataset(&self) -> Result<Dataset<T>, DataError> {
        Dataset::from_labels(self.features.clone(), self.inputs, &self.labels, self.classes())
    }
}

/// Where the label is in each CSV row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelColumn {
    /// The last field.
    Last,
    /// The field at this index (from 0).
    Index(usize),
    /// The field under this header name (needs a header).
    Name(String),
}

/// How to read a CSV file of numeric features and a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Lines to skip before the header or the data (scikit-learn's `iris.csv` starts with a
    /// `150,4,setosa,...` line: skip 1).
    pub skip_lines: usize,
    /// Whether the first line after the skipped ones is a header.
    pub header: bool,
    /// The label column.
    pub label: LabelColumn,
    /// The field delimiter.
    pub delimiter: u8,
    /// Cap on the bytes read (after decompression).
    pub max_bytes: u64,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            skip_lines: 0,
            header: false,
            label: LabelColumn::Last,
            delimiter: b',',
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// Reads a CSV file (plain or gzip) of numeric features and a label column. Labels that are
/// all whole numbers are used as class indices; otherwise the distinct labels, sorted, become
/// the classes.
///
/// # Errors
/// [`LoadError`] naming the file, and for a bad cell its line and column.
pub fn read_csv<T: Real>(path: &Path, options: &CsvOptions) -> Result<Labeled<T>, LoadError> {
    read_csv_from(open(path, options.max_bytes)?, path, options)
}

/// Like [`read_csv`], from a reader; `name` is used in errors.
///
/// # Errors
/// As [`read_csv`].
pub fn read_csv_from<T: Real>(input: impl Read, name: &Path, options: &CsvOptions) -> Result<Labeled<T>, LoadError> {
    let path = || name.to_path_buf();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(options.delimiter)
        .from_reader(input);
    let mut records = reader.records();
    let line_error = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line());
        let message = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(io) => io_error(name, io, options.max_bytes),
            _ => LoadError::Line {
                path: path(),
                line,
                message,
            },
        }
    };
    for _ in 0..options.skip_lines {
        if let Some(record) = records.next() {
            record.map_err(line_error)?;
        }
    }
    let mut header: Option<Vec<String>> = None;
    if options.header {
        match records.next() {
            Some(record) => header = Some(record.map_err(line_error)?.iter().map(str::to_owned).collect()),
            None => return Err(LoadError::Empty { path: path() }),
        }
    }
    let mut label_column: Option<usize> = match &options.label {
        LabelColumn::Index(i) => Some(*i),
        LabelColumn::Last => None,
        LabelColumn::Name(column) => {
            let names = header.as_ref().ok_or_else(|| LoadError::MissingColumn {
                path: path(),
                column: column.clone(),
                available: "(the file has no header)".into(),
            })?;
            Some(
                names
                    .iter()
                    .position(|n| n == column)
                    .ok_or_else(|| LoadError::MissingColumn {
                        path: path(),
                        column: column.clone(),
                        available: names.join(", "),
                    })?,
            )
        }
    };
    let mut fields: Option<usize> = None;
    let mut features: Vec<T> = Vec::new();
    let mut raw_labels: Vec<String> = Vec::new();
    for record in records {
        let record = record.map_err(line_error)?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty()) {
            continue; // a blank line
        }
        let width = *fields.get_or_insert(record.len());
        if record.len() != width {
            return Err(LoadError::Line {
                path: path(),
                line,
                message: format!("{} fields, but the first data line has {width}", record.len()),
            });
        }
        let label_at = *label_column.get_or_insert(width.saturating_sub(1));
        if label_at >= width || width < 2 {
            return Err(LoadError::Line {
                path: path(),
                line,
                message: format!(
                    "the label column {} does not exist in a line of {width} fields",
                    label_at + 1
                ),
            });
        }
        for (column, cell) in record.iter().enumerate() {
            if column == label_at {
                raw_labels.push(cell.trim().to_owned());
                continue;
            }
            let value: f64 = cell.trim().parse().map_err(|_| LoadError::Cell {
                path: path(),
                line,
                column: column + 1,
                message: format!("`{cell}` is not a number"),
            })?;
            features.push(T::cast(value));
        }
    }
    let inputs = fields.map_or(0, |w| w - 1);
    if raw_labels.is_empty() {
        return Err(LoadError::Empty { path: path() });
    }
    let (labels, class_names) = encode_labels(&raw_labels);
    Ok(Labeled {
        features,
        inputs,
        labels,
        class_names,
    })
}

/// Class indices for labels: whole numbers are used as they are; anything else maps the
/// sorted distinct labels to 0, 1, ...
pub fn encode_labels(raw: &[String]) -> (Vec<usize>, Vec<String>) {
    let numeric: Option<Vec<usize>> = raw.iter().map(|l| l.parse::<usize>().ok()).collect();
    // Whole-number labels are used directly, unless they are sparse and large (ids).
    if let Some(labels) = numeric.filter(|l| l.iter().max().is_some_and(|&m| m < 65_536)) {
        let classes = labels.iter().max().map_or(0, |m| m + 1);
        return (labels, (0..classes).map(|c| c.to_string()).collect());
    }
    let mut names: Vec<String> = raw.to_vec();
    names.sort();
    names.dedup();
    let labels = raw.iter().map(|l| names.binary_search(l).unwrap_or(0)).collect();
    (labels, names)
}

/// Texts with integer class labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledText {
    /// The texts.
    pub texts: Vec<String>,
    /// Class of each text.
    pub labels: Vec<usize>,
    /// Names of the classes, by index.
    pub class_names: Vec<String>,
}

impl LabeledText {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// The samples at `indices`, in that order (indices past the end are skipped).
    pub fn subset(&self, indices: &[usize]) -> LabeledText {
        let picked: Vec<usize> = indices.iter().copied().filter(|&i| i < self.len()).collect();
        LabeledText {
            texts: picked.iter().map(|&i| self.texts[i].clone()).collect(),
            labels: picked.iter().map(|&i| self.labels[i]).collect(),
            class_names: self.class_names.clone(),
        }
    }
}

/// Reads labelled text from a TSV file (plain or gzip) with a header, taking the label and
/// the text from the named columns (the shared UCI file is `label<TAB>text<TAB>source`).
///
/// # Errors
/// [`LoadError`] naming the file, and for a bad line its number.
pub fn read_labeled_text(path: &Path, label_column: &str, text_column: &str) -> Result<LabeledText, LoadError> {
    read_labeled_text_from(open(path, DEFAULT_MAX_BYTES)?, path, label_column, text_column)
}

/// Like [`read_labeled_text`], from a reader; `name` is used in errors.
///
/// # Errors
/// As [`read_labeled_text`].
pub fn read_labeled_text_from(
    input: impl Read,
    name: &Path,
    label_column: &str,
    text_column: &str,
) -> Result<LabeledText, LoadError> {
    let path = || name.to_path_buf();
    let mut lines = BufReader::new(input).lines();
    let header = match lines.next() {
        Some(line) => line.map_err(|e| io_error(name, e, DEFAULT_MAX_BYTES))?,
        None => return Err(LoadError::Empty { path: path() }),
    };
    let columns: Vec<&str> = header.trim_end_matches('\r').split('\t').collect();
    let [label_at, text_at] = find_columns(&columns, [label_column, text_column], name)?;
    let mut texts = Vec::new();
    let mut raw_labels = Vec::new();
    for (index, line) in lines.enumerate() {
        let line_number = index as u64 + 2;
        let line = line.map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData if e.get_ref().is_none_or(|inner| !inner.is::<CapExceeded>()) => {
                LoadError::Line {
                    path: path(),
                    line: line_number,
                    message: "not valid UTF-8".into(),
                }
            }
            _ => io_error(name, e, DEFAULT_MAX_BYTES),
        })?;
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != columns.len() {
            return Err(LoadError::Line {
                path: path(),
                line: line_number,
                message: format!("{} fields, but the header has {}", fields.len(), columns.len()),
            });
        }
        raw_labels.push(fields[label_at].trim().to_owned());
        texts.push(fields[text_at].to_owned());
    }
    labeled_text(texts, &raw_labels, name)
}

/// The layout of a file of labelled texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// Tab-separated, one text per line, no quoting (the UCI sentences' file).
    Tsv,
    /// Comma-separated with RFC 4180 quoting: a text may hold commas, quotes and newlines.
    Csv,
}

impl TextFormat {
    /// The format a file's name says: `.csv` or `.csv.gz` is CSV, anything else TSV.
    pub fn of_path(path: &Path) -> TextFormat {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if name.ends_with(".csv") || name.ends_with(".csv.gz") {
            TextFormat::Csv
        } else {
            TextFormat::Tsv
        }
    }
}

/// Reads labelled text from a TSV or CSV file (plain or gzip) with a header, taking the label
/// and the text from the named columns. Labels are trimmed; the distinct labels, sorted,
/// become the classes.
///
/// # Errors
/// [`LoadError`] naming the file: a missing column (listing those there are), a bad record
/// with its line number, no samples.
pub fn read_labeled_text_as(
    path: &Path,
    label_column: &str,
    text_column: &str,
    format: TextFormat,
) -> Result<LabeledText, LoadError> {
    let input = open(path, DEFAULT_MAX_BYTES)?;
    match format {
        TextFormat::Tsv => read_labeled_text_from(input, path, label_column, text_column),
        TextFormat::Csv => read_labeled_csv_from(input, path, label_column, text_column),
    }
}

/// The positions of the named columns in a header.
fn find_columns<const K: usize, S: AsRef<str>>(
    columns: &[S],
    wanted: [&str; K],
    name: &Path,
) -> Result<[usize; K], LoadError> {
    let mut found = [0; K];
    for (at, column) in found.iter_mut().zip(wanted) {
        *at = columns
            .iter()
            .position(|c| c.as_ref() == column)
            .ok_or_else(|| LoadError::MissingColumn {
                path: name.to_path_buf(),
                column: column.to_owned(),
                available: columns.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", "),
            })?;
    }
    Ok(found)
}

/// The texts with their labels encoded, or [`LoadError::Empty`] if there are none.
fn labeled_text(texts: Vec<String>, raw_labels: &[String], name: &Path) -> Result<LabeledText, LoadError> {
    if texts.is_empty() {
        return Err(LoadError::Empty {
            path: name.to_path_buf(),
        });
    }
    let (labels, class_names) = encode_labels(raw_labels);
    Ok(LabeledText {
        texts,
        labels,
        class_names,
    })
}

/// Like [`read_labeled_text_as`] for CSV, from a reader; `name` is used in errors.
///
/// # Errors
/// As [`read_labeled_text_as`].
pub fn read_labeled_csv_from(
    input: impl Read,
    name: &Path,
    label_column: &str,
    text_column: &str,
) -> Result<LabeledText, LoadError> {
    let path = || name.to_path_buf();
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(input);
    let line_error = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line());
        let message = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(io) => io_error(name, io, DEFAULT_MAX_BYTES),
            _ => LoadError::Line {
                path: path(),
                line,
                message,
            },
        }
    };
    let columns: Vec<String> = reader
        .headers()
        .map_err(line_error)?
        .iter()
        .map(str::to_owned)
        .collect();
    if columns.is_empty() {
        return Err(LoadError::Empty { path: path() });
    }
    let [label_at, text_at] = find_columns(&columns, [label_column, text_column], name)?;
    let mut texts = Vec::new();
    let mut raw_labels = Vec::new();
    for record in reader.records() {
        let record = record.map_err(line_error)?;
        if record.len() == 1 && record.get(0).is_some_and(str::is_empty) {
            continue;
        }
        raw_labels.push(record.get(label_at).unwrap_or_default().trim().to_owned());
        texts.push(record.get(text_at).unwrap_or_default().to_owned());
    }
    labeled_text(texts, &raw_labels, name)
}

/// The MNIST training and test sets, pixels scaled to `[0, 1]`, one-hot targets.
#[derive(Debug, Clone)]
pub struct Mnist<T> {
    /// 60,000 training images.
    pub train: Labeled<T>,
    /// 10,000 test images.
    pub test: Labeled<T>,
}

/// Reads MNIST from a directory holding the four IDX files (`train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each plain
/// or with `.gz`).
///
/// # Errors
/// [`LoadError`] for a missing or malformed file, or images and labels that disagree.
pub fn read_mnist<T: Real>(dir: &Path) -> Result<Mnist<T>, LoadError> {
    Ok(Mnist {
        train: read_mnist_pair(dir, "train")?,
        test: read_mnist_pair(dir, "t10k")?,
    })
}

fn find_file(dir: &Path, stem: &str) -> PathBuf {
    let plain = dir.join(stem);
    if plain.exists() {
        return plain;
    }
    dir.join(format!("{stem}.gz"))
}

fn read_mnist_pair<T: Real>(dir: &Path, prefix: &str) -> Result<Labeled<T>, LoadError> {
    let images_path = find_file(dir, &format!("{prefix}-images-idx3-ubyte"));
    let labels_path = find_file(dir, &format!("{prefix}-labels-idx1-ubyte"));
    let images = read_idx(&images_path)?;
    let labels = read_idx(&labels_path)?;
    if images.dims.len() != 3 {
        return Err(LoadError::Dimensions {
            path: images_path,
            message: format!(
                "expected 3 dimensions (count, rows, columns), found {}",
                images.dims.len()
            ),
        });
    }
    if labels.dims.len() != 1 {
        return Err(LoadError::Dimensions {
            path: labels_path,
            message: format!("expected 1 dimension (count), found {}", labels.dims.len()),
        });
    }
    if images.dims[0] != labels.dims[0] {
        return Err(LoadError::Dimensions {
            path: labels_path,
            message: format!("{} labels for {} images", labels.dims[0], images.dims[0]),
        });
    }
    if let Some((index, &label)) = labels.data.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(LoadError::Dimensions {
            path: labels_path,
            message: format!("label {label} of image {index} is not a digit"),
        });
    }
    let scale = 1.0 / 255.0;
    Ok(Labeled {
        features: images.data.iter().map(|&p| T::cast(f64::from(p) * scale)).collect(),
        inputs: images.dims[1] * images.dims[2],
        labels: labels.data.iter().map(|&l| usize::from(l)).collect(),
        class_names: (0..10).map(|d| d.to_string()).collect(),
    })
}
