mod models {
    retroprop::network! {
        pub struct Public { input: 2, out: dense(1) }
        pub(crate) struct CrateVisible { input: 2, out: dense(1) }
    }

    pub mod inner {
        retroprop::network! {
            pub(super) struct SuperVisible { input: 2, out: dense(1) }
        }
    }

    pub fn make() -> usize {
        inner::SuperVisible::seeded(0).parameter_count()
    }

    use retroprop::Parameters;
}

retroprop::network! {
    struct Private { input: 2, out: dense(1) }
}

// Two blocks in one module.
retroprop::network! {
    struct AlsoPrivate { input: 3, out: dense(2) }
}

fn main() {
    retroprop::network! {
        struct InsideAFunction { input: 1, out: dense(1) -> relu }
    }
    let _ = models::Public::seeded(0);
    let _ = models::CrateVisible::seeded(0);
    assert_eq!(models::make(), 3);
    let _ = Private::seeded(0);
    let _ = AlsoPrivate::seeded(0);
    let _ = InsideAFunction::seeded(0);
}
