retroprop::network! {
    /// Documentation is kept.
    #[derive(Default)]
    #[allow(clippy::all)]
    #[network(scalar = f64)]
    #[must_use]
    pub struct Documented { input: 2, out: dense(1) }
}

fn main() {
    let net = Documented::default();
    assert!(net == Documented::zeroed());
}
