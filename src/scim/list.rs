//! A list request (RFC 7644 §3.4.2, RFC 9865), parsed once at the edge whichever way it came:
//! the query string of `GET /Users`, the SearchRequest body of `POST /.search`, or the admin
//! API's list parameters. Everything that needs no setting, key or clock is checked here —
//! the filter grammar, `sortBy` and `sortOrder`, `attributes` / `excludedAttributes`, and which
//! paging parameters may be combined — so every list path refuses the same request with the
//! same error. What does need the server's settings (clamping `count` to `maxResults`,
//! verifying a cursor's signature and age) is the service's (`service::lists`).

use super::error::{ScimError, ScimType};
use super::filter::{Filter, parse_filter};
use super::path::{AttrPath, parse_attr_list, parse_attr_path};
use super::search::{SearchRequest, parse_search_request};

/// `sortBy` / `sortOrder` (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub by: AttrPath,
    pub descending: bool,
}

/// A parsed `filter`, with the text it came from: a cursor's query fingerprint is taken over
/// the text, so a client must repeat the filter as it first sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListFilter {
    /// The filter as sent, trimmed; never empty.
    pub text: String,
    pub filter: Filter,
}

impl ListFilter {
    /// A filter built by the server (a root search's filter specialised for one type).
    pub fn from_ast(filter: Filter) -> ListFilter {
        ListFilter {
            text: filter.to_string(),
            filter,
        }
    }
}

/// A parsed `sortBy` and `sortOrder`, with `sortBy`'s text (for the cursor fingerprint, as for
/// the filter).
#[derive(Debug, Clone, PartialEq)]
pub struct ListSort {
    /// `sortBy` as sent, trimmed; never empty.
    pub text: String,
    pub sort: Sort,
}

/// How the client asked to page (RFC 7644 §3.4.2.4, RFC 9865). Counts are as sent: the
/// service applies the default and clamps to the configured maximum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRequest {
    /// `startIndex` (any integer; below 1 means 1) and `count` (below 0 means 0).
    Index {
        start_index: Option<i64>,
        count: Option<i64>,
    },
    /// `cursor`: `after` is the previous response's `nextCursor`, `None` for the first page;
    /// `count`, when given, is at least 1.
    Cursor {
        after: Option<String>,
        count: Option<i64>,
    },
}

impl PageRequest {
    pub fn count(&self) -> Option<i64> {
        match self {
            PageRequest::Index { count, .. } | PageRequest::Cursor { count, .. } => *count,
        }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest::Index {
            start_index: None,
            count: None,
        }
    }
}

/// `attributes` / `excludedAttributes` of a request (RFC 7644 §3.9).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

