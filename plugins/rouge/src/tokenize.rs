//! The two tokenizers: rouge-score's own, and a Unicode-aware one.

/// What a tokenizer reports while it walks a text.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Token(&'a str),
    /// A `\n`: ROUGE-Lsum's sentence boundary.
    LineBreak,
}

/// How texts are cut into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tokenizer {
    /// rouge-score's `tokenize.tokenize`: lowercase, then every run of
    /// characters outside `[a-z0-9]` separates tokens, so non-ASCII letters
    /// are deleted (`café` becomes `caf`, Chinese text has no token).
    #[default]
    Default,
    /// Unicode letters and digits of every script, lowercased; scripts
    /// written without spaces give one token per character.
    Unicode,
}

impl Tokenizer {
    pub fn name(self) -> &'static str {
        match self {
            Tokenizer::Default => "default",
            Tokenizer::Unicode => "unicode",
        }
    }

    /// Walks `text`, reporting each token and each line break in order.
    /// `word` is scratch space, kept by the caller to save allocations.
    pub fn tokenize(self, text: &str, word: &mut String, sink: &mut impl FnMut(Piece<'_>)) {
        word.clear();
        match self {
            Tokenizer::Default => rouge_score_tokens(text, word, sink),
            Tokenizer::Unicode => unicode_tokens(text, word, sink),
        }
        flush(word, sink);
    }
}

fn flush(word: &mut String, sink: &mut impl FnMut(Piece<'_>)) {
    if !word.is_empty() {
        sink(Piece::Token(word));
        word.clear();
    }
}

/// Python lowercases two non-ASCII characters into ASCII letters: KELVIN
/// SIGN to `k`, and `İ` to `i` plus a combining dot (which then separates).
const KELVIN: &str = "\u{212A}";
const DOTTED_CAPITAL_I: &str = "\u{130}";

fn rouge_score_tokens(text: &str, word: &mut String, sink: &mut impl FnMut(Piece<'_>)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b if b.is_ascii_alphanumeric() => {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let run = &text[start..i];
                let whole = word.is_empty() && !continues(&bytes[i..]);
                if whole && !run.bytes().any(|b| b.is_ascii_uppercase()) {
                    // Most tokens: passed on from the text itself, uncopied.
                    sink(Piece::Token(run));
                } else {
                    let from = word.len();
                    word.push_str(run);
                    word[from..].make_ascii_lowercase();
                }
                continue;
            }
            b'\n' => {
                flush(word, sink);
                sink(Piece::LineBreak);
            }
            0x80.. if bytes[i..].starts_with(KELVIN.as_bytes()) => {
                word.push('k');
                i += KELVIN.len();
                continue;
            }
            0x80.. if bytes[i..].starts_with(DOTTED_CAPITAL_I.as_bytes()) => {
                word.push('i');
                flush(word, sink);
                i += DOTTED_CAPITAL_I.len();
                continue;
            }
            // Every other byte of a non-ASCII character is a separator,
            // as are ASCII punctuation and whitespace.
            _ => flush(word, sink),
        }
        i += 1;
    }
}

/// Whether a token goes on into a character that Python lowercases to an
/// ASCII letter.
fn continues(rest: &[u8]) -> bool {
    rest.starts_with(KELVIN.as_bytes()) || rest.starts_with(DOTTED_CAPITAL_I.as_bytes())
}

