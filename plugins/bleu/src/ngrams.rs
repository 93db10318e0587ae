//! Clipped n-gram matching, shared by the `bleu` and `chrf` plugins (`chrf`
//! includes this file by path: a crate dependency between two components
//! would export both plugins' symbols from one of them).
//!
//! Tokens are `u32`s: word numbers from [`word_ids`], or Unicode scalar
//! values for character n-grams. An n-gram is keyed by the number of its
//! prefix (the n-gram one token shorter) and its last token, so every order
//! hashes one `u64` and no n-gram is ever copied.

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
    numbers: HashMap<u64, u32, FixedState>,
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
        // Clearing costs the table's whole capacity, so one very long output
        // must not slow down every output after it.
        if self.numbers.capacity() > 8 * needed.max(256) {
            self.numbers = HashMap::with_capacity_and_hasher(needed, FixedState::default());
        } else {
            self.numbers.clear();
            self.numbers.reserve(needed);
        }
        self.order.clear();
        self.count.clear();
        self.order.reserve(needed + 1);
        self.count.reserve(needed + 1);
        self.order.push(0);
        self.count.push(0);
        let (numbers, order, count) = (&mut self.numbers, &mut self.order, &mut self.count);
        walk(output, max_order, &mut self.ends, |key, n| {
            let next = order.len() as u32;
            let number = *numbers.entry(key).or_insert(next);
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
                let number = *numbers.get(&key)?;
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
    fn numbers_words_of_the_output_only() {
        let (output, references) = word_ids(&["a", "b", "a"], &[vec!["b", "c"]]);
        assert_eq!(output, [1, 2, 1]);
        assert_eq!(references, [vec![2, UNKNOWN]]);
    }
}
