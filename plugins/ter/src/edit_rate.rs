//! sacreBLEU's `lib_ter`: the number of edits (insertions, deletions,
//! substitutions and shifts of word sequences) that turn an output into a
//! reference, as Tercom counts them with sacreBLEU's beam and limits.
//!
//! Ported step for step, limits, cache and tie-breaking included: the cache
//! reuses edit-distance rows computed for other word orders, with the beam
//! of that order, so it changes results in long sentences and must behave
//! as sacreBLEU's does.

use std::collections::HashMap;
use std::rc::Rc;

use foldhash::fast::FixedState;

const MAX_SHIFT_SIZE: usize = 10;
const MAX_SHIFT_DIST: usize = 50;
const BEAM_WIDTH: i64 = 25;
const MAX_CACHE_SIZE: usize = 10_000;
const MAX_SHIFT_CANDIDATES: usize = 1_000;
const INFINITY: i64 = 10_000_000_000_000_000;

/// An edit operation, rewriting the output into the reference.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Op {
    Nop,
    Sub,
    Ins,
    Del,
    Undefined,
}

/// One cell of the edit-distance matrix: its cost and the operation that
/// reached it.
type Cell = (i64, Op);

/// The edits and the reference length of one output against one reference,
/// as `translation_edit_rate(words_hyp, words_ref)`. Words are compared as
/// ids (see [`word_ids`]).
pub fn translation_edit_rate(hyp: &[u32], reference: &[u32]) -> Result<(usize, usize), String> {
    if reference.is_empty() {
        return Ok((hyp.len(), 0));
    }
    let mut distance = BeamEditDistance::new(reference);
    let mut shifts = 0;
    let mut input = hyp.to_vec();
    let mut checked = 0;
    loop {
        let (delta, shifted) = shift(&input, reference, &mut distance, &mut checked)?;
        if checked >= MAX_SHIFT_CANDIDATES || delta <= 0 {
            break;
        }
        shifts += 1;
        input = shifted;
    }
    let (edits, _) = distance.distance(&input)?;
    Ok((shifts + edits as usize, reference.len()))
}

/// Numbers the words of an output and its references, so that the edit
/// distance compares integers.
pub fn word_ids<'a>(hyp: &[&'a str], references: &[Vec<&'a str>]) -> (Vec<u32>, Vec<Vec<u32>>) {
    let mut ids: HashMap<&str, u32, FixedState> = HashMap::default();
    let mut id = |word: &'a str| {
        let next = ids.len() as u32;
        *ids.entry(word).or_insert(next)
    };
    let hyp = hyp.iter().map(|w| id(w)).collect();
    let references = references.iter().map(|r| r.iter().map(|w| id(w)).collect()).collect();
    (hyp, references)
}

/// How sacreBLEU ranks a shift: (edit distance saved, length, -start in the
/// output, -target). It compares these tuples with the shifted words last,
/// which never decide: equal leading values mean the same shift.
type Rank = (i64, usize, i64, i64);

/// `_shift`: the shift that lowers the edit distance most, as
/// `(delta, shifted words)`, or `(0, words)` when no shift is worth trying.
fn shift(
    words_h: &[u32],
    words_r: &[u32],
    distance: &mut BeamEditDistance,
    checked: &mut usize,
) -> Result<(i64, Vec<u32>), String> {
    let (pre_score, inverse_trace) = distance.distance(words_h)?;
    let mut search = ShiftSearch {
        words_h,
        alignment: Alignment::of(&inverse_trace, words_r.len()),
        pre_score,
        checked,
        best: None,
    };
    'pairs: for start_h in 0..words_h.len() {
        for start_r in 0..words_r.len() {
            if start_r.abs_diff(start_h) > MAX_SHIFT_DIST {
                continue;
            }
            let mut length = 0;
            while length < MAX_SHIFT_SIZE && words_h[start_h + length] == words_r[start_r + length] {
                length += 1;
                search.consider(start_h, start_r, length, distance)?;
                if *search.checked >= MAX_SHIFT_CANDIDATES {
                    break 'pairs;
                }
                if words_h.len() == start_h + length || words_r.len() == start_r + length {
                    break;
                }
            }
        }
    }
    Ok(match search.best {
        Some(((delta, ..), shifted)) => (delta, shifted),
        None => (0, words_h.to_vec()),
    })
}

