//! `max_pool(k)` and `avg_pool(k)`: a `k`-wide window (an integer or a `(height, width)`
//! pair) over each channel of an image, stride `k` unless `stride = s` is given; no padding,
//! no parameters. Max pooling sends the gradient to the position of the maximum (the first one
//! on ties, as PyTorch); average pooling spreads it evenly.

use super::{lit, size_pair, Arguments, Backward, Buffer, Cx, Grad, LayerKind, Mode, Names, Registered, Source};
use crate::ast::Call;
use crate::check::Errors;
use crate::model::{Layer, Shape};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

const NOT_LAST: &str = "a pooling layer cannot be the last layer; add `flatten` and a `dense` layer for the outputs";

pub const MAX_POOL: Registered = Registered {
    name: "max_pool",
    takes_activation: false,
    not_last: Some(NOT_LAST),
    check: check_max,
};

pub const AVG_POOL: Registered = Registered {
    name: "avg_pool",
    takes_activation: false,
    not_last: Some(NOT_LAST),
    check: check_avg,
};

/// Which pooling.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Max,
    Avg,
}

/// A pooling layer.
struct Pool {
    op: Op,
    window: (usize, usize),
    stride: (usize, usize),
}

fn check_max(call: &Call, errors: &mut Errors) -> Option<Box<dyn LayerKind>> {
    check(call, Op::Max, errors)
}

fn check_avg(call: &Call, errors: &mut Errors) -> Option<Box<dyn LayerKind>> {
    check(call, Op::Avg, errors)
}

/// Checks `max_pool(k)`, `max_pool((kh, kw), stride = s)`. A bad window or stride is
/// reported and repaired to 1 (the layer then passes its input on).
fn check(call: &Call, op: Op, errors: &mut Errors) -> Option<Box<dyn LayerKind>> {
    let name = call.ident.to_string();
    let arguments = Arguments::of(call, &["stride"], errors);
    let window = match (arguments.positional.as_slice(), &call.args) {
        ([window], _) => size_pair(window, "the pooling window", errors),
        ([_, extra, ..], _) => {
            errors.push(
                syn::spanned::Spanned::span(*extra),
                format!("`{name}` takes one window size, as in `{name}(2)`; give the stride as `stride = 2`"),
            );
            None
        }
        ([], Some(args)) => {
            errors.push(args.span, format!("`{name}` needs a window size, as in `{name}(2)`"));
            None
        }
        ([], None) => {
            errors.push(
                call.ident.span(),
                format!("`{name}` needs a window size, as in `{name}(2)`"),
            );
            None
        }
    };
    let window = window.unwrap_or((1, 1));
    let stride = match arguments.named("stride") {
        Some(stride) => size_pair(stride, "the stride", errors).unwrap_or((1, 1)),
        None => window,
    };
    Some(Box::new(Pool { op, window, stride }))
}

impl Pool {
    /// The constant with the layer's geometry: `POOL1_POOL`.
    fn constant(layer: &Layer) -> Ident {
        Ident::new(&format!("{}_POOL", layer.text().to_uppercase()), Span::call_site())
    }
}

