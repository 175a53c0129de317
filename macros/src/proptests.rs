//! Property tests of the whole expansion, in-process: valid definitions, valid definitions
//! with one token mutated, dropped or duplicated, and random token soup. Every input yields
//! either code or `compile_error!`s whose spans lie inside the input; never a panic, never an
//! empty error. 10,000 inputs per run (4,000 valid, 4,000 mutated, 2,000 soup).

use crate::expand_network;
use proc_macro2::{LineColumn, TokenStream, TokenTree};
use proptest::prelude::*;
use std::str::FromStr;

const ACTIVATIONS: &[&str] = &[
    "",
    "identity",
    "relu",
    "leaky_relu",
    "leaky_relu(0.2)",
    "elu",
    "elu(0.5)",
    "sigmoid",
    "tanh",
    "softplus",
    "gelu",
    "silu",
];

/// A valid definition: 1-6 layers (dense widths 1-64, random activations, some dropout, a
/// softmax or anything else last), random scalar type and visibility; a third of them start
/// from an image (`input: [c, h, w]`, sometimes a pooling layer, then `flatten`).
fn valid_definition() -> impl Strategy<Value = String> {
    let layer = (1usize..=64, 0..ACTIVATIONS.len(), prop::bool::weighted(0.15), 0u8..9);
    (
        prop::collection::vec(layer, 1..=6),
        1usize..=64,
        0u8..3,
        0u8..3,
        any::<bool>(),
        1usize..=64,
        prop::option::weighted(
            0.33,
            (1usize..=3, 2usize..=8, 2usize..=8, 1usize..=2, 1usize..=2, 0u8..4),
        ),
    )
        .prop_map(|(layers, input, scalar, vis, softmax_last, out_width, image)| {
            let mut text = String::new();
            match scalar {
                0 => text.push_str("#[network(scalar = f64)]\n"),
                1 => text.push_str("#[network(scalar = f32)]\n"),
                _ => text.push_str("/// Documented.\n"),
            }
            text.push_str(["pub ", "pub(crate) ", ""][vis as usize]);
            match image {
                None => text.push_str(&format!("struct Generated {{\n    input: {input},\n")),
                Some((c, h, w, k, stride, pool)) => {
                    text.push_str(&format!("struct Generated {{\n    input: [{c}, {h}, {w}],\n"));
                    let stride = if stride == k {
                        String::new()
                    } else {
                        format!(", stride = {stride}")
                    };
                    match pool {
                        0 => text.push_str(&format!("    pool: max_pool({k}{stride}),\n")),
                        1 => text.push_str(&format!("    pool: avg_pool(({k}, 1){stride}),\n")),
                        2 => text.push_str(&format!(
                            "    conv: conv2d({}, kernel = ({k}, 2), padding = (0, 1){stride}) -> relu,\n",
                            c + 1
                        )),
                        _ => {}
                    }
                    text.push_str("    flat: flatten,\n");
                }
            }
            for (i, (width, act, dropout, p)) in layers.iter().enumerate() {
                if *dropout {
                    text.push_str(&format!("    drop{i}: dropout(0.{p}),\n"));
                }
                let act = ACTIVATIONS[*act];
                let arrow = if act.is_empty() {
                    String::new()
                } else {
                    format!(" -> {act}")
                };
                text.push_str(&format!("    layer{i}: dense({width}){arrow},\n"));
            }
            let last = if softmax_last && out_width > 1 {
                " -> softmax"
            } else {
                " -> sigmoid"
            };
            text.push_str(&format!("    out: dense({out_width}){last},\n}}\n"));
            text
        })
}

/// Tokens that mutations and soup draw from: the language's own and some that do not belong.
const VOCABULARY: &[&str] = &[
    "struct",
    "pub",
    "input",
    "dense",
    "dropout",
    "flatten",
    "max_pool",
    "conv2d",
    "kernel = 3",
    "padding = 1",
    "avg_pool",
    "stride",
    "stride = 2",
    "[1, 4, 4]",
    "(2, 3)",
    "relu",
    "softmax",
    "leaky_relu",
    "elu",
    "x",
    "Net",
    ":",
    ",",
    "->",
    "-",
    ">",
    "0",
    "1",
    "64",
    "0.5",
    "2.5",
    "-1",
    "\"text\"",
    "'a'",
    "#",
    "!",
    "=",
    ";",
    "(3)",
    "()",
    "{}",
    "[]",
    "(0.1, 0.2)",
    "#[network(scalar = f64)]",
    "#[network(crate = ::x)]",
    "#[network(fast)]",
    "{ input: 2 }",
    "<T>",
    "f16",
    "r#type",
    "self",
    "fn",
    "100000000000000000000",
];

