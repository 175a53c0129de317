// Generated code uses fully qualified paths: local items with common names do not break it.
#![allow(dead_code, non_camel_case_types)]

struct Box;
struct Vec;
struct Option;
type Result = ();
mod core {}
mod std {}
mod retroprop_runtime {}
struct f32;

retroprop::network! {
    #[network(scalar = f64)]
    struct Net { input: 2, hidden: dense(3) -> tanh, out: dense(1) -> sigmoid }
}

fn main() {
    let net = Net::seeded(0);
    let copy = ::core::clone::Clone::clone(&net);
    assert!(copy == net);
}
