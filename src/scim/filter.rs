//! The SCIM filter grammar (RFC 7644 §3.4.2.2): parser, AST and an evaluator over JSON.
//! The store turns the AST into SQL; the evaluator serves PATCH value filters
//! (`emails[type eq "work"]`) on a document held in memory.
//!
//! # Grammar
//!
//! ```text
//! FILTER    = term *(SP "or" SP term)                 ; lowest precedence, left-associative
//! term      = factor *(SP "and" SP factor)            ; left-associative
//! factor    = "not" [SP] "(" FILTER ")" / "(" FILTER ")" / attrExp / valuePath
//! valuePath = attrPath "[" valFilter "]" ["." ATTRNAME SP compareOp SP compValue / "pr"]
//! attrExp   = attrPath SP "pr" / attrPath SP compareOp SP compValue
//! compValue = JSON string / true / false / null / JSON number / bare word
//! ```
//!
//! `valFilter` is a `FILTER` whose attribute paths are plain names relative to the
//! multi-valued attribute (`type`, `value`), and which holds no further value path: RFC 7644
//! allows neither, and complex attributes cannot nest.
//!
//! # Leniencies (all deliberate; what IdPs send, see docs/idp-notes.md §2.4, §5)
//!
//! * Operators and `and` / `or` / `not` in any case (`EQ`, `And`), as the RFC requires;
//!   attribute names are kept as written and matched case-insensitively by consumers.
//! * `true` / `false` / `null` in any case (`True`, `FALSE`). A quoted `"True"` stays a string:
//!   coercion is the consumer's job.
//! * An unquoted bare word that is not `true` / `false` / `null` / a JSON number is a string
//!   (Entra's documented `externalId eq jyoung`, `userName eq jane@example.com`). It runs up to
//!   whitespace, a parenthesis, a bracket or a quote. `01` is not a JSON number, so it stays a
//!   string (zip codes, employee numbers).
//! * Entra's `emails[type eq "work"].value eq "x"` is read as
//!   `emails[type eq "work" and value eq "x"]` (see [`Filter::ValuePath`]).
//! * Any run of Unicode whitespace separates tokens; `not(`, `and(`, `eq"x"` need none, and
//!   whitespace is allowed inside `( … )`, `[ … ]` and before `[`.
//! * `+` as a separator, for clients that double-encode the query string. The query decoder
//!   has already turned every real `+` into a space, so a `+` left in the filter was sent as
//!   `%2B` and normally means a literal plus. Hence: a `+` counts as a separator only where
//!   no whitespace already separates two tokens (`userName+eq+"x"`, `x+and+y`), and inside an
//!   unquoted value a `+` is literal (`jane+test@x.com`, `1e+5`) unless it introduces
//!   `+and` / `+or` followed by whitespace, `+` or `(`. After whitespace, a `+` starts the value
//!   (`phoneNumbers.value eq +15551234567` is the string `"+15551234567"`). Quoted strings are
//!   never touched.
//!   A separating `+` may also lead or trail the filter, like whitespace.
//! * `not` directly followed by a comparison operator or `[` is an attribute named `not`
//!   (`not pr`), since the RFC's `not` always takes parentheses; likewise `and` / `or` where an
//!   attribute path is expected and an operator follows (`and eq 1`).
//! * After Entra's `].sub`, `pr` works as well as a comparison (`emails[type eq "work"].value pr`).
//!
//! The evaluator's own leniencies (complex values compared through `value`, unqualified names
//! found in extensions, `"True"` matching a boolean, date-times compared as instants) are
//! listed on [`matches`].
//!
//! # Limits
//!
//! [`MAX_FILTER_LEN`] bytes, [`MAX_FILTER_DEPTH`] nested `( )` / `not ( )` / `[ ]`, and
//! [`MAX_FILTER_TERMS`] comparison or presence terms. The parser recurses only on nesting, so
//! the depth limit bounds its stack, and it indexes characters, never bytes, so no input can
//! make it panic.
//!
//! # Errors
//!
//! 400 `invalidFilter`, detail `invalid filter at position N: <what was expected>, found <what
//! was there>`, where N is a 1-based character offset (the end of the filter is its length + 1).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Number, Value};

