//! Learns XOR with a 2-8-1 network and prints its predictions.
//!
//! Run with `cargo run --release --example xor`.

use retroprop::nalgebra::{matrix, vector};
use retroprop::prelude::*;

retroprop::network! {
    /// A 2-8-1 network for XOR.
    #[network(scalar = f64)]
    pub struct Xor {
        input: 2,
        hidden: dense(8) -> tanh,
        output: dense(1) -> sigmoid,
    }
}

fn main() -> Result<(), TrainError> {
    let inputs = matrix![0.0, 0.0, 1.0, 1.0;
                         0.0, 1.0, 0.0, 1.0];
    let targets = matrix![0.0, 1.0, 1.0, 0.0];

    let mut net = Xor::seeded(7);
    let mut sgd = Sgd::new(0.5).with_momentum(0.9);
    let mut session = Session::<Xor>::new(4, 7);
    println!("{net:?}: {} parameters", Xor::PARAMETERS);
    for epoch in 1..=500 {
        let loss = net.train_batch(&inputs, &targets, &BinaryCrossEntropy, &mut sgd, &mut session)?;
        if epoch % 100 == 0 {
            println!("epoch {epoch:>3}  loss {loss:.6}");
        }
    }
    let mut correct = 0;
    for (x, y) in inputs.column_iter().zip(targets.iter()) {
        let p = net.forward(&vector![x[0], x[1]])[0];
        let predicted = if p >= 0.5 { 1.0 } else { 0.0 };
        correct += usize::from(predicted == *y);
        println!("{} xor {} -> {p:.4} (target {y})", x[0], x[1]);
    }
    println!("accuracy: {:.1}% ({correct}/4)", 100.0 * correct as f64 / 4.0);
    Ok(())
}
