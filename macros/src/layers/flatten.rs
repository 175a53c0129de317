//! `flatten`: `[C, H, W]` to `C * H * W` values in PyTorch's order (channel, row, column).
//! Samples are stored in that order already, so it moves no data.

use super::{Backward, Buffer, Cx, Grad, LayerKind, Mode, Names, Registered, Source};
use crate::ast::Call;
use crate::check::Errors;
use crate::model::{Layer, Shape};
use proc_macro2::{Span, TokenStream};
use quote::quote;

pub const REGISTERED: Registered = Registered {
    name: "flatten",
    takes_activation: false,
    not_last: Some("`flatten` cannot be the last layer; the outputs come from a `dense` layer after it"),
    check,
};

struct Flatten;

/// Checks `flatten` (no arguments).
fn check(call: &Call, errors: &mut Errors) -> Option<Box<dyn LayerKind>> {
    if let Some(args) = &call.args {
        errors.push(args.span, "`flatten` takes no arguments; write `flatten`");
    }
    Some(Box::new(Flatten))
}

impl LayerKind for Flatten {
    fn registered(&self) -> &'static Registered {
        &REGISTERED
    }

    fn written(&self) -> String {
        "flatten".to_owned()
    }

    fn connect(&mut self, layer: &str, input: &Shape, span: Span, errors: &mut Errors) -> Shape {
        if input.is_flat() {
            errors.push(
                span,
                format!(
                    "layer `{layer}` flattens a flat input of {} values; `flatten` goes after an image layer, \
                     remove it here",
                    input.size()
                ),
            );
        }
        self.output(input)
    }

    fn output(&self, input: &Shape) -> Shape {
        Shape::Flat(input.size())
    }

    fn buffers(&self, layer: &Layer) -> Vec<Buffer> {
        // The layer above writes the gradient with respect to its input here.
        vec![Buffer::scalars(Names::of(layer).delta, layer.output.size())]
    }

    fn training_output(&self, cx: &Cx, index: usize) -> Source {
        cx.training_input(index)
    }

    fn forward_one(&self, _cx: &Cx, layer: &Layer, input: &TokenStream) -> TokenStream {
        let act = Names::of(layer).act;
        let doc = format!(
            " Layer `{}`: flatten, `{}` to {} values in channel, row, column order (the order they are stored in).",
            layer.text(),
            layer.input.written(),
            layer.output.size()
        );
        quote!(#[doc = #doc] let #act = *#input;)
    }

    fn forward_batch(&self, cx: &Cx, layer: &Layer, input: &TokenStream, _mode: Mode) -> TokenStream {
        let (t, act) = (cx.t, Names::of(layer).act);
        let doc = format!(
            " Layer `{}`: flatten, `{}` to {} values per sample; the values stay where they are.",
            layer.text(),
            layer.input.written(),
            layer.output.size()
        );
        quote!(#[doc = #doc] let #act: &[#t] = #input;)
    }

    fn backward(&self, _cx: &Cx, layer: &Layer, grad: Option<&Grad>, below: Option<&Layer>) -> Backward {
        // The gradient passes through unchanged: it is handed on as it came, under the name
        // of the layer below.
        let below = match (grad, below) {
            (Some(grad), Some(below)) => Some(Grad {
                doc: format!(
                    "{} Layer `{}` only reshapes: this is the gradient with respect to layer `{}`'s output.",
                    grad.doc,
                    layer.text(),
                    below.text()
                ),
                expr: grad.expr.clone(),
                var: Names::of(below).grad,
                buffer: grad.buffer.clone(),
            }),
            _ => None,
        };
        Backward {
            code: TokenStream::new(),
            delta: None,
            below,
        }
    }
}
