//! Clipped n-gram matching, shared by the `bleu` and `chrf` plugins (`chrf`
//! includes this file by path: a crate dependency between two components
//! would export both plugins' symbols from one of them).
//!
//! Tokens are `u32`s: word numbers from [`word_ids`], or Unicode scalar
//! values for character n-grams. An n-gram is keyed by the number of its
//! prefix (the n-gram one token shorter) and its last token, so every order
//! hashes one `u64` and no n-gram is ever copied.
//!
//! Those keys are numbered by [`Numbering`], a table made for this one use
//! rather than a general hash map: numbering n-grams was four fifths of
//! `chrf`'s time and most of it went to the map's general machinery (control
//! bytes probed eight at a time without SIMD inside the sandbox, clearing
//! its whole capacity per output).

use std::collections::HashMap;

use foldhash::fast::FixedState;

/// The number of the empty n-gram, the prefix of every unigram.
const EMPTY: u32 = 0;

/// A token that no output token equals.
const UNKNOWN: u32 = u32::MAX;

/// The n-grams of one output, numbered, with buffers kept between outputs.
#[derive(Default)]
pub struct Ngrams {
    max_order: usize,
    numbers: Numbering,
    /// Per n-gram number (0 is the empty n-gram): its order and its count in the output.
    order: Vec<u32>,
    count: Vec<u32>,
    /// Per n-gram number: its count in the current reference, and its largest count in any reference.
    in_reference: Vec<u32>,
    best: Vec<u32>,
    ends: Vec<u32>,
}

impl Ngrams {
    /// Numbers the n-grams of orders 1 to `max_order` of `output`.
    pub fn index(&mut self, output: &[u32], max_order: usize) {
        self.max_order = max_order;
        let needed = output.len() * max_order;
        self.numbers.reset(needed);
        self.order.clear();
        self.count.clear();
        self.order.reserve(needed + 1);
        self.count.reserve(needed + 1);
        self.order.push(0);
        self.count.push(0);
        let (numbers, order, count) = (&mut self.numbers, &mut self.order, &mut self.count);
        walk(output, max_order, &mut self.ends, |key, n| {
            let next = order.len() as u32;
            let number = numbers.number(key, next);
            if number == next {
                order.push(n);
                count.push(0);
            }
            count[number as usize] += 1;
            Some(number)
        });
    }

    /// Per order (index `n - 1`), the output's n-grams that `references`
    /// hold, each counted at most as often as the reference holding it most
    /// does: sacreBLEU's clipped matches, references merged by maximum count.
    pub fn clipped_matches<'r>(&mut self, references: impl IntoIterator<Item = &'r [u32]>) -> Vec<u32> {
        let len = self.order.len();
        self.best.clear();
        self.best.resize(len, 0);
        self.in_reference.clear();
        self.in_reference.resize(len, 0);
        for reference in references {
            let (numbers, in_reference) = (&self.numbers, &mut self.in_reference);
            walk(reference, self.max_order, &mut self.ends, |key, _| {
                let number = numbers.get(key)?;
                in_reference[number as usize] += 1;
                Some(number)
            });
            for (best, count) in self.best.iter_mut().zip(&mut self.in_reference) {
                *best = (*best).max(*count);
                *count = 0;
            }
        }
        let mut matches = vec![0; self.max_order];
        for number in 1..len {
            matches[self.order[number] as usize - 1] += self.count[number].min(self.best[number]);
        }
        matches
    }
}

/// n-gram keys to their numbers: open addressing, linear probing, one
/// multiply-shift hash, never fuller than two thirds. Keys are only added
/// and looked up, and the table is emptied once per output, which a stamp
/// does at once: a slot whose stamp is not the current one is empty.
#[derive(Default)]
struct Numbering {
    slots: Vec<Slot>,
    stamp: u32,
    /// 64 minus log2 of the number of slots: a hash's top bits pick its slot.
    shift: u32,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    key: u64,
    number: u32,
    stamp: u32,
}

impl Numbering {
    /// Empties the table, with room for `keys` keys.
    fn reset(&mut self, keys: usize) {
        let wanted = (keys + keys / 2).max(64).next_power_of_two();
        // A table far larger than needed is replaced, so that one very long
        // output does not make every later one touch its memory.
        if self.slots.len() < wanted || self.slots.len() > 8 * wanted {
            self.slots = vec![Slot::default(); wanted];
            self.shift = 64 - wanted.trailing_zeros();
            self.stamp = 1;
            return;
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.slots.fill(Slot::default());
            self.stamp = 1;
        }
    }

    /// Where the probe for `key` starts. Fibonacci hashing: the product's top
    /// bits depend on every bit of the key.
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// The slot holding `key`, or else the empty slot where it would go.
    fn find(&self, key: u64) -> (usize, bool) {
        let mask = self.slots.len() - 1;
        let mut at = self.home(key);
        loop {
            let slot = &self.slots[at];
            if slot.stamp != self.stamp {
                return (at, false);
            }
            if slot.key == key {
                return (at, true);
            }
            at = (at + 1) & mask;
        }
    }

