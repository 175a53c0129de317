//! Any bytes through the labelled-text (TSV) reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retroprop::data::load;
use std::io::Cursor;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let name = Path::new("fuzz.tsv");
    if let Ok(reader) = load::reader(Cursor::new(data.to_vec()), name, 1 << 20) {
        if let Ok(text) = load::read_labeled_text_from(reader, name, "label", "text") {
            assert_eq!(text.texts.len(), text.labels.len());
        }
    }
});
