// Zero or missing windows, unknown (with did-you-mean) and repeated named arguments, an
// activation after pooling, a pooling layer last: all reported at once.
retroprop::network! {
    struct Net {
        input: [2, 8, 8],
        a: max_pool(0),
        b: max_pool(2, strde = 1),
        c: avg_pool(1, stride = 1, stride = (1, 0)) -> relu,
        d: max_pool,
        e: avg_pool(2.5),
        g: max_pool(2, stride = (1, 0)),
        f: max_pool(1),
    }
}

fn main() {}
