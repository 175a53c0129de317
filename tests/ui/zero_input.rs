retroprop::network! {
    struct Net {
        input: 0,
        output: dense(2) -> softmax,
    }
}

fn main() {}
