// 4096 x 4096 x 5 x 5 filters are more than 2^28 weights.
retroprop::network! {
    struct Net {
        input: [4096, 8, 8],
        conv: conv2d(4096, kernel = 5) -> relu,
        flat: flatten,
        out: dense(2) -> softmax,
    }
}

fn main() {}
