//! `dense(n)`: `z = W x + b`, then the activation. As the first layer after a sparse input
//! (`input: sparse(features)`), it reads only the present features: its forward pass and its
//! weight gradient cost the batch's stored entries times its width.

use super::{Backward, Buffer, Cx, Grad, LayerKind, Mode, Names, Param, Registered, Source};
use crate::ast::Call;
use crate::check::{check_count, Errors, MAX_LAYER_WEIGHTS};
use crate::model::{Activation, Layer, Shape};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Lit};

pub const REGISTERED: Registered = Registered {
    name: "dense",
    takes_activation: true,
    not_last: None,
    check,
};

/// A dense layer with `width` outputs.
struct Dense {
    width: usize,
    /// Whether it reads a sparse input (set by `connect`).
    sparse_input: bool,
}

/// Checks `dense(n)`. A missing or bad width is reported and repaired to 1.
fn check(call: &Call, errors: &mut Errors) -> Option<Box<dyn LayerKind>> {
    let width = match check_count(call, "`dense` needs a width, as in `dense(32)`", errors) {
        Some([width]) => check_width(width, errors),
        Some([_, extra, ..]) => {
            errors.push(extra.span(), "`dense` takes one argument, its width, as in `dense(32)`");
            None
        }
        _ => None,
    };
    Some(Box::new(Dense {
        width: width.unwrap_or(1),
        sparse_input: false,
    }))
}

fn check_width(expr: &Expr, errors: &mut Errors) -> Option<usize> {
    let span = expr.span();
    match expr {
        Expr::Lit(syn::ExprLit { lit: Lit::Int(int), .. }) => match int.base10_parse::<usize>() {
            Ok(0) => {
                errors.push(span, "a layer's width must be at least 1");
                None
            }
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(span, "this width is too large");
                None
            }
        },
        _ => {
            errors.push(
                span,
                "a layer's width must be a positive whole number literal, as in `dense(32)`",
            );
            None
        }
    }
}

impl Dense {
    fn fan_in(layer: &Layer) -> usize {
        layer.input.size()
    }
}

