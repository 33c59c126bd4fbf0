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
//!
//! # Parts
//!
//! `ast` holds the tree and its printer, `lexer` the character-level scanning (separators,
//! keywords, operators and literals), `parser` the grammar and its limits, and `eval` the
//! in-memory evaluator. The attribute path inside each term comes from `crate::scim::attr_path`.

mod ast;
mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod test_support;

pub use ast::{CompValue, CompareOp, Filter};
pub use eval::matches;
pub(crate) use parser::parse_value_filter;
pub use parser::{MAX_FILTER_DEPTH, MAX_FILTER_LEN, MAX_FILTER_TERMS, parse_filter};

/// Property tests of the parts together: printing and re-parsing, and never panicking on
/// arbitrary input, in the parser, the PATCH-path parser and the evaluator.
#[cfg(test)]
mod tests {
    use super::test_support::{ENT, and, case_exact, not, or, user};
    use super::*;
    use crate::scim::attr_path::AttrPath;
    use proptest::prelude::*;
    use serde_json::{Number, json};

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
