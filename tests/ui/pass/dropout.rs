use retroprop::prelude::*;

retroprop::network! {
    /// Dropout on the inputs and between layers; `dropout(0)` is allowed and does nothing.
    struct Regularized {
        input: 4,
        drop_in: dropout(0.1),
        hidden: dense(16) -> relu,
        drop: dropout(0.5),
        other: dropout(0),
        output: dense(3) -> softmax,
    }
}

fn main() -> Result<(), TrainError> {
    assert_eq!(Regularized::PARAMETERS, 4 * 16 + 16 + 16 * 3 + 3);
    let mut net = Regularized::seeded(1);
    let mut session = Session::<Regularized>::new(1, 2);
    let mut sgd = Sgd::new(0.1);
    net.train_step(&retroprop::vector![1.0, 0.0, 0.5, -1.0], &retroprop::vector![0.0, 1.0, 0.0], &CrossEntropy, &mut sgd, &mut session)?;
    let a = net.forward(&retroprop::vector![1.0, 0.0, 0.5, -1.0]);
    let b = net.forward(&retroprop::vector![1.0, 0.0, 0.5, -1.0]);
    assert_eq!(a, b);
    Ok(())
}
