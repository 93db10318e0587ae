//! `arithmetic`: rejects feedback that asserts false arithmetic ("2+2=5").
//!
//! A claim is two expressions joined by a connector that asserts equality:
//! `=`, `is`, `equals`, `makes`, `gives`, `it's`, or a question mark
//! followed by an answer ("what's 7 times 6? it's 42"), with filler words
//! such as "obviously" or "the answer" allowed in between. Negated
//! connectors (`≠`, `is not`, `doesn't equal`) make a claim of inequality.
//! Expressions use numbers (digits, decimals, `1,000`, English number words
//! up to trillions), `+ - * /`, `× ÷`, `x` and the words plus, minus, times,
//! multiplied by, divided by, with parentheses and the usual precedence.
//! One side must hold an operator: "the answer is 5" claims nothing.
//!
//! The guard reads the correction and the comment. A correction that is a
//! bare answer ("5", "it's 5") to a prompt that is a bare arithmetic
//! question ("What is 2+2?") claims the two are equal. With `endorsements`
//! on, a thumbs-up on an output that makes a false claim (or bare-answers
//! the prompt wrongly) is treated as claiming it too.
//!
//! Not claims, so never rejected: dates, phone numbers and versions
//! (`2024-05-01`, `555-123-4567`, `v2.0`, `1.2.3`), times and ratios
//! written with `:`, ranges and fractions not followed by a connector
//! ("5-10 minutes", "1/2 cup"), results followed by a unit ("1/2 = 8
//! tablespoons"), questions ("is 2+2=5?"), quotations ("the model said
//! 2+2=5", "if 2+2=5 then..."), claims called wrong ("2+2=5 is wrong"),
//! left sides that are undefined (division by zero) or hold a percentage,
//! and expressions of more than 64 tokens.
//! A decimal result counts as true when it is the true value rounded or cut
//! off to the digits written ("10/3 = 3.33").

use assay_guard_text::fold;
use assay_guard_text::numbers::{format_number, parse_words};
use assay_sdk::guard::{Decision, Feedback, Guard, Rating, Scope};
use assay_sdk::{PluginInfo, Setting};

#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Relative tolerance when comparing the two sides:
    /// `|a - b| <= tolerance * max(1, |a|, |b|)`. Default `1e-9`.
    tolerance: f64,
    /// Also reject a thumbs-up on an output that makes a false claim.
    /// Default `true`.
    endorsements: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { tolerance: 1e-9, endorsements: true }
    }
}

pub struct Arithmetic {
    tolerance: f64,
    endorsements: bool,
}

impl Guard for Arithmetic {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("arithmetic", "Rejects feedback that asserts false arithmetic, such as 2+2=5")
    }

    /// Each decision reads the record alone, so runs may be sharded.
    fn scope() -> Scope {
        Scope::Record
    }

    fn new(config: Config) -> Result<Self, String> {
        if !(config.tolerance.is_finite() && (0.0..1.0).contains(&config.tolerance)) {
            return Err(format!("`tolerance` must be at least 0 and below 1, not {}", config.tolerance));
        }
        Ok(Arithmetic { tolerance: config.tolerance, endorsements: config.endorsements })
    }

    fn settings(&self) -> Vec<Setting> {
        vec![Setting::new("tolerance", self.tolerance), Setting::new("endorsements", self.endorsements)]
    }

    fn screen(&mut self, record: &Feedback) -> Result<Decision, String> {
        let prompt = tokenize(&record.prompt);
        let mut problems = Vec::new();
        let mut report = |subject: &str, claims: Vec<Claim>| {
            for claim in claims {
                if let Some(falsehood) = self.falsehood(&claim) {
                    let problem = format!("{subject} {falsehood}");
                    if !problems.contains(&problem) {
                        problems.push(problem);
                    }
                }
            }
        };
        if let Some(correction) = &record.correction {
            report("correction", claims_in(&prompt, &tokenize(correction)));
        }
        if let Some(comment) = &record.comment {
            report("comment", find_claims(&tokenize(comment)));
        }
        if self.endorsements && matches!(record.rating, Some(Rating::Up)) {
            report("endorses an output that", claims_in(&prompt, &tokenize(&record.output)));
        }
        Ok(if problems.is_empty() { Decision::accept() } else { Decision::reject(problems.join("; ")).with_risk(1.0) })
    }
}

assay_sdk::export_guard!(Arithmetic);

