//! `POST /.search` (RFC 7644 §3.4.3): the SearchRequest message, and what a search at the
//! service root needs to run one query over two resource types.
//!
//! A SearchRequest carries the query parameters of a `GET` list in a body, so it is parsed
//! into the very same strings a query string would give (`attributes` as a JSON array is
//! joined with commas and goes through the same parser and limits as `?attributes=`). Those
//! become a [`ListRequest`](super::list::ListRequest) by the same function as a query string's
//! (`scim::list`), and the list runs through the same service path as `GET /Users`.
//!
//! A search at the root spans Users and Groups. Its filter is specialised per resource type
//! ([`specialize`]): a term on an attribute that one type does not have is evaluated as if the
//! attribute were unassigned on every resource of that type (RFC 7643 §2.5), and
//! `meta.resourceType` is answered from the type itself, so `meta.resourceType eq "Group"`
//! searches groups only. A term on an attribute that no type has is `invalidFilter`, as on a
//! typed endpoint: silently matching nothing would hide a typo.

use serde_json::{Value, json};

use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::{self, Filter};
use crate::scim::path::{AttrPath, parse_attr_list};
use crate::scim::schema::ResourceType;
use crate::scim::{SEARCH_REQUEST_URN, filter::MAX_FILTER_LEN};

/// The members of a SearchRequest (RFC 7644 §3.4.3, RFC 9865 §2.2).
const KNOWN_KEYS: [&str; 9] = [
    "schemas",
    "attributes",
    "excludedAttributes",
    "filter",
    "sortBy",
    "sortOrder",
    "startIndex",
    "count",
    "cursor",
];

/// A SearchRequest, as the strings and numbers a `GET` query string would carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchRequest {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    /// RFC 9865: `Some("")` asks for the first page of cursor paging.
    pub cursor: Option<String>,
    pub attributes: Vec<AttrPath>,
    pub excluded_attributes: Vec<AttrPath>,
}

/// Parses a SearchRequest body. Member names are case-insensitive, like the PatchOp's; a
/// missing `schemas` is accepted, a wrong one is not. An unknown member is refused, because
/// ignoring a misspelt `filter` would answer a different question than the one asked.
pub fn parse_search_request(body: &Value) -> Result<SearchRequest, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "a search body must be a JSON object: a SearchRequest such as \
             {{\"schemas\":[\"{SEARCH_REQUEST_URN}\"],\"filter\":\"userName eq \\\"x\\\"\"}}"
        )));
    };
    let mut seen: Vec<&str> = Vec::new();
    for key in body.keys() {
        let Some(known) = KNOWN_KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)) else {
            return Err(ScimError::invalid_syntax(format!(
                "unknown member \"{key}\" in the SearchRequest; its members are {}",
                KNOWN_KEYS.join(", ")
            )));
        };
        if seen.contains(known) {
            return Err(ScimError::invalid_syntax(format!(
                "\"{known}\" appears twice (member names are case-insensitive); send it once"
            )));
        }
        seen.push(known);
    }
    let get = |name: &str| {
        body.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    };
    if let Some(schemas) = get("schemas")
        && !names_search_request(schemas)
    {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must be [\"{SEARCH_REQUEST_URN}\"], not {schemas}"
        )));
    }
    Ok(SearchRequest {
        filter: string_member(get("filter"), "filter", "\"userName eq \\\"jane\\\"\"")?,
        sort_by: string_member(get("sortBy"), "sortBy", "\"userName\"")?,
        sort_order: string_member(get("sortOrder"), "sortOrder", "\"ascending\"")?,
        start_index: integer_member(get("startIndex"), "startIndex")?,
        count: integer_member(get("count"), "count")?,
        cursor: string_member(get("cursor"), "cursor", "\"\" for the first page")?,
        attributes: attribute_list(get("attributes"), "attributes")?,
        excluded_attributes: attribute_list(get("excludedAttributes"), "excludedAttributes")?,
    })
}

