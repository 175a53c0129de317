//! The checks of a batch's shape against a network and a workspace, made before every pass
//! (by the generated code and by the runtime).

use crate::error::ShapeError;

/// Checks a batch of `x_len` input values and `target_len` target values against the
/// network's widths and the workspace's capacity; returns the number of samples.
///
/// # Errors
/// [`ShapeError`] naming what does not fit.
pub fn batch_len(
    x_len: usize,
    target_len: usize,
    inputs: usize,
    outputs: usize,
    capacity: usize,
) -> Result<usize, ShapeError> {
    let n = input_len(x_len, inputs, capacity)?;
    check_targets(target_len, outputs, n)
}

/// Checks that `target_len` values are `n` samples of `outputs` values; returns `n`.
fn check_targets(target_len: usize, outputs: usize, n: usize) -> Result<usize, ShapeError> {
    if !target_len.is_multiple_of(outputs) {
        return Err(ShapeError::Ragged {
            what: "target",
            len: target_len,
            per_sample: outputs,
        });
    }
    if target_len / outputs != n {
        return Err(ShapeError::SampleCountMismatch {
            inputs: n,
            targets: target_len / outputs,
        });
    }
    Ok(n)
}

/// Checks a batch of `x_len` input values against the network's input width and the
/// workspace's capacity; returns the number of samples.
///
/// # Errors
/// [`ShapeError`] naming what does not fit.
pub fn input_len(x_len: usize, inputs: usize, capacity: usize) -> Result<usize, ShapeError> {
    if !x_len.is_multiple_of(inputs) {
        return Err(ShapeError::Ragged {
            what: "input",
            len: x_len,
            per_sample: inputs,
        });
    }
    let n = x_len / inputs;
    if n == 0 {
        return Err(ShapeError::EmptyBatch);
    }
    if n > capacity {
        return Err(ShapeError::BatchTooLarge { len: n, capacity });
    }
    Ok(n)
}

/// Checks that `x` and `target` hold exactly one sample (for [`Network::sgd_step_into`]).
///
/// # Errors
/// [`ShapeError`] naming what does not fit.
///
/// [`Network::sgd_step_into`]: crate::network::Network::sgd_step_into
pub fn single_sample_len(
    x_len: usize,
    target_len: usize,
    input: usize,
    output: usize,
    capacity: usize,
) -> Result<usize, ShapeError> {
    let n = batch_len(x_len, target_len, input, output, capacity)?;
    if n != 1 {
        return Err(ShapeError::InputLength {
            expected: input,
            actual: x_len,
        });
    }
    Ok(n)
}

/// Checks a run of one-sample steps (for [`Network::sgd_steps_into`]): whole samples, as
/// many targets as inputs, at least one, and a workspace with room for one sample (the run
/// itself may be longer than the workspace). Returns the number of samples.
///
/// # Errors
/// [`ShapeError`] naming what does not fit.
///
/// [`Network::sgd_steps_into`]: crate::network::Network::sgd_steps_into
pub fn run_len(
    x_len: usize,
    target_len: usize,
    input: usize,
    output: usize,
    capacity: usize,
) -> Result<usize, ShapeError> {
    let samples = batch_len(x_len, target_len, input, output, usize::MAX)?;
    if capacity == 0 {
        // A run needs room for one sample at a time.
        return Err(ShapeError::BatchTooLarge { len: 1, capacity });
    }
    Ok(samples)
}

/// Checks a sparse batch of `n` samples over `features` features against the network's
/// feature count and the workspace's capacity; returns `n`.
///
/// # Errors
/// [`ShapeError`] naming what does not fit.
pub fn sparse_input_len(features: usize, n: usize, expected: usize, capacity: usize) -> Result<usize, ShapeError> {
    if features != expected {
        return Err(ShapeError::Width {
            what: "features",
            expected,
            actual: features,
        });
    }
    if n == 0 {
        return Err(ShapeError::EmptyBatch);
    }
    if n > capacity {
        return Err(ShapeError::BatchTooLarge { len: n, capacity });
    }
    Ok(n)
}

/// Checks a sparse batch and `target_len` target values, as [`sparse_input_len`] and
/// [`batch_len`]; returns the number of samples.
///
/// # Errors
/// [`ShapeError`] naming what does not fit.
pub fn sparse_batch_len(
    features: usize,
    n: usize,
    target_len: usize,
    expected: usize,
    outputs: usize,
    capacity: usize,
) -> Result<usize, ShapeError> {
    let n = sparse_input_len(features, n, expected, capacity)?;
    check_targets(target_len, outputs, n)
}
