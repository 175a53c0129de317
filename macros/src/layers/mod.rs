//! The layer kinds: each lives in one file and implements [`LayerKind`]; [`REGISTRY`] lists
//! them. Checking (`crate::check`) and code generation (`crate::expand`) ask the kind of each
//! layer; no other file looks at which kind a layer is. `docs/architecture.md` says how to add
//! one.

mod conv;
mod dense;
mod dropout;
mod flatten;
mod pool;

use crate::ast::Call;
use crate::check::Errors;
use crate::model::{Activation, Layer, Network, Shape};
use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote};
use syn::Ident;

/// A registered layer kind: its name in the language and the check that turns a call such as
/// `dense(32)` into the kind.
pub struct Registered {
    /// The name in the definition language (`dense`).
    pub name: &'static str,
    /// Whether an activation may follow with `->`.
    pub takes_activation: bool,
    /// Why the kind cannot give the network's outputs, if it cannot.
    pub not_last: Option<&'static str>,
    /// Checks the arguments of the call (spanned errors into `errors`) and returns the kind,
    /// repaired where an argument was wrong, or `None` when the layer cannot be understood
    /// (it is then left out of the repaired network).
    pub check: fn(&Call, &mut Errors) -> Option<Box<dyn LayerKind>>,
}

/// Every layer kind, in the order the messages list them.
pub const REGISTRY: &[Registered] = &[
    dense::REGISTERED,
    conv::REGISTERED,
    dropout::REGISTERED,
    flatten::REGISTERED,
    pool::MAX_POOL,
    pool::AVG_POOL,
];

/// The registered kind called `name`.
pub fn find(name: &str) -> Option<&'static Registered> {
    REGISTRY.iter().find(|r| r.name == name)
}

/// The names of every kind, for messages and "did you mean".
pub fn names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|r| r.name)
}

/// What a layer kind provides: its checks against the shape that flows into it, its
/// parameters, and the code of its forward and backward passes.
///
/// Emission methods write statements that use the names of [`Names`] and the workspace
/// `ws`, the batch size `n`, the context `ctx` (training randomness) and the input `x`, as
/// the generated methods define them.
pub trait LayerKind {
    /// The kind's entry in the registry.
    fn registered(&self) -> &'static Registered;

    /// The kind as written in a normalized definition: `dense(32)`.
    fn written(&self) -> String;

    /// Checks the layer against the shape of its input (spanned at `span`, for the layer
    /// `layer`), repairing itself where it is wrong, and returns the shape of its output.
    fn connect(&mut self, layer: &str, input: &Shape, span: Span, errors: &mut Errors) -> Shape;

    /// The shape of its output for a valid input.
    fn output(&self, input: &Shape) -> Shape;

    /// Associated constants the layer's code uses (in the network's inherent impl).
    fn constants(&self, _cx: &Cx, _layer: &Layer) -> TokenStream {
        TokenStream::new()
    }

    /// The tensors the layer learns, in order.
    fn parameters(&self, _layer: &Layer) -> Vec<Param> {
        Vec::new()
    }

    /// Statements of `seeded` that initialize the parameters of `net` from `rng`.
    fn init(&self, _cx: &Cx, _layer: &Layer) -> TokenStream {
        TokenStream::new()
    }

    /// Whether the training passes draw randomness from `ctx`.
    fn uses_context(&self) -> bool {
        false
    }

    /// The workspace buffers of the layer.
    fn buffers(&self, layer: &Layer) -> Vec<Buffer>;

    /// Where the output of layer `index` is after a training forward pass (the layer above
    /// reads it for its parameter gradients).
    fn training_output(&self, cx: &Cx, index: usize) -> Source;

    /// The forward pass of one sample held in a static vector: defines `names.act`, an
    /// `SVector`, from `input` (an expression of type `&SVector`).
    fn forward_one(&self, cx: &Cx, layer: &Layer, input: &TokenStream) -> TokenStream;

    /// The forward pass over a batch of `n` samples: defines `names.act`, a `&[T]`, from
    /// `input` (an expression of type `&[T]`). In `Mode::Run` the first layer (`first_delta`
    /// is then its delta buffer) may apply the previous sample's update in the same pass.
    fn forward_batch(&self, cx: &Cx, layer: &Layer, input: &TokenStream, mode: Mode) -> TokenStream;

