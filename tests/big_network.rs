//! A 784-512-256-10 network (2.1 MB of f32 weights) builds, clones, trains and runs inside
//! a test thread (2 MiB stack) in debug and release: no weight-sized value touches the stack.

use retroprop::prelude::*;

retroprop::network! {
    struct Mnist { input: 784, h1: dense(512) -> relu, h2: dense(256) -> relu, out: dense(10) -> softmax }
}

#[test]
fn large_network_builds_clones_and_trains_on_a_small_stack() {
    // Run on an explicit 2 MiB stack, whatever RUST_MIN_STACK says.
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let mut net = Mnist::seeded(3);
            assert_eq!(Mnist::PARAMETERS, 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10);
            let copy = net.clone();
            assert!(copy == net);
            let x: Vec<f32> = (0..784 * 4).map(|i| ((i * 37) % 255) as f32 / 255.0).collect();
            let labels = [3usize, 1, 4, 1];
            let y = one_hot::<f32>(&labels, 10).expect("labels");
            let mut session = Session::<Mnist>::new(4, 0);
            let mut sgd = Sgd::new(0.01).with_momentum(0.9);
            let first = session.step(&mut net, &x, &y, &CrossEntropy, &mut sgd).expect("step");
            let mut last = first;
            for _ in 0..5 {
                last = session.step(&mut net, &x, &y, &CrossEntropy, &mut sgd).expect("step");
            }
            assert!(last < first, "loss did not fall: {first} -> {last}");
            assert!(copy != net, "training changed nothing");
            let sample = retroprop::nalgebra::SVector::<f32, 784>::from_column_slice(&x[..784]);
            let single = net.train_step(
                &sample,
                &retroprop::nalgebra::SVector::<f32, 10>::from_column_slice(&y[..10]),
                &CrossEntropy,
                &mut sgd,
                &mut session,
            );
            assert!(single.is_ok());
            let p = net.forward(&sample);
            assert!((p.sum() - 1.0).abs() < 1e-5);
            let grads = session.gradients.clone();
            assert!(grads.global_norm() > 0.0);
        })
        .expect("spawn");
    handle.join().expect("the test thread overflowed its stack or panicked");
}
