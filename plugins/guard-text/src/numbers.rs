//! Numbers written in English words ("twenty-one", "one hundred and five",
//! "three point five"), for guards that must see "four" and "4" as one claim.

/// A number read from words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WordNumber {
    pub value: f64,
    /// Digits after "point", as in "one point five" (1).
    pub decimals: u32,
    /// How many words it took.
    pub len: usize,
}

const UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
const SCALES: [(&str, f64); 4] = [("thousand", 1e3), ("million", 1e6), ("billion", 1e9), ("trillion", 1e12)];

fn unit(word: &str) -> Option<u32> {
    UNITS.iter().position(|u| *u == word).map(|i| i as u32)
}

fn tens(word: &str) -> Option<u32> {
    TENS.iter().position(|t| *t == word).map(|i| 20 + 10 * i as u32)
}

fn scale(word: &str) -> Option<f64> {
    SCALES.iter().find(|(s, _)| *s == word).map(|(_, v)| *v)
}

#[derive(Clone, Copy, PartialEq)]
enum Last {
    Start,
    Small,
    Tens,
    Hundred,
    Scale,
}

/// Reads the number that the words at the start of `words` spell, each word
/// lowercase and without hyphens ("twenty-one" arrives as two words). Reads
/// as far as the words still form one number, so "two two" reads 2 and
/// "twenty twenty" reads 20; "zero" stands only alone.
pub fn parse_words(words: &[&str]) -> Option<WordNumber> {
    let mut total = 0.0;
    let mut group = 0.0;
    let mut last = Last::Start;
    let mut last_scale = f64::INFINITY;
    let mut len = 0;
    let mut i = 0;
    while let Some(&word) = words.get(i) {
        let starts_group = matches!(last, Last::Start | Last::Hundred | Last::Scale);
        if let Some(u) = unit(word) {
            let ok = match last {
                _ if u == 0 => last == Last::Start,
                Last::Tens => u < 10,
                _ => starts_group,
            };
            if !ok {
                break;
            }
            group += f64::from(u);
            last = Last::Small;
            if u == 0 {
                len = i + 1;
                break;
            }
        } else if let Some(t) = tens(word) {
            if !starts_group {
                break;
            }
            group += f64::from(t);
            last = Last::Tens;
        } else if word == "hundred" {
            if !matches!(last, Last::Small | Last::Tens) || group >= 100.0 {
                break;
            }
            group *= 100.0;
            last = Last::Hundred;
        } else if let Some(s) = scale(word) {
            if !matches!(last, Last::Small | Last::Tens | Last::Hundred) || s >= last_scale {
                break;
            }
            total += group * s;
            group = 0.0;
            last_scale = s;
            last = Last::Scale;
        } else if word == "and" && matches!(last, Last::Hundred | Last::Scale) {
            // "one hundred and five": only when a number word follows.
            match words.get(i + 1) {
                Some(next) if unit(next).is_some_and(|u| u > 0) || tens(next).is_some() => {
                    i += 1;
                    continue;
                }
                _ => break,
            }
        } else if word == "point" && last != Last::Start {
            let digits: Vec<u32> = words[i + 1..].iter().map_while(|w| unit(w).filter(|&u| u < 10)).collect();
            if digits.is_empty() {
                break;
            }
            let fraction = digits.iter().rev().fold(0.0, |acc, &d| (acc + f64::from(d)) / 10.0);
            return Some(WordNumber {
                value: total + group + fraction,
                decimals: digits.len() as u32,
                len: i + 1 + digits.len(),
            });
        } else {
            break;
        }
        i += 1;
        len = i;
    }
    (len > 0).then_some(WordNumber { value: total + group, decimals: 0, len })
}

/// Words after which "one" means a thing, not a number ("the one I meant").
const ONE_AS_PRONOUN_AFTER: &[&str] =
    &["the", "this", "that", "which", "each", "every", "any", "no", "another", "other"];

/// Rewrites number words in a [`normalize`](crate::normalize)d text as
/// digits: "it is twenty one" → "it is 21".
pub fn words_to_digits(normalized: &str) -> String {
    let words: Vec<&str> = normalized.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let pronoun = words[i] == "one" && i > 0 && ONE_AS_PRONOUN_AFTER.contains(&words[i - 1]);
        match parse_words(&words[i..]).filter(|_| !pronoun) {
            Some(number) => {
                out.push(format_number(number.value));
                i += number.len;
            }
            None => {
                out.push(words[i].to_string());
                i += 1;
            }
        }
    }
    out.join(" ")
}

/// A number for people and for comparing texts: integers without a decimal
/// point, others to ten significant digits without trailing zeros (so
/// 0.1 + 0.2 shows as `0.3`).
pub fn format_number(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    if !value.is_finite() || value.abs() >= 1e15 {
        return format!("{value}");
    }
    let decimals = (9 - value.abs().log10().floor() as i32).clamp(0, 15) as usize;
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    if text == "-0" { "0".into() } else { text.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<(f64, usize)> {
        let words: Vec<&str> = text.split(' ').collect();
        parse_words(&words).map(|n| (n.value, n.len))
    }

    #[test]
    fn reads_number_words() {
        assert_eq!(read("five"), Some((5.0, 1)));
        assert_eq!(read("twenty one"), Some((21.0, 2)));
        assert_eq!(read("one hundred"), Some((100.0, 2)));
        assert_eq!(read("one hundred and five apples"), Some((105.0, 4)));
        assert_eq!(read("three thousand two hundred forty two"), Some((3242.0, 6)));
        assert_eq!(read("two million five thousand"), Some((2_005_000.0, 4)));
        assert_eq!(read("nineteen hundred"), Some((1900.0, 2)));
        assert_eq!(read("one point five"), Some((1.5, 3)));
        assert_eq!(read("zero"), Some((0.0, 1)));
    }

    #[test]
    fn stops_where_the_number_ends() {
        assert_eq!(read("two two"), Some((2.0, 1)));
        assert_eq!(read("twenty twenty"), Some((20.0, 1)));
        assert_eq!(read("five and six"), Some((5.0, 1)));
        assert_eq!(read("one hundred and"), Some((100.0, 2)));
        assert_eq!(read("thousand"), None);
        assert_eq!(read("one thousand thousand"), Some((1000.0, 2)));
        assert_eq!(read("seven point"), Some((7.0, 1)));
        assert_eq!(read("plus"), None);
    }

    #[test]
    fn rewrites_words_as_digits() {
        assert_eq!(words_to_digits("it is four"), "it is 4");
        assert_eq!(words_to_digits("twenty one or one hundred and five"), "21 or 105");
        assert_eq!(words_to_digits("the one on the left is one"), "the one on the left is 1");
        assert_eq!(words_to_digits(""), "");
    }

    #[test]
    fn formats_numbers_tidily() {
        assert_eq!(format_number(4.0), "4");
        assert_eq!(format_number(-4.5), "-4.5");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(10.0 / 3.0), "3.333333333");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(299_792_458.0), "299792458");
    }
}
