retroprop::network! {
    #[network(scalar = f16)]
    struct Net {
        input: 4,
        output: dense(2) -> softmax,
    }
}

fn main() {}
