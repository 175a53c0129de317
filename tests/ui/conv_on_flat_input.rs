retroprop::network! {
    struct Net {
        input: 64,
        conv: conv2d(4, kernel = 3) -> relu,
        out: dense(2) -> softmax,
    }
}

fn main() {}
