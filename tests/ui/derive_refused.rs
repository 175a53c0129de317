// Traits a network cannot have: each gets an error on its name, and the derives the network
// implements itself (`Clone`, `Debug`) are absorbed without E0119.
retroprop::network! {
    #[derive(Clone, Copy, Debug, Eq, Hash, PartialOrd, Ord)]
    pub struct Net { input: 3, out: dense(2) -> softmax }
}

fn main() {
    let net = Net::seeded(0);
    let _ = net.clone();
}
