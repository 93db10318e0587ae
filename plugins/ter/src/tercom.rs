//! sacreBLEU's `TercomTokenizer`: the normalization TER applies before it
//! counts edits (a Python re-implementation of Tercom's `Normalizer.java`).

use std::borrow::Cow;

use crate::mteval::{space_around, space_out_punctuation, split_periods_commas_and_dashes};

/// TER's four normalization options, as sacreBLEU's `TER(...)` takes them.
#[derive(Clone, Copy, Default)]
pub struct Tercom {
    pub normalized: bool,
    pub no_punct: bool,
    pub asian_support: bool,
    pub case_sensitive: bool,
}

impl Tercom {
    /// The normalized text, whose words (as Python's `str.split()` finds
    /// them) are TER's tokens.
    pub fn tokenize<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        if text.is_empty() {
            return text;
        }
        if !self.case_sensitive {
            text = Cow::Owned(text.to_lowercase());
        }
        if self.normalized {
            text = Cow::Owned(normalize_general_and_western(&text));
            if self.asian_support {
                // Hiragana, Katakana and their extensions are split too in
                // sacreBLEU's code, by patterns anchored at the start of the
                // text (`^[\u3040-\u309f]`); the text always starts with the
                // space added above, so they never match and are left out.
                // sacreBLEU's passes over overlapping ranges may put two
                // spaces where this puts one; the words are the same.
                text = Cow::Owned(space_around(&text, |c| is_cjk(c) || is_asian_punctuation(c)));
            }
        }
        if self.no_punct {
            text = Cow::Owned(
                text.chars()
                    .filter(|&c| {
                        let punctuation = matches!(c, '.' | ',' | '?' | ':' | ';' | '!' | '"' | '(' | ')');
                        !(punctuation || self.asian_support && is_asian_punctuation(c))
                    })
                    .collect(),
            );
        }
        text
    }
}

/// `_normalize_general_and_western`: joins lines, unescapes four entities,
/// then mteval-v13a's rules with possessives split off (`'s ` -> ` 's `).
/// The rule `'s$` never matches: the text ends with the padding space.
fn normalize_general_and_western(text: &str) -> String {
    let mut text = text.replace("\n-", "").replace('\n', " ");
    for (entity, replacement) in [("&quot;", "\""), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")] {
        if text.contains(entity) {
            text = text.replace(entity, replacement);
        }
    }
    let mut spaced = space_out_punctuation(&text, true);
    if spaced.windows(3).any(|w| w == b"'s ") {
        let replaced = String::from_utf8(spaced).expect("spaces go between characters").replace("'s ", " 's ");
        spaced = replaced.into_bytes();
    }
    split_periods_commas_and_dashes(spaced)
}

/// The CJK ranges of `_normalize_asian`: unified ideographs and extension A,
/// strokes, radicals, compatibility forms, and U+3200..U+3F22 (written as
/// "Enclosed CJK Letters and Months" in sacreBLEU, though it runs further).
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}'
        | '\u{31c0}'..='\u{31ef}' | '\u{2e80}'..='\u{2eff}'
        | '\u{3300}'..='\u{33ff}' | '\u{f900}'..='\u{faff}' | '\u{fe30}'..='\u{fe4f}'
        | '\u{3200}'..='\u{3f22}')
}

/// `TercomTokenizer.ASIAN_PUNCT` and `FULL_WIDTH_PUNCT`.
fn is_asian_punctuation(c: char) -> bool {
    matches!(c,
        '\u{3001}' | '\u{3002}' | '\u{3008}'..='\u{3011}' | '\u{3014}'..='\u{301f}' | '\u{ff61}'..='\u{ff65}'
        | '\u{30fb}'
        | '\u{ff0e}' | '\u{ff0c}' | '\u{ff1f}' | '\u{ff1a}' | '\u{ff1b}' | '\u{ff01}' | '\u{ff02}' | '\u{ff08}'
        | '\u{ff09}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::py_split;

    fn tokens(tercom: Tercom, text: &str) -> String {
        py_split(&tercom.tokenize(text)).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn lowercases_unless_case_sensitive_and_splits_only_when_normalized() {
        let plain = Tercom::default();
        assert_eq!(tokens(plain, "The Cat's mat, 3.5."), "the cat's mat, 3.5.");
        let normalized = Tercom { normalized: true, ..plain };
        assert_eq!(tokens(normalized, "The Cat's mat, 3.5."), "the cat 's mat , 3.5 .");
        assert_eq!(tokens(normalized, "a &amp; b\n-c"), "a & bc");
        let cased = Tercom { case_sensitive: true, ..normalized };
        assert_eq!(tokens(cased, "İSTANBUL"), "İSTANBUL");
    }

    #[test]
    fn removes_punctuation_and_splits_cjk_on_request() {
        let no_punct = Tercom { no_punct: true, ..Tercom::default() };
        assert_eq!(tokens(no_punct, "Yes, (really)! 「はい」。"), "yes really 「はい」。");
        let asian = Tercom { no_punct: true, asian_support: true, ..Tercom::default() };
        assert_eq!(tokens(asian, "Yes, (really)! 「はい」。"), "yes really はい");
        let split = Tercom { normalized: true, asian_support: true, ..Tercom::default() };
        assert_eq!(tokens(split, "北京是首都。ありがとう"), "北 京 是 首 都 。 ありがとう");
    }
}
