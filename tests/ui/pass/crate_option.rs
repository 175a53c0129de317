// A user who reaches the facade under another path says so with `crate = ...`.
mod facade {
    pub use retroprop::*;
}

facade::network! {
    #[network(crate = crate::facade)]
    struct Renamed { input: 2, out: dense(2) -> softmax }
}

fn main() {
    let y = Renamed::seeded(1).forward(&facade::vector![1.0, 2.0]);
    assert!((y.sum() - 1.0).abs() < 1e-6);
}
