retroprop::network! {
    struct Net {
        input: 4,
        hidden: dense(8) -> rleu,
        output: dense(2) -> softmax,
    }
}

fn main() {}
