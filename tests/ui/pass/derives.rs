// `Clone`, `Debug`, `PartialEq` and `Default` in a derive are absorbed: the network implements
// them itself (no E0119), and a derived `Default` would build the matrices on the stack.
retroprop::network! {
    #[derive(Clone, Debug, PartialEq, Default)]
    pub struct Net { input: 3, hidden: dense(4) -> relu, out: dense(2) -> softmax }

    #[derive(std::clone::Clone, core::fmt::Debug)]
    #[derive(Default)]
    struct Qualified { input: 2, out: dense(1) }
}

fn main() {
    let net = Net::seeded(1);
    let copy = net.clone();
    assert!(copy == net);
    assert!(Net::default() == Net::zeroed());
    assert!(format!("{net:?}").starts_with("Net { input: 3"));
    let q = Qualified::default();
    assert!(q.clone() == Qualified::zeroed());
}
