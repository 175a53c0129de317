//! The validated network that [`crate::expand`] generates code from.

use crate::layers::LayerKind;
use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::{Attribute, Ident, Visibility};

/// A network definition that passed every check (or was repaired after its mistakes were
/// reported: see [`crate::check::check`]).
pub struct Network {
    /// Outer attributes to keep on the struct (`#[network]` removed, derives filtered).
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// `f32` or `f64`.
    pub scalar: Ident,
    /// Path of the facade crate (`::retroprop` unless `crate = ...` says otherwise).
    pub krate: TokenStream,
    /// What one sample is.
    pub input: Shape,
    pub layers: Vec<Layer>,
}

/// The shape of the values one sample has between two layers.
///
/// Every layer kind says which shapes it takes and gives. A spatial sample is stored flat, in
/// channel, row, column order (PyTorch's), so its size is `c * h * w`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A vector of this many values.
    Flat(usize),
    /// An image: `c` channels of `h` rows and `w` columns.
    Spatial { c: usize, h: usize, w: usize },
    /// A sparse vector over this many features (`input: sparse(n)`): only the present
    /// features are stored. Only the network's input has this shape; a `dense` layer reads it.
    Sparse(usize),
}

impl Shape {
    /// Values per sample.
    pub fn size(&self) -> usize {
        match self {
            Shape::Flat(n) | Shape::Sparse(n) => *n,
            Shape::Spatial { c, h, w } => c * h * w,
        }
    }

    /// As written in a definition and in messages: `64`, `[1, 28, 28]`.
    pub fn written(&self) -> String {
        match self {
            Shape::Flat(n) => n.to_string(),
            Shape::Spatial { c, h, w } => format!("[{c}, {h}, {w}]"),
            Shape::Sparse(n) => format!("sparse({n})"),
        }
    }

    /// The dimensions, as PyTorch lists them for one sample: `[64]`, `[1, 28, 28]`.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Shape::Flat(n) | Shape::Sparse(n) => vec![*n],
            Shape::Spatial { c, h, w } => vec![*c, *h, *w],
        }
    }

    /// Whether the shape is a flat (dense) vector.
    pub fn is_flat(&self) -> bool {
        matches!(self, Shape::Flat(_))
    }

    /// Whether the shape is a sparse vector.
    pub fn is_sparse(&self) -> bool {
        matches!(self, Shape::Sparse(_))
    }
}

/// A layer: its name, what it does, and what flows in and out of it.
pub struct Layer {
    pub name: Ident,
    pub kind: Box<dyn LayerKind>,
    /// The activation after the layer (`Identity` for kinds that take none).
    pub activation: Activation,
    /// What one sample is when it enters the layer.
    pub input: Shape,
    /// What one sample is when it leaves the layer.
    pub output: Shape,
}

impl Layer {
    /// The layer's name as written in messages and tensor names (`r#` removed).
    pub fn text(&self) -> String {
        self.name.unraw().to_string()
    }

    /// `[64] -> [32]`, for doc lines.
    pub fn shapes(&self) -> String {
        format!("`{}` -> `{}`", self.input.written(), self.output.written())
    }

    /// The layer as written in a normalized definition, activation included.
    pub fn written(&self) -> String {
        if self.activation == Activation::Identity {
            self.kind.written()
        } else {
            format!("{} -> {}", self.kind.written(), self.activation.written())
        }
    }

    /// Its parameter count.
    pub fn parameter_count(&self) -> usize {
        self.kind
            .parameters(self)
            .iter()
            .map(|p| p.shape.iter().product::<usize>())
            .sum()
    }

    /// Whether the layer learns parameters.
    pub fn has_parameters(&self) -> bool {
        !self.kind.parameters(self).is_empty()
    }
}

/// An activation and its parameter.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Activation {
    Identity,
    Relu,
    LeakyRelu(f64),
    Elu(f64),
    Sigmoid,
    Tanh,
    Softplus,
    Gelu,
    Silu,
    Softmax,
}

impl Activation {
    /// The name in the definition language.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Elu(_) => "elu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softplus => "softplus",
            Activation::Gelu => "gelu",
            Activation::Silu => "silu",
            Activation::Softmax => "softmax",
        }
    }

    /// The activation as written in a normalized definition (`leaky_relu(0.01)`).
    pub fn written(self) -> String {
        match self {
            Activation::LeakyRelu(a) | Activation::Elu(a) => format!("{}({a:?})", self.name()),
            other => other.name().to_owned(),
        }
    }

    /// Whether layers with this activation get He initialization (the relu family).
    pub fn relu_family(self) -> bool {
        matches!(
            self,
            Activation::Relu
                | Activation::LeakyRelu(_)
                | Activation::Elu(_)
                | Activation::Gelu
                | Activation::Silu
                | Activation::Softplus
        )
    }
}

impl Network {
    /// Values per output sample.
    pub fn output(&self) -> usize {
        self.layers.last().map_or(self.input.size(), |l| l.output.size())
    }

    /// Total parameter count.
    pub fn parameters(&self) -> usize {
        self.layers.iter().map(Layer::parameter_count).sum()
    }

    /// Whether the input is sparse (`input: sparse(n)`): the network implements
    /// `SparseNetwork` instead of `Network`.
    pub fn is_sparse(&self) -> bool {
        self.input.is_sparse()
    }

    /// Whether every layer supports the fused one-sample SGD update.
    pub fn fused_sgd(&self) -> bool {
        self.layers.iter().all(|l| l.kind.fused_sgd())
    }

    /// Whether the runs of one-sample steps take the static path (`nn::small`): every layer
    /// can (small dense layers).
    pub fn small_steps(&self) -> bool {
        self.layers.iter().enumerate().all(|(i, l)| l.kind.small_step(l, i > 0))
    }

    /// Whether any layer draws randomness in training (so the passes use the context).
    pub fn uses_context(&self) -> bool {
        self.layers.iter().any(|l| l.kind.uses_context())
    }

    /// The definition in normalized syntax.
    pub fn definition(&self) -> String {
        let mut text = format!("input: {}", self.input.written());
        for layer in &self.layers {
            text.push_str(&format!(", {}: {}", layer.text(), layer.written()));
        }
        text
    }
}
