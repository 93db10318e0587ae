//! Records in, results out: the file formats of Assay.
//!
//! Readers for eval sets and feedback ([`reader`], JSON Lines and CSV, with
//! every record's line kept), the fields of a record and where each
//! canonical field is found ([`fields`]), records as plugins take them
//! ([`records`]), and the files a run writes, one typed definition each,
//! written atomically and read back by the same types ([`output`]).
//!
//! What it must not depend on: the registry, the pipelines, or anything of a
//! command line. It depends on `assay-runtime` only for the contract's record
//! types and the plugin facts a summary records.

pub mod fields;
pub mod output;
pub mod reader;
pub mod records;
pub mod run;

pub use fields::{Field, FieldMap, RecordKind};
pub use reader::{
    BadRecord, Body, Chunk, DEFAULT_BLOCK_BYTES, DatasetError, Format, MemorySource, RawRecord, Reader, RecordSource,
    Shard,
};
pub use records::{EvalRecord, FeedbackRecord, eval_record, feedback_record};
