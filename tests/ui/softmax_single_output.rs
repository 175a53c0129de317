retroprop::network! {
    struct Net {
        input: 4,
        output: dense(1) -> softmax,
    }
}

fn main() {}
