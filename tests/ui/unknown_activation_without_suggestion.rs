retroprop::network! {
    struct Net {
        input: 4,
        hidden: dense(8) -> wavelet,
        output: dense(2) -> softmax,
    }
}

fn main() {}
