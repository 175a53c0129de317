retroprop::network! {
    struct Net {
        input: 4,
        hidden: dense(0) -> relu,
        output: dense(2) -> softmax,
    }
}

fn main() {}
