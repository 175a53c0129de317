//! In-process tests of the expansion: snapshots of the generated code, and the shape of the
//! errors.

use crate::expand_network;
use proc_macro2::TokenStream;
use quote::quote;

/// The expansion of `input`, formatted as a Rust file.
fn pretty(input: TokenStream) -> String {
    let tokens = expand_network(input);
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(error) => panic!("expansion is not a valid file: {error}\n{tokens}"),
    }
}

/// The messages of the `compile_error!`s in an expansion.
fn errors(input: TokenStream) -> Vec<String> {
    let file: syn::File = match syn::parse2(expand_network(input)) {
        Ok(file) => file,
        Err(error) => panic!("expansion is not a valid file: {error}"),
    };
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Macro(m) if m.mac.path.segments.last().is_some_and(|s| s.ident == "compile_error") => {
                let lit: syn::LitStr = m.mac.parse_body().ok()?;
                Some(lit.value())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn snapshot_xor() {
    insta::assert_snapshot!(pretty(quote! {
        /// Learns XOR.
        #[network(scalar = f64)]
        pub struct Xor {
            input: 2,
            hidden: dense(8) -> tanh,
            output: dense(1) -> sigmoid,
        }
    }));
}

#[test]
fn snapshot_digits_classifier() {
    insta::assert_snapshot!(pretty(quote! {
        /// Classifies 8x8 digit images.
        pub struct DigitNet {
            input: 64,
            hidden: dense(32) -> relu,
            output: dense(10) -> softmax,
        }
    }));
}

#[test]
fn snapshot_deep_regressor_with_options() {
    insta::assert_snapshot!(pretty(quote! {
        #[derive(Default)]
        #[network(crate = ::my_retroprop)]
        pub(crate) struct Regressor {
            input: 3,
            first: dense(4) -> leaky_relu(0.2),
            second: dense(4) -> elu,
            third: dense(2) -> gelu,
            out: dense(1),
        }
    }));
}

#[test]
fn snapshot_dropout() {
    insta::assert_snapshot!(pretty(quote! {
        pub struct Dropped {
            input: 5,
            drop_in: dropout(0.1),
            hidden: dense(4) -> relu,
            drop: dropout(0.5),
            out: dense(2) -> softmax,
        }
    }));
}

#[test]
fn snapshot_sparse_input() {
    insta::assert_snapshot!(pretty(quote! {
        /// Hashed text features into a small classifier.
        pub struct TextNet {
            input: sparse(4096),
            hidden: dense(8) -> relu,
            drop: dropout(0.2),
            output: dense(2) -> softmax,
        }
    }));
}

#[test]
fn several_networks_in_one_block() {
    let text = pretty(quote! {
        struct A { input: 1, out: dense(1) }
        struct B { input: 2, out: dense(3) -> softmax }
    });
    assert!(text.contains("struct A {"));
    assert!(text.contains("struct B {"));
    assert!(text.contains("struct BWorkspace"));
}

#[test]
fn every_error_in_a_definition_is_reported_at_once() {
    let found = errors(quote! {
        #[network(scalar = f16, speed = 11)]
        struct Bad {
            input: 0,
            a: dense(0) -> rleu,
            a: dense(3) -> softmax,
            b: conv(3),
            c: dense(2.5) -> leaky_relu(1, 2),
        }
    });
    let expected = [
        "unsupported scalar type `f16`",
        "unknown option `speed`",
        "`input` must be at least 1",
        "a layer's width must be at least 1",
        "did you mean `relu`?",
        "duplicate layer name `a`",
        "unknown layer kind `conv`",
        "a layer's width must be a positive whole number",
        "`leaky_relu` takes one argument",
        "`softmax` is only allowed on the last layer",
    ];
    for message in expected {
        assert!(
            found.iter().any(|f| f.contains(message)),
            "missing error containing {message:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

/// The expansion of `input` without its `compile_error!`s and the `allow` that a repaired
/// network's struct gets.
fn pretty_without_errors(input: TokenStream) -> String {
    let mut file: syn::File = match syn::parse2(expand_network(input)) {
        Ok(file) => file,
        Err(error) => panic!("expansion is not a valid file: {error}"),
    };
    file.items.retain(|item| {
        !matches!(item, syn::Item::Macro(m) if m.mac.path.segments.last().is_some_and(|s| s.ident == "compile_error"))
    });
    prettyplease::unparse(&file).replacen("#[allow(dead_code)]\n", "", 1)
}

#[test]
fn a_definition_with_errors_expands_to_the_repaired_network() {
    let cases = [
        // A bad width becomes 1, an unknown activation `identity`.
        (
            quote! { pub struct Broken { input: 2, hidden: dense(0) -> rleu, out: dense(2) -> softmax } },
            quote! { pub struct Broken { input: 2, hidden: dense(1), out: dense(2) -> softmax } },
        ),
        // An unknown layer kind and a repeated name are left out.
        (
            quote! { struct N { input: 3, a: conv(3), b: dense(4) -> relu, b: dense(9), out: dense(1) } },
            quote! { struct N { input: 3, b: dense(4) -> relu, out: dense(1) } },
        ),
        // Softmax before the last layer becomes identity; a dropout at the end is left out.
        (
            quote! { struct N { input: 3, a: dense(4) -> softmax, out: dense(2), d: dropout(0.5) } },
            quote! { struct N { input: 3, a: dense(4), out: dense(2) } },
        ),
        // `input` after a layer; a bad dropout probability leaves the dropout out.
        (
            quote! { struct N { a: dense(4) -> tanh, input: 3, d: dropout(2.0), out: dense(2) } },
            quote! { struct N { input: 3, a: dense(4) -> tanh, out: dense(2) } },
        ),
        // No input, no layers.
        (
            quote! { struct N {} },
            quote! { struct N { input: 1, output: dense(1) } },
        ),
        // Generic parameters, a bad scalar type, refused derives.
        (
            quote! { #[derive(Copy, Debug, Hash)] #[network(scalar = i8)] struct N<T> { input: 2, out: dense(1) } },
            quote! { struct N { input: 2, out: dense(1) } },
        ),
    ];
    for (broken, repaired) in cases {
        assert!(!errors(broken.clone()).is_empty(), "{broken}");
        assert!(errors(repaired.clone()).is_empty(), "{repaired}");
        assert_eq!(pretty_without_errors(broken), pretty(repaired));
    }
}

#[test]
fn derives_the_network_implements_are_absorbed_and_others_pass_through() {
    let text = pretty(quote! {
        #[derive(Clone, serde::Serialize, Debug, PartialEq, Default, Frobnicate)]
        #[derive(Debug)]
        pub struct N { input: 2, out: dense(1) }
    });
    assert!(
        text.contains("#[derive(serde::Serialize, Frobnicate)]\npub struct N {"),
        "{text}"
    );
    assert_eq!(text.matches("#[derive").count(), 1, "{text}");
    assert!(text.contains("impl ::core::default::Default for N"), "{text}");
    assert!(errors(quote! {
        #[derive(Clone, Debug)]
        pub struct N { input: 2, out: dense(1) }
    })
    .is_empty());
    let refused = errors(quote! {
        #[derive(Copy, Clone, Eq, Hash, PartialOrd, Ord)]
        pub struct N { input: 2, out: dense(1) }
    });
    assert_eq!(refused.len(), 5, "{refused:#?}");
    for name in ["Copy", "Eq", "Hash", "PartialOrd", "Ord"] {
        let needle = format!("cannot implement `{name}`");
        assert!(refused.iter().any(|e| e.contains(&needle)), "{name}: {refused:#?}");
    }
}

#[test]
fn empty_and_garbage_input_is_an_error_not_a_panic() {
    assert!(!errors(quote! {}).is_empty());
    assert!(!errors(quote! { fn main() {} }).is_empty());
    assert!(!errors(quote! { struct }).is_empty());
    assert!(!errors(quote! { struct X }).is_empty());
    assert!(!errors(quote! { struct X { input: 2 out: dense(1) } }).is_empty());
    assert!(!errors(quote! { struct X { input: 2, out: dense(1) - > relu } }).is_empty());
    assert!(!errors(quote! { struct X { input: 2,, out: dense(1) } }).is_empty());
}
