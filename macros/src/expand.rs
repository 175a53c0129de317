//! Code generation from a validated [`crate::model::Network`].
//!
//! The generated code is meant to be read (`cargo expand`, the snapshot tests): named
//! fields, one `let` per step, a doc line per layer block, fully qualified paths. The math
//! lives in small runtime kernels; this module writes the wiring and the chain rule.

use crate::model::{Activation, Layer, LayerKind, Network};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::Ident;

/// Names derived from one layer's name.
struct Names {
    /// The layer's name as written in messages and tensor names.
    text: String,
    weight: Ident,
    bias: Ident,
    pre: Ident,
    act: Ident,
    grad: Ident,
    delta: Ident,
    mask: Ident,
}

impl Names {
    fn new(layer: &Layer) -> Self {
        let n = &layer.name;
        Names {
            text: n.unraw().to_string(),
            weight: format_ident!("{}_weight", n),
            bias: format_ident!("{}_bias", n),
            pre: format_ident!("{}_pre", n),
            act: format_ident!("{}_act", n),
            grad: format_ident!("{}_grad", n),
            delta: format_ident!("{}_delta", n),
            mask: format_ident!("{}_mask", n),
        }
    }
}

fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// The runtime expression for an activation.
fn activation_expr(p: &TokenStream, t: &Ident, activation: Activation) -> TokenStream {
    match activation {
        Activation::Identity => quote!(#p::Activation::<#t>::Identity),
        Activation::Relu => quote!(#p::Activation::<#t>::Relu),
        Activation::LeakyRelu(a) => {
            let a = Literal::f64_unsuffixed(a);
            quote!(#p::Activation::<#t>::LeakyRelu(#a))
        }
        Activation::Elu(a) => {
            let a = Literal::f64_unsuffixed(a);
            quote!(#p::Activation::<#t>::Elu(#a))
        }
        Activation::Sigmoid => quote!(#p::Activation::<#t>::Sigmoid),
        Activation::Tanh => quote!(#p::Activation::<#t>::Tanh),
        Activation::Softplus => quote!(#p::Activation::<#t>::Softplus),
        Activation::Gelu => quote!(#p::Activation::<#t>::Gelu),
        Activation::Silu => quote!(#p::Activation::<#t>::Silu),
        Activation::Softmax => quote!(#p::Activation::<#t>::Softmax),
    }
}

/// Expands one validated network. `repaired`: the network was repaired from a definition
/// with mistakes (reported beside it), so its items may go unused without a warning.
pub fn expand(net: &Network, repaired: bool) -> TokenStream {
    let krate = &net.krate;
    let p = quote!(#krate::__private);
    let t = &net.scalar;
    let name = &net.ident;
    let vis = &net.vis;
    let attrs = &net.attrs;
    let grads_name = format_ident!("{}Gradients", name);
    let ws_name = format_ident!("{}Workspace", name);
    let names: Vec<Names> = net.layers.iter().map(Names::new).collect();
    let input = lit(net.input);
    let output = lit(net.output());
    let parameters = lit(net.parameters());
    let definition = net.definition();
    let name_text = name.unraw().to_string();
    let debug_text = format!("{name_text} {{ {definition} }}");
    let nalgebra = quote!(#p::nalgebra);
    let last = names.len() - 1;

    // ---- the struct fields, shared by the network and its gradients ----
    let mut fields = Vec::new();
    let mut zeroed = Vec::new();
    let mut cloned = Vec::new();
    let mut tensors = Vec::new();
    let mut tensor_ref = Vec::new();
    let mut tensor_mut = Vec::new();
    let mut index = 0;
    for (layer, n) in net.layers.iter().zip(&names).filter(|(l, _)| l.is_dense()) {
        let (w, b) = (&n.weight, &n.bias);
        let (rows, cols) = (lit(layer.width), lit(layer.fan_in));
        let wdoc = format!(
            " Weights of layer `{}`: {} x {} (outputs x inputs).",
            n.text, layer.width, layer.fan_in
        );
        let bdoc = format!(" Biases of layer `{}`.", n.text);
        fields.push(quote! {
            #[doc = #wdoc]
            pub #w: #p::Box<#p::CacheAligned<#nalgebra::SMatrix<#t, #rows, #cols>>>,
            #[doc = #bdoc]
            pub #b: #p::Box<#p::CacheAligned<#nalgebra::SVector<#t, #rows>>>,
        });
        zeroed.push(quote!(#w: #p::zeroed_box(), #b: #p::zeroed_box(),));
        cloned.push(quote!(#w: #p::clone_box(&*self.#w), #b: #p::clone_box(&*self.#b),));
        let (wname, bname, lname) = (format!("{}.weight", n.text), format!("{}.bias", n.text), &n.text);
        tensors.push(quote! {
            #p::TensorSpec { name: #wname, layer: #lname, shape: &[#rows, #cols], rows: #rows, cols: #cols, kind: #p::TensorKind::Weight },
            #p::TensorSpec { name: #bname, layer: #lname, shape: &[#rows], rows: #rows, cols: 1, kind: #p::TensorKind::Bias },
        });
        let (wi, bi) = (lit(index), lit(index + 1));
        index += 2;
        tensor_ref.push(quote!(#wi => self.#w.as_slice(), #bi => self.#b.as_slice(),));
        tensor_mut.push(quote!(#wi => self.#w.as_mut_slice(), #bi => self.#b.as_mut_slice(),));
    }

    // ---- initialization ----
    let init = net
        .layers
        .iter()
        .zip(&names)
        .filter(|(l, _)| l.is_dense())
        .map(|(layer, n)| {
            let (scheme, label) = if layer.activation.relu_family() {
                (quote!(HeUniform), "He uniform")
            } else {
                (quote!(XavierUniform), "Xavier (Glorot) uniform")
            };
            let doc = format!(
                " Layer `{}`: {label} weights (activation `{}`); biases stay zero.",
                n.text,
                layer.activation.name()
            );
            let w = &n.weight;
            let (fan_in, fan_out) = (lit(layer.fan_in), lit(layer.width));
            quote! {
                #[doc = #doc]
                #p::Init::#scheme.fill(net.#w.as_mut_slice(), #fan_in, #fan_out, &mut rng);
            }
        });

    // ---- forward pass for one sample ----
    let mut prev = quote!(x);
    let mut single = Vec::new();
    for (layer, n) in net.layers.iter().zip(&names) {
        let (w, b, pre, act) = (&n.weight, &n.bias, &n.pre, &n.act);
        if !layer.is_dense() {
            let doc = format!(" Layer `{}`: dropout is inactive in inference, `a = x`.", n.text);
            single.push(quote!(#[doc = #doc] let #act = *#prev;));
            prev = quote!(&#act);
            continue;
        }
        let doc_pre = format!(" Layer `{}`: pre-activation `z = W x + b`.", n.text);
        let doc_act = format!(" Layer `{}`: activation `a = {}(z)`.", n.text, layer.activation.name());
        let activation = activation_expr(&p, t, layer.activation);
        single.push(quote_spanned! {layer.name.span()=>
            #[doc = #doc_pre]
            let #pre = #p::dense_vector(&self.#w, &self.#b, #prev);
        });
        single.push(if layer.activation == Activation::Identity {
            let doc = format!(" Layer `{}`: identity activation, `a = z`.", n.text);
            quote!(#[doc = #doc] let #act = #pre;)
        } else {
            quote!(#[doc = #doc_act] let #act = #activation.forward_vector(#pre);)
        });
        prev = quote!(&#act);
    }
    let last_act = &names[last].act;

    // ---- forward pass over a batch, into the workspace ----
    // The buffer that holds the first layer's delta after the backward pass: its own, unless
    // dropout layers follow it (their backward passes work in place in their own buffers).
    let first_delta_buffer = {
        let mut k = 0;
        while net.layers.get(k + 1).is_some_and(|l| !l.is_dense()) {
            k += 1;
        }
        &names[k].delta
    };
    // `run`: the forward pass of a run of one-sample SGD steps, where the first layer (if it is
    // dense) applies the previous sample's update in the same pass over its weights.
    let batch_forward = |training: bool, run: bool| -> Vec<TokenStream> {
        let mut steps = Vec::new();
        let mut prev = quote!(x);
        for (index, (layer, n)) in net.layers.iter().zip(&names).enumerate() {
            let (w, b, pre, act) = (&n.weight, &n.bias, &n.pre, &n.act);
            if let LayerKind::Dropout(rate) = layer.kind {
                if training {
                    let doc = format!(
                        " Layer `{}`: dropout: in training mode each value is zeroed with probability {rate:?} \
                         and the others scaled by 1 / (1 - {rate:?}); the mask is kept for the backward pass.",
                        n.text
                    );
                    let mask = &n.mask;
                    let rate = Literal::f64_unsuffixed(rate);
                    steps.push(quote!(#[doc = #doc] let #act = #p::dropout_forward(#rate, #prev, &mut ws.#mask, &mut ws.#act, ctx);));
                } else {
                    let doc = format!(" Layer `{}`: dropout is inactive in inference, `a = x`.", n.text);
                    steps.push(quote!(#[doc = #doc] let #act: &[#t] = #prev;));
                }
                prev = quote!(#act);
                continue;
            }
            let doc_pre = format!(" Layer `{}`: pre-activation `z = W x + b` for every sample.", n.text);
            let doc_act = format!(" Layer `{}`: activation `a = {}(z)`.", n.text, layer.activation.name());
            let activation = activation_expr(&p, t, layer.activation);
            let width = lit(layer.width);
            steps.push(if run && index == 0 {
                let doc = format!(
                    " Layer `{}`: pre-activation `z = W x + b`. From the second sample of the run on, the \
                     previous sample's update `W -= lr dz x_prev^T`, `b -= lr dz` is applied in the same pass \
                     over the weights.",
                    n.text
                );
                quote_spanned! {layer.name.span()=>
                    #[doc = #doc]
                    let #pre = match x_prev {
                        ::core::option::Option::Some(x_prev) => #p::sgd_update_and_forward(
                            &mut self.#w, &mut self.#b, lr, &ws.#first_delta_buffer, x_prev, x, &mut ws.#pre,
                        ),
                        ::core::option::Option::None => #p::dense_forward(&self.#w, &self.#b, x, &mut ws.#pre, n),
                    };
                }
            } else {
                quote_spanned! {layer.name.span()=>
                    #[doc = #doc_pre]
                    let #pre = #p::dense_forward(&self.#w, &self.#b, #prev, &mut ws.#pre, n);
                }
            });
            steps.push(if layer.activation == Activation::Identity {
                let doc = format!(" Layer `{}`: identity activation, `a = z`.", n.text);
                quote!(#[doc = #doc] let #act: &[#t] = #pre;)
            } else {
                quote!(#[doc = #doc_act] let #act = #activation.forward(#pre, &mut ws.#act, #width);)
            });
            prev = quote!(#act);
        }
        steps
    };
    let x_prev = if net.layers[0].is_dense() {
        quote! {
            /// The sample before it, whose update of the first layer is still to be applied.
            let x_prev = j.checked_sub(1).map(|prev| &run_x[prev * #input..j * #input]);
        }
    } else {
        quote!()
    };
    let inference_forward = batch_forward(false, false);
    let training_forward = batch_forward(true, false);
    let run_forward = batch_forward(true, true);
    let out_layer = &net.layers[last];
    let out_names = &names[last];
    let (out_pre, out_act, out_delta) = (&out_names.pre, &out_names.act, &out_names.delta);
    let out_activation = activation_expr(&p, t, out_layer.activation);
    let out_rows = lit(out_layer.width);
    let output_value = quote! {
        #p::Output { pre: #out_pre, act: #out_act, activation: #out_activation, rows: #out_rows }
    };

    // ---- backward pass ----
    let mut backward = Vec::new();
    let loss_doc = format!(
        " Loss: its mean over the batch, and its gradient with respect to layer `{}`'s pre-activation.",
        out_names.text
    );
    backward.push(quote! {
        #[doc = #loss_doc]
        let (loss_value, #out_delta) = #p::loss_and_delta(loss, &#output_value, target, &mut ws.#out_delta);
    });
    // Per dense layer, top to bottom: its parameter gradients (after every delta is known),
    // its fused SGD update, and its term of the squared gradient norm.
    let mut param_grads = Vec::new();
    let mut sgd_updates = Vec::new();
    let mut norm_terms = Vec::new();
    // Whether a layer below `i` has weights, so that the gradient must flow past layer `i`.
    let weights_below = |i: usize| net.layers[..i].iter().any(Layer::is_dense);
    for i in (0..net.layers.len()).rev() {
        let (layer, n) = (&net.layers[i], &names[i]);
        if !weights_below(i) && !layer.is_dense() {
            continue;
        }
        let (w, b, delta, grad) = (&n.weight, &n.bias, &n.delta, &n.grad);
        if !layer.is_dense() {
            let mask = &n.mask;
            let doc = format!(
                " Layer `{}`: dropout: the gradient passes through the same mask, `dx = da * mask`.",
                n.text
            );
            backward.push(quote!(#[doc = #doc] let #delta = #p::dropout_backward(&ws.#mask, #grad);));
            if weights_below(i) {
                let below = &names[i - 1];
                let below_grad = &below.grad;
                let doc = format!(
                    " Layer `{}`: that is the gradient with respect to layer `{}`'s activation.",
                    n.text, below.text
                );
                backward.push(quote!(#[doc = #doc] let #below_grad = #delta;));
            }
            continue;
        }
        if i != last {
            let doc = if layer.activation == Activation::Identity {
                format!(" Layer `{}`: identity activation, so `dz = da`.", n.text)
            } else {
                format!(
                    " Layer `{}`: delta `dz = da * {}'(z)` (the chain rule through the activation).",
                    n.text,
                    layer.activation.name()
                )
            };
            let (pre, act) = (&n.pre, &n.act);
            let activation = activation_expr(&p, t, layer.activation);
            let width = lit(layer.width);
            backward.push(if layer.activation == Activation::Identity {
                quote!(#[doc = #doc] let #delta = #grad;)
            } else {
                quote!(#[doc = #doc] let #delta = #activation.backward(#pre, #act, #grad, #width);)
            });
        }
        let (below, below_text) = if i == 0 {
            (quote!(x), "the input".to_owned())
        } else {
            let act = &names[i - 1].act;
            (quote!(#act), format!("layer `{}`'s activation", names[i - 1].text))
        };
        let doc_w = format!(
            " Layer `{}`: weight gradient `dW = dz a^T`, summed over the batch (`a`: {below_text}).",
            n.text
        );
        let doc_b = format!(" Layer `{}`: bias gradient `db = dz`, summed over the batch.", n.text);
        param_grads.push(quote_spanned! {layer.name.span()=>
            #[doc = #doc_w]
            #p::weight_gradient(&mut grads.#w, #delta, #below, n);
            #[doc = #doc_b]
            #p::bias_gradient(&mut grads.#b, #delta, n);
        });
        let doc_sgd = format!(
            " Layer `{}`: `W -= lr dz a^T` and `b -= lr dz` in one pass (`a`: {below_text}).",
            n.text
        );
        sgd_updates.push(if i == 0 {
            let doc = format!(
                " Layer `{}`: `W -= lr dz x^T` and `b -= lr dz` in one pass, after the run's last sample \
                 only: the others' updates are applied by the next sample's forward pass.",
                n.text
            );
            quote_spanned! {layer.name.span()=>
                if j + 1 == samples {
                    #[doc = #doc]
                    #p::sgd_dense_update(&mut self.#w, &mut self.#b, lr, #delta, #below);
                }
            }
        } else {
            quote_spanned! {layer.name.span()=>
                #[doc = #doc_sgd]
                #p::sgd_dense_update(&mut self.#w, &mut self.#b, lr, #delta, #below);
            }
        });
        norm_terms.push(quote!(#p::outer_norm_squared(#delta, #below)));
        if weights_below(i) {
            let below = &names[i - 1];
            let below_grad = &below.grad;
            let below_delta = &below.delta;
            let doc = format!(
                " Layer `{}`: gradient with respect to {below_text}, `da = W^T dz`.",
                n.text
            );
            backward.push(quote! {
                #[doc = #doc]
                let #below_grad = #p::input_gradient(&self.#w, #delta, &mut ws.#below_delta, n);
            });
        }
    }

    let ctx = if net.has_dropout() {
        format_ident!("ctx")
    } else {
        format_ident!("_ctx")
    };

    // ---- workspace ----
    let mut ws_fields = Vec::new();
    let mut ws_init = Vec::new();
    for (layer, n) in net.layers.iter().zip(&names) {
        let (pre, act, delta) = (&n.pre, &n.act, &n.delta);
        let width = lit(layer.width);
        if !layer.is_dense() {
            let mask = &n.mask;
            ws_fields.push(quote!(#act: #p::Vec<#t>, #mask: #p::Vec<#t>, #delta: #p::Vec<#t>,));
            ws_init.push(quote! {
                #act: #p::vec_of(#width, max_batch),
                #mask: #p::vec_of(#width, max_batch),
                #delta: #p::vec_of(#width, max_batch),
            });
            continue;
        }
        ws_fields.push(quote!(#pre: #p::Vec<#t>, #act: #p::Vec<#t>, #delta: #p::Vec<#t>,));
        ws_init.push(quote! {
            #pre: #p::vec_of(#width, max_batch),
            #act: #p::vec_of(#width, max_batch),
            #delta: #p::vec_of(#width, max_batch),
        });
    }

    let struct_doc_grads = format!(
        " Gradients of the loss with respect to every parameter of [`{name_text}`]: the same fields, names and shapes."
    );
    let struct_doc_ws = format!(
        " Buffers for batched passes of [`{name_text}`]: per-layer pre-activations, activations and deltas for up \
         to a maximum number of samples. Create one with [`{name_text}::workspace`] and reuse it: passes that \
         write into it allocate nothing."
    );

    let allow_unused = if repaired {
        quote!(#[allow(dead_code)])
    } else {
        quote!()
    };

    quote! {
        #(#attrs)*
        #allow_unused
        #vis struct #name {
            #(#fields)*
        }

        #[doc = #struct_doc_grads]
        #vis struct #grads_name {
            #(#fields)*
        }

        #[doc = #struct_doc_ws]
        #vis struct #ws_name {
            capacity: usize,
            #(#ws_fields)*
        }

        impl #name {
            /// Input features per sample.
            pub const INPUT: usize = #input;
            /// Outputs per sample.
            pub const OUTPUT: usize = #output;
            /// Total number of parameters (weights and biases).
            pub const PARAMETERS: usize = #parameters;
            /// The definition, in normalized `network!` syntax.
            pub const DEFINITION: &'static str = #definition;

            /// A network with every parameter zero, allocated directly on the heap.
            pub fn zeroed() -> Self {
                Self { #(#zeroed)* }
            }

            /// A network initialized from `seed`: He uniform weights for the relu family,
            /// Xavier (Glorot) uniform otherwise, zero biases. The same seed gives
            /// bit-identical weights on every run and platform.
            #[allow(unused_doc_comments)]
            pub fn seeded(seed: u64) -> Self {
                let mut net = Self::zeroed();
                let mut rng = #p::seeded_rng(seed);
                #(#init)*
                net
            }

            /// A gradient struct with every value zero.
            pub fn zeroed_gradients() -> #grads_name {
                #grads_name { #(#zeroed)* }
            }

            /// Buffers for batched passes of up to `max_batch` samples.
            pub fn workspace(max_batch: usize) -> #ws_name {
                #ws_name { capacity: max_batch, #(#ws_init)* }
            }

            /// Runs one sample through the network (inference mode).
            #[allow(unused_doc_comments, clippy::let_and_return)]
            pub fn forward(&self, x: &#nalgebra::SVector<#t, #input>) -> #nalgebra::SVector<#t, #output> {
                #(#single)*
                #last_act
            }

            /// Runs one sample given as a slice of `INPUT` values (inference mode).
            ///
            /// # Errors
            /// `ShapeError::InputLength` if the slice does
            /// not hold exactly `INPUT` values.
            pub fn forward_slice(&self, x: &[#t]) -> ::core::result::Result<#nalgebra::SVector<#t, #output>, #p::ShapeError> {
                #p::check_input_len(x.len(), #input)?;
                let x = #nalgebra::SVector::<#t, #input>::from_column_slice(x);
                ::core::result::Result::Ok(self.forward(&x))
            }

            /// Runs a batch held one sample per column (inference mode) and returns the
            /// outputs, one sample per column. `x` may be a view into a larger matrix, as long
            /// as its columns are contiguous.
            pub fn forward_batch<C, S>(&self, x: &#nalgebra::Matrix<#t, #nalgebra::Const<#input>, C, S>) -> #nalgebra::OMatrix<#t, #nalgebra::Const<#output>, #nalgebra::Dyn>
            where
                C: #nalgebra::Dim,
                S: #nalgebra::RawStorage<#t, #nalgebra::Const<#input>, C> + #nalgebra::IsContiguous,
            {
                let n = x.ncols();
                let mut ws = Self::workspace(n);
                let act = match <Self as #p::Network>::forward_into(self, x.as_slice(), &mut ws) {
                    ::core::result::Result::Ok(output) => output.act,
                    ::core::result::Result::Err(_) => &[],
                };
                #nalgebra::OMatrix::<#t, #nalgebra::Const<#output>, #nalgebra::Dyn>::from_column_slice(act)
            }

            /// Like [`forward_batch`](Self::forward_batch), but writes into `ws` and allocates
            /// nothing; returns a view of the outputs inside the workspace.
            ///
            /// # Errors
            /// `ShapeError` for an empty batch or one larger than the workspace.
            pub fn forward_batch_with<'w, C, S>(
                &self,
                x: &#nalgebra::Matrix<#t, #nalgebra::Const<#input>, C, S>,
                ws: &'w mut #ws_name,
            ) -> ::core::result::Result<#nalgebra::MatrixView<'w, #t, #nalgebra::Const<#output>, #nalgebra::Dyn>, #p::ShapeError>
            where
                C: #nalgebra::Dim,
                S: #nalgebra::RawStorage<#t, #nalgebra::Const<#input>, C> + #nalgebra::IsContiguous,
            {
                let output = <Self as #p::Network>::forward_into(self, x.as_slice(), ws)?;
                ::core::result::Result::Ok(#p::batch_view::<#t, #output>(output.act))
            }

            /// Computes the gradients of the mean loss over a batch (one sample per column) into
            /// `grads` and returns the mean loss. Allocates a workspace; use
            /// `Network::gradients_into` with a reused one in
            /// a training loop.
            ///
            /// # Errors
            /// `TrainError` if inputs and targets do not fit.
            pub fn gradients<C, S, C2, S2, L>(
                &self,
                x: &#nalgebra::Matrix<#t, #nalgebra::Const<#input>, C, S>,
                target: &#nalgebra::Matrix<#t, #nalgebra::Const<#output>, C2, S2>,
                loss: &L,
                grads: &mut #grads_name,
            ) -> ::core::result::Result<#t, #p::TrainError>
            where
                C: #nalgebra::Dim,
                S: #nalgebra::RawStorage<#t, #nalgebra::Const<#input>, C> + #nalgebra::IsContiguous,
                C2: #nalgebra::Dim,
                S2: #nalgebra::RawStorage<#t, #nalgebra::Const<#output>, C2> + #nalgebra::IsContiguous,
                L: #p::Loss<#t> + ?Sized,
            {
                let mut ws = Self::workspace(x.ncols());
                let mut ctx = #p::Context::training(0);
                <Self as #p::Network>::gradients_into(self, x.as_slice(), target.as_slice(), loss, &mut ctx, &mut ws, grads)
            }

            /// Writes the weights to `path` as a safetensors file (tensors `layer.weight`,
            /// `[out, in]` row-major as PyTorch stores them, and `layer.bias`), atomically.
            ///
            /// # Errors
            /// `WeightsError` naming the file if it cannot be written.
            pub fn save(&self, path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<(), #p::WeightsError> {
                #p::save_weights(self, path.as_ref())
            }

            /// Reads weights written by [`save`](Self::save) (or by PyTorch with the same
            /// tensor names); `f32` and `f64` files load into either scalar type.
            ///
            /// # Errors
            /// `WeightsError` naming the file and listing every missing, unexpected or
            /// mis-shaped tensor.
            pub fn load(path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<Self, #p::WeightsError> {
                #p::load_weights(path.as_ref())
            }

            /// One training step on one sample: forward, backward, and the optimizer's update.
            /// Returns the loss before the update. Allocates nothing once the optimizer has
            /// its state.
            ///
            /// # Errors
            /// `TrainError` if the loss or gradients are not finite; the
            /// weights are unchanged then.
            pub fn train_step<L, O>(
                &mut self,
                x: &#nalgebra::SVector<#t, #input>,
                target: &#nalgebra::SVector<#t, #output>,
                loss: &L,
                optimizer: &mut O,
                session: &mut #p::Session<Self>,
            ) -> ::core::result::Result<#t, #p::TrainError>
            where
                L: #p::Loss<#t> + ?Sized,
                O: #p::Optimizer<#t> + ?Sized,
            {
                session.step(self, x.as_slice(), target.as_slice(), loss, optimizer)
            }

            /// One training step on a batch (one sample per column): the gradient of the mean
            /// loss, then the optimizer's update. Returns the loss before the update.
            ///
            /// # Errors
            /// `TrainError` if the batch does not fit or the loss or
            /// gradients are not finite; the weights are unchanged then.
            pub fn train_batch<C, S, C2, S2, L, O>(
                &mut self,
                x: &#nalgebra::Matrix<#t, #nalgebra::Const<#input>, C, S>,
                target: &#nalgebra::Matrix<#t, #nalgebra::Const<#output>, C2, S2>,
                loss: &L,
                optimizer: &mut O,
                session: &mut #p::Session<Self>,
            ) -> ::core::result::Result<#t, #p::TrainError>
            where
                C: #nalgebra::Dim,
                S: #nalgebra::RawStorage<#t, #nalgebra::Const<#input>, C> + #nalgebra::IsContiguous,
                C2: #nalgebra::Dim,
                S2: #nalgebra::RawStorage<#t, #nalgebra::Const<#output>, C2> + #nalgebra::IsContiguous,
                L: #p::Loss<#t> + ?Sized,
                O: #p::Optimizer<#t> + ?Sized,
            {
                session.step(self, x.as_slice(), target.as_slice(), loss, optimizer)
            }
        }

        impl ::core::clone::Clone for #name {
            fn clone(&self) -> Self {
                Self { #(#cloned)* }
            }
        }

        /// The network with every parameter zero ([`zeroed`](Self::zeroed)), built on the heap.
        impl ::core::default::Default for #name {
            fn default() -> Self {
                Self::zeroed()
            }
        }

        impl ::core::clone::Clone for #grads_name {
            fn clone(&self) -> Self {
                Self { #(#cloned)* }
            }
        }

        impl ::core::clone::Clone for #ws_name {
            fn clone(&self) -> Self {
                #name::workspace(self.capacity)
            }
        }

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(#debug_text)
            }
        }

        impl ::core::fmt::Debug for #grads_name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                #p::debug_tensors(self, f)
            }
        }

        impl ::core::fmt::Debug for #ws_name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                #p::debug_workspace(self, f)
            }
        }

        impl ::core::cmp::PartialEq for #name {
            fn eq(&self, other: &Self) -> bool {
                #p::tensors_eq(self, other)
            }
        }

        impl ::core::cmp::PartialEq for #grads_name {
            fn eq(&self, other: &Self) -> bool {
                #p::tensors_eq(self, other)
            }
        }

        impl #p::Parameters for #name {
            type Scalar = #t;
            const TENSORS: &'static [#p::TensorSpec] = &[#(#tensors)*];

            fn tensor(&self, index: usize) -> &[#t] {
                match index {
                    #(#tensor_ref)*
                    _ => &[],
                }
            }

            fn tensor_mut(&mut self, index: usize) -> &mut [#t] {
                match index {
                    #(#tensor_mut)*
                    _ => &mut [],
                }
            }
        }

        impl #p::Parameters for #grads_name {
            type Scalar = #t;
            const TENSORS: &'static [#p::TensorSpec] = <#name as #p::Parameters>::TENSORS;

            fn tensor(&self, index: usize) -> &[#t] {
                match index {
                    #(#tensor_ref)*
                    _ => &[],
                }
            }

            fn tensor_mut(&mut self, index: usize) -> &mut [#t] {
                match index {
                    #(#tensor_mut)*
                    _ => &mut [],
                }
            }
        }

        impl #p::Workspace for #ws_name {
            fn capacity(&self) -> usize {
                self.capacity
            }
        }

        impl #p::Network for #name {
            type Gradients = #grads_name;
            type Workspace = #ws_name;
            const NAME: &'static str = #name_text;
            const DEFINITION: &'static str = #definition;
            const INPUT: usize = #input;
            const OUTPUT: usize = #output;
            const PARAMETERS: usize = #parameters;
            const FUSED_SGD: bool = true;

            fn zeroed() -> Self {
                #name::zeroed()
            }

            fn seeded(seed: u64) -> Self {
                #name::seeded(seed)
            }

            fn zeroed_gradients() -> #grads_name {
                #name::zeroed_gradients()
            }

            fn workspace(max_batch: usize) -> #ws_name {
                #name::workspace(max_batch)
            }

            #[allow(unused_doc_comments)]
            fn forward_into<'w>(
                &self,
                x: &[#t],
                ws: &'w mut #ws_name,
            ) -> ::core::result::Result<#p::Output<'w, #t>, #p::ShapeError> {
                let n = #p::input_len(x.len(), #input, ws.capacity)?;
                #(#inference_forward)*
                ::core::result::Result::Ok(#output_value)
            }

            #[allow(unused_doc_comments)]
            fn gradients_into<L: #p::Loss<#t> + ?Sized>(
                &self,
                x: &[#t],
                target: &[#t],
                loss: &L,
                #ctx: &mut #p::Context,
                ws: &mut #ws_name,
                grads: &mut #grads_name,
            ) -> ::core::result::Result<#t, #p::TrainError> {
                let n = #p::batch_len(x.len(), target.len(), #input, #output, ws.capacity)?;
                #(#training_forward)*
                #(#backward)*
                #(#param_grads)*
                ::core::result::Result::Ok(loss_value)
            }

            #[allow(unused_doc_comments)]
            fn sgd_steps_into<L: #p::Loss<#t> + ?Sized>(
                &mut self,
                x: &[#t],
                target: &[#t],
                loss: &L,
                #ctx: &mut #p::Context,
                ws: &mut #ws_name,
                lr: #t,
            ) -> ::core::result::Result<#p::FusedSteps<#t>, #p::TrainError> {
                let samples = #p::run_len(x.len(), target.len(), #input, #output, ws.capacity)?;
                let (run_x, run_target) = (x, target);
                let n = 1;
                let mut run = #p::FusedSteps::new();
                for j in 0..samples {
                    /// Sample `j` of the run.
                    let x = &run_x[j * #input..(j + 1) * #input];
                    let target = &run_target[j * #output..(j + 1) * #output];
                    #x_prev
                    #(#run_forward)*
                    #(#backward)*
                    /// The gradient's global norm, from each layer's rank-one weight gradient;
                    /// nothing of this sample is applied unless it and the loss are finite.
                    let grad_norm = #p::check_fused_step(loss_value, #(#norm_terms)+*)
                        .map_err(|error| #p::TrainError::in_run(j, error))?;
                    #(#sgd_updates)*
                    run.push(loss_value, grad_norm);
                }
                ::core::result::Result::Ok(run)
            }
        }
    }
}
