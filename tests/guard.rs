//! `assay guard`, driven through the real binary.

mod common;
