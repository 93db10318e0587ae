//! Text normalization shared by plugins that must agree to the letter with
//! a reference implementation, and the two settings that let a team depart
//! from it for its language: `locale` (casing) and `unicode` (normalization
//! form). Both default to what the references do, so default numbers and
//! signatures stay those of the references.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick, is_nfkc_quick};

use crate::Setting;
use crate::evaluator::Sample;

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

/// The Unicode normalization form texts are put in before they are compared.
///
/// The same letter may be written precomposed (`é`, U+00E9) or decomposed
/// (`e` and U+0301), and the reference implementations compare code points,
/// so the two differ. `nfc` composes (the form nearly all text is written
/// in); `nfkc` also folds compatibility forms (full-width `Ａ` to `A`, `ﬁ`
/// to `fi`, superscript `²` to `2`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnicodeForm {
    /// Compare code points as given, as the reference implementations do.
    #[default]
    None,
    Nfc,
    Nfkc,
}

impl UnicodeForm {
    /// The form a plugin uses when its configuration gives `unicode` as
    /// `given` and its locale as `locale`: what was given, else NFC under a
    /// chosen locale (a team that names its language wants its letters to
    /// match however they were typed) and no normalization without one
    /// (the reference implementations' behaviour).
    pub fn resolve(given: Option<UnicodeForm>, locale: Locale) -> UnicodeForm {
        given.unwrap_or(if locale == Locale::Unicode { UnicodeForm::None } else { UnicodeForm::Nfc })
    }

    /// The name signatures give it, or `None` when texts are not normalized.
    pub fn name(self) -> Option<&'static str> {
        match self {
            UnicodeForm::None => None,
            UnicodeForm::Nfc => Some("nfc"),
            UnicodeForm::Nfkc => Some("nfkc"),
        }
    }

    /// `text` in this form; borrowed when it already is (the usual case,
    /// told by the quick check without allocating).
    pub fn apply(self, text: &str) -> Cow<'_, str> {
        match self {
            UnicodeForm::None => Cow::Borrowed(text),
            UnicodeForm::Nfc if is_nfc_quick(text.chars()) == IsNormalized::Yes => Cow::Borrowed(text),
            UnicodeForm::Nfkc if is_nfkc_quick(text.chars()) == IsNormalized::Yes => Cow::Borrowed(text),
            UnicodeForm::Nfc => Cow::Owned(text.nfc().collect()),
            UnicodeForm::Nfkc => Cow::Owned(text.nfkc().collect()),
        }
    }

    /// `sample` with its output and references in this form, so that a
    /// plugin applies its `unicode` setting in one place; borrowed when the
    /// form is `none`.
    pub fn sample(self, sample: &Sample) -> Cow<'_, Sample> {
        if self == UnicodeForm::None {
            return Cow::Borrowed(sample);
        }
        Cow::Owned(Sample {
            output: self.apply(&sample.output).into_owned(),
            references: sample.references.iter().map(|r| self.apply(r).into_owned()).collect(),
            ..sample.clone()
        })
    }
}

/// The signature settings of a plugin's `locale` and `unicode`: only those
/// away from the default, so default signatures stay as they were.
pub fn text_settings(locale: Locale, unicode: UnicodeForm) -> Vec<Setting> {
    let mut settings = Vec::new();
    settings.extend(locale.name().map(|name| Setting::new("locale", name)));
    settings.extend(unicode.name().map(|name| Setting::new("unicode", name)));
    settings
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
    use super::{Locale, UnicodeForm, squad_normalize, squad_normalize_in, text_settings};

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
    fn unicode_forms_compose_and_fold_only_when_asked() {
        let decomposed = "Cafe\u{301} I\u{307}zmir ﬁ ²";
        assert_eq!(UnicodeForm::None.apply(decomposed), decomposed);
        assert_eq!(UnicodeForm::Nfc.apply(decomposed), "Café İzmir ﬁ ²");
        assert_eq!(UnicodeForm::Nfkc.apply(decomposed), "Café İzmir fi 2");
        assert_eq!(UnicodeForm::Nfkc.apply("ＡＢＣ１２３"), "ABC123");
        assert!(matches!(UnicodeForm::Nfc.apply("already composed é"), std::borrow::Cow::Borrowed(_)));
        // Under a chosen locale NFC is the default; without one, nothing is.
        assert_eq!(UnicodeForm::resolve(None, Locale::Unicode), UnicodeForm::None);
        assert_eq!(UnicodeForm::resolve(None, Locale::Tr), UnicodeForm::Nfc);
        assert_eq!(UnicodeForm::resolve(Some(UnicodeForm::None), Locale::Tr), UnicodeForm::None);
        assert_eq!(UnicodeForm::resolve(Some(UnicodeForm::Nfkc), Locale::Unicode), UnicodeForm::Nfkc);
        let names = |settings: Vec<crate::Setting>| {
            settings.into_iter().map(|s| format!("{}:{}", s.key, s.value)).collect::<Vec<_>>().join("|")
        };
        assert_eq!(names(text_settings(Locale::Unicode, UnicodeForm::None)), "");
        assert_eq!(names(text_settings(Locale::Tr, UnicodeForm::Nfc)), "locale:tr|unicode:nfc");
        assert!(serde_json::from_str::<UnicodeForm>("\"nfd\"").is_err());
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