impl Arithmetic {
    /// "claims 2+2=5, but 2+2=4" when the claim is false.
    fn falsehood(&self, claim: &Claim) -> Option<String> {
        let lhs = evaluate(&claim.lhs).filter(|v| !v.percent && v.value.is_finite())?;
        let rhs = evaluate(&claim.rhs).filter(|v| v.value.is_finite())?;
        let scale = lhs.value.abs().max(rhs.value.abs()).max(1.0);
        let diff = (lhs.value - rhs.value).abs();
        let decimals = written_decimals(&claim.rhs);
        let rounded = decimals > 0 && diff < 10f64.powi(-(decimals as i32));
        let equal = diff <= self.tolerance * scale || rounded;
        if equal != claim.negated {
            return None;
        }
        let (left, right) = (render(&claim.lhs), render(&claim.rhs));
        let sign = if claim.negated { "≠" } else { "=" };
        let truth = if claim.negated {
            format!("{left}={right}")
        } else if has_operator(&claim.lhs) {
            format!("{left}={}", format_number(lhs.value))
        } else {
            format!("{right}={}", format_number(rhs.value))
        };
        Some(format!("claims {left}{sign}{right}, but {truth}"))
    }
}

/// The decimal places of a result written as one number, counting a
/// percentage's two: people round `10/3` to `3.33` and `2/3` to `67%`.
fn written_decimals(toks: &[Tok]) -> u32 {
    match toks {
        [Tok::Num { decimals, percent, .. }] | [Tok::Op('-') | Tok::Neg, Tok::Num { decimals, percent, .. }] => {
            decimals + if *percent { 2 } else { 0 }
        }
        _ => 0,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num {
        value: f64,
        decimals: u32,
        percent: bool,
    },
    /// A binary operator, `+ - * /`; `-` is also unary.
    Op(char),
    /// The word "negative": a unary minus only.
    Neg,
    Open,
    Close,
    /// A connector asserting that its two sides are equal, or unequal.
    Eq {
        negated: bool,
    },
    Question,
    Comma,
    /// The end of a statement (`. ! ; :`) or a character no claim contains.
    Stop(char),
    Word(String),
}

impl Tok {
    fn in_expression(&self) -> bool {
        matches!(self, Tok::Num { .. } | Tok::Op(_) | Tok::Neg | Tok::Open | Tok::Close)
    }

    fn word(&self) -> Option<&str> {
        match self {
            Tok::Word(w) => Some(w),
            _ => None,
        }
    }
}

/// Splits text into tokens: symbols, numbers (digits or words), operator
/// words and connectors.
fn tokenize(text: &str) -> Vec<Tok> {
    combine_words(lex(&fold(text)))
}

fn lex(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or(' ');
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            i = lex_number(&chars, i, &mut toks);
            continue;
        }
        if c.is_alphabetic() {
            let start = i;
            while at(i).is_alphanumeric() || (matches!(at(i), '\'' | '.') && at(i + 1).is_alphanumeric()) {
                i += 1;
            }
            toks.push(Tok::Word(chars[start..i].iter().collect()));
            // "twenty-one" is two words, never a subtraction.
            if at(i) == '-' && at(i + 1).is_alphabetic() {
                i += 1;
            }
            continue;
        }
        toks.push(match c {
            '+' => Tok::Op('+'),
            '-' => Tok::Op('-'),
            '*' | '×' | '·' => Tok::Op('*'),
            '/' | '÷' => Tok::Op('/'),
            '(' | '[' => Tok::Open,
            ')' | ']' => Tok::Close,
            '=' => {
                while at(i + 1) == '=' {
                    i += 1;
                }
                Tok::Eq { negated: false }
            }
            '!' if at(i + 1) == '=' => {
                i += 1;
                Tok::Eq { negated: true }
            }
            '≠' => Tok::Eq { negated: true },
            '?' => Tok::Question,
            ',' => Tok::Comma,
            c if c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '$' | '€' | '£') => {
                i += 1;
                continue;
            }
            c => Tok::Stop(c),
        });
        i += 1;
    }
    toks
}

