//! Any bytes as a weight file and as a checkpoint for a small network.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retroprop::io::weights;
use std::path::Path;

retroprop::network! {
    struct Fuzzed { input: 3, hidden: dense(4) -> relu, out: dense(2) -> softmax }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(net) = weights::from_bytes::<Fuzzed>(data, Path::new("fuzz.safetensors")) {
        assert!(retroprop::Parameters::is_finite(&net));
    }
});
