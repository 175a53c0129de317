retroprop::network! {
    struct Net {
        input: [1, 4, 4],
        flat: flatten(1),
    }
}

fn main() {}
