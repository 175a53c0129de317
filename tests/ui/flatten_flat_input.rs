retroprop::network! {
    struct Net {
        input: 16,
        flat: flatten,
        out: dense(2) -> softmax,
    }
}

fn main() {}
