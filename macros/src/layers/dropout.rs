//! `dropout(p)`: inverted dropout, active in training only; no parameters.

use super::{Backward, Buffer, Cx, Grad, LayerKind, Mode, Names, Registered, Source};
use crate::ast::Call;
use crate::check::{check_count, number, Errors};
use crate::model::{Layer, Shape};
use proc_macro2::{Literal, Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

pub const REGISTERED: Registered = Registered {
    name: "dropout",
    takes_activation: false,
    not_last: Some("a dropout layer cannot be the last layer; the last layer gives the outputs and must be `dense`"),
    check,
};

/// Dropout with this drop probability.
struct Dropout {
    rate: f64,
}

/// Checks `dropout(p)`. A layer without a valid probability is left out of the repaired
/// network (it changes nothing of the network's interface).
fn check(call: &Call, errors: &mut Errors) -> Option<Box<dyn LayerKind>> {
    const MISSING: &str = "`dropout` needs a drop probability, as in `dropout(0.2)`";
    let rate = match check_count(call, MISSING, errors)? {
        [value] => match number(value) {
            Some(p) if (0.0..1.0).contains(&p) => p,
            Some(p) => {
                errors.push(
                    value.span(),
                    format!("the drop probability must be in [0, 1), not {p}; write e.g. `dropout(0.2)`"),
                );
                return None;
            }
            None => {
                errors.push(
                    value.span(),
                    "`dropout` takes a number literal in [0, 1), as in `dropout(0.2)`",
                );
                return None;
            }
        },
        [_, extra, ..] => {
            errors.push(extra.span(), "`dropout` takes one argument, the drop probability");
            return None;
        }
        [] => return None,
    };
    Some(Box::new(Dropout { rate }))
}

impl LayerKind for Dropout {
    fn written(&self) -> String {
        format!("dropout({:?})", self.rate)
    }

    fn registered(&self) -> &'static Registered {
        &REGISTERED
    }

    fn connect(&mut self, _layer: &str, input: &Shape, _span: Span, _errors: &mut Errors) -> Shape {
        self.output(input)
    }

    fn output(&self, input: &Shape) -> Shape {
        input.clone()
    }

    fn uses_context(&self) -> bool {
        true
    }

    fn buffers(&self, layer: &Layer) -> Vec<Buffer> {
        let n = Names::of(layer);
        let per_sample = layer.output.size();
        [n.act, n.mask, n.delta]
            .into_iter()
            .map(|field| Buffer::scalars(field, per_sample))
            .collect()
    }

    fn training_output(&self, cx: &Cx, index: usize) -> Source {
        Source::Buffer(Names::of(&cx.net.layers[index]).act)
    }

    fn forward_one(&self, _cx: &Cx, layer: &Layer, input: &TokenStream) -> TokenStream {
        let act = Names::of(layer).act;
        let doc = format!(" Layer `{}`: dropout is inactive in inference, `a = x`.", layer.text());
        quote!(#[doc = #doc] let #act = *#input;)
    }

    fn forward_batch(&self, cx: &Cx, layer: &Layer, input: &TokenStream, mode: Mode) -> TokenStream {
        let (p, t, text) = (&cx.p, cx.t, layer.text());
        let Names { act, mask, .. } = Names::of(layer);
        if !mode.training() {
            let doc = format!(" Layer `{text}`: dropout is inactive in inference, `a = x`.");
            return quote!(#[doc = #doc] let #act: &[#t] = #input;);
        }
        let rate = self.rate;
        let doc = format!(
            " Layer `{text}`: dropout: in training mode each value is zeroed with probability {rate:?} \
             and the others scaled by 1 / (1 - {rate:?}); the mask is kept for the backward pass."
        );
        let rate = Literal::f64_unsuffixed(rate);
        quote!(#[doc = #doc] let #act = #p::dropout_forward(#rate, #input, &mut ws.#mask, &mut ws.#act, ctx);)
    }

    fn backward(&self, cx: &Cx, layer: &Layer, grad: Option<&Grad>, below: Option<&Layer>) -> Backward {
        let p = &cx.p;
        let mask = Names::of(layer).mask;
        let (code, below) = match (grad, below) {
            (Some(grad), Some(below)) => {
                let var = &grad.var;
                let grad_below = Grad {
                    doc: format!(
                        " Layer `{}`: dropout: the gradient passes through the same mask, `dx = da * mask`: \
                         the gradient with respect to layer `{}`'s activation.",
                        layer.text(),
                        below.text()
                    ),
                    expr: quote!(#p::dropout_backward(&ws.#mask, #var)),
                    var: Names::of(below).grad,
                    buffer: grad.buffer.clone(),
                };
                (grad.bind(), Some(grad_below))
            }
            _ => (TokenStream::new(), None),
        };
        Backward {
            code,
            delta: None,
            below,
        }
    }
}
