use retroprop::{matrix, vector};
use retroprop::prelude::*;

retroprop::network! {
    pub struct Net { input: 2, hidden: dense(4) -> relu, out: dense(2) -> softmax }
}

fn main() -> Result<(), TrainError> {
    let mut net = Net::seeded(0);
    let mut sgd = Sgd::new(0.1);
    let mut session = Session::<Net>::new(8, 0);
    net.train_step(&vector![1.0, 0.0], &vector![1.0, 0.0], &CrossEntropy, &mut sgd, &mut session)?;
    let x = matrix![1.0, 0.0; 0.0, 1.0];
    let y = matrix![1.0, 0.0; 0.0, 1.0];
    net.train_batch(&x, &y, &CrossEntropy, &mut sgd, &mut session)?;
    let mut grads = Net::zeroed_gradients();
    let loss: f32 = net.gradients(&x, &y, &CrossEntropy, &mut grads)?;
    assert!(loss.is_finite());
    let _: &dyn Loss<f32> = &MeanSquaredError;
    Ok(())
}