fn names_search_request(schemas: &Value) -> bool {
    let is_urn = |u: &Value| {
        u.as_str()
            .is_some_and(|u| u.trim().eq_ignore_ascii_case(SEARCH_REQUEST_URN))
    };
    match schemas {
        Value::Array(urns) => urns.iter().any(is_urn),
        // A bare string instead of a one-element array still says what the message is.
        single => is_urn(single),
    }
}

fn string_member(v: Option<&Value>, name: &str, example: &str) -> Result<Option<String>, ScimError> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ScimError::invalid_value(format!(
            "\"{name}\" must be a string such as {example}, not {other}"
        ))),
    }
}

/// An integer, or a string holding one (what a query string would have carried).
fn integer_member(v: Option<&Value>, name: &str) -> Result<Option<i64>, ScimError> {
    let wrong = |v: &Value| ScimError::invalid_value(format!("\"{name}\" must be an integer, not {v}"));
    match v {
        None => Ok(None),
        Some(num @ Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| wrong(num)),
        Some(s @ Value::String(raw)) => match raw.trim() {
            "" => Ok(None),
            t => t.parse::<i64>().map(Some).map_err(|_| wrong(s)),
        },
        Some(other) => Err(wrong(other)),
    }
}

/// `attributes` / `excludedAttributes`: a JSON array of attribute paths (RFC 7644 §3.4.3), or,
/// leniently, one comma-separated string as in a query string. Either way the paths go through
/// the query parameter's parser, with its length limit.
fn attribute_list(v: Option<&Value>, name: &str) -> Result<Vec<AttrPath>, ScimError> {
    let joined = match v {
        None => return Ok(Vec::new()),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => {
            let mut parts = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Value::String(s) = item else {
                    return Err(ScimError::invalid_value(format!(
                        "\"{name}\" must be an array of attribute paths as strings \
                         (such as [\"userName\", \"name.givenName\"]); element {} is {item}",
                        i + 1
                    )));
                };
                parts.push(s.as_str());
            }
            parts.join(",")
        }
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "\"{name}\" must be an array of attribute paths such as [\"userName\", \"emails\"], \
                 not {other}"
            )));
        }
    };
    if joined.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_value(format!(
            "\"{name}\" lists {} bytes of attribute paths; the limit is {MAX_FILTER_LEN}",
            joined.len()
        )));
    }
    parse_attr_list(&joined).map_err(|e| ScimError {
        detail: format!("in \"{name}\": {}", e.detail),
        ..e
    })
}

// ---------------------------------------------------------------------------------------------
// A search at the root

/// What a root-level filter means for one resource type.
#[derive(Debug, Clone, PartialEq)]
pub enum Specialized {
    /// No resource of the type can match: the type is not queried.
    Never,
    /// Every resource of the type matches: the type is listed without a filter.
    Always,
    /// The filter to run on the type, with every term it cannot answer folded away.
    Filter(Filter),
}

/// Specialises a root-level filter for each of `types`, in order. A term whose attribute none
/// of the types has is `invalidFilter`.
pub fn specialize_all(filter: &Filter, types: &[&ResourceType]) -> Result<Vec<Specialized>, ScimError> {
    let mut unknown = None;
    for_each_leaf_path(filter, &mut |path| {
        if unknown.is_none()
            && !is_resource_type_path(path)
            && types.iter().all(|rt| rt.resolve(path).is_err())
        {
            unknown = Some(path.to_string());
        }
    });
    if let Some(path) = unknown {
        let names: Vec<&str> = types.iter().map(|rt| rt.name).collect();
        return Err(ScimError::invalid_filter(format!(
            "\"{path}\" is not an attribute of any resource type searched ({}); a search at the \
             root may name an attribute that only some types have, but not one that none has",
            names.join(", ")
        )));
    }
    Ok(types.iter().map(|rt| specialize(filter, rt)).collect())
}

