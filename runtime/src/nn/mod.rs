//! The pieces of a network's passes: activations, losses, dropout, weight initialization, the
//! [`Context`] a pass runs in, and the dense-layer kernels the generated code calls, with the
//! convolution ([`conv`]) and pooling ([`pool`]) kernels, and those of a dense layer on
//! sparse inputs ([`sparse`]).

pub mod activation;
pub mod context;
pub mod conv;
pub mod dropout;
pub mod init;
pub mod kernels;
pub mod loss;
pub mod pool;
pub mod small;
pub mod sparse;

pub use context::Context;
pub use conv::Conv2d;
pub use pool::Pool2d;
