//! Longest common subsequences, 64 table cells per machine word.
//!
//! This is Hyyrö's bit-parallel LCS ("Bit-parallel LCS-length computation
//! revisited", 2004). Fix a sequence `a` and walk `b`: after `j` symbols of
//! `b`, bit `i` of the column vector `V` is 0 exactly when
//! `LCS(a[..=i], b[..j]) = LCS(a[..i], b[..j]) + 1`, so the number of zeros
//! of `V` below bit `i` is the classic table's cell `(i, j)`. One column
//! costs a few word operations per 64 symbols of `a` instead of one
//! comparison and one max per cell.

/// For each token id, the positions of `a` that hold it, as bit sets of
/// `words` words each.
#[derive(Default)]
pub struct Masks {
    words: usize,
    /// Symbol-major: the mask of id `s` is `bits[s * words..][..words]`.
    bits: Vec<u64>,
}

impl Masks {
    /// The masks of `a`, whose ids are below `ids`.
    pub fn build(&mut self, a: &[u32], ids: usize) {
        self.words = a.len().div_ceil(64).max(1);
        self.bits.clear();
        self.bits.resize(ids * self.words, 0);
        for (i, &id) in a.iter().enumerate() {
            self.bits[id as usize * self.words + i / 64] |= 1 << (i % 64);
        }
    }

    /// Where `a` holds `id`; `None` for an id that `a` cannot hold (one
    /// first seen after `build`).
    fn of(&self, id: u32) -> Option<&[u64]> {
        let start = id as usize * self.words;
        self.bits.get(start..start + self.words)
    }

    /// `advance` for a column of one word, the usual case (a sentence of at
    /// most 64 tokens), without the loop over words.
    fn advance_word(&self, v: u64, id: u32) -> u64 {
        let u = v & self.of(id).map_or(0, |mask| mask[0]);
        v.wrapping_add(u) | (v & !u)
    }

    /// Advances `column` over one symbol of `b`: V = (V + U) | (V - U) with
    /// U = V & mask, where V - U is V & !U since U is a subset of V.
    fn advance(&self, column: &mut [u64], id: u32) {
        let Some(mask) = self.of(id) else { return };
        let mut carry = false;
        for (v, &m) in column.iter_mut().zip(mask) {
            let u = *v & m;
            let (sum, overflow) = v.overflowing_add(u);
            let (sum, overflow_carry) = sum.overflowing_add(u64::from(carry));
            carry = overflow | overflow_carry;
            *v = sum | (*v & !u);
        }
    }
}

/// Zeros of `column` below bit `i`: the table cell `(i, j)` of its column `j`.
/// Bits past the end of `a` stay ones, so they never count.
fn zeros_below(column: &[u64], i: usize) -> usize {
    let full: usize = column[..i / 64].iter().map(|w| w.count_zeros() as usize).sum();
    let rest = i % 64;
    if rest == 0 { full } else { full + (!column[i / 64] & ((1u64 << rest) - 1)).count_ones() as usize }
}

/// The LCS length of the sequence `masks` was built from and `b`.
pub fn lcs_len(masks: &Masks, b: &[u32], column: &mut Vec<u64>) -> usize {
    if masks.words == 1 {
        return b.iter().fold(!0, |v, &id| masks.advance_word(v, id)).count_zeros() as usize;
    }
    column.clear();
    column.resize(masks.words, !0);
    for &id in b {
        masks.advance(column, id);
    }
    zeros_below(column, column.len() * 64)
}

/// Marks in `in_union` the positions of `a` (which `masks` was built from)
/// on the LCS of `a` and `b` that rouge-score's `_backtrack_norec` reads
/// out: from the end, a match steps diagonally, else it steps along `b` when
/// that keeps the longer LCS and along `a` on ties. Which LCS it is (when
/// there are several) decides which tokens ROUGE-Lsum's union holds.
pub fn mark_lcs(masks: &Masks, a: &[u32], b: &[u32], columns: &mut Vec<u64>, in_union: &mut [bool]) {
    let words = masks.words;
    columns.clear();
    if words == 1 {
        columns.push(!0);
        let mut v = !0;
        for &id in b {
            v = masks.advance_word(v, id);
            columns.push(v);
        }
    } else {
        columns.resize((b.len() + 1) * words, !0);
        for (j, &id) in b.iter().enumerate() {
            let (done, next) = columns[j * words..(j + 2) * words].split_at_mut(words);
            next.copy_from_slice(done);
            masks.advance(next, id);
        }
    }
    let cell = |i: usize, j: usize| zeros_below(&columns[j * words..(j + 1) * words], i);
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            in_union[i - 1] = true;
            i -= 1;
            j -= 1;
        } else if cell(i, j - 1) > cell(i - 1, j) {
            j -= 1;
        } else {
            i -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rouge-score's `_lcs_table` and `_backtrack_norec`, cell by cell.
    fn table_lcs(a: &[u32], b: &[u32]) -> (usize, Vec<bool>) {
        let w = b.len() + 1;
        let mut t = vec![0usize; (a.len() + 1) * w];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                t[i * w + j] = if a[i - 1] == b[j - 1] {
                    t[(i - 1) * w + j - 1] + 1
                } else {
                    t[(i - 1) * w + j].max(t[i * w + j - 1])
                };
            }
        }
        let mut marks = vec![false; a.len()];
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            if a[i - 1] == b[j - 1] {
                marks[i - 1] = true;
                i -= 1;
                j -= 1;
            } else if t[i * w + j - 1] > t[(i - 1) * w + j] {
                j -= 1;
            } else {
                i -= 1;
            }
        }
        (t[a.len() * w + b.len()], marks)
    }

    #[test]
    fn agrees_with_the_table_on_random_sequences() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let (mut masks, mut column) = (Masks::default(), Vec::new());
        for round in 0..3000 {
            // Lengths across word boundaries, alphabets from tiny (many ties) to large.
            let alphabet = [2, 3, 8, 50][round % 4];
            let long = if round % 10 == 0 { 200 } else { 70 };
            let a: Vec<u32> = (0..next(long)).map(|_| next(alphabet) as u32).collect();
            let b: Vec<u32> = (0..next(long)).map(|_| next(alphabet) as u32).collect();
            let (length, marks) = table_lcs(&a, &b);
            masks.build(&a, alphabet as usize);
            assert_eq!(lcs_len(&masks, &b, &mut column), length, "{a:?} {b:?}");
            let mut in_union = vec![false; a.len()];
            mark_lcs(&masks, &a, &b, &mut column, &mut in_union);
            assert_eq!(in_union, marks, "{a:?} {b:?}");
        }
    }

    #[test]
    fn ids_unknown_to_the_masks_never_match() {
        let (mut masks, mut column) = (Masks::default(), Vec::new());
        masks.build(&[0, 1], 2);
        assert_eq!(lcs_len(&masks, &[1, 5, 0, 1], &mut column), 2);
        masks.build(&[], 0);
        assert_eq!(lcs_len(&masks, &[0], &mut column), 0);
    }

    #[test]
    fn backtracking_prefers_a_on_ties() {
        // a = x y, b = y x: both `x` and `y` are an LCS; rouge-score's
        // backtracking moves along `a` on ties, so it keeps `x` (index 0).
        let (mut masks, mut columns) = (Masks::default(), Vec::new());
        masks.build(&[0, 1], 2);
        let mut marks = [false; 2];
        mark_lcs(&masks, &[0, 1], &[1, 0], &mut columns, &mut marks);
        assert_eq!(marks, [true, false]);
    }
}
