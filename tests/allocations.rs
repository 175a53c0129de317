//! Training steps allocate nothing once the session and the optimizer state exist: checked
//! with a counting global allocator (this test binary only).
//!
//! The allocator (`tests/support/counting_allocator.rs`) counts per thread, so the test
//! harness's own threads (and other tests running beside this one) cannot add to the count of
//! the thread that runs the steps.

use retroprop::prelude::*;
#[allow(dead_code)]
#[path = "support/counting_allocator.rs"]
mod counting_allocator;

use counting_allocator::allocations;

retroprop::network! {
    struct Net { input: 16, hidden: dense(12) -> gelu, output: dense(4) -> softmax }
}

#[test]
fn training_steps_allocate_nothing_after_the_first() {
    let mut net = Net::seeded(0);
    let mut session = Session::<Net>::new(8, 0);
    let mut sgd = Sgd::new(0.05).with_momentum(0.9).with_nesterov(true);
    let x: Vec<f32> = (0..16 * 8).map(|i| (i % 7) as f32 / 7.0).collect();
    let y = one_hot::<f32>(&[0, 1, 2, 3, 0, 1, 2, 3], 4).expect("labels");
    let sample = retroprop::nalgebra::SVector::<f32, 16>::from_column_slice(&x[..16]);
    let target = retroprop::nalgebra::SVector::<f32, 4>::from_column_slice(&y[..4]);
    // The first step creates the optimizer's momentum buffers, the first guarded run the
    // guard's copy of the weights.
    session.step(&mut net, &x, &y, &CrossEntropy, &mut sgd).expect("step");
    let mut plain = Sgd::new(0.05);
    let mut guarded = Session::<Net>::new(1, 0).with_last_good_guard(true);
    guarded
        .step_each(&mut net, &x, &y, &CrossEntropy, &mut plain)
        .expect("guarded run");

    let before = allocations();
    for _ in 0..10 {
        session
            .step(&mut net, &x, &y, &CrossEntropy, &mut sgd)
            .expect("batched step");
        session
            .step(&mut net, &x[..16 * 3], &y[..4 * 3], &CrossEntropy, &mut sgd)
            .expect("partial batch");
        net.train_step(&sample, &target, &CrossEntropy, &mut sgd, &mut session)
            .expect("single step");
        session
            .step_each(&mut net, &x, &y, &CrossEntropy, &mut plain)
            .expect("run of fused steps");
        guarded
            .step_each(&mut net, &x, &y, &CrossEntropy, &mut plain)
            .expect("guarded run");
        let output = net.forward_into(&x, &mut session.workspace).expect("forward");
        assert_eq!(output.act.len(), 32);
        let single = net.forward(&sample);
        assert!(single.sum() > 0.99);
    }
    let after = allocations();
    assert_eq!(after - before, 0, "training steps allocated {} times", after - before);
    // The counter does see this thread's allocations.
    let probe = std::hint::black_box(Vec::<u8>::with_capacity(64));
    assert_eq!(allocations(), after + 1);
    drop(probe);
}

retroprop::network! {
    struct Cnn {
        input: [2, 8, 8],
        conv1: conv2d(4, kernel = 3, padding = 1) -> relu,
        pool1: max_pool(2),
        conv2: conv2d(6, kernel = 3) -> tanh,
        drop: dropout(0.2),
        pool2: avg_pool(2),
        flat: flatten,
        output: dense(3) -> softmax,
    }
}

