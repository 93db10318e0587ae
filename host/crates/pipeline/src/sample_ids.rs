//! Every id a run has seen, so a second sample with one is caught as it
//! streams past.
//!
//! Runs are joined by id, so the collecting thread checks each sample's id
//! against all earlier ones, in input order, on the one thread every sample
//! passes through. With a boxed string per id in a SipHash table this check
//! was a tenth of `assay run`'s time for a cheap metric (a million
//! allocations, and every id hashed again each time the table grew). Here
//! the ids' text is kept in one buffer, and the table holds only where each
//! id is in it, hashed with foldhash (randomly seeded per process, so a
//! crafted file cannot choose the collisions). Only lookups are made, never
//! an iteration, so the table's order cannot reach any output.

use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};

/// The ids seen so far, each with the input line it was first seen on.
///
/// The table holds each id's hash and number (the order it was first seen
/// in): 16 bytes a slot instead of a string and a line, because on these
/// machines every fresh page costs more to fault in than the lookups that
/// fill it. With the hash kept, the table grows without reading any id's
/// text again.
#[derive(Default)]
pub(crate) struct SampleIds {
    /// Every id's text, one after another.
    text: String,
    /// Per id number: where its text ends in `text`, and its first line.
    ends: Vec<usize>,
    lines: Vec<u64>,
    table: HashTable<(u64, usize)>,
    hasher: foldhash::fast::RandomState,
}

/// The text of id number `k`.
fn id_text<'a>(text: &'a str, ends: &[usize], k: usize) -> &'a str {
    let start = if k == 0 { 0 } else { ends[k - 1] };
    &text[start..ends[k]]
}

impl SampleIds {
    /// Notes `id` at input `line`; if an earlier sample had it, returns that
    /// sample's line and notes nothing.
    pub(crate) fn insert(&mut self, id: &str, line: u64) -> Result<(), u64> {
        let (text, ends) = (&self.text, &self.ends);
        let hash = self.hasher.hash_one(id);
        let entry = self.table.entry(hash, |&(h, k)| h == hash && id_text(text, ends, k) == id, |&(h, _)| h);
        match entry {
            Entry::Occupied(first) => Err(self.lines[first.get().1]),
            Entry::Vacant(slot) => {
                slot.insert((hash, self.ends.len()));
                self.text.push_str(id);
                self.ends.push(self.text.len());
                self.lines.push(line);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_id_gives_its_first_line_and_is_not_noted_again() {
        let mut ids = SampleIds::default();
        // Enough ids for the table to grow many times: each must still be
        // found where it was put.
        for n in 0..100_000u64 {
            assert_eq!(ids.insert(&format!("\"s{n}\""), n + 1), Ok(()));
        }
        assert_eq!(ids.insert("\"s0\"", 200_000), Err(1));
        assert_eq!(ids.insert("\"s99999\"", 200_001), Err(100_000));
        assert_eq!(ids.insert("\"s99999\"", 200_002), Err(100_000), "the first line stays the first");
        // The JSON text is the id: a number and a string with the same
        // digits are different ids, and ids that are prefixes of the
        // buffer's neighbours are told apart.
        assert_eq!(ids.insert("7", 300_000), Ok(()));
        assert_eq!(ids.insert("\"7\"", 300_001), Ok(()));
        assert_eq!(ids.insert("\"s1", 300_002), Ok(()));
        assert_eq!(ids.insert("", 300_003), Ok(()));
        assert_eq!(ids.insert("", 300_004), Err(300_003));
    }
}
