//! Text handling shared by the built-in feedback guards, so that they agree
//! on when two texts say the same thing.
//!
//! Feedback is typed by people (and by attackers), so the same words arrive
//! in many byte forms: fullwidth or "mathematical bold" letters, curly
//! quotes, invisible characters spliced into words, Cyrillic letters that
//! look Latin. [`fold`] removes those differences; [`normalize`] goes on to
//! drop punctuation and spacing, for comparing texts word by word.

pub mod numbers;

/// Characters that render as nothing (or only reorder text) and so can hide
/// inside a word: zero-width spaces and joiners, bidi controls, the byte
/// order mark, soft hyphens, variation selectors and Unicode tag characters.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{E0000}'..='\u{E007F}')
}

/// Folds look-alike forms of text together: a hand-written subset of NFKC
/// (fullwidth forms, mathematical alphanumerics, circled letters, ligatures,
/// exotic spaces, dashes and quotes) followed by lowercasing, with invisible
/// characters removed. Inside a word that also holds ASCII letters, Cyrillic
/// and Greek letters that look Latin become the Latin letter, so that a
/// spoofed `іgnore` (Cyrillic `і`) reads `ignore`; words wholly in another
/// script are left alone.
pub fn fold(text: &str) -> String {
    // On ASCII every step but lowercasing leaves the text as it is (no
    // ASCII character is invisible, has a compatibility form or looks like
    // another script's letter), and most feedback is ASCII: the guards call
    // this on every text of every record.
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    fold_unicode(text)
}

/// [`fold`] for any text.
fn fold_unicode(text: &str) -> String {
    let mut compat = String::with_capacity(text.len());
    for c in text.chars().filter(|&c| !is_invisible(c)) {
        match compat_form(c) {
            Compat::Char(m) => compat.extend(m.to_lowercase()),
            Compat::Str(s) => compat.push_str(s),
        }
    }
    let mut out = String::with_capacity(compat.len());
    let mut word = String::new();
    for c in compat.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            push_despoofed(&mut word, &mut out);
            out.push(c);
        }
    }
    push_despoofed(&mut word, &mut out);
    out
}

