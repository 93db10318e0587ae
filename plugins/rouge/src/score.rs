//! ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum as rouge-score's
//! `RougeScorer(...).score_multi(references, output)` computes them.

use std::ops::Range;

use crate::lcs::{self, Masks};
use crate::tokenize::{Piece, Tokenizer};
use crate::vocab::Vocab;

/// Precision, recall and F-measure of one ROUGE type.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub fmeasure: f64,
}

impl Prf {
    /// Like rouge-score, divides by at least 1, so that an empty text scores 0.
    fn new(hits: usize, output_len: usize, reference_len: usize) -> Prf {
        let precision = hits as f64 / output_len.max(1) as f64;
        let recall = hits as f64 / reference_len.max(1) as f64;
        // rouge-score's `fmeasure`, operation for operation, for equal bits.
        let fmeasure = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        Prf { precision, recall, fmeasure }
    }
}

/// The scores of one sample, in the order rouge1, rouge2, rougeL, rougeLsum.
pub type Scores = [Prf; 4];

/// A tokenized text: token ids and where its lines end.
#[derive(Default)]
struct Text {
    ids: Vec<u32>,
    /// Token index at each `\n`.
    line_ends: Vec<usize>,
}

impl Text {
    /// ROUGE-Lsum's sentences: the lines, less those without tokens (which
    /// add nothing to a union LCS, so rouge-score's result is the same).
    fn sentences(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        let mut start = 0;
        self.line_ends.iter().copied().chain([self.ids.len()]).filter_map(move |end| {
            let line = start..end;
            start = end;
            (!line.is_empty()).then_some(line)
        })
    }
}

/// Scores samples, keeping its buffers from one sample to the next.
pub struct Scorer {
    tokenizer: Tokenizer,
    vocab: Vocab,
    word: String,
    output: Text,
    reference: Text,
    /// Occurrences of each token id in the output.
    output_counts: Vec<u32>,
    /// Zero between uses; counts a reference's tokens while in use.
    counts: Vec<u32>,
    /// ROUGE-Lsum's tokens of the output not yet matched.
    output_left: Vec<u32>,
    /// Sorted, so that a merge counts the common bigrams.
    output_bigrams: Vec<u64>,
    bigrams: Vec<u64>,
    output_sentences: Vec<Range<usize>>,
    output_masks: Masks,
    sentence_masks: Masks,
    /// LCS columns: the last one, or all of them for backtracking.
    column: Vec<u64>,
    columns: Vec<u64>,
    in_union: Vec<bool>,
}

impl Scorer {
    pub fn new(tokenizer: Tokenizer, stemmer: bool) -> Self {
        Scorer {
            tokenizer,
            vocab: Vocab::new(stemmer),
            word: String::new(),
            output: Text::default(),
            reference: Text::default(),
            output_counts: Vec::new(),
            counts: Vec::new(),
            output_left: Vec::new(),
            output_bigrams: Vec::new(),
            bigrams: Vec::new(),
            output_sentences: Vec::new(),
            output_masks: Masks::default(),
            sentence_masks: Masks::default(),
            column: Vec::new(),
            columns: Vec::new(),
            in_union: Vec::new(),
        }
    }

    /// The scores of `output` against the best of `references`, chosen per
    /// ROUGE type by F-measure, the first reference winning ties (rouge-score
    /// takes `np.argmax`). `None` when there is no reference.
    pub fn score(&mut self, output: &str, references: &[impl AsRef<str>]) -> Option<Scores> {
        self.vocab.begin_sample();
        read(self.tokenizer, &mut self.vocab, &mut self.word, output, &mut self.output);
        self.output_counts.clear();
        self.output_counts.resize(self.vocab.len(), 0);
        for &t in &self.output.ids {
            self.output_counts[t as usize] += 1;
        }
        bigrams(&self.output.ids, &mut self.output_bigrams);
        self.output_masks.build(&self.output.ids, self.vocab.len());
        self.output_sentences.clear();
        self.output_sentences.extend(self.output.sentences());

        let mut best: Option<Scores> = None;
        for reference in references {
            read(self.tokenizer, &mut self.vocab, &mut self.word, reference.as_ref(), &mut self.reference);
            let scores = self.against_reference();
            match &mut best {
                None => best = Some(scores),
                Some(best) => {
                    for (best, new) in best.iter_mut().zip(scores) {
                        if new.fmeasure > best.fmeasure {
                            *best = new;
                        }
                    }
                }
            }
        }
        best
    }