/// Specialises a root-level filter for resource type `rt` (see the module docs).
pub fn specialize(filter: &Filter, rt: &ResourceType) -> Specialized {
    match filter {
        Filter::And(a, b) => match (specialize(a, rt), specialize(b, rt)) {
            (Specialized::Never, _) | (_, Specialized::Never) => Specialized::Never,
            (Specialized::Always, x) | (x, Specialized::Always) => x,
            (Specialized::Filter(a), Specialized::Filter(b)) => {
                Specialized::Filter(Filter::And(Box::new(a), Box::new(b)))
            }
        },
        Filter::Or(a, b) => match (specialize(a, rt), specialize(b, rt)) {
            (Specialized::Always, _) | (_, Specialized::Always) => Specialized::Always,
            (Specialized::Never, x) | (x, Specialized::Never) => x,
            (Specialized::Filter(a), Specialized::Filter(b)) => {
                Specialized::Filter(Filter::Or(Box::new(a), Box::new(b)))
            }
        },
        Filter::Not(a) => match specialize(a, rt) {
            Specialized::Never => Specialized::Always,
            Specialized::Always => Specialized::Never,
            Specialized::Filter(f) => Specialized::Filter(Filter::Not(Box::new(f))),
        },
        leaf => {
            let path = match leaf {
                Filter::Compare { path, .. } | Filter::Present(path) => path,
                Filter::ValuePath { attr, .. } => attr,
                _ => unreachable!("the arms above take every composite filter"),
            };
            if is_resource_type_path(path) || rt.resolve(path).is_err() {
                // Evaluated on a resource that has nothing but its type: an attribute the type
                // lacks is unassigned, so `ne` and `eq null` hold and everything else fails.
                let only_type = json!({"meta": {"resourceType": rt.name}});
                let case_exact = |_: &AttrPath| true;
                if filter::matches(leaf, &only_type, &case_exact) {
                    Specialized::Always
                } else {
                    Specialized::Never
                }
            } else {
                Specialized::Filter(leaf.clone())
            }
        }
    }
}

/// `meta.resourceType`, which no store column holds but every resource type knows.
fn is_resource_type_path(p: &AttrPath) -> bool {
    p.name.eq_ignore_ascii_case("meta")
        && p.sub
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("resourceType"))
        && p.urn
            .as_deref()
            .is_none_or(|u| u.starts_with("urn:ietf:params:scim:schemas:core:2.0"))
}

fn for_each_leaf_path(filter: &Filter, f: &mut dyn FnMut(&AttrPath)) {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            for_each_leaf_path(a, f);
            for_each_leaf_path(b, f);
        }
        Filter::Not(a) => for_each_leaf_path(a, f),
        Filter::Compare { path, .. } | Filter::Present(path) => f(path),
        Filter::ValuePath { attr, .. } => f(attr),
    }
}

/// Where a cursor-paged search at the root stands: in the Users, then in the Groups, each with
/// the typed list's own cursor. The root cursor is that cursor prefixed with `u.` or `g.`, so
/// it stays opaque, URL-safe and checked by the typed list (query fingerprint, expiry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootCursor {
    /// Index into the searched types (0: Users, 1: Groups).
    pub phase: usize,
    /// The typed list's cursor; empty for its first page.
    pub inner: String,
}

const PHASE_PREFIXES: [&str; 2] = ["u.", "g."];

impl RootCursor {
    pub fn encode(&self) -> String {
        format!("{}{}", PHASE_PREFIXES[self.phase.min(1)], self.inner)
    }

