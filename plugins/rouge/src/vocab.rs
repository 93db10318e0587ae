//! Token interning: each sample's tokens become small dense integers, so
//! counting and LCS compare integers and index arrays instead of hashing
//! strings again and again.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::porter;

/// The Fx hash of rustc: a multiply and a rotate per 8 bytes. Tokens are
/// short and not adversarial in a way that matters here (a slow sample only
/// slows itself), so SipHash's strength would be paid for nothing.
#[derive(Default)]
struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.add(u64::from_le_bytes(tail));
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Past this many distinct tokens the tables start over (between samples),
/// which bounds memory on an endless stream of new words.
const MAX_TOKENS: usize = 1 << 18;

/// Maps tokens to ids that are dense within one sample.
///
/// Global ids live as long as the plugin instance, so each distinct word is
/// hashed once per sample and stemmed once per run; per-sample ids are what
/// callers see, always in `0..len()`.
#[derive(Default)]
pub struct Vocab {
    stemmer: bool,
    /// Final token (stem, when stemming) to global id.
    ids: FxMap<Box<str>, u32>,
    /// Unstemmed token to the global id of its stem, when stemming.
    stems: FxMap<Box<str>, u32>,
    /// Per global id: the sample that last saw it, and its id there.
    seen_in: Vec<u32>,
    local: Vec<u32>,
    sample: u32,
    len: u32,
}

impl Vocab {
    pub fn new(stemmer: bool) -> Self {
        Vocab { stemmer, ..Vocab::default() }
    }

    /// Starts a sample: ids handed out from now on are fresh and dense.
    pub fn begin_sample(&mut self) {
        if self.ids.len() > MAX_TOKENS || self.sample == u32::MAX {
            self.ids.clear();
            self.stems.clear();
            self.seen_in.clear();
            self.local.clear();
            self.sample = 0;
        }
        self.sample += 1;
        self.len = 0;
    }

    /// The number of distinct tokens of the current sample.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// The id of `token` within the current sample.
    pub fn id(&mut self, token: &str) -> u32 {
        let global = self.global_id(token) as usize;
        if self.seen_in[global] != self.sample {
            self.seen_in[global] = self.sample;
            self.local[global] = self.len;
            self.len += 1;
        }
        self.local[global]
    }

    fn global_id(&mut self, token: &str) -> u32 {
        if !self.stemmer {
            return self.final_id(token);
        }
        if let Some(&id) = self.stems.get(token) {
            return id;
        }
        // rouge-score stems tokens longer than 3 characters; the Unicode
        // tokenizer's non-ASCII words are no English to stem.
        let id = if token.len() > 3 && token.is_ascii() {
            self.final_id(&porter::stem(token))
        } else {
            self.final_id(token)
        };
        self.stems.insert(token.into(), id);
        id
    }

    fn final_id(&mut self, token: &str) -> u32 {
        if let Some(&id) = self.ids.get(token) {
            return id;
        }
        let id = self.ids.len() as u32;
        self.ids.insert(token.into(), id);
        self.seen_in.push(0);
        self.local.push(0);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::Vocab;

    #[test]
    fn ids_are_dense_per_sample_and_stems_share_one() {
        let mut vocab = Vocab::new(true);
        vocab.begin_sample();
        assert_eq!([vocab.id("cats"), vocab.id("dog"), vocab.id("cat"), vocab.id("dog")], [0, 1, 0, 1]);
        assert_eq!(vocab.len(), 2);
        vocab.begin_sample();
        assert_eq!([vocab.id("dog"), vocab.id("running"), vocab.id("run"), vocab.id("cats")], [0, 1, 1, 2]);
        assert_eq!(vocab.len(), 3);
    }

    #[test]
    fn without_stemmer_forms_stay_apart() {
        let mut vocab = Vocab::new(false);
        vocab.begin_sample();
        assert_eq!([vocab.id("cats"), vocab.id("cat"), vocab.id("cats")], [0, 1, 0]);
    }
}