#[test]
fn cnn_training_steps_allocate_nothing_after_the_first() {
    let mut net = Cnn::seeded(0);
    let mut session = Session::<Cnn>::new(8, 0);
    let mut adam = Adam::new(1e-3);
    let x: Vec<f32> = (0..128 * 8).map(|i| (i % 13) as f32 / 13.0).collect();
    let y = one_hot::<f32>(&[0, 1, 2, 0, 1, 2, 0, 1], 3).expect("labels");
    let sample = retroprop::nalgebra::SVector::<f32, 128>::from_column_slice(&x[..128]);
    let target = retroprop::nalgebra::SVector::<f32, 3>::from_column_slice(&y[..3]);
    // The first step creates Adam's moment buffers.
    session.step(&mut net, &x, &y, &CrossEntropy, &mut adam).expect("step");
    let mut one = Session::<Cnn>::new(1, 0);

    let before = allocations();
    for _ in 0..5 {
        session
            .step(&mut net, &x, &y, &CrossEntropy, &mut adam)
            .expect("batched step");
        session
            .step(&mut net, &x[..128 * 3], &y[..3 * 3], &CrossEntropy, &mut adam)
            .expect("partial batch");
        net.train_step(&sample, &target, &CrossEntropy, &mut adam, &mut one)
            .expect("single step");
        let output = net.forward_into(&x, &mut session.workspace).expect("forward");
        assert_eq!(output.act.len(), 24);
    }
    let after = allocations();
    assert_eq!(
        after - before,
        0,
        "CNN training steps allocated {} times",
        after - before
    );
}

retroprop::network! {
    struct TextNet { input: sparse(65536), hidden: dense(16) -> relu, drop: dropout(0.1), output: dense(2) -> softmax }
}

#[test]
fn sparse_training_steps_allocate_nothing_after_the_first() {
    use retroprop::data::sparse::SparseRows;
    use retroprop::train::SparseSession;
    use retroprop::SparseNetwork;
    let rows = SparseRows::<f32>::from_pairs(
        65536,
        (0..8u32).map(|i| {
            (0..24u32)
                .map(|j| ((i * 7919 + j * 104_729) % 65536, 1.0 / 24.0))
                .collect::<Vec<_>>()
        }),
    )
    .expect("rows");
    let y = one_hot::<f32>(&[0, 1, 0, 1, 0, 1, 0, 1], 2).expect("labels");
    let mut net = TextNet::seeded(0);
    let mut guarded = SparseSession::<TextNet>::new(8, 0)
        .with_last_good_guard(true)
        .with_regularization(Regularization {
            l2: 1e-4,
            clip_norm: Some(5.0),
            ..Regularization::default()
        });
    let mut optimizers = (
        Sgd::new(0.1),
        Sgd::new(0.1).with_momentum(0.9),
        Adagrad::new(0.1),
        Adam::new(1e-3),
        AdamW::new(1e-3),
    );
    let mut sessions: Vec<SparseSession<TextNet>> = (0..5).map(|_| SparseSession::new(8, 0)).collect();
    // The first steps create each rule's state, the guard's copies and the gradient's
    // column buffers (for the largest batch).
    let mut all =
        |net: &mut TextNet, sessions: &mut [SparseSession<TextNet>], guarded: &mut SparseSession<TextNet>, n: usize| {
            let (x, t) = (rows.view(0..n), &y[..2 * n]);
            sessions[0]
                .step(net, &x, t, &CrossEntropy, &mut optimizers.0)
                .expect("sgd");
            sessions[1]
                .step(net, &x, t, &CrossEntropy, &mut optimizers.1)
                .expect("momentum");
            sessions[2]
                .step(net, &x, t, &CrossEntropy, &mut optimizers.2)
                .expect("adagrad");
            sessions[3]
                .step(net, &x, t, &CrossEntropy, &mut optimizers.3)
                .expect("adam");
            guarded
                .step(net, &x, t, &CrossEntropy, &mut optimizers.3)
                .expect("guarded");
            let output = net.forward_sparse_into(&x, &mut guarded.workspace).expect("forward");
            assert_eq!(output.act.len(), 2 * n);
        };
    all(&mut net, &mut sessions, &mut guarded, 8);

    let before = allocations();
    for _ in 0..5 {
        all(&mut net, &mut sessions, &mut guarded, 8);
        all(&mut net, &mut sessions, &mut guarded, 3);
    }
    let after = allocations();
    assert_eq!(
        after - before,
        0,
        "sparse training steps allocated {} times",
        after - before
    );
}