/// The state of `_shift`'s loop over matching word sequences.
struct ShiftSearch<'a> {
    words_h: &'a [u32],
    alignment: Alignment,
    pre_score: i64,
    /// Shift candidates tried, over all of `translation_edit_rate`'s rounds.
    checked: &'a mut usize,
    best: Option<(Rank, Vec<u32>)>,
}

impl ShiftSearch<'_> {
    /// The loop's body for the `length` words at `start_h` in the output
    /// that match those at `start_r` in the reference.
    fn consider(
        &mut self,
        start_h: usize,
        start_r: usize,
        length: usize,
        distance: &mut BeamEditDistance,
    ) -> Result<(), String> {
        let alignment = &self.alignment;
        // Only where the output was wrong and the reference is not matched.
        if alignment.hyp_err[start_h..(start_h + length).min(alignment.hyp_err.len())].iter().all(|&e| !e) {
            return Ok(());
        }
        if alignment.ref_err[start_r..(start_r + length).min(alignment.ref_err.len())].iter().all(|&e| !e) {
            return Ok(());
        }
        // Not within the sequence itself.
        let aligned = alignment.align[start_r];
        if start_h as i64 <= aligned && aligned < (start_h + length) as i64 {
            return Ok(());
        }
        let mut previous = -1;
        for offset in -1..length as i64 {
            let at = start_r as i64 + offset;
            let idx = if at == -1 {
                0
            } else if (at as usize) < alignment.align.len() {
                // Unlike Tercom, which inserts after the index, before it.
                alignment.align[at as usize] + 1
            } else {
                break;
            };
            if idx == previous {
                continue;
            }
            previous = idx;
            let shifted = perform_shift(self.words_h, start_h, length, idx as usize);
            let rank = (self.pre_score - distance.distance(&shifted)?.0, length, -(start_h as i64), -idx);
            *self.checked += 1;
            if self.best.as_ref().is_none_or(|(best, _)| rank > *best) {
                self.best = Some((rank, shifted));
            }
        }
        Ok(())
    }
}

/// `_perform_shift`: moves `length` words from `start` to before `target`,
/// with Python's clamped slices.
fn perform_shift(words: &[u32], start: usize, length: usize, target: usize) -> Vec<u32> {
    let slice = |from: usize, to: usize| &words[from.min(words.len())..to.min(words.len()).max(from.min(words.len()))];
    let moved = slice(start, start + length);
    let parts: [&[u32]; 4] = if target < start {
        [slice(0, target), moved, slice(target, start), slice(start + length, usize::MAX)]
    } else if target > start + length {
        [slice(0, start), slice(start + length, target), moved, slice(target, usize::MAX)]
    } else {
        [slice(0, start), slice(start + length, length + target), moved, slice(length + target, usize::MAX)]
    };
    parts.concat()
}

/// `trace_to_alignment` of the flipped trace: for each reference position
/// the output position aligned with it (-1 before the first), and which
/// positions of each are in error.
struct Alignment {
    align: Vec<i64>,
    ref_err: Vec<bool>,
    hyp_err: Vec<bool>,
}