/// Lexes the number starting at `start` (a digit) and returns where it ends.
/// Digit groups that only look like arithmetic become words: dates, phone
/// numbers and versions (`2024-05-01`, `555-123-4567`, `1.2.3`), times and
/// ratios (`10:30`, `16:9`), and numbers with letters after them (`5th`,
/// `10am`), except `3x4`, which is a product. (Letters before a number
/// make it part of a word such as `v2` when [`lex`] reads the word.)
fn lex_number(chars: &[char], start: usize, toks: &mut Vec<Tok>) -> usize {
    let at = |i: usize| chars.get(i).copied().unwrap_or(' ');
    let digits_from = |mut i: usize| {
        while at(i).is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = digits_from(start);
    for sep in ['-', '/', '.', ':'] {
        let mut j = i;
        let mut groups = 0;
        while at(j) == sep && at(j + 1).is_ascii_digit() {
            j = digits_from(j + 1);
            groups += 1;
        }
        if groups >= 2 || (sep == ':' && groups == 1) {
            toks.push(Tok::Word(chars[start..j].iter().collect()));
            return j;
        }
    }
    while at(i) == ',' && (1..=3).all(|k| at(i + k).is_ascii_digit()) && !at(i + 4).is_ascii_digit() {
        i += 4;
    }
    let mut decimals = 0;
    if at(i) == '.' && at(i + 1).is_ascii_digit() {
        let end = digits_from(i + 1);
        decimals = (end - i - 1) as u32;
        i = end;
    }
    let text: String = chars[start..i].iter().filter(|&&c| c != ',').collect();
    if at(i).is_alphabetic() && !(at(i) == 'x' && at(i + 1).is_ascii_digit()) {
        let end = word_end(chars, i);
        toks.push(Tok::Word(chars[start..end].iter().collect()));
        return end;
    }
    let percent = at(i) == '%';
    toks.push(Tok::Num { value: text.parse().unwrap_or(f64::NAN), decimals, percent });
    if percent {
        i += 1;
    }
    if at(i) == 'x' {
        toks.push(Tok::Op('*'));
        i += 1;
    }
    i
}

fn word_end(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| c.is_alphanumeric() || *c == '.') {
        i += 1;
    }
    i
}

/// More words than any number people spell out, so that reading numbers
/// stays linear in the length of the text.
const MAX_NUMBER_WORDS: usize = 24;

/// Turns words into numbers, operators and connectors.
fn combine_words(raw: Vec<Tok>) -> Vec<Tok> {
    let mut toks: Vec<Tok> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let word = |k: usize| raw.get(k).and_then(Tok::word).unwrap_or("");
        let words: Vec<&str> = raw[i..].iter().take(MAX_NUMBER_WORDS).map_while(Tok::word).collect();
        if let Some(number) = parse_words(&words) {
            let percent = word(i + number.len) == "percent";
            toks.push(Tok::Num { value: number.value, decimals: number.decimals, percent });
            i += number.len + usize::from(percent);
            continue;
        }
        let (tok, len) = match (word(i), word(i + 1)) {
            ("percent", _) if matches!(toks.last(), Some(Tok::Num { .. })) => {
                if let Some(Tok::Num { percent, .. }) = toks.last_mut() {
                    *percent = true;
                }
                i += 1;
                continue;
            }
            ("plus", _) => (Tok::Op('+'), 1),
            ("minus", _) => (Tok::Op('-'), 1),
            ("times", _) => (Tok::Op('*'), 1),
            ("multiplied", "by") => (Tok::Op('*'), 2),
            ("divided", "by") => (Tok::Op('/'), 2),
            ("negative", _) => (Tok::Neg, 1),
            ("not", "equal" | "equals") | ("doesn't" | "doesnt", "equal") => (Tok::Eq { negated: true }, 2),
            ("isn't" | "isnt" | "aren't" | "arent", _) => (Tok::Eq { negated: true }, 1),
            (w, "not") if listed(EQUALS, w) => (Tok::Eq { negated: true }, 2),
            (w, _) if listed(EQUALS, w) => (Tok::Eq { negated: false }, 1),
            _ => (raw[i].clone(), 1),
        };
        toks.push(tok);
        i += len;
    }
    // `x` multiplies only between two operands: "3 x 4", not "solve for x".
    for k in 1..toks.len().saturating_sub(1) {
        let between =
            matches!(toks[k - 1], Tok::Num { .. } | Tok::Close) && matches!(toks[k + 1], Tok::Num { .. } | Tok::Open);
        if between && toks[k].word() == Some("x") {
            toks[k] = Tok::Op('*');
        }
    }
    toks
}

/// Whether `word` is one of the words of `list`. The lists are arrays, not
/// space-separated strings, because this runs for every word of every text
/// the guard reads: splitting the lists again each time was a tenth of the
/// five built-in guards' time together.
fn listed(list: &[&str], word: &str) -> bool {
    list.contains(&word)
}

/// Words asserting that what comes before equals what comes after.
const EQUALS: &[&str] =
    &["is", "are", "was", "be", "equals", "equal", "makes", "make", "gives", "give", "it's", "its", "that's", "thats"];

