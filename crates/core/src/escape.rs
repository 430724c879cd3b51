//! Text that member accounts control (stack status reasons, hook and custom resource messages,
//! failure causes) made safe for where it is shown. The JSON report keeps it raw: it is data, and
//! a reader of JSON escapes for itself. Every other destination escapes at rendering:
//!
//! - a terminal acts on control characters: ESC starts sequences that recolour, move the cursor,
//!   retitle the window or make hyperlinks (CSI, OSC), C1 controls do the same in one byte, and
//!   bidi overrides show text in another order than it reads;
//! - Markdown turns punctuation into markup, links and HTML;
//! - XML 1.0 cannot hold most control characters at all, and gives `<`, `&` and quotes meaning.
//!
//! Escape sequences are removed with `strip-ansi-escapes` (the VTE parser, as cargo-nextest's
//! JUnit writer does through quick-junit); what is left of control and bidi characters is removed
//! here, character by character.

use std::fmt::Write as _;

/// Characters that change the order text is shown in without being seen: bidi embeddings,
/// overrides and isolates (the "Trojan Source" ones), and the invisible direction marks.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Unicode noncharacters: U+FFFE and U+FFFF cannot be in XML 1.0 at all; none is text.
fn is_noncharacter(c: char) -> bool {
    let c = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&c) || c & 0xFFFE == 0xFFFE
}

/// `text` without escape sequences, control characters (C0, DEL, C1), bidi controls or
/// noncharacters. Line breaks and tabs become spaces, unless `keep_lines` keeps `\n`.
fn cleaned(text: &str, keep_lines: bool) -> String {
    let flat: String = text
        .replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\n' | '\u{2028}' | '\u{2029}' if keep_lines => '\n',
            '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}' => ' ',
            other => other,
        })
        .collect();
    strip_ansi_escapes::strip_str(flat)
        .chars()
        .filter(|&c| {
            (c == '\n' && keep_lines) || !(c.is_control() || is_bidi_control(c) || is_noncharacter(c))
        })
        .collect()
}

/// One line for a terminal: nothing in it that a terminal acts on, and no line break that
/// would let it pass for another line of stackfleet's output.
pub fn terminal_line(text: &str) -> String {
    cleaned(text, false)
}

/// Lines for a terminal (an error message of several lines): as `terminal_line`, but line
/// breaks are kept.
pub fn terminal_text(text: &str) -> String {
    cleaned(text, true)
}

/// Inline Markdown (a list item, a table cell) that renders as the text reads: one line, with
/// the characters that make markup escaped: a backslash before CommonMark's inline punctuation
/// and GFM's (`|` ends a table cell, `~` strikes through, `$` starts math on GitHub), entities
/// for `<`, `>` and `&`, so that no HTML, autolink or entity gets through.
pub fn markdown_inline(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in terminal_line(text).chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            // A mention pings people when the report is posted to a pull request.
            '@' => escaped.push_str("&#64;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '$' | '!' | '#' => {
                let _ = write!(escaped, "\\{c}");
            }
            other => escaped.push(other),
        }
    }
    escaped
}

/// Text for a JUnit report's attributes and elements: one line of characters XML 1.0 allows, and
/// nothing a terminal or a CI page would act on. The XML escaping of `<`, `&` and quotes is the
/// writer's (quick-junit, through quick-xml), which also drops any control character left.
pub fn junit(text: &str) -> String {
    terminal_line(text)
}

