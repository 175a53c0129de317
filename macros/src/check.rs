//! Validation: [`crate::ast`] to [`crate::model`]. Every mistake is collected with its span,
//! so that the user sees all of them at once; code generation only sees valid input.

use crate::ast::{Args, Call, Entry, RawNetwork, Value};
use crate::layers;
use crate::model::{Activation, Layer, Network, Shape};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use std::collections::HashSet;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, UnOp};

/// Largest number of weights one layer may have (2^28): above this the weights could not be
/// held in memory in any sensible program, and compiling them would take forever.
pub const MAX_LAYER_WEIGHTS: usize = 1 << 28;

const ACTIVATIONS: &[&str] = &[
    "identity",
    "relu",
    "leaky_relu",
    "elu",
    "sigmoid",
    "tanh",
    "softplus",
    "gelu",
    "silu",
    "softmax",
];

/// Collects errors, as serde_derive's `Ctxt` does.
#[derive(Default)]
pub struct Errors {
    errors: Vec<syn::Error>,
}

impl Errors {
    pub fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, message));
    }

    pub fn push_error(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    /// All errors combined into one, or `None` if there were none.
    pub fn into_error(self) -> Option<syn::Error> {
        let mut iter = self.errors.into_iter();
        let mut first = iter.next()?;
        for error in iter {
            first.combine(error);
        }
        Some(first)
    }
}