impl LayerKind for Dense {
    fn registered(&self) -> &'static Registered {
        &REGISTERED
    }

    fn written(&self) -> String {
        format!("dense({})", self.width)
    }

    fn connect(&mut self, layer: &str, input: &Shape, span: Span, errors: &mut Errors) -> Shape {
        self.sparse_input = input.is_sparse();
        if matches!(input, Shape::Spatial { .. }) {
            errors.push(
                span,
                format!(
                    "`dense` needs a flat input, but layer `{layer}` gets {} values of shape `{}`; add \
                     `flatten` before it, as in `flat: flatten,`",
                    input.size(),
                    input.written()
                ),
            );
        }
        let fan_in = input.size();
        if self.width.checked_mul(fan_in).is_none_or(|w| w > MAX_LAYER_WEIGHTS) {
            errors.push(
                span,
                format!(
                    "layer `{layer}` would have {} x {fan_in} weights, more than the limit of 2^28 \
                     ({MAX_LAYER_WEIGHTS}); use a smaller width",
                    self.width
                ),
            );
            self.width = 1;
        }
        self.output(input)
    }

    fn output(&self, _input: &Shape) -> Shape {
        Shape::Flat(self.width)
    }

    fn parameters(&self, layer: &Layer) -> Vec<Param> {
        let names = Names::of(layer);
        let (text, fan_in) = (layer.text(), Dense::fan_in(layer));
        vec![
            Param {
                field: names.weight,
                suffix: "weight",
                shape: vec![self.width, fan_in],
                is_weight: true,
                doc: format!(
                    " Weights of layer `{text}`: {} x {fan_in} (outputs x inputs).",
                    self.width
                ),
            },
            Param {
                field: names.bias,
                suffix: "bias",
                shape: vec![self.width],
                is_weight: false,
                doc: format!(" Biases of layer `{text}`."),
            },
        ]
    }

    fn init(&self, cx: &Cx, layer: &Layer) -> TokenStream {
        let index = cx.net.layers.iter().position(|l| l.name == layer.name).unwrap_or(0);
        super::init_weights(cx, layer, "weights", "", cx.input_width(index), cx.width(layer))
    }

    fn buffers(&self, layer: &Layer) -> Vec<Buffer> {
        let n = Names::of(layer);
        [n.pre, n.act, n.delta]
            .into_iter()
            .map(|field| Buffer::scalars(field, self.width))
            .collect()
    }

    fn training_output(&self, cx: &Cx, index: usize) -> Source {
        let n = Names::of(&cx.net.layers[index]);
        Source::Buffer(if cx.net.layers[index].activation == Activation::Identity {
            n.pre
        } else {
            n.act
        })
    }

    fn forward_one(&self, cx: &Cx, layer: &Layer, input: &TokenStream) -> TokenStream {
        let (p, text) = (&cx.p, layer.text());
        let Names {
            weight: w,
            bias: b,
            pre,
            ..
        } = Names::of(layer);
        let doc_pre = format!(" Layer `{text}` ({}): pre-activation `z = W x + b`.", layer.shapes());
        let pre_step = quote_spanned! {layer.name.span()=>
            #[doc = #doc_pre]
            let #pre = #p::dense_vector(&self.#w, &self.#b, #input);
        };
        let act_step = super::activation_one(cx, layer);
        quote!(#pre_step #act_step)
    }

    fn forward_batch(&self, cx: &Cx, layer: &Layer, input: &TokenStream, mode: Mode) -> TokenStream {
        let (p, text) = (&cx.p, layer.text());
        let Names {
            weight: w,
            bias: b,
            pre,
            ..
        } = Names::of(layer);
        let pre_step = match mode {
            _ if cx.small => {
                let doc = format!(
                    " Layer `{text}` ({}): pre-activation `z = W x + b`, over the layer's static shape.",
                    layer.shapes()
                );
                quote_spanned! {layer.name.span()=>
                    #[doc = #doc]
                    let #pre = #p::small::dense_forward::<M, _, _, _>(&self.#w, &self.#b, #input, &mut ws.#pre);
                }
            }
            Mode::Run {
                first_delta: Some(first_delta),
            } => {
                let doc = format!(
                    " Layer `{text}`: pre-activation `z = W x + b`. From the second sample of the run on, the \
                     previous sample's update `W -= lr dz x_prev^T`, `b -= lr dz` is applied in the same pass \
                     over the weights."
                );
                quote_spanned! {layer.name.span()=>
                    #[doc = #doc]
                    let #pre = match x_prev {
                        ::core::option::Option::Some(x_prev) => #p::sgd_update_and_forward(
                            &mut self.#w, &mut self.#b, lr, &ws.#first_delta, x_prev, #input, &mut ws.#pre,
                        ),
                        ::core::option::Option::None => #p::dense_forward(&self.#w, &self.#b, #input, &mut ws.#pre, n),
                    };
                }
            }
            _ if self.sparse_input => {
                let doc = format!(
                    " Layer `{text}` ({}): pre-activation `z = W x + b` for every sample, from the present \
                     features only (`b` plus `v * W[:, k]` for each stored entry `(k, v)`).",
                    layer.shapes()
                );
                quote_spanned! {layer.name.span()=>
                    #[doc = #doc]
                    let #pre = #p::sparse_forward(&self.#w, &self.#b, x, &mut ws.#pre, n);
                }
            }
            _ => {
                let doc = format!(
                    " Layer `{text}` ({}): pre-activation `z = W x + b` for every sample.",
                    layer.shapes()
                );
                quote_spanned! {layer.name.span()=>
                    #[doc = #doc]
                    let #pre = #p::dense_forward(&self.#w, &self.#b, #input, &mut ws.#pre, n);
                }
            }
        };
        let act_step = super::activation_batch(cx, layer);
        quote!(#pre_step #act_step)
    }

    fn backward(&self, cx: &Cx, layer: &Layer, grad: Option<&Grad>, below: Option<&Layer>) -> Backward {
        let (p, text) = (&cx.p, layer.text());
        let Names { weight: w, .. } = Names::of(layer);
        let (code, delta_expr, delta_buffer) = super::chain_rule(cx, layer, grad, below);
        let below = below.map(|below| {
            let below_names = Names::of(below);
            let below_delta = &below_names.delta;
            Grad {
                doc: format!(
                    " Layer `{text}`: gradient with respect to layer `{}`'s activation, `da = W^T dz`.",
                    below.text()
                ),
                expr: if cx.small {
                    quote!(#p::small::input_gradient(&self.#w, #delta_expr, &mut ws.#below_delta))
                } else {
                    quote!(#p::input_gradient(&self.#w, #delta_expr, &mut ws.#below_delta, n))
                },
                var: below_names.grad.clone(),
                buffer: below_names.delta.clone(),
            }
        });
        Backward {
            code,
            delta: Some(delta_buffer),
            below,
        }
    }

    fn parameter_gradients(&self, cx: &Cx, layer: &Layer, delta: &TokenStream, input: &TokenStream) -> TokenStream {
        let (p, text) = (&cx.p, layer.text());
        let Names { weight: w, bias: b, .. } = Names::of(layer);
        if self.sparse_input {
            let doc_w = format!(
                " Layer `{text}`: weight gradient `dW = dz x^T`, summed over the batch, as the columns of the \
                 present features only."
            );
            let doc_b = format!(" Layer `{text}`: bias gradient `db = dz`, summed over the batch.");
            return quote_spanned! {layer.name.span()=>
                #[doc = #doc_w]
                grads.#w.compute(#input, #delta);
                #[doc = #doc_b]
                #p::bias_gradient(&mut grads.#b, #delta, n);
            };
        }
        let doc_w = format!(" Layer `{text}`: weight gradient `dW = dz a^T`, summed over the batch.");
        let doc_b = format!(" Layer `{text}`: bias gradient `db = dz`, summed over the batch.");
        quote_spanned! {layer.name.span()=>
            #[doc = #doc_w]
            #p::weight_gradient(&mut grads.#w, #delta, #input, n);
            #[doc = #doc_b]
            #p::bias_gradient(&mut grads.#b, #delta, n);
        }
    }

    fn sgd_update(&self, cx: &Cx, layer: &Layer, delta: &TokenStream, input: &TokenStream, first: bool) -> TokenStream {
        let (p, text) = (&cx.p, layer.text());
        let Names { weight: w, bias: b, .. } = Names::of(layer);
        if cx.small {
            let doc = format!(" Layer `{text}`: `W -= lr dz a^T` and `b -= lr dz` in one pass.");
            return quote_spanned! {layer.name.span()=>
                #[doc = #doc]
                #p::small::sgd_dense_update(&mut self.#w, &mut self.#b, lr, #delta, #input);
            };
        }
        if first {
            let doc = format!(
                " Layer `{text}`: `W -= lr dz x^T` and `b -= lr dz` in one pass, after the run's last sample \
                 only: the others' updates are applied by the next sample's forward pass."
            );
            quote_spanned! {layer.name.span()=>
                if j + 1 == samples {
                    #[doc = #doc]
                    #p::sgd_dense_update(&mut self.#w, &mut self.#b, lr, #delta, #input);
                }
            }
        } else {
            let doc = format!(" Layer `{text}`: `W -= lr dz a^T` and `b -= lr dz` in one pass.");
            quote_spanned! {layer.name.span()=>
                #[doc = #doc]
                #p::sgd_dense_update(&mut self.#w, &mut self.#b, lr, #delta, #input);
            }
        }
    }

    fn fused_sgd(&self) -> bool {
        // The fused step writes a dense rank-one update: not for a sparse input.
        !self.sparse_input
    }

    fn small_step(&self, layer: &Layer, below: bool) -> bool {
        // As `nn::small::{SMALL_WEIGHTS, SMALL_WIDTH}`.
        let weights = self.width.checked_mul(Dense::fan_in(layer));
        !self.sparse_input && weights.is_some_and(|w| w <= 256) && (!below || self.width <= 32)
    }

    fn norm_term(&self, cx: &Cx, _layer: &Layer, delta: &TokenStream, input: &TokenStream) -> Option<TokenStream> {
        let p = &cx.p;
        Some(quote!(#p::outer_norm_squared(#delta, #input)))
    }
}
