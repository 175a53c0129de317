//! The convenience methods with nalgebra types (`gradients`, `save`, `load`, `train_step`,
//! `train_batch`), the standard traits, and the runtime's `Network` trait.

use super::backward::Backward;
use super::{forward, fused, structs, Types};
use crate::layers::{width_const, Cx, Names};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ext::IdentExt;

/// The inherent convenience methods.
pub fn inherent(cx: &Cx, types: &Types) -> TokenStream {
    let (p, t, nalgebra) = (&cx.p, cx.t, cx.nalgebra());
    let grads_name = &types.grads;
    let input_dim = quote!(#nalgebra::Const<{ Self::INPUT }>);
    let output_dim = quote!(#nalgebra::Const<{ Self::OUTPUT }>);
    let files = quote! {
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
    };
    if cx.net.is_sparse() {
        // No method of a sparse network takes a dense input.
        return quote! {
            /// Writes the weights to `path` as a safetensors file (tensors `layer.weight`,
            /// `[out, in]` row-major as PyTorch stores them, and `layer.bias`), atomically,
            /// with `metadata` added to the file's `__metadata__` (for example what serving
            /// needs: the vectorizer's settings and the class names).
            ///
            /// # Errors
            /// `WeightsError` naming the file if it cannot be written.
            pub fn save(
                &self,
                path: impl ::core::convert::AsRef<::std::path::Path>,
                metadata: impl ::core::iter::IntoIterator<Item = (::std::string::String, ::std::string::String)>,
            ) -> ::core::result::Result<(), #p::WeightsError> {
                #p::save_sparse_weights(self, path.as_ref(), metadata)
            }

            /// Reads weights written by [`save`](Self::save) (or by PyTorch with the same
            /// tensor names); `f32` and `f64` files load into either scalar type.
            ///
            /// # Errors
            /// `WeightsError` naming the file and listing every missing, unexpected or
            /// mis-shaped tensor.
            pub fn load(path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<Self, #p::WeightsError> {
                #p::load_sparse_weights(path.as_ref())
            }
        };
    }
    quote! {
        /// Computes the gradients of the mean loss over a batch (one sample per column) into
        /// `grads` and returns the mean loss. Allocates a workspace; use
        /// `Network::gradients_into` with a reused one in
        /// a training loop.
        ///
        /// # Errors
        /// `TrainError` if inputs and targets do not fit.
        pub fn gradients<C, S, C2, S2, L>(
            &self,
            x: &#nalgebra::Matrix<#t, #input_dim, C, S>,
            target: &#nalgebra::Matrix<#t, #output_dim, C2, S2>,
            loss: &L,
            grads: &mut #grads_name,
        ) -> ::core::result::Result<#t, #p::TrainError>
        where
            C: #nalgebra::Dim,
            S: #nalgebra::RawStorage<#t, #input_dim, C> + #nalgebra::IsContiguous,
            C2: #nalgebra::Dim,
            S2: #nalgebra::RawStorage<#t, #output_dim, C2> + #nalgebra::IsContiguous,
            L: #p::Loss<#t> + ?Sized,
        {
            let mut ws = Self::workspace(x.ncols());
            let mut ctx = #p::Context::training(0);
            <Self as #p::Network>::gradients_into(self, x.as_slice(), target.as_slice(), loss, &mut ctx, &mut ws, grads)
        }

        #files

        /// One training step on one sample: forward, backward, and the optimizer's update.
        /// Returns the loss before the update. Allocates nothing once the optimizer has
        /// its state.
        ///
        /// # Errors
        /// `TrainError` if the loss or gradients are not finite; the
        /// weights are unchanged then.
        pub fn train_step<L, O>(
            &mut self,
            x: &#nalgebra::SVector<#t, { Self::INPUT }>,
            target: &#nalgebra::SVector<#t, { Self::OUTPUT }>,
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
            x: &#nalgebra::Matrix<#t, #input_dim, C, S>,
            target: &#nalgebra::Matrix<#t, #output_dim, C2, S2>,
            loss: &L,
            optimizer: &mut O,
            session: &mut #p::Session<Self>,
        ) -> ::core::result::Result<#t, #p::TrainError>
        where
            C: #nalgebra::Dim,
            S: #nalgebra::RawStorage<#t, #input_dim, C> + #nalgebra::IsContiguous,
            C2: #nalgebra::Dim,
            S2: #nalgebra::RawStorage<#t, #output_dim, C2> + #nalgebra::IsContiguous,
            L: #p::Loss<#t> + ?Sized,
            O: #p::Optimizer<#t> + ?Sized,
        {
            session.step(self, x.as_slice(), target.as_slice(), loss, optimizer)
        }
    }
}

/// `Clone`, `Default`, `Debug`, `PartialEq` and `Workspace`.
pub fn traits(cx: &Cx, types: &Types) -> TokenStream {
    let p = &cx.p;
    let Types { net: name, grads, ws } = types;
    let debug_text = format!("{} {{ {} }}", name.unraw(), cx.net.definition());
    // A sparse layer's weight gradient is compared besides the tensors.
    let sparse_eq = cx.net.is_sparse().then(|| {
        let first = cx.net.layers.first().map(|l| Names::of(l).weight);
        quote!(&& self.#first == other.#first)
    });
    // The network and its gradients have the same fields, cloned and compared alike.
    let same_fields = [(name, false), (grads, true)].map(|(ty, gradients)| {
        let cloned = structs::cloned_fields(cx, gradients);
        let extra_eq = if gradients { sparse_eq.clone() } else { None };
        quote! {
            #[automatically_derived]
            impl ::core::clone::Clone for #ty {
                fn clone(&self) -> Self {
                    Self { #(#cloned)* }
                }
            }

            #[automatically_derived]
            impl ::core::cmp::PartialEq for #ty {
                fn eq(&self, other: &Self) -> bool {
                    #p::tensors_eq(self, other) #extra_eq
                }
            }
        }
    });
    quote! {
        #(#same_fields)*

        /// The network with every parameter zero ([`zeroed`](Self::zeroed)), built on the heap.
        #[automatically_derived]
        impl ::core::default::Default for #name {
            fn default() -> Self {
                Self::zeroed()
            }
        }

        #[automatically_derived]
        impl ::core::clone::Clone for #ws {
            fn clone(&self) -> Self {
                #name::workspace(self.capacity)
            }
        }

        #[automatically_derived]
        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(#debug_text)
            }
        }

        #[automatically_derived]
        impl ::core::fmt::Debug for #grads {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                #p::debug_tensors(self, f)
            }
        }

        #[automatically_derived]
        impl ::core::fmt::Debug for #ws {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                #p::debug_workspace(self, f)
            }
        }

        #[automatically_derived]
        impl #p::Workspace for #ws {
            fn capacity(&self) -> usize {
                self.capacity
            }
        }
    }
}