/// Validates one network. Returns the model and every error found, combined.
///
/// The model is always valid: where the definition has a mistake, it is repaired (a bad
/// width becomes 1, an unknown activation `identity`, a layer that cannot be understood is
/// left out, ...), so that the expansion of a definition with errors is an ordinary network
/// beside the `compile_error!`s, and code that uses it gets no follow-on errors.
pub fn check(raw: RawNetwork) -> (Network, Option<syn::Error>) {
    let mut errors = Errors::default();
    for error in raw.errors {
        errors.push_error(error);
    }
    let options = check_options(&raw.attrs, &mut errors);
    let attrs = check_derives(raw.attrs, &mut errors);

    let mut input: Option<Shape> = None;
    let mut saw_input = false;
    let mut layers: Vec<Layer> = Vec::new();
    let mut layer_spans: Vec<LayerSpan> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    let mut constants: HashSet<String> = HashSet::new();
    // What flows into the next layer, as far as the layers checked so far say.
    let mut shape = Shape::Flat(1);
    let mut first_entry = true;

    for Entry { name, value } in raw.entries {
        let is_first = std::mem::replace(&mut first_entry, false);
        let key = name.unraw().to_string();
        if key == "input" {
            if saw_input {
                errors.push(name.span(), "duplicate `input` entry; a network has one input");
                continue;
            }
            saw_input = true;
            if !is_first {
                errors.push(name.span(), "`input` must be the first entry, before the layers");
            }
            input = check_input(&value, &mut errors);
            shape = input.clone().unwrap_or(Shape::Flat(1));
            continue;
        }
        // A repeated name is reported, and the repaired network leaves that layer out.
        let mut repeated = !names.insert(key.clone());
        if repeated {
            errors.push(
                name.span(),
                format!("duplicate layer name `{key}`; every layer needs its own name"),
            );
        } else if !constants.insert(key.to_uppercase()) {
            errors.push(
                name.span(),
                format!(
                    "layer name `{key}` differs from another layer's only in case; the generated constant \
                     `{}_WIDTH` would be the same",
                    key.to_uppercase()
                ),
            );
            repeated = true;
        }
        let call = match value {
            Value::Layer { kind, activation } => (kind, activation),
            Value::Literal(lit) => {
                errors.push(
                    lit.span(),
                    format!("expected a layer such as `dense(32) -> relu` for `{key}`, not a literal"),
                );
                continue;
            }
            Value::List { span, .. } => {
                errors.push(
                    span,
                    format!("expected a layer such as `dense(32) -> relu` for `{key}`, not a list"),
                );
                continue;
            }
        };
        let (call, activation) = call;
        let kind_name = call.ident.unraw().to_string();
        let Some(registered) = layers::find(&kind_name) else {
            unknown_kind(&call, &kind_name, &mut errors);
            let (activation, act_span) = match &activation {
                None => (None, call.ident.span()),
                Some((_, act)) => (check_activation(act, &mut errors), act.ident.span()),
            };
            layer_spans.push(LayerSpan {
                span: act_span,
                softmax: activation == Some(Activation::Softmax),
                not_last: None,
            });
            continue;
        };
        let kind = (registered.check)(&call, &mut errors);
        if let Shape::Sparse(features) = shape {
            if registered.name != "dense" {
                errors.push(
                    call.ident.span(),
                    format!(
                        "the first layer after a sparse input must be `dense`, which reads only the present \
                         features; `{kind_name}` cannot take `sparse({features})`: start with a layer such as \
                         `hidden: dense(64) -> relu`"
                    ),
                );
                // Left out of the repaired network: the next layer reads the sparse input.
                layer_spans.push(LayerSpan {
                    span: call.ident.span(),
                    softmax: false,
                    not_last: None,
                });
                continue;
            }
        }
        let takes_activation = registered.takes_activation;
        let (activation, act_span) = match &activation {
            None => (Some(Activation::Identity), call.ident.span()),
            Some((_, act)) if !takes_activation => {
                errors.push(
                    act.ident.span(),
                    format!(
                        "`{kind_name}` takes no activation; remove `-> {}` or put it on the layer before",
                        act.ident
                    ),
                );
                (Some(Activation::Identity), call.ident.span())
            }
            Some((_, act)) => (check_activation(act, &mut errors), act.ident.span()),
        };
        let Some(mut kind) = kind else {
            layer_spans.push(LayerSpan {
                span: act_span,
                softmax: false,
                not_last: registered.not_last,
            });
            continue;
        };
        let span = call.args.as_ref().map_or(call.ident.span(), |a| a.span);
        let output = kind.connect(&key, &shape, span, &mut errors);
        let mut activation = activation.unwrap_or(Activation::Identity);
        if activation == Activation::Softmax && output.size() == 1 {
            errors.push(
                act_span,
                "`softmax` over a single output is always 1; use `sigmoid` for one output",
            );
            activation = Activation::Identity;
        }
        layer_spans.push(LayerSpan {
            span: if takes_activation { act_span } else { call.ident.span() },
            softmax: activation == Activation::Softmax,
            not_last: registered.not_last,
        });
        if repeated {
            continue;
        }
        layers.push(Layer {
            name,
            kind,
            activation,
            input: shape.clone(),
            output: output.clone(),
        });
        // Later layers read what this one gives; a layer that was left out is skipped.
        shape = output;
    }

    if let Some((last, rest)) = layer_spans.split_last() {
        if let Some(message) = last.not_last {
            errors.push(last.span, message);
        }
        for layer in rest {
            if layer.softmax {
                errors.push(
                    layer.span,
                    "`softmax` is only allowed on the last layer; use `relu`, `tanh` or another \
                     element-wise activation here",
                );
            }
        }
    } else {
        errors.push(
            raw.brace_span,
            format!(
                "network `{}` has no layers; add one such as `output: dense(10) -> softmax`",
                raw.ident
            ),
        );
    }
    if !saw_input {
        errors.push(
            raw.ident.span(),
            format!(
                "network `{}` has no `input`; start the definition with `input: <number of features>,`",
                raw.ident
            ),
        );
    }

    let input = input.unwrap_or(Shape::Flat(1));
    repair(&input, &mut layers);
    let network = Network {
        attrs,
        vis: raw.vis,
        ident: raw.ident,
        scalar: options.scalar,
        krate: options.krate,
        input,
        layers,
    };
    (network, errors.into_error())
}

