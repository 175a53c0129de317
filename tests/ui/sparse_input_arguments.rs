// `sparse(...)` takes one positive feature count, and an input takes no activation.
retroprop::network! {
    struct Zero {
        input: sparse(0),
        out: dense(2) -> softmax,
    }
}

retroprop::network! {
    struct Missing {
        input: sparse,
        out: dense(2) -> softmax,
    }
}

retroprop::network! {
    struct Two {
        input: sparse(10, 20),
        out: dense(2) -> softmax,
    }
}

retroprop::network! {
    struct NotANumber {
        input: sparse(1.5),
        out: dense(2) -> softmax,
    }
}

retroprop::network! {
    struct TooLarge {
        input: sparse(300000000),
        out: dense(2) -> softmax,
    }
}

retroprop::network! {
    struct WithActivation {
        input: sparse(100) -> relu,
        out: dense(2) -> softmax,
    }
}

fn main() {}
