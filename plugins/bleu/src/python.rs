//! Python's whitespace rules, which sacreBLEU's tokens follow. Shared by the
//! `bleu` and `chrf` plugins (`chrf` includes this file by path).

/// Python's `str.isspace`, which `str.split()` and `str.rstrip()` use: the
/// Unicode White_Space characters plus the ASCII separators U+001C..U+001F.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `str.split()` with no argument: the non-empty runs between
/// whitespace characters.
pub fn py_split(text: &str) -> impl Iterator<Item = &str> {
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            if at == text.len() {
                return None;
            }
            match space_at(text, at) {
                0 => break,
                width => at += width,
            }
        }
        let start = at;
        while at < text.len() && space_at(text, at) == 0 {
            at += 1;
        }
        Some(&text[start..at])
    })
}

/// The length in bytes of the whitespace character starting at byte `at`,
/// or 0 when there is none. Looks at bytes, so that the common case of ASCII
/// costs no UTF-8 decoding.
fn space_at(text: &str, at: usize) -> usize {
    let byte = text.as_bytes()[at];
    if byte.is_ascii() {
        return usize::from(matches!(byte, b'\t'..=b'\r' | 0x1c..=b' '));
    }
    // Non-ASCII whitespace (U+0085, U+00A0, U+1680, U+2000..U+205F, U+3000)
    // starts with one of these bytes, which only ever start a character.
    if !matches!(byte, 0xc2 | 0xe1..=0xe3) {
        return 0;
    }
    let c = text[at..].chars().next().expect("a character starts here");
    if c.is_whitespace() { c.len_utf8() } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_pythons() {
        // Python: [c for c in map(chr, range(0x110000)) if c.isspace()]
        let python: Vec<u32> = [0x9..=0xd, 0x1c..=0x20, 0x85..=0x85, 0xa0..=0xa0, 0x1680..=0x1680, 0x2000..=0x200a]
            .into_iter()
            .flatten()
            .chain([0x2028, 0x2029, 0x202f, 0x205f, 0x3000])
            .collect();
        let ours: Vec<u32> =
            (0..=0x10ffff).filter_map(char::from_u32).filter(|&c| is_py_space(c)).map(u32::from).collect();
        assert_eq!(ours, python);
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            let words: Vec<&str> = py_split(&text).collect();
            let expected: Vec<&str> = if is_py_space(c) { vec!["a", "b"] } else { vec![&text] };
            assert_eq!(words, expected, "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn splits_like_python() {
        assert_eq!(py_split("  a\x1cb\u{a0}c\u{200b}d \u{3000}").collect::<Vec<_>>(), ["a", "b", "c\u{200b}d"]);
        assert_eq!(py_split("é\u{2009}ü").collect::<Vec<_>>(), ["é", "ü"]);
        assert_eq!(py_split(" \t\n").count(), 0);
        assert_eq!(py_split("").count(), 0);
    }
}
