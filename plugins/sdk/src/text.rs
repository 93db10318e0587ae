//! Text normalization shared by plugins that must agree to the letter with
//! a reference implementation.

/// How letters are put in lower case before texts are compared.
///
/// Unicode's default mapping (Python's `str.lower()`, what the reference
/// implementations use) lowers `İ` to `i̇` (i and a combining dot) and `I`
/// to `i`: right for English, wrong for Turkish and Azerbaijani, where the
/// dotted and dotless i are two letters. A plugin takes a `locale` setting
/// so that a team can ask for its language's casing; the default stays
/// Unicode's, so no existing number changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Locale {
    #[default]
    Unicode,
    /// Turkish: `İ` lowers to `i`, `I` to `ı`.
    Tr,
    /// Azerbaijani, cased as Turkish.
    Az,
}

impl Locale {
    /// The name a configuration gives it, or `None` for Unicode's default
    /// (which signatures leave out, so they stay as they were).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Locale::Unicode => None,
            Locale::Tr => Some("tr"),
            Locale::Az => Some("az"),
        }
    }

    /// `text` in lower case, as this locale writes it. Turkish and
    /// Azerbaijani first map `İ` (and `I` followed by a combining dot above)
    /// to `i` and `I` to `ı`, as ICU does for them; every other letter is
    /// lowered as Unicode's default does, context (final sigma) included.
    pub fn lowercase(self, text: &str) -> String {
        if self == Locale::Unicode || !text.contains(['I', 'İ']) {
            return text.to_lowercase();
        }
        let mut cased = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                'İ' => cased.push('i'),
                'I' if chars.peek() == Some(&'\u{307}') => {
                    chars.next();
                    cased.push('i');
                }
                'I' => cased.push('ı'),
                c => cased.push(c),
            }
        }
        cased.to_lowercase()
    }
}

impl<'de> serde::Deserialize<'de> for Locale {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.as_str() {
            "tr" => Ok(Locale::Tr),
            "az" => Ok(Locale::Az),
            "" | "und" => Ok(Locale::Unicode),
            other => Err(serde::de::Error::custom(format!(
                "unknown locale {other:?}: \"tr\" (Turkish) and \"az\" (Azerbaijani) change how letters are cased; \
                 leave it out for Unicode's default casing, right for every other language"
            ))),
        }
    }
}

/// The answer normalization of the official SQuAD v1.1 evaluation script:
/// lowercase, drop ASCII punctuation, drop the articles `a`, `an`, `the`
/// (as whole words, as Python's Unicode `\b` sees them), collapse whitespace.
pub fn squad_normalize(text: &str) -> String {
    squad_normalize_in(text, Locale::Unicode)
}

/// [`squad_normalize`] with `locale`'s lower case.
pub fn squad_normalize_in(text: &str, locale: Locale) -> String {
    let lowered: String = locale.lowercase(text).chars().filter(|c| !c.is_ascii_punctuation()).collect();
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
    use super::{Locale, squad_normalize, squad_normalize_in};

    #[test]
    fn turkish_casing_keeps_dotted_and_dotless_i_apart() {
        for locale in [Locale::Tr, Locale::Az] {
            assert_eq!(locale.lowercase("İSTANBUL"), "istanbul");
            assert_eq!(locale.lowercase("ISPARTA"), "ısparta");
            assert_eq!(locale.lowercase("IĞDIR ılık İĞNE iğne"), "ığdır ılık iğne iğne");
            // I with a combining dot above is the dotted capital, decomposed.
            assert_eq!(locale.lowercase("I\u{307}ZMI\u{307}R"), "izmir");
            assert_eq!(locale.lowercase("ΣΟΦΟΣ Işık"), "σοφο\u{3c2} ışık", "final sigma as Unicode lowers it");
        }
        // Unicode's default: İ becomes i and a combining dot, I becomes i.
        assert_eq!(Locale::Unicode.lowercase("İSTANBUL"), "i\u{307}stanbul");
        assert_eq!(Locale::Unicode.lowercase("ISPARTA"), "isparta");
        // Every combination of the four letters, in both casings.
        let unicode = ["i", "i", "ı", "i\u{307}"];
        let turkish = ["i", "ı", "ı", "i"];
        for (k, letter) in ["i", "I", "ı", "İ"].iter().enumerate() {
            assert_eq!(Locale::Unicode.lowercase(letter), unicode[k], "{letter}");
            assert_eq!(Locale::Tr.lowercase(letter), turkish[k], "{letter}");
        }
        // English text without either capital is cased alike.
        assert_eq!(Locale::Tr.lowercase("The Eiffel Tower"), Locale::Unicode.lowercase("The Eiffel Tower"));
        assert_eq!(squad_normalize_in("İSTANBUL'un", Locale::Tr), squad_normalize_in("istanbulun", Locale::Tr));
        assert_ne!(squad_normalize("İSTANBUL"), squad_normalize("istanbul"), "the default stays Python's");
    }

    #[test]
    fn locales_are_named_or_refused() {
        let parse = |text: &str| serde_json::from_str::<Locale>(text);
        assert_eq!(parse("\"tr\"").unwrap(), Locale::Tr);
        assert_eq!(parse("\"az\"").unwrap().name(), Some("az"));
        assert_eq!(parse("\"und\"").unwrap().name(), None);
        assert!(parse("\"de\"").unwrap_err().to_string().contains("unknown locale \"de\""));
    }

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
