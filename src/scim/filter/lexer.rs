//! Character-level scanning for the filter parser: separators (whitespace and the `+` of
//! double-encoded query strings), keywords, operators, and the literals on the right of a
//! comparison (JSON strings with escapes, numbers, bare words). These are where the lexical
//! leniencies of docs/idp-notes.md §2.4 and §5 live; the grammar itself is in `parser`, which
//! builds on the cursor (`Parser`'s state) defined here, never the other way round.

use serde_json::Number;

use super::ast::{CompValue, CompareOp};
use crate::scim::attr_path::SyntaxError;

/// What may follow an attribute path.
#[derive(Clone, Copy)]
pub(super) enum Operator {
    Compare(CompareOp),
    Present,
}

/// Recursive descent over the input's characters (a `Vec<char>`, so positions are character
/// offsets and slicing can never split a UTF-8 sequence).
pub(super) struct Parser {
    pub(super) chars: Vec<char>,
    pub(super) pos: usize,
    pub(super) depth: usize,
    pub(super) terms: usize,
    pub(super) in_value_path: bool,
    /// "filter" or "path", for "found the end of the …".
    pub(super) noun: &'static str,
}

pub(super) type Parsed<T> = Result<T, SyntaxError>;

impl Parser {
    pub(super) fn new(input: &str, noun: &'static str) -> Self {
        Parser {
            chars: input.chars().collect(),
            pos: 0,
            depth: 0,
            terms: 0,
            in_value_path: false,
            noun,
        }
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(super) fn text(&self, from: usize, to: usize) -> String {
        self.chars[from..to].iter().collect()
    }

    pub(super) fn error<T>(&self, at: usize, msg: impl Into<String>) -> Parsed<T> {
        Err(SyntaxError::at(at, msg))
    }
}

impl Parser {
    /// Skips a separator and says whether there was one: a run of whitespace or, where there
    /// is no whitespace, one `+` (see the module docs).
    pub(super) fn sep(&mut self) -> bool {
        let start = self.pos;
        self.skip_whitespace();
        if self.pos == start && self.peek() == Some('+') {
            self.pos += 1;
            self.skip_whitespace();
        }
        self.pos > start
    }

    pub(super) fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// End of the run of attribute-path characters starting at `from`.
    pub(super) fn path_end(&self, from: usize) -> usize {
        let mut end = from;
        while self.chars.get(end).copied().is_some_and(is_path_char) {
            end += 1;
        }
        end
    }

    /// If the ASCII word `kw` (any case) starts at `at` and ends there, the index past it.
    pub(super) fn keyword_at(&self, at: usize, kw: &str) -> Option<usize> {
        let end = at + kw.len();
        let word = self.chars.get(at..end)?;
        let same = word
            .iter()
            .zip(kw.chars())
            .all(|(a, b)| a.eq_ignore_ascii_case(&b));
        let bounded = !self.chars.get(end).copied().is_some_and(is_path_char);
        (same && bounded).then_some(end)
    }

    /// The comparison operator or `pr` at `at`, and the index past it.
    pub(super) fn operator_at(&self, at: usize) -> Option<(Operator, usize)> {
        let word = self.chars.get(at..at + 2)?;
        if !word.iter().all(char::is_ascii_alphabetic) {
            return None;
        }
        let word: String = word.iter().collect();
        let end = self.keyword_at(at, &word)?;
        if word.eq_ignore_ascii_case("pr") {
            return Some((Operator::Present, end));
        }
        CompareOp::from_keyword(&word).map(|op| (Operator::Compare(op), end))
    }

    /// Describes what sits at `at`, for "found …" in messages.
    pub(super) fn found(&self, at: usize) -> String {
        const MAX: usize = 24;
        let Some(&first) = self.chars.get(at) else {
            return format!("the end of the {}", self.noun);
        };
        let mut end = at + 1;
        if first == '"' {
            let mut escaped = false;
            while let Some(&c) = self.chars.get(end) {
                end += 1;
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => break,
                    _ => escaped = false,
                }
            }
        } else if !is_delimiter(first) {
            while self
                .chars
                .get(end)
                .is_some_and(|&c| !c.is_whitespace() && !is_delimiter(c))
            {
                end += 1;
            }
        }
        if end - at > MAX {
            format!("{:?}…", self.text(at, at + MAX))
        } else {
            format!("{:?}", self.text(at, end))
        }
    }

    pub(super) fn parse_value(&mut self, op: CompareOp) -> Parsed<CompValue> {
        let had_sep = self.sep();
        let at = self.pos;
        match self.peek() {
            Some('"') => self.parse_string().map(CompValue::Str),
            Some(c) if had_sep && !is_delimiter(c) => Ok(self.parse_bare_word()),
            _ => {
                let msg = format!(
                    "expected a value after \"{op}\" (a quoted string, true, false, null or a \
                     number), found {}",
                    self.found(at)
                );
                self.error(at, msg)
            }
        }
    }