fn unicode_tokens(text: &str, word: &mut String, sink: &mut impl FnMut(Piece<'_>)) {
    let mut one = [0u8; 4];
    for c in text.chars() {
        if c.is_ascii() {
            match c {
                'a'..='z' | '0'..='9' => word.push(c),
                'A'..='Z' => word.push(c.to_ascii_lowercase()),
                '\n' => {
                    flush(word, sink);
                    sink(Piece::LineBreak);
                }
                _ => flush(word, sink),
            }
            continue;
        }
        // Turkish `İ` is `i`, not `i` plus a combining dot that would make
        // `İstanbul` differ from `istanbul`.
        if c == 'İ' {
            word.push('i');
            continue;
        }
        for c in c.to_lowercase() {
            // One form of sigma, so that `ΟΔΟΣ` and `οδος` match.
            let c = if c == 'ς' { 'σ' } else { c };
            if c.is_alphanumeric() && written_without_spaces(c) {
                flush(word, sink);
                sink(Piece::Token(c.encode_utf8(&mut one)));
            } else if c.is_alphanumeric() || (!word.is_empty() && is_inner_mark(c)) {
                word.push(c);
            } else {
                flush(word, sink);
            }
        }
    }
}

/// Scripts that do not separate words by spaces: Han (with its iteration
/// marks and radicals), Hiragana, Katakana, Thai, Lao, Myanmar and Khmer.
/// Without a dictionary, one token per character is the unit that two texts
/// can share.
fn written_without_spaces(c: char) -> bool {
    matches!(
        c as u32,
        0x0E00..=0x0EFF
            | 0x1000..=0x109F
            | 0x1780..=0x17FF
            | 0x19E0..=0x19FF
            | 0x2E80..=0x2FDF
            | 0x3005..=0x3007
            | 0x3021..=0x3029
            | 0x3038..=0x303B
            | 0x3040..=0x30FF
            | 0x31F0..=0x31FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xF900..=0xFAFF
            | 0xFF66..=0xFF9F
            | 0x20000..=0x323AF
    )
}

/// Combining marks that are not Unicode letters yet sit inside words: the
/// combining diacritics of decomposed Latin, Greek and Cyrillic text, Hebrew
/// points, and the nukta and virama of the Brahmic scripts (which share their
/// offsets in each 128-character block). Without them `नमस्ते` would split at
/// its virama.
fn is_inner_mark(c: char) -> bool {
    let cp = c as u32;
    matches!(cp, 0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F | 0x0DCA)
        || ((0x0900..=0x0D7F).contains(&cp) && matches!(cp & 0x7F, 0x3C | 0x4D))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(tokenizer: Tokenizer, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        tokenizer.tokenize(text, &mut String::new(), &mut |piece| match piece {
            Piece::Token(t) => out.push(t.to_string()),
            Piece::LineBreak => out.push("\n".to_string()),
        });
        out
    }

    #[test]
    fn default_tokenizer_follows_rouge_score() {
        // Expected tokens printed by rouge_score.tokenize.tokenize(text, None).
        let t = |s| tokens(Tokenizer::Default, s);
        assert_eq!(t("The café’s naïve co-op, 3.5%!"), ["the", "caf", "s", "na", "ve", "co", "op", "3", "5"]);
        assert_eq!(t("İstanbul 5\u{212A} ıi"), ["i", "stanbul", "5k", "i"]);
        assert_eq!(t("\u{212A}elvin A\u{212A}\u{212A}B AbİCd xİ İ"), ["kelvin", "akkb", "abi", "cd", "xi", "i"]);
        assert_eq!(t("MiXeD case, ALL CAPS\nend"), ["mixed", "case", "all", "caps", "\n", "end"]);
        assert_eq!(t("北京 is big"), ["is", "big"]);
        assert_eq!(t("one\n\ntwo\r\n"), ["one", "\n", "\n", "two", "\n"]);
        assert!(t("").is_empty());
    }

    #[test]
    fn unicode_tokenizer_keeps_letters_of_every_script() {
        let t = |s| tokens(Tokenizer::Unicode, s);
        assert_eq!(t("The Café’s NAÏVE co-op, 3.5%!"), ["the", "café", "s", "naïve", "co", "op", "3", "5"]);
        // Casing is not locale-aware: `I` is `i`, also in Turkish.
        assert_eq!(t("İSTANBUL’da Işık"), ["istanbul", "da", "işık"]);
        assert_eq!(t("مرحبا بالعالم!"), ["مرحبا", "بالعالم"]);
        assert_eq!(t("ΟΔΟΣ οδος"), ["οδοσ", "οδοσ"]);
        assert_eq!(t("नमस्ते दुनिया"), ["नमस्ते", "दुनिया"]);
        // Decomposed é stays in its word.
        assert_eq!(t("cafe\u{301} ok"), ["cafe\u{301}", "ok"]);
        assert_eq!(t("\u{301}x"), ["x"]);
    }

    #[test]
    fn unicode_tokenizer_splits_scripts_without_spaces_per_character() {
        let t = |s| tokens(Tokenizer::Unicode, s);
        assert_eq!(t("北京欢迎你。Beijing2008"), ["北", "京", "欢", "迎", "你", "beijing2008"]);
        assert_eq!(t("東京タワーへ"), ["東", "京", "タ", "ワ", "ー", "へ"]);
        assert_eq!(t("한국어 문장"), ["한국어", "문장"]);
        assert_eq!(t("ab中cd"), ["ab", "中", "cd"]);
        assert_eq!(t("第一句\n第二句"), ["第", "一", "句", "\n", "第", "二", "句"]);
    }
}
