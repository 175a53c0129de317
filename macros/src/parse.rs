//! Parsing: tokens to [`crate::ast`]. Entries are parsed one by one, so that a syntax error
//! in one entry does not hide the mistakes in the others.

use crate::ast::{Args, Call, Entry, RawNetwork, Value};
use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, Lit, Token, Visibility};

/// The networks of one `network!` block, and the syntax error that stopped parsing, if any.
pub struct Parsed {
    pub networks: Vec<RawNetwork>,
    pub fatal: Option<syn::Error>,
}

/// Parses a whole `network!` block. Never fails: errors are returned inside [`Parsed`].
pub fn parse(tokens: TokenStream) -> Parsed {
    // Errors at the end of the input point at its last token (syn would use the call site).
    let last = tokens
        .clone()
        .into_iter()
        .last()
        .map_or_else(Span::call_site, |t| t.span());
    let parser = |input: ParseStream| -> syn::Result<Parsed> {
        let mut networks = Vec::new();
        let mut fatal = None;
        if input.is_empty() {
            fatal = Some(syn::Error::new(
                Span::call_site(),
                "expected a network definition, as in `struct Net { input: 4, output: dense(2) -> softmax }`",
            ));
        }
        while !input.is_empty() {
            match parse_network(input, last) {
                Ok(network) => networks.push(network),
                Err(error) => {
                    fatal = Some(error);
                    // Skip what is left: the structure is unknown past this point.
                    input.parse::<TokenStream>()?;
                }
            }
        }
        Ok(Parsed { networks, fatal })
    };
    match parser.parse2(tokens) {
        Ok(parsed) => parsed,
        Err(error) => Parsed {
            networks: Vec::new(),
            fatal: Some(error),
        },
    }
}