    /// An unquoted literal: true / false / null / a JSON number, else a string.
    pub(super) fn parse_bare_word(&mut self) -> CompValue {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_whitespace()
                || is_delimiter(c)
                || (c == '+' && self.pos > start && self.plus_joins_next())
            {
                break;
            }
            self.pos += 1;
        }
        let word = self.text(start, self.pos);
        if word.eq_ignore_ascii_case("true") {
            CompValue::Bool(true)
        } else if word.eq_ignore_ascii_case("false") {
            CompValue::Bool(false)
        } else if word.eq_ignore_ascii_case("null") {
            CompValue::Null
        } else if let Some(n) = json_number(&word) {
            CompValue::Num(n)
        } else {
            CompValue::Str(word)
        }
    }

    /// At a `+` inside a bare word: is it `+and` / `+or` followed by a separator or `(`?
    pub(super) fn plus_joins_next(&self) -> bool {
        let after = self.pos + 1;
        ["and", "or"].iter().any(|kw| {
            let end = after + kw.len();
            let same = self
                .chars
                .get(after..end)
                .is_some_and(|w| w.iter().zip(kw.chars()).all(|(a, b)| a.eq_ignore_ascii_case(&b)));
            same && self
                .chars
                .get(end)
                .is_some_and(|&c| c.is_whitespace() || c == '+' || c == '(')
        })
    }

    /// A JSON string, at its opening quote.
    pub(super) fn parse_string(&mut self) -> Parsed<String> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return self.error(open, "unterminated string: no closing \" for this opening quote");
            };
            self.pos += 1;
            match c {
                '"' => return Ok(out),
                '\\' => out.push(self.parse_escape(self.pos - 1)?),
                c => out.push(c),
            }
        }
    }

    /// The character of an escape whose backslash is at `at`; `pos` is just past the backslash.
    pub(super) fn parse_escape(&mut self, at: usize) -> Parsed<char> {
        let Some(c) = self.peek() else {
            return self.error(at, "unterminated string: it ends with a lone \"\\\"");
        };
        self.pos += 1;
        let simple = match c {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => return self.parse_unicode_escape(at),
            other => {
                let msg = format!(
                    "invalid escape \"\\{other}\" in a string; JSON allows \\\" \\\\ \\/ \\b \\f \\n \
                     \\r \\t and \\uXXXX"
                );
                return self.error(at, msg);
            }
        };
        Ok(simple)
    }

    /// `\uXXXX`, or a surrogate pair `\uD83D\uDE00`; `pos` is just past the `u`.
    pub(super) fn parse_unicode_escape(&mut self, at: usize) -> Parsed<char> {
        let unit = self.hex4(at)?;
        let code = match unit {
            0xD800..=0xDBFF => {
                let low_at = self.pos;
                let has_low = self.peek() == Some('\\') && self.chars.get(self.pos + 1) == Some(&'u');
                if !has_low {
                    return self.error(
                        at,
                        "invalid \\u escape: a high surrogate must be followed by a low one",
                    );
                }
                self.pos += 2;
                let low = self.hex4(low_at)?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return self.error(
                        low_at,
                        "invalid \\u escape: expected a low surrogate (\\uDC00-\\uDFFF)",
                    );
                }
                0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => {
                return self.error(at, "invalid \\u escape: a low surrogate without a high one");
            }
            _ => unit,
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.error(at, "invalid \\u escape"),
        }
    }

    pub(super) fn hex4(&mut self, at: usize) -> Parsed<u32> {
        let mut value = 0;
        for _ in 0..4 {
            let Some(digit) = self.peek().and_then(|c| c.to_digit(16)) else {
                return self.error(at, "invalid \\u escape: expected four hexadecimal digits");
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }
}

/// `word` as a JSON number, if it is one.
pub(super) fn json_number(word: &str) -> Option<Number> {
    if !word.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return None;
    }
    // serde_json checks the JSON syntax; its float parsing (without `float_roundtrip`) can be
    // one ulp off, so floats are re-read with the correctly rounded `str::parse`.
    let n: Number = serde_json::from_str(word).ok()?;
    if n.is_f64() {
        Number::from_f64(word.parse().ok()?)
    } else {
        Some(n)
    }
}

/// Characters an attribute path is made of; non-ASCII letters are included so that the path
/// parser, not the operator check, reports them (`unexpected "é" after "nam" in an attribute
/// name`).
pub(super) fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '-' | '_' | '.' | ':' | '$')
        || (!c.is_ascii() && c.is_alphanumeric())
}

