retroprop::network! {
    struct Net {
        input: 4,
        hidden: dense(2.5) -> relu,
        output: dense(2) -> softmax,
    }
}

fn main() {}