    /// The backward pass through the layer. `grad` is the gradient with respect to the
    /// layer's output (`None` for the last layer, whose delta the loss wrote into its delta
    /// buffer); `below` is the layer under it when the gradient must flow on to it.
    fn backward(&self, cx: &Cx, layer: &Layer, grad: Option<&Grad>, below: Option<&Layer>) -> Backward;

    /// Statements of `gradients_into` that write the parameters' gradients into `grads`,
    /// from the layer's delta (an expression of type `&[T]` over the batch) and its input.
    fn parameter_gradients(&self, _cx: &Cx, _layer: &Layer, _delta: &TokenStream, _input: &TokenStream) -> TokenStream {
        TokenStream::new()
    }

    /// Whether the kind supports the fused one-sample SGD step (a rank-one update).
    fn fused_sgd(&self) -> bool {
        true
    }

    /// The fused step's update of the layer's parameters from one sample's delta and input.
    /// `first`: the layer is the network's first, whose update the next sample's forward pass
    /// applies (see [`LayerKind::forward_batch`]), so only the run's last sample updates here.
    fn sgd_update(
        &self,
        _cx: &Cx,
        _layer: &Layer,
        _delta: &TokenStream,
        _input: &TokenStream,
        _first: bool,
    ) -> TokenStream {
        TokenStream::new()
    }

    /// Whether the layer's part of a one-sample step can be written over its compile-time
    /// shape (`nn::small`, emitted when [`Cx::small`] is set); `below`: the gradient must flow
    /// on to a layer under it.
    fn small_step(&self, _layer: &Layer, _below: bool) -> bool {
        false
    }

    /// The layer's term of the squared gradient norm of one sample (exact slices of its
    /// delta and input).
    fn norm_term(&self, _cx: &Cx, _layer: &Layer, _delta: &TokenStream, _input: &TokenStream) -> Option<TokenStream> {
        None
    }
}

/// Where a layer's output is after a training forward pass.
pub enum Source {
    /// The network's input, `x`.
    Input,
    /// A workspace buffer.
    Buffer(Ident),
}

/// How a batch forward pass is used.
#[derive(Clone, PartialEq, Eq)]
pub enum Mode {
    /// Inference (`forward_into`).
    Inference,
    /// Training (`gradients_into`).
    Training,
    /// Training in a run of fused one-sample steps (`sgd_steps_into`); the first layer's
    /// delta buffer is given.
    Run { first_delta: Option<Ident> },
}

impl Mode {
    /// Whether the pass is in training mode.
    pub fn training(&self) -> bool {
        !matches!(self, Mode::Inference)
    }
}

/// The gradient with respect to a layer's output during the backward pass, as the layer
/// above hands it down: the statement that computes it, and where it lives. The layer that
/// receives it emits that statement, binding the result to `var` if it uses it.
pub struct Grad {
    /// The doc line of the statement.
    pub doc: String,
    /// The expression that computes it (of type `&mut [T]`).
    pub expr: TokenStream,
    /// The local variable to bind it to.
    pub var: Ident,
    /// The workspace buffer it lives in.
    pub buffer: Ident,
}