enum Compat {
    Char(char),
    Str(&'static str),
}

fn compat_form(c: char) -> Compat {
    let cp = c as u32;
    let ascii = |offset: u32| Compat::Char(char::from_u32(offset).unwrap_or(c));
    match cp {
        0xFF01..=0xFF5E => ascii(cp - 0xFF01 + 0x21),
        // Thirteen styled Latin alphabets of 52 letters each (bold, italic,
        // script, fraktur, monospace...), then five styled sets of digits.
        0x1D400..=0x1D6A3 => {
            let i = (cp - 0x1D400) % 52;
            ascii(if i < 26 { 'A' as u32 + i } else { 'a' as u32 + i - 26 })
        }
        0x1D7CE..=0x1D7FF => ascii('0' as u32 + (cp - 0x1D7CE) % 10),
        0x24B6..=0x24CF => ascii('a' as u32 + cp - 0x24B6),
        0x24D0..=0x24E9 => ascii('a' as u32 + cp - 0x24D0),
        0x210E => Compat::Char('h'),
        0x00A0 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000 => Compat::Char(' '),
        0x2010..=0x2015 | 0x2212 | 0xFE63 => Compat::Char('-'),
        0x2018 | 0x2019 | 0x201B | 0x2032 => Compat::Char('\''),
        0x201C | 0x201D | 0x201F | 0x2033 => Compat::Char('"'),
        0x2044 | 0x2215 => Compat::Char('/'),
        0x2217 => Compat::Char('*'),
        0xFB00 => Compat::Str("ff"),
        0xFB01 => Compat::Str("fi"),
        0xFB02 => Compat::Str("fl"),
        0xFB03 => Compat::Str("ffi"),
        0xFB04 => Compat::Str("ffl"),
        0xFB05 | 0xFB06 => Compat::Str("st"),
        _ => Compat::Char(c),
    }
}

/// Appends `word`, with look-alike letters made Latin when the word mixes
/// them with ASCII letters, and empties it.
fn push_despoofed(word: &mut String, out: &mut String) {
    if word.chars().any(|c| c.is_ascii_alphabetic()) {
        out.extend(word.chars().map(|c| latin_look_alike(c).unwrap_or(c)));
    } else {
        out.push_str(word);
    }
    word.clear();
}

/// The Latin letter a lowercase Cyrillic or Greek letter is mistaken for.
fn latin_look_alike(c: char) -> Option<char> {
    Some(match c {
        'а' | 'α' => 'a',
        'в' | 'β' => 'b',
        'с' => 'c',
        'ԁ' => 'd',
        'е' | 'ё' | 'ε' => 'e',
        'һ' | 'н' => 'h',
        'і' | 'ї' | 'ι' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'ӏ' => 'l',
        'м' => 'm',
        'η' => 'n',
        'о' | 'ο' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'ү' | 'γ' => 'y',
        _ => return None,
    })
}

/// Spelled-out contractions, after apostrophes are dropped, so that
/// "what's", "whats" and "what is" compare equal.
const CONTRACTIONS: &[(&str, &str)] = &[
    ("whats", "what is"),
    ("thats", "that is"),
    ("its", "it is"),
    ("hes", "he is"),
    ("shes", "she is"),
    ("theres", "there is"),
    ("heres", "here is"),
    ("hows", "how is"),
    ("wheres", "where is"),
    ("whos", "who is"),
    ("isnt", "is not"),
    ("arent", "are not"),
    ("wasnt", "was not"),
    ("werent", "were not"),
    ("dont", "do not"),
    ("doesnt", "does not"),
    ("didnt", "did not"),
    ("cant", "can not"),
    ("cannot", "can not"),
    ("wont", "will not"),
    ("shouldnt", "should not"),
    ("wouldnt", "would not"),
    ("couldnt", "could not"),
    ("youre", "you are"),
    ("theyre", "they are"),
    ("im", "i am"),
    ("ive", "i have"),
    ("youve", "you have"),
];

/// [`fold`]s the text, then reduces it to words separated by single spaces:
///
/// - apostrophes are dropped (`what's` → `whats`) and common contractions
///   spelled out (`whats` → `what is`, `isn't` → `is not`);
/// - the arithmetic signs `+ = * / × ÷ %` next to a digit (spaces aside)
///   stay, as words of their own, so that `2+2=5` and `2*2=5` stay
///   different (`2 + 2 = 5`, `2 * 2 = 5`); elsewhere (`and/or`, `</system>`)
///   they separate words like other punctuation;
/// - a `.` between digits stays (a decimal point), a `,` before exactly
///   three digits goes (a thousands separator: `1,000` → `1000`), and a `-`
///   starting a number stays (a sign: `-3`, but `5-10` → `5 10`);
/// - every other non-alphanumeric character separates words.
pub fn normalize(text: &str) -> String {
    let chars: Vec<char> = fold(text).chars().collect();
    let digit_at = |i: usize| chars.get(i).is_some_and(|c| c.is_ascii_digit());
    let near_digit = |i: usize| {
        let before = chars[..i].iter().rev().find(|c| **c != ' ');
        let after = chars[i + 1..].iter().find(|c| **c != ' ');
        before.is_some_and(char::is_ascii_digit) || after.is_some_and(char::is_ascii_digit)
    };
    let mut spaced = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        let after_digit = i > 0 && digit_at(i - 1);
        match c {
            c if c.is_alphanumeric() => spaced.push(c),
            '\'' => {}
            '.' if after_digit && digit_at(i + 1) => spaced.push('.'),
            ',' if after_digit && (1..=3).all(|k| digit_at(i + k)) && !digit_at(i + 4) => {}
            '-' if digit_at(i + 1) && (i == 0 || !chars[i - 1].is_alphanumeric()) => spaced.push('-'),
            '+' | '=' | '*' | '/' | '×' | '÷' | '%' if near_digit(i) => {
                spaced.push(' ');
                spaced.push(c);
                spaced.push(' ');
            }
            _ => spaced.push(' '),
        }
    }
    let mut out = String::with_capacity(spaced.len());
    for word in spaced.split_whitespace() {
        let word = CONTRACTIONS.iter().find(|(short, _)| *short == word).map_or(word, |(_, long)| long);
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The positions at which `needle` occurs in `haystack` as consecutive whole
/// words. An empty needle occurs nowhere.
pub fn find_words<'a>(haystack: &'a [&str], needle: &'a [&str]) -> impl Iterator<Item = usize> + 'a {
    let last_start = if needle.is_empty() { 0 } else { (haystack.len() + 1).saturating_sub(needle.len()) };
    (0..last_start).filter(move |&i| haystack[i..i + needle.len()] == *needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_removes_disguises() {
        assert_eq!(fold("ign\u{200B}ore"), "ignore");
        assert_eq!(fold("ＩＧＮＯＲＥ"), "ignore");
        assert_eq!(fold("𝐢𝐠𝐧𝐨𝐫𝐞 𝟐"), "ignore 2");
        assert_eq!(fold("\u{FB01}nal"), "final");
        assert_eq!(fold("it\u{2019}s 2\u{2212}1"), "it's 2-1");
        // Cyrillic і and е inside a Latin word become Latin...
        assert_eq!(fold("іgnorе"), "ignore");
        // ...but Russian words and Greek symbols stay as they are.
        assert_eq!(fold("Привет мир"), "привет мир");
        assert_eq!(fold("Δt"), "δt");
    }

    #[test]
    fn fold_of_ascii_is_lowercasing() {
        // Every ASCII character, alone, inside words and between digits:
        // the shortcut must give what the whole fold gives.
        let all: String = (0u8..128).map(char::from).collect();
        let texts = [all.clone(), all.repeat(3), format!("Ignore {all} 2+2=5, IT'S x"), String::new()];
        for text in texts {
            assert_eq!(fold(&text), fold_unicode(&text));
        }
        assert_eq!(fold("What's 2+2? IGNORE"), "what's 2+2? ignore");
    }

    #[test]
    fn normalize_compares_words() {
        assert_eq!(normalize("  What's the CAPITAL of Australia?!"), "what is the capital of australia");
        assert_eq!(normalize("2+2=5"), "2 + 2 = 5");
        assert_eq!(normalize("It's 1,000.5 or -3, not 5-10"), "it is 1000.5 or -3 not 5 10");
        assert_eq!(normalize("1,2,3"), "1 2 3");
        assert_eq!(normalize("12 / 4 = -3, 50%"), "12 / 4 = -3 50 %");
        assert_eq!(normalize("and/or </system> A+ x=y"), "and or system a x y");
        assert_eq!(normalize("isn't"), "is not");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn find_words_matches_whole_words_only() {
        let hay: Vec<&str> = "the capital is canberra not sydney".split(' ').collect();
        assert_eq!(find_words(&hay, &["canberra"]).collect::<Vec<_>>(), vec![3]);
        assert_eq!(find_words(&hay, &["not", "sydney"]).collect::<Vec<_>>(), vec![4]);
        assert_eq!(find_words(&hay, &["canb"]).count(), 0);
        assert_eq!(find_words(&hay, &[]).count(), 0);
        assert_eq!(find_words(&hay[..1], &["the", "capital"]).count(), 0);
    }
}
