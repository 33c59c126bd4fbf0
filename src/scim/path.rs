//! Attribute paths (RFC 7644 §3.10 `attrPath`) and PATCH paths (RFC 7644 §3.5.2 `PATH`).
//!
//! Parsing here is schema-free: a path that starts with `urn:` keeps everything up to the last
//! `:` as its URN. Whether `urn:…:2.0:User` (which parses as URN `urn:…:2.0` + name `User`)
//! is really a whole extension is decided by `schema::ResourceType::resolve`.
//!
//! Grammar accepted (RFC 7644 §3.4.2.2 / §3.5.2):
//!
//! ```text
//! attrPath = [URN ":"] ATTRNAME ["." ATTRNAME]
//! ATTRNAME = ALPHA *(ALPHA / DIGIT / "-" / "_") / "$ref"
//! PATH     = attrPath / attrPath "[" valFilter "]" ["." ATTRNAME]
//! ```
//!
//! Spelling is kept as written; only surrounding whitespace is trimmed. `$ref` is recognised in
//! any case, like every other name. Inside a URN, letters, digits and `- . _ ~ % ! $ & ' * + = ;
//! @ /` are accepted, every `:`-separated segment must be non-empty, and there must be at least
//! a namespace after `urn:` (`urn:userName` is an error, not URN `urn` + `userName`). A PATCH
//! path's value filter gets the filter grammar's leniencies (see `filter`), except that
//! whitespace is not allowed between the attribute and `[`, nor around `.sub`.
//!
//! Errors are 400 `invalidPath` with a detail of the form
//! `invalid path at position 5: unexpected " " after "name" in an attribute name; …`, where the
//! position is a 1-based character offset into the string as the client sent it.
//! In a PATCH path, a syntax error *inside* the brackets is 400 `invalidFilter` instead
//! (RFC 7644 §3.12 table 9 lists `invalidFilter` for "PATCH (Path Filter)"), with the position
//! still counted from the start of the whole path; everything about the path's shape around the
//! brackets stays `invalidPath`.

use std::fmt;

use crate::scim::attr_path::{SyntaxError, check_attr_name, parse_attr_path_core};
use crate::scim::error::ScimError;
use crate::scim::filter::{self, Filter, MAX_FILTER_LEN};

pub use crate::scim::attr_path::AttrPath;

/// A PATCH `path`: `attrPath`, or `attr[valFilter]` optionally followed by `.sub`.
/// With a filter, `attr.sub` holds the sub-attribute that follows `]`
/// (`emails[type eq "work"].value` → name `emails`, filter `type eq "work"`, sub `value`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
}

/// Writes the path as it would be sent: `emails[type eq "work"].value`. Re-parses to itself.
impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(filter) = &self.filter else {
            return self.attr.fmt(f);
        };
        if let Some(urn) = &self.attr.urn {
            write!(f, "{urn}:")?;
        }
        write!(f, "{}[{filter}]", self.attr.name)?;
        if let Some(sub) = &self.attr.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Parse an attribute path as used in filters, `attributes`, `sortBy` and PATCH paths.
/// Errors are 400 `invalidPath` naming the offending character and its position.
pub fn parse_attr_path(input: &str) -> Result<AttrPath, ScimError> {
    let (s, lead) = trim_with_offset(input);
    if s.len() > MAX_FILTER_LEN {
        return Err(too_long(s.len()));
    }
    parse_attr_path_core(s).map_err(|e| e.shifted(lead).into_path_error())
}

/// Parse a PATCH operation's `path`. Errors are 400 `invalidPath` saying what is wrong and
/// where; a syntax error inside `[…]` is 400 `invalidFilter` (see the module docs).
pub fn parse_patch_path(input: &str) -> Result<PatchPath, ScimError> {
    let (s, lead) = trim_with_offset(input);
    if s.len() > MAX_FILTER_LEN {
        return Err(too_long(s.len()));
    }
    parse_patch_path_core(s).map_err(|e| match e {
        PatchPathError::Path(e) => e.shifted(lead).into_path_error(),
        PatchPathError::Filter(e) => e
            .shifted(lead)
            .into_error("invalid filter in PATCH path", ScimError::invalid_filter),
    })
}