/// Characters that always end a bare word or an operator.
pub(super) fn is_delimiter(c: char) -> bool {
    matches!(c, '(' | ')' | '[' | ']' | '"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::test_support::*;

    #[test]
    fn literals() {
        use CompValue::*;
        let value = |input: &str| match parse(&format!("x eq {input}")) {
            Filter::Compare { value, .. } => value,
            other => panic!("{other:?}"),
        };
        assert_eq!(value("true"), Bool(true));
        assert_eq!(value("True"), Bool(true));
        assert_eq!(value("FALSE"), Bool(false));
        assert_eq!(value("null"), Null);
        assert_eq!(value("NULL"), Null);
        assert_eq!(value(r#""True""#), str_("True"));
        assert_eq!(value(r#""null""#), str_("null"));
        assert_eq!(value("42"), num("42"));
        assert_eq!(value("-42"), num("-42"));
        assert_eq!(value("1.5"), num("1.5"));
        assert_eq!(value("-1.5e3"), num("-1500.0"));
        assert_eq!(value("1e+5"), num("100000.0"));
        assert_eq!(value("18446744073709551615"), num("18446744073709551615"));
        // Not JSON numbers, so bare strings.
        assert_eq!(value("01"), str_("01"));
        assert_eq!(value("1."), str_("1."));
        assert_eq!(value("NaN"), str_("NaN"));
        assert_eq!(value("1e400"), str_("1e400"));
        assert_eq!(value("+15551234567"), str_("+15551234567"));
        // JSON escapes.
        assert_eq!(value(r#""a\"b""#), str_("a\"b"));
        assert_eq!(value(r#""a\\b""#), str_("a\\b"));
        assert_eq!(value(r#""a\/b\n\t\r\b\f""#), str_("a/b\n\t\r\u{8}\u{c}"));
        assert_eq!(value(r#""Ren\u00e9e""#), str_("Renée"));
        assert_eq!(value(r#""\uD83D\uDE00""#), str_("😀"));
        assert_eq!(value(r#""""#), str_(""));
        assert_eq!(
            value(r#""und ) or ( [x] +and+ y""#),
            str_("und ) or ( [x] +and+ y")
        );
        assert_eq!(value("\"日本語 ✓\""), str_("日本語 ✓"));
        assert_eq!(value("josé"), str_("josé"));
    }

    #[test]
    fn whitespace_and_plus_separators() {
        let want = eq("userName", "jane.doe@example.com");
        for input in [
            r#"userName eq "jane.doe@example.com""#,
            "userName  \t eq\t\"jane.doe@example.com\"  ",
            "\t userName eq \"jane.doe@example.com\"",
            r#"userName+eq+"jane.doe@example.com""#,
            r#"userName eq"jane.doe@example.com""#,
            "userName+eq+jane.doe@example.com",
        ] {
            assert_eq!(parse(input), want, "{input:?}");
        }
        // A literal plus inside a bare value survives; `+and+` / `+or+` still join terms.
        assert_eq!(parse("userName eq a+b@x.com"), eq("userName", "a+b@x.com"));
        assert_eq!(parse("userName+eq+a+b@x.com"), eq("userName", "a+b@x.com"));
        assert_eq!(
            parse("userName eq jane+andy@x.com"),
            eq("userName", "jane+andy@x.com")
        );
        assert_eq!(
            parse("userName+eq+jane+and+title+pr"),
            and(eq("userName", "jane"), pr("title"))
        );
        assert_eq!(
            parse("title+pr+or+userType+eq+Intern"),
            or(pr("title"), eq("userType", "Intern"))
        );
        assert_eq!(
            parse("userType+eq+Employee+and+not+(emails+co+example.com)"),
            and(
                eq("userType", "Employee"),
                not(cmp("emails", CompareOp::Co, str_("example.com")))
            )
        );
        assert_eq!(
            parse("x+eq+1+or(y+pr)"),
            or(cmp("x", CompareOp::Eq, num("1")), pr("y"))
        );
        // After whitespace a `+` begins the value (it was sent as %2B).
        assert_eq!(
            parse("phoneNumbers.value eq +15551234567"),
            eq("phoneNumbers.value", "+15551234567")
        );
        // Quoted strings are never touched.
        assert_eq!(parse(r#"userName+eq+"a+b c""#), eq("userName", "a+b c"));
        // Parentheses and brackets need no surrounding whitespace; whitespace may precede `[`.
        assert_eq!(parse("(a pr)and(b pr)"), and(pr("a"), pr("b")));
        assert_eq!(
            parse(r#"emails [ type eq "work" ]"#),
            vp("emails", eq("type", "work"))
        );
        assert_eq!(parse("( ( a pr ) )"), pr("a"));
        // A separating `+` may lead or trail, like whitespace.
        assert_eq!(parse("+a+pr+"), pr("a"));
        // Unicode whitespace (no-break space) separates too.
        assert_eq!(parse("a\u{a0}pr"), pr("a"));
    }
}
