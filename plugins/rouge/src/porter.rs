//! The Porter stemmer exactly as NLTK's `PorterStemmer()` runs it in its
//! default `NLTK_EXTENSIONS` mode, the stemmer behind rouge-score's
//! `use_stemmer=True`.
//!
//! The port keeps NLTK's rule order and its quirks (the irregular-forms
//! table, the `ies`/`ied` special cases, the two-letter `*o` condition, the
//! recursive `alli` rule, the `logi` condition measured on the stem plus
//! `l`), because rouge-score scores are only reproducible with the very
//! same stems. `tests/conformance/porter.tsv` holds NLTK's stems of a few
//! thousand words, checked by this crate's tests.

/// NLTK's table of irregular forms, consulted before any rule.
const IRREGULAR: &[(&str, &str)] = &[
    ("sky", "sky"),
    ("skies", "sky"),
    ("dying", "die"),
    ("lying", "lie"),
    ("tying", "tie"),
    ("news", "news"),
    ("innings", "inning"),
    ("inning", "inning"),
    ("outings", "outing"),
    ("outing", "outing"),
    ("cannings", "canning"),
    ("canning", "canning"),
    ("howe", "howe"),
    ("proceed", "proceed"),
    ("exceed", "exceed"),
    ("succeed", "succeed"),
];

/// The stem of `word`, which must be lowercase ASCII (rouge-score only
/// stems tokens made of `[a-z0-9]`; NLTK would lowercase first).
pub fn stem(word: &str) -> String {
    debug_assert!(!word.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()));
    if let Some((_, stem)) = IRREGULAR.iter().find(|(form, _)| *form == word) {
        return (*stem).to_string();
    }
    if word.len() <= 2 {
        return word.to_string();
    }
    let mut w = word.as_bytes().to_vec();
    step1a(&mut w);
    step1b(&mut w);
    step1c(&mut w);
    step2(&mut w);
    step3(&mut w);
    step4(&mut w);
    step5a(&mut w);
    step5b(&mut w);
    // Every step only removes or appends ASCII letters.
    String::from_utf8(w).expect("ASCII in, ASCII out")
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// Whether `w[i]` is a consonant: a `y` is one exactly when the letter
/// before it is not (or when it starts the word).
fn is_consonant(w: &[u8], mut i: usize) -> bool {
    if is_vowel(w[i]) {
        return false;
    }
    let mut flip = false;
    while i > 0 && w[i] == b'y' {
        flip = !flip;
        i -= 1;
    }
    is_vowel(w[i]) == flip
}

/// Consonant flags of every position, in one pass.
fn consonants(stem: &[u8]) -> impl Iterator<Item = bool> + '_ {
    let mut previous = false;
    stem.iter().enumerate().map(move |(i, &b)| {
        let consonant = if is_vowel(b) {
            false
        } else if b == b'y' {
            i == 0 || !previous
        } else {
            true
        };
        previous = consonant;
        consonant
    })
}

/// Porter's m: the number of vowel-to-consonant transitions.
fn measure(stem: &[u8]) -> usize {
    let mut after_vowel = false;
    let mut m = 0;
    for consonant in consonants(stem) {
        if consonant && after_vowel {
            m += 1;
        }
        after_vowel = !consonant;
    }
    m
}

fn contains_vowel(stem: &[u8]) -> bool {
    consonants(stem).any(|c| !c)
}

/// Condition *d: ends with a double consonant.
fn ends_double_consonant(w: &[u8]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1)
}

/// Condition *o: ends consonant-vowel-consonant, the last not w, x or y;
/// NLTK also accepts a two-letter vowel-consonant word (with any consonant).
fn ends_cvc(w: &[u8]) -> bool {
    let n = w.len();
    (n >= 3
        && is_consonant(w, n - 3)
        && !is_consonant(w, n - 2)
        && is_consonant(w, n - 1)
        && !matches!(w[n - 1], b'w' | b'x' | b'y'))
        || (n == 2 && !is_consonant(w, 0) && is_consonant(w, 1))
}

/// A rule's condition, given the word and the length of its stem (the word
/// without the rule's suffix). Most conditions look at the stem alone; the
/// word is there for the two NLTK rules that measure one letter more.
type Condition = fn(&[u8], usize) -> bool;