/// JSON text with every character a terminal acts on that JSON leaves raw (DEL, the C1 controls,
/// bidi controls, line and paragraph separators) written as a `\uXXXX` escape: the same JSON
/// value, safe to print. Such characters can only be inside strings, where the escape is exact.
pub fn json(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if ('\u{7f}'..='\u{9f}').contains(&c) || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}') {
            let _ = write!(escaped, "\\u{:04x}", u32::from(c));
        } else {
            escaped.push(c);
        }
    }
    escaped
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Colour, a window title, a hyperlink, a cursor move, C1 CSI, BEL, NUL, DEL, bidi
    /// overrides, a noncharacter, XML and Markdown specials, and line breaks.
    pub(crate) const HOSTILE: &str = "\u{1b}[31mRole\u{1b}[0m X \u{1b}]0;pwned\u{7}failed\u{1b}]8;;https://evil.example\u{1b}\\here\u{1b}]8;;\u{1b}\\ \u{1b}[2J\u{1b}[1;1H\u{9b}31m\u{7}\u{0}\u{7f}: \u{202E}exe.txt\u{202C} \u{FFFF}<b>&amp; \"q\" 'a' | *x* _y_ `z` [l](u) $m$ ~s~ !i # \\\r\nnext\tline";

    #[test]
    fn a_terminal_line_keeps_the_words_and_nothing_a_terminal_acts_on() {
        assert_eq!(
            terminal_line(HOSTILE),
            "Role X failedhere 31m: exe.txt <b>&amp; \"q\" 'a' | *x* _y_ `z` [l](u) $m$ ~s~ !i # \\ next line"
        );
    }

    #[test]
    fn terminal_text_keeps_its_lines() {
        assert_eq!(
            terminal_text("first\u{1b}[1m\r\nsecond\u{85}\n\u{1b}]2;t\u{7}third"),
            "first\nsecond\nthird"
        );
    }

    #[test]
    fn markdown_escapes_markup_html_and_table_pipes() {
        assert_eq!(
            markdown_inline(HOSTILE),
            "Role X failedhere 31m: exe.txt &lt;b&gt;&amp;amp; \"q\" 'a' \\| \\*x\\* \\_y\\_ \\`z\\` \\[l\\](u) \\$m\\$ \\~s\\~ \\!i \\# \\\\ next line"
        );
    }

    #[test]
    fn junit_text_holds_only_characters_xml_allows() {
        let text = junit(HOSTILE);
        assert!(
            text.chars()
                .all(|c| matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)),
            "{text:?}"
        );
        assert_eq!(text, terminal_line(HOSTILE));
    }

    #[test]
    fn separators_break_lines_and_mentions_ping_nobody() {
        assert_eq!(terminal_line("a\u{2028}b\u{2029}c"), "a b c");
        assert_eq!(terminal_text("a\u{2028}b"), "a\nb");
        assert_eq!(markdown_inline("ask @security-team"), "ask &#64;security-team");
    }

    #[test]
    fn json_keeps_its_value_and_loses_what_a_terminal_acts_on() {
        let value = serde_json::json!({"cause": "\u{9b}31m\u{202E}txt\u{2028}\u{7f} ok"});
        let text = json(&serde_json::to_string(&value).unwrap());
        assert_eq!(text, r#"{"cause":"\u009b31m\u202etxt\u2028\u007f ok"}"#);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
    }

    #[test]
    fn plain_text_passes_unchanged() {
        let reason = "Resource handler returned message: \"Role FederatedReadOnly already exists\" (RequestToken: 1a2b, HandlerErrorCode: AlreadyExists)";
        assert_eq!(terminal_line(reason), reason);
        assert_eq!(terminal_line("déjà vu 日本語"), "déjà vu 日本語");
    }
}

#[cfg(test)]
mod rendered {
    use super::tests::HOSTILE;
    use crate::report::Report;
    use crate::{ErrorName, Outcome, RootCause};

    fn report() -> Report {
        let outcomes = vec![
            Outcome::failed(
                "111111111111:us-east-1".parse().unwrap(),
                ErrorName::StackFailed,
                RootCause::message(HOSTILE),
                10,
                3,
            ),
            Outcome::skipped(
                "222222222222:us-east-1".parse().unwrap(),
                "hook said \u{1b}[8mno</skipped>",
            ),
        ];
        Report::new("r1".parse().unwrap(), "s".parse().unwrap(), 0, 5, false, outcomes)
    }

    /// What a renderer wrote holds no control character but its line breaks.
    fn no_controls(text: &str) {
        let bad: Vec<char> = text.chars().filter(|&c| c.is_control() && c != '\n').collect();
        assert!(bad.is_empty(), "{bad:?} in {text}");
    }

    #[test]
    fn the_markdown_report_shows_member_text_as_text() {
        let md = report().to_markdown();
        no_controls(&md);
        let cause = r#"Role X failedhere 31m: exe.txt &lt;b&gt;&amp;amp; "q" 'a' \| \*x\* \_y\_ \`z\` \[l\](u) \$m\$ \~s\~ \!i \# \\ next line"#;
        let lines: Vec<&str> = md.lines().collect();
        for expected in [
            format!("- **1 target**, StackFailed: {cause}"),
            format!("| 111111111111:us-east-1 | Failed | - | 0.0 | 3 | StackFailed: {cause} |"),
            "| 222222222222:us-east-1 | Skipped | - | 0.0 | 0 | hook said no&lt;/skipped&gt; |".to_owned(),
        ] {
            assert!(
                lines.contains(&expected.as_str()),
                "{expected}\nnot a line of\n{md}"
            );
        }
    }

    #[test]
    fn the_junit_report_holds_escaped_text_xml_allows() {
        let xml = report().to_junit();
        no_controls(&xml);
        let lines: Vec<&str> = xml.lines().map(str::trim).collect();
        for expected in [
            r#"<failure message="Role X failedhere 31m: exe.txt &lt;b&gt;&amp;amp; &quot;q&quot; &apos;a&apos; | *x* _y_ `z` [l](u) $m$ ~s~ !i # \ next line" type="StackFailed"/>"#,
            r#"<skipped message="hook said no&lt;/skipped&gt;"/>"#,
        ] {
            assert!(lines.contains(&expected), "{expected}\nnot a line of\n{xml}");
        }
    }
}