impl Alignment {
    fn of(inverse_trace: &[Op], reference_len: usize) -> Alignment {
        let (mut pos_hyp, mut pos_ref) = (-1i64, -1i64);
        let mut alignment = Alignment { align: vec![0; reference_len], ref_err: Vec::new(), hyp_err: Vec::new() };
        for &op in inverse_trace {
            // `_flip_trace`: the trace rewrote the output into the reference;
            // the alignment reads it the other way, insertions as deletions.
            match op {
                Op::Nop | Op::Sub => {
                    pos_hyp += 1;
                    pos_ref += 1;
                    alignment.align[pos_ref as usize] = pos_hyp;
                    alignment.hyp_err.push(op == Op::Sub);
                    alignment.ref_err.push(op == Op::Sub);
                }
                Op::Del => {
                    pos_hyp += 1;
                    alignment.hyp_err.push(true);
                }
                Op::Ins => {
                    pos_ref += 1;
                    alignment.align[pos_ref as usize] = pos_hyp;
                    alignment.ref_err.push(true);
                }
                Op::Undefined => unreachable!("traces hold no undefined operation"),
            }
        }
        alignment
    }
}

/// `BeamEditDistance`: Levenshtein distance to one reference within a beam
/// around the diagonal, with a trie of the rows computed for each prefix of
/// the outputs seen so far.
struct BeamEditDistance<'r> {
    reference: &'r [u32],
    /// Row `i + 1` of the matrix for the prefix ending at trie node `i`.
    rows: Vec<Rc<[Cell]>>,
    /// Trie edges: (parent node or `ROOT`, word) to child node.
    children: HashMap<(usize, u32), usize, FixedState>,
    initial_row: Rc<[Cell]>,
}

const ROOT: usize = usize::MAX;

/// What `_edit_distance` returns: the distance, the rows it computed (those
/// after the cached prefix) and the trace of operations.
struct Computed {
    distance: i64,
    fresh: Vec<Vec<Cell>>,
    trace: Vec<Op>,
}

impl<'r> BeamEditDistance<'r> {
    fn new(reference: &'r [u32]) -> Self {
        BeamEditDistance {
            reference,
            rows: Vec::new(),
            children: HashMap::default(),
            initial_row: (0..=reference.len() as i64).map(|i| (i, Op::Ins)).collect(),
        }
    }

    /// `__call__`: the edit distance of `words_h` and its trace, from the
    /// longest cached prefix on.
    fn distance(&mut self, words_h: &[u32]) -> Result<(i64, Vec<Op>), String> {
        let mut cached = vec![self.initial_row.clone()];
        let mut node = ROOT;
        for &word in words_h {
            match self.children.get(&(node, word)) {
                Some(&child) => {
                    cached.push(self.rows[child].clone());
                    node = child;
                }
                None => break,
            }
        }
        let start_h = cached.len() - 1;
        let computed = self.edit_distance(words_h, start_h, &cached)?;
        self.add_cache(words_h, start_h, node, computed.fresh);
        Ok((computed.distance, computed.trace))
    }

