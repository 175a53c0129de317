//! Learns XOR with a 2-8-1 network and prints its predictions and accuracy.
//!
//! Run with `cargo run --release --example xor`.

use retroprop::nalgebra::{Matrix1x4, Matrix2x4};
use retroprop::prelude::*;
use retroprop::{matrix, vector};

retroprop::network! {
    /// A 2-8-1 network for XOR.
    #[network(scalar = f64)]
    pub struct Xor {
        input: 2,
        hidden: dense(8) -> tanh,
        output: dense(1) -> sigmoid,
    }
}

/// The four XOR cases, one per column, and their targets.
pub fn data() -> (Matrix2x4<f64>, Matrix1x4<f64>) {
    let inputs = matrix![0.0, 0.0, 1.0, 1.0;
                         0.0, 1.0, 0.0, 1.0];
    let targets = matrix![0.0, 1.0, 1.0, 0.0];
    (inputs, targets)
}

/// Trains from `seed` for `epochs` full-batch steps; returns the network and the loss of
/// every 100th epoch.
pub fn train(seed: u64, epochs: usize) -> Result<(Xor, Vec<f64>), TrainError> {
    let (inputs, targets) = data();
    let mut net = Xor::seeded(seed);
    let mut sgd = Sgd::new(0.5).with_momentum(0.9);
    let mut session = Session::<Xor>::new(4, seed);
    let mut losses = Vec::new();
    for epoch in 1..=epochs {
        let loss = net.train_batch(&inputs, &targets, &BinaryCrossEntropy, &mut sgd, &mut session)?;
        if epoch % 100 == 0 {
            losses.push(loss);
        }
    }
    Ok((net, losses))
}

/// The fraction of the four cases the network gets right (threshold 0.5).
pub fn accuracy(net: &Xor) -> f64 {
    let (inputs, targets) = data();
    let correct = inputs
        .column_iter()
        .zip(targets.iter())
        .filter(|(x, &y)| (net.forward(&vector![x[0], x[1]])[0] >= 0.5) == (y == 1.0))
        .count();
    correct as f64 / 4.0
}

fn main() -> Result<(), TrainError> {
    let (net, losses) = train(7, 500)?;
    println!("{net:?}: {} parameters", Xor::PARAMETERS);
    for (i, loss) in losses.iter().enumerate() {
        println!("epoch {:>3}  loss {loss:.6}", (i + 1) * 100);
    }
    let (inputs, targets) = data();
    for (x, y) in inputs.column_iter().zip(targets.iter()) {
        let p = net.forward(&vector![x[0], x[1]])[0];
        println!("{} xor {} -> {p:.4} (target {y})", x[0], x[1]);
    }
    println!("accuracy: {:.1}%", 100.0 * accuracy(&net));
    Ok(())
}
