//! Text normalization shared by plugins that must agree to the letter with
//! a reference implementation.

/// The answer normalization of the official SQuAD v1.1 evaluation script:
/// lowercase, drop ASCII punctuation, drop the articles `a`, `an`, `the`
/// (as whole words, as Python's Unicode `\b` sees them), collapse whitespace.
pub fn squad_normalize(text: &str) -> String {
    let lowered: String = text.to_lowercase().chars().filter(|c| !c.is_ascii_punctuation()).collect();
    let mut without_articles = String::with_capacity(lowered.len());
    let mut word = String::new();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let flush = |word: &mut String, out: &mut String| {
        if matches!(word.as_str(), "a" | "an" | "the") {
            out.push(' ');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in lowered.chars() {
        if is_word(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut without_articles);
            without_articles.push(c);
        }
    }
    flush(&mut word, &mut without_articles);
    without_articles.split(is_python_whitespace).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Python's `str.split()` also splits on the ASCII information separators
/// U+001C to U+001F, which Unicode does not call white space.
fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::squad_normalize;

    #[test]
    fn matches_the_squad_script() {
        // Expected values computed with the SQuAD v1.1 `normalize_answer`.
        assert_eq!(squad_normalize("The  Eiffel Tower!"), "eiffel tower");
        assert_eq!(squad_normalize("an apple, a pear"), "apple pear");
        assert_eq!(squad_normalize("Theatre"), "theatre");
        assert_eq!(squad_normalize("the’s"), "’s");
        assert_eq!(squad_normalize("Ça   va"), "ça va");
        assert_eq!(squad_normalize(""), "");
        assert_eq!(squad_normalize("a\u{1f}b"), "b");
        assert_eq!(squad_normalize("x\u{1c}y\u{85}z"), "x y z");
    }
}