    /// `_edit_distance` from row `start_h` on.
    fn edit_distance(&self, words_h: &[u32], start_h: usize, cached: &[Rc<[Cell]>]) -> Result<Computed, String> {
        let (n_h, n_r) = (words_h.len(), self.reference.len());
        let mut fresh: Vec<Vec<Cell>> = vec![vec![(INFINITY, Op::Undefined); n_r + 1]; n_h - start_h];
        let length_ratio = if words_h.is_empty() { 1.0 } else { n_r as f64 / n_h as f64 };
        // In very unequal lengths the beams of neighbouring rows might not overlap.
        let beam_width = if (BEAM_WIDTH as f64) < length_ratio / 2.0 {
            (length_ratio / 2.0 + BEAM_WIDTH as f64).ceil() as i64
        } else {
            BEAM_WIDTH
        };
        for i in start_h + 1..=n_h {
            let pseudo_diagonal = (i as f64 * length_ratio).floor() as i64;
            let min_j = (pseudo_diagonal - beam_width).max(0) as usize;
            let max_j =
                if i == n_h { n_r + 1 } else { (pseudo_diagonal + beam_width).min(n_r as i64 + 1).max(0) as usize };
            let (before, current) = fresh.split_at_mut(i - start_h - 1);
            let previous: &[Cell] = if i - 1 == start_h { &cached[start_h] } else { &before[i - start_h - 2] };
            let row = &mut current[0];
            for j in min_j..max_j {
                if j == 0 {
                    row[0] = (previous[0].0 + 1, Op::Del);
                    continue;
                }
                let (cost_sub, op_sub) =
                    if words_h[i - 1] == self.reference[j - 1] { (0, Op::Nop) } else { (1, Op::Sub) };
                // Tercom prefers no-op or substitution, then insertion, then
                // deletion; the trace is read flipped, so deletion comes first.
                let ops =
                    [(previous[j - 1].0 + cost_sub, op_sub), (previous[j].0 + 1, Op::Del), (row[j - 1].0 + 1, Op::Ins)];
                for (cost, op) in ops {
                    if row[j].0 > cost {
                        row[j] = (cost, op);
                    }
                }
            }
        }
        let cell = |i: usize, j: usize| if i <= start_h { cached[i][j] } else { fresh[i - start_h - 1][j] };
        let mut trace = Vec::with_capacity(n_h + n_r);
        let (mut i, mut j) = (n_h, n_r);
        while i > 0 || j > 0 {
            let op = cell(i, j).1;
            trace.push(op);
            match op {
                Op::Sub | Op::Nop => {
                    i -= 1;
                    j -= 1;
                }
                Op::Ins => j -= 1,
                Op::Del => i -= 1,
                Op::Undefined => return Err("TER's edit distance found no path within its beam".into()),
            }
        }
        trace.reverse();
        Ok(Computed { distance: cell(n_h, n_r).0, fresh, trace })
    }

    /// `_add_cache`: stores the new rows under their prefixes, unless the
    /// cache already holds `MAX_CACHE_SIZE` rows (checked once per call, as
    /// sacreBLEU does, so one call may go past it).
    fn add_cache(&mut self, words_h: &[u32], start_h: usize, mut node: usize, fresh: Vec<Vec<Cell>>) {
        if self.rows.len() >= MAX_CACHE_SIZE {
            return;
        }
        for (&word, row) in words_h[start_h..].iter().zip(fresh) {
            node = match self.children.get(&(node, word)) {
                Some(&child) => child,
                None => {
                    self.rows.push(row.into());
                    self.children.insert((node, word), self.rows.len() - 1);
                    self.rows.len() - 1
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ter(hyp: &str, reference: &str) -> (usize, usize) {
        let hyp: Vec<&str> = hyp.split_whitespace().collect();
        let reference: Vec<&str> = reference.split_whitespace().collect();
        let (hyp, references) = word_ids(&hyp, &[reference]);
        translation_edit_rate(&hyp, &references[0]).unwrap()
    }

    #[test]
    fn counts_a_moved_block_as_one_shift() {
        assert_eq!(ter("the cat sat on the mat", "the cat sat on the mat"), (0, 6));
        // Moving "on the mat" to the front is one shift, not six edits.
        assert_eq!(ter("on the mat the cat sat", "the cat sat on the mat"), (1, 6));
        assert_eq!(ter("a b c", "a x c"), (1, 3));
        assert_eq!(ter("", "a b"), (2, 2));
        assert_eq!(ter("a b", ""), (2, 0));
    }

    #[test]
    fn shifts_follow_pythons_slices() {
        let words = [1, 2, 3, 4, 5];
        assert_eq!(perform_shift(&words, 3, 2, 0), [4, 5, 1, 2, 3]);
        assert_eq!(perform_shift(&words, 0, 2, 4), [3, 4, 1, 2, 5]);
        assert_eq!(perform_shift(&words, 3, 2, 4), [1, 2, 3, 4, 5]);
        assert_eq!(perform_shift(&words, 1, 2, 2), [1, 4, 2, 3, 5]);
    }
}
