//! Any bytes, plain or gzip, through the IDX reader: an array or an error, never a panic,
//! and never more memory than the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retroprop::data::load;
use std::io::Cursor;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let name = Path::new("fuzz.idx");
    if let Ok(reader) = load::reader(Cursor::new(data.to_vec()), name, 1 << 20) {
        if let Ok(array) = load::read_idx_from(reader, name, 1 << 20) {
            assert_eq!(array.data.len(), array.dims.iter().product::<usize>());
        }
    }
});
