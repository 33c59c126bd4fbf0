//! The filter grammar (see the module docs of `filter`): recursive descent over `or`, `and`,
//! `not`, groups, attribute terms and value paths, with the length, depth and term limits.
//! Character-level scanning lives in `lexer`, so this part reads as the grammar it implements.

use crate::scim::attr_path::{AttrPath, SyntaxError, check_attr_name, parse_attr_path_core};
use crate::scim::error::ScimError;

use super::ast::Filter;
use super::lexer::{Operator, Parsed, Parser, is_delimiter, is_path_char};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and value paths.
pub const MAX_FILTER_DEPTH: usize = 16;
/// Most comparison / presence terms in one filter.
pub const MAX_FILTER_TERMS: usize = 64;

/// Parse a filter. Errors are 400 `invalidFilter` with a detail that names the position and
/// what was expected there.
pub fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "invalid filter: it is {} bytes long; the limit is {MAX_FILTER_LEN} bytes",
            input.len()
        )));
    }
    let mut parser = Parser::new(input, "filter");
    parser.parse_whole().map_err(SyntaxError::into_filter_error)
}

/// Parses the value filter of a PATCH path, `s[open]` being its `[`: returns the filter and the
/// character index just past the matching `]`. Positions in errors index `s`.
pub(crate) fn parse_value_filter(s: &str, open: usize) -> Result<(Filter, usize), SyntaxError> {
    let mut parser = Parser::new(s, "path");
    parser.pos = open;
    let filter = parser.parse_bracket_body()?;
    Ok((filter, parser.pos))
}

const EXPECTED_OPERATOR: &str = "a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)";

impl Parser {
    fn parse_whole(&mut self) -> Parsed<Filter> {
        self.sep();
        if self.peek().is_none() {
            return self.error(self.pos, "the filter is empty");
        }
        let filter = self.parse_or()?;
        self.sep();
        if self.peek().is_some() {
            let msg = format!(
                "expected \"and\", \"or\" or the end of the filter, found {}",
                self.found(self.pos)
            );
            return self.error(self.pos, msg);
        }
        Ok(filter)
    }

