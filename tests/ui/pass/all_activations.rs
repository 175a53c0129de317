retroprop::network! {
    /// Every activation, with and without parameters.
    struct Everything {
        input: 3,
        a: dense(4),
        b: dense(4) -> identity,
        c: dense(4) -> relu,
        d: dense(4) -> leaky_relu,
        e: dense(4) -> leaky_relu(0.2),
        f: dense(4) -> elu,
        g: dense(4) -> elu(0.5),
        h: dense(4) -> sigmoid,
        i: dense(4) -> tanh,
        j: dense(4) -> softplus,
        k: dense(4) -> gelu,
        l: dense(4) -> silu,
        m: dense(3) -> softmax,
    }
}

fn main() {
    let net = Everything::seeded(1);
    let y = net.forward(&retroprop::vector![0.5, -1.0, 2.0]);
    assert!((y.sum() - 1.0).abs() < 1e-5);
    assert_eq!(Everything::TENSORS_LEN, 26);
}

impl Everything {
    const TENSORS_LEN: usize = <Everything as retroprop::Parameters>::TENSORS.len();
}
