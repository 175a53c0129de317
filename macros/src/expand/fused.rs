//! `sgd_steps_into`: runs of one-sample SGD steps fused into the backward pass, for networks
//! whose layers all support the rank-one update.

use super::backward::{input_buffer, Backward};
use super::forward;
use super::Types;
use crate::layers::Cx;
use proc_macro2::TokenStream;
use quote::quote;

/// The method, or nothing when a layer does not support the fused step (the trait's provided
/// method then says so, and the runtime never calls it).
pub fn method(cx: &Cx, types: &Types, backward: &Backward, ctx: &TokenStream) -> TokenStream {
    let net = cx.net;
    if !net.fused_sgd() {
        return TokenStream::new();
    }
    let (p, t, ws_name) = (&cx.p, cx.t, &types.ws);
    if net.small_steps() {
        return quote! {
            /// The run as straight-line code over the layers' static shapes
            /// (`SmallSteps::small_sgd_steps`), compiled for the kernel path.
            fn sgd_steps_into<L: #p::Loss<#t> + ?Sized>(
                &mut self,
                x: &[#t],
                target: &[#t],
                loss: &L,
                _ctx: &mut #p::Context,
                ws: &mut #ws_name,
                lr: #t,
            ) -> ::core::result::Result<#p::FusedSteps<#t>, #p::TrainError> {
                #p::small_sgd_steps(self, x, target, loss, ws, lr)
            }
        };
    }
    // The first layer's update is deferred to the next sample's forward pass when it has
    // parameters; `x_prev` is the input that update needs.
    let first_delta = backward.delta(0);
    let forward = forward::batch(cx, true, first_delta);
    let x_prev = first_delta.map(|_| {
        quote! {
            /// The sample before it, whose update of the first layer is still to be applied.
            let x_prev = j.checked_sub(1).map(|prev| &run_x[prev * Self::INPUT..j * Self::INPUT]);
        }
    });
    let loss = loss_step(cx);
    let call = backward.call();
    let (norm, updates) = norm_and_updates(cx, backward, true);
    quote! {
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
            let samples = #p::run_len(x.len(), target.len(), Self::INPUT, Self::OUTPUT, ws.capacity)?;
            let (run_x, run_target) = (x, target);
            let n = 1;
            let mut run = #p::FusedSteps::new();
            for j in 0..samples {
                /// Sample `j` of the run.
                let x = &run_x[j * Self::INPUT..(j + 1) * Self::INPUT];
                let target = &run_target[j * Self::OUTPUT..(j + 1) * Self::OUTPUT];
                #x_prev
                #(#forward)*
                #loss
                #call
                /// The gradient's global norm, from each layer's rank-one weight gradient;
                /// nothing of this sample is applied unless it and the loss are finite.
                let grad_norm = #p::check_fused_step(loss_value, #norm)
                    .map_err(|error| #p::TrainError::in_run(j, error))?;
                #(#updates)*
                run.push(loss_value, grad_norm);
            }
            ::core::result::Result::Ok(run)
        }
    }
}

/// `impl SmallSteps` for a network whose runs take the static path ([`Network::small_steps`]):
/// the run of `sgd_steps_into` with every layer's step over its compile-time shape, the
/// backward pass written out in it, and each layer updated after each sample. Nothing for
/// other networks.
///
/// [`Network::small_steps`]: crate::model::Network::small_steps
pub fn small_impl(cx: &Cx, types: &Types) -> TokenStream {
    let net = cx.net;
    if !net.fused_sgd() || !net.small_steps() {
        return TokenStream::new();
    }
    let cx = &Cx {
        p: cx.p.clone(),
        t: cx.t,
        net,
        small: true,
    };
    let (p, t, name, ws_name) = (&cx.p, cx.t, &types.net, &types.ws);
    let backward = Backward::new(cx);
    let forward = forward::batch(cx, true, None);
    let loss = loss_step(cx);
    let chain = backward.code();
    let (norm, updates) = norm_and_updates(cx, &backward, false);
    quote! {
        impl #p::SmallSteps for #name {
            #[inline(always)]
            #[allow(unused_doc_comments)]
            fn small_sgd_steps<M: #p::small::MulAdd, L: #p::Loss<#t> + ?Sized>(
                &mut self,
                x: &[#t],
                target: &[#t],
                loss: &L,
                ws: &mut #ws_name,
                lr: #t,
            ) -> ::core::result::Result<#p::FusedSteps<#t>, #p::TrainError> {
                let samples = #p::run_len(x.len(), target.len(), Self::INPUT, Self::OUTPUT, ws.capacity)?;
                let (run_x, run_target) = (x, target);
                let mut run = #p::FusedSteps::new();
                for j in 0..samples {
                    /// Sample `j` of the run.
                    let x = &run_x[j * Self::INPUT..(j + 1) * Self::INPUT];
                    let target = &run_target[j * Self::OUTPUT..(j + 1) * Self::OUTPUT];
                    #(#forward)*
                    #loss
                    #(#chain)*
                    /// The gradient's global norm, from each layer's rank-one weight gradient;
                    /// nothing of this sample is applied unless it and the loss are finite.
                    let grad_norm = #p::check_fused_step(loss_value, #norm)
                        .map_err(|error| #p::TrainError::in_run(j, error))?;
                    #(#updates)*
                    run.push(loss_value, grad_norm);
                }
                ::core::result::Result::Ok(run)
            }
        }
    }
}

/// The squared gradient norm of one sample (the sum of the layers' terms) and the layers'
/// updates, top to bottom. `deferred`: the first layer's update waits for the next sample's
/// forward pass (see [`crate::layers::LayerKind::sgd_update`]).
fn norm_and_updates(cx: &Cx, backward: &Backward, deferred: bool) -> (TokenStream, Vec<TokenStream>) {
    let mut norms = Vec::new();
    let mut updates = Vec::new();
    for (i, layer) in cx.net.layers.iter().enumerate().rev() {
        let Some(delta) = backward.delta(i) else {
            continue;
        };
        let width = cx.width(layer);
        let one_delta = quote!(&ws.#delta[..#width]);
        norms.extend(layer.kind.norm_term(cx, layer, &one_delta, &input_buffer(cx, i, true)));
        let delta = quote!(&ws.#delta);
        let input = input_buffer(cx, i, false);
        updates.push(layer.kind.sgd_update(cx, layer, &delta, &input, deferred && i == 0));
    }
    let norm = if norms.is_empty() {
        quote!(0.0)
    } else {
        quote!(#(#norms)+*)
    };
    (norm, updates)
}

/// The loss of a training pass: its value, with its gradient with respect to the output
/// layer's pre-activation left in that layer's delta buffer.
pub fn loss_step(cx: &Cx) -> TokenStream {
    let p = &cx.p;
    let Some(last) = cx.net.layers.last() else {
        return TokenStream::new();
    };
    let output = forward::output_value(cx);
    let delta = super::backward::own_delta(last);
    let doc = format!(
        " Loss: its mean over the batch; its gradient with respect to layer `{}`'s pre-activation goes to \
         `ws.{delta}`.",
        last.text()
    );
    quote! {
        #[doc = #doc]
        let (loss_value, _) = #p::loss_and_delta(loss, &#output, target, &mut ws.#delta);
    }
}
