retroprop::network! {
    struct Net {
        input: [1, 8, 8],
        conv: conv2d(4, kernel = 3) -> relu,
        out: conv2d(1, kernel = 3) -> softmax,
    }
}

fn main() {}
