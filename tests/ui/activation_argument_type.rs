retroprop::network! {
    struct Net {
        input: 4,
        hidden: dense(8) -> leaky_relu("steep"),
        output: dense(2) -> softmax,
    }
}

fn main() {}
