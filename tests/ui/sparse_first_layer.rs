// The first layer after a sparse input must be `dense`: dropout, conv2d, pooling and
// flatten are each reported at their kind, and the layers after them are still checked.
retroprop::network! {
    struct DropoutFirst {
        input: sparse(1000),
        drop: dropout(0.5),
        out: dense(2) -> softmax,
    }
}

retroprop::network! {
    struct ConvFirst {
        input: sparse(1000),
        conv: conv2d(4, kernel = 3) -> relu,
        out: dense(2) -> softmax,
    }
}

retroprop::network! {
    struct PoolFirst {
        input: sparse(1000),
        pool: max_pool(2),
        flat: flatten,
        out: dense(2) -> softmax,
    }
}

retroprop::network! {
    struct TooWide {
        input: sparse(1000000),
        hidden: dense(512) -> relu,
        out: dense(2) -> softmax,
    }
}

fn main() {}
