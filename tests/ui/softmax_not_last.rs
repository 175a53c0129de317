retroprop::network! {
    struct Net {
        input: 4,
        hidden: dense(8) -> softmax,
        output: dense(2) -> sigmoid,
    }
}

fn main() {}