/// Where a layer is, for the checks that need the whole list.
struct LayerSpan {
    /// The activation's span (the kind's for kinds without activation).
    span: Span,
    softmax: bool,
    /// Why the layer cannot be the last one, if it cannot.
    not_last: Option<&'static str>,
}

/// An unknown layer kind, with a suggestion.
fn unknown_kind(call: &Call, kind: &str, errors: &mut Errors) {
    let kinds: Vec<&str> = layers::names().collect();
    let hint = match known_as(kind).or_else(|| suggest(kind, kinds.iter().copied().chain(ACTIVATIONS.iter().copied())))
    {
        Some(s) if kinds.contains(&s) => format!("; did you mean `{s}`?"),
        Some(s) => format!("; `{s}` is an activation: write `dense(n) -> {s}`"),
        None => format!("; the layer kinds are {}", list(&kinds)),
    };
    errors.push(call.ident.span(), format!("unknown layer kind `{kind}`{hint}"));
}

/// The layer kind that other frameworks call `kind` (`conv`, `Linear`, `MaxPool2d`), if any.
fn known_as(kind: &str) -> Option<&'static str> {
    let key: String = kind.chars().filter(|c| *c != '_').collect::<String>().to_lowercase();
    match key.as_str() {
        "conv" | "conv2" | "convolution" | "convolution2d" | "conv2d" => Some("conv2d"),
        "linear" | "fc" | "fullyconnected" => Some("dense"),
        "maxpool" | "maxpool2d" | "maxpooling2d" => Some("max_pool"),
        "avgpool" | "avgpool2d" | "averagepool" | "averagepooling2d" => Some("avg_pool"),
        _ => None,
    }
}

/// The arguments of a layer call, or `None` after reporting `missing` when there are none.
pub fn check_count<'c>(call: &'c Call, missing: &str, errors: &mut Errors) -> Option<&'c [Expr]> {
    let Some(args) = &call.args else {
        errors.push(call.ident.span(), missing);
        return None;
    };
    if args.values.is_empty() {
        errors.push(args.span, missing);
        return None;
    }
    Some(&args.values)
}

/// Makes the layers of a definition with mistakes a valid network (the mistakes themselves
/// were reported): nothing at the end that cannot give the outputs, softmax on the last layer
/// only, at least one layer, and each layer reading what the one before it gives. A valid
/// definition is unchanged.
fn repair(input: &Shape, layers: &mut Vec<Layer>) {
    while layers.last().is_some_and(|l| l.kind.registered().not_last.is_some()) {
        layers.pop();
    }
    let count = layers.len();
    for layer in layers.iter_mut().take(count.saturating_sub(1)) {
        if layer.activation == Activation::Softmax {
            layer.activation = Activation::Identity;
        }
    }
    if layers.is_empty() {
        let call = Call {
            ident: Ident::new("dense", Span::call_site()),
            args: None,
        };
        // `dense` without a width: repaired to `dense(1)`; its message is not reported.
        let mut ignored = Errors::default();
        if let Some(kind) = layers::find("dense").and_then(|r| (r.check)(&call, &mut ignored)) {
            layers.push(Layer {
                name: Ident::new("output", Span::call_site()),
                kind,
                activation: Activation::Identity,
                input: input.clone(),
                output: Shape::Flat(1),
            });
        }
    }
    let mut shape = input.clone();
    for layer in layers.iter_mut() {
        // The kinds were checked against these shapes already, unless a layer before them
        // was left out; a mistake found now was caused by that one and is not reported again.
        let mut ignored = Errors::default();
        let output = layer
            .kind
            .connect(&layer.text(), &shape, Span::call_site(), &mut ignored);
        layer.input = std::mem::replace(&mut shape, output.clone());
        layer.output = output;
    }
}

/// Traits that a network implements itself; a derive of one of them is left out.
const ABSORBED_DERIVES: &[&str] = &["Clone", "Debug", "PartialEq", "Default"];