impl LayerKind for Pool {
    fn registered(&self) -> &'static Registered {
        match self.op {
            Op::Max => &MAX_POOL,
            Op::Avg => &AVG_POOL,
        }
    }

    fn written(&self) -> String {
        let size = |(h, w): (usize, usize)| if h == w { h.to_string() } else { format!("({h}, {w})") };
        if self.stride == self.window {
            format!("{}({})", self.registered().name, size(self.window))
        } else {
            format!(
                "{}({}, stride = {})",
                self.registered().name,
                size(self.window),
                size(self.stride)
            )
        }
    }

    fn connect(&mut self, layer: &str, input: &Shape, span: Span, errors: &mut Errors) -> Shape {
        let name = self.registered().name;
        match input {
            Shape::Flat(n) | Shape::Sparse(n) => {
                errors.push(
                    span,
                    format!(
                        "`{name}` needs an image input `[channels, height, width]`, but layer `{layer}` gets {n} \
                         flat values"
                    ),
                );
                self.window = (1, 1);
                self.stride = (1, 1);
            }
            Shape::Spatial { h, w, .. } => {
                let (kh, kw) = self.window;
                if kh > *h || kw > *w {
                    errors.push(
                        span,
                        format!(
                            "the {kh}x{kw} window of layer `{layer}` is larger than its {h}x{w} input; use a \
                             window of at most {h}x{w}"
                        ),
                    );
                    self.window = (kh.min(*h), kw.min(*w));
                }
            }
        }
        self.output(input)
    }

    fn output(&self, input: &Shape) -> Shape {
        match input {
            Shape::Spatial { c, h, w } => Shape::Spatial {
                c: *c,
                h: h.saturating_sub(self.window.0) / self.stride.0 + 1,
                w: w.saturating_sub(self.window.1) / self.stride.1 + 1,
            },
            // Unreachable after `connect` (a flat input is reported); keeps the shape.
            flat => flat.clone(),
        }
    }

    fn constants(&self, cx: &Cx, layer: &Layer) -> TokenStream {
        let p = &cx.p;
        // A flat input was reported; the repaired layer pools `[1, n, 1]` in 1x1 windows.
        let (c, h, w) = match layer.input {
            Shape::Spatial { c, h, w } => (c, h, w),
            Shape::Flat(n) | Shape::Sparse(n) => (1, n, 1),
        };
        let name = Pool::constant(layer);
        let [c, h, w, kh, kw, sh, sw] = [c, h, w, self.window.0, self.window.1, self.stride.0, self.stride.1].map(lit);
        let doc = format!(" The geometry of layer `{}` ({}).", layer.text(), layer.shapes());
        quote! {
            #[doc = #doc]
            const #name: #p::Pool2d = #p::Pool2d::new(#c, #h, #w, (#kh, #kw), (#sh, #sw));
        }
    }

    fn buffers(&self, layer: &Layer) -> Vec<Buffer> {
        let n = Names::of(layer);
        let per_sample = layer.output.size();
        let mut buffers = vec![Buffer::scalars(n.act, per_sample), Buffer::scalars(n.delta, per_sample)];
        if self.op == Op::Max {
            buffers.push(Buffer {
                field: n.argmax,
                per_sample,
                indices: true,
                fixed: None,
            });
        }
        buffers
    }

    fn training_output(&self, cx: &Cx, index: usize) -> Source {
        Source::Buffer(Names::of(&cx.net.layers[index]).act)
    }

    fn forward_one(&self, cx: &Cx, layer: &Layer, input: &TokenStream) -> TokenStream {
        let (p, t, nalgebra) = (&cx.p, cx.t, cx.nalgebra());
        let (act, geometry, width) = (Names::of(layer).act, Pool::constant(layer), cx.width(layer));
        let doc = format!(" Layer `{}` ({}): {}.", layer.text(), layer.shapes(), self.describe());
        let pool = match self.op {
            Op::Max => quote! {
                let mut argmax = [0u32; #width];
                #p::max_pool_forward(&Self::#geometry, #input.as_slice(), out.as_mut_slice(), &mut argmax, 1);
            },
            Op::Avg => quote! {
                #p::avg_pool_forward(&Self::#geometry, #input.as_slice(), out.as_mut_slice(), 1);
            },
        };
        quote! {
            #[doc = #doc]
            let #act = {
                let mut out = #nalgebra::SVector::<#t, { #width }>::zeros();
                #pool
                out
            };
        }
    }

    fn forward_batch(&self, cx: &Cx, layer: &Layer, input: &TokenStream, _mode: Mode) -> TokenStream {
        let p = &cx.p;
        let Names { act, argmax, .. } = Names::of(layer);
        let geometry = Pool::constant(layer);
        let doc = format!(
            " Layer `{}` ({}): {}, for every sample.",
            layer.text(),
            layer.shapes(),
            self.describe()
        );
        match self.op {
            Op::Max => quote! {
                #[doc = #doc]
                let #act = #p::max_pool_forward(&Self::#geometry, #input, &mut ws.#act, &mut ws.#argmax, n);
            },
            Op::Avg => quote! {
                #[doc = #doc]
                let #act = #p::avg_pool_forward(&Self::#geometry, #input, &mut ws.#act, n);
            },
        }
    }

    fn backward(&self, cx: &Cx, layer: &Layer, grad: Option<&Grad>, below: Option<&Layer>) -> Backward {
        let p = &cx.p;
        let (Some(grad), Some(below)) = (grad, below) else {
            return Backward {
                code: TokenStream::new(),
                delta: None,
                below: None,
            };
        };
        let (var, geometry, argmax) = (&grad.var, Pool::constant(layer), Names::of(layer).argmax);
        let below_names = Names::of(below);
        let below_delta = &below_names.delta;
        let (expr, rule) = match self.op {
            Op::Max => (
                quote!(#p::max_pool_backward(&Self::#geometry, &ws.#argmax, #var, &mut ws.#below_delta, n)),
                "each gradient goes to the position of its window's maximum",
            ),
            Op::Avg => (
                quote!(#p::avg_pool_backward(&Self::#geometry, #var, &mut ws.#below_delta, n)),
                "each gradient is spread evenly over its window",
            ),
        };
        Backward {
            code: grad.bind(),
            delta: None,
            below: Some(Grad {
                doc: format!(
                    " Layer `{}`: {rule}: the gradient with respect to layer `{}`'s output.",
                    layer.text(),
                    below.text()
                ),
                expr,
                var: below_names.grad.clone(),
                buffer: below_names.delta.clone(),
            }),
        }
    }
}

impl Pool {
    fn describe(&self) -> String {
        let ((kh, kw), (sh, sw)) = (self.window, self.stride);
        let what = match self.op {
            Op::Max => "the maximum",
            Op::Avg => "the mean",
        };
        format!("{what} of each {kh}x{kw} window, stride {sh}x{sw}")
    }
}
