//! Weight files in the safetensors format, readable by PyTorch.
//!
//! Tensors are named `layer.weight` (shape `[out, in]`, row-major, as PyTorch's `nn.Linear`
//! stores it; nalgebra is column-major, so the writer transposes) and `layer.bias` (`[out]`).
//! The metadata records the network's name, its definition, the scalar type and the library
//! version. Files are written atomically. Loading checks every name, shape and dtype and
//! reports all mismatches in one error; `f32` and `f64` files load into either scalar type.

use crate::io::write_atomic;
use crate::network::{Network, Parameters, SparseNetwork, TensorSpec};
use crate::real::Real;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The largest weight file `load` reads (4 GiB).
pub const MAX_FILE_BYTES: u64 = 1 << 32;

/// One way a file's tensors differ from what the network expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TensorProblem {
    /// A tensor the network has and the file does not.
    Missing {
        /// Its name.
        name: String,
        /// The shape the network expects.
        expected: Vec<usize>,
    },
    /// A tensor in the file that the network does not have.
    Unexpected {
        /// Its name.
        name: String,
        /// Its shape in the file.
        found: Vec<usize>,
    },
    /// A tensor of another shape.
    Shape {
        /// Its name.
        name: String,
        /// The shape the network expects.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor of a type other than F32 or F64.
    Dtype {
        /// Its name.
        name: String,
        /// The type in the file.
        found: String,
    },
}

impl fmt::Display for TensorProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorProblem::Missing { name, expected } => {
                write!(f, "missing tensor `{name}` (expected shape {expected:?})")
            }
            TensorProblem::Unexpected { name, found } => write!(f, "unexpected tensor `{name}` (shape {found:?})"),
            TensorProblem::Shape { name, expected, found } => {
                write!(f, "tensor `{name}` has shape {found:?}, expected {expected:?}")
            }
            TensorProblem::Dtype { name, found } => {
                write!(f, "tensor `{name}` has dtype {found}; only F32 and F64 load")
            }
        }
    }
}

/// Why a weight file or checkpoint could not be written or read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file (or checkpoint).
    #[error("{path}: not a valid weight file: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file's tensors do not match the network; every problem is listed.
    #[error("{path}: the tensors do not match network `{network}`: {}", list(problems))]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The network's name.
        network: &'static str,
        /// Every problem found.
        problems: Vec<TensorProblem>,
    },
    /// A value in the file is NaN or infinite.
    #[error("{path}: tensor `{name}` holds a non-finite value")]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
    },
}

fn list(problems: &[TensorProblem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// The shape of a tensor as stored: its PyTorch shape (`[out, in]`, `[out]`, ...).
pub fn stored_shape(spec: &TensorSpec) -> Vec<usize> {
    spec.shape.to_vec()
}

/// Appends the little-endian bytes of a column-major tensor in row-major order.
fn push_row_major<T: Real>(out: &mut Vec<u8>, values: &[T], rows: usize, cols: usize) {
    for r in 0..rows {
        for c in 0..cols {
            let v = values[r + c * rows];
            // Little-endian, as safetensors stores values, whatever the platform.
            if T::DTYPE == Dtype::F64 {
                out.extend_from_slice(&v.to_f64().to_le_bytes());
            } else {
                out.extend_from_slice(&(v.to_f64() as f32).to_le_bytes());
            }
        }
    }
}

/// Named tensors to write: the network's, under `prefix`.
pub(crate) fn tensor_bytes<P: Parameters>(params: &P, prefix: &str) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    P::TENSORS
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut bytes = Vec::with_capacity(spec.len() * 8);
            push_row_major(&mut bytes, params.tensor(i), spec.rows, spec.cols);
            (format!("{prefix}{}", spec.name), stored_shape(spec), bytes)
        })
        .collect()
}

/// Serializes tensors and metadata to safetensors bytes.
pub(crate) fn serialize<T: Real>(
    tensors: &[(String, Vec<usize>, Vec<u8>)],
    metadata: HashMap<String, String>,
    path: &Path,
) -> Result<Vec<u8>, WeightsError> {
    let format = |e: safetensors::SafeTensorError| WeightsError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            Ok((
                name.clone(),
                TensorView::new(T::DTYPE, shape.clone(), bytes).map_err(format)?,
            ))
        })
        .collect::<Result<_, WeightsError>>()?;
    safetensors::tensor::serialize(views.iter().map(|(n, v)| (n.as_str(), v)), Some(metadata)).map_err(format)
}

