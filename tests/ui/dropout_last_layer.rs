retroprop::network! {
    struct Net {
        input: 4,
        hidden: dense(8) -> relu,
        drop: dropout(0.5),
    }
}

fn main() {}
