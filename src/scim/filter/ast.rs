//! The filter's syntax tree (RFC 7644 §3.4.2.2) and its canonical printer. Kept apart from
//! the parser because every consumer (the store's SQL builder, PATCH, the evaluator) needs the
//! tree but none needs the parser's machinery.

use std::fmt;

use crate::scim::attr_path::AttrPath;

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

impl Filter {
    /// Whether some attribute path of the filter (a value filter's `attr` included) satisfies
    /// `pred`. Paths inside a value filter are relative to its attribute.
    pub fn any_path(&self, pred: &impl Fn(&AttrPath) -> bool) -> bool {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => a.any_path(pred) || b.any_path(pred),
            Filter::Not(a) => a.any_path(pred),
            Filter::Compare { path, .. } | Filter::Present(path) => pred(path),
            Filter::ValuePath { attr, filter } => pred(attr) || filter.any_path(pred),
        }
    }
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

#[cfg(test)]
mod tests {
    use crate::scim::filter::test_support::{parse, rfc_examples};

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
}