/// The metadata of a weight file for network `N`.
pub fn metadata<N: Network>() -> HashMap<String, String> {
    metadata_of::<N::Scalar>(N::NAME, N::DEFINITION)
}

pub(crate) fn metadata_of<T: Real>(name: &str, definition: &str) -> HashMap<String, String> {
    HashMap::from([
        ("format".to_owned(), "pt".to_owned()),
        ("retroprop.network".to_owned(), name.to_owned()),
        ("retroprop.definition".to_owned(), definition.to_owned()),
        ("retroprop.scalar".to_owned(), T::NAME.to_owned()),
        ("retroprop.version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
    ])
}

/// Writes the weights of a network with a sparse input ([`SparseNetwork`]) to `path`,
/// atomically, as [`save`] does for dense networks, with `extra` entries added to the
/// file's `__metadata__` (for example the vectorizer's settings and the class names, which
/// serving needs; PyTorch's `load_state_dict` reads the tensors only). An `extra` key
/// replaces a built-in one of the same name.
///
/// # Errors
/// [`WeightsError::Io`] naming the file.
pub fn save_sparse<N: SparseNetwork>(
    net: &N,
    path: &Path,
    extra: impl IntoIterator<Item = (String, String)>,
) -> Result<(), WeightsError> {
    let mut metadata = metadata_of::<N::Scalar>(N::NAME, N::DEFINITION);
    metadata.extend(extra);
    let bytes = serialize::<N::Scalar>(&tensor_bytes(net, ""), metadata, path)?;
    write_bytes(path, &bytes)
}

/// Reads weights of a network with a sparse input saved by [`save_sparse`] (or by PyTorch
/// with the same tensor names), as [`load`] does for dense networks.
///
/// # Errors
/// As [`load`].
pub fn load_sparse<N: SparseNetwork>(path: &Path) -> Result<N, WeightsError> {
    let mut net = N::zeroed();
    read_network(&read_bytes(path)?, path, &mut net, N::NAME)?;
    Ok(net)
}

/// Reads the tensors of a network's weight file into `net`.
fn read_network<P: Parameters>(bytes: &[u8], path: &Path, net: &mut P, name: &'static str) -> Result<(), WeightsError> {
    check_header(bytes, path)?;
    let file = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    read_tensors(&file, net, "", path, name, |name| !is_checkpoint_tensor(name))
}

/// The weights of `net` as safetensors bytes.
///
/// # Errors
/// [`WeightsError::Format`] if serialization fails (it does not for generated networks).
pub fn to_bytes<N: Network>(net: &N) -> Result<Vec<u8>, WeightsError> {
    serialize::<N::Scalar>(&tensor_bytes(net, ""), metadata::<N>(), Path::new("<memory>"))
}

/// Writes the weights of `net` to `path`, atomically (temporary file, flush, sync, rename).
///
/// # Errors
/// [`WeightsError::Io`] naming the file.
pub fn save<N: Network>(net: &N, path: &Path) -> Result<(), WeightsError> {
    let bytes = to_bytes(net)?;
    write_bytes(path, &bytes)
}

pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), WeightsError> {
    write_atomic(path, |file| file.write_all(bytes)).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, WeightsError> {
    let io = |source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(WeightsError::Format {
            path: path.to_path_buf(),
            message: format!("{len} bytes is larger than the limit of {MAX_FILE_BYTES}"),
        });
    }
    std::fs::read(path).map_err(io)
}

/// Reads weights saved by [`save`] (or by PyTorch's `safetensors.torch.save_file` with the
/// same tensor names) into a new network.
///
/// # Errors
/// [`WeightsError`]: the file cannot be read, is not safetensors, or its tensors do not
/// match (all problems listed), or it holds a non-finite value.
pub fn load<N: Network>(path: &Path) -> Result<N, WeightsError> {
    from_bytes(&read_bytes(path)?, path)
}

/// Like [`load`], from bytes; `path` is used in errors.
///
/// # Errors
/// As [`load`].
pub fn from_bytes<N: Network>(bytes: &[u8], path: &Path) -> Result<N, WeightsError> {
    let mut net = N::zeroed();
    read_network(bytes, path, &mut net, N::NAME)?;
    Ok(net)
}