/// A suffix, its replacement and the condition under which it applies.
type Rule = (&'static [u8], &'static [u8], Condition);

fn always(_: &[u8], _: usize) -> bool {
    true
}

fn m_gt0(w: &[u8], stem: usize) -> bool {
    measure(&w[..stem]) > 0
}

fn m_gt1(w: &[u8], stem: usize) -> bool {
    measure(&w[..stem]) > 1
}

/// NLTK leaves the `l` of `logi` with the stem so that `geo`, `theo` qualify.
fn logi(w: &[u8], stem: usize) -> bool {
    measure(&w[..stem + 1]) > 0
}

fn ion(w: &[u8], stem: usize) -> bool {
    measure(&w[..stem]) > 1 && matches!(w[stem - 1], b's' | b't')
}

/// Step 5b measures the word less one `l`.
fn double_l(w: &[u8], stem: usize) -> bool {
    measure(&w[..stem + 1]) > 1
}

/// Applies the first rule whose suffix the word ends with, if its condition
/// holds; a failed condition ends the step (later rules are not tried).
fn apply_first(w: &mut Vec<u8>, rules: &[Rule]) {
    for &(suffix, replacement, condition) in rules {
        if w.ends_with(suffix) {
            let stem = w.len() - suffix.len();
            if condition(w, stem) {
                w.truncate(stem);
                w.extend_from_slice(replacement);
            }
            return;
        }
    }
}

fn replace_suffix(w: &mut Vec<u8>, suffix_len: usize, replacement: &[u8]) {
    w.truncate(w.len() - suffix_len);
    w.extend_from_slice(replacement);
}

fn step1a(w: &mut Vec<u8>) {
    // NLTK: `dies` -> `die` but `flies` -> `fli`.
    if w.len() == 4 && w.ends_with(b"ies") {
        replace_suffix(w, 3, b"ie");
        return;
    }
    apply_first(w, &[(b"sses", b"ss", always), (b"ies", b"i", always), (b"ss", b"ss", always), (b"s", b"", always)]);
}

fn step1b(w: &mut Vec<u8>) {
    // NLTK: `died` -> `die` but `spied` -> `spi`.
    if w.ends_with(b"ied") {
        let replacement: &[u8] = if w.len() == 4 { b"ie" } else { b"i" };
        replace_suffix(w, 3, replacement);
        return;
    }
    if w.ends_with(b"eed") {
        if measure(&w[..w.len() - 3]) > 0 {
            w.pop();
        }
        return;
    }
    let Some(suffix) =
        [&b"ed"[..], b"ing"].into_iter().find(|s| w.ends_with(s) && contains_vowel(&w[..w.len() - s.len()]))
    else {
        return;
    };
    w.truncate(w.len() - suffix.len());
    if w.ends_with(b"at") || w.ends_with(b"bl") || w.ends_with(b"iz") {
        w.push(b'e');
    } else if ends_double_consonant(w) {
        if !matches!(w[w.len() - 1], b'l' | b's' | b'z') {
            w.pop();
        }
    } else if measure(w) == 1 && ends_cvc(w) {
        w.push(b'e');
    }
}

fn step1c(w: &mut Vec<u8>) {
    // NLTK turns y into i only after a consonant that is not the whole stem.
    fn consonant_before(w: &[u8], stem: usize) -> bool {
        stem > 1 && is_consonant(w, stem - 1)
    }
    apply_first(w, &[(b"y", b"i", consonant_before)]);
}

const STEP2: &[Rule] = &[
    (b"ational", b"ate", m_gt0),
    (b"tional", b"tion", m_gt0),
    (b"enci", b"ence", m_gt0),
    (b"anci", b"ance", m_gt0),
    (b"izer", b"ize", m_gt0),
    (b"bli", b"ble", m_gt0),
    (b"alli", b"al", m_gt0),
    (b"entli", b"ent", m_gt0),
    (b"eli", b"e", m_gt0),
    (b"ousli", b"ous", m_gt0),
    (b"ization", b"ize", m_gt0),
    (b"ation", b"ate", m_gt0),
    (b"ator", b"ate", m_gt0),
    (b"alism", b"al", m_gt0),
    (b"iveness", b"ive", m_gt0),
    (b"fulness", b"ful", m_gt0),
    (b"ousness", b"ous", m_gt0),
    (b"aliti", b"al", m_gt0),
    (b"iviti", b"ive", m_gt0),
    (b"biliti", b"ble", m_gt0),
    (b"fulli", b"ful", m_gt0),
    (b"logi", b"log", logi),
];