    fn get(&self, key: u64) -> Option<u32> {
        let (at, found) = self.find(key);
        found.then(|| self.slots[at].number)
    }

    /// The number of `key`, which becomes `next` if the table lacks it.
    fn number(&mut self, key: u64, next: u32) -> u32 {
        let (at, found) = self.find(key);
        if !found {
            self.slots[at] = Slot { key, number: next, stamp: self.stamp };
        }
        self.slots[at].number
    }
}

/// Calls `visit(key, order)` for the n-grams of orders 1 to `max_order` of
/// `tokens`. `visit` returns the n-gram's number, or `None` for an n-gram the
/// output lacks: the longer n-grams ending at the same token contain it, so
/// they are skipped.
fn walk(tokens: &[u32], max_order: usize, ends: &mut Vec<u32>, mut visit: impl FnMut(u64, u32) -> Option<u32>) {
    ends.clear();
    for &token in tokens {
        // `ends[k]` numbers the n-gram of order k + 1 ending at the previous
        // token: the prefix of the n-gram of order k + 2 ending at this one.
        let known = ends.len();
        let mut prefix = EMPTY;
        let mut k = 0;
        while k < max_order && k <= known {
            let Some(number) = visit(u64::from(prefix) << 32 | u64::from(token), k as u32 + 1) else { break };
            if k < known {
                prefix = std::mem::replace(&mut ends[k], number);
            } else {
                ends.push(number);
            }
            k += 1;
        }
        ends.truncate(k);
    }
}

/// Numbers words as tokens for [`Ngrams`]: the output's words from 1 up,
/// reference words the output lacks as a token that matches nothing.
pub fn word_ids(output: &[&str], references: &[Vec<&str>]) -> (Vec<u32>, Vec<Vec<u32>>) {
    let mut ids: HashMap<&str, u32, FixedState> =
        HashMap::with_capacity_and_hasher(output.len(), FixedState::default());
    let output = output
        .iter()
        .map(|&word| {
            let next = ids.len() as u32 + 1;
            *ids.entry(word).or_insert(next)
        })
        .collect();
    let references = references
        .iter()
        .map(|words| words.iter().map(|word| ids.get(word).copied().unwrap_or(UNKNOWN)).collect())
        .collect();
    (output, references)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clipped(output: &[u32], references: &[&[u32]], max_order: usize) -> Vec<u32> {
        let mut ngrams = Ngrams::default();
        ngrams.index(output, max_order);
        ngrams.clipped_matches(references.iter().copied())
    }

    #[test]
    fn clips_to_the_reference_holding_an_ngram_most() {
        // "the the the cat" against "the cat" and "the the dog".
        assert_eq!(clipped(&[1, 1, 1, 2], &[&[1, 2], &[1, 1, 3]], 3), [3, 2, 0]);
        assert_eq!(clipped(&[1, 1, 1, 2], &[&[1, 2]], 3), [2, 1, 0]);
    }

    #[test]
    fn counts_every_order_and_skips_past_unknown_tokens() {
        let output = [5, 6, 7, 8, 5, 6, 7];
        assert_eq!(clipped(&output, &[&output], 4), [7, 6, 5, 4]);
        assert_eq!(clipped(&output, &[&[5, 6, UNKNOWN, 7, 8, 5, 6, 9]], 4), [6, 4, 2, 1]);
        assert_eq!(clipped(&output, &[], 4), [0, 0, 0, 0]);
    }

    #[test]
    fn the_table_numbers_each_key_once_and_forgets_them_at_each_reset() {
        let mut table = Numbering::default();
        for round in 0..4u64 {
            // Few and many keys, so the table is made, grown, replaced and kept.
            let keys = [10, 5_000, 10, 20][round as usize];
            table.reset(keys);
            for key in 0..keys as u64 {
                // Keys that share their low or their high halves.
                let key = ((key % 97) << 32) | (key / 97) | (round << 40);
                assert_eq!(table.get(key), None, "round {round}: {key:#x} is left from an earlier round");
                assert_eq!(table.number(key, key as u32 ^ 7), key as u32 ^ 7);
            }
            for key in 0..keys as u64 {
                let key = ((key % 97) << 32) | (key / 97) | (round << 40);
                assert_eq!(table.number(key, u32::MAX), key as u32 ^ 7);
                assert_eq!(table.get(key), Some(key as u32 ^ 7));
            }
        }
        // A stamp that wraps empties the slots for real.
        table.stamp = u32::MAX;
        table.reset(10);
        assert_eq!(table.stamp, 1);
        assert_eq!(table.get(5), None);
    }

    #[test]
    fn numbers_words_of_the_output_only() {
        let (output, references) = word_ids(&["a", "b", "a"], &[vec!["b", "c"]]);
        assert_eq!(output, [1, 2, 1]);
        assert_eq!(references, [vec![2, UNKNOWN]]);
    }
}
