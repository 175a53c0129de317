retroprop::network! {
    struct Net {
        input: 100000,
        hidden: dense(100000) -> relu,
        output: dense(2) -> softmax,
    }
}

fn main() {}
