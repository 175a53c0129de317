//! The validated network that [`crate::expand`] generates code from.

use proc_macro2::TokenStream;
use syn::{Attribute, Ident, Visibility};

/// A network definition that passed every check.
pub struct Network {
    /// Outer attributes to keep on the struct (`#[network]` removed).
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// `f32` or `f64`.
    pub scalar: Ident,
    /// Path of the facade crate (`::retroprop` unless `crate = ...` says otherwise).
    pub krate: TokenStream,
    /// Input features.
    pub input: usize,
    pub layers: Vec<Layer>,
}

/// A layer.
pub struct Layer {
    pub name: Ident,
    pub kind: LayerKind,
    /// Inputs (the previous layer's width, or the network's input).
    pub fan_in: usize,
    /// Outputs (the same as `fan_in` for dropout).
    pub width: usize,
    /// The activation (`Identity` for dropout).
    pub activation: Activation,
}

/// What a layer does.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum LayerKind {
    /// `W x + b`, then the activation.
    Dense,
    /// Inverted dropout with this drop probability, active in training only.
    Dropout(f64),
}

impl Layer {
    /// Whether the layer has weights.
    pub fn is_dense(&self) -> bool {
        self.kind == LayerKind::Dense
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
    /// Whether any layer is a dropout layer (the training pass then uses the context).
    pub fn has_dropout(&self) -> bool {
        self.layers.iter().any(|l| !l.is_dense())
    }

    /// Output width.
    pub fn output(&self) -> usize {
        self.layers.last().map_or(self.input, |l| l.width)
    }

    /// Total parameter count.
    pub fn parameters(&self) -> usize {
        self.layers
            .iter()
            .filter(|l| l.is_dense())
            .map(|l| l.width * l.fan_in + l.width)
            .sum()
    }

    /// The definition in normalized syntax.
    pub fn definition(&self) -> String {
        let mut text = format!("input: {}", self.input);
        for layer in &self.layers {
            let name = syn::ext::IdentExt::unraw(&layer.name);
            if let LayerKind::Dropout(p) = layer.kind {
                text.push_str(&format!(", {name}: dropout({p:?})"));
                continue;
            }
            text.push_str(&format!(", {name}: dense({})", layer.width));
            if layer.activation != Activation::Identity {
                text.push_str(&format!(" -> {}", layer.activation.written()));
            }
        }
        text
    }
}