/// Rejects a header that names a tensor twice (a JSON object with a repeated key, which the
/// safetensors parser would otherwise resolve silently).
pub(crate) fn check_header(bytes: &[u8], path: &Path) -> Result<(), WeightsError> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    let format = |message: String| WeightsError::Format {
        path: path.to_path_buf(),
        message,
    };
    let Some(len) = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    else {
        return Err(format(format!("{} bytes is too short for a header", bytes.len())));
    };
    let header = usize::try_from(len)
        .ok()
        .and_then(|len| bytes.get(8..8usize.checked_add(len)?))
        .ok_or_else(|| {
            format(format!(
                "the header declares {len} bytes but the file holds {}",
                bytes.len().saturating_sub(8)
            ))
        })?;

    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                if !seen.insert(key.clone()) {
                    return Ok(Some(key));
                }
            }
            Ok(None)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(header);
    match de.deserialize_map(Keys) {
        Ok(Some(duplicate)) => Err(format(format!("the header names tensor `{duplicate}` twice"))),
        Ok(None) => Ok(()),
        Err(e) => Err(format(format!("the header is not valid JSON: {e}"))),
    }
}

/// Prefixes of the extra tensors a checkpoint holds beside the weights; [`load`] skips them,
/// so a checkpoint also loads as a weight file.
pub const CHECKPOINT_PREFIXES: [&str; 2] = ["optimizer.", "best."];

fn is_checkpoint_tensor(name: &str) -> bool {
    CHECKPOINT_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Fills `params` from the tensors named `prefix + spec.name`; tensors for which `ours`
/// returns false are not reported as unexpected. Collects every problem.
pub(crate) fn read_tensors<P: Parameters>(
    file: &SafeTensors<'_>,
    params: &mut P,
    prefix: &str,
    path: &Path,
    network: &'static str,
    ours: impl Fn(&str) -> bool,
) -> Result<(), WeightsError> {
    let mut problems = Vec::new();
    let mut decoded: Vec<Option<Vec<f64>>> = Vec::new();
    for spec in P::TENSORS {
        let name = format!("{prefix}{}", spec.name);
        let expected = stored_shape(spec);
        let view = match file.tensor(&name) {
            Ok(view) => view,
            Err(_) => {
                problems.push(TensorProblem::Missing { name, expected });
                decoded.push(None);
                continue;
            }
        };
        let found = view.shape().to_vec();
        // A bias saved as [out, 1] or a weight of [out, in] must match exactly.
        if found != expected {
            problems.push(TensorProblem::Shape { name, expected, found });
            decoded.push(None);
            continue;
        }
        let values: Vec<f64> = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
            Dtype::F64 => view
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect(),
            other => {
                problems.push(TensorProblem::Dtype {
                    name,
                    found: format!("{other:?}"),
                });
                decoded.push(None);
                continue;
            }
        };
        decoded.push(Some(values));
    }
    let known: Vec<String> = P::TENSORS.iter().map(|s| format!("{prefix}{}", s.name)).collect();
    let mut names: Vec<(String, Vec<usize>)> = file
        .iter()
        .filter(|(name, _)| name.starts_with(prefix) && ours(name) && !known.iter().any(|k| k == name))
        .map(|(name, view)| (name.to_owned(), view.shape().to_vec()))
        .collect();
    names.sort();
    problems.extend(
        names
            .into_iter()
            .map(|(name, found)| TensorProblem::Unexpected { name, found }),
    );
    if !problems.is_empty() {
        return Err(WeightsError::Mismatch {
            path: path.to_path_buf(),
            network,
            problems,
        });
    }
    for (i, (spec, values)) in P::TENSORS.iter().zip(decoded).enumerate() {
        let values = values.unwrap_or_default();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(WeightsError::NonFinite {
                path: path.to_path_buf(),
                name: format!("{prefix}{}", spec.name),
            });
        }
        let tensor = params.tensor_mut(i);
        for r in 0..spec.rows {
            for c in 0..spec.cols {
                tensor[r + c * spec.rows] = <P::Scalar as Real>::cast(values[r * spec.cols + c]);
            }
        }
    }
    Ok(())
}

/// The metadata of a safetensors file (`__metadata__`): the network's name and definition,
/// the scalar type, the library version, and what [`save_sparse`] added.
///
/// # Errors
/// [`WeightsError`] if the file cannot be read or is not safetensors.
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>, WeightsError> {
    let bytes = read_bytes(path)?;
    let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| WeightsError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(metadata.metadata().clone().unwrap_or_default())
}
