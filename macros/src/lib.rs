//! The `network!` procedural macro of [retroprop](https://docs.rs/retroprop).
//!
//! Use it through the facade crate: `retroprop::network! { ... }`. The crate is organized
//! as thiserror-impl and serde_derive are: `parse` turns tokens into a small syntax tree
//! (`ast`), `check` validates it into a `model` collecting every error with its span,
//! and `expand` generates code from valid input only.

#![forbid(unsafe_code)]

mod ast;
mod check;
mod expand;
mod layers;
mod model;
mod parse;

use proc_macro2::TokenStream;

/// Defines dense neural networks. See the `retroprop` crate for the language.
#[proc_macro]
pub fn network(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand_network(input.into()).into()
}

/// The whole expansion, on `proc_macro2` tokens so that tests can call it in-process.
fn expand_network(input: TokenStream) -> TokenStream {
    let parsed = parse::parse(input);
    let mut out = TokenStream::new();
    for raw in parsed.networks {
        // A definition with mistakes expands to its repaired network beside the errors, so
        // that code using it gets no follow-on errors.
        let (network, error) = check::check(raw);
        out.extend(expand::expand(&network, error.is_some()));
        if let Some(error) = error {
            out.extend(error.to_compile_error());
        }
    }
    if let Some(error) = parsed.fatal {
        out.extend(error.to_compile_error());
    }
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
