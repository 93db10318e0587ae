//! Any bytes, read as an eval set in each format: no panic, ever.

#![no_main]

use assay_data::{FieldMap, eval_record};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let fields = FieldMap::samples();
    assay_fuzz::read_every_record(data, |record| {
        let _ = eval_record(record, &fields);
    });
});
