retroprop::network! {
    #[network(scalar = f64, fast = true)]
    struct Net {
        input: 4,
        output: dense(2) -> softmax,
    }
}

fn main() {}
