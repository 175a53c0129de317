// Zero or missing channels, kernels and strides, a fractional padding, unknown (with
// did-you-mean), repeated and unnamed arguments: all reported at once. Every kernel keeps the
// 8x8 image, so no layer's mistake moves to the next.
retroprop::network! {
    struct Net {
        input: [2, 8, 8],
        a: conv2d(0, kernel = 3, padding = 1),
        b: conv2d(4, kernal = 3),
        c: conv2d(4),
        d: conv2d(kernel = 3, padding = 1),
        e: conv2d(4, kernel = 0, stride = (1, 0)),
        f: conv2d(4, kernel = 3, padding = 1.5, padding = 1),
        g: conv2d(4, 3),
        h: conv2d(4, kernel = 3, padding = 1, dilation = 2),
        i: conv2d(4, kernel = (2, 3, 4)),
        flat: flatten,
        out: dense(2) -> softmax,
    }
}

fn main() {}
