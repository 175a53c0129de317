//! `conv2d(out, kernel = k, stride = s, padding = p)`: a 2-D convolution of an image with
//! `out` learned `in x kh x kw` filters plus a bias per output channel, then the activation.
//! `k`, `s` and `p` are each an integer or a `(height, width)` pair; the stride defaults to
//! 1 and the (zero) padding to 0. Output sizes are PyTorch's, `(h + 2p - k) / s + 1`
//! rounded down. The weight is PyTorch's `[out, in, kh, kw]` tensor.
//!
//! The runtime computes it as a matrix product per sample over the sample's patch matrix
//! (im2col, [`Conv2d`](https://docs.rs/retroprop-runtime) in `nn::conv`), with one scratch
//! buffer per layer in the workspace that holds one sample's patches.

use super::{
    lit, size_pair, size_pair_from, Arguments, Backward, Buffer, Cx, Grad, LayerKind, Mode, Names, Param, Registered,
    Source,
};
use crate::ast::Call;
use crate::check::{Errors, MAX_LAYER_WEIGHTS};
use crate::model::{Activation, Layer, Shape};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::Ident;

pub const REGISTERED: Registered = Registered {
    name: "conv2d",
    takes_activation: true,
    not_last: Some("a convolution cannot be the last layer; add `flatten` and a `dense` layer for the outputs"),
    check,
};

/// The most values a layer's output or one sample's patch matrix may hold.
const MAX_VALUES: usize = 1 << 28;

/// A convolution layer.
struct Conv {
    channels: usize,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
    /// Where the kernel size was written (or the call, if it was not), for messages about it.
    kernel_span: Span,
}

/// Checks `conv2d(6, kernel = 5, stride = 2, padding = (1, 2))`. A bad argument is reported
/// and repaired (channels and sizes to 1, padding to 0).
fn check(call: &Call, errors: &mut Errors) -> Option<Box<dyn LayerKind>> {
    const EXAMPLE: &str = "as in `conv2d(6, kernel = 5)`";
    let arguments = Arguments::of(call, &["kernel", "stride", "padding"], errors);
    let call_span = call.args.as_ref().map_or(call.ident.span(), |a| a.span);
    // `conv2d(6, 5)`: the kernel size given without its name, reported once.
    let mut kernel_reported = arguments.suggested("kernel");
    let channels = match arguments.positional.as_slice() {
        [channels] => output_channels(channels, errors),
        [channels, extra, ..] => {
            let message = if arguments.named("kernel").is_none() {
                kernel_reported = true;
                format!(
                    "`conv2d` takes the kernel size by name: write `kernel = {}`",
                    quote::ToTokens::to_token_stream(extra)
                )
            } else {
                format!(
                    "`conv2d` takes one positional argument, the number of output channels; give the others \
                     by name, {EXAMPLE}"
                )
            };
            errors.push(extra.span(), message);
            output_channels(channels, errors)
        }
        [] => {
            errors.push(
                call_span,
                format!("`conv2d` needs a number of output channels, {EXAMPLE}"),
            );
            None
        }
    };
    let (kernel, kernel_span) = match arguments.named("kernel") {
        Some(kernel) => (size_pair(kernel, "the kernel size", errors), kernel.span()),
        None => {
            // `kernal = 5` was reported with "did you mean `kernel`?" already.
            if !kernel_reported {
                errors.push(
                    call_span,
                    format!("`conv2d` needs a kernel size, {EXAMPLE} or `kernel = (3, 5)`"),
                );
            }
            (None, call_span)
        }
    };
    let stride = match arguments.named("stride") {
        Some(stride) => size_pair(stride, "the stride", errors),
        None => Some((1, 1)),
    };
    let padding = match arguments.named("padding") {
        Some(padding) => size_pair_from(padding, "the padding", 0, errors),
        None => Some((0, 0)),
    };
    Some(Box::new(Conv {
        channels: channels.unwrap_or(1),
        kernel: kernel.unwrap_or((1, 1)),
        stride: stride.unwrap_or((1, 1)),
        padding: padding.unwrap_or((0, 0)),
        kernel_span,
    }))
}