/// Words that may stand between a claim's sides without changing it.
const FILLERS: &[&str] = &[
    "the",
    "answer",
    "result",
    "it",
    "that",
    "to",
    "of",
    "course",
    "obviously",
    "clearly",
    "actually",
    "definitely",
    "really",
    "always",
    "surely",
    "simply",
    "just",
    "exactly",
    "should",
    "would",
    "must",
    "will",
    "so",
    "then",
    "in",
    "fact",
    "well",
    "yes",
    "totally",
    "correct",
    "right",
];

/// Words that, shortly before a claim, show it is quoted or supposed
/// rather than asserted.
const DISOWNING: &[&str] = &[
    "said",
    "says",
    "say",
    "claimed",
    "claims",
    "claim",
    "wrote",
    "writes",
    "stated",
    "states",
    "answered",
    "replied",
    "output",
    "outputs",
    "printed",
    "suggested",
    "suggests",
    "if",
    "suppose",
    "assume",
    "assuming",
    "pretend",
    "whether",
    "not",
    "never",
];

/// Units that make a result a measurement or conversion, not arithmetic.
const UNITS: &[&str] = &[
    "cup",
    "cups",
    "tbsp",
    "tsp",
    "tablespoon",
    "tablespoons",
    "teaspoon",
    "teaspoons",
    "oz",
    "ounce",
    "ounces",
    "ml",
    "l",
    "liter",
    "liters",
    "litre",
    "litres",
    "g",
    "gram",
    "grams",
    "kg",
    "lb",
    "lbs",
    "pound",
    "pounds",
    "min",
    "mins",
    "minute",
    "minutes",
    "h",
    "hr",
    "hrs",
    "hour",
    "hours",
    "s",
    "sec",
    "secs",
    "second",
    "seconds",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "km",
    "m",
    "cm",
    "mm",
    "mile",
    "miles",
    "ft",
    "foot",
    "feet",
    "inch",
    "inches",
    "degree",
    "degrees",
    "star",
    "stars",
    "point",
    "points",
    "people",
    "dollars",
    "cents",
    "euros",
    "slices",
    "pieces",
    "servings",
];

/// Words between "is" and the verdict on a claim ("is just plain wrong").
const INTENSIFIERS: &[&str] =
    &["a", "an", "just", "simply", "plain", "plainly", "obviously", "clearly", "completely", "totally", "so", "very"];

/// Words that, after a claim, call it wrong ("2+2=5 is wrong").
const WRONG: &[&str] =
    &["wrong", "incorrect", "false", "untrue", "nonsense", "bogus", "mistake", "error", "typo", "lie", "impossible"];

#[derive(Debug, Clone, PartialEq)]
struct Claim {
    lhs: Vec<Tok>,
    rhs: Vec<Tok>,
    negated: bool,
}

/// The claims a text asserts.
fn find_claims(toks: &[Tok]) -> Vec<Claim> {
    let runs = expression_runs(toks);
    let mut claims = Vec::new();
    for pair in runs.windows(2) {
        let ((l0, l1), (r0, r1)) = (pair[0], pair[1]);
        if l1 - l0 > MAX_EXPRESSION || r1 - r0 > MAX_EXPRESSION {
            continue;
        }
        let gap = &toks[l1..r0];
        let connector = gap.len() <= 8
            && gap.iter().all(|t| match t {
                Tok::Eq { .. } | Tok::Question | Tok::Comma => true,
                Tok::Word(w) => listed(FILLERS, w),
                _ => false,
            })
            && gap.iter().any(|t| matches!(t, Tok::Eq { .. } | Tok::Question));
        if !connector {
            continue;
        }
        let Some(lhs_start) = (l0..l1).find(|&s| parses_fully(&toks[s..l1])) else { continue };
        let Some(rhs_end) = (r0 + 1..=r1).rev().find(|&e| parses_fully(&toks[r0..e])) else { continue };
        let (lhs, rhs) = (&toks[lhs_start..l1], &toks[r0..rhs_end]);
        let lone_equals = matches!(gap, [Tok::Eq { negated: false }]);
        if !(has_operator(lhs) || (lone_equals && has_operator(rhs))) {
            continue;
        }
        if !asserted(toks, lhs_start, rhs_end) {
            continue;
        }
        let negated = gap.iter().any(|t| matches!(t, Tok::Eq { negated: true }));
        claims.push(Claim { lhs: lhs.to_vec(), rhs: rhs.to_vec(), negated });
    }
    claims
}

