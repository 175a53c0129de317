//! The syntax tree of a `network!` block, as written: every node keeps its tokens and
//! spans. [`crate::check`] turns it into a validated [`crate::model::Network`].

use proc_macro2::Span;
use syn::{Attribute, Expr, Ident, Lit, Visibility};

/// One `struct Name { ... }` definition.
pub struct RawNetwork {
    /// Outer attributes, `#[network(...)]` among them.
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// Span of the braces around the entries.
    pub brace_span: Span,
    /// Entries that parsed.
    pub entries: Vec<Entry>,
    /// Syntax errors in entries; an entry with an error is left out of `entries`.
    pub errors: Vec<syn::Error>,
}

/// `name: value`.
pub struct Entry {
    pub name: Ident,
    pub value: Value,
}

/// The right-hand side of an entry.
pub enum Value {
    /// A literal, as in `input: 64`.
    Literal(Lit),
    /// A bracketed list, as in `input: [1, 28, 28]`, with the brackets' span.
    List { span: Span, items: Vec<Expr> },
    /// A layer, as in `dense(32) -> relu`.
    Layer {
        kind: Call,
        /// The activation after `->`, with the arrow's span.
        activation: Option<(Span, Call)>,
    },
}

/// `ident` or `ident(args)`.
pub struct Call {
    pub ident: Ident,
    pub args: Option<Args>,
}

/// Parenthesized arguments.
pub struct Args {
    pub span: Span,
    pub values: Vec<Expr>,
}
