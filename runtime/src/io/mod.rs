//! Files: atomic writes ([`atomic`], re-exported here), and weight files in the safetensors
//! format ([`weights`]).

pub mod atomic;
pub mod weights;

pub use atomic::{write_atomic, write_atomic_failing_at, WriteStep};