/// Parse the comma-separated `attributes` / `excludedAttributes` query parameter.
/// Blank entries (`a,,b`, a trailing comma, an empty parameter) are ignored.
pub fn parse_attr_list(input: &str) -> Result<Vec<AttrPath>, ScimError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(too_long(input.len()));
    }
    let mut paths = Vec::new();
    // Character offset of the current entry, so positions point into the whole parameter.
    let mut offset = 0;
    for entry in input.split(',') {
        let (s, lead) = trim_with_offset(entry);
        if !s.is_empty() {
            let path = parse_attr_path_core(s).map_err(|e| e.shifted(offset + lead).into_path_error())?;
            paths.push(path);
        }
        offset += entry.chars().count() + 1;
    }
    Ok(paths)
}

fn too_long(len: usize) -> ScimError {
    ScimError::invalid_path(format!(
        "invalid path: it is {len} bytes long; the limit is {MAX_FILTER_LEN} bytes"
    ))
}

/// Trims surrounding whitespace and says how many characters were dropped in front, so error
/// positions can point into what the client actually sent.
fn trim_with_offset(input: &str) -> (&str, usize) {
    let start = input.trim_start();
    let lead = input[..input.len() - start.len()].chars().count();
    (start.trim_end(), lead)
}

enum PatchPathError {
    Path(SyntaxError),
    Filter(SyntaxError),
}

fn parse_patch_path_core(s: &str) -> Result<PatchPath, PatchPathError> {
    use PatchPathError::{Filter as FilterErr, Path as PathErr};

    let Some(open) = s.find('[') else {
        if let Some(close) = s.find(']') {
            let pos = s[..close].chars().count();
            return Err(PathErr(SyntaxError::at(
                pos,
                "unexpected \"]\" without a matching \"[\"",
            )));
        }
        let attr = parse_attr_path_core(s).map_err(PathErr)?;
        return Ok(PatchPath { attr, filter: None });
    };

    let open_pos = s[..open].chars().count();
    let prefix = &s[..open];
    if prefix.is_empty() {
        return Err(PathErr(SyntaxError::at(
            0,
            "expected an attribute name before \"[\" (such as emails[type eq \"work\"])",
        )));
    }
    let mut attr = parse_attr_path_core(prefix).map_err(PathErr)?;
    if attr.sub.is_some() {
        return Err(PathErr(SyntaxError::at(
            open_pos,
            format!(
                "\"[\" must follow a multi-valued attribute name (such as emails[type eq \"work\"]), \
                 not the sub-attribute {:?}",
                prefix
            ),
        )));
    }

    let (filter, after) = filter::parse_value_filter(s, open_pos).map_err(FilterErr)?;

    // `after` is a character index just past `]`; the rest is nothing or `.sub`.
    let rest: String = s.chars().skip(after).collect();
    if let Some(sub) = rest.strip_prefix('.') {
        check_attr_name(sub, after + 1, "sub-attribute").map_err(PathErr)?;
        attr.sub = Some(sub.to_string());
    } else if !rest.is_empty() {
        return Err(PathErr(SyntaxError::at(
            after,
            format!(
                "expected \".\" and a sub-attribute name, or the end of the path, after \"]\"; found {}",
                describe(&rest)
            ),
        )));
    }
    Ok(PatchPath {
        attr,
        filter: Some(filter),
    })
}

