retroprop::network! {
    struct Net {
        input: 4,
        hidden: dense(8),
        drop: dropout(0.5) -> relu,
        output: dense(2) -> softmax,
    }
}

fn main() {}
