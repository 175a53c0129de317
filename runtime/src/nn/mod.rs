//! The pieces of a network's passes: activations, losses, dropout, weight initialization, the
//! [`Context`] a pass runs in, and the dense-layer kernels the generated code calls.

pub mod activation;
pub mod context;
pub mod dropout;
pub mod init;
pub mod kernels;
pub mod loss;

pub use context::Context;