/// Whether the claim spanning `toks[start..end]` is asserted: not asked,
/// quoted, supposed, measured in units or called wrong.
fn asserted(toks: &[Tok], start: usize, end: usize) -> bool {
    let before = toks[..start].iter().rev().take_while(|t| !matches!(t, Tok::Stop(_) | Tok::Question)).take(3);
    if before.filter_map(Tok::word).any(|w| listed(DISOWNING, w)) {
        return false;
    }
    match toks.get(end) {
        Some(Tok::Question) => return false,
        Some(Tok::Word(w)) if listed(UNITS, w) => return false,
        _ => {}
    }
    let mut after =
        toks[end..].iter().skip_while(|t| matches!(t, Tok::Comma | Tok::Op('-') | Tok::Open | Tok::Stop(':')));
    let mut next = after.next();
    if next.and_then(Tok::word).is_some_and(|w| w == "which" || w == "that") {
        next = after.next();
    }
    let negated = match next {
        Some(Tok::Eq { negated }) => *negated,
        _ => return true,
    };
    let verdict = after.filter_map(Tok::word).find(|w| !listed(INTENSIFIERS, w));
    match verdict {
        Some(w) if negated => !matches!(w, "right" | "correct" | "true"),
        Some(w) => !listed(WRONG, w),
        None => true,
    }
}

/// The `(start, end)` of each maximal run of expression tokens.
fn expression_runs(toks: &[Tok]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i].in_expression() {
            let start = i;
            while i < toks.len() && toks[i].in_expression() {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    runs
}

/// The claim a bare answer makes about a bare arithmetic question: the
/// prompt "What is 2+2?" with the answer "It's 5." claims 2+2=5. Anything
/// else in either text (units, more words) means no such claim; claims the
/// answer states in full are found too.
fn claims_in(prompt: &[Tok], answer: &[Tok]) -> Vec<Claim> {
    let mut claims = find_claims(answer);
    if claims.is_empty()
        && let (Some(question), Some((rhs, negated))) = (bare_question(prompt), bare_answer(answer))
    {
        claims.push(Claim { lhs: question.to_vec(), rhs: rhs.to_vec(), negated });
    }
    claims
}

/// Words around the expression of a bare arithmetic question.
const QUESTION_WORDS: &[&str] = &[
    "what",
    "what's",
    "whats",
    "how",
    "much",
    "calculate",
    "compute",
    "evaluate",
    "solve",
    "work",
    "out",
    "tell",
    "me",
    "please",
    "quick",
    "question",
    "math",
    "the",
    "value",
    "result",
    "answer",
    "of",
    "to",
    "find",
    "does",
    "do",
];

fn bare_question(toks: &[Tok]) -> Option<&[Tok]> {
    let lead = |t: &Tok| {
        matches!(t, Tok::Eq { negated: false } | Tok::Comma | Tok::Stop(':'))
            || t.word().is_some_and(|w| listed(QUESTION_WORDS, w))
    };
    let trail = |t: &Tok| matches!(t, Tok::Eq { negated: false } | Tok::Question | Tok::Stop(_) | Tok::Comma);
    let start = toks.iter().position(|t| !lead(t))?;
    let end = toks.iter().rposition(|t| !trail(t))? + 1;
    let expr = toks.get(start..end)?;
    (parses_fully(expr) && has_operator(expr)).then_some(expr)
}

/// Words before the number of a bare answer; "not" negates it.
const ANSWER_WORDS: &[&str] = &[
    "it",
    "the",
    "answer",
    "correct",
    "right",
    "result",
    "actually",
    "obviously",
    "clearly",
    "should",
    "would",
    "must",
    "will",
    "no",
    "nope",
    "wrong",
    "definitely",
    "of",
    "course",
    "i",
    "think",
    "well",
    "its",
    "it's",
    "that's",
    "thats",
    "not",
];

fn bare_answer(toks: &[Tok]) -> Option<(&[Tok], bool)> {
    let lead = |t: &Tok| {
        matches!(t, Tok::Eq { .. } | Tok::Comma | Tok::Stop(_)) || t.word().is_some_and(|w| listed(ANSWER_WORDS, w))
    };
    let start = toks.iter().position(|t| !lead(t))?;
    let end = start + toks[start..].iter().take_while(|t| t.in_expression()).count();
    let rest_is_punctuation = toks[end..].iter().all(|t| matches!(t, Tok::Stop(_) | Tok::Comma));
    let negated = toks[..start].iter().any(|t| matches!(t, Tok::Eq { negated: true }) || t.word() == Some("not"));
    let expr = &toks[start..end];
    (rest_is_punctuation && parses_fully(expr)).then_some((expr, negated))
}

fn has_operator(toks: &[Tok]) -> bool {
    evaluate(toks).is_some_and(|v| v.operators > 0)
}

fn parses_fully(toks: &[Tok]) -> bool {
    evaluate(toks).is_some()
}

struct Value {
    value: f64,
    /// Binary operators applied.
    operators: usize,
    percent: bool,
}

/// Longer runs of expression tokens are not claims people make; refusing
/// them keeps the parser's work and recursion small on hostile input.
const MAX_EXPRESSION: usize = 64;

/// The value of an expression that spans all of `toks`.
fn evaluate(toks: &[Tok]) -> Option<Value> {
    if toks.len() > MAX_EXPRESSION {
        return None;
    }
    let mut parser = Parser { toks, pos: 0, operators: 0, percent: false };
    let value = parser.sum()?;
    (parser.pos == toks.len()).then_some(Value { value, operators: parser.operators, percent: parser.percent })
}

/// A recursive-descent parser that stops before an operator whose right
/// operand is missing, so it reads the longest expression it can.
struct Parser<'a> {
    toks: &'a [Tok],
    pos: usize,
    operators: usize,
    percent: bool,
}

