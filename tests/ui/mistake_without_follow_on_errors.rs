// A mistake in a hidden layer gives the macro's errors only: the network is still defined
// (repaired: the bad width becomes 1, the unknown activation `identity`, the unknown layer
// is left out), so the code that uses it compiles on.
use retroprop::prelude::*;

retroprop::network! {
    pub struct Net {
        input: 4,
        hidden: dense(0) -> rleu,
        extra: convolution(3),
        output: dense(2) -> softmax,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut net = Net::seeded(0);
    let x = retroprop::nalgebra::SVector::<f32, 4>::zeros();
    let y: retroprop::nalgebra::SVector<f32, 2> = net.forward(&x);
    let _ = net.forward_slice(x.as_slice())?;
    let mut session = Session::<Net>::new(8, 0);
    let mut sgd = Sgd::new(0.1);
    session.step(&mut net, x.as_slice(), y.as_slice(), &CrossEntropy, &mut sgd)?;
    net.save("net.safetensors")?;
    let loaded = Net::load("net.safetensors")?;
    assert_eq!(Net::INPUT + Net::OUTPUT, 6);
    println!("{loaded:?} {}", Net::PARAMETERS);
    Ok(())
}
