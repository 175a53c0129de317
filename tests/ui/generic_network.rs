retroprop::network! {
    struct Net<T> {
        input: 4,
        output: dense(2) -> softmax,
    }
}

fn main() {}
