//! Files: atomic writes, and weight files in the safetensors format.

pub mod atomic;
pub mod weights;

pub use atomic::{write_atomic, write_atomic_failing_at, WriteStep};
