// `softmax` goes only on the last (flat) layer, never on a convolution.
retroprop::network! {
    struct Net {
        input: [1, 8, 8],
        conv: conv2d(4, kernel = 3) -> softmax,
        flat: flatten,
        out: dense(2) -> softmax,
    }
}

fn main() {}
