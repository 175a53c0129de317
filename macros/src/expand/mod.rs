//! Code generation from a validated [`crate::model::Network`].
//!
//! The generated code is meant to be read (`cargo expand`, the snapshot tests): named
//! fields, one `let` per step, a doc line per layer block, fully qualified paths. The math
//! lives in small runtime kernels; these modules write the wiring and the chain rule, asking
//! each layer's kind ([`crate::layers::LayerKind`]) for its part:
//!
//! - [`structs`]: the network, gradient and workspace structs, constants and constructors;
//! - [`forward`]: the forward passes (one sample, and batches into the workspace);
//! - [`backward`]: the backward pass, emitted once as a method that `gradients_into` and the
//!   fused path both call;
//! - [`fused`]: the runs of fused one-sample SGD steps;
//! - [`impls`]: the convenience methods and the trait implementations.

mod backward;
mod forward;
mod fused;
mod impls;
mod structs;

use crate::layers::Cx;
use crate::model::Network;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;

/// Names of the three generated types.
pub struct Types {
    pub net: Ident,
    pub grads: Ident,
    pub ws: Ident,
}

/// Expands one validated network. `repaired`: the network was repaired from a definition
/// with mistakes (reported beside it), so its struct may go unused without a warning.
pub fn expand(net: &Network, repaired: bool) -> TokenStream {
    let krate = &net.krate;
    let cx = Cx {
        p: quote!(#krate::__private),
        t: &net.scalar,
        net,
        small: false,
    };
    let name = &net.ident;
    let types = Types {
        net: name.clone(),
        grads: format_ident!("{}Gradients", name),
        ws: format_ident!("{}Workspace", name),
    };
    let backward = backward::Backward::new(&cx);

    let structs = structs::structs(&cx, &types, repaired);
    let constructors = structs::constructors(&cx, &types);
    let inference = forward::inference_methods(&cx, &types);
    let backward_pass = backward.method(&cx, &types);
    let conveniences = impls::inherent(&cx, &types);
    let traits = impls::traits(&cx, &types);
    let network = impls::network(&cx, &types, &backward);
    let small = fused::small_impl(&cx, &types);
    let parameters = structs::parameters(&cx, &types);

    quote! {
        #structs

        impl #name {
            #constructors
            #inference
            #backward_pass
            #conveniences
        }

        #traits
        #parameters
        #network
        #small
    }
}
