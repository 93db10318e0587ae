//! The regular expressions of mteval-v13a.pl that sacreBLEU's `13a` and `zh`
//! tokenizers (`TokenizerRegexp`) and TER's normalization (`TercomTokenizer`)
//! share. The `ter` plugin includes this file by path, so the three apply
//! one implementation.

/// `([\{-\~\[-\` -\&\(-\+\:-\@\/])` -> `' \1 '`: spaces out ASCII
/// punctuation except `'`, `,`, `-` and `.`, with one space added before and
/// after the whole text when `pad` (13a's and TER's `f" {line} "`).
///
/// The substitutions run on bytes: every pattern byte is ASCII, and UTF-8
/// continuation bytes are neither digits nor punctuation, so a multi-byte
/// character behaves as one non-digit, as in Python's `re` on `str`, and
/// spaces only ever land between characters.
pub fn space_out_punctuation(text: &str, pad: bool) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(3 * bytes.len() + 2);
    if pad {
        out.push(b' ');
    }
    let mut copied = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if SPACED_OUT[usize::from(b)] {
            out.extend_from_slice(&bytes[copied..i]);
            out.extend_from_slice(&[b' ', b, b' ']);
            copied = i + 1;
        }
    }
    out.extend_from_slice(&bytes[copied..]);
    if pad {
        out.push(b' ');
    }
    out
}

/// The last three substitutions, in order: `([^0-9])([\.,])` -> `'\1 \2 '`,
/// `([\.,])([^0-9])` -> `' \1 \2'`, `([0-9])(-)` -> `'\1 \2 '`.
pub fn split_periods_commas_and_dashes(mut text: Vec<u8>) -> String {
    let mut scratch = Vec::with_capacity(2 * text.len());
    if text.iter().any(|&b| is_period_or_comma(b)) {
        substitute(&text, &mut scratch, |a, b| is_period_or_comma(b) && !a.is_ascii_digit(), |a, b| [a, b' ', b, b' ']);
        substitute(&scratch, &mut text, |a, b| is_period_or_comma(a) && !b.is_ascii_digit(), |a, b| [b' ', a, b' ', b]);
    }
    if text.contains(&b'-') {
        substitute(&text, &mut scratch, |a, b| b == b'-' && a.is_ascii_digit(), |a, b| [a, b' ', b, b' ']);
        std::mem::swap(&mut text, &mut scratch);
    }
    String::from_utf8(text).expect("spaces are only inserted between characters")
}

/// Puts a space before and after every character `split` selects, as the
/// one-character substitutions `(CLASS)` -> `' \1 '` of sacreBLEU's `zh`,
/// `intl` and TER tokenizers do.
pub fn space_around(text: &str, split: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if split(c) {
            out.extend([' ', c, ' ']);
        } else {
            out.push(c);
        }
    }
    out
}

/// One `re.sub` of a two-character pattern: where `matches(a, b)` holds for
/// adjacent bytes, writes `replace(a, b)` and resumes after `b`.
fn substitute(text: &[u8], out: &mut Vec<u8>, matches: impl Fn(u8, u8) -> bool, replace: impl Fn(u8, u8) -> [u8; 4]) {
    out.clear();
    let (mut i, mut copied) = (0, 0);
    while i + 1 < text.len() {
        if matches(text[i], text[i + 1]) {
            out.extend_from_slice(&text[copied..i]);
            out.extend_from_slice(&replace(text[i], text[i + 1]));
            i += 2;
            copied = i;
        } else {
            i += 1;
        }
    }
    out.extend_from_slice(&text[copied..]);
}

fn is_period_or_comma(b: u8) -> bool {
    b == b'.' || b == b','
}

/// The bytes of the first class, `[\{-\~\[-\` -\&\(-\+\:-\@\/]`: ASCII
/// punctuation except `'`, `,`, `-` and `.`, plus the space.
const SPACED_OUT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'{'..=b'~' | b'['..=b'`' | b' '..=b'&' | b'('..=b'+' | b':'..=b'@' | b'/');
        b += 1;
    }
    table
};