/// Traits that a network cannot have, with the reason.
const REFUSED_DERIVES: &[(&str, &str)] = &[
    ("Copy", "its weights are held on the heap, so copying is `clone()`"),
    (
        "Eq",
        "its weights are floats, whose equality is partial (NaN is not equal to itself)",
    ),
    (
        "Hash",
        "its weights are floats, which have no hash consistent with their equality",
    ),
    ("PartialOrd", "networks have no meaningful order"),
    ("Ord", "networks have no meaningful order"),
];

/// The outer attributes to put on the struct: `#[network(...)]` removed, and in each
/// `#[derive(...)]` the traits the network implements itself left out (and refused traits
/// reported); other derives pass through unchanged.
fn check_derives(attrs: Vec<syn::Attribute>, errors: &mut Errors) -> Vec<syn::Attribute> {
    let mut kept = Vec::new();
    for attr in attrs {
        if attr.path().is_ident("network") {
            continue;
        }
        if !attr.path().is_ident("derive") {
            kept.push(attr);
            continue;
        }
        let paths =
            match attr.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated) {
                Ok(paths) => paths,
                Err(_) => {
                    // Not a list of paths: the compiler reports it as it would on any struct.
                    kept.push(attr);
                    continue;
                }
            };
        let mut passed = Vec::new();
        for path in paths {
            let Some(last) = path.segments.last().map(|s| s.ident.to_string()) else {
                continue;
            };
            if ABSORBED_DERIVES.contains(&last.as_str()) {
                continue;
            }
            if let Some((_, why)) = REFUSED_DERIVES.iter().find(|(name, _)| *name == last) {
                errors.push(
                    path.span(),
                    format!(
                        "a network cannot implement `{last}`: {why}; a network implements `Clone`, \
                         `Debug`, `PartialEq` and `Default` itself"
                    ),
                );
                continue;
            }
            passed.push(path);
        }
        if !passed.is_empty() {
            let pound = attr.pound_token;
            let bracket = attr.bracket_token;
            let meta: syn::Meta = syn::parse_quote_spanned!(attr.path().span()=> derive(#(#passed),*));
            kept.push(syn::Attribute {
                pound_token: pound,
                style: attr.style,
                bracket_token: bracket,
                meta,
            });
        }
    }
    kept
}

struct Options {
    scalar: Ident,
    krate: TokenStream,
}

fn check_options(attrs: &[syn::Attribute], errors: &mut Errors) -> Options {
    let mut scalar = None;
    let mut krate = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("network")) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("scalar") {
                let value: Expr = meta.value()?.parse()?;
                if scalar.is_some() {
                    errors.push(meta.path.span(), "duplicate option `scalar`");
                }
                match &value {
                    Expr::Path(p) if p.path.is_ident("f32") || p.path.is_ident("f64") => {
                        scalar = p.path.get_ident().cloned();
                    }
                    other => errors.push(
                        other.span(),
                        format!(
                            "unsupported scalar type `{}`; write `scalar = f32` or `scalar = f64`",
                            other.to_token_stream()
                        ),
                    ),
                }
                Ok(())
            } else if meta.path.is_ident("crate") {
                let path: syn::Path = meta.value()?.parse()?;
                if krate.is_some() {
                    errors.push(meta.path.span(), "duplicate option `crate`");
                }
                krate = Some(path.into_token_stream());
                Ok(())
            } else {
                let name = meta.path.to_token_stream().to_string().replace(' ', "");
                errors.push(
                    meta.path.span(),
                    format!("unknown option `{name}`; the options are `scalar = f32|f64` and `crate = path`"),
                );
                if meta.input.peek(syn::Token![=]) {
                    let _: Expr = meta.value()?.parse()?;
                }
                Ok(())
            }
        });
        if let Err(error) = result {
            errors.push_error(error);
        }
    }
    Options {
        scalar: scalar.unwrap_or_else(|| Ident::new("f32", Span::call_site())),
        krate: krate.unwrap_or_else(|| quote!(::retroprop)),
    }
}

