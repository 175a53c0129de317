//! `network!` in an edition 2024 crate (the facade crate itself is edition 2021).

#![forbid(unsafe_code)]

retroprop::network! {
    /// A network defined in an edition 2024 crate.
    pub struct Net2024 {
        input: 3,
        hidden: dense(5) -> gelu,
        output: dense(2) -> softmax,
    }
}

#[cfg(test)]
mod tests {
    use super::Net2024;
    use retroprop::prelude::*;

    #[test]
    fn generated_code_works_in_edition_2024() {
        let mut net = Net2024::seeded(1);
        let mut session = Session::<Net2024>::new(1, 0);
        let mut sgd = Sgd::new(0.1);
        let x = retroprop::vector![0.5, -0.5, 1.0];
        let y = retroprop::vector![0.0, 1.0];
        let before = net
            .train_step(&x, &y, &CrossEntropy, &mut sgd, &mut session)
            .expect("step");
        let after = net
            .train_step(&x, &y, &CrossEntropy, &mut sgd, &mut session)
            .expect("step");
        assert!(after < before);
    }
}
