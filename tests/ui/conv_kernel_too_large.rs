// A kernel larger than the padded input, in either direction, is reported on the kernel.
retroprop::network! {
    struct Wide {
        input: [1, 6, 4],
        conv: conv2d(2, kernel = (3, 5)),
        flat: flatten,
        out: dense(2) -> softmax,
    }
}

retroprop::network! {
    struct Padded {
        input: [1, 4, 4],
        conv: conv2d(2, kernel = 7, padding = 1),
        flat: flatten,
        out: dense(2) -> softmax,
    }
}

retroprop::network! {
    // 16 -> 12 -> 6 -> 2: the third kernel no longer fits.
    struct Deeper {
        input: [1, 16, 16],
        conv1: conv2d(2, kernel = 5),
        pool: max_pool(2),
        conv2: conv2d(2, kernel = 5),
        conv3: conv2d(2, kernel = 3),
        flat: flatten,
        out: dense(2) -> softmax,
    }
}

fn main() {}
