//! Any bytes, read as a feedback file in each format: no panic, ever.

#![no_main]

use assay_data::{FieldMap, feedback_record};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let fields = FieldMap::feedback();
    assay_fuzz::read_every_record(data, |record| {
        let _ = feedback_record(record, &fields);
    });
});