impl Parser<'_> {
    fn sum(&mut self) -> Option<f64> {
        let mut value = self.product()?;
        while let Some(&Tok::Op(op @ ('+' | '-'))) = self.toks.get(self.pos) {
            let saved = (self.pos, self.operators);
            self.pos += 1;
            let Some(rhs) = self.product() else {
                (self.pos, self.operators) = saved;
                break;
            };
            value = if op == '+' { value + rhs } else { value - rhs };
            self.operators += 1;
        }
        Some(value)
    }

    fn product(&mut self) -> Option<f64> {
        let mut value = self.unary()?;
        while let Some(&Tok::Op(op @ ('*' | '/'))) = self.toks.get(self.pos) {
            let saved = (self.pos, self.operators);
            self.pos += 1;
            let Some(rhs) = self.unary() else {
                (self.pos, self.operators) = saved;
                break;
            };
            value = if op == '*' { value * rhs } else { value / rhs };
            self.operators += 1;
        }
        Some(value)
    }

    fn unary(&mut self) -> Option<f64> {
        match self.toks.get(self.pos)? {
            Tok::Op('-') | Tok::Neg => {
                self.pos += 1;
                self.unary().map(|v| -v).or_else(|| {
                    self.pos -= 1;
                    None
                })
            }
            Tok::Num { value, percent, .. } => {
                self.pos += 1;
                self.percent |= percent;
                Some(if *percent { value / 100.0 } else { *value })
            }
            Tok::Open => {
                let saved = (self.pos, self.operators);
                self.pos += 1;
                let inner = self.sum();
                if inner.is_some() && self.toks.get(self.pos) == Some(&Tok::Close) {
                    self.pos += 1;
                    return inner;
                }
                (self.pos, self.operators) = saved;
                None
            }
            _ => None,
        }
    }
}

