// A derive the macro does not know reaches the compiler unchanged, beside the absorbed ones:
// the only error is the compiler's own, on the unknown derive macro.
retroprop::network! {
    #[derive(Clone, Frobnicate, Debug)]
    pub struct Net { input: 3, out: dense(2) -> softmax }
}

fn main() {
    let net = Net::seeded(0);
    println!("{:?}", net.clone());
}