    fn against_reference(&mut self) -> Scores {
        let k = self.vocab.len();
        self.output_counts.resize(k, 0);
        self.counts.resize(k, 0);
        let (output, reference) = (&self.output.ids, &self.reference.ids);

        let mut hits = 0;
        for &t in reference {
            let seen = &mut self.counts[t as usize];
            *seen += 1;
            if *seen <= self.output_counts[t as usize] {
                hits += 1;
            }
        }
        let rouge1 = Prf::new(hits, output.len(), reference.len());

        bigrams(reference, &mut self.bigrams);
        let rouge2 = Prf::new(
            sorted_intersection(&self.output_bigrams, &self.bigrams),
            self.output_bigrams.len(),
            self.bigrams.len(),
        );

        let lcs = lcs::lcs_len(&self.output_masks, reference, &mut self.column);
        let rouge_l = Prf::new(lcs, output.len(), reference.len());

        // With at most one sentence on each side the union LCS is the LCS,
        // and no token of it can be counted twice.
        let single_sentences = self.output_sentences.len() <= 1 && self.reference.sentences().nth(1).is_none();
        let rouge_lsum = if single_sentences { rouge_l } else { self.summary_level_lcs() };

        for &t in &self.reference.ids {
            self.counts[t as usize] = 0;
        }
        [rouge1, rouge2, rouge_l, rouge_lsum]
    }

    /// rouge-score's `_summary_level_lcs`: for each reference sentence, the
    /// union of its LCS with each output sentence (the very LCS its
    /// backtracking picks), each token counted at most as often as it occurs
    /// in both texts. Expects `counts` to hold the reference's counts.
    fn summary_level_lcs(&mut self) -> Prf {
        let (output, reference) = (&self.output.ids, &self.reference.ids);
        self.output_left.clear();
        self.output_left.extend_from_slice(&self.output_counts);
        let ids = self.counts.len();
        let reference_left = &mut self.counts;
        let mut hits = 0;
        for sentence in self.reference.sentences() {
            let r = &reference[sentence];
            self.in_union.clear();
            self.in_union.resize(r.len(), false);
            self.sentence_masks.build(r, ids);
            for c in &self.output_sentences {
                lcs::mark_lcs(&self.sentence_masks, r, &output[c.clone()], &mut self.columns, &mut self.in_union);
            }
            for (&t, _) in r.iter().zip(&self.in_union).filter(|(_, in_union)| **in_union) {
                let t = t as usize;
                if self.output_left[t] > 0 && reference_left[t] > 0 {
                    hits += 1;
                    self.output_left[t] -= 1;
                    reference_left[t] -= 1;
                }
            }
        }
        Prf::new(hits, output.len(), reference.len())
    }
}

fn read(tokenizer: Tokenizer, vocab: &mut Vocab, word: &mut String, text: &str, into: &mut Text) {
    into.ids.clear();
    into.line_ends.clear();
    tokenizer.tokenize(text, word, &mut |piece| match piece {
        Piece::Token(token) => into.ids.push(vocab.id(token)),
        Piece::LineBreak => into.line_ends.push(into.ids.len()),
    });
}

/// The sorted bigrams of `ids`, two ids packed in one integer.
fn bigrams(ids: &[u32], into: &mut Vec<u64>) {
    into.clear();
    into.extend(ids.windows(2).map(|w| (u64::from(w[0]) << 32) | u64::from(w[1])));
    into.sort_unstable();
}

/// The size of the multiset intersection of two sorted lists.
fn sorted_intersection(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(output: &str, references: &[&str]) -> Scores {
        Scorer::new(Tokenizer::Default, false).score(output, references).unwrap()
    }

    #[test]
    fn empty_texts_score_zero_and_no_reference_is_none() {
        let zero = [Prf::default(); 4];
        assert_eq!(score("", &["a b c"]), zero);
        assert_eq!(score("a b c", &[""]), zero);
        assert_eq!(score("!!!", &["a"]), zero);
        let none: &[&str] = &[];
        assert!(Scorer::new(Tokenizer::Default, false).score("a", none).is_none());
    }

    #[test]
    fn best_reference_is_chosen_per_type_first_on_ties() {
        let [r1, r2, l, _] = score("a b c d", &["a c b d x", "a b x c d"]);
        // rouge1: both references give 4 hits out of 5; the first is kept.
        assert_eq!((r1.precision, r1.recall), (1.0, 0.8));
        // rouge2: the first has no common bigram, the second has a b and c d.
        assert_eq!(r2.precision, 2.0 / 3.0);
        assert_eq!(l.recall, 0.8);
    }

    #[test]
    fn summary_level_lcs_does_not_count_a_token_twice() {
        // The output sentence `a b` matches both reference sentences, but
        // the output has only one `a` and one `b`.
        let [.., lsum] = score("a b", &["a b\na b"]);
        assert_eq!((lsum.precision, lsum.recall), (1.0, 0.5));
    }
}