fn step2(w: &mut Vec<u8>) {
    // NLTK applies `alli` -> `al` first and then runs step 2 again.
    if w.ends_with(b"alli") && measure(&w[..w.len() - 4]) > 0 {
        w.truncate(w.len() - 2);
        return step2(w);
    }
    apply_first(w, STEP2);
}

fn step3(w: &mut Vec<u8>) {
    apply_first(
        w,
        &[
            (b"icate", b"ic", m_gt0),
            (b"ative", b"", m_gt0),
            (b"alize", b"al", m_gt0),
            (b"iciti", b"ic", m_gt0),
            (b"ical", b"ic", m_gt0),
            (b"ful", b"", m_gt0),
            (b"ness", b"", m_gt0),
        ],
    );
}

const STEP4: &[Rule] = &[
    (b"al", b"", m_gt1),
    (b"ance", b"", m_gt1),
    (b"ence", b"", m_gt1),
    (b"er", b"", m_gt1),
    (b"ic", b"", m_gt1),
    (b"able", b"", m_gt1),
    (b"ible", b"", m_gt1),
    (b"ant", b"", m_gt1),
    (b"ement", b"", m_gt1),
    (b"ment", b"", m_gt1),
    (b"ent", b"", m_gt1),
    (b"ion", b"", ion),
    (b"ou", b"", m_gt1),
    (b"ism", b"", m_gt1),
    (b"ate", b"", m_gt1),
    (b"iti", b"", m_gt1),
    (b"ous", b"", m_gt1),
    (b"ive", b"", m_gt1),
    (b"ize", b"", m_gt1),
];

fn step4(w: &mut Vec<u8>) {
    apply_first(w, STEP4);
}

fn step5a(w: &mut Vec<u8>) {
    // Both rules for a final e are tried, unlike in the other steps.
    if w.ends_with(b"e") {
        let stem = &w[..w.len() - 1];
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            w.pop();
        }
    }
}

fn step5b(w: &mut Vec<u8>) {
    apply_first(w, &[(b"ll", b"l", double_l)]);
}

#[cfg(test)]
mod tests {
    use super::stem;

    /// NLTK's stem of every word of `tests/conformance/porter.tsv`.
    #[test]
    fn matches_nltk_on_the_word_list() {
        let list = include_str!("../../../tests/conformance/porter.tsv");
        let mut checked = 0;
        let mut wrong = Vec::new();
        for line in list.lines().filter(|l| !l.starts_with('#')) {
            let (word, expected) = line.split_once('\t').expect("word<TAB>stem");
            if stem(word) != expected {
                wrong.push(format!("{word}: got {}, NLTK {expected}", stem(word)));
            }
            checked += 1;
        }
        assert!(checked > 3000, "the word list is too short: {checked}");
        assert!(wrong.is_empty(), "{} of {checked} stems differ:\n{}", wrong.len(), wrong.join("\n"));
    }

    /// Stems printed by NLTK's `PorterStemmer().stem`.
    #[test]
    fn special_cases() {
        for (word, expected) in [
            ("news", "news"),
            ("skies", "sky"),
            ("dying", "die"),
            ("succeed", "succeed"),
            ("dies", "die"),
            ("flies", "fli"),
            ("died", "die"),
            ("spied", "spi"),
            ("agreed", "agre"),
            ("hopping", "hop"),
            ("falling", "fall"),
            ("filing", "file"),
            ("happy", "happi"),
            ("enjoy", "enjoy"),
            ("radically", "radic"),
            ("geology", "geolog"),
            ("controlling", "control"),
            ("yyyy", "yyyi"),
            ("at", "at"),
        ] {
            assert_eq!(stem(word), expected, "{word}");
        }
    }
}
