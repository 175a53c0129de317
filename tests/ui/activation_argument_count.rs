retroprop::network! {
    struct Net {
        input: 4,
        first: dense(8) -> relu(0.1),
        second: dense(8) -> elu(1.0, 2.0),
        output: dense(2) -> softmax,
    }
}

fn main() {}
