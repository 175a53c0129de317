retroprop::network! {
    struct Net {
        input: [1, 4, 4],
        flat: flatten -> relu,
        out: dense(2) -> softmax,
    }
}

fn main() {}