/// A short quoted excerpt of what was found, for "found …" in messages.
fn describe(rest: &str) -> String {
    const MAX: usize = 24;
    if rest.chars().count() > MAX {
        let head: String = rest.chars().take(MAX).collect();
        format!("{head:?}…")
    } else {
        format!("{rest:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::filter::{CompValue, CompareOp};
    use proptest::prelude::*;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn ap(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_string),
            name: name.to_string(),
            sub: sub.map(str::to_string),
        }
    }

    fn eq_str(name: &str, v: &str) -> Filter {
        Filter::Compare {
            path: ap(None, name, None),
            op: CompareOp::Eq,
            value: CompValue::Str(v.to_string()),
        }
    }

    fn path_err(input: &str) -> ScimError {
        let err = parse_attr_path(input).expect_err(input);
        assert_eq!(err.status, 400);
        assert_eq!(err.scim_type, Some(ScimType::InvalidPath), "{err}");
        err
    }

    #[test]
    fn simple_names_and_sub_attributes() {
        assert_eq!(parse_attr_path("userName").unwrap(), ap(None, "userName", None));
        assert_eq!(
            parse_attr_path("name.givenName").unwrap(),
            ap(None, "name", Some("givenName"))
        );
        assert_eq!(
            parse_attr_path("  emails.Value\t").unwrap(),
            ap(None, "emails", Some("Value"))
        );
        assert_eq!(
            parse_attr_path("x-custom_attr2").unwrap(),
            ap(None, "x-custom_attr2", None)
        );
        assert_eq!(
            parse_attr_path("members.$ref").unwrap(),
            ap(None, "members", Some("$ref"))
        );
        assert_eq!(parse_attr_path("$ref").unwrap(), ap(None, "$ref", None));
    }

    #[test]
    fn keeps_spelling() {
        assert_eq!(parse_attr_path("USERNAME").unwrap(), ap(None, "USERNAME", None));
        assert_eq!(
            parse_attr_path("URN:IETF:params:scim:schemas:core:2.0:User:userName").unwrap(),
            ap(
                Some("URN:IETF:params:scim:schemas:core:2.0:User"),
                "userName",
                None
            )
        );
    }

    #[test]
    fn urn_qualified_paths() {
        assert_eq!(
            parse_attr_path(&format!("{ENT}:manager.value")).unwrap(),
            ap(Some(ENT), "manager", Some("value"))
        );
        assert_eq!(
            parse_attr_path(&format!("{ENT}:employeeNumber")).unwrap(),
            ap(Some(ENT), "employeeNumber", None)
        );
        // The whole extension: the schema module disambiguates.
        assert_eq!(
            parse_attr_path(ENT).unwrap(),
            ap(
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
                "User",
                None
            )
        );
        assert_eq!(
            parse_attr_path("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName").unwrap(),
            ap(
                Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                "name",
                Some("familyName")
            )
        );
    }

    #[test]
    fn attr_path_errors_name_the_character_and_position() {
        let err = path_err("name givenName");
        assert_eq!(
            err.detail,
            "invalid path at position 5: unexpected \" \" after \"name\" in an attribute name; \
             names may contain only letters A-Z, digits, \"-\" and \"_\""
        );
        let err = path_err("  1abc");
        assert!(
            err.detail
                .starts_with("invalid path at position 3: an attribute name must start"),
            "{}",
            err.detail
        );
        assert!(path_err("").detail.contains("found nothing"));
        assert!(path_err("   ").detail.contains("found nothing"));
        assert!(
            path_err("name.")
                .detail
                .starts_with("invalid path at position 6: expected a sub-attribute")
        );
        assert!(
            path_err(".name")
                .detail
                .starts_with("invalid path at position 1:")
        );
        assert!(
            path_err("a.b.c")
                .detail
                .starts_with("invalid path at position 4: unexpected \".\"")
        );
        assert!(
            path_err("name..x")
                .detail
                .starts_with("invalid path at position 6: expected a sub-attribute")
        );
        assert!(path_err("foo:bar").detail.contains("\":\""));
        assert!(path_err("urn:userName").detail.contains("incomplete URN"));
        assert!(path_err("urn::x:name").detail.contains("empty segment"));
        assert!(
            path_err("urn:a:b:")
                .detail
                .contains("expected an attribute name after the URN")
        );
        assert!(
            path_err("urn:a b:name")
                .detail
                .starts_with("invalid path at position 6: unexpected \" \" in the URN")
        );
        // Positions count characters, not bytes.
        assert!(
            path_err("émail")
                .detail
                .starts_with("invalid path at position 1:")
        );
        assert!(
            path_err("naméx")
                .detail
                .starts_with("invalid path at position 4: unexpected \"é\"")
        );
        assert!(
            path_err("emails[type eq \"work\"]")
                .detail
                .starts_with("invalid path at position 7")
        );
    }

    #[test]
    fn patch_paths_without_filter() {
        for (input, want) in [
            ("members", ap(None, "members", None)),
            ("active", ap(None, "active", None)),
            ("name.givenName", ap(None, "name", Some("givenName"))),
            (
                &format!("{ENT}:employeeNumber"),
                ap(Some(ENT), "employeeNumber", None),
            ),
            (&format!("{ENT}:manager"), ap(Some(ENT), "manager", None)),
        ] {
            assert_eq!(
                parse_patch_path(input).unwrap(),
                PatchPath {
                    attr: want,
                    filter: None
                },
                "{input}"
            );
        }
    }

    #[test]
    fn patch_paths_with_value_filter() {
        let cases = [
            (
                r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
                ap(None, "members", None),
                eq_str("value", "2819c223-7f76-453a-919d-413861904646"),
            ),
            (
                r#"emails[type eq "work"].value"#,
                ap(None, "emails", Some("value")),
                eq_str("type", "work"),
            ),
            (
                r#"addresses[type eq "work"].formatted"#,
                ap(None, "addresses", Some("formatted")),
                eq_str("type", "work"),
            ),
            (
                r#"emails[type eq "other"].Value"#,
                ap(None, "emails", Some("Value")),
                eq_str("type", "other"),
            ),
            (
                r#"roles[primary eq "True"].display"#,
                ap(None, "roles", Some("display")),
                eq_str("primary", "True"),
            ),
            (
                r#"manager[value eq "x"]"#,
                ap(None, "manager", None),
                eq_str("value", "x"),
            ),
            (
                &format!(r#"{ENT}:manager[value eq "x"]"#),
                ap(Some(ENT), "manager", None),
                eq_str("value", "x"),
            ),
            (
                r#"  members[ value  EQ  "a]b" ]  "#,
                ap(None, "members", None),
                eq_str("value", "a]b"),
            ),
        ];
        for (input, attr, filter) in cases {
            let got = parse_patch_path(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(
                got,
                PatchPath {
                    attr,
                    filter: Some(filter)
                },
                "{input}"
            );
        }
    }

    #[test]
    fn patch_path_compound_filter() {
        let got = parse_patch_path(r#"emails[type eq "work" and primary eq true].value"#).unwrap();
        assert_eq!(got.attr, ap(None, "emails", Some("value")));
        assert_eq!(
            got.filter.unwrap(),
            Filter::And(
                Box::new(eq_str("type", "work")),
                Box::new(Filter::Compare {
                    path: ap(None, "primary", None),
                    op: CompareOp::Eq,
                    value: CompValue::Bool(true)
                })
            )
        );
    }

    #[test]
    fn patch_path_shape_errors_are_invalid_path() {
        for (input, pos, needle) in [
            ("[type eq \"work\"]", 1, "expected an attribute name before"),
            ("name.givenName[value eq \"x\"]", 15, "not the sub-attribute"),
            (
                "emails[type eq \"work\"]value",
                23,
                "expected \".\" and a sub-attribute name",
            ),
            (
                "emails[type eq \"work\"].",
                24,
                "expected a sub-attribute, found nothing",
            ),
            ("emails[type eq \"work\"].a.b", 25, "unexpected \".\""),
            ("emails]", 7, "without a matching"),
            ("emails[type eq \"work\"][x]", 23, "expected \".\""),
        ] {
            let err = parse_patch_path(input).expect_err(input);
            assert_eq!(err.scim_type, Some(ScimType::InvalidPath), "{input}: {err}");
            assert!(
                err.detail
                    .starts_with(&format!("invalid path at position {pos}: ")),
                "{input}: {}",
                err.detail
            );
            assert!(err.detail.contains(needle), "{input}: {}", err.detail);
        }
    }

    #[test]
    fn patch_path_filter_errors_are_invalid_filter_with_path_positions() {
        for (input, pos, needle) in [
            ("members[value eq \"x\"", 21, "expected \"and\", \"or\" or \"]\""),
            ("members[]", 9, "expected an attribute path"),
            ("members[value xx \"x\"]", 15, "expected a comparison operator"),
            (" members[value eq \"x]", 19, "unterminated string"),
            ("emails[emails.type eq \"work\"]", 8, "relative"),
            ("emails[type[value eq 1] pr]", 12, "cannot be nested"),
        ] {
            let err = parse_patch_path(input).expect_err(input);
            assert_eq!(err.scim_type, Some(ScimType::InvalidFilter), "{input}: {err}");
            let prefix = format!("invalid filter in PATCH path at position {pos}: ");
            assert!(err.detail.starts_with(&prefix), "{input}: {}", err.detail);
            assert!(err.detail.contains(needle), "{input}: {}", err.detail);
        }
    }

    #[test]
    fn attr_lists() {
        assert_eq!(
            parse_attr_list("userName,name.givenName, emails").unwrap(),
            vec![
                ap(None, "userName", None),
                ap(None, "name", Some("givenName")),
                ap(None, "emails", None)
            ]
        );
        assert_eq!(parse_attr_list("").unwrap(), vec![]);
        assert_eq!(parse_attr_list(" , ,").unwrap(), vec![]);
        assert_eq!(
            parse_attr_list(&format!("members,,{ENT}:manager,")).unwrap(),
            vec![ap(None, "members", None), ap(Some(ENT), "manager", None)]
        );
        let err = parse_attr_list("userName, na me").unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidPath));
        assert!(
            err.detail.starts_with("invalid path at position 13:"),
            "{}",
            err.detail
        );
    }

    #[test]
    fn limits() {
        let long = "a".repeat(MAX_FILTER_LEN + 1);
        assert!(
            parse_attr_path(&long)
                .unwrap_err()
                .detail
                .contains("limit is 4096")
        );
        assert!(
            parse_patch_path(&long)
                .unwrap_err()
                .detail
                .contains("limit is 4096")
        );
        assert!(
            parse_attr_list(&long)
                .unwrap_err()
                .detail
                .contains("limit is 4096")
        );
        let ok = "a".repeat(MAX_FILTER_LEN);
        assert!(parse_attr_path(&ok).is_ok());
    }

    #[test]
    fn display_round_trips() {
        for input in [
            "userName",
            "name.givenName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "members[value eq \"x\"]",
            "emails[type eq \"work\" and primary eq true].value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"a\\\"b\"]",
        ] {
            let parsed = parse_patch_path(input).unwrap();
            assert_eq!(parsed.to_string(), input);
            assert_eq!(parse_patch_path(&parsed.to_string()).unwrap(), parsed);
        }
    }

    fn name_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
            Just("$ref".to_string()),
            Just("value".to_string()),
        ]
    }

    fn attr_path_strategy() -> impl Strategy<Value = AttrPath> {
        let urn = prop_oneof![
            Just(None),
            Just(Some(ENT.to_string())),
            Just(Some("urn:ietf:params:scim:schemas:core:2.0:User".to_string())),
            "urn:[a-z0-9]{1,5}(:[a-zA-Z0-9.-]{1,5}){0,3}".prop_map(Some),
        ];
        (urn, name_strategy(), proptest::option::of(name_strategy())).prop_map(|(urn, name, sub)| AttrPath {
            urn,
            name,
            sub,
        })
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,64}|.{0,64}") {
            let _ = parse_attr_path(&s);
            let _ = parse_patch_path(&s);
            let _ = parse_attr_list(&s);
        }

        #[test]
        fn pathish_strings_never_panic(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("urn:".to_string()), Just(":".to_string()), Just(".".to_string()),
                    Just("[".to_string()), Just("]".to_string()), Just("\"".to_string()),
                    Just("\\".to_string()), Just(" ".to_string()), Just(",".to_string()),
                    Just("é".to_string()), Just("😀".to_string()), Just("eq".to_string()),
                    Just("$ref".to_string()), "[a-z]{1,4}",
                ],
                0..16,
            )
        ) {
            let s = parts.concat();
            let _ = parse_attr_path(&s);
            let _ = parse_patch_path(&s);
            let _ = parse_attr_list(&s);
        }

        #[test]
        fn attr_path_display_round_trips(path in attr_path_strategy()) {
            prop_assert_eq!(parse_attr_path(&path.to_string()).unwrap(), path);
        }
    }
}