impl Projection {
    /// From the two query parameters' raw values; a blank one is absent.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Projection, ScimError> {
        let parse = |raw: Option<&str>| match raw {
            Some(raw) if !raw.trim().is_empty() => parse_attr_list(raw),
            _ => Ok(Vec::new()),
        };
        Ok(Projection {
            attributes: parse(attributes)?,
            excluded: parse(excluded)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Would the response show the attribute `name` (top-level, core schema)? Used to skip
    /// reading a group's members when the client excluded them.
    pub fn shows(&self, name: &str) -> bool {
        let named = |p: &AttrPath| p.name.eq_ignore_ascii_case(name) && p.sub.is_none();
        if self.excluded.iter().any(named) {
            return false;
        }
        self.attributes.is_empty() || self.attributes.iter().any(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// A list request, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListRequest {
    pub filter: Option<ListFilter>,
    /// Absent when `sortBy` was not given (a `sortOrder` alone is checked, then has no effect).
    pub sort: Option<ListSort>,
    pub paging: PageRequest,
    pub projection: Projection,
}

impl ListRequest {
    /// From a query string's parameters; `get` looks one up by name (case-insensitively, as
    /// the edge does). `max_results` is only named in the error for a cursor page's `count`.
    pub fn from_query<'a>(
        get: impl Fn(&str) -> Option<&'a str>,
        max_results: i64,
    ) -> Result<ListRequest, ScimError> {
        let int = |name: &str| match get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(raw) => raw
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, not {raw:?}"))),
        };
        let start_index = int("startIndex")?;
        let count = int("count")?;
        let projection = Projection::parse(get("attributes"), get("excludedAttributes"))?;
        ListRequest::from_search(
            SearchRequest {
                filter: get("filter").map(str::to_string),
                sort_by: get("sortBy").map(str::to_string),
                sort_order: get("sortOrder").map(str::to_string),
                start_index,
                count,
                cursor: get("cursor").map(str::to_string),
                attributes: projection.attributes,
                excluded_attributes: projection.excluded,
            },
            max_results,
        )
    }

    /// From a SearchRequest body (`POST /.search`).
    pub fn from_search_body(body: &serde_json::Value, max_results: i64) -> Result<ListRequest, ScimError> {
        ListRequest::from_search(parse_search_request(body)?, max_results)
    }

    /// From the parameters as a query string or a SearchRequest carries them: the one place
    /// the filter, the order and the paging parameters are parsed and checked.
    pub fn from_search(req: SearchRequest, max_results: i64) -> Result<ListRequest, ScimError> {
        let filter = match req.filter.as_deref().map(str::trim) {
            Some(f) if !f.is_empty() => Some(ListFilter {
                text: f.to_string(),
                filter: parse_filter(f)?,
            }),
            _ => None,
        };
        let descending = parse_sort_order(req.sort_order.as_deref())?;
        let sort = match req.sort_by.as_deref().map(str::trim) {
            Some(by) if !by.is_empty() => Some(ListSort {
                text: by.to_string(),
                sort: Sort {
                    by: parse_attr_path(by)?,
                    descending,
                },
            }),
            _ => None,
        };
        let paging = match req.cursor {
            None => PageRequest::Index {
                start_index: req.start_index,
                count: req.count,
            },
            Some(raw) => {
                check_cursor_paging(req.start_index, req.count, max_results)?;
                let raw = raw.trim();
                PageRequest::Cursor {
                    after: (!raw.is_empty()).then(|| raw.to_string()),
                    count: req.count,
                }
            }
        };
        Ok(ListRequest {
            filter,
            sort,
            paging,
            projection: Projection {
                attributes: req.attributes,
                excluded: req.excluded_attributes,
            },
        })
    }
}

/// `sortOrder`: true for descending; absent or blank is ascending.
fn parse_sort_order(raw: Option<&str>) -> Result<bool, ScimError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(false),
        Some(o) if o.eq_ignore_ascii_case("ascending") => Ok(false),
        Some(o) if o.eq_ignore_ascii_case("descending") => Ok(true),
        Some(o) => Err(ScimError::invalid_value(format!(
            "sortOrder must be \"ascending\" or \"descending\", not {o:?}"
        ))),
    }
}

