// All mistakes of a definition are reported together, and code that uses the struct does
// not get follow-on errors: the macro still defines a stand-in `Net`.
retroprop::network! {
    #[network(scalar = i32)]
    pub struct Net {
        input: 0,
        a: dense(0) -> sigmod,
        a: conv(3),
        out: dense(4) -> elu(1, 2),
    }
}

pub fn takes(_net: &Net) {}

fn main() {}
