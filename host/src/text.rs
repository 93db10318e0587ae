//! Text that came from a plugin, made safe for where it is shown.
//!
//! A plugin's name, description, metric names and messages are data another
//! team wrote. Shown raw, a control sequence could retitle a terminal, clear
//! it or forge a line; Markdown could forge a heading or load an image in a
//! pull-request comment; a control byte makes a JUnit file ill-formed XML, so
//! CI drops every result in it. Every writer passes such text through one of
//! these functions first.

use std::borrow::Cow;

/// Whether `c` would act on a terminal rather than print: C0 and C1 control
/// characters, DEL, and the bidirectional overrides that reorder a line.
fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// For a terminal: every control character shown as its escape (`\x1b`,
/// `\n`), so a message stays one inert line.
pub fn terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// For a Markdown table cell or inline text: inert on a terminal, and every
/// character that Markdown or HTML would read as markup escaped, so no
/// heading, link, image or table cell can be forged.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in terminal(text).chars() {
        if "\\`*_{}[]()<>#+-.!|~&\"'".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// For a Markdown code span (`` `name` ``), as table cells show names: no
/// backtick can close the span and no `|` can end the cell; inside a span,
/// nothing else is markup.
pub fn markdown_code(text: &str) -> String {
    terminal(text).replace('`', "'").replace('|', "\\|")
}

/// For XML 1.0 text and attributes (JUnit): characters XML cannot hold at
/// all are shown as their escape; the writer escapes markup itself.
pub fn xml(text: &str) -> Cow<'_, str> {
    let allowed =
        |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    if text.chars().all(allowed) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().map(|c| if allowed(c) { c.to_string() } else { c.escape_default().to_string() }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminals_get_no_control_sequences() {
        assert_eq!(terminal("plain ünïcode"), "plain ünïcode");
        assert!(matches!(terminal("plain"), Cow::Borrowed(_)));
        let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J\rok\nforged\u{202E}txt\u{9b}";
        let shown = terminal(hostile);
        assert!(!shown.chars().any(is_control), "{shown:?}");
        assert_eq!(shown, "\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\rok\\nforged\\u{202e}txt\\u{9b}");
    }

    #[test]
    fn markdown_cannot_be_forged() {
        let hostile = "x |\n## all gates passed ![t](http://e.x/p.png) <img src=x> `code`";
        let shown = markdown(hostile);
        // Every markup character is escaped, so none acts.
        let chars: Vec<char> = shown.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if "|#!<>[]()`".contains(*c) {
                assert!(i > 0 && chars[i - 1] == '\\', "unescaped {c:?} at {i} in {shown}");
            }
        }
        assert!(!shown.contains('\n'), "{shown}");
        assert_eq!(markdown("rouge/rougeL_f"), "rouge/rougeL\\_f");
        assert_eq!(markdown_code("exact/exact_match"), "exact/exact_match");
        assert_eq!(markdown_code("a`|b\nc"), "a'\\|b\\nc");
    }

    #[test]
    fn xml_text_holds_only_xml_characters() {
        assert_eq!(xml("a\u{1b}b\u{0}c\td"), "a\\u{1b}b\\u{0}c\td");
        assert!(matches!(xml("fine <&> text"), Cow::Borrowed(_)));
    }
}
