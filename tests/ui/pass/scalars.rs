use retroprop::prelude::*;

retroprop::network! {
    #[network(scalar = f32)]
    struct Single { input: 2, out: dense(1) -> sigmoid }

    #[network(scalar = f64)]
    struct Double { input: 2, out: dense(1) -> sigmoid }

    struct Default32 { input: 2, out: dense(1) -> sigmoid }
}

fn main() {
    let a: f32 = Single::seeded(1).forward(&retroprop::vector![1.0, 2.0])[0];
    let b: f64 = Double::seeded(1).forward(&retroprop::vector![1.0, 2.0])[0];
    let c: f32 = Default32::seeded(1).forward(&retroprop::vector![1.0, 2.0])[0];
    assert!(a > 0.0 && b > 0.0 && c > 0.0);
    let _: Sgd<f64> = Sgd::new(0.1);
}