fn check_input(value: &Value, errors: &mut Errors) -> Option<Shape> {
    match value {
        Value::Literal(Lit::Int(int)) => match int.base10_parse::<usize>() {
            Ok(0) => {
                errors.push(
                    int.span(),
                    "`input` must be at least 1: the number of features per sample",
                );
                None
            }
            Ok(n) => Some(Shape::Flat(n)),
            Err(_) => {
                errors.push(int.span(), "`input` is too large");
                None
            }
        },
        Value::Literal(lit) => {
            errors.push(
                lit.span(),
                "`input` takes the number of features as a whole number, as in `input: 64`",
            );
            None
        }
        Value::List { span, items } => check_image(*span, items, errors),
        Value::Layer { kind, activation } if kind.ident == "sparse" => {
            if let Some((_, act)) = activation {
                errors.push(
                    act.ident.span(),
                    "an input takes no activation; remove `-> ...` or put it on the first layer",
                );
            }
            check_sparse(kind, errors)
        }
        Value::Layer { kind, .. } => {
            errors.push(
                kind.ident.span(),
                "`input` takes the number of features, as in `input: 64`, an image shape, as in `input: [1, 28, \
                 28]`, or a sparse input, as in `input: sparse(65536)`; not a layer",
            );
            None
        }
    }
}

/// Checks `input: sparse(features)`. A mistake is reported and repaired to `sparse(1)`, so
/// that the layers after it are checked against a sparse input still.
fn check_sparse(call: &Call, errors: &mut Errors) -> Option<Shape> {
    const EXPECTED: &str = "a sparse input takes its feature count, a positive whole number, as in \
                            `input: sparse(65536)`";
    let Some(args) = &call.args else {
        errors.push(call.ident.span(), EXPECTED);
        return Some(Shape::Sparse(1));
    };
    let [item] = args.values.as_slice() else {
        errors.push(args.span, EXPECTED);
        return Some(Shape::Sparse(1));
    };
    let features = match item {
        Expr::Lit(syn::ExprLit { lit: Lit::Int(int), .. }) => int.base10_parse::<usize>().ok(),
        _ => None,
    };
    match features {
        Some(0) => {
            errors.push(
                item.span(),
                "a sparse input needs at least 1 feature, as in `input: sparse(65536)`",
            );
            Some(Shape::Sparse(1))
        }
        Some(n) if n <= MAX_INPUT => Some(Shape::Sparse(n)),
        Some(_) => {
            errors.push(
                item.span(),
                format!("a sparse input of more than 2^28 ({MAX_INPUT}) features is too large"),
            );
            Some(Shape::Sparse(1))
        }
        None => {
            errors.push(item.span(), EXPECTED);
            Some(Shape::Sparse(1))
        }
    }
}

/// Largest number of values one input sample may have (2^28), as for a layer's weights.
const MAX_INPUT: usize = 1 << 28;

/// Checks `input: [channels, height, width]`. A mistake is reported and repaired (a bad
/// dimension becomes 1), so that the layers after it are checked against an image still.
fn check_image(span: Span, items: &[Expr], errors: &mut Errors) -> Option<Shape> {
    const EXPECTED: &str = "an image input is three positive whole numbers, `[channels, height, width]`, as in \
                            `input: [1, 28, 28]`";
    if items.len() != 3 {
        errors.push(span, format!("{EXPECTED}; this one has {}", items.len()));
        return Some(Shape::Spatial { c: 1, h: 1, w: 1 });
    }
    let mut dims = [1usize; 3];
    for (dim, item) in dims.iter_mut().zip(items) {
        let positive = match item {
            Expr::Lit(syn::ExprLit { lit: Lit::Int(int), .. }) => int.base10_parse::<usize>().ok().filter(|&n| n > 0),
            _ => None,
        };
        match positive {
            Some(n) => *dim = n,
            None => errors.push(item.span(), EXPECTED),
        }
    }
    let [c, h, w] = dims;
    if c.checked_mul(h)
        .and_then(|n| n.checked_mul(w))
        .is_none_or(|n| n > MAX_INPUT)
    {
        errors.push(
            span,
            format!("an input of more than 2^28 ({MAX_INPUT}) values is too large"),
        );
        return Some(Shape::Spatial { c: 1, h: 1, w: 1 });
    }
    Some(Shape::Spatial { c, h, w })
}

