retroprop::network! {
    struct Net {
        input: [1, 4, 6],
        pool: avg_pool((5, 2)),
        flat: flatten,
        out: dense(2) -> softmax,
    }
}

fn main() {}
