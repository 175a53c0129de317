retroprop::network! {
    struct Net {
        hidden: dense(8) -> relu,
        output: dense(2) -> softmax,
    }
}

fn main() {}
