retroprop::network! {
    struct Net {
        input: 16,
        pool: max_pool(2),
        out: dense(2) -> softmax,
    }
}

fn main() {}
