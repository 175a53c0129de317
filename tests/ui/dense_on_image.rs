// `dense` needs a flat input: the message says to add `flatten`.
retroprop::network! {
    struct Net {
        input: [1, 4, 4],
        out: dense(2) -> softmax,
    }
}

fn main() {}