use crate::scim::error::ScimError;
use crate::scim::path::{AttrPath, check_attr_name, parse_attr_path_core};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and value paths.
pub const MAX_FILTER_DEPTH: usize = 16;
/// Most comparison / presence terms in one filter.
pub const MAX_FILTER_TERMS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A literal on the right of a comparison, as written. Coercion to the attribute's type
/// (`"True"` for a boolean, a date string for a dateTime) is the consumer's job, because only
/// the consumer knows the attribute's type.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Str(String),
    Bool(bool),
    Num(serde_json::Number),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attrPath op value`
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `attrPath pr`
    Present(AttrPath),
    /// `attr[filter]`: some element of multi-valued `attr` matches `filter`, whose paths are
    /// relative to the element (`type`, `value`, …). `attr.sub` is always `None` here.
    /// Entra's `emails[type eq "work"].value eq "x"` parses as
    /// `ValuePath { emails, And(type eq "work", value eq "x") }`.
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

impl CompareOp {
    /// The operator as written in a filter, lowercase.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator for a keyword, in any case (`EQ`, `Sw`).
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes the literal in filter syntax: strings quoted and JSON-escaped.
impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Str(s) => write_json_string(f, s),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Num(n) => write!(f, "{n}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

fn write_json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    use fmt::Write;
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Writes the filter in canonical syntax (lowercase operators, quoted strings, parentheses
/// only where precedence needs them). The output parses back to an equal AST.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Or(l, r) => {
                write_operand(f, l, Prec::Or)?;
                f.write_str(" or ")?;
                // Left-associative parsing: a right-hand `or` needs parentheses to survive.
                write_operand(f, r, Prec::And)
            }
            Filter::And(l, r) => {
                write_operand(f, l, Prec::And)?;
                f.write_str(" and ")?;
                write_operand(f, r, Prec::Atom)
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Or,
    And,
    Atom,
}

fn write_operand(f: &mut fmt::Formatter<'_>, filter: &Filter, min: Prec) -> fmt::Result {
    let prec = match filter {
        Filter::Or(..) => Prec::Or,
        Filter::And(..) => Prec::And,
        _ => Prec::Atom,
    };
    if prec < min {
        write!(f, "({filter})")
    } else {
        write!(f, "{filter}")
    }
}

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

/// A syntax error at a character offset (0-based here, 1-based once rendered). Shared with
/// `path`, so a PATCH path can report filter errors at positions within the whole path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pos: usize,
    msg: String,
}

impl SyntaxError {
    pub(crate) fn at(pos: usize, msg: impl Into<String>) -> Self {
        SyntaxError { pos, msg: msg.into() }
    }

    /// Moves the position right by `by` characters: the text parsed sat at that offset.
    pub(crate) fn shifted(mut self, by: usize) -> Self {
        self.pos += by;
        self
    }

    pub(crate) fn into_error(self, what: &str, make: impl FnOnce(String) -> ScimError) -> ScimError {
        make(format!("{what} at position {}: {}", self.pos + 1, self.msg))
    }

    pub(crate) fn into_path_error(self) -> ScimError {
        self.into_error("invalid path", ScimError::invalid_path)
    }

    fn into_filter_error(self) -> ScimError {
        self.into_error("invalid filter", ScimError::invalid_filter)
    }
}

const EXPECTED_OPERATOR: &str = "a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)";

/// What may follow an attribute path.
#[derive(Clone, Copy)]
enum Operator {
    Compare(CompareOp),
    Present,
}

/// Recursive descent over the input's characters (a `Vec<char>`, so positions are character
/// offsets and slicing can never split a UTF-8 sequence).
struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    terms: usize,
    in_value_path: bool,
    /// "filter" or "path", for "found the end of the …".
    noun: &'static str,
}

type Parsed<T> = Result<T, SyntaxError>;

impl Parser {
    fn new(input: &str, noun: &'static str) -> Self {
        Parser {
            chars: input.chars().collect(),
            pos: 0,
            depth: 0,
            terms: 0,
            in_value_path: false,
            noun,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars[from..to].iter().collect()
    }

    /// Skips a separator and says whether there was one: a run of whitespace or, where there
    /// is no whitespace, one `+` (see the module docs).
    fn sep(&mut self) -> bool {
        let start = self.pos;
        self.skip_whitespace();
        if self.pos == start && self.peek() == Some('+') {
            self.pos += 1;
            self.skip_whitespace();
        }
        self.pos > start
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// End of the run of attribute-path characters starting at `from`.
    fn path_end(&self, from: usize) -> usize {
        let mut end = from;
        while self.chars.get(end).copied().is_some_and(is_path_char) {
            end += 1;
        }
        end
    }

    /// If the ASCII word `kw` (any case) starts at `at` and ends there, the index past it.
    fn keyword_at(&self, at: usize, kw: &str) -> Option<usize> {
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
    fn operator_at(&self, at: usize) -> Option<(Operator, usize)> {
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
    fn found(&self, at: usize) -> String {
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

    fn error<T>(&self, at: usize, msg: impl Into<String>) -> Parsed<T> {
        Err(SyntaxError::at(at, msg))
    }

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

    fn parse_value(&mut self, op: CompareOp) -> Parsed<CompValue> {
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
    fn parse_bare_word(&mut self) -> CompValue {
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
    fn plus_joins_next(&self) -> bool {
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
    fn parse_string(&mut self) -> Parsed<String> {
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
    fn parse_escape(&mut self, at: usize) -> Parsed<char> {
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
    fn parse_unicode_escape(&mut self, at: usize) -> Parsed<char> {
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

    fn hex4(&mut self, at: usize) -> Parsed<u32> {
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
fn json_number(word: &str) -> Option<Number> {
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
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '-' | '_' | '.' | ':' | '$')
        || (!c.is_ascii() && c.is_alphanumeric())
}

/// Characters that always end a bare word or an operator.
fn is_delimiter(c: char) -> bool {
    matches!(c, '(' | ')' | '[' | ']' | '"')
}

/// Does `value` (a resource, or one element of a multi-valued attribute) match `filter`?
/// Attribute names are looked up case-insensitively. `case_exact(path)` tells whether string
/// comparisons on that attribute are case-sensitive.
///
/// Semantics:
/// * A path with a URN looks under the top-level key equal to that URN (extension attributes
///   are nested there); for a core-schema URN (`urn:ietf:params:scim:schemas:core:…`) without
///   such a key, at the top level. `urn:…:2.0` + `User` also finds a whole extension object.
///   A path without URN looks at the top level, then inside every `urn:…` extension object
///   (Entra filters on `manager` unqualified).
/// * Multi-valued attributes match if any element does (`emails.value eq "x"`). A complex value
///   compared without sub-attribute is compared through its `value` (`emails co "example.com"`,
///   `manager eq "id"`).
/// * `ValuePath`: some element matches the inner filter. Its paths reach `case_exact` qualified
///   by the parent (`emails.type`); a caller evaluating a bare value filter on one element (a
///   PATCH `emails[type eq "work"]`) qualifies them in its own `case_exact`.
/// * `ne x` is `not (eq x)`: true when no value equals `x`, including when the attribute is
///   absent. `eq null` is "not present", `ne null` is "present"; other operators on `null` are
///   false.
/// * `pr`: present, not null, not `""`, not `[]`, not `{}`.
/// * Strings: `eq ne co sw ew` honour `case_exact` (otherwise Unicode lowercase on both sides);
///   `eq ne gt ge lt le` compare instants when both sides parse as RFC 3339 date-times,
///   otherwise strings lexicographically (case-folded unless case-exact).
/// * Numbers numerically; booleans by `eq` / `ne` only, a string literal `"True"` / `"false"`
///   (any case) matching a JSON boolean and vice versa. Other type mixes are false.
pub fn matches(filter: &Filter, value: &serde_json::Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, value, case_exact) && matches(b, value, case_exact),
        Filter::Or(a, b) => matches(a, value, case_exact) || matches(b, value, case_exact),
        Filter::Not(inner) => !matches(inner, value, case_exact),
        Filter::Present(path) => attr_values(value, path).into_iter().any(is_present),
        Filter::Compare {
            path,
            op,
            value: literal,
        } => {
            let values = attr_values(value, path);
            let exact = || case_exact(path);
            match (op, literal) {
                (CompareOp::Eq, CompValue::Null) => !values.into_iter().any(is_present),
                (CompareOp::Ne, CompValue::Null) => values.into_iter().any(is_present),
                (_, CompValue::Null) => false,
                (CompareOp::Ne, _) => {
                    let exact = exact();
                    !values
                        .into_iter()
                        .any(|v| compare(v, CompareOp::Eq, literal, exact))
                }
                (op, _) => {
                    let exact = exact();
                    values.into_iter().any(|v| compare(v, *op, literal, exact))
                }
            }
        }
        Filter::ValuePath { attr, filter } => {
            let qualified = |p: &AttrPath| {
                if p.urn.is_some() || p.sub.is_some() {
                    return case_exact(p);
                }
                case_exact(&AttrPath {
                    urn: attr.urn.clone(),
                    name: attr.name.clone(),
                    sub: Some(p.name.clone()),
                })
            };
            attr_values(value, attr)
                .into_iter()
                .any(|element| matches(filter, element, &qualified))
        }
    }
}

const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:";

/// A key of `obj` equal to `key` ignoring ASCII case (names and URNs are ASCII).
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// The attribute itself (before multi-value flattening), per the lookup rules of `matches`.
fn lookup<'a>(obj: &'a Map<String, Value>, path: &AttrPath) -> Option<&'a Value> {
    match &path.urn {
        Some(urn) => {
            if let Some(ext) = get_ci(obj, urn) {
                return ext.as_object().and_then(|ext| get_ci(ext, &path.name));
            }
            if starts_with_ci(urn, CORE_URN_PREFIX) {
                return get_ci(obj, &path.name);
            }
            get_ci(obj, &format!("{urn}:{}", path.name))
        }
        None => get_ci(obj, &path.name).or_else(|| {
            obj.iter()
                .filter(|(k, _)| starts_with_ci(k, "urn:"))
                .find_map(|(_, ext)| ext.as_object().and_then(|ext| get_ci(ext, &path.name)))
        }),
    }
}

/// Every value `path` reaches in `root`, multi-valued attributes flattened.
fn attr_values<'a>(root: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(found) = root.as_object().and_then(|obj| lookup(obj, path)) else {
        return Vec::new();
    };
    let elements = flatten(found);
    match &path.sub {
        None => elements.collect(),
        Some(sub) => elements
            .filter_map(|e| e.as_object().and_then(|o| get_ci(o, sub)))
            .flat_map(flatten)
            .collect(),
    }
}

fn flatten(value: &Value) -> impl Iterator<Item = &Value> {
    match value {
        Value::Array(items) => items.iter().collect::<Vec<_>>().into_iter(),
        other => vec![other].into_iter(),
    }
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(value: &Value, op: CompareOp, literal: &CompValue, case_exact: bool) -> bool {
    // A complex value stands for its `value` sub-attribute (RFC 7644 §3.4.2.2 `emails co …`).
    let value = match value {
        Value::Object(o) => match get_ci(o, "value") {
            Some(inner @ (Value::String(_) | Value::Bool(_) | Value::Number(_))) => inner,
            _ => return false,
        },
        v => v,
    };
    match (value, literal) {
        (Value::String(a), CompValue::Str(b)) => compare_strings(a, op, b, case_exact),
        (Value::Bool(a), CompValue::Bool(b)) => equality_only(op, *a == *b),
        (Value::Bool(a), CompValue::Str(b)) => parse_bool(b).is_some_and(|b| equality_only(op, *a == b)),
        (Value::String(a), CompValue::Bool(b)) => parse_bool(a).is_some_and(|a| equality_only(op, a == *b)),
        (Value::Number(a), CompValue::Num(b)) => {
            compare_numbers(a, b).is_some_and(|ord| ordering_matches(op, ord))
        }
        _ => false,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn equality_only(op: CompareOp, equal: bool) -> bool {
    match op {
        CompareOp::Eq => equal,
        CompareOp::Ne => !equal,
        _ => false,
    }
}

fn ordering_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn compare_strings(a: &str, op: CompareOp, b: &str, case_exact: bool) -> bool {
    let fold = |s| fold_case(s, case_exact);
    match op {
        CompareOp::Co => fold(a).contains(&*fold(b)),
        CompareOp::Sw => fold(a).starts_with(&*fold(b)),
        CompareOp::Ew => fold(a).ends_with(&*fold(b)),
        _ => {
            let ord = match (parse_datetime(a), parse_datetime(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => fold(a).cmp(&fold(b)),
            };
            ordering_matches(op, ord)
        }
    }
}

fn fold_case(s: &str, case_exact: bool) -> Cow<'_, str> {
    // Most values compared (emails, ids) are already lower-case ASCII: no copy for them.
    if case_exact || (s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase())) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

fn parse_datetime(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    // Cheap pre-check: most strings compared are not dates.
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use proptest::prelude::*;
    use serde_json::json;
    use std::cell::RefCell;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn parse(input: &str) -> Filter {
        parse_filter(input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
    }

    fn err(input: &str) -> String {
        let e = parse_filter(input).expect_err(input);
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidFilter)),
            "{input}: {e}"
        );
        e.detail
    }

    fn path(s: &str) -> AttrPath {
        crate::scim::path::parse_attr_path(s).unwrap()
    }

    fn str_(s: &str) -> CompValue {
        CompValue::Str(s.to_string())
    }

    fn num(s: &str) -> CompValue {
        CompValue::Num(serde_json::from_str(s).unwrap())
    }

    fn cmp(p: &str, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare {
            path: path(p),
            op,
            value,
        }
    }

    fn eq(p: &str, v: &str) -> Filter {
        cmp(p, CompareOp::Eq, str_(v))
    }

    fn pr(p: &str) -> Filter {
        Filter::Present(path(p))
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    fn vp(attr: &str, filter: Filter) -> Filter {
        Filter::ValuePath {
            attr: path(attr),
            filter: Box::new(filter),
        }
    }

    fn rfc_examples() -> Vec<(&'static str, Filter)> {
        use CompareOp::*;
        vec![
            (r#"userName eq "bjensen""#, eq("userName", "bjensen")),
            (
                r#"name.familyName co "O'Malley""#,
                cmp("name.familyName", Co, str_("O'Malley")),
            ),
            (r#"userName sw "J""#, cmp("userName", Sw, str_("J"))),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                cmp(&format!("{CORE}:userName"), Sw, str_("J")),
            ),
            ("title pr", pr("title")),
            (
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Gt, str_("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Ge, str_("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Lt, str_("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Le, str_("2011-05-13T04:42:34Z")),
            ),
            (
                r#"title pr and userType eq "Employee""#,
                and(pr("title"), eq("userType", "Employee")),
            ),
            (
                r#"title pr or userType eq "Intern""#,
                or(pr("title"), eq("userType", "Intern")),
            ),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                eq("schemas", ENT),
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                and(
                    eq("userType", "Employee"),
                    or(
                        cmp("emails", Co, str_("example.com")),
                        cmp("emails.value", Co, str_("example.org")),
                    ),
                ),
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                and(
                    cmp("userType", Ne, str_("Employee")),
                    not(or(
                        cmp("emails", Co, str_("example.com")),
                        cmp("emails.value", Co, str_("example.org")),
                    )),
                ),
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                and(eq("userType", "Employee"), eq("emails.type", "work")),
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                and(
                    eq("userType", "Employee"),
                    vp(
                        "emails",
                        and(eq("type", "work"), cmp("value", Co, str_("@example.com"))),
                    ),
                ),
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                or(
                    vp(
                        "emails",
                        and(eq("type", "work"), cmp("value", Co, str_("@example.com"))),
                    ),
                    vp("ims", and(eq("type", "xmpp"), cmp("value", Co, str_("@foo.com")))),
                ),
            ),
        ]
    }

    #[test]
    fn rfc_7644_examples() {
        for (input, want) in rfc_examples() {
            assert_eq!(parse(input), want, "{input}");
        }
    }

    #[test]
    fn rfc_examples_display_and_reparse() {
        for (input, want) in rfc_examples() {
            let printed = want.to_string();
            assert_eq!(parse(&printed), want, "{input} printed as {printed}");
        }
        assert_eq!(
            parse(
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
            )
            .to_string(),
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
        );
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

    fn user() -> Value {
        json!({
            "schemas": [CORE, ENT],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Bjensen@example.com",
            "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "O'Malley", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "title": "Tour Guide",
            "userType": "Employee",
            "nickName": "",
            "active": true,
            "loginCount": 5,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
            "phoneNumbers": [{"value": "+1 555 555 5555", "type": "work"}],
            "roles": [{"value": "admin", "display": "Admin", "primary": true}],
            "addresses": [],
            "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
            ENT: {
                "employeeNumber": "701984",
                "costCenter": "4130",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            }
        })
    }

    fn case_exact(p: &AttrPath) -> bool {
        p.sub.is_none()
            && ["id", "externalId"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&p.name))
    }

    fn check(input: &str) -> bool {
        matches(&parse(input), &user(), &case_exact)
    }

    #[test]
    fn matches_rfc_examples_on_a_user() {
        for (input, want) in [
            (r#"userName eq "bjensen@example.com""#, true),
            (r#"userName eq "BJENSEN@EXAMPLE.COM""#, true),
            (r#"name.familyName co "o'malley""#, true),
            (r#"userName sw "J""#, false),
            (r#"userName sw "b""#, true),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B""#,
                true,
            ),
            ("title pr", true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34.5Z""#, true),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
            // Same instant in another offset: compared as date-times, not as strings.
            (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
            (r#"meta.lastModified lt "2011-05-13T05:42:34+02:00""#, false),
            (r#"title pr and userType eq "Employee""#, true),
            (r#"title pr or userType eq "Intern""#, true),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                true,
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                true,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                false,
            ),
            (r#"userType eq "Employee" and (emails.type eq "work")"#, true),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                true,
            ),
        ] {
            assert_eq!(check(input), want, "{input}");
        }
    }

    #[test]
    fn value_paths_match_within_one_element() {
        // No single email is both home and @example.com …
        assert!(!check(r#"emails[type eq "home" and value co "@example.com"]"#));
        // … though across elements both hold.
        assert!(check(
            r#"emails.type eq "home" and emails.value co "@example.com""#
        ));
        assert!(check(r#"emails[type eq "home" or value co "nothing"]"#));
        assert!(check(r#"emails[not (type eq "work")]"#));
        assert!(!check(r#"addresses[type pr]"#));
        assert!(!check(r#"nosuch[type pr]"#));
        // Entra's shapes.
        assert!(check(r#"emails[type eq "work"].value eq "BJENSEN@example.com""#));
        assert!(!check(r#"emails[type eq "home"].value eq "bjensen@example.com""#));
        assert!(check(r#"roles[primary eq "True"].display eq "admin""#));
        assert!(check(
            r#"manager[value eq "26118915-6090-4610-87e4-49d8ca9f808d"]"#
        ));
    }

    #[test]
    fn matches_extension_attributes() {
        assert!(check(&format!(r#"{ENT}:employeeNumber eq "701984""#)));
        assert!(check(&format!(
            r#"{}:employeeNumber eq "701984""#,
            ENT.to_uppercase()
        )));
        assert!(check(&format!(
            r#"{ENT}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#
        )));
        assert!(check(&format!(
            r#"{ENT}:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#
        )));
        // Unqualified names fall back to the extensions (Entra's `manager eq`).
        assert!(check(r#"manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#));
        assert!(check(
            r#"id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#
        ));
        assert!(check(r#"employeeNumber eq "701984""#));
        // The whole extension, parsed as URN `…:2.0` + name `User`.
        assert!(check(&format!("{ENT} pr")));
        assert!(!check(r#"urn:example:other:userName eq "bjensen@example.com""#));
        assert!(!check(&format!(r#"{ENT}:userName eq "bjensen@example.com""#)));
    }

    #[test]
    fn matches_case_exactness() {
        assert!(check(r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#));
        assert!(!check(r#"externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF""#));
        assert!(check(r#"externalId ne "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF""#));
        assert!(!check(r#"id sw "2819C""#));
        assert!(check(r#"emails.value sw "BJENSEN""#));
        assert!(check(r#"emails.value ew ".ORG""#));
        assert!(check(r#"name.givenName eq "BARBARA""#));
        let doc = json!({"name": {"givenName": "Émile"}});
        assert!(matches(&parse(r#"name.givenName eq "éMILE""#), &doc, &|_| false));
        assert!(!matches(&parse(r#"name.givenName eq "éMILE""#), &doc, &|_| true));
        // Ordering folds case unless case-exact.
        assert!(check(r#"userName gt "a""#));
        assert!(!matches(&parse(r#"userName gt "a""#), &user(), &|_| true));
    }

    #[test]
    fn value_path_qualifies_paths_for_case_exact() {
        let seen = RefCell::new(Vec::new());
        let record = |p: &AttrPath| {
            seen.borrow_mut().push(p.to_string());
            false
        };
        let f = parse(r#"emails[type eq "work"].value eq "x""#);
        matches(&f, &user(), &record);
        assert!(
            seen.borrow()
                .iter()
                .all(|p| p == "emails.type" || p == "emails.value"),
            "{:?}",
            seen.borrow()
        );
        assert!(seen.borrow().contains(&"emails.type".to_string()));
    }

    #[test]
    fn matches_booleans_numbers_null_and_presence() {
        for (input, want) in [
            ("active eq true", true),
            (r#"active eq "True""#, true),
            (r#"active eq "FALSE""#, false),
            (r#"active ne "False""#, true),
            ("active ne false", true),
            ("active gt false", false),
            ("active eq 1", false),
            (r#"active eq "yes""#, false),
            ("loginCount eq 5", true),
            ("loginCount eq 5.0", true),
            ("loginCount gt 4", true),
            ("loginCount ge 5", true),
            ("loginCount lt 5", false),
            ("loginCount le -1", false),
            (r#"loginCount eq "5""#, false),
            ("loginCount co 5", false),
            ("userName gt 5", false),
            ("nosuch eq null", true),
            ("nickName eq null", true),
            ("userName eq null", false),
            ("userName ne null", true),
            ("nosuch ne null", false),
            ("userName gt null", false),
            (r#"nosuch ne "x""#, true),
            (r#"userType ne "Intern""#, true),
            (r#"nosuch eq "x""#, false),
            (r#"nosuch co "x""#, false),
            ("nickName pr", false),
            ("addresses pr", false),
            ("emails pr", true),
            ("emails.value pr", true),
            ("meta pr", true),
            ("name.middleName pr", false),
            (r#"phoneNumbers.value eq "+1 555 555 5555""#, true),
        ] {
            assert_eq!(check(input), want, "{input}");
        }
        let doc = json!({"a": "", "b": [], "c": {}, "d": null, "e": false, "f": 0, "g": [null], "h": [""]});
        for (name, want) in [
            ("a", false),
            ("b", false),
            ("c", false),
            ("d", false),
            ("e", true),
            ("f", true),
            ("g", false),
            ("h", false),
        ] {
            assert_eq!(matches(&pr(name), &doc, &|_| false), want, "{name}");
        }
    }

    #[test]
    fn matches_never_panics_on_odd_documents() {
        let f = parse(r#"emails[type eq "work"].value eq "x" or name.givenName pr or userName gt 1"#);
        for doc in [
            json!(null),
            json!("x"),
            json!(1),
            json!([1, 2]),
            json!({"emails": "x"}),
            json!({"emails": [1, [2], null]}),
            json!({"name": [[{"givenName": "x"}]]}),
        ] {
            let _ = matches(&f, &doc, &|_| false);
        }
        assert!(!matches(
            &parse("name.givenName pr"),
            &json!({"name": "plain"}),
            &|_| false
        ));
    }

    // ---- property tests ----

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
            1 => prop::sample::select(vec!["$ref", "not", "and", "or", "pr", "eq", "true", "null", "value"]).prop_map(String::from),
        ]
    }

    fn attr_path(relative: bool) -> BoxedStrategy<AttrPath> {
        if relative {
            return name()
                .prop_map(|name| AttrPath {
                    urn: None,
                    name,
                    sub: None,
                })
                .boxed();
        }
        let urn = prop_oneof![
            3 => Just(None),
            1 => Just(Some(ENT.to_string())),
            1 => "urn:[a-z]{1,4}(:[a-zA-Z0-9.]{1,4}){0,2}".prop_map(Some),
        ];
        (urn, name(), prop::option::of(name()))
            .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
            .boxed()
    }

    fn comp_value() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            any::<String>().prop_map(CompValue::Str),
            "[a-zA-Z0-9 \"\\\\+()\\[\\]]{0,8}".prop_map(CompValue::Str),
            any::<bool>().prop_map(CompValue::Bool),
            any::<i64>().prop_map(|n| CompValue::Num(n.into())),
            any::<u64>().prop_map(|n| CompValue::Num(n.into())),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(CompValue::Num)),
            Just(CompValue::Null),
        ]
    }

    fn op() -> impl Strategy<Value = CompareOp> {
        use CompareOp::*;
        prop::sample::select(vec![Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le])
    }

    fn tree(leaf: BoxedStrategy<Filter>, depth: u32) -> BoxedStrategy<Filter> {
        leaf.prop_recursive(depth, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| and(a, b)),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| or(a, b)),
                inner.prop_map(not),
            ]
        })
        .boxed()
    }

    fn term(relative: bool) -> BoxedStrategy<Filter> {
        prop_oneof![
            3 => (attr_path(relative), op(), comp_value()).prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
            1 => attr_path(relative).prop_map(Filter::Present),
        ]
        .boxed()
    }

    fn filter_ast() -> BoxedStrategy<Filter> {
        let value_path = (attr_path(false), tree(term(true), 2)).prop_map(|(mut attr, inner)| {
            attr.sub = None;
            Filter::ValuePath {
                attr,
                filter: Box::new(inner),
            }
        });
        tree(prop_oneof![3 => term(false), 1 => value_path].boxed(), 4)
    }

    fn count_terms(f: &Filter) -> usize {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => count_terms(a) + count_terms(b),
            Filter::Not(a) | Filter::ValuePath { filter: a, .. } => count_terms(a),
            Filter::Compare { .. } | Filter::Present(_) => 1,
        }
    }

    const TOKENS: &[&str] = &[
        "userName",
        "emails",
        "name.givenName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "type",
        "value",
        ".value",
        "eq",
        "EQ",
        "ne",
        "co",
        "sw",
        "gt",
        "le",
        "pr",
        "and",
        "OR",
        "not",
        "(",
        ")",
        "[",
        "]",
        "\"work\"",
        "\"a\\\"b\"",
        "\"é😀\"",
        "\"\\u00e9\"",
        "\"\\ud83d\\ude00\"",
        "\"",
        "\\",
        "true",
        "False",
        "null",
        "42",
        "-1.5e+3",
        "01",
        "jane@example.com",
        "a+b",
        "+",
        " ",
        "  ",
        "\t",
        ".",
        ":",
        "é",
        "😀",
        "\u{0}",
        "$ref",
        "\u{a0}",
        "+and+",
        "+or+",
    ];

    fn token_soup() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|t| t.concat()),
            prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|t| t.join(" ")),
        ]
    }

    /// Whatever parses prints back to something that parses to the same AST.
    fn assert_round_trip(input: &str) -> Result<(), TestCaseError> {
        if let Ok(f) = parse_filter(input) {
            let printed = f.to_string();
            let again = parse_filter(&printed)
                .map_err(|e| TestCaseError::fail(format!("{input:?} → {printed:?}: {e}")))?;
            prop_assert_eq!(again, f, "{:?} → {:?}", input, printed);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,80}|.{0,80}") {
            let _ = parse_filter(&s);
            let _ = crate::scim::path::parse_patch_path(&s);
            let _ = crate::scim::path::parse_attr_path(&s);
            assert_round_trip(&s)?;
        }

        #[test]
        fn grammar_token_soup_never_panics(s in token_soup()) {
            let _ = crate::scim::path::parse_patch_path(&s);
            let _ = crate::scim::path::parse_patch_path(&format!("emails[{s}].value"));
            if let Ok(f) = parse_filter(&s) {
                let _ = matches(&f, &user(), &case_exact);
            }
            assert_round_trip(&s)?;
        }

        #[test]
        fn printed_ast_reparses_to_itself(f in filter_ast().prop_filter("term limit", |f| count_terms(f) <= MAX_FILTER_TERMS)) {
            let printed = f.to_string();
            let parsed = parse_filter(&printed).map_err(|e| TestCaseError::fail(format!("{printed:?}: {e}")))?;
            prop_assert_eq!(parsed, f, "{}", printed);
        }

        #[test]
        fn matches_never_panics(f in filter_ast(), key in "[a-z]{1,3}", n in any::<i64>()) {
            let doc = json!({key.clone(): [{"value": n, "type": key}], "x": {"y": null}, ENT: {"manager": {"value": "m"}}});
            let _ = matches(&f, &doc, &|_| false);
            let _ = matches(&f, &user(), &case_exact);
        }
    }
}
