//! The digits network, shared by the `digits` example (which trains and saves it) and the
//! `serve` example (which loads it), so that the two cannot drift apart.

retroprop::network! {
    /// 8x8 digit images (64 pixels scaled to [0, 1]) to 10 classes.
    pub struct DigitNet {
        input: 64,
        hidden: dense(128) -> relu,
        drop: dropout(0.1),
        output: dense(10) -> softmax,
    }
}