/// What cursor paging (RFC 9865) refuses in a request that has a `cursor`.
fn check_cursor_paging(
    start_index: Option<i64>,
    count: Option<i64>,
    max_results: i64,
) -> Result<(), ScimError> {
    if start_index.is_some() {
        return Err(ScimError::invalid_value(
            "startIndex and cursor cannot be combined: use startIndex for index paging or cursor \
             for cursor paging (RFC 9865)",
        ));
    }
    if count.is_some_and(|c| c < 1) {
        return Err(ScimError::bad_request(
            ScimType::InvalidCount,
            format!("count must be between 1 and {max_results} with cursor paging"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const MAX: i64 = 200;

    fn query(pairs: &[(&str, &str)]) -> Result<ListRequest, ScimError> {
        ListRequest::from_query(
            |name| {
                pairs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            },
            MAX,
        )
    }

    fn body(v: serde_json::Value) -> Result<ListRequest, ScimError> {
        ListRequest::from_search_body(&v, MAX)
    }

    #[test]
    fn parses_every_parameter() {
        let req = query(&[
            ("filter", " userName sw \"j\" "),
            ("sortBy", "name.familyName"),
            ("sortOrder", "Descending"),
            ("startIndex", "3"),
            ("count", " 10"),
            ("attributes", "userName"),
            ("excludedAttributes", "emails"),
        ])
        .unwrap();
        let filter = req.filter.unwrap();
        assert_eq!(filter.text, "userName sw \"j\"");
        assert_eq!(filter.filter, parse_filter("userName sw \"j\"").unwrap());
        let sort = req.sort.unwrap();
        assert_eq!(sort.text, "name.familyName");
        assert_eq!(sort.sort.by.to_string(), "name.familyName");
        assert!(sort.sort.descending);
        assert_eq!(
            req.paging,
            PageRequest::Index {
                start_index: Some(3),
                count: Some(10)
            }
        );
        assert_eq!(req.projection.attributes.len(), 1);
        assert_eq!(req.projection.excluded.len(), 1);
    }

    #[test]
    fn blank_parameters_are_absent() {
        let req = query(&[
            ("filter", "  "),
            ("sortBy", ""),
            ("sortOrder", " "),
            ("startIndex", ""),
            ("count", " "),
            ("attributes", " "),
        ])
        .unwrap();
        assert_eq!(req, ListRequest::default());
        assert_eq!(body(json!({})).unwrap(), ListRequest::default());
    }

    #[test]
    fn cursor_paging() {
        assert_eq!(
            query(&[("cursor", "")]).unwrap().paging,
            PageRequest::Cursor {
                after: None,
                count: None
            }
        );
        assert_eq!(
            body(json!({"cursor": " abc ", "count": 5})).unwrap().paging,
            PageRequest::Cursor {
                after: Some("abc".into()),
                count: Some(5)
            }
        );
    }

    #[test]
    fn a_sort_order_alone_is_checked_and_has_no_effect() {
        assert_eq!(query(&[("sortOrder", "descending")]).unwrap().sort, None);
        let e = query(&[("sortOrder", "down")]).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("not \"down\""), "{}", e.detail);
    }

    #[test]
    fn errors_are_the_same_from_a_query_string_and_a_body() {
        type Case<'a> = (&'a [(&'a str, &'a str)], serde_json::Value, ScimType, &'a str);
        let cases: [Case; 7] = [
            (
                &[("filter", "userName zz 1")],
                json!({"filter": "userName zz 1"}),
                ScimType::InvalidFilter,
                "",
            ),
            (
                &[("sortOrder", "sideways")],
                json!({"sortOrder": "sideways"}),
                ScimType::InvalidValue,
                "sortOrder must be",
            ),
            (
                &[("sortBy", "user name")],
                json!({"sortBy": "user name"}),
                ScimType::InvalidPath,
                "",
            ),
            (
                &[("cursor", ""), ("startIndex", "1")],
                json!({"cursor": "", "startIndex": 1}),
                ScimType::InvalidValue,
                "cannot be combined",
            ),
            (
                &[("cursor", ""), ("count", "0")],
                json!({"cursor": "", "count": 0}),
                ScimType::InvalidCount,
                "between 1 and 200",
            ),
            (
                &[("count", "ten")],
                json!({"count": "ten"}),
                ScimType::InvalidValue,
                "must be an integer",
            ),
            (
                &[("attributes", "a b")],
                json!({"attributes": "a b"}),
                ScimType::InvalidPath,
                "",
            ),
        ];
        for (pairs, json, ty, needle) in cases {
            for e in [query(pairs).unwrap_err(), body(json.clone()).unwrap_err()] {
                assert_eq!(e.status, 400, "{json}");
                assert_eq!(e.scim_type, Some(ty), "{json}: {}", e.detail);
                assert!(e.detail.contains(needle), "{json}: {}", e.detail);
            }
        }
    }

    #[test]
    fn projection_shows() {
        let p = Projection::parse(None, Some("members.value")).unwrap();
        assert!(p.shows("members"));
        let p = Projection::parse(None, Some("Members")).unwrap();
        assert!(!p.shows("members"));
        let p = Projection::parse(Some("displayName"), None).unwrap();
        assert!(!p.shows("members"));
        assert!(p.shows("DISPLAYNAME"));
    }

    proptest! {
        /// Whatever the strings, the query-string parser and the SearchRequest parser agree:
        /// the same request, or errors of the same kind.
        #[test]
        fn query_string_and_body_agree(
            filter in proptest::option::of("[a-zA-Z\" .]{0,20}"),
            sort_by in proptest::option::of("[a-zA-Z. ]{0,12}"),
            sort_order in proptest::option::of(prop_oneof![
                Just("ascending".to_string()), Just("DESCENDING".to_string()), "[a-z ]{0,8}"
            ]),
            start_index in proptest::option::of(-3i64..5),
            count in proptest::option::of(-3i64..5),
            cursor in proptest::option::of("[a-z ]{0,4}"),
        ) {
            let start = start_index.map(|n| n.to_string());
            let count_s = count.map(|n| n.to_string());
            let mut pairs: Vec<(&str, &str)> = Vec::new();
            let mut json = serde_json::Map::new();
            for (name, v) in [
                ("filter", &filter), ("sortBy", &sort_by), ("sortOrder", &sort_order),
                ("startIndex", &start), ("count", &count_s), ("cursor", &cursor),
            ] {
                if let Some(v) = v {
                    pairs.push((name, v.as_str()));
                    json.insert(name.to_string(), json!(v));
                }
            }
            let from_query = query(&pairs);
            let from_body = body(serde_json::Value::Object(json));
            match (from_query, from_body) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(a), Err(b)) => prop_assert_eq!(a.scim_type, b.scim_type),
                (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
            }
        }
    }
}