/// The number of output channels: a positive whole number.
fn output_channels(expr: &syn::Expr, errors: &mut Errors) -> Option<usize> {
    let count = match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(int),
            ..
        }) => int.base10_parse::<usize>().ok(),
        _ => None,
    };
    match count {
        Some(0) => {
            errors.push(expr.span(), "a convolution needs at least 1 output channel");
            None
        }
        Some(n) => Some(n),
        None => {
            errors.push(
                expr.span(),
                "the number of output channels must be a positive whole number literal, as in `conv2d(6, kernel = 5)`",
            );
            None
        }
    }
}

/// `n` or `(h, w)`, as written.
fn size((h, w): (usize, usize)) -> String {
    if h == w {
        h.to_string()
    } else {
        format!("({h}, {w})")
    }
}

impl Conv {
    /// The constant with the layer's geometry: `CONV1_CONV`.
    fn constant(layer: &Layer) -> Ident {
        Ident::new(&format!("{}_CONV", layer.text().to_uppercase()), Span::call_site())
    }

    /// The workspace buffer of one sample's patches.
    fn scratch(layer: &Layer) -> Ident {
        format_ident!("{}_scratch", layer.name)
    }

    /// The input as the runtime sees it: a flat input was reported and is convolved as
    /// `[1, n, 1]` by the repaired (1x1) layer.
    fn image(input: &Shape) -> (usize, usize, usize) {
        match input {
            Shape::Spatial { c, h, w } => (*c, *h, *w),
            Shape::Flat(n) | Shape::Sparse(n) => (1, *n, 1),
        }
    }

    /// Values each filter sees: `in * kh * kw`.
    fn patch_len(&self, input: &Shape) -> usize {
        let (c, _, _) = Conv::image(input);
        c.saturating_mul(self.kernel.0).saturating_mul(self.kernel.1)
    }

    /// Output height and width.
    fn plane(&self, input: &Shape) -> (usize, usize) {
        let (_, h, w) = Conv::image(input);
        let padded = |len: usize, pad: usize| len.saturating_add(pad.saturating_mul(2));
        (
            padded(h, self.padding.0).saturating_sub(self.kernel.0) / self.stride.0 + 1,
            padded(w, self.padding.1).saturating_sub(self.kernel.1) / self.stride.1 + 1,
        )
    }

    /// What the layer computes, for doc lines.
    fn describe(&self) -> String {
        let ((kh, kw), (sh, sw), (ph, pw)) = (self.kernel, self.stride, self.padding);
        format!("{kh}x{kw} kernels, stride {sh}x{sw}, zero padding {ph}x{pw}")
    }

    /// The repaired layer: one 1x1 filter, which fits any input.
    fn repair(&mut self) {
        self.channels = 1;
        self.kernel = (1, 1);
        self.stride = (1, 1);
        self.padding = (0, 0);
    }
}