    fn parse_or(&mut self) -> Parsed<Filter> {
        let mut left = self.parse_and()?;
        while self.eat_keyword("or") {
            let right = self.parse_and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Parsed<Filter> {
        let mut left = self.parse_factor()?;
        while self.eat_keyword("and") {
            let right = self.parse_factor()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// Consumes a separator and `kw` if they come next; otherwise consumes nothing.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let save = self.pos;
        self.sep();
        if let Some(end) = self.keyword_at(self.pos, kw) {
            self.pos = end;
            true
        } else {
            self.pos = save;
            false
        }
    }

    fn parse_factor(&mut self) -> Parsed<Filter> {
        self.sep();
        let start = self.pos;
        match self.peek() {
            Some('(') => self.parse_group(),
            Some(c) if is_path_char(c) => {
                if let Some(end) = self.keyword_at(start, "not") {
                    self.pos = end;
                    self.sep();
                    if self.peek() == Some('(') {
                        return Ok(Filter::Not(Box::new(self.parse_group()?)));
                    }
                    if self.peek() != Some('[') && self.operator_at(self.pos).is_none() {
                        let msg = format!("expected \"(\" after \"not\", found {}", self.found(self.pos));
                        return self.error(self.pos, msg);
                    }
                    // `not pr`, `not eq "x"`, `not[…]`: an attribute that happens to be called "not".
                    self.pos = start;
                }
                self.parse_attr_term()
            }
            _ => {
                let msg = format!(
                    "expected an attribute path, \"(\" or \"not\", found {}",
                    self.found(start)
                );
                self.error(start, msg)
            }
        }
    }

    /// `( FILTER )`, at `(`. One nesting level; `not` shares its parentheses' level.
    fn parse_group(&mut self) -> Parsed<Filter> {
        let open = self.pos;
        self.pos += 1;
        self.enter(open)?;
        let inner = self.parse_or()?;
        self.close(')', open)?;
        self.depth -= 1;
        Ok(inner)
    }

    fn enter(&mut self, at: usize) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            let msg = format!(
                "too deeply nested: at most {MAX_FILTER_DEPTH} levels of parentheses, \"not\" and \
                 value filters are allowed"
            );
            return self.error(at, msg);
        }
        Ok(())
    }

    fn close(&mut self, close: char, open: usize) -> Parsed<()> {
        self.sep();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        let opener = if close == ')' { '(' } else { '[' };
        let msg = format!(
            "expected \"and\", \"or\" or \"{close}\" to close the \"{opener}\" at position {}, found {}",
            open + 1,
            self.found(self.pos)
        );
        self.error(self.pos, msg)
    }

    fn count_term(&mut self, at: usize) -> Parsed<()> {
        self.terms += 1;
        if self.terms > MAX_FILTER_TERMS {
            let msg = format!(
                "too many terms: at most {MAX_FILTER_TERMS} comparisons or presence tests are allowed"
            );
            return self.error(at, msg);
        }
        Ok(())
    }

    /// `attrPath op value`, `attrPath pr` or `attr[valFilter]…`, at the path.
    fn parse_attr_term(&mut self) -> Parsed<Filter> {
        let start = self.pos;
        let end = self.path_end(start);
        let text = self.text(start, end);
        let path = parse_attr_path_core(&text).map_err(|e| e.shifted(start))?;
        self.pos = end;

        let save = self.pos;
        self.sep();
        if self.peek() == Some('[') {
            return self.parse_value_path(path, &text);
        }
        self.pos = save;

        let is_keyword = path.urn.is_none()
            && path.sub.is_none()
            && (path.name.eq_ignore_ascii_case("and") || path.name.eq_ignore_ascii_case("or"));
        if is_keyword {
            // "and eq 1" names an attribute; "x and and y" is a stray keyword.
            let mut probe = self.pos;
            while self
                .chars
                .get(probe)
                .is_some_and(|c| c.is_whitespace() || *c == '+')
            {
                probe += 1;
            }
            if self.operator_at(probe).is_none() {
                let msg = format!("expected an attribute path, \"(\" or \"not\", found {:?}", text);
                return self.error(start, msg);
            }
        }
        if self.in_value_path && (path.urn.is_some() || path.sub.is_some()) {
            let msg = format!(
                "inside \"[…]\" attribute names are relative to the multi-valued attribute \
                 (\"type\", not \"emails.type\"); found {text:?}"
            );
            return self.error(start, msg);
        }
        self.parse_comparison(path, &text, start)
    }

    /// `attr[valFilter]`, optionally followed by Entra's `.sub op value`; at `[`.
    fn parse_value_path(&mut self, attr: AttrPath, text: &str) -> Parsed<Filter> {
        let open = self.pos;
        if self.in_value_path {
            return self.error(open, "value filters cannot be nested: \"[\" inside \"[…]\"");
        }
        if attr.sub.is_some() {
            let msg = format!(
                "\"[\" must follow a multi-valued attribute name (such as emails[type eq \"work\"]), \
                 not the sub-attribute {text:?}"
            );
            return self.error(open, msg);
        }
        let mut filter = self.parse_bracket_body()?;

        if self.peek() == Some('.') {
            let dot = self.pos;
            let end = self.path_end(dot + 1);
            let name = self.text(dot + 1, end);
            check_attr_name(&name, dot + 1, "sub-attribute")?;
            self.pos = end;
            let label = format!("{text}[…].{name}");
            let sub = AttrPath {
                urn: None,
                name,
                sub: None,
            };
            let term = self.parse_comparison(sub, &label, dot)?;
            filter = Filter::And(Box::new(filter), Box::new(term));
        }
        Ok(Filter::ValuePath {
            attr,
            filter: Box::new(filter),
        })
    }

    /// `[ valFilter ]`, at `[`; leaves `pos` just past `]`.
    fn parse_bracket_body(&mut self) -> Parsed<Filter> {
        let open = self.pos;
        self.pos += 1;
        self.enter(open)?;
        self.in_value_path = true;
        let filter = self.parse_or()?;
        self.close(']', open)?;
        self.in_value_path = false;
        self.depth -= 1;
        Ok(filter)
    }

    /// The operator and value after a path; `label` is the path as written, for messages, and
    /// `start` where the term began.
    fn parse_comparison(&mut self, path: AttrPath, label: &str, start: usize) -> Parsed<Filter> {
        let had_sep = self.sep();
        let at = self.pos;
        let operator = self.operator_at(at).filter(|_| had_sep);
        let Some((operator, end)) = operator else {
            let msg = format!(
                "expected {EXPECTED_OPERATOR} after {label:?}, found {}",
                self.found(at)
            );
            return self.error(at, msg);
        };
        self.pos = end;
        self.count_term(start)?;
        match operator {
            Operator::Present => {
                self.reject_value_after_pr()?;
                Ok(Filter::Present(path))
            }
            Operator::Compare(op) => {
                let value = self.parse_value(op)?;
                Ok(Filter::Compare { path, op, value })
            }
        }
    }

    /// `title pr "x"` would otherwise fail later with a vaguer "expected and/or".
    fn reject_value_after_pr(&mut self) -> Parsed<()> {
        let save = self.pos;
        self.sep();
        let at = self.pos;
        let is_value = match self.peek() {
            Some('"') => true,
            Some(c) if !is_delimiter(c) => {
                self.keyword_at(at, "and").is_none() && self.keyword_at(at, "or").is_none()
            }
            _ => false,
        };
        self.pos = save;
        if is_value {
            let msg = format!("\"pr\" takes no value, but found {} after it", self.found(at));
            return self.error(at, msg);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::test_support::*;

    #[test]
    fn rfc_7644_examples() {
        for (input, want) in rfc_examples() {
            assert_eq!(parse(input), want, "{input}");
        }
    }

    #[test]
    fn idp_shapes() {
        // Okta, Entra and OneLogin existence checks.
        assert_eq!(
            parse(r#"userName eq "test.user@okta.local""#),
            eq("userName", "test.user@okta.local")
        );
        assert_eq!(
            parse(r#"userName eq "3e59e27b-68ad-41f5-bb0e-dadf130e2ac8""#),
            eq("userName", "3e59e27b-68ad-41f5-bb0e-dadf130e2ac8")
        );
        assert_eq!(
            parse(r#"displayName eq "Test SCIMv2""#),
            eq("displayName", "Test SCIMv2")
        );
        // Entra's documented unquoted value.
        assert_eq!(parse("externalId eq jyoung"), eq("externalId", "jyoung"));
        assert_eq!(
            parse("userName eq jane@example.com"),
            eq("userName", "jane@example.com")
        );
        // Entra matching on the work mail.
        assert_eq!(
            parse(r#"emails[type eq "work"].value eq "user@contoso.com""#),
            vp("emails", and(eq("type", "work"), eq("value", "user@contoso.com")))
        );
        assert_eq!(
            parse(r#"emails[type eq "work" and primary eq true].Value pr"#),
            vp(
                "emails",
                and(
                    and(
                        eq("type", "work"),
                        cmp("primary", CompareOp::Eq, CompValue::Bool(true))
                    ),
                    pr("Value")
                )
            )
        );
        assert_eq!(parse(r#"members[value eq "x"]"#), vp("members", eq("value", "x")));
        assert_eq!(parse(r#"manager eq "x""#), eq("manager", "x"));
        assert_eq!(
            parse(r#"id eq "2819c223" and manager eq "26118915""#),
            and(eq("id", "2819c223"), eq("manager", "26118915"))
        );
        assert_eq!(
            parse(&format!(r#"{ENT}:employeeNumber eq "701984""#)),
            eq(&format!("{ENT}:employeeNumber"), "701984")
        );
        assert_eq!(
            parse(&format!(r#"{ENT}:manager.value eq "x""#)),
            eq(&format!("{ENT}:manager.value"), "x")
        );
        assert_eq!(
            parse(&format!(r#"{ENT}:manager[value eq "x"]"#)),
            vp(&format!("{ENT}:manager"), eq("value", "x"))
        );
        assert_eq!(
            parse(r#"roles[primary eq "True"].display eq "Admin""#),
            vp("roles", and(eq("primary", "True"), eq("display", "Admin")))
        );
    }

    #[test]
    fn operators_keywords_and_names_in_any_case() {
        use CompareOp::*;
        for (word, op) in [
            ("EQ", Eq),
            ("Ne", Ne),
            ("cO", Co),
            ("SW", Sw),
            ("eW", Ew),
            ("GT", Gt),
            ("Ge", Ge),
            ("LT", Lt),
            ("le", Le),
        ] {
            assert_eq!(
                parse(&format!("userName {word} 1")),
                cmp("userName", op, num("1"))
            );
        }
        assert_eq!(parse("USERNAME PR"), pr("USERNAME"));
        assert_eq!(parse("a pr And b pr OR c pr"), or(and(pr("a"), pr("b")), pr("c")));
        assert_eq!(parse("NOT (a pr)"), not(pr("a")));
        assert_eq!(parse("Not(a pr)"), not(pr("a")));
    }

    #[test]
    fn precedence_and_associativity() {
        let (a, b, c, d) = (|| pr("a"), || pr("b"), || pr("c"), || pr("d"));
        assert_eq!(parse("a pr or b pr and c pr"), or(a(), and(b(), c())));
        assert_eq!(parse("a pr and b pr or c pr"), or(and(a(), b()), c()));
        assert_eq!(parse("a pr or b pr or c pr"), or(or(a(), b()), c()));
        assert_eq!(parse("a pr and b pr and c pr"), and(and(a(), b()), c()));
        assert_eq!(parse("a pr or (b pr or c pr)"), or(a(), or(b(), c())));
        assert_eq!(parse("(a pr or b pr) and c pr"), and(or(a(), b()), c()));
        assert_eq!(parse("not (a pr) and b pr"), and(not(a()), b()));
        assert_eq!(
            parse("a pr and not (b pr) or c pr and d pr"),
            or(and(a(), not(b())), and(c(), d()))
        );
        assert_eq!(parse("((a pr))"), a());
        assert_eq!(parse("not (not (a pr))"), not(not(a())));
        // Value filters keep their own precedence.
        assert_eq!(
            parse(r#"emails[type eq "a" or type eq "b" and primary pr]"#),
            vp("emails", or(eq("type", "a"), and(eq("type", "b"), pr("primary"))))
        );
        // `or` inside a value filter binds tighter than the Entra suffix's implicit `and`.
        assert_eq!(
            parse(r#"emails[type eq "a" or type eq "b"].value eq "x""#),
            vp(
                "emails",
                and(or(eq("type", "a"), eq("type", "b")), eq("value", "x"))
            )
        );
    }

    #[test]
    fn attributes_named_like_keywords() {
        assert_eq!(parse("not pr"), pr("not"));
        assert_eq!(parse(r#"not eq "x""#), eq("not", "x"));
        assert_eq!(parse("not[value pr]"), vp("not", pr("value")));
        assert_eq!(parse("and pr or or pr"), or(pr("and"), pr("or")));
        assert_eq!(parse("pr pr"), pr("pr"));
        assert_eq!(parse("notify pr"), pr("notify"));
        assert_eq!(parse("not.x pr"), pr("not.x"));
        assert_eq!(parse("orders pr and andrew pr"), and(pr("orders"), pr("andrew")));
    }

    #[test]
    fn error_messages_name_position_expectation_and_finding() {
        assert_eq!(
            err("userName"),
            "invalid filter at position 9: expected a comparison operator (eq, ne, co, sw, ew, gt, \
             ge, lt, le, pr) after \"userName\", found the end of the filter"
        );
        assert_eq!(
            err(r#"userName=="x""#),
            "invalid filter at position 9: expected a comparison operator (eq, ne, co, sw, ew, gt, \
             ge, lt, le, pr) after \"userName\", found \"==\""
        );
        assert_eq!(
            err(r#"userName eq "bjensen" foo"#),
            "invalid filter at position 23: expected \"and\", \"or\" or the end of the filter, found \"foo\""
        );
        assert_eq!(err(""), "invalid filter at position 1: the filter is empty");
        let cases: &[(&str, usize, &str)] = &[
            ("   ", 4, "the filter is empty"),
            (
                "userName eq",
                12,
                "expected a value after \"eq\" (a quoted string, true, false, null or a number), found the end",
            ),
            ("userName eq )", 13, "expected a value after \"eq\""),
            ("userName eq (x)", 13, "found \"(\""),
            (r#"userName xx "a""#, 10, "expected a comparison operator"),
            (
                r#"userNameeq "a""#,
                12,
                "after \"userNameeq\", found \"\\\"a\\\"\"",
            ),
            (r#"userName eq "abc"#, 13, "unterminated string"),
            (r#"userName eq "abc\"#, 17, "lone \"\\\""),
            (
                r#"(userName eq "a""#,
                17,
                "expected \"and\", \"or\" or \")\" to close the \"(\" at position 1, found the end",
            ),
            (
                r#"(a pr))"#,
                7,
                "expected \"and\", \"or\" or the end of the filter, found \")\"",
            ),
            (
                r#"title pr "x""#,
                10,
                "\"pr\" takes no value, but found \"\\\"x\\\"\" after it",
            ),
            ("title pr x", 10, "\"pr\" takes no value"),
            ("title pr 5", 10, "\"pr\" takes no value"),
            (
                r#"not userName eq "x""#,
                5,
                "expected \"(\" after \"not\", found \"userName\"",
            ),
            (
                r#"a pr and not"#,
                13,
                "expected \"(\" after \"not\", found the end",
            ),
            (
                "and title pr",
                1,
                "expected an attribute path, \"(\" or \"not\", found \"and\"",
            ),
            (
                "title pr and",
                13,
                "expected an attribute path, \"(\" or \"not\", found the end",
            ),
            ("title pr and and", 14, "found \"and\""),
            (
                r#""x" eq 1"#,
                1,
                "expected an attribute path, \"(\" or \"not\", found \"\\\"x\\\"\"",
            ),
            (
                "😀 pr",
                1,
                "expected an attribute path, \"(\" or \"not\", found \"😀\"",
            ),
            ("1abc pr", 1, "an attribute name must start with a letter"),
            (
                "ñame pr",
                1,
                "an attribute name must start with a letter, found \"ñ\"",
            ),
            (
                "naïve pr",
                3,
                "unexpected \"ï\" after \"na\" in an attribute name",
            ),
            ("a.b.c pr", 4, "at most one sub-attribute"),
            ("name. pr", 6, "expected a sub-attribute"),
            ("urn:x pr", 4, "incomplete URN"),
            (r#"userName eq "é" ñ"#, 17, "found \"ñ\""),
            (
                r#"emails[type eq "work""#,
                22,
                "to close the \"[\" at position 7, found the end",
            ),
            (r#"emails[type eq "work"]]"#, 23, "found \"]\""),
            (
                r#"emails.value[type eq "work"]"#,
                13,
                "not the sub-attribute \"emails.value\"",
            ),
            (r#"emails[type[value eq 1]]"#, 12, "cannot be nested"),
            (
                r#"emails[emails.type eq "work"]"#,
                8,
                "relative to the multi-valued attribute",
            ),
            (
                r#"emails[urn:a:b:type eq "work"]"#,
                8,
                "relative to the multi-valued attribute",
            ),
            (r#"emails[]"#, 8, "expected an attribute path"),
            (
                r#"emails[type eq "work"].value"#,
                29,
                "after \"emails[…].value\", found the end",
            ),
            (
                r#"emails[type eq "work"].1x eq "a""#,
                24,
                "a sub-attribute must start with a letter",
            ),
            (
                r#"emails[type eq "work"]. value eq "a""#,
                24,
                "expected a sub-attribute, found nothing",
            ),
            (r#"userName eq "a\qb""#, 15, "invalid escape \"\\q\""),
            (r#"userName eq "\ud800""#, 14, "high surrogate"),
            (r#"userName eq "\ud800\u0041""#, 20, "expected a low surrogate"),
            (r#"userName eq "\udc00""#, 14, "low surrogate without a high one"),
            (r#"userName eq "\u12""#, 14, "four hexadecimal digits"),
            ("a pr +", 6, "but found \"+\" after it"),
        ];
        for &(input, pos, needle) in cases {
            let detail = err(input);
            let prefix = format!("invalid filter at position {pos}: ");
            assert!(detail.starts_with(&prefix), "{input:?}: {detail}");
            assert!(detail.contains(needle), "{input:?}: {detail}");
        }
    }

    #[test]
    fn length_limit() {
        let filler = "a".repeat(MAX_FILTER_LEN - r#"userName eq """#.len());
        let at_limit = format!(r#"userName eq "{filler}""#);
        assert_eq!(at_limit.len(), MAX_FILTER_LEN);
        assert!(parse_filter(&at_limit).is_ok());
        let over = format!(r#"userName eq "{filler}é""#);
        assert_eq!(
            err(&over),
            format!(
                "invalid filter: it is {} bytes long; the limit is 4096 bytes",
                over.len()
            )
        );
    }

    #[test]
    fn depth_limit() {
        let nest = |n: usize, open: &str| format!("{}a pr{}", open.repeat(n), ")".repeat(n));
        assert!(parse_filter(&nest(MAX_FILTER_DEPTH, "(")).is_ok());
        assert!(parse_filter(&nest(MAX_FILTER_DEPTH, "not (")).is_ok());
        let detail = err(&nest(MAX_FILTER_DEPTH + 1, "("));
        assert_eq!(
            detail,
            "invalid filter at position 17: too deeply nested: at most 16 levels of parentheses, \
             \"not\" and value filters are allowed"
        );
        assert!(err(&nest(MAX_FILTER_DEPTH + 1, "not (")).contains("too deeply nested"));
        // A value filter is a level too.
        let with_vp = |n: usize| format!("{}emails[value pr]{}", "(".repeat(n), ")".repeat(n));
        assert!(parse_filter(&with_vp(MAX_FILTER_DEPTH - 1)).is_ok());
        assert!(err(&with_vp(MAX_FILTER_DEPTH)).contains("too deeply nested"));
        // Far beyond the limit: an error, not a stack overflow.
        assert!(err(&"(".repeat(4000)).contains("too deeply nested"));
        assert!(err(&"not(".repeat(1000)).contains("too deeply nested"));
    }

    #[test]
    fn term_limit() {
        let terms = |n: usize| vec!["a pr"; n].join(" or ");
        assert!(parse_filter(&terms(MAX_FILTER_TERMS)).is_ok());
        let detail = err(&terms(MAX_FILTER_TERMS + 1));
        let pos = 64 * "a pr or ".len() + 1;
        assert_eq!(
            detail,
            format!(
                "invalid filter at position {pos}: too many terms: at most 64 comparisons or \
                 presence tests are allowed"
            )
        );
        // Entra's `.value eq` suffix is a term of its own.
        let entra = format!(
            "{} or emails[type eq \"w\"].value eq \"x\"",
            terms(MAX_FILTER_TERMS - 1)
        );
        assert!(err(&entra).contains("too many terms"));
    }
}