impl Grad {
    /// The statement, binding the gradient to `var`.
    pub fn bind(&self) -> TokenStream {
        let (doc, var, expr) = (&self.doc, &self.var, &self.expr);
        quote!(#[doc = #doc] let #var = #expr;)
    }

    /// The statement, for a layer that reads the gradient from its buffer later.
    pub fn compute(&self) -> TokenStream {
        let (doc, expr) = (&self.doc, &self.expr);
        quote!(#[doc = #doc] #expr;)
    }
}

/// What a layer's backward pass emits.
pub struct Backward {
    pub code: TokenStream,
    /// The buffer that holds the layer's delta afterwards (for its parameter gradients).
    pub delta: Option<Ident>,
    /// The gradient with respect to the layer's input, when `below` was given.
    pub below: Option<Grad>,
}

/// A learned tensor.
pub struct Param {
    /// The field in the network and gradient structs (`hidden_weight`).
    pub field: Ident,
    /// `weight` or `bias`: the tensor is called `layer.weight`.
    pub suffix: &'static str,
    /// The tensor's shape as PyTorch has it.
    pub shape: Vec<usize>,
    /// Whether L1/L2 penalties apply (weights) or not (biases).
    pub is_weight: bool,
    /// The field's doc line.
    pub doc: String,
}

impl Param {
    /// Rows of the flat column-major storage: `shape[0]`.
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Columns of the flat storage: the product of the other dimensions.
    pub fn cols(&self) -> usize {
        self.shape.iter().skip(1).product()
    }
}

/// A workspace buffer: `per_sample` values for each sample of the largest batch, or a
/// `fixed` number of values whatever the batch (scratch space reused sample by sample).
pub struct Buffer {
    pub field: Ident,
    pub per_sample: usize,
    /// Whether it holds `u32` indices (as max pooling's argmax) instead of scalars.
    pub indices: bool,
    /// An expression for the buffer's length if it does not grow with the batch.
    pub fixed: Option<TokenStream>,
}

impl Buffer {
    /// A buffer of scalars.
    pub fn scalars(field: Ident, per_sample: usize) -> Self {
        Buffer {
            field,
            per_sample,
            indices: false,
            fixed: None,
        }
    }

    /// A buffer of scalars of length `len` (an expression of type `usize`), for any batch.
    pub fn fixed(field: Ident, len: TokenStream) -> Self {
        Buffer {
            field,
            per_sample: 0,
            indices: false,
            fixed: Some(len),
        }
    }
}

/// What the emission methods need to know about the network.
pub struct Cx<'a> {
    /// `::retroprop::__private` (or the path `crate = ...` names).
    pub p: TokenStream,
    /// The scalar type.
    pub t: &'a Ident,
    pub net: &'a Network,
    /// Whether the code is for the static one-sample path ([`Network::small_steps`]): the
    /// layers then call `nn::small`'s functions over their compile-time shapes.
    pub small: bool,
}

impl Cx<'_> {
    /// The path of nalgebra inside the facade.
    pub fn nalgebra(&self) -> TokenStream {
        let p = &self.p;
        quote!(#p::nalgebra)
    }

    /// The runtime expression of an activation.
    pub fn activation(&self, activation: Activation) -> TokenStream {
        let (p, t) = (&self.p, self.t);
        let variant = match activation {
            Activation::Identity => quote!(Identity),
            Activation::Relu => quote!(Relu),
            Activation::LeakyRelu(a) => {
                let a = Literal::f64_unsuffixed(a);
                quote!(LeakyRelu(#a))
            }
            Activation::Elu(a) => {
                let a = Literal::f64_unsuffixed(a);
                quote!(Elu(#a))
            }
            Activation::Sigmoid => quote!(Sigmoid),
            Activation::Tanh => quote!(Tanh),
            Activation::Softplus => quote!(Softplus),
            Activation::Gelu => quote!(Gelu),
            Activation::Silu => quote!(Silu),
            Activation::Softmax => quote!(Softmax),
        };
        quote!(#p::Activation::<#t>::#variant)
    }

    /// The constant that holds the number of values per sample of `layer`'s output.
    pub fn width(&self, layer: &Layer) -> TokenStream {
        let width = width_const(layer);
        quote!(Self::#width)
    }

    /// Where the output of layer `index` is after a training forward pass.
    pub fn training_output(&self, index: usize) -> Source {
        let layer = &self.net.layers[index];
        layer.kind.training_output(self, index)
    }

    /// Where the input of layer `index` is after a training forward pass.
    pub fn training_input(&self, index: usize) -> Source {
        index
            .checked_sub(1)
            .map_or(Source::Input, |below| self.training_output(below))
    }

    /// The constant of the values per sample flowing into layer `index`.
    pub fn input_width(&self, index: usize) -> TokenStream {
        match index.checked_sub(1) {
            None => quote!(Self::INPUT),
            Some(below) => self.width(&self.net.layers[below]),
        }
    }
}

/// The name of the constant with a layer's output width: `HIDDEN_WIDTH`.
pub fn width_const(layer: &Layer) -> Ident {
    // A call-site span: the constant is the macro's, not a token the user wrote.
    Ident::new(&format!("{}_WIDTH", layer.text().to_uppercase()), Span::call_site())
}

/// Names derived from a layer's name.
pub struct Names {
    pub weight: Ident,
    pub bias: Ident,
    pub pre: Ident,
    pub act: Ident,
    pub grad: Ident,
    pub delta: Ident,
    pub mask: Ident,
    pub argmax: Ident,
}

impl Names {
    pub fn of(layer: &Layer) -> Self {
        let n = &layer.name;
        Names {
            weight: format_ident!("{}_weight", n),
            bias: format_ident!("{}_bias", n),
            pre: format_ident!("{}_pre", n),
            act: format_ident!("{}_act", n),
            grad: format_ident!("{}_grad", n),
            delta: format_ident!("{}_delta", n),
            mask: format_ident!("{}_mask", n),
            argmax: format_ident!("{}_argmax", n),
        }
    }
}

/// A number as an unsuffixed literal.
pub fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// A layer call's arguments split into positional ones and `name = value` pairs; a named
/// argument that is not in `known`, or repeated, is reported (with "did you mean").
pub struct Arguments<'c> {
    pub positional: Vec<&'c syn::Expr>,
    pub named: Vec<(String, &'c syn::Expr)>,
    /// The known names that an unknown argument was reported as a likely misspelling of.
    suggested: Vec<&'static str>,
}

impl<'c> Arguments<'c> {
    pub fn of(call: &'c Call, known: &[&'static str], errors: &mut Errors) -> Self {
        let mut arguments = Arguments {
            positional: Vec::new(),
            named: Vec::new(),
            suggested: Vec::new(),
        };
        let kind = call.ident.to_string();
        for value in call.args.iter().flat_map(|a| &a.values) {
            let syn::Expr::Assign(assign) = value else {
                if !arguments.named.is_empty() {
                    errors.push(
                        syn::spanned::Spanned::span(value),
                        format!("`{kind}`: positional arguments come before named ones"),
                    );
                }
                arguments.positional.push(value);
                continue;
            };
            let name = match &*assign.left {
                syn::Expr::Path(path) => path.path.get_ident().map(ToString::to_string),
                _ => None,
            };
            let span = syn::spanned::Spanned::span(&*assign.left);
            let Some(name) = name else {
                errors.push(
                    span,
                    format!("`{kind}` takes named arguments such as `{} = 2`", known.join("`, `")),
                );
                continue;
            };
            if !known.contains(&name.as_str()) {
                let hint = match crate::check::suggest(&name, known.iter().copied()) {
                    Some(s) => {
                        arguments.suggested.push(s);
                        format!("; did you mean `{s}`?")
                    }
                    None => format!("; `{kind}` takes `{}`", known.join("`, `")),
                };
                errors.push(span, format!("unknown argument `{name}` of `{kind}`{hint}"));
            } else if arguments.named.iter().any(|(n, _)| *n == name) {
                errors.push(span, format!("argument `{name}` of `{kind}` is given twice"));
            } else {
                arguments.named.push((name, &assign.right));
            }
        }
        arguments
    }

    /// Whether an unknown argument was reported as a misspelling of `name` (so that a missing
    /// `name` need not be reported too).
    pub fn suggested(&self, name: &str) -> bool {
        self.suggested.contains(&name)
    }

    /// The named argument `name`, if given.
    pub fn named(&self, name: &str) -> Option<&'c syn::Expr> {
        self.named.iter().find(|(n, _)| n == name).map(|(_, e)| *e)
    }
}

/// A positive size given as an integer or a `(height, width)` pair; reports and returns
/// `None` otherwise.
pub fn size_pair(expr: &syn::Expr, what: &str, errors: &mut Errors) -> Option<(usize, usize)> {
    size_pair_from(expr, what, 1, errors)
}

/// A size of at least `min` (0 or 1) given as an integer or a `(height, width)` pair; reports
/// and returns `None` otherwise.
pub fn size_pair_from(expr: &syn::Expr, what: &str, min: usize, errors: &mut Errors) -> Option<(usize, usize)> {
    let valid = |e: &syn::Expr| match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(int),
            ..
        }) => int.base10_parse::<usize>().ok().filter(|&n| n >= min),
        _ => None,
    };
    let pair = match expr {
        syn::Expr::Tuple(tuple) if tuple.elems.len() == 2 => valid(&tuple.elems[0]).zip(valid(&tuple.elems[1])),
        syn::Expr::Paren(inner) => return size_pair_from(&inner.expr, what, min, errors),
        other => valid(other).map(|n| (n, n)),
    };
    if pair.is_none() {
        let kind = if min == 0 {
            "whole number"
        } else {
            "positive whole number"
        };
        let example = if min == 0 {
            "`0`, `2` or `(2, 3)`"
        } else {
            "`2` or `(2, 3)`"
        };
        errors.push(
            syn::spanned::Spanned::span(expr),
            format!("{what} must be a {kind} or a `(height, width)` pair of them, as in {example}"),
        );
    }
    pair
}

/// The activation step of a layer with a pre-activation (`dense`, `conv2d`) in a one-sample
/// pass: defines `names.act` from `names.pre`.
pub fn activation_one(cx: &Cx, layer: &Layer) -> TokenStream {
    let (text, Names { pre, act, .. }) = (layer.text(), Names::of(layer));
    if layer.activation == Activation::Identity {
        let doc = format!(" Layer `{text}`: identity activation, `a = z`.");
        quote!(#[doc = #doc] let #act = #pre;)
    } else {
        let doc = format!(" Layer `{text}`: activation `a = {}(z)`.", layer.activation.name());
        let activation = cx.activation(layer.activation);
        quote!(#[doc = #doc] let #act = #activation.forward_vector(#pre);)
    }
}

/// The activation step of a layer with a pre-activation in a batch pass: defines
/// `names.act` (a `&[T]`) from `names.pre`.
pub fn activation_batch(cx: &Cx, layer: &Layer) -> TokenStream {
    let (t, text, Names { pre, act, .. }) = (cx.t, layer.text(), Names::of(layer));
    if layer.activation == Activation::Identity {
        let doc = format!(" Layer `{text}`: identity activation, `a = z`.");
        quote!(#[doc = #doc] let #act: &[#t] = #pre;)
    } else {
        let doc = format!(" Layer `{text}`: activation `a = {}(z)`.", layer.activation.name());
        let (p, activation, width) = (&cx.p, cx.activation(layer.activation), cx.width(layer));
        if cx.small {
            quote!(#[doc = #doc] let #act = #p::small::activate::<_, { #width }>(#activation, #pre, &mut ws.#act);)
        } else {
            quote!(#[doc = #doc] let #act = #activation.forward(#pre, &mut ws.#act, #width);)
        }
    }
}

/// The start of the backward pass of a layer with a pre-activation: binds the gradient the
/// layer above handed down and applies the chain rule through the activation. Returns the
/// statements, the delta `dz` (an expression of type `&[T]`) and the buffer it is in.
pub fn chain_rule(
    cx: &Cx,
    layer: &Layer,
    grad: Option<&Grad>,
    below: Option<&Layer>,
) -> (TokenStream, TokenStream, Ident) {
    let (text, Names { pre, act, delta, .. }) = (layer.text(), Names::of(layer));
    match grad {
        // The last layer: the loss wrote its delta.
        None => (TokenStream::new(), quote!(&ws.#delta), delta),
        Some(grad) if layer.activation == Activation::Identity => {
            // `dz = da`: the gradient is the delta.
            let code = if below.is_some() { grad.bind() } else { grad.compute() };
            let var = &grad.var;
            (code, quote!(#var), grad.buffer.clone())
        }
        Some(grad) => {
            let mut code = grad.bind();
            let doc = format!(
                " Layer `{text}`: delta `dz = da * {}'(z)` (the chain rule through the activation).",
                layer.activation.name()
            );
            let (activation, width, var) = (cx.activation(layer.activation), cx.width(layer), &grad.var);
            let chain = quote!(#activation.backward(&ws.#pre, &ws.#act, #var, #width));
            code.extend(match below {
                Some(_) => quote!(#[doc = #doc] let #delta = #chain;),
                None => quote!(#[doc = #doc] #chain;),
            });
            (code, quote!(#delta), grad.buffer.clone())
        }
    }
}

/// The statement of `seeded` that fills a layer's weights: He uniform before an activation of
/// the ReLU family, Xavier uniform otherwise, from `fan_in` and `fan_out` (expressions of type
/// `usize`). `what` says what is filled, after the scheme's name (`"weights"`), and `detail`
/// is added inside the doc line's parentheses.
pub fn init_weights(
    cx: &Cx,
    layer: &Layer,
    what: &str,
    detail: &str,
    fan_in: TokenStream,
    fan_out: TokenStream,
) -> TokenStream {
    let p = &cx.p;
    let (scheme, label) = if layer.activation.relu_family() {
        (quote!(HeUniform), "He uniform")
    } else {
        (quote!(XavierUniform), "Xavier (Glorot) uniform")
    };
    let doc = format!(
        " Layer `{}`: {label} {what} (activation `{}`{detail}); biases stay zero.",
        layer.text(),
        layer.activation.name()
    );
    let w = Names::of(layer).weight;
    quote! {
        #[doc = #doc]
        #p::Init::#scheme.fill(net.#w.as_mut_slice(), #fan_in, #fan_out, &mut rng);
    }
}
