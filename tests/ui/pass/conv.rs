// The LeNet-5, exactly as written there, with every shape checked at compile time.
retroprop::network! {
    /// LeNet-5 for 28x28 grey images.
    pub struct LeNet {
        input: [1, 28, 28],                                   // channels, height, width
        conv1: conv2d(6, kernel = 5, padding = 2) -> relu,    // 6 output channels
        pool1: max_pool(2),                                   // 2x2 window, stride 2
        conv2: conv2d(16, kernel = 5) -> relu,
        pool2: max_pool(2),
        flat: flatten,                                        // [16, 5, 5] -> 400, PyTorch's order
        fc1: dense(120) -> relu,
        drop: dropout(0.3),
        fc2: dense(84) -> relu,
        output: dense(10) -> softmax,
    }
}

retroprop::network! {
    #[network(scalar = f64)]
    struct Pairs {
        input: [3, 9, 7],
        a: conv2d(4, kernel = (3, 2), stride = (2, 1), padding = (1, 0)) -> tanh,
        b: conv2d(2, kernel = 1),
        flat: flatten,
        out: dense(1) -> sigmoid,
    }
}

const _: () = assert!(LeNet::INPUT == 784);
const _: () = assert!(LeNet::PARAMETERS == 61_706);
const _: () = assert!(LeNet::CONV2_WIDTH == 16 * 10 * 10);
const _: () = assert!(Pairs::A_WIDTH == 4 * 5 * 6);

fn main() {}
