// A network over hashed text features: `input: sparse(n)`, a dense first layer, and the
// usual layers after it.
retroprop::network! {
    /// Sentiment from 2^18 hashed features.
    pub struct TextNet {
        input: sparse(262144),
        hidden: dense(64) -> relu,
        drop: dropout(0.2),
        output: dense(2) -> softmax,
    }
}

const _: () = assert!(TextNet::INPUT == 262_144);
const _: () = assert!(TextNet::PARAMETERS == 262_144 * 64 + 64 + 64 * 2 + 2);

fn main() {
    let net = TextNet::zeroed();
    let rows = retroprop::data::sparse::SparseRows::<f32>::from_pairs(262_144, [vec![(5, 1.0)]]).unwrap();
    let out = net.forward_sparse(&rows.as_batch()).unwrap();
    assert_eq!(out.len(), 2);
}
