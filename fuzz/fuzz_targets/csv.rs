//! Any bytes, plain or gzip, through the CSV reader, with and without a header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retroprop::data::load::{self, CsvOptions, LabelColumn};
use std::io::Cursor;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let name = Path::new("fuzz.csv");
    for options in [
        CsvOptions::default(),
        CsvOptions { header: true, label: LabelColumn::Name("label".into()), skip_lines: 1, ..CsvOptions::default() },
    ] {
        if let Ok(reader) = load::reader(Cursor::new(data.to_vec()), name, 1 << 20) {
            if let Ok(labeled) = load::read_csv_from::<f32>(reader, name, &options) {
                assert_eq!(labeled.features.len(), labeled.len() * labeled.inputs);
            }
        }
    }
});