/// The runtime's `Network` trait: the slice-based passes.
pub fn network(cx: &Cx, types: &Types, backward: &Backward) -> TokenStream {
    let (p, t, net) = (&cx.p, cx.t, cx.net);
    let Types { net: name, grads, ws } = types;
    let name_text = name.unraw().to_string();
    let ctx = if net.uses_context() {
        format_ident!("ctx")
    } else {
        format_ident!("_ctx")
    };
    let inference = forward::batch(cx, false, None);
    let training = forward::batch(cx, true, None);
    let output = forward::output_value(cx);
    let loss = fused::loss_step(cx);
    let backward_call = backward.call();
    let parameter_gradients = backward.parameter_gradients(cx);
    let fused_flag = net.fused_sgd();
    // The constructors of both traits call the inherent ones.
    let constructors = quote! {
        fn zeroed() -> Self {
            #name::zeroed()
        }

        fn seeded(seed: u64) -> Self {
            #name::seeded(seed)
        }

        fn zeroed_gradients() -> #grads {
            #name::zeroed_gradients()
        }

        fn workspace(max_batch: usize) -> #ws {
            #name::workspace(max_batch)
        }
    };
    if net.is_sparse() {
        let first_width_const = net.layers.first().map(width_const);
        return quote! {
            #[automatically_derived]
            impl #p::SparseNetwork for #name {
                type Gradients = #grads;
                type Workspace = #ws;
                const NAME: &'static str = #name_text;
                const DEFINITION: &'static str = #name::DEFINITION;
                const FEATURES: usize = #name::INPUT;
                const WIDTH: usize = #name::#first_width_const;
                const OUTPUT: usize = #name::OUTPUT;
                const PARAMETERS: usize = #name::PARAMETERS;
                const DENSE_TENSORS: &'static [#p::TensorSpec] = <#grads as #p::Parameters>::TENSORS;

                #constructors

                #[allow(unused_doc_comments)]
                fn forward_sparse_into<'w>(
                    &self,
                    x: &#p::SparseBatch<'_, #t>,
                    ws: &'w mut #ws,
                ) -> ::core::result::Result<#p::Output<'w, #t>, #p::ShapeError> {
                    let n = #p::sparse_input_len(x.features(), x.len(), Self::FEATURES, ws.capacity)?;
                    #(#inference)*
                    ::core::result::Result::Ok(#output)
                }

                #[allow(unused_doc_comments)]
                fn gradients_sparse_into<L: #p::Loss<#t> + ?Sized>(
                    &self,
                    x: &#p::SparseBatch<'_, #t>,
                    target: &[#t],
                    loss: &L,
                    #ctx: &mut #p::Context,
                    ws: &mut #ws,
                    grads: &mut #grads,
                ) -> ::core::result::Result<#t, #p::TrainError> {
                    let n = #p::sparse_batch_len(x.features(), x.len(), target.len(), Self::FEATURES, Self::OUTPUT, ws.capacity)?;
                    #(#training)*
                    #loss
                    #backward_call
                    #(#parameter_gradients)*
                    ::core::result::Result::Ok(loss_value)
                }
            }
        };
    }
    let fused = fused::method(cx, types, backward, &quote!(#ctx));
    quote! {
        #[automatically_derived]
        impl #p::Network for #name {
            type Gradients = #grads;
            type Workspace = #ws;
            const NAME: &'static str = #name_text;
            const DEFINITION: &'static str = #name::DEFINITION;
            const INPUT: usize = #name::INPUT;
            const OUTPUT: usize = #name::OUTPUT;
            const PARAMETERS: usize = #name::PARAMETERS;
            const FUSED_SGD: bool = #fused_flag;

            #constructors

            #[allow(unused_doc_comments)]
            fn forward_into<'w>(
                &self,
                x: &[#t],
                ws: &'w mut #ws,
            ) -> ::core::result::Result<#p::Output<'w, #t>, #p::ShapeError> {
                let n = #p::input_len(x.len(), Self::INPUT, ws.capacity)?;
                #(#inference)*
                ::core::result::Result::Ok(#output)
            }

            #[allow(unused_doc_comments)]
            fn gradients_into<L: #p::Loss<#t> + ?Sized>(
                &self,
                x: &[#t],
                target: &[#t],
                loss: &L,
                #ctx: &mut #p::Context,
                ws: &mut #ws,
                grads: &mut #grads,
            ) -> ::core::result::Result<#t, #p::TrainError> {
                let n = #p::batch_len(x.len(), target.len(), Self::INPUT, Self::OUTPUT, ws.capacity)?;
                #(#training)*
                #loss
                #backward_call
                #(#parameter_gradients)*
                ::core::result::Result::Ok(loss_value)
            }

            #fused
        }
    }
}
