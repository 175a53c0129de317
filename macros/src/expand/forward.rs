//! The forward passes: one sample through static vectors (`forward`), and batches through
//! the workspace (`forward_into`, and the training passes), layer by layer.

use super::Types;
use crate::layers::{Cx, Mode, Names};
use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

/// The statements of a batch forward pass: each layer defines its activation `name_act`.
/// `first_delta`: in a run of fused steps, the buffer of the first layer's delta.
pub fn batch(cx: &Cx, training: bool, first_delta: Option<&Ident>) -> Vec<TokenStream> {
    let mut input = quote!(x);
    let mut steps = Vec::new();
    for (index, layer) in cx.net.layers.iter().enumerate() {
        let mode = match (training, first_delta) {
            (false, _) => Mode::Inference,
            (true, None) => Mode::Training,
            (true, Some(delta)) => Mode::Run {
                first_delta: (index == 0).then(|| delta.clone()),
            },
        };
        steps.push(layer.kind.forward_batch(cx, layer, &input, mode));
        let act = Names::of(layer).act;
        input = quote!(#act);
    }
    steps
}

/// The output layer of a batch pass, as the loss and the caller see it.
pub fn output_value(cx: &Cx) -> TokenStream {
    let p = &cx.p;
    let last = cx.net.layers.last();
    let (pre, act, activation) = match last {
        Some(layer) => {
            let n = Names::of(layer);
            (n.pre, n.act, cx.activation(layer.activation))
        }
        // Unreachable: a checked network has at least one layer.
        None => return quote!(::core::unreachable!()),
    };
    quote! {
        #p::Output { pre: #pre, act: #act, activation: #activation, rows: Self::OUTPUT }
    }
}

/// `forward`, `forward_slice`, `forward_batch` and `forward_batch_with`.
pub fn inference_methods(cx: &Cx, types: &Types) -> TokenStream {
    if cx.net.is_sparse() {
        return sparse_inference_methods(cx, types);
    }
    let (p, t, nalgebra) = (&cx.p, cx.t, cx.nalgebra());
    let ws_name = &types.ws;
    let mut input = quote!(x);
    let mut single = Vec::new();
    for layer in &cx.net.layers {
        single.push(layer.kind.forward_one(cx, layer, &input));
        let act = Names::of(layer).act;
        input = quote!(&#act);
    }
    let last_act = cx.net.layers.last().map(|l| Names::of(l).act);
    let input_dim = quote!(#nalgebra::Const<{ Self::INPUT }>);
    let output_dim = quote!(#nalgebra::Const<{ Self::OUTPUT }>);
    quote! {
        /// Runs one sample through the network (inference mode).
        #[allow(unused_doc_comments, clippy::let_and_return)]
        pub fn forward(&self, x: &#nalgebra::SVector<#t, { Self::INPUT }>) -> #nalgebra::SVector<#t, { Self::OUTPUT }> {
            #(#single)*
            #last_act
        }

        /// Runs one sample given as a slice of `INPUT` values (inference mode).
        ///
        /// # Errors
        /// `ShapeError::InputLength` if the slice does
        /// not hold exactly `INPUT` values.
        pub fn forward_slice(&self, x: &[#t]) -> ::core::result::Result<#nalgebra::SVector<#t, { Self::OUTPUT }>, #p::ShapeError> {
            #p::check_input_len(x.len(), Self::INPUT)?;
            let x = #nalgebra::SVector::<#t, { Self::INPUT }>::from_column_slice(x);
            ::core::result::Result::Ok(self.forward(&x))
        }

        /// Runs a batch held one sample per column (inference mode) and returns the
        /// outputs, one sample per column. `x` may be a view into a larger matrix, as long
        /// as its columns are contiguous.
        pub fn forward_batch<C, S>(&self, x: &#nalgebra::Matrix<#t, #input_dim, C, S>) -> #nalgebra::OMatrix<#t, #output_dim, #nalgebra::Dyn>
        where
            C: #nalgebra::Dim,
            S: #nalgebra::RawStorage<#t, #input_dim, C> + #nalgebra::IsContiguous,
        {
            let n = x.ncols();
            let mut ws = Self::workspace(n);
            let act = match <Self as #p::Network>::forward_into(self, x.as_slice(), &mut ws) {
                ::core::result::Result::Ok(output) => output.act,
                ::core::result::Result::Err(_) => &[],
            };
            #nalgebra::OMatrix::<#t, #output_dim, #nalgebra::Dyn>::from_column_slice(act)
        }

        /// Like [`forward_batch`](Self::forward_batch), but writes into `ws` and allocates
        /// nothing; returns a view of the outputs inside the workspace.
        ///
        /// # Errors
        /// `ShapeError` for an empty batch or one larger than the workspace.
        pub fn forward_batch_with<'w, C, S>(
            &self,
            x: &#nalgebra::Matrix<#t, #input_dim, C, S>,
            ws: &'w mut #ws_name,
        ) -> ::core::result::Result<#nalgebra::MatrixView<'w, #t, #output_dim, #nalgebra::Dyn>, #p::ShapeError>
        where
            C: #nalgebra::Dim,
            S: #nalgebra::RawStorage<#t, #input_dim, C> + #nalgebra::IsContiguous,
        {
            let output = <Self as #p::Network>::forward_into(self, x.as_slice(), ws)?;
            ::core::result::Result::Ok(#p::batch_view::<#t, { Self::OUTPUT }>(output.act))
        }
    }
}

/// `forward_sparse` and `forward_sparse_with`, the inference methods of a network with a
/// sparse input (none takes a dense input).
fn sparse_inference_methods(cx: &Cx, types: &Types) -> TokenStream {
    let (p, t, nalgebra) = (&cx.p, cx.t, cx.nalgebra());
    let ws_name = &types.ws;
    let output_dim = quote!(#nalgebra::Const<{ Self::OUTPUT }>);
    quote! {
        /// Runs a sparse batch (inference mode) and returns the outputs, one sample per
        /// column. Allocates a workspace; use [`forward_sparse_with`](Self::forward_sparse_with)
        /// with a reused one in a loop.
        ///
        /// # Errors
        /// `ShapeError` for an empty batch or one of another feature count.
        pub fn forward_sparse(
            &self,
            x: &#p::SparseBatch<'_, #t>,
        ) -> ::core::result::Result<#nalgebra::OMatrix<#t, #output_dim, #nalgebra::Dyn>, #p::ShapeError> {
            let mut ws = Self::workspace(x.len());
            let output = <Self as #p::SparseNetwork>::forward_sparse_into(self, x, &mut ws)?;
            ::core::result::Result::Ok(#nalgebra::OMatrix::<#t, #output_dim, #nalgebra::Dyn>::from_column_slice(output.act))
        }

        /// Like [`forward_sparse`](Self::forward_sparse), but writes into `ws` and allocates
        /// nothing; returns a view of the outputs inside the workspace.
        ///
        /// # Errors
        /// `ShapeError` for an empty batch, one larger than the workspace, or one of another
        /// feature count.
        pub fn forward_sparse_with<'w>(
            &self,
            x: &#p::SparseBatch<'_, #t>,
            ws: &'w mut #ws_name,
        ) -> ::core::result::Result<#nalgebra::MatrixView<'w, #t, #output_dim, #nalgebra::Dyn>, #p::ShapeError> {
            let output = <Self as #p::SparseNetwork>::forward_sparse_into(self, x, ws)?;
            ::core::result::Result::Ok(#p::batch_view::<#t, { Self::OUTPUT }>(output.act))
        }
    }
}
