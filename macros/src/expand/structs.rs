//! The network, gradient and workspace structs, their constants and constructors, and the
//! `Parameters` implementations that expose every tensor by name.

use super::Types;
use crate::layers::{lit, width_const, Cx, Param};
use crate::model::Layer;
use proc_macro2::{Literal, TokenStream};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;

/// Every layer's parameters, in order.
fn parameters_of<'n>(cx: &'n Cx) -> impl Iterator<Item = (&'n Layer, Param)> + 'n {
    cx.net
        .layers
        .iter()
        .flat_map(|l| l.kind.parameters(l).into_iter().map(move |p| (l, p)))
}

/// The nalgebra type a tensor is stored in (field types take literals: `Self` is not allowed
/// there for derives that pass through).
fn storage(cx: &Cx, param: &Param) -> TokenStream {
    let (nalgebra, t) = (cx.nalgebra(), cx.t);
    let rows = lit(param.rows());
    if param.shape.len() == 1 {
        quote!(#nalgebra::SVector<#t, #rows>)
    } else {
        let cols = lit(param.cols());
        quote!(#nalgebra::SMatrix<#t, #rows, #cols>)
    }
}

/// Whether parameter `index` is a sparse layer's weight: the first tensor of a network with a
/// sparse input, whose gradient is a `SparseGradient` (its touched columns).
pub fn is_sparse_param(cx: &Cx, index: usize) -> bool {
    cx.net.is_sparse() && index == 0
}

/// The three structs.
pub fn structs(cx: &Cx, types: &Types, repaired: bool) -> TokenStream {
    let (p, net, vis) = (&cx.p, cx.net, &cx.net.vis);
    let Types { net: name, grads, ws } = types;
    let attrs = &net.attrs;
    let fields: Vec<TokenStream> = parameters_of(cx)
        .map(|(_, param)| {
            let (field, doc, ty) = (&param.field, &param.doc, storage(cx, &param));
            quote!(#[doc = #doc] pub #field: #p::Box<#p::CacheAligned<#ty>>,)
        })
        .collect();
    let grad_fields: Vec<TokenStream> = parameters_of(cx)
        .enumerate()
        .map(|(index, (_, param))| {
            let (field, doc) = (&param.field, &param.doc);
            if is_sparse_param(cx, index) {
                let t = cx.t;
                let doc = format!("{doc} The gradient holds the columns of the features present in the batch.");
                quote!(#[doc = #doc] pub #field: #p::SparseGradient<#t>,)
            } else {
                let ty = storage(cx, &param);
                quote!(#[doc = #doc] pub #field: #p::Box<#p::CacheAligned<#ty>>,)
            }
        })
        .collect();
    let buffers: Vec<TokenStream> = net
        .layers
        .iter()
        .flat_map(|l| l.kind.buffers(l))
        .map(|b| {
            let field = &b.field;
            let t = if b.indices { quote!(u32) } else { cx.t.to_token_stream() };
            quote!(#field: #p::Vec<#t>,)
        })
        .collect();
    let text = name.unraw().to_string();
    let doc_grads = format!(
        " Gradients of the loss with respect to every parameter of [`{text}`]: the same fields, names and shapes."
    );
    let doc_ws = format!(
        " Buffers for batched passes of [`{text}`]: per-layer pre-activations, activations and deltas for up \
         to a maximum number of samples. Create one with [`{text}::workspace`] and reuse it: passes that \
         write into it allocate nothing."
    );
    let allow_unused = repaired.then(|| quote!(#[allow(dead_code)]));
    quote! {
        #(#attrs)*
        #allow_unused
        #vis struct #name {
            #(#fields)*
        }

        #[doc = #doc_grads]
        #vis struct #grads {
            #(#grad_fields)*
        }

        #[doc = #doc_ws]
        // Some buffers serve only some passes (a first layer's delta when a dropout layer
        // above it works in place, for instance); the fields are private.
        #[allow(dead_code)]
        #vis struct #ws {
            capacity: usize,
            #(#buffers)*
        }
    }
}

/// The constants, `zeroed`, `seeded`, `zeroed_gradients` and `workspace`.
pub fn constructors(cx: &Cx, types: &Types) -> TokenStream {
    let (p, net) = (&cx.p, cx.net);
    let Types { grads, ws, .. } = types;
    let (input, output, parameters) = (lit(net.input.size()), lit(net.output()), lit(net.parameters()));
    let definition = net.definition();
    let widths = net.layers.iter().map(|l| {
        let (name, width) = (width_const(l), lit(l.output.size()));
        let doc = format!(" Values per sample that layer `{}` gives ({}).", l.text(), l.shapes());
        quote!(#[doc = #doc] const #name: usize = #width;)
    });
    let summary = net.layers.iter().map(|l| {
        let (name, kind, count) = (l.text(), l.written(), lit(l.parameter_count()));
        let output = l.output.dims().into_iter().map(lit);
        quote!(#p::LayerSummary { name: #name, kind: #kind, output: &[#(#output),*], parameters: #count },)
    });
    let input_dims = net.input.dims().into_iter().map(lit);
    let name_text = types.net.unraw().to_string();
    let zeroed: Vec<TokenStream> = parameters_of(cx)
        .map(|(_, param)| {
            let field = &param.field;
            quote!(#field: #p::zeroed_box(),)
        })
        .collect();
    let zeroed_grads: Vec<TokenStream> = parameters_of(cx)
        .enumerate()
        .map(|(index, (_, param))| {
            let field = &param.field;
            if is_sparse_param(cx, index) {
                let (width, features) = (lit(param.rows()), lit(param.cols()));
                quote!(#field: #p::SparseGradient::new(#width, #features),)
            } else {
                quote!(#field: #p::zeroed_box(),)
            }
        })
        .collect();
    let init = net.layers.iter().map(|l| l.kind.init(cx, l));
    let buffers = net.layers.iter().flat_map(|l| l.kind.buffers(l)).map(|b| {
        let field = &b.field;
        let width = lit(b.per_sample);
        if let Some(len) = &b.fixed {
            quote!(#field: #p::vec_of(#len, 1),)
        } else if b.indices {
            quote!(#field: ::std::vec![0; usize::saturating_mul(#width, max_batch)],)
        } else {
            quote!(#field: #p::vec_of(#width, max_batch),)
        }
    });
    let constants = net.layers.iter().map(|l| l.kind.constants(cx, l));
    quote! {
        /// Input features per sample.
        pub const INPUT: usize = #input;
        /// Outputs per sample.
        pub const OUTPUT: usize = #output;
        /// Total number of parameters (weights and biases).
        pub const PARAMETERS: usize = #parameters;
        /// The definition, in normalized `network!` syntax.
        pub const DEFINITION: &'static str = #definition;
        #(#widths)*
        #(#constants)*
        /// Every layer with its output shape and parameter count, as `summary()` prints them.
        pub const SUMMARY: &'static [#p::LayerSummary] = &[#(#summary)*];

        /// The layers with their output shapes and parameter counts; prints as a table.
        pub fn summary() -> #p::Summary {
            #p::Summary { network: #name_text, input: &[#(#input_dims),*], layers: Self::SUMMARY }
        }

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
        pub fn zeroed_gradients() -> #grads {
            #grads { #(#zeroed_grads)* }
        }

        /// Buffers for batched passes of up to `max_batch` samples.
        pub fn workspace(max_batch: usize) -> #ws {
            #ws { capacity: max_batch, #(#buffers)* }
        }
    }
}

/// `Parameters` for the network and its gradients.
pub fn parameters(cx: &Cx, types: &Types) -> TokenStream {
    let (p, t) = (&cx.p, cx.t);
    let Types { net: name, grads, .. } = types;
    let mut specs = Vec::new();
    let mut refs = Vec::new();
    let mut muts = Vec::new();
    // The gradient struct's tensors: all of them, or all but a sparse layer's weight.
    let (mut grad_specs, mut grad_refs, mut grad_muts) = (Vec::new(), Vec::new(), Vec::new());
    let mut sparse_field = None;
    for (index, (layer, param)) in parameters_of(cx).enumerate() {
        let (layer_text, tensor) = (layer.text(), format!("{}.{}", layer.text(), param.suffix));
        let shape = param.shape.iter().map(|&d| lit(d));
        let (rows, cols) = (lit(param.rows()), lit(param.cols()));
        let kind = if param.is_weight {
            quote!(#p::TensorKind::Weight)
        } else {
            quote!(#p::TensorKind::Bias)
        };
        specs.push(quote! {
            #p::TensorSpec { name: #tensor, layer: #layer_text, shape: &[#(#shape),*], rows: #rows, cols: #cols, kind: #kind },
        });
        let sparse = is_sparse_param(cx, index);
        let field = &param.field;
        if sparse {
            sparse_field = Some(field.clone());
        } else {
            grad_specs.push(specs.last().cloned().unwrap_or_default());
            let grad_index = Literal::usize_unsuffixed(grad_refs.len());
            grad_refs.push(quote!(#grad_index => self.#field.as_slice(),));
            grad_muts.push(quote!(#grad_index => self.#field.as_mut_slice(),));
        }
        let index = Literal::usize_unsuffixed(index);
        refs.push(quote!(#index => self.#field.as_slice(),));
        muts.push(quote!(#index => self.#field.as_mut_slice(),));
    }
    let accessors = |refs: &[TokenStream], muts: &[TokenStream]| {
        quote! {
            fn tensor(&self, index: usize) -> &[#t] {
                match index {
                    #(#refs)*
                    _ => &[],
                }
            }

            fn tensor_mut(&mut self, index: usize) -> &mut [#t] {
                match index {
                    #(#muts)*
                    _ => &mut [],
                }
            }
        }
    };
    let net_accessors = accessors(&refs, &muts);
    let network = quote! {
        #[automatically_derived]
        impl #p::Parameters for #name {
            type Scalar = #t;
            const TENSORS: &'static [#p::TensorSpec] = &[#(#specs)*];
            #net_accessors
        }
    };
    let Some(sparse_field) = sparse_field else {
        return quote! {
            #network

            #[automatically_derived]
            impl #p::Parameters for #grads {
                type Scalar = #t;
                const TENSORS: &'static [#p::TensorSpec] = <#name as #p::Parameters>::TENSORS;
                #net_accessors
            }
        };
    };
    // The gradients of every tensor but the sparse layer's weight, whose gradient is a
    // `SparseGradient` (`SparseGradients::sparse`).
    let grad_accessors = accessors(&grad_refs, &grad_muts);
    quote! {
        #network

        #[automatically_derived]
        impl #p::Parameters for #grads {
            type Scalar = #t;
            const TENSORS: &'static [#p::TensorSpec] = &[#(#grad_specs)*];
            #grad_accessors
        }

        #[automatically_derived]
        impl #p::SparseGradients for #grads {
            fn sparse(&self) -> &#p::SparseGradient<#t> {
                &self.#sparse_field
            }

            fn sparse_mut(&mut self) -> &mut #p::SparseGradient<#t> {
                &mut self.#sparse_field
            }
        }
    }
}

/// The fields of every parameter, for `Clone` of the network (`gradients: false`) or of its
/// gradients (where a sparse layer's weight gradient is a `SparseGradient`).
pub fn cloned_fields(cx: &Cx, gradients: bool) -> Vec<TokenStream> {
    let p = &cx.p;
    parameters_of(cx)
        .enumerate()
        .map(|(index, (_, param))| {
            let field = &param.field;
            if gradients && is_sparse_param(cx, index) {
                quote!(#field: ::core::clone::Clone::clone(&self.#field),)
            } else {
                quote!(#field: #p::clone_box(&*self.#field),)
            }
        })
        .collect()
}