/// An expression as people write it: `-3*1.5`, `(1+2)/3`.
fn render(toks: &[Tok]) -> String {
    let mut out = String::new();
    for tok in toks {
        match tok {
            Tok::Num { value, percent, .. } => {
                out.push_str(&format_number(*value));
                if *percent {
                    out.push('%');
                }
            }
            Tok::Op(op) => out.push(*op),
            Tok::Neg => out.push('-'),
            Tok::Open => out.push('('),
            Tok::Close => out.push(')'),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Arithmetic {
        Arithmetic::new(Config::default()).unwrap()
    }

    fn record(
        prompt: &str,
        output: &str,
        rating: Option<Rating>,
        correction: Option<&str>,
        comment: Option<&str>,
    ) -> Feedback {
        Feedback {
            id: "1".into(),
            user: "u1".into(),
            timestamp: None,
            prompt: prompt.into(),
            output: output.into(),
            rating,
            correction: correction.map(Into::into),
            comment: comment.map(Into::into),
            metadata: "{}".into(),
        }
    }

    /// The decision on a comment alone.
    fn on_comment(text: &str) -> Decision {
        guard().screen(&record("", "", None, None, Some(text))).unwrap()
    }

    fn rejected(text: &str) -> String {
        let decision = on_comment(text);
        assert!(matches!(decision.verdict, assay_sdk::guard::Verdict::Reject), "expected a reject for {text:?}");
        decision.reason
    }

    fn accepted(text: &str) {
        let decision = on_comment(text);
        assert!(
            matches!(decision.verdict, assay_sdk::guard::Verdict::Accept),
            "expected an accept for {text:?}, got {:?}",
            decision.reason
        );
    }

    #[test]
    fn rejects_false_claims_in_many_phrasings() {
        assert_eq!(rejected("2+2=5"), "comment claims 2+2=5, but 2+2=4");
        assert_eq!(rejected("2 + 2 is 5"), "comment claims 2+2=5, but 2+2=4");
        assert_eq!(rejected("Two plus two equals five!"), "comment claims 2+2=5, but 2+2=4");
        assert_eq!(rejected("2+2 equals 5, obviously"), "comment claims 2+2=5, but 2+2=4");
        assert_eq!(rejected("what's 7 times 6? it's 48"), "comment claims 7*6=48, but 7*6=42");
        assert_eq!(rejected("12 / 4 = 4"), "comment claims 12/4=4, but 12/4=3");
        assert_eq!(rejected("-3 * 1.5 = 4.5"), "comment claims -3*1.5=4.5, but -3*1.5=-4.5");
        assert_eq!(
            rejected("twenty-one plus one hundred is one hundred twenty"),
            "comment claims 21+100=120, but 21+100=121"
        );
        assert_eq!(rejected("3 x 4 = 13 and 6×7=42"), "comment claims 3*4=13, but 3*4=12");
        assert_eq!(rejected("(1 + 2) * 3 = 7"), "comment claims (1+2)*3=7, but (1+2)*3=9");
        assert_eq!(rejected("1 + 2 * 3 = 9"), "comment claims 1+2*3=9, but 1+2*3=7");
        assert_eq!(rejected("2+2 is not 4"), "comment claims 2+2≠4, but 2+2=4");
        assert_eq!(rejected("one thousand minus one equals nine hundred"), "comment claims 1000-1=900, but 1000-1=999");
        assert_eq!(rejected("2 ＋ 2 ＝ ５"), "comment claims 2+2=5, but 2+2=4");
        assert_eq!(rejected("2\u{200B}+2=5"), "comment claims 2+2=5, but 2+2=4");
        assert_eq!(rejected("You said 2+2=4 but actually 2+2=5"), "comment claims 2+2=5, but 2+2=4");
        assert_eq!(rejected("10 − 3 = 6"), "comment claims 10-3=6, but 10-3=7");
        assert_eq!(rejected("5 = 2 + 2"), "comment claims 5=2+2, but 2+2=4");
    }

    #[test]
    fn accepts_true_claims() {
        for text in [
            "2+2=4",
            "two plus two equals four",
            "12 / 4 = 3",
            "-3 * 1.5 = -4.5",
            "what's 7 times 6? it's 42",
            "2+2 isn't 5",
            "0.1 + 0.2 = 0.3",
            "10/3 = 3.33",
            "2/3 is 0.66",
            "-1/3 = -0.33",
            "2/3 is 67%",
            "4/5 is 80%",
            "1,000 + 1 = 1001",
            "negative three times two is negative six",
            "(1+2)*3 = 9 and 100 / 8 = 12.5",
            "2+2 = 3+1",
        ] {
            accepted(text);
        }
    }

    #[test]
    fn honest_look_alikes_pass() {
        for text in [
            "Released on 2024-05-01, same as 05/01/2024.",
            "Call me at 555-123-4567 or (555) 123-4567.",
            "Upgrade to v2.0; version 1.2.3 is broken.",
            "Bake for 5-10 minutes.",
            "Use 1/2 cup of sugar, 1/2 cup = 8 tablespoons.",
            "The meeting is 10:30-11:00, aspect ratio 16:9 = widescreen.",
            "Rated 4/5, 3 stars is fair",
            "The answer is 5 and there are 2 of them.",
            "The model said 2+2=5, which is wrong; it is 4.",
            "2+2=5 is a mistake in the output",
            "2 + 2 = 5 is just plain wrong",
            "Is 2+2=5? No.",
            "If 2+2=5 then everything breaks.",
            "One of them is two years old.",
            "solve 2x + 3 = 7 for x",
            "Divide by zero: 1/0 = 0 is a common bug",
            "2^3 = 8",
            "open 9-5, that is 8 hours",
            "50% of 10 = 5",
            "Great answer, thanks!",
        ] {
            accepted(text);
        }
    }

    #[test]
    fn bare_answers_to_arithmetic_prompts_are_claims() {
        let mut g = guard();
        let wrong = g.screen(&record("What is 2+2?", "4", Some(Rating::Down), Some("It's 5."), None)).unwrap();
        assert_eq!(wrong.reason, "correction claims 2+2=5, but 2+2=4");
        assert_eq!(wrong.risk, Some(1.0));
        let right =
            g.screen(&record("What is 2+2?", "5", Some(Rating::Down), Some("the answer is four"), None)).unwrap();
        assert!(matches!(right.verdict, assay_sdk::guard::Verdict::Accept));
        let denial = g.screen(&record("What is 2+2?", "4", Some(Rating::Down), Some("Not 4!"), None)).unwrap();
        assert_eq!(denial.reason, "correction claims 2+2≠4, but 2+2=4");
        let not_five = g.screen(&record("What is 2+2?", "5", Some(Rating::Down), Some("It's not 5."), None)).unwrap();
        assert!(matches!(not_five.verdict, assay_sdk::guard::Verdict::Accept));
        // Not a bare question, so "8" claims nothing about 1/2.
        let recipe = g.screen(&record("How many tablespoons in 1/2 cup?", "4", None, Some("8"), None)).unwrap();
        assert!(matches!(recipe.verdict, assay_sdk::guard::Verdict::Accept));
        // Not a bare answer.
        let chatty = g.screen(&record("2+2=?", "4", None, Some("5 apples would be nicer"), None)).unwrap();
        assert!(matches!(chatty.verdict, assay_sdk::guard::Verdict::Accept));
    }

    #[test]
    fn thumbs_up_endorses_the_output() {
        let mut g = guard();
        let up = g.screen(&record("What's 7 times 6?", "It is 48.", Some(Rating::Up), None, None)).unwrap();
        assert_eq!(up.reason, "endorses an output that claims 7*6=48, but 7*6=42");
        let up_full = g.screen(&record("Add them", "Sure: 2 + 2 = 5.", Some(Rating::Up), None, None)).unwrap();
        assert_eq!(up_full.reason, "endorses an output that claims 2+2=5, but 2+2=4");
        let down = g.screen(&record("What's 7 times 6?", "It is 48.", Some(Rating::Down), None, None)).unwrap();
        assert!(matches!(down.verdict, assay_sdk::guard::Verdict::Accept));
        let true_up = g.screen(&record("What's 7 times 6?", "42", Some(Rating::Up), None, None)).unwrap();
        assert!(matches!(true_up.verdict, assay_sdk::guard::Verdict::Accept));
        let mut off = Arithmetic::new(Config { endorsements: false, ..Config::default() }).unwrap();
        let ignored = off.screen(&record("What's 7 times 6?", "It is 48.", Some(Rating::Up), None, None)).unwrap();
        assert!(matches!(ignored.verdict, assay_sdk::guard::Verdict::Accept));
    }

    #[test]
    fn tolerance_is_relative_and_configurable() {
        accepted("1000000000 + 0.5 = 1000000000.5");
        let mut strict = Arithmetic::new(Config { tolerance: 0.0, ..Config::default() }).unwrap();
        assert!(matches!(
            strict.screen(&record("", "", None, None, Some("0.1 + 0.2 = 0.3"))).unwrap().verdict,
            assay_sdk::guard::Verdict::Accept
        ));
        let mut loose = Arithmetic::new(Config { tolerance: 0.1, ..Config::default() }).unwrap();
        let near = loose.screen(&record("", "", None, None, Some("100 + 5 = 100"))).unwrap();
        assert!(matches!(near.verdict, assay_sdk::guard::Verdict::Accept));
        assert!(Arithmetic::new(Config { tolerance: -1.0, ..Config::default() }).is_err());
        assert!(Arithmetic::new(Config { tolerance: f64::NAN, ..Config::default() }).is_err());
    }

    #[test]
    fn reports_each_false_claim_once_per_field() {
        assert_eq!(rejected("2+2=5. Again: 2+2=5!"), "comment claims 2+2=5, but 2+2=4");
        let mut g = guard();
        let both = g.screen(&record("", "", None, Some("2+2=5"), Some("2+2=5 and 3+3=7"))).unwrap();
        assert_eq!(
            both.reason,
            "correction claims 2+2=5, but 2+2=4; comment claims 2+2=5, but 2+2=4; comment claims 3+3=7, but 3+3=6"
        );
    }

    #[test]
    fn hostile_input_stays_cheap() {
        accepted(&"one ".repeat(20_000));
        let deep = format!("{}2{} = 3", "(".repeat(20_000), ")".repeat(20_000));
        accepted(&deep);
        let long = format!("{}1 = 5", "1 + ".repeat(20_000));
        accepted(&long);
        assert_eq!(rejected(&format!("{}1. Then 2+2=5", "1 + ".repeat(20_000))), "comment claims 2+2=5, but 2+2=4");
    }

    #[test]
    fn settings_show_the_effective_configuration() {
        let settings = guard().settings();
        assert_eq!(settings[0].value, "0.000000001");
        assert_eq!(settings[1].value, "true");
    }
}
