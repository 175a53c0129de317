//! The backward pass, walked from the output layer down: emitted once, as the private method
//! `backward_pass`, which `gradients_into` (then the parameter gradients) and the fused path
//! (then the updates) both call after their forward pass and the loss.

use super::Types;
use crate::layers::{Cx, Grad, Names, Source};
use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

/// The backward walk of one network.
pub struct Backward {
    /// The statements of `backward_pass`, top to bottom.
    code: Vec<TokenStream>,
    /// For each layer, the workspace buffer that holds its delta afterwards (layers with
    /// parameters only).
    deltas: Vec<Option<Ident>>,
}

impl Backward {
    pub fn new(cx: &Cx) -> Self {
        let layers = &cx.net.layers;
        let mut code = Vec::new();
        let mut deltas = vec![None; layers.len()];
        // Whether a layer below `i` has parameters, so that the gradient must flow past `i`.
        let parameters_below = |i: usize| layers[..i].iter().any(|l| l.has_parameters());
        let mut grad: Option<Grad> = None;
        for (i, layer) in layers.iter().enumerate().rev() {
            let flows_on = parameters_below(i);
            if !flows_on && !layer.has_parameters() {
                continue;
            }
            let below = flows_on.then(|| &layers[i - 1]);
            let step = layer.kind.backward(cx, layer, grad.as_ref(), below);
            code.push(step.code);
            deltas[i] = step.delta;
            grad = step.below;
        }
        Backward { code, deltas }
    }

    /// Whether there is anything to do below the loss (a network of one dense layer has
    /// nothing: the loss writes its delta).
    fn is_empty(&self) -> bool {
        self.code.iter().all(TokenStream::is_empty)
    }

    /// The buffer that holds layer `index`'s delta after the backward pass.
    pub fn delta(&self, index: usize) -> Option<&Ident> {
        self.deltas.get(index).and_then(Option::as_ref)
    }

    /// The private method `backward_pass`.
    pub fn method(&self, _cx: &Cx, types: &Types) -> TokenStream {
        if self.is_empty() {
            return TokenStream::new();
        }
        let (ws, code) = (&types.ws, &self.code);
        quote! {
            /// The backward pass of a training step over `n` samples, after the forward pass
            /// and the loss filled `ws`: from the output layer's delta (the gradient of the
            /// loss with respect to its pre-activation), every layer's delta, down to the
            /// first layer with parameters.
            #[allow(unused_doc_comments)]
            #[inline]
            fn backward_pass(&self, ws: &mut #ws, n: usize) {
                #(#code)*
            }
        }
    }

    /// The statements of the backward pass, top to bottom (written out in place of a call of
    /// `backward_pass`).
    pub fn code(&self) -> &[TokenStream] {
        &self.code
    }

    /// The call of `backward_pass`, if there is one.
    pub fn call(&self) -> TokenStream {
        if self.is_empty() {
            return TokenStream::new();
        }
        quote! {
            /// The backward pass: every layer's delta.
            self.backward_pass(ws, n);
        }
    }

    /// The statements of `gradients_into` after the backward pass: each layer's parameter
    /// gradients, top to bottom.
    pub fn parameter_gradients(&self, cx: &Cx) -> Vec<TokenStream> {
        let layers = &cx.net.layers;
        (0..layers.len())
            .rev()
            .filter_map(|i| {
                let delta = self.delta(i)?;
                let input = input_buffer(cx, i, false);
                let delta = quote!(&ws.#delta);
                Some(layers[i].kind.parameter_gradients(cx, &layers[i], &delta, &input))
            })
            .collect()
    }
}

/// The input of layer `index` in a training pass: `x`, or the buffer that holds the output of
/// the layer below. `one_sample`: sliced to one sample (for kernels that read the whole
/// slice).
pub fn input_buffer(cx: &Cx, index: usize, one_sample: bool) -> TokenStream {
    match cx.training_input(index) {
        // In a run of one-sample steps `x` is one sample already.
        Source::Input => quote!(x),
        Source::Buffer(buffer) if one_sample => {
            let width = cx.input_width(index);
            quote!(&ws.#buffer[..#width])
        }
        Source::Buffer(buffer) => quote!(&ws.#buffer),
    }
}

/// The name of a layer's delta buffer (the loss writes the last layer's).
pub fn own_delta(layer: &crate::model::Layer) -> Ident {
    Names::of(layer).delta
}
