// An image input is three positive whole numbers.
retroprop::network! {
    struct TwoDims { input: [28, 28], flat: flatten, out: dense(2) }
    struct ZeroChannels { input: [0, 28, 28], flat: flatten, out: dense(2) }
    struct NotAnInteger { input: [1, 2.5, 3], flat: flatten, out: dense(2) }
}

fn main() {}