/// Splits a definition into top-level pieces that can be moved as units without unbalancing
/// brackets: the pieces inside the body are whitespace-separated words.
fn words(text: &str) -> Vec<String> {
    text.replace("{\n", "{ ")
        .replace("\n}", " }")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn mutated_definition() -> impl Strategy<Value = String> {
    (
        valid_definition(),
        0u8..3,
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(text, kind, at, token)| {
            let mut pieces = words(&text);
            let i = at.index(pieces.len());
            match kind {
                0 => {
                    pieces.remove(i);
                }
                1 => {
                    let copy = pieces[i].clone();
                    pieces.insert(i, copy);
                }
                _ => pieces[i] = VOCABULARY[token.index(VOCABULARY.len())].to_owned(),
            }
            pieces.join(" ")
        })
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCABULARY), 0..40).prop_map(|tokens| tokens.join(" "))
}

/// The first and last positions of the tokens of `input`.
fn extent(input: TokenStream) -> Option<(LineColumn, LineColumn)> {
    let mut range: Option<(LineColumn, LineColumn)> = None;
    let mut visit = |start: LineColumn, end: LineColumn| {
        range = Some(match range {
            None => (start, end),
            Some((a, b)) => (a.min(start), b.max(end)),
        });
    };
    fn walk(tokens: TokenStream, visit: &mut dyn FnMut(LineColumn, LineColumn)) {
        for token in tokens {
            let span = token.span();
            visit(span.start(), span.end());
            if let TokenTree::Group(group) = token {
                walk(group.stream(), visit);
            }
        }
    }
    walk(input, &mut visit);
    range
}

/// `compile_error!` invocations in an expansion: the span of each and its message.
fn compile_errors(output: TokenStream) -> Vec<(LineColumn, LineColumn, String)> {
    let tokens: Vec<TokenTree> = output.into_iter().collect();
    let mut errors = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if let TokenTree::Ident(ident) = token {
            if ident == "compile_error" {
                let message = tokens.get(i + 2).and_then(|t| match t {
                    TokenTree::Group(g) => syn::parse2::<syn::LitStr>(g.stream()).ok().map(|l| l.value()),
                    _ => None,
                });
                errors.push((ident.span().start(), ident.span().end(), message.unwrap_or_default()));
            }
        }
    }
    errors
}

/// Expands `text` (which must lex) and checks the contract. Returns whether it made errors.
fn check(text: &str) -> Result<bool, TestCaseError> {
    // A leading line keeps every input token off line 1, where a call-site span would be.
    let source = format!("\n{text}");
    let Ok(input) = TokenStream::from_str(&source) else {
        return Ok(false); // does not lex: rustc would reject it before the macro runs
    };
    let range = extent(input.clone());
    let output = expand_network(input);
    let errors = compile_errors(output.clone());
    if errors.is_empty() {
        prop_assert!(!output.is_empty(), "no code and no error for {text:?}");
        prop_assert!(syn::parse2::<syn::File>(output).is_ok(), "invalid code for {text:?}");
        return Ok(false);
    }
    for (start, end, message) in errors {
        prop_assert!(!message.trim().is_empty(), "empty error message for {text:?}");
        if let Some((first, last)) = range {
            prop_assert!(
                start >= first && end <= last,
                "error {message:?} at {start:?}..{end:?} outside the input {first:?}..{last:?}: {text:?}"
            );
        }
    }
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn valid_definitions_expand_without_errors(text in valid_definition()) {
        prop_assert!(!check(&text)?, "a valid definition was rejected: {text}");
    }

    #[test]
    fn mutated_definitions_give_code_or_spanned_errors(text in mutated_definition()) {
        check(&text)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_gives_code_or_spanned_errors(text in soup()) {
        check(&text)?;
    }
}
