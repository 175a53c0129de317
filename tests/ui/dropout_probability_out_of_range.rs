retroprop::network! {
    struct Net {
        input: 4,
        hidden: dense(8) -> relu,
        drop: dropout(1.0),
        output: dense(2) -> softmax,
    }
}

fn main() {}