fn parse_network(input: ParseStream, last: Span) -> syn::Result<RawNetwork> {
    let mut attrs = Vec::new();
    while input.peek(Token![#]) {
        if !input.peek2(syn::token::Bracket) {
            return Err(input.error("expected `[` after `#`, as in `#[network(scalar = f64)]`"));
        }
        // One attribute at a time (`Attribute::parse_outer` would take the next `#` too, and
        // report a `#` at the very end at the call site).
        let pound_token: Token![#] = input.parse()?;
        let content;
        let bracket_token = syn::bracketed!(content in input);
        attrs.push(Attribute {
            pound_token,
            style: syn::AttrStyle::Outer,
            bracket_token,
            meta: content.parse()?,
        });
    }
    let vis: Visibility = input.parse()?;
    if !input.peek(Token![struct]) {
        let message = "expected `struct`, as in `pub struct Net { input: 4, output: dense(2) -> softmax }`";
        return Err(if input.is_empty() {
            syn::Error::new(last, message)
        } else {
            input.error(message)
        });
    }
    let struct_token: Token![struct] = input.parse()?;
    if !input.peek(Ident) {
        let message = "expected the network's name after `struct`, as in `struct Net { ... }`";
        return Err(if input.is_empty() {
            syn::Error::new(struct_token.span, message)
        } else {
            input.error(message)
        });
    }
    let ident: Ident = input.parse()?;
    let mut errors = Vec::new();
    if input.peek(Token![<]) {
        errors.push(
            input.error(
                "a network cannot have generic parameters; choose the scalar type with `#[network(scalar = f64)]`",
            ),
        );
        // Skip to the body, so that the rest of the definition is still checked.
        while !input.is_empty() && !input.peek(syn::token::Brace) {
            input.parse::<TokenTree>()?;
        }
    }
    let body = match input.parse::<TokenTree>() {
        Ok(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => group,
        Ok(other) => {
            return Err(syn::Error::new(
                other.span(),
                format!("expected `{{` after `struct {ident}`, followed by the layers"),
            ))
        }
        Err(_) => {
            return Err(syn::Error::new(
                ident.span(),
                format!("expected `{{ ... }}` with the layers after `struct {ident}`"),
            ))
        }
    };
    let mut entries = Vec::new();
    for chunk in split_entries(body.stream()) {
        match chunk {
            Chunk::Entry(tokens) => match parse_entry.parse2(tokens) {
                Ok(entry) => entries.push(entry),
                Err(error) => errors.push(error),
            },
            Chunk::ExtraComma(span) => errors.push(syn::Error::new(span, "unexpected `,`: an entry is missing here")),
        }
    }
    Ok(RawNetwork {
        attrs,
        vis,
        ident,
        brace_span: body.span(),
        entries,
        errors,
    })
}

enum Chunk {
    /// The tokens of one entry.
    Entry(TokenStream),
    /// A comma with nothing before it.
    ExtraComma(Span),
}

/// Splits the body at top-level commas (commas inside parentheses belong to a group).
fn split_entries(body: TokenStream) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut current = TokenStream::new();
    for token in body {
        match &token {
            TokenTree::Punct(p) if p.as_char() == ',' => {
                if current.is_empty() {
                    chunks.push(Chunk::ExtraComma(p.span()));
                } else {
                    chunks.push(Chunk::Entry(std::mem::take(&mut current)));
                }
            }
            _ => current.extend([token]),
        }
    }
    if !current.is_empty() {
        chunks.push(Chunk::Entry(current));
    }
    chunks
}

fn parse_entry(input: ParseStream) -> syn::Result<Entry> {
    if !input.peek(Ident) {
        return Err(input.error("expected a layer name, as in `hidden: dense(32) -> relu`"));
    }
    let name: Ident = input.parse()?;
    if !input.peek(Token![:]) {
        if input.is_empty() {
            return Err(syn::Error::new(
                name.span(),
                format!("expected `:` after `{name}`, as in `{name}: dense(32) -> relu`"),
            ));
        }
        return Err(input.error(format!(
            "expected `:` after `{name}`, as in `{name}: dense(32) -> relu`"
        )));
    }
    let colon: Token![:] = input.parse()?;
    if input.is_empty() {
        return Err(syn::Error::new(
            colon.span,
            format!("expected a value after `{name}:`, such as `dense(32) -> relu`"),
        ));
    }
    let value = if input.peek(Lit) {
        Value::Literal(input.parse()?)
    } else if input.peek(syn::token::Bracket) {
        let content;
        let bracket = syn::bracketed!(content in input);
        let items = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
        Value::List {
            span: bracket.span.join(),
            items: items.into_iter().collect(),
        }
    } else if input.peek(Ident) {
        let kind = parse_call(input)?;
        let activation = if input.peek(Token![->]) {
            let arrow: Token![->] = input.parse()?;
            if !input.peek(Ident) {
                let span = if input.is_empty() { arrow.spans[1] } else { input.span() };
                return Err(syn::Error::new(
                    span,
                    "expected an activation after `->`, such as `relu`",
                ));
            }
            Some((arrow.spans[0], parse_call(input)?))
        } else {
            None
        };
        Value::Layer { kind, activation }
    } else {
        return Err(input.error(format!(
            "expected a layer such as `dense(32) -> relu` after `{name}:` (or a number, for `input`)"
        )));
    };
    if !input.is_empty() {
        let message = if input.peek(Token![-]) || input.peek(Token![>]) || input.peek(Ident) {
            "expected `->` between the layer and its activation, as in `dense(32) -> relu`"
        } else {
            "unexpected tokens after the entry; separate entries with commas"
        };
        return Err(input.error(message));
    }
    Ok(Entry { name, value })
}

fn parse_call(input: ParseStream) -> syn::Result<Call> {
    let ident: Ident = input.parse()?;
    let args = if input.peek(syn::token::Paren) {
        let content;
        let paren = syn::parenthesized!(content in input);
        let values = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
        Some(Args {
            span: paren.span.join(),
            values: values.into_iter().collect(),
        })
    } else {
        None
    };
    Ok(Call { ident, args })
}