impl LayerKind for Conv {
    fn registered(&self) -> &'static Registered {
        &REGISTERED
    }

    fn written(&self) -> String {
        let mut written = format!("conv2d({}, kernel = {}", self.channels, size(self.kernel));
        if self.stride != (1, 1) {
            written.push_str(&format!(", stride = {}", size(self.stride)));
        }
        if self.padding != (0, 0) {
            written.push_str(&format!(", padding = {}", size(self.padding)));
        }
        written.push(')');
        written
    }

    fn connect(&mut self, layer: &str, input: &Shape, span: Span, errors: &mut Errors) -> Shape {
        let (c, h, w) = match input {
            Shape::Flat(n) | Shape::Sparse(n) => {
                errors.push(
                    span,
                    format!(
                        "`conv2d` needs an image input `[channels, height, width]`, but layer `{layer}` gets {n} \
                         flat values"
                    ),
                );
                self.repair();
                return self.output(input);
            }
            Shape::Spatial { c, h, w } => (*c, *h, *w),
        };
        let ((kh, kw), (ph, pw)) = (self.kernel, self.padding);
        let (padded_h, padded_w) = (
            h.saturating_add(ph.saturating_mul(2)),
            w.saturating_add(pw.saturating_mul(2)),
        );
        if kh > padded_h || kw > padded_w {
            let padding = if (ph, pw) == (0, 0) {
                String::new()
            } else {
                format!(" ({h}x{w} with padding {ph}x{pw})")
            };
            errors.push(
                self.kernel_span,
                format!(
                    "the {kh}x{kw} kernel of layer `{layer}` is larger than its padded {padded_h}x{padded_w} \
                     input{padding}; use a kernel of at most {padded_h}x{padded_w} or more padding"
                ),
            );
            self.kernel = (kh.min(padded_h), kw.min(padded_w));
        }
        let weights = [self.channels, c, self.kernel.0, self.kernel.1]
            .into_iter()
            .try_fold(1usize, usize::checked_mul);
        if weights.is_none_or(|n| n > MAX_LAYER_WEIGHTS) {
            errors.push(
                span,
                format!(
                    "layer `{layer}` would have {} x {c} x {} x {} weights, more than the limit of 2^28 \
                     ({MAX_LAYER_WEIGHTS}); use fewer channels or a smaller kernel",
                    self.channels, self.kernel.0, self.kernel.1
                ),
            );
            self.repair();
            return self.output(input);
        }
        let (oh, ow) = self.plane(input);
        let positions = oh.saturating_mul(ow);
        let output = positions.saturating_mul(self.channels);
        let patches = positions.saturating_mul(self.patch_len(input));
        if output > MAX_VALUES || patches > MAX_VALUES {
            errors.push(
                span,
                format!(
                    "layer `{layer}` would give {output} values per sample from a patch matrix of {patches} \
                     values, more than the limit of 2^28 ({MAX_VALUES}) each; use fewer channels, less padding \
                     or a larger stride"
                ),
            );
            self.repair();
        }
        self.output(input)
    }

    fn output(&self, input: &Shape) -> Shape {
        match input {
            Shape::Spatial { .. } => {
                let (h, w) = self.plane(input);
                Shape::Spatial { c: self.channels, h, w }
            }
            // A flat input was reported; the repaired 1x1 layer keeps it flat.
            Shape::Flat(n) | Shape::Sparse(n) => Shape::Flat(n.saturating_mul(self.channels)),
        }
    }

    fn constants(&self, cx: &Cx, layer: &Layer) -> TokenStream {
        let p = &cx.p;
        let (c, h, w) = Conv::image(&layer.input);
        let name = Conv::constant(layer);
        let [c, h, w, o] = [c, h, w, self.channels].map(lit);
        let [kh, kw, sh, sw, ph, pw] = [
            self.kernel.0,
            self.kernel.1,
            self.stride.0,
            self.stride.1,
            self.padding.0,
            self.padding.1,
        ]
        .map(lit);
        let doc = format!(
            " The geometry of layer `{}` ({}): {}.",
            layer.text(),
            layer.shapes(),
            self.describe()
        );
        quote! {
            #[doc = #doc]
            const #name: #p::Conv2d = #p::Conv2d::new(#c, #h, #w, #o, (#kh, #kw), (#sh, #sw), (#ph, #pw));
        }
    }

    fn parameters(&self, layer: &Layer) -> Vec<Param> {
        let names = Names::of(layer);
        let text = layer.text();
        let (c, _, _) = Conv::image(&layer.input);
        let (kh, kw) = self.kernel;
        vec![
            Param {
                field: names.weight,
                suffix: "weight",
                shape: vec![self.channels, c, kh, kw],
                is_weight: true,
                doc: format!(
                    " Filters of layer `{text}`: {} x {c} x {kh} x {kw} (out channels x in channels x kernel \
                     height x kernel width, PyTorch's layout), stored as a {} x {} matrix.",
                    self.channels,
                    self.channels,
                    c * kh * kw
                ),
            },
            Param {
                field: names.bias,
                suffix: "bias",
                shape: vec![self.channels],
                is_weight: false,
                doc: format!(" Biases of layer `{text}`, one per output channel."),
            },
        ]
    }

    fn init(&self, cx: &Cx, layer: &Layer) -> TokenStream {
        let (c, _, _) = Conv::image(&layer.input);
        let (kh, kw) = self.kernel;
        let (fan_in, fan_out) = (c * kh * kw, self.channels * kh * kw);
        let detail = format!(
            ", fan-in {c} x {kh} x {kw} = {fan_in}, fan-out {} x {kh} x {kw} = {fan_out}",
            self.channels
        );
        super::init_weights(
            cx,
            layer,
            "filters",
            &detail,
            lit(fan_in).into_token_stream(),
            lit(fan_out).into_token_stream(),
        )
    }

    fn buffers(&self, layer: &Layer) -> Vec<Buffer> {
        let n = Names::of(layer);
        let per_sample = layer.output.size();
        let geometry = Conv::constant(layer);
        vec![
            Buffer::scalars(n.pre, per_sample),
            Buffer::scalars(n.act, per_sample),
            Buffer::scalars(n.delta, per_sample),
            Buffer::fixed(Conv::scratch(layer), quote!(Self::#geometry.scratch_len())),
        ]
    }

    fn training_output(&self, cx: &Cx, index: usize) -> Source {
        let layer = &cx.net.layers[index];
        let n = Names::of(layer);
        Source::Buffer(if layer.activation == Activation::Identity {
            n.pre
        } else {
            n.act
        })
    }

    fn forward_one(&self, cx: &Cx, layer: &Layer, input: &TokenStream) -> TokenStream {
        let (p, t, nalgebra, text) = (&cx.p, cx.t, cx.nalgebra(), layer.text());
        let Names {
            weight: w,
            bias: b,
            pre,
            ..
        } = Names::of(layer);
        let (geometry, width) = (Conv::constant(layer), cx.width(layer));
        let doc_pre = format!(
            " Layer `{text}` ({}): pre-activation `z = W * x + b` over every window ({}); the patches are \
             on the heap, so that large images fit.",
            layer.shapes(),
            self.describe()
        );
        let pre_step = quote_spanned! {layer.name.span()=>
            #[doc = #doc_pre]
            let #pre = {
                let mut scratch = #p::vec_of::<#t>(Self::#geometry.scratch_len(), 1);
                let mut out = #nalgebra::SVector::<#t, { #width }>::zeros();
                #p::conv2d_forward(
                    &Self::#geometry, self.#w.as_slice(), self.#b.as_slice(), #input.as_slice(), &mut scratch,
                    out.as_mut_slice(), 1,
                );
                out
            };
        };
        let act_step = super::activation_one(cx, layer);
        quote!(#pre_step #act_step)
    }

    fn forward_batch(&self, cx: &Cx, layer: &Layer, input: &TokenStream, _mode: Mode) -> TokenStream {
        let (p, text) = (&cx.p, layer.text());
        let Names {
            weight: w,
            bias: b,
            pre,
            ..
        } = Names::of(layer);
        let (geometry, scratch) = (Conv::constant(layer), Conv::scratch(layer));
        let doc_pre = format!(
            " Layer `{text}` ({}): pre-activation `z = W * x + b` over every window ({}), for every sample.",
            layer.shapes(),
            self.describe()
        );
        let pre_step = quote_spanned! {layer.name.span()=>
            #[doc = #doc_pre]
            let #pre = #p::conv2d_forward(
                &Self::#geometry, self.#w.as_slice(), self.#b.as_slice(), #input, &mut ws.#scratch, &mut ws.#pre, n,
            );
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
            let (geometry, scratch) = (Conv::constant(layer), Conv::scratch(layer));
            Grad {
                doc: format!(
                    " Layer `{text}`: gradient with respect to layer `{}`'s output, `W^T dz` added back over \
                     each window (the transposed convolution).",
                    below.text()
                ),
                expr: quote! {
                    #p::conv2d_input_gradient(
                        &Self::#geometry, self.#w.as_slice(), #delta_expr, &mut ws.#scratch, &mut ws.#below_delta, n,
                    )
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
        let (geometry, scratch) = (Conv::constant(layer), Conv::scratch(layer));
        let doc = format!(
            " Layer `{text}`: filter gradient `dW = dz patches^T` and bias gradient `db = dz` summed over the \
             positions of each channel, over the batch."
        );
        quote_spanned! {layer.name.span()=>
            #[doc = #doc]
            #p::conv2d_parameter_gradients(
                &Self::#geometry, #input, #delta, &mut ws.#scratch, grads.#w.as_mut_slice(), grads.#b.as_mut_slice(), n,
            );
        }
    }

    fn fused_sgd(&self) -> bool {
        // The fused one-sample step is a rank-one update of a dense layer's weights.
        false
    }
}