fn check_activation(call: &Call, errors: &mut Errors) -> Option<Activation> {
    let name = call.ident.unraw().to_string();
    let span = call.ident.span();
    let no_args = |errors: &mut Errors, activation: Activation| match &call.args {
        Some(args) => {
            errors.push(args.span, format!("`{name}` takes no arguments; write `{name}`"));
            None
        }
        None => Some(activation),
    };
    match name.as_str() {
        "identity" => no_args(errors, Activation::Identity),
        "relu" => no_args(errors, Activation::Relu),
        "sigmoid" => no_args(errors, Activation::Sigmoid),
        "tanh" => no_args(errors, Activation::Tanh),
        "softplus" => no_args(errors, Activation::Softplus),
        "gelu" => no_args(errors, Activation::Gelu),
        "silu" => no_args(errors, Activation::Silu),
        "softmax" => no_args(errors, Activation::Softmax),
        "leaky_relu" => optional_number(&name, call.args.as_ref(), 0.01, errors).map(Activation::LeakyRelu),
        "elu" => optional_number(&name, call.args.as_ref(), 1.0, errors).map(Activation::Elu),
        _ => {
            let hint = match suggest(&name, ACTIVATIONS.iter().copied()) {
                Some(s) => format!("; did you mean `{s}`?"),
                None => format!("; the activations are {}", list(ACTIVATIONS)),
            };
            errors.push(span, format!("unknown activation `{name}`{hint}"));
            None
        }
    }
}

/// The optional numeric parameter of `leaky_relu(a)` and `elu(a)`.
fn optional_number(name: &str, args: Option<&Args>, default: f64, errors: &mut Errors) -> Option<f64> {
    let Some(args) = args else {
        return Some(default);
    };
    match args.values.as_slice() {
        [] => {
            errors.push(
                args.span,
                format!("`{name}()` needs a number, as in `{name}({default:?})`, or no parentheses for the default"),
            );
            None
        }
        [value] => match number(value) {
            Some(v) if v.is_finite() => Some(v),
            _ => {
                errors.push(
                    value.span(),
                    format!("`{name}` takes a number literal, as in `{name}({default:?})`"),
                );
                None
            }
        },
        [_, extra, ..] => {
            errors.push(
                extra.span(),
                format!("`{name}` takes one argument, as in `{name}({default:?})`"),
            );
            None
        }
    }
}

/// The value of a numeric literal, possibly negated.
pub fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(syn::ExprLit { lit: Lit::Float(f), .. }) => f.base10_parse::<f64>().ok(),
        Expr::Lit(syn::ExprLit { lit: Lit::Int(i), .. }) => i.base10_parse::<f64>().ok(),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => number(&u.expr).map(|v| -v),
        Expr::Paren(p) => number(&p.expr),
        _ => None,
    }
}

fn list(items: &[&str]) -> String {
    items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

/// The closest candidate within a small edit distance, for "did you mean".
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .map(|c| (edit_distance(&word.to_lowercase(), c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, with an adjacent transposition counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_near_misses_only() {
        assert_eq!(suggest("rleu", ACTIVATIONS.iter().copied()), Some("relu"));
        assert_eq!(suggest("sigmiod", ACTIVATIONS.iter().copied()), Some("sigmoid"));
        assert_eq!(suggest("leaky_rel", ACTIVATIONS.iter().copied()), Some("leaky_relu"));
        assert_eq!(suggest("Tanh", ACTIVATIONS.iter().copied()), Some("tanh"));
        assert_eq!(suggest("convolution", ACTIVATIONS.iter().copied()), None);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "acb"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