    /// `""` is the first page; otherwise one of ours, or `invalidCursor`.
    pub fn decode(raw: &str) -> Result<RootCursor, ScimError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(RootCursor {
                phase: 0,
                inner: String::new(),
            });
        }
        PHASE_PREFIXES
            .iter()
            .position(|p| raw.starts_with(p))
            .map(|phase| RootCursor {
                phase,
                inner: raw[2..].to_string(),
            })
            .ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::InvalidCursor,
                    "the cursor is not one this server issued for a search at the root: send an \
                     empty cursor for the first page, then the nextCursor of the previous response",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse_filter;
    use crate::scim::schema::{GROUP, USER};

    fn parse(v: Value) -> Result<SearchRequest, ScimError> {
        parse_search_request(&v)
    }

    fn names(paths: &[AttrPath]) -> Vec<String> {
        paths.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn parses_every_member_of_the_rfc_example() {
        let req = parse(json!({
            "schemas": [SEARCH_REQUEST_URN],
            "attributes": ["displayName", "userName"],
            "excludedAttributes": ["emails"],
            "filter": "displayName sw \"smith\"",
            "sortBy": "userName",
            "sortOrder": "descending",
            "startIndex": 1,
            "count": 10
        }))
        .unwrap();
        assert_eq!(req.filter.as_deref(), Some("displayName sw \"smith\""));
        assert_eq!(req.sort_by.as_deref(), Some("userName"));
        assert_eq!(req.sort_order.as_deref(), Some("descending"));
        assert_eq!((req.start_index, req.count), (Some(1), Some(10)));
        assert_eq!(req.cursor, None);
        assert_eq!(names(&req.attributes), ["displayName", "userName"]);
        assert_eq!(names(&req.excluded_attributes), ["emails"]);
    }

    #[test]
    fn leniencies() {
        // No schemas, keys in any case, numbers as strings, attributes as one string, a
        // comma inside an array element, nulls as absent.
        let req = parse(json!({
            "FILTER": "userName eq \"a\"", "Count": "5", "startindex": null,
            "attributes": "userName, name.givenName", "excludedAttributes": ["emails,groups"],
            "cursor": ""
        }))
        .unwrap();
        assert_eq!(req.count, Some(5));
        assert_eq!(req.start_index, None);
        assert_eq!(req.cursor.as_deref(), Some(""));
        assert_eq!(names(&req.attributes), ["userName", "name.givenName"]);
        assert_eq!(names(&req.excluded_attributes), ["emails", "groups"]);
        assert_eq!(parse(json!({})).unwrap(), SearchRequest::default());
        assert!(parse(json!({"schemas": SEARCH_REQUEST_URN})).is_ok());
    }

    #[test]
    fn errors_say_what_to_fix() {
        let cases = [
            (json!([1]), ScimType::InvalidSyntax, "must be a JSON object"),
            (
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}),
                ScimType::InvalidSyntax,
                "\"schemas\" must be",
            ),
            (
                json!({"filters": "x"}),
                ScimType::InvalidSyntax,
                "unknown member \"filters\"",
            ),
            (
                json!({"filter": "a eq 1", "Filter": "b eq 2"}),
                ScimType::InvalidSyntax,
                "appears twice",
            ),
            (
                json!({"filter": 7}),
                ScimType::InvalidValue,
                "\"filter\" must be a string",
            ),
            (
                json!({"count": 1.5}),
                ScimType::InvalidValue,
                "\"count\" must be an integer",
            ),
            (
                json!({"count": "ten"}),
                ScimType::InvalidValue,
                "\"count\" must be an integer",
            ),
            (
                json!({"startIndex": true}),
                ScimType::InvalidValue,
                "\"startIndex\"",
            ),
            (
                json!({"attributes": [1]}),
                ScimType::InvalidValue,
                "element 1 is 1",
            ),
            (
                json!({"attributes": {"a": 1}}),
                ScimType::InvalidValue,
                "must be an array",
            ),
            (
                json!({"attributes": ["user name"]}),
                ScimType::InvalidPath,
                "in \"attributes\": invalid path",
            ),
            (
                json!({"excludedAttributes": vec!["a".repeat(MAX_FILTER_LEN); 2]}),
                ScimType::InvalidValue,
                "the limit is",
            ),
        ];
        for (body, ty, needle) in cases {
            let e = parse(body.clone()).expect_err(&body.to_string());
            assert_eq!(e.status, 400, "{body}");
            assert_eq!(e.scim_type, Some(ty), "{body}: {}", e.detail);
            assert!(e.detail.contains(needle), "{body}: {}", e.detail);
        }
    }

    fn spec(filter: &str) -> Vec<Specialized> {
        specialize_all(&parse_filter(filter).unwrap(), &[&USER, &GROUP]).unwrap()
    }

    fn kept(filter: &str) -> Specialized {
        Specialized::Filter(parse_filter(filter).unwrap())
    }

    #[test]
    fn attributes_of_one_type_only_fold_away_in_the_other() {
        use Specialized::*;
        assert_eq!(spec("userName eq \"a\""), [kept("userName eq \"a\""), Never]);
        assert_eq!(spec("members pr"), [Never, kept("members pr")]);
        assert_eq!(
            spec("displayName sw \"a\""),
            [kept("displayName sw \"a\""), kept("displayName sw \"a\"")]
        );
        // Unassigned: `ne` and `eq null` hold, `not` flips.
        assert_eq!(spec("userName ne \"a\""), [kept("userName ne \"a\""), Always]);
        assert_eq!(
            spec("not (userName eq \"a\")"),
            [kept("not (userName eq \"a\")"), Always]
        );
        assert_eq!(spec("userName eq null"), [kept("userName eq null"), Always]);
        assert_eq!(
            spec("emails[type eq \"work\"]"),
            [kept("emails[type eq \"work\"]"), Never]
        );
        assert_eq!(
            spec("userName eq \"a\" or displayName eq \"b\""),
            [
                kept("userName eq \"a\" or displayName eq \"b\""),
                kept("displayName eq \"b\"")
            ]
        );
        assert_eq!(
            spec("userName eq \"a\" and displayName eq \"b\""),
            [kept("userName eq \"a\" and displayName eq \"b\""), Never]
        );
    }

    #[test]
    fn resource_type_is_answered_by_the_type() {
        use Specialized::*;
        assert_eq!(spec("meta.resourceType eq \"Group\""), [Never, Always]);
        assert_eq!(spec("meta.resourceType ne \"Group\""), [Always, Never]);
        assert_eq!(spec("meta.resourceType pr"), [Always, Always]);
        // caseExact, as RFC 7643 §3.1 defines it.
        assert_eq!(spec("meta.resourceType eq \"group\""), [Never, Never]);
        assert_eq!(
            spec("meta.resourceType eq \"User\" and userName sw \"j\""),
            [kept("userName sw \"j\""), Never]
        );
    }

    #[test]
    fn an_attribute_no_type_has_is_invalid_filter() {
        let e = specialize_all(&parse_filter("nosuch eq 1").unwrap(), &[&USER, &GROUP]).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
        assert!(
            e.detail
                .contains("\"nosuch\" is not an attribute of any resource type searched (User, Group)")
        );
        let e = specialize_all(
            &parse_filter("userName eq \"a\" or not (bogus pr)").unwrap(),
            &[&USER, &GROUP],
        )
        .unwrap_err();
        assert!(e.detail.contains("\"bogus\""), "{}", e.detail);
    }

    #[test]
    fn root_cursors_round_trip_and_refuse_strangers() {
        for (phase, inner) in [(0, ""), (0, "abc_-"), (1, ""), (1, "xyz")] {
            let c = RootCursor {
                phase,
                inner: inner.into(),
            };
            assert_eq!(RootCursor::decode(&c.encode()).unwrap(), c);
        }
        assert_eq!(RootCursor::decode("").unwrap().phase, 0);
        let e = RootCursor::decode("eyJxIjoi").unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidCursor));
    }
}
